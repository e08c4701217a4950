/**
 * ALAS reader on the real samples in ../shared/fixtures/advisories/amazon: the distribution's
 * updateinfo (gzip XML, streamed) and vuln-list's one-ALAS JSON files; --advisories loading.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MemoryAdvisoryStore } from '../../shared/adapters/local/memory-advisory-store.js';
import { alasDate, alasSeverity, alasUpdates, parseAlasId, readAlasUpdateinfo, readAlasVulnListJson } from '../../shared/advisories/alas.js';
import { loadAdvisories, sniff } from '../../shared/advisories/load.js';
import type { Advisory } from '../../shared/advisories/types.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const AMAZON = join(SHARED_FIXTURES, 'advisories/amazon');
const UPDATEINFO = join(AMAZON, 'updateinfo');
const VULN_LIST = join(AMAZON, 'vuln-list-json');
const ui = (name: string) => join(UPDATEINFO, name);

const fixedOf = (a: Advisory, name: string) => a.affected.find((p) => p.name === name)?.intervals[0]?.fixed;

interface Expected {
  file: string;
  id: string;
  ecosystem: string;
  published: string;
  modified: string;
  severity: string;
  cves: string[];
  names: number;
  sample: [name: string, fixed: string];
  topic?: string;
  line?: string;
}

const SAMPLES: Expected[] = [
  { file: 'al1.ALAS-2011-1.vuls-data-update.xml.gz', id: 'ALAS-2011-1', ecosystem: 'Amazon Linux:1', published: '2011-09-27T22:46:00Z', modified: '2014-09-14T14:25:00Z', severity: 'medium', cves: ['CVE-2011-3192'], names: 1, sample: ['httpd-devel', '0:2.2.21-1.18.amzn1'] },
  { file: 'al2-core.ALAS2-2018-939.vuln-list-update.xml.gz', id: 'ALAS2-2018-939', ecosystem: 'Amazon Linux:2', published: '2018-01-11T21:05:00Z', modified: '2018-01-16T01:28:00Z', severity: 'critical', cves: ['CVE-2017-5715', 'CVE-2017-5754'], names: 13, sample: ['kernel', '0:4.9.76-38.79.amzn2'] },
  { file: 'al2-core.ALAS2-2018-942+949.vuln-list-update.xml.gz', id: 'ALAS2-2018-942', ecosystem: 'Amazon Linux:2', published: '2018-02-07T18:49:00Z', modified: '2018-02-08T21:46:00Z', severity: 'high', cves: ['CVE-2017-5715'], names: 5, sample: ['qemu-kvm', '10:1.5.3-141.amzn2.5.3'] },
  { file: 'al2-core.ALAS2-2018-942+949.vuln-list-update.xml.gz', id: 'ALAS2-2018-949', ecosystem: 'Amazon Linux:2', published: '2018-02-07T17:47:00Z', modified: '2018-02-08T21:45:00Z', severity: 'high', cves: ['CVE-2018-2579', 'CVE-2018-2582', 'CVE-2018-2588', 'CVE-2018-2599', 'CVE-2018-2602', 'CVE-2018-2603', 'CVE-2018-2618', 'CVE-2018-2629', 'CVE-2018-2633', 'CVE-2018-2634', 'CVE-2018-2637', 'CVE-2018-2641', 'CVE-2018-2663', 'CVE-2018-2677', 'CVE-2018-2678'], names: 17, sample: ['java-1.8.0-openjdk', '1:1.8.0.161-0.b14.amzn2'] },
  { file: 'al2-extras-golang1.19.ALAS2GOLANG1.19-2023-001.vuln-list-update-pr268.xml.gz', id: 'ALAS2GOLANG1.19-2023-001', ecosystem: 'Amazon Linux:2', published: '2023-08-07T05:59:00Z', modified: '2023-09-25T22:11:00Z', severity: 'high', cves: ['CVE-2023-24532', 'CVE-2023-24534', 'CVE-2023-24536', 'CVE-2023-24537', 'CVE-2023-24538', 'CVE-2023-24539', 'CVE-2023-24540', 'CVE-2023-29400', 'CVE-2023-29402', 'CVE-2023-29403', 'CVE-2023-29404', 'CVE-2023-29405'], names: 8, sample: ['golang', '0:1.19.10-1.amzn2.0.2'], topic: 'golang1.19', line: '1.19' },
  { file: 'al2-extras-kernel-5.15.ALAS2KERNEL-5.15-2022-001.vuls-data-update.xml.gz', id: 'ALAS2KERNEL-5.15-2022-001', ecosystem: 'Amazon Linux:2', published: '2022-06-06T17:58:00Z', modified: '2022-11-17T19:23:00Z', severity: 'high', cves: ['CVE-2022-0500', 'CVE-2022-1015', 'CVE-2022-1016', 'CVE-2022-1158', 'CVE-2022-1263', 'CVE-2022-1353', 'CVE-2022-1729', 'CVE-2022-23222', 'CVE-2022-28893', 'CVE-2022-29581', 'CVE-2022-29582', 'CVE-2022-30594', 'CVE-2022-3526'], names: 16, sample: ['kernel', '0:5.15.43-20.123.amzn2'], topic: 'kernel-5.15', line: '5.15' },
  { file: 'al2023-core.ALAS2023-2023-001.vuln-list-update.xml.gz', id: 'ALAS2023-2023-001', ecosystem: 'Amazon Linux:2023', published: '2023-02-17T20:41:00Z', modified: '2023-02-22T23:22:00Z', severity: 'high', cves: ['CVE-2014-3634', 'CVE-2022-24903'], names: 21, sample: ['rsyslog', '0:8.2204.0-3.amzn2023.0.2'] },
  { file: 'al2023-kernel-livepatch.ALAS2023LIVEPATCH-2023-001.vuls-data-update.xml.gz', id: 'ALAS2023LIVEPATCH-2023-001', ecosystem: 'Amazon Linux:2023', published: '2023-04-13T17:56:00Z', modified: '2023-05-09T18:35:00Z', severity: 'high', cves: ['CVE-2023-26545'], names: 1, sample: ['kernel-livepatch-6.1.12-19.43', '0:1.0-1.amzn2023'], topic: 'livepatch' },
  { file: 'al2023-nvidia.ALAS2023NVIDIA-2025-001.vuls-data-update.xml.gz', id: 'ALAS2023NVIDIA-2025-001', ecosystem: 'Amazon Linux:2023', published: '2025-02-14T23:13:00Z', modified: '2025-03-05T16:39:00Z', severity: 'high', cves: ['CVE-2025-23359'], names: 6, sample: ['libnvidia-container1', '0:1.17.4-1'], topic: 'nvidia' },
];

describe('updateinfo samples', () => {
  it('every sample file is covered', () => {
    expect(readdirSync(UPDATEINFO).filter((f) => f.endsWith('.xml.gz')).sort()).toEqual([...new Set(SAMPLES.map((s) => s.file))].sort());
  });

  it.each(SAMPLES.map((s) => [s.id, s] as const))('%s: id, dates, severity, CVEs, packages', async (_, s) => {
    const r = await readAlasUpdateinfo(ui(s.file));
    expect(r.issues).toEqual([]);
    const a = r.advisories.find((x) => x.id === s.id)!;
    expect(a).toBeDefined();
    expect(a).toMatchObject({ source: 'alas', published: s.published, modified: s.modified, severity: s.severity, aliases: s.cves });
    expect(new Set(a.affected.map((p) => p.ecosystem))).toEqual(new Set([s.ecosystem]));
    // the arch rows of one update are one fix per binary name
    expect(a.affected).toHaveLength(s.names);
    expect(new Set(a.affected.map((p) => p.name)).size).toBe(s.names);
    expect(fixedOf(a, s.sample[0])).toBe(s.sample[1]);
    const p = a.affected.find((x) => x.name === s.sample[0])!;
    expect(p).toMatchObject({ scheme: 'rpm', fixState: 'fixed', intervals: [{ introduced: '0', fixed: s.sample[1] }] });
    expect(p.notes?.topic).toBe(s.topic);
    expect(p.notes?.line).toBe(s.line);
  });

  it('each sample: the reader sees every <update> and every package row the XML has', async () => {
    for (const file of new Set(SAMPLES.map((s) => s.file))) {
      const xml = gunzipSync(readFileSync(ui(file))).toString('utf8');
      const updates = xml.match(/<update\s/g)!.length;
      const names = new Set([...xml.matchAll(/<package\b[^>]*\bname="([^"]+)"/g)].map((m) => m[1]));
      const r = await readAlasUpdateinfo(ui(file));
      expect(r.advisories, file).toHaveLength(updates);
      expect(new Set(r.advisories.flatMap((a) => a.affected.map((p) => p.name))), file).toEqual(names);
    }
  });

  it('kernel-5.15 extras: the 31 arch rows are 16 fixes; arches are kept per binary', async () => {
    const [a] = (await readAlasUpdateinfo(ui('al2-extras-kernel-5.15.ALAS2KERNEL-5.15-2022-001.vuls-data-update.xml.gz'))).advisories;
    expect(a!.affected.find((p) => p.name === 'kernel')!.notes?.arches).toEqual(['aarch64', 'x86_64']);
    expect(fixedOf(a!, 'bpftool')).toBe('0:5.15.43-20.123.amzn2');
    // the topic ships its own livepatch package (version 1.0): the version line is judged against the fix, not the topic name
    expect(fixedOf(a!, 'kernel-livepatch-5.15.43-20.123')).toBe('0:1.0-0.amzn2');
  });

  it('reads plain XML as well as gzip, and the same from a stream cut into tiny chunks', async () => {
    const xml = gunzipSync(readFileSync(ui('al2-core.ALAS2-2018-942+949.vuln-list-update.xml.gz')));
    const plain = await readAlasUpdateinfo(xml);
    const gz = await readAlasUpdateinfo(ui('al2-core.ALAS2-2018-942+949.vuln-list-update.xml.gz'));
    expect(plain.advisories).toEqual(gz.advisories);
    const chunks = async function* () {
      for (let i = 0; i < xml.length; i += 7) yield xml.subarray(i, i + 7);
    };
    expect((await readAlasUpdateinfo(chunks())).advisories).toEqual(gz.advisories);
    const regz = await readAlasUpdateinfo(gzipSync(xml));
    expect(regz.advisories).toEqual(gz.advisories);
  });

  it('bounded: one <update> over the limit, or a document over the total limit, fails naming the limit', async () => {
    const xml = gunzipSync(readFileSync(ui('al2-core.ALAS2-2018-939.vuln-list-update.xml.gz')));
    await expect(readAlasUpdateinfo(xml, { maxUpdateBytes: 1000 })).rejects.toThrow(/ALAS_MAX_UPDATE_BYTES/);
    await expect(readAlasUpdateinfo(xml, { maxTotalBytes: 1000 })).rejects.toThrow(/ALAS_MAX_TOTAL_BYTES/);
    await expect(readAlasUpdateinfo(Buffer.from('{"not":"xml"}'))).rejects.toThrow(/not an updateinfo document/);
  });

  it('an unterminated element never grows past the per-update limit (memory bounded)', async () => {
    const endless = async function* () {
      yield Buffer.from('<?xml version="1.0"?><updates><update type="security"><description>');
      for (let i = 0; i < 10_000; i++) yield Buffer.alloc(1024, 0x61);
    };
    await expect(readAlasUpdateinfo(endless(), { maxUpdateBytes: 64 * 1024 })).rejects.toThrow(/larger than 65536 bytes \(ALAS_MAX_UPDATE_BYTES\)/);
  });

  it('a bad row or id is an issue, the rest reads on', async () => {
    const xml = `<?xml version="1.0"?><updates>
      <update type="security"><id>NOT-AN-ALAS</id></update>
      <update type="security"><id>ALAS2023-2024-1</id><issued date="2024-01-02 03:04"/><severity>Low</severity>
        <references><reference type="cve" id="CVE-2024-0001" href="x"/></references>
        <pkglist><collection short="amazon-linux-2023"><package name="a" epoch="0" version="1" release="1.amzn2023" arch="x86_64"/>
        <package name="b" epoch="x" version="1" release="1" arch="x86_64"/></collection></pkglist></update></updates>`;
    const r = await readAlasUpdateinfo(Buffer.from(xml), { where: 't' });
    expect(r.advisories.map((a) => [a.id, a.severity, a.aliases, a.affected.map((p) => p.name)])).toEqual([['ALAS2023-2024-1', 'low', ['CVE-2024-0001'], ['a']]]);
    expect(r.issues.map((i) => i.message)).toEqual([expect.stringMatching(/not an ALAS id/), expect.stringMatching(/package row without a valid/)]);
  });

  it('alasUpdates yields one update at a time', async () => {
    const ids: string[] = [];
    for await (const r of alasUpdates(ui('al2-core.ALAS2-2018-942+949.vuln-list-update.xml.gz'))) ids.push(r.advisory!.id);
    expect(ids).toEqual(['ALAS2-2018-942', 'ALAS2-2018-949']);
  });
});

describe('ids, severities, dates', () => {
  it('recognises updateinfo and page/RSS ids', () => {
    expect(parseAlasId('ALAS2023-2024-606')).toEqual({ release: '2023', year: '2024', number: '606' });
    expect(parseAlasId('ALAS2-2018-939')).toEqual({ release: '2', year: '2018', number: '939' });
    expect(parseAlasId('ALAS-2011-1')).toEqual({ year: '2011', number: '1' });
    expect(parseAlasId('ALAS-2024-606')).toEqual({ year: '2024', number: '606' });
    expect(parseAlasId('ALAS2KERNEL-5.15-2022-001')).toEqual({ release: '2', topic: 'KERNEL-5.15', year: '2022', number: '001' });
    expect(parseAlasId('ALASKERNEL-5.15-2022-001')).toEqual({ topic: 'KERNEL-5.15', year: '2022', number: '001' });
    expect(parseAlasId('ALAS2023LIVEPATCH-2023-001')).toEqual({ release: '2023', topic: 'LIVEPATCH', year: '2023', number: '001' });
    expect(parseAlasId('ALAS2GOLANG1.19-2023-001')).toEqual({ release: '2', topic: 'GOLANG1.19', year: '2023', number: '001' });
    expect(parseAlasId('RHSA-2024:1')).toBeUndefined();
  });

  it('maps both spellings of severity; important → high', () => {
    expect(['low', 'Low', 'medium', 'Medium', 'important', 'Important', 'critical', 'Critical', 'bogus'].map(alasSeverity)).toEqual(['low', 'low', 'medium', 'medium', 'high', 'high', 'critical', 'critical', 'unknown']);
    expect(alasDate('2024-03-27 22:12:00')).toBe('2024-03-27T22:12:00Z');
    expect(alasDate('2023-02-17 20:41')).toBe('2023-02-17T20:41:00Z');
    expect(alasDate('garbage')).toBeUndefined();
  });

  it('a page id (ALAS-…) is placed by its collection or title', async () => {
    const xml = `<updates><update type="security"><id>ALAS-2024-606</id><title>Amazon Linux 2023 - ALAS-2024-606: x</title><severity>Important</severity>
      <pkglist><collection short="x"><package name="curl" epoch="0" version="8.5.0" release="1.amzn2023.0.2" arch="x86_64"/></collection></pkglist></update></updates>`;
    const r = await readAlasUpdateinfo(Buffer.from(xml));
    expect(r.advisories[0]!.affected[0]!.ecosystem).toBe('Amazon Linux:2023');
  });
});

describe('vuln-list JSON', () => {
  const files = readdirSync(VULN_LIST).filter((f) => f.endsWith('.json'));

  it('is told by content and read: the four real ALAS records', () => {
    const byId = new Map<string, Advisory>();
    for (const f of files) {
      const json = JSON.parse(readFileSync(join(VULN_LIST, f), 'utf8'));
      expect(sniff(json)).toBe('alas-json');
      const r = readAlasVulnListJson(json, { where: f });
      expect(r.issues).toEqual([]);
      for (const a of r.advisories) byId.set(a.id, a);
    }
    const a576 = byId.get('ALAS2023-2024-576')!;
    expect(a576).toMatchObject({ severity: 'high', aliases: ['CVE-2024-28757'], published: '2024-03-27T22:12:00Z' });
    expect(fixedOf(a576, 'expat')).toBe('0:2.5.0-1.amzn2023.0.4');
    // cveids carries one more CVE than references here
    expect(byId.get('ALAS2023-2024-586')!.aliases).toEqual(['CVE-2024-26458', 'CVE-2024-26461', 'CVE-2024-26462']);
    expect(fixedOf(byId.get('ALAS2023-2024-586')!, 'krb5-libs')).toBe('0:1.21-3.amzn2023.0.4');
    expect(fixedOf(byId.get('ALAS2023-2024-592')!, 'libnghttp2')).toBe('0:1.59.0-3.amzn2023.0.1');
    expect(fixedOf(byId.get('ALAS2023-2024-606')!, 'curl-minimal')).toBe('0:8.5.0-1.amzn2023.0.2');
  });

  it('the vuln-list JSON of ALAS2023-2023-001 reads the same as its updateinfo', async () => {
    const json = JSON.parse(readFileSync(join(VULN_LIST, 'ALAS2023-2023-001.expected-from-updateinfo.vuln-list-update.json'), 'utf8'));
    const fromJson = readAlasVulnListJson(json).advisories[0]!;
    const fromXml = (await readAlasUpdateinfo(ui('al2023-core.ALAS2023-2023-001.vuln-list-update.xml.gz'))).advisories[0]!;
    const strip = (a: Advisory) => ({ ...a, references: undefined, databaseSpecific: undefined });
    expect(strip(fromJson)).toEqual(strip(fromXml));
  });

  it('--advisories loads a directory of updateinfo .xml.gz and ALAS JSON by content', async () => {
    const store = new MemoryAdvisoryStore();
    const summary = await loadAdvisories([UPDATEINFO, VULN_LIST], store);
    expect(summary.issues).toEqual([]);
    const kinds = summary.sources.map((s) => s.kind);
    expect(kinds.filter((k) => k === 'alas-updateinfo')).toHaveLength(8);
    expect(kinds.filter((k) => k === 'alas-json')).toHaveLength(files.length);
    expect((await store.forPackage({ ecosystem: 'Amazon Linux:2023', name: 'curl-minimal' })).map((a) => a.id)).toEqual(['ALAS2023-2024-606']);
    expect((await store.forPackage({ ecosystem: 'Amazon Linux:2', name: 'qemu-kvm' })).map((a) => a.id)).toEqual(['ALAS2-2018-942']);
  });
});
