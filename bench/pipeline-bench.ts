/**
 * npm run bench:pipeline — the serverless flow on local servers, timed from the ECR push event
 * to the published result message, for the benchmark image (bench-image.ts, ≥ 300 MB).
 *
 * Real parts: DynamoDB Local, s3rver, local-aws-sqs, the Distribution registry, the handler
 * chain (middy + Powertools, idempotency on DynamoDB). Stand-ins: SNS (a fake speaking its
 * API) and the Lambda runtime (SQS polled here, handlers called in-process).
 *   baseline      the same image scanned in-process by the library with the same policy data
 *                 collector (no stores, no queues)
 *   cold          push event → published result, empty layer cache
 *   warm          the same, the image's records gone but its layers in the S3 layer cache
 *   fan-out       cold, with one layer job per layer run concurrently (as parallel Lambdas)
 * and DynamoDB capacity used per image (ReturnConsumedCapacity on every call).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageCommand, type Message } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { awsClients, awsPipelineDeps } from '../shared/adapters/aws/pipeline-deps.js';
import { createTables, tableNames } from '../shared/adapters/aws/tables.js';
import { openSource } from '../shared/image/open.js';
import { DEFAULT_CONFIG } from '../shared/pipeline/config.js';
import { prepareAnalyzerMessage, prepareEvaluatorMessage } from '../shared/pipeline/run.js';
import { policyCollector } from '../shared/policy/collector.js';
import { scanImage } from '../shared/scan.js';
import { sqsLambda } from '../functions/lib/sqs-lambda.js';
import { pushEvent } from '../test/pipeline/support.js';
import { startDynamoDbLocal } from '../test/support/dynamodb-local.js';
import { startFakeSns } from '../test/support/fake-sns.js';
import { pushToRegistry } from '../test/support/image-builder.js';
import { startRegistry } from '../test/support/registry.js';
import { S3_LOCAL_CREDENTIALS, startS3Local } from '../test/support/s3-local.js';
import { startSqsLocal } from '../test/support/sqs-local.js';
import { BENCH_LAYOUT, benchImage } from './bench-image.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

await benchImage();
const work = await mkdtemp(join(tmpdir(), 'drydock-pipeline-bench-'));
const [registry, dynamo, s3, sqs, sns] = await Promise.all([startRegistry(), startDynamoDbLocal(), startS3Local({ bucket: 'drydock-bench' }), startSqsLocal(), startFakeSns()]);
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';

try {
  const pushed = await pushToRegistry(BENCH_LAYOUT, 'bench', { host: registry.host }, 'team/bench:1');
  const digest = pushed.digest;

  // baseline: the library scan of the same image from the same registry, empty cache, with the
  // policy collector the analyzer runs (file metadata, content patterns), as `drydock scan --policy` does
  const base: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await scanImage(await openSource(`${registry.host}/team/bench@${digest}`), `${registry.host}/team/bench@${digest}`, { collector: policyCollector() });
    base.push(performance.now() - t);
  }

  const creds = { ...S3_LOCAL_CREDENTIALS };
  const region = 'us-east-1';
  const consumed = { read: 0, write: 0, calls: 0 };
  const clients = awsClients({
    dynamodb: { endpoint: dynamo.endpoint, region, credentials: creds },
    s3: { ...s3.clientConfig },
    sqs: { ...sqs.clientConfig, credentials: creds },
    sns: { endpoint: sns.endpoint, region, credentials: creds },
  });
  // Every DynamoDB call asks for its consumed capacity, and the answer is summed.
  const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'BatchWriteItemCommand', 'TransactWriteItemsCommand']);
  clients.dynamodb.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      input.ReturnConsumedCapacity ??= 'TOTAL';
      const out = await next(args);
      const cc = (out.output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
      consumed.calls++;
      // DynamoDB Local answers CapacityUnits only: the command says whether they were read or write units
      const units = (Array.isArray(cc) ? cc : cc ? [cc] : []).reduce((n: number, c) => n + ((c as { CapacityUnits?: number }).CapacityUnits ?? 0), 0);
      if (WRITES.has(context.commandName ?? '')) consumed.write += units;
      else consumed.read += units;
      return out;
    },
    { step: 'initialize', name: 'consumedCapacity' },
  );
  const scanQ = await sqs.createQueueWithDlq('bench-scan', 5);
  const evalQ = await sqs.createQueueWithDlq('bench-evaluate', 5);

  async function stack(prefix: string, fanoutMinLayers: number, bucket: string) {
    const names = tableNames(prefix);
    await createTables(clients.dynamodb, names);
    const deps = awsPipelineDeps({
      config: { ...DEFAULT_CONFIG, registryOverride: registry.host, fanoutMinLayers },
      resources: {
        imagesTable: names.images, packageIndexTable: names.packageIndex, resultsTable: names.results, advisoriesTable: names.advisories,
        idempotencyTable: names.idempotency, bucket, scanQueueUrl: scanQ.url, evaluateQueueUrl: evalQ.url, resultsTopicArn: 'arn:aws:sns:us-east-1:000000000000:bench',
      },
      clients,
    });
    const store = new DynamoDBPersistenceLayer({ tableName: names.idempotency, awsSdkV3Client: clients.dynamodb as never });
    const analyzer = sqsLambda({ service: 'analyzer', prepare: prepareAnalyzerMessage, deps: () => deps, persistenceStore: store, processInParallel: true }).handler as unknown as Handler;
    const evaluator = sqsLambda({ service: 'evaluator', prepare: prepareEvaluatorMessage, deps: () => deps, persistenceStore: store, processInParallel: true }).handler as unknown as Handler;
    return { analyzer, evaluator };
  }

  const context = { functionName: 'bench', getRemainingTimeInMillis: () => 900_000, awsRequestId: 'bench' } as unknown as Context;
  async function pollOnce(url: string, handler: Handler): Promise<number> {
    const got = await sqs.admin.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, AttributeNames: ['All'], VisibilityTimeout: 120 }));
    const ms: Message[] = got.Messages ?? [];
    if (!ms.length) return 0;
    const event = { Records: ms.map((m) => ({ messageId: m.MessageId!, receiptHandle: m.ReceiptHandle!, body: m.Body!, attributes: { ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1' } })) } as unknown as SQSEvent;
    const res = await handler(event, context);
    if (res.batchItemFailures.length) throw new Error(`bench: ${res.batchItemFailures.length} record(s) failed`);
    await sqs.admin.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: ms.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
    return ms.length;
  }

  /** push event → published result, polling both queues as Lambda's pollers would. */
  async function flow(prefix: string, fanout: number, eventId: string, bucket: string) {
    const { analyzer, evaluator } = await stack(prefix, fanout, bucket);
    const before = { ...consumed };
    const published = sns.published.length;
    const t = performance.now();
    await sqs.admin.send(new SendMessageCommand({ QueueUrl: scanQ.url, MessageBody: JSON.stringify(pushEvent(digest, '1', 'team/bench', eventId)) }));
    while (sns.published.length === published) {
      const n = (await pollOnce(scanQ.url, analyzer)) + (await pollOnce(evalQ.url, evaluator));
      if (!n) await new Promise((r) => setTimeout(r, 5));
    }
    const ms = performance.now() - t;
    return { ms, read: consumed.read - before.read, write: consumed.write - before.write, calls: consumed.calls - before.calls };
  }

  const s3c = new S3Client(s3.clientConfig);
  const bucket = async (name: string) => (await s3c.send(new CreateBucketCommand({ Bucket: name })), name);
  const cold: Array<Awaited<ReturnType<typeof flow>>> = [];
  const warm: Array<Awaited<ReturnType<typeof flow>>> = [];
  const fan: Array<Awaited<ReturnType<typeof flow>>> = [];
  for (let i = 0; i < RUNS; i++) {
    // a new bucket is an empty layer cache; the warm run reuses the cold run's bucket with fresh tables
    const b1 = await bucket(`bench-cold-${i}`);
    cold.push(await flow(`cold${i}-`, 0, `cold-${i}`, b1));
    warm.push(await flow(`warm${i}-`, 0, `warm-${i}`, b1));
    fan.push(await flow(`fan${i}-`, 2, `fan-${i}`, await bucket(`bench-fan-${i}`)));
  }
  const b = median(base);
  const row = (name: string, xs: Array<{ ms: number; read: number; write: number; calls: number }>) => {
    const m = median(xs.map((x) => x.ms));
    const last = xs.at(-1)!;
    return `${name.padEnd(28)} ${(m / 1000).toFixed(3)} s  ${(m / b).toFixed(2)}× baseline   DynamoDB per image: ${last.write.toFixed(1)} WCU, ${last.read.toFixed(1)} RCU, ${last.calls} calls`;
  };
  console.log(`pipeline bench (${RUNS} runs, medians; image ${digest.slice(0, 19)}, 3 gzip layers)`);
  console.log(`${'baseline: library scan'.padEnd(28)} ${(b / 1000).toFixed(3)} s`);
  console.log(row('push → result, cold cache', cold));
  console.log(row('push → result, warm cache', warm));
  console.log(row('push → result, fan-out', fan));
  console.log(`warm / cold: ${(median(warm.map((x) => x.ms)) / median(cold.map((x) => x.ms)) * 100).toFixed(1)} %`);
} finally {
  await Promise.all([registry.stop(), dynamo.stop(), s3.stop(), sqs.stop(), sns.stop()]);
  await rm(work, { recursive: true, force: true });
}
