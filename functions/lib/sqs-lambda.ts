/**
 * The Lambda glue every queue-driven function shares, kept out of the core: middy with
 * Powertools — Logger (JSON, the Lambda context and each message's ids as correlation keys),
 * Metrics (CloudWatch EMF, cold starts), Batch (SQS partial batch responses: only the records
 * that should be retried are reported) and Idempotency (one run per key: digest + job kind,
 * records in DynamoDB, a run cut off by a timeout is retried once its in-progress lock expires).
 *
 * Retries come back sooner than the queue's visibility timeout (which is sized for the longest
 * run, 6× the function's timeout): each record reported in batchItemFailures gets
 * ChangeMessageVisibility = min(900, 30 × 2^(receiveCount−1)) s ± 20 % jitter, so the five
 * receives before the dead-letter queue take minutes, not hours. The queue's URL is the
 * configured one whose name is the record's eventSourceARN's; none matching, or the call
 * failing, is logged and the visibility left as it is (never a failure of the batch).
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { PipelineDeps, PipelineLog, PipelineMetrics } from '../../shared/pipeline/deps.js';
import { powertools } from './powertools.js';
import type { MessageContext, MessageOutcome, PreparedMessage } from '../../shared/pipeline/run.js';

export interface SqsLambdaOptions {
  service: string;
  prepare(body: string, deps: PipelineDeps, ctx: MessageContext): PreparedMessage;
  /** built once per container (cold start), from the logger and metrics this module makes */
  deps(tools: { log: PipelineLog; metrics: PipelineMetrics }): PipelineDeps;
  /** Powertools idempotency records (DynamoDBPersistenceLayer on AWS); absent: the claim on the image record alone */
  persistenceStore?: BasePersistenceLayer;
  /** process a batch's records one after another (memory-heavy work) or together */
  processInParallel: boolean;
  /** shorter visibility for the records to retry, built at cold start (undefined: the queue's own timeout) */
  retryBackoff?: (log: PipelineLog) => RetryBackoffOptions | undefined;
}

export interface RetryBackoffOptions {
  sqs: SQSClient;
  /** the function's source queues (the record's eventSourceARN names one of them) */
  queueUrls: readonly string[];
  /** first delay and cap, in seconds (defaults 30 and 900) */
  baseSeconds?: number;
  maxSeconds?: number;
  random?: () => number;
}

export const RETRY_BASE_SECONDS = 30;
export const RETRY_MAX_SECONDS = 900;
/** a ChangeMessageVisibility call slower than this is abandoned (the queue's timeout then applies) */
const VISIBILITY_CALL_TIMEOUT_MS = 5000;

/** min(max, base × 2^(receiveCount−1)) seconds, ± 20 % jitter, a whole number in [0, max]. */
export function retryDelaySeconds(receiveCount: number, opts: { baseSeconds?: number; maxSeconds?: number; random?: () => number } = {}): number {
  const base = opts.baseSeconds ?? RETRY_BASE_SECONDS;
  const max = opts.maxSeconds ?? RETRY_MAX_SECONDS;
  const n = Math.max(1, Math.min(Math.floor(receiveCount) || 1, 64));
  const delay = Math.min(max, base * 2 ** (n - 1));
  const jitter = 0.8 + 0.4 * (opts.random ?? Math.random)();
  return Math.max(0, Math.min(max, Math.round(delay * jitter)));
}

/** The configured queue URL whose queue name is the ARN's last part (arn:aws:sqs:region:account:name). */
export function queueUrlFor(eventSourceARN: string | undefined, queueUrls: readonly string[]): string | undefined {
  const name = eventSourceARN?.split(':').pop();
  if (!name) return undefined;
  return queueUrls.find((u) => u.replace(/\/+$/, '').split('/').pop() === name);
}

export type SqsHandler = middy.MiddyfiedHandler<SQSEvent, SQSBatchResponse, Error, Context>;

export function sqsLambda(opts: SqsLambdaOptions): { handler: SqsHandler; deps: PipelineDeps; logger: Logger; metrics: Metrics } {
  const { logger, metrics, log, pm } = powertools(opts.service);
  // Configuration is validated here, at cold start: a bad setting fails the init with every problem listed.
  const deps = opts.deps({ log, metrics: pm });
  const retryBackoff = opts.retryBackoff?.(log);

  const idempotencyConfig = new IdempotencyConfig({ eventKeyJmesPath: 'key', expiresAfterSeconds: 3600 });
  const runOnce = opts.persistenceStore
    ? makeIdempotent(async (_key: { key: string }, prepared: PreparedMessage): Promise<MessageOutcome> => prepared.run(), {
        persistenceStore: opts.persistenceStore,
        config: idempotencyConfig,
        dataIndexArgument: 0,
      })
    : undefined;

  const recordHandler = async (record: SQSRecord, context: Context): Promise<MessageOutcome> => {
    const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? '1') || 1;
    // Stop before the deadline, so the failure is recorded and the message comes back, rather than being killed mid-write.
    const budget = Math.max(1000, context.getRemainingTimeInMillis() - deps.config.deadlineMarginMs);
    const signal = AbortSignal.timeout(budget);
    const ctx: MessageContext = { messageId: record.messageId, receiveCount, signal };
    const prepared = opts.prepare(record.body, deps, ctx);
    logger.appendKeys({ messageId: record.messageId, idempotencyKey: prepared.idempotencyKey, receiveCount });
    try {
      const outcome = runOnce ? await runOnce({ key: prepared.idempotencyKey }, prepared) : await prepared.run();
      logger.info('message done', { outcome });
      return outcome;
    } finally {
      logger.removeKeys(['messageId', 'idempotencyKey', 'receiveCount']);
    }
  };

  /** Shortens the failed records' visibility (all calls settled; failures logged, never thrown). */
  const backoff = async (event: SQSEvent, response: SQSBatchResponse): Promise<void> => {
    const b = retryBackoff;
    if (!b || response.batchItemFailures.length === 0) return;
    const byId = new Map((event.Records ?? []).map((r) => [r.messageId, r]));
    await Promise.allSettled(
      response.batchItemFailures.map(async ({ itemIdentifier }) => {
        const record = byId.get(itemIdentifier);
        if (!record) return;
        const url = queueUrlFor(record.eventSourceARN, b.queueUrls);
        if (!url) {
          logger.warn('retry backoff skipped: no configured queue URL matches the record\'s queue', { messageId: record.messageId, eventSourceARN: record.eventSourceARN });
          return;
        }
        const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? '1') || 1;
        const seconds = retryDelaySeconds(receiveCount, b);
        try {
          await b.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: record.receiptHandle, VisibilityTimeout: seconds }), { abortSignal: AbortSignal.timeout(VISIBILITY_CALL_TIMEOUT_MS) });
          logger.info('retry scheduled', { messageId: record.messageId, receiveCount, visibleInSeconds: seconds });
        } catch (e) {
          logger.warn('retry backoff failed: the message returns after the queue\'s visibility timeout', { messageId: record.messageId, error: String(e) });
        }
      }),
    );
  };

  const processor = new BatchProcessor(EventType.SQS);
  const handler = middy(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    idempotencyConfig.registerLambdaContext(context);
    // A batch where every record failed is answered like any other (all listed), not thrown: the
    // records are retried the same way, and the function's error metric stays for real faults.
    const response = await processPartialResponse(event, recordHandler, processor, { context, processInParallel: opts.processInParallel, throwOnFullBatchFailure: false });
    await backoff(event, response);
    return response;
  })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }));
  return { handler, deps, logger, metrics };
}
