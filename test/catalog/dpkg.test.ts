import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import { dpkgCataloger } from '../../shared/catalog/dpkg.js';
import type { CatalogContext, Distro, FileView, ViewFile } from '../../shared/catalog/types.js';

const STATUS = '/var/lib/dpkg/status';
const LAYER = 'sha256:1111';

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

const bookworm: Distro = { id: 'debian', versionId: '12', codename: 'bookworm', source: '/etc/os-release' };

function catalog(files: Record<string, string | Buffer | Partial<ViewFile>>, ctx: CatalogContext = {}) {
  return dpkgCataloger.catalog(viewOf(files), ctx);
}

/** name version arch source-name source-version, one string per package. */
function brief(files: Record<string, string | Buffer | Partial<ViewFile>>): string[] {
  return catalog(files).packages.map((p) => `${p.name} ${p.version} ${p.arch ?? '-'} ${p.sourceName} ${p.sourceVersion}`);
}

const stanza = (name: string, extra = '', status = 'install ok installed') =>
  `Package: ${name}\nStatus: ${status}\nArchitecture: amd64\nVersion: 1.0-1\n${extra}`;

describe('dpkgCataloger', () => {
  it('declares the dpkg database paths', () => {
    expect(dpkgCataloger.name).toBe('dpkg');
    expect(dpkgCataloger.needs).toEqual({ exact: ['/var/lib/dpkg/status'], globs: ['/var/lib/dpkg/status.d/*', '/var/lib/dpkg/info/*.list', '/usr/share/doc/*/copyright'] });
  });

  it('builds the whole package value', () => {
    const text = [
      'Package: libc6',
      'Status: install ok installed',
      'Priority: optional',
      'Installed-Size: 12986',
      'Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>',
      'Architecture: amd64',
      'Multi-Arch: same',
      'Source: glibc',
      'Version: 2.36-9+deb12u9',
      'Description: GNU C Library: Shared libraries',
      ' Contains the standard libraries.',
      '',
    ].join('\n');
    expect(catalog({ [STATUS]: text }, { distro: bookworm })).toEqual({
      issues: [],
      packages: [
        {
          type: 'deb',
          name: 'libc6',
          version: '2.36-9+deb12u9',
          sourceName: 'glibc',
          sourceVersion: '2.36-9+deb12u9',
          arch: 'amd64',
          purl: 'pkg:deb/debian/libc6@2.36-9+deb12u9?arch=amd64&distro=debian-12',
          layer: LAYER,
          locations: [STATUS],
          metadata: {
            status: 'install ok installed',
            maintainer: 'GNU Libc Maintainers <debian-glibc@lists.debian.org>',
            installedSize: '12986',
            multiArch: 'same',
          },
        },
      ],
    });
  });

  it('reads Source with a version, without one, and absent', () => {
    const text = [stanza('a', 'Source: src-a (2:3.4-5)\n'), stanza('b', 'Source: src-b\n'), stanza('c')].join('\n');
    expect(brief({ [STATUS]: text })).toEqual(['a 1.0-1 amd64 src-a 2:3.4-5', 'b 1.0-1 amd64 src-b 1.0-1', 'c 1.0-1 amd64 c 1.0-1']);
  });

  it('keeps continuation lines in their field and reads the fields after them', () => {
    const text = 'Package: a\nStatus: install ok installed\nConffiles:\n /etc/a.conf 0123\n /etc/b.conf 4567\nDescription: short\n long line\n .\n more\nVersion: 1.0\nArchitecture: all\n';
    expect(brief({ [STATUS]: text })).toEqual(['a 1.0 all a 1.0']);
  });

  it('reads CRLF files and files without a final newline like LF files', () => {
    const lf = `${stanza('a')}\n${stanza('b', 'Description: x\n y\n')}`;
    const expected = ['a 1.0-1 amd64 a 1.0-1', 'b 1.0-1 amd64 b 1.0-1'];
    expect(brief({ [STATUS]: lf })).toEqual(expected);
    expect(brief({ [STATUS]: lf.replace(/\n/g, '\r\n') })).toEqual(expected);
    expect(brief({ [STATUS]: lf.replace(/\n+$/, '') })).toEqual(expected);
    expect(brief({ [STATUS]: lf.replace(/\n/g, '\r\n').replace(/\r\n$/, '') })).toEqual(expected);
    expect(brief({ [STATUS]: `\uFEFF${lf}` })).toEqual(expected);
  });

  it('accepts several empty or blank lines between stanzas and field names in any case', () => {
    const text = `\n\n${stanza('a')}\n\n \n\t\n\nPACKAGE: B\nstatus: install ok installed\nversion:   2.0  \nARCHITECTURE: all\n\n\n`;
    expect(brief({ [STATUS]: text })).toEqual(['a 1.0-1 amd64 a 1.0-1', 'b 2.0 all b 2.0']);
  });

  it('reports packages whose files are on disk and skips config-files and not-installed', () => {
    const states = ['installed', 'half-installed', 'unpacked', 'half-configured', 'triggers-awaited', 'triggers-pending', 'config-files', 'not-installed'];
    const text = states.map((state) => stanza(state, '', `install ok ${state}`)).join('\n');
    const result = catalog({ [STATUS]: text });
    expect(result.packages.map((p) => p.name)).toEqual(states.slice(0, 6));
    expect(result.issues).toEqual([]);
  });

  it('reads the want and error-flag words of Status as dpkg does', () => {
    const text = [stanza('held', '', 'hold ok installed'), stanza('removing', '', 'deinstall reinstreq half-installed'), stanza('purged', '', 'purge ok not-installed')].join('\n');
    expect(brief({ [STATUS]: text })).toEqual(['held 1.0-1 amd64 held 1.0-1', 'removing 1.0-1 amd64 removing 1.0-1']);
  });

  it('treats a stanza without Status as not-installed in status and as installed in status.d', () => {
    const text = 'Package: nostatus\nVersion: 1.0\nArchitecture: all\n';
    expect(catalog({ [STATUS]: text })).toEqual({ packages: [], issues: [] });
    expect(brief({ '/var/lib/dpkg/status.d/nostatus': text })).toEqual(['nostatus 1.0 all nostatus 1.0']);
  });

  it('reads every status.d file, skipping *.md5sums, each package located at its file', () => {
    const result = catalog({
      [STATUS]: stanza('base'),
      '/var/lib/dpkg/status.d/libssl3': 'Package: libssl3\nVersion: 3.0.15-1~deb12u1\nArchitecture: arm64\nSource: openssl\n',
      '/var/lib/dpkg/status.d/libssl3.md5sums': 'd41d8cd98f00b204e9800998ecf8427e  usr/lib/libssl.so.3\n',
      '/var/lib/dpkg/status.d/tzdata': 'Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n',
    });
    expect(result.issues).toEqual([]);
    expect(result.packages.map((p) => [p.name, p.locations])).toEqual([
      ['base', [STATUS]],
      ['libssl3', ['/var/lib/dpkg/status.d/libssl3']],
      ['tzdata', ['/var/lib/dpkg/status.d/tzdata']],
    ]);
  });

  it('lower-cases package names as dpkg does', () => {
    expect(brief({ [STATUS]: stanza('LibFoo') })).toEqual(['libfoo 1.0-1 amd64 libfoo 1.0-1']);
  });
});

