/**
 * An EventBridge event-pattern matcher for the tests (no network, so no TestEventPattern): the
 * documented semantics for the operators Drydock's rules use, and an error for any other, so a
 * rule that starts using a new operator cannot pass by being misread.
 *
 * - A pattern is an object; every key must match the event's field of that name.
 * - A nested object matches a nested object.
 * - An array is a list of alternatives: literal values (string, number, boolean, null, compared
 *   exactly) or operator objects ({prefix}, {suffix}, {wildcard}, {"anything-but"}, {exists}).
 * - An event field that is an array matches when any of its elements matches.
 * - A field missing from the event matches only {exists: false}.
 */
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export function matchesPattern(pattern: Record<string, unknown>, event: unknown): boolean {
  if (typeof pattern !== 'object' || pattern === null || Array.isArray(pattern)) throw new Error(`a pattern must be an object: ${JSON.stringify(pattern)}`);
  for (const [key, want] of Object.entries(pattern)) {
    const have = event !== null && typeof event === 'object' && !Array.isArray(event) ? (event as Record<string, Json>)[key] : undefined;
    if (Array.isArray(want)) {
      if (!matchesAlternatives(want, have)) return false;
    } else if (want !== null && typeof want === 'object') {
      if (have === undefined || have === null || typeof have !== 'object' || Array.isArray(have)) return false;
      if (!matchesPattern(want as Record<string, unknown>, have)) return false;
    } else {
      throw new Error(`pattern field ${key}: a leaf must be an array of alternatives, got ${JSON.stringify(want)}`);
    }
  }
  return true;
}

function matchesAlternatives(alternatives: unknown[], have: Json | undefined): boolean {
  if (alternatives.length === 0) throw new Error('an empty list of alternatives never matches (EventBridge rejects it)');
  const values: Array<Json | undefined> = Array.isArray(have) ? have : [have];
  return alternatives.some((alt) => {
    if (alt !== null && typeof alt === 'object') {
      const ops = Object.keys(alt);
      if (ops.length !== 1) throw new Error(`an operator object has exactly one key: ${JSON.stringify(alt)}`);
      const [op] = ops as [string];
      const arg = (alt as Record<string, unknown>)[op];
      if (op === 'exists') return (have !== undefined) === arg;
      return values.some((v) => v !== undefined && operator(op, arg, v));
    }
    return values.some((v) => v !== undefined && v === alt);
  });
}

function operator(op: string, arg: unknown, v: Json): boolean {
  switch (op) {
    case 'prefix':
      return typeof v === 'string' && v.startsWith(String(arg));
    case 'suffix':
      return typeof v === 'string' && v.endsWith(String(arg));
    case 'wildcard':
      return typeof v === 'string' && wildcard(String(arg), v);
    case 'anything-but': {
      const excluded = Array.isArray(arg) ? arg : [arg];
      if (excluded.some((x) => x !== null && typeof x === 'object')) throw new Error(`anything-but with an operator is not supported here: ${JSON.stringify(arg)}`);
      return !excluded.includes(v);
    }
    default:
      throw new Error(`event-pattern operator ${op} is not supported by this matcher: teach it before using it in a rule`);
  }
}

/** EventBridge's wildcard: `*` stands for any characters (including none and "/"); `\*` is a literal star. */
export function wildcard(pattern: string, text: string): boolean {
  const re = pattern
    .split(/(\\\*|\*)/)
    .map((part) => (part === '*' ? '.*' : part === '\\*' ? '\\*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${re}$`, 's').test(text);
}
