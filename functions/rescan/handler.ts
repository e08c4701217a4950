/**
 * Rescan Lambda (EventBridge: "Advisories Updated" events from feed-sync, and a schedule whose
 * event detail is {"full": true}). Thin: the changed package keys → a Query of the package index
 * each → one evaluate job per affected image (shared/pipeline/rescan.ts); no re-analysis.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import { FUNCTION_NEEDS } from '../../shared/pipeline/config.js';
import { FEED_EVENT_DETAIL_TYPE, type AdvisoriesUpdated } from '../../shared/pipeline/feed-sync.js';
import { reevaluateAll, rescanKeys, type RescanDeps } from '../../shared/pipeline/rescan.js';
import { depsFromEnv } from '../lib/env-deps.js';
import { powertools } from '../lib/powertools.js';

const tools = powertools('rescan');
const core = depsFromEnv(FUNCTION_NEEDS.rescan, { log: tools.log, metrics: tools.pm });
const deps: RescanDeps = { packageIndex: core.packageIndex, images: core.images, evaluateQueue: core.evaluateQueue, log: tools.log, metrics: tools.pm, now: () => new Date() };

export const handler = middy(async (event: EventBridgeEvent<string, Partial<AdvisoriesUpdated> & { full?: boolean }>) => {
  if (event['detail-type'] === FEED_EVENT_DETAIL_TYPE && Array.isArray(event.detail?.keys)) {
    // one evaluation per image per event: a later part of the same sync wrote later advisories
    const trigger = event.detail.updateId ? `${event.detail.updateId}#${event.detail.part ?? 1}` : event.id;
    return rescanKeys(deps, event.detail.keys, trigger);
  }
  if (event.detail?.full === true) return reevaluateAll(deps, `schedule:${event.time ?? event.id}`);
  tools.logger.warn('event ignored: neither Advisories Updated nor a full re-evaluation', { detailType: event['detail-type'], id: event.id });
  return { keys: 0, itemsRead: 0, images: 0, jobs: 0 };
})
  .use(injectLambdaContext(tools.logger, { resetKeys: true }))
  .use(logMetrics(tools.metrics, { captureColdStartMetric: true }));
