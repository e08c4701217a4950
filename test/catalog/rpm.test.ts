/**
 * The rpm cataloger: every rpm fixture of shared/fixtures against the expected outputs its
 * upstream publishes (go-rpmdb's packages.csv — `rpm -qa` run in the image — and curl.json)
 * or the packages SOURCES.md names; the database locations and the choice between several
 * databases; then the header, Berkeley DB, NDB and SQLite readers on small databases built
 * here, byte by byte, to reach what the fixtures do not have (big-endian Berkeley DB, many
 * records in one Berkeley DB, damaged records among good ones).
 * rpm-oracle.test.ts compares with the real rpm; rpm-corrupt.test.ts damages the fixtures.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import initSqlJs from 'sql.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryView } from '../../shared/catalog/dir-view.js';
import { runCatalogers } from '../../shared/catalog/index.js';
import { normalizeLicenses } from '../../shared/catalog/license.js';
import { pythonCataloger } from '../../shared/catalog/python.js';
import { readBdb } from '../../shared/catalog/rpm/bdb.js';
import { packageInfo, RpmHeader, RpmTag } from '../../shared/catalog/rpm/header.js';
import { RPM_DATABASE_PATHS, rpmCataloger, splitSourceRpm, vendorNamespace } from '../../shared/catalog/rpm/index.js';
import { readNdb } from '../../shared/catalog/rpm/ndb.js';
import { readSqlite, sqliteAvailable } from '../../shared/catalog/rpm/sqlite.js';
import type { CatalogContext, CatalogResult, Distro, FileView, Package, ViewFile } from '../../shared/catalog/types.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { loadSqliteEngine } from '../../shared/catalog/rpm/sqlite.js';

// The rpm cataloger's prepare() loads the SQLite engine before a scan; tests calling catalog() directly load it here.
beforeAll(async () => {
  expect(await loadSqliteEngine()).toBe(true);
});

const FIXTURES = join(SHARED_FIXTURES, 'pkgdb/rpm');
const LAYER = 'sha256:5151';
const scratch = mkdtempSync(join(tmpdir(), 'drydock-rpm-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const fixture = (dir: string, name: string): Buffer => readFileSync(join(FIXTURES, dir, name));

/** An in-memory view: exact path → content (or a whole ViewFile). */
function viewOf(files: Record<string, Buffer | Partial<ViewFile>>): FileView {
  const all: ViewFile[] = Object.entries(files).map(([path, c]) =>
    Buffer.isBuffer(c) ? { path, content: c, mode: 0o644, layer: LAYER } : { path, content: Buffer.alloc(0), mode: 0o644, layer: LAYER, ...c },
  );
  return { get: (path) => all.find((f) => f.path === path), glob: () => [] };
}

function catalogAt(path: string, content: Buffer | Partial<ViewFile>, ctx: CatalogContext = {}): CatalogResult {
  return rpmCataloger.catalog(viewOf({ [path]: content }), ctx);
}

const byName = (packages: Package[], name: string): Package | undefined => packages.find((p) => p.name === name);
const pathsOf = (result: CatalogResult, name: string): string[] | undefined => result.ownership?.find((o) => o.owner.name === name)?.paths;

// ---------------------------------------------------------------------------------------------
// Expected outputs published with the fixtures

/** One row of go-rpmdb's packages.csv: `rpm -qa` fields separated by ¶. */
interface ExpectedRow {
  epoch: string;
  name: string;
  version: string;
  release: string;
  arch: string;
  sourceRpm: string;
  size: string;
  license: string;
  vendor: string;
}

function expectedRows(dir: string): ExpectedRow[] {
  return readFileSync(join(FIXTURES, dir, 'expected-packages.csv'), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const f = line.split('¶');
      expect(f).toHaveLength(11);
      const [epoch = '', name = '', version = '', release = '', arch = '', sourceRpm = '', size = '', license = '', vendor = ''] = f;
      return { epoch, name, version, release, arch, sourceRpm, size, license, vendor };
    });
}

/** Every field the cataloger derives from a header, as a comparable record. */
function fieldsOf(p: Package): Record<string, unknown> {
  return {
    name: p.name,
    version: p.version,
    epoch: p.epoch,
    release: p.release,
    arch: p.arch,
    sourceName: p.sourceName,
    sourceVersion: p.sourceVersion,
    licenses: p.licenses,
    vendor: p.metadata?.vendor,
    sourceRpm: p.metadata?.sourceRpm,
    size: p.metadata?.installedSize,
  };
}

/** The same record, built independently from an expected row (epoch and source rules as documented in rpm/index.ts). */
function fieldsOfRow(row: ExpectedRow): Record<string, unknown> {
  const epochPrefix = row.epoch ? `${row.epoch}:` : '';
  const src = /^(.+)-([^-]+)-([^-]+)\.src\.rpm$/.exec(row.sourceRpm);
  const present = (s: string): string | undefined => (s && s !== '(none)' ? s : undefined);
  return {
    name: row.name,
    version: `${epochPrefix}${row.version}-${row.release}`,
    epoch: row.epoch ? Number(row.epoch) : undefined,
    release: row.release,
    arch: present(row.arch),
    sourceName: src?.[1],
    sourceVersion: src ? `${epochPrefix}${src[2]}-${src[3]}` : undefined,
    licenses: present(row.license) ? normalizeLicenses([row.license]) : undefined,
    vendor: present(row.vendor),
    sourceRpm: present(row.sourceRpm),
    size: row.size,
  };
}

const sortKey = (r: Record<string, unknown>): string => `${r.name} ${r.version} ${r.arch}`;
const sorted = (rows: Record<string, unknown>[]) => [...rows].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));

