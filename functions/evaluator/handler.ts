/**
 * Evaluator Lambda (SQS batch of evaluate jobs). Thin: each job goes to the core
 * (shared/pipeline/evaluate.ts): inventory × advisories → findings → policy verdict → result
 * history → SNS. Jobs of a batch run together: they are small and mostly wait on DynamoDB.
 * With trusted base repositories (DRYDOCK_BASE_REPOSITORIES) it also writes the package index's
 * base entries, queues the re-evaluations a patched base asks for and puts its "Drydock Base
 * Image Updated" event on the bus (DRYDOCK_EVENT_BUS_NAME): those ports are required then.
 */
import { prepareEvaluatorMessage } from '../../shared/pipeline/run.js';
import { FUNCTION_NEEDS } from '../../shared/pipeline/config.js';
import { depsFromEnv, eventBusFromEnv, idempotencyStore, retryBackoffFromEnv } from '../lib/env-deps.js';
import { sqsLambda } from '../lib/sqs-lambda.js';

const persistenceStore = idempotencyStore();
const baseImages = Boolean(process.env.DRYDOCK_BASE_REPOSITORIES?.trim());
const bus = baseImages ? await eventBusFromEnv() : undefined;

export const { handler } = sqsLambda({
  service: 'evaluator',
  prepare: prepareEvaluatorMessage,
  deps: (tools) => Object.assign(depsFromEnv(baseImages ? [...FUNCTION_NEEDS.evaluator, 'packageIndexTable', 'evaluateQueueUrl'] : FUNCTION_NEEDS.evaluator, tools), bus ? { bus } : {}),
  // its own source queue, for the retry backoff only (not a port the evaluator's core uses)
  retryBackoff: (log) => retryBackoffFromEnv(['DRYDOCK_EVALUATE_QUEUE_URL'], log),
  ...(persistenceStore ? { persistenceStore } : {}),
  processInParallel: true,
});
