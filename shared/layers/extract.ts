import { DrydockError, type ErrorContext } from '../errors.js';

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
  /** decompressed bytes of the layer read (the tar stream up to its end marker) */
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

/**
 * The scan's whole budget, in one place: what one layer and one image may cost before the
 * scan stops with LIMIT_EXCEEDED naming the limit (the field name). The defaults are far
 * above anything a real image needs; each is settable with `--limit name=value` on the CLI
 * and `DRYDOCK_LIMIT_<NAME>` in the environment (see limitsFromEnv).
 */
export interface LayerLimits {
  /** decompressed bytes of one layer (the tar stream as inflated, not the entries' declared sizes) */
  maxUncompressedBytes: number;
  /** compressed bytes of one layer blob */
  maxCompressedBytes: number;
  /** decompressed / compressed bytes of one layer, checked once EXPANSION_CHECK_AFTER bytes are inflated */
  maxExpansionRatio: number;
  /** zstd window of any frame (zstd's own default maximum is 128 MiB, window log 27) */
  maxZstdWindowBytes: number;
  /** tar entries in one layer */
  maxEntries: number;
  /** bytes read of one kept file; larger files are skipped and reported */
  maxFileBytes: number;
  /** bytes kept (file contents and probe results) from one layer */
  maxKeptBytes: number;
  /** bytes of one entry's path (after PAX / GNU long names) */
  maxPathBytes: number;
  /** bytes of one link target */
  maxLinkBytes: number;
  /** bytes of one PAX or GNU long-name header, and of a sparse map */
  maxHeaderBytes: number;
  /** symlinks in one layer */
  maxSymlinks: number;
  /** layers in one image */
  maxLayers: number;
  /** compressed bytes of all layers of one image */
  maxImageCompressedBytes: number;
  /** decompressed bytes of all layers of one image */
  maxImageUncompressedBytes: number;
  /** tar entries of all layers of one image */
  maxImageEntries: number;
  /** bytes kept from all layers of one image */
  maxImageKeptBytes: number;
  /** symlinks of all layers of one image */
  maxImageSymlinks: number;
}

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

export const DEFAULT_LIMITS: LayerLimits = {
  maxUncompressedBytes: 32 * GiB,
  maxCompressedBytes: 16 * GiB,
  maxExpansionRatio: 200,
  maxZstdWindowBytes: 128 * MiB,
  maxEntries: 2_000_000,
  maxFileBytes: 64 * MiB,
  maxKeptBytes: 256 * MiB,
  maxPathBytes: 64 * KiB,
  maxLinkBytes: 64 * KiB,
  maxHeaderBytes: 1 * MiB,
  maxSymlinks: 500_000,
  maxLayers: 256,
  maxImageCompressedBytes: 64 * GiB,
  maxImageUncompressedBytes: 128 * GiB,
  maxImageEntries: 8_000_000,
  maxImageKeptBytes: 512 * MiB,
  maxImageSymlinks: 1_000_000,
};

/** The expansion ratio is judged only after this many decompressed bytes (small layers compress well legitimately). */
export const EXPANSION_CHECK_AFTER = 64 * MiB;

export const LIMIT_NAMES = Object.keys(DEFAULT_LIMITS) as (keyof LayerLimits)[];

