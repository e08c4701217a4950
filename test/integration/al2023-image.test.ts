/**
 * Issue 16, "Done when": an Amazon Linux 2023 image built here, pushed to the local
 * Distribution registry (htpasswd auth) and scanned by the shipped CLI (bin/drydock.cjs, the
 * bundle `npm run bundle` makes) with the real ALAS records as --advisories: the ALAS findings
 * and a --fail-on verdict. Beside it a CentOS Stream 9 image in the same registry: the
 * "no advisory source" warning, and any gate fails closed (exit 4).
 *
 * The AL2023 image, two layers:
 * 1. the base: the REAL rpmdb.sqlite of an amazonlinux:2023 image (go-rpmdb's fixture, 103
 *    packages, ../shared/fixtures/pkgdb/rpm/sqlite-amazonlinux2023) at var/lib/rpm/rpmdb.sqlite,
 *    with /etc/os-release and /etc/system-release written here for the release its
 *    system-release package is (2023.1.20230825): no AL2023 os-release is among the fixtures.
 * 2. a Lambda-style runtime: /var/lang/include/node/node_version.h, the REAL header of the
 *    node running this test, and /var/lang/bin/node, a stub (an ELF header, no version string:
 *    the real binary would add ~100 MB to the layer), so the node version comes from the header.
 * The CentOS Stream 9 image: the real CentOS 8 Berkeley DB rpmdb (syft's fixture, one package,
 * dive) and a CentOS Stream 9 /etc/os-release, as test/cli/scan-no-source.test.ts writes it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../shared/cli/main.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { ensureBuiltCli } from '../support/hostile-corpus.js';
import { AL2023_RELEASE, OS_RELEASE_CENTOS_STREAM_9, osReleaseAl2023 } from './helpers.js';
import { runBuiltCli, type CliRun } from '../support/cli.js';
import { buildImage, pushToRegistry, type BuiltImage } from '../support/image-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

const RELEASE = AL2023_RELEASE;
const OS_RELEASE_AL2023 = osReleaseAl2023();
const SYSTEM_RELEASE_AL2023 = `Amazon Linux release ${RELEASE} (Amazon Linux)\n`;


const ALAS = join(SHARED_FIXTURES, 'advisories/amazon/vuln-list-json');
const RPMDB = join(SHARED_FIXTURES, 'pkgdb/rpm/sqlite-amazonlinux2023/rpmdb.sqlite');
const NODE_HEADER = join(dirname(dirname(process.execPath)), 'include', 'node', 'node_version.h');
const USER = 'ci';
const PASSWORD = 'al2023-registry-password';

/** What the ALAS records published, per installed binary package of the fixture rpmdb. */
const EXPECTED = {
  expat: { advisory: 'ALAS2023-2024-576', installed: '2.5.0-1.amzn2023.0.2', fixedIn: '0:2.5.0-1.amzn2023.0.4', severity: 'high', cves: ['CVE-2024-28757'] },
  'krb5-libs': { advisory: 'ALAS2023-2024-586', installed: '1.20.1-8.amzn2023.0.2', fixedIn: '0:1.21-3.amzn2023.0.4', severity: 'medium', cves: ['CVE-2024-26458', 'CVE-2024-26461', 'CVE-2024-26462'] },
  libnghttp2: { advisory: 'ALAS2023-2024-592', installed: '1.55.1-1.amzn2023.0.1', fixedIn: '0:1.59.0-3.amzn2023.0.1', severity: 'high', cves: ['CVE-2024-28182'] },
  'curl-minimal': { advisory: 'ALAS2023-2024-606', installed: '8.0.1-1.amzn2023.0.1', fixedIn: '0:8.5.0-1.amzn2023.0.2', severity: 'medium', cves: ['CVE-2023-46218'] },
  'libcurl-minimal': { advisory: 'ALAS2023-2024-606', installed: '8.0.1-1.amzn2023.0.1', fixedIn: '0:8.5.0-1.amzn2023.0.2', severity: 'medium', cves: ['CVE-2023-46218'] },
} as const;

interface Finding {
  id: string;
  aliases?: string[];
  severity: string;
  fixState: string;
  fixedIn?: string;
  remediation?: string;
  package: { name: string; version: string; layer?: string };
  evidence: Array<{ source: string; advisory: string; key: { ecosystem: string; name: string } }>;
}

let work: string;
let registry: TestRegistry;
let al2023: BuiltImage;
let al2023Ref: string;
let centosRef: string;

