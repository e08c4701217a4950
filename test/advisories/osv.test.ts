import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { strToU8, Zip, ZipDeflate, zipSync, type Zippable } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { osvRecordsFromZip, parseOsvRecord, parseOsvText, rangeIntervals, readOsvDirectory, readOsvZip } from '../../shared/advisories/osv.js';
import type { Advisory, AdvisoryReadResult } from '../../shared/advisories/types.js';
import { comparatorFor } from '../../shared/versions/index.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const ADV = join(SHARED_FIXTURES, 'advisories');
const OSV_DIRS = ['npm', 'pypi/pypa-json', 'pypi/ghsa', 'pypi/osv-dev', 'debian/osv-dev', 'alpine/osv-dev'];

const byId = (r: AdvisoryReadResult, id: string): Advisory => {
  const a = r.advisories.find((x) => x.id === id);
  if (!a) throw new Error(`${id} not read`);
  return a;
};

function record(file: string): Advisory {
  const r = parseOsvText(readFileSync(join(ADV, file)), file);
  expect(r.issues).toEqual([]);
  return r.advisory!;
}

describe('GHSA npm records', () => {
  let npm: AdvisoryReadResult;
  beforeAll(async () => {
    npm = await readOsvDirectory(join(ADV, 'npm'));
  });

  it('reads all eight (seven GHSA + the osv.dev copy) without issues', () => {
    expect(npm.advisories.map((a) => a.id).sort()).toEqual(
      ['GHSA-27h2-hvpr-p74q', 'GHSA-35jh-r3h4-6jhm', 'GHSA-8hc4-vh64-cxmj', 'GHSA-c2qf-rxjj-qqgw', 'GHSA-p6mc-m468-83gw', 'GHSA-rv95-896h-c2vc', 'GHSA-xvch-5gv4-984h', 'GHSA-whgm-jr23-g3j9'].sort(),
    );
    expect(npm.issues).toEqual([]);
    expect(npm.counts).toEqual({});
  });

  it('lodash GHSA-p6mc-m468-83gw: npm/lodash fixed in 4.17.20 (the range, not the "prior to 4.17.19" of its details)', () => {
    const a = byId(npm, 'GHSA-p6mc-m468-83gw');
    expect(a).toMatchObject({
      source: 'osv',
      aliases: ['CVE-2020-8203'],
      related: [],
      summary: 'Prototype Pollution in lodash',
      published: '2020-07-15T19:15:48Z',
      modified: '2022-02-08T22:04:28Z',
      severity: 'high',
      cvss: [{ version: '3.1', vector: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H', score: 7.4, severity: 'high' }],
    });
    expect(a.withdrawn).toBeUndefined();
    expect(a.references).toHaveLength(13);
    expect(a.references![0]).toBe('https://nvd.nist.gov/vuln/detail/CVE-2020-8203');
    expect(a.databaseSpecific).toMatchObject({ severity: 'HIGH', cwe_ids: ['CWE-1321', 'CWE-770'] });
    expect(a.affected.map((p) => p.name)).toEqual(['lodash', 'lodash-es']);
    expect(a.affected[0]).toEqual({
      ecosystem: 'npm',
      name: 'lodash',
      scheme: 'semver',
      intervals: [{ introduced: '0', fixed: '4.17.20' }],
      versions: [],
      fixState: 'fixed',
      notes: { ecosystemSpecific: { affected_functions: ['lodash.baseSet'] } },
    });
  });

  it('axios GHSA-8hc4-vh64-cxmj: "Axios" is looked up as axios, the empty severity array falls back on the GitHub label', () => {
    const a = byId(npm, 'GHSA-8hc4-vh64-cxmj');
    expect(a.cvss).toEqual([]);
    expect(a.severity).toBe('high');
    expect(a.affected).toHaveLength(1);
    expect(a.affected[0]).toMatchObject({
      ecosystem: 'npm',
      name: 'axios',
      intervals: [{ introduced: '1.3.2', fixed: '1.7.4' }],
      fixState: 'fixed',
      notes: { osvName: 'Axios', databaseSpecific: { last_known_affected_version_range: '<= 1.7.3' } },
    });
  });

  it('semver GHSA-c2qf-rxjj-qqgw: three affected entries, one interval each', () => {
    const a = byId(npm, 'GHSA-c2qf-rxjj-qqgw');
    expect(a.affected.map((p) => p.intervals)).toEqual([[{ introduced: '7.0.0', fixed: '7.5.2' }], [{ introduced: '6.0.0', fixed: '6.3.1' }], [{ introduced: '0', fixed: '5.7.2' }]]);
    expect(a.severity).toBe('medium');
  });

  it('express GHSA-rv95-896h-c2vc keeps the prerelease interval', () => {
    expect(byId(npm, 'GHSA-rv95-896h-c2vc').affected[1]!.intervals).toEqual([{ introduced: '5.0.0-alpha.1', fixed: '5.0.0-beta.3' }]);
  });

  it('minimist GHSA-xvch-5gv4-984h is critical (9.8)', () => {
    expect(byId(npm, 'GHSA-xvch-5gv4-984h')).toMatchObject({ severity: 'critical', cvss: [{ score: 9.8 }] });
  });

  it('the osv.dev export (SEMVER range, purl) of GHSA-whgm-jr23-g3j9', () => {
    const a = byId(npm, 'GHSA-whgm-jr23-g3j9');
    expect(a.affected[0]).toMatchObject({ ecosystem: 'npm', name: 'ansi-html', purl: 'pkg:npm/ansi-html', intervals: [{ introduced: '0', fixed: '0.0.8' }], fixState: 'fixed' });
    expect(a.severity).toBe('high');
  });
});

describe('PyPI records', () => {
  let pysec: AdvisoryReadResult;
  beforeAll(async () => {
    pysec = await readOsvDirectory(join(ADV, 'pypi', 'pypa-json'));
  });

  it('reads the 45 PYSEC records, counting the 13 GIT ranges it ignores', () => {
    expect(pysec.advisories).toHaveLength(45);
    expect(pysec.issues).toEqual([]);
    const gitRanges = readdirSync(join(ADV, 'pypi', 'pypa-json')).reduce((n, f) => {
      const rec = JSON.parse(readFileSync(join(ADV, 'pypi', 'pypa-json', f), 'utf8')) as { affected: Array<{ ranges: Array<{ type: string }> }> };
      return n + rec.affected.flatMap((a) => a.ranges).filter((r) => r.type === 'GIT').length;
    }, 0);
    expect(gitRanges).toBe(13);
    expect(pysec.counts).toEqual({ 'git-ranges-ignored': 13 });
  });

  it('PYSEC-2023-192: events written out of order are sorted before they are paired', () => {
    const a = byId(pysec, 'PYSEC-2023-192');
    expect(a.affected).toHaveLength(1);
    expect(a.affected[0]).toMatchObject({
      ecosystem: 'PyPI',
      name: 'urllib3',
      scheme: 'pep440',
      intervals: [
        { introduced: '0', fixed: '1.26.17' },
        { introduced: '2.0.0', fixed: '2.0.6' },
      ],
      fixState: 'fixed',
    });
    expect(a.affected[0]!.versions).toHaveLength(85);
    expect(a.severity).toBe('high');
  });

  it('PYSEC-2023-100: three introduced/fixed pairs in one range', () => {
    expect(byId(pysec, 'PYSEC-2023-100').affected[0]!.intervals).toEqual([
      { introduced: '3.2', fixed: '3.2.20' },
      { introduced: '4.0', fixed: '4.1.10' },
      { introduced: '4.2', fixed: '4.2.3' },
    ]);
  });

  it('PYSEC records without CVSS have severity "unknown"; the summary is the first line of details', () => {
    const a = byId(pysec, 'PYSEC-2014-13');
    expect(a.severity).toBe('unknown');
    const details = (JSON.parse(readFileSync(join(ADV, 'pypi', 'pypa-json', 'PYSEC-2014-13.json'), 'utf8')) as { details: string }).details;
    expect(a.summary).toBe(details.split('\n')[0]!.trim());
  });

  it('the osv.dev export of PYSEC-2023-74 reads like the pypa copy', () => {
    const dev = record('pypi/osv-dev/PYSEC-2023-74.json');
    const pypa = byId(pysec, 'PYSEC-2023-74');
    expect(dev.affected.map((p) => ({ ...p, notes: undefined }))).toEqual(pypa.affected.map((p) => ({ ...p, notes: undefined })));
    expect(dev.affected[0]).toMatchObject({ name: 'requests', intervals: [{ introduced: '2.3.0', fixed: '2.31.0' }] });
    expect(dev.aliases).toEqual(expect.arrayContaining(['CVE-2023-32681', 'GHSA-j8r2-6x86-q33q']));
  });

  it('GHSA PyPI records: Jinja2 is jinja2 (PEP 503), urllib3 has two entries', async () => {
    const ghsa = await readOsvDirectory(join(ADV, 'pypi', 'ghsa'));
    expect(ghsa.issues).toEqual([]);
    expect(byId(ghsa, 'GHSA-h75v-3vvj-5mfj').affected[0]).toMatchObject({ name: 'jinja2', notes: { osvName: 'Jinja2' }, intervals: [{ introduced: '0', fixed: '3.1.4' }] });
    expect(byId(ghsa, 'GHSA-34jh-p97f-mpxf').affected.map((p) => p.intervals[0])).toEqual([
      { introduced: '0', fixed: '1.26.19' },
      { introduced: '2.0.0', fixed: '2.2.2' },
    ]);
    expect(byId(ghsa, 'GHSA-34jh-p97f-mpxf').severity).toBe('medium');
  });
});

describe('distro records', () => {
  it('Debian DLA-3008-1: source package, release key, upstream CVEs, enumerated versions', () => {
    const a = record('debian/osv-dev/DLA-3008-1.json');
    expect(a).toMatchObject({ id: 'DLA-3008-1', summary: 'openssl - security update', upstream: ['CVE-2022-1292', 'DEBIAN-CVE-2022-1292'], aliases: [], severity: 'unknown', cvss: [] });
    expect(a.affected).toHaveLength(1);
    expect(a.affected[0]).toMatchObject({
      ecosystem: 'Debian:9',
      name: 'openssl',
      purl: 'pkg:deb/debian/openssl?arch=source',
      scheme: 'dpkg',
      intervals: [{ introduced: '0', fixed: '1.1.0l-1~deb9u6' }],
      fixState: 'fixed',
    });
    expect(a.affected[0]!.versions).toHaveLength(19);
    expect(a.affected[0]!.versions[0]).toBe('1.1.0f-3');
  });

  it('the four DLA records', async () => {
    const r = await readOsvDirectory(join(ADV, 'debian', 'osv-dev'));
    expect(r.issues).toEqual([]);
    expect(r.advisories.map((a) => [a.id, a.affected[0]!.name, a.affected[0]!.intervals[0]!.fixed])).toEqual([
      ['DLA-3008-1', 'openssl', '1.1.0l-1~deb9u6'],
      ['DLA-3012-1', 'libxml2', '2.9.4+dfsg1-2.2+deb9u7'],
      ['DLA-3022-1', 'dpkg', '1.18.26'],
      ['DLA-3051-1', 'tzdata', '2021a-0+deb9u4'],
    ]);
  });

  it('Alpine ALPINE-CVE-2025-26519: one entry per release branch', () => {
    const a = record('alpine/osv-dev/ALPINE-CVE-2025-26519.json');
    expect(a.upstream).toEqual(['CVE-2025-26519']);
    expect(a.summary).toMatch(/^musl libc 0\.9\.13 through 1\.2\.5/);
    expect(a.cvss).toEqual([{ version: '3.1', vector: 'CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:H/I:H/A:H', score: 7, severity: 'high' }]);
    expect(a.affected.map((p) => p.ecosystem)).toEqual(['v3.16', 'v3.17', 'v3.18', 'v3.19', 'v3.20', 'v3.21', 'v3.22', 'v3.23', 'v3.24'].map((v) => `Alpine:${v}`));
    expect(a.affected[0]).toMatchObject({ name: 'musl', scheme: 'apk', intervals: [{ introduced: '0.9.13', fixed: '1.2.3-r4' }], fixState: 'fixed' });
  });
});

describe('parseOsvRecord on what is not valid OSV', () => {
  it('bad JSON, no id, affected not an array: an issue naming the file, no advisory', () => {
    const bad = parseOsvText('{"id": "X-1", ', 'bad.json');
    expect(bad.advisory).toBeUndefined();
    expect(bad.issues).toEqual([{ where: 'bad.json', message: expect.stringMatching(/^not valid JSON/) }]);
    expect(parseOsvRecord({ affected: [] }, 'f.json').issues).toEqual([{ where: 'f.json', message: 'not an OSV record: no "id" string' }]);
    expect(parseOsvRecord([1, 2], 'f.json').issues[0]!.message).toMatch(/not a JSON object/);
    expect(parseOsvRecord({ id: 'X-1', affected: {} }, 'f.json').issues).toEqual([{ where: 'f.json (X-1)', message: '"affected" is not an array' }]);
  });

  it('a byte-order mark is not an error', () => {
    expect(parseOsvText('\ufeff{"id":"X-1","modified":"2024-01-01T00:00:00Z"}', 'bom.json').advisory?.id).toBe('X-1');
  });

  it('an unknown ecosystem is counted and its entry skipped, the rest kept', () => {
    const r = parseOsvRecord(
      {
        id: 'X-2',
        affected: [
          { package: { ecosystem: 'Linux', name: 'Kernel' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }] },
          { package: { ecosystem: 'Hex', name: 'plug' } },
          { package: { ecosystem: 'Linux', name: 'Kernel' } },
          { package: { ecosystem: 'npm', name: 'left-pad' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }] },
          { package: { name: 'no-ecosystem' } },
        ],
      },
      'x.json',
    );
    expect(r.issues).toEqual([]);
    expect(r.counts).toEqual({ 'unknown-ecosystem:Linux': 2, 'unknown-ecosystem:Hex': 1, 'affected-without-package': 1 });
    expect(r.advisory!.affected).toEqual([{ ecosystem: 'npm', name: 'left-pad', scheme: 'semver', intervals: [{ introduced: '0' }], versions: [], fixState: 'not-fixed' }]);
  });

  it('withdrawn, related, Ubuntu priorities, per-package CVSS, urgency, malformed CVSS', () => {
    const r = parseOsvRecord(
      {
        id: 'UBUNTU-CVE-2024-0001',
        modified: '2024-02-01T00:00:00Z',
        withdrawn: '2024-03-01T00:00:00Z',
        related: ['CVE-2024-0002'],
        details: '\n  First line.\nSecond line.',
        severity: [
          { type: 'Ubuntu', score: 'medium' },
          { type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L' },
          { type: 'CVSS_V9', score: 'x' },
        ],
        affected: [
          {
            package: { ecosystem: 'Ubuntu:Pro:18.04:LTS', name: 'openssl' },
            ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }],
            severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
            ecosystem_specific: { binaries: [{ binary_name: 'libssl1.1' }] },
          },
          {
            package: { ecosystem: 'Debian:12', name: 'openssl' },
            ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.0.11-1~deb12u2' }] }],
            ecosystem_specific: { urgency: 'low' },
          },
        ],
      },
      'u.json',
    );
    const a = r.advisory!;
    expect(r.counts).toEqual({ withdrawn: 1, 'cvss-invalid': 1, 'severity-type-ignored:CVSS_V9': 1 });
    expect(a.withdrawn).toBe('2024-03-01T00:00:00Z');
    expect(a.related).toEqual(['CVE-2024-0002']);
    expect(a.summary).toBe('First line.');
    // per-package CVSS counts for the advisory too: 9.8 beats the "medium" priority
    expect(a.severity).toBe('critical');
    expect(a.affected[0]).toMatchObject({ ecosystem: 'Ubuntu:18.04', severity: 'critical', fixState: 'not-fixed', notes: { osvEcosystem: 'Ubuntu:Pro:18.04:LTS' } });
    expect(a.affected[1]).toMatchObject({ ecosystem: 'Debian:12', severity: 'low', fixState: 'fixed', notes: { ecosystemSpecific: { urgency: 'low' } } });
  });

  it('the Ubuntu priority is the severity when there is no CVSS', () => {
    const a = parseOsvRecord({ id: 'UBUNTU-CVE-1', severity: [{ type: 'Ubuntu', score: 'negligible' }], database_specific: { severity: 'HIGH' } }, 'u.json').advisory!;
    expect(a.severity).toBe('negligible');
  });

  it('counts ranges and events it cannot use', () => {
    const r = parseOsvRecord(
      {
        id: 'X-3',
        affected: [
          {
            package: { ecosystem: 'Go', name: 'example.com/m' },
            ranges: [
              { type: 'GIT', repo: 'https://example.com/m', events: [{ introduced: '0' }, { fixed: 'abc' }] },
              { type: 'SEMVER', events: [{ introduced: '1.0.0', fixed: '1.0.1' }, { introduced: '1.1.0' }, { last_affected: '1.1.5' }] },
              { type: 'ECOSYSTEM', events: [{ fixed: '2.0.0' }] },
              { type: 'WEIRD', events: [] },
              { type: 'ECOSYSTEM' },
            ],
          },
        ],
      },
      'x.json',
    );
    expect(r.counts).toEqual({ 'git-ranges-ignored': 1, 'invalid-event': 1, 'range-without-introduced': 1, 'range-type-ignored:WEIRD': 1, 'invalid-range': 1 });
    expect(r.advisory!.affected[0]!.intervals).toEqual([{ introduced: '1.1.0', lastAffected: '1.1.5' }]);
    expect(r.advisory!.affected[0]!.fixState).toBe('not-fixed');
  });
});

