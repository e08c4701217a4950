/**
 * NVD's CVE API 2.0 JSON, read for severity only: per CVE the CVSS ratings under
 * `metrics.cvssMetricV40/V31/V30/V2` and the record's `lastModified`. Three shapes:
 * - a response page: `{format: "NVD_CVE", version: "2.0", vulnerabilities: [{cve: {...}}, ...]}`
 *   (what the API returns and vunnel stores);
 * - one item of it: `{cve: {...}}`;
 * - a bare `cve` object: `{id: "CVE-…", sourceIdentifier, lastModified, metrics, ...}`.
 *
 * Who rated: `nvd@nist.gov` (NVD's "Primary") → `nvd`; CISA's ADP (org id 134c704f-…) →
 * `cisa-adp`; the CVE's own `sourceIdentifier` (its CNA) → `cna:<name>`, the name taken from
 * the e-mail domain (secalert@redhat.com → redhat) so it matches the CNA short names of CVE 5
 * records; any other Secondary source → `nvd-secondary:<source>`. Rejected CVEs are skipped.
 */
import { bumpCount, isCveId, MAX_RATINGS_PER_RECORD, ratingFromCvss, type CvssRating, type CvssReadResult, type CvssRecord, type RaterKind } from './cvss-store.js';
import type { CvssScore } from './types.js';

export const NVD_PRIMARY_SOURCE = 'nvd@nist.gov';
/** CISA's ADP organisation id, as NVD names it in `metrics[].source`. */
export const CISA_ADP_ORG_ID = '134c704f-9b21-4f2e-91b3-4a467353bcc0';
/** NVD's API returns at most 2000 CVEs per page; a file claiming more is not a page. */
export const MAX_NVD_PAGE_ITEMS = 2000;

const METRIC_KEYS: ReadonlyArray<[string, CvssScore['version']]> = [
  ['cvssMetricV40', '4.0'],
  ['cvssMetricV31', '3.1'],
  ['cvssMetricV30', '3.0'],
  ['cvssMetricV2', '2.0'],
];

type Json = Record<string, unknown>;
const isObj = (x: unknown): x is Json => !!x && typeof x === 'object' && !Array.isArray(x);

/** Is this parsed JSON an NVD API 2.0 page, item or bare cve object? */
export function isNvdJson(json: unknown): boolean {
  if (!isObj(json)) return false;
  if (Array.isArray(json.vulnerabilities)) return json.format === 'NVD_CVE' || isObj((json.vulnerabilities[0] as Json | undefined)?.cve);
  if (isObj(json.cve)) return isBareCve(json.cve);
  return isBareCve(json);
}

function isBareCve(o: Json): boolean {
  return isCveId(o.id) && typeof o.sourceIdentifier === 'string' && ('metrics' in o || 'vulnStatus' in o || 'lastModified' in o);
}

/** The score records of an NVD document (see isNvdJson); `where` names it in issues. */
export function readNvdJson(json: unknown, where: string): CvssReadResult {
  const out: CvssReadResult = { records: [], issues: [], counts: {} };
  let items: unknown[];
  if (isObj(json) && Array.isArray(json.vulnerabilities)) {
    if (json.vulnerabilities.length > MAX_NVD_PAGE_ITEMS) {
      out.issues.push({ where, message: `NVD page has ${json.vulnerabilities.length} items, more than the API's ${MAX_NVD_PAGE_ITEMS} per page (limit MAX_NVD_PAGE_ITEMS): not read` });
      return out;
    }
    items = json.vulnerabilities.map((v) => (isObj(v) ? v.cve : undefined));
  } else if (isObj(json) && isObj(json.cve)) items = [json.cve];
  else items = [json];
  for (const cve of items) {
    if (!isObj(cve) || !isCveId(cve.id)) {
      out.issues.push({ where, message: 'NVD item without a CVE id: skipped' });
      continue;
    }
    if (cve.vulnStatus === 'Rejected') {
      bumpCount(out.counts, 'nvd-rejected');
      continue;
    }
    const record: CvssRecord = { cve: cve.id, doc: 'nvd', ratings: [], ...(typeof cve.lastModified === 'string' ? { updated: cve.lastModified } : {}) };
    const metrics = isObj(cve.metrics) ? cve.metrics : {};
    for (const [key, version] of METRIC_KEYS) {
      const list = metrics[key];
      if (!Array.isArray(list)) continue;
      for (const m of list) {
        if (record.ratings.length >= MAX_RATINGS_PER_RECORD) {
          bumpCount(out.counts, 'ratings-over-limit');
          break;
        }
        if (!isObj(m)) continue;
        const who = raterOf(m.source, cve.sourceIdentifier);
        const r: CvssRating | undefined = ratingFromCvss(m.cvssData, version, who, out.counts);
        if (r) record.ratings.push(r);
      }
    }
    bumpCount(out.counts, record.ratings.length > 0 ? 'nvd-scored' : 'nvd-unscored');
    out.records.push(record);
  }
  return out;
}

function raterOf(source: unknown, cna: unknown): { kind: RaterKind; source: string } {
  const s = typeof source === 'string' ? source.slice(0, 100) : '(none)';
  if (s === NVD_PRIMARY_SOURCE) return { kind: 'nvd', source: 'nvd' };
  if (s === CISA_ADP_ORG_ID) return { kind: 'cisa-adp', source: 'cisa-adp' };
  if (s === cna) return { kind: 'cna', source: `cna:${cnaName(s)}` };
  return { kind: 'secondary', source: `nvd-secondary:${s}` };
}

/** "secalert@redhat.com" → "redhat", "cve@mitre.org" → "mitre"; anything else as is. */
function cnaName(source: string): string {
  const at = source.lastIndexOf('@');
  if (at < 0) return source;
  const labels = source.slice(at + 1).split('.');
  return (labels.length >= 2 ? labels[labels.length - 2] : labels[0]) || source;
}
