/**
 * What the walker keeps of one layer: the files catalogers asked for, every symlink
 * (metadata only, so paths can be resolved after squashing), hard links to kept paths,
 * and the whiteouts and opaque directories that delete lower layers' files.
 */
export type ExtractEntry =
  | { type: 'file'; path: string; mode: number; size: number; content: Buffer }
  | { type: 'symlink'; path: string; mode: number; target: string }
  /** a hard link whose target was not kept in this layer; resolved when squashing */
  | { type: 'hardlink'; path: string; mode: number; target: string }
  /** a needed file over the per-file limit: not read, but it still hides lower layers' copy */
  | { type: 'skipped'; path: string; mode: number; size: number }
  /** an executable some content probe recognised: what each probe kept, by probe name */
  | { type: 'probed'; path: string; mode: number; results: Record<string, Buffer> };

export interface LayerIssue {
  code: 'LIMIT_EXCEEDED' | 'SYMLINK_LOOP' | 'UNRESOLVED_LINK';
  message: string;
  path: string;
  layer: string;
}

export interface LayerStats {
  /** tar entries seen */
  entries: number;
  /** sum of the entries' sizes (uncompressed content bytes) */
  uncompressedBytes: number;
  /** bytes of the blob as stored */
  compressedBytes: number;
}

export interface LayerExtract {
  /** the blob digest (compressed), the cache key's base */
  digest: string;
  /** the uncompressed digest from the image config, when known */
  diffId?: string;
  entries: ExtractEntry[];
  /** paths deleted from lower layers (".wh.<name>") */
  whiteouts: string[];
  /** directories whose lower-layer content is hidden (".wh..wh..opq") */
  opaqueDirs: string[];
  issues: LayerIssue[];
  stats: LayerStats;
}

/** Limits on what one layer may cost; exceeding one fails the layer with LIMIT_EXCEEDED. */
export interface LayerLimits {
  /** sum of entry sizes in one layer */
  maxUncompressedBytes: number;
  /** tar entries in one layer */
  maxEntries: number;
  /** bytes read of one kept file; larger files are skipped and reported */
  maxFileBytes: number;
  /** layers in one image */
  maxLayers: number;
}

export const DEFAULT_LIMITS: LayerLimits = {
  maxUncompressedBytes: 32 * 1024 ** 3,
  maxEntries: 2_000_000,
  maxFileBytes: 64 * 1024 ** 2,
  maxLayers: 256,
};
