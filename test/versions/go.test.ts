/**
 * goComparator: a sorted list of Go module versions (shorthands, prereleases,
 * pseudo-versions, +incompatible; every ordered pair checked), validity as
 * golang.org/x/mod/semver decides it, OSV's "v"-less form, isPseudoVersion, total-order
 * properties, and — when a Go toolchain is installed — a differential run against the
 * x/mod semver and module packages vendored in GOROOT (src/cmd/vendor), built in a
 * temporary module and spawned once for every seeded pair.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { goComparator, isPseudoVersion } from '../../shared/versions/go.js';
import { InvalidVersionError } from '../../shared/versions/types.js';
import { run } from '../support/exec.js';
import { prng } from '../support/prng.js';

const cmp = goComparator.compare;

/** Ascending; entries on one line are equal. */
const SORTED: string[][] = [
  ['v0.0.0-20170915032832-14c0d48ead0c', '0.0.0-20170915032832-14c0d48ead0c'],
  ['v0.0.0-20191109021931-daa7c04131f5'],
  ['v0.0.0', 'v0', 'v0.0', '0.0.0', '0'],
  ['v0.1.0-alpha'],
  ['v0.1.0', 'v0.1'],
  ['v0.1.1'],
  ['v1.0.0-0.20200101000000-aaaaaaaaaaaa'],
  ['v1.0.0-alpha', 'v1.0.0-alpha+build', '1.0.0-alpha'],
  ['v1.0.0-alpha.1'],
  ['v1.0.0-alpha.beta'],
  ['v1.0.0-beta'],
  ['v1.0.0-beta.2'],
  ['v1.0.0-beta.11'],
  ['v1.0.0-rc.1'],
  ['v1.0.0-rc.1.0.20200101000000-bbbbbbbbbbbb'],
  ['v1.0.0-rc.2'],
  ['v1.0.0', 'v1', 'v1.0', 'v1.0.0+meta', '1.0.0', '1'],
  ['v1.2.3'],
  ['v1.2.4-0.20191109021931-daa7c04131f5', '1.2.4-0.20191109021931-daa7c04131f5+incompatible'],
  ['v1.2.4-0.20191110000000-000000000000'],
  ['v1.2.4-pre'],
  ['v1.2.4-pre.0.20191109021931-daa7c04131f5'],
  ['v1.2.4', 'v1.2.4+incompatible'],
  ['v1.10.0', 'v1.10'],
  ['1.21.0-0'],
  ['1.21.0-rc.1'],
  ['1.21.0', 'v1.21.0', '1.21'],
  ['1.21.5'],
  ['v2.0.0-20180612201106-9f3313f4f211+incompatible'],
  ['v2.0.0+incompatible', 'v2.0.0', 'v2'],
  ['v2.3.4+incompatible'],
  ['v10.0.0'],
  ['v99999999999999999999.0.0'],
  ['v99999999999999999999.0.1'],
  ['v100000000000000000000.0.0'],
];

const PAIRS = SORTED.flatMap((group, i) =>
  group.flatMap((a) => SORTED.flatMap((other, j) => other.map((b) => [a, b, Math.sign(i - j)] as const))),
);

describe('goComparator order', () => {
  it.each(PAIRS)('%j vs %j → %i', (a, b, expected) => {
    expect(cmp(a, b)).toBe(expected);
  });

  it('sorts a shuffled list back into order', () => {
    const flat = SORTED.map((g) => g[0] as string);
    expect([...flat].reverse().sort(cmp)).toEqual(flat);
  });
});