describe('dpkgCataloger on malformed input', () => {
  it.each([
    ['a line that is not "Field: value"', `${stanza('bad')}this is not a field\n`, /line 10: expected "Field: value", got "this is not a field"/],
    ['a continuation line before any field', ` orphan continuation\n${stanza('bad')}`, /line 6: continuation line before any field/],
    ['an empty field name', `${stanza('bad')}: value\n`, /line 10: expected "Field: value"/],
    ['a duplicate field', `${stanza('bad')}Version: 2.0\n`, /\(package "bad"\): line 10: duplicate field "Version"/],
    ['an empty Package field', 'Package:\nStatus: install ok installed\nVersion: 1\n', /empty Package field/],
    ['no Package field', 'Status: install ok installed\nVersion: 1\n', /no Package field/],
    ['an installed package without Version', 'Package: bad\nStatus: install ok installed\n', /no Version for a package in state "installed"/],
    ['a Version with spaces', 'Package: bad\nStatus: install ok installed\nVersion: 1.0 beta\n', /invalid Version "1.0 beta"/],
    ['a Status with two words', 'Package: bad\nStatus: install ok\nVersion: 1\n', /invalid Status "install ok"/],
    ['an unknown state', 'Package: bad\nStatus: install ok weird\nVersion: 1\n', /invalid Status "install ok weird"/],
    ['an unknown want', 'Package: bad\nStatus: want ok installed\nVersion: 1\n', /invalid Status/],
  ])('turns %s into an issue and still reads the other stanzas', (_label, bad, message) => {
    // the bad stanza starts at line 6; line numbers count from the start of the file
    const text = `${stanza('before')}\n${bad}\n${stanza('after')}`;
    const result = catalog({ [STATUS]: text });
    expect(result.packages.map((p) => p.name)).toEqual(['before', 'after']);
    expect(result.issues).toEqual([{ cataloger: 'dpkg', path: STATUS, layer: LAYER, message: expect.stringMatching(message) }]);
    expect(result.issues[0]?.message).toMatch(/^stanza at line 6\b/);
  });

  it('does not require a Version of a package that is not on disk', () => {
    expect(catalog({ [STATUS]: 'Package: gone\nStatus: deinstall ok config-files\n' })).toEqual({ packages: [], issues: [] });
  });

  it('never throws on binary garbage', () => {
    const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));
    const result = catalog({ [STATUS]: garbage, '/var/lib/dpkg/status.d/x': Buffer.from([0, 1, 2, 10, 10, 58, 58, 10]) });
    expect(result.packages).toEqual([]);
    expect(result.issues.length).toBeGreaterThan(0);
  });

  it('lists at most ten malformed stanzas per file, then counts the rest', () => {
    const text = Array.from({ length: 25 }, (_, i) => `Package: bad${i}\nStatus: install ok installed\n`).join('\n');
    const issues = catalog({ [STATUS]: text }).issues;
    expect(issues).toHaveLength(11);
    expect(issues[10]?.message).toBe('15 more malformed stanzas not listed');
  });

  it('reads a truncated file up to its last complete stanza and says it was truncated', () => {
    const text = `${stanza('a')}\n${stanza('b')}\nPackage: c\nStatus: install ok inst`;
    const result = catalog({ [STATUS]: { content: Buffer.from(text), truncated: true } });
    expect(result.packages.map((p) => p.name)).toEqual(['a', 'b']);
    expect(result.issues).toEqual([{ cataloger: 'dpkg', path: STATUS, layer: LAYER, message: expect.stringMatching(/^file truncated after \d+ bytes/) }]);
    const crlf = catalog({ [STATUS]: { content: Buffer.from(text.replace(/\n/g, '\r\n')), truncated: true } });
    expect(crlf.packages.map((p) => p.name)).toEqual(['a', 'b']);
  });
});

