/**
 * A policy bundle's allowlists applied to --fail-on (a module of its own, loaded only when a scan
 * has a policy bundle: it needs the policy engine's matchers).
 */
import type { Finding } from '../match/index.js';
import { globMatch, selectorMatches } from '../policy/engine.js';
import type { PolicyBundle, PolicyContext } from '../policy/types.js';

/**
 * The bundle's allowlists (of the mapping that selects the image, as the policy engine picks
 * them) applied to findings, so that --fail-on and --policy agree: an item of gate
 * "vulnerabilities" whose trigger_id matches "<id>+<package>" (or an alias in place of the id)
 * marks the finding suppressed, with the allowlist and item named. Expired items do not apply.
 */
export function applyBundleAllowlists(bundle: PolicyBundle, ctx: PolicyContext, findings: Finding[]): number {
  const img = {
    registry: ctx.image.registry ?? '',
    repository: ctx.image.repository ?? '',
    tag: ctx.image.tag,
    digest: ctx.image.digest,
    id: ctx.image.id,
  };
  const mapping = bundle.mappings.find((m) => selectorMatches(m, img));
  if (!mapping) return 0;
  const items = mapping.allowlist_ids
    .map((id) => bundle.allowlists.find((a) => a.id === id))
    .flatMap((a) => (a ? a.items.filter((i) => i.gate.toLowerCase() === 'vulnerabilities').map((item) => ({ list: a, item })) : []));
  let n = 0;
  for (const f of findings) {
    if (f.suppressed) continue;
    const ids = [f.id, ...f.aliases].map((id) => `${id}+${f.package.name}`);
    for (const { list, item } of items) {
      if (item.expires_on !== undefined && ctx.now.getTime() >= Date.parse(item.expires_on)) continue;
      if (!ids.some((t) => globMatch(item.trigger_id, t))) continue;
      f.suppressed = { by: `allowlist ${list.id}/${item.id}`, reason: `${list.name ?? list.comment ?? `policy bundle ${bundle.id}`}${item.expires_on ? `, until ${item.expires_on}` : ''}` };
      n++;
      break;
    }
  }
  return n;
}
