/**
 * The classic false positive, end to end: a real Debian bookworm rootfs with
 * python3-requests and python3-yaml installed (debootstrap --include, built once and
 * cached; see test/support/debootstrap.ts). Debian patches these in +deb12uN builds
 * without changing the Python version, so each Python distribution must be marked as
 * owned by its Debian package; one installed by pip outside dpkg's lists must not be.
 *
 * Oracles: Python's own importlib.metadata, run inside the rootfs (chroot), for the
 * distributions and their versions; `dpkg-query -S` for which package owns which file.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryView } from '../../shared/catalog/dir-view.js';
import { dpkgCataloger } from '../../shared/catalog/dpkg.js';
import { runCatalogers, type CatalogRun } from '../../shared/catalog/index.js';
import { pythonCataloger } from '../../shared/catalog/python.js';
import type { FileView, Package, ViewFile } from '../../shared/catalog/types.js';
import { ensureDebianRootfsWith } from '../support/debootstrap.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const DIST_PACKAGES = '/usr/lib/python3/dist-packages';
/** Where Debian's pip installs (first on sys.path after the standard library). */
const LOCAL_DIST_PACKAGES = '/usr/local/lib/python3.11/dist-packages';
const PIP_LAYER = 'dir:pip-layer';

/** A second layer on top of a first: a path the upper one has hides the same path below. */
class OverlayView implements FileView {
  constructor(
    private readonly lower: FileView,
    private readonly upper: FileView,
  ) {}

  get(path: string): ViewFile | undefined {
    return this.upper.get(path) ?? this.lower.get(path);
  }

