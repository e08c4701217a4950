import type { Readable } from 'node:stream';
import { attributeLayers } from './attribution.js';
import type { Cataloger, CatalogIssue, Distro, FileView, Package, PathNeeds } from './catalog/types.js';
import { catalogNeeds, catalogers as defaultCatalogers, runCatalogers } from './catalog/index.js';
import { DrydockError } from './errors.js';
import { resolveImages } from './image/resolve.js';
import type { ImageConfig, Platform, ResolvedImage } from './image/types.js';
import { layerCacheKey } from './layers/cache-codec.js';
import { DEFAULT_LIMITS, ImageBudget, type LayerExtract, type LayerLimits } from './layers/extract.js';
import { candidateMatcher, pathMatcher } from './layers/paths.js';
import { SquashedView } from './layers/squash.js';
import { debugLayer, debugLine, EarlyWorker, LayerWorkerPool, layerWorkerScript, workerCount } from './layers/worker-pool.js';
import { probeId, type WorkerJob } from './layers/worker-protocol.js';
import type { ImageSource } from './ports/image-source.js';
import type { LayerCache } from './ports/layer-cache.js';
import type { ContentMatch, FileMeta, ImageConfigSummary } from './policy/types.js';

export interface ScanProgress {
  /** a layer is about to be read (or taken from the cache) */
  layerStart?(e: { image: string; index: number; digest: string; size: number; cached: boolean }): void;
  /** compressed bytes read from the source, as they stream */
  bytes?(n: number): void;
  layerDone?(e: { image: string; index: number; digest: string }): void;
}

export interface ScanOptions {
  /** one platform (default linux/amd64), or 'all' for every image of an index */
  platform?: Platform | 'all';
  limits?: Partial<LayerLimits>;
  cache?: LayerCache;
  catalogers?: readonly Cataloger[];
  /** layers read at the same time (default 2): each in a worker thread while one is free (see workerCount), the others in this thread */
  concurrency?: number;
  progress?: ScanProgress;
  signal?: AbortSignal;
  /**
   * Data beyond packages that a later step needs from the same walk (the policy gates' file
   * metadata and content matches): its needs join the catalogers' (and the layer cache key),
   * `collect` reads the squashed view once the layers are in.
   */
  collector?: ViewCollector;
  /** the image(s) already resolved by the caller (the analyzer resolves to find uncached layers): not fetched again */
  resolved?: ResolvedImage[];
}

export interface ViewCollector {
  /** stable name and version: part of the layer cache key, like a cataloger's */
  readonly name: string;
  readonly version: number;
  readonly needs: PathNeeds;
  collect(view: FileView): PolicyData;
}

/** What the policy gates read beyond packages and config. */
export interface PolicyData {
  files?: FileMeta[];
  contentMatches?: ContentMatch[];
  /** /etc/passwd as text */
  passwd?: string;
}

export interface LayerReport {
  index: number;
  digest: string;
  diffId?: string;
  mediaType: string;
  size: number;
  cached: boolean;
  entries: number;
  uncompressedBytes: number;
}

/** Something that did not stop the scan but makes its result less than complete. */
export interface ScanWarning {
  code: string;
  message: string;
  path?: string;
  layer?: string;
  cataloger?: string;
}

export interface ImageInventory {
  image: {
    reference: string;
    /** the names the source gave the image (an OCI layout's ref.name), when it gave any */
    tags?: string[];
    manifestDigest: string;
    indexDigest?: string;
    configDigest: string;
    platform: Platform;
    layers: LayerReport[];
    /** what the policy gates read from the image config (user, ports, history, ...) */
    config?: ImageConfigSummary;
    /** org.opencontainers.image.base.{name,digest}: from the manifest's annotations, else the config's labels (shared/base) */
    baseAnnotations?: Record<string, string>;
  };
  distro?: Distro;
  packages: Package[];
  warnings: ScanWarning[];
  /** set when the scan ran with a collector */
  policyData?: PolicyData;
}

/**
 * The analysis of one image reference: resolve the platform image(s), read each layer not
 * already in the cache (several at once, each streamed), squash, catalog. Pure core: the
 * source and the cache are ports, so the CLI, the tests and the Lambda run the same code.
 */
