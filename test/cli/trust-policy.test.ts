/**
 * `drydock scan --trust-policy` through the built binary (bin/drydock.cjs → dist/cli), against
 * the local Distribution registry: a cosign signature made by the test's own P-256 key on the
 * `.sig` tag verifies; an unsigned image says so; a bundle with image_signature rules decides the
 * exit code (STOP on unsigned → 1, signed → 0); a trust policy with a local image is a usage
 * error (signatures live in a registry). The keys are made here, not published data.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBuiltCli, type CliRun } from '../support/cli.js';
import { buildImage, pushToRegistry } from '../support/image-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { cosignPayload, cosignSign, testKey } from '../trust/helpers.js';
import { pushCosignSigTag } from '../trust/push.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';


let registry: TestRegistry;
let work: string;
let trustFile: string;
let bundleFile: string;
let layout: string;

function drydock(args: string[]): Promise<CliRun> {
  return runBuiltCli(args, { cwd: work, env: { PATH: process.env.PATH ?? '', HOME: work, DRYDOCK_CACHE_DIR: join(work, 'cache') } });
}

async function push(repo: string, tag: string, content: string): Promise<string> {
  const dir = join(work, repo.replace('/', '_'));
  await buildImage(dir, {
    tag,
    layers: [{ files: [{ path: 'etc/os-release', content: OS_RELEASE_12 }, { path: 'var/lib/dpkg/status', content: statusFile(stanza('base-files', '12.4')) }, { path: 'etc/app', content }] }],
  });
  layout = dir;
  return (await pushToRegistry(dir, tag, { host: registry.host }, `${repo}:${tag}`)).digest;
}

beforeAll(async () => {
  if (!existsSync(fileURLToPath(new URL('../../dist/cli/drydock.mjs', import.meta.url)))) throw new Error('dist/cli/drydock.mjs is missing: run `npm run bundle` first');
  work = await mkdtemp(join(tmpdir(), 'drydock-trust-cli-'));
  registry = await startRegistry();
  const key = testKey('p256');
  const signed = await push('team/signed', 'v1', 'signed');
  await push('team/unsigned', 'v1', 'unsigned');
  const payload = cosignPayload(signed, `${registry.host}/team/signed`);
  await pushCosignSigTag(registry.url, 'team/signed', signed, [{ payload, signature: cosignSign(key, payload) }]);
  trustFile = join(work, 'trust.json');
  await writeFile(trustFile, JSON.stringify({ version: 1, policies: [{ name: 'production', scopes: [`${registry.host}/team/*`], cosign: { keys: [{ name: 'release', pem: key.publicPem }] } }] }));
  bundleFile = join(work, 'bundle.json');
  await writeFile(
    bundleFile,
    JSON.stringify({
      id: 'signed-only',
      version: '2',
      policies: [{ id: 'p', rules: [{ id: 'r1', gate: 'image_signature', trigger: 'unsigned', action: 'STOP', params: [] }, { id: 'r2', gate: 'image_signature', trigger: 'invalid_signature', action: 'STOP', params: [] }] }],
      allowlists: [],
      mappings: [{ name: 'all', registry: '*', repository: '*', image: { type: 'tag', value: '*' }, policy_ids: ['p'], allowlist_ids: [] }],
    }),
  );
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('drydock scan --trust-policy', () => {
  it('a cosign-signed image: "Signature: signed by release" in the table and the JSON', async () => {
    const r = await drydock(['scan', `${registry.host}/team/signed:v1`, '--trust-policy', trustFile]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^Signature: signed by release.*\(cosign\) \[policy production\]$/m);
    const j = await drydock(['scan', `${registry.host}/team/signed:v1`, '--trust-policy', trustFile, '-o', 'json']);
    expect((JSON.parse(j.out) as { results: Array<{ signatures?: { status: string; signers: string[] } }> }).results[0]!.signatures).toMatchObject({ status: 'signed' });
  }, 60_000);

  it('an unsigned image says UNSIGNED; with an image_signature bundle it fails (exit 1), the signed one passes', async () => {
    const r = await drydock(['scan', `${registry.host}/team/unsigned:v1`, '--trust-policy', trustFile]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^Signature: UNSIGNED/m);
    expect((await drydock(['scan', `${registry.host}/team/unsigned:v1`, '--trust-policy', trustFile, '--policy', bundleFile])).code).toBe(1);
    expect((await drydock(['scan', `${registry.host}/team/signed:v1`, '--trust-policy', trustFile, '--policy', bundleFile])).code).toBe(0);
  }, 60_000);

  it('without --trust-policy the image_signature gate fails closed (signatures not checked)', async () => {
    const r = await drydock(['scan', `${registry.host}/team/signed:v1`, '--policy', bundleFile]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/not_checked/);
  }, 60_000);

  it('a local image with --trust-policy is a usage error (exit 64), not a silent pass', async () => {
    const r = await drydock(['scan', `oci:${layout}:v1`, '--trust-policy', trustFile]);
    expect(r.code).toBe(64);
    expect(r.err).toMatch(/--trust-policy: .*not a registry/);
  }, 60_000);
});