  glob(pattern: string): ViewFile[] {
    const byPath = new Map<string, ViewFile>();
    for (const f of [...this.lower.glob(pattern), ...this.upper.glob(pattern)]) byPath.set(f.path, f);
    return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}

let rootfs: string;
let upperDir: string;
let view: DirectoryView;
let run: CatalogRun;
let overlayRun: CatalogRun;

beforeAll(async () => {
  rootfs = await ensureDebianRootfsWith(['python3-requests', 'python3-yaml']);
  view = new DirectoryView(rootfs);
  run = runCatalogers(view, [dpkgCataloger, pythonCataloger]);

  // `pip install PyYAML==6.0` on top: the same distribution, in /usr/local, in no dpkg list
  // (the wheel's metadata is the fixture's, copied at run time into a temporary layer).
  upperDir = mkdtempSync(join(tmpdir(), 'drydock-pip-layer-'));
  const distInfo = join(upperDir, LOCAL_DIST_PACKAGES, 'PyYAML-6.0.dist-info');
  mkdirSync(distInfo, { recursive: true });
  cpSync(join(SHARED_FIXTURES, 'pkgdb/python/debian-bookworm', DIST_PACKAGES, 'PyYAML-6.0.dist-info'), distInfo, { recursive: true });
  writeFileSync(join(distInfo, 'INSTALLER'), 'pip\n');
  overlayRun = runCatalogers(new OverlayView(view, new DirectoryView(upperDir, { layer: PIP_LAYER })), [dpkgCataloger, pythonCataloger]);
}, 15 * 60_000);

afterAll(() => {
  if (upperDir) rmSync(upperDir, { recursive: true, force: true });
});

const pypi = (r: CatalogRun) => r.packages.filter((p) => p.type === 'pypi');
const debByName = (r: CatalogRun, name: string) => r.packages.find((p) => p.type === 'deb' && p.name === name);
const refOf = (p: Package | undefined) => p && { type: p.type, name: p.name, version: p.version, purl: p.purl };

/** importlib.metadata's distributions in `dir`, inside the rootfs: "name version path" lines. */
function importlibDistributions(dir: string): string[] {
  const script = [
    'import importlib.metadata as m, sys',
    'for d in m.distributions(path=[sys.argv[1]]):',
    '    print(d.metadata["Name"], d.version, d._path)',
  ].join('\n');
  const q = spawnSync('chroot', [rootfs, '/usr/bin/python3', '-I', '-c', script, dir], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' } });
  if (q.status !== 0) throw new Error(`python3 in the rootfs failed (${q.status}): ${q.stderr || q.error}`);
  return q.stdout.split('\n').filter(Boolean).sort();
}

/** dpkg-query -S: the package owning each path, as dpkg itself answers. */
function dpkgOwners(paths: string[]): Map<string, string> {
  const q = spawnSync('dpkg-query', [`--admindir=${join(rootfs, 'var/lib/dpkg')}`, '-S', ...paths], { encoding: 'utf8' });
  if (q.status !== 0) throw new Error(`dpkg-query -S failed (${q.status}): ${q.stderr}`);
  const owners = new Map<string, string>();
  for (const line of q.stdout.split('\n').filter(Boolean)) {
    const sep = line.indexOf(': ');
    owners.set(line.slice(sep + 2), line.slice(0, sep));
  }
  return owners;
}

describe('Python distributions of a Debian bookworm rootfs with python3-requests and python3-yaml', () => {
  it('are exactly those importlib.metadata lists in the rootfs, with the same names and versions', () => {
    const expected = importlibDistributions(DIST_PACKAGES);
    expect(expected.length).toBeGreaterThanOrEqual(8);
    const ours = pypi(run).map((p) => `${p.name} ${p.version} ${p.locations[0]?.replace(/\/(METADATA|PKG-INFO)$/, '')}`);
    expect(ours.sort()).toEqual(expected);
    expect(new Set(pypi(run).map((p) => p.metadata?.sitePackages))).toEqual(new Set([DIST_PACKAGES]));
    expect(run.issues).toEqual([]);
    expect(view.issues).toEqual([]);
  });

  it('are the ones the requested packages bring, with their licences', () => {
    expect(pypi(run).map((p) => `${p.purl} ${p.licenses?.join(' ')}`)).toEqual([
      'pkg:pypi/pyyaml@6.0 MIT',
      'pkg:pypi/certifi@2022.9.24 MPL-2.0',
      // License: LGPL, Classifier: … (LGPLv2+)
      'pkg:pypi/chardet@5.1.0 LGPL-2.0-or-later',
      'pkg:pypi/charset-normalizer@3.0.1 MIT',
      'pkg:pypi/idna@3.3 BSD-3-Clause',
      'pkg:pypi/requests@2.28.1 Apache-2.0',
      'pkg:pypi/six@1.16.0 MIT',
      'pkg:pypi/urllib3@1.26.12 MIT',
    ]);
  });

  it('are each owned by the Debian package dpkg says installed its metadata', () => {
    const owners = dpkgOwners(pypi(run).map((p) => p.locations[0] as string));
    for (const p of pypi(run)) {
      const owner = owners.get(p.locations[0] as string);
      expect(owner, p.name).toMatch(/^python3-/);
      expect(p.ownedBy, p.name).toEqual(refOf(debByName(run, owner as string)));
    }
    const ownerOf = (name: string) => pypi(run).find((p) => p.name === name)?.ownedBy?.name;
    expect([ownerOf('requests'), ownerOf('urllib3'), ownerOf('PyYAML')]).toEqual(['python3-requests', 'python3-urllib3', 'python3-yaml']);
    // the Debian versions carry the patches the Python versions do not show
    expect(pypi(run).find((p) => p.name === 'urllib3')?.ownedBy?.version).toMatch(/^1\.26\.12-1\+deb12u\d+$/);
  });

  it('leave a pip-installed distribution outside dpkg\'s lists unowned, even with the same name and version', () => {
    const yaml = pypi(overlayRun).filter((p) => p.name === 'PyYAML');
    expect(yaml.map((p) => [p.locations[0], p.layer, p.ownedBy?.name])).toEqual([
      [`${DIST_PACKAGES}/PyYAML-6.0.dist-info/METADATA`, `dir:${view.root}`, 'python3-yaml'],
      [`${LOCAL_DIST_PACKAGES}/PyYAML-6.0.dist-info/METADATA`, PIP_LAYER, undefined],
    ]);
    expect(yaml[1]).toMatchObject({ purl: 'pkg:pypi/pyyaml@6.0', licenses: ['MIT'], metadata: { sitePackages: LOCAL_DIST_PACKAGES } });
    // everything else is as without the pip layer
    expect(pypi(overlayRun).filter((p) => p.metadata?.sitePackages === DIST_PACKAGES)).toEqual(pypi(run));
    expect(overlayRun.issues).toEqual([]);
  });
});
