import spdxCorrect from 'spdx-correct';
import parseSpdx from 'spdx-expression-parse';

/**
 * A licence as packages declare it ("MIT", "GPLv2+", "Apache 2.0", "MIT AND BSD-2-Clause",
 * "GPL-2.0-or-later WITH Classpath-exception-2.0") as an SPDX expression when it
 * normalises, else undefined — the caller then keeps the declared text as it is.
 */
export function normalizeLicense(declared: string): string | undefined {
  const text = declared.trim();
  if (!text) return undefined;
  if (text.length > MEMO_MAX_KEY_CHARS) return withoutStacks(() => normalizeUncached(text));
  if (memo.has(text)) return memo.get(text);
  const out = withoutStacks(() => normalizeUncached(text));
  if (memo.size >= MEMO_MAX_ENTRIES) {
    // oldest first: Map iterates in insertion order
    const oldest = memo.keys().next();
    if (!oldest.done) memo.delete(oldest.value);
  }
  memo.set(text, out);
  return out;
}

/**
 * Answers already computed, by trimmed declared text: an image declares the same few hundred
 * licences thousands of times, and spdx-correct and the SPDX parser cost ~0.3 s per warm scan.
 * Bounded to MEMO_MAX_ENTRIES entries of at most MEMO_MAX_KEY_CHARS characters each (longer
 * texts are computed every time), so hostile licence strings cannot grow it without limit.
 */
const MEMO_MAX_ENTRIES = 10_000;
const MEMO_MAX_KEY_CHARS = 512;
const memo = new Map<string, string | undefined>();

/**
 * `f` with no stack traces captured. The SPDX parser (ours and spdx-correct's) says "not SPDX"
 * by throwing, some 600 times for a Debian image's licence names, and capturing each throw's
 * stack was most of the cost (15–40 µs a throw, 4–16 µs without). The limit is restored after.
 */
function withoutStacks<T>(f: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return f();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function normalizeUncached(text: string): string | undefined {
  // npm's "no licence granted" words, which spdx-correct would turn into their opposite (Unlicense)
  if (/^(UNLICENSED|SEE LICEN[CS]E IN\b)/i.test(text)) return undefined;
  if (isSpdx(text)) return text;
  const alias = FEDORA_SHORT_NAMES[text];
  if (alias) return alias;
  // Common RPM and apk spellings: "GPLv2+ and LGPLv2+", "MIT or Apache-2.0", "BSD or GPLv2".
  const joined = text.replace(/\s+(and|or|with)\s+/gi, (_m, op: string) => ` ${op.toUpperCase()} `);
  if (joined !== text && isSpdx(joined)) return joined;
  const parts = joined.split(/ (AND|OR|WITH) /);
  if (parts.length > 1) {
    const fixed = parts.map((p, i) => (i % 2 ? p : single(p.replace(/^\(|\)$/g, ''))));
    const expr = fixed.join(' ');
    // every part must normalise: a compound licence is never shortened to one of its parts
    return fixed.every((p) => p !== undefined) && isSpdx(expr) ? expr : undefined;
  }
  return single(text);
}

/** One licence name: an SPDX id, a Fedora legacy short name, or spdx-correct's answer when it guesses no version. */
function single(text: string): string | undefined {
  if (isSpdx(text)) return text;
  return FEDORA_SHORT_NAMES[text] ?? corrected(text);
}

/** Fedora's legacy short licence names (still in RPM headers of EL 7–9 and Amazon Linux) that spdx-correct does not know. */
const FEDORA_SHORT_NAMES: Record<string, string> = {
  'ASL 1.0': 'Apache-1.0',
  'ASL 1.1': 'Apache-1.1',
  'ASL 2.0': 'Apache-2.0',
  'MPLv1.0': 'MPL-1.0',
  'MPLv1.1': 'MPL-1.1',
  'MPLv2.0': 'MPL-2.0',
  'GPL+': 'GPL-1.0-or-later',
  'LGPL+': 'LGPL-2.0-or-later',
  Boost: 'BSL-1.0',
  zlib: 'Zlib',
};

/**
 * spdx-correct's answer, unless it invents a version the text does not state ("BSD" is not
 * BSD-2-Clause, "LGPL" not LGPL-3.0-or-later): a guessed licence is worse than the declared text.
 */
function corrected(text: string): string | undefined {
  const id = spdxCorrect(text);
  if (!id) return undefined;
  const version = /\d+/.exec(id)?.[0];
  return version === undefined || new RegExp(`(^|\\D)${version}(\\D|$)`).test(text) ? id : undefined;
}

/** Declared licences as package records keep them: each normalised where it can be. */
export function normalizeLicenses(declared: Iterable<string>): string[] {
  const out: string[] = [];
  for (const d of declared) {
    const text = d.trim();
    if (!text) continue;
    const l = normalizeLicense(text) ?? text;
    if (!out.includes(l)) out.push(l);
  }
  return out;
}

/** True when `text` is a valid SPDX licence expression (a single id included). */
export function isSpdx(text: string): boolean {
  return withoutStacks(() => {
    try {
      parseSpdx(text);
      return true;
    } catch {
      return false;
    }
  });
}
