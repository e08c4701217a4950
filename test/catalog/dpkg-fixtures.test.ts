/**
 * The dpkg cataloger against the real dpkg: for every dpkg database fixture, our inventory
 * must equal dpkg-query's packages in on-disk states, the packages we leave out must be
 * exactly dpkg-query's config-files / not-installed ones, and we must report one issue per
 * stanza dpkg-query refuses. (debian-bookworm-image/rootfs.manifest.tsv is a package list,
 * not a database: debian-rootfs.test.ts uses it.)
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DirectoryView } from '../../shared/catalog/dir-view.js';
import { dpkgCataloger } from '../../shared/catalog/dpkg.js';
import type { Package } from '../../shared/catalog/types.js';
import { ON_DISK_STATES, queryStatusText, type DpkgRow } from '../support/dpkg-query.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const FIXTURES = join(SHARED_FIXTURES, 'pkgdb/dpkg');
const scratch = mkdtempSync(join(tmpdir(), 'drydock-dpkg-fixtures-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * A fixture and the image root it is read from: directory fixtures are roots already;
 * single files are placed where their upstream had them, in a scratch root outside the repo.
 */
interface Fixture {
  name: string;
  root: () => string;
  /** the status-file text dpkg-query is given, and whether it comes from status.d */
  oracleInput: () => { text: string; statusD: boolean };
  /**
   * packages reported; rows left out by state (dpkg-query also lists, as not-installed,
   * the packages it only knows from other packages' relations); stanzas dpkg refuses
   */
  expected: { packages: number; configFiles: number; notInstalled: number; refused: number };
}

function placed(fixture: string, at: string): string {
  const root = join(scratch, basename(fixture));
  mkdirSync(join(root, at, '..'), { recursive: true });
  copyFileSync(join(FIXTURES, fixture), join(root, at));
  return root;
}

function statusDRoot(fixtureDir: string): string {
  const root = join(scratch, basename(fixtureDir));
  const dir = join(root, 'var/lib/dpkg/status.d');
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(join(FIXTURES, fixtureDir))) copyFileSync(join(FIXTURES, fixtureDir, name), join(dir, name));
  return root;
}

const statusFileOf = (dir: string) => () => ({ text: readFileSync(join(FIXTURES, dir, 'var/lib/dpkg/status'), 'utf8'), statusD: false });
const fileText = (file: string, statusD: boolean) => () => ({ text: readFileSync(join(FIXTURES, file), 'utf8'), statusD });
const statusDTexts = (dir: string) => () => ({
  text: readdirSync(join(FIXTURES, dir))
    .filter((n) => !n.endsWith('.md5sums'))
    .map((n) => readFileSync(join(FIXTURES, dir, n), 'utf8'))
    .join('\n'),
  statusD: true,
});

const fixtures: Fixture[] = [
  {
    name: 'trivy-ubuntu1804 (full Ubuntu 18.04 status)',
    root: () => join(FIXTURES, 'trivy-ubuntu1804'),
    oracleInput: statusFileOf('trivy-ubuntu1804'),
    expected: { packages: 90, configFiles: 1, notInstalled: 279, refused: 0 },
  },
  {
    name: 'syft-image-dpkg (empty Package stanza first)',
    root: () => join(FIXTURES, 'syft-image-dpkg'),
    oracleInput: statusFileOf('syft-image-dpkg'),
    expected: { packages: 1, configFiles: 0, notInstalled: 6, refused: 1 },
  },
  {
    name: 'scalibr-valid-status (as /var/lib/dpkg/status)',
    root: () => placed('scalibr-valid-status', 'var/lib/dpkg/status'),
    oracleInput: fileText('scalibr-valid-status', false),
    expected: { packages: 7, configFiles: 0, notInstalled: 20, refused: 0 },
  },
  {
    name: 'syft-status-deinstall (as status.d/deinstall)',
    root: () => placed('syft-status-deinstall', 'var/lib/dpkg/status.d/deinstall'),
    oracleInput: fileText('syft-status-deinstall', true),
    expected: { packages: 1, configFiles: 1, notInstalled: 32, refused: 0 },
  },
  {
    name: 'syft-status-multiple (as status.d/multiple)',
    root: () => placed('syft-status-multiple', 'var/lib/dpkg/status.d/multiple'),
    oracleInput: fileText('syft-status-multiple', true),
    expected: { packages: 2, configFiles: 0, notInstalled: 33, refused: 2 },
  },
  {
    name: 'distroless-status.d (status.d with a .md5sums file)',
    root: () => statusDRoot('distroless-status.d'),
    oracleInput: statusDTexts('distroless-status.d'),
    expected: { packages: 1, configFiles: 0, notInstalled: 3, refused: 0 },
  },
];

