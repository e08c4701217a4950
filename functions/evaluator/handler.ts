/**
 * Evaluator Lambda (SQS batch of evaluate jobs). Thin: each job goes to the core
 * (shared/pipeline/evaluate.ts): inventory × advisories → findings → policy verdict → result
 * history → SNS. Jobs of a batch run together: they are small and mostly wait on DynamoDB.
 */
import { prepareEvaluatorMessage } from '../../shared/pipeline/run.js';
import { depsFromEnv, idempotencyStore } from '../lib/env-deps.js';
import { sqsLambda } from '../lib/sqs-lambda.js';

const persistenceStore = idempotencyStore();

export const { handler } = sqsLambda({
  service: 'evaluator',
  prepare: prepareEvaluatorMessage,
  deps: (tools) => depsFromEnv(['imagesTable', 'resultsTable', 'advisoriesTable', 'bucket', 'resultsTopicArn'], tools),
  ...(persistenceStore ? { persistenceStore } : {}),
  processInParallel: true,
});
