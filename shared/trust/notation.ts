import { X509Certificate, constants, verify, type KeyObject } from 'node:crypto';
import { DrydockError } from '../errors.js';
import { invalid, type SignatureVerdict, type VerdictCode } from './types.js';

/**
 * Notary Project signatures (notaryproject/specifications, signature-specification.md and
 * signature-envelope-jws.md) in the JWS envelope (`application/jose+json`, flattened JSON
 * serialisation): protected header rules, the x5c chain verified up to a certificate of the
 * trust store with node:crypto, validity periods at verification time, the `expiry` header,
 * and the payload's `targetArtifact` compared with the image. Not done: COSE envelopes,
 * RFC 3161 timestamp countersignatures (so an expired certificate fails even when a timestamp
 * would have vouched for the signing time), revocation (OCSP/CRL), verification plugins.
 */

export const NOTATION_ARTIFACT_TYPE = 'application/vnd.cncf.notary.signature';
export const JWS_ENVELOPE_MEDIA_TYPE = 'application/jose+json';
export const COSE_ENVELOPE_MEDIA_TYPE = 'application/cose';
export const NOTARY_PAYLOAD_CONTENT_TYPE = 'application/vnd.cncf.notary.payload.v1+json';
/** Envelopes larger than this are refused unparsed (a JWS with a 3-certificate chain is ~6 KiB). */
export const MAX_NOTATION_ENVELOPE_BYTES = 1024 * 1024;
/** x5c chains longer than this are refused */
export const MAX_CHAIN_CERTIFICATES = 10;
/** A trust-store PEM file holds at most this many certificates. */
export const MAX_TRUST_STORE_CERTIFICATES = 100;

const H = {
  scheme: 'io.cncf.notary.signingScheme',
  signingTime: 'io.cncf.notary.signingTime',
  authenticSigningTime: 'io.cncf.notary.authenticSigningTime',
  expiry: 'io.cncf.notary.expiry',
  plugin: 'io.cncf.notary.verificationPlugin',
  pluginMinVersion: 'io.cncf.notary.verificationPluginMinVersion',
} as const;
const SCHEMES = new Set(['notary.x509', 'notary.x509.signingAuthority']);
/** protected headers we know; a `crit` entry outside this set fails closed */
const KNOWN_PROTECTED = new Set<string>(['alg', 'cty', 'crit', ...Object.values(H)]);
const KNOWN_UNPROTECTED = new Set(['x5c', 'io.cncf.notary.signingAgent', 'io.cncf.notary.timestampSignature']);
const CODE_SIGNING_EKU = '1.3.6.1.5.5.7.3.3';
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** The spec's algorithm table: each `alg` belongs to exactly one key type and size. */
const ALGORITHMS: Record<string, { hash: string; key: 'rsa' | 'ec'; size: number }> = {
  PS256: { hash: 'sha256', key: 'rsa', size: 2048 },
  PS384: { hash: 'sha384', key: 'rsa', size: 3072 },
  PS512: { hash: 'sha512', key: 'rsa', size: 4096 },
  ES256: { hash: 'sha256', key: 'ec', size: 256 },
  ES384: { hash: 'sha384', key: 'ec', size: 384 },
  ES512: { hash: 'sha512', key: 'ec', size: 521 },
};
const CURVE_BITS: Record<string, number> = { prime256v1: 256, secp384r1: 384, secp521r1: 521 };

export interface TrustStoreCertificate {
  /** the trust store's name in the policy (certificates of one store share it) */
  store: string;
  cert: X509Certificate;
}

export interface NotationTrust {
  roots: readonly TrustStoreCertificate[];
  /**
   * Trusted identities as the Notary Project trust policy writes them: "*" (any signer whose
   * chain ends in the trust store) or "x509.subject: C=US, ST=WA, O=acme" (every attribute
   * named must equal the leaf certificate's).
   */
  identities: readonly string[];
}

