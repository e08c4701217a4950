/**
 * The Lambda glue every queue-driven function shares, kept out of the core: middy with
 * Powertools — Logger (JSON, the Lambda context and each message's ids as correlation keys),
 * Metrics (CloudWatch EMF, cold starts), Batch (SQS partial batch responses: only the records
 * that should be retried are reported) and Idempotency (one run per key: digest + job kind,
 * records in DynamoDB, a run cut off by a timeout is retried once its in-progress lock expires).
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
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
}

export type SqsHandler = middy.MiddyfiedHandler<SQSEvent, SQSBatchResponse, Error, Context>;

export function sqsLambda(opts: SqsLambdaOptions): { handler: SqsHandler; deps: PipelineDeps; logger: Logger; metrics: Metrics } {
  const { logger, metrics, log, pm } = powertools(opts.service);
  // Configuration is validated here, at cold start: a bad setting fails the init with every problem listed.
  const deps = opts.deps({ log, metrics: pm });

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

  const processor = new BatchProcessor(EventType.SQS);
  const handler = middy(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    idempotencyConfig.registerLambdaContext(context);
    // A batch where every record failed is answered like any other (all listed), not thrown: the
    // records are retried the same way, and the function's error metric stays for real faults.
    return processPartialResponse(event, recordHandler, processor, { context, processInParallel: opts.processInParallel, throwOnFullBatchFailure: false });
  })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }));
  return { handler, deps, logger, metrics };
}
