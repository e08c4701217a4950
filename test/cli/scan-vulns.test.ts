/**
 * `drydock scan` with advisories, as a user runs it: the findings table, JSON evidence,
 * --fail-on and --ignore-unfixed, and `drydock feeds sync` against a real local HTTP server
 * serving an OSV all.zip (standing in for OSV's bucket), then a scan on the synced feed.
 */
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../shared/cli/main.js';
import { runCli } from '../support/cli.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { buildImage } from '../support/image-builder.js';

const ADV = join(SHARED_FIXTURES, 'advisories');
let work: string;
let ref: string;
let server: Server;
let osvUrl: string;
let zipRequests = 0;

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return runCli(argv, { DRYDOCK_CACHE_DIR: join(work, 'cache') });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-vulns-'));
  const layout = join(work, 'layout');
  const lodash = await readFile(join(SHARED_FIXTURES, 'pkgdb', 'npm', 'node_modules', 'lodash', 'package.json'));
  await buildImage(layout, {
    tag: 'v1',
    layers: [
      {
        files: [
          { path: 'etc/os-release', content: OS_RELEASE_12 },
          {
            path: 'var/lib/dpkg/status',
            content: statusFile(
              stanza('libssl3', '3.0.11-1~deb12u1', { Source: 'openssl' }),
              stanza('libc6', '2.36-9+deb12u3', { Source: 'glibc' }),
              stanza('apt', '2.6.1'),
            ),
          },
        ],
      },
      { files: [{ path: 'app/node_modules/lodash/package.json', content: lodash }] },
    ],
  });
  ref = `oci:${layout}:v1`;

  // OSV's bucket, locally: /npm/all.zip built from the real GHSA records, with an ETag.
  const files: Record<string, Uint8Array> = {};
  for (const f of (await readdir(join(ADV, 'npm'))).filter((f) => f.endsWith('.json'))) files[f] = await readFile(join(ADV, 'npm', f));
  const zip = Buffer.from(zipSync(files));
  server = createServer((req, res) => {
    if (req.url !== '/npm/all.zip') return void res.writeHead(404).end();
    zipRequests++;
    if (req.headers['if-none-match'] === '"z1"') return void res.writeHead(304).end();
    res.writeHead(200, { etag: '"z1"', 'content-length': zip.length }).end(zip);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  osvUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.close();
  await rm(work, { recursive: true, force: true });
});

