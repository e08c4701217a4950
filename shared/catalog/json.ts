/**
 * JSON read from an image (lockfiles, composer's installed.json, .NET deps.json, build
 * info kept by content probes) is hostile input: a document nested 100,000 levels deep
 * parses, but every walk over it that recurses or rebuilds paths per level does not end
 * (or ends the process). Nesting is measured first, in one linear pass that never
 * recurses, and a document deeper than the limit is refused before JSON.parse sees it.
 */

/** Deepest JSON nesting (objects and arrays) a cataloger parses; no real package file comes near it. */
export const MAX_JSON_DEPTH = 1_000;

/** Thrown for a document over the nesting limit; the message names the limit. */
export class JsonDepthError extends Error {
  constructor(
    readonly depth: number,
    readonly limit: number,
  ) {
    super(`JSON nested more than ${limit} levels deep (limit maxJsonDepth ${limit})`);
    this.name = 'JsonDepthError';
  }
}

/**
 * The deepest nesting of arrays and objects in `text` when it is at most `limit`; throws
 * JsonDepthError as soon as it goes over. Brackets inside strings do not count. Text that
 * is not JSON is measured all the same (JSON.parse rejects it after).
 */
export function jsonDepth(text: string, limit: number = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // skip the string: up to the next quote not escaped by a backslash
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > limit) throw new JsonDepthError(depth, limit);
      if (depth > deepest) deepest = depth;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return deepest;
}

/** JSON.parse after the nesting check: throws JsonDepthError or JSON.parse's SyntaxError. */
export function parseJsonBounded(text: string, limit: number = MAX_JSON_DEPTH): unknown {
  jsonDepth(text, limit);
  return JSON.parse(text);
}
