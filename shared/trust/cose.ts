import { X509Certificate } from 'node:crypto';
import { decode, encode, type DecodeOptions } from 'cborg';
import { invalid, type SignatureVerdict } from './types.js';
import {
  MAX_CHAIN_CERTIFICATES,
  MAX_NOTATION_ENVELOPE_BYTES,
  NOTARY_PAYLOAD_CONTENT_TYPE,
  verifyNotationEnvelope,
  type NotationParse,
  type NotationSubject,
  type NotationTrust,
} from './notation.js';

/**
 * Notary Project signatures in the COSE envelope (`application/cose`; notaryproject/specifications,
 * signature-envelope-cose.md): a tagged COSE_Sign1 (RFC 9052) decoded strictly with cborg, its
 * protected header checked as the spec states, the signature verified over the Sig_structure,
 * then the same chain, trust, expiry and payload checks as JWS (notation.ts).
 */

const COSE_SIGN1_TAG = 18;
const EPOCH_TIME_TAG = 1;
const LABEL = { alg: 1, crit: 2, contentType: 3, x5chain: 33 } as const;
const SCHEME = 'io.cncf.notary.signingScheme';
const SIGNING_TIME = 'io.cncf.notary.signingTime';
const AUTHENTIC_SIGNING_TIME = 'io.cncf.notary.authenticSigningTime';
const EXPIRY = 'io.cncf.notary.expiry';
const PLUGIN = 'io.cncf.notary.verificationPlugin';
const PLUGIN_MIN = 'io.cncf.notary.verificationPluginMinVersion';
const KNOWN_CRIT = new Set<unknown>([SCHEME, SIGNING_TIME, AUTHENTIC_SIGNING_TIME, EXPIRY, PLUGIN, PLUGIN_MIN]);
const KNOWN_UNPROTECTED = new Set<unknown>([LABEL.x5chain, 'io.cncf.notary.signingAgent', 'io.cncf.notary.timestampSignature']);
/** COSE algorithm identifiers (IANA) of the spec's algorithms */
const COSE_ALGORITHMS: ReadonlyMap<number, string> = new Map([
  [-37, 'PS256'],
  [-38, 'PS384'],
  [-39, 'PS512'],
  [-7, 'ES256'],
  [-35, 'ES384'],
  [-36, 'ES512'],
]);

/** A CBOR tag-1 time, kept as seconds since the epoch. */
class EpochTime {
  constructor(readonly seconds: number) {}
  iso(): string {
    return new Date(this.seconds * 1000).toISOString().replace('.000Z', 'Z');
  }
}

const DECODE: DecodeOptions = {
  useMaps: true,
  strict: true,
  rejectDuplicateMapKeys: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowBigInt: false,
  tags: {
    [COSE_SIGN1_TAG]: (d) => ({ sign1: d() }),
    [EPOCH_TIME_TAG]: (d) => {
      const v = d();
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error('tag 1 (epoch time) does not hold a number');
      return new EpochTime(v);
    },
  },
};

export function verifyNotationCose(envelope: Buffer, subject: NotationSubject, trust: NotationTrust, now: Date = new Date()): SignatureVerdict {
  if (envelope.length > MAX_NOTATION_ENVELOPE_BYTES) {
    return invalid('notation', 'malformed', `the envelope is ${envelope.length} bytes, more than ${MAX_NOTATION_ENVELOPE_BYTES} (limit MAX_NOTATION_ENVELOPE_BYTES)`);
  }
  return verifyNotationEnvelope(parseCose(envelope), subject, trust, now);
}

