/**
 * The DynamoDB adapters against a real DynamoDB Local (started and stopped here): the store
 * contract, then DynamoDB's own limits — 400 KB items, 25-item batches, UnprocessedItems,
 * conditional failures, throttling, 1 MB query pages. DynamoDB Local never throttles nor
 * returns UnprocessedItems, so those are injected with client middleware; such tests say
 * "(injected)" in their names. Every test uses tables with a fresh name prefix.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  ConditionalCheckFailedException,
  DescribeTableCommand,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
  QueryCommand as RawQueryCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADVISORY_ITEM_LIMIT, DynamoAdvisoryStore } from '../../shared/adapters/aws/dynamodb/advisory-store.js';
import type { BatchOptions } from '../../shared/adapters/aws/dynamodb/batch.js';
import { DynamoImageStore } from '../../shared/adapters/aws/dynamodb/image-store.js';
import { DynamoPackageIndex } from '../../shared/adapters/aws/dynamodb/package-index.js';
import { DynamoResultStore } from '../../shared/adapters/aws/dynamodb/result-store.js';
import {
  createTables,
  IMAGES_BY_REPOSITORY,
  IMAGES_BY_UPDATED,
  IMAGES_TABLE,
  RESULTS_BY_TIME,
  RESULTS_TABLE,
  tableNames,
  type TableNames,
} from '../../shared/adapters/aws/tables.js';
import { MemoryAdvisoryStore } from '../../shared/adapters/local/memory-advisory-store.js';
import { readDebianTrackerJson } from '../../shared/advisories/debian-tracker.js';
import { readOsvDirectory } from '../../shared/advisories/osv.js';
import type { Advisory } from '../../shared/advisories/types.js';
import { DrydockError } from '../../shared/errors.js';
import { packageKeyString, type PackageKey } from '../../shared/ports/advisory-store.js';
import type { PackageIndexEntry } from '../../shared/ports/stores.js';
import { startDynamoDbLocal, type DynamoDbLocal } from '../support/dynamodb-local.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { at, claimReq, digestOf, storesContract, T0 } from './stores-contract.js';

let ddb: DynamoDbLocal;
let admin: DynamoDBClient;
const clients: DynamoDBClient[] = [];

beforeAll(async () => {
  ddb = await startDynamoDbLocal();
  admin = new DynamoDBClient(ddb.clientConfig);
});

afterAll(async () => {
  admin?.destroy();
  await ddb?.stop();
});

afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
});

async function freshTables(): Promise<TableNames> {
  const names = tableNames(`t-${randomUUID().slice(0, 8)}-`);
  await createTables(admin, names);
  return names;
}

/** A call as the adapter made it (one per logical call; SDK retries are not repeated here). */
interface Call {
  command: string;
  input: Record<string, any>;
}

type Middleware = (next: (args: any) => Promise<any>, context: { commandName: string }) => (args: any) => Promise<any>;

/**
 * A client of its own for one test, with every call recorded and optional extra middleware:
 * `outer` at the initialize step (sees the DocumentClient's plain values, once per call),
 * `perAttempt` at the deserialize step (inside the SDK's retry loop: once per HTTP attempt).
 */
function harness(opts: { maxAttempts?: number; outer?: Middleware; perAttempt?: Middleware } = {}) {
  const client = new DynamoDBClient({ ...ddb.clientConfig, ...(opts.maxAttempts && { maxAttempts: opts.maxAttempts }) });
  clients.push(client);
  const calls: Call[] = [];
  const stack = client.middlewareStack as any;
  stack.add(
    (next: any, context: any) => async (args: any) => {
      calls.push({ command: context.commandName, input: args.input });
      return next(args);
    },
    { step: 'initialize', priority: 'high', name: 'drydockRecorder' },
  );
  if (opts.outer) stack.add(opts.outer, { step: 'initialize', priority: 'low', name: 'drydockOuter' });
  if (opts.perAttempt) stack.add(opts.perAttempt, { step: 'deserialize', name: 'drydockPerAttempt' });
  const doc = DynamoDBDocumentClient.from(client);
  const count = (command: string) => calls.filter((c) => c.command === command).length;
  return { client, doc, calls, count };
}

