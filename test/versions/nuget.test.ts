/**
 * NuGet version order: cases from NuGet.Versioning's own tests (VersionComparerTests,
 * NuGetVersionTest, VersionParsingTests) and the documented rules, NuGetVersion.TryParse's
 * refusals, and the order laws on generated NuGet versions. No .NET is available here to
 * compare with, so the parsing edge cases follow a reading of NuGet.Versioning's source.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nugetComparator } from '../../shared/versions/nuget.js';
import { InvalidVersionError, type Order } from '../../shared/versions/types.js';
import { neg } from './support.js';

const { compare, isValid } = nugetComparator;

describe('nuget order', () => {
  it.each<[string, string, Order]>([
    // VersionComparerTests (Default)
    ['1.0.0', '1.0.0', 0],
    ['1.0.0-BETA', '1.0.0-beta', 0],
    ['1.0.0-BETA+AA', '1.0.0-beta+aa', 0],
    ['1.0.0-BETA.X.y.5.77.0+AA', '1.0.0-beta.x.y.5.77.0+aa', 0],
    ['0.0.0', '1.0.0', -1],
    ['1.0.0', '1.1.0', -1],
    ['1.0.0', '1.0.1', -1],
    ['1.999.9999', '2.1.1', -1],
    ['1.0.0-BETA', '1.0.0-beta2', -1],
    ['1.0.0-beta+AA', '1.0.0+aa', -1],
    ['1.0.0-BETA', '1.0.0-beta.1+AA', -1],
    ['1.0.0-BETA.X.y.5.77.0+AA', '1.0.0-beta.x.y.5.79.0+aa', -1],
    ['1.0.0-BETA.X.y.5.79.0+AA', '1.0.0-beta.x.y.5.790.0+abc', -1],
    // NuGetVersionTest: legacy four-part versions and leading zeros
    ['1.0', '1.0.1', -1],
    ['1.23', '1.231', -1],
    ['1.4.5.6', '1.45.6', -1],
    ['1.4.5.6', '1.4.5.60', -1],
    ['1.01', '1.10', -1],
    ['1.01-alpha', '1.10-beta', -1],
    ['1.01.0-RC-1', '1.10.0-rc-2', -1],
    ['1.01-RC-1', '1.01', -1],
    ['1.01', '1.2-preview', -1],
    ['1.0', '1.0.0.0', 0],
    ['1.23.01', '1.23.1', 0],
    ['1.45.6', '1.45.6.0', 0],
    ['1.45.6-Alpha', '1.45.6-Alpha', 0],
    ['1.6.2-BeTa', '1.6.02-beta', 0],
    ['22.3.07     ', '22.3.07', 0],
    ['2', '2.0.0.0', 0],
    ['1.0.0.1', '1.0.0', 1],
    ['1.0.0.1-alpha', '1.0.0', 1],
    // SemVer 2.0 §11 precedence example
    ['1.0.0-alpha', '1.0.0-alpha.1', -1],
    ['1.0.0-alpha.1', '1.0.0-alpha.beta', -1],
    ['1.0.0-alpha.beta', '1.0.0-beta', -1],
    ['1.0.0-beta', '1.0.0-beta.2', -1],
    ['1.0.0-beta.2', '1.0.0-beta.11', -1],
    ['1.0.0-beta.11', '1.0.0-rc.1', -1],
    ['1.0.0-rc.1', '1.0.0', -1],
  ])('%j vs %j → %i', (a, b, expected) => {
    expect(compare(a, b)).toBe(expected);
    expect(compare(b, a)).toBe(neg(expected));
  });

  it('ignores build metadata', () => {
    expect(compare('1.0.0+a', '1.0.0+b')).toBe(0);
    expect(compare('1.0.0-rc.1+build.9', '1.0.0-rc.1')).toBe(0);
  });

  it('compares labels as Int32 when int.TryParse reads them, else ordinally ignoring case', () => {
    expect(compare('1.0.0-2', '1.0.0-10')).toBe(-1);
    expect(compare('1.0.0-9', '1.0.0-a')).toBe(-1); // numeric below alphanumeric
    expect(compare('1.0.0-1a', '1.0.0-1b')).toBe(-1);
    expect(compare('1.0.0--1', '1.0.0-0')).toBe(-1); // "-1" is a (negative) number to int.TryParse
    expect(compare('1.0.0-2147483647', '1.0.0-2147483648')).toBe(-1); // too big for Int32: a string
    expect(compare('1.0.0-2147483648', '1.0.0-a')).toBe(-1); // "2" < "A"
    expect(compare('1.0.0-a-b', '1.0.0-A-B')).toBe(0);
    expect(compare('1.0.0-a-b', '1.0.0-a')).toBe(1);
  });
});

describe('nuget validity (NuGetVersion.TryParse)', () => {
  it.each(['1', '1.0', '1.0.0', '1.0.0.0', '01.42.0', '1.0.0009.01-1.1+A', '  1.022-Beta', '23.2.3-Alpha  ', '1.2.3-X.y3+0', '1.2.3-0', '1.3.2-CTP-2-Refresh-Alpha', '1.0.0+Meta-A-B-C', '1.0.0+01', '2147483647.0', '1. 2', '1 .2'])(
    'accepts %j',
    (v) => expect(isValid(v)).toBe(true),
  );

  it.each([
    '',
    '   ',
    'v1.0',
    'V1.0.0',
    '1beta',
    '$version$',
    '1.2Av^c',
    '1.2..',
    '1.2.3.4.5',
    '1.2.3.Beta',
    '1.2.3.4This version is full of awesomeness!!',
    'So.is.this',
    '1.34.2Alpha',
    '1.34.2Release Candidate',
    '1.4.7-',
    '1.4.7-*',
    '1.4.7+*',
    '1.4.7-AA.01^',
    '1.4.7-AA.0A^',
    '1.4.7-A^A',
    '1.4.7+AA.01^',
    '1.0.0-01', // leading zero in a numeric label
    '1.0.0-a..b',
    '1.0.0+',
    '1.0.0-+meta',
    '1.0.0+a+b',
    '2147483648.0',
    '-1.0',
    '.1',
    '1.',
    '1 2',
  ])('refuses %j', (v) => {
    expect(isValid(v)).toBe(false);
    expect(() => compare(v, '1.0')).toThrow(InvalidVersionError);
    expect(() => compare('1.0', v)).toThrow(/not a valid nuget version/);
  });
});

const number = fc.oneof(fc.constantFrom('0', '1', '2', '10', '01', '007'), fc.integer({ min: 0, max: 2147483647 }).map(String));
const label = fc.oneof(
  fc.constantFrom('alpha', 'Alpha', 'ALPHA', 'beta', 'rc', 'RC', 'preview', 'a-b', 'A-B', '-', '-1', '0', '1', '2', '10', '11', '2147483648', '1a', 'x'),
  fc.integer({ min: 0, max: 3000000000 }).map(String),
);
const nugetVersionArb: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(number, { minLength: 1, maxLength: 4 }),
    fc.option(fc.array(label, { minLength: 1, maxLength: 4 }), { nil: undefined }),
    fc.option(fc.constantFrom('build', '01', 'sha.abc-1'), { nil: undefined }),
  )
  .map(([nums, labels, meta]) => nums.join('.') + (labels ? '-' + labels.join('.') : '') + (meta ? '+' + meta : ''));

describe('nuget order laws (fast-check)', () => {
  it('generates only valid versions', () => {
    fc.assert(fc.property(nugetVersionArb, (v) => isValid(v)), { numRuns: 3000 });
  });

  it('is reflexive and antisymmetric', () => {
    fc.assert(
      fc.property(nugetVersionArb, nugetVersionArb, (a, b) => {
        expect(compare(a, a)).toBe(0);
        expect(compare(b, a)).toBe(neg(compare(a, b)));
      }),
      { numRuns: 3000 },
    );
  });

  it('is transitive', () => {
    fc.assert(
      fc.property(nugetVersionArb, nugetVersionArb, nugetVersionArb, (a, b, c) => {
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
      fc.property(fc.array(nugetVersionArb, { maxLength: 25 }), (vs) => {
        const sorted = [...vs].sort(compare);
        for (let i = 0; i < sorted.length; i++) for (let j = i + 1; j < sorted.length; j++) expect(compare(sorted[i]!, sorted[j]!)).toBeLessThanOrEqual(0);
        const again = [...vs].reverse().sort(compare);
        again.forEach((v, i) => expect(compare(v, sorted[i]!)).toBe(0));
      }),
      { numRuns: 300 },
    );
  });
});
