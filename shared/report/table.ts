import { formatPlatform } from '../image/platform.js';
import { SEVERITIES } from '../advisories/types.js';
import { severityRank, type Coverage, type MatchResult } from '../match/index.js';
import { compareByExploitation } from '../match/exploit.js';
import { severityFromCvssFallback } from '../match/severity.js';
import type { PolicyResult } from '../policy/types.js';
import type { ImageInventory } from '../scan.js';

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
export function renderTable(results: ImageInventory[], matches: ReadonlyArray<MatchResult | undefined> = [], opts: { coverages?: ReadonlyArray<Coverage | undefined> } = {}): string {
  const out: string[] = [];
  for (const [i, inv] of results.entries()) {
    const d = inv.distro;
    const distro = d ? `${d.prettyName ?? [d.id, d.versionId].filter(Boolean).join(' ')}` : 'unknown distro';
    out.push(`${inv.image.reference}  ${formatPlatform(inv.image.platform)}  ${inv.image.manifestDigest}`);
    out.push(`${distro}, ${plural(inv.image.layers.length, 'layer')}, ${plural(inv.packages.length, 'package')}`);
    out.push('');
    const match = matches[i];
    const coverage = match?.coverage ?? (match ? opts.coverages?.[i] : undefined);
    if (coverage && coverage.uncovered.length > 0) out.push(coverageWarning(coverage), '');
    if (match) {
      out.push(renderFindingsTable(inv, match));
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
export function renderFindingsTable(inv: ImageInventory, match: MatchResult): string {
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
      f.suppressed ? `${shortLayer(inv, f.layer)}  suppressed (${f.suppressed.by}: ${f.suppressed.reason})` : shortLayer(inv, f.layer),
    ]);
    out.push(...columns([['ID', 'ALIASES', 'PACKAGE', 'INSTALLED', 'FIXED-IN', 'SEVERITY', ...(withEpss ? ['EPSS'] : []), 'LAYER'], ...rows]));
  }
  out.push('');
  return out.join('\n');
}

/** The verdict and every fired rule: GATE TRIGGER TRIGGER-ID ACTION DETAIL (allowlisted rules marked). */
export function renderPolicy(result: PolicyResult): string {
  const out: string[] = [];
  const mapping = result.mapping ? ` mapping "${result.mapping.name ?? result.mapping.id ?? ''}"` : '';
  out.push('', `policy: bundle "${result.bundleId}" (${result.bundleDigest.slice(0, 19)}…)${mapping} → ${result.verdict.toUpperCase()} (${result.reason})`);
  if (result.fired.length > 0) {
    out.push('');
    const rows = result.fired.map((f) => [
      f.gate,
      f.trigger,
      f.triggerId,
      f.allowlistedBy ? `${f.action} (allowlisted: ${f.allowlistedBy.allowlistId}/${f.allowlistedBy.itemId})` : f.expiredAllowlist ? `${f.action} (allowlist item ${f.expiredAllowlist.itemId} expired ${f.expiredAllowlist.expiredOn})` : f.action,
      f.message,
    ]);
    out.push(...columns([['GATE', 'TRIGGER', 'TRIGGER-ID', 'ACTION', 'DETAIL'], ...rows]));
  }
  out.push('');
  return out.join('\n');
}

/** "1 layer", "2 layers" */
function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
