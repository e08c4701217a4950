/**
 * The HTML report: rendered for an inventory with findings of every severity and a policy
 * result, then opened in headless Chromium (Debian's chromium) — the DOM after the page's own
 * script ran, a probe that clicks the column headers like a person would, and a screenshot.
 * Also `drydock scan -o html` on a real OCI layout.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Severity } from '../../shared/advisories/types.js';
import type { Package } from '../../shared/catalog/types.js';
import { EXIT } from '../../shared/cli/main.js';
import { runCli } from '../support/cli.js';
import type { Finding, MatchResult } from '../../shared/match/index.js';
import type { PolicyResult } from '../../shared/policy/types.js';
import { escapeHtml, formatMs, htmlReportKey, renderHtmlReport, type HtmlReportInput } from '../../shared/report/html.js';
import type { ImageInventory } from '../../shared/scan.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';
import { chromiumMissing, decodeEntities, dumpDom, screenshot } from '../support/chromium.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { buildImage } from '../support/image-builder.js';

const TOOL = { name: 'drydock', version: '0.0.0-test' };
const L0 = `sha256:${'0a'.repeat(32)}`;
const L1 = `sha256:${'1b'.repeat(32)}`;
const L2 = `sha256:${'2c'.repeat(32)}`;
const D0 = `sha256:${'d0'.repeat(32)}`;
const D1 = `sha256:${'d1'.repeat(32)}`;
const D2 = `sha256:${'d2'.repeat(32)}`;
const HOSTILE = `<img src=x data-xss="1" onerror="document.title='pwned'">`;

const pkg = (name: string, version: string, layer: string, type = 'deb'): Package => ({
  type,
  name,
  version,
  purl: `pkg:${type}/${encodeURIComponent(name)}@${encodeURIComponent(version)}`,
  layer,
  locations: ['/var/lib/dpkg/status'],
});

const packages: Package[] = [
  pkg('libc6', '2.36-9+deb12u3', D0),
  pkg('libssl3', '3.0.11-1~deb12u1', D0),
  pkg('apt', '2.6.1', D0),
  pkg('zlib1g', '1:1.2.13.dfsg-1', D0),
  pkg('curl', '7.88.1-10+deb12u4', D1),
  pkg('lodash', '4.17.20', D2, 'npm'),
  pkg(HOSTILE, '1.0.0', D2, 'npm'),
];

let n = 0;
function finding(id: string, severity: Severity, p: Package, opts: Partial<Finding> = {}): Finding {
  n++;
  return {
    id,
    aliases: [],
    severity,
    fixState: opts.fixedIn ? 'fixed' : 'not-fixed',
    package: { type: p.type, name: p.name, version: p.version, purl: p.purl },
    layer: p.layer,
    evidence: [],
    ...(n % 2 ? { cvss: { version: '3.1', vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', score: { critical: 9.8, high: 7.5, medium: 5.3, low: 3.1, negligible: 1.0, unknown: 0 }[severity], severity } } : {}),
    ...opts,
  } as Finding;
}

// Deliberately out of order: the page must put them worst first itself.
const findings: Finding[] = [
  finding('CVE-2011-3374', 'negligible', packages[2]!),
  finding('CVE-2023-5678', 'medium', packages[1]!, { fixedIn: '3.0.13-1~deb12u1' }),
  finding('CVE-2023-38545', 'critical', packages[4]!, { fixedIn: '7.88.1-10+deb12u5', aliases: ['DSA-5510-1'] }),
  finding('CVE-2024-0727', 'low', packages[1]!, { fixedIn: '3.0.13-1~deb12u1' }),
  finding('CVE-2021-23337', 'high', packages[5]!, { fixedIn: '4.17.21', aliases: ['GHSA-35jh-r3h4-6jhm'] }),
  finding('CVE-2023-45853', 'critical', packages[3]!, { fixState: 'wont-fix' }),
  finding('CVE-2023-4911', 'high', packages[0]!, { fixedIn: '2.36-9+deb12u4' }),
  finding('CVE-2023-5363', 'medium', packages[1]!, { fixedIn: '3.0.11-1~deb12u2' }),
  finding('GHSA-xxxx-yyyy-zzzz', 'unknown', packages[6]!, { summary: `summary with ${HOSTILE}` }),
  finding('CVE-2022-27943', 'low', packages[0]!),
];

const inventory: ImageInventory = {
  image: {
    reference: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/api:1.4.2',
    manifestDigest: `sha256:${'a'.repeat(64)}`,
    configDigest: `sha256:${'b'.repeat(64)}`,
    platform: { os: 'linux', architecture: 'amd64' },
    layers: [
      { index: 0, digest: L0, diffId: D0, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: 29_123_456, cached: false, entries: 9000, uncompressedBytes: 78_000_000 },
      { index: 1, digest: L1, diffId: D1, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: 4_500_000, cached: false, entries: 300, uncompressedBytes: 12_000_000 },
      { index: 2, digest: L2, diffId: D2, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: 700_000, cached: true, entries: 40, uncompressedBytes: 2_000_000 },
    ],
    config: {
      exposedPorts: ['8080/tcp'],
      env: [],
      labels: {},
      history: [
        { createdBy: '/bin/sh -c #(nop) ADD file:abc in /', emptyLayer: false },
        { createdBy: '/bin/sh -c #(nop)  CMD ["bash"]', emptyLayer: true },
        { createdBy: 'RUN apt-get install -y curl', emptyLayer: false },
        { createdBy: 'COPY node_modules /app/node_modules', emptyLayer: false },
      ],
      created: '2026-11-01T10:00:00Z',
    },
  },
  distro: { id: 'debian', versionId: '12', codename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)', source: '/etc/os-release' },
  packages,
  warnings: [{ code: 'CATALOG_ERROR', message: `bad record ${HOSTILE}`, path: '/var/lib/dpkg/status' }],
};

const match: MatchResult = {
  findings,
  judgedThroughOwner: [],
  unmatchable: [],
  counts: { packages: packages.length, packagesLookedUp: packages.length, keysLookedUp: 7, advisoryEntriesChecked: 40, findings: findings.length, ownedByOsPackage: 0, notAffected: 0, withdrawn: 0, invalidVersions: 0 },
  issues: [],
};

const policy: PolicyResult = {
  verdict: 'fail',
  reason: 'STOP rule fired',
  bundleId: 'drydock-default',
  bundleDigest: `sha256:${'c'.repeat(64)}`,
  mapping: { id: 'drydock-default-mapping', name: 'default' },
  policyIds: ['drydock-default-policy'],
  fired: [
    { policyId: 'drydock-default-policy', ruleId: 'vuln-critical-fixed', gate: 'vulnerabilities', trigger: 'package', triggerId: 'CVE-2023-38545+curl', action: 'STOP', message: 'CRITICAL vulnerability CVE-2023-38545 in curl (fixed in 7.88.1-10+deb12u5)' },
    { policyId: 'drydock-default-policy', ruleId: 'vuln-high', gate: 'vulnerabilities', trigger: 'package', triggerId: 'CVE-2021-23337+lodash', action: 'WARN', message: 'HIGH vulnerability CVE-2021-23337 in lodash' },
    {
      policyId: 'drydock-default-policy',
      ruleId: 'vuln-high',
      gate: 'vulnerabilities',
      trigger: 'package',
      triggerId: 'CVE-2023-4911+glibc',
      action: 'WARN',
      message: `HIGH vulnerability CVE-2023-4911 in libc6 ${HOSTILE}`,
      allowlistedBy: { allowlistId: 'team-allowlist', itemId: 'glibc-looney-tunables' },
    },
  ],
  evaluatedAt: '2026-11-23T10:00:00.000Z',
  evaluationMs: 3,
};

const input: HtmlReportInput = {
  inventory,
  match,
  policy,
  tool: TOOL,
  generatedAt: '2026-11-23T10:00:00.000Z',
  image: { registry: '111122223333.dkr.ecr.eu-west-1.amazonaws.com', repository: 'team/api', tags: ['1.4.2', 'latest'], digest: `sha256:${'e'.repeat(64)}` },
  resultId: '20261123T100000000Z-abcdef123456',
  reason: 'analysis:job-1',
};

const SEVERITY_ORDER = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'];
const rank = (s: string) => SEVERITY_ORDER.indexOf(s);

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-html-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('renderHtmlReport (the page as text)', () => {
  const html = renderHtmlReport(input);

  it('is one self-contained page: no external URL is loaded, and a CSP allows only its own hashed style and script', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<(link|img|iframe|object|embed)\b/i);
    expect(html).not.toMatch(/<[a-z]+\s[^>]*\b(src|href)=/i);
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
    expect(csp).toBeDefined();
    expect(csp).toContain("default-src 'none'");
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1]!;
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    const hash = (s: string) => createHash('sha256').update(s).digest('base64');
    expect(csp).toContain(`script-src 'sha256-${hash(script)}'`);
    expect(csp).toContain(`style-src 'sha256-${hash(style)}'`);
    expect(html.match(/<script>/g)).toHaveLength(1);
  });

  it('escapes every string from the image, the advisories and the bundle', () => {
    expect(html).not.toContain(HOSTILE);
    expect(html).toContain(escapeHtml(HOSTILE));
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });

  it('shows the verdict, the image, every finding, the fired rules with their allowlist, and the layers', () => {
    expect(html).toMatch(/<header class="verdict verdict-fail" id="verdict" data-verdict="fail">/);
    expect(html).toContain('<div class="verdict-label" id="verdict-label">FAIL</div>');
    for (const f of findings) expect(html).toContain(`data-id="${escapeHtml(f.id)}"`);
    expect(html).toContain('team/api');
    expect(html).toContain('<code>1.4.2</code> <code>latest</code>');
    expect(html).toContain(`sha256:${'e'.repeat(64)}`);
    expect(html).toContain('linux/amd64');
    expect(html).toContain('Debian GNU/Linux 12 (bookworm)');
    expect(html).toContain('yes (<code>team-allowlist</code> / <code>glibc-looney-tunables</code>)');
    expect(html).toContain('CVE-2023-38545+curl');
    // layer #1 added curl only; its history line is shown
    const layer1 = html.slice(html.indexOf(`data-layer="${L1}"`), html.indexOf(`data-layer="${L2}"`));
    expect(layer1).toContain('data-layer-packages="1"');
    expect(layer1).toContain('curl');
    expect(layer1).toContain('RUN apt-get install -y curl');
    expect(layer1).not.toContain('libssl3');
    // the chart: one bar per severity with its count
    expect(html).toMatch(/<g class="bar" data-severity="critical" data-count="2">/);
    expect(html).toMatch(/<g class="bar" data-severity="unknown" data-count="1">/);
  });

  it('without a policy says so; without advisories says there is no vulnerability data; an error is the verdict', () => {
    const none = renderHtmlReport({ inventory, match, tool: TOOL });
    expect(none).toContain('data-verdict="none"');
    expect(none).toContain('No policy evaluated');
    const noData = renderHtmlReport({ inventory, tool: TOOL });
    expect(noData).toContain('No vulnerability data');
    expect(noData).not.toContain('findings-table');
    const err = renderHtmlReport({ inventory, tool: TOOL, error: { code: 'CORRUPT_LAYER', message: 'gzip: invalid header' } });
    expect(err).toContain('data-verdict="error"');
    expect(err).toContain('CORRUPT_LAYER: gzip: invalid header');
  });

  // issue 17 item 6: one layer was shown under two short digests, its compressed digest in the
  // layers section (0a0a…) and its diff id beside each finding (d0d0…)
  it('shows each layer under one short id (its diff id, as findings name it), the compressed digest only as a tooltip', () => {
    const text = html.replace(/<[^>]*>/g, ' ');
    for (const [digest, diffId] of [[L0, D0], [L1, D1], [L2, D2]] as const) {
      const short = diffId.slice(7, 19);
      expect(text).toContain(short);
      expect(text).not.toContain(digest.slice(7, 19));
      // the other digest is there to hover over, not a second id
      expect(html).toContain(`title="diff id ${diffId} (compressed blob ${digest})"`);
    }
    const layers = html.slice(html.indexOf('<section id="layers">'));
    expect(layers).toContain(`>${D1.slice(7, 19)}</code>`);
    const curl = html.slice(html.indexOf('data-id="CVE-2023-38545"'));
    expect(curl.slice(0, curl.indexOf('</tr>'))).toContain(`#1 ${D1.slice(7, 19)}`);
  });

  // issue 17 item 6: the policy's evaluation time was printed raw, "2.5803069999999948 ms"
  it('prints the evaluation time rounded ("2.6 ms"), never a raw float', () => {
    const page = renderHtmlReport({ ...input, policy: { ...policy, evaluationMs: 2.5803069999999948 } });
    expect(page).toContain('in 2.6 ms</dd>');
    expect(page).not.toContain('2.5803');
    expect([0.01, 0.04, 2.5803069999999948, 9.96, 14.4, 999.4, 1234.5, 61_000].map(formatMs)).toEqual(['< 0.1 ms', '< 0.1 ms', '2.6 ms', '10 ms', '14 ms', '999 ms', '1.2 s', '61 s']);
    expect(formatMs(0)).toBe('0 ms');
  });

  // issue 17 item 6: "Tags none" for a tagged OCI layout scanned as oci:<dir> (no :tag)
  it('an OCI layout scanned without :tag shows the tags its source gave it (ref.name), not "none"', () => {
    const named = { ...inventory.image, reference: 'oci:/images/api', tags: ['v1'] };
    const page = renderHtmlReport({ inventory: { ...inventory, image: named }, tool: TOOL });
    expect(page).toContain('<dt>Tags</dt><dd><code>v1</code></dd>');
    const unnamed = renderHtmlReport({ inventory: { ...inventory, image: { ...inventory.image, reference: 'oci:/images/api' } }, tool: TOOL });
    expect(unnamed).toContain('<dt>Tags</dt><dd><span class="muted">none</span></dd>');
    const tagged = renderHtmlReport({ inventory: { ...inventory, image: { ...inventory.image, reference: 'oci:/images/api:v2' } }, tool: TOOL });
    expect(tagged).toContain('<dt>Tags</dt><dd><code>v2</code></dd>');
  });

  it('puts the HTML report beside the pipeline JSON report', () => {
    expect(htmlReportKey('reports/sha256/abc/20261123T1-x.json.gz')).toBe('reports/sha256/abc/20261123T1-x.html');
    expect(htmlReportKey('reports/a/b.json')).toBe('reports/a/b.html');
  });
});

/**
 * Adds a script that clicks the findings headers and writes what it saw into <pre id="probe">;
 * its hash joins the page's CSP (a script the CSP does not name would not run — checked too).
 */
