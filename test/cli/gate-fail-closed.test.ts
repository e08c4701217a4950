/**
 * A gate that can be trusted (issue 15): `drydock scan` run in-process on images this test
 * builds (OCI layout), with the real advisory fixtures in ../shared/fixtures/advisories. No
 * mocks: the scan's "now" is set with DRYDOCK_NOW (tests only), because the fixture data is
 * years old and freshness is measured from the data's own dates.
 *
 * The test matrix of docs/vulnerabilities.md ("A gate without data must not pass") is this
 * file: each row below names its exit code and message.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../shared/cli/main.js';
import { runCli } from '../support/cli.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { buildImage } from '../support/image-builder.js';

const ADV = join(SHARED_FIXTURES, 'advisories');
const TRACKER = join(ADV, 'debian', 'security-tracker');
const NPM = join(ADV, 'npm');
/** A week after the tracker sample (newest entry 2024-09-03); the npm sample's newest record is 2024-08-13. */
const NOW = '2024-09-10T00:00:00Z';
let work: string;
let ref: string;

async function cli(env: Record<string, string>, ...argv: string[]) {
  return runCli(argv, { DRYDOCK_CACHE_DIR: join(work, 'cache'), ...env });
}
const at = (now: string, ...argv: string[]) => cli({ DRYDOCK_NOW: now }, ...argv);

