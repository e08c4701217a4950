/**
 * An EventBridge event-pattern matcher (and SNS filter-policy matcher: the same grammar applied
 * to message attributes), for the template-driven local stack: no network here, so no
 * TestEventPattern, and no maintained pattern-matching package was found in the npm registry's
 * lists (AWS's Event Ruler is Java). The semantics are AWS's documented ones ("Comparison
 * operators for use in event patterns", "Content filtering in event patterns"), checked against
 * the documentation's examples in event-pattern.test.ts:
 *
 * - A pattern is an object; every key must match the event's field of that name (AND). A key
 *   `$or` holds a list of patterns, any of which must match (at any level).
 * - A nested object matches a nested object (or, when the event field is an array, any element).
 * - A leaf is a non-empty array of alternatives: literals (string, number, boolean, null;
 *   numbers compared by value) or operator objects: prefix, suffix (each also with
 *   {equals-ignore-case}), equals-ignore-case, wildcard, anything-but (a value, a list, or
 *   {prefix | suffix | equals-ignore-case | wildcard}), numeric, exists, cidr (IPv4).
 * - An event field that is an array matches when any of its elements matches.
 * - A field missing from the event matches only {exists: false}.
 *
 * Anything else (an unknown operator, a scalar leaf, an empty list) is an error, as EventBridge
 * rejects such a pattern at PutRule: a rule cannot pass a test by being misread.
 */
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export class EventPatternError extends Error {
  override name = 'EventPatternError';
}

export function matchesPattern(pattern: unknown, event: unknown): boolean {
  if (!isObject(pattern)) throw new EventPatternError(`a pattern must be an object: ${JSON.stringify(pattern)}`);
  for (const [key, want] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!Array.isArray(want) || want.length < 2) throw new EventPatternError(`$or takes a list of at least two patterns: ${JSON.stringify(want)}`);
      if (!want.some((alt) => matchesPattern(alt, event))) return false;
      continue;
    }
    const have = isObject(event) ? (event as Record<string, Json>)[key] : undefined;
    if (Array.isArray(want)) {
      if (!matchesAlternatives(key, want, have)) return false;
    } else if (isObject(want)) {
      const candidates = Array.isArray(have) ? have : [have];
      if (!candidates.some((c) => isObject(c) && matchesPattern(want, c))) {
        // a nested pattern whose every leaf is {exists: false} matches a missing object too
        if (have === undefined && onlyAbsence(want)) continue;
        return false;
      }
    } else {
      throw new EventPatternError(`pattern field ${key}: a leaf must be an array of alternatives, got ${JSON.stringify(want)}`);
    }
  }
  return true;
}

