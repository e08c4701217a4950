/**
 * The HTML report of one evaluation: a single self-contained page (inline CSS, a few lines of
 * inline JS, an inline SVG chart; nothing fetched) that a pre-signed S3 link or `drydock scan
 * -o html` hands to a person. Everything that comes from the image, the advisories or the
 * bundle is escaped, and a Content-Security-Policy allows only this page's own style and
 * script (by hash): even a missed escape could not run a script or load anything.
 *
 * Sections: the verdict (big, coloured), the image, a severity chart, the fired policy rules,
 * the findings (sortable by clicking a column header; severity sorts by rank, not by name),
 * and the layers with the packages each one introduced.
 */
import { createHash } from 'node:crypto';
import { SEVERITIES, type Severity } from '../advisories/types.js';
import type { Package } from '../catalog/types.js';
import { formatPlatform } from '../image/platform.js';
import { parseReference } from '../image/reference.js';
import { severityRank, type Coverage, type Finding, type MatchResult } from '../match/index.js';
import { noAdvisorySource } from '../match/coverage.js';
import type { FiredRule, PolicyResult } from '../policy/types.js';
import type { ImageInventory, LayerReport } from '../scan.js';
import type { BaseImageInfo, RebuildAdvice } from '../base/types.js';
import { baseLine, rebuildLine } from './table.js';

export type ReportVerdict = 'pass' | 'warn' | 'fail' | 'error';

export interface HtmlReportInput {
  /** the analysed image: layers, packages (with the layer that introduced each), distro */
  inventory: ImageInventory;
  /** the findings; absent: no vulnerability data was available */
  match?: MatchResult;
  /** the policy evaluation; absent: the page says "no policy evaluated" */
  policy?: PolicyResult;
  /** the image's ecosystems the advisory data covers and misses (default: match.coverage) */
  coverage?: Coverage;
  /** advisory data problems a gate would fail on (missing ecosystems, stale sources) */
  problems?: string[];
  tool: { name: string; version: string };
  /** when the evaluation ran (default: the policy's evaluation time, else now) */
  generatedAt?: Date | string;
  /**
   * The image as the pipeline names it (the image record): registry, repository, tags and the
   * pushed digest. Absent fields are read from the inventory's reference.
   */
  image?: { registry?: string; repository?: string; tags?: string[]; digest?: string };
  /** the pipeline's result id and the evaluation's reason ("analysis:…", "rescan:…") */
  resultId?: string;
  reason?: string;
  /** an evaluation that failed: the verdict is `error` and the message is shown */
  error?: { code: string; message: string };
  /** the image's base under a trusted base list (drydock scan --base-images), and what a rebuild on its newest digest clears */
  base?: BaseImageInfo;
  rebuild?: RebuildAdvice;
}

/** The key of the HTML report beside the pipeline's JSON report ("…/<resultId>.json.gz" → "…/<resultId>.html"). */
export { htmlReportKey } from '../pipeline/deps.js';

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for HTML content and attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESC[c]!);
}

const SEVERITY_COLOUR: Record<Severity, string> = {
  critical: '#9b1c31',
  high: '#d9480f',
  medium: '#e8a317',
  low: '#3b82c4',
  negligible: '#7c8a9e',
  unknown: '#a7aeb8',
};

const FIX_LABEL: Record<string, string> = { fixed: 'fixed', 'not-fixed': 'not fixed', 'wont-fix': "won't fix", deferred: 'deferred', undetermined: 'undetermined' };

