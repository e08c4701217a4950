/**
 * CVE List V5 records (CVE JSON 5.x, `dataType: "CVE_RECORD"`, as in the CVEProject/cvelistV5
 * repository), read for severity only:
 * - the CNA container's `metrics[]`: `cvssV4_0`, `cvssV3_1`, `cvssV3_0`, `cvssV2_0` → `cna:<shortName>`;
 *   an `other` entry whose content is a text rating (OpenSSL `{text: "High"}`, Red Hat
 *   `{value: "Important"}`) → a `cna-text` rating, mapped by severityFromLabel
 *   (Critical/High|Important/Moderate|Medium/Low); SSVC/KEV `other` entries are not ratings;
 * - ADP containers' CVSS metrics: CISA's "Vulnrichment" (shortName CISA-ADP) → `cisa-adp`,
 *   another ADP → `adp:<shortName>` (kind "secondary");
 * - `cveMetadata.dateUpdated`: the revision, the newest wins in the CvssStore.
 * Some records carry none of these: the record is kept with no rating (the CVE stays unknown).
 * REJECTED records are skipped.
 */
import { severityFromLabel } from './cvss.js';
import { bumpCount, isCveId, MAX_RATINGS_PER_RECORD, ratingFromCvss, type CvssRating, type CvssReadResult, type CvssRecord, type RaterKind } from './cvss-store.js';
import type { CvssScore } from './types.js';

const CVSS_KEYS: ReadonlyArray<[string, CvssScore['version']]> = [
  ['cvssV4_0', '4.0'],
  ['cvssV3_1', '3.1'],
  ['cvssV3_0', '3.0'],
  ['cvssV2_0', '2.0'],
];

type Json = Record<string, unknown>;
const isObj = (x: unknown): x is Json => !!x && typeof x === 'object' && !Array.isArray(x);

/** Is this parsed JSON a CVE 5 record? */
export function isCve5Record(json: unknown): boolean {
  return isObj(json) && json.dataType === 'CVE_RECORD' && isObj(json.cveMetadata);
}

/** The score record of one CVE 5 record (none when it is rejected or has no CVE id). */
export function readCve5Record(json: unknown, where: string): CvssReadResult {
  const out: CvssReadResult = { records: [], issues: [], counts: {} };
  if (!isCve5Record(json)) {
    out.issues.push({ where, message: 'not a CVE 5 record (dataType CVE_RECORD)' });
    return out;
  }
  const rec = json as Json;
  const meta = rec.cveMetadata as Json;
  if (!isCveId(meta.cveId)) {
    out.issues.push({ where, message: 'CVE 5 record without a valid cveMetadata.cveId: skipped' });
    return out;
  }
  if (meta.state === 'REJECTED') {
    bumpCount(out.counts, 'cve5-rejected');
    return out;
  }
  const record: CvssRecord = { cve: meta.cveId, doc: 'cve5', ratings: [], ...(typeof meta.dateUpdated === 'string' ? { updated: meta.dateUpdated } : {}) };
  const containers = isObj(rec.containers) ? rec.containers : {};
  const push = (r: CvssRating | undefined) => {
    if (!r) return;
    if (record.ratings.length >= MAX_RATINGS_PER_RECORD) bumpCount(out.counts, 'ratings-over-limit');
    else record.ratings.push(r);
  };
  const cna = isObj(containers.cna) ? containers.cna : undefined;
  if (cna) {
    const name = shortName(cna.providerMetadata) ?? (typeof meta.assignerShortName === 'string' ? meta.assignerShortName.slice(0, 64).toLowerCase() : 'unknown');
    for (const m of metricsOf(cna)) {
      for (const r of cvssOf(m, { kind: 'cna', source: `cna:${name}` }, out.counts)) push(r);
      const text = textRating(m.other);
      if (text) push({ kind: 'cna-text', source: `cna:${name}`, severity: text });
    }
  }
  const adps = Array.isArray(containers.adp) ? containers.adp : [];
  for (const adp of adps.slice(0, MAX_RATINGS_PER_RECORD)) {
    if (!isObj(adp)) continue;
    const name = shortName(adp.providerMetadata) ?? 'unknown';
    const who: { kind: RaterKind; source: string } = name === 'cisa-adp' ? { kind: 'cisa-adp', source: 'cisa-adp' } : { kind: 'secondary', source: `adp:${name}` };
    for (const m of metricsOf(adp)) for (const r of cvssOf(m, who, out.counts)) push(r);
  }
  bumpCount(out.counts, record.ratings.length > 0 ? 'cve5-rated' : 'cve5-unrated');
  out.records.push(record);
  return out;
}

function shortName(pm: unknown): string | undefined {
  return isObj(pm) && typeof pm.shortName === 'string' && pm.shortName.length > 0 ? pm.shortName.slice(0, 64).toLowerCase() : undefined;
}

function metricsOf(container: Json): Json[] {
  return Array.isArray(container.metrics) ? (container.metrics.slice(0, MAX_RATINGS_PER_RECORD).filter(isObj) as Json[]) : [];
}

function cvssOf(m: Json, who: { kind: RaterKind; source: string }, counts: Record<string, number>): CvssRating[] {
  const out: CvssRating[] = [];
  for (const [key, version] of CVSS_KEYS) {
    if (!(key in m)) continue;
    const r = ratingFromCvss(m[key], version, who, counts);
    if (r) out.push(r);
  }
  return out;
}

/** A CNA's text rating in `other.content.text` / `.value` ("High", "Moderate", "Important"); SSVC and KEV entries are objects, not text. */
function textRating(other: unknown): CvssRating['severity'] | undefined {
  if (!isObj(other) || !isObj(other.content)) return undefined;
  const t = other.content.text ?? other.content.value;
  if (typeof t !== 'string' || t.length > 40) return undefined;
  const s = severityFromLabel(t);
  return s && s !== 'unknown' ? s : undefined;
}
