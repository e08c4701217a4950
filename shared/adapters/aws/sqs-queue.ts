/**
 * JobQueue on Amazon SQS (scan jobs, layer jobs, evaluate jobs, dead letters).
 *
 * - Bodies are JSON; a string is taken as an already-serialised message and sent as it is
 *   (the local pipeline treats strings the same way).
 * - Size is checked here, before anything is sent: a message over the limit would be refused by
 *   SQS with a generic client error after the SDK's round trip, and a batch holding it would be
 *   refused whole. The limit counts what SQS counts: the body plus each attribute's name, type
 *   and value. It defaults to 256 KiB, the classic SQS limit that every queue accepts (newer
 *   queues may be configured up to 1 MiB; pass `maxMessageBytes` to use more).
 * - sendBatch packs greedily up to 10 entries and the size limit per SendMessageBatch, and
 *   retries the entries SQS reports in `Failed` with SenderFault false (its side: throttling,
 *   internal errors) with backoff. SenderFault true is our fault and will not change on retry:
 *   a permanent error. Entries still failing after the last attempt make the call throw a
 *   retryable error, so the caller's job is redelivered: nothing is dropped silently.
 * - FIFO fields (group and deduplication id) are sent only to a `.fifo` queue, where SQS needs
 *   them; a standard queue rejects them.
 */
