/**
 * The Alpine secdb reader on the real fixtures of shared/fixtures/advisories/alpine: the v3.20 main
 * secdb per package as vuln-list writes it, the complete official v3.11 main secdb in YAML (checked
 * against a deliberately naive line-by-line second reading of the same file), the trimmed v3.15
 * YAML and the Wolfi JSON secdb; then malformed documents, which must give issues, never throw.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSecfixLine, readAlpineSecdb } from '../../shared/advisories/alpine-secdb.js';
import type { Advisory, AdvisoryReadResult } from '../../shared/advisories/types.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const ALPINE = join(SHARED_FIXTURES, 'advisories/alpine');
const PER_PACKAGE = join(ALPINE, 'secdb-v3.20-main-per-package');
const V311 = join(ALPINE, 'secdb-v3.11-main.alpine-secdb.yaml');

function advisory(r: AdvisoryReadResult, id: string): Advisory {
  const a = r.advisories.find((x) => x.id === id);
  if (!a) throw new Error(`${id} not read`);
  return a;
}

describe('parseSecfixLine', () => {
  it('splits ids, other ids and comments', () => {
    expect(parseSecfixLine('CVE-2018-1000500')).toEqual({ ids: ['CVE-2018-1000500'], others: [], partNumbers: 0 });
    expect(parseSecfixLine('CVE-2019-1234 CVE-2019-5678')).toEqual({ ids: ['CVE-2019-1234', 'CVE-2019-5678'], others: [], partNumbers: 0 });
    expect(parseSecfixLine('CVE-2016-6258 XSA-182')).toEqual({ ids: ['CVE-2016-6258'], others: ['XSA-182'], partNumbers: 0 });
    expect(parseSecfixLine('CVE-2018-10103 (SMB - partially fixed, but SMB printing disabled)')).toEqual({
      ids: ['CVE-2018-10103'],
      others: [],
      comment: 'SMB - partially fixed, but SMB printing disabled',
      partNumbers: 0,
    });
    expect(parseSecfixLine('CVE-2017-17434-1')).toEqual({ ids: ['CVE-2017-17434'], others: [], partNumbers: 1 });
    expect(parseSecfixLine('ALPINE-13661').ids).toEqual(['ALPINE-13661']);
    expect(parseSecfixLine('GHSA-jq35-85cj-fj4p').ids).toEqual(['GHSA-jq35-85cj-fj4p']);
    expect(parseSecfixLine('XSA-260').ids).toEqual([]);
    expect(parseSecfixLine('fixed upstream').ids).toEqual([]);
  });
});

describe('v3.20 main, one file per package (vuln-list)', () => {
  let busybox: AdvisoryReadResult;
  beforeAll(async () => {
    busybox = await readAlpineSecdb(join(PER_PACKAGE, 'busybox.json'));
  });

  it('busybox CVE-2018-1000500: fixed in 1.28.3-r2, key Alpine:v3.20 from the file header', () => {
    expect(busybox.issues).toEqual([]);
    const a = advisory(busybox, 'CVE-2018-1000500');
    expect(a.source).toBe('alpine-secdb');
    expect(a.affected).toEqual([
      { ecosystem: 'Alpine:v3.20', name: 'busybox', scheme: 'apk', intervals: [{ introduced: '0', fixed: '1.28.3-r2' }], versions: [], fixState: 'fixed', notes: { secfix: '1.28.3-r2', repo: 'main' } },
    ]);
    expect(a.severity).toBe('unknown');
  });

  it('busybox key "0" (CVE-2021-42373/42376/42377) → not-affected, no interval', () => {
    for (const id of ['CVE-2021-42373', 'CVE-2021-42376', 'CVE-2021-42377']) {
      expect(advisory(busybox, id).affected).toMatchObject([{ name: 'busybox', fixState: 'not-affected', intervals: [] }]);
    }
  });

  it('busybox ALPINE-13661 is kept beside CVE-2022-28391 (1.35.0-r7)', () => {
    expect(advisory(busybox, 'ALPINE-13661').affected[0]!.intervals).toEqual([{ introduced: '0', fixed: '1.35.0-r7' }]);
    expect(advisory(busybox, 'CVE-2022-28391').affected[0]!.intervals).toEqual([{ introduced: '0', fixed: '1.35.0-r7' }]);
  });

  it('openssl and zlib "0" keys → not-affected', async () => {
    const openssl = await readAlpineSecdb(join(PER_PACKAGE, 'openssl.json'));
    for (const id of ['CVE-2022-1292', 'CVE-2022-2068', 'CVE-2022-2274', 'CVE-2023-0466', 'CVE-2023-4807']) expect(advisory(openssl, id).affected[0]!.fixState, id).toBe('not-affected');
    const zlib = await readAlpineSecdb(join(PER_PACKAGE, 'zlib.json'));
    expect(advisory(zlib, 'CVE-2023-45853').affected[0]).toMatchObject({ name: 'zlib', fixState: 'not-affected' });
  });

  it('every file: one advisory per id listed, every id accounted for', async () => {
    for (const f of readdirSync(PER_PACKAGE)) {
      const raw = JSON.parse(readFileSync(join(PER_PACKAGE, f), 'utf8')) as { name: string; secfixes: Record<string, string[]> };
      const ids = new Set(Object.values(raw.secfixes).flat());
      const r = await readAlpineSecdb(readFileSync(join(PER_PACKAGE, f)));
      expect(r.issues, f).toEqual([]);
      expect(r.advisories.map((a) => a.id).sort(), f).toEqual([...ids].sort());
      for (const a of r.advisories) expect(a.affected.map((p) => `${p.ecosystem} ${p.name}`)).toEqual([`Alpine:v3.20 ${raw.name}`]);
    }
  });

  it('a per-package file without header fields takes the branch from the options', async () => {
    const bare = Buffer.from(JSON.stringify({ name: 'musl', secfixes: { '1.2.5-r1': ['CVE-2025-26519'] } }));
    const none = await readAlpineSecdb(bare);
    expect(none.advisories).toEqual([]);
    expect(none.issues[0]!.message).toMatch(/no branch/);
    const r = await readAlpineSecdb(bare, { branch: '3.20' });
    expect(r.advisories[0]!.affected[0]).toMatchObject({ ecosystem: 'Alpine:v3.20', name: 'musl', intervals: [{ introduced: '0', fixed: '1.2.5-r1' }] });
  });
});

describe('v3.11 main, the complete official YAML', () => {
  let r: AdvisoryReadResult;
  /** A naive second reading: "name:" lines, and "- " lines after "packages:" that are not "- pkg:". */
  const naive = () => {
    const text = readFileSync(V311, 'utf8');
    const lines = text.slice(text.indexOf('\npackages:')).split('\n');
    const packages = lines.filter((l) => /^\s+name: /.test(l)).length;
    const idLines = lines.filter((l) => /^\s*- /.test(l) && !/^\s*- pkg:/.test(l)).map((l) => l.replace(/^\s*- /, '').trim());
    return { packages, idLines };
  };

  beforeAll(async () => {
    r = await readAlpineSecdb(V311);
  });

  it('reads all 175 packages and all 1204 id lines (naive count of the same file)', () => {
    const { packages, idLines } = naive();
    console.log(`v3.11 main: ${packages} packages, ${idLines.length} id lines, ${r.advisories.length} advisories`, r.counts);
    expect(packages).toBe(175);
    expect(idLines).toHaveLength(1204);
    expect(r.counts.packages).toBe(175);
    // every id line is read: with an id (some carry two), with only another id (XSA-…), or under a bad version key
    const skippedUnderBadKeys = 1 + 2 + 3; // opensmtpd 6.6.2p1-r0, python2 2.7.16-33, xen 4.10-1-r1
    expect(r.counts.ids! + r.counts['lines-with-other-ids-only']! + skippedUnderBadKeys).toBe(1204);
    expect(r.counts['lines-with-other-ids-only']).toBe(14);
    expect(r.advisories).toHaveLength(1105);
    // the distinct ids of the naive reading, less those listed only under the bad keys
    const distinct = new Set(idLines.flatMap((l) => parseSecfixLine(l).ids));
    const read = new Set(r.advisories.map((a) => a.id));
    expect(distinct.size).toBe(1109);
    expect([...distinct].filter((id) => !read.has(id))).toEqual(['CVE-2020-7247', 'CVE-2018-8897', 'CVE-2018-10982', 'CVE-2018-10981']);
    expect([...read].filter((id) => !distinct.has(id))).toEqual([]);
  });

  it('three version keys that are not apk versions are issues, the rest is read', () => {
    expect(r.issues.map((i) => i.message)).toEqual([
      'secfixes key "6.6.2p1-r0" is not an apk version',
      'secfixes key "2.7.16-33" is not an apk version',
      'secfixes key "4.10-1-r1" is not an apk version',
    ]);
    expect(r.issues[0]!.where).toMatch(/\(opensmtpd\)$/);
  });

  it('ansible CVE-2019-14904 fixed in 2.9.3-r0 under Alpine:v3.11', () => {
    expect(advisory(r, 'CVE-2019-14904').affected).toMatchObject([{ ecosystem: 'Alpine:v3.11', name: 'ansible', scheme: 'apk', fixState: 'fixed', intervals: [{ introduced: '0', fixed: '2.9.3-r0' }] }]);
  });

  it('lines with trailing text: xen "CVE-2016-6258 XSA-182", tcpdump "CVE-2018-14468 (FrameRelay)", rsync "CVE-2017-17434-1"', () => {
    const xen = advisory(r, 'CVE-2016-6258');
    expect(xen.aliases).toEqual(['XSA-182']);
    expect(xen.affected[0]).toMatchObject({ name: 'xen', intervals: [{ introduced: '0', fixed: '4.7.0-r0' }] });
    expect(advisory(r, 'CVE-2018-14468').affected[0]!.notes).toMatchObject({ line: 'CVE-2018-14468 (FrameRelay)' });
    const rsync = advisory(r, 'CVE-2017-17434');
    expect(rsync.affected).toMatchObject([{ name: 'rsync', intervals: [{ introduced: '0', fixed: '3.1.2-r7' }] }]);
    expect(r.counts['id-part-numbers']).toBe(2);
    expect(advisory(r, 'CVE-2017-12122').aliases).toEqual(['TALOS-2017-0488']);
  });

  it('the trimmed v3.15 YAML (vunnel) reads 5 packages, 13 ids', async () => {
    const v315 = await readAlpineSecdb(join(ALPINE, 'secdb-v3.15-main-subset.vunnel.yaml'));
    expect(v315.issues).toEqual([]);
    expect(v315.counts).toMatchObject({ packages: 5, ids: 13 });
    expect(advisory(v315, 'CVE-2022-37434').affected).toMatchObject([{ ecosystem: 'Alpine:v3.15', name: 'zlib', intervals: [{ introduced: '0', fixed: '1.2.12-r2' }] }]);
  });
});

