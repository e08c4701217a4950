import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryAdvisoryStore } from '../../shared/adapters/local/memory-advisory-store.js';
import { loadAdvisories } from '../../shared/advisories/load.js';
import type { Distro, Package } from '../../shared/catalog/types.js';
import { matchInventory, type Finding } from '../../shared/match/index.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const ADV = join(SHARED_FIXTURES, 'advisories');
const bookworm: Distro = { id: 'debian', versionId: '12', codename: 'bookworm', source: '/etc/os-release' };
const bullseye: Distro = { id: 'debian', versionId: '11', codename: 'bullseye', source: '/etc/os-release' };
const alpine320: Distro = { id: 'alpine', versionId: '3.20.3', source: '/etc/os-release' };
const alpine319: Distro = { id: 'alpine', versionId: '3.19.1', source: '/etc/os-release' };

function deb(name: string, version: string, source = name, sourceVersion = version): Package {
  return { type: 'deb', name, version, sourceName: source, sourceVersion, purl: `pkg:deb/debian/${name}@${version}`, layer: 'sha256:l1', locations: ['/var/lib/dpkg/status'] };
}
function apk(name: string, version: string, origin = name): Package {
  return { type: 'apk', name, version, sourceName: origin, sourceVersion: version, purl: `pkg:apk/alpine/${name}@${version}`, layer: 'sha256:l1', locations: ['/lib/apk/db/installed'] };
}
function lang(type: string, name: string, version: string, ownedBy?: Package): Package {
  return {
    type,
    name,
    version,
    purl: `pkg:${type}/${name}@${version}`,
    layer: 'sha256:l2',
    locations: ['/x'],
    ...(ownedBy ? { ownedBy: { type: ownedBy.type, name: ownedBy.name, version: ownedBy.version, purl: ownedBy.purl } } : {}),
  };
}
const ids = (fs: Finding[]) => fs.map((f) => f.id).sort();
const one = (fs: Finding[], id: string) => {
  const f = fs.filter((x) => x.id === id || x.aliases.includes(id));
  expect(f, `exactly one finding for ${id}`).toHaveLength(1);
  return f[0]!;
};

