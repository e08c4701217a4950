/** Property tests: hostile bytes never crash a verifier, and no altered signed byte verifies. */
import { X509Certificate, createHash, createPublicKey } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCosignPublicKey, verifyCosign } from '../../shared/trust/cosign.js';
import { verifyNotationCose } from '../../shared/trust/cose.js';
import { verifyCosignKeyless } from '../../shared/trust/keyless.js';
import { parseTrustStore, verifyNotationJws, type NotationTrust } from '../../shared/trust/notation.js';
import { fixture, fixtureText } from './helpers.js';
import { makeChain, signNotationCose, type TestChain } from './pki.js';

const PAYLOAD = fixture('cosign/busybox.payload.json');
const SIGNATURE = fixtureText('cosign/busybox.signature.b64');
const SUBJECT = 'sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b';
const KEY = parseCosignPublicKey('k', fixtureText('cosign/busybox.cosign.pub'));
const JWS = fixture('notation/jws_signature.sig');
const JWS_SUBJECT = { digest: `sha256:${createHash('sha256').update(fixture('notation/subject-manifest-19dbd2e4.json')).digest('hex')}` };
const NOW = new Date('2026-12-07T00:00:00Z');

describe('hostile input', () => {
  let chain: TestChain;
  let trust: NotationTrust;
  let jwsTrust: NotationTrust;
  beforeAll(async () => {
    chain = await makeChain();
    trust = { roots: parseTrustStore('root', chain.rootPem), identities: ['*'] };
    const leaf = (JSON.parse(JWS.toString()) as { header: { x5c: string[] } }).header.x5c[0]!;
    jwsTrust = { roots: parseTrustStore('alpine', `-----BEGIN CERTIFICATE-----\n${leaf}\n-----END CERTIFICATE-----\n`), identities: ['*'] };
  });

  it('random bytes: every verifier answers invalid, never throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        const b = Buffer.from(bytes);
        expect(verifyNotationJws(b, JWS_SUBJECT, jwsTrust, NOW).status).toBe('invalid');
        expect(verifyNotationCose(b, JWS_SUBJECT, trust, NOW).status).toBe('invalid');
        expect(verifyCosign({ payload: b, signature: SIGNATURE, subjectDigest: SUBJECT }, [KEY]).status).toBe('invalid');
      }),
      { numRuns: 300 },
    );
  });

  it('keyless: any byte of the published certificate or bundle changed: never throws, never valid', () => {
    const cert = fixtureText('cosign-keyless/certificate.pem');
    const bundle = fixtureText('cosign-keyless/bundle.json');
    const trust = [{ name: 't', roots: [new X509Certificate(fixture('cosign-keyless/fulcio-root.pem'))], rekorKeys: [createPublicKey(fixtureText('cosign-keyless/rekor.pub'))], identities: [{ subject: 'flavio@castelli.me' }] }];
    const base = { payload: fixture('cosign-keyless/payload.json'), signature: fixtureText('cosign-keyless/signature.b64'), subjectDigest: 'sha256:5f481572d088dc4023afb35fced9530ced3d9b03bf7299c6f492163cb9f0452e' };
    expect(verifyCosignKeyless({ ...base, certificate: cert, bundle }, trust).status).toBe('valid');
    fc.assert(
      fc.property(fc.boolean(), fc.nat({ max: 4000 }), fc.integer({ min: 1, max: 127 }), (inCert, n, xor) => {
        const text = inCert ? cert : bundle;
        const at = n % text.length;
        const changed = text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ xor) + text.slice(at + 1);
        const v = verifyCosignKeyless({ ...base, certificate: inCert ? changed : cert, bundle: inCert ? bundle : changed }, trust);
        // valid only when the change left what is verified intact (e.g. base64 padding bits, JSON spacing)
        if (v.status !== 'valid') return;
        if (inCert) {
          expect(new X509Certificate(changed).raw.equals(new X509Certificate(cert).raw)).toBe(true);
        } else {
          type B = { SignedEntryTimestamp: string; Payload: unknown };
          const [x, y] = [JSON.parse(changed) as B, JSON.parse(bundle) as B];
          expect(Buffer.from(x.SignedEntryTimestamp, 'base64').equals(Buffer.from(y.SignedEntryTimestamp, 'base64'))).toBe(true);
          expect(JSON.stringify(x.Payload)).toBe(JSON.stringify(y.Payload));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('any byte of the published cosign payload changed: never valid', () => {
    fc.assert(
      fc.property(fc.nat({ max: PAYLOAD.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const p = Buffer.from(PAYLOAD);
        p.writeUInt8(p.readUInt8(at) ^ xor, at);
        expect(verifyCosign({ payload: p, signature: SIGNATURE, subjectDigest: SUBJECT }, [KEY]).status).toBe('invalid');
      }),
      { numRuns: 300 },
    );
  });

  it('any byte of the published JWS envelope changed: never throws; valid only if the byte is outside what is signed', () => {
    const signed = (env: Buffer) => {
      const doc = JSON.parse(env.toString()) as { payload: string; protected: string; signature: string; header: { x5c: string[] } };
      return `${doc.protected}.${doc.payload}.${doc.signature}.${doc.header.x5c.join()}`;
    };
    const original = signed(JWS);
    fc.assert(
      fc.property(fc.nat({ max: JWS.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const e = Buffer.from(JWS);
        e.writeUInt8(e.readUInt8(at) ^ xor, at);
        const v = verifyNotationJws(e, JWS_SUBJECT, jwsTrust, NOW);
        if (v.status === 'valid') expect(signed(e)).toBe(original);
      }),
      { numRuns: 300 },
    );
  });

  it("the x5c certificate's padding '=' turned into a data character (the DER gains a trailing byte): refused, not valid", () => {
    // fast-check's counterexample [1669, 8] (seed 820685069): OpenSSL reads the certificate and ignores the byte after it
    const e = Buffer.from(JWS);
    const at = e.lastIndexOf('=');
    expect(at).toBeGreaterThan(0);
    e.writeUInt8(e.readUInt8(at) ^ 8, at);
    const v = verifyNotationJws(e, JWS_SUBJECT, jwsTrust, NOW);
    expect(v.status).not.toBe('valid');
    expect(JSON.stringify(v)).toContain('bytes after its certificate');
  });

  it('any byte of a COSE envelope changed: never throws', () => {
    const env = signNotationCose(chain, { digest: JWS_SUBJECT.digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 481 });
    fc.assert(
      fc.property(fc.nat({ max: env.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const e = Buffer.from(env);
        e.writeUInt8(e.readUInt8(at) ^ xor, at);
        expect(['valid', 'invalid']).toContain(verifyNotationCose(e, JWS_SUBJECT, trust, NOW).status);
      }),
      { numRuns: 300 },
    );
  });
});