const CSS = `
:root{--fg:#1d2433;--muted:#5b6578;--line:#dde2ea;--bg:#f6f7f9;--card:#fff}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1200px;margin:0 auto;padding:0 20px 40px}
h1{margin:0;font-size:15px;font-weight:600;letter-spacing:.02em}
h2{font-size:18px;margin:0 0 12px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin:16px 0}
.verdict{color:#fff;padding:22px 20px}
.verdict .inner{max-width:1200px;margin:0 auto;padding:0 20px}
.verdict-label{font-size:56px;font-weight:800;line-height:1.05;letter-spacing:.04em;margin:6px 0}
.verdict-reason{font-size:17px;opacity:.95}
.verdict-pass{background:#1f7a3d}.verdict-warn{background:#b26b00}.verdict-fail{background:#b42318}.verdict-error{background:#6b2fa0}.verdict-none{background:#4b5565}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;word-break:break-all}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
td.mono{white-space:nowrap}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#eef1f5;position:sticky;top:0;white-space:nowrap}
th button{all:unset;cursor:pointer;font-weight:600}
th button:focus-visible{outline:2px solid #3b82c4}
th[aria-sort=ascending] button::after{content:" \\25B2"}
th[aria-sort=descending] button::after{content:" \\25BC"}
tbody tr:hover{background:#f8fafc}
.sev{display:inline-block;min-width:78px;text-align:center;border-radius:10px;padding:1px 8px;color:#fff;font-size:12px;font-weight:600}
.sev-critical{background:#9b1c31}.sev-high{background:#d9480f}.sev-medium{background:#e8a317;color:#1d2433}.sev-low{background:#3b82c4}.sev-negligible{background:#7c8a9e}.sev-unknown{background:#a7aeb8;color:#1d2433}
.act{font-weight:700}.act-STOP{color:#b42318}.act-WARN{color:#b26b00}.act-GO{color:#1f7a3d}
tr.allowlisted{color:var(--muted)}tr.allowlisted td{text-decoration:none}
.muted{color:var(--muted)}
.chart{display:flex;gap:28px;align-items:flex-end;flex-wrap:wrap}
.counts{margin:0;padding:0;list-style:none}
details{border-top:1px solid var(--line);padding:6px 0}
details summary{cursor:pointer}
ul.pkgs{columns:3 260px;margin:8px 0 4px;padding-left:18px}
footer{max-width:1200px;margin:0 auto;padding:0 20px 30px;color:var(--muted);font-size:12px}
@media print{th{position:static}.verdict{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
`;

// Sorts a table by the clicked column: a cell's data-v when it has one (severity rank, score,
// size), else its text; numbers as numbers, text in natural order; ties keep the page's order.
const SCRIPT = `(function(){
document.querySelectorAll('table.sortable').forEach(function(t){
  var heads=t.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads,function(th,col){
    var b=th.querySelector('button');if(!b)return;
    b.addEventListener('click',function(){
      var cur=th.getAttribute('aria-sort'),first=th.dataset.first||'ascending';
      var dir=cur==='ascending'?'descending':cur==='descending'?'ascending':first;
      Array.prototype.forEach.call(heads,function(h){if(h.querySelector('button'))h.setAttribute('aria-sort','none');});
      th.setAttribute('aria-sort',dir);
      var num=th.dataset.type==='number',body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);
      var key=function(r){var c=r.cells[col],v=c.hasAttribute('data-v')?c.getAttribute('data-v'):c.textContent.trim();return num?parseFloat(v)||0:v;};
      rows.sort(function(a,b){var x=key(a),y=key(b),c=num?x-y:String(x).localeCompare(String(y),undefined,{numeric:true,sensitivity:'base'});
        if(dir==='descending')c=-c;return c||(+a.dataset.i-+b.dataset.i);});
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
});
})();`;

function sha256Base64(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('base64');
}

