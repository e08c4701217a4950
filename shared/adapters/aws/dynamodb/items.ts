/**
 * Small helpers the DynamoDB adapters share: item size as DynamoDB counts it (so a too-large
 * item fails with a clear LIMIT_EXCEEDED before the SDK's opaque ValidationException), removal
 * of `undefined` (so the adapters work with a DocumentClient built with any marshall options),
 * and recognising the two SDK failures the adapters turn into domain outcomes.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DrydockError } from '../../../errors.js';
import { MAX_ITEM_BYTES } from '../tables.js';
import { awsError } from '../errors.js';

/**
 * Bytes DynamoDB counts for an item (attribute names + values), following the published sizing
 * rules: strings UTF-8, binary raw, numbers ~1 byte per 2 significant digits + 1, booleans and
 * null 1, lists and maps 3 bytes + 1 per element, sets the sum of their members. It is an upper
 * estimate within a few bytes, good for a limit check, not for billing.
 */
export function itemSize(item: Record<string, unknown>): number {
  let n = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    n += Buffer.byteLength(name, 'utf8') + valueSize(value);
  }
  return n;
}

function valueSize(v: unknown): number {
  if (v === null || typeof v === 'boolean') return 1;
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (typeof v === 'number' || typeof v === 'bigint') return Math.ceil(String(v).replace(/[^0-9]/g, '').length / 2) + 1;
  if (v instanceof Uint8Array) return v.byteLength;
  if (v instanceof Set) {
    let n = 0;
    for (const m of v) n += valueSize(m);
    return n;
  }
  if (Array.isArray(v)) return 3 + v.reduce((n: number, e) => n + (e === undefined ? 0 : valueSize(e) + 1), 0);
  if (typeof v === 'object') return 3 + itemSize(v as Record<string, unknown>) + Object.values(v as object).filter((e) => e !== undefined).length;
  return 0;
}

/**
 * Throws LIMIT_EXCEEDED (permanent) when `bytes` is over DynamoDB's 400 KB item limit. `what`
 * names the item in the message, e.g. "image sha256:… update" or "advisory osv CVE-…".
 */
export function checkItemSize(bytes: number, what: string, limit = MAX_ITEM_BYTES): void {
  if (bytes > limit) {
    throw new DrydockError('LIMIT_EXCEEDED', `${what}: the item would be ${bytes} bytes, over DynamoDB's ${limit}-byte item limit`);
  }
}

/**
 * A copy without `undefined` values (deep, plain objects and arrays only): DocumentClient
 * refuses them unless built with removeUndefinedValues, and callers build patches with
 * optional fields.
 */
export function compact<T>(v: T): T {
  if (Array.isArray(v)) return v.filter((e) => e !== undefined).map((e) => compact(e)) as T;
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, e] of Object.entries(v)) if (e !== undefined) out[k] = compact(e);
    return out as T;
  }
  return v;
}

export function isConditionFailure(e: unknown): e is ConditionalCheckFailedException {
  return e instanceof ConditionalCheckFailedException;
}

/**
 * DynamoDB's answer to an item over 400 KB is a generic ValidationException that only its
 * message tells apart ("Item size has exceeded…" for puts, "Item size to update has exceeded…"
 * for updates): turn it into LIMIT_EXCEEDED, anything else into the usual taxonomy.
 */
export function dynamoError(e: unknown, what: string): DrydockError {
  const err = e as { name?: string; message?: string };
  if (err?.name === 'ValidationException' && /item size (to update )?has exceeded the maximum allowed size/i.test(err.message ?? '')) {
    return new DrydockError('LIMIT_EXCEEDED', `${what}: the item would exceed DynamoDB's 400 KB item limit (${err.message})`, { cause: e });
  }
  return awsError(e, what);
}

/** A JS Set (how DocumentClient returns a string set) or a list, as a sorted array. */
export function stringSet(v: unknown): string[] | undefined {
  if (v instanceof Set) return [...(v as Set<string>)].sort();
  if (Array.isArray(v)) return [...new Set(v as string[])].sort();
  return undefined;
}

/**
 * Every item of one partition (`pk` = `value`), page after page (LastEvaluatedKey): a Query,
 * never a Scan. `pageSize` bounds each page (tests use it to force paging).
 */
export async function* queryPartition(
  doc: DynamoDBDocumentClient,
  table: string,
  pk: string,
  value: string,
  what: string,
  pageSize?: number,
): AsyncGenerator<Record<string, unknown>> {
  let startKey: Record<string, unknown> | undefined;
  do {
    let res;
    try {
      res = await doc.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': pk },
          ExpressionAttributeValues: { ':pk': value },
          ExclusiveStartKey: startKey,
          Limit: pageSize,
        }),
      );
    } catch (e) {
      throw dynamoError(e, what);
    }
    yield* res.Items ?? [];
    startKey = res.LastEvaluatedKey;
  } while (startKey);
}