export interface NotationSubject {
  digest: string;
  mediaType?: string;
  size?: number;
}

/** Certificates of a PEM trust-store file. Throws CONFIG naming `store`. */
export function parseTrustStore(store: string, pem: string): TrustStoreCertificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new DrydockError('CONFIG', `trust store "${store}" holds no PEM certificate`);
  if (blocks.length > MAX_TRUST_STORE_CERTIFICATES) {
    throw new DrydockError('CONFIG', `trust store "${store}" holds ${blocks.length} certificates, more than ${MAX_TRUST_STORE_CERTIFICATES} (limit MAX_TRUST_STORE_CERTIFICATES)`);
  }
  return blocks.map((b, i) => {
    try {
      return { store, cert: new X509Certificate(b) };
    } catch (e) {
      throw new DrydockError('CONFIG', `trust store "${store}": certificate ${i + 1} cannot be read: ${(e as Error).message}`, { cause: e });
    }
  });
}

/** Checks a trusted-identity string; returns the problem, or undefined when it is usable. */
export function identityProblem(identity: string): string | undefined {
  if (identity === '*') return undefined;
  const attrs = identity.startsWith('x509.subject:') ? parseDn(identity.slice('x509.subject:'.length)) : undefined;
  if (!attrs) return `"${identity}" is not "*" nor "x509.subject: <attr>=<value>, ..."`;
  // trust-store-trust-policy.md, "Trusted Identities Constraints"
  const missing = ['C', 'ST', 'O'].filter((k) => !attrs.has(k));
  if (missing.length) return `"${identity}" lacks ${missing.join(', ')}: an x509.subject identity must name at least C, ST and O`;
  return undefined;
}

type Fail = { code: Exclude<VerdictCode, 'valid'>; reason: string };

/**
 * An envelope reduced to what verification needs, whatever its format (JWS here, COSE in
 * cose.ts): the header rules are checked by the parser, the rest in verifyNotationEnvelope.
 */
export interface NotationEnvelope {
  /** "JWS" or "COSE", for messages */
  kind: string;
  /** PS256 … ES512 (the spec's names, also for COSE's numeric algorithms) */
  alg: string;
  /** the bytes the signature is over: JWS protected.payload, COSE's Sig_structure */
  signingInput: Buffer;
  signature: Buffer;
  /** leaf first */
  chain: X509Certificate[];
  /** RFC 3339 */
  signingTime: string;
  /** RFC 3339, when the envelope has io.cncf.notary.expiry */
  expiry?: string;
  /** the payload bytes (JSON with targetArtifact) */
  payload: Buffer;
}

export type NotationParse = NotationEnvelope | { code: Exclude<VerdictCode, 'valid'>; reason: string };

/**
 * Verifies one JWS envelope (the signature artifact's layer, as stored) for `subject` at `now`.
 * Checks run in the spec's order: integrity, authenticity (chain to the trust store, trusted
 * identity), expiry, certificate validity, then the payload against the image.
 */
export function verifyNotationJws(envelope: Buffer, subject: NotationSubject, trust: NotationTrust, now: Date = new Date()): SignatureVerdict {
  if (envelope.length > MAX_NOTATION_ENVELOPE_BYTES) {
    return invalid('notation', 'malformed', `the envelope is ${envelope.length} bytes, more than ${MAX_NOTATION_ENVELOPE_BYTES} (limit MAX_NOTATION_ENVELOPE_BYTES)`);
  }
  return verifyNotationEnvelope(parseJws(envelope), subject, trust, now);
}

