/**
 * Inventory × advisories → findings. Per package: the ecosystem key its advisories live under
 * (distro release aware: a Debian 12 package is looked up under "Debian:12" only), the name
 * (dpkg/apk by source package, rpm by source and binary name), the version compared in the
 * ecosystem's own order; then every affected entry of that key is checked, findings of one
 * package that are aliases of each other are merged, and the most specific source decides
 * severity and fix.
 */
import { advisoryNameFor, ecosystemForPackage, ecosystemInfo } from '../advisories/ecosystems.js';
import { SEVERITIES, type Advisory, type AdvisorySource, type AffectedInterval, type AffectedPackage, type CvssScore, type FixState, type Severity } from '../advisories/types.js';
import type { Distro, Package } from '../catalog/types.js';
import type { AdvisoryStore, PackageKey } from '../ports/advisory-store.js';
import type { Coverage } from './coverage.js';
import { applySeverityFallback } from './severity.js';
import { cvssStoreOf, type CvssLookup } from '../advisories/cvss-store.js';
import { exploitStoreOf, type ExploitLookup } from '../advisories/exploit-store.js';
import { applyExploitData } from './exploit.js';
import { alasEntryApplies, annotateAlasFindings, isAlasEcosystem } from './alas.js';
import { elsaEntryApplies, isElsaEcosystem } from './elsa.js';
import { redHatEntryApplies, redHatScope } from './redhat.js';
import { applySuppressions, type Suppressions } from './suppress.js';
import { comparatorFor, InvalidVersionError, rangeContains, type Comparator } from '../versions/index.js';

/** Why one advisory entry matched one package: enough to check the finding by hand. */
export interface Evidence {
  source: AdvisorySource;
  advisory: string;
  /** the key that was searched */
  key: PackageKey;
  /** the version compared (a dpkg package's source version, say) */
  version: string;
  /** the interval or enumerated version that contains it */
  matched: { interval: AffectedInterval } | { version: string };
  fixState: FixState;
  fixedIn?: string;
  /** the severity this entry gives (per-package first, else the advisory's) */
  severity: Severity;
}

export type FindingFixState = Exclude<FixState, 'not-affected'>;

export interface Finding {
  /** the CVE id when any source names one, else the most specific source's id */
  id: string;
  aliases: string[];
  /** the vulnerabilities a notice that fixes several at once names (DSA-5611-1: three CVEs) */
  related?: string[];
  severity: Severity;
  /** whose severity `severity` shows: "debian", "osv:GHSA", "cna:openssl", "nvd", "cisa-adp", "none" (see severity.ts) */
  severitySource?: string;
  /** the highest CVSS score any merged advisory carries */
  cvss?: CvssScore;
  fixState: FindingFixState;
  /** the lowest fixed version above the installed one, from the most specific source */
  fixedIn?: string;
  package: { type: string; name: string; version: string; purl: string; sourceName?: string };
  /** layer that introduced the package */
  layer: string;
  summary?: string;
  /** earliest publication date any merged advisory gives (ISO) — BOD 19-02's clock */
  published?: string;
  evidence: Evidence[];
  /** what to do about it, when the source says more than "upgrade to fixedIn" (ALAS: see match/alas.ts) */
  remediation?: string;
  /**
   * Set when an allowlist (the --policy bundle's, applied to --fail-on too), the ignore file
   * (`by: "ignore-file"`) or an OpenVEX statement (`by: "vex"`, match/suppress.ts) suppresses the
   * finding: it stays in every output, marked, and no longer counts toward a gate.
   */
  suppressed?: { by: string; reason: string };
  /** in CISA's Known Exploited Vulnerabilities catalog (by id or a CVE alias): dates YYYY-MM-DD; ransomware when KEV says "Known" */
  kev?: { dateAdded: string; dueDate: string; ransomware?: boolean };
  /** FIRST's EPSS: probability of exploitation in 30 days (0–1), its percentile (0–1), the score date */
  epss?: { score: number; percentile?: number; date: string };
}

export interface MatchIssue {
  package?: string;
  advisory?: string;
  message: string;
}

export interface MatchResult {
  findings: Finding[];
  /** packages judged through the OS package that owns them, never through their own ecosystem */
  judgedThroughOwner: Array<{ package: string; owner: string }>;
  /** packages with no advisory ecosystem (unknown distro, a type no feed covers) */
  unmatchable: Array<{ package: string; why: string }>;
  counts: {
    packages: number;
    packagesLookedUp: number;
    keysLookedUp: number;
    advisoryEntriesChecked: number;
    findings: number;
    ownedByOsPackage: number;
    notAffected: number;
    withdrawn: number;
    invalidVersions: number;
  };
  issues: MatchIssue[];
  /** the image's ecosystems split by whether the loaded advisory data covers them (set by the caller that knows the sources) */
  coverage?: Coverage;
}

