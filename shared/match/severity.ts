/**
 * Whose severity a finding shows, and a CVSS-based severity where its sources give none.
 *
 * Preference order (the first that has a rating decides):
 * 1. the vendor's / distribution's own rating (Debian urgency, Alpine, an OSV record's own
 *    CVSS or label, e.g. GitHub's): it knows its build, backports and configuration, so it
 *    is never overridden — shown as `debian`, `alpine`, `osv:GHSA`, `osv:PYSEC`, …;
 * 2. the CNA's CVSS (CVE 5 `containers.cna.metrics`, or NVD's Secondary entry from the CNA):
 *    the CNA is usually the upstream project or its vendor and scores with full knowledge of
 *    the flaw — `cna:<name>`;
 * 3. NVD's own analysis (Primary): an independent, consistent score, but made from the
 *    public description, often later and worst-case — `nvd`;
 * 4. CISA's ADP "Vulnrichment" CVSS: a third party filling gaps where neither the CNA nor
 *    NVD scored — `cisa-adp`; then any other NVD Secondary/ADP source;
 * 5. the CNA's text rating only (OpenSSL's "Low"/"Moderate"/"High", Red Hat's "Important"):
 *    the CNA's word but no vector to check, and on the project's own scale — `cna:<name>`.
 * Within one rater the newest CVSS version wins (4.0 > 3.1 > 3.0 > 2.0). The finding id is
 * tried first, then its CVE aliases. No rating anywhere: severity stays `unknown`, source `none`.
 */
import { isCveId, RATER_ORDER, type CvssLookup, type CvssRating } from '../advisories/cvss-store.js';
import type { CvssScore } from '../advisories/types.js';
import type { Evidence, Finding } from './index.js';

const VERSION_RANK: Record<CvssScore['version'], number> = { '4.0': 4, '3.1': 3, '3.0': 2, '2.0': 1 };

/** The label of the source that gave an evidence entry its severity. */
export function evidenceSeveritySource(ev: Pick<Evidence, 'source' | 'advisory'>): string {
  switch (ev.source) {
    case 'debian-tracker':
      return 'debian';
    case 'alpine-secdb':
      return 'alpine';
    case 'osv': {
      const prefix = /^([A-Za-z]+)-/.exec(ev.advisory)?.[1];
      return prefix ? `osv:${prefix.toUpperCase()}` : 'osv';
    }
    default:
      return String(ev.source);
  }
}

/** The preferred rating among `ratings` (see the order above), if any. */
export function preferredRating(ratings: readonly CvssRating[]): CvssRating | undefined {
  let best: CvssRating | undefined;
  const rank = (r: CvssRating) => RATER_ORDER.indexOf(r.kind) * 10 - (r.version ? VERSION_RANK[r.version] : 0);
  for (const r of ratings) if (r.severity !== 'unknown' && (!best || rank(r) < rank(best))) best = r;
  return best;
}

/**
 * Sets `severitySource` on every finding and, where the sources gave no severity, the
 * CVSS-based severity (and `cvss`, when the finding has none) from `cvss`.
 */
export function applySeverityFallback(findings: Finding[], cvss: CvssLookup | undefined): void {
  for (const f of findings) {
    if (f.severity !== 'unknown') {
      const ev = f.evidence.find((e) => e.severity === f.severity) ?? f.evidence[0];
      f.severitySource = ev ? evidenceSeveritySource(ev) : 'none';
      continue;
    }
    let chosen: CvssRating | undefined;
    if (cvss) {
      for (const id of [f.id, ...f.aliases]) {
        if (!isCveId(id)) continue;
        chosen = preferredRating(cvss.ratings(id));
        if (chosen) break;
      }
    }
    if (!chosen) {
      f.severitySource = 'none';
      continue;
    }
    f.severity = chosen.severity;
    f.severitySource = chosen.source;
    if (!f.cvss && chosen.vector && chosen.version && chosen.score !== undefined) {
      f.cvss = { version: chosen.version, vector: chosen.vector, score: chosen.score, severity: chosen.severity };
    }
  }
}

/** True when the finding's severity is not its sources' own but the CVE records' / NVD's (the fallback above). */
export function severityFromCvssFallback(f: Pick<Finding, 'severity' | 'severitySource' | 'evidence'>): boolean {
  return f.severity !== 'unknown' && f.severitySource !== undefined && f.severitySource !== 'none' && !f.evidence.some((e) => e.severity !== 'unknown');
}
