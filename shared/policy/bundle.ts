/**
 * Anchore Engine policy bundles (version "1_0" and "2", and Anchore Enterprise's "2" with
 * `rule_sets` / `rule_set_ids`): parsing, validation and normalisation to the version-2 names
 * of types.ts (whitelists → allowlists, whitelist_ids → allowlist_ids, whitelisted_images →
 * allowlisted_images, blacklisted_images → denylisted_images, policy_id → policy_ids).
 *
 * Validation collects every problem before throwing, each naming where it is
 * (`policies[0] ("default") rules[3] (gate "vulnerabilitys"): unknown gate; ...`), so that one
 * round trip fixes a bundle. The checks: JSON syntax (with line and column), types of every
 * field, duplicate ids, mappings naming unknown policies or allowlists, gates / triggers /
 * params unknown to the registry (names match case-insensitively, as in Anchore), missing
 * required params, each param's value against its ParamSpec, regexes (RE2, and refused when
 * a backtracking engine would hang on them: see regex checks below), actions, and allowlist
 * expiry dates.
 *
 * Param values must be JSON strings as in Anchore's bundles ("5", "true"): a number or boolean
 * is rejected with a message saying to quote it, rather than converted, so a bundle Drydock
 * accepts is one Anchore accepts too.
 */
import { createHash } from 'node:crypto';
import { RE2JS } from 're2js';
import { DrydockError } from '../errors.js';
import { gates as defaultGates } from './gates/index.js';
import type {
  Allowlist,
  AllowlistItem,
  Gate,
  ImageSelector,
  Mapping,
  ParamSpec,
  ParamValues,
  Policy,
  PolicyAction,
  PolicyBundle,
  PolicyRule,
  Trigger,
} from './types.js';

/** A rejected bundle: the message lists every problem, one a line; `errors` holds them. */
export class PolicyBundleError extends DrydockError {
  readonly errors: string[];
  constructor(errors: string[], where?: string) {
    const head = `invalid policy bundle${where ? ` ${where}` : ''}: ${errors.length} problem${errors.length === 1 ? '' : 's'}`;
    super('CONFIG', [head, ...errors.map((e) => `  - ${e}`)].join('\n'));
    this.errors = errors;
  }
}

export interface ParseOptions {
  /** the gate registry (default: every gate of gates/index.ts) */
  gates?: readonly Gate[];
}

const ACTIONS: readonly PolicyAction[] = ['STOP', 'WARN', 'GO'];
const IMAGE_TYPES = ['tag', 'digest', 'id'] as const;

type Json = Record<string, unknown>;

export function parseBundle(input: string | Buffer | unknown, where?: string, opts: ParseOptions = {}): PolicyBundle {
  let raw: unknown = input;
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    const text = (Buffer.isBuffer(input) ? input.toString('utf8') : input).replace(/^\uFEFF/, '');
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new PolicyBundleError([jsonError(text, e)], where);
    }
  }
  const v = new Validator(opts.gates ?? defaultGates);
  const bundle = v.bundle(raw);
  if (v.errors.length || !bundle) throw new PolicyBundleError(v.errors.length ? v.errors : ['not a policy bundle'], where);
  return bundle;
}

/** "bad JSON at line 3, column 5: Expected double-quoted property name". */
function jsonError(text: string, e: unknown): string {
  const msg = (e instanceof Error ? e.message : String(e)).replace(/ in JSON at position \d+.*$/, '').replace(/\s*\(line \d+ column \d+\)$/, '');
  const m = /at position (\d+)/.exec(e instanceof Error ? e.message : '');
  const pos = m ? Number(m[1]) : text.length;
  const before = text.slice(0, pos).split('\n');
  const line = before.length;
  const column = before[before.length - 1]!.length + 1;
  return `bad JSON at line ${line}, column ${column}: ${msg}`;
}