/** One evaluation as a self-contained HTML page. */
export function renderHtmlReport(input: HtmlReportInput): string {
  const inv = input.inventory;
  const names = imageNames(input);
  const verdict: ReportVerdict | 'none' = input.error ? 'error' : (input.policy?.verdict ?? 'none');
  const title = `${verdict === 'none' ? 'REPORT' : verdict.toUpperCase()} — ${names.display}`;
  const generatedAt = toIso(input.generatedAt ?? input.policy?.evaluatedAt ?? new Date());
  const csp = `default-src 'none'; style-src 'sha256-${sha256Base64(CSS)}'; script-src 'sha256-${sha256Base64(SCRIPT)}'; img-src data:; base-uri 'none'; form-action 'none'`;

  const parts: string[] = [];
  parts.push(
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // built from constants and base64 hashes only: nothing in it needs escaping
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    '<meta name="referrer" content="no-referrer">',
    `<meta name="generator" content="${escapeHtml(`${input.tool.name} ${input.tool.version}`)}">`,
    `<title>${escapeHtml(title)} — Drydock</title>`,
    `<style>${CSS}</style></head><body>`,
  );
  parts.push(verdictSection(input, verdict, names.display));
  parts.push('<main>');
  parts.push(imageSection(input, names));
  parts.push(coverageSection(input));
  parts.push(summarySection(input.match));
  parts.push(policySection(input.policy));
  parts.push(findingsSection(inv, input.match));
  parts.push(layersSection(inv, input.match));
  parts.push(warningsSection(inv, input.match));
  parts.push('</main>');
  parts.push(
    `<footer>Generated by ${escapeHtml(input.tool.name)} ${escapeHtml(input.tool.version)} · evaluated <time datetime="${escapeHtml(generatedAt)}">${escapeHtml(generatedAt)}</time>` +
      `${input.resultId ? ` · result <code>${escapeHtml(input.resultId)}</code>` : ''}${input.reason ? ` · ${escapeHtml(input.reason)}` : ''}</footer>`,
  );
  parts.push(`<script>${SCRIPT}</script>`, '</body></html>', '');
  return parts.join('\n');
}

interface Names {
  registry?: string;
  repository?: string;
  tags: string[];
  digest: string;
  /** "repository:tag" (or the reference) for headings */
  display: string;
}

function imageNames(input: HtmlReportInput): Names {
  const inv = input.inventory;
  let registry = input.image?.registry;
  let repository = input.image?.repository;
  let tags = input.image?.tags;
  if (!repository || !tags) {
    try {
      const ref = parseReference(inv.image.reference);
      if (ref.kind === 'registry') {
        registry ??= ref.registry;
        repository ??= ref.repository;
        tags ??= ref.tag ? [ref.tag] : [];
      } else {
        repository ??= `${ref.kind}:${ref.path}`;
        // `oci:<dir>` without a tag (or a bare path) still names an image the layout tags
        // (its org.opencontainers.image.ref.name): not "none"
        tags ??= ref.tag ? [ref.tag] : sourceTags(inv);
      }
    } catch {
      repository ??= inv.image.reference;
    }
  }
  const digest = input.image?.digest ?? inv.image.indexDigest ?? inv.image.manifestDigest;
  const t = tags ?? [];
  const display = repository ? `${repository}${t[0] ? `:${t[0]}` : `@${digest.slice(0, 19)}`}` : inv.image.reference;
  return { ...(registry ? { registry } : {}), ...(repository ? { repository } : {}), tags: t, digest, display };
}

/**
 * The names the image's source gave it (an OCI layout's org.opencontainers.image.ref.name),
 * when the inventory carries them as `image.tags`. Read defensively: only non-empty strings.
 */
function sourceTags(inv: ImageInventory): string[] {
  const tags = (inv.image as { tags?: unknown }).tags;
  return Array.isArray(tags) ? [...new Set(tags.filter((t): t is string => typeof t === 'string' && t !== ''))] : [];
}

function toIso(d: Date | string): string {
  const date = typeof d === 'string' ? new Date(d) : d;
  return Number.isNaN(date.getTime()) ? String(d) : date.toISOString();
}

function verdictSection(input: HtmlReportInput, verdict: ReportVerdict | 'none', display: string): string {
  const label = verdict === 'none' ? 'No policy evaluated' : verdict.toUpperCase();
  let reason: string;
  if (input.error) reason = `${input.error.code}: ${input.error.message}`;
  else if (input.policy) reason = input.policy.reason;
  else reason = 'no policy evaluated: the findings below are not judged (drydock scan --policy default judges them)';
  return (
    `<header class="verdict verdict-${verdict}" id="verdict" data-verdict="${verdict}"><div class="inner">` +
    `<h1>${escapeHtml(display)}</h1>` +
    `<div class="verdict-label" id="verdict-label">${escapeHtml(label)}</div>` +
    `<div class="verdict-reason">${escapeHtml(reason)}</div>` +
    '</div></header>'
  );
}

function fact(label: string, valueHtml: string | undefined): string {
  return valueHtml === undefined || valueHtml === '' ? '' : `<dt>${escapeHtml(label)}</dt><dd>${valueHtml}</dd>`;
}

