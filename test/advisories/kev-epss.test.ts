/**
 * CISA KEV and FIRST EPSS readers, the exploit store, the loader telling them by content, and
 * what findings get from them — on the real catalog and extracts in
 * ../shared/fixtures/advisories/kev and epss (read by path). No mocks.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryAdvisoryStore } from '../../shared/adapters/local/memory-advisory-store.js';
import { isEpssFile, MAX_EPSS_LINE, readEpssCsv } from '../../shared/advisories/epss.js';
import { ExploitStore } from '../../shared/advisories/exploit-store.js';
import { isKevCatalog, readKevCatalog } from '../../shared/advisories/kev.js';
import { loadAdvisories } from '../../shared/advisories/load.js';
import { applyExploitData, compareByExploitation, kevPastDue } from '../../shared/match/exploit.js';
import { severityRank, type Finding } from '../../shared/match/index.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const KEV = join(SHARED_FIXTURES, 'advisories', 'kev');
const EPSS = join(SHARED_FIXTURES, 'advisories', 'epss');
const FULL = join(KEV, 'known_exploited_vulnerabilities.2024.09.09.json');
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-kev-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('CISA KEV catalog', () => {
  it('reads the full 2024-09-09 catalog: every entry, CVE-2023-4911 (glibc) with its dates', async () => {
    const json = JSON.parse(await readFile(FULL, 'utf8'));
    expect(isKevCatalog(json)).toBe(true);
    const r = readKevCatalog(json, FULL);
    expect(r.issues).toEqual([]);
    expect(r.catalogVersion).toBe('2024.09.09');
    expect(r.dateReleased).toBe('2024-09-09T14:02:53.107Z');
    expect(r.entries).toHaveLength(json.count);
    expect(r.entries).toHaveLength(1165);
    const glibc = r.entries.find((e) => e.cve === 'CVE-2023-4911');
    expect(glibc).toMatchObject({ dateAdded: '2023-11-21', dueDate: '2023-12-12', vendorProject: 'GNU', product: 'GNU C Library' });
    expect(glibc!.ransomware).toBeUndefined(); // "Unknown"
    expect(r.entries.find((e) => e.cve === 'CVE-2021-27104')!.ransomware).toBe(true); // "Known"
  });

  it('the catalog and both extracts validate against CISA\'s schema file (but for one CWE typo), and the reader agrees with it', async () => {
    const schema = JSON.parse(await readFile(join(KEV, 'known_exploited_vulnerabilities_schema.json'), 'utf8'));
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const validate = ajv.compile(schema);
    for (const f of [FULL, join(KEV, 'catalog-2022.05.13-2-entries.vuln-list-update.json'), join(KEV, 'catalog-2025.02.19-3-entries.vunnel.json')]) {
      const json = JSON.parse(await readFile(f, 'utf8'));
      // CISA's own 2024-09-09 catalog breaks its schema once: CVE-2024-36971 has cwes ["CWE-416 "] (a
      // trailing space). Nothing Drydock reads is affected; every other rule holds.
      const errors = validate(json) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
      expect(errors.filter((e) => !/^\/vulnerabilities\/\d+\/cwes\/\d+ must match pattern/.test(e)), f).toEqual([]);
      if (f === FULL) expect(errors).toEqual(['/vulnerabilities/1142/cwes/0 must match pattern "^CWE-([0-9])+$"']);
      const r = readKevCatalog(json, f);
      expect(r.entries.length).toBe(json.vulnerabilities.length);
    }
    // the extracts keep the catalog's count (1273) with 3 entries: said, not fatal
    const r = readKevCatalog(JSON.parse(await readFile(join(KEV, 'catalog-2025.02.19-3-entries.vunnel.json'), 'utf8')), 'x');
    expect(r.entries.map((e) => e.cve)).toContain('CVE-2025-0108');
    expect(r.issues[0]!.message).toMatch(/count 1273 but lists 3/);
  });

  it('hostile shapes: entries without a valid cveID or dates are issues, not KEV entries; the schema file is no catalog', async () => {
    expect(isKevCatalog(JSON.parse(await readFile(join(KEV, 'known_exploited_vulnerabilities_schema.json'), 'utf8')))).toBe(false);
    const r = readKevCatalog(
      { catalogVersion: '1', vulnerabilities: [{ cveID: 'CVE-2023-4911', dateAdded: '2023-11-21', dueDate: 'soon' }, { cveID: 'nope', dateAdded: '2023-11-21', dueDate: '2023-12-12' }, 7, { cveID: 'CVE-2024-1234', dateAdded: '2024-01-01', dueDate: '2024-01-22', vendorProject: 'x'.repeat(10_000) }] },
      'h',
    );
    expect(r.entries.map((e) => e.cve)).toEqual(['CVE-2024-1234']);
    expect(r.entries[0]!.vendorProject!.length).toBe(512);
    expect(r.counts['kev-entry-invalid']).toBe(3);
  });
});

describe('FIRST EPSS CSV', () => {
  it('reads every extract, gzip or plain, with and without the model line and percentile', async () => {
    const a = await readEpssCsv(join(EPSS, 'epss_scores-2021-04-14.2-rows.vuls-data-update.csv.gz'));
    expect(a.issues).toEqual([]);
    expect(a.scores).toEqual([
      { cve: 'CVE-2020-5902', score: 0.65117, date: '2021-04-14' },
      { cve: 'CVE-2018-19571', score: 0.04773, date: '2021-04-14' },
    ]);
    const b = await readEpssCsv(join(EPSS, 'epss_scores-2021-09-01.2-rows.vuls-data-update.csv.gz'));
    expect(b.scores[0]).toEqual({ cve: 'CVE-2020-5902', score: 0.65117, percentile: 0.9981063485700858, date: '2021-09-01' });
    const c = await readEpssCsv(join(EPSS, 'epss_scores-2023-03-07.2-rows.vuls-data-update.csv.gz'));
    expect(c.modelVersion).toBe('v2023.03.01');
    expect(c.scoreDate).toBe('2023-03-07');
    expect(c.scores[1]).toEqual({ cve: 'CVE-2018-19571', score: 0.00113, percentile: 0.43131, date: '2023-03-07' });
    const d = await readEpssCsv(join(EPSS, 'epss_scores-2025-02-20.5-rows.vunnel.csv'));
    expect(d.scores).toHaveLength(5);
    expect(d.scores[4]).toEqual({ cve: 'CVE-1999-0005', score: 0.91963, percentile: 0.99214, date: '2025-02-20' });
    for (const f of ['epss_scores-2022-02-04.2-rows.vuls-data-update.csv.gz', 'epss_scores-2025-02-20.5-rows.vunnel.csv']) expect(await isEpssFile(join(EPSS, f))).toBe(true);
    expect(await isEpssFile(FULL)).toBe(false);
  });

  it('bounded: a line longer than MAX_EPSS_LINE stops the read with the limit named; bad rows are counted', async () => {
    const long = join(work, 'long.csv.gz');
    await writeFile(long, gzipSync(`#model_version:v2023.03.01,score_date:2025-02-20T00:00:00+0000\ncve,epss,percentile\nCVE-2020-5902,0.9,0.99\nCVE-2021-1,${'9'.repeat(MAX_EPSS_LINE * 4)}\n`));
    const r = await readEpssCsv(long);
    expect(r.scores).toHaveLength(1);
    expect(r.issues[0]!.message).toMatch(/MAX_EPSS_LINE \(4096\)/);
    const bad = join(work, 'bad.csv');
    await writeFile(bad, 'cve,epss,percentile\nCVE-2020-5902,1.5,0.9\nnot-a-cve,0.1,0.2\nCVE-2020-5903,0.1,0.2\n');
    const b = await readEpssCsv(bad);
    expect(b.issues[0]!.message).toMatch(/no score date/);
    const dated = join(work, 'epss_scores-2024-01-02.csv');
    await writeFile(dated, 'cve,epss,percentile\nCVE-2020-5902,1.5,0.9\nnot-a-cve,0.1,0.2\nCVE-2020-5903,0.1,0.2\n');
    const c = await readEpssCsv(dated);
    expect(c.scores).toEqual([{ cve: 'CVE-2020-5903', score: 0.1, percentile: 0.2, date: '2024-01-02' }]);
    expect(c.counts['epss-row-invalid']).toBe(2);
    const other = join(work, 'other.csv');
    await writeFile(other, 'a,b\n1,2\n');
    expect(await isEpssFile(other)).toBe(false);
  });
});

describe('loading and findings', () => {
  it('--advisories tells KEV and EPSS by content: enrichment sources, no advisories, no ecosystems, dated', async () => {
    const store = new MemoryAdvisoryStore(() => true);
    const s = await loadAdvisories([KEV, EPSS], store);
    const kev = s.sources.filter((x) => x.kind === 'kev');
    const epss = s.sources.filter((x) => x.kind === 'epss');
    expect(kev).toHaveLength(3);
    expect(epss).toHaveLength(5);
    for (const x of [...kev, ...epss]) {
      expect(x.advisories).toBe(0);
      expect(x.ecosystems).toEqual([]);
      expect(x.producedAt).toBeDefined();
    }
    expect(kev.find((x) => x.path === FULL)).toMatchObject({ exploits: 1165, producedAt: '2024-09-09T14:02:53.107Z' });
    // the schema file is JSON of another kind: an issue
    expect(s.issues.some((i) => i.where.endsWith('known_exploited_vulnerabilities_schema.json'))).toBe(true);
    expect(s.exploits.kev('CVE-2023-4911')).toMatchObject({ dueDate: '2023-12-12' });
    // the newest score date wins: 2023-03-07 over 2022-02-04, 2021-09-01, 2021-04-14
    expect(s.exploits.epss('CVE-2020-5902')).toEqual({ cve: 'CVE-2020-5902', score: 0.97567, percentile: 0.99995, date: '2023-03-07' });
  });

  it('findings get kev and epss by id or CVE alias; KEV first, then severity, then EPSS', () => {
    const ex = new ExploitStore();
    ex.addKev({ cve: 'CVE-2023-4911', dateAdded: '2023-11-21', dueDate: '2023-12-12' });
    ex.addEpss({ cve: 'CVE-2023-4911', score: 0.5, percentile: 0.9, date: '2024-09-09' });
    ex.addEpss({ cve: 'CVE-2024-0002', score: 0.7, date: '2024-09-09' });
    ex.addEpss({ cve: 'CVE-2024-0003', score: 0.01, date: '2024-09-09' });
    const f = (id: string, severity: Finding['severity'], aliases: string[] = []): Finding =>
      ({ id, aliases, severity, fixState: 'fixed', package: { type: 'deb', name: 'p', version: '1', purl: 'pkg:deb/p@1' }, layer: 'l', evidence: [] }) as Finding;
    const findings = [f('CVE-2024-0003', 'critical'), f('DSA-5514-1', 'low', ['CVE-2023-4911']), f('CVE-2024-0001', 'high'), f('CVE-2024-0002', 'high')];
    applyExploitData(findings, ex);
    expect(findings[1]!.kev).toEqual({ dateAdded: '2023-11-21', dueDate: '2023-12-12' });
    expect(findings[1]!.epss).toEqual({ score: 0.5, percentile: 0.9, date: '2024-09-09' });
    expect(findings[2]!.epss).toBeUndefined();
    const order = [...findings].sort((a, b) => compareByExploitation(a, b, severityRank)).map((x) => x.id);
    expect(order).toEqual(['DSA-5514-1', 'CVE-2024-0003', 'CVE-2024-0002', 'CVE-2024-0001']);
    // the due date's whole day is in time
    expect(kevPastDue(findings[1]!, new Date('2023-12-12T23:59:59Z'))).toBe(false);
    expect(kevPastDue(findings[1]!, new Date('2023-12-13T00:00:00Z'))).toBe(true);
  });
});