/** "maxKeptBytes" → "DRYDOCK_LIMIT_MAX_KEPT_BYTES" */
export function limitEnvName(name: keyof LayerLimits): string {
  return `DRYDOCK_LIMIT_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** A limit value: a positive integer with an optional K/M/G/T suffix (powers of 1024). */
export function parseLimitValue(name: string, value: string): number {
  const m = /^\s*(\d+)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(value);
  const n = m ? Number(m[1]) * 1024 ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase()) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new DrydockError('CONFIG', `limit ${name} must be a positive integer (K/M/G/T suffixes allowed), got "${value}"`);
  return n;
}

/** `name=value` pairs (the CLI's repeated --limit) as limits; unknown names are a CONFIG error listing the known ones. */
export function parseLimits(pairs: readonly string[]): Partial<LayerLimits> {
  const out: Partial<LayerLimits> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq < 0 ? pair.length : eq).trim() as keyof LayerLimits;
    if (eq < 0 || !LIMIT_NAMES.includes(name)) {
      throw new DrydockError('CONFIG', `unknown limit "${pair}": use name=value with one of ${LIMIT_NAMES.join(', ')}`);
    }
    out[name] = parseLimitValue(name, pair.slice(eq + 1));
  }
  return out;
}

/** The limits set in the environment as DRYDOCK_LIMIT_<NAME> (e.g. DRYDOCK_LIMIT_MAX_KEPT_BYTES=256M). */
export function limitsFromEnv(env: Record<string, string | undefined>): Partial<LayerLimits> {
  const out: Partial<LayerLimits> = {};
  for (const name of LIMIT_NAMES) {
    const v = env[limitEnvName(name)];
    if (v !== undefined && v !== '') out[name] = parseLimitValue(limitEnvName(name), v);
  }
  return out;
}

/** The error for a limit: LIMIT_EXCEEDED, naming the limit and its value. */
export function limitError(name: keyof LayerLimits, what: string, limit: number, context?: ErrorContext): DrydockError {
  return new DrydockError('LIMIT_EXCEEDED', `${what} (limit ${name} = ${limit}; to raise it: --limit ${name}=<value> or ${limitEnvName(name)})`, { context });
}

/** The image totals ImageBudget keeps, in this order, in its shared counters. */
const BUDGET_FIELDS = ['compressedBytes', 'uncompressedBytes', 'entries', 'keptBytes', 'symlinks'] as const;
type BudgetField = (typeof BUDGET_FIELDS)[number];
const BUDGET_LIMIT: Record<BudgetField, keyof LayerLimits> = {
  compressedBytes: 'maxImageCompressedBytes',
  uncompressedBytes: 'maxImageUncompressedBytes',
  entries: 'maxImageEntries',
  keptBytes: 'maxImageKeptBytes',
  symlinks: 'maxImageSymlinks',
};
const BUDGET_WHAT: Record<BudgetField, (limit: number) => string> = {
  compressedBytes: (l) => `the image's layers exceed ${l} compressed bytes`,
  uncompressedBytes: (l) => `the image's layers exceed ${l} uncompressed bytes`,
  entries: (l) => `the image's layers have more than ${l} entries`,
  keptBytes: (l) => `the files kept from the image's layers exceed ${l} bytes`,
  symlinks: (l) => `the image's layers have more than ${l} symlinks`,
};

/**
 * What the layers of one image have cost so far, shared by the layers read at once: each
 * walk adds to it as it streams, a cached layer adds its recorded stats. The totals live in
 * shared memory (atomic counters), so layers walked in worker threads (see LayerWorkerPool)
 * add to the same totals as the main thread and hit an image limit at the same point.
 */
export class ImageBudget {
  /** the counters, in BUDGET_FIELDS order: hand `shared` to a worker and rebuild with `ImageBudget.over` */
  readonly shared: SharedArrayBuffer;
  private readonly counters: BigInt64Array;

  constructor(
    readonly limits: LayerLimits,
    shared?: SharedArrayBuffer,
  ) {
    this.shared = shared ?? new SharedArrayBuffer(BUDGET_FIELDS.length * 8);
    this.counters = new BigInt64Array(this.shared);
  }

  /** The same budget seen from another thread. */
  static over(limits: LayerLimits, shared: SharedArrayBuffer): ImageBudget {
    return new ImageBudget(limits, shared);
  }

  get compressedBytes(): number {
    return this.total('compressedBytes');
  }
  get uncompressedBytes(): number {
    return this.total('uncompressedBytes');
  }
  get entries(): number {
    return this.total('entries');
  }
  get keptBytes(): number {
    return this.total('keptBytes');
  }
  get symlinks(): number {
    return this.total('symlinks');
  }

  private total(f: BudgetField): number {
    return Number(Atomics.load(this.counters, BUDGET_FIELDS.indexOf(f)));
  }

  /** throws LIMIT_EXCEEDED when a total passes its limit */
  add(part: { compressedBytes?: number; uncompressedBytes?: number; entries?: number; keptBytes?: number; symlinks?: number }, context?: ErrorContext): void {
    for (let i = 0; i < BUDGET_FIELDS.length; i++) {
      const f = BUDGET_FIELDS[i]!;
      const n = part[f];
      if (!n) continue;
      const total = Number(Atomics.add(this.counters, i, BigInt(n))) + n;
      const name = BUDGET_LIMIT[f];
      const limit = this.limits[name];
      if (total > limit) throw limitError(name, BUDGET_WHAT[f](limit), limit, context);
    }
  }

  /** a layer taken from the cache: its recorded cost */
  addExtract(x: LayerExtract, context?: ErrorContext): void {
    let kept = 0;
    let symlinks = 0;
    for (const e of x.entries) {
      if (e.type === 'file') kept += e.content.length;
      else if (e.type === 'probed') for (const b of Object.values(e.results)) kept += b.length;
      else if (e.type === 'symlink') symlinks++;
    }
    this.add({ compressedBytes: x.stats.compressedBytes, uncompressedBytes: x.stats.uncompressedBytes, entries: x.stats.entries, keptBytes: kept, symlinks }, context);
  }
}