function imageSection(input: HtmlReportInput, names: Names): string {
  const inv = input.inventory;
  const d = inv.distro;
  const distro = d ? (d.prettyName ?? [d.id, d.versionId ?? d.codename].filter(Boolean).join(' ')) : 'unknown';
  const code = (s: string | undefined) => (s ? `<code>${escapeHtml(s)}</code>` : undefined);
  const size = inv.image.layers.reduce((n, l) => n + l.size, 0);
  return (
    '<section id="image"><h2>Image</h2><dl class="facts">' +
    fact('Repository', escapeHtml(names.repository ?? inv.image.reference)) +
    fact('Registry', names.registry ? escapeHtml(names.registry) : undefined) +
    fact('Tags', names.tags.length ? names.tags.map((t) => `<code>${escapeHtml(t)}</code>`).join(' ') : '<span class="muted">none</span>') +
    fact('Digest', code(names.digest)) +
    fact('Manifest', names.digest !== inv.image.manifestDigest ? code(inv.image.manifestDigest) : undefined) +
    fact('Image id', code(inv.image.configDigest)) +
    fact('Platform', escapeHtml(formatPlatform(inv.image.platform))) +
    fact('Distro', escapeHtml(distro)) +
    fact('Created', inv.image.config?.created ? escapeHtml(inv.image.config.created) : undefined) +
    fact('Size', `${escapeHtml(bytes(size))} compressed, ${inv.image.layers.length} layer${inv.image.layers.length === 1 ? '' : 's'}, ${inv.packages.length} package${inv.packages.length === 1 ? '' : 's'}`) +
    fact('Reference', code(inv.image.reference)) +
    fact('Base image', input.base ? escapeHtml(baseLine(input.base).replace(/^Base: /, '')) : undefined) +
    fact('Rebuild', input.rebuild ? escapeHtml(rebuildLine(input.rebuild).replace(/^Rebuild: /, '')) : undefined) +
    '</dl></section>'
  );
}

function severityCounts(match: MatchResult): Record<Severity, number> {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of match.findings) counts[f.severity] = (counts[f.severity] ?? 0) + 1;
  return counts;
}

function summarySection(match: MatchResult | undefined): string {
  if (!match) return '<section id="summary"><h2>Vulnerabilities</h2><p class="muted">No vulnerability data: no advisories were matched against this image.</p></section>';
  const counts = severityCounts(match);
  const list = SEVERITIES.map((s) => `<li><span class="sev sev-${s}">${s}</span> <strong data-severity-count="${s}">${counts[s]}</strong></li>`).join('');
  return (
    `<section id="summary"><h2>Vulnerabilities: ${match.findings.length} in ${match.counts.packages} packages</h2>` +
    `<div class="chart">${severityChart(counts)}<ul class="counts">${list}</ul></div></section>`
  );
}

/** A bar per severity (worst first), its count above it; heights relative to the largest. */
export function severityChart(counts: Record<Severity, number>): string {
  const barW = 54;
  const gap = 18;
  const plotH = 150;
  const top = 22;
  const bottom = 24;
  const width = SEVERITIES.length * (barW + gap) + gap;
  const height = top + plotH + bottom;
  const max = Math.max(1, ...SEVERITIES.map((s) => counts[s]));
  const bars = SEVERITIES.map((s, i) => {
    const n = counts[s];
    const h = n === 0 ? 0 : Math.max(2, Math.round((n / max) * plotH));
    const x = gap + i * (barW + gap);
    const y = top + plotH - h;
    return (
      `<g class="bar" data-severity="${s}" data-count="${n}"><title>${s}: ${n}</title>` +
      `<rect x="${x}" y="${y}" width="${barW}" height="${h}" rx="3" fill="${SEVERITY_COLOUR[s]}"></rect>` +
      `<text x="${x + barW / 2}" y="${y - 6}" text-anchor="middle" font-size="13" font-weight="600" fill="#1d2433">${n}</text>` +
      `<text x="${x + barW / 2}" y="${top + plotH + 16}" text-anchor="middle" font-size="11" fill="#5b6578">${s}</text></g>`
    );
  }).join('');
  return (
    `<svg id="severity-chart" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="findings by severity" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<line x1="${gap / 2}" y1="${top + plotH + 0.5}" x2="${width - gap / 2}" y2="${top + plotH + 0.5}" stroke="#c3cad5"></line>${bars}</svg>`
  );
}

