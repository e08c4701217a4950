/**
 * Gate `vulnerabilities` (Anchore Engine's names and defaults; see Anchore's "Policy Checks"
 * reference and its policy engine's vulnerabilities gate). Reads ctx.vulnerabilities (the
 * matcher's findings) and ctx.advisoriesUpdatedAt.
 *
 * Trigger `package` — one fire per finding that passes every filter given; trigger id
 * "<vulnerability id>+<package name>" (Anchore's id for OS packages).
 *   package_type                    all | os | non-os (os = deb, apk, rpm); default all
 *                                   (Anchore marks it required; a missing one means all here)
 *   severity_comparison             = != < <= > >=; default ">" (Anchore's)
 *   severity                        unknown < negligible < low < medium < high < critical;
 *                                   default "unknown" — so a bare rule fires for every
 *                                   finding of known severity, as in Anchore
 *   cvss_v3_base_score_comparison   = != < <= > >=; default ">=" (Anchore's)
 *   cvss_v3_base_score              number; compared with the finding's CVSS score when that
 *                                   is a v3.x score, else with -1 (Anchore's "no score")
 *   fix_available                   true: only findings with a fix (fixState "fixed");
 *                                   false: only findings without one
 *   vendor_only                     default true (Anchore's): drop findings the distro has
 *                                   marked won't-fix (fixState "wont-fix"). Anchore's
 *                                   meaning, not "distro sources only".
 *   max_days_since_creation         only findings published at least N days before ctx.now
 *                                   (Anchore: "this CVE must be older than the days provided
 *                                   to trigger"). BOD 19-02: a STOP on critical with N=15
 *                                   fires for a critical published 16 days ago, not for one
 *                                   published 14 days ago. A finding with no publication date
 *                                   cannot be shown old enough and does not fire. (Anchore
 *                                   measures from when it first detected the match; Drydock
 *                                   keeps no detection history, so the publication date.)
 *   max_days_since_fix              only with fix_available=true, as in Anchore: the fix must
 *                                   have been available at least N days. The advisory data
 *                                   carries no fix date; a fix cannot have been observed
 *                                   before its advisory was published, so a finding
 *                                   published less than N days ago is dropped; otherwise the
 *                                   fix's age is unknown and, as Anchore does for an unknown
 *                                   fix time, the finding fires.
 *   package_path_exclude            regex (anchored at the start, as Anchore's re.match) over
 *                                   a non-OS package's locations; a match drops the finding
 * Anchore's exploitability/impact sub-score and vendor_cvss_* params are not supported
 * (a bundle using them is rejected as having unknown params rather than silently ignored).
 *
 * Trigger `stale_feed_data` — max_days_since_sync (integer, required): fires once when the
 * advisory data was last synced more than N days before ctx.now. Trigger id
 * "stale_feed_data". When the sync time is unknown it does not fire (Anchore fires then;
 * here no data at all is vulnerability_data_unavailable's case).
 *
 * Trigger `vulnerability_data_unavailable` — no params: fires when no vulnerability data was
 * available (ctx.vulnerabilities undefined), when the image has OS packages and its
 * distro release has no advisory ecosystem, or when the loaded advisory data covers none of
 * some ecosystem of the image (ctx.vulnerabilities.coverage.uncovered: the OS release or a
 * language ecosystem with packages). Trigger id "vulnerability_data_unavailable".
 *
 * Trigger `kev` (Drydock's, not Anchore's) — one fire per finding in CISA's Known Exploited
 * Vulnerabilities catalog (Finding.kev, from a KEV catalog loaded with the advisories);
 * trigger id "<vulnerability id>+<package name>" (as `package`, so the same allowlist items apply).
 *   past_due      true: only findings whose KEV due date has passed (the day after dueDate,
 *                 UTC, at ctx.now); false: only findings still within it; absent: every KEV finding
 *   vendor_only   default true: won't-fix findings do not count (as `package`)
 * The default bundle STOPs on past_due=true and WARNs on past_due=false. With no KEV catalog
 * loaded no finding carries `kev` and the trigger cannot fire (KEV is an optional feed).
 *
 * Trigger `denylist` (Anchore's older name `blacklist` is accepted as a second entry) —
 * vulnerability_ids (list, required; matched against a finding's id and aliases),
 * vendor_only (default true: won't-fix findings do not count). Fires once per listed id
 * found, trigger id = that id (Anchore fires once for all of them; one per id lets
 * allowlists name them).
 */
