import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { advisoryNameFor, distroEcosystem, distroFromQualifier, ecosystemForPackage, ecosystemInfo } from '../../shared/advisories/ecosystems.js';
import { distroDetector } from '../../shared/catalog/distro.js';
import type { Distro, FileView, ViewFile } from '../../shared/catalog/types.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

/** The Distro the detector reads from a real os-release fixture. */
function distroOf(file: string): Distro {
  const content = readFileSync(join(SHARED_FIXTURES, 'pkgdb', 'os-release', file));
  const f: ViewFile = { path: '/etc/os-release', content, mode: 0o644, layer: 'sha256:test' };
  const view: FileView = { get: (p) => (p === f.path ? f : undefined), glob: () => [] };
  const d = distroDetector.detect(view);
  if (!d) throw new Error(`no distro in ${file}`);
  return d;
}

describe('ecosystemInfo', () => {
  it.each([
    ['npm', 'npm', 'semver'],
    ['PyPI', 'PyPI', 'pep440'],
    ['Maven', 'Maven', 'maven'],
    ['Go', 'Go', 'go'],
    ['RubyGems', 'RubyGems', 'rubygems'],
    ['NuGet', 'NuGet', 'nuget'],
    ['Packagist', 'Packagist', 'composer'],
    ['crates.io', 'crates.io', 'semver'],
    ['Debian:9', 'Debian:9', 'dpkg'],
    ['Debian:12', 'Debian:12', 'dpkg'],
    ['Debian:sid', 'Debian:unstable', 'dpkg'],
    ['Ubuntu:22.04:LTS', 'Ubuntu:22.04', 'dpkg'],
    ['Ubuntu:Pro:18.04:LTS', 'Ubuntu:18.04', 'dpkg'],
    ['Ubuntu:24.10', 'Ubuntu:24.10', 'dpkg'],
    ['Alpine:v3.19', 'Alpine:v3.19', 'apk'],
    ['Wolfi', 'Wolfi', 'apk'],
    ['Chainguard', 'Chainguard', 'apk'],
    ['Red Hat:enterprise_linux:9::appstream', 'Red Hat:9', 'rpm'],
    ['Red Hat:enterprise_linux:9::baseos', 'Red Hat:9', 'rpm'],
    ['Red Hat:rhel_eus:9.2::baseos', 'Red Hat:rhel_eus:9.2::baseos', 'rpm'],
    ['Rocky Linux:9', 'Rocky Linux:9', 'rpm'],
    ['AlmaLinux:9', 'AlmaLinux:9', 'rpm'],
    ['openSUSE:Leap 15.5', 'openSUSE:Leap 15.5', 'rpm'],
    ['SUSE:Linux Enterprise Server 15 SP5', 'SUSE:Linux Enterprise Server 15 SP5', 'rpm'],
    ['Mageia:9', 'Mageia:9', 'rpm'],
  ])('%s → key %s, scheme %s', (osv, key, scheme) => {
    const info = ecosystemInfo(osv);
    expect(info).toMatchObject({ key, scheme });
    // a key is its own key
    expect(ecosystemInfo(key)?.key).toBe(key);
  });

  it('knows every ecosystem of the Alpine OSV fixture', () => {
    const rec = JSON.parse(readFileSync(join(SHARED_FIXTURES, 'advisories', 'alpine', 'osv-dev', 'ALPINE-CVE-2025-26519.json'), 'utf8')) as { affected: Array<{ package: { ecosystem: string } }> };
    const keys = rec.affected.map((a) => ecosystemInfo(a.package.ecosystem)?.key);
    expect(keys).toEqual(['v3.16', 'v3.17', 'v3.18', 'v3.19', 'v3.20', 'v3.21', 'v3.22', 'v3.23', 'v3.24'].map((v) => `Alpine:${v}`));
  });

  it('refuses ecosystems it does not read and malformed releases', () => {
    for (const e of ['Linux', 'Android', 'OSS-Fuzz', 'Hex', 'Alpine', 'Alpine:3.19', 'Ubuntu', 'Red Hat', 'npm:extra', 'Debian:', '', 'constructor', 'toString']) {
      expect(ecosystemInfo(e), e).toBeUndefined();
    }
  });

  it('normalises names per ecosystem', () => {
    expect(ecosystemInfo('PyPI')!.normaliseName('Jinja2')).toBe('jinja2');
    expect(ecosystemInfo('PyPI')!.normaliseName('zope.interface')).toBe('zope-interface');
    expect(ecosystemInfo('PyPI')!.normaliseName('Foo__Bar-.baz')).toBe('foo-bar-baz');
    // GHSA-8hc4-vh64-cxmj names axios "Axios"; npm refuses names that differ only in case
    expect(ecosystemInfo('npm')!.normaliseName('Axios')).toBe('axios');
    expect(ecosystemInfo('npm')!.normaliseName('@babel/core')).toBe('@babel/core');
    expect(ecosystemInfo('NuGet')!.normaliseName('Newtonsoft.Json')).toBe('newtonsoft.json');
    expect(ecosystemInfo('Maven')!.normaliseName('org.apache.logging.log4j:log4j-core')).toBe('org.apache.logging.log4j:log4j-core');
    expect(ecosystemInfo('Go')!.normaliseName('github.com/BurntSushi/toml')).toBe('github.com/BurntSushi/toml');
    expect(ecosystemInfo('Debian:12')!.normaliseName('openssl')).toBe('openssl');
  });
});

