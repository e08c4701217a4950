/**
 * Evaluates a parsed policy bundle against one image's PolicyContext, following Anchore
 * Engine's evaluation where it is documented, and failing closed where it is not safe to
 * follow it:
 *
 * 1. Denylisted and allowlisted images (Anchore's blacklisted / whitelisted images) decide the
 *    verdict outright: denylisted → fail, allowlisted → pass; an image on both lists fails
 *    (Anchore documents that the denylist takes precedence). The mapped policies are still
 *    evaluated so the result shows what fired.
 * 2. Mappings are tried in bundle order and the first whose registry, repository and image
 *    (tag, digest or id) match selects the policies and allowlists, as in Anchore. Every field
 *    is a glob where "*" matches any run of characters (including "/" and nothing); the rest
 *    matches literally and case-sensitively. Digests and ids compare with or without their
 *    "sha256:" prefix. An image reference without a tag (by digest, a local layout) matches a
 *    tag selector only when the selector is "*".
 * 3. No mapping matches: Anchore Engine falls through to GO (pass); Drydock fails instead, with
 *    a reason saying so, so that a typo in a mapping's registry cannot pass images unchecked.
 *    A catch-all last mapping (registry, repository and tag "*") avoids this, as Anchore
 *    recommends.
 * 4. Each rule's trigger runs with its checked params; each TriggerFire becomes a FiredRule.
 *    A trigger that throws, or a rule whose gate / trigger / params no longer check against
 *    the registry, fires once with triggerId "trigger_failed", message "trigger failed: ..."
 *    and action STOP, whatever the rule's action (Anchore aborts the whole evaluation with an
 *    error; Drydock reports the other rules and fails closed). Such a fire is never
 *    allowlisted.
 * 5. Allowlist items of the mapping's allowlists suppress fired rules whose gate matches (the
 *    gate's name or an alias, case-insensitively) and whose trigger id matches the item's
 *    trigger_id exactly or as a "*" glob ("*", "CVE-2023-1234+*"), as Anchore's matcher does.
 *    An item whose expires_on is at or before ctx.now no longer suppresses (Anchore: expired
 *    when now >= expires_on); the fired rule then names it in `expiredAllowlist`.
 * 5b. Drydock: a mapping's base_policy_ids / application_policy_ids are evaluated on the base
 *    image's layers / the application's layers only (shared/base/split.ts); their fired rules
 *    carry `layerGroup`. With no identified base every layer is the application's.
 * 6. Verdict: any STOP rule that is not allowlisted → fail, else any such WARN → warn, else
 *    pass (GO rules never change the verdict).
 */
import { bundleDigest, checkParams, findGate, findTrigger } from './bundle.js';
import { restrictContext } from '../base/split.js';
import { imageCoordinates } from './context.js';
import { gates as defaultGates } from './gates/index.js';
import type {
  Allowlist,
  FiredRule,
  Gate,
  ImageSelector,
  PolicyBundle,
  PolicyContext,
  PolicyResult,
  PolicyRule,
  ParamValues,
  Trigger,
  Verdict,
} from './types.js';

export interface EvaluateOptions {
  /** the gate registry (default: every gate of gates/index.ts) */
  gates?: readonly Gate[];
}

/** Where the image is, as mappings and image lists match it. */
interface ImageCoordinates {
  registry: string;
  repository: string;
  tag: string | undefined;
  digest: string;
  id: string;
}