describe('goComparator validity (x/mod semver.IsValid, "v" optional)', () => {
  it.each(['v0', 'v1.2', 'v1.2.3', '1.2.3', '1', 'v1.2.3-0', 'v1.2.3-0a.-', 'v1.2.3+001', 'v1.2.3-pre+incompatible', 'v18446744073709551616.0.0'])(
    '%j is valid',
    (v) => {
      expect(goComparator.isValid(v)).toBe(true);
      expect(cmp(v, v)).toBe(0);
    },
  );

  it.each([
    '',
    'v',
    'vv1.2.3',
    'V1.2.3',
    'go1.21.5',
    'v01.2.3',
    'v1.02.3',
    'v1.2.03',
    'v1.2.3-01',
    'v1.2.3-',
    'v1.2.3+',
    'v1.2.3-a..b',
    'v1.2.3-a_b',
    'v1.2.3.4',
    'v1.2.3beta',
    'v1-pre',
    'v1+meta',
    'v1.2-pre',
    'v1.2+incompatible',
    ' v1.2.3',
    'v1.2.3 ',
    'v1.2.x',
    'latest',
    '-1.2.3',
  ])('%j is invalid', (v) => {
    expect(goComparator.isValid(v)).toBe(false);
    expect(() => cmp(v, 'v1.0.0')).toThrow(InvalidVersionError);
    expect(() => cmp('v1.0.0', v)).toThrow(InvalidVersionError);
  });

  it('names the scheme and the version in the error', () => {
    expect(() => cmp('v1.0.0', 'v1.2-pre')).toThrow(expect.objectContaining({ scheme: 'go', version: 'v1.2-pre', code: 'INVALID_VERSION' }));
  });
});

describe('isPseudoVersion', () => {
  it.each([
    'v0.0.0-20191109021931-daa7c04131f5',
    'v2.0.0-20180612201106-9f3313f4f211+incompatible',
    'v1.2.4-0.20191109021931-daa7c04131f5',
    'v1.2.4-pre.0.20191109021931-daa7c04131f5',
    'v1.2.4-rc.1.0.20191109021931-daa7c04131f5',
    '0.0.0-20191109021931-daa7c04131f5',
  ])('%j is a pseudo-version', (v) => expect(isPseudoVersion(v)).toBe(true));

  it.each([
    'v1.2.3',
    'v1.2.4-pre',
    'v1.2.3-20191109021931-daa7c04131f5', // the no-tag form is only vX.0.0
    'v1.2.4-1.20191109021931-daa7c04131f5',
    'v0.0.0-2019110902193-daa7c04131f5',
    'v0.0.0-20191109021931-',
    'v0.0.0-20191109021931-daa7c04131f5-x',
    'v0.0-20191109021931-daa7c04131f5',
    'not a version',
  ])('%j is not a pseudo-version', (v) => expect(isPseudoVersion(v)).toBe(false));
});

const num = fc.oneof(fc.constantFrom('0', '1', '2', '9', '10'), fc.bigInt({ min: 0n, max: 10n ** 22n }).map(String));
const ident = fc.oneof(num, fc.constantFrom('alpha', 'beta', 'rc', 'pre', 'a', 'A', '-', '0a', 'x-y'));
const timestamp = fc.integer({ min: 0, max: 30 }).map((d) => `20${String(10 + d).padStart(2, '0')}0102150405`);
const rev = fc.constantFrom('daa7c04131f5', '000000000000', 'ffffffffffff', '9f3313f4f211');
const build = fc.option(fc.constantFrom('+incompatible', '+meta', '+001.x'), { freq: 3 });
const release = fc.tuple(num, num, num);
const version = fc
  .oneof(
    fc.tuple(num, fc.option(num)).map(([a, b]) => (b === null ? `v${a}` : `v${a}.${b}`)),
    fc.tuple(release, fc.option(fc.array(ident, { minLength: 1, maxLength: 4 })), build).map(([r, pre, b]) => `v${r.join('.')}${pre ? `-${pre.join('.')}` : ''}${b ?? ''}`),
    fc.tuple(num, timestamp, rev, build).map(([m, t, h, b]) => `v${m}.0.0-${t}-${h}${b ?? ''}`),
    fc.tuple(release, timestamp, rev, build).map(([r, t, h, b]) => `v${r.join('.')}-0.${t}-${h}${b ?? ''}`),
    fc.tuple(release, fc.array(ident, { minLength: 1, maxLength: 2 }), timestamp, rev).map(([r, pre, t, h]) => `v${r.join('.')}-${pre.join('.')}.0.${t}-${h}`),
  )
  .chain((v) => fc.constantFrom(v, v, v.slice(1)));

