/**
 * The seeds' scenarios, end to end through `drydock scan --policy` on images the test builds
 * (GNU tar + gzip, OCI layout): verdicts and exit codes as a CI job sees them. The advisories
 * are OSV records this test writes (a made-up CVE-2099 id), since the real fixtures carry no
 * Debian critical without a fix.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../shared/cli/main.js';
import { runCli } from '../support/cli.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';
import { buildImage } from '../support/image-builder.js';

let work: string;
let layout: string;

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return runCli(argv, { DRYDOCK_CACHE_DIR: join(work, 'cache') });
}

const rule = (gate: string, trigger: string, action: string, params: Record<string, string> = {}) => ({
  gate,
  trigger,
  action,
  params: Object.entries(params).map(([name, value]) => ({ name, value })),
});

async function bundleFile(name: string, rules: object[], allowlistItems: object[] = []): Promise<string> {
  const path = join(work, `${name}.json`);
  const bundle = {
    id: name,
    name,
    version: '2',
    policies: [{ id: 'p1', name: 'seeds', version: '2', rules: rules.map((r, i) => ({ id: `r${i}`, ...r })) }],
    allowlists: [{ id: 'w1', name: 'waiting for fixes', version: '2', items: allowlistItems }],
    mappings: [{ id: 'm1', name: 'all', registry: '*', repository: '*', image: { type: 'tag', value: '*' }, policy_ids: ['p1'], allowlist_ids: ['w1'] }],
    allowlisted_images: [],
    denylisted_images: [],
  };
  await writeFile(path, JSON.stringify(bundle, null, 2));
  return path;
}

/** An OSV record for a Debian 12 source package, critical (CVSS 3.1 9.8), no fix, published `daysAgo` days ago. */
async function advisories(dir: string, daysAgo: number): Promise<string> {
  await mkdir(dir, { recursive: true });
  const published = new Date(Date.now() - daysAgo * 86_400_000).toISOString();
  await writeFile(
    join(dir, 'DEBIAN-CVE-2099-0001.json'),
    JSON.stringify({
      schema_version: '1.6.0',
      id: 'DEBIAN-CVE-2099-0001',
      aliases: ['CVE-2099-0001'],
      published,
      modified: published,
      summary: 'test advisory written by the scenario test',
      severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
      affected: [{ package: { ecosystem: 'Debian:12', name: 'zlib' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }] }],
    }),
  );
  return dir;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-policy-'));
  layout = join(work, 'layout');
  const debian = [
    { path: 'etc/os-release', content: OS_RELEASE_12 },
    { path: 'var/lib/dpkg/status', content: statusFile(stanza('zlib1g', '1:1.2.13.dfsg-1', { Source: 'zlib' })) },
  ];
  await buildImage(layout, { tag: 'debian', layers: [{ files: debian }] });
  await buildImage(layout, {
    tag: 'ssh',
    layers: [{ files: debian }],
    config: { config: { ExposedPorts: { '22/tcp': {}, '8080/tcp': {} }, User: 'app' } },
  });
  const alpineRelease = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.5.2\nPRETTY_NAME="Alpine Linux v3.5"\n';
  await buildImage(layout, {
    tag: 'null-root',
    layers: [{ files: [{ path: 'etc/os-release', content: alpineRelease }, { path: 'etc/shadow', content: 'root:::0:::::\nbin:!::0:::::\n' }] }],
  });
  await buildImage(layout, {
    tag: 'locked-root',
    layers: [{ files: [{ path: 'etc/os-release', content: alpineRelease }, { path: 'etc/shadow', content: 'root:!::0:::::\nbin:!::0:::::\n' }] }],
  });
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('seed scenarios through drydock scan --policy', () => {
  it('a NULL root password in /etc/shadow fails through secret_scans (CVE-2019-5021); a locked root passes', async () => {
    const bundle = await bundleFile('null-root', [rule('secret_scans', 'content_regex_checks', 'STOP', { content_regex_name: 'ALPINE_NULL_ROOT' })]);
    const pattern = ['--secret-pattern', 'ALPINE_NULL_ROOT=^root:::0:::::$'];
    const bad = await cli('scan', `oci:${layout}:null-root`, '--policy', bundle, ...pattern, '-q');
    expect(bad.code).toBe(EXIT.fail);
    expect(bad.out).toMatch(/→ FAIL/);
    expect(bad.out).toMatch(/secret_scans\s+content_regex_checks\s+ALPINE_NULL_ROOT\+\/etc\/shadow\s+STOP/);
    const good = await cli('scan', `oci:${layout}:locked-root`, '--policy', bundle, ...pattern, '-q');
    expect(good.code).toBe(EXIT.ok);
    expect(good.out).toMatch(/→ PASS/);
  });

  it('toggling the exposed-port-22 rule between WARN and STOP changes the verdict and the exit code', async () => {
    const params = { ports: '22', type: 'denylist' };
    const warn = await cli('scan', `oci:${layout}:ssh`, '--policy', await bundleFile('port-warn', [rule('dockerfile', 'exposed_ports', 'WARN', params)]), '-q');
    expect(warn.code).toBe(EXIT.warn);
    expect(warn.out).toMatch(/→ WARN/);
    expect(warn.out).toMatch(/dockerfile\s+exposed_ports\s+22\S*\s+WARN/);
    const stop = await cli('scan', `oci:${layout}:ssh`, '--policy', await bundleFile('port-stop', [rule('dockerfile', 'exposed_ports', 'STOP', params)]), '-q');
    expect(stop.code).toBe(EXIT.fail);
    const quiet = await cli('scan', `oci:${layout}:ssh`, '--policy', await bundleFile('port-warn2', [rule('dockerfile', 'exposed_ports', 'WARN', params)]), '--warn-exit-zero', '-q');
    expect(quiet.code).toBe(EXIT.ok);
    const other = await cli('scan', `oci:${layout}:debian`, '--policy', await bundleFile('port-stop2', [rule('dockerfile', 'exposed_ports', 'STOP', params)]), '-q');
    expect(other.code).toBe(EXIT.ok);
  });

  it('a Debian image fails on an unfixed critical, and passes once that advisory is allowlisted', async () => {
    const adv = await advisories(join(work, 'adv-now'), 30);
    const rules = [rule('vulnerabilities', 'package', 'STOP', { package_type: 'all', severity_comparison: '>=', severity: 'critical' })];
    const fail = await cli('scan', `oci:${layout}:debian`, '--max-advisory-age', '0', '--advisories', adv, '--policy', await bundleFile('crit', rules), '-q');
    expect(fail.code).toBe(EXIT.fail);
    expect(fail.out).toMatch(/vulnerabilities\s+package\s+CVE-2099-0001\+zlib1g\s+STOP/);
    const allow = await bundleFile('crit-allowed', rules, [{ id: 'i1', gate: 'vulnerabilities', trigger_id: 'CVE-2099-0001+zlib1g' }]);
    const pass = await cli('scan', `oci:${layout}:debian`, '--max-advisory-age', '0', '--advisories', adv, '--policy', allow, '-q');
    expect(pass.code).toBe(EXIT.ok);
    expect(pass.out).toMatch(/allowlisted: w1\/i1/);
    const expired = await bundleFile('crit-expired', rules, [{ id: 'i1', gate: 'vulnerabilities', trigger_id: 'CVE-2099-0001+zlib1g', expires_on: '2020-01-01T00:00:00Z' }]);
    const again = await cli('scan', `oci:${layout}:debian`, '--max-advisory-age', '0', '--advisories', adv, '--policy', expired, '-q');
    expect(again.code).toBe(EXIT.fail);
    expect(again.out).toMatch(/expired/);
  });

  it('BOD 19-02: a critical first published 16 days ago fails the 15-day rule; one published 14 days ago only warns', async () => {
    const rules = [
      rule('vulnerabilities', 'package', 'STOP', { package_type: 'all', severity_comparison: '>=', severity: 'critical', max_days_since_creation: '15' }),
      rule('vulnerabilities', 'package', 'WARN', { package_type: 'all', severity_comparison: '>=', severity: 'critical' }),
    ];
    const bundle = await bundleFile('bod-19-02', rules);
    const old = await cli('scan', `oci:${layout}:debian`, '--max-advisory-age', '0', '--advisories', await advisories(join(work, 'adv-16'), 16), '--policy', bundle, '-q');
    expect(old.code).toBe(EXIT.fail);
    const recent = await cli('scan', `oci:${layout}:debian`, '--max-advisory-age', '0', '--advisories', await advisories(join(work, 'adv-14'), 14), '--policy', bundle, '-q');
    expect(recent.code).toBe(EXIT.warn);
  });

  it('a malformed bundle is a precise error before any image is read; policy validate says the same', async () => {
    const bad = join(work, 'bad.json');
    await writeFile(bad, JSON.stringify({ id: 'b', version: '2', policies: [{ id: 'p', rules: [rule('vulnerabilitys', 'package', 'STOP')] }], mappings: [] }));
    const scan = await cli('scan', `oci:${layout}:does-not-exist`, '--policy', bad);
    expect(scan.code).toBe(EXIT.usage);
    expect(scan.err).toMatch(/rules\[0\].*vulnerabilitys/);
    const validate = await cli('policy', 'validate', bad);
    expect(validate.code).toBe(EXIT.fail);
    expect(validate.err).toMatch(/vulnerabilitys/);
    const ok = await cli('policy', 'validate', 'default');
    expect(ok.code).toBe(EXIT.ok);
    expect(ok.out).toMatch(/valid \(version 2\)/);
  });
});

describe('the default bundle', () => {
  it('fails a NULL root password out of the box (ALPINE_NULL_ROOT is built in) and warns on a root user', async () => {
    const bad = await cli('scan', `oci:${layout}:null-root`, '--policy', 'default', '-q');
    expect(bad.code).toBe(EXIT.fail);
    expect(bad.out).toMatch(/secret_scans\s+content_regex_checks\s+ALPINE_NULL_ROOT\+\/etc\/shadow\s+STOP/);
    const locked = await cli('scan', `oci:${layout}:locked-root`, '--policy', 'default', '-q');
    expect(locked.out).not.toMatch(/ALPINE_NULL_ROOT/);
    expect(locked.code).toBe(EXIT.warn); // root user, no vulnerability data
  });
});