describe('ecosystemForPackage on the real os-release fixtures', () => {
  it.each([
    ['debian-12.os-release', 'deb', 'Debian:12'],
    ['alpine.os-release', 'apk', 'Alpine:v3.15'],
    ['alpine-3.18.os-release', 'apk', 'Alpine:v3.18'],
    ['rhel.os-release', 'rpm', 'Red Hat:9'],
    ['rocky.os-release', 'rpm', 'Rocky Linux:9'],
    ['alma.os-release', 'rpm', 'AlmaLinux:9'],
    ['centos.os-release', 'rpm', undefined],
    ['fedora.os-release', 'rpm', undefined],
    ['oracle.os-release', 'rpm', 'Oracle Linux:8'], // ELSA (shared/advisories/elsa.ts)
  ])('%s %s → %s', (file, type, key) => {
    expect(ecosystemForPackage({ type }, distroOf(file))).toBe(key);
  });

  it('gives no key to an OS package of another kind than the distro', () => {
    expect(ecosystemForPackage({ type: 'rpm' }, distroOf('debian-12.os-release'))).toBeUndefined();
    expect(ecosystemForPackage({ type: 'deb' }, distroOf('alpine.os-release'))).toBeUndefined();
  });
});

describe('ecosystemForPackage', () => {
  it('maps language packages whatever the distro', () => {
    const debian = distroOf('debian-12.os-release');
    expect(ecosystemForPackage({ type: 'npm' }, debian)).toBe('npm');
    expect(ecosystemForPackage({ type: 'pypi' })).toBe('PyPI');
    expect(ecosystemForPackage({ type: 'maven' })).toBe('Maven');
    expect(ecosystemForPackage({ type: 'golang' })).toBe('Go');
    expect(ecosystemForPackage({ type: 'gem' })).toBe('RubyGems');
    expect(ecosystemForPackage({ type: 'nuget' })).toBe('NuGet');
    expect(ecosystemForPackage({ type: 'composer' })).toBe('Packagist');
    expect(ecosystemForPackage({ type: 'cargo' })).toBe('crates.io');
    expect(ecosystemForPackage({ type: 'hex' })).toBeUndefined();
    expect(ecosystemForPackage({ type: 'deb' })).toBeUndefined();
  });

  it('falls back on the package distro qualifier', () => {
    expect(ecosystemForPackage({ type: 'deb', distro: 'debian-12' })).toBe('Debian:12');
    expect(ecosystemForPackage({ type: 'deb', distro: 'debian-bookworm' })).toBe('Debian:12');
    expect(ecosystemForPackage({ type: 'apk', distro: 'alpine-3.19.1' })).toBe('Alpine:v3.19');
    expect(ecosystemForPackage({ type: 'deb', distro: 'ubuntu-22.04' })).toBe('Ubuntu:22.04');
    expect(ecosystemForPackage({ type: 'rpm', distro: 'opensuse-leap-15.5' })).toBe('openSUSE:Leap 15.5');
    expect(distroFromQualifier('opensuse-tumbleweed')).toMatchObject({ id: 'opensuse-tumbleweed' });
  });
});

describe('distroEcosystem', () => {
  const d = (id: string, versionId?: string, codename?: string, prettyName?: string) => ({ id, versionId, codename, prettyName });
  it.each([
    [d('debian', '11'), 'Debian:11'],
    [d('debian', undefined, 'trixie'), 'Debian:13'],
    [d('debian', undefined, 'buster'), 'Debian:10'],
    [d('debian', undefined, 'stretch'), 'Debian:9'],
    // the Debian tracker reader's key for sid; OSV's "Debian:sid" folds into it
    [d('debian', undefined, 'sid'), 'Debian:unstable'],
    [d('debian'), undefined],
    [d('ubuntu', '22.04'), 'Ubuntu:22.04'],
    [d('alpine', '3.19.1'), 'Alpine:v3.19'],
    [d('alpine', '3.21_alpha20240923'), 'Alpine:edge'],
    [d('wolfi', '20230201'), 'Wolfi'],
    [d('opensuse-leap', '15.5', undefined, 'openSUSE Leap 15.5'), 'openSUSE:Leap 15.5'],
    [d('opensuse-tumbleweed', '20240101'), 'openSUSE:Tumbleweed'],
    [d('sles', '15.5', undefined, 'SUSE Linux Enterprise Server 15 SP5'), 'SUSE:Linux Enterprise Server 15 SP5'],
    [d('sles', '15.5'), 'SUSE:Linux Enterprise Server 15 SP5'],
    [d('sles', '15'), 'SUSE:Linux Enterprise Server 15'],
    [d('mageia', '9'), 'Mageia:9'],
    // ALAS (shared/advisories/alas.ts): the major release only
    [d('amzn', '2023'), 'Amazon Linux:2023'],
    [d('amzn', '2'), 'Amazon Linux:2'],
    [d('amzn', '2018.03'), 'Amazon Linux:1'],
    [d('centos', '9'), undefined],
  ])('%o → %s', (distro, key) => {
    expect(distroEcosystem(distro)).toBe(key);
    if (key) expect(ecosystemInfo(key)?.key).toBe(key);
  });
});

describe('advisoryNameFor', () => {
  it('gives Maven packages their groupId:artifactId', () => {
    expect(advisoryNameFor({ type: 'maven', name: 'log4j-core', purl: 'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1', metadata: { groupId: 'org.apache.logging.log4j' } })).toBe('org.apache.logging.log4j:log4j-core');
    expect(advisoryNameFor({ type: 'maven', name: 'log4j-core', purl: 'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1' })).toBe('org.apache.logging.log4j:log4j-core');
    // the Java cataloger puts the artifactId in the purl namespace when the group is unknown
    expect(advisoryNameFor({ type: 'maven', name: 'foo', purl: 'pkg:maven/foo/foo@1', metadata: {} })).toBe('foo');
    expect(advisoryNameFor({ type: 'npm', name: 'lodash', purl: 'pkg:npm/lodash@4.17.20' })).toBe('lodash');
  });
});
