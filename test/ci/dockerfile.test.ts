/**
 * Issue 17, item 1 (the Dockerfile part): no container engine runs here, so the image the
 * Dockerfile describes is built without one, as an OCI layout, and scanned with Drydock itself.
 *
 * What is real: the package tarball (`scripts/pack.mjs` on the built bundle, run from a private root), the Dockerfile's
 * own RUN script (run by sh, its /pkg bind mount pointed at the tarball's folder, npm's global
 * prefix at <rootfs>/usr/local as in the node image, offline with an empty npm cache), the
 * layer (GNU tar + gzip of that rootfs) and the config's USER/ENTRYPOINT/CMD read from the
 * Dockerfile. What is not: the base image, node:22-slim, cannot be pulled offline, so the image
 * is that one layer alone, not stacked on the base's layers.
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRYDOCK_BIN, ensureBuiltCli, REPO_ROOT } from '../support/hostile-corpus.js';
import { run } from '../support/exec.js';
import { buildImage } from '../support/image-builder.js';
import { sh } from './recipe-runners.js';

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions: comments and the parser directive dropped, `\` continuations joined. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const logical = text.replace(/\\\n/g, ' ').split('\n');
  for (const line of logical) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const m = t.match(/^([A-Za-z]+)\s+(.*)$/);
    if (!m) throw new Error(`Dockerfile: cannot read "${t}"`);
    out.push({ op: m[1]!.toUpperCase(), args: m[2]! });
  }
  return out;
}

let work: string;
let tgz: string;
let layout: string;
let text: string;
let ins: Instruction[];
let pkg: { name: string; version: string };
let rootfs: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-dockerfile-'));
  await ensureBuiltCli();
  // scripts/pack.mjs stages the package in <its root>/dist/npm: run a copy of it from a root of
  // its own (everything else of the repository linked in, dist/cli too), so this file and
  // test/install/npm-pack.test.ts, running at once, do not stage into the same directory
  const root = join(work, 'root');
  await mkdir(join(root, 'scripts'), { recursive: true });
  await mkdir(join(root, 'dist'));
  for (const f of await readdir(REPO_ROOT)) if (f !== 'scripts' && f !== 'dist') await symlink(join(REPO_ROOT, f), join(root, f));
  for (const f of await readdir(join(REPO_ROOT, 'scripts'))) {
    if (f === 'pack.mjs') await copyFile(join(REPO_ROOT, 'scripts', f), join(root, 'scripts', f));
    else await symlink(join(REPO_ROOT, 'scripts', f), join(root, 'scripts', f));
  }
  await symlink(join(REPO_ROOT, 'dist/cli'), join(root, 'dist/cli'));
  const out = join(work, 'context');
  await run(process.execPath, [join(root, 'scripts/pack.mjs'), '--no-build', '--out', out], { cwd: root, timeoutMs: 180_000 });
  const name = (await readdir(out)).find((f) => f.endsWith('.tgz'));
  if (!name) throw new Error('scripts/pack.mjs made no tarball');
  tgz = join(out, name);
  const { stdout } = await run('tar', ['-xzOf', tgz, 'package/package.json']);
  pkg = JSON.parse(stdout.toString('utf8')) as { name: string; version: string };

  text = await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  ins = instructions(text);
}, 300_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('Dockerfile', () => {
  it('is node:22-slim based, installs the packed tarball from a bind mount, runs as node, ENTRYPOINT drydock', () => {
    const arg = (n: string) => ins.find((i) => i.op === 'ARG' && i.args.startsWith(`${n}=`))?.args.slice(n.length + 1);
    expect(ins.filter((i) => i.op === 'FROM').map((i) => i.args)).toEqual(['${NODE_IMAGE}']);
    expect(arg('NODE_IMAGE')).toBe('node:22-slim');
    const runs = ins.filter((i) => i.op === 'RUN');
    expect(runs).toHaveLength(1);
    expect(runs[0]!.args).toMatch(/^--mount=type=bind,source=\.,target=\/pkg /);
    expect(runs[0]!.args).toMatch(/npm install -g /);
    expect(ins.filter((i) => i.op === 'COPY' || i.op === 'ADD')).toEqual([]); // the tarball is in no layer
    expect(ins.find((i) => i.op === 'USER')?.args).toBe('node');
    expect(JSON.parse(ins.find((i) => i.op === 'ENTRYPOINT')!.args)).toEqual(['drydock']);
    // the tarball the PACKAGE default matches is the one pack makes
    expect(new RegExp(`^${arg('PACKAGE')!.replace(/\./g, '\\.').replace(/\*/g, '.*')}$`).test(tgz.split('/').pop()!)).toBe(true);
  });

  it('.dockerignore sends the package tarball alone as the build context', async () => {
    const lines = (await readFile(join(REPO_ROOT, '.dockerignore'), 'utf8')).split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toEqual(['*', '!*.tgz']);
  });

  it("its RUN script, run by sh into a rootfs (no engine: /pkg is pack's output folder, npm's prefix <rootfs>/usr/local, offline), installs a drydock that runs", async () => {
    const script = ins.find((i) => i.op === 'RUN')!.args.replace(/^--mount=\S+\s+/, '');
    rootfs = join(work, 'rootfs');
    await mkdir(join(rootfs, 'usr/local'), { recursive: true });
    // the only absolute paths the script may name: /pkg (the mount) and /root (npm's cache of the build)
    const absolute = [...script.matchAll(/(?<![\w$])\/[\w.-]+/g)].map((m) => m[0]);
    expect([...new Set(absolute)].sort()).toEqual(['/pkg', '/root']);
    const inRootfs = script.replace(/(?<![\w$])\/pkg\b/g, join(work, 'context')).replace(/(?<![\w$])\/root\b/g, join(rootfs, 'root'));
    const packageArg = ins.find((i) => i.op === 'ARG' && i.args.startsWith('PACKAGE='))!.args.slice('PACKAGE='.length);
    const env: NodeJS.ProcessEnv = {
      PATH: `${join(rootfs, 'usr/local/bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: join(rootfs, 'root'),
      PACKAGE: packageArg,
      npm_config_prefix: join(rootfs, 'usr/local'),
      npm_config_cache: join(work, 'npm-cache'),
      npm_config_offline: 'true',
      XDG_CACHE_HOME: join(work, 'xdg'),
    };
    const r = await sh('sh', ['-ec', inRootfs], { env, cwd: work, timeoutMs: 180_000 });
    expect(r.code, `${r.out}${r.err}`).toBe(0);
    // the build's last command: the installed drydock (through the bin link npm made) prints its version
    expect(r.out).toContain(`drydock ${pkg.version}`);
    expect(await readdir(join(rootfs, 'usr/local/lib/node_modules'))).toEqual([pkg.name]);

    // two tarballs in the context: the build stops and says which, instead of installing both
    const two = join(work, 'two');
    await mkdir(two);
    await copyFile(tgz, join(two, 'drydock-0.0.1.tgz'));
    await copyFile(tgz, join(two, 'drydock-0.0.2.tgz'));
    const refused = await sh('sh', ['-ec', script.replace(/(?<![\w$])\/pkg\b/g, two).replace(/(?<![\w$])\/root\b/g, join(rootfs, 'root'))], { env, cwd: work });
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/expected one package tarball matching drydock\*\.tgz in the build context, found: .*drydock-0\.0\.1\.tgz .*drydock-0\.0\.2\.tgz/);
  });

  it('the image (that rootfs as one layer; the node:22-slim base is not available offline) scanned by Drydock: its one npm package, the config from the Dockerfile', async () => {
    expect(rootfs).toBeDefined();
    layout = join(work, 'layout');
    const user = ins.find((i) => i.op === 'USER')!.args;
    const entrypoint = JSON.parse(ins.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
    const cmd = JSON.parse(ins.find((i) => i.op === 'CMD')!.args) as string[];
    await buildImage(layout, {
      tag: 'drydock',
      layers: [{ fromDirectory: rootfs }],
      config: { config: { User: user, Entrypoint: entrypoint, Cmd: cmd, Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] } },
    });
    const r = await sh(process.execPath, [DRYDOCK_BIN, 'scan', `oci:${layout}:drydock`, '--quiet', '-o', 'json'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, DRYDOCK_CACHE_DIR: join(work, 'cache') },
      cwd: work,
    });
    expect(r.code, r.err).toBe(0);
    const result = (JSON.parse(r.out) as { results: Array<{ packages: Array<{ name: string; version: string; type?: string; ecosystem?: string; locations?: string[] }> }> }).results[0]!;
    const names = result.packages.map((p) => `${p.name}@${p.version}`);
    // the bundle carries its dependencies inside: the package is the only one in the image
    expect(names).toEqual([`${pkg.name}@${pkg.version}`]);
    expect(JSON.stringify(result.packages[0])).toContain(`usr/local/lib/node_modules/${pkg.name}/package.json`);
    // the default policy sees USER node: its root-user rule does not fire (no advisories here: that WARN does)
    const policy = await sh(process.execPath, [DRYDOCK_BIN, 'scan', `oci:${layout}:drydock`, '--quiet', '--policy', 'default', '--allow-missing-advisories'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, DRYDOCK_CACHE_DIR: join(work, 'cache') },
      cwd: work,
    });
    expect(policy.out).toMatch(/vulnerability_data_unavailable/);
    expect(policy.out).not.toMatch(/effective_user/);
    expect(policy.code).toBe(2);
  });
});
