/**
 * Analyzer Lambda (SQS batch: ECR push events, scan jobs, layer jobs). Thin: the record's body
 * goes to the core (shared/pipeline), which reads the image, writes the inventory and queues
 * the evaluation; failures are recorded and retried or not as shared/pipeline/run.ts says.
 * Records are processed one after another: each may hold a layer's extract in memory.
 */
import { prepareAnalyzerMessage } from '../../shared/pipeline/run.js';
import { FUNCTION_NEEDS } from '../../shared/pipeline/config.js';
import { depsFromEnv, idempotencyStore, retryBackoffFromEnv } from '../lib/env-deps.js';
import { sqsLambda } from '../lib/sqs-lambda.js';

const persistenceStore = idempotencyStore();

export const { handler } = sqsLambda({
  service: 'analyzer',
  prepare: prepareAnalyzerMessage,
  deps: (tools) => depsFromEnv(FUNCTION_NEEDS.analyzer, tools),
  retryBackoff: (log) => retryBackoffFromEnv(['DRYDOCK_SCAN_QUEUE_URL'], log),
  ...(persistenceStore ? { persistenceStore } : {}),
  processInParallel: false,
});
