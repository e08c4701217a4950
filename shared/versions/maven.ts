/**
 * Maven version order: ComparableVersion of maven-artifact, as of the Maven commit the
 * shared vectors come from (with CombinationItem, "X-1" read as "X1", ".X" read as "-X",
 * MNG-6964's whole-list comparison with null and the ga/final/release combination fix).
 *
 * A version is lower-cased (Java's Locale.ENGLISH rules are JavaScript's default ones) and
 * cut into items: `.` separates items of one list, `-` and every digit↔letter transition
 * open a nested list. Items are numbers (int / long / BigInteger by digit count after
 * leading zeros are stripped; the three kinds order by kind first, as in Java), strings
 * (qualifiers) and combinations (a qualifier directly followed by a number: "alpha2",
 * "rc-3"). Known qualifiers order alpha < beta < milestone < rc = cr < snapshot < "" = ga =
 * final = release < sp; "a", "b", "m" are aliases only when followed by a digit; any other
 * qualifier sorts after the known ones, lexically (UTF-16 code units, as Java's
 * String.compareTo). Trailing null items (0, "", empty lists) are trimmed per list.
 *
 * Validity: Maven accepts almost any string. We refuse (InvalidVersionError) only
 *  - the empty or whitespace-only string (Maven would read "" as "0": a silent guess),
 *  - strings longer than 256 UTF-16 units (current Maven throws on those too; the limit also
 *    bounds the nesting depth of our recursive comparison),
 *  - the few strings on which Maven itself throws NumberFormatException (a non-ASCII
 *    character inside a number run, e.g. "1𝟤" or "1-x٨y2").
 */
import { InvalidVersionError, type Comparator, type Order } from './types.js';

const MAX_LENGTH = 256;

/** Numbers: kind 0 int (≤ 9 digits), 1 long (≤ 18), 2 BigInteger; value as a canonical digit string. */
interface NumItem {
  t: 'num';
  kind: 0 | 1 | 2;
  digits: string;
}
interface StrItem {
  t: 'str';
  value: string;
}
interface CombItem {
  t: 'comb';
  str: StrItem;
  num: NumItem;
}
interface ListItem {
  t: 'list';
  items: Item[];
}
type Item = NumItem | StrItem | CombItem | ListItem;

/** Maven throws on these; we turn them into InvalidVersionError. */
class MavenParseError extends Error {}

const ZERO: NumItem = { t: 'num', kind: 0, digits: '0' };

const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const RELEASE_QUALIFIERS = new Set(['ga', 'final', 'release']);
const RELEASE_INDEX = String(QUALIFIERS.indexOf(''));

function isAsciiDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

const ND = /^\p{Nd}$/u;

/** Character.digit(c, 10) for one UTF-16 unit; -1 when not a decimal digit. */
function digitValue(ch: string): number {
  const c = ch.charCodeAt(0);
  if (isAsciiDigit(c)) return c - 0x30;
  if (!ND.test(ch)) return -1;
  // Unicode encodes every decimal digit set as ten contiguous code points, zero first
  let start = c;
  while (start > 0 && ND.test(String.fromCharCode(start - 1))) start--;
  return (c - start) % 10;
}

/** Integer.parseInt / Long.parseLong / new BigInteger on a run Maven believes is digits. */
function parseNumber(buf: string): NumItem {
  let i = 0;
  while (i < buf.length && buf[i] === '0') i++;
  const stripped = i === buf.length ? '0' : buf.slice(i);
  const kind = stripped.length <= 9 ? 0 : stripped.length <= 18 ? 1 : 2;
  let digits = '';
  for (const ch of stripped.split('')) {
    const d = digitValue(ch);
    if (d < 0) throw new MavenParseError(`"${buf}" is not a number`);
    digits += String(d);
  }
  digits = digits.replace(/^0+(?=.)/, '');
  return { t: 'num', kind, digits };
}

function stringItem(value: string, followedByDigit: boolean): StrItem {
  if (followedByDigit && value.length === 1) {
    if (value === 'a') value = 'alpha';
    else if (value === 'b') value = 'beta';
    else if (value === 'm') value = 'milestone';
  }
  return { t: 'str', value: value === 'cr' ? 'rc' : value };
}

