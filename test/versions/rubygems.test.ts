/**
 * RubyGems version order: cases from Gem::Version's documentation and rubygems' own
 * test_gem_version.rb (expected values checked against ruby 3.1 / rubygems 3.3), the
 * validity pattern, and the order laws on generated gem versions. The comparison with the
 * real Gem::Version is in rubygems-differential.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rubygemsComparator } from '../../shared/versions/rubygems.js';
import { InvalidVersionError, type Order } from '../../shared/versions/types.js';
import { neg } from './support.js';

const { compare, isValid } = rubygemsComparator;

describe('rubygems order', () => {
  it.each<[string, string, Order]>([
    ['1.0', '1.0.0', 0],
    ['1.0', '1', 0],
    ['1.01', '1.1', 0],
    [' 1.0 ', '1', 0],
    ['1.0', '1.0.a', 1],
    ['1.8.2', '0.0.0', 1],
    ['1.8.2', '1.8.2.a', 1],
    ['1.8.2.b', '1.8.2.a', 1],
    ['1.8.2.a', '1.8.2', -1],
    ['1.8.2.a10', '1.8.2.a9', 1],
    ['0.beta.1', '0.0.beta.1', 0],
    ['0.0.beta', '0.0.beta.1', -1],
    ['0.0.beta', '0.beta.1', -1],
    ['5.a', '5.0.0.rc2', -1],
    ['5.x', '5.0.0.rc2', 1],
    ['1.0.a.0', '1.a', 0],
    ['1.0b1', '1.0.b.1', 0],
    ['1.0.0.1', '1.0.0', 1],
    ['1.2.3.pre', '1.2.3', -1],
    ['3.0.0.rc1', '3.0.0.beta2', 1],
    ['99999999999999999999999', '99999999999999999999998', 1],
  ])('%s vs %s → %i', (a, b, expected) => {
    expect(compare(a, b)).toBe(expected);
    expect(compare(b, a)).toBe(neg(expected));
  });

  it('reads "-" as ".pre.": a hyphenated version is a prerelease', () => {
    expect(compare('1.0-1', '1.0')).toBe(-1);
    expect(compare('1.0.0-rc1', '1.0.0.rc1')).toBe(-1); // pre < rc
    expect(compare('2.0.0-beta', '2.0.0.beta')).toBe(1); // pre > beta
    expect(compare('1.0-a', '1.0.pre.a')).toBe(0);
  });

  it('compares letter runs by bytes, case-sensitively', () => {
    expect(compare('1.B', '1.a')).toBe(-1);
    expect(compare('1.a', '1.A')).toBe(1);
  });
});

describe('rubygems validity (ANCHORED_VERSION_PATTERN)', () => {
  it.each(['1', '1.0', '1.0 ', ' 1.0 ', '1.0\n', '\n1.0\n', '1.0.a', '1.0-a', '1.0--a', '1.0-a.-b', '1.0.0-rc1', '1.a1b2', '0001', '99999999999999999999999'])('accepts %j', (v) => {
    expect(isValid(v)).toBe(true);
  });

  it.each(['junk', '1..2', '1.0.-', '1.-', '-1', '1.2 3', 'a.1', '1.0.a!', '1_0', '.1', '1.', '1.0.+', '1.0-', '1.0\n2.0', 'v1.0', '1.0+build', 'é'])('refuses %j', (v) => {
    expect(isValid(v)).toBe(false);
    expect(() => compare(v, '1')).toThrow(InvalidVersionError);
    expect(() => compare('1', v)).toThrow(/not a valid rubygems version/);
  });

  it('refuses the blank version that Gem::Version reads as "0"', () => {
    for (const v of ['', ' ', '\t\n']) {
      expect(isValid(v)).toBe(false);
      expect(() => compare(v, '0')).toThrow(InvalidVersionError);
    }
  });
});

const segment = fc.oneof(fc.constantFrom('0', '0', '1', '2', '10', '01', '00', '123', '99999999999999999999'), fc.constantFrom('a', 'b', 'pre', 'rc', 'beta', 'A', 'Z', 'x', 'a1', 'rc2', '1a'));
const gemVersionArb: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('0', '1', '2', '10', '01'),
    fc.array(segment, { maxLength: 5 }),
    fc.option(fc.array(fc.oneof(segment, fc.constant('x-y')), { minLength: 1, maxLength: 3 }), { nil: undefined }),
  )
  .map(([head, parts, pre]) => [head, ...parts].join('.') + (pre ? '-' + pre.join('.') : ''));

describe('rubygems order laws (fast-check)', () => {
  it('generates only valid versions', () => {
    fc.assert(fc.property(gemVersionArb, (v) => isValid(v)), { numRuns: 3000 });
  });

  it('is reflexive and antisymmetric', () => {
    fc.assert(
      fc.property(gemVersionArb, gemVersionArb, (a, b) => {
        expect(compare(a, a)).toBe(0);
        expect(compare(b, a)).toBe(neg(compare(a, b)));
      }),
      { numRuns: 3000 },
    );
  });

  it('is transitive', () => {
    fc.assert(
      fc.property(gemVersionArb, gemVersionArb, gemVersionArb, (a, b, c) => {
        const ab = compare(a, b);
        const bc = compare(b, c);
        if (ab <= 0 && bc <= 0) expect(compare(a, c)).toBe(ab === 0 && bc === 0 ? 0 : -1);
        if (ab >= 0 && bc >= 0) expect(compare(a, c)).toBe(ab === 0 && bc === 0 ? 0 : 1);
      }),
      { numRuns: 5000 },
    );
  });

  it('sorts consistently: every pair of a sorted list is in order', () => {
    fc.assert(
      fc.property(fc.array(gemVersionArb, { maxLength: 25 }), (vs) => {
        const sorted = [...vs].sort(compare);
        for (let i = 0; i < sorted.length; i++) for (let j = i + 1; j < sorted.length; j++) expect(compare(sorted[i]!, sorted[j]!)).toBeLessThanOrEqual(0);
        const again = [...vs].reverse().sort(compare);
        again.forEach((v, i) => expect(compare(v, sorted[i]!)).toBe(0));
      }),
      { numRuns: 300 },
    );
  });
});
