/**
 * From a scan's inventory (and its findings, when advisories were matched) to the
 * PolicyContext the gates read. Pure: the same for the CLI and the evaluator Lambda.
 */
import { parseReference } from '../image/reference.js';
import type { MatchResult } from '../match/index.js';
import type { ImageInventory } from '../scan.js';
import { layerIdsOf } from '../base/layers.js';
import type { BaseImageInfo } from '../base/types.js';
import type { PolicyContext } from './types.js';

export interface ContextInputs {
  /** undefined when no advisories were available: vulnerability_data_unavailable fires */
  vulnerabilities?: MatchResult;
  advisoriesUpdatedAt?: Date;
  /** the base image under the trusted base list, when one was configured (shared/base) */
  base?: BaseImageInfo;
  now?: Date;
}

/** registry / repository / tag as mappings match them; local sources use their path as the repository. */
export function imageCoordinates(reference: string): { registry: string; repository: string; tag?: string } {
  try {
    const ref = parseReference(reference);
    if (ref.kind === 'registry') return { registry: ref.registry, repository: ref.repository, ...(ref.tag ? { tag: ref.tag } : {}) };
    return { registry: ref.kind, repository: ref.path, ...(ref.tag ? { tag: ref.tag.split(':').pop()! } : {}) };
  } catch {
    return { registry: '', repository: reference };
  }
}

export function policyContext(inv: ImageInventory, inputs: ContextInputs = {}): PolicyContext {
  const where = imageCoordinates(inv.image.reference);
  const ctx: PolicyContext = {
    image: {
      reference: inv.image.reference,
      registry: where.registry,
      repository: where.repository,
      ...(where.tag ? { tag: where.tag } : {}),
      digest: inv.image.manifestDigest,
      id: inv.image.configDigest,
      architecture: inv.image.platform.architecture,
      os: inv.image.platform.os,
      size: inv.image.layers.reduce((n, l) => n + l.size, 0),
      layerCount: inv.image.layers.length,
      ...(inv.image.config ? { config: inv.image.config } : {}),
    },
    packages: inv.packages,
    layerIds: layerIdsOf(inv.image.layers),
    now: inputs.now ?? new Date(),
  };
  if (inputs.base) ctx.base = inputs.base;
  if (inv.distro) ctx.distro = inv.distro;
  if (inputs.vulnerabilities) ctx.vulnerabilities = inputs.vulnerabilities;
  if (inputs.advisoriesUpdatedAt) ctx.advisoriesUpdatedAt = inputs.advisoriesUpdatedAt;
  if (inv.policyData?.files) ctx.files = inv.policyData.files;
  if (inv.policyData?.contentMatches) ctx.contentMatches = inv.policyData.contentMatches;
  if (inv.policyData?.passwd !== undefined) ctx.passwd = inv.policyData.passwd;
  return ctx;
}
