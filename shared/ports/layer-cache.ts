import type { LayerExtract } from '../layers/extract.js';

/**
 * Layer extracts keyed by layer digest and the catalogers' fingerprint (see layerCacheKey),
 * so a layer analysed once is never downloaded again. Local directory adapter now, S3 on AWS.
 * A cache that cannot read an entry reports a miss, never an error: the layer is re-read.
 */
export interface LayerCache {
  get(key: string, signal?: AbortSignal): Promise<LayerExtract | undefined>;
  put(key: string, extract: LayerExtract, signal?: AbortSignal): Promise<void>;
  /**
   * Optional: a whole image's analysis (scanImage's AnalysisSnapshot, plain JSON), keyed by its
   * layers and everything that shapes the analysis (see analysisKey in scan.ts), so that a scan
   * of an image already analysed reads one entry instead of decoding, squashing and cataloguing
   * every layer again. As with extracts, an entry that cannot be read is a miss, never an error.
   */
  getAnalysis?(key: string, signal?: AbortSignal): Promise<unknown>;
  /** `snapshot` is shared with the inventory the scan returns: an adapter serialises it before its first await, never keeps the object */
  putAnalysis?(key: string, snapshot: unknown, signal?: AbortSignal): Promise<void>;
}