export function evaluatePolicy(bundle: PolicyBundle, ctx: PolicyContext, opts: EvaluateOptions = {}): PolicyResult {
  const started = performance.now();
  const registry = opts.gates ?? defaultGates;
  const img = coordinatesOf(ctx);

  const denied = bundle.denylisted_images.findIndex((s) => selectorMatches(s, img));
  const allowed = bundle.allowlisted_images.findIndex((s) => selectorMatches(s, img));
  const mapping = bundle.mappings.find((m) => selectorMatches(m, img));

  const fired: FiredRule[] = [];
  const policyIds = mapping ? [...new Set([...mapping.policy_ids, ...(mapping.base_policy_ids ?? []), ...(mapping.application_policy_ids ?? [])])] : [];
  if (mapping) {
    const allowlists = mapping.allowlist_ids.map((id) => bundle.allowlists.find((a) => a.id === id)).filter((a): a is Allowlist => a !== undefined);
    for (const policyId of mapping.policy_ids) {
      const policy = bundle.policies.find((p) => p.id === policyId);
      if (!policy) {
        fired.push(failure(policyId, undefined, { gate: '-', trigger: '-' }, `mapping names policy "${policyId}", which the bundle does not contain`));
        continue;
      }
      for (const rule of policy.rules) fired.push(...evaluateRule(policyId, rule, ctx, registry, allowlists));
    }
    // Drydock: policies for the base image's layers and for the application's (shared/base/split.ts)
    for (const group of ['base', 'application'] as const) {
      const ids = group === 'base' ? mapping.base_policy_ids : mapping.application_policy_ids;
      if (!ids?.length) continue;
      const part = restrictContext(ctx, group);
      for (const policyId of ids) {
        const policy = bundle.policies.find((p) => p.id === policyId);
        if (!policy) {
          fired.push({ ...failure(policyId, undefined, { gate: '-', trigger: '-' }, `mapping names ${group} policy "${policyId}", which the bundle does not contain`), layerGroup: group });
          continue;
        }
        for (const rule of policy.rules) for (const fr of evaluateRule(policyId, rule, part, registry, allowlists)) fired.push({ ...fr, layerGroup: group });
      }
    }
  }

  let verdict: Verdict;
  let reason: string;
  if (denied >= 0) {
    verdict = 'fail';
    reason = `denylisted image (denylisted_images[${denied}]: ${describe(bundle.denylisted_images[denied]!)})${allowed >= 0 ? '; it is also allowlisted, and the denylist takes precedence' : ''}`;
  } else if (allowed >= 0) {
    verdict = 'pass';
    reason = `allowlisted image (allowlisted_images[${allowed}]: ${describe(bundle.allowlisted_images[allowed]!)})`;
  } else if (!mapping) {
    verdict = 'fail';
    reason = `no mapping matches ${ctx.image.reference} (registry "${img.registry}", repository "${img.repository}", ${img.tag === undefined ? 'no tag' : `tag "${img.tag}"`}): Drydock fails unmapped images (Anchore Engine would pass them); add a catch-all mapping`;
  } else {
    ({ verdict, reason } = verdictOf(fired));
  }

  const result: PolicyResult = {
    verdict,
    reason,
    bundleId: bundle.id,
    bundleDigest: bundleDigest(bundle),
    policyIds: [...policyIds],
    fired,
    evaluatedAt: ctx.now.toISOString(),
    evaluationMs: 0,
  };
  if (mapping) result.mapping = { ...(mapping.id !== undefined ? { id: mapping.id } : {}), ...(mapping.name !== undefined ? { name: mapping.name } : {}) };
  result.evaluationMs = performance.now() - started;
  return result;
}

function verdictOf(fired: readonly FiredRule[]): { verdict: Verdict; reason: string } {
  const counting = fired.filter((f) => !f.allowlistedBy);
  const stops = counting.filter((f) => f.action === 'STOP');
  if (stops.length) return { verdict: 'fail', reason: `STOP rule fired: ${summary(stops)}` };
  const warns = counting.filter((f) => f.action === 'WARN');
  if (warns.length) return { verdict: 'warn', reason: `WARN rule fired: ${summary(warns)}` };
  const suppressed = fired.length - counting.length;
  return { verdict: 'pass', reason: suppressed ? `no STOP or WARN rule fired that is not allowlisted (${suppressed} allowlisted)` : 'no STOP or WARN rule fired' };
}