function withProbe(html: string, probe: string): string {
  const hash = createHash('sha256').update(probe).digest('base64');
  return html.replace("script-src 'sha256-", `script-src 'sha256-${hash}' 'sha256-`).replace('</body>', `<script>${probe}</script></body>`);
}

const PROBE = `(function(){
var rows=function(){return Array.prototype.map.call(document.querySelectorAll('#findings-table tbody tr'),function(r){return {id:r.getAttribute('data-id'),severity:r.getAttribute('data-severity'),pkg:r.cells[3].textContent};});};
var click=function(k){document.querySelector('#findings-table th[data-key="'+k+'"] button').click();};
var out={title:document.title,verdict:document.getElementById('verdict').getAttribute('data-verdict'),label:document.getElementById('verdict-label').textContent,
  images:document.querySelectorAll('img').length,xss:document.querySelectorAll('[data-xss]').length,initial:rows()};
click('package');out.byPackage=rows();
click('severity');out.bySeverity=rows();out.sevSort=document.querySelector('#findings-table th[data-key="severity"]').getAttribute('aria-sort');
click('severity');out.bySeverityAsc=rows();
click('cvss');out.byCvss=rows();
var pre=document.createElement('pre');pre.id='probe';pre.textContent=JSON.stringify(out);document.body.appendChild(pre);
})();`;

