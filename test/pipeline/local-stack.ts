/**
 * The deployed stack, on this machine: DynamoDB Local (the tables of tables.ts), s3rver, local-
 * aws-sqs (scan and evaluate queues with DLQs), the Distribution registry behind a fault proxy,
 * and stand-ins for what cannot run here — SNS and EventBridge (fakes speaking their APIs) and
 * the Lambda runtime (`poll` receives a batch as Lambda's SQS poller would and calls a handler
 * with a stand-in context). `env` is what the functions read; set it before importing them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createTables, tableNames, type TableNames } from '../../shared/adapters/aws/tables.js';
import { startDynamoDbLocal, type DynamoDbLocal } from '../support/dynamodb-local.js';
import { startFakeEventBridge, type FakeEventBridge } from '../support/fake-eventbridge.js';
import { startFakeSns, type FakeSns } from '../support/fake-sns.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { S3_LOCAL_CREDENTIALS, startS3Local, type S3Local } from '../support/s3-local.js';
import { startSqsLocal, type SqsLocal } from '../support/sqs-local.js';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export const TOPIC = 'arn:aws:sns:us-east-1:000000000000:drydock-results';

export interface LocalStack {
  work: string;
  registry: TestRegistry;
  /** the registry as the analyzer reads it (DRYDOCK_REGISTRY_OVERRIDE) */
  proxy: FaultProxy;
  dynamo: DynamoDbLocal;
  s3: S3Local;
  sqs: SqsLocal;
  sns: FakeSns;
  eventBridge: FakeEventBridge;
  names: TableNames;
  queues: { scan: string; scanDlq: string; evaluate: string; evaluateDlq: string };
  docs: DynamoDBDocumentClient;
  env: Record<string, string>;
  poll(queueUrl: string, handler: SqsHandler, fn: string): Promise<{ records: number; response?: SQSBatchResponse }>;
  stop(): Promise<void>;
}

export function lambdaContext(fn: string, remainingMs = 300_000): Context {
  return {
    functionName: fn, functionVersion: '$LATEST', invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${fn}`,
    memoryLimitInMB: '2048', awsRequestId: `req-${Math.random().toString(16).slice(2)}`, logGroupName: `/aws/lambda/${fn}`, logStreamName: 'test',
    callbackWaitsForEmptyEventLoop: false, getRemainingTimeInMillis: () => remainingMs, done() {}, fail() {}, succeed() {},
  } as unknown as Context;
}

export async function startLocalStack(prefix: string): Promise<LocalStack> {
  const work = await mkdtemp(join(tmpdir(), `drydock-${prefix}`));
  const [registry, dynamo, s3, sqs, sns, eventBridge] = await Promise.all([startRegistry(), startDynamoDbLocal(), startS3Local({ bucket: `drydock-${prefix}`.replace(/[^a-z0-9-]/g, '') }), startSqsLocal(), startFakeSns(), startFakeEventBridge()]);
  const proxy = await startFaultProxy(registry.url);
  const names = tableNames(`${prefix}-`);
  // One identity for every local server: DynamoDB Local keeps tables per access key, s3rver wants its own.
  const creds = { ...S3_LOCAL_CREDENTIALS };
  const ddb = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: creds });
  await createTables(ddb, names);
  const docs = DynamoDBDocumentClient.from(ddb, { marshallOptions: { removeUndefinedValues: true } });
  const scan = await sqs.createQueueWithDlq(`${prefix}-scan-jobs`, 3);
  const evaluate = await sqs.createQueueWithDlq(`${prefix}-evaluate-jobs`, 3);
  const queues = { scan: scan.url, scanDlq: scan.dlqUrl, evaluate: evaluate.url, evaluateDlq: evaluate.dlqUrl };
  const env: Record<string, string> = {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    AWS_ENDPOINT_URL_SNS: sns.endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.endpoint,
    DRYDOCK_S3_FORCE_PATH_STYLE: '1',
    DRYDOCK_IMAGES_TABLE: names.images,
    DRYDOCK_PACKAGE_INDEX_TABLE: names.packageIndex,
    DRYDOCK_RESULTS_TABLE: names.results,
    DRYDOCK_ADVISORIES_TABLE: names.advisories,
    DRYDOCK_IDEMPOTENCY_TABLE: names.idempotency,
    DRYDOCK_BUCKET: s3.bucket,
    DRYDOCK_SCAN_QUEUE_URL: queues.scan,
    DRYDOCK_EVALUATE_QUEUE_URL: queues.evaluate,
    DRYDOCK_DEAD_LETTER_QUEUE_URL: queues.scanDlq,
    DRYDOCK_RESULTS_TOPIC_ARN: TOPIC,
    DRYDOCK_REGISTRY_OVERRIDE: proxy.host,
    DRYDOCK_MAX_RECEIVE_COUNT: '3',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  };

  async function poll(queueUrl: string, handler: SqsHandler, fn: string) {
    const got = await sqs.admin.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, AttributeNames: ['All'], MessageAttributeNames: ['All'], VisibilityTimeout: 30 }));
    const messages: Message[] = got.Messages ?? [];
    if (messages.length === 0) return { records: 0 };
    const event: SQSEvent = {
      Records: messages.map((m) => ({
        messageId: m.MessageId!, receiptHandle: m.ReceiptHandle!, body: m.Body!,
        attributes: { ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1', SentTimestamp: m.Attributes?.SentTimestamp ?? '0', SenderId: 'test', ApproximateFirstReceiveTimestamp: '0' },
        messageAttributes: {}, md5OfBody: m.MD5OfBody!, eventSource: 'aws:sqs', eventSourceARN: `arn:aws:sqs:us-east-1:000000000000:${fn}`, awsRegion: 'us-east-1',
      })),
    } as SQSEvent;
    const response = await handler(event, lambdaContext(`drydock-${fn}`));
    const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    const done = messages.filter((m) => !failed.has(m.MessageId!));
    if (done.length) await sqs.admin.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
    return { records: messages.length, response };
  }

  return {
    work, registry, proxy, dynamo, s3, sqs, sns, eventBridge, names, queues, docs, env, poll,
    async stop() {
      await Promise.all([proxy.stop(), registry.stop(), dynamo.stop(), s3.stop(), sqs.stop(), sns.stop(), eventBridge.stop()]);
      await rm(work, { recursive: true, force: true });
    },
  };
}