function onlyAbsence(pattern: Record<string, unknown>): boolean {
  return Object.values(pattern).every((v) => (Array.isArray(v) ? v.every((a) => isObject(a) && (a as Record<string, unknown>).exists === false) : isObject(v) && onlyAbsence(v)));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function matchesAlternatives(key: string, alternatives: unknown[], have: Json | undefined): boolean {
  if (alternatives.length === 0) throw new EventPatternError(`pattern field ${key}: an empty list of alternatives (EventBridge rejects it)`);
  const values: Json[] = have === undefined ? [] : Array.isArray(have) ? have : [have];
  return alternatives.some((alt) => {
    if (isObject(alt)) {
      const ops = Object.keys(alt);
      if (ops.length !== 1) throw new EventPatternError(`pattern field ${key}: an operator object has exactly one key: ${JSON.stringify(alt)}`);
      const op = ops[0]!;
      const arg = alt[op];
      if (op === 'exists') {
        if (typeof arg !== 'boolean') throw new EventPatternError(`exists takes true or false: ${JSON.stringify(arg)}`);
        return (have !== undefined) === arg;
      }
      return values.some((v) => operator(op, arg, v));
    }
    if (Array.isArray(alt)) throw new EventPatternError(`pattern field ${key}: a nested list is not an alternative: ${JSON.stringify(alt)}`);
    return values.some((v) => literal(alt as Json, v));
  });
}

function literal(want: Json, v: Json): boolean {
  if (typeof want === 'number' && typeof v === 'number') return want === v;
  return want === v;
}

function stringArg(op: string, arg: unknown): string {
  if (typeof arg !== 'string') throw new EventPatternError(`${op} takes a string: ${JSON.stringify(arg)}`);
  return arg;
}

/** prefix / suffix: a string, or {equals-ignore-case: string}. */
function affix(op: 'prefix' | 'suffix', arg: unknown, v: Json): boolean {
  if (typeof v !== 'string') return false;
  let want: string;
  let fold = false;
  if (isObject(arg)) {
    if (Object.keys(arg).join() !== 'equals-ignore-case') throw new EventPatternError(`${op} takes a string or {equals-ignore-case}: ${JSON.stringify(arg)}`);
    want = stringArg(`${op}/equals-ignore-case`, arg['equals-ignore-case']);
    fold = true;
  } else want = stringArg(op, arg);
  const text = fold ? v.toLowerCase() : v;
  const w = fold ? want.toLowerCase() : want;
  return op === 'prefix' ? text.startsWith(w) : text.endsWith(w);
}

function operator(op: string, arg: unknown, v: Json): boolean {
  switch (op) {
    case 'prefix':
    case 'suffix':
      return affix(op, arg, v);
    case 'equals-ignore-case':
      return typeof v === 'string' && v.toLowerCase() === stringArg(op, arg).toLowerCase();
    case 'wildcard':
      return typeof v === 'string' && wildcard(stringArg(op, arg), v);
    case 'numeric':
      return typeof v === 'number' && numeric(arg, v);
    case 'cidr':
      return typeof v === 'string' && cidr(stringArg(op, arg), v);
    case 'anything-but':
      return anythingBut(arg, v);
    default:
      throw new EventPatternError(`event-pattern operator ${op} is not known to this matcher (nor, probably, to EventBridge)`);
  }
}

function anythingBut(arg: unknown, v: Json): boolean {
  if (isObject(arg)) {
    const ops = Object.keys(arg);
    if (ops.length !== 1) throw new EventPatternError(`anything-but takes one operator: ${JSON.stringify(arg)}`);
    const op = ops[0]!;
    const inner = arg[op];
    if (typeof v !== 'string') return false;
    const list = (x: unknown) => (Array.isArray(x) ? x : [x]).map((s) => stringArg(`anything-but/${op}`, s));
    switch (op) {
      case 'prefix':
      case 'suffix':
        return !list(inner).some((s) => affix(op, s, v));
      case 'equals-ignore-case':
        return !list(inner).some((s) => s.toLowerCase() === v.toLowerCase());
      case 'wildcard':
        return !list(inner).some((s) => wildcard(s, v));
      default:
        throw new EventPatternError(`anything-but with ${op} is not supported by EventBridge`);
    }
  }
  const excluded = Array.isArray(arg) ? arg : [arg];
  for (const x of excluded) if (x !== null && typeof x === 'object') throw new EventPatternError(`anything-but takes a value, a list of values or one operator: ${JSON.stringify(arg)}`);
  return !excluded.some((x) => literal(x as Json, v));
}

function numeric(arg: unknown, v: number): boolean {
  if (!Array.isArray(arg) || arg.length === 0 || arg.length % 2 !== 0 || arg.length > 4) throw new EventPatternError(`numeric takes one or two [operator, number] pairs: ${JSON.stringify(arg)}`);
  for (let i = 0; i < arg.length; i += 2) {
    const [op, n] = [arg[i], arg[i + 1]];
    if (typeof n !== 'number') throw new EventPatternError(`numeric: ${JSON.stringify(n)} is not a number`);
    const ok = op === '<' ? v < n : op === '<=' ? v <= n : op === '>' ? v > n : op === '>=' ? v >= n : op === '=' ? v === n : undefined;
    if (ok === undefined) throw new EventPatternError(`numeric: unknown comparison ${JSON.stringify(op)}`);
    if (!ok) return false;
  }
  return true;
}

function ipv4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

function cidr(block: string, v: string): boolean {
  const [net, bits] = block.split('/');
  const base = ipv4(net ?? '');
  const len = Number(bits);
  if (base === undefined || !Number.isInteger(len) || len < 0 || len > 32) throw new EventPatternError(`cidr: ${JSON.stringify(block)} is not an IPv4 block (IPv6 is not implemented here)`);
  const ip = ipv4(v);
  if (ip === undefined) return false;
  const size = 2 ** (32 - len);
  return Math.floor(ip / size) === Math.floor(base / size);
}

/** EventBridge's wildcard: `*` stands for any characters (including none and "/"); `\*` is a literal star. */
export function wildcard(pattern: string, text: string): boolean {
  if (/\*\*/.test(pattern.replace(/\\\*/g, ''))) throw new EventPatternError(`wildcard: consecutive * are not allowed: ${JSON.stringify(pattern)}`);
  const re = pattern
    .split(/(\\\*|\*)/)
    .map((part) => (part === '*' ? '.*' : part === '\\*' ? '\\*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${re}$`, 's').test(text);
}

/**
 * SNS subscription filter policy on message attributes (FilterPolicyScope MessageAttributes, the
 * default): the same grammar applied to {name: value}; String.Array attributes are arrays (any
 * element matches), Number attributes numbers.
 */
export function matchesFilterPolicy(policy: unknown, attributes: Record<string, { type: string; value: string }>): boolean {
  const doc: Record<string, Json> = {};
  for (const [name, a] of Object.entries(attributes)) {
    if (a.type === 'Number') doc[name] = Number(a.value);
    else if (a.type === 'String.Array') {
      try {
        doc[name] = JSON.parse(a.value) as Json;
      } catch {
        doc[name] = a.value;
      }
    } else if (a.type === 'String') doc[name] = a.value;
    // Binary attributes are never matched by a filter policy
  }
  return matchesPattern(policy, doc);
}
