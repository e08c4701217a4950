/**
 * RubyGems version order: Gem::Version (rubygems 3.3 / 3.5, unchanged in substance since 2.x).
 *
 * Valid versions are those of Gem::Version's ANCHORED_VERSION_PATTERN: digits, then
 * `.`-separated alphanumeric parts, then optionally `-` and `.`-separated parts of letters,
 * digits and `-`, with surrounding whitespace allowed. Gem::Version reads a `-` as ".pre.",
 * splits the text into runs of digits and runs of letters (the dots only separate), and
 * drops trailing zeros from the numeric head and, separately, from the part that starts
 * at the first letter run: "1.0" == "1", "1.0.a.0" == "1.a". Segments compare pairwise,
 * a missing one counting as 0; a letter run sorts below any number, so a version with
 * letters is a prerelease ("1.0.a" < "1.0", "1.0-1" < "1.0"); letter runs compare by bytes,
 * case-sensitively ("1.B" < "1.a"); numbers have no size limit.
 *
 * One deliberate difference: Gem::Version accepts the empty (or whitespace-only) string as
 * "0"; we refuse it, since for a scanner an empty version is missing data, not version 0.
 */
import { InvalidVersionError, type Comparator, type Order } from './types.js';

/**
 * ANCHORED_VERSION_PATTERN without its surrounding \s*, which rubyTrim removes first (the
 * same language, without the quadratic backtracking of /^\s*(V)?\s*$/ on long blank runs).
 * The atomic group of the original cannot change a match here.
 */
const VERSION = /^[0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/** Ruby's \s (and String#strip here): ASCII whitespace only. */
function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
}

function rubyTrim(v: string): string {
  let start = 0;
  let end = v.length;
  while (start < end && isSpace(v[start]!)) start++;
  while (end > start && isSpace(v[end - 1]!)) end--;
  return v.slice(start, end);
}

/** A segment: a number (canonical digit string, compared numerically) or a letter run. */
type Segment = { num: string } | { str: string };

function canonicalSegments(version: string): Segment[] {
  const text = rubyTrim(version);
  if (text === '') throw new InvalidVersionError('rubygems', version, 'empty version');
  if (!VERSION.test(text)) throw new InvalidVersionError('rubygems', version, 'not a Gem::Version (digits, then dot-separated letters and digits, then an optional -prerelease)');
  const segments: Segment[] = (text.replaceAll('-', '.pre.').match(/[0-9]+|[a-z]+/gi) ?? []).map((s) =>
    /^[0-9]/.test(s) ? { num: s.replace(/^0+(?=.)/, '') } : { str: s },
  );
  const firstString = segments.findIndex((s) => 'str' in s);
  const head = firstString < 0 ? segments : segments.slice(0, firstString);
  const tail = firstString < 0 ? [] : segments.slice(firstString);
  return [...dropTrailingZeros(head), ...dropTrailingZeros(tail)];
}

function dropTrailingZeros(segments: Segment[]): Segment[] {
  let end = segments.length;
  while (end > 0 && isZero(segments[end - 1]!)) end--;
  return segments.slice(0, end);
}

const ZERO: Segment = { num: '0' };

function isZero(s: Segment): boolean {
  return 'num' in s && s.num === '0';
}

function compareSegment(a: Segment, b: Segment): Order {
  if ('num' in a && 'num' in b) {
    if (a.num.length !== b.num.length) return a.num.length < b.num.length ? -1 : 1;
    return a.num < b.num ? -1 : a.num > b.num ? 1 : 0;
  }
  if ('str' in a && 'str' in b) return a.str < b.str ? -1 : a.str > b.str ? 1 : 0;
  return 'str' in a ? -1 : 1;
}

export const rubygemsComparator: Comparator = {
  scheme: 'rubygems',
  isValid(version: string): boolean {
    const text = rubyTrim(version);
    return text !== '' && VERSION.test(text);
  },
  compare(a: string, b: string): Order {
    const l = canonicalSegments(a);
    const r = canonicalSegments(b);
    const n = Math.max(l.length, r.length);
    for (let i = 0; i < n; i++) {
      const c = compareSegment(l[i] ?? ZERO, r[i] ?? ZERO);
      if (c !== 0) return c;
    }
    return 0;
  },
};