async function bundleFile(name: string, rules: object[], allowlistItems: object[] = []): Promise<string> {
  const path = join(work, `${name}.json`);
  await writeFile(
    path,
    JSON.stringify({
      id: name,
      version: '2',
      policies: [{ id: 'p1', name: 'gate', version: '2', rules: rules.map((r, i) => ({ id: `r${i}`, ...r })) }],
      allowlists: [{ id: 'w1', name: 'accepted risks', version: '2', items: allowlistItems }],
      mappings: [{ id: 'm1', name: 'all', registry: '*', repository: '*', image: { type: 'tag', value: '*' }, policy_ids: ['p1'], allowlist_ids: ['w1'] }],
      allowlisted_images: [],
      denylisted_images: [],
    }),
  );
  return path;
}
const rule = (gate: string, trigger: string, action: string, params: Record<string, string> = {}) => ({
  gate,
  trigger,
  action,
  params: Object.entries(params).map(([name, value]) => ({ name, value })),
});

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-gate-'));
  const layout = join(work, 'layout');
  const lodash = await readFile(join(SHARED_FIXTURES, 'pkgdb', 'npm', 'node_modules', 'lodash', 'package.json'));
  // Debian 12 (OS packages) + lodash 4.17.20 (npm, not owned by any OS package): two ecosystems.
  await buildImage(layout, {
    tag: 'v1',
    layers: [
      {
        files: [
          { path: 'etc/os-release', content: OS_RELEASE_12 },
          { path: 'var/lib/dpkg/status', content: statusFile(stanza('libssl3', '3.0.11-1~deb12u1', { Source: 'openssl' }), stanza('apt', '2.6.1')) },
        ],
      },
      { files: [{ path: 'app/node_modules/lodash/package.json', content: lodash }] },
    ],
  });
  ref = `oci:${layout}:v1`;
  await mkdir(join(work, 'empty'));
  await writeFile(join(work, 'README.md'), '# not advisories\n');
  await writeFile(join(work, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { lodash: '4.17.20' } }));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('fail closed on missing advisory data (exit 4)', () => {
  it('matrix: OS data missing — npm advisories only, --fail-on high: exit 4 naming Debian:12', async () => {
    const r = await at(NOW, 'scan', ref, '--advisories', NPM, '--fail-on', 'high', '-q');
    expect(r.code).toBe(EXIT.dataMissing);
    expect(r.err).toMatch(/^drydock: advisory data missing for Debian:12: no loaded source covers it$/m);
    expect(r.err).toMatch(/--allow-missing-advisories/);
    // the findings it could see are still printed, under the warning
    expect(r.out).toMatch(/^WARNING: no advisory data for Debian:12: its packages were not checked \(covered: npm\)$/m);
    expect(r.out).toMatch(/^CVE-2021-23337\s+GHSA-35jh-r3h4-6jhm\s+lodash/m);
  });

  it('matrix: a language ecosystem missing — Debian tracker only, --fail-on critical: exit 4 naming npm', async () => {
    const r = await at(NOW, 'scan', ref, '--advisories', TRACKER, '--fail-on', 'critical', '-q');
    expect(r.code).toBe(EXIT.dataMissing);
    expect(r.err).toMatch(/^drydock: advisory data missing for npm: no loaded source covers it$/m);
  });

  it('matrix: no advisories at all under a gate: exit 4 naming every ecosystem', async () => {
    const r = await at(NOW, 'scan', ref, '--fail-on', 'low', '-q');
    expect(r.code).toBe(EXIT.dataMissing);
    expect(r.err).toMatch(/advisory data missing for Debian:12, npm: no loaded source covers them/);
  });

  it('matrix: covered and fresh — tracker + npm: the gate decides (exit 1 on the lodash high)', async () => {
    const r = await at(NOW, 'scan', ref, '--advisories', TRACKER, '--advisories', NPM, '--fail-on', 'high', '--max-advisory-age', '30d', '-q');
    expect(r.code).toBe(EXIT.fail);
    expect(r.err).toMatch(/1 finding\(s\) at or above high/);
    expect(r.out).not.toMatch(/WARNING/);
  });

  it('JSON: coverage per image and every source with its ecosystems, dates and age', async () => {
    const r = await at(NOW, 'scan', ref, '--advisories', NPM, '-o', 'json', '-q');
    expect(r.code).toBe(EXIT.ok);
    const doc = JSON.parse(r.out);
    expect(doc.results[0].coverage).toEqual({ covered: ['npm'], uncovered: ['Debian:12'] });
    expect(doc.results[0].vulnerabilities.coverage).toEqual({ covered: ['npm'], uncovered: ['Debian:12'] });
    expect(doc.advisorySources).toEqual([expect.objectContaining({ path: NPM, kind: 'osv', ecosystems: ['npm'], producedAt: '2024-08-13T19:53:25.000Z', ageDays: 27 })]);
    expect(doc.advisoryProblems).toEqual(['advisory data missing for Debian:12: no loaded source covers it', expect.stringMatching(/stale: .*npm \(osv\) is 27d old/)]);
  });

  it('HTML: the page says which ecosystems were not checked', async () => {
    const r = await at(NOW, 'scan', ref, '--advisories', NPM, '-o', 'html', '-q');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('<section id="coverage">');
    expect(r.out).toContain('No advisory data for Debian:12: those packages were not checked (covered: npm).');
  });

  it('without a gate: findings and the warning, exit 0', async () => {
    const r = await at(NOW, 'scan', ref, '--advisories', NPM);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/^WARNING: no advisory data for Debian:12/m);
    expect(r.out).toMatch(/^CVE-2021-23337\s/m);
    expect(r.err).toMatch(/^warning: advisory data missing for Debian:12/m);
  });

  it('--policy with vulnerabilities rules is a gate (exit 4); vulnerability_data_unavailable fires once accepted', async () => {
    const r = await at(NOW, 'scan', ref, '--advisories', NPM, '--policy', 'default', '-q');
    expect(r.code).toBe(EXIT.dataMissing);
    const accepted = await at(NOW, 'scan', ref, '--advisories', NPM, '--policy', 'default', '--allow-missing-advisories', '-q');
    expect(accepted.code).not.toBe(EXIT.dataMissing);
    expect(accepted.out).toMatch(/vulnerabilities\s+vulnerability_data_unavailable\s+vulnerability_data_unavailable\s+WARN\s+No vulnerability data for Debian:12/);
    // a bundle with no vulnerabilities rules does not gate on vulnerabilities: its own verdict stands
    const ports = await bundleFile('ports', [rule('dockerfile', 'exposed_ports', 'STOP', { ports: '22', type: 'denylist' })]);
    expect((await at(NOW, 'scan', ref, '--advisories', NPM, '--policy', ports, '-q')).code).toBe(EXIT.ok);
  });
});

