/**
 * The apk cataloger: parsing rules on small in-memory databases, then every apk fixture of
 * shared/fixtures read through a DirectoryView. No apk-tools is available to compare with
 * (Debian does not package it), so the fixture tests check our reading against counts and
 * packages named in SOURCES.md and against a deliberately naive second reading of the same
 * text (split on empty lines, pick the P/V/A/o/R lines).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import picomatch from 'picomatch';
import { afterAll, describe, expect, it } from 'vitest';
import { apkCataloger } from '../../shared/catalog/apk.js';
import { DirectoryView } from '../../shared/catalog/dir-view.js';
import { runCatalogers } from '../../shared/catalog/index.js';
import { pythonCataloger } from '../../shared/catalog/python.js';
import type { CatalogContext, CatalogResult, Distro, FileView, Package, ViewFile } from '../../shared/catalog/types.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const INSTALLED = '/lib/apk/db/installed';
const INSTALLED_V3 = '/usr/lib/apk/db/installed';
const LAYER = 'sha256:2222';

/** An in-memory view: path → content (or a whole ViewFile for truncated files). */
function viewOf(files: Record<string, string | Buffer | Partial<ViewFile>>): FileView {
  const all: ViewFile[] = Object.entries(files).map(([path, c]) =>
    typeof c === 'string' || Buffer.isBuffer(c) ? { path, content: Buffer.from(c), mode: 0o644, layer: LAYER } : { path, content: Buffer.alloc(0), mode: 0o644, layer: LAYER, ...c },
  );
  return {
    get: (path) => all.find((f) => f.path === path),
    glob: (pattern) => all.filter((f) => picomatch(pattern, { dot: true })(f.path)),
  };
}

const alpine318: Distro = { id: 'alpine', versionId: '3.18.1', prettyName: 'Alpine Linux v3.18', source: '/etc/os-release' };

function catalog(text: string | Buffer | Partial<ViewFile>, ctx: CatalogContext = {}): CatalogResult {
  return apkCataloger.catalog(viewOf({ [INSTALLED]: text }), ctx);
}

/** name version arch source-name source-version, one string per package. */
function brief(text: string): string[] {
  return catalog(text).packages.map((p) => `${p.name} ${p.version} ${p.arch ?? '-'} ${p.sourceName} ${p.sourceVersion}`);
}

const stanza = (name: string, extra = '', version = '1.0-r0') => `P:${name}\nV:${version}\nA:x86_64\n${extra}`;

