/**
 * A real Debian 12 root filesystem (debootstrap --variant=minbase, built once and cached;
 * see test/support/debootstrap.ts) read through DirectoryView: distro detection, and the
 * dpkg inventory against dpkg-query and against the published package list of the
 * official debian:bookworm image.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DirectoryView } from '../../shared/catalog/dir-view.js';
import { runCatalogers, type CatalogRun } from '../../shared/catalog/index.js';
import { ensureDebianRootfs } from '../support/debootstrap.js';
import { dpkgQuery, ON_DISK_STATES, type DpkgRow } from '../support/dpkg-query.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const MANIFEST = join(SHARED_FIXTURES, 'pkgdb/dpkg/debian-bookworm-image/rootfs.manifest.tsv');

let rootfs: string;
let view: DirectoryView;
let run: CatalogRun;
let dpkgRows: DpkgRow[];

beforeAll(async () => {
  rootfs = await ensureDebianRootfs();
  view = new DirectoryView(rootfs);
  run = runCatalogers(view);
  dpkgRows = dpkgQuery(join(rootfs, 'var/lib/dpkg'));
}, 15 * 60_000);

const tuple = (r: { name: string; version: string; arch?: string; sourceName?: string; sourceVersion?: string }) =>
  [r.name, r.version, r.arch ?? '', r.sourceName ?? '', r.sourceVersion ?? ''].join(' ');

describe('debootstrapped Debian bookworm rootfs', () => {
  it('is detected as Debian 12 bookworm, through the /etc/os-release symlink', () => {
    expect(run.distro).toEqual({
      id: 'debian',
      versionId: '12',
      codename: 'bookworm',
      prettyName: 'Debian GNU/Linux 12 (bookworm)',
      source: '/usr/lib/os-release',
    });
  });

  it('inventories exactly what dpkg-query lists in on-disk states', () => {
    const expected = dpkgRows.filter((r) => ON_DISK_STATES.has(r.state)).map(tuple).sort();
    expect(run.packages.map(tuple).sort()).toEqual(expected);
    expect(expected.length).toBeGreaterThan(80);
    expect(run.issues).toEqual([]);
    expect(view.issues).toEqual([]);
  });

  it('leaves out only config-files and not-installed packages', () => {
    const reported = new Set(run.packages.map(tuple));
    const left = dpkgRows.filter((r) => !reported.has(tuple(r)));
    expect(left).toEqual(dpkgRows.filter((r) => r.state === 'config-files' || r.state === 'not-installed'));
  });

  it('builds debian-12 package URLs located in the status file', () => {
    for (const p of run.packages) {
      expect(p.purl).toMatch(/^pkg:deb\/debian\/[^@]+@[^?]+\?arch=(amd64|all|arm64|i386)&distro=debian-12$/);
      expect(p.locations).toEqual(['/var/lib/dpkg/status']);
      expect(p.layer).toBe(`dir:${view.root}`);
    }
    expect(run.packages.find((p) => p.name === 'libc6')).toMatchObject({ sourceName: 'glibc', arch: 'amd64', metadata: { multiArch: 'same' } });
  });

  it('has the package set of the official debian:bookworm image (same debootstrap minbase build)', () => {
    // The manifest lists "name" or, for Multi-Arch: same packages, "name:arch"; its versions
    // are those of 12.8, while the mirror serves the current point release, so only names compare.
    const manifest = readFileSync(MANIFEST, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split('\t')[0] as string)
      .sort();
    const ours = run.packages.map((p) => (p.metadata?.multiArch === 'same' ? `${p.name}:${p.arch}` : p.name)).sort();
    expect(ours).toEqual(manifest);
  });
});
