/**
 * npm version order: SemVer 2.0 as the `semver` package parses it in strict mode
 * (`semver.valid(v)`, loose: false) — the mode npm's registry publishes with, so every
 * registry version is accepted. That mode also takes a leading "v" and surrounding
 * whitespace (" v1.2.3 " is 1.2.3) but refuses "=1.2.3", leading zeros ("01.2.3"), a
 * missing part ("1.2"), a prerelease without hyphen ("1.2.3beta"), more than 256
 * characters and major/minor/patch above Number.MAX_SAFE_INTEGER; loose parsing is not
 * offered because a loosely read version is a guess, and a guess in a range check hides
 * or invents a vulnerability.
 *
 * Order: semver's compare (major, minor, patch, then a prerelease below the release, then
 * identifiers pairwise: numeric below alphanumeric, numbers by value, others by ASCII; a
 * shorter list of equal identifiers first). Build metadata is ignored ("1.0.0+a" ==
 * "1.0.0+b"). The one place we do not call semver.compareIdentifiers: numeric
 * prerelease identifiers longer than Number.MAX_SAFE_INTEGER, which semver compares as
 * rounded floats (1.0.0-9007199254740993 would equal 1.0.0-9007199254740992); we compare
 * their digits exactly.
 */
import semver from 'semver';
import { InvalidVersionError, type Comparator, type Order } from './types.js';

function parse(version: string): semver.SemVer {
  const v = typeof version === 'string' ? semver.parse(version, { loose: false }) : null;
  if (!v) throw new InvalidVersionError('semver', String(version), 'not a strict SemVer 2.0 version');
  return v;
}

const NUMERIC = /^[0-9]+$/;

/** Digit strings without leading zeros: longer is larger, then by characters. */
function compareDigits(a: string, b: string): Order {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareIdentifier(a: string, b: string): Order {
  const an = NUMERIC.test(a);
  const bn = NUMERIC.test(b);
  if (an && bn) return compareDigits(a, b);
  if (an !== bn) return an ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function comparePrerelease(a: ReadonlyArray<string | number>, b: ReadonlyArray<string | number>): Order {
  if (a.length === 0 || b.length === 0) return a.length === b.length ? 0 : a.length === 0 ? 1 : -1;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareIdentifier(String(a[i]), String(b[i]));
    if (c) return c;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export const semverComparator: Comparator = {
  scheme: 'semver',
  isValid: (version) => typeof version === 'string' && semver.valid(version, { loose: false }) !== null,
  compare: (a, b) => {
    const x = parse(a);
    const y = parse(b);
    return (x.compareMain(y) as Order) || comparePrerelease(x.prerelease, y.prerelease);
  },
};
