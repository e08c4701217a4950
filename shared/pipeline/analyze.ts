/**
 * The analyzer's core (DESIGN.md §1): from a scan job to an inventory in the stores and an
 * evaluate job on the queue. Knows nothing of Lambda: the handler gives it ports and a signal
 * that fires before the function's deadline.
 *
 * Exactly-once in effect over at-least-once delivery: the image record is claimed with one
 * conditional write (a duplicate push or a redelivered message finds it claimed or done), and
 * every later write is conditional on still holding the claim. Large images fan out: one layer
 * job per uncached layer through the scan queue; each finished layer is added to a set on the
 * image record (adding twice counts once), and the job that completes the set assembles the
 * image from the layer cache. Assembly never depends on the count being exact: a layer missing
 * from the cache is simply read by the assembling job.
 */
import { gzipSync, gunzipSync } from 'node:zlib';
import { DrydockError } from '../errors.js';
import { resolveImages } from '../image/resolve.js';
import { layerCacheKey } from '../layers/cache-codec.js';
import { ObjectLayerCache } from '../layers/object-layer-cache.js';
import { lookupsFor } from '../match/index.js';
import { policyCollector } from '../policy/collector.js';
import type { PackageKey } from '../ports/advisory-store.js';
import { ConditionFailedError, type ImageRecord, type PackageIndexEntry } from '../ports/stores.js';
import { renderCycloneDx } from '../report/cyclonedx.js';
import type { ResolvedImage } from '../image/types.js';
import { analysisVersion, readLayer, scanImage, scanPlan, type ImageInventory, type ScanPlan } from '../scan.js';
import { TOOL } from '../version.js';
import { OBJECT_KEYS, type PipelineDeps } from './deps.js';
import { checkOutgoing, imageReference, type EvaluateJob, type ImageName, type LayerJob, type ScanJob } from './messages.js';
import { globMatch } from '../policy/engine.js';

export type AnalysisOutcome =
  | { outcome: 'analyzed'; digest: string; packages: number; layersRead: number; layersCached: number }
  | { outcome: 'fanned-out'; digest: string; layerJobs: number }
  | { outcome: 'layer-done'; digest: string; done: number; pending: number }
  | { outcome: 'skipped'; digest?: string; why: string };

/** One plan for every job of a process: the catalogers and the policy collector, as the CLI runs them. */
let defaultPlan: ScanPlan | undefined;
export function pipelinePlan(): ScanPlan {
  defaultPlan ??= scanPlan({ collector: policyCollector() });
  return defaultPlan;
}

export function repositoryWanted(repository: string, globs: readonly string[]): boolean {
  return globs.length === 0 || globs.some((g) => globMatch(g, repository));
}

/** Where the image is read from: ECR hosts are redirected in local runs. */
function sourceName(deps: PipelineDeps, image: ImageName): ImageName {
  return deps.config.registryOverride ? { ...image, registry: deps.config.registryOverride } : image;
}