function allowlistCell(r: FiredRule): { html: string; v: string } {
  if (r.allowlistedBy) return { html: `yes (<code>${escapeHtml(r.allowlistedBy.allowlistId)}</code> / <code>${escapeHtml(r.allowlistedBy.itemId)}</code>)`, v: 'yes' };
  if (r.expiredAllowlist)
    return { html: `no — item <code>${escapeHtml(r.expiredAllowlist.itemId)}</code> of <code>${escapeHtml(r.expiredAllowlist.allowlistId)}</code> expired ${escapeHtml(r.expiredAllowlist.expiredOn)}`, v: 'expired' };
  return { html: 'no', v: 'no' };
}

const ACTION_RANK: Record<string, number> = { STOP: 3, WARN: 2, GO: 1 };

function sortHead(label: string, opts: { type?: 'number' | 'text'; first?: 'ascending' | 'descending'; sort?: 'ascending' | 'descending'; key?: string } = {}): string {
  const attrs = [
    opts.key ? ` data-key="${opts.key}"` : '',
    opts.type === 'number' ? ' data-type="number"' : '',
    opts.first ? ` data-first="${opts.first}"` : '',
    ` aria-sort="${opts.sort ?? 'none'}"`,
  ].join('');
  return `<th scope="col"${attrs}><button type="button">${escapeHtml(label)}</button></th>`;
}

function policySection(policy: PolicyResult | undefined): string {
  if (!policy) return '<section id="policy"><h2>Policy</h2><p id="no-policy">No policy evaluated.</p></section>';
  const counted = policy.fired.filter((r) => !r.allowlistedBy);
  const stops = counted.filter((r) => r.action === 'STOP').length;
  const warns = counted.filter((r) => r.action === 'WARN').length;
  const head =
    '<dl class="facts">' +
    fact('Bundle', `${escapeHtml(policy.bundleId)} <code>${escapeHtml(policy.bundleDigest)}</code>`) +
    fact('Mapping', policy.mapping ? escapeHtml(policy.mapping.name ?? policy.mapping.id ?? '') : undefined) +
    fact('Policies', policy.policyIds.length ? policy.policyIds.map((p) => `<code>${escapeHtml(p)}</code>`).join(' ') : undefined) +
    fact('Verdict', `<strong>${escapeHtml(policy.verdict.toUpperCase())}</strong> — ${escapeHtml(policy.reason)}`) +
    fact('Rules fired', `${policy.fired.length} (${stops} STOP, ${warns} WARN counted; ${policy.fired.length - counted.length} allowlisted)`) +
    fact('Evaluated', `${escapeHtml(policy.evaluatedAt)} in ${escapeHtml(formatMs(policy.evaluationMs))}`) +
    '</dl>';
  if (policy.fired.length === 0) return `<section id="policy"><h2>Policy</h2>${head}<p class="muted">No rule fired.</p></section>`;
  const rules = [...policy.fired].sort((a, b) => Number(Boolean(a.allowlistedBy)) - Number(Boolean(b.allowlistedBy)) || (ACTION_RANK[b.action] ?? 0) - (ACTION_RANK[a.action] ?? 0));
  const rows = rules
    .map((r, i) => {
      const al = allowlistCell(r);
      return (
        `<tr data-i="${i}"${r.allowlistedBy ? ' class="allowlisted"' : ''}>` +
        `<td>${escapeHtml(r.gate)}</td><td>${escapeHtml(r.trigger)}</td><td><code>${escapeHtml(r.triggerId)}</code></td>` +
        `<td data-v="${ACTION_RANK[r.action] ?? 0}"><span class="act act-${escapeHtml(r.action)}">${escapeHtml(r.action)}</span></td>` +
        `<td>${escapeHtml(r.message)}</td><td data-v="${al.v}">${al.html}</td></tr>`
      );
    })
    .join('\n');
  return (
    `<section id="policy"><h2>Policy: ${policy.fired.length} rules fired</h2>${head}` +
    '<table class="sortable" id="rules-table"><thead><tr>' +
    sortHead('Gate') +
    sortHead('Trigger') +
    sortHead('Trigger id') +
    sortHead('Action', { type: 'number', first: 'descending' }) +
    sortHead('Message') +
    sortHead('Allowlisted') +
    `</tr></thead><tbody>\n${rows}\n</tbody></table></section>`
  );
}