describe('an --advisories path that holds no advisory is a usage error (exit 64)', () => {
  it('matrix: an empty directory, README.md, a JSON that is not an advisory', async () => {
    for (const p of [join(work, 'empty'), join(work, 'README.md'), join(work, 'package.json')]) {
      const r = await at(NOW, 'scan', ref, '--advisories', NPM, '--advisories', p, '-q');
      expect(r.code, p).toBe(EXIT.usage);
      expect(r.err).toContain(`advisories: ${p} holds no advisory Drydock reads`);
    }
    // even without a gate: naming the wrong file is never a silent no-op
    expect((await at(NOW, 'scan', ref, '--advisories', join(work, 'README.md'))).err).toMatch(/README\.md holds no advisory.*not JSON/);
  });
});

describe('freshness: a gate over old data fails closed (exit 4)', () => {
  it('matrix: stale data — a month later the npm sample is past the 5-day default; the message names source and age', async () => {
    const r = await at('2024-10-01T00:00:00Z', 'scan', ref, '--advisories', TRACKER, '--advisories', NPM, '--fail-on', 'critical', '-q');
    expect(r.code).toBe(EXIT.dataMissing);
    expect(r.err).toContain(`drydock: advisory data stale: ${NPM} (osv) is 48d old (produced 2024-08-13T19:53:25.000Z), older than --max-advisory-age 5d`);
    expect(r.err).toMatch(/security-tracker \(debian-tracker-json\+debian-vuln-list\) is 28d old/);
  });

  it('the threshold: --max-advisory-age, then DRYDOCK_MAX_ADVISORY_AGE; 0 lifts it', async () => {
    const args = ['scan', ref, '--advisories', TRACKER, '--advisories', NPM, '--fail-on', 'critical', '-q'];
    expect((await at('2024-10-01T00:00:00Z', ...args, '--max-advisory-age', '60d')).code).toBe(EXIT.ok);
    expect((await cli({ DRYDOCK_NOW: '2024-10-01T00:00:00Z', DRYDOCK_MAX_ADVISORY_AGE: '60d' }, ...args)).code).toBe(EXIT.ok);
    expect((await cli({ DRYDOCK_NOW: '2024-10-01T00:00:00Z', DRYDOCK_MAX_ADVISORY_AGE: '30d' }, ...args)).code).toBe(EXIT.dataMissing);
    expect((await at('2024-10-01T00:00:00Z', ...args, '--max-advisory-age', '0')).code).toBe(EXIT.ok);
    expect((await at('2024-10-01T00:00:00Z', ...args, '--max-advisory-age', 'soon')).code).toBe(EXIT.usage);
  });

  it('--max-advisory-age 0 lifts the age limit only, not missing coverage', async () => {
    const r = await at('2030-01-01T00:00:00Z', 'scan', ref, '--advisories', NPM, '--fail-on', 'critical', '--max-advisory-age', '0', '-q');
    expect(r.code).toBe(EXIT.dataMissing);
    expect(r.err).not.toMatch(/stale/);
  });

  it('feeds status lists sources, ecosystems, counts, produced/synced and age', async () => {
    const r = await cli({ DRYDOCK_NOW: NOW }, 'feeds', 'status', '--advisories', NPM, '--advisories', TRACKER);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/^SOURCE\s+KIND\s+ECOSYSTEMS\s+ADVISORIES\s+PRODUCED\s+SYNCED\s+AGE$/m);
    expect(r.out).toMatch(new RegExp(`^${NPM.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+osv\\s+npm\\s+8\\s+2024-08-13 19:53\\s+\\S+ \\S+\\s+27d STALE$`, 'm'));
    expect(r.out).toMatch(/security-tracker\s+debian-tracker-json\+debian-vuln-list\s+Debian:\S+.*\s2024-09-03 00:00\s.*\s7d STALE$/m);
  });
});

