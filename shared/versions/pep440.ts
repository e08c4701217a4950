/**
 * Python version order: PEP 440 as pypa/packaging's `Version` parses, normalises and
 * compares it (what pip and PyPI use).
 *
 * Parsing: surrounding whitespace is ignored, letters are case-insensitive, a leading "v"
 * is allowed. Then [N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local], with every spelling
 * packaging accepts: alpha/beta/c/pre/preview for a/b/rc/rc/rc, rev/r for post, `.`, `-`
 * or `_` (or nothing) before and after each label, a missing number read as 0 ("1.0a" is
 * 1.0a0), and "1.0-1" as 1.0.post1. Local labels are [a-z0-9]+ parts joined by `.`, `-`
 * or `_`. Numbers have any length (BigInt). Anything else — "french toast", "1.0-beta-foo",
 * "1.0+", legacy versions — throws InvalidVersionError.
 *
 * Stricter than packaging only for exotic Unicode: Python's case-insensitive matching also
 * takes "ı", "ſ", "K" (Kelvin) for ASCII letters, and its `\s` some non-ASCII spaces; we
 * accept ASCII letters and ASCII whitespace only.
 *
 * Order (packaging's key): epoch; release with trailing zeros ignored (1.0 == 1.0.0);
 * then a dev-only release (1.0.dev1) below every pre-release, pre-releases a < b < rc by
 * number, the plain release above them; then no post below any post, post by number; then
 * a dev-release below the same version without dev; last no local below any local, local
 * labels part by part, a numeric part above an alphanumeric one, numbers by value
 * ("+01" == "+1"), strings by code point, a shorter list of equal parts first.
 */
import { InvalidVersionError, type Comparator, type Order } from './types.js';

export type PreLabel = 'a' | 'b' | 'rc';

/** A parsed PEP 440 version, numbers as BigInt. */
export interface Pep440Version {
  epoch: bigint;
  release: bigint[];
  pre?: { label: PreLabel; number: bigint };
  post?: bigint;
  dev?: bigint;
  /** local label parts, lowercased, all-digit parts as numbers */
  local?: Array<bigint | string>;
  /** the normalised form (packaging's str(Version)) */
  normalized: string;
}

/**
 * packaging's VERSION_PATTERN, anchored, with ASCII-only whitespace and letters. The
 * alternatives are in packaging's order so that backtracking picks the same parse.
 */
const PATTERN = new RegExp(
  '^[ \\t\\n\\r\\f\\v]*v?' +
    '(?:([0-9]+)!)?' + // epoch
    '([0-9]+(?:\\.[0-9]+)*)' + // release
    '(?:[-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?([0-9]+)?)?' + // pre
    '(?:-([0-9]+)|[-_.]?(post|rev|r)[-_.]?([0-9]+)?)?' + // post, implicit or spelt
    '(?:[-_.]?(dev)[-_.]?([0-9]+)?)?' + // dev
    '(?:\\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?' + // local
    '[ \\t\\n\\r\\f\\v]*$',
  'i',
);

const PRE_LABELS: Record<string, PreLabel> = { a: 'a', alpha: 'a', b: 'b', beta: 'b', c: 'rc', rc: 'rc', pre: 'rc', preview: 'rc' };

/** Parse `version`; throws InvalidVersionError when it is not PEP 440. */
export function parsePep440(version: string): Pep440Version {
  const m = typeof version === 'string' ? PATTERN.exec(version) : null;
  if (!m) throw new InvalidVersionError('pep440', String(version), 'not a PEP 440 version');
  const [, epoch, release, preL, preN, postImplicit, postL, postN, devL, devN, local] = m;
  const v: Pep440Version = {
    epoch: epoch === undefined ? 0n : BigInt(epoch),
    release: (release as string).split('.').map((n) => BigInt(n)),
    normalized: '',
  };
  if (preL !== undefined) v.pre = { label: PRE_LABELS[preL.toLowerCase()] as PreLabel, number: BigInt(preN ?? '0') };
  if (postImplicit !== undefined) v.post = BigInt(postImplicit);
  else if (postL !== undefined) v.post = BigInt(postN ?? '0');
  if (devL !== undefined) v.dev = BigInt(devN ?? '0');
  if (local !== undefined) v.local = local.toLowerCase().split(/[-_.]/).map((p) => (/^[0-9]+$/.test(p) ? BigInt(p) : p));
  v.normalized = normalize(v);
  return v;
}

/** packaging's str(Version): "1!2.0rc1.post2.dev3+ubuntu.1". */
function normalize(v: Pep440Version): string {
  let s = v.epoch === 0n ? '' : `${v.epoch}!`;
  s += v.release.join('.');
  if (v.pre) s += `${v.pre.label}${v.pre.number}`;
  if (v.post !== undefined) s += `.post${v.post}`;
  if (v.dev !== undefined) s += `.dev${v.dev}`;
  if (v.local) s += `+${v.local.join('.')}`;
  return s;
}

const sign = (x: bigint | number): Order => (x < 0 ? -1 : x > 0 ? 1 : 0);
const cmpBig = (a: bigint, b: bigint): Order => (a < b ? -1 : a > b ? 1 : 0);
const cmpStr = (a: string, b: string): Order => (a < b ? -1 : a > b ? 1 : 0);

/** Release numbers, the shorter one padded with zeros. */
function compareRelease(a: bigint[], b: bigint[]): Order {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const c = cmpBig(a[i] ?? 0n, b[i] ?? 0n);
    if (c) return c;
  }
  return 0;
}

/** Pre-release rank: -1 for a dev-only release (below every pre), 1 for none (above), 0 for a real one. */
function preRank(v: Pep440Version): number {
  if (v.pre) return 0;
  return v.post === undefined && v.dev !== undefined ? -1 : 1;
}

function compareLocal(a: Array<bigint | string> | undefined, b: Array<bigint | string> | undefined): Order {
  if (!a || !b) return sign((a ? 1 : 0) - (b ? 1 : 0));
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as bigint | string;
    const y = b[i] as bigint | string;
    if (typeof x === 'bigint' && typeof y === 'bigint') {
      const c = cmpBig(x, y);
      if (c) return c;
    } else if (typeof x === 'bigint') return 1;
    else if (typeof y === 'bigint') return -1;
    else {
      const c = cmpStr(x as string, y as string);
      if (c) return c;
    }
  }
  return sign(a.length - b.length);
}

/** Order of two parsed versions. */
export function comparePep440(a: Pep440Version, b: Pep440Version): Order {
  let c = cmpBig(a.epoch, b.epoch) || compareRelease(a.release, b.release);
  if (c) return c;
  c = sign(preRank(a) - preRank(b));
  if (c) return c;
  if (a.pre && b.pre) {
    c = cmpStr(a.pre.label, b.pre.label) || cmpBig(a.pre.number, b.pre.number);
    if (c) return c;
  }
  if (a.post === undefined || b.post === undefined) c = sign((a.post === undefined ? 0 : 1) - (b.post === undefined ? 0 : 1));
  else c = cmpBig(a.post, b.post);
  if (c) return c;
  if (a.dev === undefined || b.dev === undefined) c = sign((a.dev === undefined ? 1 : 0) - (b.dev === undefined ? 1 : 0));
  else c = cmpBig(a.dev, b.dev);
  if (c) return c;
  return compareLocal(a.local, b.local);
}

export const pep440Comparator: Comparator = {
  scheme: 'pep440',
  isValid: (version) => typeof version === 'string' && PATTERN.test(version),
  compare: (a, b) => comparePep440(parsePep440(a), parsePep440(b)),
};