/** Batch options that record the backoff instead of sleeping it. */
function fastBatch(sleeps: number[], over: BatchOptions = {}): BatchOptions {
  return { sleep: async (ms) => void sleeps.push(ms), ...over };
}

const entry = (key: PackageKey, digest: string, versions = ['1.0']): PackageIndexEntry => ({ key, digest, repository: 'team/app', versions });
const npmKeys = (n: number) => Array.from({ length: n }, (_, i) => ({ ecosystem: 'npm', name: `pkg-${String(i).padStart(3, '0')}` }));

async function rejection(p: Promise<unknown>): Promise<DrydockError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DrydockError);
  return e as DrydockError;
}

describe('DynamoDB stores on DynamoDB Local', () => {
  // Plain DocumentClient options on purpose: the adapters must not rely on removeUndefinedValues.
  storesContract({
    name: 'dynamodb',
    make: async () => {
      const names = await freshTables();
      const { doc } = harness();
      return {
        images: new DynamoImageStore(doc, names.images),
        packageIndex: new DynamoPackageIndex(doc, names.packageIndex),
        results: new DynamoResultStore(doc, names.results),
      };
    },
  });
});

describe('tables', () => {
  it('createTables makes the tables tables.ts defines (GSIs, LSI) and is idempotent', async () => {
    const names = await freshTables();
    const images = (await admin.send(new DescribeTableCommand({ TableName: names.images }))).Table!;
    expect(images.KeySchema).toEqual([{ AttributeName: 'digest', KeyType: 'HASH' }]);
    const gsis = Object.fromEntries((images.GlobalSecondaryIndexes ?? []).map((g) => [g.IndexName, g.KeySchema]));
    expect(gsis).toEqual({
      [IMAGES_BY_UPDATED]: [
        { AttributeName: 'listKey', KeyType: 'HASH' },
        { AttributeName: 'updatedAt', KeyType: 'RANGE' },
      ],
      [IMAGES_BY_REPOSITORY]: [
        { AttributeName: 'repoKey', KeyType: 'HASH' },
        { AttributeName: 'updatedAt', KeyType: 'RANGE' },
      ],
    });
    expect(IMAGES_TABLE.globalSecondaryIndexes.map((g) => g.indexName).sort()).toEqual(Object.keys(gsis).sort());
    const results = (await admin.send(new DescribeTableCommand({ TableName: names.results }))).Table!;
    expect(results.LocalSecondaryIndexes?.map((l) => [l.IndexName, l.KeySchema?.map((k) => k.AttributeName)])).toEqual([[RESULTS_BY_TIME, ['digest', 'at']]]);
    const pkgs = (await admin.send(new DescribeTableCommand({ TableName: names.packageIndex }))).Table!;
    expect(pkgs.KeySchema?.map((k) => k.AttributeName)).toEqual(['pkg', 'digest']);
    const advisories = (await admin.send(new DescribeTableCommand({ TableName: names.advisories }))).Table!;
    expect(advisories.KeySchema?.map((k) => k.AttributeName)).toEqual(['pkg', 'advisory']);
    await expect(createTables(admin, names)).resolves.toBeUndefined();
  });
});

