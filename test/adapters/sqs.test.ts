/**
 * SqsJobQueue with the real SDK v3 SQSClient against a real local SQS server (local-aws-sqs,
 * started and stopped here): send and sendBatch delivered whole with their attributes, batches
 * split by count and by size, the size limit, FIFO fields, and the queue + dead-letter setup the
 * pipeline relies on (redrive after maxReceiveCount). The local server never reports partial
 * batch failures, so those are injected with client middleware; such tests say "(injected)".
 */
import { randomUUID } from 'node:crypto';
import {
  ReceiveMessageCommand,
  SQSClient,
  type SendMessageBatchCommandInput,
  type SendMessageBatchCommandOutput,
  type SendMessageBatchRequestEntry,
} from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SqsJobQueue, SQS_MESSAGE_LIMIT } from '../../shared/adapters/aws/sqs-queue.js';
import { MemoryQueue } from '../../shared/adapters/local/memory-messaging.js';
import { DrydockError } from '../../shared/errors.js';
import type { RetryOptions } from '../../shared/image/retry.js';
import { startSqsLocal, type SqsLocal } from '../support/sqs-local.js';

let sqs: SqsLocal;
const clients: SQSClient[] = [];

beforeAll(async () => {
  sqs = await startSqsLocal();
});

afterAll(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await sqs?.stop();
});

afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
});

const FAST: RetryOptions = { attempts: 4, baseDelayMs: 5, maxDelayMs: 50 };

interface Recorded {
  command: string;
  input: Record<string, unknown>;
}

/** A client that records each command and its input as sent (after any injection). */
function client(): { client: SQSClient; sent: Recorded[] } {
  const c = new SQSClient(sqs.clientConfig);
  const sent: Recorded[] = [];
  c.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push({ command: String(context.commandName), input: structuredClone(args.input as Record<string, unknown>) });
      return next(args);
    },
    { step: 'initialize', name: 'recordInput', priority: 'low' },
  );
  clients.push(c);
  return { client: c, sent };
}

/**
 * Injects partial failures into SendMessageBatch (injected): `decide` picks, per call (1-based),
 * the entries to refuse; they are taken out of the request before it is sent (so SQS never sees
 * them) and reported in `Failed` with the given SenderFault, as SQS reports its own refusals.
 */
function injectBatchFailures(c: SQSClient, decide: (call: number, e: SendMessageBatchRequestEntry) => { senderFault: boolean; code: string } | undefined): { calls: () => number } {
  let calls = 0;
  c.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'SendMessageBatchCommand') return next(args);
      calls++;
      const input = args.input as SendMessageBatchCommandInput;
      const refused: NonNullable<SendMessageBatchCommandOutput['Failed']> = [];
      const kept = (input.Entries ?? []).filter((e) => {
        const f = decide(calls, e);
        if (f) refused.push({ Id: e.Id!, SenderFault: f.senderFault, Code: f.code, Message: 'injected' });
        return !f;
      });
      if (!kept.length) return { output: { Successful: [], Failed: refused, $metadata: {} }, response: {} } as never;
      const result = await next({ ...args, input: { ...input, Entries: kept } });
      const out = result.output as SendMessageBatchCommandOutput;
      out.Failed = [...(out.Failed ?? []), ...refused];
      return result;
    },
    { step: 'initialize', name: 'injectBatchFailures', priority: 'high' },
  );
  return { calls: () => calls };
}

function bodiesOf(messages: Array<{ Body?: string }>): unknown[] {
  return messages.map((m) => JSON.parse(m.Body!) as unknown);
}

