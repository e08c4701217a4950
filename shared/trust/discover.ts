import { DrydockError } from '../errors.js';
import type { Descriptor, FetchedManifest } from '../image/types.js';
import { COSIGN_SIGNATURE_ANNOTATION, COSIGN_SIMPLE_SIGNING_MEDIA_TYPE, MAX_COSIGN_PAYLOAD_BYTES } from './cosign.js';
import { COSIGN_BUNDLE_ANNOTATION, COSIGN_CERTIFICATE_ANNOTATION, COSIGN_CHAIN_ANNOTATION } from './keyless.js';
import { COSE_ENVELOPE_MEDIA_TYPE, JWS_ENVELOPE_MEDIA_TYPE, NOTATION_ARTIFACT_TYPE } from './notation.js';
import { invalid, type SignatureVerdict } from './types.js';

/**
 * Finds an image's signatures in its registry, the three ways they are stored:
 *  1. the OCI referrers API (distribution-spec v1.1, GET /v2/<name>/referrers/<digest>), filtered
 *     by artifactType, when the client offers it;
 *  2. otherwise the referrers tag schema the same spec defines for registries without the API:
 *     an index tagged `sha256-<hex>` listing the referrers (what notation and oras push there);
 *  3. cosign's own tag `sha256-<hex>.sig`: one manifest, one simple-signing layer per signature.
 * Everything read is bounded (limits below, named in the messages). A tag that does not exist
 * means "none there"; any other registry error is thrown, so that a registry that cannot be
 * read never looks like an unsigned image.
 */

/** cosign's artifactType when it stores signatures as OCI 1.1 referrers */
export const COSIGN_REFERRER_ARTIFACT_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';
export const SIGNATURE_ARTIFACT_TYPES: readonly string[] = [NOTATION_ARTIFACT_TYPE, COSIGN_REFERRER_ARTIFACT_TYPE];

export interface DiscoveryLimits {
  /** signature artifacts (referrers) plus cosign signature layers read per image */
  maxSignatures: number;
  /** the largest signature envelope or cosign payload fetched */
  maxEnvelopeBytes: number;
}

export const DEFAULT_DISCOVERY_LIMITS: DiscoveryLimits = { maxSignatures: 16, maxEnvelopeBytes: 256 * 1024 };

/**
 * The registry calls discovery needs. `RegistryClient` (shared/image/registry.ts) has the first
 * two; `getReferrers` is the OCI referrers API: the descriptors of the referrers index, or
 * undefined when the registry does not offer the API (404), so that the tag schema is tried.
 */
export interface SignatureRegistry {
  getManifest(repo: string, reference: string, signal?: AbortSignal, image?: string): Promise<FetchedManifest>;
  getBlobBytes(repo: string, descriptor: Descriptor, signal?: AbortSignal, image?: string): Promise<Buffer>;
  getReferrers?(repo: string, digest: string, artifactType?: string, signal?: AbortSignal): Promise<Descriptor[] | undefined>;
}

export type SignatureSource = 'referrers' | 'referrers-tag' | 'cosign-tag';

export type FoundSignature =
  | { format: 'notation'; source: SignatureSource; manifestDigest: string; envelope: Buffer; envelopeMediaType: string }
  | {
      format: 'cosign';
      source: SignatureSource;
      manifestDigest: string;
      layerDigest: string;
      payload: Buffer;
      signature: string | undefined;
      /** keyless: the Fulcio certificate, its chain and the Rekor bundle (layer annotations) */
      certificate?: string;
      chain?: string;
      bundle?: string;
    };

export interface Discovery {
  signatures: FoundSignature[];
  /** signature artifacts that could not be used (wrong subject, too large, unknown envelope type, ...) */
  rejected: SignatureVerdict[];
  /** what was looked at and what was left unread */
  notes: string[];
}

