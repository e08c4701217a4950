/**
 * Feed sync (DESIGN.md §1, step 7): download the configured OSV ecosystems' all.zip, streamed
 * (never whole in memory or on disk), with a conditional request so an unchanged feed costs one
 * request; upsert the advisories that are new or modified into the advisory store; and announce
 * the package keys they touch on the event bus ("Advisories Updated"), so that rescans
 * re-evaluate exactly the images holding them.
 *
 * State per ecosystem lives in the bucket (`feeds/<ecosystem>.json`): the feed's ETag and
 * Last-Modified, and each advisory's `modified` time with its keys. It is checkpointed every
 * `checkpointEvery` changed advisories, always after their store writes and their events, so a
 * sync cut off part-way (a Lambda timeout, a throttled table) resumes where it stopped: the
 * advisories already written are not changed again, and no key goes unannounced.
 *
 * A run that reaches its deadline (the caller's signal) is not a failure: it stops between
 * records, drops the advisories read since the last checkpoint (they are read again next time),
 * and returns `complete: false` with the ecosystems left; the feed-sync function then asks for
 * a continuation ("Feed Sync Requested" on the bus), which resumes from the checkpoint.
 */
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { advisoryId, splitByPackageKey } from '../advisories/keys.js';
import { OSV_BASE_URL, osvFeed } from '../advisories/feeds.js';
import { alasUpdates } from '../advisories/alas.js';
import { checkAlasStream, downloadUpdateinfo, resolveAlasStreams, type AlasStream, type AlasStreamSource } from '../advisories/alas-feed.js';
import { osvRecordsFromZip } from '../advisories/osv.js';
import { isCveId } from '../advisories/cvss-store.js';
import { syncExploitFeeds, type ExploitFeedResult } from './exploit-sync.js';
import type { Advisory } from '../advisories/types.js';
import { DrydockError } from '../errors.js';
import type { AdvisoryStore, PackageKey } from '../ports/advisory-store.js';
import type { BusEvent, EventBus, ObjectStore } from '../ports/stores.js';
import type { PipelineLog, PipelineMetrics } from './deps.js';

export const FEED_EVENT_SOURCE = 'drydock.feeds';
export const FEED_EVENT_DETAIL_TYPE = 'Advisories Updated';
/** The event feed-sync puts to have itself run again (source FEED_EVENT_SOURCE) when a run stopped at its deadline. */
export const FEED_SYNC_REQUESTED_DETAIL_TYPE = 'Feed Sync Requested';
/** Continuations in a row at most; past it the schedule's next run carries on (with a warning). */
export const MAX_FEED_SYNC_CONTINUATIONS = 50;

/** The detail of a "Feed Sync Requested" event. */
export interface FeedSyncRequested {
  reason: 'continue';
  /** 1 for the first continuation of a scheduled run, then 2, 3, ... */
  continuation: number;
  /** when the run that started the chain began (ISO time) */
  startedAt: string;
}

/** The detail of an "Advisories Updated" event. */
export interface AdvisoriesUpdated {
  schema: 'drydock.advisories-updated/1';
  /** one id per sync run and ecosystem: rescans deduplicate evaluations by it */
  updateId: string;
  ecosystem: string;
  /** the package keys whose advisories changed (at most KEYS_PER_EVENT) */
  keys: PackageKey[];
  /** this event's number within the update (1, 2, ...) */
  part: number;
}

/** Keys per event: ~60 bytes a key keeps an event near 30 KB, well inside EventBridge's 256 KB. */
export const KEYS_PER_EVENT = 400;

interface FeedState {
  format: 'drydock.feed-state/1';
  url: string;
  etag?: string;
  lastModified?: string;
  /** advisory id → [modified, keys as "ecosystem|name", the CVE ids it names (id, aliases, upstream; absent when none, or written before they were recorded)] */
  advisories: Record<string, [string, string[]] | [string, string[], string[]]>;
  /** set while a download is being worked through: the run to resume */
  inProgress?: { updateId: string; etag?: string; lastModified?: string; checksum?: string; part: number };
  syncedAt?: string;
  /** Amazon Linux streams: repomd.xml's URL and updateinfo sha256, and the last successful check (a 304 counts) */
  repomdUrl?: string;
  checksum?: string;
  checkedAt?: string;
}

