/**
 * npm run bench:install (last part of npm run bench) — what installing Drydock as a tool
 * costs: the npm package's tarball size, its installed size after `npm install --offline`
 * into an empty folder (empty npm cache: the package has no dependencies to fetch), and the
 * `npx`-style cold start: `node_modules/.bin/drydock --version` the first time after the
 * install (Node's compile cache and the page cache not yet warm for these files) and again.
 * The bundle is built by `npm run pack` itself (scripts/pack.mjs) unless BENCH_NO_BUILD=1.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const out = (s: string) => process.stdout.write(`${s}\n`);
const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;

function treeSize(dir: string): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const sub = treeSize(p);
      bytes += sub.bytes;
      files += sub.files;
    } else {
      bytes += statSync(p).size;
      files++;
    }
  }
  return { bytes, files };
}

function timed(cmd: string, args: string[], cwd: string): number {
  const t0 = performance.now();
  execFileSync(cmd, args, { cwd, stdio: 'ignore' });
  return performance.now() - t0;
}

const work = mkdtempSync(join(tmpdir(), 'drydock-install-bench-'));
try {
  const outDir = join(work, 'out');
  execFileSync(process.execPath, ['scripts/pack.mjs', '--out', outDir, ...(process.env.BENCH_NO_BUILD ? ['--no-build'] : [])], { stdio: ['ignore', 'ignore', 'inherit'] });
  const tgz = join(outDir, readdirSync(outDir).find((f) => f.endsWith('.tgz'))!);
  const app = join(work, 'app');
  mkdirSync(app);
  const installMs = timed('npm', ['install', tgz, '--offline', '--no-audit', '--no-fund', '--cache', join(work, 'cache')], app);
  const installed = treeSize(join(app, 'node_modules'));
  const bin = join(app, 'node_modules/.bin/drydock');
  const first = timed(bin, ['--version'], app);
  const again: number[] = [];
  for (let i = 0; i < RUNS; i++) again.push(timed(bin, ['--version'], app));
  again.sort((a, b) => a - b);
  out('install (npm package)');
  out(`  tarball            ${kib(statSync(tgz).size)} (${tgz.split('/').pop()})`);
  out(`  installed          ${kib(installed.bytes)} in ${installed.files} files (node_modules, no dependencies)`);
  out(`  npm install        ${installMs.toFixed(0)} ms (--offline, empty cache)`);
  out(`  drydock --version  first run ${first.toFixed(0)} ms, then median ${again[Math.floor(again.length / 2)]!.toFixed(0)} ms of ${RUNS}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
