/**
 * Severity where the distribution gives none: the matcher's fallback to the CVE records'
 * and NVD's CVSS (shared/match/severity.ts), whose severity each finding shows, and the
 * demo's Debian 12 image scanned as a user would (in-process CLI) with the Debian tracker
 * sample plus the NVD / CVE 5 records of its CVEs: every CVE they score gets a CVSS-based
 * severity with its source named, and `--fail-on high` fails on it.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryAdvisoryStore } from '../../shared/adapters/local/memory-advisory-store.js';
import { readCve5Record } from '../../shared/advisories/cve5.js';
import { CvssStore } from '../../shared/advisories/cvss-store.js';
import { loadAdvisories } from '../../shared/advisories/load.js';
import { readNvdJson } from '../../shared/advisories/nvd.js';
import type { Advisory, Severity } from '../../shared/advisories/types.js';
import type { Distro, Package } from '../../shared/catalog/types.js';
import { EXIT } from '../../shared/cli/main.js';
import { matchInventory, type Finding } from '../../shared/match/index.js';
import { applySeverityFallback, preferredRating } from '../../shared/match/severity.js';
import { runCli } from '../support/cli.js';
import { ensureDebianRootfs } from '../support/debootstrap.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { buildImage } from '../support/image-builder.js';

const ADV = join(SHARED_FIXTURES, 'advisories');
const NVD = join(ADV, 'nvd');
const bookworm: Distro = { id: 'debian', versionId: '12', codename: 'bookworm', source: '/etc/os-release' };

function deb(name: string, version: string): Package {
  return { type: 'deb', name, version, sourceName: name, sourceVersion: version, purl: `pkg:deb/debian/${name}@${version}`, layer: 'sha256:l1', locations: ['/var/lib/dpkg/status'] };
}

/** A tracker-like advisory: `pkg` affected (unfixed) in Debian 12, with the given severity. */
function advisory(id: string, pkg: string, severity: Severity, source: Advisory['source'] = 'debian-tracker', aliases: string[] = []): Advisory {
  return {
    id,
    source,
    aliases,
    related: [],
    severity,
    cvss: [],
    affected: [{ ecosystem: 'Debian:12', name: pkg, scheme: 'dpkg', intervals: [{ introduced: '0' }], versions: [], fixState: 'not-fixed', ...(severity !== 'unknown' ? { severity } : {}) }],
  };
}

async function cvssFrom(...files: string[]): Promise<CvssStore> {
  const s = new CvssStore();
  for (const f of files) {
    const j = JSON.parse(await readFile(join(NVD, f), 'utf8'));
    const r = f.startsWith('cve5') ? readCve5Record(j, f) : readNvdJson(j, f);
    for (const rec of r.records) s.add(rec);
  }
  return s;
}

async function matchOne(adv: Advisory, pkg: Package, cvss: CvssStore | undefined): Promise<Finding> {
  const store = new MemoryAdvisoryStore();
  await store.put([adv]);
  const r = await matchInventory({ packages: [pkg], distro: bookworm }, store, cvss ? { cvss } : {});
  expect(r.findings).toHaveLength(1);
  return r.findings[0]!;
}

