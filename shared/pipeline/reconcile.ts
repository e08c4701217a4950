/**
 * Reconciliation (DESIGN.md §1: ECR events are best effort). On a schedule: list the watched
 * repositories (the registry's repositories narrowed by DRYDOCK_REPOSITORIES globs; none: all),
 * then each one's tagged images, and send a scan job for every image whose digest has no record
 * in the images table, so a lost push event costs at most one period.
 *
 * Reads only: the registry listing (paged) and the image store (getMany, 100 digests a call).
 * Writes only: scan jobs (`drydock.scan-job/1`, jobId `reconcile:<digest>`, so the analyzer's
 * idempotency drops a job queued twice by two runs). An image with any record — analysing,
 * failed, deleted — is left alone: the pipeline already knows it.
 *
 * Bounded: the caller's signal (the Lambda deadline less a margin) stops the listing between
 * pages and the repositories not reached are logged (the next period starts over); at most
 * `maxJobs` jobs are sent per run (logged when hit). A repository deleted while being listed is
 * skipped; any other failure of one repository is logged, the others are still reconciled, and
 * the first failure is thrown at the end so the run counts as failed.
 */
import { DrydockError } from '../errors.js';
import { globMatch } from '../policy/engine.js';
import type { ImageStore, JobQueue, RegistryApi, RegistryImage } from '../ports/stores.js';
import type { PipelineLog, PipelineMetrics } from './deps.js';
import { checkOutgoing, type ScanJob } from './messages.js';

export interface ReconcileDeps {
  registry: RegistryApi;
  images: ImageStore;
  scanQueue: JobQueue;
  log: PipelineLog;
  metrics: PipelineMetrics;
  now(): Date;
}

export interface ReconcileOptions {
  /** repository globs (DRYDOCK_REPOSITORIES); empty: every repository */
  repositories: readonly string[];
  /** the AWS region of the registry: image names are `<registryId>.dkr.ecr.<region>.amazonaws.com` */
  region: string;
  /** stops the run between pages (the Lambda deadline less a margin) */
  signal?: AbortSignal;
  /** scan jobs sent per run at most (default DEFAULT_MAX_JOBS) */
  maxJobs?: number;
}

export interface ReconcileReport {
  /** false when the deadline or the job limit stopped the run before every repository was listed */
  complete: boolean;
  stoppedBy?: 'deadline' | 'job-limit';
  repositories: number;
  images: number;
  /** images Drydock has a record of */
  known: number;
  queued: number;
  /** repositories not (or not fully) listed because the run stopped */
  remaining: string[];
}

export const DEFAULT_MAX_JOBS = 1000;
/** Digests looked up in the image store per call (BatchGetItem's limit). */
const LOOKUP_CHUNK = 100;
const GONE = new Set(['RepositoryNotFoundException']);

export function ecrRegistryHost(registryId: string, region: string): string {
  return `${registryId}.dkr.ecr.${region}.amazonaws.com`;
}