export interface FeedSyncDeps {
  advisories: AdvisoryStore;
  objects: ObjectStore;
  bus: EventBus;
  log: PipelineLog;
  metrics: PipelineMetrics;
  now(): Date;
  fetch?: typeof fetch;
}

export interface FeedSyncOptions {
  ecosystems: readonly string[];
  baseUrl?: string;
  /**
   * Amazon Linux updateinfo streams (shared/advisories/alas-feed.ts ALAS_STREAMS names:
   * "al2023-core", "al2-extras", "al2-extras/<topic>"), synced after the OSV ecosystems as
   * "alas/<stream>"; their summary is the one feed "Amazon Linux" (feedSummaryKey).
   */
  alasStreams?: readonly string[];
  /** overrides ALAS_STREAMS (tests: a local server) */
  alasSources?: readonly AlasStreamSource[];
  /** changed advisories written, announced and checkpointed together */
  checkpointEvery?: number;
  /**
   * CISA KEV and FIRST EPSS into the bucket's compact objects (exploit-sync.ts), after the
   * advisory feeds; a KEV change announces the package keys of the advisories naming its CVEs.
   */
  exploitFeeds?: boolean;
  /** overrides the KEV catalog's URL (DRYDOCK_KEV_URL; tests: a local server) */
  kevUrl?: string;
  /** overrides the EPSS scores' URL (DRYDOCK_EPSS_URL) */
  epssUrl?: string;
  signal?: AbortSignal;
}

export interface EcosystemSync {
  ecosystem: string;
  /** partial: stopped at the deadline, resumed from its checkpoint by the next run */
  status: 'unchanged' | 'updated' | 'partial';
  records: number;
  changedAdvisories: number;
  changedKeys: number;
  events: number;
  updateId?: string;
}

export interface FeedSyncOutcome {
  /** false when the deadline stopped the run: `remaining` ecosystems (the partial one first) are left to the next run */
  complete: boolean;
  ecosystems: EcosystemSync[];
  remaining: string[];
  /** Amazon Linux streams that failed this run (logged, metric AlasStreamFailures; not thrown: see runFeedSync) */
  alasFailed?: string[];
  /** KEV / EPSS (with exploitFeeds) */
  exploitFeeds?: ExploitFeedResult[];
  /** exploitation feeds that failed this run (logged, metric ExploitFeedFailures; not thrown) */
  exploitFailed?: string[];
}

/** Syncs the ecosystems; the ecosystems' results (see runFeedSync for the outcome with `complete`). */
export async function syncFeeds(deps: FeedSyncDeps, opts: FeedSyncOptions): Promise<EcosystemSync[]> {
  return (await runFeedSync(deps, opts)).ecosystems;
}

/**
 * Syncs each ecosystem in turn until done or the signal fires (then `complete: false`, not an
 * error). One ecosystem failing (a 5xx) does not stop the others; the first error is rethrown at
 * the end so the run is retried.
 */
