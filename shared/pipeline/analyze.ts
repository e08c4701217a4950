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
import { notAnImage, resolveImages } from '../image/resolve.js';
import { formatPlatform, isAttestation } from '../image/platform.js';
import { layerCacheKey } from '../layers/cache-codec.js';
import { ObjectLayerCache } from '../layers/object-layer-cache.js';
import { lookupsFor } from '../match/index.js';
import { policyCollector } from '../policy/collector.js';
import type { PackageKey } from '../ports/advisory-store.js';
import { ConditionFailedError, type ImageRecord, type PackageIndexEntry, type PlatformAnalysis } from '../ports/stores.js';
import { renderCycloneDx } from '../report/cyclonedx.js';
import type { Descriptor, FetchedManifest, Platform, ResolvedImage } from '../image/types.js';
import { analysisVersion, readLayer, scanImage, scanPlan, type ImageInventory, type ScanPlan } from '../scan.js';
import { TOOL } from '../version.js';
import { OBJECT_KEYS, type PipelineDeps } from './deps.js';
import { checkOutgoing, imageReference, SIGNATURE_TRIGGER, type EvaluateJob, type ImageName, type LayerJob, type ScanJob } from './messages.js';
import { globMatch } from '../policy/engine.js';
import { signatureArtifactOf, type SignatureArtifact } from '../trust/artifact.js';

export type AnalysisOutcome =
  | { outcome: 'analyzed'; digest: string; packages: number; layersRead: number; layersCached: number }
  | { outcome: 'fanned-out'; digest: string; layerJobs: number }
  | { outcome: 'layer-done'; digest: string; done: number; pending: number }
  | { outcome: 'skipped'; digest?: string; why: string };

/**
 * One plan per set of limits (in practice one per process): the catalogers and the policy
 * collector, as the CLI runs them, within the configured budget (DRYDOCK_LIMIT_*).
 */
const plans = new Map<string, ScanPlan>();
export function pipelinePlan(config: Pick<PipelineDeps['config'], 'limits'> = { limits: {} }): ScanPlan {
  const key = JSON.stringify(config.limits);
  let plan = plans.get(key);
  if (!plan) plans.set(key, (plan = scanPlan({ collector: policyCollector(), limits: config.limits })));
  return plan;
}

export function repositoryWanted(repository: string, globs: readonly string[]): boolean {
  return globs.length === 0 || globs.some((g) => globMatch(g, repository));
}

/** Where the image is read from: ECR hosts are redirected in local runs. */
function sourceName(deps: PipelineDeps, image: ImageName): ImageName {
  return deps.config.registryOverride ? { ...image, registry: deps.config.registryOverride } : image;
}

/** Most platform images analysed under one index (limit maxPlatforms): each is a full analysis. */
export const MAX_PLATFORMS = 16;

/**
 * Most layer ids (digest + diffId, ~150 bytes each) one image record holds, over all its platforms
 * (the primary first): the record stays far below DynamoDB's 400 KB item limit. A platform image
 * over the remaining budget records none and is never a base candidate.
 */
export const MAX_RECORDED_LAYER_IDS = 256;

/** Why an untagged push is not analysed on its own (DESIGN.md §1 "Push events in practice"). */
export const UNTAGGED_REASON = 'untagged: analysed when a tag names it';

/**
 * Which platform images of a pushed digest are analysed: all of an index (attestations and other
 * non-image entries left out, recorded in `skipped`), the one image of a single manifest whatever
 * its platform. DRYDOCK_PLATFORM only orders them: its image comes first (the record's primary).
 */
async function resolveForAnalysis(
  deps: PipelineDeps,
  source: Awaited<ReturnType<PipelineDeps['openImage']>>,
  reference: string,
  root: FetchedManifest | undefined,
  signal: AbortSignal | undefined,
): Promise<ResolvedImage[]> {
  const plan = pipelinePlan(deps.config);
  // the limit before any platform manifest is fetched (and again after, for nested indexes)
  const listed = root ? imageEntries(root) : undefined;
  if (listed !== undefined && listed > MAX_PLATFORMS) throw tooManyPlatforms(listed, reference);
  const skipped: string[] = [];
  const images = await resolveImages(source, reference, {
    platform: 'all',
    maxLayers: plan.limits.maxLayers,
    onSkip: (d, why) => skipped.push(`${d.digest} (${why})`),
    ...(root ? { root } : {}),
    ...(signal ? { signal } : {}),
  });
  if (skipped.length) deps.log.info('index entries that are not images: left out', { image: reference, skipped });
  if (images.length > MAX_PLATFORMS) throw tooManyPlatforms(images.length, reference);
  return orderPlatforms(images, deps.config.platform);
}

