/**
 * SARIF 2.1.0 output, validated by the official OASIS schema (draft-04, with errata 01, in
 * ../shared/fixtures/schemas) through Ajv's draft-04 class, on a real scan: an image this test
 * builds (Debian 12 with glibc 2.36-9+deb12u1, before DSA-5514-1's fix of CVE-2023-4911, and
 * OpenSSL 3.0.11; lodash 4.17.20 under /app from the published package.json) matched by the
 * library the CLI uses against the real fixtures: the Debian tracker entries, the NVD and CVE
 * List records for severity, the full 2024-09-09 CISA KEV catalog and GitHub's lodash
 * advisory. The real EPSS extracts score none of the image's CVEs, so EPSS comes from a CSV
 * written here in FIRST's format (its model line copied from the 2023-03-07 extract), as
 * test/cli/kev.test.ts does. No mocks.
 */
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AjvDraft04Module from 'ajv-draft-04';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryAdvisoryStore } from '../../shared/adapters/local/memory-advisory-store.js';
import { loadAdvisories } from '../../shared/advisories/load.js';
import { openSource } from '../../shared/image/open.js';
import { coverageOf, imageEcosystems, matchInventory, type Coverage, type MatchResult } from '../../shared/match/index.js';
import { parseIgnoreFile } from '../../shared/match/suppress.js';
import { fingerprint, imageRepository, renderSarif, SARIF_LIMITS, securitySeverity, type SarifInput } from '../../shared/report/sarif.js';
import { scanImage, type ImageInventory } from '../../shared/scan.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { buildImage } from '../support/image-builder.js';

const TOOL = { name: 'drydock', version: '0.1.0' };
const ADV = join(SHARED_FIXTURES, 'advisories');
const TRACKER = join(ADV, 'debian', 'security-tracker');
const KEV = join(ADV, 'kev', 'known_exploited_vulnerabilities.2024.09.09.json');
const NVD = [join(ADV, 'nvd', 'nvd-api2-debian'), join(ADV, 'nvd', 'cve5-debian')];
const LODASH_GHSA = join(ADV, 'npm', 'GHSA-35jh-r3h4-6jhm.json');
const NOW = new Date('2024-09-10T00:00:00Z');

/** SARIF documents read back as plain JSON */
type Json = Record<string, any>;

let work: string;
let inventory: ImageInventory;
let epss: string;
let validate: ((doc: unknown) => boolean) & { errors?: unknown };

/** Scan the built image and match it against `paths`, as `drydock scan` does. */
async function matchWith(paths: string[], ignoreYaml?: string): Promise<{ match: MatchResult; coverage: Coverage }> {
  const store = new MemoryAdvisoryStore();
  const summary = await loadAdvisories(paths, store);
  const suppressions = ignoreYaml ? { ignore: parseIgnoreFile(ignoreYaml, '.drydockignore.yaml', NOW).entries, vex: [] } : undefined;
  const match = await matchInventory(inventory, store, suppressions ? { suppressions } : {});
  const coverage = coverageOf(imageEcosystems(inventory), summary.sources.flatMap((s) => s.ecosystems));
  match.coverage = coverage;
  return { match, coverage };
}

function sarif(input: SarifInput): Json {
  return JSON.parse(renderSarif(input)) as Json;
}

