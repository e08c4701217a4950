/**
 * Composer (Packagist) version order: composer/semver's VersionParser::normalize, then PHP's
 * version_compare on the normalised strings — what Comparator::compare does.
 *
 * normalize (composer/semver 3.x), in order: trim (PHP's trim set), drop an "X as Y" alias
 * to X, drop an "@stability" flag, read master/trunk/default and "dev-*" as branch names,
 * drop "+build" metadata, then one of
 *  - classical: "v"? 1–5 digit major, up to three more ".N", an optional stability
 *    (stable, beta|b, RC, alpha|a, patch|pl|p, with optional numbers) and an optional
 *    "dev" → four numbers plus "-stability" / "-dev": "1.2" → "1.2.0.0", "v1.0-b2" →
 *    "1.0.0.0-beta2", "1.0.0-rc.1" → "1.0.0.0-RC1", "1.0-p1" → "1.0.0.0-patch1";
 *  - date-like: "YYYY" then up to six [.:-]?NN and an optional [.:-]?N{1,3} → the digits
 *    joined by "." ("2010-01-02" → "2010.01.02"), with the same suffixes;
 *  - a numeric branch "1.2.x-dev" → "1.2.9999999.9999999-dev".
 * Anything else is invalid, as it is for Composer.
 *
 * Branch names ("dev-master", "dev-feature/x", and master/trunk/default) are refused with
 * InvalidVersionError: Composer itself does not order them against versions (two branches
 * are only ever equal or not, and constraints never match them), so no order we made up
 * would be Composer's; a scanner should report them as unversioned rather than guess.
 *
 * version_compare (php-src ext/standard/versioning.c): the string is canonicalised ("-",
 * "_", "+" and other non-alphanumerics become ".", a "." is put at every digit↔non-digit
 * change), then compared part by part: numbers numerically (saturating at 2^63−1, like
 * strtol), words by their first letters: dev < alpha = a… < beta = b… < RC = rc… < number <
 * pl = p… (so "patch" is above a release), any other word below "dev"; when one version runs
 * out, a following number makes the longer one greater and a following word is compared
 * with a number. Note "1.0.0.0" < "1.0.0.0.0" for version_compare; Composer's four-number
 * normalisation keeps this from mattering except between a date version and a classical one.
 */
import { InvalidVersionError, type Comparator, type Order } from './types.js';

/** PHP's trim(): " \t\n\r\0\x0B" (not \f). */
const PHP_TRIM = /^[ \t\n\r\0\v]+|[ \t\n\r\0\v]+$/g;
/** PCRE's \s without the u flag (ASCII whitespace only), for use inside a character class. */
const WS = ' \\t\\n\\v\\f\\r';

/**
 * Composer's modifier regex. Its possessive ((?:[.-]?\d+)*+)? is written as the same language
 * without the ambiguous nesting ([.-]?\d+(?:[.-]\d+)*), so that a failing match cannot
 * backtrack exponentially over a long digit run (JavaScript has no possessive quantifiers).
 */
const MODIFIER = '[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\\d+(?:[.-]\\d+)*)?))?([.-]?dev)?';
const ALIAS = new RegExp(`^([^,${WS}]+) +as +([^,${WS}]+)$`);
const STABILITY_FLAG = /@(?:stable|RC|beta|alpha|dev)$/i;
const BUILD = new RegExp(`^([^,+${WS}]+)\\+[^${WS}]+$`);
const CLASSICAL = new RegExp(`^v?(\\d{1,5})(\\.\\d+)?(\\.\\d+)?(\\.\\d+)?${MODIFIER}$`, 'i');
const DATE = new RegExp(`^v?(\\d{4}(?:[.:-]?\\d{2}){1,6}(?:[.:-]?\\d{1,3})?)${MODIFIER}$`, 'i');
const DEV_SUFFIX = /^(.*?)[.-]?dev$/i;
const NUMERIC_BRANCH = /^v?(\d+)(\.(?:\d+|[xX*]))?(\.(?:\d+|[xX*]))?(\.(?:\d+|[xX*]))?$/i;

function expandStability(s: string): string {
  const l = s.toLowerCase();
  return l === 'a' ? 'alpha' : l === 'b' ? 'beta' : l === 'p' || l === 'pl' ? 'patch' : l === 'rc' ? 'RC' : l;
}

/** VersionParser::normalize; returns the normalised version, or a "dev-…" branch name. Throws when Composer would. */
export function composerNormalize(input: string): string {
  let version = input.replace(PHP_TRIM, '');
  const alias = ALIAS.exec(version);
  if (alias) version = alias[1]!;
  const flag = STABILITY_FLAG.exec(version);
  if (flag) version = version.slice(0, version.length - flag[0].length);
  if (version === 'master' || version === 'trunk' || version === 'default') version = `dev-${version}`;
  if (version.slice(0, 4).toLowerCase() === 'dev-') return `dev-${version.slice(4)}`;
  const build = BUILD.exec(version);
  if (build) version = build[1]!;

  let m = CLASSICAL.exec(version);
  let index = 5;
  if (m) version = `${m[1]}${m[2] || '.0'}${m[3] || '.0'}${m[4] || '.0'}`;
  else if ((m = DATE.exec(version))) {
    version = m[1]!.replace(/\D/g, '.');
    index = 2;
  }
  if (m) {
    const stability = m[index];
    if (stability) {
      if (stability === 'stable') return version;
      version += `-${expandStability(stability)}${(m[index + 1] ?? '').replace(/^[.-]+/, '')}`;
    }
    if (m[index + 2]) version += '-dev';
    return version;
  }

  const dev = DEV_SUFFIX.exec(version);
  if (dev) {
    const normalized = normalizeBranch(dev[1]!);
    if (!normalized.includes('dev-')) return normalized;
  }
  throw new InvalidVersionError('composer', input, 'not a Composer version (VersionParser::normalize refuses it)');
}

