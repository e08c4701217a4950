/**
 * Reconcile Lambda (EventBridge schedule). Thin: lists the watched ECR repositories
 * (DescribeRepositories, narrowed by DRYDOCK_REPOSITORIES globs) and their tagged images
 * (DescribeImages), and queues a scan job for each image whose digest the images table has no
 * record of (shared/pipeline/reconcile.ts), so a lost push event costs at most one period.
 *
 * Environment: DRYDOCK_IMAGES_TABLE, DRYDOCK_SCAN_QUEUE_URL (required), DRYDOCK_REPOSITORIES
 * (optional), DRYDOCK_RECONCILE_MAX_JOBS (optional, default 1,000). IAM: ecr:DescribeRepositories,
 * ecr:DescribeImages, dynamodb:BatchGetItem on the images table, sqs:SendMessage on the scan
 * queue — nothing else. Bounded by the Lambda deadline (less DRYDOCK_DEADLINE_MARGIN_SECONDS)
 * and the job cap; what remains is logged and the next period starts over.
 */
import { ECRClient } from '@aws-sdk/client-ecr';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { EcrRegistryApi } from '../../shared/adapters/aws/ecr-registry.js';
import { DrydockError } from '../../shared/errors.js';
import { FUNCTION_NEEDS } from '../../shared/pipeline/config.js';
import { DEFAULT_MAX_JOBS, reconcile, type ReconcileDeps } from '../../shared/pipeline/reconcile.js';
import { depsFromEnv } from '../lib/env-deps.js';
import { powertools } from '../lib/powertools.js';

const tools = powertools('reconcile');
const core = depsFromEnv(FUNCTION_NEEDS.reconcile, { log: tools.log, metrics: tools.pm });
const region = (process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? '').trim();
if (!region) throw new DrydockError('CONFIG', 'AWS_REGION is not set (the registry host of the images is <account>.dkr.ecr.<region>.amazonaws.com)');
const rawMax = process.env.DRYDOCK_RECONCILE_MAX_JOBS?.trim();
const maxJobs = rawMax ? Number(rawMax) : DEFAULT_MAX_JOBS;
if (!Number.isInteger(maxJobs) || maxJobs < 1 || maxJobs > 100_000) throw new DrydockError('CONFIG', `DRYDOCK_RECONCILE_MAX_JOBS=${JSON.stringify(rawMax)} is not an integer in [1, 100000]`);
const deps: ReconcileDeps = {
  registry: new EcrRegistryApi(new ECRClient({})),
  images: core.images,
  scanQueue: core.scanQueue,
  log: tools.log,
  metrics: tools.pm,
  now: () => new Date(),
};

export const handler = middy(async (_event: unknown, context: Context) => {
  const signal = AbortSignal.timeout(Math.max(1000, context.getRemainingTimeInMillis() - core.config.deadlineMarginMs));
  return reconcile(deps, { repositories: core.config.repositories, region, signal, maxJobs });
})
  .use(injectLambdaContext(tools.logger, { resetKeys: true }))
  .use(logMetrics(tools.metrics, { captureColdStartMetric: true }));
