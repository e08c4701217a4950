/**
 * Issue 14's table, row by row, against the BUILT CLI (`node bin/drydock.cjs scan`, the
 * bundle `npm run bundle` makes) the way a user runs it: each case is built by
 * test/support/hostile-corpus.ts as a real OCI layout / OCI archive / image behind a
 * loopback server or the local Distribution registry, scanned with a fresh cache dir, and must
 * end with exit 0 or 3 (never a stack trace or another code), a message naming the image, the
 * layer and the limit (or, for the evasion rows, the packages found), and nothing written
 * outside the cache dir. Each run is killed by the harness after the case's timeout or when
 * its peak RSS passes 500 MB: a failure naming the case, not a wall-time assertion.
 *
 * Set DRYDOCK_CLI to run another build of the CLI; DRYDOCK_HOSTILE_CASES=id,id to run some rows.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  caseArgs,
  caseEnv,
  DRYDOCK_BIN,
  ensureBuiltCli,
  hostileCases,
  judge,
  prepareCaseDirs,
  runDrydock,
  scanHelp,
  snapshotTree,
  treeChanges,
  type HostileCase,
} from '../support/hostile-corpus.js';

const RSS_CAP = 500 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;
const only = process.env.DRYDOCK_HOSTILE_CASES?.split(',').filter(Boolean);
const cases = hostileCases('test').filter((c) => !only || only.includes(c.id));
/** Cases that wait on the network (timeouts): run side by side to save wall time, not CPU. */
const NETWORK = new Set(['registry-trickle', 'registry-never-answers']);

let work: string;
const table: string[] = [];

beforeAll(async () => {
  await ensureBuiltCli();
  if (!existsSync(DRYDOCK_BIN)) throw new Error(`no CLI at ${DRYDOCK_BIN}`);
  work = await mkdtemp(join(tmpdir(), 'drydock-hostile-'));
}, 300_000);

afterAll(async () => {
  if (table.length) console.log(['hostile corpus (id | result | exit | ms | peak RSS MB | first stderr line):', ...table.sort()].join('\n'));
  if (work) await rm(work, { recursive: true, force: true });
});

async function runCase(c: HostileCase): Promise<void> {
  const caseDir = join(work, c.id);
  const { input, cache } = await prepareCaseDirs(caseDir);
  const built = await c.build(input);
  let problems: string[];
  try {
    const before = await snapshotTree(caseDir, [cache]);
    const r = await runDrydock(['scan', built.ref, '--cache-dir', cache, '-q', ...caseArgs(built, await scanHelp())], {
      env: caseEnv(caseDir, built.env),
      cwd: caseDir,
      timeoutMs: built.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      rssCap: RSS_CAP,
      ...(built.pipeToHead ? { pipeToHead: built.pipeToHead } : {}),
    });
    const outside = treeChanges(before, await snapshotTree(caseDir, [cache]));
    problems = judge(built, r, outside);
    const first = (r.stderr.split('\n').find((l) => l.trim()) ?? '').slice(0, 200);
    table.push(`${c.id} | ${problems.length ? 'FAIL' : 'pass'} | ${r.killed ? 'killed' : r.code} | ${r.ms.toFixed(0)} | ${(r.peakRss / 2 ** 20).toFixed(0)} | ${first}`);
    if (problems.length) problems.push(`stderr (first 600 chars): ${r.stderr.slice(0, 600)}`);
  } finally {
    await built.cleanup?.();
    await rm(caseDir, { recursive: true, force: true });
  }
  expect(problems, `${c.id} (${c.row})`).toEqual([]);
}

describe('hostile corpus through the built CLI', () => {
  for (const c of cases.filter((c) => !NETWORK.has(c.id))) {
    it(`${c.id}: ${c.row}`, () => runCase(c), 240_000);
  }
});

const stalls = cases.filter((c) => NETWORK.has(c.id));
if (stalls.length) {
  describe.concurrent('hostile corpus through the built CLI: network stalls', () => {
    for (const c of stalls) it(`${c.id}: ${c.row}`, () => runCase(c), 240_000);
  });
}