describe('rpmCataloger on the shared fixtures', () => {
  it('is an OS cataloger of the six database paths', () => {
    expect(rpmCataloger).toMatchObject({ name: 'rpm', kind: 'os', version: 1 });
    expect([...(rpmCataloger.needs.exact ?? [])].sort()).toEqual(
      [
        '/usr/lib/sysimage/rpm/Packages',
        '/usr/lib/sysimage/rpm/Packages.db',
        '/usr/lib/sysimage/rpm/rpmdb.sqlite',
        '/var/lib/rpm/Packages',
        '/var/lib/rpm/Packages.db',
        '/var/lib/rpm/rpmdb.sqlite',
      ],
    );
    expect(sqliteAvailable()).toBe(true);
  });

  it.each([
    ['ndb-sle15-bci', 'Packages.db', '/usr/lib/sysimage/rpm/Packages.db'],
    ['sqlite-amazonlinux2023', 'rpmdb.sqlite', '/var/lib/rpm/rpmdb.sqlite'],
  ])('%s equals expected-packages.csv (rpm -qa in the image), gpg-pubkey left out', (dir, name, path) => {
    const result = catalogAt(path, fixture(dir, name));
    expect(result.issues).toEqual([]);
    const rows = expectedRows(dir);
    const software = rows.filter((r) => r.name !== 'gpg-pubkey');
    expect(result.packages).toHaveLength(software.length);
    expect(sorted(result.packages.map(fieldsOf))).toEqual(sorted(software.map(fieldsOfRow)));
    for (const p of result.packages) {
      expect(p).toMatchObject({ type: 'rpm', layer: LAYER, locations: [path] });
    }
  });

  it('counts match the upstream tests: 36 SLE BCI packages, 102 Amazon Linux 2023 packages + 1 gpg-pubkey, 3 with an epoch', () => {
    expect(catalogAt('/var/lib/rpm/Packages.db', fixture('ndb-sle15-bci', 'Packages.db')).packages).toHaveLength(36);
    const al = catalogAt('/var/lib/rpm/rpmdb.sqlite', fixture('sqlite-amazonlinux2023', 'rpmdb.sqlite'));
    expect(al.packages).toHaveLength(102);
    expect(al.packages.filter((p) => p.epoch !== undefined).map((p) => `${p.name} ${p.version}`).sort()).toEqual(
      expectedRows('sqlite-amazonlinux2023')
        .filter((r) => r.epoch)
        .map((r) => `${r.name} ${r.epoch}:${r.version}-${r.release}`)
        .sort(),
    );
    expect(byName(al.packages, 'gpg-pubkey')).toBeUndefined();
  });

  it('bdb-rhel8-libuuid: the single package libuuid 2.32.1-42.el8_8, whole value and files', () => {
    const result = catalogAt('/var/lib/rpm/Packages', fixture('bdb-rhel8-libuuid', 'Packages'));
    expect(result.issues).toEqual([]);
    const libuuid: Package = {
      type: 'rpm',
      name: 'libuuid',
      version: '2.32.1-42.el8_8',
      release: '42.el8_8',
      arch: 'x86_64',
      sourceName: 'util-linux',
      sourceVersion: '2.32.1-42.el8_8',
      licenses: ['BSD'],
      purl: 'pkg:rpm/redhat/libuuid@2.32.1-42.el8_8?arch=x86_64',
      layer: LAYER,
      locations: ['/var/lib/rpm/Packages'],
      metadata: { vendor: 'Red Hat, Inc.', sourceRpm: 'util-linux-2.32.1-42.el8_8.src.rpm', installedSize: '35104' },
    };
    expect(result.packages).toEqual([libuuid]);
    // rpm -ql libuuid (rpm 4.18, bdb_ro backend) on the same file
    expect(result.ownership).toEqual([
      {
        owner: libuuid,
        paths: [
          '/usr/lib/.build-id',
          '/usr/lib/.build-id/df/ef6a880adac817216ab9866779a0725e017647',
          '/usr/lib64/libuuid.so.1',
          '/usr/lib64/libuuid.so.1.3.0',
          '/usr/share/licenses/libuuid',
          '/usr/share/licenses/libuuid/COPYING',
          '/usr/share/licenses/libuuid/COPYING.BSD-3',
        ],
      },
    ]);
  });

  it('bdb-rhel8-libuuid with a detected RHEL: the distro namespace and qualifier', () => {
    const rhel: Distro = { id: 'rhel', versionId: '8.8', source: '/etc/os-release' };
    const [p] = catalogAt('/var/lib/rpm/Packages', fixture('bdb-rhel8-libuuid', 'Packages'), { distro: rhel }).packages;
    expect(p?.purl).toBe('pkg:rpm/rhel/libuuid@2.32.1-42.el8_8?arch=x86_64&distro=rhel-8.8');
  });

  it('bdb-centos8-single-dive: dive 0.9.2-1, no vendor, no epoch', () => {
    const result = catalogAt('/var/lib/rpm/Packages', fixture('bdb-centos8-single-dive', 'Packages'));
    expect(result.issues).toEqual([]);
    expect(result.packages).toEqual([
      {
        type: 'rpm',
        name: 'dive',
        version: '0.9.2-1',
        release: '1',
        arch: 'x86_64',
        sourceName: 'dive',
        sourceVersion: '0.9.2-1',
        licenses: ['MIT'],
        purl: 'pkg:rpm/dive@0.9.2-1?arch=x86_64',
        layer: LAYER,
        locations: ['/var/lib/rpm/Packages'],
        metadata: { sourceRpm: 'dive-0.9.2-1.src.rpm', installedSize: '12406784' },
      },
    ]);
    expect(pathsOf(result, 'dive')).toEqual(['/usr/local/bin/dive']);
  });

  it('bdb-scalibr-epoch: hello with epoch 1 in version, epoch, sourceVersion and purl', () => {
    const fedora: Distro = { id: 'fedora', versionId: '32', source: '/etc/os-release' };
    const result = catalogAt('/var/lib/rpm/Packages', fixture('bdb-scalibr-epoch', 'Packages'), { distro: fedora });
    expect(result.issues).toEqual([]);
    expect(result.packages).toHaveLength(1);
    expect(result.packages[0]).toMatchObject({
      name: 'hello',
      version: '1:0.0.1-rls',
      epoch: 1,
      release: 'rls',
      sourceName: 'hello',
      sourceVersion: '1:0.0.1-rls',
      purl: 'pkg:rpm/fedora/hello@0.0.1-rls?arch=x86_64&distro=fedora-32&epoch=1',
    });
    expect(pathsOf(result, 'hello')).toEqual(['/usr/bin/hello.sh']);
  });

  it('sqlite-cbl-mariner-2.0: curl as in expected-curl.json, with its files', () => {
    const expected = JSON.parse(readFileSync(join(FIXTURES, 'sqlite-cbl-mariner-2.0/expected-curl.json'), 'utf8')) as {
      Epoch: number | null;
      Name: string;
      Version: string;
      Release: string;
      Arch: string;
      SourceRpm: string;
      Size: number;
      License: string;
      Vendor: string;
      BaseNames: string[];
      DirIndexes: number[];
      DirNames: string[];
    };
    const result = catalogAt('/var/lib/rpm/rpmdb.sqlite', fixture('sqlite-cbl-mariner-2.0', 'rpmdb.sqlite'));
    expect(result.issues).toEqual([]);
    const curl = byName(result.packages, 'curl');
    expect(curl && fieldsOf(curl)).toEqual({
      name: expected.Name,
      version: `${expected.Version}-${expected.Release}`,
      epoch: expected.Epoch ?? undefined,
      release: expected.Release,
      arch: expected.Arch,
      sourceName: 'curl',
      sourceVersion: `${expected.Version}-${expected.Release}`,
      licenses: [expected.License],
      vendor: expected.Vendor,
      sourceRpm: expected.SourceRpm,
      size: String(expected.Size),
    });
    expect(curl?.purl).toBe('pkg:rpm/microsoft/curl@7.76.0-6.cm2?arch=x86_64');
    expect(pathsOf(result, 'curl')).toEqual(expected.BaseNames.map((b, i) => `${expected.DirNames[expected.DirIndexes[i] as number]}${b}`));
  });

  it('ndb-sle15-bci: files of known packages', () => {
    const result = catalogAt('/usr/lib/sysimage/rpm/Packages.db', fixture('ndb-sle15-bci', 'Packages.db'));
    expect(pathsOf(result, 'glibc')).toEqual(expect.arrayContaining(['/lib64/libc.so.6', '/lib64/libc-2.31.so']));
    expect(pathsOf(result, 'bash')).toEqual(expect.arrayContaining(['/bin/bash', '/usr/bin/bash']));
    // every package with files owns them, and only its own packages are owners
    expect(new Set(result.ownership?.map((o) => o.owner))).toEqual(new Set(result.packages.filter((p) => (pathsOf(result, p.name) ?? []).length > 0)));
  });

  it('measures parse time per fixture', () => {
    const cases: Array<[string, string]> = [
      ['bdb-centos8-single-dive', 'Packages'],
      ['bdb-rhel8-libuuid', 'Packages'],
      ['bdb-scalibr-epoch', 'Packages'],
      ['ndb-sle15-bci', 'Packages.db'],
      ['sqlite-amazonlinux2023', 'rpmdb.sqlite'],
      ['sqlite-cbl-mariner-2.0', 'rpmdb.sqlite'],
    ];
    const lines: string[] = [];
    for (const [dir, name] of cases) {
      const content = fixture(dir, name);
      const path = `/var/lib/rpm/${name}`;
      catalogAt(path, content); // warm-up
      const runs = 5;
      const start = performance.now();
      let packages = 0;
      for (let i = 0; i < runs; i++) packages = catalogAt(path, content).packages.length;
      const ms = (performance.now() - start) / runs;
      lines.push(`${dir.padEnd(26)} ${String(content.length).padStart(8)} B ${String(packages).padStart(4)} packages ${ms.toFixed(1).padStart(7)} ms`);
    }
    console.info(`rpm parse time (mean of 5 after a warm-up):\n${lines.join('\n')}`);
  });
});

