import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { DrydockError } from '../errors.js';
import { invalid, type SignatureVerdict } from './types.js';

/**
 * cosign key-based signatures (sigstore/cosign, "simple signing"): the signature manifest's
 * layer is a JSON payload naming the image's manifest digest, and the layer descriptor's
 * `dev.cosignproject.cosign/signature` annotation holds base64 of the signature over the
 * payload bytes exactly as stored. Verified here with ECDSA P-256 / P-384 (DER or raw r||s)
 * and Ed25519 public keys in PEM; keyless (Fulcio certificate) signatures are not verified.
 */

export const COSIGN_SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
/** `critical.type` of a cosign image signature payload */
export const COSIGN_PAYLOAD_TYPE = 'cosign container image signature';
/** A simple-signing payload is a few hundred bytes; larger ones are refused unread. */
export const MAX_COSIGN_PAYLOAD_BYTES = 64 * 1024;
/** base64 of a P-384 DER signature is about 140 characters */
export const MAX_COSIGN_SIGNATURE_CHARS = 4096;
/** A PEM public key is well under this. */
export const MAX_PUBLIC_KEY_PEM_CHARS = 16 * 1024;

export interface CosignKey {
  /** the name the trust policy gives the key */
  name: string;
  key: KeyObject;
  /** "SHA256:" + hex of the SPKI DER's SHA-256, first 16 characters */
  fingerprint: string;
  kind: 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519';
}

