/**
 * npm run bench:hostile — issue 14's bombs at the issue's own sizes, under the CLI's DEFAULT
 * limits: each built by test/support/hostile-corpus.ts (scale 'bench': 1 and 10 GiB zstd,
 * 10 GiB of zeros after a small tar in a gzip, 100 × 63 MiB lockfiles, 2,000 × 1 MiB link
 * names, 1.9M symlinks, 900k opaque markers, …), scanned by the built CLI
 * (`node bin/drydock.cjs scan`, fresh cache dir) in its own process, and measured: wall time
 * and peak RSS (VmHWM of the process, polled from /proc every 20 ms).
 *
 * Targets (issue 14, "Done when"): every row ends with exit 0 or 3 within 60 s under 500 MB
 * peak RSS; the 10 GiB gzip and zstd cases stop at the expansion limit in under a second
 * (judged over the start-up floor: the CLI scanning a one-file image, measured first).
 * Runs are cut at 120 s or 2 GB of RSS (so a bomb cannot take the machine down) and shown as
 * killed. The loopback-server rows (timeouts, credentials) are in the test corpus, not here.
 *
 *   BENCH_HOSTILE_CASES=id,id   only these rows     DRYDOCK_CLI=<file>  another CLI build
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caseArgs, caseEnv, ensureBuiltCli, hostileCases, layoutOf, OS_RELEASE_DEBIAN, runDrydock, scanHelp, type HostileCase } from '../test/support/hostile-corpus.js';

const CUT_MS = 120_000;
const RSS_CAP = 2 * 1024 ** 3;
const TARGET_MS = 60_000;
const TARGET_RSS = 500 * 1024 ** 2;
/** rows that must stop at the expansion limit in under a second */
const FAST = new Set(['zstd-bomb-10g', 'gzip-tar-then-zeros']);
const SERVER_ROWS = /^(registry-|credentials-|www-authenticate)/;

const log = (s: string) => process.stderr.write(`bench:hostile: ${s}\n`);
const only = process.env.BENCH_HOSTILE_CASES?.split(',').filter(Boolean);
const cases = hostileCases('bench').filter((c) => !SERVER_ROWS.test(c.id) && (!only || only.includes(c.id)));

interface Row {
  id: string;
  row: string;
  build: string;
  exit: string;
  seconds: string;
  rssMb: string;
  verdict: string;
  first: string;
}

async function measure(c: HostileCase, root: string): Promise<Row> {
  const caseDir = join(root, c.id);
  const input = join(caseDir, 'input');
  const cache = join(caseDir, 'cache');
  for (const d of [input, join(caseDir, 'home'), join(caseDir, 'tmp')]) await mkdir(d, { recursive: true });
  const t0 = performance.now();
  const built = await c.build(input);
  const buildS = ((performance.now() - t0) / 1000).toFixed(1);
  try {
    const r = await runDrydock(['scan', built.ref, '--cache-dir', cache, '-q', ...caseArgs(built, await scanHelp())], {
      env: caseEnv(caseDir, built.env),
      cwd: caseDir,
      timeoutMs: CUT_MS,
      rssCap: RSS_CAP,
      ...(built.pipeToHead ? { pipeToHead: built.pipeToHead } : {}),
    });
    const ok = !r.killed && (r.code === 0 || r.code === 3);
    const misses: string[] = [];
    if (!ok) misses.push(r.killed ? 'killed' : `exit ${r.code}`);
    if (r.ms > TARGET_MS) misses.push('> 60 s');
    if (r.peakRss > TARGET_RSS) misses.push('> 500 MB');
    if (FAST.has(c.id) && r.ms - floorMs > 1000) misses.push('> 1 s over the start-up floor');
    return {
      id: c.id,
      row: c.row,
      build: buildS,
      exit: r.killed ? `killed (${r.killed})` : String(r.code ?? r.signal),
      seconds: (r.ms / 1000).toFixed(2),
      rssMb: (r.peakRss / 1024 ** 2).toFixed(0),
      verdict: misses.length ? `MISS ${misses.join(', ')}` : 'ok',
      first: (r.stderr.split('\n').find((l) => l.trim()) ?? '').slice(0, 160),
    };
  } finally {
    await built.cleanup?.();
    await rm(caseDir, { recursive: true, force: true });
  }
}

/** Wall time of the CLI scanning a one-file image: Node's and the bundle's start-up, the floor of every row. */
let floorMs = 0;

async function startupFloor(root: string): Promise<number> {
  const dir = join(root, 'floor');
  for (const d of ['home', 'tmp']) await mkdir(join(dir, d), { recursive: true });
  const lay = await layoutOf(join(dir, 'input'), [[{ name: 'etc/os-release', data: Buffer.from(OS_RELEASE_DEBIAN) }]]);
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const r = await runDrydock(['scan', lay.ref, '--cache-dir', join(dir, `cache-${i}`), '-q'], { env: caseEnv(dir), cwd: dir, timeoutMs: CUT_MS, rssCap: RSS_CAP });
    if (r.code !== 0) throw new Error(`the start-up floor scan failed (exit ${r.code}): ${r.stderr.slice(0, 500)}`);
    best = Math.min(best, r.ms);
  }
  await rm(dir, { recursive: true, force: true });
  return best;
}

async function main(): Promise<void> {
  await ensureBuiltCli();
  const root = await mkdtemp(join(tmpdir(), 'drydock-hostile-bench-'));
  const rows: Row[] = [];
  try {
    floorMs = await startupFloor(root);
    log(`start-up floor (a one-file image, best of 3): ${(floorMs / 1000).toFixed(2)} s`);
    for (const c of cases) {
      log(`${c.id}: building and scanning (${c.row})`);
      const row = await measure(c, root);
      log(`${c.id}: exit ${row.exit}, ${row.seconds} s, ${row.rssMb} MB — ${row.verdict}`);
      rows.push(row);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  const header = ['case', 'exit', 'time s', 'peak RSS MB', 'target', 'build s', 'first stderr line'];
  const table = [header, ...rows.map((r) => [r.id, r.exit, r.seconds, r.rssMb, r.verdict, r.build, r.first])];
  const widths = header.map((_, i) => Math.max(...table.map((t) => t[i]!.length)));
  console.log(`\nHostile images (issue 14), default limits; targets: exit 0/3, ≤ 60 s, ≤ 500 MB; 10 GiB gzip/zstd ≤ 1 s over the start-up floor (${(floorMs / 1000).toFixed(2)} s)`);
  for (const t of table) console.log(t.map((c, i) => (i === t.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
  const missed = rows.filter((r) => r.verdict !== 'ok').length;
  console.log(`\n${rows.length - missed} of ${rows.length} rows within target`);
}

await main();