export async function analyzeScanJob(job: ScanJob, deps: PipelineDeps, signal?: AbortSignal): Promise<AnalysisOutcome> {
  const { config, log } = deps;
  if (!repositoryWanted(job.image.repository, config.repositories)) {
    log.info('repository not configured for analysis: skipped', { repository: job.image.repository });
    return { outcome: 'skipped', why: `repository ${job.image.repository} is not in DRYDOCK_REPOSITORIES` };
  }
  const plan = pipelinePlan();
  const version = analysisVersion(plan);
  const started = Date.now();
  const source = await deps.openImage(sourceName(deps, job.image));
  try {
    // A job by tag learns its digest from the registry first: the record is keyed by digest.
    const digest = job.image.digest ?? (await source.rootManifest(signal)).digest;
    const claim = await deps.images.claim({
      digest,
      registry: job.image.registry,
      repository: job.image.repository,
      ...(job.image.tag ? { tag: job.image.tag } : {}),
      jobId: job.jobId,
      analysisVersion: version,
      now: deps.now(),
      staleAfterMs: config.staleClaimMs,
    });
    if (!claim.claimed) {
      // Analysed before: if its evaluation was lost (a crash between the two), ask again — the
      // evaluate job's trigger is the same, so the evaluator's idempotency keeps it to one.
      if (claim.why === 'done' && claim.record.status === 'analyzed') await sendEvaluate(deps, digest, claim.record);
      log.info(`image not analysed again: ${claim.why}`, { digest, status: claim.record.status, claimedBy: claim.record.claimedBy });
      return { outcome: 'skipped', digest, why: claim.why };
    }
    const reference = imageReference({ ...job.image, digest });
    const cache = new ObjectLayerCache(deps.objects, OBJECT_KEYS.layerPrefix);
    const [img] = await resolveImages(source, reference, { platform: config.platform, maxLayers: plan.limits.maxLayers, ...(signal ? { signal } : {}) });
    if (!img) throw new DrydockError('PLATFORM_NOT_FOUND', `no ${config.platform.os}/${config.platform.architecture} image`, { context: { image: reference } });
    const keyed = img.layers.map((l) => ({ ...l, cacheKey: layerCacheKey(l.descriptor.digest, plan.fingerprint) }));
    const missing: typeof keyed = [];
    for (const l of keyed) if (!(await cache.has(l.cacheKey))) missing.push(l);

    if (config.fanoutMinLayers > 0 && missing.length >= config.fanoutMinLayers) {
      const now = deps.now().toISOString();
      await deps.images.update(
        digest,
        { layersPending: missing.length, layersDone: [], manifestDigest: img.manifestDigest, layers: img.layers.map((l) => l.descriptor.digest), updatedAt: now },
        { status: ['analyzing'], claimedBy: job.jobId },
      );
      const jobs: LayerJob[] = missing.map((l) => checkOutgoing<LayerJob>({
        schema: 'drydock.layer-job/1',
        jobId: `layer:${digest}:${l.cacheKey}`,
        digest,
        image: { ...job.image, digest },
        layer: { digest: l.descriptor.digest, size: l.descriptor.size, mediaType: l.descriptor.mediaType, index: l.index, ...(l.diffId ? { diffId: l.diffId } : {}) },
        cacheKey: l.cacheKey,
        requestedAt: now,
      }));
      await deps.scanQueue.sendBatch(jobs);
      deps.metrics.add('LayerJobsSent', 'Count', jobs.length);
      log.info('analysis fanned out into layer jobs', { digest, layerJobs: jobs.length, layers: img.layers.length });
      return { outcome: 'fanned-out', digest, layerJobs: jobs.length };
    }

    const inv = await scanWithCache(deps, source, reference, cache, signal, [img]);
    await finishAnalysis(deps, claim.record, job.jobId, inv, version);
    deps.metrics.add('AnalysisDuration', 'Milliseconds', Date.now() - started);
    return { outcome: 'analyzed', digest, packages: inv.packages.length, layersRead: missing.length, layersCached: keyed.length - missing.length };
  } finally {
    await source.close?.();
  }
}