export async function runFeedSync(deps: FeedSyncDeps, opts: FeedSyncOptions): Promise<FeedSyncOutcome> {
  const out: EcosystemSync[] = [];
  const remaining: string[] = [];
  let firstError: unknown;
  // the feed states a KEV change is looked up in (its CVEs → the package keys of the advisories naming them)
  const stateNames: string[] = [...opts.ecosystems];
  for (const ecosystem of opts.ecosystems) {
    if (opts.signal?.aborted) {
      remaining.push(ecosystem);
      continue;
    }
    try {
      const r = await syncEcosystem(deps, ecosystem, opts);
      out.push(r);
      if (r.status === 'partial') remaining.push(ecosystem);
    } catch (e) {
      deps.log.error('feed sync failed', { ecosystem, error: e instanceof DrydockError ? e.toJSON() : String(e) });
      firstError ??= e;
    }
  }
  // An Amazon Linux stream that fails (its mirror unreachable, a checksum mismatch) is logged as an
  // error and counted (metric AlasStreamFailures), NOT thrown: a retry would redo the OSV feeds for
  // nothing, and it cannot hide anything: the stream's data is then missing or ages in the
  // "Amazon Linux" summary, and the evaluator fails those images closed (missing / stale).
  const alasFailed: string[] = [];
  const alasFailure = (name: string, e: unknown) => {
    deps.log.error('Amazon Linux advisories not synced: images of this release fail as "advisory data missing" or stale until they are', { ecosystem: name, error: e instanceof DrydockError ? e.toJSON() : String(e) });
    deps.metrics.add('AlasStreamFailures', 'Count', 1);
    alasFailed.push(name);
  };
  if (opts.alasStreams?.length) {
    let streams: AlasStream[] = [];
    try {
      streams = await resolveAlasStreams(opts.alasStreams, { ...(deps.fetch ? { fetch: deps.fetch } : {}), ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.alasSources ? { streams: opts.alasSources } : {}) });
    } catch (e) {
      if (opts.signal?.aborted) remaining.push(...opts.alasStreams.map((n) => `alas/${n}`));
      else alasFailure('alas', e);
    }
    for (const stream of streams) {
      const name = `alas/${stream.name}`;
      if (opts.signal?.aborted) {
        remaining.push(name);
        continue;
      }
      try {
        const r = await syncAlasStream(deps, stream, opts);
        out.push(r);
        if (r.status === 'partial') remaining.push(name);
      } catch (e) {
        if (opts.signal?.aborted) remaining.push(name);
        else alasFailure(name, e);
      }
    }
    if (streams.length) await saveAlasSummary(deps.objects, streams, deps.now());
    stateNames.push(...streams.map((s) => `alas/${s.name}`));
  }
  // KEV and EPSS: enrichment, after the advisories (a KEV change is mapped to their package keys)
  let exploit: Awaited<ReturnType<typeof syncExploitFeeds>> | undefined;
  if (opts.exploitFeeds) {
    if (opts.signal?.aborted) remaining.push('kev', 'epss');
    else {
      try {
        exploit = await syncExploitFeeds(deps, {
          kev: true,
          epss: true,
          ...(opts.kevUrl ? { kevUrl: opts.kevUrl } : {}),
          ...(opts.epssUrl ? { epssUrl: opts.epssUrl } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
          keysFor: (cves) => packageKeysForCves(deps.objects, stateNames, cves),
          announce: (updateId, keys) => announceKeys(deps, updateId, 'kev', keys),
        });
      } catch (e) {
        if (!opts.signal?.aborted) throw e;
        remaining.push('kev', 'epss');
      }
    }
  }
  if (firstError) throw firstError;
  if (remaining.length) deps.log.warn('feed sync stopped at its deadline; the next run resumes from the checkpoints', { remaining });
  return {
    complete: remaining.length === 0,
    ecosystems: out,
    remaining,
    ...(alasFailed.length ? { alasFailed } : {}),
    ...(exploit ? { exploitFeeds: exploit.results, ...(exploit.failed.length ? { exploitFailed: exploit.failed } : {}) } : {}),
  };
}

/** The continuation number of a "Feed Sync Requested" event (0 for anything else: a schedule, a first sync, a manual run). */
export function continuationOf(event: unknown): { continuation: number; startedAt?: string } {
  const e = event as { source?: unknown; 'detail-type'?: unknown; detail?: Partial<FeedSyncRequested> } | null;
  if (!e || typeof e !== 'object' || e['detail-type'] !== FEED_SYNC_REQUESTED_DETAIL_TYPE || e.source !== FEED_EVENT_SOURCE) return { continuation: 0 };
  const n = e.detail?.continuation;
  const startedAt = typeof e.detail?.startedAt === 'string' && !Number.isNaN(Date.parse(e.detail.startedAt)) ? e.detail.startedAt : undefined;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) return { continuation: 0 };
  return { continuation: n, ...(startedAt ? { startedAt } : {}) };
}

export interface FeedSyncRun extends FeedSyncOutcome {
  /** this run's place in its chain (0: started by the schedule or anything else) */
  continuation: number;
  startedAt: string;
  /** whether a "Feed Sync Requested" event for the next run was put */
  continued: boolean;
}

