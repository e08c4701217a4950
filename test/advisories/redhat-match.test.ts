/**
 * Red Hat matching (shared/match/redhat.ts) with the real CSAF VEX files: source-package lookups,
 * the states kept apart in findings, and product scoping by the image's content manifests.
 *
 * The installed packages are invented (no RHEL 9 rpm database is among the fixtures); their
 * names, sources and versions are those of real RHEL 9 builds (curl-minimal and libcurl-minimal
 * from the curl source rpm, kernel-rt from the kernel source rpm since RHEL 9, tar with epoch 2).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import picomatch from 'picomatch';
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryAdvisoryStore } from '../../shared/adapters/local/memory-advisory-store.js';
import { readCsafVexFile } from '../../shared/advisories/csaf.js';
import { distroDetector } from '../../shared/catalog/distro.js';
import type { Distro, FileView, Package, ViewFile } from '../../shared/catalog/types.js';
import { matchInventory } from '../../shared/match/index.js';
import { parseContentSet, redHatScope } from '../../shared/match/redhat.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const DIR = join(SHARED_FIXTURES, 'advisories/redhat');
const RHEL92: Distro = { id: 'rhel', versionId: '9.2', prettyName: 'Red Hat Enterprise Linux 9.2 (Plow)', idLike: ['fedora'], source: '/etc/os-release' };
const RHEL8: Distro = { id: 'rhel', versionId: '8.8', source: '/etc/os-release' };

function rpm(name: string, version: string, sourceName: string, distro = 'rhel-9.2'): Package {
  return { type: 'rpm', name, version, sourceName, arch: 'x86_64', purl: `pkg:rpm/redhat/${name}@${version}?arch=x86_64&distro=${distro}`, distro, layer: 'sha256:a1', locations: ['/var/lib/rpm/rpmdb.sqlite'] };
}

let store: MemoryAdvisoryStore;
beforeAll(async () => {
  store = new MemoryAdvisoryStore();
  for (const f of readdirSync(DIR)) for (const a of (await readCsafVexFile(join(DIR, f))).advisories) store.add(a);
});

const IMAGE = [
  rpm('curl-minimal', '7.76.1-23.el9_2.2', 'curl'),
  rpm('libcurl-minimal', '7.76.1-26.el9_3.2', 'curl'),
  rpm('kernel', '5.14.0-284.11.1.el9_2', 'kernel'),
  rpm('tar', '2:1.34-6.el9_1', 'tar'),
];

describe('an RHEL 9 image × the real CSAF VEX files', () => {
  it('"fixed" (with the errata EVR), "will not fix" and "affected, no fix" stay apart', async () => {
    const r = await matchInventory({ packages: IMAGE, distro: RHEL92 }, store);
    const got = r.findings.map((f) => [f.package.name, f.id, f.fixState, f.fixedIn ?? null, f.severity]);
    expect(got.sort()).toEqual([
      ['curl-minimal', 'CVE-2023-38545', 'fixed', '0:7.76.1-23.el9_2.4', 'high'],
      ['kernel', 'CVE-2023-0045', 'wont-fix', null, 'low'],
      ['tar', 'CVE-2023-39804', 'not-fixed', null, 'low'],
    ]);
    const curl = r.findings.find((f) => f.package.name === 'curl-minimal')!;
    expect(curl.evidence[0]).toMatchObject({ source: 'redhat-csaf', advisory: 'CVE-2023-38545', key: { ecosystem: 'Red Hat:9', name: 'curl' } });
  });

  it('RHEL 8 curl is "not affected": no finding, the statement counted', async () => {
    const r = await matchInventory({ packages: [rpm('curl', '7.61.1-30.el8', 'curl', 'rhel-8.8')], distro: RHEL8 }, store);
    expect(r.findings).toEqual([]);
    expect(r.counts.notAffected).toBeGreaterThan(0);
  });

  it('a binary is judged by its SOURCE rpm: RHEL 9 kernel-rt (from kernel) is "will not fix", not the RHEL 8-style kernel-rt source entry ("affected")', async () => {
    // The naive rule (look the binary name up too) would also take the kernel-rt entry, a source rpm of that name, and its "not-fixed".
    const r = await matchInventory({ packages: [rpm('kernel-rt', '5.14.0-284.11.1.rt14.296.el9_2', 'kernel')], distro: RHEL92 }, store);
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0]!.fixState).toBe('wont-fix');
    expect(r.findings[0]!.evidence.map((e) => e.key.name)).toEqual(['kernel']);
  });
});

describe('product scope from content manifests', () => {
  it.each([
    ['rhel-9-for-x86_64-baseos-rpms', { major: '9', stream: 'baseos' }],
    ['rhel-9-for-aarch64-appstream-rpms', { major: '9', stream: 'appstream' }],
    ['rhel-9-for-x86_64-baseos-eus-rpms', { major: '9', stream: 'baseos', variant: 'eus' }],
    ['rhel-8-for-x86_64-appstream-e4s-source-rpms', { major: '8', stream: 'appstream', variant: 'e4s' }],
    ['rhel-9-for-x86_64-sap-solutions-rpms', { major: '9', stream: 'sap_solutions' }],
    ['codeready-builder-for-rhel-9-x86_64-rpms', { major: '9', stream: 'crb' }],
    ['rhel-7-server-rpms', { major: '7', stream: 'server' }],
    ['epel-9-x86_64-rpms', undefined],
  ])('%s', (name, want) => expect(parseContentSet(name)).toEqual(want));

  it('an image built only from CRB is not judged by a BaseOS/AppStream fix; a whole-release entry (kernel) still applies', async () => {
    // invented content set list: a CRB-only image shows the rule (real UBI images list baseos and appstream)
    const crbOnly = { ...RHEL92, contentSets: ['codeready-builder-for-rhel-9-x86_64-rpms'] };
    const r = await matchInventory({ packages: IMAGE, distro: crbOnly }, store);
    expect(r.findings.map((f) => f.package.name).sort()).toEqual(['kernel', 'tar']);
    const ubi = { ...RHEL92, contentSets: ['rhel-9-for-x86_64-appstream-rpms', 'rhel-9-for-x86_64-baseos-rpms'] };
    expect((await matchInventory({ packages: IMAGE, distro: ubi }, store)).findings.map((f) => f.package.name).sort()).toEqual(['curl-minimal', 'kernel', 'tar']);
    // content sets of another major release are ignored (every stream applies)
    expect(redHatScope({ versionId: '9.2', contentSets: ['rhel-8-for-x86_64-baseos-rpms'] }).streams.size).toBe(0);
  });

  /** An in-memory view: path → content. */
  function viewOf(files: Record<string, string>, truncated: string[] = []): FileView {
    const all: ViewFile[] = Object.entries(files).map(([path, content]) => ({ path, content: Buffer.from(content), mode: 0o644, layer: 'sha256:t', ...(truncated.includes(path) ? { truncated: true } : {}) }));
    return { get: (p) => all.find((f) => f.path === p), glob: (g) => all.filter((f) => picomatch(g, { dot: true })(f.path)) };
  }

  it('the distro detector reads content_sets from /root/buildinfo/content_manifests/*.json (malformed and truncated ones add nothing)', () => {
    // invented manifests in atomic-reactor's content_manifest.json shape (no real one among the fixtures)
    const manifest = (sets: unknown) => JSON.stringify({ metadata: { icm_version: 1, icm_spec: 'content_manifest.json', image_layer_index: 1 }, content_sets: sets, image_contents: [] });
    const view = viewOf(
      {
        '/etc/os-release': 'ID="rhel"\nVERSION_ID="9.2"\nPRETTY_NAME="Red Hat Enterprise Linux 9.2 (Plow)"\n',
        '/root/buildinfo/content_manifests/ubi9-container-9.2-489.json': manifest(['rhel-9-for-x86_64-baseos-rpms', 'rhel-9-for-x86_64-appstream-rpms']),
        '/root/buildinfo/content_manifests/app-1.0-1.json': manifest(['rhel-9-for-x86_64-baseos-rpms', 'bad name; rm -rf /', 42]),
        '/root/buildinfo/content_manifests/broken.json': '{"content_sets": [',
        '/root/buildinfo/content_manifests/cut.json': manifest(['codeready-builder-for-rhel-9-x86_64-rpms']),
      },
      ['/root/buildinfo/content_manifests/cut.json'],
    );
    expect(distroDetector.detect(view)).toMatchObject({ id: 'rhel', versionId: '9.2', contentSets: ['rhel-9-for-x86_64-appstream-rpms', 'rhel-9-for-x86_64-baseos-rpms'] });
    expect(distroDetector.needs.globs).toContain('/root/buildinfo/content_manifests/*.json');
    // without manifests: no contentSets member at all
    expect(distroDetector.detect(viewOf({ '/etc/os-release': 'ID=rhel\nVERSION_ID=9.2\n' }))).not.toHaveProperty('contentSets');
  });
});