/** "vulnerabilities/package (3), dockerfile/exposed_ports (1)" */
function summary(fired: readonly FiredRule[]): string {
  const counts = new Map<string, number>();
  for (const f of fired) counts.set(`${f.gate}/${f.trigger}`, (counts.get(`${f.gate}/${f.trigger}`) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k} (${n})`).join(', ');
}

/** A rule's trigger and converted params, resolved once per rule object and registry. */
type Prepared = { gate: Gate; trigger: Trigger; values: ParamValues } | { error: string; gate?: string; trigger?: string };
const prepared = new WeakMap<readonly Gate[], WeakMap<PolicyRule, Prepared>>();

function prepare(rule: PolicyRule, registry: readonly Gate[]): Prepared {
  let byRule = prepared.get(registry);
  if (!byRule) prepared.set(registry, (byRule = new WeakMap()));
  let p = byRule.get(rule);
  if (!p) {
    p = resolve(rule, registry);
    byRule.set(rule, p);
  }
  return p;
}

function resolve(rule: PolicyRule, registry: readonly Gate[]): Prepared {
  const gate = findGate(registry, rule.gate);
  if (!gate) return { error: `unknown gate "${rule.gate}"` };
  const trigger = findTrigger(gate, rule.trigger);
  if (!trigger) return { error: `unknown trigger "${rule.trigger}" of gate ${gate.name}`, gate: gate.name };
  const { values, errors } = checkParams(trigger, rule.params);
  if (errors.length) return { error: errors.join('; '), gate: gate.name, trigger: trigger.name };
  return { gate, trigger, values };
}

function evaluateRule(policyId: string, rule: PolicyRule, ctx: PolicyContext, registry: readonly Gate[], allowlists: readonly Allowlist[]): FiredRule[] {
  const p = prepare(rule, registry);
  if ('error' in p) return [failure(policyId, rule.id, { gate: p.gate ?? rule.gate, trigger: p.trigger ?? rule.trigger }, p.error)];
  let fires;
  try {
    fires = p.trigger.evaluate(ctx, p.values);
  } catch (e) {
    return [failure(policyId, rule.id, { gate: p.gate.name, trigger: p.trigger.name }, e instanceof Error ? e.message : String(e))];
  }
  return fires.map((f) => {
    const fr: FiredRule = { policyId, gate: p.gate.name, trigger: p.trigger.name, triggerId: f.triggerId, action: rule.action, message: f.message };
    if (rule.id !== undefined) fr.ruleId = rule.id;
    applyAllowlists(fr, p.gate, allowlists, ctx.now);
    return fr;
  });
}

/** A rule that could not be evaluated: fails closed (STOP), never allowlisted. */
function failure(policyId: string, ruleId: string | undefined, where: { gate: string; trigger: string }, why: string): FiredRule {
  const fr: FiredRule = { policyId, gate: where.gate, trigger: where.trigger, triggerId: 'trigger_failed', action: 'STOP', message: `trigger failed: ${why}` };
  if (ruleId !== undefined) fr.ruleId = ruleId;
  return fr;
}

/**
 * Allowlist items indexed by gate (lowercase) and exact trigger id, wildcard items kept apart,
 * each with its position so the first matching item in bundle order still wins: a large
 * allowlist costs a map lookup per fired rule, not a scan of every item.
 */
interface IndexedItem {
  order: number;
  list: Allowlist;
  item: Allowlist['items'][number];
}
interface AllowIndex {
  exact: Map<string, IndexedItem[]>;
  /** wildcard items whose literal start reaches a "+" ("CVE-2023-1234+*"), by gate and the part before it */
  wildByHead: Map<string, IndexedItem[]>;
  /** other wildcard items ("*", "CVE-2023-*"), by gate: tried on every fired rule */
  wild: Map<string, IndexedItem[]>;
}

const indexes = new WeakMap<readonly Allowlist[], AllowIndex>();

function allowIndex(allowlists: readonly Allowlist[]): AllowIndex {
  let idx = indexes.get(allowlists);
  if (idx) return idx;
  idx = { exact: new Map(), wildByHead: new Map(), wild: new Map() };
  let order = 0;
  for (const list of allowlists) {
    for (const item of list.items) {
      const gate = item.gate.toLowerCase();
      const entry = { order: order++, list, item };
      const star = item.trigger_id.indexOf('*');
      const plus = item.trigger_id.indexOf('+');
      if (star >= 0 && plus >= 0 && plus < star) {
        const key = `${gate}\u0000${item.trigger_id.slice(0, plus)}`;
        const w = idx.wildByHead.get(key) ?? idx.wildByHead.set(key, []).get(key)!;
        w.push(entry);
      } else if (star >= 0) {
        const w = idx.wild.get(gate) ?? idx.wild.set(gate, []).get(gate)!;
        w.push(entry);
      } else {
        const key = `${gate}\u0000${item.trigger_id}`;
        const e = idx.exact.get(key) ?? idx.exact.set(key, []).get(key)!;
        e.push(entry);
      }
    }
  }
  indexes.set(allowlists, idx);
  return idx;
}

function applyAllowlists(fr: FiredRule, gate: Gate, allowlists: readonly Allowlist[], now: Date): void {
  const idx = allowIndex(allowlists);
  const candidates: IndexedItem[] = [];
  for (const name of [gate.name, ...(gate.aliases ?? [])].map((n) => n.toLowerCase())) {
    candidates.push(...(idx.exact.get(`${name}\u0000${fr.triggerId}`) ?? []));
    const plus = fr.triggerId.indexOf('+');
    const byHead = plus >= 0 ? (idx.wildByHead.get(`${name}\u0000${fr.triggerId.slice(0, plus)}`) ?? []) : [];
    for (const w of [...byHead, ...(idx.wild.get(name) ?? [])]) if (globMatch(w.item.trigger_id, fr.triggerId)) candidates.push(w);
  }
  candidates.sort((a, b) => a.order - b.order);
  for (const { list, item } of candidates) {
    if (item.expires_on !== undefined && now.getTime() >= Date.parse(item.expires_on)) {
      fr.expiredAllowlist ??= { allowlistId: list.id, itemId: item.id, expiredOn: item.expires_on };
      continue;
    }
    fr.allowlistedBy = { allowlistId: list.id, itemId: item.id };
    delete fr.expiredAllowlist;
    return;
  }
}

function coordinatesOf(ctx: PolicyContext): ImageCoordinates {
  const i = ctx.image;
  const parsed = i.registry === undefined || i.repository === undefined ? imageCoordinates(i.reference) : undefined;
  return {
    registry: i.registry ?? parsed?.registry ?? '',
    repository: i.repository ?? parsed?.repository ?? '',
    tag: i.tag ?? parsed?.tag,
    digest: i.digest,
    id: i.id,
  };
}

export function selectorMatches(sel: ImageSelector, img: ImageCoordinates): boolean {
  if (!globMatch(sel.registry, img.registry) || !globMatch(sel.repository, img.repository)) return false;
  const v = sel.image.value;
  switch (sel.image.type) {
    case 'tag':
      return img.tag === undefined ? v === '*' : globMatch(v, img.tag);
    case 'digest':
      return globMatch(stripAlgorithm(v), stripAlgorithm(img.digest));
    case 'id':
      return globMatch(stripAlgorithm(v), stripAlgorithm(img.id));
  }
}

function stripAlgorithm(d: string): string {
  return d.replace(/^sha256:/i, '');
}

function describe(s: ImageSelector): string {
  const sep = s.image.type === 'tag' ? ':' : '@';
  return `${s.registry}/${s.repository}${sep}${s.image.type === 'id' ? `id ${s.image.value}` : s.image.value}`;
}

/**
 * `*` matches any run of characters, everything else itself. Iterative with one backtrack
 * point (the last star), so O(pattern × text) at worst.
 */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else return false;
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}