describe('rpmCataloger database locations', () => {
  /** A root directory in the scratch area with `files` (relative path → content) and `links` (path → target). */
  function rootWith(name: string, files: Record<string, Buffer>, links: Record<string, string> = {}): DirectoryView {
    const root = join(scratch, name);
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content);
    }
    for (const [path, target] of Object.entries(links)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      symlinkSync(target, join(root, path));
    }
    return new DirectoryView(root, { layer: LAYER });
  }

  it.each(RPM_DATABASE_PATHS.map((p) => [p]))('finds a database at %s', (path) => {
    const name = path.slice(path.lastIndexOf('/') + 1);
    const content = name === 'rpmdb.sqlite' ? fixture('sqlite-cbl-mariner-2.0', name) : name === 'Packages.db' ? fixture('ndb-sle15-bci', name) : fixture('bdb-centos8-single-dive', name);
    const result = catalogAt(path, content);
    expect(result.packages.length).toBeGreaterThan(0);
    expect(result.packages[0]?.locations).toEqual([path]);
  });

  it('reads a database reached through /var/lib/rpm -> ../../usr/lib/sysimage/rpm once, at its real path', () => {
    const view = rootWith('symlinked', { 'usr/lib/sysimage/rpm/Packages.db': fixture('ndb-sle15-bci', 'Packages.db') }, { 'var/lib/rpm': '../../usr/lib/sysimage/rpm' });
    const result = rpmCataloger.catalog(view, {});
    expect(result.issues).toEqual([]);
    expect(result.packages).toHaveLength(36);
    expect(new Set(result.packages.flatMap((p) => p.locations))).toEqual(new Set(['/usr/lib/sysimage/rpm/Packages.db']));
  });

  it('prefers rpmdb.sqlite over a Berkeley DB left beside it, and says the other was not read', () => {
    const view = rootWith('stale-bdb', {
      'var/lib/rpm/Packages': fixture('bdb-centos8-single-dive', 'Packages'),
      'var/lib/rpm/rpmdb.sqlite': fixture('sqlite-cbl-mariner-2.0', 'rpmdb.sqlite'),
    });
    const result = rpmCataloger.catalog(view, {});
    expect(byName(result.packages, 'dive')).toBeUndefined();
    expect(byName(result.packages, 'curl')).toBeDefined();
    expect(result.issues).toEqual([
      {
        cataloger: 'rpm',
        path: '/var/lib/rpm/rpmdb.sqlite',
        layer: LAYER,
        message: 'packages read from /var/lib/rpm/rpmdb.sqlite; other rpm databases not read (likely stale): /var/lib/rpm/Packages',
      },
    ]);
  });

  it('falls back to the next database when the preferred one yields nothing', () => {
    const view = rootWith('broken-sqlite', {
      'usr/lib/sysimage/rpm/rpmdb.sqlite': Buffer.from('SQLite format 3\0 but nothing else'),
      'usr/lib/sysimage/rpm/Packages': fixture('bdb-scalibr-epoch', 'Packages'),
    });
    const result = rpmCataloger.catalog(view, {});
    expect(result.packages.map((p) => `${p.name} ${p.version} ${p.locations[0]}`)).toEqual(['hello 1:0.0.1-rls /usr/lib/sysimage/rpm/Packages']);
    expect(result.issues).toHaveLength(1);
    expect(result.issues[0]).toMatchObject({ path: '/usr/lib/sysimage/rpm/rpmdb.sqlite', layer: LAYER });
  });

  it('keeps to a readable but empty database (no package is installed) rather than a stale one', () => {
    const view = rootWith('empty-sqlite', {
      'var/lib/rpm/rpmdb.sqlite': sqlite([]),
      'var/lib/rpm/Packages': fixture('bdb-centos8-single-dive', 'Packages'),
    });
    const result = rpmCataloger.catalog(view, {});
    expect(result.packages).toEqual([]);
    expect(result.issues.map((i) => i.message)).toEqual(['packages read from /var/lib/rpm/rpmdb.sqlite; other rpm databases not read (likely stale): /var/lib/rpm/Packages']);
  });

  it('recognises the format by content, and reports a file that is none of them', () => {
    // a Berkeley DB file where an NDB one is expected is still read
    expect(catalogAt('/var/lib/rpm/Packages.db', fixture('bdb-scalibr-epoch', 'Packages')).packages.map((p) => p.name)).toEqual(['hello']);
    const junk = catalogAt('/var/lib/rpm/Packages', Buffer.from('hello, world'));
    expect(junk).toEqual({ packages: [], issues: [{ cataloger: 'rpm', path: '/var/lib/rpm/Packages', layer: LAYER, message: 'not an rpm database: neither SQLite, NDB nor Berkeley DB' }] });
    expect(catalogAt('/var/lib/rpm/Packages', Buffer.alloc(0)).issues.map((i) => i.message)).toEqual(['empty file']);
  });

  it('in a scan: the distro names the purls, and rpm-owned Python metadata is marked ownedBy its rpm', () => {
    const pkgInfo = (name: string, version: string) => Buffer.from(`Metadata-Version: 1.1\nName: ${name}\nVersion: ${version}\n`);
    const sitePackages = 'usr/lib64/python3.9/site-packages';
    const view = rootWith('amazonlinux-python', {
      'etc/os-release': Buffer.from('NAME="Amazon Linux"\nID="amzn"\nVERSION_ID="2023"\n'),
      'var/lib/rpm/rpmdb.sqlite': fixture('sqlite-amazonlinux2023', 'rpmdb.sqlite'),
      // paths python3-libcomps and python3-gpg list in the fixture's rpm database (contents made up here)
      [`${sitePackages}/libcomps-0.1.18-py3.9.egg-info/PKG-INFO`]: pkgInfo('libcomps', '0.1.18'),
      [`${sitePackages}/gpg-1.15.1-py3.9.egg-info`]: pkgInfo('gpg', '1.15.1'),
      // not in any rpm's file list: installed by pip
      [`${sitePackages}/requests-2.31.0.dist-info/METADATA`]: pkgInfo('requests', '2.31.0'),
    });
    const run = runCatalogers(view, [rpmCataloger, pythonCataloger]);
    expect(run.distro).toMatchObject({ id: 'amzn', versionId: '2023' });
    const rpmOf = (name: string) => run.packages.find((p) => p.type === 'rpm' && p.name === name);
    expect(rpmOf('openssl-libs')).toMatchObject({
      version: '1:3.0.8-1.amzn2023.0.4',
      distro: 'amzn-2023',
      foundBy: 'rpm',
      purl: 'pkg:rpm/amzn/openssl-libs@3.0.8-1.amzn2023.0.4?arch=x86_64&distro=amzn-2023&epoch=1',
    });
    const owner = (name: string) => run.packages.find((p) => p.type === 'pypi' && p.name === name)?.ownedBy;
    const libcomps = rpmOf('python3-libcomps') as Package;
    const gpg = rpmOf('python3-gpg') as Package;
    expect(owner('libcomps')).toEqual({ type: 'rpm', name: 'python3-libcomps', version: libcomps.version, purl: libcomps.purl });
    expect(owner('gpg')).toEqual({ type: 'rpm', name: 'python3-gpg', version: gpg.version, purl: gpg.purl });
    expect(owner('requests')).toBeUndefined();
  });

  it('reports a database the view truncated, and reads what it has', () => {
    const full = fixture('ndb-sle15-bci', 'Packages.db');
    const result = catalogAt('/var/lib/rpm/Packages.db', { content: full.subarray(0, 400_000), truncated: true });
    expect(result.issues[0]?.message).toBe('file truncated after 400000 bytes: the packages stored after that were not read');
    expect(result.packages.length).toBeGreaterThan(0);
    expect(result.packages.length).toBeLessThan(36);
  });
});