/** VersionParser::normalizeBranch. */
function normalizeBranch(name: string): string {
  name = name.replace(PHP_TRIM, '');
  const m = NUMERIC_BRANCH.exec(name);
  if (!m) return `dev-${name}`;
  let version = '';
  for (let i = 1; i < 5; i++) version += m[i] !== undefined ? m[i]!.replace(/[*X]/g, 'x') : '.x';
  return `${version.replaceAll('x', '9999999')}-dev`;
}

function isBranch(normalized: string): boolean {
  return normalized.startsWith('dev-');
}

function normalized(version: string): string {
  const n = composerNormalize(version);
  if (isBranch(n)) throw new InvalidVersionError('composer', version, `"${n}" is a branch name, which Composer does not order against versions`);
  return n;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isAlnum = (c: string): boolean => isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

/** php_canonicalize_version. */
function canonicalize(v: string): string {
  if (v === '') return '';
  let out = v[0]!;
  let lp = v[0]!;
  for (let i = 1; i < v.length; i++) {
    const p = v[i]!;
    const lq = out[out.length - 1];
    const digitP = isDigit(p);
    const nonDigitP = !digitP && p !== '.';
    const digitLp = isDigit(lp);
    const nonDigitLp = !digitLp && lp !== '.';
    if (p === '-' || p === '_' || p === '+') {
      if (lq !== '.') out += '.';
    } else if ((nonDigitLp && digitP) || (digitLp && nonDigitP)) {
      if (lq !== '.') out += '.';
      out += p;
    } else if (!isAlnum(p)) {
      if (lq !== '.') out += '.';
    } else out += p;
    lp = p;
  }
  return out;
}

const SPECIAL_FORMS: ReadonlyArray<readonly [string, number]> = [
  ['dev', 0],
  ['alpha', 1],
  ['a', 1],
  ['beta', 2],
  ['b', 2],
  ['RC', 3],
  ['rc', 3],
  ['#', 4],
  ['pl', 5],
  ['p', 5],
];

function specialForm(form: string): number {
  for (const [name, order] of SPECIAL_FORMS) if (form.startsWith(name)) return order;
  return -1;
}

function compareSpecial(a: string, b: string): Order {
  const d = specialForm(a) - specialForm(b);
  return d < 0 ? -1 : d > 0 ? 1 : 0;
}

const LONG_MAX = 2n ** 63n - 1n;

/** strtol on a part that starts with a digit: its leading digits, saturating. */
function strtol(part: string): bigint {
  const n = BigInt(/^[0-9]+/.exec(part)![0]);
  return n > LONG_MAX ? LONG_MAX : n;
}

/** php_version_compare, on the same walk as the C code (p = start of the current part, n = the dot after it). */
export function phpVersionCompare(orig1: string, orig2: string): Order {
  if (orig1 === '' || orig2 === '') return orig1 === orig2 ? 0 : orig1 !== '' ? 1 : -1;
  const v1 = orig1[0] === '#' ? orig1 : canonicalize(orig1);
  const v2 = orig2[0] === '#' ? orig2 : canonicalize(orig2);
  let p1 = 0;
  let p2 = 0;
  let n1: number | null = 0;
  let n2: number | null = 0;
  let compare: Order = 0;
  while (p1 < v1.length && p2 < v2.length && n1 !== null && n2 !== null) {
    const d1 = v1.indexOf('.', p1);
    const d2 = v2.indexOf('.', p2);
    n1 = d1 < 0 ? null : d1;
    n2 = d2 < 0 ? null : d2;
    const e1 = v1.slice(p1, n1 ?? v1.length);
    const e2 = v2.slice(p2, n2 ?? v2.length);
    if (isDigit(e1[0]) && isDigit(e2[0])) {
      const l1 = strtol(e1);
      const l2 = strtol(e2);
      compare = l1 < l2 ? -1 : l1 > l2 ? 1 : 0;
    } else if (!isDigit(e1[0]) && !isDigit(e2[0])) compare = compareSpecial(e1, e2);
    else compare = isDigit(e1[0]) ? compareSpecial('#N#', e2) : compareSpecial(e1, '#N#');
    if (compare !== 0) return compare;
    if (n1 !== null) p1 = n1 + 1;
    if (n2 !== null) p2 = n2 + 1;
  }
  if (n1 !== null) return isDigit(v1[p1]) ? 1 : phpVersionCompare(v1.slice(p1), '#N#');
  if (n2 !== null) return isDigit(v2[p2]) ? -1 : phpVersionCompare('#N#', v2.slice(p2));
  return 0;
}

export const composerComparator: Comparator = {
  scheme: 'composer',
  isValid(version: string): boolean {
    try {
      normalized(version);
      return true;
    } catch (e) {
      if (e instanceof InvalidVersionError) return false;
      throw e;
    }
  },
  compare(a: string, b: string): Order {
    return phpVersionCompare(normalized(a), normalized(b));
  },
};
