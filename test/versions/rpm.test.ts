/**
 * RPM version order: every row of rpm's own rpmvercmp test (tests/rpmvercmp.at), EVR
 * handling (epoch, missing release), validity, the order laws on generated tricky
 * versions, and a comparison with the installed rpm's own rpmverCmp (rpm.vercmp in
 * rpm's embedded Lua) on seeded close pairs.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRpmEvr, rpmComparator, rpmvercmp } from '../../shared/versions/rpm.js';
import { InvalidVersionError } from '../../shared/versions/types.js';
import { neg, versionVectors as tsv } from './support.js';

const { compare, isValid } = rpmComparator;

describe('rpm vectors (rpmvercmp.at)', () => {
  const rows = tsv('rpm-rpmvercmp.tsv');
  it('has every row', () => expect(rows.length).toBe(91));
  it.each(rows)('%s vs %s → %i', (a, b, expected) => {
    expect(rpmvercmp(a, b)).toBe(expected);
    expect(rpmvercmp(b, a)).toBe(neg(expected));
    // version-only strings are EVRs without epoch or release
    expect(compare(a, b)).toBe(expected);
    expect(compare(b, a)).toBe(neg(expected));
  });
});

describe('rpm EVR', () => {
  it('splits epoch, version and release', () => {
    expect(parseRpmEvr('2:1.0-3.el9')).toEqual({ epoch: '2', version: '1.0', release: '3.el9' });
    expect(parseRpmEvr('1.0')).toEqual({ epoch: '0', version: '1.0' });
    expect(parseRpmEvr('1.0~rc1^git2-0.1')).toEqual({ epoch: '0', version: '1.0~rc1^git2', release: '0.1' });
  });

  it('compares the epoch first, numerically, defaulting to 0', () => {
    expect(compare('1:1.0-1', '9.9-9')).toBe(1);
    expect(compare('0:1.0-1', '1.0-1')).toBe(0);
    expect(compare('007:1.0', '7:1.0')).toBe(0);
    expect(compare('10:1', '9:2')).toBe(1);
    expect(compare('99999999999999999999:1', '99999999999999999998:2')).toBe(1);
  });

  it('compares the release only after an equal version', () => {
    expect(compare('1.0-10', '1.0-9')).toBe(1);
    expect(compare('1.1-1', '1.0-99')).toBe(1);
    expect(compare('1.0-1.el8_2', '1.0-1.el8_10')).toBe(-1);
  });

  it('sorts a missing release before every release, as rpmverCmp does', () => {
    expect(compare('1.0', '1.0-1')).toBe(-1);
    expect(compare('1.0', '1.0-~1')).toBe(-1);
    expect(compare('1.0', '1.0')).toBe(0);
    expect(compare('1.0-0', '1.0')).toBe(1);
  });

  it('handles tilde and caret in version and release', () => {
    expect(compare('1.0~rc1-1', '1.0-0')).toBe(-1);
    expect(compare('1.0^git1-1', '1.0-9')).toBe(1);
    expect(compare('1.0^git1-1', '1.0.1-1')).toBe(-1);
    expect(compare('1.0-1~1', '1.0-1')).toBe(-1);
    expect(compare('1.0-1^1', '1.0-1')).toBe(1);
  });

  it('compares digit runs of any length', () => {
    expect(compare('1.' + '9'.repeat(40), '1.1' + '0'.repeat(40))).toBe(-1);
    expect(compare('1.' + '0'.repeat(30) + '5', '1.5')).toBe(0);
  });

  it.each([
    ['', 'empty'],
    ['1.0 ', 'whitespace'],
    ['1 .0', 'whitespace'],
    ['1.0\n', 'whitespace'],
    [':1.0', 'epoch is empty'],
    ['a:1.0', "':'"],
    ['1:2:3', "':'"],
    ['1.0-1:2', "':'"],
    ['1.0-1-2', "more than one '-'"],
    ['-1', 'version is empty'],
    ['1:-1', 'version is empty'],
    ['1.0-', 'release is empty'],
  ])('rejects %j (%s)', (v, why) => {
    expect(isValid(v)).toBe(false);
    try {
      compare('1.0', v);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidVersionError);
      expect((e as InvalidVersionError).version).toBe(v);
      expect((e as Error).message).toContain(`"${v}"`);
      expect((e as Error).message).toContain(why);
    }
  });
});

const segment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('0', '1', '2', '9', '10', '00', '01', '010', '123') },
  { weight: 1, arbitrary: fc.stringMatching(/^[0-9]{1,30}$/) },
  { weight: 3, arbitrary: fc.constantFrom('a', 'b', 'Z', 'rc', 'git', 'el', 'fc', 'p', 'pre', 'svn') },
  { weight: 4, arbitrary: fc.constantFrom('.', '.', '_', '+', '~', '^', '~~', '^^') },
);
const part = fc.array(segment, { minLength: 1, maxLength: 7 }).map((xs) => xs.join(''));
const epoch = fc.option(fc.constantFrom('0', '1', '2', '01', '10', '99999999999999999999'), { nil: undefined });

/** EVRs built from what makes rpmvercmp interesting. */
const rpmEvrArb: fc.Arbitrary<string> = fc
  .tuple(epoch, part, fc.option(part, { nil: undefined }))
  .map(([e, v, r]) => (e !== undefined ? `${e}:` : '') + v + (r !== undefined ? `-${r}` : ''));