import type { RE2JS } from 're2js';
import { distroEcosystem } from '../../advisories/ecosystems.js';
import { SEVERITIES, type Severity } from '../../advisories/types.js';
import type { Finding } from '../../match/index.js';
import { kevPastDue } from '../../match/exploit.js';
import type { Gate, ParamSpec, ParamValues, PolicyContext, Trigger, TriggerFire } from '../types.js';

/** Anchore's order, least severe first. */
/** Least severe first, as Anchore orders them (the reverse of SEVERITIES). */
export const SEVERITY_ORDER: readonly Severity[] = [...SEVERITIES].reverse();
const COMPARISONS = ['=', '!=', '<', '<=', '>', '>='] as const;
const OS_TYPES = new Set(['deb', 'apk', 'rpm']);
const DAY_MS = 86_400_000;

function compare(op: string, a: number, b: number): boolean {
  switch (op) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    default:
      return false;
  }
}

function packageClass(type: string): 'os' | 'non-os' {
  return OS_TYPES.has(type.toLowerCase()) ? 'os' : 'non-os';
}

function publishedMs(f: Finding): number | undefined {
  if (!f.published) return undefined;
  const t = Date.parse(f.published);
  return Number.isNaN(t) ? undefined : t;
}

function daysAgo(ms: number, now: Date): number {
  return Math.floor((now.getTime() - ms) / DAY_MS);
}

const packageParams: readonly ParamSpec[] = [
  { name: 'package_type', type: 'enum', values: ['all', 'os', 'non-os'], default: 'all', description: 'Only trigger for this package class (os = deb, apk, rpm).' },
  { name: 'severity_comparison', type: 'enum', values: COMPARISONS, default: '>', description: 'The comparison to perform for severity evaluation.' },
  { name: 'severity', type: 'enum', values: SEVERITY_ORDER, default: 'unknown', description: 'Severity to compare against (unknown < negligible < low < medium < high < critical).' },
  { name: 'cvss_v3_base_score_comparison', type: 'enum', values: COMPARISONS, default: '>=', description: 'The comparison to perform for CVSS v3 base score evaluation.' },
  { name: 'cvss_v3_base_score', type: 'number', description: 'CVSS v3 base score to compare against (a finding without a v3 score counts as -1).' },
  { name: 'fix_available', type: 'boolean', description: 'If present, whether a fix is available must match this value.' },
  { name: 'vendor_only', type: 'boolean', default: 'true', description: 'If true, ignore findings the vendor has marked as will not fix.' },
  { name: 'max_days_since_creation', type: 'integer', description: 'If provided, the vulnerability must have been published at least this many days ago to trigger.' },
  { name: 'max_days_since_fix', type: 'integer', description: 'If provided (only with fix_available=true), the fix must have been available at least this many days to trigger.' },
  { name: 'package_path_exclude', type: 'regex', description: "Regex matched against a non-OS package's locations: a match excludes its findings." },
];

