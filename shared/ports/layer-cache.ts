import type { LayerExtract } from '../layers/extract.js';

/**
 * Layer extracts keyed by layer digest and the catalogers' fingerprint (see layerCacheKey),
 * so a layer analysed once is never downloaded again. Local directory adapter now, S3 on AWS.
 * A cache that cannot read an entry reports a miss, never an error: the layer is re-read.
 */
export interface LayerCache {
  get(key: string, signal?: AbortSignal): Promise<LayerExtract | undefined>;
  put(key: string, extract: LayerExtract, signal?: AbortSignal): Promise<void>;
}
