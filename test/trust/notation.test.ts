import { X509Certificate, createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { DrydockError } from '../../shared/errors.js';
import { MAX_NOTATION_ENVELOPE_BYTES, identityProblem, parseTrustStore, verifyNotationJws, type NotationTrust } from '../../shared/trust/notation.js';
import { fixture } from './helpers.js';
import { makeChain, signNotationJws, type TestChain } from './pki.js';

// Real data: notation-go's published JWS envelopes (test/fixtures/trust/SOURCES.md). Their
// certificates are self-signed, so the trust store is the leaf itself, as notation-go's tests do.
const JWS = fixture('notation/jws_signature.sig');
const SUBJECT_MANIFEST = fixture('notation/subject-manifest-19dbd2e4.json');
const SUBJECT = {
  digest: `sha256:${createHash('sha256').update(SUBJECT_MANIFEST).digest('hex')}`,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  size: SUBJECT_MANIFEST.length,
};
const WITHOUT_TS = fixture('notation/withoutTimestamp.sig');
const WITHOUT_TS_SUBJECT = { digest: 'sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda' };
const EXPIRED = fixture('notation/jwsExpiredWithTimestamp.sig');

type Envelope = { payload: string; protected: string; header: { x5c: string[] } & Record<string, unknown>; signature: string };
const envelopeOf = (b: Buffer): Envelope => JSON.parse(b.toString('utf8')) as Envelope;
const leafOf = (b: Buffer) => new X509Certificate(Buffer.from(envelopeOf(b).header.x5c[0]!, 'base64'));
const selfTrust = (b: Buffer, identities = ['*']): NotationTrust => ({ roots: [{ store: 'notation-go-testdata', cert: leafOf(b) }], identities });
const NOW = new Date('2026-12-07T00:00:00Z');

describe('Notary Project JWS: the published notation-go samples', () => {
  it('jws_signature.sig verifies for the manifest it signs', () => {
    const v = verifyNotationJws(JWS, SUBJECT, selfTrust(JWS), NOW);
    expect(v).toMatchObject({ format: 'notation', status: 'valid', code: 'valid', signer: 'C=US, ST=WA, L=Seattle, O=Notary, CN=alpine', signingTime: '2023-03-14T16:10:02+08:00' });
    expect(SUBJECT.digest).toBe('sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0');
  });

  it('withoutTimestamp.sig verifies, with a trusted identity naming its subject attributes', () => {
    const v = verifyNotationJws(WITHOUT_TS, WITHOUT_TS_SUBJECT, selfTrust(WITHOUT_TS, ['x509.subject: C=US, ST=WA, O=Notary']), NOW);
    expect(v.status).toBe('valid');
  });

  it('an identity the signer does not have: untrusted signer', () => {
    const v = verifyNotationJws(WITHOUT_TS, WITHOUT_TS_SUBJECT, selfTrust(WITHOUT_TS, ['x509.subject: C=US, ST=WA, O=acme-rockets.io']), NOW);
    expect(v).toMatchObject({ status: 'invalid', code: 'untrusted_signer' });
    expect(v.reason).toContain('is not among the trusted identities');
  });

  it('jwsExpiredWithTimestamp.sig fails: its certificate expired (timestamps are not verified)', () => {
    const v = verifyNotationJws(EXPIRED, WITHOUT_TS_SUBJECT, selfTrust(EXPIRED), NOW);
    expect(v).toMatchObject({ status: 'invalid', code: 'certificate_expired' });
    expect(v.reason).toContain('expired at 2024-06-18T07:30:31.000Z');
  });

  it('a certificate that is valid now expires later: checked at the verification time', () => {
    const v = verifyNotationJws(WITHOUT_TS, WITHOUT_TS_SUBJECT, selfTrust(WITHOUT_TS), new Date('2033-06-01T00:00:00Z'));
    expect(v.code).toBe('certificate_expired');
  });

  it('one payload byte changed: the signature fails', () => {
    const env = envelopeOf(JWS);
    const payload = Buffer.from(env.payload, 'base64url');
    payload[payload.indexOf('481')] = '5'.charCodeAt(0); // size 481 → 581
    env.payload = payload.toString('base64url');
    const v = verifyNotationJws(Buffer.from(JSON.stringify(env)), SUBJECT, selfTrust(JWS), NOW);
    expect(v).toMatchObject({ status: 'invalid', code: 'bad_signature' });
  });

  it('the protected header changed (signing time): the signature fails', () => {
    const env = envelopeOf(JWS);
    const h = JSON.parse(Buffer.from(env.protected, 'base64url').toString()) as Record<string, unknown>;
    h['io.cncf.notary.signingTime'] = '2023-03-15T16:10:02+08:00';
    env.protected = Buffer.from(JSON.stringify(h)).toString('base64url');
    expect(verifyNotationJws(Buffer.from(JSON.stringify(env)), SUBJECT, selfTrust(JWS), NOW).code).toBe('bad_signature');
  });

  it('the certificate swapped for another signer\'s: the signature fails', () => {
    const env = envelopeOf(JWS);
    env.header.x5c = envelopeOf(WITHOUT_TS).header.x5c;
    const v = verifyNotationJws(Buffer.from(JSON.stringify(env)), SUBJECT, { roots: [...selfTrust(JWS).roots, ...selfTrust(WITHOUT_TS).roots], identities: ['*'] }, NOW);
    expect(v.code).toBe('bad_signature');
  });

  it('a byte of the certificate changed: the envelope is refused', () => {
    const env = envelopeOf(JWS);
    const der = Buffer.from(env.header.x5c[0]!, 'base64');
    der.writeUInt8(der.readUInt8(der.length - 10) ^ 0xff, der.length - 10); // inside the certificate's own signature
    env.header.x5c = [der.toString('base64')];
    const v = verifyNotationJws(Buffer.from(JSON.stringify(env)), SUBJECT, selfTrust(JWS), NOW);
    expect(v).toMatchObject({ status: 'invalid', code: 'certificate_invalid' });
    expect(v.reason).toContain('is not self-signed');
  });

  it('a trust store without the signer\'s root: untrusted signer', () => {
    const v = verifyNotationJws(JWS, SUBJECT, selfTrust(WITHOUT_TS), NOW);
    expect(v).toMatchObject({ status: 'invalid', code: 'untrusted_signer' });
    expect(v.reason).toContain('ends in none of the 1 trust-store certificate(s)');
  });

  it('a signature for another manifest: digest mismatch', () => {
    const v = verifyNotationJws(JWS, { digest: WITHOUT_TS_SUBJECT.digest }, selfTrust(JWS), NOW);
    expect(v).toMatchObject({ code: 'digest_mismatch' });
    expect(v.reason).toContain(`is for ${SUBJECT.digest}`);
  });

  it('the right digest with another size: mismatch', () => {
    expect(verifyNotationJws(JWS, { ...SUBJECT, size: 482 }, selfTrust(JWS), NOW).code).toBe('digest_mismatch');
  });

  it('an oversized envelope is refused unparsed, naming the bound', () => {
    const v = verifyNotationJws(Buffer.alloc(MAX_NOTATION_ENVELOPE_BYTES + 1, 0x20), SUBJECT, selfTrust(JWS), NOW);
    expect(v.reason).toMatch(/limit MAX_NOTATION_ENVELOPE_BYTES/);
  });
});

describe('Notary Project JWS: chains and header rules (the test\'s own CA, made with openssl)', () => {
  let ec: TestChain;
  let rsaWithIntermediate: TestChain;
  let otherRoot: TestChain;
  const target = { digest: `sha256:${'b'.repeat(64)}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1234 };
  const trustOf = (c: TestChain, identities = ['*']): NotationTrust => ({ roots: parseTrustStore('test-root', c.rootPem), identities });

  beforeAll(async () => {
    [ec, rsaWithIntermediate, otherRoot] = await Promise.all([makeChain(), makeChain({ keyType: 'rsa', intermediate: true }), makeChain()]);
  });

  it('ES256 leaf → root verifies against the root in the trust store', () => {
    const v = verifyNotationJws(signNotationJws(ec, target), target, trustOf(ec, ['x509.subject: C=US, ST=WA, O=Drydock Test, CN=release signer']));
    expect(v).toMatchObject({ status: 'valid', signer: 'C=US, ST=WA, O=Drydock Test, CN=release signer' });
  });

  it('PS256 leaf → intermediate → root verifies', () => {
    expect(verifyNotationJws(signNotationJws(rsaWithIntermediate, target), target, trustOf(rsaWithIntermediate)).status).toBe('valid');
  });

  it('a chain to another root: untrusted signer', () => {
    expect(verifyNotationJws(signNotationJws(ec, target), target, trustOf(otherRoot)).code).toBe('untrusted_signer');
  });

  it('the intermediate left out of x5c: the chain is broken', () => {
    const c = rsaWithIntermediate;
    const v = verifyNotationJws(signNotationJws(c, target, { x5c: [c.certs[0]!, c.certs[2]!] }), target, trustOf(c));
    expect(v.code).toBe('certificate_invalid');
    expect(v.reason).toContain('is not issued and signed by the next one');
  });

  it('a chain that stops below its root is refused', () => {
    const c = rsaWithIntermediate;
    const v = verifyNotationJws(signNotationJws(c, target, { x5c: [c.certs[0]!, c.certs[1]!] }), target, trustOf(c));
    expect(v.reason).toContain('is not self-signed');
  });

  it('after the leaf\'s notAfter: certificate expired', () => {
    const later = new Date(Date.parse(ec.certs[0]!.validTo) + 1000);
    expect(verifyNotationJws(signNotationJws(ec, target), target, trustOf(ec), later).code).toBe('certificate_expired');
  });

  it('io.cncf.notary.expiry in the past: signature expired', () => {
    const env = signNotationJws(ec, target, { header: { 'io.cncf.notary.expiry': '2020-01-01T00:00:00Z', crit: ['io.cncf.notary.signingScheme', 'io.cncf.notary.expiry'] } });
    const v = verifyNotationJws(env, target, trustOf(ec));
    expect(v).toMatchObject({ code: 'signature_expired' });
    expect(v.reason).toContain('2020-01-01T00:00:00Z');
  });

  it('io.cncf.notary.expiry in the future: valid', () => {
    const env = signNotationJws(ec, target, { header: { 'io.cncf.notary.expiry': '2099-01-01T00:00:00Z', crit: ['io.cncf.notary.signingScheme', 'io.cncf.notary.expiry'] } });
    expect(verifyNotationJws(env, target, trustOf(ec)).status).toBe('valid');
  });

  it.each([
    ['expiry not listed in crit', { 'io.cncf.notary.expiry': '2099-01-01T00:00:00Z' }, 'malformed', /io.cncf.notary.expiry must be listed in crit/],
    ['no crit', { crit: undefined }, 'malformed', /crit is missing/],
    ['crit without the signing scheme', { crit: ['io.cncf.notary.signingTime'] }, 'malformed', /signingScheme must be listed in crit/],
    ['an unknown critical header', { crit: ['io.cncf.notary.signingScheme', 'x-extra'], 'x-extra': 1 }, 'unsupported', /does not understand/],
    ['crit naming an absent header', { crit: ['io.cncf.notary.signingScheme', 'io.cncf.notary.expiry'] }, 'malformed', /not in the protected header/],
    ['another cty', { cty: 'application/json' }, 'malformed', /cty is "application\/json"/],
    ['another signing scheme', { 'io.cncf.notary.signingScheme': 'notary.default.x509' }, 'malformed', /signingScheme is "notary.default.x509"/],
    ['no signing time', { 'io.cncf.notary.signingTime': undefined }, 'malformed', /signingTime is required/],
    ['a signing time that is not RFC 3339', { 'io.cncf.notary.signingTime': 'yesterday' }, 'malformed', /RFC 3339/],
    ['alg none', { alg: 'none' }, 'unsupported', /alg "none"/],
    ['alg not matching the key (PS256 on an EC key)', { alg: 'PS256' }, 'certificate_invalid', /needs an RSA 2048-bit leaf key, the certificate has EC prime256v1/],
    ['a verification plugin', { 'io.cncf.notary.verificationPlugin': 'com.example.plugin', crit: ['io.cncf.notary.signingScheme', 'io.cncf.notary.verificationPlugin'] }, 'unsupported', /plugins are not supported/],
  ] as const)('protected header rule: %s', (_name, header, code, reason) => {
    const v = verifyNotationJws(signNotationJws(ec, target, { header }), target, trustOf(ec));
    expect(v.code).toBe(code);
    expect(v.reason).toMatch(reason);
  });

  it('unprotected entries outside the spec are refused', () => {
    const v = verifyNotationJws(signNotationJws(ec, target, { unprotected: { kid: 'x' } }), target, trustOf(ec));
    expect(v.reason).toContain('unprotected header entries not allowed by the spec: kid');
  });

  it('a leaf without code signing in its extended key usage is refused', async () => {
    const c = await makeChain({ leafEku: 'serverAuth' });
    expect(verifyNotationJws(signNotationJws(c, target), target, trustOf(c)).reason).toMatch(/does not include code signing/);
  });

  it('a CA certificate as leaf is refused', async () => {
    const c = await makeChain({ leafIsCa: true });
    expect(verifyNotationJws(signNotationJws(c, target), target, trustOf(c)).reason).toMatch(/is a CA certificate/);
  });

  it.each([
    ['not JSON', 'nope', /not JSON/],
    ['no x5c', JSON.stringify({ payload: 'e30', protected: 'e30', signature: 'AA', header: {} }), /./],
  ])('a malformed envelope (%s) is invalid, never a crash', (_name, text, reason) => {
    const v = verifyNotationJws(Buffer.from(text), target, trustOf(ec));
    expect(v).toMatchObject({ status: 'invalid' });
    expect(v.reason).toMatch(reason);
  });

  it('trust stores and identities are validated with clear errors', () => {
    expect(() => parseTrustStore('empty', 'hello')).toThrow(DrydockError);
    expect(() => parseTrustStore('empty', 'hello')).toThrow(/trust store "empty" holds no PEM certificate/);
    expect(identityProblem('*')).toBeUndefined();
    expect(identityProblem('x509.subject: C=US, ST=WA, O=acme')).toBeUndefined();
    expect(identityProblem('x509.subject: C=US, ST=WA, O=acme\\, inc., OU=a\\;b, CN=\\ x')).toBeUndefined();
    expect(identityProblem('x509.subject: C=US, O=acme')).toBe('"x509.subject: C=US, O=acme" lacks ST: an x509.subject identity must name at least C, ST and O');
    expect(identityProblem('C=US, ST=WA, O=acme')).toMatch(/is not "\*" nor/);
    expect(identityProblem('acme')).toMatch(/is not "\*" nor/);
  });
});
