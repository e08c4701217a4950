/**
 * ALAS matching: the real AL2023 rpm database × the real ALAS records, Amazon Inspector's
 * findings on an AL2023 image checked against Drydock's rpm order, and the epoch and extras-topic
 * rules (each with the naive rule shown to get it wrong).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryAdvisoryStore } from '../../shared/adapters/local/memory-advisory-store.js';
import { readAlasUpdateinfo, readAlasVulnListJson } from '../../shared/advisories/alas.js';
import { distroEcosystem } from '../../shared/advisories/ecosystems.js';
import type { Advisory } from '../../shared/advisories/types.js';
import { rpmCataloger } from '../../shared/catalog/rpm/index.js';
import { loadSqliteEngine } from '../../shared/catalog/rpm/sqlite.js';
import type { Distro, FileView, Package, ViewFile } from '../../shared/catalog/types.js';
import { al2023Release, alasEntryApplies } from '../../shared/match/alas.js';
import { matchInventory } from '../../shared/match/index.js';
import { rpmComparator } from '../../shared/versions/rpm.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const AMAZON = join(SHARED_FIXTURES, 'advisories/amazon');
const LAYER = 'sha256:a1a1';
const AL2023: Distro = { id: 'amzn', versionId: '2023', prettyName: 'Amazon Linux 2023.6.20241010', idLike: ['fedora'], source: '/etc/os-release' };
const AL2: Distro = { id: 'amzn', versionId: '2', prettyName: 'Amazon Linux 2', source: '/etc/os-release' };

beforeAll(async () => {
  expect(await loadSqliteEngine()).toBe(true);
});

function al2023Packages(): Package[] {
  const content = readFileSync(join(SHARED_FIXTURES, 'pkgdb/rpm/sqlite-amazonlinux2023/rpmdb.sqlite'));
  const file: ViewFile = { path: '/var/lib/rpm/rpmdb.sqlite', content, mode: 0o644, layer: LAYER } as ViewFile;
  const view: FileView = { get: (p) => (p === file.path ? file : undefined), glob: () => [] };
  const r = rpmCataloger.catalog(view, { distro: AL2023 });
  expect(r.packages.length).toBe(102);
  return r.packages;
}

function vulnListStore(): MemoryAdvisoryStore {
  const store = new MemoryAdvisoryStore();
  const dir = join(AMAZON, 'vuln-list-json');
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    const r = readAlasVulnListJson(JSON.parse(readFileSync(join(dir, f), 'utf8')), { where: f });
    expect(r.issues).toEqual([]);
    for (const a of r.advisories) store.add(a);
  }
  return store;
}

const rpm = (name: string, version: string): Package => ({ type: 'rpm', name, version, purl: `pkg:rpm/amazon/${name}@${version}`, layer: LAYER }) as Package;

/** A one-package ALAS, as the reader makes it. */
function alas(id: string, ecosystem: string, name: string, fixed: string, notes: Record<string, unknown> = {}): Advisory {
  return {
    id,
    source: 'alas',
    aliases: [],
    related: [],
    severity: 'high',
    cvss: [],
    published: '2024-11-01T00:00:00Z',
    affected: [{ ecosystem, name, scheme: 'rpm', intervals: [{ introduced: '0', fixed }], versions: [], fixState: 'fixed', notes }],
  };
}

describe('release keys', () => {
  it('major version only', () => {
    expect(distroEcosystem(AL2023)).toBe('Amazon Linux:2023');
    expect(distroEcosystem({ id: 'amzn', versionId: '2023.6.20241010' })).toBe('Amazon Linux:2023');
    expect(distroEcosystem(AL2)).toBe('Amazon Linux:2');
    expect(distroEcosystem({ id: 'amzn', versionId: '2018.03' })).toBe('Amazon Linux:1');
    expect(distroEcosystem({ id: 'amzn', prettyName: 'Amazon Linux AMI 2018.03' })).toBe('Amazon Linux:1');
    expect(al2023Release(AL2023)).toEqual({ release: '2023.6.20241010', date: '2024-10-10' });
  });
});