// ---------------------------------------------------------------------------------------------
// Databases built here

type TagValue = { string: string } | { strings: string[] } | { i18n: string[] } | { int32: number[] } | { int16: number[] } | { int64: number[] } | { bin: number[] };

/** An RPM header blob as rpm writes one: an immutable region around the entries, data aligned per type. */
function header(tags: Array<[number, TagValue]>, opts: { region?: boolean } = {}): Buffer {
  const region = opts.region ?? true;
  const entries: Buffer[] = [];
  const data: number[] = [];
  const entry = (tag: number, type: number, offset: number, count: number): Buffer => {
    const b = Buffer.alloc(16);
    b.writeInt32BE(tag, 0);
    b.writeUInt32BE(type, 4);
    b.writeInt32BE(offset, 8);
    b.writeUInt32BE(count, 12);
    return b;
  };
  const align = (n: number) => {
    while (data.length % n !== 0) data.push(0);
  };
  const cstr = (s: string) => data.push(...Buffer.from(s, 'utf8'), 0);
  for (const [tag, v] of tags) {
    if ('string' in v) {
      entries.push(entry(tag, 6, data.length, 1));
      cstr(v.string);
    } else if ('strings' in v || 'i18n' in v) {
      const list = 'strings' in v ? v.strings : v.i18n;
      entries.push(entry(tag, 'strings' in v ? 8 : 9, data.length, list.length));
      list.forEach(cstr);
    } else if ('int32' in v) {
      align(4);
      entries.push(entry(tag, 4, data.length, v.int32.length));
      for (const n of v.int32) data.push(...Buffer.from(Uint32Array.of(n).buffer).reverse());
    } else if ('int16' in v) {
      align(2);
      entries.push(entry(tag, 3, data.length, v.int16.length));
      for (const n of v.int16) data.push(n >> 8, n & 0xff);
    } else if ('int64' in v) {
      align(8);
      entries.push(entry(tag, 5, data.length, v.int64.length));
      for (const n of v.int64) {
        const b = Buffer.alloc(8);
        b.writeBigUInt64BE(BigInt(n));
        data.push(...b);
      }
    } else {
      entries.push(entry(tag, 7, data.length, v.bin.length));
      data.push(...v.bin);
    }
  }
  if (region) {
    const il = entries.length + 1;
    entries.unshift(entry(RpmTag.HEADERIMMUTABLE, 7, data.length, 16));
    data.push(...entry(RpmTag.HEADERIMMUTABLE, 7, -il * 16, 16));
  }
  const head = Buffer.alloc(8);
  head.writeUInt32BE(entries.length, 0);
  head.writeUInt32BE(data.length, 4);
  return Buffer.concat([head, ...entries, Buffer.from(data)]);
}

