/**
 * RPM versions as full EVR strings, "[epoch:]version[-release]", in rpm's own order:
 * rpmverCmp (lib/rpmver.c) over rpmvercmp (rpmio/rpmvercmp.c), as rpm 4.16+ compares
 * rpm.ver objects and `rpm.vercmp` does.
 *
 * rpmvercmp walks both strings in segments: characters other than ASCII letters, digits,
 * '~' and '^' only separate segments. '~' sorts before everything, even the end
 * ("1.0~rc1" < "1.0"); '^' sorts after the end but before anything else
 * ("1.0" < "1.0^git1" < "1.0.1"); a numeric segment beats an alphabetic one; numeric
 * segments compare by value (leading zeros dropped, any length), alphabetic ones as
 * strings; when one side runs out first, the longer one wins.
 *
 * EVR: the epoch defaults to 0; epoch, version, then release are compared with
 * rpmvercmp. A missing release sorts before every release, as rpmverCmp does (so
 * "1.0" < "1.0-1"), which keeps the order total. rpm's dependency-range matching
 * (rpmverOverlap) instead lets a release-less "= 1.0" match any release; that is not an
 * order and is not what this comparator answers.
 *
 * Validity: rpm's own parser accepts any string; here a version is refused when it is
 * empty or holds whitespace or control characters, when a ':' is anything but the end of
 * a non-empty numeric epoch, when there is more than one '-', or when the version or the
 * release is empty.
 */
import { InvalidVersionError, type Comparator, type Order } from './types.js';

export interface RpmEvr {
  /** digits; '0' when the version has none */
  epoch: string;
  version: string;
  /** undefined when there is no '-release' */
  release?: string;
}

export function parseRpmEvr(evr: string): RpmEvr {
  function fail(why: string): never {
    throw new InvalidVersionError('rpm', evr, why);
  }
  if (evr === '') fail('empty');
  if (/[\x00-\x20\x7f]/.test(evr)) fail('contains whitespace or a control character');
  let rest = evr;
  let epoch = '0';
  const m = /^([0-9]*):/.exec(evr);
  if (m) {
    if (m[1] === '') fail('epoch is empty');
    epoch = m[1] as string;
    rest = evr.slice(m[0].length);
  }
  if (rest.includes(':')) fail("':' may only end a numeric epoch");
  const parts = rest.split('-');
  if (parts.length > 2) fail("more than one '-' (only version-release may be separated)");
  const [version = '', release] = parts;
  if (version === '') fail('version is empty');
  if (release === '') fail('release is empty');
  return release === undefined ? { epoch, version } : { epoch, version, release };
}

const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isAlpha = (c: string): boolean => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
const isAlnum = (c: string): boolean => isDigit(c) || isAlpha(c);

/** Sign of rpm's rpmvercmp(a, b) on one epoch, version or release string. */
export function rpmvercmp(a: string, b: string): Order {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while (i < a.length && !isAlnum(a[i]!) && a[i] !== '~' && a[i] !== '^') i++;
    while (j < b.length && !isAlnum(b[j]!) && b[j] !== '~' && b[j] !== '^') j++;
    const ca = a[i] ?? '';
    const cb = b[j] ?? '';

    // '~' sorts before everything, the end included
    if (ca === '~' || cb === '~') {
      if (ca !== '~') return 1;
      if (cb !== '~') return -1;
      i++;
      j++;
      continue;
    }
    // '^' sorts after the end, before everything else
    if (ca === '^' || cb === '^') {
      if (ca === '') return -1;
      if (cb === '') return 1;
      if (ca !== '^') return 1;
      if (cb !== '^') return -1;
      i++;
      j++;
      continue;
    }
    if (ca === '' || cb === '') break;

    const numeric = isDigit(ca);
    const inSegment = numeric ? isDigit : isAlpha;
    let ei = i;
    while (ei < a.length && inSegment(a[ei]!)) ei++;
    let ej = j;
    while (ej < b.length && inSegment(b[ej]!)) ej++;
    // segments of different kinds: the numeric one is newer
    if (ej === j) return numeric ? 1 : -1;

    let sa = a.slice(i, ei);
    let sb = b.slice(j, ej);
    if (numeric) {
      sa = sa.replace(/^0+/, '');
      sb = sb.replace(/^0+/, '');
      if (sa.length !== sb.length) return sa.length < sb.length ? -1 : 1;
    }
    if (sa !== sb) return sa < sb ? -1 : 1;
    i = ei;
    j = ej;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

/** rpmverCmp: epoch, version, then release, a missing release sorting first. */
export function compareRpmEvr(a: RpmEvr, b: RpmEvr): Order {
  const r = rpmvercmp(a.epoch, b.epoch) || rpmvercmp(a.version, b.version);
  if (r !== 0) return r;
  if (a.release === undefined || b.release === undefined) {
    return a.release === b.release ? 0 : a.release === undefined ? -1 : 1;
  }
  return rpmvercmp(a.release, b.release);
}

export const rpmComparator: Comparator = {
  scheme: 'rpm',
  isValid(version) {
    try {
      parseRpmEvr(version);
      return true;
    } catch (e) {
      if (e instanceof InvalidVersionError) return false;
      throw e;
    }
  },
  compare(a, b) {
    return compareRpmEvr(parseRpmEvr(a), parseRpmEvr(b));
  },
};