describe('apkCataloger', () => {
  it('is an OS cataloger of both installed-database locations', () => {
    expect(apkCataloger).toMatchObject({ name: 'apk', kind: 'os', version: 1 });
    expect(apkCataloger.needs).toEqual({ exact: ['/lib/apk/db/installed', '/usr/lib/apk/db/installed'] });
  });

  it('builds the whole package value and its file ownership', () => {
    const text = [
      'C:Q1aCu0LmUDoAFSOX49uHvkYC1WasQ=',
      'P:musl',
      'V:1.2.4-r0',
      'A:x86_64',
      'S:383304',
      'I:622592',
      'T:the musl c library (libc) implementation',
      'U:https://musl.libc.org/',
      'L:MIT',
      'o:musl',
      'm:Timo Teräs <timo.teras@iki.fi>',
      't:1649396308',
      'c:ee13d43a53938d8a04ba787b9423f3270a3c14a7',
      'p:so:libc.musl-x86_64.so.1=1',
      'F:lib',
      'R:ld-musl-x86_64.so.1',
      'a:0:0:755',
      'Z:Q1ZZqflKEvStJz4SXV0SDMi3wOtM0=',
      'R:libc.musl-x86_64.so.1',
      'a:0:0:777',
      'Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=',
      '',
    ].join('\n');
    const musl: Package = {
      type: 'apk',
      name: 'musl',
      version: '1.2.4-r0',
      sourceName: 'musl',
      sourceVersion: '1.2.4-r0',
      arch: 'x86_64',
      licenses: ['MIT'],
      purl: 'pkg:apk/alpine/musl@1.2.4-r0?arch=x86_64&distro=alpine-3.18.1',
      layer: LAYER,
      locations: [INSTALLED],
      metadata: {
        checksum: 'Q1aCu0LmUDoAFSOX49uHvkYC1WasQ=',
        size: '383304',
        installedSize: '622592',
        maintainer: 'Timo Teräs <timo.teras@iki.fi>',
        url: 'https://musl.libc.org/',
        buildTime: '1649396308',
        commit: 'ee13d43a53938d8a04ba787b9423f3270a3c14a7',
      },
    };
    expect(catalog(text, { distro: alpine318 })).toEqual({
      packages: [musl],
      issues: [],
      ownership: [{ owner: musl, paths: ['/lib/ld-musl-x86_64.so.1', '/lib/libc.musl-x86_64.so.1'] }],
    });
  });

  it('takes the origin as source, at the package version; without one the package is its own source', () => {
    const text = [stanza('libssl3', 'o:openssl\n', '3.1.0-r4'), stanza('zlib', '', '1.2.13-r1')].join('\n');
    expect(brief(text)).toEqual(['libssl3 3.1.0-r4 x86_64 openssl 3.1.0-r4', 'zlib 1.2.13-r1 x86_64 zlib 1.2.13-r1']);
  });

  it('keeps versions in apk form', () => {
    const versions = ['2.9.11_pre20061021-r2', '1.0.2h-r1', '20230506-r0', '0.7-r0', '6.4_p20230506-r0', '1.2.3_git20230101-r10'];
    expect(catalog(versions.map((v, i) => stanza(`p${i}`, '', v)).join('\n')).packages.map((p) => p.version)).toEqual(versions);
  });

  it('reads CRLF files, files with a byte-order mark and files without a final newline like LF files', () => {
    const lf = `${stanza('a')}\n${stanza('b', 'F:usr/bin\nR:b\n')}`;
    const expected = ['a 1.0-r0 x86_64 a 1.0-r0', 'b 1.0-r0 x86_64 b 1.0-r0'];
    expect(brief(lf)).toEqual(expected);
    expect(brief(lf.replace(/\n/g, '\r\n'))).toEqual(expected);
    expect(brief(lf.replace(/\n+$/, ''))).toEqual(expected);
    expect(brief(`\uFEFF${lf}`)).toEqual(expected);
    expect(catalog(lf.replace(/\n/g, '\r\n')).ownership?.[0]?.paths).toEqual(['/usr/bin/b']);
  });

  it('accepts several empty or blank lines between stanzas, and ends a stanza at a one-character line as apk does', () => {
    expect(brief(`\n\n${stanza('a')}\n\n \n\t\n\n${stanza('b')}\n\n\n`)).toEqual(['a 1.0-r0 x86_64 a 1.0-r0', 'b 1.0-r0 x86_64 b 1.0-r0']);
    expect(brief(`${stanza('a')}x\n${stanza('b')}`)).toEqual(['a 1.0-r0 x86_64 a 1.0-r0', 'b 1.0-r0 x86_64 b 1.0-r0']);
  });

  it('ignores fields it does not use, known or not', () => {
    const text = stanza('a', 'D:so:libc.musl-x86_64.so.1 busybox\ni:busybox=1.36.0-r9 libssl3\nk:100\nr:other\nq:1\ns:tag\nf:S\ng:whatever\nX:future field\n');
    expect(catalog(text)).toEqual({ packages: [expect.objectContaining({ name: 'a' })], issues: [] });
  });

  it('keeps the last value of a field given twice, as apk does, except P and V', () => {
    expect(brief(stanza('a', 'o:first\no:second\nA:aarch64\n'))).toEqual(['a 1.0-r0 aarch64 second 1.0-r0']);
  });

  it('omits arch, licences and metadata that the stanza does not have', () => {
    const [pkg] = catalog('P:bare\nV:1-r0\n').packages;
    expect(pkg).toEqual({ type: 'apk', name: 'bare', version: '1-r0', sourceName: 'bare', sourceVersion: '1-r0', purl: 'pkg:apk/alpine/bare@1-r0', layer: LAYER, locations: [INSTALLED] });
  });
});