function errorsOf(doc: unknown): string {
  return validate(doc) ? '' : JSON.stringify(validate.errors, null, 1);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-sarif-'));
  const layout = join(work, 'layout');
  await buildImage(layout, {
    tag: 'v1',
    layers: [
      {
        files: [
          { path: 'etc/os-release', content: OS_RELEASE_12 },
          {
            path: 'var/lib/dpkg/status',
            content: statusFile(
              stanza('libc6', '2.36-9+deb12u1', { Source: 'glibc' }),
              stanza('libssl3', '3.0.11-1~deb12u1', { Source: 'openssl' }),
              stanza('apt', '2.6.1'),
              stanza('tar', '1.34+dfsg-1.2+deb12u1'),
              stanza('zlib1g', '1:1.2.13.dfsg-1', { Source: 'zlib' }),
              stanza('libtinfo6', '6.4-4', { Source: 'ncurses' }),
              stanza('libgcrypt20', '1.10.1-3'),
            ),
          },
        ],
      },
      { files: [{ path: 'app/node_modules/lodash/package.json', content: await readFile(join(SHARED_FIXTURES, 'pkgdb', 'npm', 'node_modules', 'lodash', 'package.json')) }] },
    ],
  });
  const ref = `oci:${layout}:v1`;
  const source = await openSource(ref);
  try {
    [inventory] = (await scanImage(source, ref)) as [ImageInventory];
  } finally {
    await source.close?.();
  }
  epss = join(work, 'epss_scores-2024-09-09.csv');
  await writeFile(epss, '#model_version:v2023.03.01,score_date:2024-09-09T00:00:00+0000\ncve,epss,percentile\nCVE-2023-4911,0.76239,0.98011\nCVE-2023-5363,0.00152,0.52312\nCVE-2021-23337,0.01113,0.84602\n');

  // both packages are CommonJS with a default export: take it whichever way the loader hands it over
  type AjvCtor = new (opts: { allErrors: boolean; strict: boolean }) => import('ajv').default;
  const AjvDraft04 = ((AjvDraft04Module as unknown as { default?: AjvCtor }).default ?? AjvDraft04Module) as unknown as AjvCtor;
  const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as unknown as (a: import('ajv').default) => unknown;
  const ajv = new AjvDraft04({ allErrors: true, strict: false });
  addFormats(ajv);
  validate = ajv.compile(JSON.parse(await readFile(join(SHARED_FIXTURES, 'schemas', 'sarif-schema-2.1.0.json'), 'utf8')));
}, 120_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('the SARIF schema check itself', () => {
  it('rejects broken documents (so a pass below means something)', () => {
    const ok = { version: '2.1.0', runs: [{ tool: { driver: { name: 'x' } }, results: [] }] };
    expect(errorsOf(ok)).toBe('');
    expect(validate({ ...ok, version: '2.0.0' })).toBe(false);
    expect(validate({ version: '2.1.0', runs: [{ results: [] }] })).toBe(false); // no tool
    expect(validate({ version: '2.1.0', runs: [{ tool: { driver: { name: 'x' } }, results: [{ ruleId: 'R', level: 'fatal', message: { text: 'm' } }] }] })).toBe(false);
    expect(validate({ version: '2.1.0', runs: [{ tool: { driver: { name: 'x' } }, results: [{ ruleId: 'R', message: { text: 'm' }, suppressions: [{ kind: 'ignored' }] }] }] })).toBe(false);
    // a relative-reference uri is checked as one (format "uri-reference"): a space is not allowed
    expect(validate({ version: '2.1.0', runs: [{ tool: { driver: { name: 'x' } }, results: [{ message: { text: 'm' }, locations: [{ physicalLocation: { artifactLocation: { uri: 'a b' } } }] }] }] })).toBe(false);
  });
});

