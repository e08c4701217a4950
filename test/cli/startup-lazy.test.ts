/**
 * Start-up (issue 18): the built CLI loads only what a command uses. A module-loading hook
 * (node --import, module.register) records every file the process loads; each loaded bundle
 * chunk is then read for esbuild's `// <source path>` markers, so the test names the modules a
 * run evaluated. A plain JSON scan loads no YAML, JSON Schema, RE2, version, policy or advisory
 * code; `--version` no dependency at all; and (the control, so the recorder is shown to see
 * lazily imported chunks) a scan with a policy, a drydock.yaml, an ignore file and a table does
 * load those.
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
  const layout = join(work, 'layout');
  await buildImage(layout, {
    tag: 'v1',
    layers: [{ files: [
      { path: 'etc/os-release', content: OS_RELEASE_12 },
      { path: 'var/lib/dpkg/status', content: statusFile(stanza('libssl3', '3.0.15-1~deb12u1', { Source: 'openssl' })) },
    ] }],
  });
  ref = `oci:${layout}:v1`;
}, 300_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

let runs = 0;

/** Runs the built CLI with the recorder; the exit code, stdout, and the source modules of every bundle file it loaded. */
async function recorded(args: string[], cwd: string): Promise<{ code: number; out: string; err: string; modules: Set<string>; files: string[] }> {
  const log = join(work, `loaded-${++runs}.txt`);
  await writeFile(log, '');
  const env = { PATH: process.env.PATH ?? '', HOME: work, DRYDOCK_CACHE_DIR: join(work, 'cache'), DRYDOCK_TEST_LOADED: log };
  const { code, out, err } = await new Promise<{ code: number; out: string; err: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', join(work, 'record.mjs'), DRYDOCK_BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
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
  return { code, out, err, modules, files };
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
    }
  });

  it('--version loads the entry and the option tables, no dependency and no scanner', async () => {
    const r = await recorded(['--version'], work);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^drydock /);
    expect([...r.modules].filter((m) => m.startsWith('node_modules/'))).toEqual([]);
    expect(loaded(r.modules, 'shared/scan.ts')).toBe(false);
    expect(loaded(r.modules, 'shared/cli/options.ts')).toBe(true);
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