/**
 * One feed-sync invocation for any event: a "Feed Sync Requested" continuation carries on its
 * chain, anything else (the schedule, a first sync at deploy time, a manual run) starts one.
 * When the run stopped at its deadline, puts one event for continuation n+1, up to
 * MAX_FEED_SYNC_CONTINUATIONS (then a warning: the schedule carries on). A refused or failed put
 * is logged, not thrown: the checkpoint is safe and the next schedule resumes from it.
 */
export async function feedSyncInvocation(deps: FeedSyncDeps, event: unknown, opts: FeedSyncOptions): Promise<FeedSyncRun> {
  const { continuation, startedAt: chainStart } = continuationOf(event);
  const startedAt = chainStart ?? deps.now().toISOString();
  const outcome = await runFeedSync(deps, opts);
  let continued = false;
  if (!outcome.complete) {
    const next = continuation + 1;
    if (next > MAX_FEED_SYNC_CONTINUATIONS) {
      deps.log.warn(`feed sync still incomplete after ${MAX_FEED_SYNC_CONTINUATIONS} continuations: the schedule's next run carries on`, { remaining: outcome.remaining, startedAt });
    } else {
      try {
        const { failed } = await deps.bus.put([feedSyncRequest(next, startedAt)]);
        continued = failed === 0;
        if (!continued) deps.log.error("the continuation event was refused by the event bus: the schedule's next run carries on", { continuation: next });
      } catch (e) {
        deps.log.error("the continuation event could not be put: the schedule's next run carries on", { continuation: next, error: String(e) });
      }
      if (continued) deps.log.info('feed sync continues in a new run', { continuation: next, remaining: outcome.remaining, startedAt });
    }
  }
  return { ...outcome, continuation, startedAt, continued };
}

/** The event that asks for continuation `continuation` of a run started at `startedAt`. */
export function feedSyncRequest(continuation: number, startedAt: string): BusEvent {
  const detail: FeedSyncRequested = { reason: 'continue', continuation, startedAt };
  return { source: FEED_EVENT_SOURCE, detailType: FEED_SYNC_REQUESTED_DETAIL_TYPE, detail };
}

const stateKey = (ecosystem: string) => `feeds/${encodeURIComponent(ecosystem)}.json.gz`;

async function loadState(objects: ObjectStore, ecosystem: string, url: string): Promise<FeedState> {
  const bytes = await objects.get(stateKey(ecosystem));
  if (bytes) {
    try {
      const s = JSON.parse(gunzipSync(bytes).toString('utf8')) as FeedState;
      if (s.format === 'drydock.feed-state/1' && s.url === url) return s;
    } catch {
      // a damaged state is a first sync: every advisory is written (idempotently) and announced
    }
  }
  return { format: 'drydock.feed-state/1', url, advisories: {} };
}

async function saveState(objects: ObjectStore, ecosystem: string, state: FeedState): Promise<void> {
  await objects.put(stateKey(ecosystem), gzipSync(JSON.stringify(state)), { contentType: 'application/json', contentEncoding: 'gzip' });
}