describe('goComparator total order (fast-check)', () => {
  it('generated versions are valid, with or without the "v"', () => {
    fc.assert(
      fc.property(version, (v) => {
        expect(goComparator.isValid(v)).toBe(true);
        const other = v.startsWith('v') ? v.slice(1) : `v${v}`;
        expect(cmp(v, other)).toBe(0);
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

  it('orders a pseudo-version after its base and before the next version', () => {
    fc.assert(
      fc.property(release, timestamp, rev, (r, t, h) => {
        const [major, minor, patch] = r;
        const next = `v${major}.${minor}.${BigInt(patch) + 1n}`;
        const pseudo = `${next}-0.${t}-${h}`;
        expect(isPseudoVersion(pseudo)).toBe(true);
        expect(cmp(`v${r.join('.')}`, pseudo)).toBe(-1);
        expect(cmp(pseudo, `${next}-0`)).toBe(1);
        expect(cmp(pseudo, next)).toBe(-1);
      }),
    );
  });
});

/** golang.org/x/mod as the Go toolchain vendors it (GOROOT/src/cmd/vendor). */
const XMOD = '/usr/lib/go/src/cmd/vendor/golang.org/x/mod';
const GO = '/usr/bin/go';
const HAVE_GO = existsSync(GO) && existsSync(join(XMOD, 'semver')) && existsSync(join(XMOD, 'module'));
const SEED = 0x60_5e3;
const DIFF_PAIRS = 8000;

/** One JSON pair a line in; out: IsValid(a) IsValid(b) Compare(a, b) IsPseudoVersion(a) IsPseudoVersion(b). */
const MAIN_GO = `package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		var p [2]string
		if err := json.Unmarshal(in.Bytes(), &p); err != nil {
			panic(err)
		}
		fmt.Fprintf(out, "%v %v %d %v %v\\n", semver.IsValid(p[0]), semver.IsValid(p[1]), semver.Compare(p[0], p[1]), module.IsPseudoVersion(p[0]), module.IsPseudoVersion(p[1]))
	}
}
`;

/** Seeded close pairs, some broken by small edits; the "v" left out now and then. */
function goPairs(): Array<[string, string]> {
  const rand = prng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const chance = (p: number): boolean => rand() < p;
  const NUMS = ['0', '0', '1', '2', '9', '10', '01', '00', '123', '18446744073709551616'];
  const IDENTS = ['alpha', 'beta', 'rc', 'pre', '0', '1', '2', '11', '01', 'a-b', '-', 'A', 'Z', '0a', ''];
  const TS = ['20191109021931', '20191109021932', '20200101000000', '2019110902193'];
  const REV = ['daa7c04131f5', '000000000000', 'abc', 'DAA7C04131F5'];
  const version = (): string => {
    const r = rand();
    let v = `v${pick(NUMS)}`;
    if (r < 0.1) return chance(0.5) ? v : `${v}.${pick(NUMS)}`;
    v += `.${pick(NUMS)}.${pick(NUMS)}`;
    if (r < 0.35) v += `-${pick(IDENTS)}` + (chance(0.4) ? `.${pick(IDENTS)}` : '');
    else if (r < 0.5) v = `v${pick(NUMS)}.0.0-${pick(TS)}-${pick(REV)}`;
    else if (r < 0.65) v += `-0.${pick(TS)}-${pick(REV)}`;
    else if (r < 0.75) v += `-${pick(IDENTS)}.0.${pick(TS)}-${pick(REV)}`;
    if (chance(0.2)) v += pick(['+incompatible', '+meta', '+', '+a..b', '+01']);
    return v;
  };
  const neighbour = (v: string): string => {
    const at = Math.floor(rand() * (v.length + 1));
    const r = rand();
    if (r < 0.25) return v.replace(/[0-9]+/, pick(NUMS));
    if (r < 0.45) return v.replace(/[0-9]+(?=[^0-9]*$)/, pick(NUMS));
    if (r < 0.6) return v.replace(/\+.*$/, '') + pick(['', '+incompatible', '-1', '.0', '-pre']);
    if (r < 0.75 && v.length > 1) return v.slice(0, at) + v.slice(at + 1);
    if (r < 0.9) return v.slice(0, at) + pick(['.', '-', '+', '0', 'a', 'v', ' ', '_']) + v.slice(at);
    return v.slice(0, at);
  };
  const out: Array<[string, string]> = [];
  while (out.length < DIFF_PAIRS) {
    const a = version();
    let b = chance(0.8) ? neighbour(a) : version();
    if (chance(0.15)) b = b.replace(/^v/, '');
    out.push(chance(0.5) ? [a, b] : [b, a]);
  }
  return out;
}

const withV = (v: string): string => (v.startsWith('v') ? v : `v${v}`);

describe.skipIf(!HAVE_GO)('Go differential (golang.org/x/mod vendored in GOROOT)', () => {
  let dir = '';
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`agrees with semver.IsValid/Compare and module.IsPseudoVersion on ${DIFF_PAIRS} seeded pairs (seed ${SEED.toString(16)})`, { timeout: 180_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'drydock-xmod-'));
    // a throwaway module golang.org/x/mod whose packages are the vendored ones, and a main module using it
    mkdirSync(join(dir, 'xmod'));
    writeFileSync(join(dir, 'xmod', 'go.mod'), 'module golang.org/x/mod\n\ngo 1.17\n');
    for (const pkg of ['semver', 'module', 'internal']) symlinkSync(join(XMOD, pkg), join(dir, 'xmod', pkg));
    mkdirSync(join(dir, 'main'));
    writeFileSync(join(dir, 'main', 'go.mod'), 'module drydocktest\n\ngo 1.17\n\nrequire golang.org/x/mod v0.0.0\n\nreplace golang.org/x/mod => ../xmod\n');
    writeFileSync(join(dir, 'main', 'main.go'), MAIN_GO);
    // the user's build cache when there is one (a fresh one rebuilds the std packages used)
    const cache = process.env.GOCACHE || process.env.HOME ? {} : { GOCACHE: join(dir, 'cache') };
    const env = { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local', ...cache };
    await run(GO, ['build', '-o', join(dir, 'xmodcmp'), '.'], { cwd: join(dir, 'main'), env, timeoutMs: 150_000 });

    // x/mod needs the "v"; ours reads the OSV form as the same version, so it gets the string as generated
    const all = goPairs();
    const input = all.map(([a, b]) => JSON.stringify([withV(a), withV(b)])).join('\n') + '\n';
    const { stdout } = await run(join(dir, 'xmodcmp'), [], { input, timeoutMs: 60_000 });
    const theirs = stdout.toString('utf8').split('\n').filter((l) => l !== '');
    expect(theirs).toHaveLength(all.length);

    const ours = (a: string, b: string): string => {
      const [va, vb] = [goComparator.isValid(a), goComparator.isValid(b)];
      // x/mod's Compare puts invalid below valid; we throw, so the comparison is only checked for valid pairs
      const c = va && vb ? cmp(a, b) : Number(va) - Number(vb);
      return `${va} ${vb} ${c} ${isPseudoVersion(a)} ${isPseudoVersion(b)}`;
    };
    const disagreements = all.map(([a, b], i) => ({ a, b, xmod: theirs[i], ours: ours(a, b) })).filter((d) => d.xmod !== d.ours);
    expect(disagreements.slice(0, 20)).toEqual([]);

    const valid = theirs.filter((l) => l.startsWith('true true'));
    expect(valid.length).toBeGreaterThanOrEqual(2500);
    for (const c of ['-1', '0', '1']) expect(valid.filter((l) => l.split(' ')[2] === c).length).toBeGreaterThan(200);
    expect(theirs.length - valid.length).toBeGreaterThan(300);
  });
});

if (!HAVE_GO) {
  describe('Go differential', () => {
    it.skip(`skipped: no Go toolchain with vendored golang.org/x/mod at ${XMOD}`, () => {});
  });
}