/** What shapes every layer's extract: the catalogers (and collector) with their needs and limits. */
export interface ScanPlan {
  limits: LayerLimits;
  list: readonly Cataloger[];
  collector: ViewCollector | undefined;
  needs: PathNeeds;
  wanted: (path: string) => boolean;
  /** files kept in case a symlinked directory leads a needed path to them (see candidateMatcher) */
  candidate: (path: string) => boolean;
  /** everything that shapes an extract, as a string: part of each layer's cache key */
  fingerprint: string;
  /** the plan as plain data for a layer worker; undefined when it cannot be sent (a probe the worker does not know) */
  portable: Pick<WorkerJob, 'needs' | 'probes' | 'limits'> | undefined;
}

export function scanPlan(opts: Pick<ScanOptions, 'limits' | 'catalogers' | 'collector'> = {}): ScanPlan {
  const limits: LayerLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const list = opts.catalogers ?? defaultCatalogers;
  const collector = opts.collector;
  // The collector's needs ride along as a cataloger that finds no packages: one merge, one cache key.
  const carrier: Cataloger[] = collector
    ? [{ name: collector.name, kind: 'binary', version: collector.version, needs: collector.needs, catalog: () => ({ packages: [], issues: [] }) }]
    : [];
  const needs = catalogNeeds([...list, ...carrier]);
  const wanted = pathMatcher(needs);
  const candidate = candidateMatcher(needs);
  // Functions drop out of JSON, so probes count by name and version.
  const fingerprint = JSON.stringify({
    catalogers: [...list, ...carrier].map((c) => `${c.name}@${c.version}`),
    needs: { ...needs, probes: needs.probes?.map((p) => `${p.name}@${p.version}/${p.maxBytes}`) },
    maxFileBytes: limits.maxFileBytes,
    // extracts also keep the files a symlinked directory may lead to; sparse tar entries are read
    extract: 2,
  });
  // A worker rebuilds the matchers from the needs and takes the probes from the default catalogers.
  const known = new Set(catalogNeeds().probes ?? []);
  const probes = needs.probes ?? [];
  const portable = probes.every((p) => known.has(p))
    ? { needs: { exact: needs.exact ?? [], globs: needs.globs ?? [], basenames: needs.basenames ?? [] }, probes: probes.map(probeId), limits }
    : undefined;
  return { limits, list, collector, needs, wanted, candidate, fingerprint, portable };
}

/** A short, stable id of a plan's fingerprint: an inventory made with another is out of date. */
export function analysisVersion(plan: ScanPlan): string {
  return layerCacheKey('analysis', plan.fingerprint).slice(0, 16);
}

/**
 * Reads one layer as the plan says (no cache): what a fanned-out layer job does. The extract
 * is what scanImage would have cached for this layer, so the assembling scan finds it there.
 */
export async function readLayer(
  source: ImageSource,
  plan: ScanPlan,
  layer: { descriptor: ResolvedImage['layers'][number]['descriptor']; diffId?: string },
  image: string,
  opts: { signal?: AbortSignal; onBytes?: (n: number) => void; budget?: ImageBudget; pool?: LayerWorkerPool } = {},
): Promise<LayerExtract> {
  // A layer goes to a worker when one is free as it starts; else it is walked here, beside the
  // workers. The room is taken before the blob is opened: from a registry the layers' answers come
  // in any order, and the layer that started first (the largest, see scanImage) keeps the worker.
  const reservation = opts.pool && plan.portable ? opts.pool.reserve() : undefined;
  let raw: Readable;
  try {
    raw = await source.openBlob(layer.descriptor, opts.signal);
  } catch (e) {
    reservation?.cancel();
    throw e;
  }
  if (opts.pool && plan.portable && reservation) {
    const job: WorkerJob = { ...plan.portable, descriptor: layer.descriptor, image };
    if (layer.diffId) job.diffId = layer.diffId;
    if (opts.budget) job.budget = opts.budget.shared;
    return opts.pool.walk(raw, job, { reservation, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onBytes ? { onBytes: opts.onBytes } : {}) });
  }
  // the walker (tar, zlib, zstd) is loaded with the first layer walked here: a scan served from the layer cache walks none
  const { walkLayer } = await import('./layers/walker.js');
  const extract = await walkLayer(raw, {
    descriptor: layer.descriptor,
    diffId: layer.diffId,
    wanted: plan.wanted,
    candidate: plan.candidate,
    probes: plan.needs.probes,
    limits: plan.limits,
    image,
    signal: opts.signal,
    onBytes: opts.onBytes,
    ...(opts.budget ? { budget: opts.budget } : {}),
  });
  debugLayer(layer.descriptor.digest, 'walked in the main thread');
  return extract;
}