function tooManyPlatforms(n: number, reference: string): DrydockError {
  return new DrydockError('LIMIT_EXCEEDED', `the index lists ${n} platform images, more than the limit of ${MAX_PLATFORMS} (limit maxPlatforms)`, { kind: 'permanent', context: { image: reference } });
}

/** The image entries an index document lists (attestations and artifacts not counted); undefined for a manifest. */
function imageEntries(doc: FetchedManifest): number | undefined {
  try {
    const json = JSON.parse(doc.bytes.toString('utf8')) as { manifests?: Descriptor[] };
    if (!Array.isArray(json.manifests)) return undefined;
    return json.manifests.filter((d) => d && typeof d === 'object' && !isAttestation(d) && !d.artifactType).length;
  } catch {
    return undefined;
  }
}

function orderPlatforms(images: ResolvedImage[], preferred: Platform | undefined): ResolvedImage[] {
  if (!preferred) return images;
  const i = images.findIndex((r) => r.platform.os === preferred.os && r.platform.architecture === preferred.architecture);
  return i <= 0 ? images : [images[i]!, ...images.slice(0, i), ...images.slice(i + 1)];
}

export async function analyzeScanJob(job: ScanJob, deps: PipelineDeps, signal?: AbortSignal): Promise<AnalysisOutcome> {
  const { config, log } = deps;
  if (!repositoryWanted(job.image.repository, config.repositories)) {
    log.info('repository not configured for analysis: skipped', { repository: job.image.repository });
    return { outcome: 'skipped', why: `repository ${job.image.repository} is not in DRYDOCK_REPOSITORIES` };
  }
  const plan = pipelinePlan(deps.config);
  const version = analysisVersion(plan);
  const started = Date.now();
  const source = await deps.openImage(sourceName(deps, job.image));
  try {
    // A job by tag learns its digest from the registry first: the record is keyed by digest.
    let root = job.image.digest ? undefined : await source.rootManifest(signal);
    const digest = job.image.digest ?? root!.digest;
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
      if (claim.why === 'done') await afterDone(deps, digest, claim.record, job.image.tag);
      log.info(`image not analysed again: ${claim.why}`, { digest, status: claim.record.status, claimedBy: claim.record.claimedBy });
      return { outcome: 'skipped', digest, why: claim.why };
    }
    // Not every push is an image: artifacts and attestations are recorded as skipped, never failed;
    // an untagged push is a platform manifest of an index (analysed under the index) or a push by digest.
    root ??= await source.rootManifest(signal);
    // A pushed signature (cosign's "sha256-<hex>.sig" tag, the referrers tag "sha256-<hex>", an
    // untagged referrer with a subject), told from its tag and the manifest fetched here anyway:
    // never scanned; its subject, when analysed, is evaluated again (issue 19, item 2)
    const artifact = job.reason === 'push' ? signatureArtifactOf({ ...(job.image.tag ? { tag: job.image.tag } : {}), manifest: root.bytes, mediaType: root.mediaType }) : undefined;
    if (artifact && (await reevaluateSubject(deps, job, artifact))) {
      return await recordSkip(deps, digest, job.jobId, `signature artifact (${artifact.kind}) of ${artifact.subjectDigest}: its evaluation queued`);
    }
    const skip = notAnImage(root) ?? (job.reason === 'push' && !job.image.tag ? UNTAGGED_REASON : undefined);
    if (skip) return await recordSkip(deps, digest, job.jobId, skip);

    const reference = imageReference({ ...job.image, digest });
    const cache = new ObjectLayerCache(deps.objects, OBJECT_KEYS.layerPrefix);
    const images = await resolveForAnalysis(deps, source, reference, root, signal);
    if (!images.length) return await recordSkip(deps, digest, job.jobId, 'not an image: the index lists no image manifests');
    // one cache key per distinct layer: platforms (and images) share layers
    const keyed = new Map<string, ResolvedImage['layers'][number] & { cacheKey: string }>();
    for (const img of images) for (const l of img.layers) {
      const cacheKey = layerCacheKey(l.descriptor.digest, plan.fingerprint);
      if (!keyed.has(cacheKey)) keyed.set(cacheKey, { ...l, cacheKey });
    }
    const missing: Array<ResolvedImage['layers'][number] & { cacheKey: string }> = [];
    for (const l of keyed.values()) if (!(await cache.has(l.cacheKey))) missing.push(l);

    if (config.fanoutMinLayers > 0 && missing.length >= config.fanoutMinLayers) {
      const now = deps.now().toISOString();
      await deps.images.update(
        digest,
        { layersPending: missing.length, layersDone: [], manifestDigest: images[0]!.manifestDigest, layers: [...new Set(images.flatMap((i) => i.layers.map((l) => l.descriptor.digest)))], updatedAt: now },
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
      log.info('analysis fanned out into layer jobs', { digest, layerJobs: jobs.length, layers: keyed.size, platforms: images.length });
      return { outcome: 'fanned-out', digest, layerJobs: jobs.length };
    }

    const invs = await scanWithCache(deps, source, reference, cache, signal, images);
    await finishAnalysis(deps, claim.record, job.jobId, invs, version);
    deps.metrics.add('AnalysisDuration', 'Milliseconds', Date.now() - started);
    return { outcome: 'analyzed', digest, packages: invs.reduce((n, inv) => n + inv.packages.length, 0), layersRead: missing.length, layersCached: keyed.size - missing.length };
  } finally {
    await source.close?.();
  }
}