describe.skipIf(chromiumMissing)(`the report in headless Chromium${chromiumMissing ? ` (skipped: ${chromiumMissing})` : ''}`, () => {
  it('has the verdict and every finding in the DOM after scripts ran, and nothing injected', async () => {
    const file = join(work, 'report.html');
    await writeFile(file, renderHtmlReport(input));
    const dom = await dumpDom(file);
    expect(dom).toContain('data-verdict="fail"');
    expect(dom).toMatch(/id="verdict-label">FAIL</);
    for (const f of findings) expect(decodeEntities(dom)).toContain(f.id);
    expect(dom).not.toMatch(/<img/i);
    expect(decodeEntities(dom)).toContain(HOSTILE);
  });

  it('sorts worst first, then by any header clicked; severity by rank (critical > high > medium > low > negligible > unknown), not by name', async () => {
    const file = join(work, 'probe.html');
    await writeFile(file, withProbe(renderHtmlReport(input), PROBE));
    const dom = await dumpDom(file);
    const raw = /<pre id="probe">([\s\S]*?)<\/pre>/.exec(dom)?.[1];
    expect(raw, 'the probe script ran (its hash is in the CSP)').toBeDefined();
    const out = JSON.parse(decodeEntities(raw!)) as {
      title: string;
      verdict: string;
      label: string;
      images: number;
      xss: number;
      initial: Array<{ id: string; severity: string; pkg: string }>;
      byPackage: Array<{ id: string; severity: string; pkg: string }>;
      bySeverity: Array<{ id: string; severity: string }>;
      sevSort: string;
      bySeverityAsc: Array<{ id: string; severity: string }>;
      byCvss: Array<{ id: string; severity: string }>;
    };
    expect(out.verdict).toBe('fail');
    expect(out.label).toBe('FAIL');
    expect(out.title).not.toContain('pwned');
    expect(out.images).toBe(0);
    expect(out.xss).toBe(0);
    expect(out.initial).toHaveLength(findings.length);
    expect(out.initial[0]!.severity).toBe('critical');
    const initialSev = out.initial.map((r) => r.severity);
    expect(initialSev).toEqual([...initialSev].sort((a, b) => rank(a) - rank(b)));
    // alphabetical would put low before medium: the data has both, so this tells them apart
    expect(initialSev.indexOf('medium')).toBeLessThan(initialSev.indexOf('low'));

    const pkgs = out.byPackage.map((r) => r.pkg.trim());
    expect(pkgs).toEqual([...pkgs].sort((a, b) => a.localeCompare(b, undefined, { numeric: true, sensitivity: 'base' })));
    expect(pkgs).not.toEqual(out.initial.map((r) => r.pkg.trim()));

    expect(out.sevSort).toBe('descending');
    expect(out.bySeverity.map((r) => r.severity)).toEqual(initialSev);
    expect(out.bySeverityAsc.map((r) => r.severity)).toEqual([...initialSev].reverse());
    expect(out.bySeverityAsc[0]!.severity).toBe('unknown');
    expect(out.byCvss[0]!.severity).toBe('critical');
  });

  it('a script the CSP does not name does not run', async () => {
    const file = join(work, 'injected.html');
    await writeFile(file, renderHtmlReport(input).replace('</body>', `<script>document.title='pwned'</script></body>`));
    const dom = await dumpDom(file);
    expect(dom).not.toContain('<title>pwned</title>');
    expect(dom).toMatch(/<title>FAIL — team\/api:1\.4\.2 — Drydock<\/title>/);
  });

  it('takes a screenshot: a real PNG, not a blank page', async () => {
    const file = join(work, 'shot.html');
    const png = join(work, 'shot.png');
    await writeFile(file, renderHtmlReport(input));
    await screenshot(file, png);
    // DRYDOCK_KEEP_SCREENSHOT=<file.png> keeps it for a person to look at
    if (process.env.DRYDOCK_KEEP_SCREENSHOT) await copyFile(png, process.env.DRYDOCK_KEEP_SCREENSHOT);
    const bytes = await readFile(png);
    expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect((await stat(png)).size).toBeGreaterThan(10 * 1024);
  });
});

