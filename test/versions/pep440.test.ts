/**
 * pep440Comparator: every ordered pair of pypa/packaging's own sorted VERSIONS list (the
 * vectors in shared/fixtures), the list itself, normalisation and invalid inputs, and
 * total-order properties on generated versions.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidVersionError } from '../../shared/versions/types.js';
import { parsePep440, pep440Comparator } from '../../shared/versions/pep440.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const DIR = join(SHARED_FIXTURES, 'version-vectors');

function lines(file: string): string[] {
  return readFileSync(join(DIR, file), 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'));
}

const [header, ...rows] = lines('pep440-ordering.tsv');
const VECTORS = rows.map((l) => {
  const [left, right, expected] = l.split('\t');
  return [left as string, right as string, Number(expected)] as const;
});
const SORTED = lines('pep440-sorted.txt');

const cmp = pep440Comparator.compare;

describe('pep440Comparator vectors (pypa/packaging tests/test_version.py)', () => {
  it('reads the vector files', () => {
    expect(header).toBe('left\tright\texpected');
    expect(VECTORS).toHaveLength(8464);
    expect(SORTED).toHaveLength(92);
  });

  it.each(VECTORS)('%s vs %s → %i', (left, right, expected) => {
    expect(cmp(left, right)).toBe(expected);
  });

  it('sorts the list into the same order', () => {
    const shuffled = [...SORTED].reverse();
    expect(shuffled.sort(cmp)).toEqual(SORTED);
  });
});

describe('pep440 parsing and normalisation', () => {
  it.each([
    ['1.0', '1.0'],
    ['v1.0', '1.0'],
    ['V1.0', '1.0'],
    ['  1.0\n', '1.0'],
    ['1.0a1', '1.0a1'],
    ['1.0.alpha.1', '1.0a1'],
    ['1.0-ALPHA-1', '1.0a1'],
    ['1.0_beta_2', '1.0b2'],
    ['1.0c3', '1.0rc3'],
    ['1.0pre3', '1.0rc3'],
    ['1.0preview3', '1.0rc3'],
    ['1.0a', '1.0a0'],
    ['1.0-1', '1.0.post1'],
    ['1.0rev2', '1.0.post2'],
    ['1.0-r', '1.0.post0'],
    ['1.0.post', '1.0.post0'],
    ['1.0dev', '1.0.dev0'],
    ['1.0-dev-7', '1.0.dev7'],
    ['1.0a1.post2.dev3', '1.0a1.post2.dev3'],
    ['0!1.0', '1.0'],
    ['2!1.0', '2!1.0'],
    ['1.0+Ubuntu-1_Foo', '1.0+ubuntu.1.foo'],
    ['1.0+001', '1.0+1'],
    ['01.002.0', '1.2.0'],
    ['1.0.0.0.0.0', '1.0.0.0.0.0'],
    ['123456789012345678901234567890.1', '123456789012345678901234567890.1'],
  ])('%j normalises to %s', (input, normalized) => {
    expect(pep440Comparator.isValid(input)).toBe(true);
    expect(parsePep440(input).normalized).toBe(normalized);
  });

  it.each([
    'french toast',
    '1.0-beta-foo',
    '',
    ' ',
    'v',
    '1.0+',
    '1.0+a..b',
    '1.0+_a',
    '1.0+a_',
    '1.0.',
    '.1.0',
    '1..0',
    '1.0a1a2',
    '1.0.post1.post2',
    '1.0.dev1.post1',
    '1.0-',
    '1!',
    '!1.0',
    '1.0 a1',
    '1.0~rc1',
    '1.0-1-1',
    '1.0+ubuntu 1',
    'vv1.0',
    '1.0.x',
    '1.*',
    '١.٠', // Arabic-Indic digits
  ])('%j is invalid', (v) => {
    expect(pep440Comparator.isValid(v)).toBe(false);
    expect(() => parsePep440(v)).toThrow(InvalidVersionError);
    expect(() => cmp(v, '1.0')).toThrow(InvalidVersionError);
    expect(() => cmp('1.0', v)).toThrow(InvalidVersionError);
  });

  it('refuses the non-ASCII letters Python case-folds into ASCII ones (packaging accepts "1.0prevıew1")', () => {
    expect(pep440Comparator.isValid('1.0prevıew1')).toBe(false);
    expect(pep440Comparator.isValid('1.0+\u212a')).toBe(false);
  });

  it('names the scheme and the version in the error', () => {
    try {
      cmp('1.0', 'french toast');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidVersionError);
      expect(e).toMatchObject({ scheme: 'pep440', version: 'french toast', code: 'INVALID_VERSION' });
    }
  });
});

describe('pep440 order', () => {
  it.each([
    ['1.0', '1.0.0', 0],
    ['1', '1.0.0.0', 0],
    ['1.0.0.1', '1.0', 1],
    ['1.0', 'v1.0', 0],
    ['1.0a1', '1.0ALPHA1', 0],
    ['1.0c1', '1.0rc1', 0],
    ['1.0-1', '1.0.post1', 0],
    ['1.0', '1.0+0', -1],
    ['1.0+1', '1.0+01', 0],
    ['1.0+a', '1.0+1', -1],
    ['1.0+1.a', '1.0+1', 1],
    ['1.0+abc', '1.0+abd', -1],
    ['1.0+ubuntu-1', '1.0+ubuntu.1', 0],
    ['1.0.dev1', '1.0a1.dev1', -1],
    ['1.0a1.dev1', '1.0a1', -1],
    ['1.0a1.post1.dev1', '1.0a1.post1', -1],
    ['1.0a1.post1', '1.0b1', -1],
    ['1.0rc9', '1.0', -1],
    ['1.0.post1.dev1', '1.0', 1],
    ['1.0.post1.dev1', '1.0.post1', -1],
    ['1!0.1', '99.0', 1],
    ['0!2.0', '2.0', 0],
    ['1.0.dev99999999999999999999', '1.0.dev99999999999999999998', 1],
    ['99999999999999999999999999.0', '99999999999999999999999998.9', 1],
    ['1.10', '1.9', 1],
  ])('%s vs %s → %i', (a, b, expected) => {
    expect(cmp(a, b)).toBe(expected);
    expect(cmp(b, a)).toBe(-expected || 0);
  });
});

/** Realistic PEP 440 versions: epochs, pre/post/dev in all spellings, locals. */
const num = fc.oneof(fc.constantFrom('0', '1', '2', '10', '00', '01'), fc.bigInt({ min: 0n, max: 10n ** 25n }).map(String));
const sep = fc.constantFrom('', '.', '-', '_');
const version = fc
  .record({
    v: fc.constantFrom('', '', 'v'),
    epoch: fc.option(num, { freq: 5 }),
    release: fc.array(num, { minLength: 1, maxLength: 5 }),
    pre: fc.option(fc.tuple(sep, fc.constantFrom('a', 'b', 'c', 'rc', 'alpha', 'beta', 'pre', 'preview', 'RC'), sep, fc.option(num))),
    post: fc.option(fc.oneof(num.map((n) => `-${n}`), fc.tuple(sep, fc.constantFrom('post', 'rev', 'r'), sep, fc.option(num)).map(([s1, l, s2, n]) => (n === null ? `${s1}${l}` : `${s1}${l}${s2}${n}`)))),
    dev: fc.option(fc.tuple(sep, sep, fc.option(num))),
    local: fc.option(fc.array(fc.oneof(num, fc.constantFrom('a', 'ubuntu', 'Foo', 'x1', '1x', 'abc')), { minLength: 1, maxLength: 4 })),
  })
  .map(({ v, epoch, release, pre, post, dev, local }) => {
    let s = v + (epoch === null ? '' : `${epoch}!`) + release.join('.');
    if (pre) s += pre[0] + pre[1] + (pre[3] === null ? '' : pre[2] + pre[3]);
    if (post) s += post;
    if (dev) s += `${dev[0]}dev` + (dev[2] === null ? '' : dev[1] + dev[2]);
    if (local) s += '+' + local.join('.');
    return s;
  });

describe('pep440 total order (fast-check)', () => {
  it('generated versions are valid', () => {
    fc.assert(fc.property(version, (v) => pep440Comparator.isValid(v)));
  });

  it('is reflexive, and a version equals its normalised form', () => {
    fc.assert(
      fc.property(version, (v) => {
        expect(cmp(v, v)).toBe(0);
        expect(cmp(v, parsePep440(v).normalized)).toBe(0);
        expect(parsePep440(parsePep440(v).normalized).normalized).toBe(parsePep440(v).normalized);
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
        const again = [...vs].reverse().sort(cmp);
        again.forEach((v, i) => expect(cmp(v, sorted[i] as string)).toBe(0));
      }),
    );
  });
});
