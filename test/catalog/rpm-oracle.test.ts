/**
 * The rpm cataloger against the real rpm, as the dpkg tests use dpkg-query: for each rpm
 * fixture that this machine's rpm can open, `rpm --dbpath <copy> -qa --queryformat …` lists
 * the packages and their files, and the cataloger must find the same packages (gpg-pubkey
 * aside), the same field values and the same file lists, in the same order.
 *
 * Debian's rpm (bookworm: 4.18) reads SQLite databases and, through its read-only "bdb_ro"
 * backend, Berkeley DB ones; it is built without NDB, so the NDB fixture is checked against
 * its expected-packages.csv in rpm.test.ts instead (the test here says it skipped). Without
 * rpm installed (apt-get install rpm) the whole file is skipped.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeLicenses } from '../../shared/catalog/license.js';
import { rpmCataloger } from '../../shared/catalog/rpm/index.js';
import type { FileView, Package, ViewFile } from '../../shared/catalog/types.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { loadSqliteEngine } from '../../shared/catalog/rpm/sqlite.js';

// The rpm cataloger's prepare() loads the SQLite engine before a scan; tests calling catalog() directly load it here.
beforeAll(async () => {
  expect(await loadSqliteEngine()).toBe(true);
});

const FIXTURES = join(SHARED_FIXTURES, 'pkgdb/rpm');
const SEP = '|~|';
const FIELDS = ['NAME', 'EPOCH', 'VERSION', 'RELEASE', 'ARCH', 'SOURCERPM', 'LICENSE', 'VENDOR', 'LONGSIZE', 'MODULARITYLABEL'] as const;
const QUERY_FORMAT = `@@${FIELDS.map((f) => `%{${f}}`).join(SEP)}\\n[%{FILENAMES}\\n]`;

const rpmVersion = (() => {
  const run = spawnSync('rpm', ['--version'], { encoding: 'utf8' });
  return run.status === 0 ? run.stdout.trim() : undefined;
})();

const scratch = mkdtempSync(join(tmpdir(), 'drydock-rpm-oracle-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface RpmRow {
  fields: Record<(typeof FIELDS)[number], string | undefined>;
  files: string[];
}

/** rpm's answer for a copy of the fixture database (rpm wants to write beside it: -shm/-wal files, locks). */
function rpmQuery(dir: string, name: string, backend: string): RpmRow[] {
  const dbpath = mkdtempSync(join(scratch, `${dir}-`));
  copyFileSync(join(FIXTURES, dir, name), join(dbpath, name));
  const run = spawnSync('rpm', ['--dbpath', dbpath, '--define', `_db_backend ${backend}`, '-qa', '--queryformat', QUERY_FORMAT], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(`rpm -qa on ${dir} failed (${run.status}): ${run.stderr.trim()}`);
  const rows: RpmRow[] = [];
  for (const line of run.stdout.split('\n')) {
    if (line.startsWith('@@')) {
      const values = line.slice(2).split(SEP);
      expect(values).toHaveLength(FIELDS.length);
      const fields = Object.fromEntries(FIELDS.map((f, i) => [f, values[i] === '(none)' ? undefined : values[i]])) as RpmRow['fields'];
      rows.push({ fields, files: [] });
    } else if (line !== '') {
      rows.at(-1)?.files.push(line);
    }
  }
  return rows;
}

function catalog(name: string, content: Buffer) {
  const path = `/var/lib/rpm/${name}`;
  const file: ViewFile = { path, content, mode: 0o644, layer: 'sha256:0rac1e' };
  const view: FileView = { get: (p) => (p === path ? file : undefined), glob: () => [] };
  return rpmCataloger.catalog(view, {});
}

/** What rpm says about a package, as the cataloger should represent it. */
function expectedOf(row: RpmRow): Record<string, unknown> {
  const f = row.fields;
  const epochPrefix = f.EPOCH === undefined ? '' : `${f.EPOCH}:`;
  return {
    name: f.NAME,
    version: `${epochPrefix}${f.VERSION}-${f.RELEASE}`,
    epoch: f.EPOCH === undefined ? undefined : Number(f.EPOCH),
    release: f.RELEASE,
    arch: f.ARCH,
    sourceRpm: f.SOURCERPM,
    licenses: f.LICENSE === undefined ? undefined : normalizeLicenses([f.LICENSE]),
    // rpm prints an empty VENDOR as ""; the cataloger leaves empty values out
    vendor: f.VENDOR || undefined,
    size: f.LONGSIZE,
    modularityLabel: f.MODULARITYLABEL,
    files: row.files,
  };
}

function actualOf(p: Package, files: string[] | undefined): Record<string, unknown> {
  return {
    name: p.name,
    version: p.version,
    epoch: p.epoch,
    release: p.release,
    arch: p.arch,
    sourceRpm: p.metadata?.sourceRpm,
    licenses: p.licenses,
    vendor: p.metadata?.vendor,
    size: p.metadata?.installedSize,
    modularityLabel: p.metadata?.modularityLabel,
    files: files ?? [],
  };
}

const key = (r: Record<string, unknown>): string => `${r.name} ${r.version} ${r.arch}`;
const byKey = (a: Record<string, unknown>, b: Record<string, unknown>) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

/** Compare the cataloger with rpm on one fixture; false when rpm lists nothing (a backend it was built without). */
function compareWithRpm(dir: string, name: string, backend: string): boolean {
  const rows = rpmQuery(dir, name, backend);
  if (rows.length === 0) return false;
  const software = rows.filter((r) => r.fields.NAME !== 'gpg-pubkey');

  const result = catalog(name, readFileSync(join(FIXTURES, dir, name)));
  expect(result.issues).toEqual([]);
  const files = new Map(result.ownership?.map((o) => [o.owner, o.paths]));
  const actual = result.packages.map((p) => actualOf(p, files.get(p))).sort(byKey);
  const expected = software.map(expectedOf).sort(byKey);
  expect(actual).toEqual(expected);
  return true;
}

describe.skipIf(!rpmVersion)(`rpm cataloger against ${rpmVersion ?? 'rpm (not installed)'}`, () => {
  it.each([
    ['sqlite-amazonlinux2023', 'rpmdb.sqlite', 'sqlite'],
    ['sqlite-cbl-mariner-2.0', 'rpmdb.sqlite', 'sqlite'],
    ['bdb-rhel8-libuuid', 'Packages', 'bdb_ro'],
    ['bdb-centos8-single-dive', 'Packages', 'bdb_ro'],
    ['bdb-scalibr-epoch', 'Packages', 'bdb_ro'],
  ])('%s: same packages, fields and file lists as rpm -qa', (dir, name, backend) => {
    expect(compareWithRpm(dir, name, backend)).toBe(true);
  });

  it('ndb-sle15-bci: same packages, fields and file lists as rpm -qa (when rpm has the NDB backend)', ({ skip }) => {
    // Debian's rpm is built without NDB: it opens an empty "dummy" database and lists nothing.
    if (!compareWithRpm('ndb-sle15-bci', 'Packages.db', 'ndb')) skip();
  });
});