describe('rangeIntervals follows the OSV evaluation algorithm', () => {
  const semver = comparatorFor('semver');
  const ev = (...list: Array<[string, string]>) => list.map(([k, v]) => ({ [k]: v }));

  it('pairs events after sorting them', () => {
    expect(rangeIntervals(ev(['introduced', '3.0.0'], ['fixed', '3.2.5'], ['introduced', '1.0.0'], ['fixed', '1.0.2']), semver)).toEqual([
      { introduced: '1.0.0', fixed: '1.0.2' },
      { introduced: '3.0.0', fixed: '3.2.5' },
    ]);
  });

  it('a second introduced while one is open changes nothing; a fixed with none open neither', () => {
    expect(rangeIntervals(ev(['introduced', '0'], ['introduced', '1.0.0'], ['fixed', '2.0.0'], ['fixed', '3.0.0']), semver)).toEqual([{ introduced: '0', fixed: '2.0.0' }]);
  });

  it('an interval left open has no upper bound; last_affected is kept as such', () => {
    expect(rangeIntervals(ev(['introduced', '0'], ['last_affected', '1.2.3'], ['introduced', '2.0.0']), semver)).toEqual([{ introduced: '0', lastAffected: '1.2.3' }, { introduced: '2.0.0' }]);
  });

  it('limits bound every interval by the highest one; a "*" limit means none', () => {
    expect(rangeIntervals(ev(['introduced', '0'], ['limit', '1.5.0'], ['fixed', '1.0.0'], ['introduced', '1.2.0'], ['limit', '2.0.0']), semver)).toEqual([
      { introduced: '0', fixed: '1.0.0', limit: '2.0.0' },
      { introduced: '1.2.0', limit: '2.0.0' },
    ]);
    expect(rangeIntervals(ev(['introduced', '0'], ['limit', '*'], ['limit', '1.0.0']), semver)).toEqual([{ introduced: '0' }]);
  });

  it('events it cannot order stay as written (counted)', () => {
    const counts: Record<string, number> = {};
    expect(rangeIntervals(ev(['introduced', 'not a version'], ['fixed', 'also not']), semver, counts)).toEqual([{ introduced: 'not a version', fixed: 'also not' }]);
    expect(counts).toEqual({ 'events-unsorted': 1 });
  });
});

