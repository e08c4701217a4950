import { X509Certificate, createHash, verify, type KeyObject } from 'node:crypto';
import { checkClaims, decodeSignature } from './cosign.js';
import { invalid, type SignatureVerdict, type VerdictCode } from './types.js';

/**
 * cosign keyless signatures, verified offline: the signing certificate (annotation
 * `dev.sigstore.cosign/certificate`, with intermediates in `dev.sigstore.cosign/chain`) must
 * chain to a configured Fulcio root, and the Rekor bundle (`dev.sigstore.cosign/bundle`) must be
 * signed by a configured Rekor key (its SignedEntryTimestamp over the canonical entry), record
 * this signature, this payload's hash and this certificate, and place the signing (integratedTime)
 * inside the certificate's validity. The certificate's subject (email or URI) and OIDC issuer
 * must match one of the policy's identities. Without a bundle there is no trusted signing time:
 * such a signature is `unsupported`. Not done: Rekor inclusion proofs, RFC 3161 timestamps, the
 * new sigstore bundle format, CT log SCTs.
 */

export const COSIGN_CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate';
export const COSIGN_CHAIN_ANNOTATION = 'dev.sigstore.cosign/chain';
export const COSIGN_BUNDLE_ANNOTATION = 'dev.sigstore.cosign/bundle';
/** Certificates, chains and bundles are a few KiB; larger annotations are refused. */
export const MAX_KEYLESS_ANNOTATION_CHARS = 64 * 1024;
/** Fulcio's OIDC issuer extensions: v1 holds the raw string, v2 (…1.8) a DER UTF8String */
const ISSUER_V1 = Buffer.from('060a2b0601040183bf300101', 'hex');
const ISSUER_V2 = Buffer.from('060a2b0601040183bf300108', 'hex');
const MAX_CHAIN = 5;

export interface KeylessIdentity {
  /** the certificate's subject alternative name: an email address or a URI, exactly */
  subject: string;
  /** the OIDC issuer the certificate records; omitted: any */
  issuer?: string;
}

export interface KeylessTrust {
  name: string;
  /** Fulcio root (and intermediate) certificates */
  roots: readonly X509Certificate[];
  /** Rekor public keys; a bundle names its key by logID (SHA-256 of the key's SPKI DER) */
  rekorKeys: readonly KeyObject[];
  identities: readonly KeylessIdentity[];
}

export interface KeylessInput {
  payload: Buffer;
  signature: string | undefined;
  certificate: string | undefined;
  chain?: string | undefined;
  bundle?: string | undefined;
  subjectDigest: string;
}

type Fail = { code: Exclude<VerdictCode, 'valid'>; reason: string };

export function verifyCosignKeyless(input: KeylessInput, trusts: readonly KeylessTrust[]): SignatureVerdict {
  const fail = (f: Fail, signer?: string) => invalid('cosign', f.code, f.reason, signer);
  for (const [name, v] of [['certificate', input.certificate], ['chain', input.chain], ['bundle', input.bundle]] as const) {
    if (v !== undefined && v.length > MAX_KEYLESS_ANNOTATION_CHARS) {
      return fail({ code: 'malformed', reason: `the ${name} annotation is ${v.length} characters, more than ${MAX_KEYLESS_ANNOTATION_CHARS} (limit MAX_KEYLESS_ANNOTATION_CHARS)` });
    }
  }
  const sig = decodeSignature(input.signature);
  if (typeof sig === 'string') return fail({ code: 'malformed', reason: sig });
  let leaf: X509Certificate;
  let intermediates: X509Certificate[];
  try {
    leaf = new X509Certificate(input.certificate ?? '');
    intermediates = pemBlocks(input.chain ?? '').slice(0, MAX_CHAIN).map((b) => new X509Certificate(b));
    void leaf.publicKey;
  } catch {
    return fail({ code: 'malformed', reason: `the ${COSIGN_CERTIFICATE_ANNOTATION} or ${COSIGN_CHAIN_ANNOTATION} annotation is not a PEM certificate` });
  }
  const sans = subjectAltNames(leaf);
  const issuer = oidcIssuer(leaf);
  const signer = `${sans[0] ?? 'no subject'} (keyless${issuer ? `, issuer ${issuer}` : ''})`;

  // Integrity: the certificate's key signed the payload.
  const hash = leaf.publicKey.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'sha384' : 'sha256';
  if (!safeVerify(hash, input.payload, leaf.publicKey, sig)) {
    return fail({ code: 'bad_signature', reason: 'the signature does not verify with the certificate\'s key: the payload or signature was altered' }, signer);
  }
  if (trusts.length === 0) return fail({ code: 'untrusted_signer', reason: 'the trust policy names no keyless (Fulcio/Rekor) identity for this repository' }, signer);
  if (input.bundle === undefined) {
    return fail({ code: 'unsupported', reason: `keyless signature without a Rekor bundle (${COSIGN_BUNDLE_ANNOTATION}): no trusted signing time offline` }, signer);
  }
  const entry = parseBundle(input.bundle);
  if ('code' in entry) return fail(entry, signer);

  let last: Fail | undefined;
  for (const t of trusts) {
    const problem = checkWithTrust(t, entry, leaf, intermediates, input, sig, sans, issuer);
    if (!problem) {
      const claims = checkClaims(input.payload, input.subjectDigest);
      if (claims) return fail(claims, signer);
      const when = new Date(entry.integratedTime * 1000).toISOString();
      return { format: 'cosign', status: 'valid', code: 'valid', signer, signingTime: when, reason: `signed keyless by ${signer}, certificate from "${t.name}", logged in Rekor at ${when}` };
    }
    last = problem;
  }
  return fail(last!, signer);
}