async function syncEcosystem(deps: FeedSyncDeps, ecosystem: string, opts: FeedSyncOptions): Promise<EcosystemSync> {
  const feed = osvFeed(ecosystem, opts.baseUrl ?? OSV_BASE_URL);
  const state = await loadState(deps.objects, ecosystem, feed.url);
  const headers: Record<string, string> = { 'user-agent': 'drydock-feed-sync' };
  // A run that was cut off resumes even if the feed has not changed since: no conditional request then.
  if (!state.inProgress) {
    if (state.etag) headers['if-none-match'] = state.etag;
    if (state.lastModified) headers['if-modified-since'] = state.lastModified;
  }
  let res: Response;
  const cutOff = (records: number, changedAdvisories: number, events: number, updateId?: string): EcosystemSync => {
    deps.log.warn('feed sync stopped at its deadline; resumes from the last checkpoint', { ecosystem, records, changedAdvisories, events, updateId });
    return { ecosystem, status: 'partial', records, changedAdvisories, changedKeys: 0, events, ...(updateId ? { updateId } : {}) };
  };
  try {
    res = await (deps.fetch ?? fetch)(feed.url, { headers, ...(opts.signal ? { signal: opts.signal } : {}) });
  } catch (e) {
    if (opts.signal?.aborted) return cutOff(0, 0, 0);
    throw new DrydockError('NETWORK', `cannot reach ${feed.url}: ${(e as Error).message}`, { cause: e });
  }
  if (res.status === 304) {
    await res.body?.cancel();
    // still current: the summary the evaluator checks coverage and age by says when it was checked
    if (!state.inProgress && state.syncedAt) await saveSummary(deps.objects, ecosystem, state, deps.now());
    deps.log.info('feed unchanged', { ecosystem });
    return { ecosystem, status: 'unchanged', records: 0, changedAdvisories: 0, changedKeys: 0, events: 0 };
  }
  if (res.status === 404) {
    await res.body?.cancel();
    throw new DrydockError('CONFIG', `no OSV feed at ${feed.url} (404): is "${ecosystem}" spelled as OSV spells it?`);
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new DrydockError(res.status >= 500 || res.status === 429 ? 'SERVER_ERROR' : 'SOURCE_UNREADABLE', `${feed.url} answered ${res.status} ${res.statusText}`);
  }
  const etag = res.headers.get('etag') ?? undefined;
  const lastModified = res.headers.get('last-modified') ?? undefined;
  const resuming = state.inProgress && state.inProgress.etag === etag && state.inProgress.lastModified === lastModified;
  const updateId = resuming ? state.inProgress!.updateId : `${ecosystem}@${etag ?? lastModified ?? deps.now().toISOString()}`;
  const part = resuming ? state.inProgress!.part : 0;
  state.inProgress = { updateId, ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}), part };
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
  const r = await ingest(deps, ecosystem, state, osvRecordsFromZip(body, feed.url), opts, () => body.destroy());
  if (r.status === 'partial') return r;
  state.etag = etag;
  state.lastModified = lastModified;
  if (!etag) delete state.etag;
  if (!lastModified) delete state.lastModified;
  state.syncedAt = deps.now().toISOString();
  await saveState(deps.objects, ecosystem, state);
  await saveSummary(deps.objects, ecosystem, state, deps.now());
  return r;
}

/**
 * Works through a feed's records: upserts the new or modified advisories, announces their keys
 * and checkpoints every `checkpointEvery`; stops between records at the deadline (partial).
 * On completion `state.inProgress` is cleared; the caller records the feed's validators and saves.
 */
