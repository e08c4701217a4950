/**
 * A feed sync that reaches its deadline is not a failure: cut off by its signal (here: aborted
 * after its first checkpoint, as the Lambda deadline would), it returns complete:false without
 * throwing, puts one "Feed Sync Requested" continuation event, and the run that event starts
 * resumes from the checkpoint and finishes with every advisory written and every changed key
 * announced exactly once. In-memory ports and a real HTTP server serving OSV all.zip files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryAdvisoryStore } from '../../shared/adapters/local/memory-advisory-store.js';
import { MemoryBus, MemoryObjectStore } from '../../shared/adapters/local/memory-messaging.js';
import type { Advisory } from '../../shared/advisories/types.js';
import { noMetrics, silentLog, type PipelineLog } from '../../shared/pipeline/deps.js';
import {
  continuationOf,
  FEED_EVENT_DETAIL_TYPE,
  FEED_EVENT_SOURCE,
  FEED_SYNC_REQUESTED_DETAIL_TYPE,
  feedSyncInvocation,
  MAX_FEED_SYNC_CONTINUATIONS,
  runFeedSync,
  type AdvisoriesUpdated,
  type FeedSyncDeps,
} from '../../shared/pipeline/feed-sync.js';
import type { BusEvent } from '../../shared/ports/stores.js';
import { osvRecord, startOsvServer, type OsvServer } from '../support/osv-server.js';

let osv: OsvServer;
beforeAll(async () => {
  osv = await startOsvServer();
});
afterAll(async () => {
  await osv.stop();
});

const NOW = new Date('2026-12-07T04:00:00Z');

/** Memory ports; `abortAfterPuts` aborts the controller once that many advisory batches were written (the deadline, mid-sync). */
function setup(abortAfterPuts?: number) {
  const advisories = new MemoryAdvisoryStore();
  const objects = new MemoryObjectStore();
  const bus = new MemoryBus();
  const controller = new AbortController();
  const written: string[] = [];
  let puts = 0;
  const counting = {
    forPackage: advisories.forPackage.bind(advisories),
    async put(batch: Advisory[]) {
      await advisories.put(batch);
      for (const a of batch) written.push(a.id);
      if (abortAfterPuts !== undefined && ++puts >= abortAfterPuts) controller.abort(new Error('deadline'));
    },
  } as unknown as MemoryAdvisoryStore;
  const warnings: string[] = [];
  const log: PipelineLog = { ...silentLog, warn: (m) => warnings.push(m) };
  const deps: FeedSyncDeps = { advisories: counting, objects, bus, log, metrics: noMetrics, now: () => NOW };
  return { deps, advisories, objects, bus, controller, written, warnings };
}

const records = (eco: string, n: number) => Array.from({ length: n }, (_, i) => osvRecord(`${eco}-${i + 1}`, eco, `pkg-${i + 1}`, '2.0.0'));
const keysAnnounced = (events: BusEvent[]) => events.filter((e) => e.detailType === FEED_EVENT_DETAIL_TYPE).flatMap((e) => (e.detail as AdvisoriesUpdated).keys.map((k) => `${k.ecosystem}|${k.name}`));
const continuations = (events: BusEvent[]) => events.filter((e) => e.detailType === FEED_SYNC_REQUESTED_DETAIL_TYPE);

