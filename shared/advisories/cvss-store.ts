/**
 * Per-CVE severity ratings from the CVE records (CVE List V5) and NVD's CVE API 2.0, kept
 * compactly: per CVE and per document kind only the ratings (score, severity, vector, version,
 * who rated it) and the document's revision date. The newest revision of a document wins
 * (CVE 5 `cveMetadata.dateUpdated`, NVD `lastModified`); a CVE 5 record and an NVD record of
 * the same CVE are different documents and are both kept.
 *
 * Bounded: at most MAX_CVSS_CVES CVEs and MAX_RATINGS_PER_RECORD ratings per record; a vector
 * longer than MAX_VECTOR_LENGTH is not kept (the readers count it).
 *
 * The matcher asks `best(ids)` for a finding whose source gave no severity: see
 * shared/match/severity.ts for the preference order.
 */
import type { AdvisoryStore } from '../ports/advisory-store.js';
import { scoreCvss, severityFromScore } from './cvss.js';
import type { CvssScore, Severity } from './types.js';

export const MAX_CVSS_CVES = 1_000_000;
export const MAX_RATINGS_PER_RECORD = 32;
export const MAX_VECTOR_LENGTH = 256;

/**
 * Who gave a rating, most trusted kind first (see shared/match/severity.ts):
 * - cna:       the CVE's CNA, as a CVSS vector/score (CVE 5 `containers.cna.metrics`, or NVD's Secondary entry from the CNA)
 * - nvd:       NVD's own analysis (NVD Primary, source nvd@nist.gov)
 * - cisa-adp:  CISA's ADP "Vulnrichment" container (or NVD's Secondary entry from CISA-ADP)
 * - secondary: another NVD Secondary source
 * - cna-text:  the CNA's text rating only ("High", "Moderate": OpenSSL, Red Hat)
 */
export type RaterKind = 'cna' | 'nvd' | 'cisa-adp' | 'secondary' | 'cna-text';
export const RATER_ORDER: readonly RaterKind[] = ['cna', 'nvd', 'cisa-adp', 'secondary', 'cna-text'];

export interface CvssRating {
  kind: RaterKind;
  /** the label findings show as `severitySource`: "nvd", "cna:openssl", "cisa-adp", "nvd-secondary:<source>" */
  source: string;
  severity: Severity;
  /** base score and vector (absent for a text rating) */
  score?: number;
  vector?: string;
  version?: CvssScore['version'];
}

export type CvssDocKind = 'cve5' | 'nvd';

/** One document's ratings for one CVE. */
export interface CvssRecord {
  cve: string;
  doc: CvssDocKind;
  /** the record's dateUpdated / lastModified as read (ISO, maybe without a zone: UTC) */
  updated?: string;
  ratings: CvssRating[];
}

/** What a reader returns: one record per CVE read, plus problems and counters. */
export interface CvssReadResult {
  records: CvssRecord[];
  issues: Array<{ where: string; message: string }>;
  counts: Record<string, number>;
}

/** What the matcher needs. */
export interface CvssLookup {
  /** every rating known for the CVE (both documents), unordered */
  ratings(cve: string): CvssRating[];
}

const CVE_ID = /^CVE-\d{4}-\d{4,12}$/;

export function isCveId(id: unknown): id is string {
  return typeof id === 'string' && CVE_ID.test(id);
}

/** ms since the epoch for an ISO timestamp; no zone = UTC; extra fraction digits ignored; undefined when unreadable. */
export function revisionTime(s: string | undefined): number | undefined {
  if (typeof s !== 'string' || s.length > 64) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2})?)(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(s.trim());
  if (!m) return undefined;
  const frac = m[3] ? m[3].slice(0, 4) : '';
  const t = Date.parse(`${m[1]}T${m[2] ?? '00:00:00'}${frac}${m[4] ?? 'Z'}`);
  return Number.isNaN(t) ? undefined : t;
}

export class CvssStore implements CvssLookup {
  private readonly byCve = new Map<string, Partial<Record<CvssDocKind, CvssRecord>>>();

