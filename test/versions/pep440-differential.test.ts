/**
 * pep440Comparator against pypa/packaging itself (Debian's python3-packaging): python is
 * spawned once, every pair on stdin as a JSON line, and answers with the comparison, or
 * "E" when packaging.version.Version raises InvalidVersion for either side — validity must
 * agree too. The normalised forms (str(Version)) are checked as well. Pairs come from a
 * seeded generator (mulberry32) biased towards close neighbours, ASCII only (see
 * shared/versions/pep440.ts for the exotic-Unicode difference).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parsePep440, pep440Comparator } from '../../shared/versions/pep440.js';
import { run } from '../support/exec.js';
import { prng } from '../support/prng.js';

const PYTHON = '/usr/bin/python3';
const SEED = 0x9e9_440;
const PAIRS = 6000;

function packagingVersion(): string | undefined {
  try {
    return execFileSync(PYTHON, ['-c', 'import packaging; print(packaging.__version__)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}
const PACKAGING = packagingVersion();

let rand = prng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
const chance = (p: number): boolean => rand() < p;

const NUMBERS = ['0', '0', '1', '1', '2', '3', '9', '10', '00', '01', '007', '123', '2024', '99999', '18446744073709551616', '99999999999999999999999'];
const SEPARATORS = ['', '', '.', '-', '_'];
const PRE = ['a', 'b', 'c', 'rc', 'alpha', 'beta', 'pre', 'preview', 'A', 'RC', 'Alpha', 'BETA', 'Preview'];
const POST = ['post', 'rev', 'r', 'POST', 'Rev', 'R'];
const DEV = ['dev', 'DEV', 'Dev'];
const LOCAL = ['ubuntu', 'local', 'abc', 'Abc', 'a', 'z', 'x1', '1x', 'deadbeef', 'cpu', 'cu118', 'g1234abc'];
const ODD = [' ', '\t', '..', '-', '_', '.', '+', '!', 'x', '*', '~', ',', 'v', 'é', '+a', 'post', 'dev', 'a', '0', '\n'];

const num = (): string => pick(NUMBERS);
const opt = (p: number, f: () => string): string => (chance(p) ? f() : '');

function version(): string {
  let v = opt(0.1, () => pick(['v', 'V']));
  v += opt(0.1, () => `${num()}!`);
  v += num();
  const n = Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) v += `.${num()}`;
  v += opt(0.4, () => pick(SEPARATORS) + pick(PRE) + opt(0.8, () => pick(SEPARATORS) + num()));
  v += opt(0.3, () => (chance(0.3) ? `-${num()}` : pick(SEPARATORS) + pick(POST) + opt(0.8, () => pick(SEPARATORS) + num())));
  v += opt(0.3, () => pick(SEPARATORS) + pick(DEV) + opt(0.8, () => pick(SEPARATORS) + num()));
  v += opt(0.3, () => {
    let l = `+${chance(0.5) ? pick(LOCAL) : num()}`;
    const k = Math.floor(rand() * 3);
    for (let i = 0; i < k; i++) l += pick(['.', '-', '_']) + (chance(0.5) ? pick(LOCAL) : num());
    return l;
  });
  if (chance(0.03)) v = pick([' ', '\t', '\n']) + v;
  if (chance(0.03)) v += pick([' ', '\n', '\r\n']);
  return v;
}

/** A close neighbour of `v`: one to three small edits, some of which break it. */
function neighbour(v: string): string {
  let w = v;
  const edits = 1 + Math.floor(rand() * 3);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * (w.length + 1));
    const r = rand();
    if (r < 0.2) w += pick(['.0', '.dev0', 'a1', '.post1', '-1', 'rc1', '+1', '+local', '.1', 'dev', 'post']);
    else if (r < 0.35) w = w.replace(/[0-9]+/, num());
    else if (r < 0.45) w = w.replace(/(?<=[0-9])[0-9]+$|[0-9]+(?=[^0-9]*$)/, num());
    else if (r < 0.55) w = w.replace(/(\.0)+(?=[^.0-9]|$)/, '') || w;
    else if (r < 0.63) w = w.replace(/[a-z]+/i, pick([...PRE, ...POST, ...DEV]));
    else if (r < 0.7) w = w.replace(/[-_.]/, pick(['.', '-', '_', '']));
    else if (r < 0.78 && w.length > 1) w = w.slice(0, at) + w.slice(at + 1);
    else if (r < 0.9) w = w.slice(0, at) + pick(ODD) + w.slice(at);
    else w = w.slice(0, Math.max(1, at));
  }
  return w;
}

