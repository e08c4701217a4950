import { X509Certificate, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyCosignKeyless, type KeylessInput, type KeylessTrust } from '../../shared/trust/keyless.js';
import { fixture, fixtureText } from './helpers.js';
import { makeChain } from './pki.js';

// Real data: sigstore-rs's keyless (Fulcio certificate + Rekor bundle) signature of a kubewarden
// policy, with the Fulcio root and Rekor key of the same tests (test/fixtures/trust/SOURCES.md).
const DIR = 'cosign-keyless/';
const SUBJECT = 'sha256:5f481572d088dc4023afb35fced9530ced3d9b03bf7299c6f492163cb9f0452e';
const input = (over: Partial<KeylessInput> = {}): KeylessInput => ({
  payload: fixture(`${DIR}payload.json`),
  signature: fixtureText(`${DIR}signature.b64`),
  certificate: fixtureText(`${DIR}certificate.pem`),
  bundle: fixtureText(`${DIR}bundle.json`),
  subjectDigest: SUBJECT,
  ...over,
});
const TRUST: KeylessTrust = {
  name: 'sigstore-2021',
  roots: [new X509Certificate(fixture(`${DIR}fulcio-root.pem`))],
  rekorKeys: [createPublicKey(fixtureText(`${DIR}rekor.pub`))],
  identities: [{ subject: 'flavio@castelli.me' }],
};
type Bundle = { SignedEntryTimestamp: string; Payload: { body: string; integratedTime: number; logIndex: number; logID: string } };
const bundle = () => JSON.parse(fixtureText(`${DIR}bundle.json`)) as Bundle;

describe('cosign keyless, offline: the published sigstore-rs sample', () => {
  it('verifies: Fulcio chain, Rekor SignedEntryTimestamp, entry matches, time inside the certificate, identity', () => {
    const v = verifyCosignKeyless(input(), [TRUST]);
    expect(v).toMatchObject({ status: 'valid', signer: 'flavio@castelli.me (keyless)', signingTime: '2021-10-20T07:25:17.000Z' });
  });

  it('another identity: untrusted signer; an issuer the certificate does not record: untrusted', () => {
    expect(verifyCosignKeyless(input(), [{ ...TRUST, identities: [{ subject: 'someone@example.com' }] }]).code).toBe('untrusted_signer');
    expect(verifyCosignKeyless(input(), [{ ...TRUST, identities: [{ subject: 'flavio@castelli.me', issuer: 'https://github.com/login/oauth' }] }]).code).toBe('untrusted_signer');
  });

  it('one payload byte changed: bad signature', () => {
    const p = Buffer.from(fixture(`${DIR}payload.json`));
    p.writeUInt8(p.readUInt8(20) ^ 1, 20);
    expect(verifyCosignKeyless(input({ payload: p }), [TRUST]).code).toBe('bad_signature');
  });

  it('the bundle altered (integratedTime moved): its SignedEntryTimestamp fails', () => {
    const b = bundle();
    b.Payload.integratedTime += 60;
    const v = verifyCosignKeyless(input({ bundle: JSON.stringify(b) }), [TRUST]);
    expect(v.code).toBe('bad_signature');
    expect(v.reason).toContain('SignedEntryTimestamp does not verify');
  });

  it('no bundle: no trusted signing time offline', () => {
    expect(verifyCosignKeyless(input({ bundle: undefined }), [TRUST]).code).toBe('unsupported');
  });

  it('a Fulcio root of another CA: untrusted signer; a Rekor key of another log: untrusted', async () => {
    const other = await makeChain();
    expect(verifyCosignKeyless(input(), [{ ...TRUST, roots: [other.certs[other.certs.length - 1]!] }]).reason).toContain('does not chain to a Fulcio root');
    const key = other.leafKey;
    const otherRekor = createPublicKey(key);
    expect(verifyCosignKeyless(input(), [{ ...TRUST, rekorKeys: [otherRekor] }]).reason).toContain('not a Rekor key of "sigstore-2021"');
  });

  it('another image: digest mismatch, signer named', () => {
    const v = verifyCosignKeyless(input({ subjectDigest: `sha256:${'0'.repeat(64)}` }), [TRUST]);
    expect(v).toMatchObject({ code: 'digest_mismatch', signer: 'flavio@castelli.me (keyless)' });
  });

  it('no keyless trust in the policy: untrusted; a broken certificate: malformed', () => {
    expect(verifyCosignKeyless(input(), []).code).toBe('untrusted_signer');
    expect(verifyCosignKeyless(input({ certificate: 'nope' }), [TRUST]).code).toBe('malformed');
  });
});