describe('AL2023 rpmdb × real ALAS records', () => {
  it('reports exactly the five expected packages with the published fixed versions', async () => {
    const result = await matchInventory({ packages: al2023Packages(), distro: AL2023 }, vulnListStore());
    expect(result.issues).toEqual([]);
    const got = [...new Set(result.findings.map((f) => `${f.package.name} ${f.package.version} → ${f.fixedIn} (${f.evidence[0]!.advisory})`))].sort();
    console.log(got.join('\n'));
    // installed versions as the fixture's expected-packages.csv (go-rpmdb) lists them
    expect(got).toEqual([
      'curl-minimal 8.0.1-1.amzn2023.0.1 → 0:8.5.0-1.amzn2023.0.2 (ALAS2023-2024-606)',
      'expat 2.5.0-1.amzn2023.0.2 → 0:2.5.0-1.amzn2023.0.4 (ALAS2023-2024-576)',
      'krb5-libs 1.20.1-8.amzn2023.0.2 → 0:1.21-3.amzn2023.0.4 (ALAS2023-2024-586)',
      'libcurl-minimal 8.0.1-1.amzn2023.0.1 → 0:8.5.0-1.amzn2023.0.2 (ALAS2023-2024-606)',
      'libnghttp2 1.55.1-1.amzn2023.0.1 → 0:1.59.0-3.amzn2023.0.1 (ALAS2023-2024-592)',
    ]);
    expect(new Set(result.findings.map((f) => f.package.name)).size).toBe(5);
    for (const f of result.findings) {
      expect(f.fixState).toBe('fixed');
      expect(f.id).toMatch(/^CVE-/);
      expect(f.aliases).toContain(f.evidence[0]!.advisory);
      // the ALAS's own rating: Important → high, Medium → medium
      expect(f.severity).toBe({ 'ALAS2023-2024-576': 'high', 'ALAS2023-2024-586': 'medium', 'ALAS2023-2024-592': 'high', 'ALAS2023-2024-606': 'medium' }[f.evidence[0]!.advisory]);
      // 2023.6.20241010 is newer than these March 2024 advisories: the image's own release has the fix
      expect(f.remediation).toMatch(/already has it: `dnf upgrade /);
    }
  });

  it('an image on a release older than the ALAS is told to move release (frozen releases)', async () => {
    const old: Distro = { ...AL2023, prettyName: 'Amazon Linux 2023.3.20240117' };
    const result = await matchInventory({ packages: al2023Packages(), distro: old }, vulnListStore());
    const expat = result.findings.find((f) => f.package.name === 'expat')!;
    expect(expat.remediation).toContain('ALAS2023-2024-576: fixed in 0:2.5.0-1.amzn2023.0.4; the first AL2023 release dated 2024-03-27 or later ships it');
    expect(expat.remediation).toContain('2023.3.20240117 predates it');
    expect(expat.remediation).toContain('dnf upgrade --releasever=latest');
    const unknown = await matchInventory({ packages: al2023Packages(), distro: { id: 'amzn', versionId: '2023', source: 'x' } }, vulnListStore());
    expect(unknown.findings.find((f) => f.package.name === 'expat')!.remediation).toMatch(/release is not known/);
  });

  it('matches by binary name only: a source-name lookup would add nothing the binaries do not say', async () => {
    // curl-minimal's source rpm is "curl": the ALAS row for the binary "curl" must not judge curl-minimal
    const store = new MemoryAdvisoryStore();
    store.add(alas('ALAS2023-2099-1', 'Amazon Linux:2023', 'curl', '0:99-1.amzn2023'));
    const result = await matchInventory({ packages: al2023Packages(), distro: AL2023 }, store);
    expect(result.findings).toEqual([]);
  });
});

describe('Amazon Inspector findings on an AL2023 image agree with Drydock rpm order', () => {
  it('for each of the 17 findings, installed < Inspector fixed version', () => {
    const doc = JSON.parse(readFileSync(join(AMAZON, 'inspector/amazonlinux-2023.inspector-scan-sbom-api.cdx.json'), 'utf8')).sbom;
    const comps = new Map<string, { purl: string }>((doc.components as Array<{ 'bom-ref': string; purl: string }>).map((c) => [c['bom-ref'], c]));
    const vulns = doc.vulnerabilities as Array<{ id: string; affects: Array<{ ref: string }>; properties: Array<{ name: string; value: string }> }>;
    expect(vulns).toHaveLength(17);
    const disagreements: string[] = [];
    let checked = 0;
    for (const v of vulns) {
      for (const a of v.affects) {
        const purl = comps.get(a.ref)!.purl;
        const m = /^pkg:rpm\/amazon\/([^@]+)@([^?]+)\?(.*)$/.exec(purl)!;
        const epoch = /(?:^|&)epoch=(\d+)/.exec(m[3]!)?.[1];
        const installed = `${epoch ? `${epoch}:` : ''}${decodeURIComponent(m[2]!)}`;
        const fixed = v.properties.find((p) => p.name === `amazon:inspector:sbom_scanner:fixed_version:${a.ref}`)?.value;
        expect(fixed, `${v.id} ${purl}`).toBeDefined();
        checked++;
        if (rpmComparator.compare(installed, fixed!) >= 0) disagreements.push(`${v.id} ${m[1]}: installed ${installed}, Inspector fixed ${fixed}`);
      }
    }
    if (disagreements.length) console.log(`disagreements with Inspector:\n${disagreements.join('\n')}`);
    expect(checked).toBeGreaterThanOrEqual(17);
    expect(disagreements).toEqual([]);
  });
});

describe('epoch is explicit', () => {
  // ALAS2-2018-942: qemu-kvm fixed in epoch 10 (real sample)
  let qemu: Advisory;
  beforeAll(async () => {
    qemu = (await readAlasUpdateinfo(join(AMAZON, 'updateinfo/al2-core.ALAS2-2018-942+949.vuln-list-update.xml.gz'))).advisories.find((a) => a.id === 'ALAS2-2018-942')!;
  });
  const run = async (version: string, a: Advisory = qemu) => {
    const store = new MemoryAdvisoryStore();
    store.add(a);
    return (await matchInventory({ packages: [rpm('qemu-kvm', version)], distro: AL2 }, store)).findings;
  };

  it('an epoch-10 fix flags the epoch-10 build below it and not the one at or above it', async () => {
    expect(qemu.affected.find((p) => p.name === 'qemu-kvm')!.intervals[0]!.fixed).toBe('10:1.5.3-141.amzn2.5.3');
    expect((await run('10:1.5.3-141.amzn2.5.2')).map((f) => f.fixedIn)).toEqual(['10:1.5.3-141.amzn2.5.3']);
    expect(await run('10:1.5.3-141.amzn2.5.3')).toEqual([]);
    expect(await run('10:2.0.0-1.amzn2')).toEqual([]);
    // naive: the fix written without its epoch ("1.5.3-141.amzn2.5.3") makes every epoch-10 build look newer
    expect(rpmComparator.compare('10:1.5.3-141.amzn2.5.2', '1.5.3-141.amzn2.5.3')).toBeGreaterThan(0);
  });

  it('a fix at epoch 0 never flags an epoch-1 package, whatever its version-release (rpm compares epochs first)', async () => {
    const a = alas('ALAS2-2099-1', 'Amazon Linux:2', 'qemu-kvm', '0:2.5.0-1.amzn2');
    expect(await run('1:1.0-1.amzn2', a)).toEqual([]);
    // naive: comparing version-release only (the epoch dropped on either side) says 1.0-1 < 2.5.0-1
    expect(rpmComparator.compare('1.0-1.amzn2', '2.5.0-1.amzn2')).toBeLessThan(0);
  });

  it('an rpm without an EPOCH tag is epoch 0, as rpm reads it: below an epoch-10 fix', async () => {
    expect((await run('1.5.3-150.amzn2')).map((f) => f.fixedIn)).toEqual(['10:1.5.3-141.amzn2.5.3']);
  });
});

describe('AL2 extras topics apply only to their version line', () => {
  let k515: Advisory;
  beforeAll(async () => {
    k515 = (await readAlasUpdateinfo(join(AMAZON, 'updateinfo/al2-extras-kernel-5.15.ALAS2KERNEL-5.15-2022-001.vuls-data-update.xml.gz'))).advisories[0]!;
  });
  const run = async (pkgs: Package[], a: Advisory) => {
    const store = new MemoryAdvisoryStore();
    store.add(a);
    return (await matchInventory({ packages: pkgs, distro: AL2 }, store)).findings;
  };

  it('an ALAS2KERNEL-5.15 fix for kernel does not flag a 4.14 core kernel, and flags an older 5.15 one', async () => {
    expect(await run([rpm('kernel', '4.14.355-275.570.amzn2')], k515)).toEqual([]);
    const older = await run([rpm('kernel', '5.15.30-1.amzn2')], k515);
    // one ALAS, its 13 CVEs as aliases: one finding
    expect(older.map((f) => [f.package.name, f.fixedIn])).toEqual([['kernel', '0:5.15.43-20.123.amzn2']]);
    expect([older[0]!.id, ...older[0]!.aliases].sort()).toEqual([...k515.aliases, k515.id].sort());
    expect(await run([rpm('kernel', '5.15.43-20.123.amzn2')], k515)).toEqual([]);
    // naive: rpm order alone says the 4.14 kernel is below the 5.15 fix
    expect(rpmComparator.compare('4.14.355-275.570.amzn2', '0:5.15.43-20.123.amzn2')).toBeLessThan(0);
  });

  it('a golang1.19 fix does not flag golang 1.18 (another topic) and flags 1.19.9', async () => {
    const g = (await readAlasUpdateinfo(join(AMAZON, 'updateinfo/al2-extras-golang1.19.ALAS2GOLANG1.19-2023-001.vuln-list-update-pr268.xml.gz'))).advisories[0]!;
    expect(await run([rpm('golang', '1.18.10-1.amzn2.0.1')], g)).toEqual([]);
    expect((await run([rpm('golang', '1.19.9-1.amzn2')], g)).length).toBe(1);
  });

  it('a core advisory (no topic) applies across lines; the rule is per entry', () => {
    const core = alas('ALAS2-2099-2', 'Amazon Linux:2', 'kernel', '0:4.14.356-1.amzn2').affected[0]!;
    expect(alasEntryApplies(core, '4.14.355-275.570.amzn2')).toBe(true);
    expect(alasEntryApplies(k515.affected.find((p) => p.name === 'kernel')!, '4.14.355-275.570.amzn2')).toBe(false);
  });

  it('livepatch advisories only judge their livepatch packages', async () => {
    const lp = (await readAlasUpdateinfo(join(AMAZON, 'updateinfo/al2023-kernel-livepatch.ALAS2023LIVEPATCH-2023-001.vuls-data-update.xml.gz'))).advisories[0]!;
    expect(lp.affected.map((p) => p.name)).toEqual(['kernel-livepatch-6.1.12-19.43']);
    const store = new MemoryAdvisoryStore();
    store.add(lp);
    const findings = (await matchInventory({ packages: [rpm('kernel', '6.1.12-19.43.amzn2023'), rpm('kernel-livepatch-6.1.12-19.43', '0.9-1.amzn2023')], distro: AL2023 }, store)).findings;
    expect(findings.map((f) => f.package.name)).toEqual(['kernel-livepatch-6.1.12-19.43']);
  });
});