/** sha256 of the bundle's canonical JSON: keys sorted at every level, no whitespace. */
export function bundleDigest(bundle: PolicyBundle): string {
  return `sha256:${createHash('sha256').update(canonicalJson(bundle)).digest('hex')}`;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Json)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Find a gate by name or alias, case-insensitively (Anchore's registry lowercases names). */
export function findGate(gates: readonly Gate[], name: string): Gate | undefined {
  const n = name.toLowerCase();
  return gates.find((g) => g.name.toLowerCase() === n || g.aliases?.some((a) => a.toLowerCase() === n));
}

export function findTrigger(gate: Gate, name: string): Trigger | undefined {
  const n = name.toLowerCase();
  return gate.triggers.find((t) => t.name.toLowerCase() === n);
}

/**
 * A rule's params checked against the trigger's ParamSpecs and converted (integer / number →
 * number, boolean → boolean, list → string[], regex → compiled RE2JS, enum → the spec's
 * spelling); missing optional params take their `default`. Names match case-insensitively
 * (Anchore lowercases them). Errors are phrased `param "x": ...` for the caller to prefix.
 */
export function checkParams(trigger: Trigger, params: ReadonlyArray<{ name: string; value: string }>): { values: ParamValues; errors: string[] } {
  const values: ParamValues = {};
  const errors: string[] = [];
  const seen = new Set<string>();
  for (const p of params) {
    const spec = trigger.params.find((s) => s.name.toLowerCase() === p.name.toLowerCase());
    if (!spec) {
      const known = trigger.params.map((s) => s.name);
      errors.push(`param "${p.name}": unknown param${suggest(p.name, known)}; ${known.length ? `known: ${known.join(', ')}` : 'this trigger takes no params'}`);
      continue;
    }
    if (seen.has(spec.name)) {
      errors.push(`param "${p.name}": given more than once`);
      continue;
    }
    seen.add(spec.name);
    const r = convertParam(spec, p.value);
    if ('error' in r) errors.push(`param "${p.name}": ${r.error}`);
    else values[spec.name] = r.value;
  }
  for (const spec of trigger.params) {
    if (seen.has(spec.name)) continue;
    if (spec.default !== undefined) {
      const r = convertParam(spec, spec.default);
      if ('error' in r) errors.push(`param "${spec.name}": the trigger's default ${JSON.stringify(spec.default)} is invalid: ${r.error}`);
      else values[spec.name] = r.value;
    } else if (spec.required) errors.push(`param "${spec.name}": required but missing (${spec.description})`);
  }
  return { values, errors };
}

const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function convertParam(spec: ParamSpec, raw: string): { value: unknown } | { error: string } {
  const value = raw.trim();
  const shown = JSON.stringify(raw);
  switch (spec.type) {
    case 'string':
      return { value: raw };
    case 'integer':
      return INTEGER.test(value) ? { value: Number(value) } : { error: `${shown} is not an integer` };
    case 'number':
      return NUMBER.test(value) ? { value: Number(value) } : { error: `${shown} is not a number` };
    case 'boolean': {
      const b = value.toLowerCase();
      return b === 'true' || b === 'false' ? { value: b === 'true' } : { error: `${shown} is not a boolean (true or false)` };
    }
    case 'enum': {
      const allowed = spec.values ?? [];
      const hit = allowed.find((a) => a === value) ?? allowed.find((a) => a.toLowerCase() === value.toLowerCase());
      return hit !== undefined ? { value: hit } : { error: `${shown} is not one of ${allowed.join(', ')}${suggest(value, allowed)}` };
    }
    case 'list': {
      const items = raw.split(',').map((s) => s.trim());
      const empty = items.findIndex((s) => s === '');
      if (empty >= 0) return { error: raw.trim() === '' ? 'an empty list (expected comma-separated items)' : `${shown}: item ${empty + 1} of the comma-separated list is empty` };
      return { value: items };
    }
    case 'regex': {
      const r = compileRegex(raw);
      return 'error' in r ? { error: `regex ${shown}: ${r.error}` } : { value: r.regex };
    }
  }
}

/** " (did you mean "x"?)" for a near miss, else "". */
function suggest(name: string, known: readonly string[]): string {
  const n = name.toLowerCase();
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(n.length / 4)) + 1;
  for (const k of known) {
    const d = editDistance(n, k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** Walks the raw bundle, collecting errors and building the normalised bundle. */
class Validator {
  readonly errors: string[] = [];
  constructor(private readonly gates: readonly Gate[]) {}

  private err(at: string, msg: string): void {
    this.errors.push(at ? `${at}: ${msg}` : msg);
  }

  private isObject(v: unknown): v is Json {
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  }

  private typeName(v: unknown): string {
    return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v} (${JSON.stringify(v)})`;
  }

  private str(o: Json, key: string, at: string, required: boolean): string | undefined {
    const v = o[key];
    if (v === undefined || (v === null && !required)) {
      if (required) this.err(at, `"${key}" is required (a string)`);
      return undefined;
    }
    if (typeof v !== 'string') {
      this.err(at, `"${key}" must be a string, not ${this.typeName(v)}`);
      return undefined;
    }
    if (required && v.trim() === '') {
      this.err(at, `"${key}" must not be empty`);
      return undefined;
    }
    return v;
  }

  /** The value under one of two spellings (old Anchore name, new name); both at once is an error. */
  private either(o: Json, oldKey: string, newKey: string, at: string): { key: string; value: unknown } | undefined {
    const hasOld = o[oldKey] !== undefined;
    const hasNew = o[newKey] !== undefined;
    if (hasOld && hasNew) {
      this.err(at, `both "${oldKey}" and "${newKey}" are given; use one ("${newKey}" is the current name)`);
      return undefined;
    }
    if (hasNew) return { key: newKey, value: o[newKey] };
    if (hasOld) return { key: oldKey, value: o[oldKey] };
    return undefined;
  }

  private array(v: unknown, at: string): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.err(at, `must be an array, not ${this.typeName(v)}`);
      return [];
    }
    return v;
  }

  private optional<T extends object>(target: T, o: Json, at: string, keys: ReadonlyArray<readonly [from: string, to: keyof T & string]>): void {
    for (const [from, to] of keys) {
      const s = this.str(o, from, at, false);
      if (s !== undefined) (target as Record<string, unknown>)[to] = s;
    }
  }

  bundle(raw: unknown): PolicyBundle | undefined {
    if (!this.isObject(raw)) {
      this.err('', `the bundle must be a JSON object, not ${this.typeName(raw)}`);
      return undefined;
    }
    const id = this.str(raw, 'id', 'bundle', true) ?? '';
    let version: PolicyBundle['version'] = '2';
    if (raw.version === undefined) this.err('bundle', `"version" is required ("1_0" or "2")`);
    else if (raw.version !== '1_0' && raw.version !== '2') this.err('bundle', `"version" ${JSON.stringify(raw.version)} is not supported; expected "1_0" or "2"`);
    else version = raw.version;

    const policiesField = this.either(raw, 'policies', 'rule_sets', 'bundle');
    if (!policiesField) this.err('bundle', `"policies" is required (an array of policies)`);
    const policies = this.policies(policiesField ? this.array(policiesField.value, policiesField.key) : [], policiesField?.key ?? 'policies');

    const allowlistsField = this.either(raw, 'whitelists', 'allowlists', 'bundle');
    const allowlists = this.allowlists(allowlistsField ? this.array(allowlistsField.value, allowlistsField.key) : [], allowlistsField?.key ?? 'allowlists');

    // References are checked only against lists that are themselves arrays (else the error is already there).
    const known = (field: { value: unknown } | undefined, ids: string[]) => (field && !Array.isArray(field.value) ? undefined : new Set(ids));
    const mappings = this.mappings(
      this.array(raw.mappings, 'mappings'),
      known(policiesField ?? { value: undefined }, policies.map((p) => p.id)),
      known(allowlistsField, allowlists.map((a) => a.id)),
    );

    const allowImgs = this.either(raw, 'whitelisted_images', 'allowlisted_images', 'bundle');
    const denyImgs = this.either(raw, 'blacklisted_images', 'denylisted_images', 'bundle');
    const bundle: PolicyBundle = {
      id,
      version,
      policies,
      allowlists,
      mappings,
      allowlisted_images: allowImgs ? this.selectors(this.array(allowImgs.value, allowImgs.key), allowImgs.key) : [],
      denylisted_images: denyImgs ? this.selectors(this.array(denyImgs.value, denyImgs.key), denyImgs.key) : [],
    };
    this.optional(bundle, raw, 'bundle', [
      ['name', 'name'],
      ['comment', 'comment'],
      ['description', 'comment'],
    ]);
    return bundle;
  }

  private duplicate(seen: Map<string, string>, id: string | undefined, at: string, what: string): void {
    if (id === undefined) return;
    const first = seen.get(id);
    if (first !== undefined) this.err(at, `duplicate ${what} id "${id}" (also ${first})`);
    else seen.set(id, at);
  }

  private policies(list: unknown[], key: string): Policy[] {
    const out: Policy[] = [];
    const ids = new Map<string, string>();
    list.forEach((p, i) => {
      let at = `${key}[${i}]`;
      if (!this.isObject(p)) return this.err(at, `must be an object, not ${this.typeName(p)}`);
      const id = this.str(p, 'id', at, true);
      if (id !== undefined) at = `${at} ("${id}")`;
      this.duplicate(ids, id, at, 'policy');
      if (p.rules === undefined) this.err(at, `"rules" is required (an array of rules)`);
      const rules: PolicyRule[] = [];
      const ruleIds = new Map<string, string>();
      this.array(p.rules, `${at} rules`).forEach((r, j) => {
        const rule = this.rule(r, `${at} rules[${j}]`);
        if (!rule) return;
        this.duplicate(ruleIds, rule.id, `${at} rules[${j}]`, 'rule');
        rules.push(rule);
      });
      const policy: Policy = { id: id ?? '', rules };
      this.optional(policy, p, at, [
        ['name', 'name'],
        ['version', 'version'],
        ['comment', 'comment'],
        ['description', 'comment'],
      ]);
      out.push(policy);
    });
    return out;
  }

  private rule(r: unknown, at: string): PolicyRule | undefined {
    if (!this.isObject(r)) {
      this.err(at, `must be an object, not ${this.typeName(r)}`);
      return undefined;
    }
    const gateName = this.str(r, 'gate', at, true);
    const triggerName = this.str(r, 'trigger', at, true);
    const id = this.str(r, 'id', at, false);
    const recommendation = this.str(r, 'recommendation', at, false);
    const label = gateName && triggerName ? `${at} (${gateName}/${triggerName})` : gateName ? `${at} (gate "${gateName}")` : at;

    let action: PolicyAction = 'STOP';
    if (r.action === undefined) this.err(label, `"action" is required (one of ${ACTIONS.join(', ')})`);
    else if (typeof r.action !== 'string' || !ACTIONS.includes(r.action.toUpperCase() as PolicyAction))
      this.err(label, `action ${JSON.stringify(r.action)} is not one of ${ACTIONS.join(', ')}`);
    else action = r.action.toUpperCase() as PolicyAction;

    const params: Array<{ name: string; value: string }> = [];
    this.array(r.params, `${label} params`).forEach((p, k) => {
      const pat = `${label} params[${k}]`;
      if (!this.isObject(p)) return this.err(pat, `must be an object {"name", "value"}, not ${this.typeName(p)}`);
      const name = this.str(p, 'name', pat, true);
      if (name === undefined) return;
      const value = p.value;
      if (typeof value === 'number' || typeof value === 'boolean')
        return this.err(`${label} param "${name}"`, `value must be a string: write "${String(value)}" (quoted), as Anchore's bundles do`);
      if (typeof value !== 'string') return this.err(`${label} param "${name}"`, value === undefined ? `"value" is required (a string)` : `value must be a string, not ${this.typeName(value)}`);
      params.push({ name, value });
    });

    if (gateName !== undefined && triggerName !== undefined) {
      const gate = findGate(this.gates, gateName);
      if (!gate) {
        const known = this.gates.map((g) => g.name).sort();
        this.err(`${at} (gate "${gateName}")`, `unknown gate${suggest(gateName, known)}; known: ${known.join(', ')}`);
      } else {
        const trigger = findTrigger(gate, triggerName);
        if (!trigger) {
          const known = gate.triggers.map((t) => t.name);
          this.err(`${at} (gate "${gate.name}", trigger "${triggerName}")`, `unknown trigger${suggest(triggerName, known)}; known for ${gate.name}: ${known.join(', ')}`);
        } else {
          for (const e of checkParams(trigger, params).errors) this.errors.push(`${label} ${e}`);
        }
      }
    }
    if (gateName === undefined || triggerName === undefined) return undefined;
    const rule: PolicyRule = { gate: gateName, trigger: triggerName, action, params };
    if (id !== undefined) rule.id = id;
    if (recommendation !== undefined) rule.recommendation = recommendation;
    return rule;
  }

  private allowlists(list: unknown[], key: string): Allowlist[] {
    const out: Allowlist[] = [];
    const ids = new Map<string, string>();
    list.forEach((w, i) => {
      let at = `${key}[${i}]`;
      if (!this.isObject(w)) return this.err(at, `must be an object, not ${this.typeName(w)}`);
      const id = this.str(w, 'id', at, true);
      if (id !== undefined) at = `${at} ("${id}")`;
      this.duplicate(ids, id, at, 'allowlist');
      const items: AllowlistItem[] = [];
      const itemIds = new Map<string, string>();
      this.array(w.items, `${at} items`).forEach((it, j) => {
        const iat = `${at} items[${j}]`;
        if (!this.isObject(it)) return this.err(iat, `must be an object, not ${this.typeName(it)}`);
        const itemId = this.str(it, 'id', iat, true);
        const gate = this.str(it, 'gate', iat, true);
        const triggerId = this.str(it, 'trigger_id', iat, true);
        const expires = this.str(it, 'expires_on', iat, false);
        this.duplicate(itemIds, itemId, iat, 'allowlist item');
        if (gate !== undefined && !findGate(this.gates, gate)) {
          const known = this.gates.map((g) => g.name).sort();
          this.err(`${iat} (gate "${gate}")`, `unknown gate${suggest(gate, known)}; known: ${known.join(', ')}`);
        }
        let expiresOn: string | undefined;
        if (expires !== undefined && expires !== '') {
          const d = parseExpiry(expires);
          if (!d) this.err(iat, `expires_on ${JSON.stringify(expires)} is not a valid RFC 3339 date-time (e.g. "2025-01-31T00:00:00Z") or date ("2025-01-31")`);
          else expiresOn = d.toISOString();
        }
        if (itemId === undefined || gate === undefined || triggerId === undefined) return;
        const item: AllowlistItem = { id: itemId, gate, trigger_id: triggerId };
        if (expiresOn !== undefined) item.expires_on = expiresOn;
        items.push(item);
      });
      const allowlist: Allowlist = { id: id ?? '', items };
      this.optional(allowlist, w, at, [
        ['name', 'name'],
        ['version', 'version'],
        ['comment', 'comment'],
        ['description', 'comment'],
      ]);
      out.push(allowlist);
    });
    return out;
  }

  private selector(o: Json, at: string): ImageSelector | undefined {
    const registry = this.str(o, 'registry', at, true);
    const repository = this.str(o, 'repository', at, true);
    const image = o.image;
    if (!this.isObject(image)) {
      this.err(at, image === undefined ? `"image" is required ({"type": "tag" | "digest" | "id", "value": ...})` : `"image" must be an object {"type", "value"}, not ${this.typeName(image)}`);
      return undefined;
    }
    const type = image.type;
    if (typeof type !== 'string' || !(IMAGE_TYPES as readonly string[]).includes(type)) {
      this.err(at, `image type ${JSON.stringify(type)} is not one of ${IMAGE_TYPES.join(', ')}`);
      return undefined;
    }
    const value = this.str(image, 'value', `${at} image`, true);
    if (registry === undefined || repository === undefined || value === undefined) return undefined;
    return { registry, repository, image: { type: type as ImageSelector['image']['type'], value } };
  }

  private selectors(list: unknown[], key: string): ImageSelector[] {
    const out: ImageSelector[] = [];
    list.forEach((s, i) => {
      const at = `${key}[${i}]`;
      if (!this.isObject(s)) return this.err(at, `must be an object, not ${this.typeName(s)}`);
      const sel = this.selector(s, typeof s.name === 'string' ? `${at} ("${s.name}")` : at);
      if (sel) out.push(sel);
    });
    return out;
  }

  /** policyIds / allowlistIds: the ids references may name, undefined when unknown (the list itself is broken). */
  private mappings(list: unknown[], policyIds: Set<string> | undefined, allowlistIds: Set<string> | undefined): Mapping[] {
    const out: Mapping[] = [];
    const ids = new Map<string, string>();
    list.forEach((m, i) => {
      let at = `mappings[${i}]`;
      if (!this.isObject(m)) return this.err(at, `must be an object, not ${this.typeName(m)}`);
      const id = this.str(m, 'id', at, false);
      const name = this.str(m, 'name', at, false);
      if (name !== undefined || id !== undefined) at = `${at} ("${name ?? id}")`;
      this.duplicate(ids, id, at, 'mapping');
      const sel = this.selector(m, at);

      let pids: string[] = [];
      const single = m.policy_id;
      const many = this.either(m, 'policy_ids', 'rule_set_ids', at);
      if (single !== undefined && many) this.err(at, `both "policy_id" and "${many.key}" are given; use one`);
      else if (single !== undefined) {
        if (typeof single !== 'string' || !single) this.err(at, `"policy_id" must be a string, not ${this.typeName(single)}`);
        else pids = [single];
      } else if (many) pids = this.stringList(many.value, `${at} ${many.key}`);
      else this.err(at, `"policy_ids" is required (the policies this mapping applies)`);
      if ((single !== undefined || many) && pids.length === 0 && !this.errors.some((e) => e.startsWith(at))) this.err(at, `"${many?.key ?? 'policy_id'}" names no policy`);
      if (policyIds) for (const p of pids) if (!policyIds.has(p)) this.err(at, `policy id "${p}" is not a policy of this bundle${suggest(p, [...policyIds])}; policies: ${[...policyIds].join(', ') || '(none)'}`);

      const wl = this.either(m, 'whitelist_ids', 'allowlist_ids', at);
      const aids = wl ? this.stringList(wl.value, `${at} ${wl.key}`) : [];
      if (allowlistIds) for (const a of aids) if (!allowlistIds.has(a)) this.err(at, `allowlist id "${a}" is not an allowlist of this bundle${suggest(a, [...allowlistIds])}; allowlists: ${[...allowlistIds].join(', ') || '(none)'}`);

      const groups: Partial<Record<'base_policy_ids' | 'application_policy_ids', string[]>> = {};
      for (const key of ['base_policy_ids', 'application_policy_ids'] as const) {
        if (m[key] === undefined) continue;
        const ids = this.stringList(m[key], `${at} ${key}`);
        if (policyIds) for (const p of ids) if (!policyIds.has(p)) this.err(at, `${key}: policy id "${p}" is not a policy of this bundle${suggest(p, [...policyIds])}; policies: ${[...policyIds].join(', ') || '(none)'}`);
        groups[key] = ids;
      }

      if (!sel) return;
      const mapping: Mapping = { ...sel, policy_ids: pids, allowlist_ids: aids, ...groups };
      if (id !== undefined) mapping.id = id;
      if (name !== undefined) mapping.name = name;
      out.push(mapping);
    });
    return out;
  }

  private stringList(v: unknown, at: string): string[] {
    const list = this.array(v, at);
    const out: string[] = [];
    list.forEach((s, i) => {
      if (typeof s !== 'string' || !s) this.err(`${at}[${i}]`, `must be a non-empty string, not ${this.typeName(s)}`);
      else out.push(s);
    });
    return out;
  }
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))?$/;

