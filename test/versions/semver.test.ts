/**
 * semverComparator: the SemVer 2.0 spec's precedence examples as a sorted list (every
 * ordered pair checked), validity as strict semver.valid decides it, big numeric
 * prerelease identifiers compared exactly, and total-order properties on generated
 * versions (checked against semver.compare where it is exact).
 */
import fc from 'fast-check';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { semverComparator } from '../../shared/versions/semver.js';
import { InvalidVersionError } from '../../shared/versions/types.js';

const cmp = semverComparator.compare;

/** Ascending; entries on one line are equal (build metadata is ignored). */
const SORTED: string[][] = [
  ['0.0.0-0'],
  ['0.0.0-alpha'],
  ['0.0.0'],
  ['0.0.1'],
  ['0.1.0'],
  ['0.9.9'],
  ['1.0.0-0'],
  ['1.0.0-0.0'],
  ['1.0.0-1'],
  ['1.0.0-2'],
  ['1.0.0-10'],
  ['1.0.0-9007199254740991'],
  ['1.0.0-9007199254740992'],
  ['1.0.0-9007199254740993'],
  ['1.0.0-99999999999999999999'],
  ['1.0.0-A'],
  ['1.0.0-Z'],
  ['1.0.0-a-b'],
  ['1.0.0-alpha', '1.0.0-alpha+build', 'v1.0.0-alpha'],
  ['1.0.0-alpha.1'],
  ['1.0.0-alpha.beta'],
  ['1.0.0-beta'],
  ['1.0.0-beta.2'],
  ['1.0.0-beta.11'],
  ['1.0.0-rc.1'],
  ['1.0.0-rc.1.0'],
  ['1.0.0-rc1'],
  ['1.0.0', '1.0.0+20130313144700', '1.0.0+exp.sha.5114f85', 'v1.0.0', ' 1.0.0 ', '1.0.0+0'],
  ['1.0.1-0'],
  ['1.0.1'],
  ['1.1.0'],
  ['1.2.3'],
  ['1.10.0'],
  ['2.0.0-rc.1'],
  ['2.0.0'],
  ['2.1.0'],
  ['2.1.1'],
  ['10.0.0'],
  ['9007199254740991.0.0'],
];

const PAIRS = SORTED.flatMap((group, i) =>
  group.flatMap((a) => SORTED.flatMap((other, j) => other.map((b) => [a, b, Math.sign(i - j)] as const))),
);

describe('semverComparator order', () => {
  it.each(PAIRS)('%j vs %j → %i', (a, b, expected) => {
    expect(cmp(a, b)).toBe(expected);
  });

  it('sorts a shuffled list back into order', () => {
    const flat = SORTED.map((g) => g[0] as string);
    expect([...flat].reverse().sort(cmp)).toEqual(flat);
  });

  it('tells big numeric prerelease identifiers apart, unlike semver.compare', () => {
    expect(semver.compare('1.0.0-9007199254740993', '1.0.0-9007199254740992')).toBe(0);
    expect(cmp('1.0.0-9007199254740993', '1.0.0-9007199254740992')).toBe(1);
  });
});

describe('semverComparator validity (strict semver.valid)', () => {
  it.each(['0.0.0', '1.2.3', 'v1.2.3', ' 1.2.3\t', '1.2.3-0', '1.2.3-alpha.0a', '1.2.3-0a.-', '1.2.3+001', '1.2.3+build.01.x-y', '1.2.3-----RC-SNAPSHOT.12.9.1--.12+788'])(
    '%j is valid',
    (v) => {
      expect(semverComparator.isValid(v)).toBe(true);
      expect(cmp(v, v)).toBe(0);
    },
  );

  it.each([
    '',
    'v',
    '1',
    '1.2',
    '=1.2.3',
    'V1.2.3',
    'vv1.2.3',
    '01.2.3',
    '1.02.3',
    '1.2.03',
    '1.2.3-01',
    '1.2.3-',
    '1.2.3+',
    '1.2.3-a..b',
    '1.2.3beta',
    '1.2.3.4',
    '1.2.3-a_b',
    '1.2.3 -beta',
    '-1.2.3',
    '1.2.x',
    '^1.2.3',
    '>=1.2.3',
    '1.2.3 || 2.0.0',
    '9007199254740992.0.0',
    '99999999999999999999.0.0',
    `1.2.3-${'a'.repeat(300)}`,
    'french toast',
  ])('%j is invalid', (v) => {
    expect(semverComparator.isValid(v)).toBe(false);
    expect(() => cmp(v, '1.0.0')).toThrow(InvalidVersionError);
    expect(() => cmp('1.0.0', v)).toThrow(InvalidVersionError);
  });

  it('names the scheme and the version in the error', () => {
    expect(() => cmp('1.0.0', '=1.0.0')).toThrow(expect.objectContaining({ scheme: 'semver', version: '=1.0.0', code: 'INVALID_VERSION' }));
  });
});

