import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import { dpkgCataloger } from '../../shared/catalog/dpkg.js';
import { catalogNeeds, catalogers, runCatalogers } from '../../shared/catalog/index.js';
import type { CatalogContext, Cataloger, FileView, Package, ViewFile } from '../../shared/catalog/types.js';

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
  it('is the explicit list of catalogers', () => {
    expect(catalogers).toEqual([dpkgCataloger]);
  });
});

describe('catalogNeeds', () => {
  it('merges the catalogers’ needs with the distro detector’s, deduplicated and sorted', () => {
    expect(catalogNeeds()).toEqual({
      exact: ['/etc/alpine-release', '/etc/centos-release', '/etc/debian_version', '/etc/lsb-release', '/etc/os-release', '/etc/redhat-release', '/usr/lib/os-release', '/var/lib/dpkg/status'],
      globs: ['/var/lib/dpkg/status.d/*'],
      basenames: [],
    });
  });

  it('takes the list to merge', () => {
    expect(catalogNeeds([fixed('a', []), fixed('b', [])])).toMatchObject({ globs: ['/var/lib/dpkg/status.d/*'], basenames: ['METADATA'] });
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
});