describe('matching Debian packages against the Debian Security Tracker (real fixtures)', () => {
  const store = new MemoryAdvisoryStore();
  beforeAll(async () => {
    await loadAdvisories([join(ADV, 'debian', 'security-tracker')], store);
  });

  it('a binary package is matched through its source package, with the DSA fix for its release', async () => {
    const r = await matchInventory({ packages: [deb('libc6', '2.36-9+deb12u2', 'glibc')], distro: bookworm }, store);
    const f = one(r.findings, 'CVE-2023-4911');
    expect(f).toMatchObject({ fixState: 'fixed', fixedIn: '2.36-9+deb12u3', package: { name: 'libc6', sourceName: 'glibc' } });
    expect(f.aliases).toContain('DSA-5514-1');
    expect(f.evidence.every((e) => e.key.ecosystem === 'Debian:12' && e.key.name === 'glibc')).toBe(true);
    // the lowest fix above the installed version: deb12u3 (DSA-5514-1), not deb12u4/6/7 of later DSAs
    // DSA-5611-1 fixes three CVEs the fixtures have no entries for: one finding under the DSA's id
    // (the CVEs as related), not three CVEs merged into one, nor one of them standing for the others
    const dsa = one(r.findings, 'DSA-5611-1');
    expect(dsa).toMatchObject({ fixedIn: '2.36-9+deb12u4', aliases: [], related: ['CVE-2023-6246', 'CVE-2023-6779', 'CVE-2023-6780'] });
    expect(r.findings.filter((f) => f.id === 'CVE-2023-6246' || f.aliases.includes('CVE-2023-6246'))).toEqual([]);
  });

  it('at the fixed version the DSA-fixed CVE is gone; later DSAs still apply', async () => {
    const r = await matchInventory({ packages: [deb('libc6', '2.36-9+deb12u3', 'glibc')], distro: bookworm }, store);
    expect(ids(r.findings)).not.toContain('CVE-2023-4911');
    expect(ids(r.findings)).toContain('CVE-2024-2961');
    const r7 = await matchInventory({ packages: [deb('libc6', '2.36-9+deb12u7', 'glibc')], distro: bookworm }, store);
    expect(r7.findings.filter((f) => f.fixState === 'fixed')).toEqual([]);
  });

  it('another release is judged by its own lines: bullseye glibc gets the bullseye fix, not the bookworm one', async () => {
    const r = await matchInventory({ packages: [deb('libc6', '2.31-13+deb11u6', 'glibc')], distro: bullseye }, store);
    expect(one(r.findings, 'CVE-2024-2961').fixedIn).toBe('2.31-13+deb11u9');
    expect(r.findings.every((f) => f.evidence.every((e) => e.key.ecosystem === 'Debian:11'))).toBe(true);
    // DSA-5532-1 (openssl, bookworm only) and CVE-2023-5363 not-affected in bullseye
    const o = await matchInventory({ packages: [deb('libssl1.1', '1.1.1w-0+deb11u1', 'openssl')], distro: bullseye }, store);
    expect(ids(o.findings)).not.toContain('CVE-2023-5363');
  });

  it('<unfixed> with unimportant urgency: reported, not fixed, negligible', async () => {
    const r = await matchInventory({ packages: [deb('apt', '2.6.1')], distro: bookworm }, store);
    expect(one(r.findings, 'CVE-2011-3374')).toMatchObject({ fixState: 'not-fixed', severity: 'negligible' });
    expect(one(r.findings, 'CVE-2011-3374').fixedIn).toBeUndefined();
  });

  it('<no-dsa> for bookworm: affected, fix deferred to a point release, no fixed version', async () => {
    const r = await matchInventory({ packages: [deb('tar', '1.34+dfsg-1.2+deb12u1')], distro: bookworm }, store);
    const f = one(r.findings, 'CVE-2023-39804');
    expect(f.fixState).toBe('deferred');
    expect(f.fixedIn).toBeUndefined();
  });

  it('<not-affected> for a release: no finding', async () => {
    const r = await matchInventory({ packages: [deb('bash', '5.0-4', 'bash')], distro: { id: 'debian', versionId: '10', codename: 'buster', source: 'x' } }, store);
    expect(ids(r.findings)).not.toContain('CVE-2022-3715');
    expect(r.counts.notAffected).toBeGreaterThan(0);
  });

  it('<ignored> for a release: affected, will not be fixed', async () => {
    const r = await matchInventory({ packages: [deb('libxmltok1', '1.2-4', 'libxmltok')], distro: bookworm }, store);
    expect(one(r.findings, 'CVE-2023-52425').fixState).toBe('wont-fix');
  });

  it('fixed only in sid: a bookworm package below that version is affected but has no bookworm fix', async () => {
    const r = await matchInventory({ packages: [deb('libkrb5-3', '1.20.1-2+deb12u1', 'krb5')], distro: bookworm }, store);
    // CVE-2024-37371: sid fixed 1.21.3-1; DSA-5726-1 fixes bookworm in 1.20.1-2+deb12u2: the DSA's fix wins
    expect(one(r.findings, 'CVE-2024-37371')).toMatchObject({ fixState: 'fixed', fixedIn: '1.20.1-2+deb12u2' });
    // CVE-2023-50495: sid fixed 6.4+20230625-1, bookworm <no-dsa>
    const n = await matchInventory({ packages: [deb('libtinfo6', '6.4-4', 'ncurses')], distro: bookworm }, store);
    expect(one(n.findings, 'CVE-2023-50495').fixState).toBe('deferred');
    // CVE-2023-45853: zlib fixed in sid 1:1.3.dfsg-2, no bookworm line: bookworm's 1:1.2.13 is affected, not fixed there
    const z = await matchInventory({ packages: [deb('zlib1g', '1:1.2.13.dfsg-1', 'zlib')], distro: bookworm }, store);
    const zf = one(z.findings, 'CVE-2023-45853');
    expect(zf.fixState).toBe('not-fixed');
    expect(zf.fixedIn).toBeUndefined();
    // at or above the sid version it is not affected
    const z2 = await matchInventory({ packages: [deb('zlib1g', '1:1.3.dfsg-2', 'zlib')], distro: bookworm }, store);
    expect(ids(z2.findings)).not.toContain('CVE-2023-45853');
  });

  it('the release-specific fixed version is the fix (perl bookworm 5.36.0-7+deb12u3)', async () => {
    const r = await matchInventory({ packages: [deb('perl-base', '5.36.0-7+deb12u1', 'perl')], distro: bookworm }, store);
    expect(one(r.findings, 'CVE-2023-31484')).toMatchObject({ fixState: 'fixed', fixedIn: '5.36.0-7+deb12u3' });
    const ok = await matchInventory({ packages: [deb('perl-base', '5.36.0-7+deb12u3', 'perl')], distro: bookworm }, store);
    expect(ids(ok.findings)).not.toContain('CVE-2023-31484');
  });
});