describe('DynamoImageStore specifics', () => {
  it('list is a Query of the byUpdated / byRepository GSI, newest first, never a Scan', async () => {
    const names = await freshTables();
    const h = harness();
    const images = new DynamoImageStore(h.doc, names.images);
    for (let i = 0; i < 3; i++) await images.claim(claimReq({ digest: digestOf(i), now: at(i) }));
    await images.list({ limit: 2 });
    await images.list({ limit: 2, repository: 'team/app' });
    const queries = h.calls.filter((c) => c.command === 'QueryCommand').map((c) => [c.input.IndexName, c.input.ScanIndexForward, c.input.Limit]);
    expect(queries).toEqual([
      [IMAGES_BY_UPDATED, false, 2],
      [IMAGES_BY_REPOSITORY, false, 2],
    ]);
    expect(h.count('ScanCommand')).toBe(0);
  });

  it('a claim is one conditional UpdateItem; a refused one is decided from ALL_OLD without a read', async () => {
    const names = await freshTables();
    const h = harness();
    const images = new DynamoImageStore(h.doc, names.images);
    expect((await images.claim(claimReq())).claimed).toBe(true);
    expect(h.count('UpdateItemCommand')).toBe(1);
    expect(h.calls[0]!.input).toMatchObject({ ReturnValuesOnConditionCheckFailure: 'ALL_OLD' });
    expect(await images.claim(claimReq({ jobId: 'job-2' }))).toMatchObject({ claimed: false, why: 'busy' });
    expect(h.count('UpdateItemCommand')).toBe(2);
    // a new tag on a refused claim is one more conditional UpdateItem
    expect(await images.claim(claimReq({ jobId: 'job-3', tag: 'new' }))).toMatchObject({ claimed: false, why: 'busy', record: { tags: ['new', 'v1'] } });
    expect(h.count('UpdateItemCommand')).toBe(4);
    expect(h.count('GetItemCommand')).toBe(0);
  });

  it('without the old item in the refusal (injected: Item stripped) the claim reads it back and decides the same', async () => {
    const names = await freshTables();
    const h = harness({
      outer: (next) => async (args) => {
        try {
          return await next(args);
        } catch (e) {
          if (e instanceof ConditionalCheckFailedException) delete (e as { Item?: unknown }).Item;
          throw e;
        }
      },
    });
    const images = new DynamoImageStore(h.doc, names.images);
    await images.claim(claimReq());
    await images.update(digestOf(1), { status: 'analyzed', analysisVersion: 'cat-1' });
    expect(await images.claim(claimReq({ jobId: 'job-2', tag: 'v1' }))).toMatchObject({ claimed: false, why: 'done', record: { status: 'analyzed' } });
    expect(h.count('GetItemCommand')).toBe(1);
  });

  it('an update whose patch alone is over 400 KB fails with LIMIT_EXCEEDED (permanent) before it is sent', async () => {
    const names = await freshTables();
    const h = harness();
    const images = new DynamoImageStore(h.doc, names.images);
    await images.claim(claimReq());
    const layers = Array.from({ length: 6000 }, (_, i) => `sha256:${String(i).padStart(64, 'f')}`); // ~430 KB
    const err = await rejection(images.update(digestOf(1), { layers }));
    expect(err).toMatchObject({ code: 'LIMIT_EXCEEDED', kind: 'permanent' });
    expect(err.message).toMatch(new RegExp(`image ${digestOf(1)} update: the item would be \\d+ bytes, over DynamoDB's 409600-byte item limit`));
    expect(h.count('UpdateItemCommand')).toBe(1); // the claim only
    expect((await images.get(digestOf(1)))!.layers).toBeUndefined();
  });

  it("an update that would grow the stored item past 400 KB: DynamoDB's ValidationException becomes LIMIT_EXCEEDED", async () => {
    const names = await freshTables();
    const h = harness();
    const images = new DynamoImageStore(h.doc, names.images);
    await images.claim(claimReq());
    const layers = Array.from({ length: 3500 }, (_, i) => `sha256:${String(i).padStart(64, 'a')}`); // ~250 KB: fits
    await images.update(digestOf(1), { layers });
    const err = await rejection(images.update(digestOf(1), { distro: 'x'.repeat(200_000) })); // fits alone, not with the layers
    expect(err).toMatchObject({ code: 'LIMIT_EXCEEDED', kind: 'permanent' });
    expect(err.message).toMatch(/update image sha256:0+1: the item would exceed DynamoDB's 400 KB item limit/);
    expect((err.cause as Error).name).toBe('ValidationException');
    expect(h.count('UpdateItemCommand')).toBe(3); // it did reach DynamoDB
    const rec = (await images.get(digestOf(1)))!;
    expect(rec.layers).toHaveLength(3500);
    expect(rec.distro).toBeUndefined();
  });

  it('a throttling error (injected, ProvisionedThroughputExceededException) is retried by the SDK and the call succeeds', async () => {
    const names = await freshTables();
    let attempts = 0;
    const h = harness({
      maxAttempts: 3,
      perAttempt: (next, context) => async (args) => {
        if (context.commandName === 'GetItemCommand' && ++attempts <= 2) throw throttled();
        return next(args);
      },
    });
    const images = new DynamoImageStore(h.doc, names.images);
    await images.claim(claimReq());
    expect((await images.get(digestOf(1)))!.status).toBe('analyzing');
    expect(attempts).toBe(3);
    expect(h.count('GetItemCommand')).toBe(1); // one call, three HTTP attempts
  });

  it('persistent throttling (injected) becomes DrydockError THROTTLED, kind retryable, after the SDK retries', async () => {
    const names = await freshTables();
    let attempts = 0;
    const h = harness({
      maxAttempts: 3,
      perAttempt: (next, context) => async (args) => {
        if (context.commandName === 'UpdateItemCommand') {
          attempts++;
          throw throttled();
        }
        return next(args);
      },
    });
    const images = new DynamoImageStore(h.doc, names.images);
    const err = await rejection(images.claim(claimReq()));
    expect(err).toMatchObject({ code: 'THROTTLED', kind: 'retryable' });
    expect(err.message).toMatch(/claim image sha256:0+1: ProvisionedThroughputExceededException/);
    expect(attempts).toBe(3);
  });
});

describe('DynamoPackageIndex specifics', () => {
  it('60 entries are written in 3 BatchWriteItem calls of 25, 25 and 10', async () => {
    const names = await freshTables();
    const h = harness();
    const index = new DynamoPackageIndex(h.doc, names.packageIndex);
    const keys = npmKeys(60);
    expect(await index.replaceForImage(digestOf(1), keys.map((k) => entry(k, digestOf(1))))).toEqual({ written: 60, deleted: 0 });
    const batches = h.calls.filter((c) => c.command === 'BatchWriteItemCommand').map((c) => Object.values(c.input.RequestItems as Record<string, unknown[]>)[0]!.length);
    expect(batches.sort((a, b) => b - a)).toEqual([25, 25, 10]);
    for (const k of [keys[0]!, keys[25]!, keys[59]!]) expect(await index.imagesFor(k)).toEqual([entry(k, digestOf(1))]);
  });

  it('UnprocessedItems (injected) are retried with jittered exponential backoff until every entry arrives', async () => {
    const names = await freshTables();
    let injections = 2;
    const h = harness({
      outer: (next, context) => async (args) => {
        if (context.commandName !== 'BatchWriteItemCommand' || injections <= 0) return next(args);
        const [table, requests] = Object.entries(args.input.RequestItems as Record<string, unknown[]>)[0]!;
        if (requests.length <= 7) return next(args); // a retry of the withheld part goes through
        injections--;
        // DynamoDB processes part of the batch and hands back the rest
        const res = await next({ ...args, input: { ...args.input, RequestItems: { [table]: requests.slice(0, -7) } } });
        res.output.UnprocessedItems = { [table]: requests.slice(-7) };
        return res;
      },
    });
    const sleeps: number[] = [];
    const index = new DynamoPackageIndex(h.doc, names.packageIndex, { batch: fastBatch(sleeps, { concurrency: 1, random: () => 0.999 }) });
    const keys = npmKeys(60);
    await index.replaceForImage(digestOf(1), keys.map((k) => entry(k, digestOf(1), [`v${k.name}`])));
    // chunk 1: 25 → 7 left → retried; chunk 2 likewise; chunk 3 once: 5 calls, 2 waits
    expect(h.count('BatchWriteItemCommand')).toBe(5);
    expect(sleeps).toEqual([49, 49]); // first retry: random(0, 50) each
    for (const k of keys) expect(await index.imagesFor(k)).toEqual([entry(k, digestOf(1), [`v${k.name}`])]);
  });

  it('items still unprocessed (injected) after maxAttempts give THROTTLED (retryable), backoff growing', async () => {
    const names = await freshTables();
    const h = harness({
      outer: (next, context) => async (args) => {
        if (context.commandName !== 'BatchWriteItemCommand') return next(args);
        const [table, requests] = Object.entries(args.input.RequestItems as Record<string, unknown[]>)[0]!;
        // the first request never gets through (DynamoDB rejects an empty batch, so a lone one is answered here)
        if (requests.length === 1) return { output: { UnprocessedItems: { [table]: requests }, $metadata: {} }, response: {} };
        const res = await next({ ...args, input: { ...args.input, RequestItems: { [table]: requests.slice(1) } } });
        res.output.UnprocessedItems = { [table]: requests.slice(0, 1) };
        return res;
      },
    });
    const sleeps: number[] = [];
    const index = new DynamoPackageIndex(h.doc, names.packageIndex, { batch: fastBatch(sleeps, { maxAttempts: 4, concurrency: 1, random: () => 0.999, baseDelayMs: 100, maxDelayMs: 300 }) });
    const err = await rejection(index.replaceForImage(digestOf(1), npmKeys(25).map((k) => entry(k, digestOf(1)))));
    expect(err).toMatchObject({ code: 'THROTTLED', kind: 'retryable' });
    expect(err.message).toMatch(/1 of 25 requests still unprocessed after 4 attempts/);
    expect(h.count('BatchWriteItemCommand')).toBe(4);
    expect(sleeps).toEqual([99, 199, 299]); // 100·2^(n-1), capped at 300, times the jitter
  });

  it('a throttled BatchWriteItem (injected) that stays throttled through the SDK retries becomes THROTTLED', async () => {
    const names = await freshTables();
    let attempts = 0;
    const h = harness({
      maxAttempts: 2,
      perAttempt: (next, context) => async (args) => {
        if (context.commandName === 'BatchWriteItemCommand') {
          attempts++;
          throw throttled();
        }
        return next(args);
      },
    });
    const index = new DynamoPackageIndex(h.doc, names.packageIndex);
    const err = await rejection(index.replaceForImage(digestOf(1), [entry(npmKeys(1)[0]!, digestOf(1))]));
    expect(err).toMatchObject({ code: 'THROTTLED', kind: 'retryable' });
    expect(attempts).toBe(2);
  });

  it('imagesFor follows LastEvaluatedKey through small pages', async () => {
    const names = await freshTables();
    const h = harness();
    const index = new DynamoPackageIndex(h.doc, names.packageIndex, { pageSize: 5 });
    const key = { ecosystem: 'Debian:12', name: 'openssl' };
    for (let i = 0; i < 23; i++) await index.replaceForImage(digestOf(i), [entry(key, digestOf(i))]);
    const found = await index.imagesFor(key);
    expect(found.map((e) => e.digest)).toEqual(Array.from({ length: 23 }, (_, i) => digestOf(i)));
    expect(h.count('QueryCommand')).toBe(5); // 5+5+5+5+3
  });

  it('imagesFor pages through more than 1 MB of results (DynamoDB’s own page limit)', async () => {
    const names = await freshTables();
    const h = harness();
    const index = new DynamoPackageIndex(h.doc, names.packageIndex);
    const key = { ecosystem: 'npm', name: 'left-pad' };
    // 30 entries of ~40 KB each: ~1.2 MB for one key
    const versions = (i: number) => Array.from({ length: 400 }, (_, j) => `${i}.${j}.0-${'x'.repeat(90)}`);
    for (let i = 0; i < 30; i++) await index.replaceForImage(digestOf(i), [entry(key, digestOf(i), versions(i))]);
    const found = await index.imagesFor(key);
    expect(found).toHaveLength(30);
    expect(found[29]).toEqual(entry(key, digestOf(29), versions(29)));
    expect(h.count('QueryCommand')).toBeGreaterThanOrEqual(2);
  });
});

describe('DynamoResultStore specifics', () => {
  it('a result appended twice is one item (conditional put), however its evaluatedAt differs', async () => {
    const names = await freshTables();
    const h = harness();
    const results = new DynamoResultStore(h.doc, names.results);
    const r = {
      digest: digestOf(1),
      repository: 'team/app',
      resultId: 'r-1',
      status: 'pass' as const,
      evaluatedAt: T0.toISOString(),
      findings: 0,
      reason: 'analysis',
      counts: {},
      reportKey: 'k',
      findingIds: [],
      rulesFired: 0,
    };
    await results.append(r);
    await results.append({ ...r, evaluatedAt: at(1000).toISOString() });
    expect(h.count('PutItemCommand')).toBe(2);
    const raw = await admin.send(new RawQueryCommand({ TableName: names.results, KeyConditionExpression: 'digest = :d', ExpressionAttributeValues: { ':d': { S: digestOf(1) } } }));
    expect(raw.Count).toBe(1);
  });

  it('a result over 400 KB (tens of thousands of finding ids) fails with LIMIT_EXCEEDED', async () => {
    const names = await freshTables();
    const results = new DynamoResultStore(harness().doc, names.results);
    const findingIds = Array.from({ length: 20_000 }, (_, i) => `CVE-2024-${i}:openssl`);
    const err = await rejection(
      results.append({ digest: digestOf(1), repository: 'r', resultId: 'big', status: 'fail', evaluatedAt: T0.toISOString(), findings: 20_000, reason: 'analysis', counts: {}, reportKey: 'k', findingIds, rulesFired: 1 }),
    );
    expect(err).toMatchObject({ code: 'LIMIT_EXCEEDED', kind: 'permanent' });
    expect(err.message).toMatch(/result big of image sha256:0+1/);
    expect(await results.latest(digestOf(1))).toBeUndefined();
  });
});

describe('DynamoImageStore.getMany specifics', () => {
  it('reads in BatchGetItem chunks of 100, consistently, and retries UnprocessedKeys (injected) until every key is answered', async () => {
    const names = await freshTables();
    let injections = 2;
    const h = harness({
      outer: (next, context) => async (args) => {
        if (context.commandName !== 'BatchGetItemCommand' || injections <= 0) return next(args);
        const [table, req] = Object.entries(args.input.RequestItems as Record<string, { Keys: unknown[] }>)[0]!;
        if (req.Keys.length <= 5) return next(args);
        injections--;
        // DynamoDB answers part of the batch and hands back the rest
        const res = await next({ ...args, input: { ...args.input, RequestItems: { [table]: { ...req, Keys: req.Keys.slice(0, -5) } } } });
        res.output.UnprocessedKeys = { [table]: { ...req, Keys: req.Keys.slice(-5) } };
        return res;
      },
    });
    const sleeps: number[] = [];
    const images = new DynamoImageStore(h.doc, names.images, fastBatch(sleeps, { concurrency: 1, random: () => 0.999 }));
    const present = Array.from({ length: 120 }, (_, i) => i * 2); // 0, 2, ..., 238
    for (const n of present) await images.claim(claimReq({ digest: digestOf(n), jobId: `job-${n}` }));
    const asked = Array.from({ length: 240 }, (_, i) => digestOf(i));
    const got = await images.getMany(asked);
    expect([...got.keys()].sort()).toEqual(present.map(digestOf).sort());
    const gets = h.calls.filter((c) => c.command === 'BatchGetItemCommand');
    // 3 chunks (100, 100, 40) + 2 retries of the withheld 5
    expect(gets.map((c) => Object.values(c.input.RequestItems as Record<string, { Keys: unknown[] }>)[0]!.Keys.length)).toEqual([100, 5, 100, 5, 40]);
    expect(gets.every((c) => Object.values(c.input.RequestItems as Record<string, { ConsistentRead?: boolean }>)[0]!.ConsistentRead === true)).toBe(true);
    expect(sleeps).toEqual([49, 49]);
  });
});

describe('DynamoResultStore retention', () => {
  const result = (resultId: string, evaluatedAt: string) => ({
    digest: digestOf(7),
    repository: 'team/app',
    resultId,
    status: 'pass' as const,
    evaluatedAt,
    findings: 0,
    reason: 'analysis',
    counts: {},
    reportKey: 'k',
    findingIds: [],
    rulesFired: 0,
  });

  it('rows carry expiresAt = evaluation time + the retention in epoch seconds (the TTL attribute), hidden from readers; 0 keeps them forever', async () => {
    const names = await freshTables();
    const { doc } = harness();
    await new DynamoResultStore(doc, names.results, { retentionDays: 180 }).append(result('r-1', T0.toISOString()));
    await new DynamoResultStore(doc, names.results, { retentionDays: 0 }).append(result('r-2', at(1000).toISOString()));
    const raw = await admin.send(new RawQueryCommand({ TableName: names.results, KeyConditionExpression: 'digest = :d', ExpressionAttributeValues: { ':d': { S: digestOf(7) } } }));
    const byId = Object.fromEntries((raw.Items ?? []).map((i) => [i.resultId!.S!, i]));
    expect(byId['r-1']!.expiresAt).toEqual({ N: String(Math.floor(T0.getTime() / 1000) + 180 * 86_400) });
    expect(byId['r-2']!.expiresAt).toBeUndefined();
    const history = await new DynamoResultStore(doc, names.results).history(digestOf(7), 5);
    expect(history.map((r) => r.resultId)).toEqual(['r-2', 'r-1']);
    expect(history[1]).toEqual(result('r-1', T0.toISOString()));
  });

  it('the results table definition names expiresAt as its TTL attribute (the CDK app deploys it from tables.ts)', () => {
    expect(RESULTS_TABLE.timeToLiveAttribute).toBe('expiresAt');
  });
});

describe('DynamoAdvisoryStore', () => {
  const fixtures = join(SHARED_FIXTURES, 'advisories');
  let real: Advisory[];

  beforeAll(async () => {
    const dirs = ['npm', 'pypi', 'debian/osv-dev', 'alpine/osv-dev'];
    real = (await Promise.all(dirs.map((d) => readOsvDirectory(join(fixtures, d))))).flatMap((r) => r.advisories);
    real.push(...(await readDebianTrackerJson(join(fixtures, 'debian/security-tracker/tracker-json-subset.vunnel.json'))).advisories);
  });

  const keysOf = (advisories: Advisory[]) => [...new Map(advisories.flatMap((a) => a.affected.map((p) => [packageKeyString(p), { ecosystem: p.ecosystem, name: p.name }]))).values()];
  const byId = (a: Advisory, b: Advisory) => (`${a.source}#${a.id}` < `${b.source}#${b.id}` ? -1 : 1);

  it('forPackage returns what MemoryAdvisoryStore returns: each advisory trimmed to the key (real fixtures)', async () => {
    expect(real.length).toBeGreaterThan(50);
    const multiKey = real.filter((a) => new Set(a.affected.map((p) => packageKeyString(p))).size > 1);
    expect(multiKey.length).toBeGreaterThan(0); // the split is really exercised
    const names = await freshTables();
    const h = harness();
    const store = new DynamoAdvisoryStore(h.doc, names.advisories);
    const memory = new MemoryAdvisoryStore();
    await store.put(real);
    await memory.put(real);
    const keys = keysOf(real);
    for (const key of keys) {
      const got = await store.forPackage(key);
      expect(got.every((a) => a.affected.every((p) => p.ecosystem === key.ecosystem && p.name === key.name))).toBe(true);
      expect(got.sort(byId)).toEqual((await memory.forPackage(key)).sort(byId));
    }
    expect(await store.forPackage({ ecosystem: 'npm', name: 'no-such-package' })).toEqual([]);
    // slices and key lists went out in batches of at most 25
    const sizes = h.calls.filter((c) => c.command === 'BatchWriteItemCommand').map((c) => Object.values(c.input.RequestItems as Record<string, unknown[]>)[0]!.length);
    expect(Math.max(...sizes)).toBe(25);
  });

  it('a newer copy replaces the old one everywhere, including keys it no longer affects', async () => {
    const names = await freshTables();
    const store = new DynamoAdvisoryStore(harness().doc, names.advisories);
    const base = real.find((a) => a.source === 'osv')!;
    const pkg = (name: string, ecosystem = 'npm') => ({ ...base.affected[0]!, ecosystem, name });
    const v1: Advisory = { ...base, id: 'GHSA-test-0001', modified: '2024-01-01T00:00:00Z', affected: [pkg('a'), pkg('b'), pkg('b'), pkg('c', 'PyPI')] };
    const v2: Advisory = { ...v1, modified: '2024-02-01T00:00:00Z', summary: 'v2', affected: [pkg('b'), pkg('d')] };
    await store.put([v1]);
    expect((await store.forPackage({ ecosystem: 'npm', name: 'b' }))[0]!.affected).toHaveLength(2);
    expect(await store.forPackage({ ecosystem: 'PyPI', name: 'c' })).toHaveLength(1);
    await store.put([v2]);
    expect(await store.forPackage({ ecosystem: 'npm', name: 'a' })).toEqual([]);
    expect(await store.forPackage({ ecosystem: 'PyPI', name: 'c' })).toEqual([]);
    expect(await store.forPackage({ ecosystem: 'npm', name: 'b' })).toEqual([{ ...v2, affected: [pkg('b')] }]);
    expect(await store.forPackage({ ecosystem: 'npm', name: 'd' })).toEqual([{ ...v2, affected: [pkg('d')] }]);
    // withdrawn from every package: nothing left
    await store.put([{ ...v2, affected: [] }]);
    expect(await store.forPackage({ ecosystem: 'npm', name: 'b' })).toEqual([]);
    expect(await store.forPackage({ ecosystem: 'npm', name: 'd' })).toEqual([]);
  });

  it('the last copy of an advisory in one put wins', async () => {
    const names = await freshTables();
    const store = new DynamoAdvisoryStore(harness().doc, names.advisories);
    const a = real.find((x) => x.source === 'osv' && x.affected.length === 1)!;
    await store.put([{ ...a, summary: 'first' }, { ...a, summary: 'second' }]);
    const key = a.affected[0]!;
    expect((await store.forPackage(key)).map((x) => x.summary)).toEqual(['second']);
  });

  it('an advisory over the item limit after gzip fails with LIMIT_EXCEEDED naming it, and nothing is written', async () => {
    const names = await freshTables();
    const store = new DynamoAdvisoryStore(harness().doc, names.advisories);
    const base = real.find((a) => a.source === 'osv')!;
    const small: Advisory = { ...base, id: 'GHSA-small', affected: [{ ...base.affected[0]!, ecosystem: 'npm', name: 'small' }] };
    // random base64 versions hardly compress: ~700 KB of them stay ~550 KB after gzip
    const versions = Array.from({ length: 20_000 }, () => randomBytes(24).toString('base64'));
    const huge: Advisory = { ...base, id: 'GHSA-huge', affected: [{ ...base.affected[0]!, ecosystem: 'npm', name: 'huge', versions }] };
    const err = await rejection(store.put([small, huge]));
    expect(err).toMatchObject({ code: 'LIMIT_EXCEEDED', kind: 'permanent' });
    expect(err.message).toMatch(new RegExp(`advisory osv GHSA-huge for npm/huge: \\d+ bytes after gzip, over the ${ADVISORY_ITEM_LIMIT}-byte item limit`));
    expect(await store.forPackage({ ecosystem: 'npm', name: 'small' })).toEqual([]);
  });

  it('real advisories stay far below the limit once gzip’d (largest fixture slice measured)', async () => {
    const { gzipSync } = await import('node:zlib');
    const { splitByPackageKey } = await import('../../shared/advisories/keys.js');
    let largest = 0;
    for (const a of real) for (const s of splitByPackageKey(a).values()) largest = Math.max(largest, gzipSync(JSON.stringify(s.advisory)).length);
    expect(largest).toBeGreaterThan(0);
    expect(largest).toBeLessThan(ADVISORY_ITEM_LIMIT / 10);
  });
});

/** What DynamoDB sends when a partition is over its throughput, as the SDK would deserialize it. */
function throttled(): ProvisionedThroughputExceededException {
  const e = new ProvisionedThroughputExceededException({ message: 'The level of configured provisioned throughput for the table was exceeded (injected)', $metadata: { httpStatusCode: 400 } });
  Object.assign(e, { $retryable: { throttling: true } });
  return e;
}
