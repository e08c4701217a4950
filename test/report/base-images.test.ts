/**
 * The renderers' share of `drydock scan --base-images`: the table's Base and Rebuild lines and
 * GROUP columns (findings, fired rules) within the width, SARIF's properties, and the HTML line
 * (escaped: the base's reference comes from a registry and the image's annotations).
 * The end-to-end run through the built CLI and a registry is test/cli/base-images.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { BaseImageInfo, RebuildAdvice } from '../../shared/base/types.js';
import type { Finding, MatchResult } from '../../shared/match/index.js';
import type { PolicyResult } from '../../shared/policy/types.js';
import { renderHtmlReport } from '../../shared/report/html.js';
import { sarifLog } from '../../shared/report/sarif.js';
import { baseLine, rebuildLine, renderPolicy, renderTable } from '../../shared/report/table.js';
import type { ImageInventory } from '../../shared/scan.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;
const TOOL = { name: 'drydock', version: '0.0.0-test' };

const inv: ImageInventory = {
  image: {
    reference: 'reg.example/team/app:1',
    manifestDigest: D('a'),
    configDigest: D('b'),
    platform: { os: 'linux', architecture: 'amd64' },
    layers: [
      { index: 0, digest: D('0'), diffId: D('d'), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: 10, cached: false, entries: 1, uncompressedBytes: 10 },
      { index: 1, digest: D('1'), diffId: D('e'), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: 10, cached: false, entries: 1, uncompressedBytes: 10 },
    ],
  },
  packages: [],
  warnings: [],
} as unknown as ImageInventory;

const finding = (id: string, name: string, layer: string, layerGroup: 'base' | 'application'): Finding & { layerGroup: string } =>
  ({ id, aliases: [], severity: 'high', fixState: 'fixed', fixedIn: '2', package: { type: 'deb', name, version: '1', purl: `pkg:deb/debian/${name}@1` }, layer, evidence: [], layerGroup }) as unknown as Finding & { layerGroup: string };

const match: MatchResult = {
  findings: [finding('CVE-2026-0001', 'openssl', D('d'), 'base'), finding('CVE-2026-0002', 'myapp', D('e'), 'application')],
  judgedThroughOwner: [],
  unmatchable: [],
  counts: { packages: 2, packagesLookedUp: 2, keysLookedUp: 2, advisoryEntriesChecked: 2, findings: 2, ownedByOsPackage: 0, notAffected: 0, withdrawn: 0, invalidVersions: 0 },
  issues: [],
} as unknown as MatchResult;

const base: BaseImageInfo = {
  status: 'identified',
  source: 'annotation',
  reference: `reg.example/base/debian:12@${D('c')}`,
  registry: 'reg.example',
  repository: 'base/debian',
  tag: '12',
  digest: D('c'),
  layerCount: 1,
  trusted: true,
  reason: 'named by its annotations',
  newest: { digest: D('f'), tag: '12' },
  signature: { status: 'signed', signers: ['release'] },
};
const advice: RebuildAdvice = {
  base: 'reg.example/base/debian:12',
  from: D('c'),
  to: D('f'),
  clears: [{ id: 'CVE-2026-0001', package: 'openssl', version: '1', severity: 'high', fixedIn: '2' }],
  remains: 0,
  summary: 'Rebuilding on reg.example/base/debian:12 (sha256:ffffffffffff) clears 1 finding in the base layers; 0 remain',
};

describe('table', () => {
  it('says the base, the newer digest and the rebuild advice; marks each finding base or app', () => {
    const out = renderTable([inv], [match], { bases: [base], rebuild: [advice] });
    expect(out).toContain(`Base: reg.example/base/debian:12@${D('c')} (trusted, 1 layer, by its annotations, signature signed by release); newer digest ${D('f')} exists (tag 12)\n`);
    expect(out).toContain('Rebuild: Rebuilding on reg.example/base/debian:12 (sha256:ffffffffffff) clears 1 finding in the base layers; 0 remain: CVE-2026-0001 (openssl 1 → 2)\n');
    expect(out).toMatch(/^ID\s+ALIASES\s+PACKAGE\s+INSTALLED\s+FIXED-IN\s+SEVERITY\s+GROUP\s+LAYER$/m);
    expect(out).toMatch(/^CVE-2026-0001\s.*\sbase\s+#0 dddddddddddd$/m);
    expect(out).toMatch(/^CVE-2026-0002\s.*\sapp\s+#1 eeeeeeeeeeee$/m);
    // without a base list: no lines, no column
    const plain = renderTable([inv], [match]);
    expect(plain).not.toMatch(/^Base:|GROUP/m);
    expect(baseLine({ status: 'unknown', layerCount: 0, trusted: false, reason: 'no trusted base image leads it' })).toBe('Base: not identified: no trusted base image leads it');
    expect(baseLine({ ...base, trusted: false, newest: undefined, signature: undefined } as BaseImageInfo)).toMatch(/\(NOT trusted, 1 layer, by its annotations\)$/);
    expect(rebuildLine({ ...advice, clears: [], summary: 'A newer x exists, but it clears none' })).toBe('Rebuild: A newer x exists, but it clears none');
    // a tag or reason taken from the image's annotations cannot write escape sequences to the terminal
    expect(baseLine({ ...base, reference: 'reg.example/base/debian:12\u001b[2J@sha256:x' })).toContain('debian:12?[2J@sha256:x');
    expect(baseLine({ status: 'unknown', layerCount: 0, trusted: false, reason: 'named \u001b]0;pwned\u0007' })).toBe('Base: not identified: named ?]0;pwned?');
  });

  it('the policy table names each fired rule\'s layer group, and stays within the width', () => {
    const result: PolicyResult = {
      verdict: 'fail',
      reason: 'STOP rule fired',
      bundleId: 'b',
      bundleDigest: D('9'),
      policyIds: ['p'],
      fired: [
        { policyId: 'base-rules', ruleId: 'r1', gate: 'vulnerabilities', trigger: 'package', triggerId: 'CVE-2026-0001+openssl', action: 'WARN', message: 'HIGH vulnerability CVE-2026-0001 in os package (deb) openssl 1; fixed in 2', layerGroup: 'base' },
        { policyId: 'app-rules', ruleId: 'r2', gate: 'vulnerabilities', trigger: 'package', triggerId: 'CVE-2026-0002+myapp', action: 'STOP', message: 'HIGH vulnerability CVE-2026-0002 in myapp', layerGroup: 'application' },
        { policyId: 'whole', ruleId: 'r3', gate: 'base_image', trigger: 'stale', triggerId: 'x', action: 'WARN', message: 'stale base' },
      ],
    } as unknown as PolicyResult;
    const out = renderPolicy(result, { width: 80 });
    expect(out).toMatch(/^GATE\s+TRIGGER\s+TRIGGER-ID\s+ACTION\s+GROUP\s+DETAIL$/m);
    expect(out).toMatch(/^vulnerabilities\s+package\s+CVE-2026-0001\+openssl\s+WARN\s+base\s/m);
    expect(out).toMatch(/^vulnerabilities\s+package\s+CVE-2026-0002\+myapp\s+STOP\s+app\s/m);
    expect(out).toMatch(/^base_image\s+stale\s+x\s+WARN\s+image\s/m);
    for (const line of out.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    expect(renderPolicy({ ...result, fired: [result.fired[2]!] }, { width: 80 })).not.toContain('GROUP');
  });
});

describe('SARIF and HTML', () => {
  it('SARIF: base and rebuild in the run\'s image properties, layerGroup on each result', () => {
    const log = sarifLog({ results: [inv], matches: [match], tool: TOOL, bases: [base], rebuild: [advice] }) as { runs: Array<{ results: Array<{ ruleId: string; properties: Record<string, unknown> }>; properties: { images: Array<Record<string, unknown>> } }> };
    const run = log.runs[0]!;
    expect(run.properties.images[0]).toMatchObject({ base: { digest: D('c'), trusted: true }, rebuild: { to: D('f') } });
    expect(Object.fromEntries(run.results.map((r) => [r.ruleId, r.properties.layerGroup]))).toEqual({ 'CVE-2026-0001': 'base', 'CVE-2026-0002': 'application' });
  });

  it('HTML: a Base image and a Rebuild line, escaped', () => {
    const hostile = { ...base, reference: 'reg.example/<img src=x onerror=alert(1)>:12' };
    const html = renderHtmlReport({ inventory: inv, match, tool: TOOL, base: hostile, rebuild: advice });
    expect(html).toContain('<dt>Base image</dt><dd>reg.example/&lt;img src=x onerror=alert(1)&gt;:12 (trusted, 1 layer');
    expect(html).toContain('<dt>Rebuild</dt><dd>Rebuilding on reg.example/base/debian:12');
    expect(html).not.toContain('<img src=x');
    expect(renderHtmlReport({ inventory: inv, match, tool: TOOL })).not.toContain('Base image');
  });
});