/**
 * An allowlist item's expires_on: an RFC 3339 date-time with a zone, as Anchore writes it, or
 * a plain date (midnight UTC, i.e. the item stops applying as that day starts). Impossible
 * dates (February 30th) are refused rather than rolled over.
 */
export function parseExpiry(s: string): Date | undefined {
  const m = RFC3339.exec(s.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', sec = '00'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const daysIn = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysIn || Number(h) > 23 || Number(mi) > 59 || Number(sec) > 60) return undefined;
  const date = new Date(m[4] === undefined ? `${y}-${mo}-${d}T00:00:00Z` : s.trim().replace(' ', 'T'));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

// ---- regexes ---------------------------------------------------------------------------------
//
// Regex params are compiled with RE2 (re2js), which matches in linear time, and are also
// refused when prone to catastrophic backtracking in backtracking engines. Drydock cannot
// hang on them, but bundles are shared with other tools (Anchore Engine evaluates the same
// regexes with Python's `re`), so a pattern that would hang there is rejected with the reason.
// The check is narrow to avoid false alarms: a group containing an unbounded quantifier
// (*, +, {n,}) that is itself repeated without bound or ten or more times — `(a+)+`, `(a*)*`,
// `(.*a){20}`, `(\w+\s?)*` — and a repeated group with identical alternatives, `(a|a)*`.
// `(\d+\.){3}` (a small bounded repeat) passes.

/** A bounded repeat of a group with an unbounded quantifier from this count on is refused. */
const LARGE_REPEAT = 10;

/** Compile a bundle regex with RE2; on failure the reason, phrased for a person. */
export function compileRegex(pattern: string): { regex: RE2JS } | { error: string } {
  const risk = backtrackingRisk(pattern);
  if (risk) return { error: risk };
  try {
    return { regex: RE2JS.compile(pattern) };
  } catch (e) {
    return { error: re2Reason(pattern, e) };
  }
}

function re2Reason(pattern: string, e: unknown): string {
  const msg = (e instanceof Error ? e.message : String(e)).replace(/^error parsing regexp: /, '');
  const backref = /\\([1-9]|k<[^>]*>)/.exec(pattern);
  if (backref) return `backreference "${backref[0]}" is not supported: RE2 (linear-time matching) has no backreferences (${msg})`;
  const look = /\(\?<?[=!]/.exec(pattern);
  if (look) return `lookaround "${look[0]}" is not supported: RE2 (linear-time matching) has no lookahead or lookbehind (${msg})`;
  return `not a valid RE2 regular expression: ${msg}`;
}

/**
 * Why the pattern would backtrack catastrophically, or undefined. A small structural parse
 * (groups, classes, escapes, quantifiers); a pattern it cannot parse is left to RE2's
 * syntax errors.
 */
export function backtrackingRisk(pattern: string): string | undefined {
  const risks: string[] = [];
  try {
    if (parseAlternation(pattern, 0, risks, 0).end !== pattern.length) return undefined;
  } catch {
    return undefined;
  }
  return risks[0];
}

interface Parsed {
  /** some quantifier inside is unbounded */
  unbounded: boolean;
  end: number;
}

const HANGS = "a backtracking engine takes exponential time on a near-miss input, so the same bundle would hang Anchore's Python engine. Drydock runs RE2 (linear time) anyway";

function parseAlternation(p: string, pos: number, risks: string[], depth: number): Parsed & { branches: string[] } {
  let unbounded = false;
  const branches: string[] = [];
  for (;;) {
    const start = pos;
    const s = parseSequence(p, pos, risks, depth);
    unbounded ||= s.unbounded;
    branches.push(p.slice(start, s.end));
    pos = s.end;
    if (p[pos] !== '|') return { unbounded, end: pos, branches };
    pos++;
  }
}

function parseSequence(p: string, pos: number, risks: string[], depth: number): Parsed {
  let unbounded = false;
  while (pos < p.length && p[pos] !== '|' && p[pos] !== ')') {
    const atomStart = pos;
    const atom = parseAtom(p, pos, risks, depth);
    pos = atom.end;
    const q = quantifier(p, pos);
    if (!q) {
      unbounded ||= atom.unbounded;
      continue;
    }
    pos = q.end;
    const text = p.slice(atomStart, pos);
    if (atom.group && (q.max === Infinity || q.max >= LARGE_REPEAT)) {
      if (atom.unbounded && q.max === Infinity)
        risks.push(`"${text}" repeats a group that itself contains an unbounded quantifier (nested quantifiers): ${HANGS}; rewrite it without the nested repetition`);
      else if (atom.unbounded)
        risks.push(
          `"${text}" repeats ${q.max} times a group that contains an unbounded quantifier: a backtracking engine takes time of the order of n^${q.max} on a near-miss input, so the same bundle would hang Anchore's Python engine. Drydock runs RE2 (linear time) anyway; rewrite it without the repeated unbounded group`,
        );
      else if (atom.branches && new Set(atom.branches).size < atom.branches.length)
        risks.push(`"${text}" repeats an alternation with identical alternatives: ${HANGS}; remove the duplicate alternative`);
    }
    unbounded ||= atom.unbounded || q.max === Infinity;
  }
  return { unbounded, end: pos };
}

function parseAtom(p: string, pos: number, risks: string[], depth: number): Parsed & { group?: boolean; branches?: string[] } {
  const c = p[pos];
  if (c === '(') {
    pos++;
    if (p[pos] === '?') {
      pos++;
      if ((p[pos] === 'P' && p[pos + 1] === '<') || (p[pos] === '<' && p[pos + 1] !== '=' && p[pos + 1] !== '!')) {
        const close = p.indexOf('>', pos);
        if (close < 0) throw new Error('unterminated group name');
        pos = close + 1;
      } else {
        while (pos < p.length && /[a-zA-Z\-=!<]/.test(p[pos]!)) pos++;
        if (p[pos] === ')') return { unbounded: false, end: pos + 1 };
        if (p[pos] === ':') pos++;
      }
    }
    if (depth > 200) throw new Error('too deep');
    const inner = parseAlternation(p, pos, risks, depth + 1);
    if (p[inner.end] !== ')') throw new Error('unbalanced');
    return { unbounded: inner.unbounded, end: inner.end + 1, group: true, ...(inner.branches.length > 1 ? { branches: inner.branches } : {}) };
  }
  if (c === '[') return { unbounded: false, end: classEnd(p, pos) };
  if (c === '\\') return { unbounded: false, end: escapeEnd(p, pos) };
  return { unbounded: false, end: pos + 1 };
}

function classEnd(p: string, pos: number): number {
  pos++;
  if (p[pos] === '^') pos++;
  if (p[pos] === ']') pos++;
  while (pos < p.length) {
    if (p[pos] === '\\') pos = escapeEnd(p, pos);
    else if (p[pos] === '[' && p[pos + 1] === ':') {
      const close = p.indexOf(':]', pos + 2);
      pos = close < 0 ? pos + 1 : close + 2;
    } else if (p[pos] === ']') return pos + 1;
    else pos++;
  }
  throw new Error('unterminated class');
}

function escapeEnd(p: string, pos: number): number {
  const n = p[pos + 1];
  if (n === 'Q') {
    const e = p.indexOf('\\E', pos + 2);
    return e < 0 ? p.length : e + 2;
  }
  if ((n === 'x' || n === 'p' || n === 'P') && p[pos + 2] === '{') {
    const e = p.indexOf('}', pos + 3);
    return e < 0 ? p.length : e + 1;
  }
  return pos + 2;
}

function quantifier(p: string, pos: number): { max: number; end: number } | undefined {
  const c = p[pos];
  let max: number;
  let end: number;
  if (c === '*' || c === '+') {
    max = Infinity;
    end = pos + 1;
  } else if (c === '?') {
    max = 1;
    end = pos + 1;
  } else if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(pos));
    if (!m) return undefined;
    max = m[2] === undefined ? Number(m[1]) : m[3] ? Number(m[3]) : Infinity;
    end = pos + m[0].length;
  } else return undefined;
  if (p[end] === '?' || p[end] === '+') end++;
  return { max, end };
}