export function verifyNotationEnvelope(parsed: NotationParse, subject: NotationSubject, trust: NotationTrust, now: Date): SignatureVerdict {
  const fail = (f: Fail, signer?: string) => invalid('notation', f.code, f.reason, signer);
  if ('code' in parsed) return fail(parsed);
  const { chain, signingTime } = parsed;
  const leaf = chain[0]!;
  const signer = dnString(leaf.subject);
  for (const [i, c] of chain.entries()) {
    // A certificate can parse and still hold a public key OpenSSL cannot decode.
    try {
      void c.publicKey;
    } catch {
      return fail({ code: 'certificate_invalid', reason: `certificate ${i} of the chain ("${dnString(c.subject)}") has a public key that cannot be read` }, signer);
    }
  }

  // Integrity: the leaf's key, of the type and size `alg` demands, signed the signing input.
  const alg = ALGORITHMS[parsed.alg]!;
  const keyProblem = algorithmKeyProblem(parsed.alg, leaf.publicKey);
  if (keyProblem) return fail({ code: 'certificate_invalid', reason: keyProblem }, signer);
  const ok =
    alg.key === 'rsa'
      ? safeVerify(alg.hash, parsed.signingInput, { key: leaf.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.hash.slice(3)) / 8 }, parsed.signature)
      : safeVerify(alg.hash, parsed.signingInput, { key: leaf.publicKey, dsaEncoding: 'ieee-p1363' }, parsed.signature);
  if (!ok) return fail({ code: 'bad_signature', reason: `the ${parsed.alg} signature does not verify with the leaf certificate's key: the ${parsed.kind} envelope was altered` }, signer);

  // Authenticity: a well-formed code-signing chain, one of whose certificates is in the trust store.
  let chainProblem: string | undefined;
  try {
    chainProblem = codeSigningChainProblem(chain);
  } catch (e) {
    chainProblem = `the certificate chain cannot be checked: ${(e as Error).message}`;
  }
  if (chainProblem) return fail({ code: 'certificate_invalid', reason: chainProblem }, signer);
  const anchor = trust.roots.find((r) => chain.some((c) => c.fingerprint256 === r.cert.fingerprint256));
  if (!anchor) {
    return fail(
      { code: 'untrusted_signer', reason: `the certificate chain (root "${dnString(chain[chain.length - 1]!.subject)}") ends in none of the ${trust.roots.length} trust-store certificate(s)` },
      signer,
    );
  }
  if (!trust.identities.some((id) => identityMatches(id, leaf.subject))) {
    return fail({ code: 'untrusted_signer', reason: `signer "${signer}" is not among the trusted identities (${trust.identities.join('; ') || 'none'})` }, signer);
  }

  // Expiry of the signature, then validity of every certificate now (no timestamp is trusted).
  if (parsed.expiry !== undefined && Date.parse(parsed.expiry) <= now.getTime()) {
    return fail({ code: 'signature_expired', reason: `the signature expired at ${parsed.expiry}` }, signer);
  }
  for (const c of chain) {
    const from = Date.parse(c.validFrom);
    const to = Date.parse(c.validTo);
    if (!(from <= now.getTime())) {
      return fail({ code: 'certificate_invalid', reason: `certificate "${dnString(c.subject)}" is not valid before ${new Date(from).toISOString()}` }, signer);
    }
    if (!(now.getTime() <= to)) {
      return fail({ code: 'certificate_expired', reason: `certificate "${dnString(c.subject)}" expired at ${new Date(to).toISOString()} (timestamp countersignatures are not verified)` }, signer);
    }
  }

  // The payload names this image.
  const target = targetProblem(parsed.payload, subject);
  if (target) return fail(target, signer);
  return {
    format: 'notation',
    status: 'valid',
    code: 'valid',
    signer,
    signingTime,
    reason: `signed by "${signer}" (chain to trust store "${anchor.store}") over ${subject.digest}, signing time ${signingTime}`,
  };
}