describe('Wolfi JSON secdb (the secdb.alpinelinux.org JSON layout)', () => {
  it('reads packages[].pkg under the ecosystem "Wolfi"', async () => {
    const r = await readAlpineSecdb(join(ALPINE, 'secdb-json-shape.wolfi.vunnel.json'));
    expect(r.issues).toEqual([]);
    expect(r.counts.packages).toBe(27);
    expect(advisory(r, 'CVE-2022-38126').affected).toMatchObject([{ ecosystem: 'Wolfi', name: 'binutils', scheme: 'apk', fixState: 'fixed', intervals: [{ introduced: '0', fixed: '2.39-r1' }] }]);
    expect(advisory(r, 'CVE-2016-2781').affected).toMatchObject([{ name: 'coreutils', fixState: 'not-affected', intervals: [] }]);
    expect(advisory(r, 'GHSA-jq35-85cj-fj4p').affected).toMatchObject([{ name: 'apko', fixState: 'not-affected' }]);
    const busybox = advisory(r, 'CVE-2022-30065');
    expect(busybox.affected[0]!.intervals).toEqual([{ introduced: '0', fixed: '1.35.0-r3' }]);
  });

  it('an explicit ecosystem overrides the file', async () => {
    const r = await readAlpineSecdb(join(ALPINE, 'secdb-json-shape.wolfi.vunnel.json'), { ecosystem: 'Chainguard' });
    expect(new Set(r.advisories.flatMap((a) => a.affected.map((p) => p.ecosystem)))).toEqual(new Set(['Chainguard']));
  });
});

