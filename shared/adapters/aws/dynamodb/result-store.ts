/**
 * ResultStore on the results table (tables.ts RESULTS_TABLE): pk digest, sk resultId, and the
 * LSI byTime on `at` = `${evaluatedAt}#${resultId}` for the history in time order.
 *
 * Keying the item by resultId (not by time) is what makes append idempotent: a redelivered
 * evaluation that recomputes the same resultId at a later evaluatedAt hits the same key, and
 * the conditional put leaves the first result in place.
 */
import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ResultRecord, ResultStore } from '../../../ports/stores.js';
import { resultOrderKey } from '../../store-rules.js';
import { RESULTS_BY_TIME } from '../tables.js';
import { checkItemSize, compact, dynamoError, isConditionFailure, itemSize } from './items.js';

export class DynamoResultStore implements ResultStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** A PutItem conditioned on attribute_not_exists(resultId): the second append of a resultId is a no-op, not an error. */
  async append(result: ResultRecord): Promise<void> {
    const item = compact({ ...result, at: resultOrderKey(result) });
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
        const { at: _at, ...rec } = item;
        out.push(rec as ResultRecord);
      }
      startKey = res.LastEvaluatedKey;
      if (!startKey) break;
    }
    return out;
  }
}