describe('the severity fallback in the matcher', () => {
  it('OpenSSL’s text-only rating: CVE-2023-5678 (first revision) → low, cna:openssl', async () => {
    const f = await matchOne(advisory('CVE-2023-5678', 'openssl', 'unknown'), deb('openssl', '3.0.11-1~deb12u2'), await cvssFrom('cve5-debian/CVE-2023-5678.json'));
    expect([f.severity, f.severitySource, f.cvss]).toEqual(['low', 'cna:openssl', undefined]);
  });

  it('CVSS only in CISA’s ADP container: CVE-2024-7264 → medium 6.3, cisa-adp (and the finding carries the vector)', async () => {
    const f = await matchOne(advisory('CVE-2024-7264', 'curl', 'unknown'), deb('curl', '7.88.1-10+deb12u5'), await cvssFrom('cve5/CVE-2024-7264.json'));
    expect([f.severity, f.severitySource, f.cvss?.score, f.cvss?.vector]).toEqual(['medium', 'cisa-adp', 6.3, 'CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:L/A:L']);
  });

  it('no CVSS at all: CVE-2023-38408 stays unknown, source none', async () => {
    const f = await matchOne(advisory('CVE-2023-38408', 'openssh', 'unknown'), deb('openssh', '1:9.2p1-2'), await cvssFrom('cve5/CVE-2023-38408.json'));
    expect([f.severity, f.severitySource]).toEqual(['unknown', 'none']);
  });

  it('no CVSS store at all: unknown, none; the distribution’s own rating is kept and named', async () => {
    const f = await matchOne(advisory('CVE-2023-45853', 'zlib', 'unknown'), deb('zlib', '1:1.2.13.dfsg-1'), undefined);
    expect([f.severity, f.severitySource]).toEqual(['unknown', 'none']);
    const own = await matchOne(advisory('CVE-2023-45853', 'zlib', 'low'), deb('zlib', '1:1.2.13.dfsg-1'), await cvssFrom('nvd-api2-debian/CVE-2023-45853.json'));
    expect([own.severity, own.severitySource]).toEqual(['low', 'debian']); // NVD says critical: the vendor's rating wins
  });

  it('an OSV record’s own severity is named by its database (osv:GHSA)', async () => {
    const f = await matchOne(advisory('GHSA-j8r2-6x86-q33q', 'requests', 'medium', 'osv', ['CVE-2023-32681']), deb('requests', '2.28.1+dfsg-1'), await cvssFrom('cve5/CVE-2023-32681.json'));
    expect([f.id, f.severity, f.severitySource]).toEqual(['CVE-2023-32681', 'medium', 'osv:GHSA']);
  });

  it('the finding id first, then its CVE aliases (a DSA-only finding)', async () => {
    const cvss = await cvssFrom('nvd-api2-debian/CVE-2023-4911.json');
    const f: Finding = {
      id: 'DSA-5514-1',
      aliases: ['CVE-2023-4911'],
      severity: 'unknown',
      fixState: 'fixed',
      package: { type: 'deb', name: 'libc6', version: '2.36-9+deb12u2', purl: 'pkg:deb/debian/libc6@2.36-9%2Bdeb12u2' },
      layer: 'l',
      evidence: [],
    };
    applySeverityFallback([f], cvss);
    expect([f.severity, f.severitySource]).toEqual(['high', 'cna:redhat']);
  });

  it('preference order: CNA CVSS > NVD > CISA ADP > other > CNA text; the newest CVSS version within one rater', () => {
    const r = (kind: 'cna' | 'nvd' | 'cisa-adp' | 'secondary' | 'cna-text', severity: Severity, version?: '2.0' | '3.1' | '4.0') => ({ kind, source: kind, severity, ...(version ? { version, score: 5 } : {}) });
    expect(preferredRating([r('cna-text', 'high'), r('cisa-adp', 'low', '3.1'), r('nvd', 'critical', '3.1'), r('cna', 'medium', '3.1')])?.kind).toBe('cna');
    expect(preferredRating([r('cna-text', 'high'), r('cisa-adp', 'low', '3.1'), r('nvd', 'critical', '3.1')])?.kind).toBe('nvd');
    expect(preferredRating([r('cna-text', 'high'), r('secondary', 'high', '3.1'), r('cisa-adp', 'low', '3.1')])?.kind).toBe('cisa-adp');
    expect(preferredRating([r('cna-text', 'high'), r('secondary', 'low', '3.1')])?.kind).toBe('secondary');
    expect(preferredRating([r('nvd', 'high', '2.0'), r('nvd', 'medium', '3.1')])?.severity).toBe('medium');
    expect(preferredRating([r('cna', 'high', '3.1'), r('cna', 'critical', '4.0')])?.severity).toBe('critical');
    expect(preferredRating([])).toBeUndefined();
  });
});