describe('apk file ownership', () => {
  it('joins each R line to the directory of the F line before it', () => {
    const text = stanza('busybox', 'F:bin\nR:busybox\na:0:0:755\nZ:Q1x=\nR:sh\nF:etc\nR:securetty\nF:etc/network\nF:etc/network/if-up.d\nF:usr/share/udhcpc/\nR:default.script\n');
    expect(catalog(text).ownership?.[0]?.paths).toEqual(['/bin/busybox', '/bin/sh', '/etc/securetty', '/usr/share/udhcpc/default.script']);
  });

  it('places files of an empty F line (the root directory) at the root', () => {
    expect(catalog(stanza('a', 'F:\nR:.dockerenv\nF:etc\nR:a.conf\n')).ownership?.[0]?.paths).toEqual(['/.dockerenv', '/etc/a.conf']);
  });

  it('keeps every path inside the root and lists a file once', () => {
    const text = stanza('a', 'F:usr/./lib/../lib\nR:x.so\nR:x.so\nF:../../etc\nR:passwd\nR:\nR:.\nR:..\nR:../shadow\n');
    expect(catalog(text).ownership?.[0]?.paths).toEqual(['/usr/lib/x.so', '/etc/passwd']);
  });

  it('gives packages without R lines no ownership entry', () => {
    const result = catalog(`${stanza('meta', 'F:etc\nF:var\n')}\n${stanza('b', 'F:bin\nR:b\n')}`);
    expect(result.packages.map((p) => p.name)).toEqual(['meta', 'b']);
    expect(result.ownership).toEqual([{ owner: result.packages[1], paths: ['/bin/b'] }]);
    expect(catalog(stanza('meta')).ownership).toBeUndefined();
  });

  it('does not attribute files across stanzas: an R line must follow an F line of its own stanza', () => {
    const result = catalog(`${stanza('a', 'F:lib\nR:a.so\n')}\n${stanza('b', 'R:b.so\n')}\n${stanza('c')}`);
    expect(result.packages.map((p) => p.name)).toEqual(['a', 'c']);
    expect(result.issues.map((i) => i.message)).toEqual(['stanza at line 7 (package "b"): line 10: file "b.so" (R:) before any directory (F:)']);
  });
});

describe('apk licences', () => {
  const licensesOf = (l: string) => catalog(stanza('a', `L:${l}\n`)).packages[0]?.licenses;

  it.each<[string, string[] | undefined]>([
    ['MIT', ['MIT']],
    ['GPL-2.0-only', ['GPL-2.0-only']],
    ['MPL-2.0 AND MIT', ['MPL-2.0 AND MIT']],
    ['( Apache-2.0 OR MIT ) AND MPL-2.0', ['( Apache-2.0 OR MIT ) AND MPL-2.0']],
    ['GPL-2.0-or-later WITH Linux-syscall-note', ['GPL-2.0-or-later WITH Linux-syscall-note']],
    ['GPL2+ or LGPL2+', ['GPL-2.0-or-later OR LGPL-2.0-or-later']],
    // pre-SPDX Alpine: a blank-separated list, one licence a word, each normalised where it can be
    ['MIT BSD GPL2+', ['MIT', 'BSD', 'GPL-2.0-or-later']],
    ['MIT custom', ['MIT', 'custom']],
    ['GPL2 GPL2', ['GPL-2.0-only']],
    ['GPL2', ['GPL-2.0-only']],
    ['zlib', ['Zlib']],
    // kept as declared where they do not normalise (a version is never guessed: "GPL" is not GPL-3.0)
    ['GPL', ['GPL']],
    ['openssl', ['openssl']],
    ['Public-Domain', ['Public-Domain']],
    ['Public Domain', ['Public Domain']],
    ['   ', undefined],
  ])('%j → %j', (declared, expected) => {
    expect(licensesOf(declared)).toEqual(expected);
  });
});