describe('matching Alpine packages (real secdb and OSV fixtures)', () => {
  const store = new MemoryAdvisoryStore();
  beforeAll(async () => {
    await loadAdvisories([join(ADV, 'alpine', 'secdb-v3.20-main-per-package'), join(ADV, 'alpine', 'osv-dev')], store);
  });

  it('busybox below the fix: CVE-2018-1000500 fixed in 1.28.3-r2; at it, nothing', async () => {
    const r = await matchInventory({ packages: [apk('busybox', '1.28.3-r1')], distro: alpine320 }, store);
    expect(one(r.findings, 'CVE-2018-1000500')).toMatchObject({ fixState: 'fixed', fixedIn: '1.28.3-r2' });
    const ok = await matchInventory({ packages: [apk('busybox', '1.28.3-r2')], distro: alpine320 }, store);
    expect(ids(ok.findings)).not.toContain('CVE-2018-1000500');
  });

  it('secdb "0" (not affected in this branch) gives no finding', async () => {
    const r = await matchInventory({ packages: [apk('busybox', '1.36.1-r29')], distro: alpine320 }, store);
    expect(ids(r.findings)).not.toContain('CVE-2021-42373');
  });

  it('another branch (3.19) is not judged by the 3.20 secdb', async () => {
    const r = await matchInventory({ packages: [apk('busybox', '1.28.3-r1')], distro: alpine319 }, store);
    expect(ids(r.findings)).not.toContain('CVE-2018-1000500');
  });

  it('secdb and the OSV record of the same CVE merge into one finding, by origin package', async () => {
    const r = await matchInventory({ packages: [apk('musl-utils', '1.2.5-r0', 'musl')], distro: alpine320 }, store);
    const f = one(r.findings, 'CVE-2025-26519');
    expect(f.fixedIn).toBe('1.2.5-r1');
    expect(f.aliases).toContain('ALPINE-CVE-2025-26519');
    expect(new Set(f.evidence.map((e) => e.source))).toEqual(new Set(['alpine-secdb', 'osv']));
  });
});

describe('matching language packages (real GHSA and PYSEC fixtures)', () => {
  const store = new MemoryAdvisoryStore();
  beforeAll(async () => {
    await loadAdvisories([join(ADV, 'npm'), join(ADV, 'pypi', 'pypa-json'), join(ADV, 'pypi', 'ghsa')], store);
  });

  it('npm lodash 4.17.20 → GHSA-35jh-r3h4-6jhm (CVE-2021-23337) fixed in 4.17.21; 4.17.21 is clean', async () => {
    const r = await matchInventory({ packages: [lang('npm', 'lodash', '4.17.20')] }, store);
    const f = one(r.findings, 'CVE-2021-23337');
    expect(f).toMatchObject({ fixedIn: '4.17.21', severity: 'high' });
    expect(f.aliases).toContain('GHSA-35jh-r3h4-6jhm');
    const ok = await matchInventory({ packages: [lang('npm', 'lodash', '4.17.21')] }, store);
    expect(ok.findings).toEqual([]);
  });

  it('PyPI names are matched after PEP 503 normalisation (Jinja2 = jinja2)', async () => {
    const r = await matchInventory({ packages: [lang('pypi', 'Jinja2', '3.1.2')] }, store);
    expect(ids(r.findings)).toContain('CVE-2024-34064');
  });

  it("Debian's python3 packages raise no PyPI findings: they are judged through their deb (counted, listed)", async () => {
    const owner = deb('python3-requests', '2.28.1+dfsg-1');
    const requests = lang('pypi', 'requests', '2.28.1', owner);
    const r = await matchInventory({ packages: [owner, requests], distro: bookworm }, store);
    expect(r.findings.filter((f) => f.package.type === 'pypi')).toEqual([]);
    expect(r.counts.ownedByOsPackage).toBe(1);
    expect(r.judgedThroughOwner).toEqual([{ package: requests.purl, owner: owner.purl }]);
    // the same version installed by pip is matched (PYSEC-2023-74 = CVE-2023-32681, fixed 2.31.0)
    const pip = await matchInventory({ packages: [lang('pypi', 'requests', '2.28.1')] }, store);
    expect(one(pip.findings, 'CVE-2023-32681')).toMatchObject({ fixedIn: '2.31.0' });
  });
});

describe('bad data is reported, never a silent non-match', () => {
  it('an installed version that is not valid in its scheme is an issue naming the package', async () => {
    const store = new MemoryAdvisoryStore();
    await loadAdvisories([join(ADV, 'npm')], store);
    const r = await matchInventory({ packages: [lang('npm', 'lodash', 'not-a-version')] }, store);
    expect(r.findings).toEqual([]);
    expect(r.counts.invalidVersions).toBe(1);
    expect(r.issues[0]!.message).toMatch(/not-a-version/);
  });

  it('a package on an unknown distro is listed as unmatchable with the reason', async () => {
    const r = await matchInventory({ packages: [deb('libc6', '2.36-9')], distro: { id: 'plan9', source: 'x' } }, new MemoryAdvisoryStore());
    expect(r.unmatchable).toHaveLength(1);
    expect(r.unmatchable[0]!.why).toMatch(/plan9/);
  });
});
