/**
 * NVD CVE API 2.0 JSON and CVE List V5 records, read for severity: every real fixture file
 * under ../shared/fixtures/advisories/nvd parsed (counts printed), the newest revision of a
 * record kept whatever the load order, the traps the real records show (OpenSSL's text-only
 * rating, CVSS only in CISA's ADP container, no rating at all), recognition by content in
 * `--advisories` loading, and hostile input bounded.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryAdvisoryStore } from '../../shared/adapters/local/memory-advisory-store.js';
import { isCve5Record, readCve5Record } from '../../shared/advisories/cve5.js';
import { CvssStore, cvssStoreOf, MAX_RATINGS_PER_RECORD, revisionTime, type CvssReadResult } from '../../shared/advisories/cvss-store.js';
import { loadAdvisories, sniff } from '../../shared/advisories/load.js';
import { isNvdJson, MAX_NVD_PAGE_ITEMS, readNvdJson } from '../../shared/advisories/nvd.js';
import { preferredRating } from '../../shared/match/severity.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const NVD = join(SHARED_FIXTURES, 'advisories', 'nvd');
const json = (p: string): unknown => JSON.parse(readFileSync(join(NVD, p), 'utf8'));
const filesUnder = (dir: string): string[] =>
  readdirSync(join(NVD, dir))
    .flatMap((f) => (statSync(join(NVD, dir, f)).isDirectory() ? filesUnder(join(dir, f)) : f.endsWith('.json') ? [join(dir, f)] : []))
    .sort();
const read = (p: string): CvssReadResult => {
  const j = json(p);
  return isCve5Record(j) ? readCve5Record(j, p) : readNvdJson(j, p);
};
const storeOf = (...paths: string[]): CvssStore => {
  const s = new CvssStore();
  for (const p of paths) for (const r of read(p).records) s.add(r);
  return s;
};
const best = (s: CvssStore, cve: string) => {
  const r = preferredRating(s.ratings(cve));
  return r && { source: r.source, severity: r.severity, score: r.score };
};

describe('every fixture file parses', () => {
  const expected: Record<string, { files: number; format: 'cve5' | 'nvd' }> = {
    cve5: { files: 5, format: 'cve5' },
    'cve5-debian': { files: 16, format: 'cve5' },
    'nvd-api2': { files: 8, format: 'nvd' },
    'nvd-api2-debian': { files: 4, format: 'nvd' },
  };
  for (const [dir, { files, format }] of Object.entries(expected)) {
    it(`${dir}: ${files} files, one CVE record each, no issue`, () => {
      const paths = filesUnder(dir);
      expect(paths).toHaveLength(files);
      let rated = 0;
      let ratings = 0;
      for (const p of paths) {
        const j = json(p);
        expect(format === 'cve5' ? isCve5Record(j) : isNvdJson(j), p).toBe(true);
        const r = read(p);
        expect(r.issues, p).toEqual([]);
        expect(r.records, p).toHaveLength(1);
        expect(r.records[0]!.cve).toBe(relative(dir, p).replace(/^later-revisions\//, '').replace(/\.json$/, ''));
        if (r.records[0]!.ratings.length > 0) rated++;
        ratings += r.records[0]!.ratings.length;
      }
      console.log(`${dir}: ${paths.length} files, ${paths.length} CVE records, ${rated} with a rating, ${ratings} ratings`);
    });
  }

  it('the vunnel single-entry NVD page (CVE-2022-1576): NVD primary v3.1 and v2', () => {
    const r = read('nvd-api2-single-entry.vunnel.json');
    expect(r.issues).toEqual([]);
    expect(r.records.map((x) => x.cve)).toEqual(['CVE-2022-1576']);
    expect(r.records[0]!.updated).toBe('2024-11-21T06:41:00.133');
    expect(r.records[0]!.ratings.map((x) => [x.source, x.version, x.score, x.severity])).toEqual([
      ['nvd', '3.1', 6.5, 'medium'],
      ['nvd', '2.0', 4.3, 'medium'],
    ]);
  });

  it('NVD metric variety: v2 only, v2+v3.0, v3.0 from the CNA (Secondary) beside NVD’s v3.1', () => {
    expect(read('nvd-api2/CVE-2014-1424.json').records[0]!.ratings.map((x) => `${x.source} ${x.version} ${x.score} ${x.severity}`)).toEqual(['nvd 2.0 6.4 medium']);
    expect(read('nvd-api2/CVE-2017-6507.json').records[0]!.ratings.map((x) => `${x.source} ${x.version} ${x.score}`)).toEqual(['nvd 3.0 5.9', 'nvd 2.0 4.3']);
    // security@ubuntu.com is the CNA (the record's sourceIdentifier): cna:ubuntu
    expect(read('nvd-api2/CVE-2016-1585.json').records[0]!.ratings.map((x) => `${x.kind} ${x.source} ${x.version} ${x.score}`)).toEqual(['nvd nvd 3.1 9.8', 'cna cna:ubuntu 3.0 3.9', 'nvd nvd 2.0 7.5']);
    // CISA's ADP as an NVD Secondary source (org id 134c704f-…)
    expect(read('nvd-api2-debian/CVE-2024-28085.json').records[0]!.ratings.map((x) => `${x.kind} ${x.score}`)).toEqual(['cisa-adp 3.3']);
  });
});

describe('the three shapes of NVD JSON 2.0 and CVE 5 are told by content', () => {
  it('a page, one {cve} item, a bare cve object (which has `id` and `affected` like OSV), a CVE 5 record', () => {
    const page = json('nvd-api2/CVE-2023-4863.json') as { vulnerabilities: Array<{ cve: unknown }> };
    expect(sniff(page)).toBe('nvd-api2');
    expect(sniff(page.vulnerabilities[0])).toBe('nvd-api2');
    expect(readNvdJson(page.vulnerabilities[0], 'item').records[0]!.cve).toBe('CVE-2023-4863');
    const bare = json('nvd-api2-debian/CVE-2023-45853.json') as Record<string, unknown>;
    expect(Array.isArray(bare.affected)).toBe(true);
    expect(sniff(bare)).toBe('nvd-api2');
    expect(sniff(json('cve5/CVE-2024-7264.json'))).toBe('cve5');
    expect(sniff({ id: 'GHSA-xxxx', affected: [] })).toBe('osv');
  });
});

describe('the newest revision of a record wins', () => {
  const later = filesUnder('cve5-debian/later-revisions');
  const earlier = later.map((p) => p.replace('later-revisions/', ''));

  it('whatever the load order (6 CVEs with a later revision)', () => {
    expect(later).toHaveLength(6);
    for (const order of [
      [...earlier, ...later],
      [...later, ...earlier],
    ]) {
      const s = storeOf(...order);
      for (const p of later) {
        const cve = p.replace(/^.*\//, '').replace('.json', '');
        const dateUpdated = (json(p) as { cveMetadata: { dateUpdated: string } }).cveMetadata.dateUpdated;
        expect(s.record(cve, 'cve5')!.updated).toBe(dateUpdated);
      }
    }
  });

  it('CVE-2024-6119 (OpenSSL): the first revision has only the CNA text rating, the later one CISA ADP CVSS 7.5', () => {
    expect(best(storeOf('cve5-debian/CVE-2024-6119.json'), 'CVE-2024-6119')).toEqual({ source: 'cna:openssl', severity: 'medium', score: undefined });
    expect(best(storeOf('cve5-debian/later-revisions/CVE-2024-6119.json', 'cve5-debian/CVE-2024-6119.json'), 'CVE-2024-6119')).toEqual({ source: 'cisa-adp', severity: 'high', score: 7.5 });
  });

  it('reads dates without a zone and with microseconds (CVE-2023-45853: 2024-01-24T21:06:19.795482) as UTC', () => {
    expect(revisionTime('2024-01-24T21:06:19.795482')).toBe(Date.parse('2024-01-24T21:06:19.795Z'));
    expect(revisionTime('2024-08-02T20:29:32.500Z')).toBe(Date.parse('2024-08-02T20:29:32.500Z'));
    expect(revisionTime('yesterday')).toBeUndefined();
    const s = storeOf('cve5-debian/later-revisions/CVE-2023-45853.json', 'cve5-debian/CVE-2023-45853.json');
    expect(s.record('CVE-2023-45853', 'cve5')!.updated).toBe('2024-08-02T20:29:32.500Z');
  });

  it('an equally new revision keeps the first; an undated one never replaces a dated one; CVE 5 and NVD are kept side by side', () => {
    const s = new CvssStore();
    expect(s.add({ cve: 'CVE-2024-0001', doc: 'cve5', updated: '2024-01-01T00:00:00Z', ratings: [] })).toBe(true);
    expect(s.add({ cve: 'CVE-2024-0001', doc: 'cve5', updated: '2024-01-01T00:00:00Z', ratings: [{ kind: 'nvd', source: 'x', severity: 'high' }] })).toBe(false);
    expect(s.add({ cve: 'CVE-2024-0001', doc: 'cve5', ratings: [] })).toBe(false);
    expect(s.add({ cve: 'CVE-2024-0001', doc: 'nvd', updated: '2020-01-01T00:00:00', ratings: [] })).toBe(true);
    expect(s.add({ cve: 'not-a-cve', doc: 'nvd', ratings: [] })).toBe(false);
    expect(s.size).toBe(1);
  });
});

describe('the traps in the real records', () => {
  const all = storeOf(...filesUnder('cve5'), ...filesUnder('cve5-debian'), ...filesUnder('nvd-api2'), ...filesUnder('nvd-api2-debian'));

  it('OpenSSL’s CNA gives only a text rating ("LOW", "Low", "Moderate"): a cna-text rating, no score', () => {
    const r = read('cve5-debian/CVE-2023-5678.json').records[0]!;
    expect(r.ratings).toEqual([{ kind: 'cna-text', source: 'cna:openssl', severity: 'low' }]);
    expect(read('cve5-debian/CVE-2024-2511.json').records[0]!.ratings.map((x) => `${x.kind} ${x.severity}`)).toEqual(['cna-text low', 'cisa-adp medium']);
  });

  it('Red Hat’s CNA gives a text rating ("Important") and CVSS: the CVSS is preferred', () => {
    const r = read('cve5-debian/CVE-2023-4911.json').records[0]!;
    expect(r.ratings.map((x) => `${x.kind} ${x.source} ${x.severity}`)).toEqual(['cna-text cna:redhat high', 'cna cna:redhat high']);
    expect(best(all, 'CVE-2023-4911')).toEqual({ source: 'cna:redhat', severity: 'high', score: 7.8 });
  });

  it('CVSS only in CISA’s ADP container (curl CVE-2024-7264)', () => {
    const r = read('cve5/CVE-2024-7264.json').records[0]!;
    expect(r.ratings.map((x) => `${x.kind} ${x.version} ${x.score}`)).toEqual(['cisa-adp 3.1 6.3']);
    expect(best(all, 'CVE-2024-7264')).toEqual({ source: 'cisa-adp', severity: 'medium', score: 6.3 });
  });

  it('no rating at all (CVE-2023-38408, CVE-2011-3374): kept, but nothing to prefer', () => {
    for (const cve of ['CVE-2023-38408', 'CVE-2011-3374']) {
      expect(all.record(cve, 'cve5')!.ratings).toEqual([]);
      expect(best(all, cve)).toBeUndefined();
    }
  });

  it('preference: CNA CVSS > NVD > CISA ADP > CNA text', () => {
    expect(best(all, 'CVE-2016-1585')).toEqual({ source: 'cna:ubuntu', severity: 'low', score: 3.9 }); // CNA 3.9 over NVD 9.8
    expect(best(all, 'CVE-2023-45853')).toEqual({ source: 'nvd', severity: 'critical', score: 9.8 }); // NVD over CISA ADP 8.8
    expect(best(all, 'CVE-2023-5678')).toEqual({ source: 'cisa-adp', severity: 'medium', score: 5.3 }); // ADP over OpenSSL's "LOW"
  });
});

describe('--advisories loading by content', () => {
  it('reads the NVD folders as severity-only sources and attaches the CvssStore to the advisory store', async () => {
    const store = new MemoryAdvisoryStore();
    const s = await loadAdvisories([NVD], store);
    expect(s.issues).toEqual([]);
    const kinds: Record<string, number> = {};
    for (const src of s.sources) kinds[src.kind] = (kinds[src.kind] ?? 0) + 1;
    expect(kinds).toEqual({ cve5: 21, 'nvd-api2': 13 });
    for (const src of s.sources) {
      expect(src.advisories).toBe(0);
      expect(src.ecosystems).toEqual([]);
      expect(src.scores).toBe(1);
    }
    expect(s.cvss.size).toBe(23);
    expect(cvssStoreOf(store)).toBe(s.cvss);
    expect(store.size.advisories).toBe(0);
    console.log(`--advisories ${relative(SHARED_FIXTURES, NVD)}: ${s.sources.length} files, ${s.cvss.size} CVEs, counts ${JSON.stringify(s.counts)}`);
  });
});

describe('hostile input is bounded', () => {
  const cve5 = (metrics: unknown[], extra: Record<string, unknown> = {}) => ({
    dataType: 'CVE_RECORD',
    cveMetadata: { cveId: 'CVE-2099-0001', state: 'PUBLISHED', dateUpdated: '2099-01-01T00:00:00Z', ...extra },
    containers: { cna: { providerMetadata: { shortName: 'x' }, metrics } },
  });

  it('a malformed vector is dropped (counted); the given score alone still rates; neither → no rating', () => {
    const r = readCve5Record(cve5([{ cvssV3_1: { version: '3.1', vectorString: 'CVSS:3.1/AV:N/AV:N', baseScore: 9.1 } }, { cvssV3_1: { version: '3.1', vectorString: 'garbage' } }]), 'x');
    expect(r.records[0]!.ratings).toEqual([{ kind: 'cna', source: 'cna:x', severity: 'critical', score: 9.1, version: '3.1' }]);
    expect(r.counts['cvss-vector-invalid']).toBe(2);
    expect(r.counts['cvss-unusable']).toBe(1);
  });

  it('a vector alone is scored by the library', () => {
    const r = readCve5Record(cve5([{ cvssV3_1: { version: '3.1', vectorString: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' } }]), 'x');
    expect(r.records[0]!.ratings[0]).toMatchObject({ score: 9.8, severity: 'critical' });
  });

  it('a score out of range is not a score; a rejected record, a bad id and a too-long page are not read', () => {
    expect(readCve5Record(cve5([{ cvssV3_1: { version: '3.1', baseScore: 99 } }]), 'x').records[0]!.ratings).toEqual([]);
    expect(readCve5Record(cve5([], { state: 'REJECTED' }), 'x').records).toEqual([]);
    expect(readCve5Record(cve5([], { cveId: '../../etc/passwd' }), 'x').issues[0]!.message).toMatch(/cveId/);
    const page = { format: 'NVD_CVE', vulnerabilities: Array.from({ length: MAX_NVD_PAGE_ITEMS + 1 }, () => ({})) };
    expect(readNvdJson(page, 'p').issues[0]!.message).toMatch(/MAX_NVD_PAGE_ITEMS/);
  });

  it(`at most ${MAX_RATINGS_PER_RECORD} ratings per record`, () => {
    const many = Array.from({ length: 100 }, () => ({ cvssV3_1: { version: '3.1', baseScore: 5 } }));
    expect(readCve5Record(cve5(many), 'x').records[0]!.ratings).toHaveLength(MAX_RATINGS_PER_RECORD);
  });
});
