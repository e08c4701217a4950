/**
 * Evaluator Lambda (SQS batch of evaluate jobs). Thin: each job goes to the core
 * (shared/pipeline/evaluate.ts): inventory × advisories → findings → policy verdict → result
 * history → SNS. Jobs of a batch run together: they are small and mostly wait on DynamoDB.
 */
import { prepareEvaluatorMessage } from '../../shared/pipeline/run.js';
import { FUNCTION_NEEDS } from '../../shared/pipeline/config.js';
import { depsFromEnv, idempotencyStore, retryBackoffFromEnv } from '../lib/env-deps.js';
import { sqsLambda } from '../lib/sqs-lambda.js';

const persistenceStore = idempotencyStore();

export const { handler } = sqsLambda({
  service: 'evaluator',
  prepare: prepareEvaluatorMessage,
  deps: (tools) => depsFromEnv(FUNCTION_NEEDS.evaluator, tools),
  // its own source queue, for the retry backoff only (not a port the evaluator's core uses)
  retryBackoff: (log) => retryBackoffFromEnv(['DRYDOCK_EVALUATE_QUEUE_URL'], log),
  ...(persistenceStore ? { persistenceStore } : {}),
  processInParallel: true,
});