describe('feed sync at its deadline (memory ports, local OSV server)', () => {
  it('is cut off without throwing, asks for a continuation, and the continuation finishes with nothing lost or announced twice', async () => {
    osv.set('npm', records('npm', 10));
    osv.set('PyPI', records('PyPI', 4));
    const s = setup(2);
    const scheduled = { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} };

    const first = await feedSyncInvocation(s.deps, scheduled, { ecosystems: ['npm', 'PyPI'], baseUrl: osv.url, checkpointEvery: 3, signal: s.controller.signal });
    expect(first).toMatchObject({ complete: false, remaining: ['npm', 'PyPI'], continuation: 0, startedAt: NOW.toISOString(), continued: true });
    expect(first.ecosystems).toEqual([expect.objectContaining({ ecosystem: 'npm', status: 'partial', events: 2 })]);
    // two checkpoints of 3 advisories each were written and announced; nothing of PyPI was started
    expect(s.written).toHaveLength(6);
    expect(keysAnnounced(s.bus.events)).toHaveLength(6);
    const [request] = continuations(s.bus.events);
    expect(continuations(s.bus.events)).toHaveLength(1);
    expect(request).toEqual({ source: FEED_EVENT_SOURCE, detailType: FEED_SYNC_REQUESTED_DETAIL_TYPE, detail: { reason: 'continue', continuation: 1, startedAt: NOW.toISOString() } });
    expect(s.warnings).toContain('feed sync stopped at its deadline; the next run resumes from the checkpoints');

    // the event as EventBridge delivers it to the function the rule targets
    const delivered = { version: '0', id: 'e-1', source: request!.source, 'detail-type': request!.detailType, detail: request!.detail, time: NOW.toISOString() };
    expect(continuationOf(delivered)).toEqual({ continuation: 1, startedAt: NOW.toISOString() });
    const second = await feedSyncInvocation(s.deps, delivered, { ecosystems: ['npm', 'PyPI'], baseUrl: osv.url, checkpointEvery: 3 });
    expect(second).toMatchObject({ complete: true, remaining: [], continuation: 1, continued: false });
    expect(second.ecosystems.map((e) => [e.ecosystem, e.status, e.changedAdvisories])).toEqual([
      ['npm', 'updated', 4],
      ['PyPI', 'updated', 4],
    ]);

    // every advisory written once, every key announced once, one continuation request in all
    const all = [...records('npm', 10), ...records('PyPI', 4)].map((r) => (r as { id: string }).id).sort();
    expect([...s.written].sort()).toEqual(all);
    const keys = keysAnnounced(s.bus.events);
    expect(keys.slice().sort()).toEqual([...Array.from({ length: 10 }, (_, i) => `npm|pkg-${i + 1}`), ...Array.from({ length: 4 }, (_, i) => `PyPI|pkg-${i + 1}`)].sort());
    expect(new Set(keys).size).toBe(keys.length);
    expect(continuations(s.bus.events)).toHaveLength(1);
    // the resumed npm sync kept its update id (rescans deduplicate by it) and numbered its parts on
    const npmParts = s.bus.events.filter((e) => e.detailType === FEED_EVENT_DETAIL_TYPE && (e.detail as AdvisoriesUpdated).ecosystem === 'npm').map((e) => e.detail as AdvisoriesUpdated);
    expect(new Set(npmParts.map((p) => p.updateId)).size).toBe(1);
    expect(npmParts.map((p) => p.part)).toEqual([1, 2, 3, 4]);
    expect((await s.advisories.forPackage({ ecosystem: 'npm', name: 'pkg-10' })).map((a) => a.id)).toEqual(['npm-10']);

    // and a third run (the schedule) finds nothing new
    const third = await runFeedSync(s.deps, { ecosystems: ['npm', 'PyPI'], baseUrl: osv.url });
    expect(third.complete).toBe(true);
    expect(third.ecosystems.map((e) => e.status)).toEqual(['unchanged', 'unchanged']);
  });

  it('a signal already fired before the download is a cut-off too, not a NETWORK error', async () => {
    osv.set('Go', records('Go', 2));
    const s = setup();
    s.controller.abort(new Error('deadline'));
    const out = await runFeedSync(s.deps, { ecosystems: ['Go'], baseUrl: osv.url, signal: s.controller.signal });
    expect(out).toEqual({ complete: false, ecosystems: [], remaining: ['Go'] });
    expect(s.written).toEqual([]);
  });

  it('the chain is bounded: past the last continuation it warns and leaves the rest to the schedule', async () => {
    osv.set('Maven', records('Maven', 6));
    const s = setup(1);
    const event = { source: FEED_EVENT_SOURCE, 'detail-type': FEED_SYNC_REQUESTED_DETAIL_TYPE, detail: { reason: 'continue', continuation: MAX_FEED_SYNC_CONTINUATIONS, startedAt: '2026-12-06T00:00:00Z' } };
    const out = await feedSyncInvocation(s.deps, event, { ecosystems: ['Maven'], baseUrl: osv.url, checkpointEvery: 2, signal: s.controller.signal });
    expect(out).toMatchObject({ complete: false, continuation: MAX_FEED_SYNC_CONTINUATIONS, continued: false, startedAt: '2026-12-06T00:00:00Z' });
    expect(continuations(s.bus.events)).toHaveLength(0);
    expect(s.warnings.some((w) => w.includes(`after ${MAX_FEED_SYNC_CONTINUATIONS} continuations`))).toBe(true);
  });

  it('any other event starts a fresh chain: the schedule, a deploy-time first sync, a CloudFormation-ish payload, nothing', () => {
    for (const e of [{ reason: 'first-sync' }, { RequestType: 'Create', ResourceProperties: {} }, { source: 'aws.events', 'detail-type': 'Scheduled Event' }, null, undefined, 'x', { source: FEED_EVENT_SOURCE, 'detail-type': FEED_SYNC_REQUESTED_DETAIL_TYPE, detail: { continuation: -1 } }]) {
      expect(continuationOf(e)).toEqual({ continuation: 0 });
    }
  });

  it('a continuation the bus refuses is logged, not thrown (the checkpoint is safe; the schedule carries on)', async () => {
    osv.set('crates.io', records('crates.io', 4));
    const s = setup(1);
    const errors: string[] = [];
    const refusing = { put: async (events: readonly BusEvent[]) => (events.some((e) => e.detailType === FEED_SYNC_REQUESTED_DETAIL_TYPE) ? { failed: 1 } : s.bus.put(events)) };
    const out = await feedSyncInvocation({ ...s.deps, bus: refusing, log: { ...silentLog, error: (m) => errors.push(m) } }, {}, { ecosystems: ['crates.io'], baseUrl: osv.url, checkpointEvery: 2, signal: s.controller.signal });
    expect(out).toMatchObject({ complete: false, continued: false });
    expect(errors).toEqual(["the continuation event was refused by the event bus: the schedule's next run carries on"]);
  });
});