const packageTrigger: Trigger = {
  name: 'package',
  description: 'Triggers if a found vulnerability in an image meets the comparison criteria.',
  params: packageParams,
  evaluate(ctx: PolicyContext, p: ParamValues): TriggerFire[] {
    const findings = ctx.vulnerabilities?.findings;
    if (!findings?.length) return [];
    const pkgType = (p.package_type as string | undefined) ?? 'all';
    const sevOp = (p.severity_comparison as string | undefined) ?? '>';
    const sevIdx = SEVERITY_ORDER.indexOf(((p.severity as string | undefined) ?? 'unknown') as Severity);
    const scoreOp = (p.cvss_v3_base_score_comparison as string | undefined) ?? '>=';
    const score = p.cvss_v3_base_score as number | undefined;
    const fixAvailable = p.fix_available as boolean | undefined;
    const vendorOnly = (p.vendor_only as boolean | undefined) ?? true;
    const maxDaysCreation = p.max_days_since_creation as number | undefined;
    const maxDaysFix = p.max_days_since_fix as number | undefined;
    const pathExclude = p.package_path_exclude as RE2JS | undefined;
    const now = ctx.now.getTime();
    const locations = pathExclude ? new Map(ctx.packages.map((x) => [x.purl, x.locations])) : undefined;

    const out: TriggerFire[] = [];
    for (const f of findings) {
      const cls = packageClass(f.package.type);
      if (pkgType !== 'all' && pkgType !== cls) continue;
      if (!compare(sevOp, Math.max(0, SEVERITY_ORDER.indexOf(f.severity)), sevIdx)) continue;
      if (cls === 'non-os' && pathExclude && locations?.get(f.package.purl)?.some((l) => pathExclude.matcher(l).lookingAt())) continue;
      if (vendorOnly && f.fixState === 'wont-fix') continue;
      const published = publishedMs(f);
      if (maxDaysCreation !== undefined && (published === undefined || published > now - maxDaysCreation * DAY_MS)) continue;
      const fixed = f.fixState === 'fixed';
      if (fixAvailable === true && maxDaysFix !== undefined && fixed && published !== undefined && published > now - maxDaysFix * DAY_MS) continue;
      const v3 = f.cvss && f.cvss.version.startsWith('3') ? f.cvss.score : -1;
      if (score !== undefined && !compare(scoreOp, v3, score)) continue;
      if (fixAvailable !== undefined && fixAvailable !== fixed) continue;

      const parts = [`${f.severity.toUpperCase()} vulnerability ${f.id} in ${cls} package (${f.package.type}) ${f.package.name} ${f.package.version}`];
      parts.push(fixed ? `fixed in ${f.fixedIn ?? 'a later version'}` : `no fix (${f.fixState})`);
      if (score !== undefined && v3 >= 0) parts.push(`cvss_v3_base_score=${v3}`);
      if (published !== undefined) parts.push(`published ${new Date(published).toISOString().slice(0, 10)}, ${daysAgo(published, ctx.now)} days ago`);
      out.push({ triggerId: `${f.id}+${f.package.name}`, message: parts.join('; ') });
    }
    return out;
  },
};

const staleFeedTrigger: Trigger = {
  name: 'stale_feed_data',
  description: 'Triggers if the vulnerability data was last synced more than max_days_since_sync days ago.',
  params: [{ name: 'max_days_since_sync', type: 'integer', required: true, description: 'Fire the trigger if the last sync was more than this number of days ago.' }],
  evaluate(ctx, p) {
    const days = p.max_days_since_sync as number;
    const at = ctx.advisoriesUpdatedAt;
    if (!at || at.getTime() >= ctx.now.getTime() - days * DAY_MS) return [];
    return [{ triggerId: 'stale_feed_data', message: `The vulnerability data was last synced ${at.toISOString()} (${daysAgo(at.getTime(), ctx.now)} days ago), older than max_days_since_sync (${days}) days` }];
  },
};

