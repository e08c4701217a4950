/**
 * The pipeline's ports from the function's environment (DRYDOCK_* variables, validated at once)
 * and the Powertools idempotency store. AWS SDK endpoints follow the SDK's own variables
 * (AWS_ENDPOINT_URL_*), so `npm run invoke` and the tests reach local servers the same way.
 */
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { awsClients, awsPipelineDeps } from '../../shared/adapters/aws/pipeline-deps.js';
import { loadConfig, type PipelineResources } from '../../shared/pipeline/config.js';
import type { PipelineDeps, PipelineLog, PipelineMetrics } from '../../shared/pipeline/deps.js';

let shared: ReturnType<typeof awsClients> | undefined;

function clients() {
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

/** The event bus feed-sync announces on (DRYDOCK_EVENT_BUS_NAME, default "default"). */
export async function eventBusFromEnv(): Promise<import('../../shared/ports/stores.js').EventBus> {
  const { EventBridgeClient } = await import('@aws-sdk/client-eventbridge');
  const { EventBridgeBus } = await import('../../shared/adapters/aws/eventbridge-bus.js');
  return new EventBridgeBus(new EventBridgeClient({}), process.env.DRYDOCK_EVENT_BUS_NAME?.trim() || 'default');
}
