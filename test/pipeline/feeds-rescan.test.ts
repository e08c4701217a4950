/**
 * Feed sync and rescans on the in-memory ports, with a real HTTP server serving OSV all.zip
 * files: conditional requests, exactly the changed keys announced, resuming a cut-off sync,
 * and rescans that read the package index only for the changed keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryAdvisoryStore } from '../../shared/adapters/local/memory-advisory-store.js';
import { MemoryBus, MemoryObjectStore, MemoryQueue } from '../../shared/adapters/local/memory-messaging.js';
import { MemoryImageStore, MemoryPackageIndex } from '../../shared/adapters/local/memory-stores.js';
import { noMetrics, silentLog } from '../../shared/pipeline/deps.js';
import { syncFeeds, type AdvisoriesUpdated, type FeedSyncDeps } from '../../shared/pipeline/feed-sync.js';
import { reevaluateAll, rescanKeys } from '../../shared/pipeline/rescan.js';
import type { EvaluateJob } from '../../shared/pipeline/messages.js';
import { osvRecord, startOsvServer, type OsvServer } from '../support/osv-server.js';

let osv: OsvServer;

beforeAll(async () => {
  osv = await startOsvServer();
});
afterAll(async () => {
  await osv.stop();
});

function deps(over: Partial<FeedSyncDeps> = {}): FeedSyncDeps & { bus: MemoryBus; advisories: MemoryAdvisoryStore; objects: MemoryObjectStore } {
  return { advisories: new MemoryAdvisoryStore(), objects: new MemoryObjectStore(), bus: new MemoryBus(), log: silentLog, metrics: noMetrics, now: () => new Date('2026-11-23T12:00:00Z'), ...over } as never;
}

const keysOf = (bus: MemoryBus) => bus.events.flatMap((e) => (e.detail as AdvisoriesUpdated).keys.map((k) => `${k.ecosystem}|${k.name}`)).sort();

describe('feed sync (local OSV server, memory ports)', () => {
  it('first sync writes and announces every key; the same feed again costs one 304 and announces nothing', async () => {
    osv.set('npm', [osvRecord('GHSA-1', 'npm', 'lodash', '4.17.21'), osvRecord('GHSA-2', 'npm', 'minimist', '1.2.6')]);
    const d = deps();
    const [first] = await syncFeeds(d, { ecosystems: ['npm'], baseUrl: osv.url });
    expect(first).toMatchObject({ status: 'updated', records: 2, changedAdvisories: 2, changedKeys: 2, events: 1 });
    expect(keysOf(d.bus)).toEqual(['npm|lodash', 'npm|minimist']);
    expect(d.bus.events[0]).toMatchObject({ source: 'drydock.feeds', detailType: 'Advisories Updated', detail: { schema: 'drydock.advisories-updated/1', ecosystem: 'npm', part: 1 } });
    expect((await d.advisories.forPackage({ ecosystem: 'npm', name: 'lodash' })).map((a) => a.id)).toEqual(['GHSA-1']);

    const [second] = await syncFeeds(d, { ecosystems: ['npm'], baseUrl: osv.url });
    expect(second).toMatchObject({ status: 'unchanged', events: 0 });
    expect(osv.requests.at(-1)).toMatchObject({ status: 304 });
    expect(d.bus.events).toHaveLength(1);
  });

  it('a new feed version announces only the keys of new or modified advisories, and keys an advisory stopped naming', async () => {
    osv.set('PyPI', [osvRecord('PYSEC-1', 'PyPI', 'requests', '2.32.0'), osvRecord('PYSEC-2', 'PyPI', 'urllib3', '2.2.2'), osvRecord('PYSEC-3', 'PyPI', 'jinja2', '3.1.4')]);
    const d = deps();
    await syncFeeds(d, { ecosystems: ['PyPI'], baseUrl: osv.url });
    d.bus.events.length = 0;
    osv.set('PyPI', [
      osvRecord('PYSEC-1', 'PyPI', 'requests', '2.32.0'),
      osvRecord('PYSEC-2', 'PyPI', 'urllib3', '2.2.3', '2026-11-22T00:00:00Z'),
      osvRecord('PYSEC-3', 'PyPI', 'markupsafe', '2.1.5', '2026-11-22T00:00:00Z'),
      osvRecord('PYSEC-4', 'PyPI', 'django', '5.1.4'),
    ]);
    const [r] = await syncFeeds(d, { ecosystems: ['PyPI'], baseUrl: osv.url });
    expect(r).toMatchObject({ records: 4, changedAdvisories: 3 });
    expect(keysOf(d.bus)).toEqual(['PyPI|django', 'PyPI|jinja2', 'PyPI|markupsafe', 'PyPI|urllib3']);
    expect(await d.advisories.forPackage({ ecosystem: 'PyPI', name: 'jinja2' })).toEqual([]);
  });

  it('a sync cut off after its first checkpoint resumes: nothing announced twice, nothing lost', async () => {
    const records = Array.from({ length: 6 }, (_, i) => osvRecord(`GO-${i}`, 'Go', `example.com/m${i}`, '1.0.1'));
    osv.set('Go', records);
    const bus = new MemoryBus();
    let puts = 0;
    const flaky = { put: async (events: Parameters<MemoryBus['put']>[0]) => (++puts === 2 ? { failed: events.length } : bus.put(events)) };
    const d = deps({ bus: flaky as never });
    await expect(syncFeeds(d, { ecosystems: ['Go'], baseUrl: osv.url, checkpointEvery: 2 })).rejects.toThrow(/refused by the event bus/);
    expect(keysOf(bus)).toHaveLength(2);
    // the next run: the feed has not changed, but the interrupted run is resumed (no 304)
    const [r] = await syncFeeds(d, { ecosystems: ['Go'], baseUrl: osv.url, checkpointEvery: 2 });
    expect(r).toMatchObject({ status: 'updated', changedAdvisories: 4 });
    expect(keysOf(bus)).toEqual(records.map((_, i) => `Go|example.com/m${i}`).sort());
    const parts = bus.events.map((e) => (e.detail as AdvisoriesUpdated).part);
    expect(parts).toEqual([1, 2, 3]);
    expect(new Set(bus.events.map((e) => (e.detail as AdvisoriesUpdated).updateId)).size).toBe(1);
  });

  it('an unknown ecosystem is a clear configuration error; the other ecosystems still sync', async () => {
    osv.set('crates.io', [osvRecord('RUSTSEC-1', 'crates.io', 'time', '0.2.23')]);
    const d = deps();
    await expect(syncFeeds(d, { ecosystems: ['Npm', 'crates.io'], baseUrl: osv.url })).rejects.toThrow(/no OSV feed at .*\/Npm\/all\.zip \(404\)/);
    expect(keysOf(d.bus)).toEqual(['crates.io|time']);
  });

  it('many changed keys are split into events of at most 400 keys', async () => {
    osv.set('Maven', Array.from({ length: 950 }, (_, i) => osvRecord(`GHSA-m${i}`, 'Maven', `org.example:lib${i}`, '1.0.1')));
    const d = deps();
    const [r] = await syncFeeds(d, { ecosystems: ['Maven'], baseUrl: osv.url });
    expect(r).toMatchObject({ changedKeys: 950, events: 3 });
    expect(d.bus.events.map((e) => (e.detail as AdvisoriesUpdated).keys.length)).toEqual([400, 400, 150]);
  });
});

describe('rescan (memory ports)', () => {
  async function indexed(n: number) {
    const index = new MemoryPackageIndex();
    for (let i = 0; i < n; i++) {
      const digest = `sha256:${i.toString(16).padStart(64, '0')}`;
      await index.replaceForImage(digest, [
        { key: { ecosystem: 'Debian:12', name: 'base-files' }, digest, repository: 'r', versions: ['12.4'] },
        { key: { ecosystem: 'npm', name: `lib${i % 4}` }, digest, repository: 'r', versions: ['1.0.0'] },
      ]);
    }
    return index;
  }

  it('queues one evaluate job per image holding a changed key, reading only those index items', async () => {
    const queue = new MemoryQueue();
    const d = { packageIndex: await indexed(20), images: new MemoryImageStore(), evaluateQueue: queue, log: silentLog, metrics: noMetrics, now: () => new Date() };
    const r = await rescanKeys(d, [{ ecosystem: 'npm', name: 'lib1' }, { ecosystem: 'npm', name: 'lib1' }, { ecosystem: 'npm', name: 'nothere' }], 'npm@"e1"#1');
    expect(r).toEqual({ keys: 3, itemsRead: 10, images: 5, jobs: 5 });
    const jobs = queue.sent as EvaluateJob[];
    expect(jobs.map((j) => j.reason)).toEqual(['rescan', 'rescan', 'rescan', 'rescan', 'rescan']);
    expect(new Set(jobs.map((j) => j.trigger))).toEqual(new Set(['npm@"e1"#1']));
    expect(new Set(jobs.map((j) => j.digest)).size).toBe(5);
  });

  it('a full re-evaluation spreads its jobs with growing delays', async () => {
    const queue = new MemoryQueue();
    const images = new MemoryImageStore();
    for (let i = 0; i < 45; i++) {
      const digest = `sha256:${i.toString(16).padStart(64, 'a')}`;
      await images.claim({ digest, registry: 'r', repository: 'x', jobId: 'j', analysisVersion: 'v', now: new Date(), staleAfterMs: 1 });
      await images.update(digest, { status: 'evaluated', updatedAt: new Date().toISOString() });
    }
    const r = await reevaluateAll({ packageIndex: new MemoryPackageIndex(), images, evaluateQueue: queue, log: silentLog, metrics: noMetrics, now: () => new Date() }, 'schedule:1', { perSecond: 10 });
    expect(r.jobs).toBe(45);
    expect(queue.log.map((m) => m.opts?.delaySeconds)).toEqual([...Array(10).fill(0), ...Array(10).fill(1), ...Array(10).fill(2), ...Array(10).fill(3), ...Array(5).fill(4)]);
  });
});
