/**
 * `drydock scan --base-images <bases.yaml>` (issue 19, items 3–4, in the CLI): the trusted base
 * list's repository:tag entries resolved in their registries to BaseCandidates, the scanned
 * image's base identified among them (shared/base/identify.ts), the base's own signature
 * verified under the trust policy, and the newest digest of the base's tag scanned for rebuild
 * advice. The CLI cannot list a registry's tags or repositories: every entry names literal tags.
 */
import { annotatedBase, identifyBase, layerIdsOf, type BaseCandidate, type BaseImageInfo, type LayerId, type TrustedBaseList } from '../base/index.js';
import { DrydockError } from '../errors.js';
import type { CredentialProvider } from '../image/auth.js';
import { openSource } from '../image/open.js';
import { formatPlatform } from '../image/platform.js';
import { parseReference, type RegistryReference } from '../image/reference.js';
import { RegistrySource, type RegistryTimeouts } from '../image/registry.js';
import { resolveImages } from '../image/resolve.js';
import type { Platform } from '../image/types.js';
import { globMatch } from '../policy/engine.js';
import { scanImage, type ImageInventory, type ScanOptions } from '../scan.js';
import type { TrustPolicy } from '../trust/index.js';

/** At most this many base digests are resolved for one scanned image (list tags plus an annotation's digest). */
export const MAX_BASE_CANDIDATES = 32;

/** One repository:tag of the list, as the CLI resolves it. */
export interface BaseTarget {
  registry: string;
  repository: string;
  tag: string;
}

export interface BaseRegistryOptions {
  insecureRegistries: string[];
  credentials: CredentialProvider;
  registryTimeouts?: Partial<RegistryTimeouts>;
  maxLayers?: number;
  now: Date;
}

/** "<registry>/<repository>" split at its first "/", as isTrusted compares it. */
function splitRepository(name: string): { registry: string; repository: string } {
  const slash = name.indexOf('/');
  return { registry: name.slice(0, slash), repository: name.slice(slash + 1) };
}

const GLOB = /[*?[\]]/;

/**
 * The list's entries as literal repository:tag pairs. An entry without tags, or with a glob in
 * its repository or a tag, cannot be resolved by the CLI: a CONFIG (usage) error naming it.
 */
export function baseTargets(list: TrustedBaseList): BaseTarget[] {
  const out: BaseTarget[] = [];
  for (const [i, b] of list.bases.entries()) {
    const at = `${list.source}: bases[${i}] (${b.repository})`;
    if (GLOB.test(b.repository)) throw new DrydockError('CONFIG', `${at}: the CLI cannot list a registry's repositories; name the repository without "*"`);
    if (!b.tags || b.tags.length === 0) throw new DrydockError('CONFIG', `${at}: the CLI cannot list a registry's tags; name the tags to resolve under "tags"`);
    for (const tag of b.tags) {
      if (GLOB.test(tag)) throw new DrydockError('CONFIG', `${at}: tag "${tag}" is a glob; the CLI cannot list a registry's tags, name literal tags`);
      out.push({ ...splitRepository(b.repository), tag });
    }
  }
  if (out.length > MAX_BASE_CANDIDATES) throw new DrydockError('CONFIG', `${list.source}: ${out.length} repository:tag pairs to resolve, over the limit of ${MAX_BASE_CANDIDATES} (MAX_BASE_CANDIDATES)`);
  return out;
}

function registryRef(reference: string): RegistryReference {
  const ref = parseReference(reference);
  if (ref.kind !== 'registry') throw new DrydockError('CONFIG', `${reference} is not a registry reference`);
  return ref;
}

async function openRegistry(reference: string, o: BaseRegistryOptions): Promise<RegistrySource> {
  const source = await openSource(registryRef(reference), {
    insecureRegistries: o.insecureRegistries,
    credentials: o.credentials,
    ...(o.registryTimeouts ? { registryTimeouts: o.registryTimeouts } : {}),
  });
  if (!(source instanceof RegistrySource)) throw new DrydockError('CONFIG', `${reference} is not a registry image`);
  return source;
}

/** One digest of a base repository, resolved to the platform manifest for `platform`. */
async function resolveCandidate(
  t: { registry: string; repository: string; tag?: string; digest?: string },
  tags: string[],
  platform: Platform,
  o: BaseRegistryOptions,
  pushedAt: (created: string | undefined) => string,
): Promise<BaseCandidate> {
  const reference = `${t.registry}/${t.repository}${t.digest ? `@${t.digest}` : `:${t.tag}`}`;
  // (a registry source holds no file or socket to release)
  const source = await openRegistry(reference, o);
  const [img] = await resolveImages(source, reference, { platform, ...(o.maxLayers !== undefined ? { maxLayers: o.maxLayers } : {}) });
  if (!img) throw new DrydockError('PLATFORM_NOT_FOUND', `${reference} has no ${formatPlatform(platform)} image`);
  const layers: LayerId[] = img.layers.map((l) => (l.diffId ? { digest: l.descriptor.digest, diffId: l.diffId } : { digest: l.descriptor.digest }));
  const c: BaseCandidate = { registry: t.registry, repository: t.repository, digest: img.manifestDigest, tags, layers, pushedAt: pushedAt(img.config.created) };
  if (img.indexDigest) c.indexDigest = img.indexDigest;
  return c;
}

