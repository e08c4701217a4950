/**
 * Maven version order: every row of the shared ComparableVersionTest vectors (both ways),
 * the test's cases that use variables and so are not in the vectors (MNG-5568, MNG-6572,
 * MNG-6964, MNG-7644, MNG-7714, leading zeros, non-ASCII), the refusals, and the order laws
 * on generated Maven-looking versions.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mavenComparator } from '../../shared/versions/maven.js';
import { InvalidVersionError, type Order } from '../../shared/versions/types.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { neg } from './support.js';

const { compare, isValid } = mavenComparator;

function vectors(): Array<[string, string, Order]> {
  return readFileSync(join(SHARED_FIXTURES, 'version-vectors', 'maven-comparableversion.tsv'), 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('left\t'))
    .map((l) => {
      const [a, b, e] = l.split('\t');
      return [a as string, b as string, Number(e) as Order];
    });
}

/** a < b < c … for every pair, both ways. */
function expectAscending(...versions: string[]): void {
  for (let i = 0; i < versions.length; i++)
    for (let j = i + 1; j < versions.length; j++) {
      expect(compare(versions[i]!, versions[j]!), `${versions[i]} < ${versions[j]}`).toBe(-1);
      expect(compare(versions[j]!, versions[i]!), `${versions[j]} > ${versions[i]}`).toBe(1);
    }
}

function expectEqual(...versions: string[]): void {
  for (const a of versions) for (const b of versions) expect(compare(a, b), `${a} == ${b}`).toBe(0);
}

describe('maven vectors (ComparableVersionTest)', () => {
  const rows = vectors();
  it('has every row', () => expect(rows.length).toBe(1143));
  it.each(rows)('%s vs %s → %i', (a, b, expected) => {
    expect(compare(a, b)).toBe(expected);
    expect(compare(b, a)).toBe(neg(expected));
  });
});

describe('maven cases beyond the vectors', () => {
  it('MNG-5568: an odd "H" in the middle keeps the order transitive', () => {
    expectAscending('6.1.0rc3', '6.1.0', '6.1H.5-beta');
  });

  it('MNG-6572: int, long and BigInteger items order by size', () => {
    expectAscending('20190126.230843', '1234567890.12345', '123456789012345.1H.5-beta', '12345678901234567890.1H.5-beta');
  });

  it('leading zeros are ignored, for every length', () => {
    expectEqual(...Array.from({ length: 19 }, (_, i) => '0'.repeat(i) + '1'));
    expectEqual(...Array.from({ length: 19 }, (_, i) => '0'.repeat(i + 1)));
  });

  it('MNG-6964: "1-0.alpha" and "1-0.beta" are below "1", not equal to it', () => {
    expectAscending('1-0.alpha', '1-0.beta', '1');
  });

  it.each(['abc', 'alpha', 'a', 'beta', 'b', 'def', 'milestone', 'm', 'RC'])('MNG-7644: 1.0.0.%s1 < 1.0.0-X2 and 2-X == 2.0.X == 2.0.0.X', (x) => {
    expectAscending(`1.0.0.${x}1`, `1.0.0-${x}2`);
    expectEqual(`2-${x}`, `2.0.${x}`, `2.0.0.${x}`);
  });

  it('MNG-7714: a service pack after "final" is above it, however it is spelled', () => {
    for (const sp of ['1.0-sp1-redhat', '1.0-sp-1-redhat', '1.0-sp.1-redhat']) expectAscending('1.0.final-redhat', sp);
  });

  it('a release qualifier with a number is above the plain release (1-ga1 > 1, transitively)', () => {
    expectAscending('1', '1-ga1', '1-ga2');
    expectEqual('1', '1-ga0', '1-final', '1.0-release');
  });

  it('orders digits above letters and non-ASCII text, letters case-insensitively', () => {
    expectAscending('J', '7');
    expectAscending('c', '7');
    expectAscending('\u0668', '1', '9'); // Arabic-Indic eight is not a digit to Maven
    expectAscending('\uD835\uDFE4', '1'); // nor is MATHEMATICAL SANS-SERIF DIGIT TWO
    expectAscending('aardvark', 'zebra', 'ζέβρα');
    expectEqual('1.0.0-alpha1', '1.0.0-ALPHA1');
    expectEqual('1.a', '1.A');
    expectEqual('1.é', '1.É');
  });

  it('reads a/b/m as alpha/beta/milestone only before a digit', () => {
    expectEqual('1-a1', '1-alpha-1', '1.0alpha1');
    // "a" alone is an unknown qualifier: above every known one, the release included
    expectAscending('1-alpha1', '1', '1-sp', '1-a', '1-b', '1-m');
  });

  it('puts the documented qualifier order in place', () => {
    expectAscending('1-alpha', '1-beta', '1-milestone', '1-rc', '1-snapshot', '1', '1-sp', '1-abc', '1-xyz', '1-1', '1.1');
    expectEqual('1-rc', '1-cr', '1-RC');
    expectEqual('1', '1-ga', '1-final', '1-release', '1.0.0', '1-0');
  });
});