export async function scanImage(source: ImageSource, image: string, opts: ScanOptions = {}): Promise<ImageInventory[]> {
  const plan = scanPlan(opts);
  // From a registry, a layer worker boots while the manifests and config are fetched (the first
  // pool takes it; it is ended unused when the image needs none): only where a scan of two
  // layers would have one at all (DRYDOCK_LAYER_WORKERS, the cores).
  const early = !opts.resolved && source.remote && plan.portable && workerCount(2, opts.concurrency ?? 2) > 0 ? await startEarlyWorker() : undefined;
  try {
    return await scanResolved(source, image, opts, plan, early);
  } finally {
    early?.end();
  }
}

async function startEarlyWorker(): Promise<EarlyWorker | undefined> {
  const script = await layerWorkerScript();
  return script ? new EarlyWorker(script) : undefined;
}

async function scanResolved(source: ImageSource, image: string, opts: ScanOptions, plan: ScanPlan, early: EarlyWorker | undefined): Promise<ImageInventory[]> {
  const { limits, list, collector } = plan;
  const resolved = opts.resolved ?? (await resolveImages(source, image, { platform: opts.platform, maxLayers: limits.maxLayers, signal: opts.signal }));
  // The first failing layer stops the others: their partial work would be thrown away.
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  const progress = opts.progress;
  const out: ImageInventory[] = [];
  for (const img of resolved) {
    // An image analysed before with the same plan and limits: its analysis is read whole
    // (one entry), no layer is decoded, squashed or catalogued again. Not with a collector (a
    // policy's view of the files is not kept), nor from a cache without analyses.
    const aKey = opts.cache?.getAnalysis && opts.cache.putAnalysis && !collector ? analysisKey(img, plan) : undefined;
    if (aKey) {
      const snap = snapshotOf(await opts.cache!.getAnalysis!(aKey, signal), img.layers.length);
      if (snap) {
        const reports = img.layers.map((layer, i): LayerReport => {
          const { descriptor } = layer;
          progress?.layerStart?.({ image, index: layer.index, digest: descriptor.digest, size: descriptor.size, cached: true });
          progress?.layerDone?.({ image, index: layer.index, digest: descriptor.digest });
          const report: LayerReport = { index: layer.index, digest: descriptor.digest, mediaType: descriptor.mediaType, size: descriptor.size, cached: true, ...snap.layers[i]! };
          if (layer.diffId) report.diffId = layer.diffId;
          return report;
        });
        out.push(inventory(img, reports, snap.distro, snap.packages, snap.warnings));
        continue;
      }
    }
    const warnings: ScanWarning[] = [];
    const reports: LayerReport[] = [];
    // the image's totals (bytes, entries, kept bytes, symlinks), shared by the layers read at once
    const budget = new ImageBudget(limits);
    const concurrency = opts.concurrency ?? 2;
    // worker threads for the layers read at once, as many as workerCount allows (by default one less than the cores, none on 2)
    const threads = plan.portable ? workerCount(img.layers.length, concurrency) : 0;
    const script = threads ? await layerWorkerScript() : undefined;
    const pool = script ? new LayerWorkerPool(threads, script, early) : undefined;
    if (threads && !script) debugLine(`no layer-worker.mjs beside this bundle: the ${img.layers.length} layers are walked in the main thread`);
    // largest layers first: the longest walks start at once (and the first one in a worker),
    // so the small ones fill in beside them instead of leaving one thread with the big one at the end
    const largestFirst = img.layers.map((_, i) => i).sort((a, b) => img.layers[b]!.descriptor.size - img.layers[a]!.descriptor.size || a - b);
    const extracts = await mapLimit(img.layers, concurrency, stop, largestFirst, async (layer) => {
      const { descriptor } = layer;
      const key = layerCacheKey(descriptor.digest, plan.fingerprint);
      const hit = await opts.cache?.get(key, signal);
      opts.progress?.layerStart?.({ image, index: layer.index, digest: descriptor.digest, size: descriptor.size, cached: Boolean(hit) });
      let extract: LayerExtract;
      if (hit) {
        extract = hit;
        budget.addExtract(hit, { image, layer: descriptor.digest });
      } else {
        extract = await readLayer(source, plan, layer, image, { signal, budget, onBytes: progress?.bytes ? (n) => progress.bytes!(n) : undefined, ...(pool ? { pool } : {}) });
        try {
          await opts.cache?.put(key, extract, signal);
        } catch (e) {
          warnings.push({ code: 'CACHE_ERROR', message: (e as Error).message, layer: descriptor.digest });
        }
      }
      if (layer.diffId) extract.diffId = layer.diffId;
      opts.progress?.layerDone?.({ image, index: layer.index, digest: descriptor.digest });
      const report: LayerReport = {
        index: layer.index,
        digest: descriptor.digest,
        mediaType: descriptor.mediaType,
        size: descriptor.size,
        cached: Boolean(hit),
        entries: extract.stats.entries,
        uncompressedBytes: extract.stats.uncompressedBytes,
      };
      if (layer.diffId) report.diffId = layer.diffId;
      reports[layer.index] = report;
      return extract;
    }).finally(() => pool?.close());
    const view = new SquashedView(extracts);
    await Promise.all(list.flatMap((c) => (c.prepare ? [c.prepare(view)] : [])));
    const { distro, packages, issues } = runCatalogers(view, list);
    attributeLayers(extracts, packages, list);
    for (const x of extracts) warnings.push(...x.issues);
    warnings.push(...view.issues, ...issues.map(catalogWarning));
    if (aKey) {
      // a cache write that failed is no part of the analysis
      const snapshot: AnalysisSnapshot = {
        v: ANALYSIS_SNAPSHOT_VERSION,
        layers: reports.map((r) => ({ entries: r.entries, uncompressedBytes: r.uncompressedBytes })),
        packages,
        warnings: warnings.filter((w) => w.code !== 'CACHE_ERROR'),
      };
      if (distro) snapshot.distro = distro;
      await opts.cache!.putAnalysis!(aKey, snapshot, signal).catch(() => undefined);
    }
    const inv = inventory(img, reports, distro, packages, warnings);
    if (collector) inv.policyData = collector.collect(view);
    out.push(inv);
  }
  return out;
}