import { SendMessageBatchCommand, SendMessageCommand, type MessageAttributeValue, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import { DrydockError } from '../../errors.js';
import { DEFAULT_RETRY, realSleep, withRetry, type RetryOptions, type Sleep } from '../../image/retry.js';
import type { JobQueue, SendOptions } from '../../ports/stores.js';
import { awsError } from './errors.js';

/** The classic SQS message (and batch) size limit, in bytes. */
export const SQS_MESSAGE_LIMIT = 256 * 1024;
/** SendMessageBatch takes at most this many entries. */
export const SQS_BATCH_ENTRIES = 10;

export interface SqsQueueOptions {
  /** largest message, and largest batch, in bytes (default 256 KiB) */
  maxMessageBytes?: number;
  /** attempts and backoff for entries a batch reports as failed (the SDK retries whole calls itself) */
  retry?: RetryOptions;
  /** injectable so tests do not wait */
  sleep?: Sleep;
}

interface Prepared {
  body: string;
  attributes: Record<string, MessageAttributeValue> | undefined;
  bytes: number;
}

export class SqsJobQueue implements JobQueue {
  private readonly fifo: boolean;
  private readonly maxBytes: number;
  private readonly retry: RetryOptions;
  private readonly sleep: Sleep;

  constructor(
    private readonly client: SQSClient,
    readonly queueUrl: string,
    opts: SqsQueueOptions = {},
  ) {
    this.fifo = queueUrl.endsWith('.fifo');
    this.maxBytes = opts.maxMessageBytes ?? SQS_MESSAGE_LIMIT;
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.sleep = opts.sleep ?? realSleep;
  }

  /** The queue's name, for messages: the last part of its URL. */
  get name(): string {
    return this.queueUrl.slice(this.queueUrl.lastIndexOf('/') + 1);
  }

  async send(body: unknown, opts: SendOptions = {}): Promise<void> {
    const m = this.prepare(body, opts, 0);
    try {
      await this.client.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: m.body,
          ...(m.attributes ? { MessageAttributes: m.attributes } : {}),
          ...this.delivery(opts, undefined),
        }),
      );
    } catch (e) {
      throw awsError(e, `SQS SendMessage to ${this.name}`);
    }
  }

  async sendBatch(bodies: readonly unknown[], opts: SendOptions = {}): Promise<void> {
    // Every message is checked before the first batch goes: a refusal never leaves half a fan-out sent.
    const all = bodies.map((b, i) => this.prepare(b, opts, i));
    let batch: Array<{ index: number; m: Prepared }> = [];
    let batchBytes = 0;
    for (const [index, m] of all.entries()) {
      if (batch.length === SQS_BATCH_ENTRIES || (batch.length > 0 && batchBytes + m.bytes > this.maxBytes)) {
        await this.sendOneBatch(batch, opts);
        batch = [];
        batchBytes = 0;
      }
      batch.push({ index, m });
      batchBytes += m.bytes;
    }
    if (batch.length) await this.sendOneBatch(batch, opts);
  }

  private async sendOneBatch(batch: ReadonlyArray<{ index: number; m: Prepared }>, opts: SendOptions): Promise<void> {
    // Entry ids are the messages' positions in the sendBatch call: unique, and they name the
    // message in an error.
    let pending: SendMessageBatchRequestEntry[] = batch.map(({ index, m }) => ({
      Id: `m${index}`,
      MessageBody: m.body,
      ...(m.attributes ? { MessageAttributes: m.attributes } : {}),
      // one deduplication id per message, else a FIFO queue keeps only the first of the batch
      ...this.delivery(opts, opts.deduplicationId === undefined ? undefined : `${opts.deduplicationId}-${index}`),
    }));
    await withRetry(
      async (attempt) => {
        let res;
        try {
          res = await this.client.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: pending }));
        } catch (e) {
          throw awsError(e, `SQS SendMessageBatch to ${this.name}`);
        }
        const failed = res.Failed ?? [];
        if (!failed.length) return { value: undefined };
        const ours = failed.filter((f) => f.SenderFault);
        if (ours.length) {
          throw new DrydockError(
            'SOURCE_UNREADABLE',
            `SQS SendMessageBatch to ${this.name} refused ${ours.length} message(s): ${describe(ours)}`,
            { kind: 'permanent' },
          );
        }
        const again = new Set(failed.map((f) => f.Id));
        pending = pending.filter((e) => again.has(e.Id));
        const code = failed.some((f) => /throttl|limit|exceeded/i.test(f.Code ?? '')) ? 'THROTTLED' : 'SERVER_ERROR';
        return {
          retry: new DrydockError(code, `SQS SendMessageBatch to ${this.name}: ${failed.length} message(s) not accepted after ${attempt} attempt(s): ${describe(failed)}`),
        };
      },
      { retry: this.retry, sleep: this.sleep },
    );
  }

  /** Serialises and measures one message; too large is a permanent, clearly named error. */
  private prepare(body: unknown, opts: SendOptions, index: number): Prepared {
    const text = serialise(body);
    const attributes = opts.attributes && Object.keys(opts.attributes).length
      ? Object.fromEntries(Object.entries(opts.attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }]))
      : undefined;
    let bytes = Buffer.byteLength(text);
    for (const [k, v] of Object.entries(opts.attributes ?? {})) bytes += Buffer.byteLength(k) + 'String'.length + Buffer.byteLength(v);
    if (bytes > this.maxBytes) {
      throw new DrydockError(
        'LIMIT_EXCEEDED',
        `message ${index} for SQS queue ${this.name} is ${bytes} bytes with its attributes; the limit is ${this.maxBytes}: store the payload in S3 and send its key`,
      );
    }
    return { body: text, attributes, bytes };
  }

  /** DelaySeconds for standard queues, group and deduplication ids for FIFO ones. */
  private delivery(opts: SendOptions, deduplicationId: string | undefined): { DelaySeconds?: number; MessageGroupId?: string; MessageDeduplicationId?: string } {
    if (!this.fifo) return opts.delaySeconds !== undefined ? { DelaySeconds: opts.delaySeconds } : {};
    // SQS refuses per-message delays on FIFO queues; dropping it silently would deliver early.
    if (opts.delaySeconds) throw new DrydockError('CONFIG', `SQS queue ${this.name} is FIFO: per-message delays are not supported (set DelaySeconds on the queue)`);
    const dedup = deduplicationId ?? opts.deduplicationId;
    return { ...(opts.groupId !== undefined ? { MessageGroupId: opts.groupId } : {}), ...(dedup !== undefined ? { MessageDeduplicationId: dedup } : {}) };
  }
}

function serialise(body: unknown): string {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  if (typeof text !== 'string') throw new DrydockError('PARSE_ERROR', `a ${typeof body} cannot be sent as a JSON message`, { kind: 'permanent' });
  return text;
}

function describe(failed: ReadonlyArray<{ Id?: string; Code?: string; Message?: string }>): string {
  const shown = failed.slice(0, 3).map((f) => `${f.Id}: ${f.Code ?? 'Error'}${f.Message ? ` (${f.Message})` : ''}`);
  return shown.join('; ') + (failed.length > 3 ? `; and ${failed.length - 3} more` : '');
}