export interface MatchOptions {
  /** judge language packages owned by an OS package through their own ecosystem too (default false: see docs/vulnerabilities.md) */
  matchOwnedPackages?: boolean;
  /** per-CVE CVSS ratings for findings whose sources give no severity (default: the one the loader attached to the store) */
  cvss?: CvssLookup;
  /** KEV / EPSS data for findings (default: the one the loader attached to the store) */
  exploits?: ExploitLookup;
  /** an ignore file's entries and OpenVEX statements (match/suppress.ts): matching findings are marked suppressed, never dropped */
  suppressions?: Suppressions;
  /** the scanned image's digests, for OpenVEX products that name an image by digest */
  imageDigests?: readonly string[];
}

/** Source ranks: a distro's own tracker knows its backports best. */
function sourceRank(e: Evidence): number {
  if (e.source === 'debian-tracker' || e.source === 'alpine-secdb' || e.source === 'alas' || e.source === 'elsa' || e.source === 'redhat-csaf') return 3;
  return 2;
}

export type { Coverage } from './coverage.js';
export { coverageOf, imageEcosystems } from './coverage.js';

export function severityRank(s: Severity): number {
  return SEVERITIES.length - SEVERITIES.indexOf(s);
}

interface Lookup {
  key: PackageKey;
  version: string;
  comparator?: Comparator;
}

/** The keys and versions a package is looked up by (empty with a reason when it has none). */
export function lookupsFor(pkg: Package, distro: Distro | undefined): { lookups: Lookup[]; why?: string } {
  const ecosystem = ecosystemForPackage(pkg, distro);
  if (!ecosystem) return { lookups: [], why: pkg.distro || ['deb', 'apk', 'rpm'].includes(pkg.type) ? `no advisory ecosystem for ${pkg.type} on ${distro ? `${distro.id} ${distro.versionId ?? distro.codename ?? ''}`.trim() : 'an unknown distro'}` : `no advisory ecosystem for ${pkg.type} packages` };
  const info = ecosystemInfo(ecosystem);
  const comparator = info?.scheme ? comparatorFor(info.scheme) : undefined;
  const norm = (n: string) => info?.normaliseName(n) ?? n;
  const out: Lookup[] = [];
  const add = (name: string, version: string) => {
    const key = { ecosystem, name: norm(name) };
    if (!out.some((l) => l.key.name === key.name)) out.push({ key, version, comparator });
  };
  switch (pkg.type) {
    case 'deb':
      // Debian's advisories name source packages and the source version (a binNMU's +bN is not part of it).
      add(pkg.sourceName ?? pkg.name, pkg.sourceVersion ?? pkg.version);
      break;
    case 'apk':
      add(pkg.sourceName ?? pkg.name, pkg.version);
      break;
    case 'rpm':
      // Red Hat family feeds name source packages in some ecosystems and binary ones in others.
      // ALAS and ELSA name binary packages only (match/alas.ts, match/elsa.ts).
      if (!isAlasEcosystem(ecosystem) && !isElsaEcosystem(ecosystem)) add(pkg.sourceName ?? pkg.name, pkg.version);
      add(pkg.name, pkg.version);
      break;
    case 'golang':
      // A main module built from a checkout has no version: nothing to compare.
      if (pkg.version === '(devel)' || pkg.version === '') return { lookups: [], why: 'a Go main module built without a version ((devel))' };
      // The toolchain is "stdlib" in OSV's Go ecosystem, versioned without the "go" prefix.
      add(pkg.name, pkg.name === 'stdlib' ? pkg.version.replace(/^go/, '') : pkg.version);
      break;
    default:
      add(advisoryNameFor(pkg), pkg.version);
  }
  return { lookups: out };
}