/** Bump when what an analysis snapshot holds, or how scanImage makes it, changes. */
const ANALYSIS_SNAPSHOT_VERSION = 1;

/** What scanImage keeps of an image's analysis in the cache (LayerCache.putAnalysis): plain JSON. */
export interface AnalysisSnapshot {
  v: number;
  /** per layer, in the image's order: what its LayerReport says of it */
  layers: { entries: number; uncompressedBytes: number }[];
  distro?: Distro;
  packages: Package[];
  warnings: ScanWarning[];
}

/**
 * The cache key of one image's analysis: its layers (digests and diffIds, in order; every
 * package's layer comes from them), everything that shapes an extract (the plan's fingerprint:
 * catalogers and their versions, needs, probes) and every limit (a lower limit must fail or
 * warn again, not be answered from an analysis made under a higher one).
 */
export function analysisKey(img: Pick<ResolvedImage, 'layers'>, plan: Pick<ScanPlan, 'fingerprint' | 'limits'>): string {
  const layers = img.layers.map((l) => [l.descriptor.digest, l.diffId ?? null]);
  return layerCacheKey('image-analysis', JSON.stringify({ v: ANALYSIS_SNAPSHOT_VERSION, fingerprint: plan.fingerprint, limits: plan.limits, layers }));
}

