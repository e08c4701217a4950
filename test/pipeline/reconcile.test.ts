/**
 * Reconciliation (shared/pipeline/reconcile.ts) on the in-memory ports: the registry twin
 * (paged like ECR), the image store and a queue. Only tagged images of watched repositories that
 * Drydock has no record of are queued, as valid scan jobs the analyzer reads; the run is bounded
 * by its signal and its job cap, and one failing repository does not stop the others.
 */
import { describe, expect, it } from 'vitest';
import { MemoryQueue } from '../../shared/adapters/local/memory-messaging.js';
import { MemoryRegistryApi } from '../../shared/adapters/local/memory-registry.js';
import { MemoryImageStore } from '../../shared/adapters/local/memory-stores.js';
import { noMetrics, silentLog, type PipelineLog } from '../../shared/pipeline/deps.js';
import { parseAnalyzerBody, type ScanJob } from '../../shared/pipeline/messages.js';
import { reconcile, type ReconcileDeps } from '../../shared/pipeline/reconcile.js';
import type { RegistryApi } from '../../shared/ports/stores.js';

const NOW = new Date('2026-12-07T05:00:00Z');
const ACCOUNT = '123456789012';
const d = (n: number) => `sha256:${String(n).padStart(64, '0')}`;

function setup(registry: RegistryApi = new MemoryRegistryApi(ACCOUNT, 2)) {
  const images = new MemoryImageStore();
  const scanQueue = new MemoryQueue();
  const warnings: Array<{ m: string; extra?: Record<string, unknown> }> = [];
  const errors: string[] = [];
  const log: PipelineLog = { ...silentLog, warn: (m, extra) => warnings.push({ m, ...(extra ? { extra } : {}) }), error: (m) => errors.push(m) };
  const deps: ReconcileDeps = { registry, images, scanQueue, log, metrics: noMetrics, now: () => NOW };
  return { deps, images, scanQueue, warnings, errors };
}

async function record(images: MemoryImageStore, digest: string, repository: string) {
  await images.claim({ digest, registry: `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com`, repository, jobId: 'push', analysisVersion: 'v', now: NOW, staleAfterMs: 60_000 });
}

