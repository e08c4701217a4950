/**
 * The pipeline's ports from the function's environment (DRYDOCK_* variables, validated at once)
 * and the Powertools idempotency store. AWS SDK endpoints follow the SDK's own variables
 * (AWS_ENDPOINT_URL_*), so `npm run invoke` and the tests reach local servers the same way.
 *
 * Each function names what it needs (FUNCTION_NEEDS in shared/pipeline/config.ts): those
 * variables are required at cold start (a CONFIG error listing every missing one), and only the
 * ports of the resources the function was given are built (awsPipelineDeps); reaching for
 * another throws CONFIG naming its variable.
 */
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { awsClients, awsPipelineDeps } from '../../shared/adapters/aws/pipeline-deps.js';
import { loadConfig, type PipelineResources } from '../../shared/pipeline/config.js';
import type { PipelineDeps, PipelineLog, PipelineMetrics } from '../../shared/pipeline/deps.js';
import type { RetryBackoffOptions } from './sqs-lambda.js';

let shared: ReturnType<typeof awsClients> | undefined;

export function clients(): ReturnType<typeof awsClients> {
  // S3-compatible local servers want path-style addressing and no streaming checksums.
  const local = process.env.DRYDOCK_S3_FORCE_PATH_STYLE === '1';
  shared ??= awsClients(local ? { s3: { forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } } : {});
  return shared;
}

export function depsFromEnv(need: ReadonlyArray<keyof PipelineResources>, tools: { log: PipelineLog; metrics: PipelineMetrics }): PipelineDeps {
  const { config, resources } = loadConfig(process.env, need);
  return awsPipelineDeps({ config, resources, clients: clients(), ...tools });
}

export function idempotencyStore(): DynamoDBPersistenceLayer | undefined {
  const table = process.env.DRYDOCK_IDEMPOTENCY_TABLE?.trim();
  return table ? new DynamoDBPersistenceLayer({ tableName: table, awsSdkV3Client: clients().dynamodb as never }) : undefined;
}

/**
 * The retry backoff's queues: the function's own source queues, named by these variables
 * (analyzer: DRYDOCK_SCAN_QUEUE_URL; evaluator: DRYDOCK_EVALUATE_QUEUE_URL). Those not set are
 * left out, with a warning: its failed messages then wait for the queue's visibility timeout.
 */
export function retryBackoffFromEnv(variables: readonly string[], log: PipelineLog): RetryBackoffOptions | undefined {
  const queueUrls = variables.map((v) => process.env[v]?.trim()).filter((u): u is string => !!u);
  const missing = variables.filter((v) => !process.env[v]?.trim());
  if (missing.length) log.warn(`${missing.join(', ')} not set: failed messages of that queue are retried after its visibility timeout, without backoff`);
  return queueUrls.length ? { sqs: clients().sqs, queueUrls } : undefined;
}

/** The event bus feed-sync announces on (DRYDOCK_EVENT_BUS_NAME, default "default"). */
export async function eventBusFromEnv(): Promise<import('../../shared/ports/stores.js').EventBus> {
  const { EventBridgeClient } = await import('@aws-sdk/client-eventbridge');
  const { EventBridgeBus } = await import('../../shared/adapters/aws/eventbridge-bus.js');
  return new EventBridgeBus(new EventBridgeClient({}), process.env.DRYDOCK_EVENT_BUS_NAME?.trim() || 'default');
}
