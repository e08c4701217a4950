import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DrydockError } from '../../shared/errors.js';
import { MAX_COSIGN_PAYLOAD_BYTES, parseCosignPublicKey, verifyCosign } from '../../shared/trust/cosign.js';
import { cosignPayload, cosignSign, fixture, fixtureText, testKey } from './helpers.js';

// Real data: sigstore-rs's key-signed busybox signature (test/fixtures/trust/SOURCES.md).
const PAYLOAD = fixture('cosign/busybox.payload.json');
const SIGNATURE = fixtureText('cosign/busybox.signature.b64');
const SUBJECT = 'sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b';
const KEY = parseCosignPublicKey('sigstore-rs-test', fixtureText('cosign/busybox.cosign.pub'));
const OTHER_KEY = parseCosignPublicKey('other', fixtureText('cosign/other.cosign.pub'));

describe('cosign: the published sigstore-rs sample', () => {
  it('verifies with its key and names the signer', () => {
    const v = verifyCosign({ payload: PAYLOAD, signature: SIGNATURE, subjectDigest: SUBJECT }, [OTHER_KEY, KEY]);
    expect(v).toMatchObject({ format: 'cosign', status: 'valid', code: 'valid' });
    expect(v.signer).toBe(`sigstore-rs-test (${KEY.fingerprint})`);
    expect(KEY.kind).toBe('ecdsa-p256');
  });

  it('fails when one payload byte is changed', () => {
    const tampered = Buffer.from(PAYLOAD);
    const at = tampered.indexOf('busybox');
    tampered[at] = 'B'.charCodeAt(0);
    const v = verifyCosign({ payload: tampered, signature: SIGNATURE, subjectDigest: SUBJECT }, [KEY]);
    expect(v).toMatchObject({ status: 'invalid', code: 'bad_signature' });
    expect(v.reason).toMatch(/does not verify with any of the 1 trusted cosign key\(s\) \(sigstore-rs-test\)/);
  });

  it('fails with the wrong key (the other key of the same upstream test)', () => {
    const v = verifyCosign({ payload: PAYLOAD, signature: SIGNATURE, subjectDigest: SUBJECT }, [OTHER_KEY]);
    expect(v).toMatchObject({ status: 'invalid', code: 'bad_signature' });
  });

  it('fails when one signature byte is changed', () => {
    const sig = Buffer.from(SIGNATURE, 'base64');
    sig.writeUInt8(sig.readUInt8(sig.length - 1) ^ 0x01, sig.length - 1);
    const v = verifyCosign({ payload: PAYLOAD, signature: sig.toString('base64'), subjectDigest: SUBJECT }, [KEY]);
    expect(v.code).toBe('bad_signature');
  });

  it('a good signature for another image is a digest mismatch, with the signer named', () => {
    const other = `sha256:${'0'.repeat(64)}`;
    const v = verifyCosign({ payload: PAYLOAD, signature: SIGNATURE, subjectDigest: other }, [KEY]);
    expect(v).toMatchObject({ status: 'invalid', code: 'digest_mismatch', signer: `sigstore-rs-test (${KEY.fingerprint})` });
    expect(v.reason).toContain(`names ${SUBJECT}, not this image's ${other}`);
  });

  it('no cosign key in the policy: untrusted signer', () => {
    expect(verifyCosign({ payload: PAYLOAD, signature: SIGNATURE, subjectDigest: SUBJECT }, []).code).toBe('untrusted_signer');
  });

  it.each([
    ['missing', undefined, /no dev\.cosignproject\.cosign\/signature annotation/],
    ['not base64', 'not base64!', /not canonical base64/],
    ['non-canonical base64 (unused bits set: the same bytes spelt twice)', SIGNATURE.replace(/8=$/, '9='), /not canonical base64/],
    ['too long', 'A'.repeat(5000), /limit MAX_COSIGN_SIGNATURE_CHARS/],
  ])('a %s signature annotation is malformed', (_name, signature, reason) => {
    const v = verifyCosign({ payload: PAYLOAD, signature, subjectDigest: SUBJECT }, [KEY]);
    expect(v).toMatchObject({ status: 'invalid', code: 'malformed' });
    expect(v.reason).toMatch(reason);
  });

  it('an oversized payload is refused unverified, naming the bound', () => {
    const big = Buffer.alloc(MAX_COSIGN_PAYLOAD_BYTES + 1, 0x20);
    const v = verifyCosign({ payload: big, signature: SIGNATURE, subjectDigest: SUBJECT }, [KEY]);
    expect(v.reason).toMatch(/limit MAX_COSIGN_PAYLOAD_BYTES/);
  });
});

describe('cosign: key types (keys generated here with node:crypto, not published data)', () => {
  const digest = `sha256:${'a'.repeat(64)}`;
  const payload = cosignPayload(digest);

  it.each([
    ['ECDSA P-256, DER', 'p256', {}],
    ['ECDSA P-256, raw r||s', 'p256', { raw: true }],
    ['ECDSA P-384 with SHA-384, DER', 'p384', {}],
    ['ECDSA P-384 with SHA-384, raw r||s', 'p384', { raw: true }],
    ['ECDSA P-384 with SHA-256 (older cosign)', 'p384', { hash: 'sha256' }],
    ['Ed25519', 'ed25519', {}],
  ] as const)('%s verifies; the same signature fails over another payload', (_name, kind, opts) => {
    const k = testKey(kind);
    const key = parseCosignPublicKey('k', k.publicPem);
    const signature = cosignSign(k, payload, opts);
    expect(verifyCosign({ payload, signature, subjectDigest: digest }, [key]).status).toBe('valid');
    const other = cosignPayload(digest, 'registry.example/other');
    expect(verifyCosign({ payload: other, signature, subjectDigest: digest }, [key]).code).toBe('bad_signature');
  });

  it('a payload of another type is malformed even when the signature verifies', () => {
    const k = testKey('ed25519');
    const p = cosignPayload(digest, 'registry.example/app', 'something else');
    const v = verifyCosign({ payload: p, signature: cosignSign(k, p), subjectDigest: digest }, [parseCosignPublicKey('k', k.publicPem)]);
    expect(v).toMatchObject({ code: 'malformed' });
    expect(v.reason).toContain('critical.type is "something else"');
  });

  it('a payload that is not JSON is malformed', () => {
    const k = testKey('p256');
    const p = Buffer.from('not json');
    const v = verifyCosign({ payload: p, signature: cosignSign(k, p), subjectDigest: digest }, [parseCosignPublicKey('k', k.publicPem)]);
    expect(v.reason).toBe('the signed payload is not JSON');
  });

  it.each([
    ['RSA', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString(), /is rsa; supported/],
    ['P-521', () => generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString(), /is ec secp521r1/],
    ['not PEM', () => 'hello', /not a PEM public key/],
    ['broken PEM', () => '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', /cannot be read/],
  ])('an unusable key (%s) is a CONFIG error naming it', (_name, pem, message) => {
    let err: unknown;
    try {
      parseCosignPublicKey('release', pem());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DrydockError);
    expect((err as DrydockError).code).toBe('CONFIG');
    expect((err as DrydockError).message).toMatch(/cosign key "release"/);
    expect((err as DrydockError).message).toMatch(message);
  });
});