/** A trust-policy key from PEM ("-----BEGIN PUBLIC KEY-----"). Throws CONFIG naming `name` when unusable. */
export function parseCosignPublicKey(name: string, pem: string): CosignKey {
  if (pem.length > MAX_PUBLIC_KEY_PEM_CHARS) {
    throw new DrydockError('CONFIG', `cosign key "${name}" is longer than ${MAX_PUBLIC_KEY_PEM_CHARS} characters (limit MAX_PUBLIC_KEY_PEM_CHARS)`);
  }
  if (!/-----BEGIN PUBLIC KEY-----/.test(pem)) {
    throw new DrydockError('CONFIG', `cosign key "${name}" is not a PEM public key (expected "-----BEGIN PUBLIC KEY-----")`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (e) {
    throw new DrydockError('CONFIG', `cosign key "${name}" cannot be read: ${(e as Error).message}`, { cause: e });
  }
  let kind: CosignKey['kind'];
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType === 'ed25519') kind = 'ed25519';
  else if (key.asymmetricKeyType === 'ec' && curve === 'prime256v1') kind = 'ecdsa-p256';
  else if (key.asymmetricKeyType === 'ec' && curve === 'secp384r1') kind = 'ecdsa-p384';
  else {
    const what = key.asymmetricKeyType === 'ec' ? `ec ${curve ?? 'unknown curve'}` : String(key.asymmetricKeyType);
    throw new DrydockError('CONFIG', `cosign key "${name}" is ${what}; supported: ECDSA P-256, ECDSA P-384, Ed25519`);
  }
  return { name, key, fingerprint: keyFingerprint(key), kind };
}

export function keyFingerprint(key: KeyObject): string {
  const der = key.export({ type: 'spki', format: 'der' });
  return `SHA256:${createHash('sha256').update(der).digest('hex').slice(0, 16)}`;
}

export interface CosignSignatureInput {
  /** the payload blob exactly as stored (its digest already checked against the layer descriptor) */
  payload: Buffer;
  /** the layer's `dev.cosignproject.cosign/signature` annotation (base64) */
  signature: string | undefined;
  /** the manifest digest of the image being verified */
  subjectDigest: string;
}

/**
 * Verifies one cosign signature against the trusted keys: the signature must verify with one
 * of them over the payload bytes, and the payload must be a cosign image signature naming
 * `subjectDigest`. A signature no key verifies is `bad_signature`: with keys alone, another
 * signer and an altered payload look the same.
 */
export function verifyCosign(input: CosignSignatureInput, keys: readonly CosignKey[]): SignatureVerdict {
  const fail = (code: Parameters<typeof invalid>[1], reason: string, signer?: string) => invalid('cosign', code, reason, signer);
  if (input.payload.length > MAX_COSIGN_PAYLOAD_BYTES) {
    return fail('malformed', `the payload is ${input.payload.length} bytes, more than ${MAX_COSIGN_PAYLOAD_BYTES} (limit MAX_COSIGN_PAYLOAD_BYTES)`);
  }
  const sig = decodeSignature(input.signature);
  if (typeof sig === 'string') return fail('malformed', sig);
  if (keys.length === 0) return fail('untrusted_signer', 'the trust policy names no cosign key for this repository');

  const signer = keys.find((k) => verifiesWith(k, input.payload, sig));
  if (!signer) {
    return fail(
      'bad_signature',
      `the signature does not verify with any of the ${keys.length} trusted cosign key(s) (${keys.map((k) => k.name).join(', ')}): made by another key, or the payload or signature was altered`,
    );
  }
  const who = `${signer.name} (${signer.fingerprint})`;
  const claims = checkClaims(input.payload, input.subjectDigest);
  if (claims) return fail(claims.code, claims.reason, who);
  return {
    format: 'cosign',
    status: 'valid',
    code: 'valid',
    signer: who,
    reason: `signed by cosign key ${who} over a payload naming ${input.subjectDigest}`,
  };
}

/** The annotation's signature bytes, or why it cannot be used. */
export function decodeSignature(annotation: string | undefined): Buffer | string {
  if (annotation === undefined || annotation === '') return `no ${COSIGN_SIGNATURE_ANNOTATION} annotation on the payload layer`;
  if (annotation.length > MAX_COSIGN_SIGNATURE_CHARS) {
    return `the signature annotation is ${annotation.length} characters, more than ${MAX_COSIGN_SIGNATURE_CHARS} (limit MAX_COSIGN_SIGNATURE_CHARS)`;
  }
  const sig = Buffer.from(annotation, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(annotation) || sig.toString('base64') !== annotation) return 'the signature annotation is not canonical base64';
  return sig;
}

/** ECDSA signatures come DER-encoded from cosign, raw r||s from some KMS signers: both are tried. */
function verifiesWith(k: CosignKey, payload: Buffer, sig: Buffer): boolean {
  try {
    if (k.kind === 'ed25519') return verify(null, payload, k.key, sig);
    const size = k.kind === 'ecdsa-p256' ? 32 : 48;
    // P-384 keys: cosign's default verifier hashes with SHA-384; older releases used SHA-256.
    const hashes = k.kind === 'ecdsa-p256' ? ['sha256'] : ['sha384', 'sha256'];
    for (const hash of hashes) {
      if (tryVerify(hash, payload, { key: k.key, dsaEncoding: 'der' }, sig)) return true;
      if (sig.length === 2 * size && tryVerify(hash, payload, { key: k.key, dsaEncoding: 'ieee-p1363' }, sig)) return true;
    }
    return false;
  } catch {
    return false;
  }
}

function tryVerify(hash: string, data: Buffer, key: { key: KeyObject; dsaEncoding: 'der' | 'ieee-p1363' }, sig: Buffer): boolean {
  try {
    return verify(hash, data, key, sig);
  } catch {
    return false;
  }
}

/** The payload's claims against the image: undefined when it is a cosign signature naming `subjectDigest`. */
export function checkClaims(payload: Buffer, subjectDigest: string): { code: 'malformed' | 'digest_mismatch'; reason: string } | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    return { code: 'malformed', reason: 'the signed payload is not JSON' };
  }
  const critical = isObject(doc) ? doc.critical : undefined;
  if (!isObject(critical)) return { code: 'malformed', reason: 'the signed payload has no "critical" object' };
  if (critical.type !== COSIGN_PAYLOAD_TYPE) {
    return { code: 'malformed', reason: `the signed payload's critical.type is ${JSON.stringify(critical.type)}, not "${COSIGN_PAYLOAD_TYPE}"` };
  }
  const image = critical.image;
  const digest = isObject(image) ? image['docker-manifest-digest'] : undefined;
  if (typeof digest !== 'string') return { code: 'malformed', reason: 'the signed payload has no critical.image.docker-manifest-digest' };
  if (digest !== subjectDigest) {
    return { code: 'digest_mismatch', reason: `the signed payload names ${digest}, not this image's ${subjectDigest}` };
  }
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