const num = fc.oneof(fc.constantFrom('0', '1', '2', '9', '10', '11'), fc.nat({ max: 1_000_000 }).map(String));
const bigNum = fc.bigInt({ min: 0n, max: 10n ** 22n }).map(String);
const alnum = fc.oneof(
  fc.constantFrom('alpha', 'beta', 'rc', 'RC', 'a', 'b', 'pre', 'x-y', '-', '0a', 'a0', 'SNAPSHOT', 'z'),
  fc.stringMatching(/^[0-9A-Za-z-]{0,5}[A-Za-z-][0-9A-Za-z-]{0,5}$/),
);
const ident = fc.oneof(num, alnum);
const version = fc
  .record({
    main: fc.tuple(num, num, num),
    pre: fc.option(fc.array(fc.oneof(ident, bigNum), { minLength: 1, maxLength: 4 })),
    build: fc.option(fc.array(fc.constantFrom('build', '001', 'sha', 'exp-1', '5114f85'), { minLength: 1, maxLength: 3 })),
    v: fc.constantFrom('', '', '', 'v'),
  })
  .map(({ main, pre, build, v }) => v + main.join('.') + (pre ? `-${pre.join('.')}` : '') + (build ? `+${build.join('.')}` : ''));

/** semver.compare is exact when no prerelease identifier is an unsafe integer. */
const exactForSemver = (v: string): boolean => !/[-.][0-9]{16,}(?=[.+]|$)/.test(v.replace(/\+.*/, ''));

describe('semverComparator total order (fast-check)', () => {
  it('generated versions are valid, and compare as semver.compare does where it is exact', () => {
    fc.assert(
      fc.property(version, version, (a, b) => {
        expect(semverComparator.isValid(a)).toBe(true);
        if (exactForSemver(a) && exactForSemver(b)) expect(cmp(a, b)).toBe(semver.compare(a, b));
      }),
    );
  });

  it('is reflexive and ignores build metadata', () => {
    fc.assert(
      fc.property(version, (v) => {
        expect(cmp(v, v)).toBe(0);
        expect(cmp(v, v.replace(/\+.*/, ''))).toBe(0);
      }),
    );
  });

  it('is antisymmetric', () => {
    fc.assert(fc.property(version, version, (a, b) => cmp(a, b) === (-cmp(b, a) || 0)));
  });

  it('is transitive', () => {
    fc.assert(
      fc.property(version, version, version, (a, b, c) => {
        const [x, y, z] = [a, b, c].sort(cmp) as [string, string, string];
        expect(cmp(x, y)).toBeLessThanOrEqual(0);
        expect(cmp(y, z)).toBeLessThanOrEqual(0);
        expect(cmp(x, z)).toBeLessThanOrEqual(0);
        if (cmp(x, y) === 0 && cmp(y, z) === 0) expect(cmp(x, z)).toBe(0);
      }),
    );
  });

  it('sorts consistently whatever the input order', () => {
    fc.assert(
      fc.property(fc.array(version, { maxLength: 30 }), (vs) => {
        const sorted = [...vs].sort(cmp);
        for (let i = 1; i < sorted.length; i++) expect(cmp(sorted[i - 1] as string, sorted[i] as string)).toBeLessThanOrEqual(0);
        [...vs].reverse().sort(cmp).forEach((v, i) => expect(cmp(v, sorted[i] as string)).toBe(0));
      }),
    );
  });
});
