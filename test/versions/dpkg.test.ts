/**
 * dpkg version order: every row of dpkg's own test vectors (scripts/t/Dpkg_Version.t), the
 * error/warning split of parseversion, and the order laws on generated tricky versions.
 * The comparison with the real dpkg binary is in dpkg-differential.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dpkgComparator, dpkgVerrevcmp, parseDpkgVersion } from '../../shared/versions/dpkg.js';
import { InvalidVersionError } from '../../shared/versions/types.js';
import { neg, versionVectors as vectors } from './support.js';

const { compare, isValid } = dpkgComparator;

describe('dpkg vectors (Dpkg_Version.t)', () => {
  const rows = vectors('dpkg-version.tsv');
  it('has every row', () => expect(rows.length).toBe(43));
  it.each(rows)('%s vs %s → %i', (a, b, expected) => {
    expect(compare(a, b)).toBe(expected);
    expect(compare(b, a)).toBe(neg(expected));
  });
});

describe('dpkg parsing', () => {
  it('splits epoch, upstream and revision at the first colon and the last hyphen', () => {
    expect(parseDpkgVersion('2:1.0:x-y-3')).toEqual({ epoch: 2, upstream: '1.0:x-y', revision: '3' });
    expect(parseDpkgVersion('  1.0  ')).toEqual({ epoch: 0, upstream: '1.0', revision: '' });
    expect(parseDpkgVersion('007:1')).toEqual({ epoch: 7, upstream: '1', revision: '' });
  });

  it('reads the epoch as strtol does: a sign and leading whitespace are accepted', () => {
    expect(parseDpkgVersion('+1:2').epoch).toBe(1);
    expect(parseDpkgVersion('-0:2').epoch).toBe(0);
    expect(parseDpkgVersion('\n1:2').epoch).toBe(1);
    expect(parseDpkgVersion('2147483647:1').epoch).toBe(2147483647);
  });

  it.each([
    ['', 'empty'],
    ['   ', 'empty'],
    ['1 0', 'embedded spaces'],
    ['1.0\t-1 ', 'embedded spaces'],
    [':1', 'epoch in version is empty'],
    ['a:1', 'epoch in version is empty'],
    ['1a:2', 'not number'],
    ['0x1:1', 'not number'],
    ['-1:2', 'negative'],
    ['2147483648:1', 'too big'],
    ['99999999999999999999:1', 'too big'],
    ['1:', 'nothing after colon'],
    ['1-', 'revision number is empty'],
    ['1.0-', 'revision number is empty'],
    ['-1', 'version number is empty'],
    ['1:-1', 'version number is empty'],
    ['1\0', 'NUL'],
  ])('rejects %j (%s)', (v, why) => {
    expect(isValid(v)).toBe(false);
    expect(() => compare(v, '1')).toThrow(InvalidVersionError);
    expect(() => compare('1', v)).toThrow(why);
    try {
      compare(v, '1');
    } catch (e) {
      expect((e as InvalidVersionError).version).toBe(v);
      expect((e as Error).message).toContain(`"${v}"`);
    }
  });

  it.each([
    ['a1', 'does not start with digit'],
    ['<unknown>', 'does not start with digit'],
    ['1_0', 'invalid character in version number'],
    ['1@', 'invalid character in version number'],
    ['1.0-a_b', 'invalid character in revision number'],
    ['é1', 'does not start with digit'],
  ])('accepts %j with dpkg’s warning (%s)', (v, warning) => {
    expect(isValid(v)).toBe(true);
    expect(parseDpkgVersion(v).warning).toContain(warning);
  });
});

describe('dpkg order details', () => {
  it('compares digit runs of any length without overflow', () => {
    expect(compare('1.' + '9'.repeat(40), '1.1' + '0'.repeat(40))).toBe(-1);
    expect(compare('1.' + '0'.repeat(30) + '12345678901234567890', '1.12345678901234567890')).toBe(0);
    expect(compare('99999999999999999999', '99999999999999999998')).toBe(1);
  });

  it('sorts ~ before the end, the end before letters, letters before other characters', () => {
    const sorted = ['1~~', '1~~a', '1~', '1', '1A', '1Z', '1a', '1z', '1+', '1.'];
    for (let i = 0; i + 1 < sorted.length; i++) expect(compare(sorted[i]!, sorted[i + 1]!), `${sorted[i]} < ${sorted[i + 1]}`).toBe(-1);
  });

  it('sorts non-ASCII bytes as dpkg does (signed char: after letters, before ASCII punctuation)', () => {
    expect(compare('1é', '1z')).toBe(1);
    expect(compare('1é', '1+')).toBe(-1);
    expect(dpkgVerrevcmp('é', 'è')).toBe(1);
  });

  it('treats a missing revision as "0" and compares epochs first', () => {
    expect(compare('1.0', '1.0-0')).toBe(0);
    expect(compare('1.0', '1.0-00')).toBe(0);
    expect(compare('1:0.1', '0:99')).toBe(1);
  });
});

/** Versions built from the pieces that make dpkg's order interesting. */
const dpkgPart = (alphabet: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.array(fc.oneof({ weight: 3, arbitrary: digitRun() }, { weight: 3, arbitrary: alphabet }), { minLength: 0, maxLength: 6 }).map((xs) => xs.join(''));

function digitRun(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom('0', '1', '2', '9', '10', '00', '01', '010'),
    fc.stringMatching(/^[0-9]{1,30}$/),
  );
}

