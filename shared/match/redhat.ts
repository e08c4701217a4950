/**
 * Red Hat (CSAF VEX, shared/advisories/csaf.ts) matching rules, on top of the generic matcher
 * (shared/match/index.ts):
 *
 * - by SOURCE package: Red Hat's VEX names source RPMs (curl for curl-minimal and libcurl), so a
 *   CSAF entry judges an installed rpm only when looked up by the rpm's source name (its
 *   SOURCERPM, which the rpm cataloger records). An entry the reader could only name by a binary
 *   (a fixed EVR with no `arch=src` row, notes.binary) judges only the binary of that name.
 *   OSV's Red Hat records (binary names) are not affected by this rule.
 * - by product stream: an image built from Red Hat content carries content manifests
 *   (`/root/buildinfo/content_manifests/*.json`, read by the distro detector into
 *   Distro.contentSets): `rhel-9-for-x86_64-baseos-rpms`, `…-appstream-rpms`,
 *   `codeready-builder-for-rhel-9-x86_64-rpms`. When they are there, an entry whose platforms are
 *   all streams the image does not use (a CRB-only or SAP-only fix) does not judge it; entries of
 *   the whole release (`cpe:/o:redhat:enterprise_linux:9`, no stream) always may. Without content
 *   manifests every stream of the major release applies (the installed rpm does not say which
 *   repository it came from).
 * - EUS / AUS / E4S content sets are recognised (RedHatScope.extendedSupport) but their errata
 *   live under OSV's own keys ("Red Hat:rhel_eus:9.2::baseos"), which a plain "Red Hat:9"
 *   lookup does not read: such an image is judged by the main stream's fixes.
 */
import type { AffectedPackage } from '../advisories/types.js';
import type { Distro } from '../catalog/types.js';

export function isRedHatEcosystem(ecosystem: string): boolean {
  return ecosystem.startsWith('Red Hat:');
}

export interface ContentSet {
  major: string;
  /** the CPE stream the repository ships: "baseos", "appstream", "crb", "server", "sap_solutions", … */
  stream: string;
  /** "eus", "e4s", "aus", "tus" for an extended-support repository */
  variant?: string;
}

/**
 * A Red Hat repository id (content set) → its release, stream and support variant:
 * "rhel-9-for-x86_64-baseos-rpms" → 9 baseos; "rhel-8-for-aarch64-appstream-eus-rpms" → 8
 * appstream eus; "codeready-builder-for-rhel-9-x86_64-rpms" → 9 crb; "rhel-7-server-rpms" → 7
 * server. Source and debug repositories count as their stream. Undefined for anything else.
 */
export function parseContentSet(name: string): ContentSet | undefined {
  const id = name.trim().toLowerCase().replace(/__.*$/, '');
  let m = /^(?:rhel|ubi)-(\d+)-for-[a-z0-9_]+-([a-z0-9-]+?)(?:-(eus|e4s|aus|tus))?(?:-(?:source|debug))?-rpms$/.exec(id);
  if (m) return { major: m[1]!, stream: m[2]!.replace(/-/g, '_'), ...(m[3] ? { variant: m[3] } : {}) };
  m = /^codeready-builder-(?:beta-)?for-rhel-(\d+)-[a-z0-9_]+(?:-(eus|e4s|aus|tus))?(?:-(?:source|debug))?-rpms$/.exec(id);
  if (m) return { major: m[1]!, stream: 'crb', ...(m[2] ? { variant: m[2] } : {}) };
  m = /^rhel-(\d+)-(server|workstation|client|hpc-node)(?:-[a-z0-9-]+?)?(?:-(eus|e4s|aus|tus))?(?:-(?:source|debug))?-rpms$/.exec(id);
  if (m) return { major: m[1]!, stream: m[2]!.replace(/-/g, '_'), ...(m[3] ? { variant: m[3] } : {}) };
  return undefined;
}

export interface RedHatScope {
  /** streams of the image's content sets (empty: no content manifests, every stream applies) */
  streams: ReadonlySet<string>;
  /** the image uses an extended-support repository */
  extendedSupport: boolean;
}

/** The image's product scope from its content sets (for the release's major when it is known). */
export function redHatScope(distro: Pick<Distro, 'versionId' | 'contentSets'> | undefined): RedHatScope {
  const major = distro?.versionId ? /^(\d+)/.exec(distro.versionId)?.[1] : undefined;
  const streams = new Set<string>();
  let extendedSupport = false;
  for (const name of distro?.contentSets ?? []) {
    const cs = parseContentSet(name);
    if (!cs || (major && cs.major !== major)) continue;
    streams.add(cs.stream);
    if (cs.variant) extendedSupport = true;
  }
  return { streams, extendedSupport };
}

/**
 * Whether a Red Hat CSAF entry may judge an installed rpm looked up under `lookupName` (false:
 * looked up by the wrong name kind, or the entry's streams are none the image uses). Entries of
 * other sources always may.
 */
export function redHatEntryApplies(entry: AffectedPackage, lookupName: string, pkg: { name: string; sourceName?: string }, scope: RedHatScope): boolean {
  if (!isRedHatEcosystem(entry.ecosystem) || entry.notes?.csaf !== true) return true;
  const wanted = entry.notes.binary === true ? pkg.name : (pkg.sourceName ?? pkg.name);
  if (lookupName !== wanted) return false;
  const streams = Array.isArray(entry.notes.streams) ? (entry.notes.streams as unknown[]).filter((s): s is string => typeof s === 'string') : [];
  if (scope.streams.size === 0 || streams.length === 0) return true;
  return streams.some((s) => scope.streams.has(s));
}
