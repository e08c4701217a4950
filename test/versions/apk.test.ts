/**
 * apk version order: every row of apk-tools' own test file (test/unit/version.data), both
 * as the 738-row TSV and verbatim (comparisons, fuzzy "~" matches and validity lines),
 * then the order laws on generated versions. No apk-tools binary is available here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apkComparator, apkVersionProblem, compareApkUnchecked } from '../../shared/versions/apk.js';
import { InvalidVersionError, type Order } from '../../shared/versions/types.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { neg } from './support.js';

const VECTORS = join(SHARED_FIXTURES, 'version-vectors');
const { compare, isValid } = apkComparator;

function tsv(file: string): Array<[string, string, Order]> {
  return readFileSync(join(VECTORS, file), 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('left\t'))
    .map((l) => {
      const [a, b, e] = l.split('\t');
      return [a as string, b as string, Number(e) as Order];
    });
}

describe('apk vectors (version.data as TSV)', () => {
  const rows = tsv('apk-version.tsv');
  it('has every row', () => expect(rows.length).toBe(738));
  it.each(rows)('%s vs %s → %i', (a, b, expected) => {
    // apk-tools' own answer, which the file records even where a side is invalid
    expect(compareApkUnchecked(a, b)).toBe(expected);
    expect(compareApkUnchecked(b, a)).toBe(neg(expected));
    if (isValid(a) && isValid(b)) {
      expect(compare(a, b)).toBe(expected);
      expect(compare(b, a)).toBe(neg(expected));
    } else {
      // two rows ("23_foo", "1.0bc") compare an invalid version: the comparator refuses
      expect(() => compare(a, b)).toThrow(InvalidVersionError);
    }
  });
});

/**
 * The verbatim file has three line kinds, all run here: "v1 op v2" with op one of
 * < = > ~ <~ >~ (a '!' in front negates), "ver" (valid) and "!ver" (invalid; "!" alone is
 * the empty version). Trailing "# ..." comments are dropped.
 */
