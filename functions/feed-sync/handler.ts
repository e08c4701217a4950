/**
 * Feed-sync Lambda (EventBridge schedule). Thin: downloads the configured OSV ecosystems
 * (DRYDOCK_OSV_ECOSYSTEMS, streamed, conditional requests), upserts the changed advisories into
 * the advisories table and puts "Advisories Updated" events with the changed package keys
 * (shared/pipeline/feed-sync.ts). A run cut off by the deadline resumes from its checkpoint on
 * the next schedule.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { DEFAULT_OSV_ECOSYSTEMS } from '../../shared/advisories/feeds.js';
import { DrydockError } from '../../shared/errors.js';
import { syncFeeds, type FeedSyncDeps } from '../../shared/pipeline/feed-sync.js';
import { depsFromEnv, eventBusFromEnv } from '../lib/env-deps.js';
import { powertools } from '../lib/powertools.js';

const tools = powertools('feed-sync');
const core = depsFromEnv(['advisoriesTable', 'bucket'], { log: tools.log, metrics: tools.pm });
const ecosystems = (process.env.DRYDOCK_OSV_ECOSYSTEMS ?? DEFAULT_OSV_ECOSYSTEMS.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
if (ecosystems.length === 0) throw new DrydockError('CONFIG', 'DRYDOCK_OSV_ECOSYSTEMS names no ecosystem');
const bus = await eventBusFromEnv();
const deps: FeedSyncDeps = { advisories: core.advisories, objects: core.objects, bus, log: tools.log, metrics: tools.pm, now: () => new Date() };

export const handler = middy(async (_event: unknown, context: Context) => {
  const signal = AbortSignal.timeout(Math.max(1000, context.getRemainingTimeInMillis() - core.config.deadlineMarginMs));
  const baseUrl = process.env.DRYDOCK_OSV_URL?.trim();
  return { ecosystems: await syncFeeds(deps, { ecosystems, ...(baseUrl ? { baseUrl } : {}), signal }) };
})
  .use(injectLambdaContext(tools.logger, { resetKeys: true }))
  .use(logMetrics(tools.metrics, { captureColdStartMetric: true }));