export interface DiscoverOptions {
  signal?: AbortSignal;
  limits?: Partial<DiscoveryLimits>;
  /** names the image in errors */
  image?: string;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

export async function discoverSignatures(registry: SignatureRegistry, repo: string, subjectDigest: string, opts: DiscoverOptions = {}): Promise<Discovery> {
  if (!DIGEST.test(subjectDigest)) throw new DrydockError('BAD_REFERENCE', `signature discovery needs a sha256 manifest digest, got "${subjectDigest}"`);
  const limits = { ...DEFAULT_DISCOVERY_LIMITS, ...opts.limits };
  const out: Discovery = { signatures: [], rejected: [], notes: [] };
  const hex = subjectDigest.slice('sha256:'.length);
  let budget = limits.maxSignatures;
  const take = <T>(items: readonly T[], what: string): T[] => {
    if (items.length > budget) {
      out.notes.push(`${items.length} ${what} found, only ${Math.max(budget, 0)} read (limit maxSignatures ${limits.maxSignatures})`);
    }
    const taken = items.slice(0, Math.max(budget, 0));
    budget -= taken.length;
    return taken;
  };

  // 1 + 2: referrers (API, else the tag schema)
  let referrers: Descriptor[] | undefined;
  let source: SignatureSource = 'referrers';
  if (registry.getReferrers) {
    const lists = await Promise.all(SIGNATURE_ARTIFACT_TYPES.map((t) => registry.getReferrers!(repo, subjectDigest, t, opts.signal)));
    if (lists.every((l) => l !== undefined)) referrers = dedupe(lists.flatMap((l) => l ?? []));
  }
  if (referrers === undefined) {
    source = 'referrers-tag';
    const index = await optionalManifest(registry, repo, `sha256-${hex}`, opts);
    referrers = index ? referrersFromIndex(index, out) : [];
    out.notes.push(index ? `referrers read from the tag sha256-${hex.slice(0, 12)}…` : 'no referrers API and no referrers tag');
  }
  const wanted = referrers.filter((d) => d.artifactType !== undefined && SIGNATURE_ARTIFACT_TYPES.includes(d.artifactType));
  for (const d of take(wanted, 'signature referrers')) {
    await readReferrer(registry, repo, subjectDigest, d, source, limits, out, opts, take);
  }

  // 3: cosign's tag
  const sig = await optionalManifest(registry, repo, `sha256-${hex}.sig`, opts);
  if (sig) await readCosignManifest(registry, repo, sig, 'cosign-tag', undefined, limits, out, opts, take);
  return out;
}

async function optionalManifest(registry: SignatureRegistry, repo: string, tag: string, opts: DiscoverOptions): Promise<FetchedManifest | undefined> {
  try {
    return await registry.getManifest(repo, tag, opts.signal, opts.image);
  } catch (e) {
    if (e instanceof DrydockError && e.code === 'MANIFEST_NOT_FOUND') return undefined;
    throw e;
  }
}

function referrersFromIndex(index: FetchedManifest, out: Discovery): Descriptor[] {
  const doc = parseJson(index.bytes);
  const manifests = isObject(doc) ? doc.manifests : undefined;
  if (!Array.isArray(manifests)) {
    out.rejected.push(invalid('notation', 'malformed', `the referrers tag holds a ${index.mediaType} that is not an index`));
    return [];
  }
  return manifests.filter(isDescriptor);
}

async function readReferrer(
  registry: SignatureRegistry,
  repo: string,
  subjectDigest: string,
  d: Descriptor,
  source: SignatureSource,
  limits: DiscoveryLimits,
  out: Discovery,
  opts: DiscoverOptions,
  take: (items: readonly Descriptor[], what: string) => Descriptor[],
): Promise<void> {
  const format = d.artifactType === NOTATION_ARTIFACT_TYPE ? 'notation' : 'cosign';
  const reject = (reason: string, code: 'malformed' | 'unsupported' | 'digest_mismatch' = 'malformed') =>
    out.rejected.push({ ...invalid(format, code, reason), source, manifestDigest: d.digest });
  const m = await brokenArtifact(registry.getManifest(repo, d.digest, opts.signal, opts.image));
  if (typeof m === 'string') return void reject(`signature manifest ${d.digest} cannot be used: ${m}`);
  const doc = parseJson(m.bytes);
  if (!isObject(doc) || !Array.isArray(doc.layers)) return void reject(`signature manifest ${d.digest} is not an image manifest`);
  const subject = doc.subject;
  if (!isDescriptor(subject) || subject.digest !== subjectDigest) {
    return void reject(`signature manifest ${d.digest} has subject ${isDescriptor(subject) ? subject.digest : 'none'}, not ${subjectDigest}`, 'digest_mismatch');
  }
  const config = isDescriptor(doc.config) ? doc.config.mediaType : undefined;
  const artifactType = typeof doc.artifactType === 'string' ? doc.artifactType : config;
  if (artifactType !== d.artifactType) return void reject(`signature manifest ${d.digest} has artifactType ${String(artifactType)}, the referrers list said ${String(d.artifactType)}`);
  if (format === 'cosign') {
    // the referrer itself already counted as one signature: its layers count from the second on
    return readCosignManifest(registry, repo, m, source, d.digest, limits, out, opts, (items, what) => [...items.slice(0, 1), ...take(items.slice(1), what)]);
  }
  const layers = doc.layers.filter(isDescriptor);
  if (layers.length !== 1) return void reject(`notation signature manifest ${d.digest} has ${layers.length} layers, not 1`);
  const env = layers[0]!;
  if (env.mediaType !== JWS_ENVELOPE_MEDIA_TYPE && env.mediaType !== COSE_ENVELOPE_MEDIA_TYPE) {
    return void reject(`notation signature envelope media type ${env.mediaType} is neither JWS (${JWS_ENVELOPE_MEDIA_TYPE}) nor COSE (${COSE_ENVELOPE_MEDIA_TYPE})`, 'unsupported');
  }
  if (env.size > limits.maxEnvelopeBytes) {
    return void reject(`signature envelope ${env.digest} is ${env.size} bytes, more than ${limits.maxEnvelopeBytes} (limit maxEnvelopeBytes)`);
  }
  const envelope = await brokenArtifact(registry.getBlobBytes(repo, env, opts.signal, opts.image));
  if (typeof envelope === 'string') return void reject(`signature envelope ${env.digest} cannot be used: ${envelope}`);
  out.signatures.push({ format: 'notation', source, manifestDigest: d.digest, envelope, envelopeMediaType: env.mediaType });
}

async function readCosignManifest(
  registry: SignatureRegistry,
  repo: string,
  m: FetchedManifest,
  source: SignatureSource,
  referrerDigest: string | undefined,
  limits: DiscoveryLimits,
  out: Discovery,
  opts: DiscoverOptions,
  take: (items: readonly Descriptor[], what: string) => Descriptor[],
): Promise<void> {
  const manifestDigest = referrerDigest ?? m.digest;
  const reject = (reason: string) => out.rejected.push({ ...invalid('cosign', 'malformed', reason), source, manifestDigest });
  const doc = parseJson(m.bytes);
  if (!isObject(doc) || !Array.isArray(doc.layers)) return void reject(`cosign signature manifest ${manifestDigest} is not an image manifest`);
  const layers = doc.layers.filter(isDescriptor).filter((l) => l.mediaType === COSIGN_SIMPLE_SIGNING_MEDIA_TYPE);
  if (layers.length === 0) return void reject(`cosign signature manifest ${manifestDigest} has no ${COSIGN_SIMPLE_SIGNING_MEDIA_TYPE} layer`);
  const max = Math.min(limits.maxEnvelopeBytes, MAX_COSIGN_PAYLOAD_BYTES);
  for (const l of take(layers, 'cosign signatures')) {
    if (l.size > max) {
      reject(`cosign payload ${l.digest} is ${l.size} bytes, more than ${max} (limit maxEnvelopeBytes / MAX_COSIGN_PAYLOAD_BYTES)`);
      continue;
    }
    const payload = await brokenArtifact(registry.getBlobBytes(repo, l, opts.signal, opts.image));
    if (typeof payload === 'string') {
      reject(`cosign payload ${l.digest} cannot be used: ${payload}`);
      continue;
    }
    const a = l.annotations ?? {};
    out.signatures.push({
      format: 'cosign',
      source,
      manifestDigest,
      layerDigest: l.digest,
      payload,
      signature: a[COSIGN_SIGNATURE_ANNOTATION],
      ...(a[COSIGN_CERTIFICATE_ANNOTATION] !== undefined && { certificate: a[COSIGN_CERTIFICATE_ANNOTATION] }),
      ...(a[COSIGN_CHAIN_ANNOTATION] !== undefined && { chain: a[COSIGN_CHAIN_ANNOTATION] }),
      ...(a[COSIGN_BUNDLE_ANNOTATION] !== undefined && { bundle: a[COSIGN_BUNDLE_ANNOTATION] }),
    });
  }
}

/**
 * One signature artifact that is missing or does not match its descriptor is that signature's
 * problem (a rejected verdict), not the image's: the others are still verified. Errors that
 * say the registry cannot be read (network, auth, throttling) are thrown.
 */
const ARTIFACT_PROBLEMS = new Set(['MANIFEST_NOT_FOUND', 'BLOB_NOT_FOUND', 'DIGEST_MISMATCH', 'SIZE_MISMATCH', 'INVALID_MANIFEST', 'UNSUPPORTED_MEDIA_TYPE', 'LIMIT_EXCEEDED']);

async function brokenArtifact<T>(read: Promise<T>): Promise<T | string> {
  try {
    return await read;
  } catch (e) {
    if (e instanceof DrydockError && ARTIFACT_PROBLEMS.has(e.code)) return `${e.code}: ${e.message}`;
    throw e;
  }
}

function dedupe(ds: Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return ds.filter((d) => isDescriptor(d) && !seen.has(d.digest) && (seen.add(d.digest), true));
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isDescriptor(v: unknown): v is Descriptor {
  return isObject(v) && typeof v.mediaType === 'string' && typeof v.digest === 'string' && typeof v.size === 'number' && Number.isSafeInteger(v.size) && v.size >= 0;
}
