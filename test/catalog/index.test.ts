import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { DirectoryView } from '../../shared/catalog/dir-view.js';
import { tmpdir } from 'node:os';
import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import { dpkgCataloger } from '../../shared/catalog/dpkg.js';
import { catalogNeeds, catalogers, runCatalogers } from '../../shared/catalog/index.js';
import type { CatalogContext, Cataloger, FileView, Package, ViewFile } from '../../shared/catalog/types.js';
import { goBinaryCataloger } from '../../shared/catalog/golang.js';

/** An in-memory view: path → content. */
function viewOf(files: Record<string, string>): FileView {
  const all: ViewFile[] = Object.entries(files).map(([path, content]) => ({ path, content: Buffer.from(content), mode: 0o644, layer: 'sha256:2222' }));
  return {
    get: (path) => all.find((f) => f.path === path),
    glob: (pattern) => all.filter((f) => picomatch(pattern, { dot: true })(f.path)),
  };
}

function pkg(type: string, name: string, version: string, arch?: string): Package {
  const p: Package = { type, name, version, purl: `pkg:${type}/${name}@${version}`, layer: 'sha256:2222', locations: ['/x'] };
  if (arch) p.arch = arch;
  return p;
}

function fixed(name: string, packages: Package[], seen?: CatalogContext[]): Cataloger {
  return {
    name,
    kind: 'language',
    version: 1,
    needs: { basenames: ['METADATA'], globs: ['/var/lib/dpkg/status.d/*'] },
    catalog(_view, ctx) {
      seen?.push(ctx);
      return { packages, issues: [] };
    },
  };
}

const bookwormOsRelease = 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n';

describe('catalogers', () => {
  it('lists each cataloger once, with a kind and a version, OS ones first', () => {
    const names = catalogers.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('dpkg');
    expect(names).toContain('go-binary');
    for (const c of catalogers) expect(c.version).toBeGreaterThan(0);
    const kinds = catalogers.map((c) => c.kind);
    expect(kinds.indexOf('os')).toBe(0);
  });
});

describe('catalogNeeds', () => {
  it('merges the catalogers’ needs with the distro detector’s, deduplicated and sorted', () => {
    const needs = catalogNeeds([dpkgCataloger, goBinaryCataloger, dpkgCataloger]);
    expect(needs.exact).toEqual(expect.arrayContaining(['/etc/os-release', '/usr/lib/os-release', '/etc/alpine-release', '/var/lib/dpkg/status']));
    expect(needs.exact).toEqual([...new Set(needs.exact)].sort());
    expect(needs.globs).toContain('/var/lib/dpkg/status.d/*');
    expect(needs.probes?.map((p) => p.name)).toEqual(['go-buildinfo']);
  });

  it('takes the list to merge', () => {
    expect(catalogNeeds([fixed('a', []), fixed('b', [])])).toMatchObject({ globs: ['/root/buildinfo/content_manifests/*.json', '/var/lib/dpkg/status.d/*'], basenames: ['METADATA'] });
    expect(catalogNeeds([]).exact).not.toContain('/var/lib/dpkg/status');
  });
});