/** NAME/VERSION/RELEASE/ARCH plus `extra` tags, sorted by tag as rpm writes them. */
function pkgHeader(name: string, version = '1.0', release = '1.el9', extra: Array<[number, TagValue]> = []): Buffer {
  const tags: Array<[number, TagValue]> = [
    [RpmTag.NAME, { string: name }],
    [RpmTag.VERSION, { string: version }],
    [RpmTag.RELEASE, { string: release }],
    [RpmTag.ARCH, { string: 'x86_64' }],
    ...extra,
  ];
  return header(tags.sort((a, b) => a[0] - b[0]));
}

/** An NDB Packages.db holding `blobs` as package indexes 1..n (slot page 0, blobs from byte 4096). */
function ndb(blobs: Buffer[]): Buffer {
  const slots = Buffer.alloc(4096);
  slots.write('RpmP', 0, 'latin1');
  slots.writeUInt32LE(0, 4);
  slots.writeUInt32LE(1, 8);
  slots.writeUInt32LE(1, 12);
  slots.writeUInt32LE(blobs.length + 1, 16);
  const parts: Buffer[] = [slots];
  let block = 4096 / 16;
  blobs.forEach((blob, i) => {
    const blocks = Math.ceil((16 + blob.length + 12) / 16);
    const area = Buffer.alloc(blocks * 16);
    area.write('BlbS', 0, 'latin1');
    area.writeUInt32LE(i + 1, 4);
    area.writeUInt32LE(1, 8);
    area.writeUInt32LE(blob.length, 12);
    blob.copy(area, 16);
    const tail = area.length - 12;
    let a = 1;
    let b = 0;
    for (let j = 0; j < tail; j++) {
      a = (a + (area[j] as number)) % 65521;
      b = (b + a) % 65521;
    }
    area.writeUInt32LE(((b << 16) | a) >>> 0, tail);
    area.writeUInt32LE(blob.length, tail + 4);
    area.write('BlbE', tail + 8, 'latin1');
    const slot = 32 + i * 16;
    slots.write('Slot', slot, 'latin1');
    slots.writeUInt32LE(i + 1, slot + 4);
    slots.writeUInt32LE(block, slot + 8);
    slots.writeUInt32LE(blocks, slot + 12);
    block += blocks;
    parts.push(area);
  });
  for (let slot = 32 + blobs.length * 16; slot < 4096; slot += 16) slots.write('Slot', slot, 'latin1');
  return Buffer.concat(parts);
}

/**
 * A Berkeley DB hash file as rpm's Packages: metadata page, one hash page with a key/value
 * pair per record (key = 4-byte instance number; value inline when `inline`, else off-page
 * in a chain of overflow pages), the instance counter under key 0, in either byte order.
 */
function bdb(blobs: Buffer[], opts: { littleEndian?: boolean; pageSize?: number; inline?: boolean } = {}): Buffer {
  const le = opts.littleEndian ?? true;
  const pageSize = opts.pageSize ?? 512;
  const pages: Buffer[] = [Buffer.alloc(pageSize), Buffer.alloc(pageSize)];
  const u32 = (b: Buffer, at: number, v: number) => (le ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at));
  const u16 = (b: Buffer, at: number, v: number) => (le ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
  const items: Buffer[] = [];
  const key = (n: number) => {
    const k = Buffer.alloc(5);
    k[0] = 1;
    u32(k, 1, n);
    return k;
  };
  items.push(key(0), Buffer.concat([Buffer.of(1), key(blobs.length + 1).subarray(1)]));
  blobs.forEach((blob, i) => {
    items.push(key(i + 1));
    if (opts.inline) {
      items.push(Buffer.concat([Buffer.of(1), blob]));
      return;
    }
    const first = pages.length;
    const room = pageSize - 26;
    for (let at = 0; at < blob.length; at += room) {
      const page = Buffer.alloc(pageSize);
      u32(page, 8, pages.length);
      const chunk = blob.subarray(at, at + room);
      u32(page, 16, at + room < blob.length ? pages.length + 1 : 0);
      u16(page, 22, chunk.length);
      page[25] = 7;
      chunk.copy(page, 26);
      pages.push(page);
    }
    const off = Buffer.alloc(12);
    off[0] = 3;
    u32(off, 4, first);
    u32(off, 8, blob.length);
    items.push(off);
  });
  const hash = pages[1] as Buffer;
  u32(hash, 8, 1);
  u16(hash, 20, items.length);
  hash[25] = 13;
  let top = pageSize;
  items.forEach((item, i) => {
    top -= item.length;
    if (top < 26 + 2 * items.length) throw new Error('test database: too many records for one hash page');
    item.copy(hash, top);
    u16(hash, 26 + 2 * i, top);
  });
  const meta = pages[0] as Buffer;
  u32(meta, 12, 0x061561);
  u32(meta, 16, 9);
  u32(meta, 20, pageSize);
  meta[25] = 8;
  u32(meta, 32, pages.length - 1);
  return Buffer.concat(pages);
}

let SQL: Awaited<ReturnType<typeof initSqlJs>>;
beforeAll(async () => {
  SQL = await initSqlJs();
});

/** An rpmdb.sqlite with rpm's Packages table holding `rows` (hnum → blob). */
function sqlite(rows: Array<[number, Buffer | string | null]>, table = 'Packages'): Buffer {
  const db = new SQL.Database();
  db.run(`CREATE TABLE ${table} (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL DEFAULT '')`);
  for (const [hnum, blob] of rows) db.run(`INSERT INTO ${table} (hnum, blob) VALUES (?, ?)`, [hnum, blob]);
  const bytes = Buffer.from(db.export());
  db.close();
  return bytes;
}

