/**
 * Feed-sync Lambda (EventBridge schedule; its own "Feed Sync Requested" continuations; a
 * deploy-time first sync; any other event just syncs). Thin: downloads the configured OSV
 * ecosystems (DRYDOCK_OSV_ECOSYSTEMS, streamed, conditional requests), upserts the changed
 * advisories into the advisories table and puts "Advisories Updated" events with the changed
 * package keys (shared/pipeline/feed-sync.ts). Then the Amazon Linux updateinfo streams
 * (DRYDOCK_ALAS_STREAMS, default al2-core,al2023-core; empty: none) the same way. Then, with
 * DRYDOCK_EXPLOIT_FEEDS=1, CISA KEV and FIRST EPSS (DRYDOCK_KEV_URL, DRYDOCK_EPSS_URL) into the
 * bucket's compact objects for the evaluator; a KEV change announces the affected package keys
 * (shared/pipeline/exploit-sync.ts).
 *
 * A run that reaches its deadline checkpoints and returns normally (`complete: false`, not a
 * failure: no retry, no dead letter, no alarm), then puts one "Feed Sync Requested" event
 * (source drydock.feeds, detail {reason: 'continue', continuation: n+1, startedAt}) that a rule
 * routes back here; the next run resumes from the checkpoint. The chain is bounded
 * (MAX_FEED_SYNC_CONTINUATIONS): past it, the schedule's next run carries on.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { alasSourcesAt, DEFAULT_ALAS_STREAMS, validateAlasStreamNames } from '../../shared/advisories/alas-feed.js';
import { DEFAULT_OSV_ECOSYSTEMS } from '../../shared/advisories/feeds.js';
import { DrydockError } from '../../shared/errors.js';
import { FUNCTION_NEEDS } from '../../shared/pipeline/config.js';
import { feedSyncInvocation, type FeedSyncDeps } from '../../shared/pipeline/feed-sync.js';
import { depsFromEnv, eventBusFromEnv } from '../lib/env-deps.js';
import { powertools } from '../lib/powertools.js';

const tools = powertools('feed-sync');
const core = depsFromEnv(FUNCTION_NEEDS.feedSync, { log: tools.log, metrics: tools.pm });
const ecosystems = (process.env.DRYDOCK_OSV_ECOSYSTEMS ?? DEFAULT_OSV_ECOSYSTEMS.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
if (ecosystems.length === 0) throw new DrydockError('CONFIG', 'DRYDOCK_OSV_ECOSYSTEMS names no ecosystem');
// Amazon Linux updateinfo streams (ALAS_STREAMS names; unset: DEFAULT_ALAS_STREAMS; empty: none)
const alasStreams = (process.env.DRYDOCK_ALAS_STREAMS ?? DEFAULT_ALAS_STREAMS.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
validateAlasStreamNames(alasStreams);
// DRYDOCK_ALAS_URL: a mirror holding <base>/<stream>/mirror.list (like DRYDOCK_OSV_URL)
const alasUrl = process.env.DRYDOCK_ALAS_URL?.trim();
const alasSources = alasUrl ? alasSourcesAt(alasUrl) : undefined;
const bus = await eventBusFromEnv();
const deps: FeedSyncDeps = { advisories: core.advisories, objects: core.objects, bus, log: tools.log, metrics: tools.pm, now: () => new Date() };

export const handler = middy(async (event: unknown, context: Context) => {
  const signal = AbortSignal.timeout(Math.max(1000, context.getRemainingTimeInMillis() - core.config.deadlineMarginMs));
  const baseUrl = process.env.DRYDOCK_OSV_URL?.trim();
  const { exploitFeeds, kevUrl, epssUrl } = core.config;
  return feedSyncInvocation(deps, event, {
    ecosystems,
    alasStreams,
    ...(alasSources ? { alasSources } : {}),
    ...(baseUrl ? { baseUrl } : {}),
    exploitFeeds,
    ...(kevUrl ? { kevUrl } : {}),
    ...(epssUrl ? { epssUrl } : {}),
    signal,
  });
})
  .use(injectLambdaContext(tools.logger, { resetKeys: true }))
  .use(logMetrics(tools.metrics, { captureColdStartMetric: true }));
