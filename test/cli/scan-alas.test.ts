/**
 * An Amazon Linux 2023 image (the real fixture rpmdb + AL2023's /etc/os-release in a layer)
 * scanned by the CLI with the real ALAS records: the five ALAS findings, with remediation, and
 * a --fail-on verdict.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../shared/cli/main.js';
import { runCli } from '../support/cli.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { buildImage } from '../support/image-builder.js';
import { osReleaseAl2023 } from '../integration/helpers.js';


const OS_RELEASE_AL2023 = osReleaseAl2023('2023.3.20240117');
let work: string;
let ref: string;
const ALAS = join(SHARED_FIXTURES, 'advisories/amazon/vuln-list-json');
const cli = (...argv: string[]) => runCli(argv, { DRYDOCK_CACHE_DIR: join(work, 'cache') });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-alas-'));
  const layout = join(work, 'layout');
  await buildImage(layout, {
    tag: 'al2023',
    layers: [
      {
        files: [
          { path: 'etc/os-release', content: OS_RELEASE_AL2023 },
          { path: 'var/lib/rpm/rpmdb.sqlite', content: await readFile(join(SHARED_FIXTURES, 'pkgdb/rpm/sqlite-amazonlinux2023/rpmdb.sqlite')) },
        ],
      },
    ],
  });
  ref = `oci:${layout}:al2023`;
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('drydock scan of an Amazon Linux 2023 image with ALAS', () => {
  it('reports the ALAS findings by binary package, with the AL2023 remediation', async () => {
    const { code, out, err } = await cli('scan', ref, '--advisories', ALAS, '-o', 'json');
    expect(err).not.toMatch(/could not be read/);
    expect(code).toBe(EXIT.ok);
    const v = JSON.parse(out).results[0].vulnerabilities;
    const pkgs = [...new Set(v.findings.map((f: { package: { name: string } }) => f.package.name))].sort();
    expect(pkgs).toEqual(['curl-minimal', 'expat', 'krb5-libs', 'libcurl-minimal', 'libnghttp2']);
    const expat = v.findings.find((f: { package: { name: string } }) => f.package.name === 'expat');
    expect(expat).toMatchObject({ id: 'CVE-2024-28757', fixedIn: '0:2.5.0-1.amzn2023.0.4', severity: 'high' });
    expect(expat.evidence[0]).toMatchObject({ source: 'alas', advisory: 'ALAS2023-2024-576', key: { ecosystem: 'Amazon Linux:2023', name: 'expat' } });
    // the loaded ALAS records cover the image's ecosystem: no "advisory data missing"
    expect(JSON.parse(out).results[0].coverage).toMatchObject({ covered: ['Amazon Linux:2023'], uncovered: [] });
    expect(expat.remediation).toMatch(/2023\.3\.20240117 predates it.*dnf upgrade --releasever=latest/);
  });

  it('--fail-on high gives a failing verdict', async () => {
    const r = await cli('scan', ref, '--advisories', ALAS, '--fail-on', 'high', '-q', '--max-advisory-age', '0');
    expect(r.code).toBe(EXIT.fail);
    expect(r.err).toMatch(/at or above high/);
  });
});
