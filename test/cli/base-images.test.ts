/**
 * `drydock scan --base-images` (issue 19, items 3–4) through the built CLI (bin/drydock.cjs →
 * dist/cli) against the real Distribution registry, with the repository's own Debian tracker and
 * npm advisory fixtures:
 *
 * - base/debian:12 v1: one layer, a dpkg status with libssl3 3.0.11-1~deb12u1 (openssl,
 *   CVE-2023-5363 among others) and apt; signed by the test's own cosign key.
 * - team/app:1 = v1's layer + an application layer with lodash 4.17.20 (CVE-2021-23337, high),
 *   carrying org.opencontainers.image.base.name/.digest; team/app:2 the same without annotations.
 * - base/debian:12 v2: libssl3 3.0.11-1~deb12u2 (the fix), then "v2 without the fix" for the
 *   negative control: a newer digest of the tag that clears nothing.
 *
 * Nothing is mocked: the registry, skopeo, the advisories and the CLI bundle are the real ones.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../shared/cli/main.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { DRYDOCK_BIN, ensureBuiltCli } from '../support/hostile-corpus.js';
import { buildImage, ociRef, pushToRegistry, type BuiltImage } from '../support/image-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { cosignPayload, cosignSign, testKey } from '../trust/helpers.js';
import { pushCosignSigTag } from '../trust/push.js';

const ADV = join(SHARED_FIXTURES, 'advisories');
const ADVISORIES = ['--advisories', join(ADV, 'debian', 'security-tracker'), '--advisories', join(ADV, 'npm'), '--max-advisory-age', '0'];

let registry: TestRegistry;
let work: string;
let v1: BuiltImage;
let appLayout: string;
let app1: string;
let app2: string;
let trusted: string;
let untrusted: string;

interface Run {
  code: number;
  out: string;
  err: string;
}

/** The built CLI as a user runs it: nothing of this machine's credentials, cache or engines. */
function drydock(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env.PATH ?? '', HOME: work, DRYDOCK_CACHE_DIR: join(work, 'cache'), DOCKER_HOST: `unix://${join(work, 'no-engine.sock')}`, ...opts.env };
    const child = spawn(process.execPath, [DRYDOCK_BIN, ...args], { cwd: opts.cwd ?? work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
  });
}

const debianLayer = (libssl: string, extra: Array<{ path: string; content: string }> = []) => ({
  files: [
    { path: 'etc/os-release', content: OS_RELEASE_12 },
    { path: 'var/lib/dpkg/status', content: statusFile(stanza('libssl3', libssl, { Source: 'openssl' }), stanza('apt', '2.6.1')) },
    ...extra,
  ],
});
const appLayer = { files: [{ path: 'app/node_modules/lodash/package.json', content: JSON.stringify({ name: 'lodash', version: '4.17.20' }) }] };

async function pushBase(name: string, libssl: string, extra: Array<{ path: string; content: string }> = []): Promise<BuiltImage> {
  const dir = join(work, name);
  const img = await buildImage(dir, { tag: '12', layers: [debianLayer(libssl, extra)] });
  await pushToRegistry(dir, '12', { host: registry.host }, 'base/debian:12');
  return img;
}

interface Finding {
  id: string;
  package: { name: string };
  layerGroup?: string;
  suppressed?: unknown;
}
interface ImageResult {
  base?: { status: string; source?: string; reference?: string; digest?: string; trusted: boolean; layerCount: number; newest?: { digest: string; tag: string }; signature?: { status: string; signers: string[] } };
  rebuild?: { from: string; to: string; clears: Array<{ id: string; package: string }>; remains: number; summary: string };
  vulnerabilities?: { findings: Finding[] };
  packages?: Array<{ name: string; layerGroup?: string }>;
  policy?: { verdict: string; fired: Array<{ gate: string; trigger: string; triggerId: string; action: string; layerGroup?: string }> };
}
const json = (r: Run): ImageResult => (JSON.parse(r.out) as { results: ImageResult[] }).results[0]!;
const keys = (fs: ReadonlyArray<{ id: string; package: { name: string } | string }>) =>
  [...new Set(fs.map((f) => `${f.id} ${typeof f.package === 'string' ? f.package : f.package.name}`))].sort();