  /**
   * Keep `r` unless a newer (or equally new) revision of the same document is already held.
   * A record with a readable date beats one without. Returns true when `r` was kept; throws
   * nothing; returns false (and counts nothing) when the store is full.
   */
  add(r: CvssRecord): boolean {
    if (!isCveId(r.cve)) return false;
    let entry = this.byCve.get(r.cve);
    if (!entry) {
      if (this.byCve.size >= MAX_CVSS_CVES) return false;
      this.byCve.set(r.cve, (entry = {}));
    }
    const old = entry[r.doc];
    if (old) {
      const a = revisionTime(old.updated);
      const b = revisionTime(r.updated);
      if (b === undefined || (a !== undefined && a >= b)) return false;
    }
    entry[r.doc] = { ...r, ratings: r.ratings.slice(0, MAX_RATINGS_PER_RECORD) };
    return true;
  }

  get full(): boolean {
    return this.byCve.size >= MAX_CVSS_CVES;
  }

  record(cve: string, doc: CvssDocKind): CvssRecord | undefined {
    return this.byCve.get(cve)?.[doc];
  }

  ratings(cve: string): CvssRating[] {
    const e = this.byCve.get(cve);
    if (!e) return [];
    return [...(e.cve5?.ratings ?? []), ...(e.nvd?.ratings ?? [])];
  }

  get size(): number {
    return this.byCve.size;
  }
}

/**
 * The CVSS store the advisory loader filled alongside an advisory store, so that the matcher
 * finds it without every caller passing it (MatchOptions.cvss overrides).
 */
const attached = new WeakMap<AdvisoryStore, CvssLookup>();

export function attachCvssStore(store: AdvisoryStore, cvss: CvssLookup): void {
  attached.set(store, cvss);
}

export function cvssStoreOf(store: AdvisoryStore): CvssLookup | undefined {
  return attached.get(store);
}

/**
 * A rating from a CVSS object as NVD (`cvssData`) and CVE 5 (`cvssV3_1` …) write it:
 * `version`, `vectorString`, `baseScore`. The score given is kept when it is a number in
 * 0–10; otherwise the vector is scored by ae-cvss-calculator (cvss.ts). The severity always
 * comes from the score by FIRST's ranges (NVD's for v2), never from the feed's label. A
 * vector that is not well formed is dropped (counted "cvss-vector-invalid"); with no usable
 * score either, there is no rating (counted "cvss-unusable").
 */
export function ratingFromCvss(
  data: unknown,
  declared: CvssScore['version'] | undefined,
  who: { kind: RaterKind; source: string },
  counts: Record<string, number>,
): CvssRating | undefined {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const d = data as Record<string, unknown>;
  const version = versionOf(d.version) ?? declared;
  let vector: string | undefined;
  let scored: CvssScore | undefined;
  if (typeof d.vectorString === 'string' && d.vectorString.length <= MAX_VECTOR_LENGTH && version) {
    scored = scoreCvss(version === '2.0' ? 'CVSS_V2' : version === '4.0' ? 'CVSS_V4' : 'CVSS_V3', d.vectorString);
    if (scored && scored.version === version) vector = scored.vector;
    else {
      scored = undefined;
      bumpCount(counts, 'cvss-vector-invalid');
    }
  } else if (d.vectorString !== undefined) bumpCount(counts, 'cvss-vector-invalid');
  const given = typeof d.baseScore === 'number' && Number.isFinite(d.baseScore) && d.baseScore >= 0 && d.baseScore <= 10 ? Math.round(d.baseScore * 10) / 10 : undefined;
  const score = given ?? scored?.score;
  if (score === undefined || !version) {
    bumpCount(counts, 'cvss-unusable');
    return undefined;
  }
  return { kind: who.kind, source: who.source, severity: severityFromScore(version, score), score, ...(vector ? { vector } : {}), version };
}

function versionOf(v: unknown): CvssScore['version'] | undefined {
  const s = typeof v === 'number' ? v.toFixed(1) : v;
  return s === '2.0' || s === '3.0' || s === '3.1' || s === '4.0' ? s : undefined;
}

export function bumpCount(counts: Record<string, number>, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}
