/**
 * CISA's Known Exploited Vulnerabilities catalog (known_exploited_vulnerabilities.json, as CISA
 * publishes it and as vuln-list / vunnel mirror it): `{ catalogVersion, dateReleased, count,
 * vulnerabilities: [{ cveID, vendorProject, product, dateAdded, dueDate,
 * knownRansomwareCampaignUse?, … }] }` (CISA's JSON schema: cveID ^CVE-\d{4}-\d{4,19}$, dates
 * YYYY-MM-DD). Shape checked per entry: an entry without a CVE id or a readable dateAdded /
 * dueDate is an issue, not a KEV entry. Bounded: a catalog of more than MAX_KEV_ENTRIES entries
 * is refused, text fields are cut at 512 characters, and at most 100 entry issues are listed
 * (the rest are counted).
 */
import { bumpCount } from './cvss-store.js';
import { MAX_KEV_ENTRIES, type KevEntry } from './exploit-store.js';

export interface KevReadResult {
  entries: KevEntry[];
  catalogVersion?: string;
  /** the catalog's dateReleased (ISO) */
  dateReleased?: string;
  issues: Array<{ where: string; message: string }>;
  counts: Record<string, number>;
}

const KEV_CVE = /^CVE-\d{4}-\d{4,19}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MAX_FIELD = 512;

/** Whether a parsed JSON document is a KEV catalog, by its shape. */
export function isKevCatalog(o: unknown): boolean {
  if (!o || typeof o !== 'object' || Array.isArray(o)) return false;
  const r = o as Record<string, unknown>;
  if (!Array.isArray(r.vulnerabilities)) return false;
  if (typeof r.catalogVersion === 'string') return true;
  const first = r.vulnerabilities[0] as Record<string, unknown> | undefined;
  return !!first && typeof first === 'object' && typeof first.cveID === 'string' && 'dueDate' in first;
}

function day(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const s = v.trim().slice(0, 10);
  return DAY.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) ? s : undefined;
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v.slice(0, MAX_FIELD) : undefined;
}

export function readKevCatalog(json: unknown, where: string): KevReadResult {
  const out: KevReadResult = { entries: [], issues: [], counts: {} };
  if (!isKevCatalog(json)) {
    out.issues.push({ where, message: 'not a CISA KEV catalog (no vulnerabilities[] of cveID entries)' });
    return out;
  }
  const o = json as Record<string, unknown>;
  const vulns = o.vulnerabilities as unknown[];
  if (vulns.length > MAX_KEV_ENTRIES) {
    out.issues.push({ where, message: `KEV catalog has ${vulns.length} entries, more than MAX_KEV_ENTRIES (${MAX_KEV_ENTRIES}): refused` });
    return out;
  }
  if (typeof o.catalogVersion === 'string') out.catalogVersion = o.catalogVersion.slice(0, 64);
  const released = typeof o.dateReleased === 'string' && o.dateReleased.length <= 64 ? Date.parse(o.dateReleased) : NaN;
  if (!Number.isNaN(released)) out.dateReleased = new Date(released).toISOString();
  if (typeof o.count === 'number' && o.count !== vulns.length) out.issues.push({ where, message: `KEV catalog says count ${o.count} but lists ${vulns.length} entries` });
  for (const [i, v] of vulns.entries()) {
    const e = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
    const cve = e && typeof e.cveID === 'string' ? e.cveID.trim() : undefined;
    const dateAdded = day(e?.dateAdded);
    const dueDate = day(e?.dueDate);
    if (!cve || !KEV_CVE.test(cve) || !dateAdded || !dueDate) {
      bumpCount(out.counts, 'kev-entry-invalid');
      if (out.issues.length < 100) out.issues.push({ where: `${where}#vulnerabilities[${i}]`, message: !cve || !KEV_CVE.test(cve) ? 'KEV entry without a valid cveID' : `KEV entry ${cve} without a YYYY-MM-DD dateAdded and dueDate` });
      continue;
    }
    const ransomware = typeof e!.knownRansomwareCampaignUse === 'string' ? e!.knownRansomwareCampaignUse.trim().toLowerCase() === 'known' : undefined;
    const vendorProject = text(e!.vendorProject);
    const product = text(e!.product);
    out.entries.push({
      cve,
      dateAdded,
      dueDate,
      ...(ransomware ? { ransomware } : {}),
      ...(vendorProject ? { vendorProject } : {}),
      ...(product ? { product } : {}),
      ...(out.dateReleased ? { catalogDate: out.dateReleased } : {}),
    });
  }
  bumpCount(out.counts, 'kev-entries', out.entries.length);
  return out;
}
