/**
 * Alpine (apk-tools) package versions, in apk-tools 3's order and with its validity
 * (src/version.c): digit{.digit}...{letter}{_suffix{number}}...{~hash}{-r#}.
 *
 * A version is read as a stream of tokens, each kind allowed only after certain others:
 * the initial number, '.'-separated numbers, one lowercase letter, '_' suffixes
 * (alpha < beta < pre < rc < none < cvs < svn < git < hg < p), each optionally numbered,
 * one '~' commit hash (lowercase hex), one '-r' revision number. Two versions are
 * compared token by token while both have a token of the same kind:
 * numbers numerically — except a '.' number where either side has a leading zero, which
 * is compared as a string ("1.01" < "1.1"), letters and hashes as strings, suffixes by
 * the list above. At the first kind mismatch, a pre-release suffix loses, and otherwise
 * the side whose token kind comes later in the list above loses ("1.0" < "1.0.1",
 * "1.0" < "1.0-r1", "1.0_rc1" < "1.0").
 *
 * Deviation: apk-tools reads numbers into a uint64 that wraps past 2^64; here digit runs
 * of any length compare exactly.
 */
import { InvalidVersionError, type Comparator, type Order } from './types.js';

const INITIAL_DIGIT = 0;
const DIGIT = 1;
const LETTER = 2;
const SUFFIX = 3;
const SUFFIX_NO = 4;
const COMMIT_HASH = 5;
const REVISION_NO = 6;
const END = 7;
const INVALID = 8;

/** Suffix ranks; NONE (5) is the release itself, which the pre-release suffixes sort below. */
const SUFFIX_RANK: Readonly<Record<string, number>> = { alpha: 1, beta: 2, pre: 3, rc: 4, cvs: 6, svn: 7, git: 8, hg: 9, p: 10 };
const SUFFIX_NONE = 5;

interface Token {
  kind: number;
  /** the token's text: digits, letter, suffix word or hash */
  value: string;
  /** suffix rank for SUFFIX tokens */
  suffix: number;
}

/** apk's tokenizer over one version string; `why` says what made a token INVALID. */
class Tokens {
  private pos = 0;
  readonly t: Token = { kind: INITIAL_DIGIT, value: '', suffix: 0 };
  why = '';

  constructor(private readonly s: string) {
    this.digits(INITIAL_DIGIT);
  }

  private span(re: RegExp): string {
    re.lastIndex = this.pos;
    const m = re.exec(this.s);
    const v = m ? m[0] : '';
    this.pos += v.length;
    return v;
  }

  private invalid(why: string): void {
    this.t.kind = INVALID;
    this.why = why;
  }

  private digits(kind: number): void {
    this.t.kind = kind;
    this.t.value = this.span(/[0-9]*/y);
    if (this.t.value === '') this.invalid(this.pos < this.s.length ? `expected a digit at offset ${this.pos}` : 'expected a digit at the end');
  }

  next(): void {
    const { s, t } = this;
    if (this.pos >= s.length) {
      t.kind = END;
      return;
    }
    const c = s[this.pos] as string;
    const at = `'${c}' at offset ${this.pos}`;
    if (c >= 'a' && c <= 'z') {
      if (t.kind > DIGIT) return this.invalid(`a letter may only follow a number (${at})`);
      t.kind = LETTER;
      t.value = c;
      this.pos++;
    } else if (c === '.' || (c >= '0' && c <= '9')) {
      if (c === '.') {
        if (t.kind > DIGIT) return this.invalid(`'.' may only follow a number (${at})`);
        this.pos++;
      }
      if (t.kind === INITIAL_DIGIT || t.kind === DIGIT) this.digits(DIGIT);
      else if (t.kind === SUFFIX) this.digits(SUFFIX_NO);
      else this.invalid(`unexpected digit (${at})`);
    } else if (c === '_') {
      if (t.kind > SUFFIX_NO) return this.invalid(`a suffix may not follow a hash or revision (${at})`);
      this.pos++;
      t.value = this.span(/[a-z]*/y);
      t.suffix = SUFFIX_RANK[t.value] ?? 0;
      if (t.suffix === 0) return this.invalid(`unknown suffix "_${t.value}"`);
      t.kind = SUFFIX;
    } else if (c === '~') {
      if (t.kind >= COMMIT_HASH) return this.invalid(`a second '~' or one after the revision (${at})`);
      this.pos++;
      t.value = this.span(/[0-9a-f]*/y);
      if (t.value === '') return this.invalid(`'~' must be followed by a lowercase hex commit hash`);
      t.kind = COMMIT_HASH;
    } else if (c === '-') {
      if (t.kind >= REVISION_NO) return this.invalid(`a second revision (${at})`);
      if (s[this.pos + 1] !== 'r') return this.invalid(`'-' must start a "-r<number>" revision (${at})`);
      this.pos += 2;
      this.digits(REVISION_NO);
    } else {
      this.invalid(`unexpected ${at}`);
    }
  }
}

/** Numeric order of two digit strings of any length. */
function compareDigits(a: string, b: string): Order {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

const sign = (a: string | number, b: string | number): Order => (a < b ? -1 : a > b ? 1 : 0);

function compareTokens(a: Token, b: Token): Order {
  switch (a.kind) {
    case DIGIT:
      // a leading zero on either side: string order, as Gentoo does for ".01"-style parts
      if (a.value.startsWith('0') || b.value.startsWith('0')) return sign(a.value, b.value);
      return compareDigits(a.value, b.value);
    case INITIAL_DIGIT:
    case SUFFIX_NO:
    case REVISION_NO:
      return compareDigits(a.value, b.value);
    case SUFFIX:
      return sign(a.suffix, b.suffix);
    default:
      return sign(a.value, b.value);
  }
}

/**
 * apk-tools' comparison on any two strings, valid or not, as `apk version -t` answers it
 * (an invalid tail simply stops the comparison). With `fuzzy`, `a` matching `b` as a
 * prefix (token-wise) is equal: apk's "~" dependency operator.
 */
export function compareApkUnchecked(a: string, b: string, fuzzy = false): Order {
  const ta = new Tokens(a);
  const tb = new Tokens(b);
  while (ta.t.kind === tb.t.kind && ta.t.kind < END) {
    const r = compareTokens(ta.t, tb.t);
    if (r !== 0) return r;
    ta.next();
    tb.next();
  }
  const ka = ta.t.kind;
  const kb = tb.t.kind;
  if (ka === kb) return 0;
  if (kb === END && fuzzy) return 0;
  if (ka === SUFFIX && ta.t.suffix < SUFFIX_NONE) return -1;
  if (kb === SUFFIX && tb.t.suffix < SUFFIX_NONE) return 1;
  return ka > kb ? -1 : 1;
}

/** Why `version` is not a valid apk version, or undefined when it is. */
export function apkVersionProblem(version: string): string | undefined {
  const t = new Tokens(version);
  while (t.t.kind < END) t.next();
  if (t.t.kind === END) return undefined;
  return version === '' ? 'empty' : t.why;
}

function check(version: string): void {
  const why = apkVersionProblem(version);
  if (why !== undefined) throw new InvalidVersionError('apk', version, why);
}

export const apkComparator: Comparator = {
  scheme: 'apk',
  isValid: (version) => apkVersionProblem(version) === undefined,
  compare(a, b) {
    check(a);
    check(b);
    return compareApkUnchecked(a, b);
  },
};