describe('rpm order laws (fast-check)', () => {
  it('generates only valid versions', () => {
    fc.assert(fc.property(rpmEvrArb, (v) => isValid(v)));
  });

  it('is reflexive and antisymmetric', () => {
    fc.assert(
      fc.property(rpmEvrArb, rpmEvrArb, (a, b) => {
        expect(compare(a, a)).toBe(0);
        expect(compare(b, a)).toBe(neg(compare(a, b)));
      }),
      { numRuns: 2000 },
    );
  });

  it('is transitive', () => {
    fc.assert(
      fc.property(rpmEvrArb, rpmEvrArb, rpmEvrArb, (a, b, c) => {
        const [x, y, z] = [a, b, c].sort(compare) as [string, string, string];
        expect(compare(x, z)).toBeLessThanOrEqual(0);
        if (compare(x, y) === 0 && compare(y, z) === 0) expect(compare(x, z)).toBe(0);
        if (compare(x, y) < 0 || compare(y, z) < 0) expect(compare(x, z)).toBe(-1);
      }),
      { numRuns: 2000 },
    );
  });

  it('sorts consistently: every pair of a sorted list is in order, whatever the input order', () => {
    fc.assert(
      fc.property(fc.array(rpmEvrArb, { maxLength: 25 }), (vs) => {
        const sorted = [...vs].sort(compare);
        for (let i = 0; i < sorted.length; i++)
          for (let j = i + 1; j < sorted.length; j++) expect(compare(sorted[i]!, sorted[j]!)).toBeLessThanOrEqual(0);
        const again = [...vs].reverse().sort(compare);
        again.forEach((v, i) => expect(compare(v, sorted[i]!)).toBe(0));
      }),
      { numRuns: 300 },
    );
  });
});

const RPM = '/usr/bin/rpm';
const SEED = 0x79_6d_20;

describe.skipIf(!existsSync(RPM))('rpm.vercmp (the installed rpm) differential', () => {
  const work = mkdtempSync(join(tmpdir(), 'rpm-diff-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('agrees with rpm on 3000 seeded close pairs', { timeout: 60_000 }, async () => {
    // close pairs: a shared EVR prefix, then different tails
    const pairArb = fc.tuple(rpmEvrArb, part, part, fc.boolean()).map(([base, x, y, sameTail]) => {
      const a = base + x;
      const b = sameTail ? a : base + y;
      return [a, b] as const;
    });
    const pairs = fc.sample(pairArb, { seed: SEED, numRuns: 3000 }).filter(([a, b]) => isValid(a) && isValid(b));
    expect(pairs.length).toBeGreaterThan(2500);
    const file = join(work, 'pairs.tsv');
    writeFileSync(file, pairs.map(([a, b]) => `${a}\t${b}\n`).join(''));
    const lua = `%{lua: local out = {}; for line in io.lines("${file}") do local a, b = line:match("^([^\\t]*)\\t(.*)$"); out[#out+1] = rpm.vercmp(a, b) end; print(table.concat(out, " "))}`;
    const { stdout } = await promisify(execFile)(RPM, ['--eval', lua], { maxBuffer: 1 << 22 });
    const theirs = stdout.trim().split(' ').map(Number);
    expect(theirs).toHaveLength(pairs.length);
    const disagreements = pairs.map(([a, b], i) => ({ a, b, rpm: theirs[i], ours: compare(a, b) })).filter((d) => d.rpm !== d.ours);
    expect(disagreements.slice(0, 20)).toEqual([]);
    for (const outcome of [-1, 0, 1]) expect(theirs.filter((r) => r === outcome).length).toBeGreaterThan(300);
  });
});
