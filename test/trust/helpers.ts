import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** test/fixtures/trust: real published signatures (see SOURCES.md there). */
export const TRUST_FIXTURES = fileURLToPath(new URL('../fixtures/trust/', import.meta.url));

export const fixture = (rel: string): Buffer => readFileSync(`${TRUST_FIXTURES}${rel}`);
export const fixtureText = (rel: string): string => fixture(rel).toString('utf8');

/** A cosign simple-signing payload as cosign writes it (compact JSON, keys in this order). */
export function cosignPayload(digest: string, reference = 'registry.example/app', type = 'cosign container image signature'): Buffer {
  return Buffer.from(
    JSON.stringify({ critical: { identity: { 'docker-reference': reference }, image: { 'docker-manifest-digest': digest }, type }, optional: null }),
  );
}

export interface TestKey {
  privateKey: KeyObject;
  publicPem: string;
}

/** A key pair made here (not published data): cosign's own keys are ECDSA P-256. */
export function testKey(kind: 'p256' | 'p384' | 'ed25519'): TestKey {
  const pair =
    kind === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('ec', { namedCurve: kind === 'p256' ? 'prime256v1' : 'secp384r1' });
  return { privateKey: pair.privateKey, publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** base64 signature over `payload` as cosign makes it (DER for ECDSA unless `raw`). */
export function cosignSign(key: TestKey, payload: Buffer, opts: { hash?: string; raw?: boolean } = {}): string {
  const kind = key.privateKey.asymmetricKeyType;
  if (kind === 'ed25519') return sign(null, payload, key.privateKey).toString('base64');
  const curve = key.privateKey.asymmetricKeyDetails?.namedCurve;
  const hash = opts.hash ?? (curve === 'secp384r1' ? 'sha384' : 'sha256');
  return sign(hash, payload, { key: key.privateKey, dsaEncoding: opts.raw ? 'ieee-p1363' : 'der' }).toString('base64');
}
