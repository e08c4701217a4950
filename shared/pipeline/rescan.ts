/**
 * Rescans (step 7): when advisories change, re-evaluate exactly the images that hold an affected
 * package — a Query of the package index per changed key, never a Scan of the images — by
 * sending evaluate jobs (no re-analysis: the inventory is stored). One job per image per update:
 * the update id is the jobs' trigger, so the evaluator's idempotency drops a duplicate event's
 * jobs too. A scheduled full re-evaluation pages through the images, its jobs spread out with
 * SQS delays so that it never floods the evaluate queue.
 */
import type { PackageKey } from '../ports/advisory-store.js';
import type { ImageStore, JobQueue, PackageIndex } from '../ports/stores.js';
import type { PipelineLog, PipelineMetrics } from './deps.js';
import { checkOutgoing, type EvaluateJob } from './messages.js';

export interface RescanDeps {
  packageIndex: PackageIndex;
  images: ImageStore;
  evaluateQueue: JobQueue;
  log: PipelineLog;
  metrics: PipelineMetrics;
  now(): Date;
}

export interface RescanReport {
  keys: number;
  /** package index items read (one per image holding a key) */
  itemsRead: number;
  images: number;
  jobs: number;
}

export async function rescanKeys(deps: RescanDeps, keys: readonly PackageKey[], updateId: string, opts: { concurrency?: number } = {}): Promise<RescanReport> {
  const digests = new Set<string>();
  let itemsRead = 0;
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++]!;
      const entries = await deps.packageIndex.imagesFor(key);
      itemsRead += entries.length;
      for (const e of entries) digests.add(e.digest);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 8, keys.length) }, worker));
  const now = deps.now().toISOString();
  const jobs = [...digests].sort().map((digest) => evaluateJob(digest, 'rescan', updateId, now));
  await deps.evaluateQueue.sendBatch(jobs);
  deps.metrics.add('RescanKeys', 'Count', keys.length);
  deps.metrics.add('RescanIndexItemsRead', 'Count', itemsRead);
  deps.metrics.add('RescanJobs', 'Count', jobs.length);
  deps.log.info('rescan queued', { updateId, keys: keys.length, itemsRead, images: digests.size });
  return { keys: keys.length, itemsRead, images: digests.size, jobs: jobs.length };
}

/**
 * Every analysed image, re-evaluated: jobs are sent with delays growing by one second per
 * `perSecond` jobs (SQS allows up to 15 minutes), so the evaluator sees a steady trickle.
 */
export async function reevaluateAll(deps: RescanDeps, runId: string, opts: { limit?: number; perSecond?: number } = {}): Promise<RescanReport> {
  const images = await deps.images.list({ limit: opts.limit ?? 10_000 });
  const perSecond = opts.perSecond ?? 20;
  const now = deps.now().toISOString();
  const wanted = images.filter((r) => r.status === 'evaluated' || r.status === 'analyzed');
  let sent = 0;
  for (let i = 0; i < wanted.length; i += 10) {
    const group = wanted.slice(i, i + 10).map((r) => evaluateJob(r.digest, 'schedule', runId, now));
    await deps.evaluateQueue.sendBatch(group, { delaySeconds: Math.min(900, Math.floor(i / perSecond)) });
    sent += group.length;
  }
  if (images.length === (opts.limit ?? 10_000)) deps.log.warn('full re-evaluation stopped at the limit; raise it or run more often', { limit: opts.limit ?? 10_000 });
  deps.log.info('full re-evaluation queued', { runId, images: sent });
  return { keys: 0, itemsRead: images.length, images: sent, jobs: sent };
}

function evaluateJob(digest: string, reason: 'rescan' | 'schedule', trigger: string, now: string): EvaluateJob {
  return checkOutgoing<EvaluateJob>({ schema: 'drydock.evaluate-job/1', jobId: `evaluate:${digest}:${reason}:${trigger}`, digest, reason, trigger, requestedAt: now });
}
