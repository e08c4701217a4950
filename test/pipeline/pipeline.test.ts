/**
 * The pipeline core in one process on in-memory stores and queues, reading real images from
 * the real local registry: push event → analyzer → evaluate job → evaluator → published
 * result; duplicates, fan-out into layer jobs, and each failure class of DESIGN.md §4.
 * (The same flow on DynamoDB Local, S3 and SQS servers is test/pipeline/e2e.test.ts.)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryAdvisoryStore } from '../../shared/adapters/local/memory-advisory-store.js';
import { MemoryObjectStore } from '../../shared/adapters/local/memory-messaging.js';
import { feedSummaryKey } from '../../shared/pipeline/feed-sync.js';
import { drainLocal, localPipeline } from '../../shared/pipeline/local.js';
import type { ResultMessage } from '../../shared/pipeline/messages.js';
import { prepareAnalyzerMessage } from '../../shared/pipeline/run.js';
import type { PipelineConfig } from '../../shared/pipeline/config.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { debianLayers, pushEvent, pushImage, REPOSITORY, zlibAdvisory } from './support.js';

let registry: TestRegistry;
let work: string;
let digest: string;

/**
 * The bucket as feed-sync leaves it after syncing OSV's Debian feed just now: the evaluator
 * checks coverage by these summaries and fails a verdict closed without them (issue 15).
 */
function syncedFeeds(): MemoryObjectStore {
  const objects = new MemoryObjectStore();
  const summary = { format: 'drydock.feed-summary/1', ecosystem: 'Debian', ecosystems: ['Debian:12'], advisories: 1, syncedAt: new Date().toISOString() };
  objects.objects.set(feedSummaryKey('Debian'), { bytes: Buffer.from(JSON.stringify(summary)), contentType: 'application/json' });
  return objects;
}

function pipeline(config: Partial<PipelineConfig> = {}) {
  const advisories = new MemoryAdvisoryStore();
  advisories.add(zlibAdvisory());
  return localPipeline({ advisories, objects: syncedFeeds(), config: { registryOverride: registry.host, fanoutMinLayers: 0, ...config } });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-pipeline-'));
  registry = await startRegistry();
  digest = await pushImage(work, registry.host, '1.0.0');
}, 60_000);

