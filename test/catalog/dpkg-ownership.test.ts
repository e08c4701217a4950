/**
 * dpkg file ownership: the paths in /var/lib/dpkg/info/<name>[:<arch>].list of each
 * reported package, on small in-memory databases and, against `dpkg-query -L` as the
 * oracle, on a real debootstrapped Debian bookworm rootfs.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import picomatch from 'picomatch';
import { beforeAll, describe, expect, it } from 'vitest';
import { DirectoryView } from '../../shared/catalog/dir-view.js';
import { dpkgCataloger } from '../../shared/catalog/dpkg.js';
import { runCatalogers } from '../../shared/catalog/index.js';
import { pythonCataloger } from '../../shared/catalog/python.js';
import type { CatalogResult, FileView, ViewFile } from '../../shared/catalog/types.js';
import { ensureDebianRootfs } from '../support/debootstrap.js';

const LAYER = 'sha256:3333';
const STATUS = '/var/lib/dpkg/status';
const INFO = '/var/lib/dpkg/info';

function viewOf(files: Record<string, string | Partial<ViewFile>>): FileView {
  const all: ViewFile[] = Object.entries(files).map(([path, c]) =>
    typeof c === 'string' ? { path, content: Buffer.from(c), mode: 0o644, layer: LAYER } : { path, content: Buffer.alloc(0), mode: 0o644, layer: LAYER, ...c },
  );
  return {
    get: (path) => all.find((f) => f.path === path),
    glob: (pattern) => all.filter((f) => picomatch(pattern, { dot: true })(f.path)),
  };
}

const stanza = (name: string, arch: string, status = 'install ok installed', extra = '') =>
  `Package: ${name}\nStatus: ${status}\nArchitecture: ${arch}\nVersion: 1.0-1\n${extra}\n`;

/** owner name:arch → its paths */
const owned = (result: CatalogResult) => Object.fromEntries((result.ownership ?? []).map(({ owner, paths }) => [`${owner.name}:${owner.arch}`, paths]));

