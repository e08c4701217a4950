/**
 * NuGet version order: NuGet.Versioning's NuGetVersion.TryParse and VersionComparer.Default
 * (SemVer 2.0 with NuGet's legacy fourth number).
 *
 * Parsing, as NuGetVersion.TryParse does it: the text is trimmed, cut at the first `-` or
 * `+` into the numeric part, the release labels (up to `+`, split on `.`) and the build
 * metadata. The numeric part is System.Version's: 1 to 4 non-negative Int32 numbers ("1"
 * is read as "1.0"), each of which may have leading zeros and ASCII whitespace around it
 * ("1. 2" is 1.2, as in NuGet); a leading "v" is refused ("v1.0" is not a NuGet version).
 * Labels and metadata parts must be non-empty runs of [0-9A-Za-z-]; an all-digit label may
 * not have a leading zero (metadata may).
 *
 * Order: the four numbers (missing ones are 0, so 1.0 == 1.0.0 == 1.0.0.0), then a version
 * without labels above one with labels, then labels pairwise: a label that is an Int32
 * (int.TryParse: "-1" counts, "2147483648" does not) below any other, two numeric ones by
 * value, two others by ordinal case-insensitive comparison; a shorter list of equal labels
 * first. Build metadata is ignored ("1.0+a" == "1.0+b").
 */
import { InvalidVersionError, type Comparator, type Order } from './types.js';

interface NuGetVersion {
  numbers: [number, number, number, number];
  labels: string[] | null;
}

const INT32_MAX = 2147483647;

/** .NET String.Trim(): char.IsWhiteSpace at both ends (not JavaScript's set: U+0085 yes, U+FEFF no). */
const DOTNET_TRIM = /^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

/** int.Parse(s, NumberStyles.Integer) for a version component: whitespace around digits, no sign possible here. */
const COMPONENT = /^[\t\n\v\f\r ]*([0-9]+)[\t\n\v\f\r ]*$/;

/** SemanticVersion.ParseSections: version part, release labels, metadata (null when absent). */
function sections(value: string): [version: string | null, labels: string[] | null, metadata: string | null] {
  let version: string | null = null;
  let labels: string[] | null = null;
  let metadata: string | null = null;
  let dashPos = -1;
  let plusPos = -1;
  for (let i = 0; i < value.length; i++) {
    const end = i === value.length - 1;
    const c = value[i];
    if (dashPos < 0) {
      if (end || c === '-' || c === '+') {
        version = value.slice(0, i + (end ? 1 : 0));
        dashPos = i;
        if (c === '+') plusPos = i;
      }
    } else if (plusPos < 0) {
      if (end || c === '+') {
        labels = value.slice(dashPos + 1, i + (end ? 1 : 0)).split('.');
        plusPos = i;
      }
    } else if (end) {
      metadata = value.slice(plusPos + 1, i + 1);
    }
  }
  return [version, labels, metadata];
}

function isValidPart(s: string, allowLeadingZeros: boolean): boolean {
  if (!/^[0-9A-Za-z-]+$/.test(s)) return false;
  return allowLeadingZeros || !/^0[0-9]+$/.test(s);
}

function parse(value: string): NuGetVersion {
  const fail = (why: string): never => {
    throw new InvalidVersionError('nuget', value, why);
  };
  const [versionPart, labels, metadata] = sections(value.replace(DOTNET_TRIM, ''));
  if (!versionPart) fail('no version number');
  const parts = versionPart!.split('.');
  if (parts.length === 1) parts.push('0');
  if (parts.length > 4) fail('more than four numbers');
  const numbers: [number, number, number, number] = [0, 0, 0, 0];
  parts.forEach((p, i) => {
    const m = COMPONENT.exec(p);
    const n = m ? Number(m[1]) : NaN;
    if (!(n <= INT32_MAX)) fail(`"${p}" is not a number from 0 to ${INT32_MAX}`);
    numbers[i] = n;
  });
  if (labels && !labels.every((l) => isValidPart(l, false))) fail('bad release label (empty, a character outside [0-9A-Za-z-], or a numeric label with a leading zero)');
  if (metadata !== null && !metadata.split('.').every((m) => isValidPart(m, true))) fail('bad build metadata');
  return { numbers, labels };
}

/** int.TryParse on a label that passed isValidPart: optional leading "-", digits, within Int32. */
function labelNumber(label: string): number | undefined {
  if (!/^-?[0-9]+$/.test(label)) return undefined;
  const n = Number(label);
  return n >= -INT32_MAX - 1 && n <= INT32_MAX ? n : undefined;
}

/** StringComparer.OrdinalIgnoreCase on [0-9A-Za-z-] text: upper-case, then code units. */
function compareIgnoreCase(a: string, b: string): Order {
  const x = a.toUpperCase();
  const y = b.toUpperCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

function compareLabel(a: string, b: string): Order {
  const x = labelNumber(a);
  const y = labelNumber(b);
  if (x !== undefined && y !== undefined) return x < y ? -1 : x > y ? 1 : 0;
  if (x !== undefined) return -1;
  if (y !== undefined) return 1;
  return compareIgnoreCase(a, b);
}

export const nugetComparator: Comparator = {
  scheme: 'nuget',
  isValid(version: string): boolean {
    try {
      parse(version);
      return true;
    } catch (e) {
      if (e instanceof InvalidVersionError) return false;
      throw e;
    }
  },
  compare(a: string, b: string): Order {
    const x = parse(a);
    const y = parse(b);
    for (let i = 0; i < 4; i++) {
      if (x.numbers[i] !== y.numbers[i]) return x.numbers[i]! < y.numbers[i]! ? -1 : 1;
    }
    if (x.labels && !y.labels) return -1;
    if (!x.labels && y.labels) return 1;
    if (x.labels && y.labels) {
      const n = Math.max(x.labels.length, y.labels.length);
      for (let i = 0; i < n; i++) {
        if (i >= x.labels.length) return -1;
        if (i >= y.labels.length) return 1;
        const c = compareLabel(x.labels[i]!, y.labels[i]!);
        if (c !== 0) return c;
      }
    }
    return 0;
  },
};