export async function matchInventory(
  inventory: { packages: readonly Package[]; distro?: Distro },
  store: AdvisoryStore,
  opts: MatchOptions = {},
): Promise<MatchResult> {
  const result: MatchResult = {
    findings: [],
    judgedThroughOwner: [],
    unmatchable: [],
    counts: { packages: inventory.packages.length, packagesLookedUp: 0, keysLookedUp: 0, advisoryEntriesChecked: 0, findings: 0, ownedByOsPackage: 0, notAffected: 0, withdrawn: 0, invalidVersions: 0 },
    issues: [],
  };
  const cache = new Map<string, Promise<Advisory[]>>();
  const fetch = (key: PackageKey) => {
    const k = `${key.ecosystem}\u0000${key.name}`;
    let p = cache.get(k);
    if (!p) {
      result.counts.keysLookedUp++;
      cache.set(k, (p = store.forPackage(key)));
    }
    return p;
  };
  const badAdvisoryVersions = new Set<string>();
  const rhScope = redHatScope(inventory.distro);
  const issuedById = new Map<string, string | undefined>();

  for (const pkg of inventory.packages) {
    if (pkg.ownedBy && !opts.matchOwnedPackages && !['deb', 'apk', 'rpm'].includes(pkg.type)) {
      result.counts.ownedByOsPackage++;
      result.judgedThroughOwner.push({ package: pkg.purl, owner: pkg.ownedBy.purl });
      continue;
    }
    const { lookups, why } = lookupsFor(pkg, inventory.distro);
    if (lookups.length === 0) {
      result.unmatchable.push({ package: pkg.purl, why: why ?? 'no lookup key' });
      continue;
    }
    result.counts.packagesLookedUp++;
    const evidence: Array<{ advisory: Advisory; ev: Evidence }> = [];
    for (const lookup of lookups) {
      if (lookup.comparator && !lookup.comparator.isValid(lookup.version)) {
        result.counts.invalidVersions++;
        result.issues.push({ package: pkg.purl, message: `installed version "${lookup.version}" is not a valid ${lookup.comparator.scheme} version: the package was not matched` });
        continue;
      }
      for (const advisory of await fetch(lookup.key)) {
        if (advisory.withdrawn) {
          result.counts.withdrawn++;
          continue;
        }
        for (const entry of advisory.affected) {
          if (entry.ecosystem !== lookup.key.ecosystem || entry.name !== lookup.key.name) continue;
          if (!alasEntryApplies(entry, lookup.version)) continue;
          if (!redHatEntryApplies(entry, lookup.key.name, pkg, rhScope)) continue;
          if (!elsaEntryApplies(entry, { version: lookup.version, ...(pkg.arch ? { arch: pkg.arch } : {}), ...(pkg.release ? { release: pkg.release } : {}) })) continue;
          result.counts.advisoryEntriesChecked++;
          if (entry.fixState === 'not-affected') {
            result.counts.notAffected++;
            continue;
          }
          try {
            const ev = judge(advisory, entry, lookup);
            if (ev) evidence.push({ advisory, ev });
            if (ev) issuedById.set(advisory.id, advisory.published);
          } catch (e) {
            if (!(e instanceof InvalidVersionError)) throw e;
            const id = `${advisory.source}:${advisory.id}:${e.version}`;
            if (!badAdvisoryVersions.has(id)) {
              badAdvisoryVersions.add(id);
              result.counts.invalidVersions++;
              result.issues.push({ advisory: advisory.id, package: pkg.purl, message: `advisory ${advisory.id} (${advisory.source}) has an invalid ${e.scheme} version "${e.version}": that entry was skipped` });
            }
          }
        }
      }
    }
    result.findings.push(...mergeAliases(pkg, evidence));
  }
  annotateAlasFindings(result.findings, inventory.distro, (id) => issuedById.get(id));
  applySeverityFallback(result.findings, opts.cvss ?? cvssStoreOf(store));
  applyExploitData(result.findings, opts.exploits ?? exploitStoreOf(store));
  result.findings.sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || a.package.name.localeCompare(b.package.name) || a.id.localeCompare(b.id));
  result.counts.findings = result.findings.length;
  if (opts.suppressions) applySuppressions(result.findings, opts.suppressions, { imageDigests: opts.imageDigests ?? [] });
  return result;
}

/** Evidence when `entry` affects the looked-up version, else undefined. */
function judge(advisory: Advisory, entry: AffectedPackage, lookup: Lookup): Evidence | undefined {
  const c = lookup.comparator;
  const v = lookup.version;
  let matched: Evidence['matched'] | undefined;
  if (entry.versions.includes(v)) matched = { version: v };
  else if (c) {
    const hit = entry.versions.find((x) => c.isValid(x) && c.compare(v, x) === 0);
    if (hit !== undefined) matched = { version: hit };
    for (const interval of matched ? [] : entry.intervals) {
      if (rangeContains(c, v, interval)) {
        matched = { interval };
        break;
      }
    }
  }
  if (!matched) return undefined;
  // A bound that is not a fix for this release (Debian: fixed only in sid) is evidence, not a fix.
  let fixedIn: string | undefined;
  if (c && entry.fixState === 'fixed') {
    for (const i of entry.intervals) {
      if (i.fixed === undefined || c.compare(i.fixed, v) <= 0) continue;
      if (fixedIn === undefined || c.compare(i.fixed, fixedIn) < 0) fixedIn = i.fixed;
    }
  }
  const fixState: FixState = fixedIn ? 'fixed' : entry.fixState === 'fixed' ? 'not-fixed' : entry.fixState;
  return {
    source: advisory.source,
    advisory: advisory.id,
    key: lookup.key,
    version: v,
    matched,
    fixState,
    ...(fixedIn !== undefined ? { fixedIn } : {}),
    severity: entry.severity ?? advisory.severity,
  };
}