const dataUnavailableTrigger: Trigger = {
  name: 'vulnerability_data_unavailable',
  description: "Triggers if vulnerability data is unavailable for the image (no advisories, or none for the image's distro release).",
  params: [],
  evaluate(ctx) {
    const triggerId = 'vulnerability_data_unavailable';
    if (!ctx.vulnerabilities) return [{ triggerId, message: 'No vulnerability data was available: the image could not be checked for vulnerabilities' }];
    const hasOsPackages = ctx.packages.some((x) => packageClass(x.type) === 'os');
    if (ctx.distro && hasOsPackages && !distroEcosystem(ctx.distro)) {
      const name = `${ctx.distro.id} ${ctx.distro.versionId ?? ctx.distro.codename ?? ''}`.trim();
      return [{ triggerId, message: `No vulnerability data for distro ${name}: its OS packages cannot be checked` }];
    }
    const uncovered = ctx.vulnerabilities.coverage?.uncovered ?? [];
    if (uncovered.length > 0) return [{ triggerId, message: `No vulnerability data for ${uncovered.join(', ')}: the loaded advisories do not cover ${uncovered.length === 1 ? 'it' : 'them'}, so those packages cannot be checked` }];
    return [];
  },
};

const kevTrigger: Trigger = {
  name: 'kev',
  description: "Triggers for each vulnerability in CISA's Known Exploited Vulnerabilities catalog (optionally only those past, or within, the catalog's due date).",
  params: [
    { name: 'past_due', type: 'boolean', description: 'If true, only KEV findings past their due date; if false, only those not yet due; absent: all KEV findings.' },
    { name: 'vendor_only', type: 'boolean', default: 'true', description: 'If true, ignore findings the vendor has marked as will not fix.' },
  ],
  evaluate(ctx, p) {
    const pastDue = p.past_due as boolean | undefined;
    const vendorOnly = (p.vendor_only as boolean | undefined) ?? true;
    const out: TriggerFire[] = [];
    for (const f of ctx.vulnerabilities?.findings ?? []) {
      if (!f.kev) continue;
      if (vendorOnly && f.fixState === 'wont-fix') continue;
      const late = kevPastDue(f, ctx.now);
      if (pastDue !== undefined && pastDue !== late) continue;
      const parts = [`Known exploited vulnerability ${f.id} (CISA KEV, added ${f.kev.dateAdded}${f.kev.ransomware ? ', known ransomware use' : ''}) in ${f.package.name} ${f.package.version}`];
      parts.push(late ? `past its due date ${f.kev.dueDate}` : `due ${f.kev.dueDate}`);
      parts.push(f.fixState === 'fixed' ? `fixed in ${f.fixedIn ?? 'a later version'}` : `no fix (${f.fixState})`);
      out.push({ triggerId: `${f.id}+${f.package.name}`, message: parts.join('; ') });
    }
    return out;
  },
};

function denylistTrigger(name: string): Trigger {
  return {
    name,
    description: 'Triggers if any of a list of specified vulnerabilities has been detected in the image.',
    params: [
      { name: 'vulnerability_ids', type: 'list', required: true, description: 'List of vulnerability ids (matched against ids and aliases); any detected fires the trigger.' },
      { name: 'vendor_only', type: 'boolean', default: 'true', description: 'If true, ignore findings the vendor has marked as will not fix.' },
    ],
    evaluate(ctx, p) {
      const ids = p.vulnerability_ids as string[];
      const vendorOnly = (p.vendor_only as boolean | undefined) ?? true;
      const findings = (ctx.vulnerabilities?.findings ?? []).filter((f) => !(vendorOnly && f.fixState === 'wont-fix'));
      const out: TriggerFire[] = [];
      for (const id of new Set(ids)) {
        const hits = findings.filter((f) => f.id === id || f.aliases.includes(id));
        if (!hits.length) continue;
        const pkgs = [...new Set(hits.map((f) => `${f.package.name} ${f.package.version}`))].join(', ');
        out.push({ triggerId: id, message: `Denylisted vulnerability ${id} detected in ${pkgs}` });
      }
      return out;
    },
  };
}

export const vulnerabilitiesGate: Gate = {
  name: 'vulnerabilities',
  description: 'CVE/vulnerability checks.',
  triggers: [packageTrigger, staleFeedTrigger, dataUnavailableTrigger, kevTrigger, denylistTrigger('denylist'), denylistTrigger('blacklist')],
};