export async function analyzeLayerJob(job: LayerJob, deps: PipelineDeps, signal?: AbortSignal): Promise<AnalysisOutcome> {
  const { log } = deps;
  const record = await deps.images.get(job.digest);
  if (!record || (record.status !== 'analyzing' && record.status !== 'assembling')) {
    log.info('layer job for an image no longer being analysed: skipped', { digest: job.digest, status: record?.status });
    return { outcome: 'skipped', digest: job.digest, why: `image is ${record?.status ?? 'unknown'}` };
  }
  const plan = pipelinePlan();
  const cache = new ObjectLayerCache(deps.objects, OBJECT_KEYS.layerPrefix);
  const reference = imageReference(job.image);
  if (!(await cache.has(job.cacheKey))) {
    const source = await deps.openImage(sourceName(deps, job.image));
    try {
      const descriptor = { digest: job.layer.digest, size: job.layer.size, mediaType: job.layer.mediaType };
      let bytes = 0;
      const extract = await readLayer(source, plan, { descriptor, ...(job.layer.diffId ? { diffId: job.layer.diffId } : {}) }, reference, { ...(signal ? { signal } : {}), onBytes: (n) => (bytes += n) });
      await cache.put(job.cacheKey, extract);
      deps.metrics.add('LayersRead', 'Count', 1);
      deps.metrics.add('BytesRead', 'Bytes', bytes);
    } finally {
      await source.close?.();
    }
  } else {
    deps.metrics.add('LayerCacheHits', 'Count', 1);
  }
  const { done, pending, status } = await deps.images.addLayerDone(job.digest, job.cacheKey, deps.now());
  if (done < pending) return { outcome: 'layer-done', digest: job.digest, done, pending };

  // The set is complete: one job assembles. A redelivery of the assembler's own job resumes; a
  // stale assembly (its job died) is taken over.
  const current = await deps.images.get(job.digest);
  if (!current) return { outcome: 'skipped', digest: job.digest, why: 'image record vanished' };
  if (current.status === 'assembling' && current.claimedBy !== job.jobId) {
    const age = Date.now() - Date.parse(current.claimedAt ?? current.updatedAt);
    if (age < deps.config.staleClaimMs) return { outcome: 'layer-done', digest: job.digest, done, pending };
  }
  if (current.status !== 'analyzing' && current.status !== 'assembling') return { outcome: 'skipped', digest: job.digest, why: `image is ${current.status}` };
  if (!(current.status === 'assembling' && current.claimedBy === job.jobId)) {
    try {
      await deps.images.update(
        job.digest,
        { status: 'assembling', claimedBy: job.jobId, claimedAt: deps.now().toISOString(), updatedAt: deps.now().toISOString() },
        { status: [current.status], ...(current.claimedBy ? { claimedBy: current.claimedBy } : {}) },
      );
    } catch (e) {
      if (e instanceof ConditionFailedError) return { outcome: 'layer-done', digest: job.digest, done, pending };
      throw e;
    }
  }
  log.info('last layer in: assembling the image', { digest: job.digest, layers: pending, statusBefore: status });
  const source = await deps.openImage(sourceName(deps, job.image));
  try {
    const inv = await scanWithCache(deps, source, imageReference({ ...job.image, digest: job.digest }), cache, signal);
    await finishAnalysis(deps, current, job.jobId, inv, analysisVersion(plan));
    return { outcome: 'analyzed', digest: job.digest, packages: inv.packages.length, layersRead: inv.image.layers.filter((l) => !l.cached).length, layersCached: inv.image.layers.filter((l) => l.cached).length };
  } finally {
    await source.close?.();
  }
}

async function scanWithCache(
  deps: PipelineDeps,
  source: Awaited<ReturnType<PipelineDeps['openImage']>>,
  reference: string,
  cache: ObjectLayerCache,
  signal: AbortSignal | undefined,
  resolved?: ResolvedImage[],
): Promise<ImageInventory> {
  const plan = pipelinePlan();
  let bytes = 0;
  const [inv] = await scanImage(source, reference, {
    platform: deps.config.platform,
    cache,
    collector: plan.collector!,
    concurrency: deps.config.concurrency,
    progress: { bytes: (n) => (bytes += n) },
    ...(signal ? { signal } : {}),
    ...(resolved ? { resolved } : {}),
  });
  if (!inv) throw new DrydockError('PLATFORM_NOT_FOUND', 'the image resolved to no platform image', { context: { image: reference } });
  const cached = inv.image.layers.filter((l) => l.cached).length;
  deps.metrics.add('LayersRead', 'Count', inv.image.layers.length - cached);
  deps.metrics.add('LayerCacheHits', 'Count', cached);
  deps.metrics.add('BytesRead', 'Bytes', bytes);
  return inv;
}

/** The advisory keys an inventory is matched by, with the installed versions behind each. */
export function packageIndexEntries(inv: ImageInventory, digest: string, repository: string): PackageIndexEntry[] {
  const byKey = new Map<string, PackageIndexEntry>();
  for (const pkg of inv.packages) {
    // The matcher judges OS-owned language packages through their owner only: index what it looks up.
    if (pkg.ownedBy && !['deb', 'apk', 'rpm'].includes(pkg.type)) continue;
    for (const l of lookupsFor(pkg, inv.distro).lookups) {
      const k = `${l.key.ecosystem}|${l.key.name}`;
      let e = byKey.get(k);
      if (!e) byKey.set(k, (e = { key: l.key, digest, repository, versions: [] }));
      if (!e.versions.includes(l.version)) e.versions.push(l.version);
    }
  }
  return [...byKey.values()];
}