describe('malformed input: issues, never throws', () => {
  const doc = (packages: unknown) => Buffer.from(JSON.stringify({ distroversion: 'v3.20', reponame: 'main', packages }));

  it('bad YAML, bad JSON, a document of another shape', async () => {
    for (const [text, message] of [
      ['distroversion: v3.20\npackages:\n  - pkg:\n      name: [unclosed\n', /^not readable as YAML/],
      ['{"distroversion": "v3.20", "packages": [', /^not readable as JSON/],
      ['{"hello": "world"}', /no packages list and no secfixes/],
      ['- a\n- b\n', /not a mapping/],
    ] as const) {
      const r = await readAlpineSecdb(Buffer.from(text), { where: 'x' });
      expect(r.advisories).toEqual([]);
      expect(r.issues, text).toEqual([{ where: 'x', message: expect.stringMatching(message) }]);
    }
  });

  it('secfixes not a mapping, an entry not a list, an id not a string: issues; the good package is read', async () => {
    const r = await readAlpineSecdb(
      doc([
        { pkg: { name: 'a', secfixes: ['CVE-2020-0001'] } },
        { pkg: { name: 'b', secfixes: { '1.0-r1': 'CVE-2020-0002' } } },
        { pkg: { name: 'c', secfixes: { '1.0-r1': [42, 'CVE-2020-0003'] } } },
        { pkg: { secfixes: {} } },
        { pkg: { name: 'd', secfixes: null } },
      ]),
      { where: 'x' },
    );
    expect(r.issues.map((i) => `${i.where}: ${i.message}`)).toEqual([
      'x: packages[0] (a): secfixes is not a mapping of version → ids',
      'x: packages[1] (b 1.0-r1): secfixes entry is not a list of ids',
      'x: packages[2] (c 1.0-r1): id is not a string: 42',
      'x: packages[3]: package without a name',
    ]);
    expect(r.advisories.map((a) => a.id)).toEqual(['CVE-2020-0003']);
    expect(r.counts['packages-without-secfixes']).toBe(1);
  });

  it('YAML version keys stay strings (failsafe schema): "1.10" is not 1.1', async () => {
    const r = await readAlpineSecdb(Buffer.from('distroversion: v3.20\npackages:\n  - pkg:\n      name: foo\n      secfixes:\n        1.10:\n          - CVE-2020-0004\n'));
    expect(r.advisories[0]!.affected[0]!.intervals).toEqual([{ introduced: '0', fixed: '1.10' }]);
  });

  it('the same id twice for one package keeps the highest fix', async () => {
    const r = await readAlpineSecdb(doc([{ pkg: { name: 'foo', secfixes: { '0': ['CVE-2020-0005'], '1.2-r0': ['CVE-2020-0005'], '1.10-r0': ['CVE-2020-0005'], '1.3-r0': ['CVE-2020-0005'] } } }]));
    expect(r.advisories).toHaveLength(1);
    expect(r.advisories[0]!.affected).toMatchObject([{ fixState: 'fixed', intervals: [{ introduced: '0', fixed: '1.10-r0' }] }]);
    expect(r.counts['duplicate-id']).toBe(3);
  });

  it('a path that does not exist is an issue', async () => {
    const r = await readAlpineSecdb(join(ALPINE, 'nope.json'));
    expect(r.issues).toHaveLength(1);
  });
});