describe('apkCataloger on malformed input', () => {
  it.each([
    ['no P line', 'V:1.0-r0\nA:x86_64\n', /^stanza at line 5: no package name \(P:\)$/],
    ['an empty P line', 'P:\nV:1.0-r0\n', /^stanza at line 5: empty package name \(P:\)$/],
    ['no V line', 'P:bad\nA:x86_64\n', /^stanza at line 5 \(package "bad"\): no version \(V:\)$/],
    ['an empty V line', 'P:bad\nV:\n', /\(package "bad"\): empty version \(V:\)$/],
    ['a version with blanks', 'P:bad\nV:1.0 beta\n', /\(package "bad"\): invalid version "1.0 beta": embedded whitespace$/],
    ['a name with blanks', 'P:bad name\nV:1\n', /\(package "bad name"\): invalid package name "bad name"/],
    ['a line that is not "X:value"', 'P:bad\nV:1\nthis is not a field\n', /\(package "bad"\): line 7: expected "X:value", got "this is not a field"$/],
    ['a two-letter key', 'P:bad\nV:1\nPP:x\n', /line 7: expected "X:value", got "PP:x"/],
    ['two packages without the empty line between them', 'P:bad\nV:1\nP:worse\nV:2\n', /\(package "bad"\): line 7: second P: field in one stanza/],
    ['a second V', 'P:bad\nV:1\nV:2\n', /line 7: second V: field in one stanza/],
  ])('turns %s into an issue and still reads the other stanzas', (_label, bad, message) => {
    // the bad stanza starts at line 5
    const text = `${stanza('before')}\n${bad}\n${stanza('after')}`;
    const result = catalog(text);
    expect(result.packages.map((p) => p.name)).toEqual(['before', 'after']);
    expect(result.issues).toEqual([{ cataloger: 'apk', path: INSTALLED, layer: LAYER, message: expect.stringMatching(message) }]);
  });

  it('keeps a stanza-level error from spilling into the next stanza', () => {
    const result = catalog(`garbage line\nP:bad\nV:1\n\n${stanza('good', 'F:bin\nR:good\n')}`);
    expect(result.packages.map((p) => p.name)).toEqual(['good']);
    expect(result.ownership?.map((o) => o.paths)).toEqual([['/bin/good']]);
    expect(result.issues.map((i) => i.message)).toEqual(['stanza at line 1: line 1: expected "X:value", got "garbage line"']);
  });

  it('never throws on binary garbage', () => {
    const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));
    const result = catalog(garbage);
    expect(result.packages).toEqual([]);
    expect(result.issues.length).toBeGreaterThan(0);
    expect(catalog(Buffer.alloc(0))).toEqual({ packages: [], issues: [] });
  });

  it('lists at most ten malformed stanzas per file, then counts the rest', () => {
    const issues = catalog(Array.from({ length: 25 }, (_, i) => `P:bad${i}\n`).join('\n')).issues;
    expect(issues).toHaveLength(11);
    expect(issues[10]?.message).toBe('15 more malformed stanzas not listed');
  });

  it('reads a truncated file up to its last complete stanza and says it was truncated', () => {
    const text = `${stanza('a')}\n${stanza('b', 'F:bin\nR:b\n')}\nP:c\nV:1.0-r0\nF:usr/bin\nR:c-par`;
    const result = catalog({ content: Buffer.from(text), truncated: true });
    expect(result.packages.map((p) => p.name)).toEqual(['a', 'b']);
    expect(result.ownership?.map((o) => o.paths)).toEqual([['/bin/b']]);
    expect(result.issues).toEqual([{ cataloger: 'apk', path: INSTALLED, layer: LAYER, message: expect.stringMatching(/^file truncated after \d+ bytes/) }]);
    expect(catalog({ content: Buffer.from(text.replace(/\n/g, '\r\n')), truncated: true }).packages.map((p) => p.name)).toEqual(['a', 'b']);
  });
});