afterAll(async () => {
  await registry?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('push event to published result (in-process, memory adapters)', () => {
  it('analyses, evaluates and publishes once; the same event again changes nothing', async () => {
    const p = pipeline();
    const event = pushEvent(digest, '1.0.0');
    const first = await drainLocal(p, [event]);
    expect(first.outcomes.map((o) => o.outcome)).toEqual(['analyzed', 'evaluated']);
    expect(p.publisher.messages).toHaveLength(1);
    const { message, attributes } = p.publisher.messages[0]! as { message: ResultMessage; attributes: Record<string, string> };
    expect(attributes).toEqual({ status: 'warn', highestSeverity: 'unknown', repository: REPOSITORY, changed: 'true' });
    expect(message).toMatchObject({
      schema: 'drydock.result/1',
      status: 'warn',
      changed: true,
      image: { digest, registry: '111122223333.dkr.ecr.eu-west-1.amazonaws.com', repository: REPOSITORY, tags: ['1.0.0'], platform: 'linux/amd64', distro: 'debian 12' },
      counts: { unknown: 1, critical: 0 },
      topFindings: [{ id: 'CVE-2099-0001', package: 'zlib1g', version: '1:1.2.13.dfsg-1', fixedIn: '1:1.2.13.dfsg-1+deb12u1' }],
    });
    const record = await p.deps.images.get(digest);
    expect(record).toMatchObject({ status: 'evaluated', packageCount: 3, distro: 'debian 12', lastVerdict: { status: 'warn', findings: 1 } });
    expect(record?.claimedBy).toBeUndefined();
    expect(await p.deps.objects.exists(record!.inventoryKey!)).toBe(true);
    expect(JSON.parse((await p.deps.objects.get(record!.sbomKey!))!.toString()).bomFormat).toBe('CycloneDX');
    const holders = await p.deps.packageIndex.imagesFor({ ecosystem: 'Debian:12', name: 'zlib' });
    expect(holders.map((h) => [h.digest, h.versions])).toEqual([[digest, ['1:1.2.13.dfsg-1']]]);

    const again = await drainLocal(p, [event]);
    expect(again.outcomes).toEqual([{ outcome: 'skipped', digest, why: 'done' }]);
    expect(p.publisher.messages).toHaveLength(1);
    expect(await p.deps.images.get(digest)).toEqual(await p.deps.images.get(digest));
    expect((await p.deps.results.history(digest, 10)).length).toBe(1);
  });

  it('a second tag pushed for the same digest is recorded and published for, without a second analysis', async () => {
    const p = pipeline();
    await drainLocal(p, [pushEvent(digest, '1.0.0')]);
    const r = await drainLocal(p, [pushEvent(digest, 'latest')]);
    expect(r.outcomes.map((o) => o.outcome)).toEqual(['skipped', 'evaluated']);
    expect((await p.deps.images.get(digest))?.tags.sort()).toEqual(['1.0.0', 'latest']);
    expect(p.publisher.messages.map((m) => (m.message as ResultMessage).newTags)).toEqual([undefined, ['latest']]);
    expect((await p.deps.images.get(digest))?.analyzedAt).toBeDefined();
  });

  it('repositories outside DRYDOCK_REPOSITORIES are skipped before the registry is asked anything', async () => {
    const p = pipeline({ repositories: ['other/*'] });
    const r = await drainLocal(p, [pushEvent(digest, '1.0.0')]);
    expect(r.outcomes).toEqual([{ outcome: 'skipped', why: 'repository team/api is not in DRYDOCK_REPOSITORIES' }]);
    expect(await p.deps.images.get(digest)).toBeUndefined();
  });
});

describe('fail closed on missing or stale advisory data (issue 15)', () => {
  function bare(advisoryGate?: PipelineConfig['advisoryGate'], objects = new MemoryObjectStore()) {
    const advisories = new MemoryAdvisoryStore();
    advisories.add(zlibAdvisory());
    return localPipeline({ advisories, objects, config: { registryOverride: registry.host, fanoutMinLayers: 0, ...(advisoryGate ? { advisoryGate } : {}) } });
  }

  it('no synced feed covers Debian:12: the verdict is fail, the result names the uncovered ecosystem; DRYDOCK_ALLOW_MISSING_ADVISORIES=1 accepts it', async () => {
    const p = bare();
    await drainLocal(p, [pushEvent(digest, '1.0.0')]);
    const message = p.publisher.messages[0]!.message as ResultMessage;
    expect(message.status).toBe('fail');
    expect(message.advisoryData).toMatchObject({ covered: [], uncovered: ['Debian:12'], problems: ['advisory data missing for Debian:12: no synced feed covers it'], accepted: false });
    expect(message.policy?.reason).toMatch(/^advisory data missing or stale: advisory data missing for Debian:12/);
    {
      const accepted = bare({ allowMissing: true, maxAgeMs: 5 * 86_400_000, maxAgeText: '5d' });
      await drainLocal(accepted, [pushEvent(digest, '1.0.0')]);
      const m = accepted.publisher.messages[0]!.message as ResultMessage;
      // the policy's own verdict stands: vulnerability_data_unavailable warns (the default bundle)
      expect(m.status).toBe('warn');
      expect(m.advisoryData).toMatchObject({ uncovered: ['Debian:12'], accepted: true });
    }
  });

  it('a feed older than DRYDOCK_MAX_ADVISORY_AGE (default 5d) fails the verdict; the result carries its age', async () => {
    const objects = new MemoryObjectStore();
    const old = { format: 'drydock.feed-summary/1', ecosystem: 'Debian', ecosystems: ['Debian:12'], advisories: 1, producedAt: new Date(Date.now() - 9 * 86_400_000).toISOString(), syncedAt: new Date().toISOString() };
    objects.objects.set(feedSummaryKey('Debian'), { bytes: Buffer.from(JSON.stringify(old)) });
    const p = bare(undefined, objects);
    await drainLocal(p, [pushEvent(digest, '1.0.0')]);
    const message = p.publisher.messages[0]!.message as ResultMessage;
    expect(message.status).toBe('fail');
    expect(message.advisoryData).toMatchObject({ covered: ['Debian:12'], uncovered: [], oldestAgeDays: 9, sources: [{ feed: 'osv/Debian', ageDays: 9 }] });
    expect(message.advisoryData?.problems).toEqual(['advisory data stale: osv/Debian is 9d old, older than DRYDOCK_MAX_ADVISORY_AGE 5d']);
  });
});

describe('fan-out into layer jobs', () => {
  it('one layer job per uncached layer; the last assembles the same inventory as a direct analysis', async () => {
    const direct = pipeline();
    await drainLocal(direct, [pushEvent(digest, '1.0.0')]);
    const fan = pipeline({ fanoutMinLayers: 2 });
    const r = await drainLocal(fan, [pushEvent(digest, '1.0.0')]);
    expect(r.outcomes.map((o) => o.outcome)).toEqual(['fanned-out', 'layer-done', 'layer-done', 'analyzed', 'evaluated']);
    expect(r.outcomes[0]).toMatchObject({ layerJobs: 3 });
    const a = await direct.deps.images.get(digest);
    const b = await fan.deps.images.get(digest);
    expect(b).toMatchObject({ status: 'evaluated', packageCount: a!.packageCount, distro: a!.distro, layers: a!.layers });
    expect(b?.layersDone).toBeUndefined();
    expect((fan.publisher.messages[0]!.message as ResultMessage).counts).toEqual((direct.publisher.messages[0]!.message as ResultMessage).counts);
  });

  it('a redelivered layer job counts once and the image is assembled once', async () => {
    const p = pipeline({ fanoutMinLayers: 2 });
    const first = await drainLocal(p, [pushEvent(digest, '1.0.0')]);
    expect(first.outcomes[0]!.outcome).toBe('fanned-out');
    // replay every layer job the queue carried, as SQS may deliver each more than once
    const layerJobs = p.scanQueue.sent.filter((b) => (b as { schema: string }).schema === 'drydock.layer-job/1');
    expect(layerJobs).toHaveLength(3);
    const replay = await drainLocal(p, layerJobs);
    expect(replay.outcomes.every((o) => o.outcome === 'skipped')).toBe(true);
    expect(p.publisher.messages).toHaveLength(1);
  });
});

describe('failures (DESIGN.md §4)', () => {
  it('a poison message goes to the dead-letter queue with its reason and is not retried', async () => {
    const p = pipeline();
    const r = await drainLocal(p, ['{"schema":"drydock.scan-job/1","jobId":1}']);
    expect(r.retried).toBe(0);
    expect(r.outcomes[0]).toMatchObject({ outcome: 'poison' });
    expect(p.deadLetters.sent).toHaveLength(1);
    expect(p.deadLetters.sent[0]).toMatchObject({ schema: 'drydock.dead-letter/1', reason: expect.stringMatching(/^invalid drydock.scan-job\/1 message: .*required property 'image'.*\/jobId: must be string/), body: '{"schema":"drydock.scan-job/1","jobId":1}' });
  });

  it('an image deleted before analysis is recorded as deleted and published as an error, once', async () => {
    const p = pipeline();
    const gone = `sha256:${'0'.repeat(64)}`;
    const r = await drainLocal(p, [pushEvent(gone, 'gone')]);
    expect(r.retried).toBe(0);
    expect(r.outcomes).toEqual([{ outcome: 'deleted', digest: gone }]);
    expect(await p.deps.images.get(gone)).toMatchObject({ status: 'deleted', error: { code: 'MANIFEST_NOT_FOUND', kind: 'permanent' } });
    expect(p.publisher.messages.map((m) => m.attributes.status)).toEqual(['error']);
    // a redelivery finds the record deleted: nothing more happens
    const again = await drainLocal(p, [pushEvent(gone, 'gone')]);
    expect(again.outcomes).toEqual([{ outcome: 'skipped', digest: gone, why: 'deleted' }]);
    expect(p.publisher.messages).toHaveLength(1);
  });

  it('a permanent error (a layer whose bytes do not match its digest) is recorded and published, not retried', async () => {
    const bad = await pushImage(work, registry.host, 'bad', debianLayers(), 'team/bad');
    const corrupt = await startCorruptingProxy(registry.url);
    try {
      const q = pipeline({ registryOverride: corrupt.host });
      const r = await drainLocal(q, [pushEvent(bad, 'bad', 'team/bad')]);
      expect(r.retried).toBe(0);
      expect(r.outcomes[0]).toMatchObject({ outcome: 'failed', digest: bad, error: { code: 'DIGEST_MISMATCH', kind: 'permanent', job: 'scan' } });
      expect(await q.deps.images.get(bad)).toMatchObject({ status: 'failed', error: { code: 'DIGEST_MISMATCH' } });
      expect(q.publisher.messages).toHaveLength(1);
      expect(q.publisher.messages[0]).toMatchObject({ attributes: { status: 'error' }, message: { status: 'error', error: { code: 'DIGEST_MISMATCH' } } });
      // the same push again: a permanent failure is not retried by a duplicate
      const again = await drainLocal(q, [pushEvent(bad, 'bad', 'team/bad')]);
      expect(again.outcomes[0]).toMatchObject({ outcome: 'skipped', why: 'failed' });
    } finally {
      await corrupt.stop();
    }
  });

  it('registry 500s are retried; the attempt that reaches maxReceiveCount records RETRIES_EXHAUSTED and publishes an error', async () => {
    const proxy = await startFaultProxy(registry.url, (req) => (req.url?.includes('/blobs/') ? { status: 500 } : 'pass'));
    try {
      const p = pipeline({ registryOverride: proxy.host, maxReceiveCount: 3 });
      const r = await drainLocal(p, [pushEvent(digest, '1.0.0')]);
      expect(r.retried).toBe(2);
      const record = await p.deps.images.get(digest);
      expect(record).toMatchObject({ status: 'failed', error: { code: 'RETRIES_EXHAUSTED', kind: 'retryable' } });
      expect(record?.error?.message).toMatch(/gave up after 3 attempts.*SERVER_ERROR/);
      expect(p.publisher.messages.map((m) => m.attributes.status)).toEqual(['error']);
    } finally {
      await proxy.stop();
    }
  });

  it('registry resets then recovery: the redelivery completes the analysis', async () => {
    let resets = 0;
    const proxy = await startFaultProxy(registry.url, (req) => (req.url?.includes('/blobs/') && resets++ < 6 ? 'reset' : 'pass'));
    try {
      const p = pipeline({ registryOverride: proxy.host });
      const r = await drainLocal(p, [pushEvent(digest, '1.0.0')]);
      expect(r.retried).toBeGreaterThanOrEqual(1);
      expect(r.outcomes.at(-1)).toMatchObject({ outcome: 'evaluated' });
      expect(await p.deps.images.get(digest)).toMatchObject({ status: 'evaluated' });
      expect(p.publisher.messages.map((m) => m.attributes.status)).toEqual(['warn']);
    } finally {
      await proxy.stop();
    }
  });

  it('a deadline mid-analysis (the Lambda timeout) is retryable, and the redelivery completes the work from the layer cache', async () => {
    const p = pipeline();
    const event = JSON.stringify(pushEvent(digest, '1.0.0'));
    // the first delivery is cut off once the first layer has been read and cached
    const stop = new AbortController();
    let layers = 0;
    const cache = p.deps.objects;
    const origPut = cache.put.bind(cache);
    cache.put = async (key, body, opts) => {
      await origPut(key, body, opts);
      if (key.startsWith('layers/') && ++layers === 1) stop.abort(new Error('deadline'));
    };
    const first = prepareAnalyzerMessage(event, { ...p.deps, config: { ...p.deps.config, concurrency: 1 } }, { messageId: 'm1', receiveCount: 1, signal: stop.signal });
    await expect(first.run()).rejects.toMatchObject({ code: 'ABORTED', kind: 'retryable' });
    expect(await p.deps.images.get(digest)).toMatchObject({ status: 'analyzing', attempts: 1, error: { code: 'ABORTED' } });
    const second = await prepareAnalyzerMessage(event, p.deps, { messageId: 'm1', receiveCount: 2 }).run();
    expect(second).toMatchObject({ outcome: 'analyzed', layersCached: 1, layersRead: 2 });
  });

  it('a malformed policy bundle in the bucket fails evaluation with its problems, published as an error', async () => {
    const p = pipeline({ policyKey: 'policy/bundle.json' });
    await p.deps.objects.put('policy/bundle.json', '{"id":"x","version":"2","policies":[{"id":"p","rules":[{"gate":"vulnerabilitys","trigger":"package","action":"STOP"}]}]}');
    const r = await drainLocal(p, [pushEvent(digest, '1.0.0')]);
    expect(r.retried).toBe(0);
    expect(r.outcomes.map((o) => o.outcome)).toEqual(['analyzed', 'failed']);
    const record = await p.deps.images.get(digest);
    expect(record).toMatchObject({ status: 'analyzed', error: { job: 'evaluate' } });
    expect(record?.error?.message).toMatch(/vulnerabilitys/);
    expect(p.publisher.messages[0]).toMatchObject({ attributes: { status: 'error' } });
  });

  it('an ECR DELETE marks the analysed image deleted', async () => {
    const p = pipeline();
    await drainLocal(p, [pushEvent(digest, '1.0.0')]);
    const del = { ...pushEvent(digest, '1.0.0'), id: 'delete-1' };
    del.detail['action-type'] = 'DELETE';
    const r = await drainLocal(p, [del]);
    expect(r.outcomes).toEqual([{ outcome: 'deleted', digest }]);
    expect((await p.deps.images.get(digest))?.status).toBe('deleted');
  });
});

/** A proxy that alters one byte of every blob it forwards (the registry's bytes, not its headers). */
async function startCorruptingProxy(target: string) {
  const { createServer, request } = await import('node:http');
  const to = new URL(target);
  const server = createServer((req, res) => {
    const up = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } }, (u) => {
      const corrupt = Boolean(req.url?.includes('/blobs/')) && req.method === 'GET' && (u.statusCode ?? 0) === 200;
      res.writeHead(u.statusCode ?? 502, u.headers);
      let first = true;
      u.on('data', (chunk: Buffer) => {
        if (corrupt && first && chunk.length > 40) {
          chunk = Buffer.from(chunk);
          chunk[chunk.length - 1] = chunk[chunk.length - 1]! ^ 0xff;
          first = false;
        }
        res.write(chunk);
      });
      u.on('end', () => res.end());
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { host: `127.0.0.1:${port}`, stop: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}
