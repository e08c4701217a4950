/**
 * Advisory coverage: which ecosystems an image needs advisory data for, and which of them the
 * loaded data covers. A gate over an ecosystem no source covers cannot be trusted to pass
 * ("a gate without data must not pass"), so callers fail it closed unless the user opts out.
 *
 * The image's ecosystems are the keys the matcher looks packages up under: the OS release
 * ("Debian:12", "Alpine:v3.20") for deb/apk/rpm packages, and each language ecosystem ("npm",
 * "PyPI", "Go", "Maven", "crates.io", …) with packages. A language package owned by an OS
 * package is judged through its owner (see index.ts), so it needs no ecosystem of its own.
 * OS packages of a release with no advisory ecosystem at all are named "<id>:<version>" and
 * are always uncovered. Language packages of a type no feed has are listed by the matcher as
 * unmatchable, not here (no data source could cover them).
 */
import { distroEcosystem, ecosystemForPackage, ecosystemInfo } from '../advisories/ecosystems.js';
import type { Distro, Package } from '../catalog/types.js';
import { DrydockError } from '../errors.js';
import type { PolicyBundle } from '../policy/types.js';

const DAY_MS = 86_400_000;
/** Grype's default: refuse advisory data older than 5 days (CLI --max-advisory-age, DRYDOCK_MAX_ADVISORY_AGE). */
export const DEFAULT_MAX_ADVISORY_AGE = '5d';

const OS_TYPES = new Set(['deb', 'apk', 'rpm']);

export interface Coverage {
  /** ecosystems of the image the loaded advisory data covers, sorted */
  covered: string[];
  /** ecosystems of the image no loaded source covers, sorted */
  uncovered: string[];
  /**
   * the uncovered ones no advisory source Drydock reads exists for ("centos:9", "fedora:40", an
   * unknown os-release ID, "rpm:unknown distro"): no sync can cover them. Absent when none.
   */
  noSource?: string[];
}

/** The ecosystem keys an image's packages are judged under (sorted, each once). */
export function imageEcosystems(inventory: { packages: readonly Pick<Package, 'type' | 'distro' | 'ownedBy'>[]; distro?: Distro }, opts: { matchOwnedPackages?: boolean } = {}): string[] {
  const out = new Set<string>();
  for (const pkg of inventory.packages) {
    const os = OS_TYPES.has(pkg.type);
    if (pkg.ownedBy && !os && !opts.matchOwnedPackages) continue;
    const eco = ecosystemForPackage(pkg, inventory.distro);
    if (eco) out.add(eco);
    else if (os) {
      const d = inventory.distro;
      out.add(d ? `${d.id}:${d.versionId ?? d.codename ?? 'unknown'}` : `${pkg.type}:unknown distro`);
    }
  }
  return [...out].sort();
}

/** Splits the image's ecosystems into covered and uncovered by the ecosystems the sources hold. */
export function coverageOf(ecosystems: readonly string[], sourceEcosystems: Iterable<string>): Coverage {
  const have = new Set(sourceEcosystems);
  const covered: string[] = [];
  const uncovered: string[] = [];
  for (const e of ecosystems) (have.has(e) ? covered : uncovered).push(e);
  const noSource = uncovered.filter((e) => !ecosystemInfo(e));
  return noSource.length > 0 ? { covered, uncovered, noSource } : { covered, uncovered };
}

/** An image whose OS packages no advisory source Drydock reads can judge (CentOS Stream, Fedora, an unknown os-release). */
export interface NoAdvisorySource {
  /** the distribution as people name it: PRETTY_NAME (printable, at most 80 characters), else ID and VERSION_ID */
  distro: string;
  /** the coverage key the gate reports it under ("centos:9") */
  ecosystem: string;
  /** OS packages left unchecked */
  packages: number;
  /** the warning every output shows */
  message: string;
}

/**
 * "No silent blind spots": when the image's OS packages have no advisory source at all, what to
 * say (every report shows `message`; the gate counts the ecosystem as advisory data missing).
 * Undefined when the OS is covered by some source Drydock reads, or the image has no OS packages.
 */
export function noAdvisorySource(inventory: { packages: readonly Pick<Package, 'type' | 'distro' | 'ownedBy'>[]; distro?: Distro }): NoAdvisorySource | undefined {
  const d = inventory.distro;
  // a release with a source (an rpm on Debian is a mismatch, not a blind spot of the source)
  if (d && distroEcosystem(d)) return undefined;
  let packages = 0;
  let type = '';
  for (const pkg of inventory.packages) {
    if (!OS_TYPES.has(pkg.type) || ecosystemForPackage(pkg, d)) continue;
    packages++;
    type ||= pkg.type;
  }
  if (packages === 0) return undefined;
  const ecosystem = d ? `${d.id}:${d.versionId ?? d.codename ?? 'unknown'}` : `${type}:unknown distro`;
  const printable = (s: string) => s.replace(/[^\x20-\x7E\u00A0-\uFFFF]/g, '').replace(/[\u200B-\u200F\u202A-\u202E\u2066-\u2069]/g, '').trim().slice(0, 80);
  const pretty = d?.prettyName ? printable(d.prettyName) : '';
  const name = d ? `${pretty || printable([d.id, d.versionId ?? d.codename].filter(Boolean).join(' '))} (os-release ID "${printable(d.id)}"${d.versionId ? `, VERSION_ID "${printable(d.versionId)}"` : ''})` : 'an unknown distribution (no os-release)';
  return {
    distro: name,
    ecosystem,
    packages,
    message: `no advisory source for ${name}: Drydock reads no vulnerability advisories for this distribution, so its ${packages} OS package${packages === 1 ? ' was' : 's were'} not checked; gates count it as advisory data missing (${ecosystem})`,
  };
}

/** "5d", "36h", "90m", "0" → milliseconds (0 = no age limit). Bounded: at most 3650 days. */
export function parseAge(flag: string, v: string): number {
  const m = /^\s*(\d{1,7})\s*([dhm]?)\s*$/i.exec(v);
  if (!m) throw new DrydockError('CONFIG', `${flag} takes an age such as 5d, 36h or 0 (no limit), got "${v}"`);
  const n = Number(m[1]);
  const unit = (m[2] || 'd').toLowerCase();
  const ms = n * (unit === 'd' ? DAY_MS : unit === 'h' ? 3_600_000 : 60_000);
  if (ms > 3650 * DAY_MS) throw new DrydockError('CONFIG', `${flag} is at most 3650d, got "${v}"`);
  return ms;
}

/** "3d 4h", "5h", "12m": an age as people read it. */
export function formatAge(ms: number): string {
  const d = Math.floor(ms / DAY_MS);
  const h = Math.floor((ms % DAY_MS) / 3_600_000);
  if (d > 0) return h > 0 && d < 10 ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return `${h}h`;
  return `${Math.floor(ms / 60_000)}m`;
}

/** A bundle gates on vulnerabilities when any of its policies has a rule of the vulnerabilities gate. */
export function bundleGatesVulnerabilities(bundle: PolicyBundle): boolean {
  return bundle.policies.some((p) => p.rules.some((r) => r.gate.toLowerCase() === 'vulnerabilities'));
}