interface RekorEntry {
  set: Buffer;
  /** the exact fields the SignedEntryTimestamp is over */
  body: string;
  integratedTime: number;
  logIndex: number;
  logID: string;
}

function parseBundle(text: string): RekorEntry | Fail {
  const malformed = (reason: string): Fail => ({ code: 'malformed', reason: `the Rekor bundle ${reason}` });
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return malformed('is not JSON');
  }
  const p = isObject(doc) ? doc.Payload : undefined;
  const set = isObject(doc) ? doc.SignedEntryTimestamp : undefined;
  if (typeof set !== 'string' || !isObject(p)) return malformed('has no SignedEntryTimestamp and Payload');
  const { body, integratedTime, logIndex, logID } = p;
  if (typeof body !== 'string' || !Number.isSafeInteger(integratedTime) || !Number.isSafeInteger(logIndex) || typeof logID !== 'string' || !/^[0-9a-f]{64}$/.test(logID)) {
    return malformed('Payload needs body, integratedTime, logIndex and a hex logID');
  }
  return { set: Buffer.from(set, 'base64'), body, integratedTime: integratedTime as number, logIndex: logIndex as number, logID };
}

function checkWithTrust(
  t: KeylessTrust,
  entry: RekorEntry,
  leaf: X509Certificate,
  intermediates: X509Certificate[],
  input: KeylessInput,
  sig: Buffer,
  sans: string[],
  issuer: string | undefined,
): Fail | undefined {
  // The transparency log vouches for the entry (and so for the signing time).
  const rekor = t.rekorKeys.find((k) => createHash('sha256').update(k.export({ type: 'spki', format: 'der' })).digest('hex') === entry.logID);
  if (!rekor) return { code: 'untrusted_signer', reason: `the Rekor bundle is from log ${entry.logID.slice(0, 16)}…, not a Rekor key of "${t.name}"` };
  const canonical = JSON.stringify({ body: entry.body, integratedTime: entry.integratedTime, logID: entry.logID, logIndex: entry.logIndex });
  if (!safeVerify('sha256', Buffer.from(canonical), rekor, entry.set)) {
    return { code: 'bad_signature', reason: 'the Rekor bundle\'s SignedEntryTimestamp does not verify: the bundle was altered' };
  }
  const recorded = recordedEntry(entry.body);
  if (!recorded) return { code: 'malformed', reason: 'the Rekor entry body is not a rekord / hashedrekord entry' };
  const certInLog = (() => {
    try {
      return new X509Certificate(recorded.publicKey).raw.equals(leaf.raw);
    } catch {
      return false;
    }
  })();
  if (!recorded.signature.equals(sig) || recorded.sha256 !== createHash('sha256').update(input.payload).digest('hex') || !certInLog) {
    return { code: 'bad_signature', reason: 'the Rekor entry records another signature, payload or certificate than this one' };
  }

  // The certificate chains to a configured Fulcio root and was valid when the entry was logged.
  const path = pathToRoot(leaf, intermediates, t.roots);
  if (!path) return { code: 'untrusted_signer', reason: `the signing certificate does not chain to a Fulcio root of "${t.name}"` };
  const at = entry.integratedTime * 1000;
  for (const c of path) {
    if (!(Date.parse(c.validFrom) <= at && at <= Date.parse(c.validTo))) {
      return { code: 'certificate_expired', reason: `certificate "${c.subject.split('\n').join(', ')}" was not valid when the signature was logged (${new Date(at).toISOString()})` };
    }
  }
  const id = t.identities.find((i) => sans.includes(i.subject) && (i.issuer === undefined || i.issuer === issuer));
  if (!id) {
    return { code: 'untrusted_signer', reason: `signer ${sans.join(', ') || 'without subject'} (issuer ${issuer ?? 'not recorded'}) is not among the keyless identities of "${t.name}"` };
  }
  return undefined;
}

