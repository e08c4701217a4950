import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrydockError } from '../../shared/errors.js';
import { MAX_TRUST_POLICY_BYTES, loadTrustPolicy, parseTrustPolicy, policyFor } from '../../shared/trust/policy.js';
import { verifyCosignKeyless } from '../../shared/trust/keyless.js';
import { TRUST_FIXTURES, fixture, fixtureText, testKey } from './helpers.js';

const KEY_PEM = fixtureText('cosign/busybox.cosign.pub');
const noFiles = () => Promise.reject(new Error('no such file'));
const parse = (text: string) => parseTrustPolicy(text, 'policy.yaml', noFiles);

async function configError(text: string): Promise<string> {
  try {
    await parse(text);
  } catch (e) {
    expect(e).toBeInstanceOf(DrydockError);
    expect((e as DrydockError).code).toBe('CONFIG');
    return (e as DrydockError).message;
  }
  throw new Error('expected a CONFIG error');
}

describe('trust policy files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'drydock-trust-policy-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads YAML with keys and certificates given by path relative to the file', async () => {
    await mkdir(join(dir, 'keys'));
    await writeFile(join(dir, 'keys/release.pub'), KEY_PEM);
    const ed = testKey('ed25519');
    await writeFile(
      join(dir, 'trust.yaml'),
      [
        'version: 1',
        'policies:',
        '  - name: prod',
        '    scopes: ["123456789012.dkr.ecr.eu-west-1.amazonaws.com/prod/*"]',
        '    cosign:',
        '      keys:',
        '        - { name: release, path: keys/release.pub }',
        '        - name: ci',
        '          pem: |',
        ...ed.publicPem.trim().split('\n').map((l) => `            ${l}`),
        '  - name: everything-else',
        '    scopes: ["*"]',
        '    cosign: { keys: [{ name: release, path: keys/release.pub }] }',
        '',
      ].join('\n'),
    );
    const p = await loadTrustPolicy(join(dir, 'trust.yaml'));
    expect(p.policies.map((e) => e.name)).toEqual(['prod', 'everything-else']);
    expect(p.policies[0]!.cosignKeys.map((k) => [k.name, k.kind])).toEqual([['release', 'ecdsa-p256'], ['ci', 'ed25519']]);
    expect(policyFor(p, '123456789012.dkr.ecr.eu-west-1.amazonaws.com', 'prod/api')?.name).toBe('prod');
    // "*" in a scope is one path segment; the catch-all "*" scope matches everything
    expect(policyFor(p, '123456789012.dkr.ecr.eu-west-1.amazonaws.com', 'prod/api/v2')?.name).toBe('everything-else');
    expect(policyFor(p, 'docker.io', 'library/nginx')?.name).toBe('everything-else');
  });

  it('a missing key file is named with its entry', async () => {
    await writeFile(join(dir, 'missing.yaml'), 'version: 1\npolicies:\n  - name: a\n    scopes: ["*"]\n    cosign: { keys: [{ name: k, path: nope.pub }] }\n');
    await expect(loadTrustPolicy(join(dir, 'missing.yaml'))).rejects.toThrow(/policies\[0\]\.cosign\.keys\[0\]\.path: cannot read .*nope\.pub/);
  });

  it('a file larger than the bound is refused unread', async () => {
    await writeFile(join(dir, 'big.yaml'), Buffer.alloc(MAX_TRUST_POLICY_BYTES + 1, 0x20));
    await expect(loadTrustPolicy(join(dir, 'big.yaml'))).rejects.toThrow(/limit MAX_TRUST_POLICY_BYTES/);
  });

  it('no scope matches: no policy', async () => {
    const p = await parse(JSON.stringify({ version: 1, policies: [{ name: 'a', scopes: ['registry.example/team/*'], cosign: { keys: [{ name: 'k', pem: KEY_PEM }] } }] }));
    expect(policyFor(p, 'registry.example', 'other/app')).toBeUndefined();
    expect(policyFor(p, 'REGISTRY.example', 'team/app')?.name).toBe('a');
  });

  it.each([
    ['not YAML', 'version: [1', /not YAML\/JSON/],
    ['a list', '- 1', /expected a mapping/],
    ['wrong version', 'version: 2\npolicies: []', /version: must be 1, got 2/],
    ['no policies', 'version: 1\npolicies: []', /policies: must be a non-empty list/],
    ['unknown top-level field', 'version: 1\npolicy: []', /unknown field\(s\) "policy"/],
    ['no name', 'version: 1\npolicies: [{ scopes: ["*"], cosign: { keys: [] } }]', /policies\[0\]\.name: required/],
    ['no scopes', 'version: 1\npolicies: [{ name: a, cosign: { keys: [] } }]', /policies\[0\]\.scopes: must be a non-empty list of strings/],
    ['a scope without repository', 'version: 1\npolicies: [{ name: a, scopes: ["registry.example"], cosign: { keys: [] } }]', /scopes\[0\]: "registry.example" is not "\*" nor/],
    ['no identity at all', 'version: 1\npolicies: [{ name: a, scopes: ["*"] }]', /names no identity/],
    ['empty key list', 'version: 1\npolicies: [{ name: a, scopes: ["*"], cosign: { keys: [] } }]', /cosign\.keys: must be a non-empty list/],
    ['both pem and path', 'version: 1\npolicies: [{ name: a, scopes: ["*"], cosign: { keys: [{ name: k, pem: x, path: y }] } }]', /keys\[0\]: give exactly one of "pem"/],
    ['a key that is not PEM', 'version: 1\npolicies: [{ name: a, scopes: ["*"], cosign: { keys: [{ name: k, pem: hello }] } }]', /keys\[0\]: cosign key "k" is not a PEM public key/],
    ['a trust store without certificates', 'version: 1\npolicies: [{ name: a, scopes: ["*"], notation: { trustStores: [{ name: s, pem: x }], identities: ["*"] } }]', /trustStores\[0\]: trust store "s" holds no PEM certificate/],
    ['duplicate names', JSON.stringify({ version: 1, policies: [{ name: 'a', scopes: ['*'], cosign: { keys: [{ name: 'k', pem: KEY_PEM }] } }, { name: 'a', scopes: ['*'] }] }), /policies\[1\]\.name: "a" is used twice/],
  ])('%s: a CONFIG error naming the file and entry', async (_name, text, message) => {
    const m = await configError(text);
    expect(m).toMatch(/^trust policy policy\.yaml: /);
    expect(m).toMatch(message);
  });

  it('cosign keyless: Fulcio roots and Rekor keys by path; the parsed trust verifies the published sample', async () => {
    const text = [
      'version: 1',
      'policies:',
      '  - name: keyless',
      '    scopes: ["*"]',
      '    cosign:',
      '      keyless:',
      '        - name: sigstore-2021',
      '          fulcioRoots: [{ name: fulcio, path: cosign-keyless/fulcio-root.pem }]',
      '          rekorKeys: [{ name: rekor, path: cosign-keyless/rekor.pub }]',
      '          identities: [{ subject: flavio@castelli.me }]',
    ].join('\n');
    const p = await parseTrustPolicy(text, 'keyless.yaml', (rel) => readFile(join(TRUST_FIXTURES, rel), 'utf8'));
    const entry = p.policies[0]!;
    expect([entry.cosignKeys.length, entry.cosignKeyless.length]).toEqual([0, 1]);
    const v = verifyCosignKeyless(
      {
        payload: fixture('cosign-keyless/payload.json'),
        signature: fixtureText('cosign-keyless/signature.b64'),
        certificate: fixtureText('cosign-keyless/certificate.pem'),
        bundle: fixtureText('cosign-keyless/bundle.json'),
        subjectDigest: 'sha256:5f481572d088dc4023afb35fced9530ced3d9b03bf7299c6f492163cb9f0452e',
      },
      entry.cosignKeyless,
    );
    expect(v.status).toBe('valid');
  });

  it.each([
    ['cosign without keys or keyless', { cosign: {} }, /cosign: give "keys" and\/or "keyless"/],
    ['a keyless Fulcio root that is not PEM', { cosign: { keyless: [{ name: 'k', fulcioRoots: [{ name: 'f', pem: 'x' }], rekorKeys: [], identities: [] }] } }, /keyless\[0\]\.fulcioRoots\[0\]: "f" holds no PEM certificate/],
  ])('keyless errors: %s', async (_name, extra, message) => {
    const m = await configError(JSON.stringify({ version: 1, policies: [{ name: 'a', scopes: ['*'], ...extra }] }));
    expect(m).toMatch(message);
  });

  it('a notation identity that is neither "*" nor a DN is refused with its index', async () => {
    const root = fixtureText('notation/jws_signature.sig'); // any certificate will do: take the alpine leaf
    const der = (JSON.parse(root) as { header: { x5c: string[] } }).header.x5c[0]!;
    const pem = `-----BEGIN CERTIFICATE-----\n${der.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
    const m = await configError(JSON.stringify({ version: 1, policies: [{ name: 'a', scopes: ['*'], notation: { trustStores: [{ name: 's', pem }], identities: ['*', 'acme'] } }] }));
    expect(m).toContain('policies[0].notation.identities[1]: "acme" is not "*" nor');
  });
});