/** One finding per group of advisories that name each other (CVE ↔ DSA ↔ GHSA ↔ PYSEC). */
function mergeAliases(pkg: Package, evidence: Array<{ advisory: Advisory; ev: Evidence }>): Finding[] {
  if (evidence.length === 0) return [];
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r) ?? r;
    parent.set(x, r);
    return r;
  };
  const union = (a: string, b: string) => {
    if (!parent.has(a)) parent.set(a, a);
    if (!parent.has(b)) parent.set(b, b);
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(ra, rb);
  };
  // Aliases, and a single upstream id (ALPINE-CVE-X of CVE-X), name the same vulnerability; a
  // notice with several upstream ids (a DSA fixing three CVEs) is not any one of them.
  const sameAs = (a: Advisory) => [...a.aliases, ...(a.upstream?.length === 1 ? a.upstream : [])];
  for (const { advisory } of evidence) {
    union(advisory.id, advisory.id);
    for (const a of sameAs(advisory)) union(advisory.id, a);
  }
  const groups = new Map<string, Array<{ advisory: Advisory; ev: Evidence }>>();
  for (const e of evidence) {
    const r = find(e.advisory.id);
    let g = groups.get(r);
    if (!g) groups.set(r, (g = []));
    g.push(e);
  }
  const idsOf = (group: Array<{ advisory: Advisory }>) => {
    const ids = new Set<string>();
    for (const { advisory } of group) {
      ids.add(advisory.id);
      for (const a of sameAs(advisory)) ids.add(a);
    }
    return ids;
  };
  const covered = new Set<string>();
  for (const g of groups.values()) if (!g.every(({ advisory }) => (advisory.upstream?.length ?? 0) > 1)) for (const id of idsOf(g)) covered.add(id);
  const out: Finding[] = [];
  for (const group of groups.values()) {
    // A notice for several CVEs adds nothing when each of them is a finding of its own.
    const upstream = [...new Set(group.flatMap(({ advisory }) => ((advisory.upstream?.length ?? 0) > 1 ? advisory.upstream! : [])))];
    if (upstream.length > 0 && group.every(({ advisory }) => (advisory.upstream?.length ?? 0) > 1) && upstream.every((u) => covered.has(u))) continue;
    group.sort((a, b) => sourceRank(b.ev) - sourceRank(a.ev));
    const ids = idsOf(group);
    const sorted = [...ids].sort();
    const id = sorted.find((x) => x.startsWith('CVE-')) ?? group[0]!.advisory.id;
    const best = group[0]!.ev;
    const summary = group.find((g) => g.advisory.summary)?.advisory.summary;
    const severity = findingSeverity(group.map((g) => g.ev));
    let cvss: CvssScore | undefined;
    for (const { advisory } of group) for (const s of advisory.cvss) if (!cvss || s.score > cvss.score) cvss = s;
    out.push({
      id,
      aliases: sorted.filter((x) => x !== id),
      ...(upstream.length > 0 ? { related: upstream.filter((u) => !ids.has(u)).sort() } : {}),
      severity,
      ...(cvss ? { cvss } : {}),
      fixState: best.fixState as FindingFixState,
      ...(best.fixedIn !== undefined ? { fixedIn: best.fixedIn } : {}),
      package: { type: pkg.type, name: pkg.name, version: pkg.version, purl: pkg.purl, ...(pkg.sourceName && pkg.sourceName !== pkg.name ? { sourceName: pkg.sourceName } : {}) },
      layer: pkg.layer,
      ...(summary ? { summary } : {}),
      ...(published(group) ? { published: published(group) } : {}),
      evidence: group.map((g) => g.ev),
    });
  }
  return out;
}

/**
 * A finding's severity from its evidence, most specific source first: the first one that is
 * not "unknown". The one place the matcher decides severity (a CVSS fallback hooks in here).
 */
export function findingSeverity(evidence: readonly Evidence[]): Severity {
  return evidence.map((e) => e.severity).find((s) => s !== 'unknown') ?? 'unknown';
}

function published(group: Array<{ advisory: Advisory }>): string | undefined {
  let min: string | undefined;
  for (const { advisory } of group) {
    const p = advisory.published;
    if (p && !Number.isNaN(Date.parse(p)) && (!min || Date.parse(p) < Date.parse(min))) min = p;
  }
  return min;
}