describe('the demo’s Debian 12 image with the tracker sample + NVD / CVE 5 records (drydock scan in-process)', () => {
  let work: string;
  let ref: string;
  const env = () => ({ DRYDOCK_CACHE_DIR: join(work, 'cache') });
  const tracker = ['--advisories', join(ADV, 'debian', 'security-tracker')];
  const nvd = ['--advisories', join(NVD, 'nvd-api2-debian'), '--advisories', join(NVD, 'cve5-debian')];
  // The tracker sample is point-in-time data (2024): the age gate is another test's subject.
  const noAgeGate = ['--max-advisory-age', '0'];

  beforeAll(async () => {
    // The demo's packages (debootstrap's bookworm minbase, cached) in a small image: its dpkg status and os-release.
    const rootfs = await ensureDebianRootfs();
    work = await mkdtemp(join(tmpdir(), 'drydock-severity-'));
    const layout = join(work, 'layout');
    await mkdir(layout);
    await buildImage(layout, {
      tag: 'v1',
      layers: [
        {
          files: [
            { path: 'etc/os-release', content: await readFile(join(rootfs, 'etc/os-release')) },
            { path: 'var/lib/dpkg/status', content: await readFile(join(rootfs, 'var/lib/dpkg/status')) },
          ],
        },
      ],
    });
    ref = `oci:${layout}:v1`;
  }, 600_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('tracker only: mostly unknown, and --fail-on high passes (the problem this fixes)', async () => {
    const { code, out } = await runCli(['scan', ref, ...tracker, ...noAgeGate, '-o', 'json', '--fail-on', 'high'], env());
    const findings: Finding[] = JSON.parse(out).results[0].vulnerabilities.findings;
    const unknown = findings.filter((f) => f.severity === 'unknown');
    console.log(`tracker only: ${findings.length} findings, ${unknown.length} unknown`);
    expect(unknown.length).toBeGreaterThan(10);
    expect(unknown.every((f) => f.severitySource === 'none')).toBe(true);
    expect(code).toBe(EXIT.ok);
  });

  it('with NVD + CVE 5: every CVE they score gets a CVSS-based severity with its source; --fail-on high fails', async () => {
    // What the records say, read independently of the scan
    const store = new MemoryAdvisoryStore();
    const { cvss } = await loadAdvisories([join(NVD, 'nvd-api2-debian'), join(NVD, 'cve5-debian')], store);

    const { code, out, err } = await runCli(['scan', ref, ...tracker, ...nvd, ...noAgeGate, '-o', 'json', '--fail-on', 'high'], env());
    const findings: Finding[] = JSON.parse(out).results[0].vulnerabilities.findings;
    const bySource: Record<string, number> = {};
    let scored = 0;
    for (const f of findings) {
      expect(f.severitySource, f.id).toBeTruthy();
      bySource[f.severitySource!] = (bySource[f.severitySource!] ?? 0) + 1;
      if (f.evidence.some((e) => e.severity !== 'unknown')) {
        expect(f.severitySource).toBe('debian'); // the distribution's own rating wins
        continue;
      }
      const want = preferredRating(cvss.ratings(f.id));
      if (!want) {
        expect([f.severity, f.severitySource]).toEqual(['unknown', 'none']);
        continue;
      }
      scored++;
      expect([f.id, f.severity, f.severitySource]).toEqual([f.id, want.severity, want.source]);
    }
    console.log(`tracker + NVD + CVE 5: ${findings.length} findings, ${scored} with a CVSS-based severity, by source ${JSON.stringify(bySource)}`);
    expect(scored).toBeGreaterThanOrEqual(14);
    expect(findings.filter((f) => f.severity === 'unknown')).toEqual([]);
    const zlib = findings.find((f) => f.id === 'CVE-2023-45853')!;
    expect([zlib.severity, zlib.severitySource, zlib.cvss?.score]).toEqual(['critical', 'nvd', 9.8]);
    expect(findings.find((f) => f.id === 'CVE-2023-39804')?.severitySource).toBe('cisa-adp'); // ADP only, in the later revision
    expect(findings.find((f) => f.id === 'CVE-2011-3374')?.severitySource).toBe('debian');
    expect(code).toBe(EXIT.fail);
    expect(err).toMatch(/at or above high/);
  });

  it('the table names the rater of a severity taken from the CVE records / NVD; the tracker’s own stays bare', async () => {
    const { out } = await runCli(['scan', ref, ...tracker, ...nvd, ...noAgeGate], env());
    expect(out).toMatch(/^CVE-2023-45853\s.*\scritical \(nvd\)\s/m);
    expect(out).toMatch(/^CVE-2024-28085\s.*\slow \(cisa-adp\)\s/m);
    expect(out).toMatch(/^CVE-2011-3374\s.*\snegligible\s+#0 /m);
  });
});