function parseJws(envelope: Buffer): NotationParse {
  const malformed = (reason: string): Fail => ({ code: 'malformed', reason });
  let doc: unknown;
  try {
    doc = JSON.parse(envelope.toString('utf8'));
  } catch {
    return malformed('the envelope is not JSON (expected a JWS in flattened JSON serialisation)');
  }
  if (!isObject(doc)) return malformed('the envelope is not a JSON object');
  for (const f of ['payload', 'protected', 'signature'] as const) {
    const v = doc[f];
    // canonical only: unused trailing bits set would give a second spelling of the same bytes
    if (typeof v !== 'string' || !/^[A-Za-z0-9_-]*$/.test(v) || Buffer.from(v, 'base64url').toString('base64url') !== v) {
      return malformed(`the envelope's "${f}" is not a canonical base64url string`);
    }
  }
  const protectedB64 = doc.protected as string;
  const payloadB64 = doc.payload as string;
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(protectedB64, 'base64url').toString('utf8'));
  } catch {
    return malformed('the protected header is not base64url JSON');
  }
  if (!isObject(header)) return malformed('the protected header is not a JSON object');
  const headerProblem = protectedHeaderProblem(header);
  if (headerProblem) return headerProblem;

  const unprotected = doc.header;
  if (!isObject(unprotected)) return malformed('the envelope has no unprotected "header" (it carries x5c)');
  const unknown = Object.keys(unprotected).filter((k) => !KNOWN_UNPROTECTED.has(k));
  if (unknown.length) return malformed(`unprotected header entries not allowed by the spec: ${unknown.join(', ')}`);
  const x5c = unprotected.x5c;
  if (!Array.isArray(x5c) || x5c.length === 0) return malformed('the unprotected header has no x5c certificate chain');
  if (x5c.length > MAX_CHAIN_CERTIFICATES) {
    return malformed(`x5c holds ${x5c.length} certificates, more than ${MAX_CHAIN_CERTIFICATES} (limit MAX_CHAIN_CERTIFICATES)`);
  }
  const chain: X509Certificate[] = [];
  for (const [i, c] of x5c.entries()) {
    if (typeof c !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(c)) return malformed(`x5c[${i}] is not canonical base64 DER`);
    const der = Buffer.from(c, 'base64');
    if (der.toString('base64') !== c) return malformed(`x5c[${i}] is not canonical base64 DER`);
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch {
      return malformed(`x5c[${i}] is not an X.509 certificate`);
    }
    // OpenSSL reads one certificate and ignores what follows it: bytes after the DER are refused
    if (!cert.raw.equals(der)) return malformed(`x5c[${i}] has ${der.length - cert.raw.length} bytes after its certificate`);
    chain.push(cert);
  }
  const scheme = header[H.scheme];
  const expiry = header[H.expiry];
  return {
    kind: 'JWS',
    alg: header.alg as string,
    signingInput: Buffer.from(`${protectedB64}.${payloadB64}`, 'ascii'),
    signature: Buffer.from(doc.signature as string, 'base64url'),
    chain,
    signingTime: header[scheme === 'notary.x509' ? H.signingTime : H.authenticSigningTime] as string,
    ...(typeof expiry === 'string' && { expiry }),
    payload: Buffer.from(payloadB64, 'base64url'),
  };
}

