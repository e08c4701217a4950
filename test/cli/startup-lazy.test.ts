/**
 * Start-up (issue 18): the built CLI loads only what a command uses. A module-loading hook
 * (node --import, module.register) records every file the process loads; each loaded bundle
 * chunk is then read for esbuild's `// <source path>` markers, so the test names the modules a
 * run evaluated. A plain JSON scan loads no YAML, JSON Schema, RE2, version, policy or advisory
 * code; `--version` no dependency at all; and (the control, so the recorder is shown to see
 * lazily imported chunks) a scan with a policy, a drydock.yaml, an ignore file and a table does
 * load those.
 *
 * A second preload records the Node built-ins the run loaded (process.moduleLoadList, less what
 * was loaded before it) and how many Intl.Collator objects were made: a scan of an OCI layout
 * loads no registry or engine client (node:http, node:https, node:tls) nor node:child_process,
 * and makes no collator (packageurl-js's, rewritten by scripts/esbuild-patches.mjs); served
 * from the layer cache it loads no node:worker_threads (fflate's, rewritten there too), node:vm
 * or node:v8. The controls: a registry reference loads the client's built-ins, and the cold
 * scan (a layer walked in a worker thread) worker_threads.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_IGNORE_FILE as SCAN_DEFAULT_IGNORE_FILE } from '../../shared/cli/commands/scan.js';
import { DEFAULT_IGNORE_FILE } from '../../shared/match/suppress.js';
import { DRYDOCK_BIN, ensureBuiltCli, REPO_ROOT } from '../support/hostile-corpus.js';
import { buildImage } from '../support/image-builder.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';

let work: string;
let ref: string;
/** two layers: a cold scan walks them with a layer worker (a single layer is walked in the main thread) */
let twoLayers: string;

/** Node built-ins the registry client loads (the engine client: http alone). */
const REGISTRY_BUILTINS = ['http', 'https', 'tls'];
/** ... and with a credential helper, child_process: a scan of a local image loads none of them. */
const NETWORK_BUILTINS = [...REGISTRY_BUILTINS, 'child_process'];
/** Built-ins only a layer walk needs (the worker threads, their young-generation collections, the walker's zlib): a scan from the layer cache walks none. */
const WALK_BUILTINS = ['worker_threads', 'vm', 'v8', 'zlib'];

/** What only some runs need: none of it may be loaded by a plain scan. */
const HEAVY = [
  'node_modules/yaml/',
  'node_modules/ajv/',
  'node_modules/re2js/',
  'node_modules/ae-cvss-calculator/',
  'node_modules/semver/',
  'node_modules/@aws-sdk/',
  'node_modules/@cyclonedx/',
  'shared/policy/engine.ts',
  'shared/policy/content-scan.ts',
  'shared/advisories/load.ts',
  'shared/match/index.ts',
  'shared/match/suppress.ts',
  'shared/report/table.ts',
];

