/**
 * Base images in the pipeline (issue 19 items 3–4), around the pure core in shared/base:
 *
 * - the candidates: the analysed digests of the trusted base repositories (DRYDOCK_BASE_REPOSITORIES),
 *   read from the image store, BASE_CANDIDATES_PER_REPOSITORY per repository (the most recently
 *   updated), each with its layers in manifest order (ImageRecord.layerIds, recorded at analysis);
 * - a package-index entry per application image naming the base digest it was built on, under a
 *   synthetic key (ecosystem BASE_INDEX_ECOSYSTEM, name "<registry>/<repository>:<tag>"), so that
 *   "which images are built on an older digest of debian:12?" is one Query;
 * - "base patched": when the newest digest of a trusted base tag is evaluated after its analysis,
 *   one EventBridge event lists the application images built on its older digests, and each of
 *   them is evaluated again (reason `base`) so its result carries the rebuild advice.
 */
import { isTrusted, trustedBaseListOf, type BaseCandidate, type BaseImageInfo, type TrustedBaseList } from '../base/index.js';
import type { EventBus, ImageRecord, PackageIndexEntry } from '../ports/stores.js';
import { BASE_CANDIDATES_PER_REPOSITORY, splitBaseRepository } from './config.js';
import type { PipelineDeps } from './deps.js';
import { BASE_TRIGGER, checkOutgoing, type EvaluateJob } from './messages.js';

/** The evaluator's ports: the pipeline's, and the event bus the "base patched" event goes to (absent: no event, the jobs are still sent). */
export type EvaluatorDeps = PipelineDeps & { bus?: EventBus };

/** The package-index ecosystem of the base entries (never an advisory ecosystem, so no rescan reads it). */
export const BASE_INDEX_ECOSYSTEM = 'drydock:base';
/** The event's source and detail-type (the stack's rule patterns and IAM conditions name them). */
export const BASE_EVENT_SOURCE = 'drydock.images';
export const BASE_UPDATED_DETAIL_TYPE = 'Drydock Base Image Updated';
/** Most application images one "base patched" event lists (`total` counts them all). */
export const MAX_BASE_EVENT_IMAGES = 100;
/** Most application images one patched base tag re-evaluates (the rest are logged; the daily re-evaluation reaches them). */
export const MAX_BASE_REEVALUATIONS = 1000;

export interface BaseSetting {
  list: TrustedBaseList;
  candidates: BaseCandidate[];
  /** read from the container's cache (BASE_CANDIDATES_TTL_MS): an image whose base is not among them is looked at again afresh */
  cached?: boolean;
}

/** How long a container reuses the candidates it listed (one Query per base repository), unless told to read them afresh. */
export const BASE_CANDIDATES_TTL_MS = 60_000;
const cached = new WeakMap<object, { key: string; at: number; setting: BaseSetting }>();

/** Whether the record is a digest of a trusted base repository (its evaluation reads the candidates afresh). */
export function inBaseRepository(deps: PipelineDeps, record: Pick<ImageRecord, 'registry' | 'repository'>): boolean {
  return deps.config.baseRepositories.some((e) => {
    const { registry, repository } = splitBaseRepository(e);
    return registry === record.registry && repository === record.repository;
  });
}

/**
 * The trusted base list of DRYDOCK_BASE_REPOSITORIES and the analysed digests of its repositories,
 * reused for BASE_CANDIDATES_TTL_MS per image store unless `fresh` (a base's own evaluation, the
 * re-evaluation a patched base asked for: they must see the newest digest; and an image whose base
 * the cached candidates do not hold, which may be built on a base pushed a moment ago).
 */
export async function loadBaseSetting(deps: PipelineDeps, fresh = false): Promise<BaseSetting | undefined> {
  const entries = deps.config.baseRepositories;
  if (entries.length === 0) return undefined;
  const key = entries.join(',');
  const hit = cached.get(deps.images);
  if (!fresh && hit && hit.key === key && Date.now() - hit.at < BASE_CANDIDATES_TTL_MS) return { ...hit.setting, cached: true };
  const list = trustedBaseListOf(entries, 'DRYDOCK_BASE_REPOSITORIES');
  const repos = new Map<string, { registry: string; repository: string }>();
  for (const e of entries) {
    const { registry, repository } = splitBaseRepository(e);
    if (registry) repos.set(`${registry}/${repository}`, { registry, repository });
  }
  const candidates: BaseCandidate[] = [];
  for (const { registry, repository } of repos.values()) {
    const records = await deps.images.list({ repository, limit: BASE_CANDIDATES_PER_REPOSITORY });
    for (const r of records) if (r.registry === registry) candidates.push(...candidatesOf(r));
  }
  deps.metrics.add('BaseCandidates', 'Count', candidates.length);
  const setting = { list, candidates };
  cached.set(deps.images, { key, at: Date.now(), setting });
  return setting;
}

/** An analysed record as base candidates: one per platform image whose layers were recorded. */
export function candidatesOf(r: ImageRecord): BaseCandidate[] {
  if (r.status !== 'analyzed' && r.status !== 'evaluated') return [];
  const common = { registry: r.registry, repository: r.repository, tags: r.tags ?? [], pushedAt: r.createdAt };
  if (r.platforms?.length) {
    return r.platforms.flatMap((p, i) => {
      const layers = i === 0 ? r.layerIds : p.layerIds;
      return layers?.length ? [{ ...common, digest: p.manifestDigest, indexDigest: r.digest, layers }] : [];
    });
  }
  if (!r.layerIds?.length) return [];
  const digest = r.manifestDigest ?? r.digest;
  return [{ ...common, digest, ...(digest !== r.digest ? { indexDigest: r.digest } : {}), layers: r.layerIds }];
}