function protectedHeaderProblem(h: Record<string, unknown>): Fail | undefined {
  const malformed = (reason: string): Fail => ({ code: 'malformed', reason });
  if (typeof h.alg !== 'string' || !ALGORITHMS[h.alg]) {
    return { code: 'unsupported', reason: `protected header alg ${JSON.stringify(h.alg)} is not one of ${Object.keys(ALGORITHMS).join(', ')}` };
  }
  if (h.cty !== NOTARY_PAYLOAD_CONTENT_TYPE) return malformed(`protected header cty is ${JSON.stringify(h.cty)}, not "${NOTARY_PAYLOAD_CONTENT_TYPE}"`);
  const scheme = h[H.scheme];
  if (typeof scheme !== 'string' || !SCHEMES.has(scheme)) return malformed(`protected header ${H.scheme} is ${JSON.stringify(scheme)}, not notary.x509 or notary.x509.signingAuthority`);
  const crit = h.crit;
  if (!Array.isArray(crit) || crit.length === 0 || !crit.every((c): c is string => typeof c === 'string')) {
    return malformed('protected header crit is missing or not a list of names');
  }
  if (new Set(crit).size !== crit.length) return malformed('protected header crit lists a name twice');
  for (const name of crit) {
    if (!(name in h)) return malformed(`protected header crit names ${name}, which is not in the protected header`);
    if (!KNOWN_PROTECTED.has(name) || ['alg', 'cty', 'crit'].includes(name)) {
      return { code: 'unsupported', reason: `protected header crit names ${name}, which this verifier does not understand (fails closed)` };
    }
  }
  const mustBeCritical = [H.scheme, ...(H.expiry in h ? [H.expiry] : []), ...(scheme === 'notary.x509.signingAuthority' ? [H.authenticSigningTime] : [])];
  for (const name of mustBeCritical) if (!crit.includes(name)) return malformed(`protected header ${name} must be listed in crit`);
  if (H.plugin in h || H.pluginMinVersion in h) {
    return { code: 'unsupported', reason: `the signature requires verification plugin ${JSON.stringify(h[H.plugin])}; plugins are not supported` };
  }
  const timeField = scheme === 'notary.x509' ? H.signingTime : H.authenticSigningTime;
  const time = h[timeField];
  if (typeof time !== 'string' || !RFC3339.test(time) || Number.isNaN(Date.parse(time))) {
    return malformed(`protected header ${timeField} is required for ${scheme} and must be an RFC 3339 time, got ${JSON.stringify(time)}`);
  }
  if (H.expiry in h) {
    const expiry = h[H.expiry];
    if (typeof expiry !== 'string' || !RFC3339.test(expiry) || Number.isNaN(Date.parse(expiry))) return malformed(`protected header ${H.expiry} is not an RFC 3339 time`);
  }
  // Other protected entries are extended signed attributes: not critical, so they may be ignored.
  return undefined;
}

function algorithmKeyProblem(alg: string, key: KeyObject): string | undefined {
  const want = ALGORITHMS[alg]!;
  if (want.key === 'rsa') {
    const bits = key.asymmetricKeyType === 'rsa' ? key.asymmetricKeyDetails?.modulusLength : undefined;
    if (bits !== want.size) return `alg ${alg} needs an RSA ${want.size}-bit leaf key, the certificate has ${describeKey(key)}`;
  } else {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const bits = key.asymmetricKeyType === 'ec' && curve ? CURVE_BITS[curve] : undefined;
    if (bits !== want.size) return `alg ${alg} needs an ECDSA P-${want.size} leaf key, the certificate has ${describeKey(key)}`;
  }
  return undefined;
}

function describeKey(key: KeyObject): string {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa') return `RSA ${d?.modulusLength ?? '?'}-bit`;
  if (key.asymmetricKeyType === 'ec') return `EC ${d?.namedCurve ?? '?'}`;
  return String(key.asymmetricKeyType);
}

/**
 * The spec's certificate-chain rules: leaf first, each certificate issued and signed by the
 * next, the last self-signed; CA certificates above the leaf, the leaf itself no CA and, when
 * it has an extended key usage, for code signing. A single self-signed leaf is allowed.
 */