/** Worst first: severity, then CVSS score, then id and package. */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    severityRank(b.severity) - severityRank(a.severity) ||
    (b.cvss?.score ?? -1) - (a.cvss?.score ?? -1) ||
    a.id.localeCompare(b.id) ||
    a.package.name.localeCompare(b.package.name)
  );
}

function layerLabel(inv: ImageInventory, layerId: string): { text: string; index: number; title: string } {
  const l = inv.image.layers.find((x) => x.diffId === layerId || x.digest === layerId);
  return l ? { text: `#${l.index} ${shortDigest(layerShownId(l))}`, index: l.index, title: layerTitle(l) } : { text: shortDigest(layerId), index: 9999, title: layerId };
}

/**
 * The one id a layer is shown under, everywhere on the page (and as in the text table): its
 * diff id (the digest of its uncompressed tar, which packages and findings name), else its
 * compressed digest. The other digest is in the tooltip (layerTitle), never shown as a second id.
 */
function layerShownId(l: LayerReport): string {
  return l.diffId ?? l.digest;
}

function layerTitle(l: LayerReport): string {
  return l.diffId && l.diffId !== l.digest ? `diff id ${l.diffId} (compressed blob ${l.digest})` : l.digest;
}

/** A duration as people read it: "2.6 ms", "14 ms", "1.3 s" (never 2.5803069999999948 ms). */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return 'unknown';
  if (ms > 0 && ms < 0.05) return '< 0.1 ms';
  if (ms < 10) return `${(Math.round(ms * 10) / 10).toString()} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(Math.round(ms / 100) / 10).toString()} s`;
}

function shortDigest(d: string): string {
  return d.split(':')[1]?.slice(0, 12) ?? d.slice(0, 12);
}

/** Advisory coverage and freshness: what the findings could not see. Empty when nothing is missing. */
function coverageSection(input: HtmlReportInput): string {
  const c = input.coverage ?? input.match?.coverage;
  const problems = input.problems ?? [];
  // no advisory source at all for the OS (CentOS Stream, Fedora, …): named whether or not advisories were loaded
  const blind = noAdvisorySource(input.inventory);
  const uncovered = (c?.uncovered ?? []).filter((u) => u !== blind?.ecosystem);
  if (!blind && uncovered.length === 0 && problems.length === 0) return '';
  const lines = [
    ...(blind ? [`${blind.message[0]!.toUpperCase()}${blind.message.slice(1)}.`] : []),
    ...(c && uncovered.length > 0 ? [`No advisory data for ${uncovered.join(', ')}: those packages were not checked (covered: ${c.covered.join(', ') || 'none'}).`] : []),
    ...problems.filter((p) => !p.startsWith('advisory data missing')),
  ];
  return `<section id="coverage"><h2>Advisory data</h2><ul>${lines.map((l) => `<li><strong>Warning:</strong> ${escapeHtml(l)}</li>`).join('')}</ul></section>`;
}