describe('SqsJobQueue on a local SQS server', () => {
  it('send delivers the JSON body and the attributes', async () => {
    const { url } = await sqs.createQueue(`send-${randomUUID()}`);
    const { client: c } = client();
    const q = new SqsJobQueue(c, url);
    await q.send({ schema: 'drydock.scan-job/1', jobId: 'j1', n: 1 }, { attributes: { kind: 'scan', reason: 'push' } });
    const [m] = await sqs.receiveAll(url, 1);
    expect(JSON.parse(m!.Body!)).toEqual({ schema: 'drydock.scan-job/1', jobId: 'j1', n: 1 });
    expect(m!.MessageAttributes).toEqual({ kind: { DataType: 'String', StringValue: 'scan' }, reason: { DataType: 'String', StringValue: 'push' } });
  });

  it('a string body is sent as the serialised message it is', async () => {
    const { url } = await sqs.createQueue(`string-${randomUUID()}`);
    const { client: c } = client();
    await new SqsJobQueue(c, url).send('{"already":"json"}');
    const [m] = await sqs.receiveAll(url, 1);
    expect(m!.Body).toBe('{"already":"json"}');
  });

  it('sendBatch of 23 bodies: 3 requests (10+10+3), all 23 received with attributes', async () => {
    const { url } = await sqs.createQueue(`batch-${randomUUID()}`);
    const { client: c, sent } = client();
    const q = new SqsJobQueue(c, url);
    const bodies = Array.from({ length: 23 }, (_, i) => ({ schema: 'drydock.layer-job/1', i }));
    await q.sendBatch(bodies, { attributes: { kind: 'layer' } });
    const batches = sent.filter((s) => s.command === 'SendMessageBatchCommand').map((s) => (s.input.Entries as unknown[]).length);
    expect(batches).toEqual([10, 10, 3]);
    const got = await sqs.receiveAll(url, 23, { timeoutMs: 10_000 });
    expect(got).toHaveLength(23);
    expect((bodiesOf(got) as Array<{ i: number }>).map((b) => b.i).sort((a, b) => a - b)).toEqual(bodies.map((b) => b.i));
    for (const m of got) expect(m.MessageAttributes?.kind).toEqual({ DataType: 'String', StringValue: 'layer' });
  });

  it('batches are split by size too: 5 × 100 KiB go as 2+2+1', async () => {
    const { url } = await sqs.createQueue(`size-${randomUUID()}`);
    const { client: c, sent } = client();
    const bodies = Array.from({ length: 5 }, (_, i) => ({ i, pad: 'x'.repeat(100 * 1024) }));
    await new SqsJobQueue(c, url).sendBatch(bodies);
    const batches = sent.filter((s) => s.command === 'SendMessageBatchCommand').map((s) => (s.input.Entries as unknown[]).length);
    expect(batches).toEqual([2, 2, 1]);
    expect(await sqs.receiveAll(url, 5)).toHaveLength(5);
  });

  it('a 300 KiB body is LIMIT_EXCEEDED before anything is sent (send and sendBatch)', async () => {
    const { url } = await sqs.createQueue(`limit-${randomUUID()}`);
    const { client: c, sent } = client();
    const q = new SqsJobQueue(c, url);
    const big = { pad: 'x'.repeat(300 * 1024) };
    const err = await q.send(big).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrydockError);
    expect(err).toMatchObject({ code: 'LIMIT_EXCEEDED', kind: 'permanent' });
    expect((err as Error).message).toMatch(new RegExp(`limit is ${SQS_MESSAGE_LIMIT}`));
    // one oversized message in a batch: none of the batch goes (no half-sent fan-out)
    await expect(q.sendBatch([{ ok: 1 }, big, { ok: 2 }])).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    expect(sent).toEqual([]);
    // attributes count towards the limit
    const nearly = 'y'.repeat(SQS_MESSAGE_LIMIT - 10);
    await expect(q.send(nearly, { attributes: { someAttribute: 'value' } })).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    await q.send(nearly);
    expect((await sqs.receiveAll(url, 1))[0]!.Body).toBe(nearly);
  });

  it('entries reported Failed with SenderFault false are retried with backoff (injected)', async () => {
    const { url } = await sqs.createQueue(`retry-${randomUUID()}`);
    const { client: c, sent } = client();
    const refused = new Set(['m1', 'm4', 'm7']);
    const inj = injectBatchFailures(c, (call, e) => (call === 1 && refused.has(e.Id!) ? { senderFault: false, code: 'InternalError' } : undefined));
    const waits: number[] = [];
    const q = new SqsJobQueue(c, url, { retry: FAST, sleep: async (ms) => void waits.push(ms) });
    await q.sendBatch(Array.from({ length: 10 }, (_, i) => ({ i })));
    expect(inj.calls()).toBe(2);
    // the retry carried exactly the refused entries
    const retried = sent.filter((s) => s.command === 'SendMessageBatchCommand')[1]!.input.Entries as SendMessageBatchRequestEntry[];
    expect(retried.map((e) => e.Id).sort()).toEqual([...refused].sort());
    expect(waits).toHaveLength(1);
    const got = bodiesOf(await sqs.receiveAll(url, 10)) as Array<{ i: number }>;
    // each message exactly once
    expect(got.map((b) => b.i).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('entries still failing after the last attempt make sendBatch throw a retryable error (injected)', async () => {
    const { url } = await sqs.createQueue(`exhaust-${randomUUID()}`);
    const { client: c } = client();
    const inj = injectBatchFailures(c, (_call, e) => (e.Id === 'm2' ? { senderFault: false, code: 'ThrottlingException' } : undefined));
    const q = new SqsJobQueue(c, url, { retry: FAST, sleep: async () => {} });
    const err = await q.sendBatch([{ i: 0 }, { i: 1 }, { i: 2 }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrydockError);
    expect(err).toMatchObject({ code: 'THROTTLED', kind: 'retryable' });
    expect((err as Error).message).toMatch(/m2: ThrottlingException/);
    expect(inj.calls()).toBe(FAST.attempts);
  });

  it('entries Failed with SenderFault true are a permanent error, not retried (injected)', async () => {
    const { url } = await sqs.createQueue(`sender-${randomUUID()}`);
    const { client: c } = client();
    const inj = injectBatchFailures(c, (_call, e) => (e.Id === 'm0' ? { senderFault: true, code: 'InvalidMessageContents' } : undefined));
    const q = new SqsJobQueue(c, url, { retry: FAST, sleep: async () => {} });
    const err = await q.sendBatch([{ i: 0 }, { i: 1 }]).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'permanent' });
    expect((err as Error).message).toMatch(/m0: InvalidMessageContents/);
    expect(inj.calls()).toBe(1);
  });

  it('a missing queue is a permanent error through awsError', async () => {
    const { client: c } = client();
    const q = new SqsJobQueue(c, `${sqs.endpoint}/123456789012/no-such-queue-${randomUUID()}`);
    const err = await q.send({ x: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrydockError);
    expect(err).toMatchObject({ kind: 'permanent' });
    expect((err as Error).message).toMatch(/SQS SendMessage to no-such-queue/);
  });

  it('FIFO queues get group and per-message deduplication ids; standard queues get neither', async () => {
    const fifo = await sqs.createQueue(`jobs-${randomUUID().slice(0, 8)}.fifo`);
    const { client: c, sent } = client();
    const q = new SqsJobQueue(c, fifo.url);
    await q.sendBatch([{ i: 0 }, { i: 1 }, { i: 2 }], { groupId: 'image-a', deduplicationId: 'push-1' });
    const entries = sent.find((s) => s.command === 'SendMessageBatchCommand')!.input.Entries as SendMessageBatchRequestEntry[];
    expect(entries.map((e) => [e.MessageGroupId, e.MessageDeduplicationId])).toEqual([
      ['image-a', 'push-1-0'],
      ['image-a', 'push-1-1'],
      ['image-a', 'push-1-2'],
    ]);
    // a shared id would have deduplicated the batch to one message
    const got = bodiesOf(await sqs.receiveAll(fifo.url, 3)) as Array<{ i: number }>;
    expect(got.map((b) => b.i)).toEqual([0, 1, 2]);
    await expect(q.send({ i: 3 }, { groupId: 'g', delaySeconds: 5 })).rejects.toMatchObject({ code: 'CONFIG' });

    const std = await sqs.createQueue(`std-${randomUUID()}`);
    await new SqsJobQueue(c, std.url).send({ i: 0 }, { groupId: 'g', deduplicationId: 'd', delaySeconds: 0 });
    const input = sent.filter((s) => s.command === 'SendMessageCommand').at(-1)!.input;
    expect(input).not.toHaveProperty('MessageGroupId');
    expect(input).not.toHaveProperty('MessageDeduplicationId');
    expect(input).toMatchObject({ DelaySeconds: 0 });
  });

  it('a message received maxReceiveCount times without being deleted moves to the DLQ', async () => {
    const maxReceiveCount = 3;
    const { url, dlqUrl } = await sqs.createQueueWithDlq(`redrive-${randomUUID()}`, maxReceiveCount);
    const { client: c } = client();
    await new SqsJobQueue(c, url).send({ jobId: 'poison' }, { attributes: { kind: 'scan' } });
    // as a failing Lambda would: receive, do not delete, let it become visible again at once
    const counts: string[] = [];
    for (let i = 0; i < maxReceiveCount; i++) {
      const res = await sqs.admin.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 0, WaitTimeSeconds: 1, AttributeNames: ['All'] }));
      expect(res.Messages).toHaveLength(1);
      counts.push(res.Messages![0]!.Attributes!.ApproximateReceiveCount!);
    }
    expect(counts).toEqual(['1', '2', '3']);
    // the next receive finds it gone from the work queue: it is in the DLQ, body and attributes intact
    const after = await sqs.admin.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 0, WaitTimeSeconds: 1 }));
    expect(after.Messages ?? []).toHaveLength(0);
    const dead = await sqs.receiveAll(dlqUrl, 1);
    expect(dead).toHaveLength(1);
    expect(JSON.parse(dead[0]!.Body!)).toEqual({ jobId: 'poison' });
    expect(dead[0]!.MessageAttributes?.kind?.StringValue).toBe('scan');
  });
});

