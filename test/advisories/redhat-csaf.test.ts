/**
 * Red Hat CSAF VEX (shared/advisories/csaf.ts) on every real file in fixtures/advisories/redhat:
 * Red Hat's own (claircore's copies: curl in the current layout, kernel and Quarkus in the 2023
 * layout) and vuln-list-redhat's re-serialised ones (apt, tar). Each yields its "fixed",
 * "affected, no fix", "will not fix", "deferred" and "not affected" states as published.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryAdvisoryStore } from '../../shared/adapters/local/memory-advisory-store.js';
import { CSAF_MAX_BRANCH_DEPTH, isCsafVexFile, readCsafVex, readCsafVexFile, redHatPlatform, type CsafReadResult } from '../../shared/advisories/csaf.js';
import { loadAdvisories } from '../../shared/advisories/load.js';
import type { AffectedPackage } from '../../shared/advisories/types.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const DIR = join(SHARED_FIXTURES, 'advisories/redhat');
const read = (f: string) => readCsafVexFile(join(DIR, f));
const entry = (r: CsafReadResult, ecosystem: string, name: string, fixed?: string): AffectedPackage | undefined =>
  r.advisories[0]?.affected.find((a) => a.ecosystem === ecosystem && a.name === name && (fixed === undefined || a.intervals[0]?.fixed === fixed));
const states = (r: CsafReadResult) => {
  const out: Record<string, number> = {};
  for (const s of r.statements) out[`${s.status}→${s.fixState}`] = (out[`${s.status}→${s.fixState}`] ?? 0) + 1;
  return out;
};

describe('CSAF VEX: curl CVE-2023-38545 (current layout, RPM-level product ids)', () => {
  it('325 fixed and 247 not-affected statements, as published', async () => {
    const r = await read('cve-2023-38545.claircore.json');
    expect(r.issues).toEqual([]);
    expect(states(r)).toEqual({ 'fixed→fixed': 325, 'known_not_affected→not-affected': 247 });
  });

  it('RHEL 9 "fixed" by the source rpm, with the EVR of each errata stream and its RHSA; binaries add their streams', async () => {
    const r = await read('cve-2023-38545.claircore.json');
    const a = r.advisories[0]!;
    expect(a).toMatchObject({ id: 'CVE-2023-38545', source: 'redhat-csaf', severity: 'high', published: '2023-10-11T00:00:00.000Z' });
    expect(a.cvss.map((c) => c.score)).toEqual([8.1]);
    const main = entry(r, 'Red Hat:9', 'curl', '0:7.76.1-26.el9_3.2');
    expect(main).toMatchObject({ fixState: 'fixed', scheme: 'rpm', severity: 'high', notes: { csaf: true, streams: ['appstream', 'baseos'], advisories: ['RHSA-2023:6745'] } });
    expect(entry(r, 'Red Hat:9', 'curl', '0:7.76.1-23.el9_2.4')).toMatchObject({ fixState: 'fixed', notes: { advisories: ['RHSA-2023:5763'] } });
    // EUS keeps OSV's own key: never looked up for a plain RHEL 9 image
    expect(entry(r, 'Red Hat:rhel_eus:9.0::baseos', 'curl', '0:7.76.1-14.el9_0.9')).toBeDefined();
    // binaries (curl-minimal, libcurl) are not entries of their own: their source (curl) is
    expect(a.affected.filter((e) => e.ecosystem === 'Red Hat:9').map((e) => e.name)).toEqual(['curl', 'curl']);
    expect(r.counts['csaf-binary-rows']).toBe(288);
    // Satellite, JBoss and text-only products are not RHEL: counted, never matched
    expect(r.counts['csaf-non-rhel-product']).toBe(265);
  });

  it('RHEL 6, 7 and 8 "not affected"', async () => {
    const r = await read('cve-2023-38545.claircore.json');
    for (const rel of ['6', '7', '8']) expect(entry(r, `Red Hat:${rel}`, 'curl')).toMatchObject({ fixState: 'not-affected' });
    // a not-affected entry carries no remediation (the file's workaround is about the fixed products)
    expect(entry(r, 'Red Hat:8', 'curl')!.notes).not.toHaveProperty('remediation');
  });
});

describe('CSAF VEX: kernel CVE-2023-0045 (2023 layout, components without purl)', () => {
  it('"will not fix" for kernel on RHEL 8 and 9, "affected, no fix" for kernel-rt, RHEL 6/7 not affected', async () => {
    const r = await read('cve-2023-0045.claircore-archive.json');
    expect(r.issues).toEqual([]);
    expect(states(r)).toEqual({ 'known_affected→wont-fix': 2, 'known_affected→not-fixed': 2, 'known_not_affected→not-affected': 3 });
    for (const rel of ['8', '9']) {
      expect(entry(r, `Red Hat:${rel}`, 'kernel')).toMatchObject({ fixState: 'wont-fix', severity: 'low', intervals: [{ introduced: '0' }], notes: { remediation: 'Will not fix' } });
      expect(entry(r, `Red Hat:${rel}`, 'kernel-rt')).toMatchObject({ fixState: 'not-fixed', notes: { remediation: 'Affected' } });
    }
    expect(entry(r, 'Red Hat:6', 'kernel')).toMatchObject({ fixState: 'not-affected' });
    expect(entry(r, 'Red Hat:7', 'kernel-rt')).toMatchObject({ fixState: 'not-affected' });
    expect(r.advisories[0]!.severity).toBe('low');
  });
});

describe('CSAF VEX: Quarkus CVE-2023-0044 (a middleware product, not RHEL)', () => {
  it('"fixed" (product level, with the RHSA), "affected, no fix" and "not affected" statements; no rpm advisory', async () => {
    const r = await read('cve-2023-0044.claircore-archive.json');
    expect(r.issues).toEqual([]);
    expect(states(r)).toEqual({ 'fixed→fixed': 2, 'known_affected→not-fixed': 1, 'known_not_affected→not-affected': 9 });
    const fixed = r.statements.filter((s) => s.status === 'fixed');
    expect(fixed.map((s) => s.remediation?.advisory).sort()).toEqual(['RHSA-2023:0758', 'RHSA-2023:1006']);
    const affected = r.statements.find((s) => s.status === 'known_affected')!;
    expect(affected).toMatchObject({ productId: 'red_hat_build_of_quarkus:io.quarkus/quarkus-vertx-http', remediation: { category: 'none_available', details: 'Affected' }, severity: 'low' });
    expect(r.advisories).toEqual([]);
    expect(r.counts['csaf-non-rhel-product']).toBe(12);
  });
});

describe('vuln-list-redhat copies (same CSAF shape, re-serialised)', () => {
  it('tar CVE-2023-39804: "deferred" on RHEL 6/7, "affected, no fix" on RHEL 8/9/10', async () => {
    const r = await read('cve-2023-39804.vuln-list-redhat.json');
    expect(r.issues).toEqual([]);
    expect(states(r)).toEqual({ 'known_affected→not-fixed': 6, 'known_affected→deferred': 2 });
    for (const rel of ['6', '7']) expect(entry(r, `Red Hat:${rel}`, 'tar')).toMatchObject({ fixState: 'deferred', notes: { remediation: 'Fix deferred' } });
    for (const rel of ['8', '9', '10']) expect(entry(r, `Red Hat:${rel}`, 'tar')).toMatchObject({ fixState: 'not-fixed', severity: 'low' });
    // no scores in this file: the severity is Red Hat's own rating
    expect(r.advisories[0]).toMatchObject({ severity: 'low', cvss: [] });
  });

  it('apt CVE-2011-3374: "not affected" for every Red Hat product, which names no RHEL release: no advisory', async () => {
    const r = await read('cve-2011-3374.vuln-list-redhat.json');
    expect(r.statements).toMatchObject([{ cve: 'CVE-2011-3374', productId: 'red_hat_products', status: 'known_not_affected', fixState: 'not-affected', platform: { cpe: 'cpe:/a:redhat' } }]);
    expect(r.advisories).toEqual([]);
  });
});

describe('CPE → key', () => {
  it.each([
    ['cpe:/o:redhat:enterprise_linux:9::baseos', { ecosystem: 'Red Hat:9', stream: 'baseos' }],
    ['cpe:/a:redhat:enterprise_linux:9::appstream', { ecosystem: 'Red Hat:9', stream: 'appstream' }],
    ['cpe:/o:redhat:enterprise_linux:10', { ecosystem: 'Red Hat:10' }],
    ['cpe:/o:redhat:rhel_eus:9.0::baseos', { ecosystem: 'Red Hat:rhel_eus:9.0::baseos', stream: 'baseos' }],
    ['cpe:/a:redhat:rhel_satellite_client:6::el9', undefined],
    ['cpe:/a:redhat', undefined],
  ])('%s', (cpe, want) => expect(redHatPlatform(cpe)).toEqual(want));
});

describe('loaded by content, bounded, malformed parts skipped', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'drydock-csaf-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('the fixture directory loads as five redhat-csaf sources covering the RHEL releases', async () => {
    const store = new MemoryAdvisoryStore();
    const s = await loadAdvisories([DIR], store);
    expect(s.sources.map((x) => x.kind)).toEqual(Array(5).fill('redhat-csaf'));
    expect(s.issues).toEqual([]);
    expect(new Set(s.sources.flatMap((x) => x.ecosystems))).toEqual(new Set(['Red Hat:6', 'Red Hat:7', 'Red Hat:8', 'Red Hat:9', 'Red Hat:10', 'Red Hat:rhel_eus:9.0::appstream', 'Red Hat:rhel_eus:9.0::baseos']));
    expect((await store.forPackage({ ecosystem: 'Red Hat:9', name: 'kernel' })).map((a) => a.id)).toEqual(['CVE-2023-0045']);
    expect(await isCsafVexFile(join(SHARED_FIXTURES, 'advisories/amazon/vuln-list-json/ALAS2023-2024-576.json'))).toBe(false);
  });

  it('a file larger than the limit is not read: the issue names CSAF_MAX_FILE_BYTES', async () => {
    const r = await readCsafVexFile(join(DIR, 'cve-2023-0045.claircore-archive.json'), { maxFileBytes: 4096 });
    expect(r.advisories).toEqual([]);
    expect(r.issues[0]!.message).toMatch(/larger than 4096 bytes \(CSAF_MAX_FILE_BYTES\)/);
  });

  it('a vulnerability without a CVE id is skipped with an issue, the others read (invented: a real file with a second, broken vulnerability)', async () => {
    const json = JSON.parse(await readFile(join(DIR, 'cve-2023-39804.vuln-list-redhat.json'), 'utf8'));
    json.vulnerabilities.push({ ...json.vulnerabilities[0], cve: 'not-a-cve' }, 'junk');
    const r = readCsafVex(json, { where: 'x.json' });
    expect(r.advisories.map((a) => a.id)).toEqual(['CVE-2023-39804']);
    expect(r.issues.map((i) => i.message)).toEqual([expect.stringMatching(/no CVE id/), expect.stringMatching(/not a vulnerability/)]);
  });

  it('a product tree nested past the limit is an issue naming CSAF_MAX_BRANCH_DEPTH (invented: hostile nesting)', async () => {
    let branch: Record<string, unknown> = { category: 'product_version', name: 'x', product: { name: 'x', product_id: 'x' } };
    for (let i = 0; i < CSAF_MAX_BRANCH_DEPTH + 5; i++) branch = { category: 'vendor', name: `v${i}`, branches: [branch] };
    const r = readCsafVex({ document: { category: 'csaf_vex' }, product_tree: { branches: [branch] }, vulnerabilities: [] });
    expect(r.issues[0]!.message).toMatch(/CSAF_MAX_BRANCH_DEPTH/);
  });

  it('a .json that is not JSON is an issue, the load goes on', async () => {
    await writeFile(join(work, 'broken.json'), '{"document": {"category": "csaf_vex", ');
    const r = await readCsafVexFile(join(work, 'broken.json'));
    expect(r.issues[0]!.message).toMatch(/^not JSON/);
  });
});
