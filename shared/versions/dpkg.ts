/**
 * Debian package versions ([epoch:]upstream[-revision]) in dpkg's own order and with
 * dpkg's own validity, as `dpkg --compare-versions` applies them (lib/dpkg/parsehelp.c
 * parseversion, lib/dpkg/version.c verrevcmp):
 *
 * - Leading and trailing blanks (space, tab) are trimmed; a blank inside is an error.
 * - The epoch is what precedes the first ':', read as C strtol does (leading whitespace
 *   and a sign are skipped, so "+1:2" is epoch 1), and must be 0..2147483647.
 * - The revision follows the last '-' and may not be empty; the upstream may not be empty.
 * - An upstream not starting with a digit, or an unusual character, is only a dpkg
 *   *warning* (the version is still compared), so it is valid here too, reported as
 *   `warning` by parseDpkgVersion.
 *
 * Order: epoch numerically, then upstream, then revision, each with verrevcmp: non-digit
 * runs character by character where '~' sorts before everything, even the end, then
 * the end, then letters, then everything else; digit runs numerically (compared as
 * digit strings, so any length works). Characters are compared as dpkg sees them: UTF-8
 * bytes, a byte above 0x7f sorting (signed char) after letters and before ASCII
 * punctuation.
 *
 * Deviations: dpkg treats "" and "<unknown>" as the blank version on its command line;
 * here "" is invalid and "<unknown>" an ordinary (warned) version. A NUL character, which a
 * C string cannot hold, makes the version invalid.
 */
import { InvalidVersionError, type Comparator, type Order } from './types.js';

export interface DpkgVersion {
  epoch: number;
  upstream: string;
  /** '' when there is none (which compares equal to "0") */
  revision: string;
  /** set when dpkg would warn about this version (but still accept it) */
  warning?: string;
}

const INT_MAX = 2147483647;

/** Parses like dpkg's parseversion; throws InvalidVersionError for what dpkg rejects as an error. */
export function parseDpkgVersion(version: string): DpkgVersion {
  function fail(why: string): never {
    throw new InvalidVersionError('dpkg', version, why);
  }
  if (version.includes('\0')) fail('contains a NUL character');
  const s = version.replace(/^[ \t]+|[ \t]+$/g, '');
  if (s === '') fail('version string is empty');
  if (/[ \t]/.test(s)) fail('version string has embedded spaces');

  let epoch = 0;
  let rest = s;
  const colon = s.indexOf(':');
  if (colon >= 0) {
    // strtol(string, &end, 10) must stop exactly at the colon
    const m = /^[ \t\n\v\f\r]*([+-]?)([0-9]+)/.exec(s);
    if (!m) return fail('epoch in version is empty');
    const [whole, sign = '', digits = ''] = m;
    if (whole.length !== colon) fail('epoch in version is not number');
    const magnitude = digits.replace(/^0+(?=.)/, '');
    if (sign === '-' && magnitude !== '0') fail('epoch in version is negative');
    if (magnitude.length > 10 || Number(magnitude) > INT_MAX) fail('epoch in version is too big');
    epoch = Number(magnitude);
    rest = s.slice(colon + 1);
    if (rest === '') fail('nothing after colon in version number');
  }

  const hyphen = rest.lastIndexOf('-');
  const upstream = hyphen >= 0 ? rest.slice(0, hyphen) : rest;
  const revision = hyphen >= 0 ? rest.slice(hyphen + 1) : '';
  if (hyphen >= 0 && revision === '') fail('revision number is empty');
  if (upstream === '') fail('version number is empty');

  const parsed: DpkgVersion = { epoch, upstream, revision };
  // dpkg reports only the first of these, and only as a warning
  if (!/^[0-9]/.test(upstream)) parsed.warning = 'version number does not start with digit';
  else if (/[^0-9A-Za-z.+~:-]/.test(upstream)) parsed.warning = 'invalid character in version number';
  else if (/[^0-9A-Za-z.+~]/.test(revision)) parsed.warning = 'invalid character in revision number';
  return parsed;
}

const ASCII_ONLY = /^[\x00-\x7f]*$/;

/** Code units as dpkg's C code sees them: the string itself when ASCII, else its UTF-8 bytes. */
function units(s: string): ArrayLike<number> {
  if (ASCII_ONLY.test(s)) {
    const out = new Array<number>(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  return Buffer.from(s, 'utf8');
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isAlpha = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

/** dpkg's order(): '~' < end < letters < other characters (bytes > 0x7f are signed chars: c - 256 + 256). */
function order(c: number): number {
  if (c === 0 || isDigit(c)) return 0;
  if (isAlpha(c)) return c;
  if (c === 0x7e) return -1;
  return c >= 0x80 ? c : c + 256;
}

/** Sign of dpkg's verrevcmp(a, b) for one upstream or revision part. */
export function dpkgVerrevcmp(as: string, bs: string): Order {
  const a = units(as);
  const b = units(bs);
  const at = (x: ArrayLike<number>, i: number): number => (i < x.length ? (x[i] as number) : 0);
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(at(a, i))) || (j < b.length && !isDigit(at(b, j)))) {
      const ac = order(at(a, i));
      const bc = order(at(b, j));
      if (ac !== bc) return ac < bc ? -1 : 1;
      i++;
      j++;
    }
    while (at(a, i) === 0x30) i++;
    while (at(b, j) === 0x30) j++;
    let firstDiff = 0;
    while (isDigit(at(a, i)) && isDigit(at(b, j))) {
      if (firstDiff === 0) firstDiff = at(a, i) - at(b, j);
      i++;
      j++;
    }
    if (isDigit(at(a, i))) return 1;
    if (isDigit(at(b, j))) return -1;
    if (firstDiff !== 0) return firstDiff < 0 ? -1 : 1;
  }
  return 0;
}

export function compareDpkgVersions(a: DpkgVersion, b: DpkgVersion): Order {
  if (a.epoch !== b.epoch) return a.epoch < b.epoch ? -1 : 1;
  return dpkgVerrevcmp(a.upstream, b.upstream) || dpkgVerrevcmp(a.revision, b.revision);
}

export const dpkgComparator: Comparator = {
  scheme: 'dpkg',
  isValid(version) {
    try {
      parseDpkgVersion(version);
      return true;
    } catch (e) {
      if (e instanceof InvalidVersionError) return false;
      throw e;
    }
  },
  compare(a, b) {
    return compareDpkgVersions(parseDpkgVersion(a), parseDpkgVersion(b));
  },
};
