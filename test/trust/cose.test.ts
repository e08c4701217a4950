/**
 * Notary Project COSE envelopes. No published COSE sample is readable through the look-up tools
 * (notation-go's cose_signature.sig is binary), so every envelope here is made by the test, with
 * its own openssl CA and cborg, following signature-envelope-cose.md.
 */
import { Tagged, encode } from 'cborg';
import { beforeAll, describe, expect, it } from 'vitest';
import { coseSigStructure, verifyNotationCose } from '../../shared/trust/cose.js';
import { MAX_NOTATION_ENVELOPE_BYTES, parseTrustStore, type NotationTrust } from '../../shared/trust/notation.js';
import { makeChain, signNotationCose, type TestChain } from './pki.js';

describe('Notary Project COSE_Sign1 (the test\'s own CA)', () => {
  let ec: TestChain;
  let rsa: TestChain;
  let other: TestChain;
  const target = { digest: `sha256:${'c'.repeat(64)}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 99 };
  const trustOf = (c: TestChain, identities = ['*']): NotationTrust => ({ roots: parseTrustStore('test-root', c.rootPem), identities });
  const past = new Tagged(1, Math.floor(Date.parse('2020-01-01T00:00:00Z') / 1000));
  const future = new Tagged(1, Math.floor(Date.parse('2099-01-01T00:00:00Z') / 1000));

  beforeAll(async () => {
    [ec, rsa, other] = await Promise.all([makeChain(), makeChain({ keyType: 'rsa', intermediate: true }), makeChain()]);
  });

  it('ES256 and PS256 (with an intermediate) verify, with the signing time read from tag 1', () => {
    const v = verifyNotationCose(signNotationCose(ec, target), target, trustOf(ec, ['x509.subject: C=US, ST=WA, O=Drydock Test, CN=release signer']));
    expect(v).toMatchObject({ status: 'valid', signer: 'C=US, ST=WA, O=Drydock Test, CN=release signer' });
    expect(v.signingTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(verifyNotationCose(signNotationCose(rsa, target), target, trustOf(rsa)).status).toBe('valid');
  });

  it('one payload byte changed: bad signature', () => {
    const env = signNotationCose(ec, target);
    const at = env.indexOf(Buffer.from(target.digest));
    env.writeUInt8(env.readUInt8(at + 10) === 0x63 ? 0x64 : 0x63, at + 10);
    const v = verifyNotationCose(env, target, trustOf(ec));
    expect(v.code).toBe('bad_signature');
    expect(v.reason).toContain('the COSE envelope was altered');
  });

  it('a chain to another root: untrusted; another image: digest mismatch', () => {
    expect(verifyNotationCose(signNotationCose(ec, target), target, trustOf(other)).code).toBe('untrusted_signer');
    expect(verifyNotationCose(signNotationCose(ec, target), { digest: `sha256:${'d'.repeat(64)}` }, trustOf(ec)).code).toBe('digest_mismatch');
  });

  it('expiry: past fails, future passes; certificates checked at verification time', () => {
    const crit: [number, unknown] = [2, ['io.cncf.notary.signingScheme', 'io.cncf.notary.expiry']];
    const expired = signNotationCose(ec, target, { header: [crit, ['io.cncf.notary.expiry', past]] });
    expect(verifyNotationCose(expired, target, trustOf(ec))).toMatchObject({ code: 'signature_expired', reason: 'the signature expired at 2020-01-01T00:00:00Z' });
    const fine = signNotationCose(ec, target, { header: [crit, ['io.cncf.notary.expiry', future]] });
    expect(verifyNotationCose(fine, target, trustOf(ec)).status).toBe('valid');
    const later = new Date(Date.parse(ec.certs[0]!.validTo) + 1000);
    expect(verifyNotationCose(signNotationCose(ec, target), target, trustOf(ec), later).code).toBe('certificate_expired');
  });

  it.each([
    ['expiry not critical', [['io.cncf.notary.expiry', future]], 'malformed', /io.cncf.notary.expiry must be listed in crit/],
    ['no crit', [[2, undefined]], 'malformed', /crit is missing/],
    ['an unknown critical label', [[2, ['io.cncf.notary.signingScheme', 99]], [99, 1]], 'unsupported', /does not understand/],
    ['another content type', [[3, 'application/json']], 'malformed', /content type is "application\/json"/],
    ['a signing time that is not tag 1', [['io.cncf.notary.signingTime', '2024-01-01T00:00:00Z']], 'malformed', /must be a CBOR tag-1 time/],
    ['alg EdDSA (-8)', [[1, -8]], 'unsupported', /COSE alg -8/],
    ['alg not matching the key', [[1, -37]], 'certificate_invalid', /needs an RSA 2048-bit leaf key/],
  ] as Array<[string, Array<[number | string, unknown]>, string, RegExp]>)('protected header rule: %s', (_name, header, code, reason) => {
    const v = verifyNotationCose(signNotationCose(ec, target, { header }), target, trustOf(ec));
    expect(v.code).toBe(code);
    expect(v.reason).toMatch(reason);
  });

  it('an untagged COSE_Sign1, other CBOR, and non-CBOR are malformed, never a crash', () => {
    expect(verifyNotationCose(signNotationCose(ec, target, { untagged: true }), target, trustOf(ec)).reason).toContain('not a tagged COSE_Sign1');
    expect(verifyNotationCose(Buffer.from(encode(new Tagged(18, [1, 2]))), target, trustOf(ec)).reason).toContain('array of 4');
    expect(verifyNotationCose(Buffer.from('{"json": true}'), target, trustOf(ec)).reason).toMatch(/not CBOR|not a tagged COSE_Sign1/);
    expect(verifyNotationCose(Buffer.from(encode(new Tagged(99, 1))), target, trustOf(ec)).code).toBe('malformed');
  });

  it('unprotected entries outside the spec are refused; so is an oversized envelope', () => {
    expect(verifyNotationCose(signNotationCose(ec, target, { unprotected: [[4, new Uint8Array([1])]] }), target, trustOf(ec)).reason).toContain('not allowed by the spec: 4');
    expect(verifyNotationCose(Buffer.alloc(MAX_NOTATION_ENVELOPE_BYTES + 1), target, trustOf(ec)).reason).toMatch(/limit MAX_NOTATION_ENVELOPE_BYTES/);
  });

  it('the Sig_structure is RFC 9052\'s: ["Signature1", protected, h\'\', payload]', () => {
    // 0x84 array(4), 0x6a text(10) "Signature1", 0x41 bstr(1) a0, 0x40 bstr(0), 0x42 bstr(2) "{}"
    expect(coseSigStructure(new Uint8Array([0xa0]), Buffer.from('{}')).toString('hex')).toBe('846a5369676e61747572653141a040427b7d');
  });
});
