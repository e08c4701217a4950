import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import { DirectoryView } from '../../shared/catalog/dir-view.js';
import { distroDetector, parseShellAssignments } from '../../shared/catalog/distro.js';
import type { Distro, FileView, ViewFile } from '../../shared/catalog/types.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const FIXTURES = join(SHARED_FIXTURES, 'pkgdb');

/** An in-memory view: path → content, no symlinks. */
function viewOf(files: Record<string, string | Buffer>): FileView {
  const all: ViewFile[] = Object.entries(files).map(([path, content]) => ({ path, content: Buffer.from(content), mode: 0o644, layer: 'sha256:test' }));
  return {
    get: (path) => all.find((f) => f.path === path),
    glob: (pattern) => all.filter((f) => picomatch(pattern, { dot: true })(f.path)),
  };
}

const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, 'os-release', name));

describe('distroDetector on every release-file fixture', () => {
  const cases: [file: string, placedAt: string, expected: Distro][] = [
    ['debian-12.os-release', '/etc/os-release', { id: 'debian', versionId: '12', codename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)', source: '/etc/os-release' }],
    ['alpine.os-release', '/etc/os-release', { id: 'alpine', versionId: '3.15.4', prettyName: 'Alpine Linux v3.15', source: '/etc/os-release' }],
    // This capture starts with the shell prompt line it was copied from: not an assignment, ignored.
    ['alpine-3.18.os-release', '/etc/os-release', { id: 'alpine', versionId: '3.18.1', prettyName: 'Alpine Linux v3.18', source: '/etc/os-release' }],
    ['alma.os-release', '/etc/os-release', { id: 'almalinux', versionId: '9.4', prettyName: 'AlmaLinux 9.4 (Seafoam Ocelot)', idLike: ['rhel', 'centos', 'fedora'], source: '/etc/os-release' }],
    ['rocky.os-release', '/etc/os-release', { id: 'rocky', versionId: '9.3', prettyName: 'Rocky Linux 9.3 (Blue Onyx)', idLike: ['rhel', 'centos', 'fedora'], source: '/etc/os-release' }],
    ['rhel.os-release', '/etc/os-release', { id: 'rhel', versionId: '9.4', prettyName: 'Red Hat Enterprise Linux 9.4 (Plow)', idLike: ['fedora'], source: '/etc/os-release' }],
    ['centos.os-release', '/etc/os-release', { id: 'centos', versionId: '7', prettyName: 'CentOS Linux 7 (Core)', idLike: ['rhel', 'fedora'], source: '/etc/os-release' }],
    // VERSION_CODENAME="" is no codename.
    ['fedora.os-release', '/etc/os-release', { id: 'fedora', versionId: '42', prettyName: 'Fedora Linux 42 (Container Image)', source: '/etc/os-release' }],
    ['oracle.os-release', '/etc/os-release', { id: 'ol', versionId: '8.10', prettyName: 'Oracle Linux Server 8.10', idLike: ['fedora'], source: '/etc/os-release' }],
    ['centos.centos-release', '/etc/centos-release', { id: 'centos', versionId: '7', prettyName: 'CentOS Linux release 7.6.1810 (Core)', source: '/etc/centos-release' }],
    ['debian-12.debian_version', '/etc/debian_version', { id: 'debian', versionId: '12', codename: 'bookworm', source: '/etc/debian_version' }],
    ['ubuntu.lsb-release', '/etc/lsb-release', { id: 'ubuntu', versionId: '18.04', codename: 'bionic', prettyName: 'Ubuntu 18.04.2 LTS', source: '/etc/lsb-release' }],
  ];

  it.each(cases)('%s at %s', (file, placedAt, expected) => {
    expect(distroDetector.detect(viewOf({ [placedAt]: fixture(file) }))).toEqual(expected);
  });

  it('covers every file of the fixture directory', () => {
    expect(cases.map(([file]) => file).sort()).toEqual(readdirSync(join(FIXTURES, 'os-release')).sort());
  });

  it('reads /etc/os-release through its symlink on a real Debian layout', () => {
    // syft-image-dpkg has a plain /etc/os-release; the debootstrap rootfs test covers the symlink.
    const view = new DirectoryView(join(FIXTURES, 'dpkg', 'syft-image-dpkg'));
    expect(distroDetector.detect(view)).toMatchObject({ id: 'debian', versionId: '12', codename: 'bookworm', source: '/etc/os-release' });
  });
});

describe('distroDetector precedence and fallbacks', () => {
  const debianOs = fixture('debian-12.os-release');

  it('prefers /etc/os-release, then /usr/lib/os-release, over the legacy files', () => {
    expect(distroDetector.detect(viewOf({ '/usr/lib/os-release': debianOs, '/etc/alpine-release': '3.19.1\n' }))).toMatchObject({ id: 'debian', source: '/usr/lib/os-release' });
    expect(distroDetector.detect(viewOf({ '/etc/os-release': 'ID=alpine\nVERSION_ID=3.19.1\n', '/usr/lib/os-release': debianOs }))).toMatchObject({ id: 'alpine', source: '/etc/os-release' });
  });

  it('reads /etc/alpine-release', () => {
    expect(distroDetector.detect(viewOf({ '/etc/alpine-release': '3.19.1\n' }))).toEqual({ id: 'alpine', versionId: '3.19.1', source: '/etc/alpine-release' });
  });

  it.each([
    ['12.8\n', { id: 'debian', versionId: '12', codename: 'bookworm' }],
    ['8.11', { id: 'debian', versionId: '8', codename: 'jessie' }],
    ['bookworm/sid\n', { id: 'debian', codename: 'bookworm' }],
    ['trixie/sid\n', { id: 'debian', codename: 'trixie' }],
  ])('reads /etc/debian_version %j', (content, expected) => {
    expect(distroDetector.detect(viewOf({ '/etc/debian_version': content }))).toEqual({ ...expected, source: '/etc/debian_version' });
  });

  it('prefers lsb-release over debian_version (Ubuntu ships both)', () => {
    const view = viewOf({ '/etc/debian_version': 'buster/sid\n', '/etc/lsb-release': fixture('ubuntu.lsb-release') });
    expect(distroDetector.detect(view)).toMatchObject({ id: 'ubuntu', versionId: '18.04' });
  });

  it.each([
    ['Red Hat Enterprise Linux release 8.10 (Ootpa)', 'rhel', '8.10'],
    ['Fedora release 39 (Thirty Nine)', 'fedora', '39'],
    ['Rocky Linux release 9.3 (Blue Onyx)', 'rocky', '9.3'],
    ['AlmaLinux release 9.4 (Seafoam Ocelot)', 'almalinux', '9.4'],
    ['CentOS Stream release 9', 'centos', '9'],
  ])('reads /etc/redhat-release %j', (line, id, versionId) => {
    expect(distroDetector.detect(viewOf({ '/etc/redhat-release': `${line}\n` }))).toEqual({ id, versionId, prettyName: line, source: '/etc/redhat-release' });
  });

  // the system-release package's file: its version is the package version (system-release-2023.1.20230825, system-release-2-14.amzn2)
  it.each([
    ['Amazon Linux release 2023.1.20230825 (Amazon Linux)', 'amzn', '2023'],
    ['Amazon Linux release 2 (Karoo)', 'amzn', '2'],
    ['Amazon Linux AMI release 2018.03', 'amzn', '2018.03'],
    ['Oracle Linux Server release 8.9', 'ol', '8.9'],
  ])('reads /etc/system-release %j when there is no os-release', (line, id, versionId) => {
    expect(distroDetector.detect(viewOf({ '/etc/system-release': `${line}\n` }))).toEqual({ id, versionId, prettyName: line, source: '/etc/system-release' });
  });

  it('prefers os-release over /etc/system-release', () => {
    const view = viewOf({ '/etc/system-release': 'Amazon Linux release 2 (Karoo)\n', '/etc/os-release': 'ID="amzn"\nVERSION_ID="2"\nPRETTY_NAME="Amazon Linux 2"\n' });
    expect(distroDetector.detect(view)).toMatchObject({ id: 'amzn', versionId: '2', source: '/etc/os-release' });
  });

  it('names a distroless image (dpkg status.d, no release file) debian, without a version', () => {
    const view = viewOf({ '/var/lib/dpkg/status.d/libc6': 'Package: libc6\n' });
    expect(distroDetector.detect(view)).toEqual({ id: 'debian', source: '/var/lib/dpkg/status.d' });
  });

  it('takes the version of a distroless image from an os-release without ID', () => {
    const view = viewOf({ '/etc/os-release': 'PRETTY_NAME="Distroless"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n', '/var/lib/dpkg/status.d/libc6': 'Package: libc6\n' });
    expect(distroDetector.detect(view)).toEqual({ id: 'debian', versionId: '12', codename: 'bookworm', prettyName: 'Distroless', source: '/etc/os-release' });
  });

  it('answers undefined when nothing says which distribution it is', () => {
    expect(distroDetector.detect(viewOf({}))).toBeUndefined();
    expect(distroDetector.detect(viewOf({ '/etc/os-release': 'NAME=Something\n', '/etc/debian_version': 'garbage\n' }))).toBeUndefined();
  });

  it('declares every file it reads', () => {
    expect(distroDetector.needs).toEqual({
      exact: ['/etc/os-release', '/usr/lib/os-release', '/etc/alpine-release', '/etc/redhat-release', '/etc/centos-release', '/etc/system-release', '/etc/lsb-release', '/etc/debian_version'],
      // Red Hat's content manifests (UBI images): the RHEL product the CSAF VEX scope follows
      globs: ['/var/lib/dpkg/status.d/*', '/root/buildinfo/content_manifests/*.json'],
    });
  });
});

describe('parseShellAssignments', () => {
  it('handles quotes, escapes, comments and junk lines', () => {
    const text = [
      '# comment',
      'PLAIN=value',
      'DQ="two words"',
      "SQ='it''s'",
      'ESC="say \\"hi\\" \\$HOME \\\\ \\n"',
      'BARE=a\\ b',
      'MIXED="a"\'b\'c',
      'EMPTY=',
      'EMPTY_Q=""',
      'TRAILING=x # comment',
      'UNCLOSED="no end',
      'not an assignment',
      '  INDENTED=yes  ',
      'CRLF=1\r',
    ].join('\n');
    expect(parseShellAssignments(text)).toEqual({
      PLAIN: 'value',
      DQ: 'two words',
      SQ: 'its',
      ESC: 'say "hi" $HOME \\ \\n',
      BARE: 'a b',
      MIXED: 'abc',
      EMPTY: '',
      EMPTY_Q: '',
      TRAILING: 'x',
      UNCLOSED: 'no end',
      INDENTED: 'yes',
      CRLF: '1',
    });
  });
});