const upstreamChar = fc.constantFrom('.', '+', '~', '~~', 'a', 'b', 'Z', 'rc', 'p', 'dfsg', 'é');
const revisionChar = fc.constantFrom('.', '+', '~', 'a', 'b', 'Z', 'ubuntu', 'deb', 'build');

const dpkgVersionArb: fc.Arbitrary<string> = fc
  .record({
    epoch: fc.option(fc.constantFrom('0', '1', '2', '01', '10', '2147483647'), { nil: undefined }),
    first: digitRun(),
    upstream: dpkgPart(upstreamChar),
    revision: fc.option(fc.tuple(digitRun(), dpkgPart(revisionChar)).map(([d, r]) => d + r), { nil: undefined }),
    colonInUpstream: fc.boolean(),
    hyphenInUpstream: fc.boolean(),
  })
  .map(({ epoch, first, upstream, revision, colonInUpstream, hyphenInUpstream }) => {
    let up = first + upstream;
    // ':' in the upstream only with an epoch, '-' only with a revision (as dpkg requires)
    if (epoch !== undefined && colonInUpstream) up += ':1';
    if (revision !== undefined && hyphenInUpstream) up += '-1';
    return (epoch !== undefined ? `${epoch}:` : '') + up + (revision !== undefined ? `-${revision}` : '');
  });

describe('dpkg order laws (fast-check)', () => {
  it('generates only valid versions', () => {
    fc.assert(fc.property(dpkgVersionArb, (v) => isValid(v)));
  });

  it('is reflexive and antisymmetric', () => {
    fc.assert(
      fc.property(dpkgVersionArb, dpkgVersionArb, (a, b) => {
        expect(compare(a, a)).toBe(0);
        expect(compare(b, a)).toBe(neg(compare(a, b)));
      }),
      { numRuns: 2000 },
    );
  });

  it('is transitive', () => {
    fc.assert(
      fc.property(dpkgVersionArb, dpkgVersionArb, dpkgVersionArb, (a, b, c) => {
        const [x, y, z] = [a, b, c].sort(compare) as [string, string, string];
        expect(compare(x, y)).toBeLessThanOrEqual(0);
        expect(compare(y, z)).toBeLessThanOrEqual(0);
        expect(compare(x, z)).toBeLessThanOrEqual(0);
        if (compare(x, y) === 0 && compare(y, z) === 0) expect(compare(x, z)).toBe(0);
        if (compare(x, y) < 0 || compare(y, z) < 0) expect(compare(x, z)).toBe(-1);
      }),
      { numRuns: 2000 },
    );
  });

  it('sorts consistently: every pair of a sorted list is in order', () => {
    fc.assert(
      fc.property(fc.array(dpkgVersionArb, { maxLength: 25 }), (vs) => {
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