async function ingest(
  deps: FeedSyncDeps,
  ecosystem: string,
  state: FeedState,
  source: AsyncIterable<{ advisory?: Advisory; issues: ReadonlyArray<{ where?: string; message: string }> }>,
  opts: FeedSyncOptions,
  abandon: () => void,
): Promise<EcosystemSync> {
  const { updateId } = state.inProgress!;
  let part = state.inProgress!.part;
  const cutOff = (records: number, changedAdvisories: number, events: number): EcosystemSync => {
    deps.log.warn('feed sync stopped at its deadline; resumes from the last checkpoint', { ecosystem, records, changedAdvisories, events, updateId });
    return { ecosystem, status: 'partial', records, changedAdvisories, changedKeys: 0, events, updateId };
  };
  const every = opts.checkpointEvery ?? 2000;
  let records = 0;
  let changedAdvisories = 0;
  let events = 0;
  const allKeys = new Set<string>();
  let pending: Advisory[] = [];
  let pendingKeys = new Set<string>();

  const flush = async () => {
    if (pending.length === 0) return;
    await deps.advisories.put(pending);
    const keys = [...pendingKeys].map(parseKey);
    const batch: BusEvent[] = [];
    for (let i = 0; i < keys.length; i += KEYS_PER_EVENT) {
      const detail: AdvisoriesUpdated = { schema: 'drydock.advisories-updated/1', updateId, ecosystem, keys: keys.slice(i, i + KEYS_PER_EVENT), part: ++part };
      batch.push({ source: FEED_EVENT_SOURCE, detailType: FEED_EVENT_DETAIL_TYPE, detail });
    }
    const { failed } = await deps.bus.put(batch);
    if (failed > 0) throw new DrydockError('SERVER_ERROR', `${failed} of ${batch.length} "Advisories Updated" events were refused by the event bus; the sync resumes from the last checkpoint`);
    events += batch.length;
    for (const a of pending) {
      const keys = [...splitByPackageKey(a).values()].map((s) => keyString(s.key));
      const cves = cvesOf(a);
      state.advisories[advisoryId(a)] = cves.length ? [a.modified ?? '', keys, cves] : [a.modified ?? '', keys];
    }
    state.inProgress!.part = part;
    await saveState(deps.objects, ecosystem, state);
    deps.metrics.add('AdvisoriesWritten', 'Count', pending.length);
    pending = [];
    pendingKeys = new Set();
  };

  let cut = false;
  try {
    for await (const r of source) {
      // at the deadline: stop between records; what was read since the last checkpoint is read again next time
      if (opts.signal?.aborted) {
        cut = true;
        break;
      }
      for (const issue of r.issues) deps.log.warn('advisory record skipped', { ecosystem, where: issue.where, message: issue.message });
      const a = r.advisory;
      if (!a) continue;
      records++;
      const known = state.advisories[advisoryId(a)];
      if (known && known[0] === (a.modified ?? '')) continue;
      changedAdvisories++;
      pending.push(a);
      // the keys it affects now, and those it affected before (a package it no longer names is changed too)
      for (const s of splitByPackageKey(a).values()) pendingKeys.add(keyString(s.key));
      for (const k of known?.[1] ?? []) pendingKeys.add(k);
      for (const k of pendingKeys) allKeys.add(k);
      if (pending.length >= every) await flush();
    }
  } catch (e) {
    if (!opts.signal?.aborted) throw e;
    cut = true;
  }
  if (cut) {
    abandon();
    deps.metrics.add('FeedSyncCutOff', 'Count', 1);
    return cutOff(records, changedAdvisories - pending.length, events);
  }
  await flush();
  delete state.inProgress;
  deps.metrics.add('FeedRecords', 'Count', records);
  deps.metrics.add('ChangedPackageKeys', 'Count', allKeys.size);
  deps.log.info('feed synced', { ecosystem, records, changedAdvisories, changedKeys: allKeys.size, events, updateId });
  return { ecosystem, status: 'updated', records, changedAdvisories, changedKeys: allKeys.size, events, updateId };
}

/** The summary base the evaluator looks Amazon Linux images up by ("Amazon Linux:2023" → "Amazon Linux"). */
export const ALAS_SUMMARY_BASE = 'Amazon Linux';

/**
 * One Amazon Linux stream: mirror.list → repomd.xml (conditional) → updateinfo (sha256 verified
 * before any record is read, so a bad download stores nothing), then the same upserts, events
 * and checkpoints as an OSV feed. Advisories land under "Amazon Linux:<release>" + binary name.
 */
