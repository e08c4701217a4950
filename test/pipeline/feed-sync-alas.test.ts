/**
 * The pipeline's feed-sync for Amazon Linux (memory ports; a real local HTTP server serving the
 * real updateinfo fixtures through mirror.list → repomd.xml): advisories upserted under
 * "Amazon Linux:<release>" + binary name (as lookupsFor looks them up), changed keys announced,
 * an unchanged repomd downloads nothing, a wrong checksum stores nothing, and the summary makes
 * an AL2023 inventory covered the way the evaluator checks it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryAdvisoryStore } from '../../shared/adapters/local/memory-advisory-store.js';
import { MemoryBus, MemoryObjectStore } from '../../shared/adapters/local/memory-messaging.js';
import { coverageOf, imageEcosystems } from '../../shared/match/coverage.js';
import { lookupsFor, matchInventory } from '../../shared/match/index.js';
import { noMetrics, silentLog } from '../../shared/pipeline/deps.js';
import { ALAS_SUMMARY_BASE, feedSummaryKey, runFeedSync, type AdvisoriesUpdated, type FeedSummary, type FeedSyncDeps } from '../../shared/pipeline/feed-sync.js';
import type { Distro, Package } from '../../shared/catalog/types.js';
import { AMAZON, startAlasServer, type AlasServer } from '../support/alas-server.js';

let server: AlasServer;
const AL2023 = join(AMAZON, 'updateinfo', 'al2023-core.ALAS2023-2023-001.vuln-list-update.xml.gz');
const AL2 = join(AMAZON, 'updateinfo', 'al2-core.ALAS2-2018-942+949.vuln-list-update.xml.gz');
const KERNEL515 = join(AMAZON, 'updateinfo', 'al2-extras-kernel-5.15.ALAS2KERNEL-5.15-2022-001.vuls-data-update.xml.gz');

beforeAll(async () => {
  server = await startAlasServer();
});
afterAll(async () => {
  await server.stop();
});

function deps(): FeedSyncDeps & { bus: MemoryBus; advisories: MemoryAdvisoryStore; objects: MemoryObjectStore } {
  return { advisories: new MemoryAdvisoryStore(), objects: new MemoryObjectStore(), bus: new MemoryBus(), log: silentLog, metrics: noMetrics, now: () => new Date('2026-12-07T06:00:00Z') } as never;
}
const keysOf = (bus: MemoryBus) => bus.events.flatMap((e) => (e.detail as AdvisoriesUpdated).keys.map((k) => `${k.ecosystem}|${k.name}`)).sort();
const downloads = () => server.requests.filter((r) => r.path.endsWith('updateinfo.xml.gz')).length;
const summaryOf = async (d: ReturnType<typeof deps>) => {
  const b = await d.objects.get(feedSummaryKey(ALAS_SUMMARY_BASE));
  return b ? (JSON.parse(b.toString('utf8')) as FeedSummary) : undefined;
};

const rsyslog: Package = { type: 'rpm', name: 'rsyslog', version: '8.2204.0-1.amzn2023.0.1', purl: 'pkg:rpm/amazon/rsyslog@8.2204.0-1.amzn2023.0.1?distro=amzn-2023', locations: [] } as unknown as Package;
const distro = { id: 'amzn', versionId: '2023', prettyName: 'Amazon Linux 2023' } as unknown as Distro;
const inventory = { packages: [rsyslog], distro };

describe('feed sync of Amazon Linux streams (local mirror server, memory ports)', () => {
  it('upserts the advisories under the keys the matcher looks up, announces them, and covers AL2023 in the evaluator', async () => {
    await server.set('al2023-core', await readFile(AL2023));
    await server.set('al2-core', await readFile(AL2));
    const d = deps();
    // before any sync: an AL2023 image is "advisory data missing"
    expect(await summaryOf(d)).toBeUndefined();

    const run = await runFeedSync(d, { ecosystems: [], alasStreams: ['al2-core', 'al2023-core'], alasSources: server.sources });
    expect(run.complete).toBe(true);
    expect(run.ecosystems.map((e) => [e.ecosystem, e.status])).toEqual([
      ['alas/al2-core', 'updated'],
      ['alas/al2023-core', 'updated'],
    ]);
    const keys = keysOf(d.bus);
    expect(keys).toContain('Amazon Linux:2023|rsyslog');
    expect(keys.every((k) => /^Amazon Linux:(2|2023)\|/.test(k))).toBe(true);
    expect(d.bus.events[0]).toMatchObject({ source: 'drydock.feeds', detailType: 'Advisories Updated', detail: { schema: 'drydock.advisories-updated/1', part: 1 } });

    // the key the matcher looks the image's rsyslog up by holds ALAS2023-2023-001
    const { lookups } = lookupsFor(rsyslog, distro);
    expect(lookups.map((l) => `${l.key.ecosystem}|${l.key.name}`)).toEqual(['Amazon Linux:2023|rsyslog']);
    expect((await d.advisories.forPackage(lookups[0]!.key)).map((a) => a.id)).toEqual(['ALAS2023-2023-001']);
    const match = await matchInventory(inventory, d.advisories);
    expect(match.findings.length).toBeGreaterThan(0);
    expect(match.findings.every((f) => [f.id, ...f.aliases, ...(f.related ?? [])].includes('ALAS2023-2023-001') || JSON.stringify(f).includes('ALAS2023-2023-001'))).toBe(true);

    // the summary the evaluator reads: "Amazon Linux:2023" → base "Amazon Linux" → covered
    const summary = await summaryOf(d);
    expect(summary).toMatchObject({ format: 'drydock.feed-summary/1', ecosystem: 'Amazon Linux', syncedAt: '2026-12-07T06:00:00.000Z' });
    expect(summary!.ecosystems).toEqual(['Amazon Linux:2', 'Amazon Linux:2023']);
    const ecosystems = imageEcosystems(inventory);
    expect(ecosystems).toEqual(['Amazon Linux:2023']);
    expect(new Set(ecosystems.map((e) => e.split(':')[0]))).toEqual(new Set([ALAS_SUMMARY_BASE]));
    expect(coverageOf(ecosystems, summary!.ecosystems)).toEqual({ covered: ['Amazon Linux:2023'], uncovered: [] });

    // a second run with unchanged repomd.xml: 304s, nothing downloaded, nothing announced
    const events = d.bus.events.length;
    const before = downloads();
    const again = await runFeedSync(d, { ecosystems: [], alasStreams: ['al2-core', 'al2023-core'], alasSources: server.sources });
    expect(again.ecosystems.map((e) => e.status)).toEqual(['unchanged', 'unchanged']);
    expect(downloads()).toBe(before);
    expect(d.bus.events).toHaveLength(events);
    expect(server.requests.filter((r) => r.path.endsWith('repomd.xml')).slice(-2).map((r) => r.status)).toEqual([304, 304]);
  });

  it('a wrong checksum fails the stream clearly (logged, counted) and stores nothing; the other streams still sync', async () => {
    await server.set('al2023-core', await readFile(AL2023), { corrupt: true });
    await server.set('al2-core', await readFile(AL2));
    const d = deps();
    const errors: Array<{ message: string; data?: unknown }> = [];
    const counted: string[] = [];
    d.log = { ...d.log, error: (message: string, data?: Record<string, unknown>) => void errors.push({ message, data }) };
    d.metrics = { ...d.metrics, add: (name: string) => void counted.push(name) };
    const run = await runFeedSync(d, { ecosystems: [], alasStreams: ['al2023-core', 'al2-core'], alasSources: server.sources });
    expect(run.alasFailed).toEqual(['alas/al2023-core']);
    expect(JSON.stringify(errors)).toMatch(/sha256 [0-9a-f]{64} does not match repomd\.xml's [0-9a-f]{64}: nothing was stored/);
    expect(counted).toContain('AlasStreamFailures');
    expect(await d.advisories.forPackage({ ecosystem: 'Amazon Linux:2023', name: 'rsyslog' })).toEqual([]);
    expect(keysOf(d.bus).some((k) => k.startsWith('Amazon Linux:2023|'))).toBe(false);
    expect(keysOf(d.bus).some((k) => k.startsWith('Amazon Linux:2|'))).toBe(true);
    // only AL2 is covered: an AL2023 image stays "advisory data missing"
    expect((await summaryOf(d))!.ecosystems).toEqual(['Amazon Linux:2']);
  });

  it('an extras topic lands under Amazon Linux:2 with its topic noted; no streams configured syncs nothing', async () => {
    await server.set('al2-extras/kernel-5.15', await readFile(KERNEL515));
    await server.set('al2-extras/golang1.19', Buffer.alloc(0), { noUpdateinfo: true });
    const d = deps();
    // "al2-extras": every topic of the catalog; a topic whose repomd names no updateinfo is empty, not an error
    const run = await runFeedSync(d, { ecosystems: [], alasStreams: ['al2-extras'], alasSources: server.sources });
    expect(run.ecosystems).toMatchObject([
      { ecosystem: 'alas/al2-extras/kernel-5.15', status: 'updated' },
      { ecosystem: 'alas/al2-extras/golang1.19', status: 'unchanged', records: 0 },
    ]);
    const kernel = await d.advisories.forPackage({ ecosystem: 'Amazon Linux:2', name: 'kernel' });
    expect(kernel.map((a) => a.id)).toContain('ALAS2KERNEL-5.15-2022-001');
    expect(JSON.stringify(kernel)).toContain('5.15');
    expect((await summaryOf(d))!.ecosystems).toEqual(['Amazon Linux:2']);
    expect(keysOf(d.bus).every((k) => k.startsWith('Amazon Linux:2|'))).toBe(true);
    const none = deps();
    expect(await runFeedSync(none, { ecosystems: [], alasStreams: [] })).toMatchObject({ complete: true, ecosystems: [] });
    expect(none.bus.events).toHaveLength(0);
  });
});