describe('drydock scan --advisories', () => {
  const advisories = ['--advisories', join(ADV, 'debian', 'security-tracker'), '--advisories', join(ADV, 'npm')];

  it('prints the findings worst first: id, aliases, package, installed, fixed-in, severity, layer', async () => {
    const { code, out } = await cli('scan', ref, ...advisories);
    expect(code).toBe(EXIT.ok);
    expect(out).toMatch(/^ID\s+ALIASES\s+PACKAGE\s+INSTALLED\s+FIXED-IN\s+SEVERITY\s+LAYER$/m);
    // openssl via its binary package libssl3: DSA-5532-1 fixes CVE-2023-5363 in 3.0.11-1~deb12u2
    expect(out).toMatch(/^CVE-2023-5363\s+DSA-5532-1\s+libssl3\s+3\.0\.11-1~deb12u1\s+3\.0\.11-1~deb12u2\s+\S+\s+#0 /m);
    // lodash from the second layer, GHSA high
    expect(out).toMatch(/^CVE-2021-23337\s+GHSA-35jh-r3h4-6jhm\s+lodash\s+4\.17\.20\s+4\.17\.21\s+high(?: \([^)]+\))?\s+#1 /m);
    // apt: unfixed, unimportant in Debian's tracker
    expect(out).toMatch(/^CVE-2011-3374\s+apt\s+2\.6\.1\s+\(not fixed\)\s+negligible/m);
    // glibc at deb12u3: CVE-2023-4911 is fixed there
    expect(out).not.toContain('CVE-2023-4911');
    const severities = [...out.matchAll(/^(?:CVE|GHSA|DSA)\S*\s.*?\s(critical|high|medium|low|negligible|unknown)\s+#\d/gm)].map((m) => m[1]!);
    const rank = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'];
    expect(severities.length).toBeGreaterThan(3);
    expect([...severities].sort((a, b) => rank.indexOf(a) - rank.indexOf(b))).toEqual(severities);
  });

  it('JSON carries each finding with its evidence: source, key searched, range hit', async () => {
    const { code, out } = await cli('scan', ref, ...advisories, '-o', 'json');
    expect(code).toBe(EXIT.ok);
    const v = JSON.parse(out).results[0].vulnerabilities;
    const f = v.findings.find((x: { id: string }) => x.id === 'CVE-2023-5363');
    expect(f.evidence[0]).toMatchObject({ source: 'debian-tracker', key: { ecosystem: 'Debian:12', name: 'openssl' }, version: '3.0.11-1~deb12u1', matched: { interval: { introduced: '0', fixed: '3.0.11-1~deb12u2' } } });
    expect(v.counts.packagesLookedUp).toBe(4);
  });

  it('--fail-on exits 1 when a finding is at least that severe, 0 otherwise', async () => {
    // the fixture data is years old: this test is about severities, so it lifts the age limit (see gate-fail-closed.test.ts)
    const high = await cli('scan', ref, ...advisories, '--fail-on', 'high', '-q', '--max-advisory-age', '0');
    expect(high.code).toBe(EXIT.fail);
    expect(high.err).toMatch(/at or above high/);
    const critical = await cli('scan', ref, ...advisories, '--fail-on', 'critical', '-q', '--max-advisory-age', '0');
    expect(critical.code).toBe(EXIT.ok);
  });

  it('--ignore-unfixed leaves out what has no fix yet', async () => {
    const { out } = await cli('scan', ref, ...advisories, '--ignore-unfixed');
    expect(out).not.toContain('CVE-2011-3374');
    expect(out).toContain('CVE-2023-5363');
  });

  it('usage errors: an unknown severity; a missing advisories path; --fail-on with no advisories at all fails closed (exit 4)', async () => {
    expect((await cli('scan', ref, '--fail-on', 'severe')).code).toBe(EXIT.usage);
    const none = await cli('scan', ref, '--fail-on', 'high');
    expect(none.code).toBe(EXIT.dataMissing);
    expect(none.err).toMatch(/advisory data missing for Debian:12, npm/);
    const missing = await cli('scan', ref, '--advisories', join(work, 'nope'));
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.err).toMatch(/nope does not exist/);
  });
});

describe('drydock feeds sync, then scan on the synced feed (local HTTP server standing in for OSV)', () => {
  it('syncs, then an unchanged feed is one 304, and scan uses the feed without --advisories', async () => {
    const first = await cli('feeds', 'sync', '--ecosystem', 'npm', '--osv-url', osvUrl);
    expect(first.code).toBe(EXIT.ok);
    expect(first.out).toMatch(/osv\/npm: updated/);
    const second = await cli('feeds', 'sync', '--ecosystem', 'npm', '--osv-url', osvUrl);
    expect(second.out).toMatch(/osv\/npm: unchanged/);
    expect(zipRequests).toBe(2);
    // the synced npm feed does not cover the image's Debian:12 packages, and its records are old
    expect((await cli('scan', ref, '--fail-on', 'high')).code).toBe(EXIT.dataMissing);
    const scan = await cli('scan', ref, '--fail-on', 'high', '--allow-missing-advisories');
    expect(scan.code).toBe(EXIT.fail);
    expect(scan.out).toMatch(/^CVE-2021-23337\s+GHSA-35jh-r3h4-6jhm\s+lodash/m);
  });

  it('offline, feeds sync fails clearly (exit 3) and says what to do', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    const r = await cli('feeds', 'sync', '--ecosystem', 'npm', '--ecosystem', 'PyPI', '--osv-url', `http://127.0.0.1:${port}`);
    expect(r.code).toBe(EXIT.scanError);
    expect(r.err).toMatch(/cannot reach .*--advisories/);
    expect(r.err.match(/cannot reach/g)).toHaveLength(1);
  });

  it('feeds without a subcommand is a usage error', async () => {
    expect((await cli('feeds')).code).toBe(EXIT.usage);
  });
});
