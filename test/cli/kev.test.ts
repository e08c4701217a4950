/**
 * Known exploited (CISA KEV) and likely exploited (FIRST EPSS) through `drydock scan`, in-process,
 * on an image this test builds (Debian 12 with glibc 2.36-9+deb12u1, before DSA-5514-1's fix of
 * CVE-2023-4911) and the real fixtures: the Debian tracker's list entries, the full 2024-09-09
 * KEV catalog (CVE-2023-4911 added 2023-11-21, due 2023-12-12), NVD records for severity. The
 * real EPSS extracts score none of the image's CVEs, so EPSS comes from a CSV this test writes
 * in FIRST's format (its model line copied from the 2023-03-07 extract). No mocks: the scan's
 * "now" is set with DRYDOCK_NOW (tests only).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../shared/cli/main.js';
import { schemaErrors } from '../../shared/pipeline/messages.js';
import { runCli } from '../support/cli.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { buildImage } from '../support/image-builder.js';

const ADV = join(SHARED_FIXTURES, 'advisories');
const TRACKER = join(ADV, 'debian', 'security-tracker');
const KEV = join(ADV, 'kev', 'known_exploited_vulnerabilities.2024.09.09.json');
/** the day after the KEV catalog: CVE-2023-4911 is 9 months past due */
const AFTER = '2024-09-10T00:00:00Z';
/** within CVE-2023-4911's KEV window (added 2023-11-21, due 2023-12-12) */
const BEFORE = '2023-12-01T00:00:00Z';
let work: string;
let ref: string;
let epss: string;

