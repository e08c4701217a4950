import { formatPlatform } from '../image/platform.js';
import { SEVERITIES } from '../advisories/types.js';
import { severityRank, type Coverage, type MatchResult } from '../match/index.js';
import { noAdvisorySource } from '../match/coverage.js';
import { compareByExploitation } from '../match/exploit.js';
import { severityFromCvssFallback } from '../match/severity.js';
import type { PolicyResult } from '../policy/types.js';
import type { ImageInventory } from '../scan.js';
import type { BaseImageInfo, LayerGroup, RebuildAdvice } from '../base/types.js';

/** A finding as the CLI hands it to the renderers with --base-images: its layer group (shared/base/split.ts). */
type Grouped = { layerGroup?: LayerGroup };

/** "Base: <reference> (trusted, 3 layers, by its annotations, signature signed); newer digest sha256:… exists (tag 12)" */
export function baseLine(b: BaseImageInfo): string {
  // the reason and tag may come from the image's own annotations: no control characters reach the terminal
  return baseText(b).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

function baseText(b: BaseImageInfo): string {
  if (b.status !== 'identified') return `Base: not identified: ${b.reason}`;
  const sig = b.signature ? `, signature ${b.signature.status}${b.signature.signers.length > 0 ? ` by ${b.signature.signers.join(', ')}` : ''}` : '';
  const newer = b.newest ? `; newer digest ${b.newest.digest} exists (tag ${b.newest.tag})` : '';
  return `Base: ${b.reference} (${b.trusted ? 'trusted' : 'NOT trusted'}, ${plural(b.layerCount, 'layer')}, by its ${b.source === 'annotation' ? 'annotations' : 'layers'}${sig})${newer}`;
}

/** "Rebuild: <summary>: CVE-… (pkg 1.0 → 1.1), …": exactly the findings a rebuild on the newest base clears. */
export function rebuildLine(a: RebuildAdvice): string {
  const list = a.clears.map((c) => `${c.id} (${c.package} ${c.version}${c.fixedIn ? ` → ${c.fixedIn}` : ''})`).join(', ');
  return `Rebuild: ${a.summary}${list ? `: ${list}` : ''}`.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** A layer as people read it in a table: "#2 a1b2c3d4e5f6" (its diff id when known). */
export function shortLayer(inv: ImageInventory, layerId: string): string {
  const layer = inv.image.layers.find((l) => l.diffId === layerId || l.digest === layerId);
  const hex = layerId.split(':')[1]?.slice(0, 12) ?? layerId;
  return layer ? `#${layer.index} ${hex}` : hex;
}

/**
 * The human table: a heading per image, then its findings when advisories were matched
 * (`matches[i]` for `results[i]`), else its packages (NAME VERSION SOURCE ARCH LAYER).
 */
export function renderTable(
  results: ImageInventory[],
  matches: ReadonlyArray<MatchResult | undefined> = [],
  opts: { coverages?: ReadonlyArray<Coverage | undefined>; bases?: ReadonlyArray<BaseImageInfo | undefined>; rebuild?: ReadonlyArray<RebuildAdvice | undefined> } = {},
): string {
  const out: string[] = [];
  for (const [i, inv] of results.entries()) {
    const d = inv.distro;
    const distro = d ? `${d.prettyName ?? [d.id, d.versionId].filter(Boolean).join(' ')}` : 'unknown distro';
    out.push(`${inv.image.reference}  ${formatPlatform(inv.image.platform)}  ${inv.image.manifestDigest}`);
    out.push(`${distro}, ${plural(inv.image.layers.length, 'layer')}, ${plural(inv.packages.length, 'package')}`);
    const base = opts.bases?.[i];
    if (base) out.push(baseLine(base));
    const advice = opts.rebuild?.[i];
    if (advice) out.push(rebuildLine(advice));
    out.push('');
    const match = matches[i];
    const coverage = match?.coverage ?? (match ? opts.coverages?.[i] : undefined);
    // no advisory source at all for the OS (CentOS Stream, Fedora, …): said whether or not advisories were loaded
    const blind = noAdvisorySource(inv);
    if (blind) out.push(`WARNING: ${blind.message}`, '');
    const rest = coverage && blind ? { ...coverage, uncovered: coverage.uncovered.filter((u) => u !== blind.ecosystem) } : coverage;
    if (rest && rest.uncovered.length > 0) out.push(coverageWarning(rest), '');
    if (match) {
      out.push(renderFindingsTable(inv, match, { grouped: base !== undefined }));
      continue;
    }
    const rows = inv.packages.map((p) => [
      p.name,
      p.version,
      p.sourceName && (p.sourceName !== p.name || p.sourceVersion !== p.version)
        ? `${p.sourceName}${p.sourceVersion && p.sourceVersion !== p.version ? ` ${p.sourceVersion}` : ''}`
        : '',
      p.arch ?? '',
      shortLayer(inv, p.layer),
    ]);
    out.push(...columns([['NAME', 'VERSION', 'SOURCE', 'ARCH', 'LAYER'], ...rows]));
    out.push('');
  }
  return out.join('\n');
}

/** The line a table shows when advisory data misses an ecosystem of the image. */
export function coverageWarning(c: Coverage): string {
  return `WARNING: no advisory data for ${c.uncovered.join(', ')}: ${c.uncovered.length === 1 ? 'its' : 'their'} packages were not checked (covered: ${c.covered.join(', ') || 'none'})`;
}

function columns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

const FIX_LABEL: Record<string, string> = { 'not-fixed': '(not fixed)', 'wont-fix': "(won't fix)", deferred: '(deferred)', undetermined: '(undetermined)' };

function brief(ids: readonly string[]): string {
  return ids.length > 2 ? `${ids.slice(0, 2).join(' ')} +${ids.length - 2}` : ids.join(' ');
}

/**
 * The findings table: known exploited (CISA KEV) first, then severity, then EPSS score;
 * ID ALIASES PACKAGE INSTALLED FIXED-IN SEVERITY [EPSS] LAYER. A KEV finding's id carries
 * "[KEV due YYYY-MM-DD]" ("ransomware" added when KEV says so); the EPSS column (score and
 * percentile) appears when some finding has an EPSS score.
 */
export function renderFindingsTable(inv: ImageInventory, match: MatchResult, opts: { grouped?: boolean } = {}): string {
  const out: string[] = [];
  const bySeverity = new Map<string, number>();
  for (const f of match.findings) bySeverity.set(f.severity, (bySeverity.get(f.severity) ?? 0) + 1);
  const summary = SEVERITIES.filter((s) => bySeverity.has(s)).map((s) => `${s} ${bySeverity.get(s)}`).join(', ');
  const suppressed = match.findings.filter((f) => f.suppressed).length;
  out.push(`${match.findings.length} vulnerabilities${summary ? ` (${summary})` : ''} in ${inv.packages.length} packages${suppressed > 0 ? `; ${suppressed} suppressed` : ''}`);
  if (match.counts.ownedByOsPackage > 0) out.push(`${match.counts.ownedByOsPackage} language packages installed by OS packages were judged through those OS packages' advisories`);
  if (match.findings.length > 0) {
    out.push('');
    const sorted = [...match.findings].sort((a, b) => compareByExploitation(a, b, severityRank));
    const withEpss = sorted.some((f) => f.epss);
    const rows = sorted.map((f) => [
      f.kev ? `${f.id} [KEV due ${f.kev.dueDate}${f.kev.ransomware ? ', ransomware' : ''}]` : f.id,
      brief(f.aliases.length > 0 ? f.aliases : (f.related ?? [])),
      f.package.name,
      f.evidence[0]?.version && f.evidence[0].version !== f.package.version ? `${f.package.version} (src ${f.evidence[0].version})` : f.package.version,
      f.fixedIn ?? FIX_LABEL[f.fixState] ?? '',
      // a severity taken from the CVE records / NVD names its rater: "high (nvd)", "low (cna:openssl)"; the sources' own stays bare (JSON always names it: severitySource)
      severityFromCvssFallback(f) ? `${f.severity} (${f.severitySource})` : f.severity,
      ...(withEpss ? [f.epss ? `${f.epss.score.toFixed(3)}${f.epss.percentile !== undefined ? ` (p${Math.floor(f.epss.percentile * 100)})` : ''}` : ''] : []),
      // with a base image: which side of the image the finding is in (base layers or the application's)
      ...(opts.grouped ? [(f as Grouped).layerGroup === 'base' ? 'base' : 'app'] : []),
      f.suppressed ? `${shortLayer(inv, f.layer)}  suppressed (${f.suppressed.by}: ${f.suppressed.reason})` : shortLayer(inv, f.layer),
    ]);
    out.push(...columns([['ID', 'ALIASES', 'PACKAGE', 'INSTALLED', 'FIXED-IN', 'SEVERITY', ...(withEpss ? ['EPSS'] : []), ...(opts.grouped ? ['GROUP'] : []), 'LAYER'], ...rows]));
  }
  out.push('');
  return out.join('\n');
}

/** The width a terminal table fits when nothing says otherwise (stdout is a file or a pipe, no $COLUMNS). */
export const DEFAULT_TABLE_WIDTH = 100;
/** Narrower than this, the DETAIL column moves under its rule instead of beside it. */
const MIN_DETAIL_WIDTH = 24;

/** The width to fit: the terminal's columns, else a positive $COLUMNS, else DEFAULT_TABLE_WIDTH. */
export function terminalWidth(stream: { columns?: number } = process.stdout, env: NodeJS.ProcessEnv = process.env): number {
  if (typeof stream.columns === 'number' && stream.columns > 0) return stream.columns;
  const n = Number(env.COLUMNS);
  return Number.isInteger(n) && n > 0 ? n : DEFAULT_TABLE_WIDTH;
}

/**
 * The verdict and every fired rule: GATE TRIGGER TRIGGER-ID ACTION DETAIL (an allowlisted
 * rule's ACTION says so and its DETAIL names the allowlist item; an expired item is named too), fitted to `opts.width` (default: terminalWidth()). Gate, trigger, trigger id and
 * action are never cut (they are what an allowlist names); the DETAIL text wraps at spaces in
 * its column, or, when the other columns leave it less than MIN_DETAIL_WIDTH, goes on indented
 * lines under its rule. A single word longer than the room it has (a long path) is split
 * across lines, never dropped.
 */
export function renderPolicy(result: PolicyResult, opts: { width?: number } = {}): string {
  const width = Math.max(MIN_DETAIL_WIDTH + 4, Math.floor(opts.width ?? terminalWidth()));
  const out: string[] = [];
  const mapping = result.mapping ? ` mapping "${result.mapping.name ?? result.mapping.id ?? ''}"` : '';
  const verdict = `policy: bundle "${result.bundleId}" (${result.bundleDigest.slice(0, 19)}…)${mapping} → ${result.verdict.toUpperCase()} (${result.reason})`;
  // the verdict line wraps too (continued lines indented by 2), at spaces only
  const [first = '', ...more] = verdict.length <= width ? [verdict] : wrapText(verdict, width - 2);
  out.push('', first, ...more.map((l) => `  ${l}`));
  if (result.fired.length > 0) {
    out.push('');
    // a mapping's base_policy_ids / application_policy_ids: the layer group a rule fired on (GROUP; "image" for the whole image)
    const grouped = result.fired.some((f) => f.layerGroup !== undefined);
    const rows = result.fired.map((f) => [
      f.gate,
      f.trigger,
      f.triggerId,
      // the allowlist's ids go in DETAIL (ACTION stays narrow): "[allowlisted: <allowlist>/<item>] …"
      f.allowlistedBy ? `${f.action} (allowlisted)` : f.action,
      ...(grouped ? [f.layerGroup === 'application' ? 'app' : (f.layerGroup ?? 'image')] : []),
      f.allowlistedBy
        ? `[allowlisted: ${f.allowlistedBy.allowlistId}/${f.allowlistedBy.itemId}] ${f.message}`
        : f.expiredAllowlist
          ? `[allowlist item ${f.expiredAllowlist.allowlistId}/${f.expiredAllowlist.itemId} expired ${f.expiredAllowlist.expiredOn}] ${f.message}`
          : f.message,
    ]);
    out.push(...fittedColumns([['GATE', 'TRIGGER', 'TRIGGER-ID', 'ACTION', ...(grouped ? ['GROUP'] : []), 'DETAIL'], ...rows], width));
  }
  out.push('');
  return out.join('\n');
}

/**
 * `columns`, fitted to `width`: the last column wraps in place when the others leave it at
 * least MIN_DETAIL_WIDTH, else every row's last cell goes on lines of its own, indented by 4,
 * under the row. Only the last column is ever wrapped; the others keep their whole text.
 */
function fittedColumns(rows: string[][], width: number): string[] {
  const plain = columns(rows);
  if (plain.every((l) => l.length <= width)) return plain;
  const last = rows[0]!.length - 1;
  const lead = rows.map((r) => r.slice(0, last));
  const widths = lead[0]!.map((_, i) => Math.max(...lead.map((r) => r[i]!.length)));
  const indent = widths.reduce((n, w) => n + w + 2, 0);
  const room = width - indent;
  if (room >= MIN_DETAIL_WIDTH) {
    return rows.flatMap((r) => {
      const head = r.slice(0, last).map((c, i) => c.padEnd(widths[i]!)).join('  ');
      const [first = '', ...more] = wrapText(r[last]!, room);
      return [`${head}  ${first}`.trimEnd(), ...more.map((l) => `${' '.repeat(indent)}${l}`)];
    });
  }
  const heads = columns(lead);
  return rows.flatMap((r, i) => (i === 0 ? [heads[0]!, `    ${r[last]!}`] : [heads[i]!, ...wrapText(r[last]!, width - 4).map((l) => `    ${l}`)]));
}

/** `text` in lines of at most `width` characters, broken at spaces; a longer word is split. */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (let word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length <= width) {
      line += ` ${word}`;
      continue;
    }
    if (line) lines.push(line);
    while (word.length > width) {
      lines.push(word.slice(0, width));
      word = word.slice(width);
    }
    line = word;
  }
  if (line || lines.length === 0) lines.push(line);
  return lines;
}

/** "1 layer", "2 layers" */
function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