describe('MemoryQueue (the in-process stand-in for SqsJobQueue)', () => {
  it('records what a consumer would parse; drain hands out each message once, sent keeps them all', async () => {
    const q = new MemoryQueue();
    const job = { jobId: 'a', at: new Date('2026-01-02T03:04:05Z'), gone: undefined as unknown };
    await q.send(job, { attributes: { kind: 'scan' } });
    job.jobId = 'changed after sending';
    await q.sendBatch([{ jobId: 'b' }, '{"jobId":"c"}']);
    expect(q.drain()).toEqual([{ jobId: 'a', at: '2026-01-02T03:04:05.000Z' }, { jobId: 'b' }, '{"jobId":"c"}']);
    expect(q.drain()).toEqual([]);
    await q.send({ jobId: 'd' });
    expect(q.drain()).toEqual([{ jobId: 'd' }]);
    expect(q.sent).toHaveLength(4);
    expect(q.log[0]!.opts).toEqual({ attributes: { kind: 'scan' } });
  });

  it('refuses a message over 256 KiB as the SQS adapter does, sending none of its batch', async () => {
    const q = new MemoryQueue();
    await expect(q.send({ pad: 'x'.repeat(300 * 1024) })).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    await expect(q.sendBatch([{ ok: 1 }, { pad: 'x'.repeat(300 * 1024) }])).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    expect(q.sent).toEqual([]);
    expect(q.drain()).toEqual([]);
  });
});