function dataLines(): Array<{ line: number; text: string; words: string[] }> {
  return readFileSync(join(VECTORS, 'apk-version.data.txt'), 'utf8')
    .split('\n')
    .map((text, i) => ({ line: i + 1, text: text.replace(/#.*/, '').trim(), words: [] as string[] }))
    .filter((l) => l.text !== '')
    .map((l) => ({ ...l, words: l.text.split(/\s+/) }));
}

const LESS = 2;
const EQUAL = 1;
const GREATER = 4;
const FUZZY = 8;

/** apk_version_match for an operator as version.data writes it. */
function matches(a: string, op: string, b: string): boolean {
  const negate = op.startsWith('!');
  let mask = 0;
  for (const c of negate ? op.slice(1) : op) {
    if (c === '<') mask |= LESS;
    else if (c === '>') mask |= GREATER;
    else if (c === '=') mask |= EQUAL;
    else if (c === '~') mask |= FUZZY | EQUAL;
    else throw new Error(`unknown operator ${op}`);
  }
  const r = compareApkUnchecked(a, b, (mask & FUZZY) !== 0);
  const ok = (([LESS, EQUAL, GREATER][r + 1] as number) & mask) !== 0;
  return negate ? !ok : ok;
}

describe('apk vectors (version.data verbatim)', () => {
  const lines = dataLines();
  const comparisons = lines.filter((l) => l.words.length === 3);
  const validity = lines.filter((l) => l.words.length === 1);

  it('has only the three known line kinds', () => {
    expect(comparisons.length + validity.length).toBe(lines.length);
    expect(comparisons.filter((l) => /~/.test(l.words[1]!)).length).toBe(16);
    expect(validity.length).toBe(31);
  });

  it.each(comparisons.map((l) => [l.line, l.text, l.words] as const))('line %i: %s', (_line, _text, [a, op, b]) => {
    expect(matches(a!, op!, b!)).toBe(true);
  });

  it.each(validity.map((l) => [l.line, l.words[0]!] as const))('line %i: %s', (_line, word) => {
    const valid = !word.startsWith('!');
    const v = valid ? word : word.slice(1);
    expect(isValid(v)).toBe(valid);
    if (valid) expect(compare(v, v)).toBe(0);
    else {
      expect(() => compare(v, '1.0')).toThrow(InvalidVersionError);
      expect(() => compare('1.0', v)).toThrow(`"${v}" is not a valid apk version`);
    }
  });
});

describe('apk order details', () => {
  it('orders suffixes around the release, and the revision after them', () => {
    const sorted = ['1.0_alpha', '1.0_alpha1', '1.0_beta', '1.0_pre', '1.0_rc2', '1.0', '1.0-r0', '1.0-r1', '1.0-r10', '1.0_cvs', '1.0_svn', '1.0_git20240101', '1.0_hg', '1.0_p1', '1.0a', '1.0.0'];
    for (let i = 0; i + 1 < sorted.length; i++) expect(compare(sorted[i]!, sorted[i + 1]!), `${sorted[i]} < ${sorted[i + 1]}`).toBe(-1);
  });

  it('compares a non-initial number with a leading zero as a string', () => {
    expect(compare('1.01', '1.1')).toBe(-1);
    expect(compare('1.10', '1.09')).toBe(1);
    expect(compare('1.001', '1.01')).toBe(-1);
    expect(compare('01.2', '1.2')).toBe(0); // the initial number is always numeric
  });

  it('places a commit hash after the plain version and after a revision, as apk-tools does', () => {
    expect(compare('1.0~abc', '1.0')).toBe(1);
    expect(compare('1.0~abc', '1.0-r1')).toBe(1);
    expect(compare('1.0~abc', '1.0~abd')).toBe(-1);
    expect(compare('1.0~abc-r1', '1.0~abc-r0')).toBe(1);
  });

  it('compares numbers of any length exactly', () => {
    expect(compare('1.' + '9'.repeat(30), '1.1' + '0'.repeat(30))).toBe(-1);
    expect(compare('18446744073709551617', '1')).toBe(1); // apk-tools' uint64 would wrap this to 1
    expect(compare('1.0-r' + '9'.repeat(25), '1.0-r1' + '0'.repeat(25))).toBe(-1);
  });

  it.each([
    ['', 'empty'],
    ['1.0-r', 'expected a digit'],
    ['1.0_foo', 'unknown suffix "_foo"'],
    ['1.0~', 'hex'],
    ['1.0~ABC', 'hex'],
    ['1.0-1', '-r<number>'],
    ['1.0-r1-r2', 'second revision'],
    ['1.0 ', 'unexpected'],
    ['1.0A', 'unexpected'],
    ['v1.0', 'expected a digit'],
  ])('rejects %j (%s)', (v, why) => {
    expect(apkVersionProblem(v)).toContain(why);
    try {
      compare(v, '1');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidVersionError);
      expect((e as InvalidVersionError).version).toBe(v);
      expect((e as Error).message).toContain(`"${v}"`);
    }
  });
});

const number = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('0', '1', '2', '9', '10', '11', '99', '100') },
  { weight: 2, arbitrary: fc.constantFrom('00', '01', '001', '010', '09') },
  { weight: 1, arbitrary: fc.stringMatching(/^[0-9]{1,25}$/) },
);
const suffix = fc
  .tuple(fc.constantFrom('alpha', 'beta', 'pre', 'rc', 'cvs', 'svn', 'git', 'hg', 'p'), fc.option(number, { nil: '' }))
  .map(([s, n]) => `_${s}${n}`);

/** Valid apk versions, built from the grammar with the awkward cases over-represented. */
const apkVersionArb: fc.Arbitrary<string> = fc
  .tuple(
    number,
    fc.array(number.map((n) => `.${n}`), { maxLength: 4 }),
    fc.option(fc.constantFrom('a', 'b', 'z'), { nil: '' }),
    fc.array(suffix, { maxLength: 2 }),
    fc.option(fc.constantFrom('~0', '~1234abcd', '~1234abce', '~ff', '~f'), { nil: '' }),
    fc.option(number.map((n) => `-r${n}`), { nil: '' }),
  )
  .map((parts) => parts.flat().join(''));

describe('apk order laws (fast-check)', () => {
  it('generates only valid versions', () => {
    fc.assert(fc.property(apkVersionArb, (v) => isValid(v)));
  });

  it('is reflexive and antisymmetric', () => {
    fc.assert(
      fc.property(apkVersionArb, apkVersionArb, (a, b) => {
        expect(compare(a, a)).toBe(0);
        expect(compare(b, a)).toBe(neg(compare(a, b)));
      }),
      { numRuns: 2000 },
    );
  });

  it('is transitive', () => {
    fc.assert(
      fc.property(apkVersionArb, apkVersionArb, apkVersionArb, (a, b, c) => {
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
      fc.property(fc.array(apkVersionArb, { maxLength: 25 }), (vs) => {
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