describe('RPM header', () => {
  const full = pkgHeader('openssl-libs', '3.0.7', '27.el9', [
    [RpmTag.EPOCH, { int32: [1] }],
    [RpmTag.SIZE, { int32: [6806522] }],
    [RpmTag.VENDOR, { string: 'Rocky Enterprise Software Foundation' }],
    [RpmTag.LICENSE, { string: 'GPLv2+ and LGPLv2+' }],
    [RpmTag.SOURCERPM, { string: 'openssl-3.0.7-27.el9.src.rpm' }],
    [RpmTag.DIRINDEXES, { int32: [0, 1, 1] }],
    [RpmTag.BASENAMES, { strings: ['.build-id', 'libcrypto.so.3', 'libssl.so.3'] }],
    [RpmTag.DIRNAMES, { strings: ['/usr/lib/', '/usr/lib64/'] }],
    [RpmTag.MODULARITYLABEL, { string: 'openssl:3:9000:abcdef' }],
  ]);

  it('reads every field the cataloger uses', () => {
    const h = RpmHeader.parse(full);
    expect(typeof h).not.toBe('string');
    expect(packageInfo(h as RpmHeader)).toEqual({
      name: 'openssl-libs',
      version: '3.0.7',
      release: '27.el9',
      epoch: 1,
      arch: 'x86_64',
      sourceRpm: 'openssl-3.0.7-27.el9.src.rpm',
      license: 'GPLv2+ and LGPLv2+',
      vendor: 'Rocky Enterprise Software Foundation',
      size: 6806522,
      modularityLabel: 'openssl:3:9000:abcdef',
      files: ['/usr/lib/.build-id', '/usr/lib64/libcrypto.so.3', '/usr/lib64/libssl.so.3'],
    });
  });

  it('makes the whole package value from it', () => {
    const result = catalogAt('/var/lib/rpm/Packages.db', ndb([full]), { distro: { id: 'rocky', versionId: '9.3', source: '/etc/os-release' } });
    expect(result.issues).toEqual([]);
    const pkg: Package = {
      type: 'rpm',
      name: 'openssl-libs',
      version: '1:3.0.7-27.el9',
      epoch: 1,
      release: '27.el9',
      arch: 'x86_64',
      sourceName: 'openssl',
      sourceVersion: '1:3.0.7-27.el9',
      licenses: ['GPL-2.0-or-later AND LGPL-2.0-or-later'],
      purl: 'pkg:rpm/rocky/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rocky-9.3&epoch=1',
      layer: LAYER,
      locations: ['/var/lib/rpm/Packages.db'],
      metadata: {
        vendor: 'Rocky Enterprise Software Foundation',
        sourceRpm: 'openssl-3.0.7-27.el9.src.rpm',
        installedSize: '6806522',
        modularityLabel: 'openssl:3:9000:abcdef',
      },
    };
    expect(result.packages).toEqual([pkg]);
    expect(result.ownership).toEqual([{ owner: pkg, paths: ['/usr/lib/.build-id', '/usr/lib64/libcrypto.so.3', '/usr/lib64/libssl.so.3'] }]);
  });

  it('keeps an explicit epoch 0, prefers LONGSIZE, takes the first I18N string, reads the old FILENAMES list', () => {
    const h = RpmHeader.parse(
      header([
        [RpmTag.NAME, { string: 'zero' }],
        [RpmTag.VERSION, { string: '2' }],
        [RpmTag.RELEASE, { string: '3' }],
        [RpmTag.EPOCH, { int32: [0] }],
        [1004, { i18n: ['C summary', 'de summary'] }],
        [RpmTag.SIZE, { int32: [1] }],
        [RpmTag.FILENAMES, { strings: ['/a', '/b/c'] }],
        [RpmTag.LONGSIZE, { int64: [5_000_000_000] }],
      ]),
    ) as RpmHeader;
    expect(h.string(1004)).toBe('C summary');
    expect(packageInfo(h)).toMatchObject({ epoch: 0, size: 5_000_000_000, files: ['/a', '/b/c'] });
    const [pkg] = catalogAt('/var/lib/rpm/Packages.db', ndb([header([[RpmTag.NAME, { string: 'zero' }], [RpmTag.VERSION, { string: '2' }], [RpmTag.RELEASE, { string: '3' }], [RpmTag.EPOCH, { int32: [0] }]])])).packages;
    expect(pkg).toMatchObject({ version: '0:2-3', epoch: 0, purl: 'pkg:rpm/zero@2-3?epoch=0' });
    expect(pkg?.arch).toBeUndefined();
  });

  it('lets a later (dribble) entry replace a region entry of the same tag', () => {
    const h = RpmHeader.parse(
      header(
        [
          [RpmTag.NAME, { string: 'a' }],
          [RpmTag.VERSION, { string: '1' }],
          [RpmTag.RELEASE, { string: '1' }],
          [RpmTag.VENDOR, { string: 'first' }],
          [RpmTag.VENDOR, { string: 'second' }],
        ],
        { region: false },
      ),
    ) as RpmHeader;
    expect(h.string(RpmTag.VENDOR)).toBe('second');
  });

  it('reads headers without a region (rpm v3 style)', () => {
    const h = RpmHeader.parse(header([[RpmTag.NAME, { string: 'old' }], [RpmTag.VERSION, { string: '1' }], [RpmTag.RELEASE, { string: '2' }]], { region: false }));
    expect(packageInfo(h as RpmHeader)).toMatchObject({ name: 'old', version: '1', release: '2' });
  });

  /** A valid header with one 32-bit word of index entry `index` (0 = the region) at byte `at` replaced. */
  const withEntryWord = (index: number, at: number, value: number): Buffer => {
    const b = Buffer.from(full);
    b.writeInt32BE(value, 8 + index * 16 + at);
    return b;
  };

  it.each([
    ['too short', Buffer.alloc(7), 'header of 7 bytes is too short'],
    ['no entries', Buffer.alloc(8), 'header has 0 index entries (1 to 65535 allowed)'],
    ['too many entries', Buffer.from([0, 1, 0, 0, 0, 0, 0, 0]), 'header has 65536 index entries (1 to 65535 allowed)'],
    ['data store over 256 MiB', Buffer.from([0, 0, 0, 1, 0x10, 0, 0, 1]), "header data store of 268435457 bytes exceeds rpm's limit"],
    ['record shorter than the header', full.subarray(0, full.length - 1), `header needs ${full.length} bytes, the record has ${full.length - 1}`],
    ['unknown type', withEntryWord(1, 4, 42), 'index entry 1 (tag 1000): unknown type 42'],
    ['offset past the data store', withEntryWord(1, 8, 1 << 20), 'index entry 1 (tag 1000): offset 1048576 outside the data store'],
    ['negative offset', withEntryWord(2, 8, -4), 'index entry 2 (tag 1001): offset -4 outside the data store'],
    ['overlapping offsets', withEntryWord(4, 8, 0), 'index entry 4 (tag 1003): offset 0 overlaps'],
    ['tag below 100 after the region', withEntryWord(1, 0, 7), 'index entry 1 (tag 7): tag number out of range'],
    ['huge count', withEntryWord(4, 12, 0x7fffffff), 'index entry 4 (tag 1003): count 2147483647 impossible'],
    ['bad region entry', withEntryWord(0, 12, 3), 'invalid region entry (tag 63)'],
  ])('refuses a header with %s', (_what, blob, message) => {
    const h = RpmHeader.parse(blob);
    expect(typeof h).toBe('string');
    expect(h as string).toContain(message);
  });

  it('refuses a misaligned integer and a string that runs off the data store', () => {
    const misaligned = header([[RpmTag.NAME, { string: 'n' }], [RpmTag.VERSION, { string: 'v' }], [RpmTag.RELEASE, { string: 'r' }], [RpmTag.EPOCH, { int32: [1] }]], { region: false });
    // point EPOCH (entry 3) one byte further
    misaligned.writeInt32BE(misaligned.readInt32BE(8 + 3 * 16 + 8) + 1, 8 + 3 * 16 + 8);
    expect(RpmHeader.parse(misaligned)).toMatch(/not aligned for type 4/);

    const unterminated = header([[RpmTag.NAME, { string: 'n' }], [RpmTag.VERSION, { string: 'v' }], [RpmTag.RELEASE, { string: 'r' }], [RpmTag.VENDOR, { string: 'vendor' }]], { region: false });
    unterminated[unterminated.length - 1] = 0x41; // the last string's NUL
    const h = RpmHeader.parse(unterminated) as RpmHeader;
    expect(h.string(RpmTag.VENDOR)).toBeUndefined();
    expect(packageInfo(h)).toMatchObject({ name: 'n' });
    expect((packageInfo(h) as { vendor?: string }).vendor).toBeUndefined();
  });

  it('names what a header lacks, and a malformed file list, without losing the package', () => {
    const noName = header([[RpmTag.VERSION, { string: '1' }], [RpmTag.RELEASE, { string: '1' }]]);
    const noVersion = header([[RpmTag.NAME, { string: 'x' }], [RpmTag.RELEASE, { string: '1' }]]);
    const noRelease = header([[RpmTag.NAME, { string: 'y' }], [RpmTag.VERSION, { string: '1' }]]);
    const stringEpoch = pkgHeader('z', '1', '1', [[RpmTag.EPOCH, { string: '1' }]]);
    const badDirIndex = pkgHeader('files', '1', '1', [
      [RpmTag.DIRINDEXES, { int32: [0, 5] }],
      [RpmTag.BASENAMES, { strings: ['a', 'b'] }],
      [RpmTag.DIRNAMES, { strings: ['/d/'] }],
    ]);
    const result = catalogAt('/var/lib/rpm/Packages.db', ndb([noName, noVersion, noRelease, stringEpoch, badDirIndex]));
    expect(result.issues.map((i) => i.message)).toEqual([
      'package index 1: no NAME',
      'package index 2: package "x": no VERSION',
      'package index 3: package "y": no RELEASE',
      'package index 4: package "z": EPOCH is not an integer',
      'package index 5 (package "files"): file list: 1 DIRINDEXES outside DIRNAMES (1 entries)',
    ]);
    expect(result.packages.map((p) => p.name)).toEqual(['files']);
    expect(pathsOf(result, 'files')).toEqual(['/d/a']);
  });
});

