/**
 * ResultStore on the results table (tables.ts RESULTS_TABLE): pk digest, sk resultId, and the
 * LSI byTime on `at` = `${evaluatedAt}#${resultId}` for the history in time order.
 *
 * Keying the item by resultId (not by time) is what makes append idempotent: a redelivered
 * evaluation that recomputes the same resultId at a later evaluatedAt hits the same key, and
 * the conditional put leaves the first result in place.
 *
 * Retention: with `retentionDays` > 0 each row carries `expiresAt` (epoch seconds) = its
 * evaluatedAt + that many days, the table's TTL attribute (tables.ts), so DynamoDB deletes it
 * some time after (typically within days). Reads drop the attribute, as they drop `at`.
 */
import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ResultRecord, ResultStore } from '../../../ports/stores.js';
import { resultOrderKey } from '../../store-rules.js';
import { RESULTS_BY_TIME, RESULTS_TTL_ATTRIBUTE } from '../tables.js';
import { checkItemSize, compact, dynamoError, isConditionFailure, itemSize } from './items.js';

export interface ResultStoreOptions {
  /** days a row is kept after its evaluation (TTL attribute expiresAt); 0 or unset: forever */
  retentionDays?: number;
}

/** The TTL value of a result evaluated at `evaluatedAt` (ISO time), or undefined when kept forever. */
export function resultExpiresAt(evaluatedAt: string, retentionDays: number | undefined): number | undefined {
  if (!retentionDays || retentionDays <= 0) return undefined;
  const t = Date.parse(evaluatedAt);
  if (!Number.isFinite(t)) throw new Error(`result evaluatedAt ${JSON.stringify(evaluatedAt)} is not a time`);
  return Math.floor(t / 1000) + Math.round(retentionDays * 86_400);
}

export class DynamoResultStore implements ResultStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly options: ResultStoreOptions = {},
  ) {}

  /** A PutItem conditioned on attribute_not_exists(resultId): the second append of a resultId is a no-op, not an error. */
  async append(result: ResultRecord): Promise<void> {
    const expiresAt = resultExpiresAt(result.evaluatedAt, this.options.retentionDays);
    const item = compact({ ...result, at: resultOrderKey(result), ...(expiresAt !== undefined ? { [RESULTS_TTL_ATTRIBUTE]: expiresAt } : {}) });
    // findingIds grows with the image's findings: thousands of ids still fit, tens of thousands do not
    checkItemSize(itemSize(item), `result ${result.resultId} of image ${result.digest}`);
    try {
      await this.doc.send(new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(resultId)' }));
    } catch (e) {
      if (isConditionFailure(e)) return;
      throw dynamoError(e, `append result ${result.resultId} of image ${result.digest}`);
    }
  }

  async latest(digest: string): Promise<ResultRecord | undefined> {
    return (await this.history(digest, 1))[0];
  }

  /** Newest first, from the LSI (strongly consistent, so an append is seen at once). */
  async history(digest: string, limit: number): Promise<ResultRecord[]> {
    const out: ResultRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    while (out.length < limit) {
      let res;
      try {
        res = await this.doc.send(
          new QueryCommand({
            TableName: this.table,
            IndexName: RESULTS_BY_TIME,
            KeyConditionExpression: 'digest = :d',
            ExpressionAttributeValues: { ':d': digest },
            ScanIndexForward: false,
            ConsistentRead: true,
            Limit: limit - out.length,
            ExclusiveStartKey: startKey,
          }),
        );
      } catch (e) {
        throw dynamoError(e, `result history of image ${digest}`);
      }
      for (const item of res.Items ?? []) {
        const { at: _at, [RESULTS_TTL_ATTRIBUTE]: _expiresAt, ...rec } = item;
        out.push(rec as ResultRecord);
      }
      startKey = res.LastEvaluatedKey;
      if (!startKey) break;
    }
    return out;
  }
}