describe('maven validity', () => {
  it('accepts almost anything, as Maven does', () => {
    for (const v of ['1', 'x', '1.0-SNAPSHOT', '-', '.', '..1', '1--2', 'é', 'ζέβρα', '1 2', '2147483648', '9'.repeat(60), 'a'.repeat(256)]) expect(isValid(v), v).toBe(true);
  });

  it.each([
    ['', 'empty'],
    ['   ', 'empty'],
    ['\t\n', 'empty'],
    ['1.'.repeat(129), 'longer than 256'],
    ['1\uD835\uDFE4', 'not a number'], // Maven throws NumberFormatException here
    ['1-x\u0668y2', 'not a number'],
  ])('refuses %j (%s)', (v, why) => {
    expect(isValid(v)).toBe(false);
    expect(() => compare(v, '1')).toThrow(InvalidVersionError);
    expect(() => compare('1', v)).toThrow(why);
  });

  it('throws InvalidVersionError naming the scheme and the version', () => {
    try {
      compare('', '1');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidVersionError);
      expect(e).toMatchObject({ scheme: 'maven', version: '', code: 'INVALID_VERSION' });
    }
  });
});

const number = fc.oneof(fc.constantFrom('0', '1', '2', '9', '10', '00', '01', '123', '2147483648', '1234567890123', '12345678901234567890'), fc.stringMatching(/^[0-9]{1,25}$/));
const qualifier = fc.constantFrom('alpha', 'a', 'beta', 'b', 'milestone', 'm', 'rc', 'cr', 'RC', 'snapshot', 'SNAPSHOT', 'ga', 'final', 'release', 'sp', 'SP', 'abc', 'jre', 'redhat', 'x', 'é');
const mavenVersionArb: fc.Arbitrary<string> = fc
  .tuple(number, fc.array(fc.tuple(fc.constantFrom('.', '-', ''), fc.oneof(number, qualifier)), { maxLength: 6 }))
  .map(([head, rest]) => head + rest.map(([sep, part]) => sep + part).join(''));

describe('maven order laws (fast-check)', () => {
  it('generates only valid versions', () => {
    fc.assert(fc.property(mavenVersionArb, (v) => isValid(v)), { numRuns: 3000 });
  });

  it('is reflexive and antisymmetric', () => {
    fc.assert(
      fc.property(mavenVersionArb, mavenVersionArb, (a, b) => {
        expect(compare(a, a)).toBe(0);
        expect(compare(b, a)).toBe(neg(compare(a, b)));
      }),
      { numRuns: 3000 },
    );
  });

  it('is transitive', () => {
    fc.assert(
      fc.property(mavenVersionArb, mavenVersionArb, mavenVersionArb, (a, b, c) => {
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
      fc.property(fc.array(mavenVersionArb, { maxLength: 25 }), (vs) => {
        const sorted = [...vs].sort(compare);
        for (let i = 0; i < sorted.length; i++) for (let j = i + 1; j < sorted.length; j++) expect(compare(sorted[i]!, sorted[j]!)).toBeLessThanOrEqual(0);
        const again = [...vs].reverse().sort(compare);
        again.forEach((v, i) => expect(compare(v, sorted[i]!)).toBe(0));
      }),
      { numRuns: 300 },
    );
  });
});
