/**
 * dpkgComparator against the real `dpkg --compare-versions` on thousands of seeded,
 * deliberately close pairs (one is an edit of the other, so they share prefixes): the
 * order must agree on every pair, and so must validity (dpkg exits 2 on a syntax error).
 * All pairs go to a few shell loops at once rather than one dpkg spawn per test.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { dpkgComparator } from '../../shared/versions/dpkg.js';
import { prng } from '../support/prng.js';

const DPKG = '/usr/bin/dpkg';
const SEED = 0x5eed_d9c6;
const PAIRS = 5000;
const SHELLS = 4;

const rand = prng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
const chance = (p: number): boolean => rand() < p;

const DIGITS = ['0', '1', '2', '9', '10', '00', '01', '010', '123', '4294967296', '99999999999999999999', '000000000000000000001'];
const LETTERS = ['a', 'b', 'z', 'A', 'Z', 'rc', 'git', 'dfsg', 'ubuntu', 'p'];
const SEPARATORS = ['.', '.', '.', '+', '~', '~~', '.', '-', ':'];
/** dpkg only warns about these (or, for the blank, errors when embedded) */
const ODD = ['_', '@', 'é', ' ', '\t', '%'];
const EPOCHS = ['0:', '1:', '2:', '01:', '+1:', '10:', '2147483647:', '2147483648:', ':', 'a:', '-1:'];

function piece(): string {
  const r = rand();
  if (r < 0.4) return pick(DIGITS);
  if (r < 0.7) return pick(LETTERS);
  if (r < 0.97) return pick(SEPARATORS);
  return pick(ODD);
}

function version(): string {
  let v = chance(0.25) ? pick(EPOCHS) : '';
  v += chance(0.97) ? pick(DIGITS) : pick(LETTERS);
  const n = Math.floor(rand() * 7);
  for (let i = 0; i < n; i++) v += piece();
  if (chance(0.4)) v += '-' + pick(DIGITS) + (chance(0.4) ? pick(['ubuntu1', '+deb10u1', '~bpo1', '.1', 'build2', '+b1']) : '');
  return v;
}

/** A close neighbour of `v`: one to three small edits. */
function neighbour(v: string): string {
  let w = v;
  const edits = 1 + Math.floor(rand() * 3);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * (w.length + 1));
    const r = rand();
    if (r < 0.3) w = w.slice(0, at) + piece() + w.slice(at);
    else if (r < 0.5 && w.length > 1) w = w.slice(0, at) + w.slice(at + 1);
    else if (r < 0.65) w = w + pick(['~', '~rc1', '+1', '.0', '0', 'a', '-1', '-0', '^']);
    else if (r < 0.8) w = w.replace(/[0-9]/, pick(['0', '1', '9', '00']));
    else if (r < 0.9) w = /^[^:]*:/.test(w) ? w.replace(/^[^:]*:/, chance(0.5) ? '' : pick(EPOCHS)) : pick(EPOCHS) + w;
    else w = w.slice(0, at);
  }
  return w;
}

/** dpkg's command line takes "" and "<unknown>" as the blank version; the comparator does not. */
const comparable = (v: string): boolean => v.trim() !== '' && v !== '<unknown>';

function pairs(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  while (out.length < PAIRS) {
    const a = version();
    const b = chance(0.9) ? neighbour(a) : version();
    if (comparable(a) && comparable(b)) out.push(chance(0.5) ? [a, b] : [b, a]);
  }
  return out;
}

/** For each pair, one line: "<", "=", ">" or "E" (dpkg reported a syntax error). */
const SCRIPT = `
while IFS= read -r -d '' a && IFS= read -r -d '' b; do
  ${DPKG} --compare-versions -- "$a" lt "$b" 2>/dev/null; r=$?
  if [ $r -eq 0 ]; then echo '<'
  elif [ $r -eq 2 ]; then echo E
  elif ${DPKG} --compare-versions -- "$a" eq "$b" 2>/dev/null; then echo '='
  else echo '>'
  fi
done < "$1"
`;

const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'dpkg-diff-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function dpkgVerdicts(all: Array<[string, string]>): Promise<string[]> {
  const size = Math.ceil(all.length / SHELLS);
  const chunks = Array.from({ length: SHELLS }, (_, i) => all.slice(i * size, (i + 1) * size));
  const outputs = await Promise.all(
    chunks.map(async (chunk, i) => {
      const file = join(work, `pairs-${i}`);
      writeFileSync(file, chunk.map(([a, b]) => `${a}\0${b}\0`).join(''));
      const { stdout } = await run('bash', ['-c', SCRIPT, 'dpkg-diff', file], { maxBuffer: 1 << 24 });
      return stdout.split('\n').filter((l) => l !== '');
    }),
  );
  return outputs.flat();
}

function ours(a: string, b: string): string {
  if (!dpkgComparator.isValid(a) || !dpkgComparator.isValid(b)) return 'E';
  return ['<', '=', '>'][dpkgComparator.compare(a, b) + 1] as string;
}

describe.skipIf(!existsSync(DPKG))('dpkg --compare-versions differential', () => {
  it(`agrees with dpkg on ${PAIRS} seeded close pairs (seed ${SEED.toString(16)})`, { timeout: 120_000 }, async () => {
    const all = pairs();
    const theirs = await dpkgVerdicts(all);
    expect(theirs).toHaveLength(all.length);
    const disagreements = all
      .map(([a, b], i) => ({ a, b, dpkg: theirs[i], ours: ours(a, b) }))
      .filter((d) => d.dpkg !== d.ours);
    expect(disagreements.slice(0, 20)).toEqual([]);
    // most pairs must be real comparisons, with every outcome represented
    const counts = { '<': 0, '=': 0, '>': 0, E: 0 } as Record<string, number>;
    for (const t of theirs) counts[t] = (counts[t] ?? 0) + 1;
    expect((counts['<'] ?? 0) + (counts['='] ?? 0) + (counts['>'] ?? 0)).toBeGreaterThanOrEqual(3000);
    expect(counts['=']).toBeGreaterThan(50);
    expect(counts['E']).toBeGreaterThan(50);
  });
});

if (!existsSync(DPKG)) {
  describe('dpkg --compare-versions differential', () => {
    it.skip(`skipped: ${DPKG} is not installed`, () => {});
  });
}