describe('runCatalogers', () => {
  it('detects the distro first and hands it to every cataloger', () => {
    const seen: CatalogContext[] = [];
    const run = runCatalogers(viewOf({ '/etc/os-release': bookwormOsRelease }), [fixed('a', [], seen), fixed('b', [], seen)]);
    expect(run.distro).toEqual({ id: 'debian', versionId: '12', codename: 'bookworm', source: '/etc/os-release' });
    expect(seen).toEqual([{ distro: run.distro }, { distro: run.distro }]);
  });

  it('leaves distro out when none is detected', () => {
    const run = runCatalogers(viewOf({}), [fixed('a', [])]);
    expect(run).toEqual({ packages: [], issues: [] });
  });

  it('sorts packages by type, name, version and arch across catalogers', () => {
    const run = runCatalogers(viewOf({}), [
      fixed('a', [pkg('rpm', 'a', '1'), pkg('deb', 'b', '1', 'i386'), pkg('deb', 'b', '1', 'amd64')]),
      fixed('b', [pkg('deb', 'b', '0.9'), pkg('deb', 'a', '2'), pkg('apk', 'z', '1')]),
    ]);
    expect(run.packages.map((p) => `${p.type}/${p.name}@${p.version}${p.arch ? `:${p.arch}` : ''}`)).toEqual([
      'apk/z@1',
      'deb/a@2',
      'deb/b@0.9',
      'deb/b@1:amd64',
      'deb/b@1:i386',
      'rpm/a@1',
    ]);
  });

  it('turns a throwing cataloger into an issue and runs the others', () => {
    const broken: Cataloger = {
      name: 'broken',
      kind: 'language',
      version: 1,
      needs: {},
      catalog() {
        throw new Error('boom');
      },
    };
    const run = runCatalogers(viewOf({}), [broken, fixed('ok', [pkg('deb', 'a', '1')])]);
    expect(run.packages.map((p) => p.name)).toEqual(['a']);
    expect(run.issues).toEqual([{ cataloger: 'broken', path: '/', message: 'broken failed: boom' }]);
  });

  it('runs the dpkg cataloger with the detected distro by default', () => {
    const run = runCatalogers(
      viewOf({
        '/etc/os-release': bookwormOsRelease,
        '/var/lib/dpkg/status': 'Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\nArchitecture: amd64\nSource: zlib\n\nPackage: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b7\nArchitecture: amd64\n',
      }),
    );
    expect(run.issues).toEqual([]);
    expect(run.packages.map((p) => p.purl)).toEqual([
      'pkg:deb/debian/bash@5.2.15-2+b7?arch=amd64&distro=debian-12',
      'pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12',
    ]);
  });

  it('runs OS catalogers first and marks language packages whose record an OS package installed', () => {
    const os = (name: string): Package => ({ type: 'deb', name, version: '2.28.1+dfsg-1', purl: `pkg:deb/debian/${name}@2.28.1%2Bdfsg-1`, layer: 'l', locations: ['/var/lib/dpkg/status'] });
    const py = (name: string, loc: string): Package => ({ type: 'pypi', name, version: '2.28.1', purl: `pkg:pypi/${name}@2.28.1`, layer: 'l', locations: [loc] });
    const owned = '/usr/lib/python3/dist-packages/requests-2.28.1.egg-info/PKG-INFO';
    const language = fixed('python', [py('requests', owned), py('flask', '/app/venv/lib/python3.11/site-packages/flask-3.0.0.dist-info/METADATA')]);
    const dpkgLike: Cataloger = {
      name: 'os-fake',
      kind: 'os',
      version: 1,
      needs: {},
      catalog: () => {
        const owner = os('python3-requests');
        return { packages: [owner], issues: [], ownership: [{ owner, paths: [owned, '/usr/lib/python3/dist-packages/requests/__init__.py'] }] };
      },
    };
    const run = runCatalogers(new DirectoryView(tmpdir()), [language, dpkgLike]);
    const byName = Object.fromEntries(run.packages.map((p) => [p.name, p]));
    expect(byName.requests?.ownedBy).toEqual({ type: 'deb', name: 'python3-requests', version: '2.28.1+dfsg-1', purl: 'pkg:deb/debian/python3-requests@2.28.1%2Bdfsg-1' });
    expect(byName.flask?.ownedBy).toBeUndefined();
    expect(byName['python3-requests']?.foundBy).toBe('os-fake');
    expect(byName.requests?.foundBy).toBe('python');
  });

  it('matches owned paths through merged-/usr symlinks (/lib → usr/lib)', () => {
    const root = mkdtempSync(join(tmpdir(), 'drydock-owned-'));
    try {
      mkdirSync(join(root, 'usr/lib/python3/dist-packages/x-1.0.dist-info'), { recursive: true });
      symlinkSync('usr/lib', join(root, 'lib'));
      const real = '/usr/lib/python3/dist-packages/x-1.0.dist-info/METADATA';
      const py: Package = { type: 'pypi', name: 'x', version: '1.0', purl: 'pkg:pypi/x@1.0', layer: 'l', locations: [real] };
      const owner: Package = { type: 'deb', name: 'python3-x', version: '1.0-1', purl: 'pkg:deb/debian/python3-x@1.0-1', layer: 'l', locations: ['/var/lib/dpkg/status'] };
      const os: Cataloger = { name: 'os-fake', kind: 'os', version: 1, needs: {}, catalog: () => ({ packages: [owner], issues: [], ownership: [{ owner, paths: ['/lib/python3/dist-packages/x-1.0.dist-info/METADATA'] }] }) };
      const run = runCatalogers(new DirectoryView(root), [fixed('python', [py]), os]);
      expect(run.packages.find((p) => p.name === 'x')?.ownedBy?.name).toBe('python3-x');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