function combinationItem(value: string): CombItem {
  let index = 0;
  for (let i = 0; i < value.length; i++) {
    if (digitValue(value[i]!) >= 0) {
      index = i;
      break;
    }
  }
  return { t: 'comb', str: stringItem(value.slice(0, index), true), num: parseNumber(value.slice(index)) };
}

function parseItem(isCombination: boolean, isDigit: boolean, buf: string): Item {
  if (isCombination) return combinationItem(buf.replaceAll('-', ''));
  if (isDigit) return parseNumber(buf);
  return stringItem(buf, false);
}

function isNull(item: Item): boolean {
  switch (item.t) {
    case 'num':
      return item.digits === '0';
    case 'str':
      return item.value === '';
    case 'comb':
      return false;
    case 'list':
      return item.items.length === 0;
  }
}

function normalize(list: ListItem): void {
  const items = list.items;
  for (let i = items.length - 1; i >= 0; i--) {
    if (!isNull(items[i]!)) continue;
    const next = items[i + 1];
    if (next === undefined || next.t === 'str') items.splice(i, 1);
    else if (next.t === 'list') {
      const first = next.items[0];
      if (first !== undefined && (first.t === 'comb' || first.t === 'str')) items.splice(i, 1);
    }
  }
  // removing a zero prefix must not leave an extra nesting level
  const only = items.length === 1 ? items[0]! : undefined;
  if (only?.t === 'list') list.items = only.items;
}

/** ComparableVersion.parseVersion, step for step (indices are UTF-16 units of the lower-cased text). */
function parse(original: string): ListItem {
  const version = original.toLowerCase();
  const root: ListItem = { t: 'list', items: [] };
  let list = root;
  const stack: ListItem[] = [root];
  const open = (): void => {
    const sub: ListItem = { t: 'list', items: [] };
    list.items.push(sub);
    list = sub;
    stack.push(sub);
  };
  let isDigit = false;
  let isCombination = false;
  let startIndex = 0;
  for (let i = 0; i < version.length; i++) {
    const unit = version.charCodeAt(i);
    let c = unit;
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < version.length) {
      c = version.codePointAt(i)!;
      i++;
    }
    if (c === 0x2e /* . */) {
      list.items.push(i === startIndex ? ZERO : parseItem(isCombination, isDigit, version.slice(startIndex, i)));
      isCombination = false;
      startIndex = i + 1;
    } else if (c === 0x2d /* - */) {
      if (i === startIndex) list.items.push(ZERO);
      else {
        // X-1 is read as X1
        if (!isDigit && i !== version.length - 1 && javaIsDigit(version[i + 1]!)) {
          isCombination = true;
          continue;
        }
        list.items.push(parseItem(isCombination, isDigit, version.slice(startIndex, i)));
      }
      startIndex = i + 1;
      if (list.items.length > 0) open();
      isCombination = false;
    } else if (isAsciiDigit(c)) {
      if (!isDigit && i > startIndex) {
        // X1
        isCombination = true;
        if (list.items.length > 0) open();
      }
      isDigit = true;
    } else {
      if (isDigit && i > startIndex) {
        list.items.push(parseItem(isCombination, true, version.slice(startIndex, i)));
        startIndex = i;
        open();
        isCombination = false;
      }
      isDigit = false;
    }
  }
  if (version.length > startIndex) {
    // 1.0.0.X1 < 1.0.0-X2: .X is read as -X for any qualifier X
    if (!isDigit && list.items.length > 0) open();
    list.items.push(parseItem(isCombination, isDigit, version.slice(startIndex)));
  }
  while (stack.length > 0) normalize(stack.pop()!);
  return root;
}

/** Character.isDigit on one UTF-16 unit (Maven's "X-1" look-ahead uses it, not the ASCII test). */
function javaIsDigit(ch: string): boolean {
  return digitValue(ch) >= 0;
}

