/**
 * The tests' own certificate chains (root CA → leaf, optionally an intermediate) made with the
 * openssl CLI (node:crypto cannot issue certificates), and Notary Project JWS envelopes signed
 * with their keys. Nothing here is published data.
 */
import { X509Certificate, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tagged, encode } from 'cborg';
import { run } from '../support/exec.js';

export interface TestChain {
  /** leaf first, as x5c wants it */
  certs: X509Certificate[];
  rootPem: string;
  leafKey: KeyObject;
}

export interface ChainOptions {
  /** 'ec' → P-256 (ES256), 'rsa' → 2048-bit (PS256) */
  keyType?: 'ec' | 'rsa';
  intermediate?: boolean;
  leafSubject?: string;
  rootSubject?: string;
  /** extendedKeyUsage of the leaf (default codeSigning) */
  leafEku?: string;
  /** make the leaf a CA (a rule the chain check must refuse) */
  leafIsCa?: boolean;
}

function keyArgs(type: 'ec' | 'rsa'): string[] {
  return type === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
}

export async function makeChain(opts: ChainOptions = {}): Promise<TestChain> {
  const dir = await mkdtemp(join(tmpdir(), 'drydock-pki-'));
  const type = opts.keyType ?? 'ec';
  const p = (f: string) => join(dir, f);
  try {
    await run('openssl', [
      'req', '-x509', ...keyArgs(type), '-nodes', '-days', '30', '-keyout', p('root.key'), '-out', p('root.pem'),
      '-subj', opts.rootSubject ?? '/C=US/ST=WA/O=Drydock Test/CN=Drydock Test Root',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    let issuer = 'root';
    if (opts.intermediate) {
      await writeFile(p('ca.ext'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n');
      await run('openssl', ['req', ...keyArgs(type), '-nodes', '-keyout', p('int.key'), '-out', p('int.csr'), '-subj', '/C=US/ST=WA/O=Drydock Test/CN=Drydock Test Intermediate']);
      await run('openssl', ['x509', '-req', '-in', p('int.csr'), '-CA', p('root.pem'), '-CAkey', p('root.key'), '-CAcreateserial', '-days', '20', '-out', p('int.pem'), '-extfile', p('ca.ext')]);
      issuer = 'int';
    }
    await writeFile(
      p('leaf.ext'),
      `basicConstraints=critical,CA:${opts.leafIsCa ? 'TRUE' : 'FALSE'}\nkeyUsage=critical,digitalSignature${opts.leafIsCa ? ',keyCertSign' : ''}\nextendedKeyUsage=${opts.leafEku ?? 'codeSigning'}\n`,
    );
    await run('openssl', ['req', ...keyArgs(type), '-nodes', '-keyout', p('leaf.key'), '-out', p('leaf.csr'), '-subj', opts.leafSubject ?? '/C=US/ST=WA/O=Drydock Test/CN=release signer']);
    await run('openssl', ['x509', '-req', '-in', p('leaf.csr'), '-CA', p(`${issuer}.pem`), '-CAkey', p(`${issuer}.key`), '-CAcreateserial', '-days', '10', '-out', p('leaf.pem'), '-extfile', p('leaf.ext')]);
    const read = async (f: string) => new X509Certificate(await readFile(p(f)));
    const certs = [await read('leaf.pem'), ...(opts.intermediate ? [await read('int.pem')] : []), await read('root.pem')];
    return { certs, rootPem: await readFile(p('root.pem'), 'utf8'), leafKey: createPrivateKey(await readFile(p('leaf.key'))) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface JwsOptions {
  /** replaces / adds protected header entries (undefined deletes one) */
  header?: Record<string, unknown>;
  /** the x5c to put in the envelope (default: the whole chain) */
  x5c?: X509Certificate[];
  unprotected?: Record<string, unknown>;
}

/** A Notary Project JWS envelope over `target`, signed with the chain's leaf key. */
export function signNotationJws(chain: TestChain, target: { digest: string; mediaType: string; size: number }, opts: JwsOptions = {}): Buffer {
  const rsa = chain.leafKey.asymmetricKeyType === 'rsa';
  const header: Record<string, unknown> = {
    alg: rsa ? 'PS256' : 'ES256',
    crit: ['io.cncf.notary.signingScheme'],
    cty: 'application/vnd.cncf.notary.payload.v1+json',
    'io.cncf.notary.signingScheme': 'notary.x509',
    'io.cncf.notary.signingTime': new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
  for (const [k, v] of Object.entries(opts.header ?? {})) {
    if (v === undefined) delete header[k];
    else header[k] = v;
  }
  const protectedB64 = Buffer.from(JSON.stringify(header)).toString('base64url');
  const payloadB64 = Buffer.from(JSON.stringify({ targetArtifact: target })).toString('base64url');
  const input = Buffer.from(`${protectedB64}.${payloadB64}`);
  const signature = rsa
    ? sign('sha256', input, { key: chain.leafKey, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 })
    : sign('sha256', input, { key: chain.leafKey, dsaEncoding: 'ieee-p1363' });
  const x5c = (opts.x5c ?? chain.certs).map((c) => c.raw.toString('base64'));
  return Buffer.from(
    JSON.stringify({
      payload: payloadB64,
      protected: protectedB64,
      header: { x5c, 'io.cncf.notary.signingAgent': 'drydock-test', ...opts.unprotected },
      signature: signature.toString('base64url'),
    }),
  );
}

export interface CoseOptions {
  /** protected header entries to set (undefined deletes one); keys are COSE labels or names */
  header?: Array<[number | string, unknown]>;
  unprotected?: Array<[number | string, unknown]>;
  /** untagged COSE_Sign1 (the spec wants tag 18) */
  untagged?: boolean;
}

/** A Notary Project COSE_Sign1 envelope over `target`, signed with the chain's leaf key (encoded with cborg). */
export function signNotationCose(chain: TestChain, target: { digest: string; mediaType: string; size: number }, opts: CoseOptions = {}): Buffer {
  const rsa = chain.leafKey.asymmetricKeyType === 'rsa';
  const header = new Map<number | string, unknown>([
    [1, rsa ? -37 : -7],
    [2, ['io.cncf.notary.signingScheme']],
    [3, 'application/vnd.cncf.notary.payload.v1+json'],
    ['io.cncf.notary.signingScheme', 'notary.x509'],
    ['io.cncf.notary.signingTime', new Tagged(1, Math.floor(Date.now() / 1000))],
  ]);
  for (const [k, v] of opts.header ?? []) {
    if (v === undefined) header.delete(k);
    else header.set(k, v);
  }
  const protectedBytes = encode(header);
  const payload = Buffer.from(JSON.stringify({ targetArtifact: target }));
  const input = encode(['Signature1', protectedBytes, new Uint8Array(0), payload]);
  const signature = rsa
    ? sign('sha256', input, { key: chain.leafKey, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 })
    : sign('sha256', input, { key: chain.leafKey, dsaEncoding: 'ieee-p1363' });
  const unprotected = new Map<number | string, unknown>([
    [33, chain.certs.map((c) => new Uint8Array(c.raw))],
    ['io.cncf.notary.signingAgent', 'drydock-test'],
    ...(opts.unprotected ?? []),
  ]);
  const sign1 = [protectedBytes, unprotected, payload, signature];
  return Buffer.from(encode(opts.untagged ? sign1 : new Tagged(18, sign1)));
}
