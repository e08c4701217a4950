/**
 * Slack notifier Lambda: subscribed to the results topic (directly, or through an SQS queue
 * with a batching window so that many results of one feed update arrive together and become
 * one summary). Thin: each record's result message is checked against drydock.result/1 (an
 * invalid one is a poison message: logged and skipped) and handed to the notifier core
 * (shared/notify/notifier.ts). A result that cannot be posted makes the invocation throw: for
 * SNS, Lambda's async retries and then the function's on-failure destination keep it; for SQS,
 * the batch is retried and then goes to the queue's DLQ.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, SNSEvent, SQSEvent } from 'aws-lambda';
import { s3Presigner, secretsManagerReader } from '../../shared/adapters/aws/notifier-readers.js';
import { createNotifier, notifierConfig, type NotifierDeps, type NotifyOutcome } from '../../shared/notify/notifier.js';
import { schemaErrors, type ResultMessage } from '../../shared/pipeline/messages.js';

export { MAX_REPORT_URL_TTL_SECONDS, notifierConfig, type NotifierConfig, type Presigner } from '../../shared/notify/notifier.js';
export { s3Presigner, secretsManagerReader } from '../../shared/adapters/aws/notifier-readers.js';

type Parsed = { ok: true; result: ResultMessage; messageId: string } | { ok: false; problems: string[]; messageId?: string };

/** An SNS record's Message, an SQS record's body holding an SNS envelope, or a raw result (raw delivery). */
export function parseRecord(record: unknown): Parsed {
  const r = record as { Sns?: { Message?: unknown; MessageId?: string }; body?: unknown; messageId?: string };
  let text: unknown = r?.Sns?.Message;
  let messageId = r?.Sns?.MessageId ?? r?.messageId;
  if (text === undefined && typeof r?.body === 'string') {
    text = r.body;
    try {
      const envelope = JSON.parse(r.body) as { Type?: string; Message?: unknown; MessageId?: string };
      if (envelope?.Type === 'Notification' && typeof envelope.Message === 'string') {
        text = envelope.Message;
        messageId = envelope.MessageId ?? messageId;
      }
    } catch {
      // not JSON: reported below
    }
  }
  if (typeof text !== 'string') return { ok: false, problems: ['the record carries no message text'], ...(messageId ? { messageId } : {}) };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return { ok: false, problems: [`not JSON (${(e as Error).message}); first bytes: ${JSON.stringify(text.slice(0, 80))}`], ...(messageId ? { messageId } : {}) };
  }
  const problems = schemaErrors('drydock.result/1', data);
  return problems.length ? { ok: false, problems, ...(messageId ? { messageId } : {}) } : { ok: true, result: data as ResultMessage, messageId: messageId ?? '' };
}

export type NotifierHandler = middy.MiddyfiedHandler<SNSEvent | SQSEvent, NotifyOutcome, Error, Context>;

export function createHandler(deps: NotifierDeps & { logger?: Logger }): NotifierHandler {
  const logger = deps.logger ?? new Logger({ serviceName: 'drydock-slack-notifier' });
  const notifier = createNotifier({
    ...deps,
    log: { info: (m, e) => logger.info(m, e ?? {}), warn: (m, e) => logger.warn(m, e ?? {}), error: (m, e) => logger.error(m, e ?? {}) },
  });
  const run = async (event: SNSEvent | SQSEvent, context: Context): Promise<NotifyOutcome> => {
    const results: Array<{ result: ResultMessage; messageId: string }> = [];
    let skipped = 0;
    for (const record of (event.Records ?? []) as unknown[]) {
      const parsed = parseRecord(record);
      if (!parsed.ok) {
        skipped++;
        logger.error('poison message skipped: not a valid drydock.result/1', { messageId: parsed.messageId, problems: parsed.problems });
        continue;
      }
      results.push({ result: parsed.result, messageId: parsed.messageId });
    }
    return notifier.notify(results, context, skipped);
  };
  return middy<SNSEvent | SQSEvent, NotifyOutcome, Error, Context>(run).use(injectLambdaContext(logger, { resetKeys: true }));
}

let built: NotifierHandler | undefined;

function fromEnv(): NotifierHandler {
  return createHandler({ config: notifierConfig(process.env), readSecret: secretsManagerReader(), presign: s3Presigner() });
}

// On Lambda the configuration is checked at cold start (a bad setting fails the init, every
// problem listed); imported elsewhere (tests, tools) nothing is built until the first call.
if (process.env.AWS_LAMBDA_FUNCTION_NAME) built = fromEnv();

export async function handler(event: SNSEvent | SQSEvent, context: Context): Promise<NotifyOutcome> {
  built ??= fromEnv();
  return built(event, context);
}
