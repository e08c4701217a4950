/**
 * Retry sooner, bounded (functions/lib/sqs-lambda.ts): a record that fails with a retryable
 * error is reported in batchItemFailures and its message's visibility is changed to the
 * backoff, so it comes back after seconds or minutes instead of the queue's long visibility
 * timeout. On a real SQS server (local-aws-sqs) with the real SDK v3 client; the message's work
 * is a stand-in that fails (the pipeline core is not what is tested here), and the backoff's
 * base is shortened to a few seconds so the test does not wait 30 s. No assertion puts an
 * upper bound on elapsed time (a loaded machine would break it): a message must be hidden
 * right after the failure, must not come back before its backoff (a lower bound, which load
 * cannot break), and must come back within a generous deadline (backoff + 30 s), far below
 * the queue's own visibility timeout (600 s).
 */
import { ReceiveMessageCommand, SendMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueUrlFor, retryDelaySeconds, sqsLambda, type RetryBackoffOptions } from '../../functions/lib/sqs-lambda.js';
import { DrydockError } from '../../shared/errors.js';
import { DEFAULT_CONFIG } from '../../shared/pipeline/config.js';
import type { PipelineDeps } from '../../shared/pipeline/deps.js';
import { startSqsLocal, type SqsLocal } from '../support/sqs-local.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

let sqs: SqsLocal;
let client: SQSClient;
beforeAll(async () => {
  sqs = await startSqsLocal();
  client = new SQSClient(sqs.clientConfig);
});
afterAll(async () => {
  client?.destroy();
  await sqs?.stop();
});

const context = {
  functionName: 'drydock-test',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:drydock-test',
  memoryLimitInMB: '1024',
  awsRequestId: 'req-1',
  logGroupName: '/aws/lambda/drydock-test',
  logStreamName: 'test',
  callbackWaitsForEmptyEventLoop: false,
  getRemainingTimeInMillis: () => 60_000,
  done() {},
  fail() {},
  succeed() {},
} as unknown as Context;

/** A handler whose every message fails with a retryable error (or succeeds when `ok` says so). */
function failingHandler(backoff: Omit<RetryBackoffOptions, 'sqs'> | undefined, ok: (body: string) => boolean = () => false) {
  return sqsLambda({
    service: 'test',
    deps: () => ({ config: DEFAULT_CONFIG }) as unknown as PipelineDeps,
    prepare: (body) => ({
      idempotencyKey: body,
      run: async () => {
        if (ok(body)) return { outcome: 'skipped', digest: body, why: 'test' } as never;
        throw new DrydockError('SERVER_ERROR', 'the registry answered 503', { kind: 'retryable' });
      },
    }),
    ...(backoff ? { retryBackoff: () => ({ sqs: client, ...backoff }) } : {}),
    processInParallel: false,
  }).handler;
}

