/**
 * Composer version order: VersionParser::normalize on cases from composer/semver's tests
 * and docs, the order of stabilities and the quirks of PHP's version_compare that Composer
 * inherits (expected values checked against php 8.2 with composer/semver 3.3), the
 * refusals (branch names included), and the order laws on generated Composer versions.
 * The comparison with Composer itself is in composer-differential.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { composerComparator, composerNormalize, phpVersionCompare } from '../../shared/versions/composer.js';
import { InvalidVersionError, type Order } from '../../shared/versions/types.js';
import { neg } from './support.js';

const { compare, isValid } = composerComparator;

describe('composer normalisation (VersionParser::normalize)', () => {
  it.each([
    ['1.0.0', '1.0.0.0'],
    ['1.2.3.4', '1.2.3.4'],
    ['v1.0.0', '1.0.0.0'],
    ['V1.0.0', '1.0.0.0'],
    ['1.0', '1.0.0.0'],
    ['0', '0.0.0.0'],
    ['  1.0.0', '1.0.0.0'],
    ['00.01.03.04', '00.01.03.04'],
    ['1.0.0RC1dev', '1.0.0.0-RC1-dev'],
    ['1.0.0-rC15-dev', '1.0.0.0-RC15-dev'],
    ['1.0.0.RC.15-dev', '1.0.0.0-RC15-dev'],
    ['1.0.0-rc1', '1.0.0.0-RC1'],
    ['1.0.0-rc', '1.0.0.0-RC'],
    ['1.0.0-pl3', '1.0.0.0-patch3'],
    ['1.0.0-p1', '1.0.0.0-patch1'],
    ['1.0-dev', '1.0.0.0-dev'],
    ['1.0.0.dev', '1.0.0.0-dev'],
    ['1.0.0-alpha.dev', '1.0.0.0-alpha-dev'],
    ['1.0.0-beta-dev', '1.0.0.0-beta-dev'],
    ['1.0.0-beta.5+foo', '1.0.0.0-beta5'],
    ['1.0.0+foo', '1.0.0.0'],
    ['1.0.0+a.b', '1.0.0.0'],
    ['1.0.0-alpha.3.1+foo', '1.0.0.0-alpha3.1'],
    ['1.0.0-b5+foo', '1.0.0.0-beta5'],
    ['1.0.0-a1', '1.0.0.0-alpha1'],
    ['10.4.13beta.2', '10.4.13.0-beta2'],
    ['10.4.13-b', '10.4.13.0-beta'],
    ['1.0.0-stable', '1.0.0.0'],
    ['1.0.0-STABLE', '1.0.0.0-stable'], // only lower-case "stable" is dropped, as in Composer
    ['1.0.0 as 2.0.0', '1.0.0.0'],
    ['1.0.0@dev', '1.0.0.0'],
    ['99999.0', '99999.0.0.0'],
    ['100000.0', '100000.0'],
    ['20100102', '20100102'],
    ['v20100102', '20100102'],
    ['20100102-203040', '20100102.203040'],
    ['20100102.203040-p1', '20100102.203040-patch1'],
    ['2010.10.0', '2010.10.0.0'],
    ['2010-01-02', '2010.01.02'],
    ['2010-01-02.5', '2010.01.02.5'],
    ['2010.01.02', '2010.01.02.0'],
    ['1.x-dev', '1.9999999.9999999.9999999-dev'],
    ['1.2.*-dev', '1.2.9999999.9999999-dev'],
    ['dev-master', 'dev-master'],
    ['master', 'dev-master'],
  ])('%j → %j', (v, normalized) => {
    expect(composerNormalize(v)).toBe(normalized);
  });

  it.each(['20100102.0.3.4', '1.0.0.0.0', '1.0.0-RC1-stable', '1.0.0-dev-', 'foo', '', '1.0.0-alpha1beta', '1,0', 'é1.0'])('refuses %j', (v) => {
    expect(() => composerNormalize(v)).toThrow(InvalidVersionError);
  });
});

describe('composer order', () => {
  it('orders stabilities dev < alpha < beta < RC < stable < patch', () => {
    const ascending = ['1.0.0-dev', '1.0.0-alpha1', '1.0.0-beta1-dev', '1.0.0-beta1', '1.0.0-RC1', '1.0.0', '1.0.0-patch1', '1.0.1-dev', '1.0.1'];
    for (let i = 0; i < ascending.length; i++)
      for (let j = i + 1; j < ascending.length; j++) {
        expect(compare(ascending[i]!, ascending[j]!), `${ascending[i]} < ${ascending[j]}`).toBe(-1);
        expect(compare(ascending[j]!, ascending[i]!)).toBe(1);
      }
  });

  it.each<[string, string, Order]>([
    ['1.0.0-alpha', '1.0.0-a', 0],
    ['1.0.0-p1', '1.0.0-pl1', 0],
    ['1.0.0-beta2', '1.0.0-beta10', -1],
    ['1.0.0-beta1', '1.0.0-beta1.1', -1],
    ['1.0.0-beta2.0', '1.0.0-beta2', 1], // version_compare: a longer version ending in a number is greater
    ['1.0.0-beta', '1.0.0-beta0', -1],
    ['1.0.0-rc.1', '1.0.0-RC1', 0],
    ['1.0.0-alpha', '1.0.0-dev', 1],
    ['1.0', '1.0.0.0', 0],
    ['v1.0.0', '1.0', 0],
    ['00.01.03.04', '0.1.3.4', 0],
    ['1.0.0+a', '1.0.0+b', 0],
    ['1.0.0-stable', '1.0.0-dev', 1],
    ['1.0.0-STABLE', '1.0.0-dev', -1], // "stable" kept as an unknown word, below "dev"
    ['2010-01-02', '2010.01.02', -1], // "2010.01.02" has four parts once normalised
    ['2010.01.02', '2010.1.2', 0],
    ['20100102', '2010.01.02', 1],
    ['1.2.x-dev', '1.2.3', 1],
    ['1.2.x-dev', '1.3.0-dev', -1],
    ['1.9223372036854775806', '1.9223372036854775807', -1],
    ['1.9223372036854775807', '1.9223372036854775808', 0], // strtol saturates
  ])('%j vs %j → %i', (a, b, expected) => {
    expect(compare(a, b)).toBe(expected);
    expect(compare(b, a)).toBe(neg(expected));
  });

  it('implements version_compare itself, special forms and canonicalisation included', () => {
    expect(phpVersionCompare('1.0rc1', '1.0')).toBe(-1);
    expect(phpVersionCompare('1.0pl1', '1.0')).toBe(1);
    expect(phpVersionCompare('1.0-dev', '1.0a')).toBe(-1);
    expect(phpVersionCompare('1.0_1', '1.0+1')).toBe(0);
    expect(phpVersionCompare('1.0.0', '1.0')).toBe(1);
    expect(phpVersionCompare('1.0', '1.0.foo')).toBe(1); // unknown words are below everything
    expect(phpVersionCompare('', '')).toBe(0);
    expect(phpVersionCompare('', '1')).toBe(-1);
  });
});

describe('composer validity', () => {
  it('refuses branch names: Composer does not order them against versions', () => {
    for (const v of ['dev-master', 'DEV-feature/x', 'master', 'trunk', 'default', 'dev-1.0']) {
      expect(isValid(v), v).toBe(false);
      expect(() => compare(v, '1.0')).toThrow(/branch name/);
    }
  });

  it.each(['', ' ', 'foo', '1.0.0.0.0', '1.0.0-RC1-stable', 'x1.0', '1.0.0-beta..1', '1.0.0 2', '1.0.0-alpha1beta', 'dev'])('refuses %j', (v) => {
    expect(isValid(v)).toBe(false);
    expect(() => compare(v, '1.0')).toThrow(InvalidVersionError);
    expect(() => compare('1.0', v)).toThrow(/not a valid composer version/);
  });
});

const number = fc.oneof(fc.constantFrom('0', '1', '2', '10', '00', '01', '99999'), fc.integer({ min: 0, max: 100000 }).map(String));
const stability = fc.constantFrom('alpha', 'a', 'beta', 'b', 'RC', 'rc', 'patch', 'pl', 'p', 'stable', 'STABLE');
const composerVersionArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc
    .tuple(
      fc.constantFrom('', 'v'),
      fc.constantFrom('0', '1', '2', '10', '12345'),
      fc.array(number, { maxLength: 3 }),
      fc.option(fc.tuple(fc.constantFrom('-', '.', '', '_'), stability, fc.option(fc.array(number, { minLength: 1, maxLength: 2 }), { nil: undefined })), { nil: undefined }),
      fc.constantFrom('', '', '-dev', '.dev', '+build.5', '@dev'),
    )
    .map(([v, major, rest, mod, suffix]) => v + [major, ...rest].join('.') + (mod ? mod[0] + mod[1] + (mod[2] ? mod[2].join('.') : '') : '') + suffix) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('2010', '2024', '1999'), fc.array(fc.constantFrom('01', '12', '31'), { minLength: 1, maxLength: 4 }), fc.constantFrom('', '.5', '.123'), fc.constantFrom('.', '-', ''))
      .map(([y, parts, last, sep]) => [y, ...parts].join(sep) + (sep === '.' ? last : last.replace('.', sep))),
  },
  { weight: 1, arbitrary: fc.tuple(number, fc.constantFrom('.x', '.*', '.1.x', '.X'), fc.constantFrom('-dev', '.x-dev')).map(([a, b, c]) => a + b + c) },
);

describe('composer order laws (fast-check)', () => {
  it('generates only valid versions', () => {
    fc.assert(fc.property(composerVersionArb, (v) => isValid(v)), { numRuns: 3000 });
  });

  it('is reflexive and antisymmetric', () => {
    fc.assert(
      fc.property(composerVersionArb, composerVersionArb, (a, b) => {
        expect(compare(a, a)).toBe(0);
        expect(compare(b, a)).toBe(neg(compare(a, b)));
      }),
      { numRuns: 3000 },
    );
  });

  it('is transitive', () => {
    fc.assert(
      fc.property(composerVersionArb, composerVersionArb, composerVersionArb, (a, b, c) => {
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
      fc.property(fc.array(composerVersionArb, { maxLength: 25 }), (vs) => {
        const sorted = [...vs].sort(compare);
        for (let i = 0; i < sorted.length; i++) for (let j = i + 1; j < sorted.length; j++) expect(compare(sorted[i]!, sorted[j]!)).toBeLessThanOrEqual(0);
        const again = [...vs].reverse().sort(compare);
        again.forEach((v, i) => expect(compare(v, sorted[i]!)).toBe(0));
      }),
      { numRuns: 300 },
    );
  });
});