/** The package-index name of a base tag: "<registry>/<repository>:<tag>". */
export function baseIndexName(registry: string, repository: string, tag: string): string {
  return `${registry}/${repository}:${tag}`;
}

/**
 * The application image's base entry (its identified, tagged bases: the base digests are the
 * entry's versions), written over the previous one; a base no longer identified (or now another
 * tag) has its old entry removed. Returns the key name recorded on the image (undefined: none).
 */
export async function recordBaseEntry(deps: PipelineDeps, record: ImageRecord, bases: ReadonlyArray<BaseImageInfo | undefined>): Promise<string | undefined> {
  const tagged = bases.filter((b): b is BaseImageInfo & { registry: string; repository: string; tag: string; digest: string } => b?.status === 'identified' && !!b.tag && !!b.registry && !!b.repository && !!b.digest);
  const first = tagged[0];
  const name = first && baseIndexName(first.registry, first.repository, first.tag);
  const entries: PackageIndexEntry[] = name
    ? [{ key: { ecosystem: BASE_INDEX_ECOSYSTEM, name }, digest: record.digest, repository: record.repository, versions: [...new Set(tagged.filter((b) => baseIndexName(b.registry, b.repository, b.tag) === name).map((b) => b.digest))] }]
    : [];
  const previous = record.baseKey && record.baseKey !== name ? [{ ecosystem: BASE_INDEX_ECOSYSTEM, name: record.baseKey }] : [];
  if (entries.length || previous.length) await deps.packageIndex.replaceForImage(record.digest, entries, previous);
  return name;
}

export interface BasePatchedReport {
  tag: string;
  images: number;
  jobs: number;
  event: boolean;
}

/**
 * After the evaluation of an analysed image of a trusted base repository: for each of its trusted
 * tags of which it is the newest digest, the application images whose base entry names an older
 * digest of that tag get one event (MAX_BASE_EVENT_IMAGES listed) and an evaluation each
 * (MAX_BASE_REEVALUATIONS at most). At least once: a redelivered job may announce again; the
 * re-evaluations are idempotent (their trigger names the new base digest).
 */
export async function announcePatchedBase(deps: EvaluatorDeps, record: ImageRecord, setting: BaseSetting): Promise<BasePatchedReport[]> {
  const out: BasePatchedReport[] = [];
  for (const tag of record.tags ?? []) {
    if (!isTrusted(setting.list, record.registry, record.repository, tag)) continue;
    const newer = setting.candidates.some((c) => c.registry === record.registry && c.repository === record.repository && c.tags.includes(tag) && (c.indexDigest ?? c.digest) !== record.digest && (c.pushedAt ?? '') > record.createdAt);
    if (newer) continue;
    const name = baseIndexName(record.registry, record.repository, tag);
    const named = (await deps.packageIndex.imagesFor({ ecosystem: BASE_INDEX_ECOSYSTEM, name })).filter((e) => e.digest !== record.digest && !e.versions.includes(record.digest));
    if (named.length === 0) continue;
    // only images still there (a deleted or failed image keeps its entry until it is analysed again)
    const records = await deps.images.getMany(named.map((e) => e.digest));
    const built = named.filter((e) => ['analyzed', 'evaluated'].includes(records.get(e.digest)?.status ?? ''));
    if (built.length === 0) continue;
    built.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
    const trigger = `${BASE_TRIGGER}${name}@${record.digest}`.slice(0, 500);
    const now = deps.now().toISOString();
    const jobs = built.slice(0, MAX_BASE_REEVALUATIONS).map((e) =>
      checkOutgoing<EvaluateJob>({ schema: 'drydock.evaluate-job/1', jobId: `evaluate:${e.digest}:base:${record.digest}`, digest: e.digest, reason: 'base', trigger, requestedAt: now }),
    );
    if (built.length > jobs.length) deps.log.warn('base patched: more application images than one announcement re-evaluates; the daily re-evaluation reaches the rest', { base: name, images: built.length, limit: MAX_BASE_REEVALUATIONS });
    const detail = {
      schema: 'drydock.base-image-updated/1',
      base: `${record.registry}/${record.repository}`,
      tag,
      digest: record.digest,
      previousDigests: [...new Set(built.flatMap((e) => e.versions))].sort().slice(0, MAX_BASE_EVENT_IMAGES),
      images: built.slice(0, MAX_BASE_EVENT_IMAGES).map((e) => ({ digest: e.digest, repository: e.repository, builtOn: e.versions[0] ?? '' })),
      total: built.length,
    };
    let event = false;
    if (deps.bus) {
      const { failed } = await deps.bus.put([{ source: BASE_EVENT_SOURCE, detailType: BASE_UPDATED_DETAIL_TYPE, detail }]);
      event = failed === 0;
      if (!event) deps.log.error('the "base patched" event was refused by the event bus; the re-evaluations are still queued', { base: name, digest: record.digest });
    } else deps.log.warn('no event bus: the "base patched" event is not sent (the re-evaluations are)', { base: name });
    await deps.evaluateQueue.sendBatch(jobs);
    deps.metrics.add('BasePatchedImages', 'Count', built.length);
    deps.log.info('base patched: the images built on its older digests are evaluated again', { base: name, digest: record.digest, images: built.length, jobs: jobs.length });
    out.push({ tag, images: built.length, jobs: jobs.length, event });
  }
  return out;
}