/** The received messages as Lambda's SQS event source hands them over. */
function eventOf(messages: Message[], arn: string): SQSEvent {
  return {
    Records: messages.map(
      (m): SQSRecord => ({
        messageId: m.MessageId!,
        receiptHandle: m.ReceiptHandle!,
        body: m.Body!,
        attributes: { ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1', SentTimestamp: '0', SenderId: 'x', ApproximateFirstReceiveTimestamp: '0' },
        messageAttributes: {},
        md5OfBody: m.MD5OfBody ?? '',
        eventSource: 'aws:sqs',
        eventSourceARN: arn,
        awsRegion: 'us-east-1',
      }),
    ),
  };
}

/** Whether nothing can be received from the queue at this moment (one short poll, no waiting). */
async function hiddenNow(url: string): Promise<boolean> {
  const res = await client.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
  return !res.Messages?.length;
}

/** The next message to become visible (polling until `deadlineMs`), and when it was seen; undefined if none. */
async function nextVisible(url: string, deadlineMs: number): Promise<{ message: Message; seenAt: number } | undefined> {
  const [m] = await sqs.receiveAll(url, 1, { timeoutMs: deadlineMs, keep: true });
  return m ? { message: m, seenAt: Date.now() } : undefined;
}

/** slack for the server's timer (a timer may fire a millisecond early against Date.now) */
const TIMER_SLACK_MS = 100;
/** how long past its backoff a message may take to be seen: generous, for a loaded machine */
const GRACE_S = 30;

describe('retry backoff on SQS (local-aws-sqs, real SDK client)', () => {
  it('a failing record comes back after the backoff, not after the queue visibility timeout, each time later', async () => {
    const q = await sqs.createQueue('backoff-work', { VisibilityTimeout: '600' });
    await client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'job-1' }));
    const base = 3;
    const options = { baseSeconds: base, random: () => 0.5 };
    const handler = failingHandler({ queueUrls: ['https://sqs.example/000000000000/other', q.url], ...options });

    const [first] = await sqs.receiveAll(q.url, 1, { keep: true });
    const failedAt1 = Date.now();
    const res1 = await handler(eventOf([first!], q.arn), context);
    expect(res1.batchItemFailures).toEqual([{ itemIdentifier: first!.MessageId }]);
    // backoff `base` s at receive 1: hidden now, back after it, where the queue would have waited 600 s
    const backoff1 = retryDelaySeconds(1, options);
    expect(backoff1).toBe(base);
    expect(await hiddenNow(q.url), 'hidden right after the failure').toBe(true);
    const again = await nextVisible(q.url, (backoff1 + GRACE_S) * 1000);
    expect(again, `the message came back within ${backoff1 + GRACE_S} s (the queue's own timeout: 600 s)`).toBeDefined();
    expect(again!.seenAt - failedAt1, 'not before its backoff').toBeGreaterThanOrEqual(backoff1 * 1000 - TIMER_SLACK_MS);

    // the second failure waits longer (2 × base at receive 2): hidden now, and not back before that
    const count = Number(again!.message.Attributes?.ApproximateReceiveCount);
    expect(count).toBeGreaterThanOrEqual(2);
    const backoff2 = retryDelaySeconds(count, options);
    expect(backoff2).toBeGreaterThan(backoff1);
    const failedAt2 = Date.now();
    const res2 = await handler(eventOf([again!.message], q.arn), context);
    expect(res2.batchItemFailures).toHaveLength(1);
    expect(await hiddenNow(q.url), 'hidden right after the second failure').toBe(true);
    const third = await nextVisible(q.url, (backoff2 + GRACE_S) * 1000);
    expect(third, `the message came back within ${backoff2 + GRACE_S} s`).toBeDefined();
    expect(third!.seenAt - failedAt2, 'not before its (longer) backoff').toBeGreaterThanOrEqual(backoff2 * 1000 - TIMER_SLACK_MS);
  }, 150_000);

  it('records that succeed keep their visibility; only the failed ones are changed', async () => {
    const q = await sqs.createQueue('backoff-mixed', { VisibilityTimeout: '600' });
    for (const body of ['good', 'bad']) await client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: body }));
    const messages = await sqs.receiveAll(q.url, 2, { keep: true });
    expect(messages).toHaveLength(2);
    const res = await failingHandler({ queueUrls: [q.url], baseSeconds: 1, random: () => 0.5 }, (b) => b === 'good')(eventOf(messages, q.arn), context);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: messages.find((m) => m.Body === 'bad')!.MessageId }]);
    // the failed one comes back after its 1 s backoff; the one that succeeded stays hidden (600 s)
    const back = await nextVisible(q.url, (1 + GRACE_S) * 1000);
    expect(back?.message.Body).toBe('bad');
    expect(await hiddenNow(q.url), '"good" still hidden once "bad" is back').toBe(true);
  }, 90_000);

  it('no configured URL for the record\'s queue, or a failing call: logged, the batch answered as usual, the visibility left as it was', async () => {
    const q = await sqs.createQueue('backoff-unmatched', { VisibilityTimeout: '600' });
    await client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'job-x' }));
    const [m] = await sqs.receiveAll(q.url, 1, { keep: true });
    const unmatched = await failingHandler({ queueUrls: ['http://127.0.0.1:1/000000000000/someone-else'], baseSeconds: 1 })(eventOf([m!], q.arn), context);
    expect(unmatched.batchItemFailures).toHaveLength(1);
    // a receipt handle SQS refuses: the ChangeMessageVisibility call fails, the handler does not
    const refused = await failingHandler({ queueUrls: [q.url], baseSeconds: 1 })(eventOf([{ ...m!, ReceiptHandle: 'not-a-receipt-handle' }], q.arn), context);
    expect(refused.batchItemFailures).toHaveLength(1);
    expect(await sqs.receiveAll(q.url, 1, { keep: true, timeoutMs: 2500 })).toEqual([]);
  });
});

describe('the backoff schedule', () => {
  it('min(900, 30 × 2^(receiveCount−1)) s with ±20 % jitter; five receives take minutes, not hours', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map((n) => retryDelaySeconds(n, { random: () => 0.5 }))).toEqual([30, 60, 120, 240, 480, 900, 900]);
    expect(retryDelaySeconds(1, { random: () => 0 })).toBe(24);
    expect(retryDelaySeconds(1, { random: () => 0.999999 })).toBe(36);
    expect(retryDelaySeconds(6, { random: () => 0.999999 })).toBe(900);
    expect(retryDelaySeconds(0, { random: () => 0.5 })).toBe(30);
    expect(retryDelaySeconds(Number.NaN, { random: () => 0.5 })).toBe(30);
    const worst = [1, 2, 3, 4].reduce((s, n) => s + retryDelaySeconds(n, { random: () => 0.999999 }), 0);
    expect(worst).toBeLessThan(10 * 60);
  });

  it("the queue URL is the configured one named by the record's eventSourceARN", () => {
    const urls = ['https://sqs.eu-west-1.amazonaws.com/123456789012/drydock-ScanQueue-AB12', 'https://sqs.eu-west-1.amazonaws.com/123456789012/drydock-EvaluateQueue-CD34'];
    expect(queueUrlFor('arn:aws:sqs:eu-west-1:123456789012:drydock-EvaluateQueue-CD34', urls)).toBe(urls[1]);
    expect(queueUrlFor('arn:aws:sqs:eu-west-1:123456789012:drydock-ScanQueue', urls)).toBeUndefined();
    expect(queueUrlFor(undefined, urls)).toBeUndefined();
  });
});
