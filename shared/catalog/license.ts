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
  // npm's "no licence granted" words, which spdx-correct would turn into their opposite (Unlicense)
  if (/^(UNLICENSED|SEE LICEN[CS]E IN\b)/i.test(text)) return undefined;
  if (isSpdx(text)) return text;
  // Common RPM and apk spellings: "GPLv2+ and LGPLv2+", "MIT or Apache-2.0".
  const joined = text.replace(/\s+(and|or|with)\s+/gi, (_m, op: string) => ` ${op.toUpperCase()} `);
  if (joined !== text && isSpdx(joined)) return joined;
  const parts = joined.split(/ (AND|OR|WITH) /);
  if (parts.length > 1) {
    const fixed = parts.map((p, i) => (i % 2 ? p : corrected(p.replace(/^\(|\)$/g, ''))));
    if (fixed.every((p) => p !== undefined)) {
      const expr = fixed.join(' ');
      if (isSpdx(expr)) return expr;
    }
  }
  return corrected(text);
}

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
  try {
    parseSpdx(text);
    return true;
  } catch {
    return false;
  }
}