export async function reconcile(deps: ReconcileDeps, opts: ReconcileOptions): Promise<ReconcileReport> {
  const maxJobs = opts.maxJobs ?? DEFAULT_MAX_JOBS;
  if (!/^[a-z0-9-]+$/.test(opts.region)) throw new DrydockError('CONFIG', `reconcile: region ${JSON.stringify(opts.region)} is not an AWS region name`);
  const report: ReconcileReport = { complete: true, repositories: 0, images: 0, known: 0, queued: 0, remaining: [] };
  const seen = new Set<string>();
  const requestedAt = deps.now().toISOString();
  let firstError: unknown;

  const wanted: string[] = [];
  for await (const repo of deps.registry.listRepositories()) {
    if (opts.repositories.length === 0 || opts.repositories.some((g) => globMatch(g, repo.name))) wanted.push(repo.name);
    if (opts.signal?.aborted) break;
  }
  wanted.sort();

  const stop = (why: 'deadline' | 'job-limit', from: number) => {
    report.complete = false;
    report.stoppedBy = why;
    report.remaining = wanted.slice(from);
  };

  /** Looks the batch up and queues the unknown ones; returns false when the job limit was reached. */
  const settle = async (batch: RegistryImage[]): Promise<boolean> => {
    const fresh = batch.filter((i) => !seen.has(i.digest));
    for (const i of fresh) seen.add(i.digest);
    if (fresh.length === 0) return true;
    const records = await deps.images.getMany(fresh.map((i) => i.digest));
    report.known += records.size;
    const missing = fresh.filter((i) => !records.has(i.digest));
    const room = Math.max(0, maxJobs - report.queued);
    const jobs: ScanJob[] = [];
    for (const i of missing.slice(0, room)) {
      try {
        jobs.push(scanJob(i, opts.region, requestedAt));
      } catch (e) {
        // a name the scan job schema refuses (an ECR name outside its rules): logged, the rest go on
        deps.log.error('image cannot be named in a scan job: skipped', { repository: i.repository, digest: i.digest, error: (e as Error).message });
      }
    }
    if (jobs.length) {
      await deps.scanQueue.sendBatch(jobs);
      report.queued += jobs.length;
      for (const j of jobs) deps.log.info('image never analysed: scan job queued', { repository: j.image.repository, digest: j.image.digest, tag: j.image.tag });
    }
    return missing.length <= room;
  };

  for (let r = 0; r < wanted.length; r++) {
    const repository = wanted[r]!;
    if (opts.signal?.aborted) {
      stop('deadline', r);
      break;
    }
    report.repositories++;
    let batch: RegistryImage[] = [];
    let limited = false;
    /** the deadline passed before this repository's listing was finished */
    let cut = false;
    try {
      for await (const image of deps.registry.listImages(repository)) {
        if (image.tags.length === 0) continue;
        report.images++;
        batch.push(image);
        if (batch.length >= LOOKUP_CHUNK) {
          if (!(await settle(batch))) limited = true;
          batch = [];
          if (limited) break;
          if (opts.signal?.aborted) {
            cut = true;
            break;
          }
        }
      }
      if (!limited && !cut && !(await settle(batch))) limited = true;
    } catch (e) {
      if (GONE.has((e as { name?: string })?.name ?? '')) {
        deps.log.warn('repository deleted while reconciling: skipped', { repository });
        continue;
      }
      deps.log.error('reconciling a repository failed; the others continue', { repository, error: e instanceof DrydockError ? e.toJSON() : String(e) });
      firstError ??= e;
      continue;
    }
    if (limited) {
      stop('job-limit', r);
      deps.log.warn(`reconciliation stopped at its limit of ${maxJobs} scan jobs per run; the next run continues`, { maxJobs, remaining: report.remaining });
      break;
    }
    if (cut) {
      stop('deadline', r);
      break;
    }
  }
  if (report.stoppedBy === 'deadline') {
    deps.log.warn('reconciliation stopped at its time budget; the next run continues', { remaining: report.remaining, queued: report.queued });
  }
  deps.metrics.add('ReconcileImages', 'Count', report.images);
  deps.metrics.add('ReconcileJobs', 'Count', report.queued);
  deps.log.info('reconciliation done', { ...report, remaining: report.remaining.length });
  if (firstError) throw firstError;
  return report;
}

/** The tag a scan job may carry (the schema's pattern): ECR allows longer tags than Docker references do. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

function scanJob(image: RegistryImage, region: string, requestedAt: string): ScanJob {
  const tag = image.tags.find((t) => TAG.test(t));
  return checkOutgoing<ScanJob>({
    schema: 'drydock.scan-job/1',
    jobId: `reconcile:${image.digest}`,
    image: { registry: ecrRegistryHost(image.registryId, region), repository: image.repository, digest: image.digest, ...(tag ? { tag } : {}) },
    reason: 'push',
    requestedAt,
    requestedBy: 'drydock-reconcile',
  });
}