function findingsSection(inv: ImageInventory, match: MatchResult | undefined): string {
  if (!match) return '';
  if (match.findings.length === 0) return '<section id="findings"><h2>Findings</h2><p>No findings.</p></section>';
  const findings = [...match.findings].sort(compareFindings);
  const rows = findings
    .map((f, i) => {
      const ids = f.aliases.length ? f.aliases : (f.related ?? []);
      const src = f.evidence[0]?.version && f.evidence[0].version !== f.package.version ? ` <span class="muted">(src ${escapeHtml(f.evidence[0].version)})</span>` : '';
      const fix = f.fixedIn ? escapeHtml(f.fixedIn) : `<span class="muted">${escapeHtml(FIX_LABEL[f.fixState] ?? f.fixState)}</span>`;
      const layer = layerLabel(inv, f.layer);
      return (
        `<tr data-i="${i}" data-id="${escapeHtml(f.id)}" data-severity="${f.severity}">` +
        `<td><strong>${escapeHtml(f.id)}</strong>${ids.length ? `<div class="muted">${ids.map(escapeHtml).join(' ')}</div>` : ''}` +
        `${f.suppressed ? `<div class="muted">suppressed: ${escapeHtml(f.suppressed.by)}: ${escapeHtml(f.suppressed.reason)}</div>` : ''}` +
        `${f.summary ? `<div class="muted">${escapeHtml(f.summary)}</div>` : ''}</td>` +
        `<td data-v="${severityRank(f.severity)}"><span class="sev sev-${f.severity}">${f.severity}</span></td>` +
        `<td data-v="${f.cvss?.score ?? -1}">${f.cvss ? escapeHtml(f.cvss.score.toFixed(1)) : ''}</td>` +
        `<td>${escapeHtml(f.package.name)} <span class="muted">${escapeHtml(f.package.type)}</span></td>` +
        `<td class="mono">${escapeHtml(f.package.version)}${src}</td>` +
        `<td class="mono" data-v="${escapeHtml(f.fixedIn ?? `~${FIX_LABEL[f.fixState] ?? f.fixState}`)}">${fix}</td>` +
        `<td class="mono" data-v="${layer.index}" title="${escapeHtml(layer.title)}">${escapeHtml(layer.text)}</td>` +
        // known exploited (CISA KEV): a badge with the due date; sorts KEV first (ransomware above)
        `<td data-v="${f.kev ? (f.kev.ransomware ? 2 : 1) : 0}">${f.kev ? `<span class="sev sev-critical kev" title="CISA KEV: added ${escapeHtml(f.kev.dateAdded)}${f.kev.ransomware ? ', known ransomware use' : ''}">KEV</span> <span class="muted">due ${escapeHtml(f.kev.dueDate)}</span>` : ''}</td>` +
        `<td class="mono" data-v="${f.epss?.score ?? -1}">${f.epss ? `${escapeHtml(f.epss.score.toFixed(3))}${f.epss.percentile !== undefined ? ` <span class="muted">p${Math.floor(f.epss.percentile * 100)}</span>` : ''}` : ''}</td></tr>`
      );
    })
    .join('\n');
  return (
    `<section id="findings"><h2>Findings (${findings.length})</h2>` +
    '<p class="muted">Click a column header to sort; severity sorts critical → high → medium → low → negligible → unknown.</p>' +
    '<table class="sortable" id="findings-table"><thead><tr>' +
    sortHead('Vulnerability', { key: 'id' }) +
    sortHead('Severity', { key: 'severity', type: 'number', first: 'descending', sort: 'descending' }) +
    sortHead('CVSS', { key: 'cvss', type: 'number', first: 'descending' }) +
    sortHead('Package', { key: 'package' }) +
    sortHead('Installed', { key: 'installed' }) +
    sortHead('Fixed in', { key: 'fixed' }) +
    sortHead('Layer', { key: 'layer', type: 'number' }) +
    sortHead('KEV', { key: 'kev', type: 'number', first: 'descending' }) +
    sortHead('EPSS', { key: 'epss', type: 'number', first: 'descending' }) +
    `</tr></thead><tbody>\n${rows}\n</tbody></table></section>`
  );
}

function historyByLayer(inv: ImageInventory): Array<string | undefined> {
  const h = inv.image.config?.history?.filter((x) => !x.emptyLayer) ?? [];
  // Only when the history names exactly one line per layer can a line be attached to a layer.
  return h.length === inv.image.layers.length ? h.map((x) => x.createdBy || undefined) : [];
}

