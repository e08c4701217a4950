/**
 * BatchWriteItem and BatchGetItem in DynamoDB's chunk sizes (25 writes, 100 keys per call),
 * with the partial answers retried: a batch call "succeeds" while returning some items as
 * UnprocessedItems / UnprocessedKeys when a partition is throttled, and ignoring those would
 * silently drop writes (DESIGN.md §4: nothing is ever silently dropped). The SDK's own retry
 * covers whole-call failures (throttling exceptions, 5xx); this covers the partial ones:
 * exponential backoff with full jitter, and THROTTLED (retryable) when items remain after
 * `maxAttempts` calls, so the job fails and SQS redelivers it.
 */
import { BatchGetCommand, BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DrydockError } from '../../../errors.js';
import { awsError } from '../errors.js';
import { MAX_BATCH_GET, MAX_BATCH_WRITE } from '../tables.js';

export type Item = Record<string, unknown>;

export type WriteRequest = { PutRequest: { Item: Item } } | { DeleteRequest: { Key: Item } };

export interface BatchOptions {
  /** calls per chunk (the first included) before giving up on unprocessed items; default 8 */
  maxAttempts?: number;
  /** backoff before retry n is random(0, min(maxDelayMs, baseDelayMs·2^(n-1))); defaults 50 and 3,000 ms */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** chunks in flight at once; default 4 */
  concurrency?: number;
  /** for tests: how to wait, and the jitter source */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const defaults = {
  maxAttempts: 8,
  baseDelayMs: 50,
  maxDelayMs: 3000,
  concurrency: 4,
  sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
  random: Math.random,
};

/**
 * Writes all requests to `table`. The caller makes sure no two requests in the list share a key
 * (DynamoDB rejects a batch with duplicate keys). Resolves when every request was processed.
 */
export async function batchWrite(doc: DynamoDBDocumentClient, table: string, requests: readonly WriteRequest[], options: BatchOptions = {}): Promise<void> {
  const o = { ...defaults, ...options };
  await inChunks(requests, MAX_BATCH_WRITE, o.concurrency, async (chunk) => {
    let pending = chunk;
    for (let attempt = 1; ; attempt++) {
      let res;
      try {
        res = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending as WriteRequest[] } }));
      } catch (e) {
        throw awsError(e, `BatchWriteItem ${table} (${pending.length} requests)`);
      }
      pending = (res.UnprocessedItems?.[table] ?? []) as WriteRequest[];
      if (pending.length === 0) return;
      if (attempt >= o.maxAttempts) {
        throw new DrydockError(
          'THROTTLED',
          `BatchWriteItem ${table}: ${pending.length} of ${chunk.length} requests still unprocessed after ${attempt} attempts (throughput exceeded); retry later`,
        );
      }
      await o.sleep(backoff(attempt, o));
    }
  });
}

/** Reads the items with these keys (missing ones are simply absent from the answer; order is not kept). */
export async function batchGet(
  doc: DynamoDBDocumentClient,
  table: string,
  keys: readonly Item[],
  options: BatchOptions & { consistentRead?: boolean } = {},
): Promise<Item[]> {
  const o = { ...defaults, ...options };
  const out: Item[] = [];
  await inChunks(keys, MAX_BATCH_GET, o.concurrency, async (chunk) => {
    let pending = chunk;
    for (let attempt = 1; ; attempt++) {
      let res;
      try {
        res = await doc.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: pending as Item[], ConsistentRead: o.consistentRead } } }));
      } catch (e) {
        throw awsError(e, `BatchGetItem ${table} (${pending.length} keys)`);
      }
      out.push(...((res.Responses?.[table] ?? []) as Item[]));
      pending = (res.UnprocessedKeys?.[table]?.Keys ?? []) as Item[];
      if (pending.length === 0) return;
      if (attempt >= o.maxAttempts) {
        throw new DrydockError('THROTTLED', `BatchGetItem ${table}: ${pending.length} of ${chunk.length} keys still unprocessed after ${attempt} attempts (throughput exceeded); retry later`);
      }
      await o.sleep(backoff(attempt, o));
    }
  });
  return out;
}

/** Full jitter ("Exponential Backoff And Jitter", AWS Architecture Blog): spreads retrying clients apart. */
function backoff(attempt: number, o: typeof defaults): number {
  return Math.floor(o.random() * Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** (attempt - 1)));
}

/** Runs `fn` over consecutive chunks of `size`, at most `concurrency` at once; the first failure rejects (after the running ones settle). */
async function inChunks<T>(all: readonly T[], size: number, concurrency: number, fn: (chunk: T[]) => Promise<void>): Promise<void> {
  const chunks: T[][] = [];
  for (let i = 0; i < all.length; i += size) chunks.push(all.slice(i, i + size));
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < chunks.length) {
      const chunk = chunks[next++]!;
      try {
        await fn(chunk);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(Math.max(1, concurrency), chunks.length) }, worker));
  const err = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (err) throw err.reason;
}