const at = (now: string, ...argv: string[]) => runCli(argv, { DRYDOCK_CACHE_DIR: join(work, 'cache'), DRYDOCK_NOW: now });
const scan = (now: string, ...extra: string[]) => at(now, 'scan', ref, '--advisories', TRACKER, '--advisories', KEV, '--advisories', epss, '--max-advisory-age', '0', '-q', ...extra);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-kev-cli-'));
  const layout = join(work, 'layout');
  await buildImage(layout, {
    tag: 'v1',
    layers: [
      {
        files: [
          { path: 'etc/os-release', content: OS_RELEASE_12 },
          { path: 'var/lib/dpkg/status', content: statusFile(stanza('libc6', '2.36-9+deb12u1', { Source: 'glibc' }), stanza('libssl3', '3.0.11-1~deb12u1', { Source: 'openssl' })) },
        ],
      },
    ],
  });
  ref = `oci:${layout}:v1`;
  epss = join(work, 'epss_scores-2024-09-09.csv');
  await writeFile(epss, '#model_version:v2023.03.01,score_date:2024-09-09T00:00:00+0000\ncve,epss,percentile\nCVE-2023-4911,0.76239,0.98011\nCVE-2023-5363,0.00152,0.52312\n');
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('drydock scan with KEV and EPSS', () => {
  it('JSON: the finding carries kev and epss; the KEV and EPSS files are sources without advisories', async () => {
    const r = await scan(AFTER, '-o', 'json');
    expect(r.err).toBe('');
    expect(r.code).toBe(EXIT.ok);
    const doc = JSON.parse(r.out);
    const findings = doc.results[0].vulnerabilities.findings;
    const glibc = findings.find((f: { id: string }) => f.id === 'CVE-2023-4911');
    expect(glibc.package.name).toBe('libc6');
    expect(glibc.kev).toEqual({ dateAdded: '2023-11-21', dueDate: '2023-12-12' });
    expect(glibc.epss).toEqual({ score: 0.76239, percentile: 0.98011, date: '2024-09-09' });
    expect(findings.filter((f: { kev?: unknown }) => f.kev)).toHaveLength(1);
    const sources = doc.advisorySources as Array<{ kind: string; advisories: number; ecosystems: string[] }>;
    expect(sources.filter((s) => s.kind === 'kev' || s.kind === 'epss').map((s) => [s.kind, s.advisories, s.ecosystems])).toEqual([
      ['kev', 0, []],
      ['epss', 0, []],
    ]);
  });

  it('table: KEV first (marked with its due date), then severity, then EPSS; an EPSS column', async () => {
    const r = await scan(AFTER);
    const lines = r.out.split('\n');
    const head = lines.findIndex((l) => l.startsWith('ID '));
    expect(lines[head]).toMatch(/SEVERITY\s+EPSS\s+LAYER/);
    expect(lines[head + 1]).toMatch(/^CVE-2023-4911 \[KEV due 2023-12-12\] .*libc6 .*0\.762 \(p98\)/);
    expect(lines.filter((l) => l.includes('[KEV')).length).toBe(1);
    expect(lines.some((l) => /^CVE-2023-5363 .*0\.002 \(p52\)/.test(l))).toBe(true);
  });

  it('HTML: a sortable KEV column with the badge and due date, and EPSS', async () => {
    const r = await scan(AFTER, '-o', 'html');
    expect(r.out).toContain('<th scope="col" data-key="kev" data-type="number" data-first="descending" aria-sort="none"><button type="button">KEV</button></th>');
    expect(r.out).toContain('data-key="epss"');
    const row = r.out.split('\n').find((l) => l.includes('data-id="CVE-2023-4911"'))!;
    expect(row).toContain('>KEV</span> <span class="muted">due 2023-12-12</span>');
    expect(row).toContain('<td class="mono" data-v="0.76239">0.762 <span class="muted">p98</span></td>');
  });

  it('default policy: STOP on a KEV finding past its due date', async () => {
    const r = await scan(AFTER, '--policy', 'default', '-o', 'json');
    expect(r.code).toBe(EXIT.fail);
    const policy = JSON.parse(r.out).results[0].policy;
    const kev = policy.fired.filter((f: { trigger: string }) => f.trigger === 'kev');
    expect(kev).toHaveLength(1);
    expect(kev[0]).toMatchObject({ ruleId: 'vuln-kev-past-due', action: 'STOP', triggerId: 'CVE-2023-4911+libc6' });
    expect(kev[0].message).toMatch(/past its due date 2023-12-12/);
  });

  it('default policy: WARN on a KEV finding before its due date', async () => {
    const r = await scan(BEFORE, '--policy', 'default', '-o', 'json');
    const policy = JSON.parse(r.out).results[0].policy;
    const kev = policy.fired.filter((f: { trigger: string }) => f.trigger === 'kev');
    expect(kev).toHaveLength(1);
    expect(kev[0]).toMatchObject({ ruleId: 'vuln-kev', action: 'WARN', triggerId: 'CVE-2023-4911+libc6' });
    expect(kev[0].message).toMatch(/due 2023-12-12/);
    expect(policy.fired.some((f: { action: string }) => f.action === 'STOP')).toBe(false);
    expect(r.code).toBe(EXIT.warn);
  });

  it('--fail-on-kev: exit 1 on a KEV finding; exit 4 without a KEV catalog; 0 when none is known exploited', async () => {
    const hit = await scan(AFTER, '--fail-on-kev');
    expect(hit.code).toBe(EXIT.fail);
    expect(hit.err).toBe('drydock: 1 known exploited finding(s) (CISA KEV: CVE-2023-4911) (--fail-on-kev)\n');
    const noKev = await at(AFTER, 'scan', ref, '--advisories', TRACKER, '--max-advisory-age', '0', '-q', '--fail-on-kev');
    expect(noKev.code).toBe(EXIT.dataMissing);
    expect(noKev.err).toContain('known-exploited data missing: --fail-on-kev needs a CISA KEV catalog');
    const older = join(ADV, 'kev', 'catalog-2022.05.13-2-entries.vuln-list-update.json');
    const none = await at(AFTER, 'scan', ref, '--advisories', TRACKER, '--advisories', older, '--max-advisory-age', '0', '-q', '--fail-on-kev');
    expect(none.err).toBe('');
    expect(none.code).toBe(EXIT.ok);
  });

  it('a KEV or EPSS file alone is not advisory data: it covers no ecosystem', async () => {
    const r = await at(AFTER, 'scan', ref, '--advisories', KEV, '--max-advisory-age', '0', '-q', '--fail-on', 'critical');
    expect(r.code).toBe(EXIT.dataMissing);
    expect(r.err).toMatch(/advisory data missing for Debian:12/);
  });

  it("the pipeline's result message: findings may carry kev and epss (optional, shape checked)", async () => {
    const event = JSON.parse(await readFile(new URL('../../events/slack-notifier-sns-result.json', import.meta.url), 'utf8'));
    const msg = JSON.parse(event.Records[0].Sns.Message);
    expect(schemaErrors('drydock.result/1', msg)).toEqual([]);
    msg.topFindings[0].kev = { dateAdded: '2023-11-21', dueDate: '2023-12-12', ransomware: true };
    msg.topFindings[0].epss = { score: 0.76239, percentile: 0.98011, date: '2024-09-09' };
    expect(schemaErrors('drydock.result/1', msg)).toEqual([]);
    msg.topFindings[0].epss.score = 1.5;
    msg.topFindings[0].kev.extra = 'x';
    expect(schemaErrors('drydock.result/1', msg).length).toBeGreaterThanOrEqual(2);
  });
});
