/**
 * Version order for every ecosystem, one comparator per scheme (an explicit list), behind
 * one entry point. Range checks follow OSV semantics (introduced ≤ v < fixed, v ≤ last_affected).
 */
import { apkComparator } from './apk.js';
import { composerComparator } from './composer.js';
import { dpkgComparator } from './dpkg.js';
import { goComparator } from './go.js';
import { mavenComparator } from './maven.js';
import { nugetComparator } from './nuget.js';
import { pep440Comparator } from './pep440.js';
import { rpmComparator } from './rpm.js';
import { rubygemsComparator } from './rubygems.js';
import { semverComparator } from './semver.js';
import type { Comparator, Order, Scheme } from './types.js';

export { InvalidVersionError, type Comparator, type Order, type Scheme } from './types.js';

/** Registered comparators, one per scheme; a scheme not here is refused by comparatorFor. */
export const comparators: readonly Comparator[] = [
  dpkgComparator,
  apkComparator,
  rpmComparator,
  semverComparator,
  pep440Comparator,
  mavenComparator,
  goComparator,
  rubygemsComparator,
  nugetComparator,
  composerComparator,
];

export function comparatorFor(scheme: Scheme): Comparator {
  const c = comparators.find((x) => x.scheme === scheme);
  if (!c) throw new Error(`no comparator for version scheme "${scheme}"`);
  return c;
}

export function compareVersions(scheme: Scheme, a: string, b: string): Order {
  return comparatorFor(scheme).compare(a, b);
}

export function isValidVersion(scheme: Scheme, version: string): boolean {
  return comparatorFor(scheme).isValid(version);
}

/** One affected range as OSV writes it: introduced (inclusive; "0" = from the beginning), fixed (exclusive) or last_affected (inclusive). */
export interface VersionRange {
  introduced?: string;
  fixed?: string;
  lastAffected?: string;
}

/** Whether `version` lies in `range` under `scheme`'s order. */
export function inRange(scheme: Scheme, version: string, range: VersionRange): boolean {
  return rangeContains(comparatorFor(scheme), version, range);
}

/** Whether `version` lies in `range` under comparator `c` (for callers that already hold one). */
export function rangeContains(c: Comparator, version: string, range: VersionRange): boolean {
  if (range.introduced !== undefined && range.introduced !== '0' && c.compare(version, range.introduced) < 0) return false;
  if (range.fixed !== undefined && c.compare(version, range.fixed) >= 0) return false;
  if (range.lastAffected !== undefined && c.compare(version, range.lastAffected) > 0) return false;
  return true;
}