/** The built CLI as a user runs it: credentials for the image's registry on stdin. */
function drydock(args: string[], opts: { password?: string } = {}): Promise<CliRun> {
  const withAuth = opts.password === undefined ? args : [...args, '--username', USER, '--password-stdin'];
  return runBuiltCli(withAuth, { env: { ...process.env, DRYDOCK_CACHE_DIR: join(work, 'cache'), DOCKER_CONFIG: join(work, 'no-docker') }, ...(opts.password !== undefined ? { stdin: opts.password } : {}) });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-al2023-image-'));
  const built = ensureBuiltCli();
  registry = await startRegistry({ users: { [USER]: PASSWORD } });
  const target = { host: registry.host, username: USER, password: PASSWORD };

  const layout = join(work, 'al2023');
  al2023 = await buildImage(layout, {
    tag: 'nodejs22',
    layers: [
      {
        files: [
          { path: 'etc/os-release', content: OS_RELEASE_AL2023 },
          { path: 'etc/system-release', content: SYSTEM_RELEASE_AL2023 },
          { path: 'var/lib/rpm/rpmdb.sqlite', content: await readFile(RPMDB) },
        ],
      },
      {
        files: [
          { path: 'var/lang/bin/node', content: Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(4096)]), mode: 0o755 },
          { path: 'var/lang/include/node/node_version.h', content: await readFile(NODE_HEADER) },
        ],
        compression: 'zstd',
      },
    ],
  });
  al2023Ref = (await pushToRegistry(layout, 'nodejs22', target, 'lambda/nodejs:22')).reference;

  const centos = join(work, 'centos');
  await buildImage(centos, {
    tag: 'stream9',
    layers: [
      {
        files: [
          { path: 'etc/os-release', content: OS_RELEASE_CENTOS_STREAM_9 },
          { path: 'var/lib/rpm/Packages', content: await readFile(join(SHARED_FIXTURES, 'pkgdb/rpm/bdb-centos8-single-dive/Packages')) },
        ],
      },
    ],
  });
  centosRef = (await pushToRegistry(centos, 'stream9', target, 'centos/stream:9')).reference;
  await built;
}, 600_000);

afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('an Amazon Linux 2023 image in the registry, scanned by the built CLI with the real ALAS records', () => {
  let json: {
    results: Array<{
      distro: { id: string; versionId: string; prettyName?: string };
      coverage: unknown;
      packages: Array<{ type: string; name: string; version: string; layer?: string; purl?: string }>;
      vulnerabilities: { findings: Finding[] };
    }>;
  };

  it('reports exactly the five ALAS-fixed packages, with the published fixed versions, severities and CVEs', async () => {
    const r = await drydock(['scan', al2023Ref, '--no-cache', '--advisories', ALAS, '--max-advisory-age', '0', '-o', 'json'], { password: PASSWORD });
    expect(r.err).not.toMatch(/could not be read|error/i);
    expect(r.code, r.err).toBe(EXIT.ok);
    json = JSON.parse(r.out);
    const [res] = json.results;
    expect(res!.distro).toMatchObject({ id: 'amzn', versionId: '2023' });
    expect(res!.coverage).toMatchObject({ covered: ['Amazon Linux:2023'], uncovered: [] });
    // the real rpmdb: what `rpm -qa` printed in the image (expected-packages.csv), gpg-pubkey left out, all from the base layer
    const rpms = res!.packages.filter((p) => p.type === 'rpm');
    const csv = (await readFile(join(dirname(RPMDB), 'expected-packages.csv'), 'utf8')).split('\n').filter(Boolean).map((l) => l.split('\u00b6'));
    const expected = csv.filter((f) => f[1] !== 'gpg-pubkey').map((f) => `${f[1]} ${f[0] ? `${f[0]}:` : ''}${f[2]}-${f[3]}`).sort();
    expect(expected).toHaveLength(102);
    expect(rpms.map((p) => `${p.name} ${p.version}`).sort()).toEqual(expected);
    expect(new Set(rpms.map((p) => p.layer))).toEqual(new Set([al2023.layers[0]!.diffId]));

    const findings = res!.vulnerabilities.findings;
    expect([...new Set(findings.map((f) => f.package.name))].sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [name, want] of Object.entries(EXPECTED)) {
      const mine = findings.filter((f) => f.package.name === name);
      // one finding per advisory: its first CVE as the id, the ALAS id and its other CVEs (krb5's names three) as aliases
      expect(mine.map((f) => [f.id, [...(f.aliases ?? [])].sort()]), name).toEqual([[want.cves[0], [want.advisory, ...want.cves.slice(1)].sort()]]);
      for (const f of mine) {
        expect(f, name).toMatchObject({ fixState: 'fixed', fixedIn: want.fixedIn, severity: want.severity, package: { version: want.installed } });
        expect(f.evidence[0], name).toMatchObject({ source: 'alas', advisory: want.advisory, key: { ecosystem: 'Amazon Linux:2023', name } });
        // the image's release (from os-release) predates every one of these ALAS: frozen releases need --releasever
        expect(f.remediation, name).toContain(`The image's release ${RELEASE} predates it`);
        expect(f.remediation, name).toContain('dnf upgrade --releasever=latest');
      }
    }
    // a binary name sharing the source rpm (curl) is not "curl-minimal": only installed binaries are judged
    expect(findings.some((f) => f.package.name === 'curl' || f.package.name === 'nghttp2')).toBe(false);
  }, 180_000);

  it('reports the node runtime of /var/lang (from its header) from the runtime layer, needing no advisory ecosystem', () => {
    const node = json.results[0]!.packages.filter((p) => p.type === 'binary' && p.name === 'node');
    expect(node).toEqual([expect.objectContaining({ version: process.versions.node, purl: `pkg:generic/node@${process.versions.node}`, layer: al2023.layers[1]!.diffId })]);
  });

  it('--fail-on high fails (two ALAS are Important); --fail-on critical passes', async () => {
    const high = await drydock(['scan', al2023Ref, '--no-cache', '-q', '--advisories', ALAS, '--max-advisory-age', '0', '--fail-on', 'high'], { password: PASSWORD });
    expect(high.code, high.err).toBe(EXIT.fail);
    expect(high.err).toMatch(/at or above high/);
    const critical = await drydock(['scan', al2023Ref, '--no-cache', '-q', '--advisories', ALAS, '--max-advisory-age', '0', '--fail-on', 'critical'], { password: PASSWORD });
    expect(critical.code, critical.err).toBe(EXIT.ok);
  }, 180_000);

  it('without advisory data for Amazon Linux:2023, the gate fails closed (exit 4), not "no findings"', async () => {
    const r = await drydock(['scan', al2023Ref, '--no-cache', '-q', '--fail-on', 'critical'], { password: PASSWORD });
    expect(r.code, r.err).toBe(EXIT.dataMissing);
    expect(r.err).toMatch(/advisory data missing for Amazon Linux:2023/);
  }, 180_000);

  it('without the registry password, the scan is an error, never an empty result', async () => {
    const r = await drydock(['scan', al2023Ref, '--no-cache', '-q', '--advisories', ALAS, '--fail-on', 'critical']);
    expect(r.code).toBe(EXIT.scanError);
    expect(r.out).toBe('');
  }, 180_000);
});

describe('a CentOS Stream 9 image in the registry: no advisory source', () => {
  const WARNING = 'no advisory source for CentOS Stream 9 (os-release ID "centos", VERSION_ID "9")';

  it('the table names the distribution in a warning; the JSON marks centos:9 as having no source', async () => {
    const table = await drydock(['scan', centosRef, '--no-cache'], { password: PASSWORD });
    expect(table.code, table.err).toBe(EXIT.ok);
    expect(table.out).toContain('dive');
    expect(table.out).toContain(`WARNING: ${WARNING}`);
    const r = await drydock(['scan', centosRef, '--no-cache', '-o', 'json', '--advisories', ALAS, '--max-advisory-age', '0'], { password: PASSWORD });
    expect(r.code, r.err).toBe(EXIT.ok);
    const j = JSON.parse(r.out);
    expect(j.results[0].coverage).toEqual({ covered: [], uncovered: ['centos:9'], noSource: ['centos:9'] });
    expect(j.results[0].vulnerabilities.findings).toEqual([]);
  }, 180_000);

  it('--fail-on fails closed: advisory data missing, exit 4, even with (Amazon Linux) advisories loaded', async () => {
    const r = await drydock(['scan', centosRef, '--no-cache', '-q', '--fail-on', 'critical', '--advisories', ALAS, '--max-advisory-age', '0'], { password: PASSWORD });
    expect(r.code, r.err).toBe(EXIT.dataMissing);
    expect(r.err).toMatch(/advisory data missing for centos:9/);
  }, 180_000);
});