describe('renderSarif on a real scan', () => {
  let doc: Json;
  let run: Json;
  const results = () => run.results as Json[];
  const byRule = (id: string) => results().filter((r) => r.ruleId === id);

  beforeAll(async () => {
    const ignore = 'vulnerabilities:\n  - id: CVE-2023-5363\n    package: libssl3\n    reason: only TLS 1.3 with fixed key lengths is configured\n    expires: 2030-01-01\n';
    const { match, coverage } = await matchWith([TRACKER, KEV, epss, ...NVD, LODASH_GHSA], ignore);
    doc = sarif({ results: [inventory], matches: [match], coverages: [coverage], tool: TOOL });
    run = doc.runs[0];
    if (process.env.G4_DUMP) await writeFile(process.env.G4_DUMP, JSON.stringify(doc, null, 2));
  });

  it('is valid SARIF 2.1.0 under the official schema, one run by drydock', () => {
    expect(errorsOf(doc)).toBe('');
    expect(doc.version).toBe('2.1.0');
    expect(doc.runs).toHaveLength(1);
    expect(run.tool.driver).toMatchObject({ name: 'drydock', version: '0.1.0', semanticVersion: '0.1.0' });
    expect(results().length).toBeGreaterThan(3);
  });

  it('one rule per vulnerability id, sorted; every result points at its rule by id and index', () => {
    const rules = run.tool.driver.rules as Json[];
    const ids = rules.map((r) => r.id);
    expect(ids).toEqual([...new Set(results().map((r) => r.ruleId))].sort());
    for (const r of results()) expect(rules[r.ruleIndex]?.id).toBe(r.ruleId);
    for (const rule of rules) {
      expect(rule.shortDescription.text.length).toBeGreaterThan(0);
      expect(rule.fullDescription.text.length).toBeGreaterThan(0);
      expect(rule.properties.tags.slice(0, 2)).toEqual(['security', 'vulnerability']);
    }
  });

  it('CVE-2023-4911 (glibc): known exploited, ranked first, error level, its CVSS as security-severity, KEV and EPSS in message and properties', () => {
    const [glibc] = byRule('CVE-2023-4911');
    expect(results()[0]).toBe(glibc);
    expect(glibc!.level).toBe('error');
    expect(glibc!.properties).toMatchObject({ kev: true, kevDateAdded: '2023-11-21', kevDueDate: '2023-12-12', epss: 0.76239, epssPercentile: 0.98011, epssDate: '2024-09-09', packageName: 'libc6', installedVersion: '2.36-9+deb12u1', sourcePackage: 'glibc' });
    expect(glibc!.message.text).toMatch(/^libc6 2\.36-9\+deb12u1 \(source glibc\) is affected by CVE-2023-4911 \(high severity from \S+, CVSS 7\.8\)\. Fixed in 2\.36-9\+deb12u3\./);
    expect(glibc!.message.text).toContain('Known exploited (CISA KEV): added 2023-11-21, due 2023-12-12');
    expect(glibc!.message.text).toContain('EPSS 0.76239 (percentile 0.98011) on 2024-09-09');
    const rule = run.tool.driver.rules[glibc!.ruleIndex];
    // NVD scores it 7.8 (HIGH): GitHub ranks the alert by that number
    expect(rule.properties['security-severity']).toBe('7.8');
    expect(rule.properties.tags).toEqual(['security', 'vulnerability', 'high']);
    expect(rule.defaultConfiguration.level).toBe('error');
    expect(rule.helpUri).toBe('https://security-tracker.debian.org/tracker/CVE-2023-4911');
  });

  it('KEV first, then severity, then EPSS: the same order as the table', () => {
    const rank = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'];
    const keys = results().map((r) => [r.properties.kev ? 0 : 1, rank.indexOf(r.properties.severity), -(r.properties.epss ?? -1)] as const);
    const sorted = [...keys].sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
    expect(keys).toEqual(sorted);
    expect(results().filter((r) => r.properties.kev)).toHaveLength(1);
  });

  it('levels follow severity; security-severity is a number in GitHub’s band for it', () => {
    const band: Record<string, [number, number]> = { critical: [9.0, 10], high: [7.0, 8.9], medium: [4.0, 6.9], low: [0.1, 3.9], negligible: [0.1, 3.9] };
    const level: Record<string, string> = { critical: 'error', high: 'error', medium: 'warning', low: 'note', negligible: 'note', unknown: 'warning' };
    const seen = new Set<string>();
    for (const r of results()) {
      const sev = r.properties.severity as string;
      seen.add(sev);
      expect(r.level, r.ruleId).toBe(level[sev]);
      const s = r.properties['security-severity'];
      if (sev === 'unknown') {
        expect(s, r.ruleId).toBeUndefined();
        continue;
      }
      expect(s, r.ruleId).toMatch(/^\d+\.\d$/);
      expect(Number(s)).toBeGreaterThanOrEqual(band[sev]![0]);
      expect(Number(s)).toBeLessThanOrEqual(band[sev]![1]);
    }
    // the fixtures give the image findings of every severity but low: critical (zlib, NVD 9.8) to negligible (apt,
    // Debian's "unimportant") and unknown (tracker entries no one scores)
    expect([...seen].sort()).toEqual(['critical', 'high', 'medium', 'negligible', 'unknown']);
  });

  it('locations: the package database the package was read from, relative, under the image’s uriBaseId', () => {
    for (const r of results()) {
      const loc = r.locations[0].physicalLocation;
      expect(loc.artifactLocation.uriBaseId).toBe('IMAGE');
      expect(loc.artifactLocation.uri).not.toMatch(/^\//);
      expect(loc.region.startLine).toBe(1);
    }
    expect(byRule('CVE-2023-4911')[0]!.locations[0].physicalLocation.artifactLocation.uri).toBe('var/lib/dpkg/status');
    const lodash = results().find((r) => r.properties.packageName === 'lodash')!;
    expect(lodash.ruleId).toBe('CVE-2021-23337');
    expect(lodash.properties.aliases).toContain('GHSA-35jh-r3h4-6jhm');
    expect(lodash.locations[0].physicalLocation.artifactLocation.uri).toBe('app/node_modules/lodash/package.json');
    expect(lodash.message.text).toContain('Fixed in 4.17.21.');
    expect(run.originalUriBaseIds.IMAGE.description.text).toContain(inventory.image.manifestDigest);
  });

  it('partialFingerprints: stable per (image repository, rule, package, version), distinct per finding', () => {
    const prints = results().map((r) => r.partialFingerprints.primaryLocationLineHash as string);
    expect(new Set(prints).size).toBe(prints.length);
    for (const p of prints) expect(p).toMatch(/^[0-9a-f]{32}$/);
    const glibc = byRule('CVE-2023-4911')[0]!;
    const repo = imageRepository(inventory.image.reference);
    expect(repo).toBe('oci:layout');
    expect(glibc.partialFingerprints.primaryLocationLineHash).toBe(fingerprint(repo, { id: 'CVE-2023-4911', package: { type: 'deb', name: 'libc6', version: '2.36-9+deb12u1', purl: '' } }));
    // the same repository under another tag or digest: the same fingerprints; another repository or version: others
    expect(imageRepository('123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api:1.4.2')).toBe(imageRepository('123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api@sha256:' + 'a'.repeat(64)));
    expect(imageRepository('debian:bookworm')).toBe('docker.io/library/debian');
    expect(imageRepository('docker-archive:/tmp/x/save.tar:docker.io/library/debian:bookworm')).toBe('docker.io/library/debian');
    const pkg = { type: 'deb', name: 'libc6', version: '2.36-9+deb12u1', purl: '' };
    expect(fingerprint('a/b', { id: 'CVE-1', package: pkg })).not.toBe(fingerprint('a/c', { id: 'CVE-1', package: pkg }));
    expect(fingerprint('a/b', { id: 'CVE-1', package: pkg })).not.toBe(fingerprint('a/b', { id: 'CVE-1', package: { ...pkg, version: '2.36-9+deb12u3' } }));
  });

  it('an ignore-file suppression stays as a result with an external suppression and its justification', () => {
    const ssl = byRule('CVE-2023-5363').find((r) => r.properties.packageName === 'libssl3')!;
    expect(ssl.suppressions).toEqual([{ kind: 'external', status: 'accepted', justification: expect.stringMatching(/^ignore-file: only TLS 1\.3 with fixed key lengths is configured \(until 2030-01-01\)/) }]);
    expect(ssl.message.text).toContain('Suppressed by ignore-file');
    expect(results().filter((r) => r.suppressions)).toHaveLength(1);
  });

  it('covered data: the invocation succeeds and says nothing', () => {
    expect(run.invocations).toEqual([{ executionSuccessful: true }]);
  });

  it('is deterministic: the same input, the same bytes', async () => {
    const { match, coverage } = await matchWith([TRACKER, KEV, epss, ...NVD, LODASH_GHSA]);
    const a = renderSarif({ results: [inventory], matches: [match], coverages: [coverage], tool: TOOL });
    const b = renderSarif({ results: [inventory], matches: [{ ...match, findings: [...match.findings].reverse() }], coverages: [coverage], tool: TOOL });
    expect(b).toBe(a);
  });
});

describe('coverage gaps fail closed', () => {
  it('npm packages with only Debian data: an error notification naming npm, execution not successful; accepted: a warning', async () => {
    const { match, coverage } = await matchWith([TRACKER, KEV]);
    expect(coverage.uncovered).toEqual(['npm']);
    const doc = sarif({ results: [inventory], matches: [match], coverages: [coverage], tool: TOOL, problems: ['advisory data missing for npm: no loaded source covers it', 'advisory data stale: /feeds/debian (debian-tracker-json) is 9d old (synced 2024-09-01T00:00:00.000Z), older than --max-advisory-age 5d'] });
    expect(errorsOf(doc)).toBe('');
    const inv = doc.runs[0].invocations[0];
    expect(inv.executionSuccessful).toBe(false);
    expect(inv.toolExecutionNotifications.map((n: Json) => [n.descriptor.id, n.level])).toEqual([
      ['advisory-data-missing', 'error'],
      ['advisory-data-stale', 'error'],
    ]);
    expect(inv.toolExecutionNotifications[0].message.text).toMatch(/^No advisory data for npm in oci:.*:v1: its packages were not checked \(covered: Debian:12\)\.$/);
    expect(inv.toolExecutionNotifications[1].message.text).toContain('older than --max-advisory-age 5d');
    const descriptors = doc.runs[0].tool.driver.notifications.map((n: Json) => n.id);
    expect(descriptors).toEqual(expect.arrayContaining(['advisory-data-missing', 'advisory-data-stale']));

    const accepted = sarif({ results: [inventory], matches: [match], coverages: [coverage], tool: TOOL, allowMissingAdvisories: true });
    expect(errorsOf(accepted)).toBe('');
    expect(accepted.runs[0].invocations[0].executionSuccessful).toBe(true);
    expect(accepted.runs[0].invocations[0].toolExecutionNotifications[0]).toMatchObject({ level: 'warning', message: { text: expect.stringContaining('accepted with --allow-missing-advisories') } });
  });

  it('no advisory data at all: no results, and the run says the packages were not checked', () => {
    const doc = sarif({ results: [inventory], matches: [undefined], tool: TOOL });
    expect(errorsOf(doc)).toBe('');
    expect(doc.runs[0].results).toEqual([]);
    expect(doc.runs[0].invocations[0].executionSuccessful).toBe(false);
    expect(doc.runs[0].invocations[0].toolExecutionNotifications[0].message.text).toMatch(/none of its 8 packages was checked/);
  });
});

describe('several platforms, policies and limits', () => {
  it('the same finding in two platform images is one result naming both platforms; one uriBaseId per image', async () => {
    const { match, coverage } = await matchWith([TRACKER, KEV, epss, ...NVD, LODASH_GHSA]);
    const arm: ImageInventory = { ...inventory, image: { ...inventory.image, platform: { os: 'linux', architecture: 'arm64' } } };
    const doc = sarif({ results: [inventory, arm], matches: [match, match], coverages: [coverage, coverage], tool: TOOL });
    expect(errorsOf(doc)).toBe('');
    const run = doc.runs[0];
    expect(run.results).toHaveLength(match.findings.length);
    expect(run.results[0].properties.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    expect(Object.keys(run.originalUriBaseIds).sort()).toEqual(['IMAGE_LINUX_AMD64', 'IMAGE_LINUX_ARM64']);
  });

  it('policy verdicts are in the run properties', async () => {
    const { match, coverage } = await matchWith([TRACKER, KEV, epss, ...NVD, LODASH_GHSA]);
    const policy = {
      verdict: 'fail' as const,
      reason: 'STOP rule fired',
      bundleId: 'drydock-default',
      bundleDigest: `sha256:${'c'.repeat(64)}`,
      policyIds: ['p'],
      fired: [
        { policyId: 'p', gate: 'vulnerabilities', trigger: 'kev', triggerId: 'CVE-2023-4911+libc6', action: 'STOP' as const, message: 'known exploited past due' },
        { policyId: 'p', gate: 'vulnerabilities', trigger: 'package', triggerId: 'CVE-2023-5363+libssl3', action: 'WARN' as const, message: 'm', allowlistedBy: { allowlistId: 'a', itemId: 'i' } },
      ],
      evaluatedAt: NOW.toISOString(),
      evaluationMs: 1,
    };
    const doc = sarif({ results: [inventory], matches: [match], coverages: [coverage], policies: [policy], tool: TOOL });
    expect(errorsOf(doc)).toBe('');
    expect(doc.runs[0].properties.policies).toEqual([expect.objectContaining({ verdict: 'fail', bundleId: 'drydock-default', stop: 1, warn: 0, allowlisted: 1 })]);
  });

  it('more findings than a run may carry: cut to the limit, most urgent kept, the cut named in an error notification', async () => {
    // GitHub's bound; the test lowers it (the same code path) rather than render 25,001 results
    expect(SARIF_LIMITS.maxResults).toBe(25_000);
    const { match, coverage } = await matchWith([TRACKER, KEV, epss, ...NVD, LODASH_GHSA]);
    const glibc = match.findings.find((f) => f.id === 'CVE-2023-4911')!;
    // invented: copies of a real finding under made-up ids, low severity, to cross the limit
    const many = [...Array.from({ length: 10 }, (_, i) => ({ ...glibc, id: `CVE-2099-${10000 + i}`, kev: undefined, severity: 'low' as const, cvss: undefined })), glibc];
    const doc = JSON.parse(renderSarif({ results: [inventory], matches: [{ ...match, findings: many }], coverages: [coverage], tool: TOOL }, { limits: { maxResults: 5 } })) as Json;
    expect(errorsOf(doc)).toBe('');
    const run = doc.runs[0];
    expect(run.results).toHaveLength(5);
    expect(run.results[0].ruleId).toBe('CVE-2023-4911');
    expect(run.tool.driver.rules).toHaveLength(5);
    expect(run.invocations[0].executionSuccessful).toBe(false);
    expect(run.invocations[0].toolExecutionNotifications.at(-1)).toMatchObject({ level: 'error', descriptor: { id: 'results-truncated' } });
    expect(run.invocations[0].toolExecutionNotifications.at(-1).message.text).toMatch(/^6 of 11 findings are not in this document: one run carries at most 5 results .*SARIF_LIMITS\.maxResults/);
  });

  it('security-severity: the CVSS score where it agrees with the severity shown, else the severity’s band', () => {
    const cvss = { version: '3.1' as const, vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', score: 9.8, severity: 'critical' as const };
    expect(securitySeverity({ severity: 'critical', cvss })).toBe('9.8');
    // Debian rates it low for its build: GitHub must not rank it as critical
    expect(securitySeverity({ severity: 'low', cvss })).toBe('2.0');
    expect(securitySeverity({ severity: 'high' })).toBe('8.0');
    expect(securitySeverity({ severity: 'unknown' })).toBeUndefined();
  });
});