export function encodeInventory(inv: ImageInventory): Buffer {
  return gzipSync(JSON.stringify({ format: 'drydock.inventory/1', ...inv }));
}

export function decodeInventory(bytes: Buffer, where: string): ImageInventory {
  try {
    const doc = JSON.parse(gunzipSync(bytes).toString('utf8')) as ImageInventory & { format?: string };
    if (doc.format !== 'drydock.inventory/1' || !Array.isArray(doc.packages)) throw new Error(`not a drydock.inventory/1 document`);
    return doc;
  } catch (e) {
    throw new DrydockError('PARSE_ERROR', `the stored inventory ${where} cannot be read: ${(e as Error).message}`, { kind: 'permanent', cause: e });
  }
}

/** Inventory and SBOM to the bucket, the package index, the record, then the evaluate job. `before`: the record as this job claimed it. */
async function finishAnalysis(deps: PipelineDeps, before: ImageRecord, jobId: string, inv: ImageInventory, version: string): Promise<void> {
  const { digest, repository } = before;
  // Keys of a previous analysis of this digest (older catalogers) that the new one lacks are removed.
  let previousKeys: PackageKey[] | undefined;
  if (before.inventoryKey) {
    const old = await deps.objects.get(before.inventoryKey);
    if (old) {
      try {
        previousKeys = packageIndexEntries(decodeInventory(old, before.inventoryKey), digest, repository).map((e) => e.key);
      } catch {
        previousKeys = undefined;
      }
    }
  }
  const inventoryKey = OBJECT_KEYS.inventory(digest);
  const sbomKey = OBJECT_KEYS.sbom(digest);
  await deps.objects.put(inventoryKey, encodeInventory(inv), { contentType: 'application/json', contentEncoding: 'gzip' });
  await deps.objects.put(sbomKey, renderCycloneDx(inv, TOOL), { contentType: 'application/vnd.cyclonedx+json' });
  const entries = packageIndexEntries(inv, digest, repository);
  await deps.packageIndex.replaceForImage(digest, entries, previousKeys);
  const now = deps.now().toISOString();
  const distro = inv.distro ? `${inv.distro.id}${inv.distro.versionId ? ` ${inv.distro.versionId}` : ''}` : undefined;
  const record = await deps.images.update(
    digest,
    {
      status: 'analyzed',
      manifestDigest: inv.image.manifestDigest,
      platform: `${inv.image.platform.os}/${inv.image.platform.architecture}${inv.image.platform.variant ? `/${inv.image.platform.variant}` : ''}`,
      ...(distro ? { distro } : {}),
      layers: inv.image.layers.map((l) => l.digest),
      packageCount: inv.packages.length,
      packageKeyCount: entries.length,
      inventoryKey,
      sbomKey,
      analysisVersion: version,
      analyzedAt: now,
      updatedAt: now,
      error: undefined,
      attempts: undefined,
      claimedBy: undefined,
      claimedAt: undefined,
      layersDone: undefined,
      layersPending: undefined,
    },
    { status: ['analyzing', 'assembling'], claimedBy: jobId },
  );
  deps.metrics.add('ImagesAnalyzed', 'Count', 1);
  deps.metrics.add('Packages', 'Count', inv.packages.length);
  deps.log.info('image analysed', { digest, packages: inv.packages.length, packageKeys: entries.length, warnings: inv.warnings.length, distro });
  await sendEvaluate(deps, digest, record);
}

/** The evaluate job after an analysis; its trigger names the analysis, so resending it is harmless. */
async function sendEvaluate(deps: PipelineDeps, digest: string, record: ImageRecord): Promise<void> {
  const trigger = `${record.analysisVersion ?? 'unknown'}@${record.analyzedAt ?? 'unknown'}`;
  const job = checkOutgoing<EvaluateJob>({
    schema: 'drydock.evaluate-job/1',
    jobId: `evaluate:${digest}:analysis:${trigger}`,
    digest,
    reason: 'analysis',
    trigger,
    requestedAt: deps.now().toISOString(),
  });
  await deps.evaluateQueue.send(job);
}