async function bundle(name: string, doc: Record<string, unknown>): Promise<string> {
  const path = join(work, `${name}.json`);
  await writeFile(path, JSON.stringify({ id: name, version: '2', allowlists: [], ...doc }));
  return path;
}
const everything = { registry: '*', repository: '*', image: { type: 'tag', value: '*' } };
/** vulnerabilities/package at or above `severity` ("unknown" is the lowest: every finding) */
const vulnRule = (action: string, severity: string) => ({
  gate: 'vulnerabilities',
  trigger: 'package',
  action,
  params: [{ name: 'package_type', value: 'all' }, { name: 'severity_comparison', value: '>=' }, { name: 'severity', value: severity }],
});

beforeAll(async () => {
  await ensureBuiltCli();
  work = await mkdtemp(join(tmpdir(), 'drydock-base-cli-'));
  registry = await startRegistry();
  v1 = await pushBase('v1', '3.0.11-1~deb12u1');
  const key = testKey('p256');
  const payload = cosignPayload(v1.manifestDigest, `${registry.host}/base/debian`);
  await pushCosignSigTag(registry.url, 'base/debian', v1.manifestDigest, [{ payload, signature: cosignSign(key, payload) }]);
  await writeFile(join(work, 'trust.json'), JSON.stringify({ version: 1, policies: [{ name: 'bases', scopes: [`${registry.host}/**`], cosign: { keys: [{ name: 'base-release', pem: key.publicPem }] } }] }));

  appLayout = join(work, 'app');
  const annotations = { 'org.opencontainers.image.base.name': `${registry.host}/base/debian:12`, 'org.opencontainers.image.base.digest': v1.manifestDigest };
  const a1 = await buildImage(appLayout, { tag: 'app1', layers: [debianLayer('3.0.11-1~deb12u1'), appLayer], annotations });
  await buildImage(appLayout, { tag: 'app2', layers: [debianLayer('3.0.11-1~deb12u1'), appLayer] });
  // the application is built on v1's very layer
  expect(a1.layers[0]!.digest).toBe(v1.layers[0]!.digest);
  app1 = (await pushToRegistry(appLayout, 'app1', { host: registry.host }, 'team/app:1')).reference;
  app2 = (await pushToRegistry(appLayout, 'app2', { host: registry.host }, 'team/app:2')).reference;

  trusted = join(work, 'bases.yaml');
  await writeFile(trusted, `version: 1\nbases:\n  - repository: ${registry.host}/base/debian\n    tags: ["12"]\n`);
  // a list that trusts another repository only (it resolves: base/alpine:3 exists, and leads nothing)
  const alpine = join(work, 'alpine');
  await buildImage(alpine, { tag: '3', layers: [{ files: [{ path: 'etc/alpine-release', content: '3.19.0\n' }] }] });
  await pushToRegistry(alpine, '3', { host: registry.host }, 'base/alpine:3');
  untrusted = join(work, 'other.yaml');
  await writeFile(untrusted, `bases:\n  - repository: ${registry.host}/base/alpine\n    tags: ["3"]\n`);
}, 300_000);

afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('drydock scan --base-images', () => {
  it('identifies the base by its annotations and, without them, by its leading layers; splits the findings', async () => {
    const a = await drydock(['scan', app1, '--base-images', trusted, ...ADVISORIES, '-o', 'json']);
    expect(a.code, a.err).toBe(EXIT.ok);
    const r1 = json(a);
    expect(r1.base).toMatchObject({ status: 'identified', source: 'annotation', digest: v1.manifestDigest, trusted: true, layerCount: 1, reference: `${registry.host}/base/debian:12@${v1.manifestDigest}` });
    expect(r1.base!.newest).toBeUndefined();
    expect(r1.rebuild).toBeUndefined();
    const groups = new Map(r1.vulnerabilities!.findings.map((f) => [`${f.id} ${f.package.name}`, f.layerGroup]));
    expect(groups.get('CVE-2023-5363 libssl3')).toBe('base');
    expect(groups.get('CVE-2021-23337 lodash')).toBe('application');
    expect([...groups.values()].every((g) => g === 'base' || g === 'application')).toBe(true);
    // the packages too
    const pkgs = new Map(r1.packages!.map((p) => [p.name, p.layerGroup]));
    expect(pkgs.get('libssl3')).toBe('base');
    expect(pkgs.get('lodash')).toBe('application');

    const b = await drydock(['scan', app2, '--base-images', trusted, '-o', 'json']);
    expect(b.code, b.err).toBe(EXIT.ok);
    expect(json(b).base).toMatchObject({ status: 'identified', source: 'layers', digest: v1.manifestDigest, layerCount: 1 });

    // a local source (an OCI layout) is identified against the registry's bases alike
    const local = await drydock(['scan', ociRef(appLayout, 'app2'), '--base-images', trusted, '-o', 'json']);
    expect(local.code, local.err).toBe(EXIT.ok);
    expect(json(local).base).toMatchObject({ status: 'identified', source: 'layers', digest: v1.manifestDigest });

    // the table: the Base line, and a GROUP column on the vulnerability rows
    const t = await drydock(['scan', app1, '--base-images', trusted, ...ADVISORIES]);
    expect(t.out).toMatch(new RegExp(`^Base: ${registry.host}/base/debian:12@${v1.manifestDigest} \\(trusted, 1 layer, by its annotations\\)$`, 'm'));
    expect(t.out).toMatch(/^ID\s+ALIASES\s+PACKAGE\s+INSTALLED\s+FIXED-IN\s+SEVERITY\s+GROUP\s+LAYER$/m);
    expect(t.out).toMatch(/^CVE-2023-5363\s.*\sbase\s+#0 /m);
    expect(t.out).toMatch(/^CVE-2021-23337\s.*\sapp\s+#1 /m);
  });

  it('the list is also read from DRYDOCK_BASE_IMAGES and from drydock.yaml (base-images:)', async () => {
    const fromEnv = await drydock(['scan', app2, '-o', 'json'], { env: { DRYDOCK_BASE_IMAGES: trusted } });
    expect(fromEnv.code, fromEnv.err).toBe(EXIT.ok);
    expect(json(fromEnv).base).toMatchObject({ status: 'identified', digest: v1.manifestDigest });
    const project = join(work, 'project');
    await mkdir(project, { recursive: true });
    await writeFile(join(project, 'drydock.yaml'), `base-images: ${trusted}\n`);
    const fromConfig = await drydock(['scan', app2, '-o', 'json'], { cwd: project });
    expect(fromConfig.code, fromConfig.err).toBe(EXIT.ok);
    expect(json(fromConfig).base).toMatchObject({ status: 'identified', digest: v1.manifestDigest });
    const help = await drydock(['scan', '--help']);
    expect(help.out).toMatch(/--base-images <bases\.yaml>/);
  });

  it("verifies the base's own signature with --trust-policy", async () => {
    const r = await drydock(['scan', app1, '--base-images', trusted, '--trust-policy', join(work, 'trust.json'), '-o', 'json']);
    expect(r.code, r.err).toBe(EXIT.ok);
    const sig = json(r).base!.signature!;
    expect(sig.status).toBe('signed');
    expect(sig.signers).toEqual([expect.stringMatching(/^base-release\b/)]);
    // and without the trust policy it was not checked: a bundle's not_signed says so
    const unchecked = await drydock(['scan', app1, '--base-images', trusted, '-o', 'json']);
    expect(json(unchecked).base!.signature).toBeUndefined();
  });

  it('usage errors: an entry without tags, a glob tag (named); a base that cannot be resolved is a warning, never a pass', async () => {
    const noTags = join(work, 'no-tags.yaml');
    await writeFile(noTags, `bases:\n  - repository: ${registry.host}/base/debian\n`);
    const a = await drydock(['scan', app1, '--base-images', noTags]);
    expect(a.code).toBe(EXIT.usage);
    expect(a.err).toContain(`bases[0] (${registry.host}/base/debian): the CLI cannot list a registry's tags`);
    const glob = join(work, 'glob.yaml');
    await writeFile(glob, `bases:\n  - repository: ${registry.host}/base/debian\n    tags: ["12*"]\n`);
    const b = await drydock(['scan', app1, '--base-images', glob]);
    expect(b.code).toBe(EXIT.usage);
    expect(b.err).toMatch(/bases\[0\] .*tag "12\*" is a glob/);
    const missing = join(work, 'missing.yaml');
    await writeFile(missing, `bases:\n  - repository: ${registry.host}/base/nothing\n    tags: ["1"]\n`);
    const gate = await bundle('gate-missing', { policies: [{ id: 'p', rules: [{ gate: 'base_image', trigger: 'not_trusted', action: 'STOP', params: [] }] }], mappings: [{ ...everything, policy_ids: ['p'] }] });
    const c = await drydock(['scan', app2, '--base-images', missing, '--policy', gate, '-o', 'json']);
    expect(c.err).toMatch(new RegExp(`warning: base image ${registry.host}/base/nothing:1 could not be resolved`));
    expect(json(c).base).toMatchObject({ status: 'unknown', trusted: false });
    expect(c.code).toBe(EXIT.fail);
  });

  it('base_image gate: an untrusted base fires not_trusted (exit 1 under STOP); no list fires not_checked', async () => {
    const gate = await bundle('gate', { policies: [{ id: 'p', rules: [{ gate: 'base_image', trigger: 'not_trusted', action: 'STOP', params: [] }] }], mappings: [{ ...everything, policy_ids: ['p'] }] });
    const ok = await drydock(['scan', app1, '--base-images', trusted, '--policy', gate, '-o', 'json']);
    expect(ok.code, ok.err).toBe(EXIT.ok);
    expect(json(ok).policy!.fired).toEqual([]);
    const bad = await drydock(['scan', app1, '--base-images', untrusted, '--policy', gate, '-o', 'json']);
    expect(bad.code).toBe(EXIT.fail);
    expect(bad.err).toMatch(/annotations name .*base\/debian:12, a repository the trusted base list .* does not name: not resolved/);
    expect(json(bad).policy!.fired.map((f) => [f.gate, f.trigger, f.triggerId, f.action])).toEqual([['base_image', 'not_trusted', 'unknown', 'STOP']]);
    const none = await drydock(['scan', app1, '--policy', gate, '-o', 'json']);
    expect(none.code).toBe(EXIT.fail);
    expect(json(none).policy!.fired.map((f) => f.triggerId)).toEqual(['not_checked']);
  });

  describe('after v2 of the base (the fix) is pushed under the same tag', () => {
    let v2: BuiltImage;
    let expected: string[];

    beforeAll(async () => {
      v2 = await pushBase('v2', '3.0.11-1~deb12u2');
      // what v2 clears, from the two bases scanned on their own
      const old = json(await drydock(['scan', `${registry.host}/base/debian@${v1.manifestDigest}`, ...ADVISORIES, '-o', 'json'])).vulnerabilities!.findings;
      const now = new Set(keys(json(await drydock(['scan', `${registry.host}/base/debian@${v2.manifestDigest}`, ...ADVISORIES, '-o', 'json'])).vulnerabilities!.findings));
      expected = keys(old).filter((k) => !now.has(k));
    }, 300_000);

    it('knows the newer digest, scans it, and advises a rebuild clearing exactly what v2 clears', async () => {
      // v2 fixes CVE-2023-5363 (3.0.11-1~deb12u2); CVE-2024-6119 (fixed in 3.0.14) and apt's unfixed CVE-2011-3374 remain
      expect(expected).toEqual(['CVE-2023-5363 libssl3']);
      const r = await drydock(['scan', app1, '--base-images', trusted, ...ADVISORIES, '-o', 'json']);
      expect(r.code, r.err).toBe(EXIT.ok);
      expect(r.err).toContain(`scanning newer base ${registry.host}/base/debian:12@${v2.manifestDigest}`);
      const res = json(r);
      expect(res.base).toMatchObject({ source: 'annotation', digest: v1.manifestDigest, newest: { digest: v2.manifestDigest, tag: '12' } });
      expect(res.rebuild).toMatchObject({ from: v1.manifestDigest, to: v2.manifestDigest, remains: 2 });
      expect(keys(res.rebuild!.clears)).toEqual(expected);
      // the application's own finding is never the base's to clear
      expect(keys(res.rebuild!.clears)).not.toContain('CVE-2021-23337 lodash');

      const t = await drydock(['scan', app1, '--base-images', trusted, ...ADVISORIES]);
      expect(t.out).toMatch(new RegExp(`^Base: .*; newer digest ${v2.manifestDigest} exists \\(tag 12\\)$`, 'm'));
      expect(t.out).toMatch(/^Rebuild: Rebuilding on .* clears \d+ findings? in the base layers; \d+ remains?: .*CVE-2023-5363 \(libssl3 3\.0\.11-1~deb12u1 → 3\.0\.11-1~deb12u2\)/m);
    });

    it('base_image stale fires on the newer digest (WARN: exit 2); not_signed fires not_checked until --trust-policy verifies the base', async () => {
      const gate = await bundle('stale', {
        policies: [{ id: 'p', rules: [{ gate: 'base_image', trigger: 'stale', action: 'WARN', params: [] }, { gate: 'base_image', trigger: 'not_signed', action: 'WARN', params: [] }] }],
        mappings: [{ ...everything, policy_ids: ['p'] }],
      });
      const r = await drydock(['scan', app1, '--base-images', trusted, '--policy', gate, '-o', 'json']);
      expect(r.code, r.err).toBe(EXIT.warn);
      expect(json(r).policy!.fired.map((f) => [f.trigger, f.triggerId])).toEqual([
        ['stale', `${registry.host}/base/debian:12@${v1.manifestDigest}→${v2.manifestDigest}`],
        ['not_signed', 'not_checked'],
      ]);
      const signed = await drydock(['scan', app1, '--base-images', trusted, '--trust-policy', join(work, 'trust.json'), '--policy', gate, '-o', 'json']);
      expect(signed.code, signed.err).toBe(EXIT.warn);
      expect(json(signed).policy!.fired.map((f) => f.trigger)).toEqual(['stale']);
    });

    it('a mapping with base_policy_ids (WARN) and application_policy_ids (STOP) fires per layer group', async () => {
      const split = await bundle('split', {
        policies: [
          { id: 'whole', rules: [] },
          { id: 'base-rules', rules: [vulnRule('WARN', 'unknown')] },
          { id: 'app-rules', rules: [vulnRule('STOP', 'high')] },
        ],
        mappings: [{ ...everything, policy_ids: ['whole'], base_policy_ids: ['base-rules'], application_policy_ids: ['app-rules'] }],
      });
      const r = await drydock(['scan', app1, '--base-images', trusted, ...ADVISORIES, '--policy', split, '-o', 'json']);
      expect(r.code, r.err).toBe(EXIT.fail);
      const res = json(r);
      const fired = res.policy!.fired;
      const app = fired.filter((f) => f.layerGroup === 'application');
      const base = fired.filter((f) => f.layerGroup === 'base');
      expect(app.map((f) => [f.action, f.triggerId.split('+')[0]])).toEqual([['STOP', 'CVE-2021-23337']]);
      expect(base.length).toBeGreaterThan(0);
      expect(base.every((f) => f.action === 'WARN')).toBe(true);
      expect(base.map((f) => f.triggerId.split('+')[0])).toContain('CVE-2023-5363');
      // every base-group rule fired on a base-layer finding
      const baseIds = new Set(res.vulnerabilities!.findings.filter((f) => f.layerGroup === 'base').map((f) => f.id));
      expect(base.every((f) => baseIds.has(f.triggerId.split('+')[0]!))).toBe(true);
      expect(fired.every((f) => f.layerGroup !== undefined)).toBe(true);

      // the policy table shows the group; a stricter application bar alone leaves only the base's WARN (exit 2)
      const t = await drydock(['scan', app1, '--base-images', trusted, ...ADVISORIES, '--policy', split]);
      expect(t.out).toMatch(/^GATE\s+TRIGGER\s+TRIGGER-ID\s+ACTION\s+GROUP\s+DETAIL$/m);
      expect(t.out).toMatch(/^vulnerabilities\s+package\s+CVE-2021-23337\S*\s+STOP\s+app\s/m);
      const lenient = await bundle('lenient', {
        policies: [{ id: 'whole', rules: [] }, { id: 'base-rules', rules: [vulnRule('WARN', 'unknown')] }, { id: 'app-rules', rules: [vulnRule('STOP', 'critical')] }],
        mappings: [{ ...everything, policy_ids: ['whole'], base_policy_ids: ['base-rules'], application_policy_ids: ['app-rules'] }],
      });
      const w = await drydock(['scan', app1, '--base-images', trusted, ...ADVISORIES, '--policy', lenient, '-o', 'json']);
      expect(w.code, w.err).toBe(EXIT.warn);
      expect(json(w).policy!.fired.every((f) => f.layerGroup === 'base' && f.action === 'WARN')).toBe(true);
    });

    it('SARIF and HTML carry the base, the advice and each finding\'s group', async () => {
      const sarifPath = join(work, 'out.sarif');
      const htmlPath = join(work, 'out.html');
      const r = await drydock(['scan', app1, '--base-images', trusted, ...ADVISORIES, '-o', `sarif=${sarifPath}`, '-o', `html=${htmlPath}`]);
      expect(r.code, r.err).toBe(EXIT.ok);
      const sarif = JSON.parse(await readFile(sarifPath, 'utf8')) as { runs: Array<{ results: Array<{ ruleId: string; properties: { layerGroup?: string; packageName: string } }>; properties: { images: Array<{ base?: { digest: string }; rebuild?: { to: string } }> } }> };
      const run = sarif.runs[0]!;
      expect(run.properties.images[0]).toMatchObject({ base: { digest: v1.manifestDigest }, rebuild: { to: v2.manifestDigest } });
      expect(run.results.find((x) => x.ruleId === 'CVE-2021-23337')!.properties.layerGroup).toBe('application');
      expect(run.results.find((x) => x.ruleId === 'CVE-2023-5363')!.properties.layerGroup).toBe('base');
      const html = await readFile(htmlPath, 'utf8');
      expect(html).toContain('<dt>Base image</dt>');
      expect(html).toMatch(/<dt>Rebuild<\/dt><dd>Rebuilding on .*CVE-2023-5363/);
    });

    it('an image without annotations whose base is no longer the tag\'s digest is unknown (the CLI knows only current digests)', async () => {
      const r = await drydock(['scan', app2, '--base-images', trusted, '-o', 'json']);
      expect(r.code, r.err).toBe(EXIT.ok);
      expect(json(r).base).toMatchObject({ status: 'unknown', trusted: false });
    });

    it('negative control: a newer digest without the fix clears nothing', async () => {
      const nofix = await pushBase('v2-nofix', '3.0.11-1~deb12u1', [{ path: 'etc/rebuilt', content: 'same packages\n' }]);
      const r = await drydock(['scan', app1, '--base-images', trusted, ...ADVISORIES, '-o', 'json']);
      expect(r.code, r.err).toBe(EXIT.ok);
      const res = json(r);
      expect(res.base!.newest!.digest).toBe(nofix.manifestDigest);
      expect(res.rebuild!.to).toBe(nofix.manifestDigest);
      expect(res.rebuild!.clears).toEqual([]);
      expect(res.rebuild!.remains).toBeGreaterThan(0);
      expect(res.rebuild!.summary).toMatch(/clears none of this image's \d+ base-layer findings?/);
    });
  });
});
