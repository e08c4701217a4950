import type { Finding } from '../match/index.js';
import type { PolicyContext } from '../policy/types.js';
import { layerGroups } from './layers.js';
import type { BaseImageInfo, LayerGroup, LayerId } from './types.js';


/** The policy context as the base split reads it (base, layerIds, layerGroup are PolicyContext fields). */
export type BaseContext = PolicyContext;

/**
 * The context a bundle's base_policy_ids / application_policy_ids see: packages, findings,
 * files and content matches of that group's layers only; everything about the image as a
 * whole (config, signature, distro, the base itself) unchanged. With no identified base every
 * layer is the application's (the stricter side, for an image whose base is not known).
 */
export function restrictContext(ctx: PolicyContext, group: LayerGroup): PolicyContext {
  const groupOf = layerGroups(ctx.layerIds ?? [], ctx.base);
  const keep = (layer: string | undefined) => groupOf(layer) === group;
  const out: PolicyContext = { ...ctx, packages: ctx.packages.filter((p) => keep(p.layer)), layerGroup: group };
  if (ctx.vulnerabilities) out.vulnerabilities = { ...ctx.vulnerabilities, findings: ctx.vulnerabilities.findings.filter((f) => keep(f.layer)) };
  if (ctx.files) out.files = ctx.files.filter((f) => keep(f.layer));
  if (ctx.contentMatches) out.contentMatches = ctx.contentMatches.filter((m) => keep(m.layer));
  return out;
}

/** Each finding's group, for reports: `layerGroup` on a copy of every finding. */
export function splitFindings(findings: readonly Finding[], layers: readonly LayerId[], base: BaseImageInfo | undefined): Array<Finding & { layerGroup: LayerGroup }> {
  const groupOf = layerGroups(layers, base);
  return findings.map((f) => ({ ...f, layerGroup: groupOf(f.layer) }));
}