function codeSigningChainProblem(chain: readonly X509Certificate[]): string | undefined {
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i]!;
    const parent = chain[i + 1]!;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      return `certificate "${dnString(child.subject)}" is not issued and signed by the next one in x5c ("${dnString(parent.subject)}")`;
    }
    if (!parent.ca) return `certificate "${dnString(parent.subject)}" issues another but is not a CA (basicConstraints)`;
  }
  const root = chain[chain.length - 1]!;
  // Self-signed: names itself as issuer and its own key verifies it (as Go's CheckSignature; a
  // self-signed code-signing leaf has no keyCertSign, so OpenSSL's checkIssued would refuse it).
  if (root.issuer !== root.subject || !root.verify(root.publicKey)) {
    return `the last certificate in x5c ("${dnString(root.subject)}") is not self-signed: the chain must reach its root`;
  }
  const leaf = chain[0]!;
  if (chain.length > 1 && leaf.ca) return `the leaf certificate "${dnString(leaf.subject)}" is a CA certificate`;
  const eku = leaf.keyUsage;
  if (Array.isArray(eku) && eku.length > 0 && !eku.includes(CODE_SIGNING_EKU)) {
    return `the leaf certificate's extended key usage (${eku.join(', ')}) does not include code signing (${CODE_SIGNING_EKU})`;
  }
  return undefined;
}

function targetProblem(payload: Buffer, subject: NotationSubject): Fail | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    return { code: 'malformed', reason: 'the signed payload is not JSON' };
  }
  const t = isObject(doc) ? doc.targetArtifact : undefined;
  if (!isObject(t) || typeof t.digest !== 'string') return { code: 'malformed', reason: 'the signed payload has no targetArtifact.digest' };
  if (t.digest !== subject.digest) return { code: 'digest_mismatch', reason: `the signature is for ${t.digest}, not this image's ${subject.digest}` };
  if (subject.size !== undefined && t.size !== subject.size) {
    return { code: 'digest_mismatch', reason: `the signed targetArtifact.size ${JSON.stringify(t.size)} differs from the manifest's ${subject.size} bytes` };
  }
  if (subject.mediaType !== undefined && t.mediaType !== subject.mediaType) {
    return { code: 'digest_mismatch', reason: `the signed targetArtifact.mediaType ${JSON.stringify(t.mediaType)} differs from the manifest's ${subject.mediaType}` };
  }
  return undefined;
}

function safeVerify(hash: string, data: Buffer, key: Parameters<typeof verify>[2], sig: Buffer): boolean {
  try {
    return verify(hash, data, key, sig);
  } catch {
    return false;
  }
}

/** Node's "C=US\nST=WA\nCN=x" as "C=US, ST=WA, CN=x". */
function dnString(nodeDn: string): string {
  return nodeDn.split('\n').join(', ');
}

function identityMatches(identity: string, leafSubject: string): boolean {
  if (identity === '*') return true;
  if (identityProblem(identity)) return false;
  const want = parseDn(identity.slice('x509.subject:'.length));
  if (!want) return false;
  const have = new Map<string, string[]>();
  for (const line of leafSubject.split('\n')) {
    const at = line.indexOf('=');
    if (at <= 0) continue;
    const k = line.slice(0, at).toUpperCase();
    have.set(k, [...(have.get(k) ?? []), line.slice(at + 1)]);
  }
  return [...want].every(([k, v]) => have.get(k)?.includes(v) ?? false);
}

/**
 * "C=US, ST=WA, O=acme" → attribute map; undefined when not of that form or an attribute repeats.
 * Escapes as the spec lists them: "\\," "\\;" "\\\\" and "\\ " (a value's leading or trailing space).
 */
function parseDn(dn: string): Map<string, string> | undefined {
  const out = new Map<string, string>();
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < dn.length; i++) {
    const ch = dn[i]!;
    if (ch === '\\' && i + 1 < dn.length) {
      cur += ch + dn[i + 1]!;
      i++;
    } else if (ch === ',') {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  for (const raw of parts) {
    const p = raw.replace(/^\s+/, '').replace(/(?<!\\)\s+$/, '');
    const at = p.indexOf('=');
    if (at <= 0 || at === p.length - 1) return undefined;
    const k = p.slice(0, at).trim().toUpperCase();
    if (!/^[A-Z][A-Z0-9.]*$/.test(k) || out.has(k)) return undefined;
    out.set(k, p.slice(at + 1).replace(/^\s+/, '').replace(/\\(.)/g, '$1'));
  }
  return out.size ? out : undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