describe('rpm database readers on databases built here', () => {
  const three = [pkgHeader('alpha'), pkgHeader('beta', '2.0'), pkgHeader('gamma', '3.0', '1', [[RpmTag.EPOCH, { int32: [2] }]])];
  const names = (r: CatalogResult) => r.packages.map((p) => `${p.name} ${p.version}`).sort();

  it.each([
    ['little-endian, off-page values', { littleEndian: true }],
    ['big-endian, off-page values', { littleEndian: false }],
    ['big-endian, 4 KiB pages', { littleEndian: false, pageSize: 4096 }],
    ['inline values', { pageSize: 4096, inline: true }],
  ])('Berkeley DB: %s', (_what, opts) => {
    const result = catalogAt('/var/lib/rpm/Packages', bdb(three, opts));
    expect(result.issues).toEqual([]);
    expect(names(result)).toEqual(['alpha 1.0-1.el9', 'beta 2.0-1.el9', 'gamma 2:3.0-1']);
  });

  it('Berkeley DB: a broken overflow chain costs only its record', () => {
    const db = bdb(three, { littleEndian: false });
    const read = readBdb(db);
    expect(read.records.map((r) => r.where)).toEqual(['record 1', 'record 2', 'record 3']);
    // make record 2's (only) overflow page empty and point at itself
    const pageSize = 512;
    const pages = db.length / pageSize;
    let damaged = 0;
    for (let p = 2; p < pages && !damaged; p++) {
      const page = db.subarray(p * pageSize, (p + 1) * pageSize);
      const blob = three[1] as Buffer;
      if (page[25] === 7 && page.subarray(26, 26 + 16).equals(blob.subarray(0, 16))) {
        page.writeUInt32BE(p, 16);
        page.writeUInt16BE(0, 22);
        damaged = p;
      }
    }
    expect(damaged).toBeGreaterThan(0);
    const result = catalogAt('/var/lib/rpm/Packages', db);
    expect(names(result)).toEqual(['alpha 1.0-1.el9', 'gamma 2:3.0-1']);
    expect(result.issues.map((i) => i.message)).toEqual([`record 2: overflow chain reaches page ${damaged} a second time after 0 of ${(three[1] as Buffer).length} bytes`]);
  });

  it('Berkeley DB: two records claiming one overflow chain get it once', () => {
    const db = bdb(three);
    // the hash page's items: [key 0, counter, key 1, off-page 1, key 2, off-page 2, key 3, off-page 3]
    const hash = db.subarray(512, 1024);
    const item = (i: number) => hash.readUInt16LE(26 + 2 * i);
    const firstOf = (i: number) => hash.readUInt32LE(item(i) + 4);
    hash.writeUInt32LE(firstOf(3), item(5) + 4); // record 2 → record 1's chain
    hash.writeUInt32LE((three[0] as Buffer).length, item(5) + 8);
    const result = catalogAt('/var/lib/rpm/Packages', db);
    expect(names(result)).toEqual(['alpha 1.0-1.el9', 'gamma 2:3.0-1']);
    expect(result.issues.map((i) => i.message)).toEqual([`record 2: overflow chain reaches page ${firstOf(3)} a second time after 0 of ${(three[0] as Buffer).length} bytes`]);
  });

  it('Berkeley DB: a record claiming more bytes than the file allocates nothing', () => {
    const db = bdb(three);
    const hash = db.subarray(512, 1024);
    hash.writeUInt32LE(0x7fffffff, hash.readUInt16LE(26 + 2 * 5) + 8);
    expect(readBdb(db).problems).toEqual(['record 2: claims 2147483647 bytes, more than the whole file']);
  });

  it('Berkeley DB: metadata it cannot use', () => {
    const db = bdb(three);
    const btree = Buffer.from(db);
    btree.writeUInt32LE(0x053162, 12);
    expect(readBdb(btree).problems).toEqual(['Berkeley DB btree database: rpm keeps Packages as a hash database, btree is not supported']);
    const pageSize = Buffer.from(db);
    pageSize.writeUInt32LE(1000, 20);
    expect(readBdb(pageSize).problems).toEqual(['invalid page size 1000']);
    const encrypted = Buffer.from(db);
    encrypted[24] = 1;
    expect(readBdb(encrypted).problems).toEqual(['the database is encrypted']);
    const lastPage = Buffer.from(db);
    lastPage.writeUInt32LE(0xffffffff, 32);
    const read = readBdb(lastPage);
    expect(read.problems).toEqual([`the metadata declares 4294967296 pages but the file holds ${db.length / 512}: the records on the missing pages are lost`]);
    expect(read.records).toHaveLength(3);
  });

  it('NDB: a damaged blob costs only its package', () => {
    const db = ndb(three);
    const blob = three[1] as Buffer;
    const at = db.indexOf(blob) + 40;
    db[at] = (db[at] as number) ^ 0xff;
    const result = catalogAt('/var/lib/rpm/Packages.db', db);
    expect(names(result)).toEqual(['alpha 1.0-1.el9', 'gamma 2:3.0-1']);
    expect(result.issues.map((i) => i.message)).toEqual(['package index 2: blob checksum mismatch']);
  });

  it('NDB: damaged slots and blob frames', () => {
    const db = ndb(three);
    db.write('Xlot', 32, 'latin1'); // slot of package 1
    db.writeUInt32LE(0xfffffff, 32 + 16 + 8); // package 2's blocks far outside the file
    const third = db.readUInt32LE(32 + 32 + 8) * 16;
    db.writeUInt32LE(9, third + 4); // package 3's blob head names another package
    expect(readNdb(db)).toEqual({
      records: [],
      problems: ['slot 0: bad magic', 'package index 2: blocks 268435455+' + db.readUInt32LE(32 + 16 + 12) + ' lie outside the data area of the file', 'package index 3: blob head does not match its slot'],
    });
    const version = ndb(three);
    version.writeUInt32LE(1, 4);
    expect(readNdb(version).problems).toEqual(['unsupported NDB format version 1']);
  });

  it('NDB: slots whose blocks overlap are refused, the others read', () => {
    const db = ndb(three);
    // package 2's slot claims its own blocks and package 3's
    db.writeUInt32LE(db.readUInt32LE(32 + 16 + 12) + db.readUInt32LE(32 + 32 + 12), 32 + 16 + 12);
    const read = readNdb(db);
    expect(read.records.map((r) => r.where)).toEqual(['package index 1']);
    expect(read.problems).toEqual(["package index 2: its blocks overlap another package's", "package index 3: its blocks overlap another package's"]);
    // two hundred more slots all on package 1's blocks cost no more than one
    const crowded = ndb(three);
    for (let i = 0; i < 200; i++) {
      const at = 32 + (3 + i) * 16;
      crowded.writeUInt32LE(100 + i, at + 4);
      crowded.writeUInt32LE(crowded.readUInt32LE(32 + 8), at + 8);
      crowded.writeUInt32LE(crowded.readUInt32LE(32 + 12), at + 12);
    }
    const many = readNdb(crowded);
    expect(many.records.map((r) => r.where)).toEqual(['package index 2', 'package index 3']);
    expect(many.problems).toHaveLength(11); // 10 listed, then "… more problems not listed"
    expect(many.problems.at(-1)).toBe('191 more problems not listed');
  });

  it('SQLite: rows that are not headers cost only themselves', () => {
    const db = sqlite([
      [1, pkgHeader('alpha')],
      [2, Buffer.from('not a header')],
      [3, 'text, not a blob'],
      [7, pkgHeader('gamma', '3.0')],
    ]);
    const result = catalogAt('/var/lib/rpm/rpmdb.sqlite', db);
    expect(names(result)).toEqual(['alpha 1.0-1.el9', 'gamma 3.0-1.el9']);
    expect(result.issues.map((i) => i.message)).toEqual([
      // problems of the database first, then those of the headers it held
      'record 3: blob column is string, not a BLOB',
      'record 2: header has 1852797984 index entries (1 to 65535 allowed)',
    ]);
  });

  it('SQLite: a database without the Packages table', () => {
    expect(readSqlite(sqlite([[1, pkgHeader('a')]], 'Other')).problems).toEqual(['no readable Packages table: no such table: Packages']);
  });
});