/**
 * A pushed signature (or the referrers index listing signatures): its subject is evaluated again,
 * so the signature status it changes reaches the result. False when the subject is not analysed
 * (its own evaluation will read the signature; the artifact is then skipped as any non-image).
 * One evaluation per push event: the trigger carries the scan job's id.
 */
async function reevaluateSubject(deps: PipelineDeps, job: ScanJob, artifact: SignatureArtifact): Promise<boolean> {
  const subject = artifact.subjectDigest;
  const record = await deps.images.get(subject);
  const pushed = job.image.tag ?? job.image.digest ?? 'untagged';
  if (!record || (record.status !== 'analyzed' && record.status !== 'evaluated')) {
    deps.log.info('signature pushed for an image not analysed: nothing to re-evaluate', { subject, pushed, kind: artifact.kind, status: record?.status });
    return false;
  }
  const trigger = `${SIGNATURE_TRIGGER}${pushed}@${job.jobId}`.slice(0, 500);
  const evaluate = checkOutgoing<EvaluateJob>({
    schema: 'drydock.evaluate-job/1',
    jobId: `evaluate:${subject}:${trigger}`.slice(0, 200),
    digest: subject,
    reason: 'signature',
    trigger,
    requestedAt: deps.now().toISOString(),
  });
  await deps.evaluateQueue.send(evaluate);
  deps.metrics.add('SignaturePushes', 'Count', 1);
  deps.log.info('signature pushed: its subject is evaluated again', { subject, pushed, kind: artifact.kind });
  return true;
}

/** The claimed record becomes 'skipped' with its reason: never published, never an error. */
async function recordSkip(deps: PipelineDeps, digest: string, jobId: string, why: string): Promise<AnalysisOutcome> {
  const now = deps.now().toISOString();
  await deps.images.update(
    digest,
    { status: 'skipped', skipReason: why, updatedAt: now, claimedBy: undefined, claimedAt: undefined, error: undefined, attempts: undefined },
    { status: ['analyzing'], claimedBy: jobId },
  );
  deps.metrics.add('PushesSkipped', 'Count', 1);
  deps.log.info('push recorded as skipped', { digest, why });
  return { outcome: 'skipped', digest, why };
}

/**
 * A push of a digest analysed already: if its evaluation was lost (a crash between the two), ask
 * again (same trigger, so the evaluator's idempotency keeps it to one); if it was evaluated but
 * the pushed tag was not covered (a retag), evaluate for the new tag so it is published.
 */