describe('apk package URLs', () => {
  const text = stanza('libstdc++', '', '12.2.1_git20220924-r10');

  it.each<[string, Distro | undefined, string]>([
    ['no distro', undefined, 'pkg:apk/alpine/libstdc%2B%2B@12.2.1_git20220924-r10?arch=x86_64'],
    ['alpine 3.18.1', alpine318, 'pkg:apk/alpine/libstdc%2B%2B@12.2.1_git20220924-r10?arch=x86_64&distro=alpine-3.18.1'],
    ['wolfi (no VERSION_ID)', { id: 'wolfi', source: '/etc/os-release' }, 'pkg:apk/wolfi/libstdc%2B%2B@12.2.1_git20220924-r10?arch=x86_64&distro=wolfi'],
    ['postmarketOS', { id: 'postmarketos', versionId: 'v23.12', source: '/etc/os-release' }, 'pkg:apk/postmarketos/libstdc%2B%2B@12.2.1_git20220924-r10?arch=x86_64&distro=postmarketos-v23.12'],
  ])('with %s', (_label, distro, purl) => {
    expect(catalog(text, distro ? { distro } : {}).packages[0]?.purl).toBe(purl);
  });

  it('omits the arch qualifier when the stanza has no A line', () => {
    expect(catalog('P:a\nV:1.0-r0\n').packages[0]?.purl).toBe('pkg:apk/alpine/a@1.0-r0');
  });
});

// ---------------------------------------------------------------------------------------
// Real databases, read from disk.