/** The same pairs on every call: the generator restarts from the seed. */
function pairs(): Array<[string, string]> {
  rand = prng(SEED);
  const out: Array<[string, string]> = [];
  while (out.length < PAIRS) {
    const a = version();
    const b = chance(0.85) ? neighbour(a) : version();
    out.push(chance(0.5) ? [a, b] : [b, a]);
  }
  return out;
}

/** One JSON pair a line in; out: "<", "=", ">" and both normalised forms, tab-separated, or "E" and which side is invalid ("E10"). */
const SCRIPT = `
import json, sys
from packaging.version import Version, InvalidVersion
out = []
for line in sys.stdin:
    a, b = json.loads(line)
    vs = []
    for v in (a, b):
        try:
            vs.append(Version(v))
        except InvalidVersion:
            vs.append(None)
    x, y = vs
    if x is None or y is None:
        out.append("E" + ("1" if x is None else "0") + ("1" if y is None else "0"))
        continue
    out.append(("<" if x < y else "=" if x == y else ">") + "\\t" + str(x) + "\\t" + str(y))
sys.stdout.write("\\n".join(out) + "\\n")
`;

function ours(a: string, b: string): string {
  const [va, vb] = [pep440Comparator.isValid(a), pep440Comparator.isValid(b)];
  if (!va || !vb) return `E${va ? 0 : 1}${vb ? 0 : 1}`;
  const c = ['<', '=', '>'][pep440Comparator.compare(a, b) + 1] as string;
  return `${c}\t${parsePep440(a).normalized}\t${parsePep440(b).normalized}`;
}

describe.skipIf(!PACKAGING)(`PEP 440 differential (python3-packaging ${PACKAGING ?? 'missing'})`, () => {
  it(`agrees with packaging.version.Version on ${PAIRS} seeded close pairs (seed ${SEED.toString(16)})`, { timeout: 120_000 }, async () => {
    const all = pairs();
    const input = all.map((p) => JSON.stringify(p)).join('\n') + '\n';
    const { stdout } = await run(PYTHON, ['-c', SCRIPT], { input, timeoutMs: 100_000 });
    const theirs = stdout.toString('utf8').split('\n').filter((l) => l !== '');
    expect(theirs).toHaveLength(all.length);
    const disagreements = all
      .map(([a, b], i) => ({ a, b, packaging: theirs[i], ours: ours(a, b) }))
      .filter((d) => d.packaging !== d.ours);
    expect(disagreements.slice(0, 20)).toEqual([]);
    const counts: Record<string, number> = { '<': 0, '=': 0, '>': 0, E: 0 };
    for (const t of theirs) counts[t[0] as string] = (counts[t[0] as string] ?? 0) + 1;
    expect(counts['<']! + counts['=']! + counts['>']!).toBeGreaterThanOrEqual(3000);
    expect(counts['=']).toBeGreaterThan(100);
    expect(counts['<']).toBeGreaterThan(500);
    expect(counts['>']).toBeGreaterThan(500);
    expect(counts['E']).toBeGreaterThan(300);
  });
});

if (!PACKAGING) {
  describe('PEP 440 differential', () => {
    it.skip(`skipped: ${PYTHON} -c "import packaging" failed (install python3-packaging; CI has it)`, () => {});
  });
}