describe('OSV zips, read as a stream', () => {
  let dir: string;
  let files: Array<{ rel: string; abs: string }>;
  let fromDirs: AdvisoryReadResult;

  const listJson = (d: string): string[] =>
    readdirSync(d).flatMap((n) => {
      const p = join(d, n);
      return statSync(p).isDirectory() ? listJson(p) : n.endsWith('.json') ? [p] : [];
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'drydock-osv-'));
    // npm/ already holds npm/osv-dev/
    files = ['npm', 'pypi/pypa-json', 'pypi/ghsa', 'pypi/osv-dev', 'debian/osv-dev', 'alpine/osv-dev']
      .filter((d) => d === 'npm' || !d.startsWith('npm/'))
      .flatMap((d) => listJson(join(ADV, d)))
      .map((abs) => ({ abs, rel: relative(ADV, abs) }));
    fromDirs = { advisories: [], issues: [], counts: {} };
    for (const d of OSV_DIRS.filter((x) => !x.startsWith('npm/'))) {
      const r = await readOsvDirectory(join(ADV, d));
      fromDirs.advisories.push(...r.advisories);
      fromDirs.issues.push(...r.issues);
      for (const [k, v] of Object.entries(r.counts)) fromDirs.counts[k] = (fromDirs.counts[k] ?? 0) + v;
    }
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const sortById = (list: Advisory[]) => [...list].sort((a, b) => (a.id + a.modified < b.id + b.modified ? -1 : 1));

  it('reads the same advisories from a zip as from the directories, plus an issue for the bad member', async () => {
    const members: Zippable = {};
    for (const f of files) members[f.rel] = readFileSync(f.abs);
    members['broken/GHSA-bad.json'] = strToU8('{"id": "GHSA-bad", "affected": [');
    members['README.txt'] = strToU8('not a record');
    members['stored/GHSA-p6mc-m468-83gw.json'] = [readFileSync(join(ADV, 'npm', 'GHSA-p6mc-m468-83gw.json')), { level: 0 }];
    const path = join(dir, 'all.zip');
    await writeFile(path, zipSync(members, { level: 9 }));

    const fromZip = await readOsvZip(path);
    expect(fromZip.issues).toEqual([{ where: `${path}!broken/GHSA-bad.json`, message: expect.stringMatching(/^not valid JSON/) }]);
    const expected = sortById([...fromDirs.advisories, byId(fromDirs, 'GHSA-p6mc-m468-83gw')]);
    expect(sortById(fromZip.advisories)).toEqual(expected);
    expect(fromZip.counts).toEqual(fromDirs.counts);
    expect(fromZip.counts['git-ranges-ignored']).toBe(14);

    // the same bytes as a Readable in small chunks: members cut across chunk boundaries
    const fromStream = await readOsvZip(createReadStream(path, { highWaterMark: 777 }), 'stream');
    expect(sortById(fromStream.advisories)).toEqual(expected);
    expect(fromStream.issues).toEqual([{ where: 'stream!broken/GHSA-bad.json', message: expect.stringMatching(/^not valid JSON/) }]);
  });

  it('reads a zip written in streaming mode (data descriptors, sizes unknown up front)', async () => {
    const chunks: Uint8Array[] = [];
    const zip = new Zip((err, data) => {
      if (err) throw err;
      chunks.push(data);
    });
    for (const f of files.slice(0, 5)) {
      const entry = new ZipDeflate(f.rel, { level: 6 });
      zip.add(entry);
      entry.push(readFileSync(f.abs), true);
    }
    zip.end();
    const r = await readOsvZip(Readable.from(chunks), 'streamed.zip');
    expect(r.issues).toEqual([]);
    expect(r.advisories.map((a) => a.id)).toEqual(files.slice(0, 5).map((f) => parseOsvText(readFileSync(f.abs), f.rel).advisory!.id));
  });

  it('yields records while the zip is still arriving', async () => {
    const members: Zippable = {};
    for (const f of files) members[f.rel] = readFileSync(f.abs);
    const bytes = zipSync(members);
    let pulled = 0;
    const total = Math.ceil(bytes.length / 4096);
    async function* source() {
      for (let o = 0; o < bytes.length; o += 4096) {
        pulled++;
        yield bytes.subarray(o, o + 4096);
      }
    }
    const it = osvRecordsFromZip(source(), 'slow.zip');
    const first = await it.next();
    expect(first.value?.advisory?.id).toBeDefined();
    expect(pulled).toBeLessThan(total);
    await it.return(undefined);
  });

  it('many small members (the all.zip shape)', async () => {
    const members: Zippable = {};
    for (let i = 0; i < 5000; i++) members[`X-${i}.json`] = strToU8(JSON.stringify({ id: `X-${i}`, modified: '2024-01-01T00:00:00Z', affected: [{ package: { ecosystem: 'npm', name: `p${i}` }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: `1.0.${i}` }] }] }] }));
    const r = await readOsvZip(Readable.from([zipSync(members)]), 'many.zip');
    expect(r.issues).toEqual([]);
    expect(r.advisories).toHaveLength(5000);
    expect(r.advisories[4999]!.affected[0]!.intervals).toEqual([{ introduced: '0', fixed: '1.0.4999' }]);
  });

  it('a truncated zip and bytes that are no zip are issues, not exceptions', async () => {
    const bytes = zipSync({ 'a.json': strToU8('{"id":"A-1"}'), 'b.json': strToU8(JSON.stringify({ id: 'B-1', details: 'x'.repeat(5000) })) });
    // cut in the second member's header, then in its data
    for (const end of [60, 100]) {
      const cut = await readOsvZip(Readable.from([bytes.subarray(0, end)]), 'cut.zip');
      expect(cut.advisories.map((a) => a.id)).toEqual(['A-1']);
      expect(cut.issues).toHaveLength(1);
      expect(cut.issues[0]!.where).toBe('cut.zip');
    }
    // and just before the end of the central directory
    const short = await readOsvZip(Readable.from([bytes.subarray(0, bytes.length - 10)]), 'short.zip');
    expect(short.advisories.map((a) => a.id)).toEqual(['A-1', 'B-1']);
    expect(short.issues).toEqual([{ where: 'short.zip', message: expect.stringMatching(/^truncated zip/) }]);

    const junk = await readOsvZip(Readable.from([Buffer.from('this is not a zip file at all')]), 'junk.zip');
    expect(junk.advisories).toEqual([]);
    expect(junk.issues).toEqual([{ where: 'junk.zip', message: 'not a zip archive: no members found' }]);
  });
});
