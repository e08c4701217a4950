/**
 * An image's layers as the base split compares them, and which group a layer is in. No imports
 * beyond types: the policy context (loaded by every scan) needs layerIdsOf, the policy engine
 * the groups, neither the trusted-base list reader.
 */
import type { BaseImageInfo, LayerGroup, LayerId } from './types.js';

/** An image's layers (an inventory's LayerReports, a record's) as the base split compares them. */
export function layerIdsOf(layers: ReadonlyArray<{ digest: string; diffId?: string }>): LayerId[] {
  return layers.map((l) => (l.diffId ? { digest: l.digest, diffId: l.diffId } : { digest: l.digest }));
}

/** Which group a layer id (a package's or finding's `layer`: diffId or digest) is in. */
export function layerGroups(image: readonly LayerId[], base: Pick<BaseImageInfo, 'status' | 'layerCount'> | undefined): (layer: string | undefined) => LayerGroup {
  const ids = new Set<string>();
  if (base?.status === 'identified') {
    for (const l of image.slice(0, base.layerCount)) {
      ids.add(l.digest);
      if (l.diffId) ids.add(l.diffId);
    }
  }
  return (layer) => (layer !== undefined && ids.has(layer) ? 'base' : 'application');
}