describe('opt-out: --allow-missing-advisories and DRYDOCK_ALLOW_MISSING_ADVISORIES=1', () => {
  it('matrix: opt-out — the gate runs on what is there (exit 1 on lodash), the gap is a warning', async () => {
    const r = await at('2030-01-01T00:00:00Z', 'scan', ref, '--advisories', NPM, '--fail-on', 'high', '--allow-missing-advisories', '-q');
    expect(r.code).toBe(EXIT.fail);
    expect(r.err).toMatch(/^warning: advisory data missing for Debian:12: no loaded source covers it \(accepted: --allow-missing-advisories\)$/m);
    expect(r.err).toMatch(/^warning: advisory data stale: .* \(accepted: --allow-missing-advisories\)$/m);
    const env = await cli({ DRYDOCK_NOW: NOW, DRYDOCK_ALLOW_MISSING_ADVISORIES: '1' }, 'scan', ref, '--advisories', TRACKER, '--fail-on', 'critical', '-q');
    expect(env.code).toBe(EXIT.ok);
  });
});

describe('--fail-on and --severity', () => {
  const base = () => ['scan', ref, '--advisories', TRACKER, '--advisories', NPM, '--max-advisory-age', '30d', '-q'];

  it('--fail-on takes any capitalisation and "unknown" (every finding counts)', async () => {
    expect((await at(NOW, ...base(), '--fail-on', 'HIGH')).code).toBe(EXIT.fail);
    expect((await at(NOW, ...base(), '--fail-on', 'Critical')).code).toBe(EXIT.ok);
    const unknown = await at(NOW, ...base(), '--fail-on', 'unknown');
    expect(unknown.code).toBe(EXIT.fail);
    expect(unknown.err).toMatch(/at or above unknown/);
    expect((await at(NOW, ...base(), '--fail-on', 'severe')).code).toBe(EXIT.usage);
  });

  it('--severity filters the output, not the gate', async () => {
    const r = await at(NOW, ...base(), '--severity', 'negligible,LOW', '--fail-on', 'high');
    expect(r.code).toBe(EXIT.fail);
    expect(r.out).toMatch(/^CVE-2011-3374\s+apt/m);
    expect(r.out).not.toContain('lodash');
    expect((await at(NOW, ...base(), '--severity', 'bad')).code).toBe(EXIT.usage);
  });
});

describe("the policy bundle's allowlist applies to --fail-on", () => {
  it('an allowlisted CVE does not fail --fail-on; it is shown as suppressed with its reason (table and JSON)', async () => {
    const rules = [rule('vulnerabilities', 'package', 'STOP', { severity_comparison: '>=', severity: 'critical' })];
    const allow = await bundleFile('allow-lodash', rules, [{ id: 'i1', gate: 'vulnerabilities', trigger_id: 'CVE-2021-23337+lodash' }]);
    const r = await at(NOW, ...['scan', ref, '--advisories', TRACKER, '--advisories', NPM, '--max-advisory-age', '30d'], '--policy', allow, '--fail-on', 'high');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/^CVE-2021-23337\s+GHSA-35jh-r3h4-6jhm\s+lodash\s.*suppressed \(allowlist w1\/i1: accepted risks\)$/m);
    expect(r.err).toMatch(/1 finding\(s\) at or above high suppressed by the policy allowlist/);
    const json = await at(NOW, ...['scan', ref, '--advisories', TRACKER, '--advisories', NPM, '--max-advisory-age', '30d'], '--policy', allow, '--fail-on', 'high', '-o', 'json');
    const f = JSON.parse(json.out).results[0].vulnerabilities.findings.find((x: { id: string }) => x.id === 'CVE-2021-23337');
    expect(f.suppressed).toEqual({ by: 'allowlist w1/i1', reason: 'accepted risks' });
    // expired: it applies no more, and --fail-on fails again
    const expired = await bundleFile('allow-expired', rules, [{ id: 'i1', gate: 'vulnerabilities', trigger_id: 'CVE-2021-23337+lodash', expires_on: '2024-01-01T00:00:00Z' }]);
    expect((await at(NOW, ...['scan', ref, '--advisories', TRACKER, '--advisories', NPM, '--max-advisory-age', '30d'], '--policy', expired, '--fail-on', 'high', '-q')).code).toBe(EXIT.fail);
  });
});