const FIXTURES = join(SHARED_FIXTURES, 'pkgdb/apk');
const scratch = mkdtempSync(join(tmpdir(), 'drydock-apk-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A scratch image root with `fixture` (relative to pkgdb/apk) at `at`, plus extra files from the shared fixtures. */
function rootWith(name: string, fixture: string, at: string, extra: Record<string, string> = {}): string {
  const root = join(scratch, name);
  for (const [to, from] of [[at, join(FIXTURES, fixture)], ...Object.entries(extra).map(([to, from]) => [to, join(SHARED_FIXTURES, from)])] as const) {
    mkdirSync(dirname(join(root, to)), { recursive: true });
    copyFileSync(from, join(root, to));
  }
  return root;
}

/**
 * A second, naive reading of a database, to compare with: blocks between empty lines, the
 * first P/V/A/o line of each, and the number of R lines. Blocks without P or V are "refused".
 */
function naiveRead(text: string) {
  const rows: string[] = [];
  const files = new Map<string, number>();
  let refused = 0;
  for (const block of text.split(/\n\s*\n/)) {
    if (!block.trim()) continue;
    const field = (letter: string) => new RegExp(`^${letter}:(.*)$`, 'm').exec(block)?.[1];
    const [name, version] = [field('P'), field('V')];
    if (!name || !version) {
      refused++;
      continue;
    }
    rows.push(`${name} ${version} ${field('A') ?? '-'} ${field('o') ?? name}`);
    files.set(name, (block.match(/^R:/gm) ?? []).length);
  }
  return { rows: rows.sort(), files, refused };
}

const row = (p: Package) => `${p.name} ${p.version} ${p.arch ?? '-'} ${p.sourceName}`;

interface Fixture {
  name: string;
  /** the installed file, relative to pkgdb/apk */
  file: string;
  /** from SOURCES.md */
  packages: number;
  refused: number;
  /** packages that must be there, as "name version arch origin" */
  examples: string[];
}

const fixtures: Fixture[] = [
  {
    name: 'syft-multiple-2',
    file: 'syft-multiple-2/lib/apk/db/installed',
    packages: 14,
    refused: 0,
    examples: ['musl 1.2.3-r0 x86_64 musl', 'busybox 1.35.0-r17 x86_64 busybox', 'libssl1.1 1.1.1q-r0 x86_64 openssl', 'musl-utils 1.2.3-r0 x86_64 musl'],
  },
  {
    name: 'scalibr-alpine-3.18',
    file: 'scalibr-alpine-3.18/lib/apk/db/installed',
    packages: 15,
    refused: 0,
    examples: ['alpine-baselayout 3.4.3-r1 x86_64 alpine-baselayout', 'alpine-baselayout-data 3.4.3-r1 x86_64 alpine-baselayout', 'musl 1.2.4-r0 x86_64 musl', 'ca-certificates-bundle 20230506-r0 x86_64 ca-certificates'],
  },
  {
    name: 'trivy-alpine',
    file: 'trivy-alpine/lib/apk/db/installed',
    packages: 15,
    refused: 1,
    examples: ['musl 1.1.14-r10 x86_64 musl', 'test 2.9.11_pre20061021-r2 x86_64 test-parent', 'libcrypto1.0 1.0.2h-r1 x86_64 openssl', 'ada-libs 2.7.4-r0 x86_64 ada'],
  },
  {
    name: 'syft-single-installed',
    file: 'syft-single-installed',
    packages: 1,
    refused: 0,
    examples: ['musl-utils 1.1.24-r2 x86_64 musl'],
  },
];

describe('apk cataloger on every apk fixture (as /lib/apk/db/installed)', () => {
  describe.each(fixtures)('$name', ({ name, file, packages, refused, examples }) => {
    const view = new DirectoryView(rootWith(name, file, 'lib/apk/db/installed'));
    const ours = apkCataloger.catalog(view, {});
    const naive = naiveRead(readFileSync(join(FIXTURES, file), 'utf8'));

    it('reports the number of packages SOURCES.md gives, and the packages it names', () => {
      expect(ours.packages).toHaveLength(packages);
      expect(ours.packages.map(row)).toEqual(expect.arrayContaining(examples));
    });

    it('reports the same packages as a naive reading of the file', () => {
      expect(ours.packages.map(row).sort()).toEqual(naive.rows);
    });

    it('reports one issue per stanza without a name or version, with path and layer', () => {
      expect(naive.refused).toBe(refused);
      expect(ours.issues).toHaveLength(refused);
      for (const issue of ours.issues) expect(issue).toMatchObject({ cataloger: 'apk', path: INSTALLED, layer: view.layer });
    });

    it('owns, for each package, one absolute path per R line of its stanza', () => {
      const owned = new Map((ours.ownership ?? []).map((o) => [o.owner.name, o.paths]));
      for (const p of ours.packages) {
        const paths = owned.get(p.name) ?? [];
        expect(paths, p.name).toHaveLength(naive.files.get(p.name) ?? -1);
        for (const path of paths) expect(path).toMatch(/^\/[^/]+(\/[^/]+)*$/);
      }
      for (const { owner } of ours.ownership ?? []) expect(ours.packages).toContain(owner);
    });

    it('locates every package in the database file, with the view layer and an apk purl', () => {
      for (const p of ours.packages) {
        expect(p).toMatchObject({ type: 'apk', layer: view.layer, locations: [INSTALLED], sourceVersion: p.version });
        expect(p.purl).toBe(`pkg:apk/alpine/${p.name}@${p.version}?arch=${p.arch}`);
      }
    });
  });

  it('reads syft-single-installed whole', () => {
    const view = new DirectoryView(rootWith('single-whole', 'syft-single-installed', 'lib/apk/db/installed'));
    const musl_utils: Package = {
      type: 'apk',
      name: 'musl-utils',
      version: '1.1.24-r2',
      sourceName: 'musl',
      sourceVersion: '1.1.24-r2',
      arch: 'x86_64',
      licenses: ['MIT', 'BSD', 'GPL-2.0-or-later'],
      purl: 'pkg:apk/alpine/musl-utils@1.1.24-r2?arch=x86_64',
      layer: view.layer,
      locations: [INSTALLED],
      metadata: {
        checksum: 'Q1bTtF5526tETKfL+lnigzIDvm+2o=',
        size: '37944',
        installedSize: '151552',
        maintainer: 'Timo Teräs <timo.teras@iki.fi>',
        url: 'https://musl.libc.org/',
        buildTime: '1584790550',
        commit: '4024cc3b29ad4c65544ad068b8f59172b5494306',
      },
    };
    expect(apkCataloger.catalog(view, {})).toEqual({
      packages: [musl_utils],
      issues: [],
      ownership: [{ owner: musl_utils, paths: ['/sbin/ldconfig', '/usr/bin/iconv', '/usr/bin/ldd', '/usr/bin/getconf', '/usr/bin/getent'] }],
    });
  });

  it('names the broken trivy stanza and reads the packages after it', () => {
    const view = new DirectoryView(rootWith('trivy-broken', 'trivy-alpine/lib/apk/db/installed', 'lib/apk/db/installed'));
    const result = apkCataloger.catalog(view, {});
    expect(result.issues).toEqual([{ cataloger: 'apk', path: INSTALLED, layer: view.layer, message: 'stanza at line 23 (package "invalidPackageWithoutAVersion"): no version (V:)' }]);
    expect(result.packages.map((p) => p.name).slice(0, 3)).toEqual(['musl', 'busybox', 'alpine-baselayout']);
  });

  it('has musl own the dynamic loader and libc', () => {
    // these three fixtures are image roots already
    for (const [fixture, version] of [
      ['syft-multiple-2', '1.2.3-r0'],
      ['trivy-alpine', '1.1.14-r10'],
      ['scalibr-alpine-3.18', '1.2.4-r0'],
    ] as const) {
      const result = apkCataloger.catalog(new DirectoryView(join(FIXTURES, fixture)), {});
      const musl = result.ownership?.find((o) => o.owner.name === 'musl');
      expect(musl?.owner.version).toBe(version);
      expect(musl?.paths.sort()).toEqual(['/lib/ld-musl-x86_64.so.1', '/lib/libc.musl-x86_64.so.1']);
    }
  });

  it('normalises the fixtures’ licences, keeping those that do not normalise as declared', () => {
    const licences = (fixture: string) =>
      Object.fromEntries(apkCataloger.catalog(new DirectoryView(join(FIXTURES, fixture)), {}).packages.map((p) => [p.name, p.licenses]));
    expect(licences('syft-multiple-2')).toMatchObject({
      'musl-utils': ['MIT', 'BSD', 'GPL-2.0-or-later'],
      'ca-certificates-bundle': ['MPL-2.0 AND MIT'],
      'libssl1.1': ['OpenSSL'],
    });
    expect(licences('trivy-alpine')).toMatchObject({
      busybox: ['GPL-2.0-only'],
      'alpine-keys': ['GPL'],
      zlib: ['Zlib'],
      'libssl1.0': ['openssl'],
      'sqlite-libs': ['Public-Domain'],
      'ada-libs': ['( Apache-2.0 OR MIT ) AND MPL-2.0'],
    });
    expect(licences('scalibr-alpine-3.18')).toMatchObject({ 'musl-utils': ['MIT AND BSD-2-Clause AND GPL-2.0-or-later'], 'libc-utils': ['BSD-2-Clause AND BSD-3-Clause'] });
  });
});

describe('apk-tools 3 location', () => {
  it('reads /usr/lib/apk/db/installed', () => {
    const view = new DirectoryView(rootWith('v3', 'scalibr-alpine-3.18/lib/apk/db/installed', 'usr/lib/apk/db/installed'));
    const result = apkCataloger.catalog(view, {});
    expect(result.issues).toEqual([]);
    expect(result.packages).toHaveLength(15);
    for (const p of result.packages) expect(p.locations).toEqual([INSTALLED_V3]);
    expect(result.ownership).toHaveLength(15 - 1); // alpine-baselayout (directories only) owns no file
  });

  it('reads the database once when /lib is a symlink to usr/lib', () => {
    const root = rootWith('v3-merged', 'scalibr-alpine-3.18/lib/apk/db/installed', 'usr/lib/apk/db/installed');
    symlinkSync('usr/lib', join(root, 'lib'));
    const view = new DirectoryView(root);
    expect(view.get(INSTALLED)?.path).toBe(INSTALLED_V3);
    const result = apkCataloger.catalog(view, {});
    expect(result.packages).toHaveLength(15);
    expect(new Set(result.packages.flatMap((p) => p.locations))).toEqual(new Set([INSTALLED_V3]));
  });

  it('reads both files when both locations hold one, each package at its own file', () => {
    const root = rootWith('both', 'syft-multiple-2/lib/apk/db/installed', 'lib/apk/db/installed');
    mkdirSync(join(root, 'usr/lib/apk/db'), { recursive: true });
    copyFileSync(join(FIXTURES, 'syft-single-installed'), join(root, 'usr/lib/apk/db/installed'));
    const result = apkCataloger.catalog(new DirectoryView(root), {});
    expect(result.packages).toHaveLength(15);
    expect(result.packages.filter((p) => p.locations[0] === INSTALLED_V3).map((p) => p.name)).toEqual(['musl-utils']);
  });
});

describe('apk cataloger in a catalog run', () => {
  it('takes the distro from os-release for purls and the distro qualifier', () => {
    const root = rootWith('run', 'scalibr-alpine-3.18/lib/apk/db/installed', 'lib/apk/db/installed', { 'etc/os-release': 'pkgdb/os-release/alpine-3.18.os-release' });
    const run = runCatalogers(new DirectoryView(root), [apkCataloger]);
    expect(run.distro).toMatchObject({ id: 'alpine', versionId: '3.18.1' });
    expect(run.issues).toEqual([]);
    expect(run.packages).toHaveLength(15);
    expect(run.packages.find((p) => p.name === 'busybox')).toMatchObject({
      version: '1.36.0-r9',
      purl: 'pkg:apk/alpine/busybox@1.36.0-r9?arch=x86_64&distro=alpine-3.18.1',
      distro: 'alpine-3.18.1',
      foundBy: 'apk',
    });
  });

  it('marks the Python distribution an apk package installed as owned by it', () => {
    const root = join(scratch, 'py3-owned');
    const site = 'usr/lib/python3.11/site-packages';
    const files: Record<string, string> = {
      'lib/apk/db/installed': stanza('py3-six', `o:py3-six\nF:${site}\nR:six.py\nF:${site}/six-1.16.0.dist-info\nR:METADATA\nR:RECORD\n`, '1.16.0-r8'),
      [`${site}/six-1.16.0.dist-info/METADATA`]: 'Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n',
      'usr/lib/python3.12/site-packages/pip-24.0.dist-info/METADATA': 'Metadata-Version: 2.1\nName: pip\nVersion: 24.0\n',
    };
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    const run = runCatalogers(new DirectoryView(root), [pythonCataloger, apkCataloger]);
    expect(run.issues).toEqual([]);
    expect(run.packages.map((p) => [p.type, p.name, p.ownedBy?.name])).toEqual([
      ['apk', 'py3-six', undefined],
      ['pypi', 'pip', undefined],
      ['pypi', 'six', 'py3-six'],
    ]);
    expect(run.packages.find((p) => p.name === 'six')?.ownedBy).toEqual({ type: 'apk', name: 'py3-six', version: '1.16.0-r8', purl: 'pkg:apk/alpine/py3-six@1.16.0-r8?arch=x86_64' });
  });
});