describe('reconciliation (memory ports)', () => {
  it('queues exactly the tagged images of watched repositories that have no record, as scan jobs the analyzer reads', async () => {
    const registry = new MemoryRegistryApi(ACCOUNT, 2)
      .push('team/api', d(1), ['v1', 'latest'])
      .push('team/api', d(2), ['v2'])
      .push('team/api', d(3), []) // untagged (a platform manifest of an index): never listed
      .push('team/api', d(4), ['v4'])
      .push('team/web', d(5), ['1.0'])
      .push('team/web', d(1), ['copy']) // the same content in two repositories: one job
      .push('other', d(6), ['x']);
    const s = setup(registry);
    await record(s.images, d(2), 'team/api');
    const failed = await s.images.claim({ digest: d(4), registry: 'r', repository: 'team/api', jobId: 'j', analysisVersion: 'v', now: NOW, staleAfterMs: 1 });
    await s.images.update(failed.record.digest, { status: 'failed' });

    const report = await reconcile(s.deps, { repositories: ['team/*'], region: 'eu-west-1' });
    expect(report).toEqual({ complete: true, repositories: 2, images: 5, known: 2, queued: 2, remaining: [] });
    const jobs = s.scanQueue.sent as ScanJob[];
    expect(jobs).toEqual([
      {
        schema: 'drydock.scan-job/1',
        jobId: `reconcile:${d(1)}`,
        image: { registry: `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com`, repository: 'team/api', digest: d(1), tag: 'v1' },
        reason: 'push',
        requestedAt: NOW.toISOString(),
        requestedBy: 'drydock-reconcile',
      },
      expect.objectContaining({ jobId: `reconcile:${d(5)}`, image: { registry: `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com`, repository: 'team/web', digest: d(5), tag: '1.0' } }),
    ]);
    for (const j of jobs) expect(parseAnalyzerBody(JSON.stringify(j))).toEqual({ kind: 'scan', job: j });
    // listed in pages (2 per page here), as ECR pages them
    expect(registry.pagesRead).toBeGreaterThan(4);

    // no globs: every repository; what was queued before is queued again only while it still has no record
    await record(s.images, d(1), 'team/api');
    const all = await reconcile(s.deps, { repositories: [], region: 'eu-west-1' });
    expect(all).toMatchObject({ complete: true, repositories: 3, queued: 2 });
    expect((s.scanQueue.sent as ScanJob[]).slice(2).map((j) => j.image.digest)).toEqual([d(6), d(5)]);
  });

  it('stops at its job cap, says so, and the next run carries on', async () => {
    const registry = new MemoryRegistryApi(ACCOUNT, 1000);
    for (let i = 1; i <= 5; i++) registry.push('team/api', d(i), [`v${i}`]);
    registry.push('team/zzz', d(9), ['v9']);
    const s = setup(registry);
    const first = await reconcile(s.deps, { repositories: [], region: 'eu-west-1', maxJobs: 3 });
    expect(first).toMatchObject({ complete: false, stoppedBy: 'job-limit', queued: 3, remaining: ['team/api', 'team/zzz'] });
    expect(s.warnings.map((w) => w.m)).toContain('reconciliation stopped at its limit of 3 scan jobs per run; the next run continues');
    // the analyzer records what was queued; the next period queues the rest
    for (const j of s.scanQueue.drain() as ScanJob[]) await record(s.images, j.image.digest!, j.image.repository);
    const second = await reconcile(s.deps, { repositories: [], region: 'eu-west-1', maxJobs: 3 });
    expect(second).toMatchObject({ complete: true, queued: 3 });
    expect((s.scanQueue.drain() as ScanJob[]).map((j) => j.image.digest)).toEqual([d(4), d(5), d(9)]);
  });

  it('stops at its time budget between pages and logs the repositories it did not reach', async () => {
    const registry = new MemoryRegistryApi(ACCOUNT, 2);
    for (const repo of ['a', 'b', 'c']) registry.push(repo, d(repo.charCodeAt(0)), ['t']);
    const s = setup(registry);
    const controller = new AbortController();
    const queue = s.scanQueue;
    // the deadline passes while the first repository's jobs are being sent
    s.deps.scanQueue = { send: queue.send.bind(queue), sendBatch: async (b, o) => { await queue.sendBatch(b, o); controller.abort(); } };
    const report = await reconcile(s.deps, { repositories: [], region: 'eu-west-1', signal: controller.signal });
    expect(report).toMatchObject({ complete: false, stoppedBy: 'deadline', repositories: 1, queued: 1, remaining: ['b', 'c'] });
    expect(s.warnings).toContainEqual({ m: 'reconciliation stopped at its time budget; the next run continues', extra: { remaining: ['b', 'c'], queued: 1 } });
  });

  it('a repository that fails is logged and the others are still reconciled; the run then fails with that error', async () => {
    const inner = new MemoryRegistryApi(ACCOUNT).push('bad', d(1), ['t']).push('good', d(2), ['t']);
    const registry: RegistryApi = {
      imageExists: inner.imageExists.bind(inner),
      listRepositories: () => inner.listRepositories(),
      listImages: (repo) => {
        if (repo === 'bad') throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
        return inner.listImages(repo);
      },
    };
    const s = setup(registry);
    await expect(reconcile(s.deps, { repositories: [], region: 'eu-west-1' })).rejects.toThrow(/Rate exceeded/);
    expect((s.scanQueue.sent as ScanJob[]).map((j) => j.image.repository)).toEqual(['good']);
    expect(s.errors).toEqual(['reconciling a repository failed; the others continue']);
  });

  it('a repository deleted while it is listed is skipped; a tag the scan job schema refuses leaves the job digest-only', async () => {
    const registry = new MemoryRegistryApi(ACCOUNT).push('kept', d(1), ['t'.repeat(200), 'ok-tag']).push('long', d(2), ['t'.repeat(200)]);
    registry.createRepository('gone');
    const listImages = registry.listImages.bind(registry);
    registry.listImages = (repo: string) => {
      if (repo === 'gone') throw Object.assign(new Error('repository gone not found'), { name: 'RepositoryNotFoundException' });
      return listImages(repo);
    };
    const s = setup(registry);
    const report = await reconcile(s.deps, { repositories: [], region: 'eu-west-1' });
    expect(report).toMatchObject({ complete: true, queued: 2 });
    expect((s.scanQueue.sent as ScanJob[]).map((j) => j.image)).toEqual([
      { registry: `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com`, repository: 'kept', digest: d(1), tag: 'ok-tag' },
      { registry: `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com`, repository: 'long', digest: d(2) },
    ]);
    expect(s.warnings.map((w) => w.m)).toContain('repository deleted while reconciling: skipped');
  });

  it('more than one lookup batch (100 digests) per repository', async () => {
    const registry = new MemoryRegistryApi(ACCOUNT, 1000);
    for (let i = 1; i <= 230; i++) registry.push('big', d(i), [`t${i}`]);
    const s = setup(registry);
    for (let i = 1; i <= 230; i += 2) await record(s.images, d(i), 'big');
    const report = await reconcile(s.deps, { repositories: [], region: 'eu-west-1' });
    expect(report).toMatchObject({ complete: true, images: 230, known: 115, queued: 115 });
  });
});