function parseCose(envelope: Buffer): NotationParse {
  const malformed = (reason: string): NotationParse => ({ code: 'malformed', reason });
  let top: unknown;
  try {
    top = decode(envelope, DECODE);
  } catch (e) {
    return malformed(`the envelope is not CBOR as COSE requires (${(e as Error).message})`);
  }
  const sign1 = isObject(top) && 'sign1' in top ? top.sign1 : undefined;
  if (sign1 === undefined) return malformed(`the envelope is not a tagged COSE_Sign1 (CBOR tag ${COSE_SIGN1_TAG})`);
  if (!Array.isArray(sign1) || sign1.length !== 4) return malformed('COSE_Sign1 must be an array of 4: protected, unprotected, payload, signature');
  const [protectedBytes, unprotected, payload, signature] = sign1 as unknown[];
  if (!(protectedBytes instanceof Uint8Array) || protectedBytes.length === 0) return malformed('the COSE protected header is not a non-empty byte string');
  if (!(unprotected instanceof Map)) return malformed('the COSE unprotected header is not a map');
  if (!(payload instanceof Uint8Array)) return malformed('the COSE payload is detached or not a byte string');
  if (!(signature instanceof Uint8Array)) return malformed('the COSE signature is not a byte string');

  let header: unknown;
  try {
    header = decode(protectedBytes, DECODE);
  } catch (e) {
    return malformed(`the COSE protected header is not CBOR (${(e as Error).message})`);
  }
  if (!(header instanceof Map)) return malformed('the COSE protected header is not a map');
  const h = header as Map<unknown, unknown>;

  const algId = h.get(LABEL.alg);
  const alg = typeof algId === 'number' ? COSE_ALGORITHMS.get(algId) : undefined;
  if (!alg) return { code: 'unsupported', reason: `COSE alg ${JSON.stringify(algId)} is not one of the spec's (${[...COSE_ALGORITHMS.keys()].join(', ')})` };
  const cty = h.get(LABEL.contentType);
  if (cty !== NOTARY_PAYLOAD_CONTENT_TYPE) return malformed(`COSE content type is ${JSON.stringify(cty)}, not "${NOTARY_PAYLOAD_CONTENT_TYPE}"`);
  const scheme = h.get(SCHEME);
  if (scheme !== 'notary.x509' && scheme !== 'notary.x509.signingAuthority') {
    return malformed(`protected header ${SCHEME} is ${JSON.stringify(scheme)}, not notary.x509 or notary.x509.signingAuthority`);
  }
  const crit = h.get(LABEL.crit);
  if (!Array.isArray(crit) || crit.length === 0) return malformed('COSE crit is missing or empty');
  if (new Set(crit).size !== crit.length) return malformed('COSE crit lists a label twice');
  for (const label of crit) {
    if (!h.has(label)) return malformed(`COSE crit names ${JSON.stringify(label)}, which is not in the protected header`);
    if (!KNOWN_CRIT.has(label)) return { code: 'unsupported', reason: `COSE crit names ${JSON.stringify(label)}, which this verifier does not understand (fails closed)` };
  }
  const mustBeCritical = [SCHEME, ...(h.has(EXPIRY) ? [EXPIRY] : []), ...(scheme === 'notary.x509.signingAuthority' ? [AUTHENTIC_SIGNING_TIME] : [])];
  for (const name of mustBeCritical) if (!crit.includes(name)) return malformed(`protected header ${name} must be listed in crit`);
  if (h.has(PLUGIN) || h.has(PLUGIN_MIN)) {
    return { code: 'unsupported', reason: `the signature requires verification plugin ${JSON.stringify(h.get(PLUGIN))}; plugins are not supported` };
  }
  const timeLabel = scheme === 'notary.x509' ? SIGNING_TIME : AUTHENTIC_SIGNING_TIME;
  const time = h.get(timeLabel);
  if (!(time instanceof EpochTime)) return malformed(`protected header ${timeLabel} is required for ${scheme} and must be a CBOR tag-1 time`);
  const expiry = h.get(EXPIRY);
  if (h.has(EXPIRY) && !(expiry instanceof EpochTime)) return malformed(`protected header ${EXPIRY} is not a CBOR tag-1 time`);

  const unknown = [...unprotected.keys()].filter((k) => !KNOWN_UNPROTECTED.has(k));
  if (unknown.length) return malformed(`unprotected header entries not allowed by the spec: ${unknown.map((k) => JSON.stringify(k)).join(', ')}`);
  const x5 = unprotected.get(LABEL.x5chain);
  const ders = x5 instanceof Uint8Array ? [x5] : Array.isArray(x5) ? (x5 as unknown[]) : [];
  if (ders.length === 0) return malformed('the unprotected header has no x5chain (label 33)');
  if (ders.length > MAX_CHAIN_CERTIFICATES) return malformed(`x5chain holds ${ders.length} certificates, more than ${MAX_CHAIN_CERTIFICATES} (limit MAX_CHAIN_CERTIFICATES)`);
  const chain: X509Certificate[] = [];
  for (const [i, der] of ders.entries()) {
    if (!(der instanceof Uint8Array)) return malformed(`x5chain[${i}] is not a byte string`);
    try {
      chain.push(new X509Certificate(Buffer.from(der)));
    } catch {
      return malformed(`x5chain[${i}] is not an X.509 certificate`);
    }
  }
  return {
    kind: 'COSE',
    alg,
    signingInput: coseSigStructure(protectedBytes, payload),
    signature: Buffer.from(signature),
    chain,
    signingTime: time.iso(),
    ...(expiry instanceof EpochTime && { expiry: expiry.iso() }),
    payload: Buffer.from(payload),
  };
}

/** RFC 9052 §4.4: Sig_structure = ["Signature1", body_protected, external_aad (empty), payload], deterministically encoded. */
export function coseSigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Buffer {
  return Buffer.from(encode(['Signature1', protectedBytes, new Uint8Array(0), payload]));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
