/**
 * Install like a tool (issue 17, item 1): `npm run pack` makes drydock-scan-<version>.tgz (the registry name `drydock` is taken; the command is `drydock`) from the
 * built CLI bundle; it installs into an empty folder with `npm install --offline` and an empty
 * npm cache (so nothing can come from a registry: the package has no dependencies to fetch),
 * and the installed `drydock` scans a real OCI layout made by GNU tar and gzip, and an image in
 * the local Distribution registry.
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/exec.js';
import { ensureBuiltCli, REPO_ROOT } from '../support/hostile-corpus.js';
import { buildImage, pushToRegistry } from '../support/image-builder.js';
import { startRegistry } from '../support/registry.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';

let work: string;
let tgz: string;
let app: string;

/** npm with a private, empty cache and no registry reachable on purpose (--offline). */
function npm(args: string[], cwd: string) {
  return run('npm', [...args, '--offline', '--no-audit', '--no-fund', '--cache', join(work, 'npm-cache')], {
    cwd,
    env: { ...process.env, npm_config_update_notifier: 'false' },
    timeoutMs: 180_000,
  });
}

/** Every file under `dir`, relative. */
async function files(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await files(join(dir, e.name), rel)));
    else out.push(rel);
  }
  return out;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-npm-pack-'));
  await ensureBuiltCli(); // the same bundle `npm run bundle` makes, serialised with other test files
  const { stdout } = await run(process.execPath, ['scripts/pack.mjs', '--no-build', '--out', join(work, 'out')], { cwd: REPO_ROOT, timeoutMs: 180_000 });
  const name = (await readdir(join(work, 'out'))).find((f) => f.endsWith('.tgz'));
  if (!name) throw new Error(`no tarball made: ${stdout.toString()}`);
  tgz = join(work, 'out', name);
  app = join(work, 'app');
  await run('mkdir', ['-p', app]);
  await npm(['install', tgz], app);
}, 300_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('is named drydock-scan-<version>.tgz and holds only the CLI bundle (with the layer worker), the launcher, README, docs and LICENSE', async () => {
    const repo = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(tgz.endsWith(`drydock-scan-${repo.version}.tgz`)).toBe(true);
    const { stdout } = await run('tar', ['-tzf', tgz]);
    const entries = stdout.toString().trim().split('\n').sort();
    expect(entries).toContain('package/package.json');
    expect(entries).toContain('package/bin/drydock.cjs');
    expect(entries).toContain('package/dist/cli/drydock.mjs');
    expect(entries).toContain('package/dist/cli/sql-wasm.wasm');
    expect(entries).toContain('package/README.md');
    expect(entries).toContain('package/LICENSE');
    expect(entries.some((e) => e.startsWith('package/dist/cli/chunks/') && e.endsWith('.mjs'))).toBe(true);
    expect(entries).toContain('package/docs/scan.md');
    const allowed = /^package\/(package\.json|README\.md|LICENSE|docs\/[\w-]+\.md|bin\/drydock\.cjs|dist\/cli\/(drydock\.mjs|layer-worker\.mjs|sql-wasm\.wasm|chunks\/[\w-]+\.mjs))$/;
    expect(entries.filter((e) => !allowed.test(e))).toEqual([]);
  });

  it('declares no dependencies and no scripts (the bundle holds them; nothing runs at install)', async () => {
    const manifest = JSON.parse(await readFile(join(app, 'node_modules/drydock-scan/package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ name: 'drydock-scan', bin: { drydock: 'bin/drydock.cjs' }, license: 'Apache-2.0', type: 'module' });
    for (const field of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies', 'scripts', 'private']) {
      expect(manifest[field], field).toBeUndefined();
    }
    // npm installed exactly one package: drydock-scan itself
    expect((await readdir(join(app, 'node_modules'))).filter((d) => !d.startsWith('.'))).toEqual(['drydock-scan']);
  });

  it('installed offline with an empty cache, `drydock --version` runs from node_modules/.bin', async () => {
    const { stdout } = await run(join(app, 'node_modules/.bin/drydock'), ['--version'], { cwd: app, timeoutMs: 60_000 });
    const repo = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(stdout.toString()).toContain(repo.version);
  });

  it('scans an OCI layout: exit 0 and the packages of its dpkg database', async () => {
    const layout = join(work, 'layout');
    await buildImage(layout, {
      tag: 'v1',
      layers: [{ files: [
        { path: 'etc/os-release', content: OS_RELEASE_12 },
        { path: 'var/lib/dpkg/status', content: statusFile(stanza('alpha', '1.0'), stanza('beta', '2.0-1')) },
      ] }],
    });
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: join(work, 'home'), XDG_CACHE_HOME: join(work, 'cache'), DOCKER_CONFIG: join(work, 'docker') };
    delete env.DRYDOCK_CACHE_DIR;
    const { stdout } = await run(join(app, 'node_modules/.bin/drydock'), ['scan', `oci:${layout}:v1`, '-o', 'json'], { cwd: app, env, timeoutMs: 120_000 });
    const doc = JSON.parse(stdout.toString()) as unknown;
    const text = JSON.stringify(doc);
    expect(text).toContain('"alpha"');
    expect(text).toContain('"2.0-1"');
    // the installed package was not written to while it ran
    const installed = await files(join(app, 'node_modules/drydock-scan'));
    expect(installed.every((f) => /^(package\.json|README\.md|LICENSE|docs\/|bin\/|dist\/cli\/)/.test(f))).toBe(true);
    expect((await stat(join(app, 'node_modules/drydock-scan/dist/cli/sql-wasm.wasm'))).size).toBeGreaterThan(100_000);
  });

  it('scans an image in a local Distribution registry (the installed command, its own HOME and cache)', async () => {
    const registry = await startRegistry();
    try {
      const layout = join(work, 'layout-registry');
      await buildImage(layout, {
        tag: 'v2',
        layers: [{ files: [
          { path: 'etc/os-release', content: OS_RELEASE_12 },
          { path: 'var/lib/dpkg/status', content: statusFile(stanza('gamma', '3.1-2')) },
        ] }],
      });
      await pushToRegistry(layout, 'v2', { host: registry.host }, 'team/app:v2');
      const env: NodeJS.ProcessEnv = { ...process.env, HOME: join(work, 'home2'), XDG_CACHE_HOME: join(work, 'cache2'), DOCKER_CONFIG: join(work, 'docker2') };
      delete env.DRYDOCK_CACHE_DIR;
      const { stdout } = await run(join(app, 'node_modules/.bin/drydock'), ['scan', `${registry.host}/team/app:v2`, '-o', 'json'], { cwd: app, env, timeoutMs: 120_000 });
      expect(JSON.stringify(JSON.parse(stdout.toString()))).toContain('"gamma"');
    } finally {
      await registry.stop();
    }
  }, 180_000);
});