function sign(n: number): Order {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

function compareStrings(a: string, b: string): Order {
  return a < b ? -1 : a > b ? 1 : 0;
}

function comparableQualifier(q: string): string {
  if (RELEASE_QUALIFIERS.has(q)) return RELEASE_INDEX;
  const i = QUALIFIERS.indexOf(q);
  return i === -1 ? `${QUALIFIERS.length}-${q}` : String(i);
}

function compareNum(a: NumItem, b: NumItem): Order {
  if (a.kind !== b.kind) return sign(a.kind - b.kind);
  if (a.digits.length !== b.digits.length) return sign(a.digits.length - b.digits.length);
  return compareStrings(a.digits, b.digits);
}

function neg(o: Order): Order {
  return (o === 0 ? 0 : -o) as Order;
}

/** Item.compareTo(other), `undefined` standing for Java's null (a missing item). */
function compareItem(a: Item, b: Item | undefined): Order {
  switch (a.t) {
    case 'num':
      if (b === undefined) return a.digits === '0' ? 0 : 1;
      // 1.1 > 1-sp, 1.1 > 1-1, 1.1 > 1.x
      return b.t === 'num' ? compareNum(a, b) : 1;
    case 'str':
      return compareString(a, b);
    case 'comb':
      return compareCombination(a, b);
    case 'list':
      return compareList(a, b);
  }
}

function compareString(a: StrItem, b: Item | undefined): Order {
  if (b === undefined) return compareStrings(comparableQualifier(a.value), RELEASE_INDEX);
  switch (b.t) {
    case 'num':
      return -1;
    case 'str':
      return compareStrings(comparableQualifier(a.value), comparableQualifier(b.value));
    case 'comb': {
      const r = compareString(a, b.str);
      if (r !== 0) return r;
      return compareString(a, undefined) === 0 ? neg(compareItem(b.num, undefined)) : -1;
    }
    case 'list':
      return neg(compareList(b, a));
  }
}

function compareCombination(a: CombItem, b: Item | undefined): Order {
  if (b === undefined) {
    // 1-rc1 < 1, 1-ga1 > 1: a release-like qualifier leaves the number to decide
    const r = compareString(a.str, undefined);
    return r !== 0 ? r : compareItem(a.num, undefined);
  }
  switch (b.t) {
    case 'num':
      return -1;
    case 'str': {
      const r = compareString(a.str, b);
      if (r !== 0) return r;
      // X1 > X
      return compareString(a.str, undefined) === 0 ? compareItem(a.num, undefined) : 1;
    }
    case 'comb': {
      const r = compareString(a.str, b.str);
      return r !== 0 ? r : compareNum(a.num, b.num);
    }
    case 'list':
      return neg(compareList(b, a));
  }
}

function compareList(a: ListItem, b: Item | undefined): Order {
  if (b === undefined) {
    // the whole list against null, not just its first item (MNG-6964)
    for (const item of a.items) {
      const r = compareItem(item, undefined);
      if (r !== 0) return r;
    }
    return 0;
  }
  switch (b.t) {
    case 'num':
      return -1; // 1-1 < 1.0.x
    case 'str':
    case 'comb': {
      let r = a.items.length === 0 ? neg(compareItem(b, undefined)) : compareItem(a.items[0]!, b);
      for (let i = 1; r === 0 && i < a.items.length; i++) r = compareItem(a.items[i]!, undefined);
      return r;
    }
    case 'list': {
      const n = Math.max(a.items.length, b.items.length);
      for (let i = 0; i < n; i++) {
        const l = a.items[i];
        const r = b.items[i];
        const res = l === undefined ? (r === undefined ? 0 : neg(compareItem(r, undefined))) : compareItem(l, r);
        if (res !== 0) return res;
      }
      return 0;
    }
  }
}

function parsed(version: string): ListItem {
  if (version.trim() === '') throw new InvalidVersionError('maven', version, 'empty version');
  if (version.length > MAX_LENGTH) throw new InvalidVersionError('maven', version, `longer than ${MAX_LENGTH} characters`);
  try {
    return parse(version);
  } catch (e) {
    if (e instanceof MavenParseError) throw new InvalidVersionError('maven', version, e.message);
    throw e;
  }
}

export const mavenComparator: Comparator = {
  scheme: 'maven',
  isValid(version: string): boolean {
    try {
      parsed(version);
      return true;
    } catch (e) {
      if (e instanceof InvalidVersionError) return false;
      throw e;
    }
  },
  compare(a: string, b: string): Order {
    return compareList(parsed(a), parsed(b));
  },
};