beforeAll(async () => {
  await ensureBuiltCli();
  work = await mkdtemp(join(tmpdir(), 'drydock-startup-'));
  // the recorder: a loader hook that appends each file: URL loaded to $DRYDOCK_TEST_LOADED
  await writeFile(
    join(work, 'hooks.mjs'),
    [
      "import { appendFileSync } from 'node:fs';",
      'let log;',
      'export function initialize(data) { log = data.log; }',
      "export async function load(url, context, next) { if (url.startsWith('file:')) appendFileSync(log, url + '\\n'); return next(url, context); }",
    ].join('\n'),
  );
  await writeFile(
    join(work, 'record.mjs'),
    "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url, { data: { log: process.env.DRYDOCK_TEST_LOADED } });\n",
  );
  // the built-ins recorder: what process.moduleLoadList gained after it, and the Intl.Collator objects made
  await writeFile(
    join(work, 'builtins.mjs'),
    [
      "import { writeFileSync } from 'node:fs';",
      'const before = new Set(process.moduleLoadList);',
      'let collators = 0;',
      'Intl.Collator = new Proxy(Intl.Collator, {',
      '  construct(target, args, newTarget) { collators++; return Reflect.construct(target, args, newTarget); },',
      '  apply(target, self, args) { collators++; return Reflect.apply(target, self, args); },',
      '});',
      "process.on('exit', () => {",
      "  const builtins = process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));",
      '  writeFileSync(process.env.DRYDOCK_TEST_BUILTINS, JSON.stringify({ builtins, collators }));',
      '});',
    ].join('\n'),
  );
  const layout = join(work, 'layout');
  await buildImage(layout, {
    tag: 'v1',
    layers: [{ files: [
      { path: 'etc/os-release', content: OS_RELEASE_12 },
      { path: 'var/lib/dpkg/status', content: statusFile(stanza('libssl3', '3.0.15-1~deb12u1', { Source: 'openssl' })) },
    ] }],
  });
  ref = `oci:${layout}:v1`;
  const layout2 = join(work, 'layout-2');
  await buildImage(layout2, {
    tag: 'v2',
    layers: [
      { files: [{ path: 'etc/os-release', content: OS_RELEASE_12 }] },
      { files: [{ path: 'var/lib/dpkg/status', content: statusFile(stanza('libssl3', '3.0.15-1~deb12u1', { Source: 'openssl' })) }] },
    ],
  });
  twoLayers = `oci:${layout2}:v2`;
}, 300_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

let runs = 0;

/**
 * Runs the built CLI with the recorders; the exit code, stdout, the source modules of every bundle
 * file it loaded, and the built-ins it loaded. `hooks: false` leaves the module recorder out (its
 * loader hooks run in a worker thread of their own, which loads node:worker_threads), for runs
 * that look at worker_threads: `modules` and `files` are then empty.
 */
async function recorded(
  args: string[],
  cwd: string,
  opts: { hooks?: boolean; cacheDir?: string; env?: Record<string, string>; entry?: string } = {},
): Promise<{ code: number; out: string; err: string; modules: Set<string>; files: string[]; builtins: string[]; collators: number }> {
  const log = join(work, `loaded-${++runs}.txt`);
  const builtinsLog = join(work, `builtins-${runs}.json`);
  await writeFile(log, '');
  const env = { PATH: process.env.PATH ?? '', HOME: work, DRYDOCK_CACHE_DIR: opts.cacheDir ?? join(work, 'cache'), DRYDOCK_TEST_LOADED: log, DRYDOCK_TEST_BUILTINS: builtinsLog, ...opts.env };
  const preloads = ['--import', join(work, 'builtins.mjs'), ...(opts.hooks === false ? [] : ['--import', join(work, 'record.mjs')])];
  const { code, out, err } = await new Promise<{ code: number; out: string; err: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [...preloads, opts.entry ?? DRYDOCK_BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve({ code: c ?? -1, out, err });
    });
  });
  const dist = join(REPO_ROOT, 'dist', 'cli');
  const files = [...new Set((await readFile(log, 'utf8')).split('\n').filter(Boolean))].map((u) => fileURLToPath(u)).filter((f) => f.startsWith(`${dist}/`));
  const modules = new Set<string>();
  for (const f of files) for (const m of (await readFile(f, 'utf8')).matchAll(/^\/\/ ((?:node_modules|shared)\/\S+)$/gm)) modules.add(m[1]!);
  const { builtins, collators } = JSON.parse(await readFile(builtinsLog, 'utf8')) as { builtins: string[]; collators: number };
  return { code, out, err, modules, files, builtins, collators };
}

const loaded = (modules: Set<string>, prefix: string) => [...modules].some((m) => m.startsWith(prefix));