async function afterDone(deps: PipelineDeps, digest: string, record: ImageRecord, tag: string | undefined): Promise<void> {
  if (record.status === 'analyzed') return sendEvaluate(deps, digest, record);
  if (record.status !== 'evaluated' || !tag || (record.evaluatedTags ?? []).includes(tag)) return;
  const trigger = `tag:${tag}@${record.analyzedAt ?? 'unknown'}`;
  const job = checkOutgoing<EvaluateJob>({
    schema: 'drydock.evaluate-job/1',
    jobId: `evaluate:${digest}:retag:${trigger}`,
    digest,
    reason: 'retag',
    trigger,
    requestedAt: deps.now().toISOString(),
  });
  await deps.evaluateQueue.send(job);
  deps.log.info('digest pushed under a new tag: evaluation queued for it', { digest, tag });
}

export async function analyzeLayerJob(job: LayerJob, deps: PipelineDeps, signal?: AbortSignal): Promise<AnalysisOutcome> {
  const { log } = deps;
  const record = await deps.images.get(job.digest);
  if (!record || (record.status !== 'analyzing' && record.status !== 'assembling')) {
    log.info('layer job for an image no longer being analysed: skipped', { digest: job.digest, status: record?.status });
    return { outcome: 'skipped', digest: job.digest, why: `image is ${record?.status ?? 'unknown'}` };
  }
  const plan = pipelinePlan(deps.config);
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
    const reference = imageReference({ ...job.image, digest: job.digest });
    const invs = await scanWithCache(deps, source, reference, cache, signal, await resolveForAnalysis(deps, source, reference, undefined, signal));
    await finishAnalysis(deps, current, job.jobId, invs, analysisVersion(plan));
    const layers = invs.flatMap((inv) => inv.image.layers);
    return { outcome: 'analyzed', digest: job.digest, packages: invs.reduce((n, inv) => n + inv.packages.length, 0), layersRead: layers.filter((l) => !l.cached).length, layersCached: layers.filter((l) => l.cached).length };
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
  resolved: ResolvedImage[],
): Promise<ImageInventory[]> {
  const plan = pipelinePlan(deps.config);
  let bytes = 0;
  const invs = await scanImage(source, reference, {
    platform: 'all',
    cache,
    collector: plan.collector!,
    concurrency: deps.config.concurrency,
    progress: { bytes: (n) => (bytes += n) },
    ...(signal ? { signal } : {}),
    resolved,
  });
  if (!invs.length) throw new DrydockError('PLATFORM_NOT_FOUND', 'the image resolved to no platform image', { context: { image: reference } });
  const layers = invs.flatMap((inv) => inv.image.layers);
  const cached = layers.filter((l) => l.cached).length;
  deps.metrics.add('LayersRead', 'Count', layers.length - cached);
  deps.metrics.add('LayerCacheHits', 'Count', cached);
  deps.metrics.add('BytesRead', 'Bytes', bytes);
  return invs;
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

/** "linux/arm64/v8" */
export function platformString(p: Platform): string {
  return formatPlatform(p);
}

function distroString(inv: ImageInventory): string | undefined {
  return inv.distro ? `${inv.distro.id}${inv.distro.versionId ? ` ${inv.distro.versionId}` : ''}` : undefined;
}

/** The inventory keys of a previous analysis (one per platform of an index). */
function previousInventoryKeys(rec: ImageRecord): string[] {
  if (rec.platforms?.length) return rec.platforms.map((p) => p.inventoryKey);
  return rec.inventoryKey ? [rec.inventoryKey] : [];
}

/** Where a platform image's inventory and SBOM go: the image's own keys, or beside them per platform of an index. */
function platformKeys(digest: string, inv: ImageInventory, many: boolean): { inventoryKey: string; sbomKey: string } {
  if (!many) return { inventoryKey: OBJECT_KEYS.inventory(digest), sbomKey: OBJECT_KEYS.sbom(digest) };
  const child = inv.image.manifestDigest.replace(/^sha256:/, '');
  return {
    inventoryKey: OBJECT_KEYS.inventory(digest).replace(/\.json\.gz$/, `/${child}.json.gz`),
    sbomKey: OBJECT_KEYS.sbom(digest).replace(/\.cdx\.json$/, `/${child}.cdx.json`),
  };
}

/**
 * Inventories and SBOMs to the bucket (one per platform image), the package index (the union of
 * the platforms' keys, under the pushed digest), the record, then the evaluate job.
 * `before`: the record as this job claimed it.
 */
async function finishAnalysis(deps: PipelineDeps, before: ImageRecord, jobId: string, invs: ImageInventory[], version: string): Promise<void> {
  const { digest, repository } = before;
  // Keys of a previous analysis of this digest (older catalogers) that the new one lacks are removed.
  let previousKeys: PackageKey[] | undefined = [];
  for (const key of previousInventoryKeys(before)) {
    const old = await deps.objects.get(key);
    if (!old || !previousKeys) continue;
    try {
      previousKeys.push(...packageIndexEntries(decodeInventory(old, key), digest, repository).map((e) => e.key));
    } catch {
      previousKeys = undefined;
    }
  }
  const fromIndex = invs.some((inv) => inv.image.indexDigest);
  const many = invs.length > 1;
  const platforms: PlatformAnalysis[] = [];
  const merged = new Map<string, PackageIndexEntry>();
  for (const inv of invs) {
    const { inventoryKey, sbomKey } = platformKeys(digest, inv, many);
    await deps.objects.put(inventoryKey, encodeInventory(inv), { contentType: 'application/json', contentEncoding: 'gzip' });
    await deps.objects.put(sbomKey, renderCycloneDx(inv, TOOL), { contentType: 'application/vnd.cyclonedx+json' });
    for (const e of packageIndexEntries(inv, digest, repository)) {
      const k = `${e.key.ecosystem}|${e.key.name}`;
      const seen = merged.get(k);
      if (seen) seen.versions = [...new Set([...seen.versions, ...e.versions])];
      else merged.set(k, e);
    }
    const distro = distroString(inv);
    platforms.push({ platform: platformString(inv.image.platform), manifestDigest: inv.image.manifestDigest, inventoryKey, sbomKey, ...(distro ? { distro } : {}), packageCount: inv.packages.length });
  }
  // the layers in order with their diffIds: what a trusted base candidate is compared by (shared/base)
  let layerBudget = MAX_RECORDED_LAYER_IDS;
  const layerIdsOf = (inv: ImageInventory) => {
    if (inv.image.layers.length > layerBudget) return undefined;
    layerBudget -= inv.image.layers.length;
    return inv.image.layers.map((l) => (l.diffId ? { digest: l.digest, diffId: l.diffId } : { digest: l.digest }));
  };
  const primaryLayerIds = layerIdsOf(invs[0]!);
  for (let i = 1; i < invs.length; i++) {
    const ids = layerIdsOf(invs[i]!);
    if (ids) platforms[i]!.layerIds = ids;
  }
  const entries = [...merged.values()];
  await deps.packageIndex.replaceForImage(digest, entries, previousKeys);
  const now = deps.now().toISOString();
  const primary = platforms[0]!;
  const distros = [...new Set(platforms.map((p) => p.distro).filter((d): d is string => Boolean(d)))];
  const record = await deps.images.update(
    digest,
    {
      status: 'analyzed',
      manifestDigest: primary.manifestDigest,
      platform: platforms.map((p) => p.platform).join(', '),
      distro: distros.length ? distros.join(', ') : undefined,
      layers: [...new Set(invs.flatMap((inv) => inv.image.layers.map((l) => l.digest)))],
      layerIds: primaryLayerIds,
      packageCount: platforms.reduce((n, p) => n + p.packageCount, 0),
      packageKeyCount: entries.length,
      inventoryKey: primary.inventoryKey,
      sbomKey: primary.sbomKey,
      platforms: fromIndex ? platforms : undefined,
      analysisVersion: version,
      analyzedAt: now,
      updatedAt: now,
      error: undefined,
      attempts: undefined,
      skipReason: undefined,
      evaluatedTags: undefined,
      claimedBy: undefined,
      claimedAt: undefined,
      layersDone: undefined,
      layersPending: undefined,
    },
    { status: ['analyzing', 'assembling'], claimedBy: jobId },
  );
  const packages = invs.reduce((n, inv) => n + inv.packages.length, 0);
  deps.metrics.add('ImagesAnalyzed', 'Count', 1);
  deps.metrics.add('Packages', 'Count', packages);
  deps.log.info('image analysed', { digest, platforms: platforms.map((p) => p.platform), packages, packageKeys: entries.length, warnings: invs.reduce((n, inv) => n + inv.warnings.length, 0), distro: record.distro });
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