describe('rpm naming helpers', () => {
  it.each([
    ['util-linux-2.32.1-42.el8_8.src.rpm', { name: 'util-linux', version: '2.32.1', release: '42.el8_8' }],
    ['python3.11-3.11.5-1.el9.src.rpm', { name: 'python3.11', version: '3.11.5', release: '1.el9' }],
    ['kernel-5.14.0-362.8.1.el9_3.nosrc.rpm', { name: 'kernel', version: '5.14.0', release: '362.8.1.el9_3' }],
    ['a-b-c-d-1-2.src.rpm', { name: 'a-b-c-d', version: '1', release: '2' }],
    ['broken.src.rpm', undefined],
    ['name-1.src.rpm', undefined],
    ['name-1-2.rpm', undefined],
  ])('splitSourceRpm(%s)', (text, expected) => {
    expect(splitSourceRpm(text)).toEqual(expected);
  });

  it.each([
    ['Red Hat, Inc.', 'redhat'],
    ['RedHat', 'redhat'],
    ['SUSE LLC <https://www.suse.com/>', 'suse'],
    ['openSUSE', 'opensuse'],
    ['Fedora Project', 'fedora'],
    ['CentOS', 'centos'],
    ['Amazon Linux', 'amazon'],
    ['Microsoft Corporation', 'microsoft'],
    ['Rocky Enterprise Software Foundation', 'rocky'],
    ['AlmaLinux', 'almalinux'],
    ['(none)', undefined],
    [undefined, undefined],
  ])('vendorNamespace(%s) = %s', (vendor, ns) => {
    expect(vendorNamespace(vendor)).toBe(ns);
  });
});