describe('what the built CLI loads', () => {
  it('a JSON scan, cold and then warm from the layer cache, loads the scanner and none of the heavy modules', async () => {
    for (const pass of ['cold', 'warm']) {
      const r = await recorded(['scan', ref, '-q', '-o', 'json'], work);
      expect(r.code, `${pass}: ${r.err}`).toBe(0);
      expect(JSON.stringify(JSON.parse(r.out))).toContain('"libssl3"');
      // the recorder saw the scan's own code (so an empty list below means something)
      expect(loaded(r.modules, 'shared/scan.ts'), pass).toBe(true);
      expect(loaded(r.modules, 'shared/catalog/dpkg.ts'), pass).toBe(true);
      expect(HEAVY.filter((h) => loaded(r.modules, h)), pass).toEqual([]);
      // no registry client, engine client or credential helper for a local image
      expect(r.builtins, pass).toContain('fs/promises'); // (the recorder saw the run's own built-ins)
      expect(NETWORK_BUILTINS.filter((b) => r.builtins.includes(b)), pass).toEqual([]);
      // packageurl-js (in the scan: purls) makes its ICU collator only when asked to compare more than its component ranks
      expect(loaded(r.modules, 'node_modules/packageurl-js/'), pass).toBe(true);
      expect(r.collators, pass).toBe(0);
    }
  });

  it('served from the layer cache, a scan loads none of the built-ins of a layer walk (the control: the cold scan does)', async () => {
    const cacheDir = join(work, 'cache-builtins');
    for (const pass of ['cold', 'warm']) {
      // one layer worker whatever the cores
      const r = await recorded(['scan', twoLayers, '-q', '-o', 'json'], work, { hooks: false, cacheDir, env: { DRYDOCK_LAYER_WORKERS: '1' } });
      expect(r.code, `${pass}: ${r.err}`).toBe(0);
      expect(JSON.stringify(JSON.parse(r.out))).toContain('"libssl3"');
      expect(r.builtins, pass).toContain('fs/promises');
      // the cold scan walks a layer in a worker thread
      if (pass === 'cold') expect(r.builtins, pass).toContain('worker_threads');
      else expect(WALK_BUILTINS.filter((b) => r.builtins.includes(b)), pass).toEqual([]);
      expect(NETWORK_BUILTINS.filter((b) => r.builtins.includes(b)), pass).toEqual([]);
    }
  });

  it('the control: a registry reference loads the registry client and its built-ins', async () => {
    // nothing listens on the discard port: the scan fails (exit 3) after loading the client
    const r = await recorded(['scan', '127.0.0.1:9/drydock/none:v1', '-q', '-o', 'json', '--registry-timeout', '1'], work);
    expect(r.code, r.err).toBe(3);
    expect(loaded(r.modules, 'shared/image/registry.ts')).toBe(true);
    expect(REGISTRY_BUILTINS.filter((b) => r.builtins.includes(b))).toEqual(REGISTRY_BUILTINS);
  });

  it('--version through the launcher (the `drydock` command) is answered before any bundle file or ES module loads', async () => {
    const r = await recorded(['--version'], work);
    expect(r.code).toBe(0);
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(r.out).toBe(`drydock ${pkg.version}\n`);
    expect(r.files).toEqual([]);
    expect([...r.modules]).toEqual([]);
    expect(NETWORK_BUILTINS.filter((b) => r.builtins.includes(b))).toEqual([]);
  });

  it('the launcher\'s earlier name, bin/drydock.mjs, runs the same launcher', async () => {
    const old = await recorded(['--version'], work, { entry: join(REPO_ROOT, 'bin', 'drydock.mjs') });
    const launcher = await recorded(['--version'], work);
    expect(old.code).toBe(0);
    expect(old.out).toBe(launcher.out);
    expect(old.files).toEqual([]);
  });

  it('--version of the bundle\'s entry (`node dist/cli/drydock.mjs`) loads the entry and the version alone, and says what the launcher says', async () => {
    const r = await recorded(['--version'], work, { entry: join(REPO_ROOT, 'dist', 'cli', 'drydock.mjs') });
    expect(r.code).toBe(0);
    const launcher = await recorded(['--version'], work);
    expect(r.out).toBe(launcher.out);
    expect([...r.modules].filter((m) => m.startsWith('node_modules/'))).toEqual([]);
    expect(loaded(r.modules, 'shared/scan.ts')).toBe(false);
    // answered by the entry itself: not even the command tables are loaded
    expect(loaded(r.modules, 'shared/cli/options.ts')).toBe(false);
    expect(loaded(r.modules, 'shared/version.ts')).toBe(true);
    expect(NETWORK_BUILTINS.filter((b) => r.builtins.includes(b))).toEqual([]);
  });

  it('the control: a policy, a drydock.yaml, an ignore file and a table load the policy engine, YAML, the suppressions and the table renderer', async () => {
    const project = await mkdtemp(join(work, 'project-'));
    await writeFile(join(project, 'drydock.yaml'), 'quiet: true\n');
    await writeFile(join(project, '.drydockignore.yaml'), 'vulnerabilities:\n  - id: CVE-2024-0001\n    reason: not reachable\n');
    const r = await recorded(['scan', ref, '--policy', 'default', '--allow-missing-advisories', '-o', 'table'], project);
    expect([0, 1, 2], r.err).toContain(r.code);
    expect(r.out).toContain('libssl3');
    for (const m of ['node_modules/yaml/', 'shared/policy/engine.ts', 'shared/policy/content-scan.ts', 'node_modules/re2js/', 'shared/match/suppress.ts', 'shared/report/table.ts']) {
      expect(loaded(r.modules, m), m).toBe(true);
    }
  });
});

describe('the scan command', () => {
  it('repeats match/suppress.ts\'s default ignore file name exactly (it does not import that module to learn it)', () => {
    expect(SCAN_DEFAULT_IGNORE_FILE).toBe(DEFAULT_IGNORE_FILE);
  });
});