describe('dpkg package URLs', () => {
  const text = 'Package: libstdc++6\nStatus: install ok installed\nVersion: 1:12.2.0-14\nArchitecture: amd64\n';

  it.each<[string, Distro | undefined, string]>([
    ['no distro', undefined, 'pkg:deb/debian/libstdc%2B%2B6@1:12.2.0-14?arch=amd64'],
    ['debian 12', bookworm, 'pkg:deb/debian/libstdc%2B%2B6@1:12.2.0-14?arch=amd64&distro=debian-12'],
    ['ubuntu 18.04', { id: 'ubuntu', versionId: '18.04', source: '/etc/os-release' }, 'pkg:deb/ubuntu/libstdc%2B%2B6@1:12.2.0-14?arch=amd64&distro=ubuntu-18.04'],
    ['debian testing', { id: 'debian', codename: 'trixie', source: '/etc/os-release' }, 'pkg:deb/debian/libstdc%2B%2B6@1:12.2.0-14?arch=amd64&distro=debian-trixie'],
    ['distroless', { id: 'debian', source: '/var/lib/dpkg/status.d' }, 'pkg:deb/debian/libstdc%2B%2B6@1:12.2.0-14?arch=amd64&distro=debian'],
  ])('with %s', (_label, distro, purl) => {
    expect(catalog({ [STATUS]: text }, distro ? { distro } : {}).packages[0]?.purl).toBe(purl);
  });

  it('omits the arch qualifier when the stanza has no Architecture', () => {
    const noArch = 'Package: a\nStatus: install ok installed\nVersion: 1.0\n';
    expect(catalog({ [STATUS]: noArch }).packages[0]).toMatchObject({ purl: 'pkg:deb/debian/a@1.0' });
    expect(catalog({ [STATUS]: noArch }).packages[0]?.arch).toBeUndefined();
  });
});