/** The snapshot when `x` is one of the image's `layerCount` layers (else a miss: an entry of another shape is never believed). */
function snapshotOf(x: unknown, layerCount: number): AnalysisSnapshot | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const s = x as Partial<AnalysisSnapshot>;
  if (s.v !== ANALYSIS_SNAPSHOT_VERSION || !Array.isArray(s.packages) || !Array.isArray(s.warnings) || !Array.isArray(s.layers) || s.layers.length !== layerCount) return undefined;
  if (!s.layers.every((l) => typeof l === 'object' && l !== null && Number.isSafeInteger(l.entries) && Number.isSafeInteger(l.uncompressedBytes))) return undefined;
  if (!s.packages.every((p) => typeof p === 'object' && p !== null && typeof (p as Package).name === 'string' && typeof (p as Package).purl === 'string')) return undefined;
  if (s.distro !== undefined && (typeof s.distro !== 'object' || s.distro === null)) return undefined;
  return s as AnalysisSnapshot;
}

function catalogWarning(i: CatalogIssue): ScanWarning {
  const w: ScanWarning = { code: 'CATALOG_ERROR', message: i.message, path: i.path, cataloger: i.cataloger };
  if (i.layer) w.layer = i.layer;
  return w;
}

function inventory(img: ResolvedImage, layers: LayerReport[], distro: Distro | undefined, packages: Package[], warnings: ScanWarning[]): ImageInventory {
  const image: ImageInventory['image'] = {
    reference: img.reference,
    manifestDigest: img.manifestDigest,
    configDigest: img.configDigest,
    platform: img.platform,
    layers,
  };
  if (img.indexDigest) image.indexDigest = img.indexDigest;
  if (img.tags?.length) image.tags = img.tags;
  image.config = configSummary(img.config);
  const base = baseAnnotations(img);
  if (base) image.baseAnnotations = base;
  const inv: ImageInventory = { image, packages, warnings };
  if (distro) inv.distro = distro;
  return inv;
}

const BASE_KEYS = ['org.opencontainers.image.base.name', 'org.opencontainers.image.base.digest'] as const;

/** The base-image annotations (strings of at most 512 characters), from the manifest, else the config labels. */
function baseAnnotations(img: ResolvedImage): Record<string, string> | undefined {
  for (const from of [img.manifest.annotations, img.config.config?.Labels]) {
    const out: Record<string, string> = {};
    for (const k of BASE_KEYS) {
      const v = from?.[k];
      if (typeof v === 'string' && v.length <= 512) out[k] = v;
    }
    if (Object.keys(out).length) return out;
  }
  return undefined;
}

/** The image config as the dockerfile and metadata gates read it. */
export function configSummary(config: ImageConfig): ImageConfigSummary {
  const c = config.config ?? {};
  const out: ImageConfigSummary = {
    exposedPorts: Object.keys(c.ExposedPorts ?? {}).sort(),
    env: c.Env ?? [],
    labels: c.Labels ?? {},
    history: (config.history ?? []).map((h) => ({ createdBy: h.created_by ?? '', emptyLayer: Boolean(h.empty_layer) })),
  };
  if (c.User !== undefined) out.user = c.User;
  if (c.Entrypoint) out.entrypoint = c.Entrypoint;
  if (c.Cmd) out.cmd = c.Cmd;
  if (c.WorkingDir) out.workingDir = c.WorkingDir;
  if (config.created) out.created = config.created;
  return out;
}

/** Run `fn` over `items` in the given order with at most `limit` at once; results in input order; the first error aborts `stop`. */
async function mapLimit<T, R>(items: readonly T[], limit: number, stop: AbortController, order: readonly number[], fn: (item: T) => Promise<R>): Promise<R[]> {
  if (limit < 1) throw new DrydockError('CONFIG', `concurrency must be at least 1, got ${limit}`);
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  let first: unknown;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = order[next++]!;
      try {
        results[i] = await fn(items[i]!);
      } catch (e) {
        if (!failed) first = e;
        failed = true;
        stop.abort();
        throw e;
      }
    }
  };
  // Every worker settles before this returns (the first failure aborted the others): no layer
  // is still being read or cached once the scan has answered, and nothing is left unobserved.
  const settled = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  // the failure that stopped the others, not the aborts it caused
  if (settled.some((r) => r.status === 'rejected')) throw first;
  return results;
}