function layersSection(inv: ImageInventory, match: MatchResult | undefined): string {
  const layers = [...inv.image.layers].sort((a, b) => a.index - b.index);
  const history = historyByLayer(inv);
  const byLayer = new Map<string, Package[]>();
  const idOf = (l: LayerReport) => l.diffId ?? l.digest;
  const known = new Set(layers.flatMap((l) => [l.digest, ...(l.diffId ? [l.diffId] : [])]));
  for (const p of inv.packages) {
    const l = layers.find((x) => x.diffId === p.layer || x.digest === p.layer);
    const key = l ? idOf(l) : p.layer;
    byLayer.set(key, [...(byLayer.get(key) ?? []), p]);
  }
  const findingsBy = new Map<string, number>();
  for (const f of match?.findings ?? []) {
    const l = layers.find((x) => x.diffId === f.layer || x.digest === f.layer);
    const key = l ? idOf(l) : f.layer;
    findingsBy.set(key, (findingsBy.get(key) ?? 0) + 1);
  }
  const items = layers.map((l) => {
    const pkgs = (byLayer.get(idOf(l)) ?? []).slice().sort((a, b) => a.name.localeCompare(b.name) || a.type.localeCompare(b.type));
    const nf = findingsBy.get(idOf(l)) ?? 0;
    const createdBy = history[l.index];
    const summary =
      `<strong>#${l.index}</strong> <code title="${escapeHtml(layerTitle(l))}">${escapeHtml(shortDigest(layerShownId(l)))}</code> · ${escapeHtml(bytes(l.size))}` +
      (l.uncompressedBytes ? ` <span class="muted">(${escapeHtml(bytes(l.uncompressedBytes))} uncompressed)</span>` : '') +
      ` · <span data-layer-packages="${pkgs.length}">${pkgs.length} packages</span>` +
      (match ? ` · ${nf} findings` : '') +
      (createdBy ? `<div class="muted mono">${escapeHtml(createdBy.length > 300 ? `${createdBy.slice(0, 300)}…` : createdBy)}</div>` : '');
    const list = pkgs.length
      ? `<ul class="pkgs">${pkgs.map((p) => `<li>${escapeHtml(p.name)} <span class="mono muted">${escapeHtml(p.version)}</span> <span class="muted">${escapeHtml(p.type)}</span></li>`).join('')}</ul>`
      : '<p class="muted">No packages introduced by this layer.</p>';
    return `<details class="layer" data-layer="${escapeHtml(l.digest)}"${pkgs.length > 0 && pkgs.length <= 40 ? ' open' : ''}><summary>${summary}</summary>${list}</details>`;
  });
  const orphans = [...byLayer.entries()].filter(([k]) => !known.has(k));
  for (const [k, pkgs] of orphans) {
    items.push(`<details class="layer"><summary><code>${escapeHtml(shortDigest(k))}</code> · ${pkgs.length} packages (a layer not in the manifest)</summary><ul class="pkgs">${pkgs.map((p) => `<li>${escapeHtml(p.name)} <span class="mono muted">${escapeHtml(p.version)}</span></li>`).join('')}</ul></details>`);
  }
  return `<section id="layers"><h2>Layers (${layers.length}) and the packages each added</h2>${items.join('\n')}</section>`;
}

function warningsSection(inv: ImageInventory, match: MatchResult | undefined): string {
  const lines: string[] = [];
  for (const w of inv.warnings) lines.push(`<li><code>${escapeHtml(w.code)}</code> ${escapeHtml(w.message)}${w.path ? ` <span class="muted">[${escapeHtml(w.path)}]</span>` : ''}</li>`);
  for (const i of match?.issues ?? []) lines.push(`<li>${escapeHtml(i.message)}</li>`);
  const unmatchable = match?.unmatchable ?? [];
  const owned = match?.judgedThroughOwner ?? [];
  if (lines.length === 0 && unmatchable.length === 0 && owned.length === 0) return '';
  let html = '<section id="notes"><h2>Notes</h2>';
  if (lines.length) html += `<details open><summary>${lines.length} warnings (the result may be incomplete)</summary><ul>${lines.join('')}</ul></details>`;
  if (owned.length)
    html += `<details><summary>${owned.length} language packages judged through the OS package that installed them</summary><ul>${owned.map((o) => `<li>${escapeHtml(o.package)} → ${escapeHtml(o.owner)}</li>`).join('')}</ul></details>`;
  if (unmatchable.length)
    html += `<details><summary>${unmatchable.length} packages with no advisory source</summary><ul>${unmatchable.map((u) => `<li>${escapeHtml(u.package)}: ${escapeHtml(u.why)}</li>`).join('')}</ul></details>`;
  return `${html}</section>`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}