describe('dpkgCataloger file ownership', () => {
  it('needs the info/*.list files, and its version says its output changed', () => {
    expect(dpkgCataloger.version).toBe(3); // 3: licences from /usr/share/doc/<pkg>/copyright
    expect(dpkgCataloger.needs.globs).toContain('/var/lib/dpkg/info/*.list');
  });

  it("gives each reported package the paths of its list, without dpkg's '/.' line", () => {
    const result = dpkgCataloger.catalog(
      viewOf({
        [STATUS]: [stanza('python3-requests', 'all'), stanza('libc6', 'amd64', undefined, 'Multi-Arch: same')].join('\n'),
        [`${INFO}/python3-requests.list`]: '/.\n/usr\n/usr/lib/python3/dist-packages/requests-2.28.1.egg-info\n/usr/lib/python3/dist-packages/requests-2.28.1.egg-info/PKG-INFO\n',
        // Multi-Arch: same packages have <name>:<arch>.list
        [`${INFO}/libc6:amd64.list`]: '/.\n/usr/lib/x86_64-linux-gnu/libc.so.6\n/usr/share/doc/libc6 with space/x\n',
        [`${INFO}/libc6:i386.list`]: '/usr/lib/i386-linux-gnu/libc.so.6\n',
      }),
      {},
    );
    expect(result.issues).toEqual([]);
    expect(owned(result)).toEqual({
      'python3-requests:all': ['/usr', '/usr/lib/python3/dist-packages/requests-2.28.1.egg-info', '/usr/lib/python3/dist-packages/requests-2.28.1.egg-info/PKG-INFO'],
      'libc6:amd64': ['/usr/lib/x86_64-linux-gnu/libc.so.6', '/usr/share/doc/libc6 with space/x'],
    });
    // the owner is the reported package itself
    expect(result.ownership?.[0]?.owner).toBe(result.packages[0]);
  });

  it('falls back to <name>.list for an arch-qualified package without <name>:<arch>.list', () => {
    const result = dpkgCataloger.catalog(viewOf({ [STATUS]: stanza('bash', 'amd64'), [`${INFO}/bash.list`]: '/bin/bash\n' }), {});
    expect(owned(result)).toEqual({ 'bash:amd64': ['/bin/bash'] });
  });

  it('gives nothing to packages it does not report, nor to lists without a package', () => {
    const result = dpkgCataloger.catalog(
      viewOf({
        [STATUS]: [stanza('gone', 'amd64', 'deinstall ok config-files'), stanza('never', 'amd64', 'purge ok not-installed'), stanza('here', 'amd64')].join('\n'),
        [`${INFO}/gone.list`]: '/etc/gone.conf\n',
        [`${INFO}/never.list`]: '/usr/bin/never\n',
        [`${INFO}/orphan.list`]: '/usr/bin/orphan\n',
        [`${INFO}/here.list`]: '/usr/bin/here\n',
      }),
      {},
    );
    expect(result.packages.map((p) => p.name)).toEqual(['here']);
    expect(owned(result)).toEqual({ 'here:amd64': ['/usr/bin/here'] });
  });

  it('returns no ownership at all when there are no lists (fixtures, distroless status.d)', () => {
    const result = dpkgCataloger.catalog(
      viewOf({ [STATUS]: stanza('a', 'amd64'), '/var/lib/dpkg/status.d/b': 'Package: b\nArchitecture: amd64\nVersion: 1\n', [`${INFO}/a.list`]: '' }),
      {},
    );
    expect(result.packages.map((p) => p.name)).toEqual(['a', 'b']);
    expect(result).not.toHaveProperty('ownership');
  });

  it('never looks outside info/ for a malformed package name', () => {
    const result = dpkgCataloger.catalog(viewOf({ [STATUS]: stanza('../../../etc/x', 'amd64'), '/etc/x.list': '/usr/bin/x\n', '/var/lib/dpkg/info/../../../etc/x.list': '/usr/bin/y\n' }), {});
    expect(result.packages.map((p) => p.name)).toEqual(['../../../etc/x']);
    expect(result).not.toHaveProperty('ownership');
  });

  it('reads a truncated list up to its last whole line, and says so', () => {
    const path = `${INFO}/big.list`;
    const result = dpkgCataloger.catalog(viewOf({ [STATUS]: stanza('big', 'amd64'), [path]: { content: Buffer.from('/usr/bin/a\n/usr/bin/b\n/usr/bi'), truncated: true } }), {});
    expect(owned(result)).toEqual({ 'big:amd64': ['/usr/bin/a', '/usr/bin/b'] });
    expect(result.issues).toEqual([
      { cataloger: 'dpkg', path, layer: LAYER, message: 'file truncated after 29 bytes: the files listed after that are not attributed to the package' },
    ]);
  });

  it('marks the Python distribution whose metadata a Debian package installed, and only that one', () => {
    const debian = '/usr/lib/python3/dist-packages/requests-2.28.1.egg-info/PKG-INFO';
    const pip = '/usr/local/lib/python3.11/dist-packages/requests-2.32.3.dist-info/METADATA';
    const run = runCatalogers(
      viewOf({
        [STATUS]: stanza('python3-requests', 'all'),
        [`${INFO}/python3-requests.list`]: `/.\n${debian}\n`,
        [debian]: 'Name: requests\nVersion: 2.28.1\n',
        [pip]: 'Name: requests\nVersion: 2.32.3\n',
      }),
      [pythonCataloger, dpkgCataloger],
    );
    expect(run.issues).toEqual([]);
    expect(run.packages.map((p) => [p.foundBy, p.name, p.version, p.ownedBy?.purl])).toEqual([
      ['dpkg', 'python3-requests', '1.0-1', undefined],
      ['python', 'requests', '2.28.1', 'pkg:deb/debian/python3-requests@1.0-1?arch=all'],
      ['python', 'requests', '2.32.3', undefined],
    ]);
  });
});

describe('dpkg file ownership on a debootstrapped Debian bookworm rootfs', () => {
  let rootfs: string;
  let result: CatalogResult;

  beforeAll(async () => {
    rootfs = await ensureDebianRootfs();
    result = dpkgCataloger.catalog(new DirectoryView(rootfs), {});
  }, 15 * 60_000);

  it('is what dpkg-query -L lists for every installed package', () => {
    expect(result.issues).toEqual([]);
    expect(result.ownership?.map((o) => o.owner)).toEqual(result.packages);
    const admindir = join(rootfs, 'var/lib/dpkg');
    for (const { owner, paths } of result.ownership ?? []) {
      // dpkg-query resolves "libc6" to libc6:amd64.list itself; it also prints diversion notes
      const q = spawnSync('dpkg-query', [`--admindir=${admindir}`, '-L', `${owner.name}:${owner.arch}`], { encoding: 'utf8' });
      expect(q.status, q.stderr).toBe(0);
      const expected = q.stdout.split('\n').filter((l) => l.startsWith('/') && l !== '/.');
      expect(paths, owner.name).toEqual(expected);
    }
    const libc = result.ownership?.find((o) => o.owner.name === 'libc6');
    expect(libc?.owner.metadata?.multiArch).toBe('same');
    expect(libc?.paths).toContain('/usr/share/doc/libc6/copyright');
  });
});
