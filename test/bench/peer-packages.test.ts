// The comparison behind `npm run bench:peers`: each scanner's output read into (ecosystem, name,
// version) the same way, on records shaped as the pinned peers write them.
import { describe, expect, it } from 'vitest';
import { comparePackages, fromDrydock, fromPurl, fromSnyk, fromTrivyCycloneDx, normaliseName, otherVersions } from '../../bench/peer-packages.js';

describe('normaliseName', () => {
  it.each([
    ['pypi', 'PyYAML', 'pyyaml'],
    ['pypi', 'charset_normalizer', 'charset-normalizer'],
    ['pypi', 'zope.interface', 'zope-interface'],
    ['pypi', 'Foo__Bar--baz', 'foo-bar-baz'],
    ['nuget', 'Newtonsoft.Json', 'newtonsoft.json'],
    ['npm', '@Scope/Pkg', '@Scope/Pkg'],
    ['deb', 'libstdc++6', 'libstdc++6'],
  ])('%s %s → %s', (eco, name, expected) => {
    expect(normaliseName(eco, name)).toBe(expected);
  });
});

describe('fromPurl', () => {
  it('folds the epoch qualifier of an OS package into the version', () => {
    expect(fromPurl('pkg:deb/debian/login@4.13%2Bdfsg1-1%2Bdeb12u2?arch=amd64&distro=debian-12.15&epoch=1')).toEqual({
      type: 'deb',
      name: 'login',
      version: '1:4.13+dfsg1-1+deb12u2',
    });
  });
  it('keeps an npm scope and a Go module path, drops a Maven group', () => {
    expect(fromPurl('pkg:npm/%40babel/core@7.24.0')?.name).toBe('@babel/core');
    expect(fromPurl('pkg:golang/github.com/pkg/errors@v0.9.1')?.name).toBe('github.com/pkg/errors');
    expect(fromPurl('pkg:maven/org.slf4j/slf4j-api@2.0.13')?.name).toBe('slf4j-api');
  });
  it('is undefined for what is not a purl', () => {
    expect(fromPurl('not a purl')).toBeUndefined();
  });
});

describe('fromTrivyCycloneDx', () => {
  it('reads components with a purl, typed by the trivy PkgType property', () => {
    const doc = {
      bomFormat: 'CycloneDX',
      components: [
        { type: 'operating-system', name: 'debian', version: '12.15' },
        {
          type: 'library',
          name: 'login',
          version: '1:4.13+dfsg1-1+deb12u2',
          purl: 'pkg:deb/debian/login@4.13%2Bdfsg1-1%2Bdeb12u2?arch=amd64&distro=debian-12.15&epoch=1',
          properties: [{ name: 'aquasecurity:trivy:PkgType', value: 'debian' }],
        },
        {
          type: 'library',
          name: 'PyYAML',
          version: '6.0',
          purl: 'pkg:pypi/pyyaml@6.0',
          properties: [{ name: 'aquasecurity:trivy:PkgType', value: 'python-pkg' }],
        },
      ],
    };
    expect(fromTrivyCycloneDx(doc)).toEqual([
      { ecosystem: 'deb', name: 'login', version: '1:4.13+dfsg1-1+deb12u2' },
      { ecosystem: 'pypi', name: 'pyyaml', version: '6.0' },
    ]);
  });
  it('refuses what is not CycloneDX', () => {
    expect(() => fromTrivyCycloneDx({ Results: [] })).toThrow(/CycloneDX/);
  });
});

describe('fromSnyk', () => {
  it('reads every dep graph but its root; OS names "source/binary" become the binary package', () => {
    const depGraph = (manager: string, root: string, pkgs: Array<{ id: string; info: { name: string; version?: string } }>) => ({
      type: 'depGraph',
      data: { pkgManager: { name: manager }, pkgs, graph: { rootNodeId: 'root-node', nodes: [{ nodeId: 'root-node', pkgId: root }] } },
    });
    const doc = {
      scanResults: [
        {
          facts: [
            depGraph('deb', 'docker-image|image.tar@', [
              { id: 'docker-image|image.tar@', info: { name: 'docker-image|image.tar' } },
              { id: 'shadow/login@1:4.13+dfsg1-1+deb12u2', info: { name: 'shadow/login', version: '1:4.13+dfsg1-1+deb12u2' } },
              { id: 'python3.11@3.11.2-6', info: { name: 'python3.11', version: '3.11.2-6' } },
            ]),
            { type: 'imageId', data: 'sha256:…' },
          ],
        },
        {
          facts: [
            depGraph('npm', 'app@', [
              { id: 'app@', info: { name: 'app' } },
              { id: '@babel/core@7.24.0', info: { name: '@babel/core', version: '7.24.0' } },
            ]),
          ],
        },
      ],
    };
    expect(fromSnyk(doc)).toEqual([
      { ecosystem: 'deb', name: 'login', version: '1:4.13+dfsg1-1+deb12u2' },
      { ecosystem: 'deb', name: 'python3.11', version: '3.11.2-6' },
      { ecosystem: 'npm', name: '@babel/core', version: '7.24.0' },
    ]);
  });
});

describe('fromDrydock and comparePackages', () => {
  const drydockJson = {
    schema: 'drydock.scan/v1',
    results: [
      {
        packages: [
          { type: 'deb', name: 'login', version: '1:4.13+dfsg1-1+deb12u2' },
          { type: 'deb', name: 'bash', version: '5.2.15-2+b7' },
          { type: 'pypi', name: 'PyYAML', version: '6.0', ownedBy: { type: 'deb', name: 'python3-yaml' } },
          { type: 'npm', name: 'semver', version: '7.5.1' },
          { type: 'npm', name: 'semver', version: '7.5.1' }, // the same package at two paths counts once
        ],
      },
    ],
  };

  it('keeps the owning OS package as a note', () => {
    expect(fromDrydock(drydockJson)[2]).toEqual({ ecosystem: 'pypi', name: 'pyyaml', version: '6.0', note: 'owned by deb python3-yaml' });
  });

  it('counts both / only ours / only theirs by (ecosystem, name, version)', () => {
    const ours = fromDrydock(drydockJson);
    const theirs = [
      { ecosystem: 'deb', name: 'login', version: '1:4.13+dfsg1-1+deb12u2' },
      { ecosystem: 'deb', name: 'bash', version: '5.2.15-2' },
      { ecosystem: 'pypi', name: 'pyyaml', version: '6.0' },
      { ecosystem: 'gem', name: 'rake', version: '13.0.6' },
    ];
    const c = comparePackages(ours, theirs);
    expect([c.ours, c.theirs, c.both]).toEqual([4, 4, 2]);
    expect(c.onlyOurs.map((p) => `${p.ecosystem} ${p.name} ${p.version}`)).toEqual(['deb bash 5.2.15-2+b7', 'npm semver 7.5.1']);
    expect(c.onlyTheirs.map((p) => `${p.ecosystem} ${p.name} ${p.version}`)).toEqual(['deb bash 5.2.15-2', 'gem rake 13.0.6']);
    expect(c.byEcosystem.get('deb')).toEqual({ ours: 2, theirs: 2, both: 1 });
    expect(otherVersions(c.onlyOurs[0]!, theirs)).toEqual(['5.2.15-2']);
  });

  it('refuses what is not a drydock.scan/v1 document', () => {
    expect(() => fromDrydock({ results: [] })).toThrow(/drydock.scan\/v1/);
  });
});