function recordedEntry(bodyB64: string): { signature: Buffer; sha256: string; publicKey: Buffer } | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bodyB64, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(doc) || (doc.kind !== 'rekord' && doc.kind !== 'hashedrekord') || !isObject(doc.spec)) return undefined;
  const { signature, data } = doc.spec;
  const hash = isObject(data) && isObject(data.hash) ? data.hash : undefined;
  const key = isObject(signature) && isObject(signature.publicKey) ? signature.publicKey.content : undefined;
  const content = isObject(signature) ? signature.content : undefined;
  if (!hash || hash.algorithm !== 'sha256' || typeof hash.value !== 'string' || typeof content !== 'string' || typeof key !== 'string') return undefined;
  return { signature: Buffer.from(content, 'base64'), sha256: hash.value, publicKey: Buffer.from(key, 'base64') };
}

/** leaf → intermediates → a configured root (or a configured intermediate); the certificates used, leaf first. */
function pathToRoot(leaf: X509Certificate, intermediates: X509Certificate[], roots: readonly X509Certificate[]): X509Certificate[] | undefined {
  const path = [leaf];
  let cur = leaf;
  for (let i = 0; i <= MAX_CHAIN; i++) {
    const issuedBy = (p: X509Certificate) => p.fingerprint256 !== cur.fingerprint256 && cur.checkIssued(p) && cur.verify(p.publicKey);
    const root = roots.find(issuedBy);
    if (root) return [...path, root];
    const next = intermediates.find(issuedBy);
    if (!next || !next.ca) return undefined;
    path.push(next);
    cur = next;
  }
  return undefined;
}

function subjectAltNames(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .map((s) => /^(?:email|URI):(.*)$/.exec(s)?.[1])
    .filter((s): s is string => s !== undefined && s !== '');
}

/** The Fulcio OIDC issuer extension, read from the DER (Node exposes no arbitrary extensions). */
function oidcIssuer(cert: X509Certificate): string | undefined {
  for (const [oid, der] of [[ISSUER_V2, true], [ISSUER_V1, false]] as const) {
    const at = cert.raw.indexOf(oid);
    if (at < 0) continue;
    let i = at + oid.length;
    if (cert.raw[i] === 0x01) i += 3; // critical BOOLEAN
    if (cert.raw[i] !== 0x04) continue; // OCTET STRING
    const [len, off] = derLength(cert.raw, i + 1);
    let value = cert.raw.subarray(off, off + len);
    if (der) {
      if (value[0] !== 0x0c) continue; // UTF8String
      const [l2, o2] = derLength(value, 1);
      value = value.subarray(o2, o2 + l2);
    }
    return value.toString('utf8');
  }
  return undefined;
}

function derLength(b: Buffer, at: number): [number, number] {
  const first = b[at] ?? 0;
  if (first < 0x80) return [first, at + 1];
  const n = first & 0x7f;
  let len = 0;
  for (let k = 1; k <= n && k <= 3; k++) len = (len << 8) | (b[at + k] ?? 0);
  return [len, at + 1 + n];
}

function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}

function safeVerify(hash: string, data: Buffer, key: KeyObject, sig: Buffer): boolean {
  try {
    return verify(hash, data, { key, dsaEncoding: 'der' }, sig);
  } catch {
    return false;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