describe('drydock scan -o html', () => {
  let ref: string;
  const ADV = join(SHARED_FIXTURES, 'advisories');

  async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    return runCli(argv, { DRYDOCK_CACHE_DIR: join(work, 'cache') });
  }

  beforeAll(async () => {
    const layout = join(work, 'layout');
    await buildImage(layout, {
      tag: 'v1',
      layers: [
        {
          files: [
            { path: 'etc/os-release', content: OS_RELEASE_12 },
            { path: 'var/lib/dpkg/status', content: statusFile(stanza('libssl3', '3.0.11-1~deb12u1', { Source: 'openssl' }), stanza('apt', '2.6.1')) },
          ],
        },
      ],
    });
    ref = `oci:${layout}:v1`;
  });

  it('with --policy: the page carries the verdict, the fired rules and the findings', async () => {
    const { code, out } = await cli('scan', ref, '-o', 'html', '-q', '--policy', 'default', '--max-advisory-age', '0', '--advisories', join(ADV, 'debian', 'security-tracker'));
    expect(out.startsWith('<!DOCTYPE html>')).toBe(true);
    const verdict = /data-verdict="(pass|warn|fail)"/.exec(out)?.[1];
    expect(verdict).toBeDefined();
    expect(code).toBe(verdict === 'fail' ? EXIT.fail : verdict === 'warn' ? EXIT.warn : EXIT.ok);
    expect(out).toContain(`id="verdict-label">${verdict!.toUpperCase()}<`);
    expect(out).toContain('drydock-default');
    expect(out).toContain('data-id="CVE-2023-5363"');
    expect(out).toContain('libssl3');
  });

  it('without --policy: "no policy evaluated", packages by layer', async () => {
    const { code, out } = await cli('scan', ref, '-o', 'html', '-q');
    expect(code).toBe(EXIT.ok);
    expect(out).toContain('data-verdict="none"');
    expect(out).toContain('No policy evaluated');
    expect(out).toContain('data-layer-packages="2"');
  });

  // issue 17 item 6 ("Tags none" for a tagged layout), end to end: the layout's
  // org.opencontainers.image.ref.name reaches the inventory as image.tags (the source,
  // resolveImages and scan.ts carry it).
  it('oci:<layout> without :tag: the page shows the layout\'s tag v1, not "none"', async () => {
    const { code, out } = await cli('scan', ref.replace(/:v1$/, ''), '-o', 'html', '-q');
    expect(code).toBe(EXIT.ok);
    expect(out).toContain('<dt>Tags</dt><dd><code>v1</code></dd>');
  });

  it('lists html among the outputs', async () => {
    const { code, err } = await cli('scan', ref, '-o', 'pdf');
    expect(code).toBe(EXIT.usage);
    expect(err).toContain('table, json, cyclonedx, spdx, html');
  });
});