async function syncAlasStream(deps: FeedSyncDeps, stream: AlasStream, opts: FeedSyncOptions): Promise<EcosystemSync> {
  const name = `alas/${stream.name}`;
  const state = await loadState(deps.objects, name, stream.mirrorList);
  const fetchOpts = { ...(deps.fetch ? { fetch: deps.fetch } : {}), ...(opts.signal ? { signal: opts.signal } : {}) };
  // A run that was cut off resumes even if nothing changed since: no conditional request then.
  const previous = state.inProgress
    ? undefined
    : { ...(state.repomdUrl ? { repomdUrl: state.repomdUrl } : {}), ...(state.etag ? { etag: state.etag } : {}), ...(state.lastModified ? { lastModified: state.lastModified } : {}), ...(state.checksum && state.syncedAt ? { checksum: state.checksum } : {}) };
  const partial = (): EcosystemSync => ({ ecosystem: name, status: 'partial', records: 0, changedAdvisories: 0, changedKeys: 0, events: 0 });
  let check;
  let bytes: Buffer | undefined;
  try {
    check = await checkAlasStream(stream, previous, fetchOpts);
    if (check.status === 'changed') bytes = await downloadUpdateinfo(check, fetchOpts);
  } catch (e) {
    if (opts.signal?.aborted) return partial();
    throw e;
  }
  const now = deps.now().toISOString();
  state.repomdUrl = check.repomdUrl;
  if (check.etag) state.etag = check.etag;
  else delete state.etag;
  if (check.lastModified) state.lastModified = check.lastModified;
  else delete state.lastModified;
  if (check.status === 'none') {
    // the repository publishes no updateinfo (many AL2 extras topics): an empty, current stream;
    // advisories it published before stay in the store (the next updateinfo supersedes them)
    delete state.inProgress;
    delete state.checksum;
    state.syncedAt = now;
    state.checkedAt = now;
    await saveState(deps.objects, name, state);
    deps.log.info('no updateinfo published', { ecosystem: name });
    return { ecosystem: name, status: 'unchanged', records: 0, changedAdvisories: 0, changedKeys: 0, events: 0 };
  }
  if (check.status === 'unchanged') {
    if (state.syncedAt) {
      // still current: the summary says when it was last checked
      state.checkedAt = now;
      await saveState(deps.objects, name, state);
    }
    deps.log.info('feed unchanged', { ecosystem: name });
    return { ecosystem: name, status: 'unchanged', records: 0, changedAdvisories: 0, changedKeys: 0, events: 0 };
  }
  const resuming = state.inProgress?.checksum === check.checksum;
  const updateId = resuming ? state.inProgress!.updateId : `${name}@${check.checksum.slice(0, 16)}`;
  state.inProgress = { updateId, checksum: check.checksum, part: resuming ? state.inProgress!.part : 0 };
  const records = (async function* () {
    try {
      yield* alasUpdates(bytes!, { release: stream.release, where: check.updateinfoUrl });
    } catch (e) {
      if (e instanceof RangeError) throw new DrydockError('SOURCE_UNREADABLE', e.message, { cause: e });
      throw e;
    }
  })();
  const r = await ingest(deps, name, state, records, opts, () => undefined);
  if (r.status === 'partial') return r;
  state.checksum = check.checksum;
  state.syncedAt = now;
  state.checkedAt = now;
  await saveState(deps.objects, name, state);
  return r;
}

/**
 * The one summary of every configured Amazon Linux stream (key feedSummaryKey("Amazon Linux")):
 * covers "Amazon Linux:<release>" for each stream synced at least once; `syncedAt` is the
 * OLDEST stream's last check, so one stream left behind makes the data stale (fail closed).
 */
async function saveAlasSummary(objects: ObjectStore, streams: readonly AlasStream[], now: Date): Promise<void> {
  const ecosystems = new Set<string>();
  let advisories = 0;
  let oldest: string | undefined;
  for (const stream of streams) {
    const name = `alas/${stream.name}`;
    const state = await loadState(objects, name, stream.mirrorList);
    if (!state.syncedAt) continue;
    ecosystems.add(`${ALAS_SUMMARY_BASE}:${stream.release}`);
    for (const [, keys] of Object.values(state.advisories)) {
      advisories++;
      for (const k of keys) ecosystems.add(k.slice(0, k.indexOf('|')));
    }
    const checked = state.checkedAt ?? state.syncedAt;
    if (!oldest || checked < oldest) oldest = checked;
  }
  if (!oldest) return;
  const summary: FeedSummary = {
    format: 'drydock.feed-summary/1',
    ecosystem: ALAS_SUMMARY_BASE,
    ecosystems: [...ecosystems].sort(),
    advisories,
    // no producedAt: an ALAS stream can go weeks without a new advisory (AL1 gets none) and still be
    // current; its freshness is the last successful check of repomd.xml (the oldest stream's)
    syncedAt: oldest < now.toISOString() ? oldest : now.toISOString(),
  };
  await objects.put(feedSummaryKey(ALAS_SUMMARY_BASE), JSON.stringify(summary), { contentType: 'application/json' });
}

/** What a completed sync of one feed covers and how fresh it is: small, read by every evaluation (evaluate.ts). */
export interface FeedSummary {
  format: 'drydock.feed-summary/1';
  /** the OSV ecosystem synced ("Debian", "npm") */
  ecosystem: string;
  /** the ecosystem keys its records name ("Debian:11", "Debian:12"; "npm") */
  ecosystems: string[];
  advisories: number;
  /** the newest record's `modified` (the feed's own timestamp) */
  producedAt?: string;
  /** the feed's Last-Modified header */
  lastModified?: string;
  /** the last successful check (a 304 counts) */
  syncedAt: string;
}