type Row = Pick<DpkgRow, 'name' | 'version' | 'arch' | 'sourceName' | 'sourceVersion'>;
const key = (r: Row) => [r.name, r.version, r.arch, r.sourceName, r.sourceVersion].join('\t');
const fromRow = ({ name, version, arch, sourceName, sourceVersion }: DpkgRow): Row => ({ name, version, arch, sourceName, sourceVersion });
const fromPackage = (p: Package): Row => ({ name: p.name, version: p.version, arch: p.arch ?? '', sourceName: p.sourceName ?? '', sourceVersion: p.sourceVersion ?? '' });
const sorted = (rows: Row[]) => [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));

describe('dpkg cataloger equals dpkg-query on every dpkg fixture', () => {
  it('covers every dpkg fixture', () => {
    const covered = new Set(['trivy-ubuntu1804', 'syft-image-dpkg', 'scalibr-valid-status', 'syft-status-deinstall', 'syft-status-multiple', 'distroless-status.d', 'debian-bookworm-image']);
    expect(readdirSync(FIXTURES).filter((n) => !covered.has(n))).toEqual([]);
  });

  describe.each(fixtures)('$name', ({ root, oracleInput, expected }) => {
    const view = new DirectoryView(root());
    const ours = dpkgCataloger.catalog(view, {});
    const { text, statusD } = oracleInput();
    const dpkg = queryStatusText(text, statusD ? { impliedStatus: 'install ok installed' } : {});

    it('reports exactly the packages dpkg-query lists in on-disk states', () => {
      const onDisk = dpkg.rows.filter((r) => ON_DISK_STATES.has(r.state)).map(fromRow);
      expect(sorted(ours.packages.map(fromPackage))).toEqual(sorted(onDisk));
      expect(ours.packages).toHaveLength(expected.packages);
    });

    it('leaves out exactly the config-files and not-installed packages', () => {
      const reported = new Set(ours.packages.map((p) => key(fromPackage(p))));
      const left = dpkg.rows.filter((r) => !reported.has(key(fromRow(r))));
      expect(left).toEqual(dpkg.rows.filter((r) => r.state === 'config-files' || r.state === 'not-installed'));
      expect(left.filter((r) => r.state === 'config-files')).toHaveLength(expected.configFiles);
      expect(left.filter((r) => r.state === 'not-installed')).toHaveLength(expected.notInstalled);
    });

    it('reports one issue per stanza dpkg-query refuses, with path and layer', () => {
      expect(dpkg.refused).toHaveLength(expected.refused);
      expect(ours.issues).toHaveLength(expected.refused);
      for (const issue of ours.issues) expect(issue).toMatchObject({ cataloger: 'dpkg', layer: view.layer, path: expect.stringMatching(/^\/var\/lib\/dpkg\/status/) });
    });

    it('locates every package in the file it came from, with the view layer', () => {
      for (const p of ours.packages) {
        expect(p.layer).toBe(view.layer);
        expect(p.locations).toHaveLength(1);
        expect(view.get(p.locations[0] as string)).toBeDefined();
      }
    });
  });

  it('names the stanzas it cannot read in syft-status-multiple', () => {
    const view = new DirectoryView(placed('syft-status-multiple', 'var/lib/dpkg/status.d/multiple'));
    expect(dpkgCataloger.catalog(view, {}).issues.map((i) => i.message)).toEqual([
      'stanza at line 1: empty Package field',
      'stanza at line 3 (package "no-version"): no Version for a package in state "installed"',
    ]);
  });
});