/** Whether the list names this repository (any tag): an annotation's digest is resolved only there. */
function listed(list: TrustedBaseList, registry: string, repository: string): boolean {
  return list.bases.some((b) => globMatch(b.repository, `${registry}/${repository}`));
}

export interface BaseResolution {
  base: BaseImageInfo;
  candidates: BaseCandidate[];
  /** bases that could not be resolved: printed as warnings, never a silent pass */
  warnings: string[];
}

/**
 * The scanned image's base: every listed repository:tag resolved for the image's platform (its
 * pushedAt is now: it is the tag's current digest), plus the digest the image's base
 * annotations name when no candidate has it and the list names its repository (pushedAt its
 * config's `created`, else the epoch: an older digest of the tag), then identifyBase.
 */
export async function resolveBase(inv: ImageInventory, list: TrustedBaseList, targets: readonly BaseTarget[], o: BaseRegistryOptions): Promise<BaseResolution> {
  const platform = platformOf(inv);
  const now = o.now.toISOString();
  const candidates: BaseCandidate[] = [];
  const warnings: string[] = [];
  for (const t of targets) {
    try {
      candidates.push(await resolveCandidate(t, [t.tag], platform, o, () => now));
    } catch (e) {
      warnings.push(`base image ${t.registry}/${t.repository}:${t.tag} could not be resolved: ${(e as Error).message}`);
    }
  }
  const claimed = annotatedBase(inv.image.baseAnnotations);
  // the annotations are the image's words: no control characters reach the terminal
  const named = (claimed?.name ?? claimed?.digest ?? '').replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  if (claimed?.digest && claimed.registry && claimed.repository && !candidates.some((c) => c.digest === claimed.digest || c.indexDigest === claimed.digest)) {
    if (!listed(list, claimed.registry, claimed.repository)) {
      warnings.push(`the image's base annotations name ${named}, a repository the trusted base list (${list.source}) does not name: not resolved`);
    } else if (candidates.length >= MAX_BASE_CANDIDATES) {
      warnings.push(`the image's base annotations name ${named}: not resolved, ${MAX_BASE_CANDIDATES} base digests resolved already (MAX_BASE_CANDIDATES)`);
    } else {
      try {
        const c = await resolveCandidate({ registry: claimed.registry, repository: claimed.repository, digest: claimed.digest }, claimed.tag ? [claimed.tag] : [], platform, o, (created) => {
          // an older digest of the tag: its build time, never later than now (else the epoch)
          const t = created ? Date.parse(created) : Number.NaN;
          return new Date(Number.isFinite(t) && t < o.now.getTime() ? t : 0).toISOString();
        });
        candidates.push(c);
      } catch (e) {
        warnings.push(`base image ${claimed.registry}/${claimed.repository}@${claimed.digest} (named by the image's base annotations) could not be resolved: ${(e as Error).message}`);
      }
    }
  }
  const base = identifyBase({ digest: inv.image.manifestDigest, layers: layerIdsOf(inv.image.layers), ...(inv.image.baseAnnotations ? { annotations: inv.image.baseAnnotations } : {}) }, candidates, list);
  return { base, candidates, warnings };
}

/** The base's own signature under the trust policy (cosign signs what the tag names: the index digest when there is one). */
export async function verifyBaseSignature(
  base: BaseImageInfo,
  trust: typeof import('../trust/index.js'),
  policy: TrustPolicy,
  o: BaseRegistryOptions,
): Promise<NonNullable<BaseImageInfo['signature']>> {
  const reference = `${base.registry}/${base.repository}@${base.digest}`;
  try {
    const source = await openRegistry(reference, o);
    const r = await trust.verifyImageSignatures(source.client, { registry: base.registry!, repository: base.repository! }, base.digest!, policy);
    return { status: r.status, signers: r.signers, reason: r.reason };
  } catch (e) {
    return { status: 'error', signers: [], reason: `the signature of ${reference} could not be read: ${(e as Error).message}` };
  }
}

/** "registry/repository@digest" of the newest digest of the base's tag, to scan. */
export function newestReference(base: BaseImageInfo): string | undefined {
  return base.status === 'identified' && base.newest ? `${base.registry}/${base.repository}@${base.newest.digest}` : undefined;
}

/** The scanned image's platform, as a base is resolved for it. */
function platformOf(inv: ImageInventory): Platform {
  const p = inv.image.platform;
  return { os: p.os || 'linux', architecture: p.architecture || 'amd64', ...(p.variant ? { variant: p.variant } : {}) };
}

/**
 * The newest digest of the base's tag, scanned for the image's platform with the scan's own
 * options (cache, limits, concurrency): its findings are what a rebuild would still have.
 * Undefined (and a warning) when it cannot be read: advice is then not given, never invented.
 */
export async function scanNewestBase(
  base: BaseImageInfo,
  inv: ImageInventory,
  o: BaseRegistryOptions,
  scan: Pick<ScanOptions, 'limits' | 'cache' | 'concurrency'>,
  warn: (message: string) => void,
): Promise<ImageInventory | undefined> {
  const reference = newestReference(base);
  if (!reference) return undefined;
  try {
    const [out] = await scanImage(await openRegistry(reference, o), reference, { ...scan, platform: platformOf(inv) });
    return out;
  } catch (e) {
    warn(`the newer base ${reference} could not be scanned, so no rebuild advice is given: ${(e as Error).message}`);
    return undefined;
  }
}

export { layerGroups, loadTrustedBaseList, rebuildAdvice, splitFindings } from '../base/index.js';
