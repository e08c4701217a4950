/**
 * CycloneDX with vulnerabilities (issue 15 item 6): `drydock scan -o cyclonedx` run in-process
 * on an image this test builds (Debian 12 libssl3 + openssl, npm lodash 4.17.20) against the
 * real Debian tracker and npm OSV samples, with an ignore file and an OpenVEX document;
 * validated by the CycloneDX library's strict 1.6 JSON-schema validator. Debian licences:
 * the dpkg cataloger on the debootstrapped bookworm rootfs (test/support/debootstrap.ts,
 * cached per machine) against that rootfs's own copyright files.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as CDX from '@cyclonedx/cyclonedx-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryView } from '../../shared/catalog/dir-view.js';
import { dep5Licenses } from '../../shared/catalog/dpkg.js';
import { runCatalogers } from '../../shared/catalog/index.js';
import { EXIT } from '../../shared/cli/main.js';
import { renderCycloneDx } from '../../shared/report/cyclonedx.js';
import { runCli } from '../support/cli.js';
import { ensureDebianRootfs } from '../support/debootstrap.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { buildImage } from '../support/image-builder.js';

const ADV = join(SHARED_FIXTURES, 'advisories');
const NOW = '2024-09-10T00:00:00Z';
const validate = (json: string) => new CDX.Validation.JsonStrictValidator(CDX.Spec.Version.v1dot6).validate(json);
let work: string;
let ref: string;

interface CdxVuln {
  id: string;
  source: { name: string; url?: string };
  ratings: Array<{ severity?: string; score?: number; method?: string; vector?: string; source?: { name: string } }>;
  affects: Array<{ ref: string; versions?: Array<{ version: string; status: string }> }>;
  references?: Array<{ id: string; source: { name: string } }>;
  advisories?: Array<{ url: string }>;
  analysis?: { state: string; justification?: string; detail?: string };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-cdx-'));
  const lodash = await readFile(join(SHARED_FIXTURES, 'pkgdb', 'npm', 'node_modules', 'lodash', 'package.json'));
  await buildImage(join(work, 'layout'), {
    tag: 'v1',
    layers: [
      {
        files: [
          { path: 'etc/os-release', content: OS_RELEASE_12 },
          { path: 'var/lib/dpkg/status', content: statusFile(stanza('libssl3', '3.0.11-1~deb12u1', { Source: 'openssl' }), stanza('openssl', '3.0.11-1~deb12u1')) },
        ],
      },
      { files: [{ path: 'app/node_modules/lodash/package.json', content: lodash }] },
    ],
  });
  ref = `oci:${join(work, 'layout')}:v1`;
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('CycloneDX 1.6 with vulnerabilities', () => {
  it('every finding is a vulnerability affecting its component; suppressed ones carry an analysis; strictly valid', async () => {
    const ignore = join(work, 'ignore.yaml');
    await writeFile(ignore, 'vulnerabilities:\n  - id: CVE-2024-6119\n    package: openssl\n    reason: the openssl CLI is never run\n');
    const vex = join(work, 'vex.json');
    await writeFile(
      vex,
      JSON.stringify({
        '@context': 'https://openvex.dev/ns/v0.2.0',
        '@id': 'https://example.test/vex/cdx',
        author: 'Drydock tests',
        timestamp: '2024-09-01T00:00:00Z',
        version: 1,
        statements: [
          { vulnerability: { name: 'CVE-2023-5363' }, products: [{ '@id': 'pkg:deb/debian/libssl3' }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' },
          { vulnerability: { name: 'CVE-2024-6119' }, products: [{ '@id': 'pkg:deb/debian/libssl3' }], status: 'fixed' },
        ],
      }),
    );
    const argv = ['scan', ref, '--advisories', join(ADV, 'debian', 'security-tracker'), '--advisories', join(ADV, 'npm'), '--max-advisory-age', '0', '-q'];
    const env = { DRYDOCK_CACHE_DIR: join(work, 'cache'), DRYDOCK_NOW: NOW };
    const r = await runCli([...argv, '-o', 'cyclonedx', '--ignore-file', ignore, '--vex', vex], env);
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(await validate(r.out)).toBeNull();
    const bom = JSON.parse(r.out) as { components: Array<{ 'bom-ref': string; name: string }>; vulnerabilities: CdxVuln[] };
    const json = JSON.parse((await runCli([...argv, '-o', 'json'], env)).out);
    const findings = json.results[0].vulnerabilities.findings as Array<{ id: string; package: { purl: string } }>;
    expect(findings.length).toBeGreaterThan(4);
    expect(bom.vulnerabilities).toHaveLength(findings.length);
    const refs = new Set(bom.components.map((c) => c['bom-ref']));
    for (const v of bom.vulnerabilities) for (const a of v.affects) expect(refs.has(a.ref)).toBe(true);
    const vuln = (id: string, pkg: string) => bom.vulnerabilities.find((v) => v.id === id && v.affects[0]!.ref.startsWith(`pkg:${pkg.includes('/') ? pkg : `deb/debian/${pkg}`}@`))!;

    // lodash's GHSA carries a CVSS vector: a CVSS rating with method and vector, beside Drydock's severity.
    const lodash = bom.vulnerabilities.find((v) => v.id === 'CVE-2021-23337')!;
    expect(lodash.source).toEqual({ name: 'NVD', url: 'https://nvd.nist.gov/vuln/detail/CVE-2021-23337' });
    expect(lodash.ratings).toContainEqual(expect.objectContaining({ method: 'CVSSv31', vector: expect.stringMatching(/^CVSS:3\.1\//), score: expect.any(Number) }));
    expect(lodash.ratings).toContainEqual(expect.objectContaining({ severity: 'high', method: 'other' }));
    expect(lodash.references).toContainEqual({ id: 'GHSA-35jh-r3h4-6jhm', source: { name: 'GitHub', url: 'https://github.com/advisories/GHSA-35jh-r3h4-6jhm' } });
    expect(lodash.analysis).toBeUndefined();

    // VEX not_affected: justification mapped; fixed: resolved; ignore file: not_affected with the reason.
    expect(vuln('CVE-2023-5363', 'libssl3').analysis).toEqual({ state: 'not_affected', justification: 'code_not_reachable', detail: 'suppressed by vex: not_affected (vulnerable_code_not_in_execute_path) from https://example.test/vex/cdx' });
    expect(vuln('CVE-2023-5363', 'libssl3').affects[0]!.versions).toEqual([{ version: '3.0.11-1~deb12u1', status: 'unaffected' }]);
    expect(vuln('CVE-2024-6119', 'libssl3').analysis?.state).toBe('resolved');
    expect(vuln('CVE-2024-6119', 'openssl').analysis).toEqual({ state: 'not_affected', detail: expect.stringMatching(/^suppressed by ignore-file: the openssl CLI is never run/) });
    expect(vuln('CVE-2023-5363', 'openssl').analysis).toBeUndefined();
    expect(vuln('CVE-2023-5363', 'openssl').references).toContainEqual({ id: 'DSA-5532-1', source: { name: 'Debian', url: 'https://security-tracker.debian.org/tracker/DSA-5532-1' } });
  });

  it('without advisories the SBOM has no vulnerabilities and stays valid', async () => {
    const r = await runCli(['scan', ref, '-o', 'cyclonedx', '-q'], { DRYDOCK_CACHE_DIR: join(work, 'cache'), DRYDOCK_NOW: NOW });
    expect(r.code).toBe(EXIT.ok);
    expect(await validate(r.out)).toBeNull();
    expect(JSON.parse(r.out).vulnerabilities).toBeUndefined();
  });
});

describe('Debian licences from /usr/share/doc/<pkg>/copyright', () => {
  it('DEP-5 License fields, Debian short names as SPDX ids; free-form files give none', () => {
    const dep5 = [
      'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
      '',
      'Files: *',
      'Copyright: 1989-2022 Free Software Foundation, Inc.',
      'License: GPL-3+',
      '',
      'Files: lib/glob/*',
      'License: BSD-3-clause or GPL-2+',
      '',
      'Files: doc/*',
      'License: GFDL-NIV-1.3',
      '',
      'License: GPL-3+',
      ' On Debian systems, the complete text of the GNU General Public License version 3 can be found in',
      ' License: not-a-field',
    ].join('\n');
    expect(dep5Licenses(dep5)).toEqual(['GPL-3.0-or-later', 'BSD-3-Clause OR GPL-2.0-or-later', 'GFDL-NIV-1.3']);
    expect(dep5Licenses('This is Debian\'s prepackaged version of foo.\n\nLicense: GPL\n')).toEqual([]);
    expect(dep5Licenses('Format: http://dep.debian.net/deps/dep5\n\nLicense: LGPL-2.1\n')).toEqual(['LGPL-2.1-only']);
  });

  it('the debootstrapped bookworm rootfs: every package with a DEP-5 copyright file carries its licences; the SBOM validates', async () => {
    const rootfs = await ensureDebianRootfs();
    const run = runCatalogers(new DirectoryView(rootfs));
    const debs = run.packages.filter((p) => p.type === 'deb');
    expect(debs.length).toBeGreaterThan(80);
    let machineReadable = 0;
    for (const p of debs) {
      let text: string;
      try {
        text = readFileSync(join(rootfs, 'usr/share/doc', p.name, 'copyright'), 'utf8');
      } catch {
        expect(p.licenses, p.name).toBeUndefined();
        continue;
      }
      if (!/^Format:.*copyright-format/.test(text)) {
        expect(p.licenses, p.name).toBeUndefined();
        continue;
      }
      machineReadable++;
      // As many licences as distinct License: short names in the file (read here, independently; short names are case-insensitive).
      const raw = new Set([...text.matchAll(/^License:[ \t]*(\S[^\n]*)$/gm)].map((m) => m[1]!.trim().replace(/,$/, '').toLowerCase()));
      expect(p.licenses?.length, p.name).toBe(raw.size);
    }
    expect(machineReadable).toBeGreaterThan(40);
    const byName = new Map(debs.map((p) => [p.name, p]));
    expect(byName.get('bash')?.licenses).toContain('GPL-3.0-or-later');
    expect(byName.get('dash')?.licenses).toEqual(['BSD-3-Clause', 'public-domain', 'GPL-2.0-or-later']);
    // libstdc++6's doc directory is a symlink to gcc-12-base's (read through it): a free-form file, so no licence for either.
    expect(byName.get('libstdc++6')?.licenses).toBeUndefined();
    expect(byName.get('gcc-12-base')?.licenses).toBeUndefined();

    const json = renderCycloneDx(
      {
        image: { reference: 'debootstrap:bookworm', manifestDigest: `sha256:${'a'.repeat(64)}`, configDigest: `sha256:${'b'.repeat(64)}`, platform: { os: 'linux', architecture: 'amd64' }, layers: [] },
        ...(run.distro ? { distro: run.distro } : {}),
        packages: run.packages,
        warnings: [],
      },
      { name: 'drydock', version: '0.0.0-test' },
    );
    expect(await validate(json)).toBeNull();
    const bash = JSON.parse(json).components.find((c: { name: string }) => c.name === 'bash');
    expect(JSON.stringify(bash.licenses)).toContain('GPL-3.0-or-later');
  }, 15 * 60_000);
});
