/**
 * Go module version order: golang.org/x/mod/semver's Compare.
 *
 * Syntax (x/mod's parse): "v" then MAJOR[.MINOR[.PATCH]], numbers without leading zeros;
 * the shorthands "v1" and "v1.2" mean v1.0.0 and v1.2.0 and take no prerelease or build
 * ("v1.2-pre" is invalid). A full version may carry "-prerelease" (dot-separated
 * non-empty [0-9A-Za-z-] identifiers, numeric ones without leading zeros) and "+build"
 * (same characters, leading zeros allowed). "+incompatible" is build metadata like any
 * other and, like any other, does not take part in the order.
 *
 * OSV writes Go module and standard-library ("stdlib") versions without the "v"
 * ("1.2.3", "1.21.5"): a version not starting with "v" is read as if it did, so "1.2.3"
 * and "v1.2.3" are the same version. Go's own spelling of toolchains ("go1.21rc2") is not
 * accepted: it is not semver, and OSV does not use it.
 *
 * Order: major, minor, patch by value (any length), then a prerelease below the release,
 * prerelease identifiers pairwise (numeric below alphanumeric, numbers by value, others
 * by ASCII, a shorter list of equal identifiers first). Pseudo-versions are prereleases
 * and need nothing more: v1.2.4-0.20191109021931-daa7c04131f5 sorts after v1.2.3 and
 * before v1.2.4-pre and v1.2.4. Unlike x/mod, which orders an invalid version below every
 * valid one, an invalid version throws InvalidVersionError.
 */
import { InvalidVersionError, type Comparator, type Order } from './types.js';

interface GoVersion {
  major: string;
  minor: string;
  patch: string;
  /** identifiers after "-", empty for a release */
  prerelease: string[];
}

const NUM = '(0|[1-9][0-9]*)';
const IDENT = '[0-9A-Za-z-]+';
const PRE_IDENT = '(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)';
const FULL = new RegExp(`^v${NUM}\\.${NUM}\\.${NUM}(?:-(${PRE_IDENT}(?:\\.${PRE_IDENT})*))?(?:\\+${IDENT}(?:\\.${IDENT})*)?$`);
const SHORT = new RegExp(`^v${NUM}(?:\\.${NUM})?$`);

/** With the "v" OSV leaves out. */
const withV = (version: string): string => (version.startsWith('v') ? version : `v${version}`);

function parse(version: string): GoVersion | undefined {
  if (typeof version !== 'string') return undefined;
  const v = withV(version);
  const full = FULL.exec(v);
  if (full) return { major: full[1] as string, minor: full[2] as string, patch: full[3] as string, prerelease: full[4]?.split('.') ?? [] };
  const short = SHORT.exec(v);
  if (short) return { major: short[1] as string, minor: short[2] ?? '0', patch: '0', prerelease: [] };
  return undefined;
}

function parseOrThrow(version: string): GoVersion {
  const v = parse(version);
  if (!v) throw new InvalidVersionError('go', String(version), 'not a Go module version (vMAJOR[.MINOR[.PATCH[-pre][+build]]])');
  return v;
}

/** Digit strings without leading zeros: longer is larger, then by characters. */
function compareDigits(a: string, b: string): Order {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

const isNumeric = (s: string): boolean => /^[0-9]+$/.test(s);

function comparePrerelease(a: string[], b: string[]): Order {
  if (a.length === 0 || b.length === 0) return a.length === b.length ? 0 : a.length === 0 ? 1 : -1;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (x === y) continue;
    const xn = isNumeric(x);
    const yn = isNumeric(y);
    if (xn !== yn) return xn ? -1 : 1;
    if (xn) return compareDigits(x, y);
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/**
 * Whether `version` is a pseudo-version, as golang.org/x/mod/module.IsPseudoVersion
 * decides: a valid version whose prerelease ends in a 14-digit UTC timestamp and a
 * revision, in one of the three forms
 *   vX.0.0-yyyymmddhhmmss-abcdefabcdef       (no earlier tag)
 *   vX.Y.Z-pre.0.yyyymmddhhmmss-abcdefabcdef (after the prerelease vX.Y.Z-pre)
 *   vX.Y.Z-0.yyyymmddhhmmss-abcdefabcdef     (after the release vX.Y.(Z-1))
 * optionally followed by "+incompatible" (or other build metadata). The "v" may be left
 * out, as OSV does.
 */
export function isPseudoVersion(version: string): boolean {
  if (!parse(version)) return false;
  return /^v[0-9]+\.(?:0\.0-|[0-9]+\.[0-9]+-(?:[^+]*\.)?0\.)[0-9]{14}-[A-Za-z0-9]+(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/.test(withV(version));
}

export const goComparator: Comparator = {
  scheme: 'go',
  isValid: (version) => parse(version) !== undefined,
  compare: (a, b) => {
    const x = parseOrThrow(a);
    const y = parseOrThrow(b);
    return compareDigits(x.major, y.major) || compareDigits(x.minor, y.minor) || compareDigits(x.patch, y.patch) || comparePrerelease(x.prerelease, y.prerelease);
  },
};