export const feedSummaryKey = (ecosystem: string) => `feeds/${encodeURIComponent(ecosystem)}.summary.json`;

async function saveSummary(objects: ObjectStore, ecosystem: string, state: FeedState, now: Date): Promise<void> {
  const ecosystems = new Set<string>();
  let produced = 0;
  for (const [modified, keys] of Object.values(state.advisories)) {
    const t = Date.parse(modified);
    if (!Number.isNaN(t) && t > produced) produced = t;
    for (const k of keys) ecosystems.add(k.slice(0, k.indexOf('|')));
  }
  const summary: FeedSummary = {
    format: 'drydock.feed-summary/1',
    ecosystem,
    ecosystems: [...ecosystems].sort(),
    advisories: Object.keys(state.advisories).length,
    ...(produced > 0 ? { producedAt: new Date(produced).toISOString() } : {}),
    ...(state.lastModified ? { lastModified: state.lastModified } : {}),
    syncedAt: now.toISOString(),
  };
  await objects.put(feedSummaryKey(ecosystem), JSON.stringify(summary), { contentType: 'application/json' });
}

function keyString(k: PackageKey): string {
  return `${k.ecosystem}|${k.name}`;
}

function parseKey(s: string): PackageKey {
  const i = s.indexOf('|');
  return { ecosystem: s.slice(0, i), name: s.slice(i + 1) };
}

/** The CVE ids an advisory names: its id, aliases and upstream ids (a KEV change is mapped by them). */
function cvesOf(a: Pick<Advisory, 'id' | 'aliases' | 'upstream'>): string[] {
  return [...new Set([a.id, ...a.aliases, ...(a.upstream ?? [])].filter(isCveId))].sort();
}

const EMBEDDED_CVE = /CVE-\d{4}-\d{4,19}/g;

/**
 * The package keys of the synced advisories (feed state `names`: OSV ecosystems, "alas/<stream>")
 * that name any of `cves`: by the CVE ids recorded with each advisory, else by a CVE id inside
 * its own id (DEBIAN-CVE-…, UBUNTU-CVE-…, ALPINE-CVE-…) for state written before they were recorded.
 */
export async function packageKeysForCves(objects: ObjectStore, names: readonly string[], cves: ReadonlySet<string>): Promise<PackageKey[]> {
  const keys = new Set<string>();
  if (cves.size === 0) return [];
  for (const name of new Set(names)) {
    const bytes = await objects.get(stateKey(name));
    if (!bytes) continue;
    let state: FeedState;
    try {
      state = JSON.parse(gunzipSync(bytes).toString('utf8')) as FeedState;
    } catch {
      continue;
    }
    if (state.format !== 'drydock.feed-state/1' || !state.advisories) continue;
    for (const [id, entry] of Object.entries(state.advisories)) {
      const named = entry[2] ?? id.match(EMBEDDED_CVE) ?? [];
      if (named.some((c) => cves.has(c))) for (const k of entry[1]) keys.add(k);
    }
  }
  return [...keys].sort().map(parseKey);
}

/** "Advisories Updated" events for `keys` (KEYS_PER_EVENT each, parts 1, 2, …); throws when the bus refuses any. */
async function announceKeys(deps: FeedSyncDeps, updateId: string, ecosystem: string, keys: readonly PackageKey[]): Promise<number> {
  const batch: BusEvent[] = [];
  for (let i = 0, part = 0; i < keys.length; i += KEYS_PER_EVENT) {
    const detail: AdvisoriesUpdated = { schema: 'drydock.advisories-updated/1', updateId, ecosystem, keys: keys.slice(i, i + KEYS_PER_EVENT), part: ++part };
    batch.push({ source: FEED_EVENT_SOURCE, detailType: FEED_EVENT_DETAIL_TYPE, detail });
  }
  const { failed } = await deps.bus.put(batch);
  if (failed > 0) throw new DrydockError('SERVER_ERROR', `${failed} of ${batch.length} "Advisories Updated" events were refused by the event bus; the next run announces them again`);
  return batch.length;
}
