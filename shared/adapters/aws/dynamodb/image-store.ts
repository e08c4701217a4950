/**
 * ImageStore on the images table (tables.ts IMAGES_TABLE): one item per pushed digest, state
 * transitions guarded by conditional writes so a duplicate push or a redelivered message never
 * yields a second analysis (DESIGN.md §4).
 *
 * Item = the ImageRecord plus two index attributes the record never shows: `listKey` (constant,
 * GSI byUpdated) and `repoKey` ("r#" + repository, GSI byRepository). `tags` and `layersDone`
 * are string sets (ADD is atomic and idempotent; an empty set cannot be stored, so "none" is the
 * attribute's absence) and come back as sorted arrays.
 */
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DrydockError } from '../../../errors.js';
import { ConditionFailedError, type ClaimOutcome, type ClaimRequest, type ImageRecord, type ImageStatus, type ImageStore } from '../../../ports/stores.js';
import { claimDecision, expectationMessage, staleBefore } from '../../store-rules.js';
import { IMAGES_BY_REPOSITORY, IMAGES_BY_UPDATED, IMAGES_LIST_KEY } from '../tables.js';
import { batchGet, type BatchOptions } from './batch.js';
import { checkItemSize, compact, dynamoError, isConditionFailure, itemSize, stringSet } from './items.js';

/** Attributes the adapter keeps on the item for its indexes; never part of an ImageRecord. */
const INDEX_ATTRIBUTES = ['listKey', 'repoKey'] as const;
/** Attributes stored as string sets. */
const SET_ATTRIBUTES = new Set(['tags', 'layersDone']);

export function repoKey(repository: string): string {
  return `r#${repository}`;
}

export class DynamoImageStore implements ImageStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    /** getMany's batching (attempts, backoff); tests shorten the waits */
    private readonly batchOptions: BatchOptions = {},
  ) {}

  async get(digest: string): Promise<ImageRecord | undefined> {
    try {
      const res = await this.doc.send(new GetCommand({ TableName: this.table, Key: { digest }, ConsistentRead: true }));
      return res.Item && toRecord(res.Item);
    } catch (e) {
      throw dynamoError(e, `GetItem ${this.table} ${digest}`);
    }
  }

  /**
   * One conditional UpdateItem that succeeds exactly in the 'claim' cases of `claimDecision`
   * (the table is in adapters/store-rules.ts). When the condition fails, DynamoDB returns the item
   * as it was (ReturnValuesOnConditionCheckFailure ALL_OLD; DynamoDB Local supports it too), so
   * the outcome is decided on exactly the state that refused the claim. Should an endpoint not
   * return the item, it is read back (consistently); if that read shows a claimable record (it
   * changed in between), the claim is tried again.
   */
  async claim(req: ClaimRequest): Promise<ClaimOutcome> {
    const now = req.now.toISOString();
    const values: Record<string, unknown> = {
      ':analyzing': 'analyzing',
      ':assembling': 'assembling',
      ':analyzed': 'analyzed',
      ':evaluated': 'evaluated',
      ':failed': 'failed',
      ':skipped': 'skipped',
      ':retryable': 'retryable',
      ':job': req.jobId,
      ':now': now,
      ':staleBefore': staleBefore(req),
      ':version': req.analysisVersion,
      ':registry': req.registry,
      ':repository': req.repository,
      ':repoKey': repoKey(req.repository),
      ':listKey': IMAGES_LIST_KEY,
    };
    if (req.tag) values[':tag'] = new Set([req.tag]);
    const update =
      'SET #status = :analyzing, claimedBy = :job, claimedAt = :now, registry = :registry, repository = :repository, ' +
      'repoKey = :repoKey, listKey = :listKey, createdAt = if_not_exists(createdAt, :now), updatedAt = :now ' +
      'REMOVE #error, layersDone, layersPending' +
      (req.tag ? ' ADD tags :tag' : '');
    // the 'claim' rows of claimDecision's table, row by row
    const condition = [
      'attribute_not_exists(digest)',
      '(#status IN (:analyzing, :assembling) AND (claimedBy = :job OR attribute_not_exists(claimedAt) OR claimedAt < :staleBefore))',
      '(#status IN (:analyzed, :evaluated) AND (attribute_not_exists(analysisVersion) OR analysisVersion <> :version))',
      '(#status = :failed AND #error.#kind = :retryable)',
      '#status = :skipped',
    ].join(' OR ');

    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        const res = await this.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { digest: req.digest },
            UpdateExpression: update,
            ConditionExpression: condition,
            ExpressionAttributeNames: { '#status': 'status', '#error': 'error', '#kind': 'kind' },
            ExpressionAttributeValues: values,
            ReturnValues: 'ALL_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return { claimed: true, record: toRecord(res.Attributes!) };
      } catch (e) {
        if (!isConditionFailure(e)) throw dynamoError(e, `claim image ${req.digest}`);
        const existing = e.Item ? toRecord(unmarshall(e.Item)) : await this.get(req.digest);
        const decision = claimDecision(existing, req);
        if (decision === 'claim') {
          // With ALL_OLD this means the condition above and claimDecision disagree: a bug, not a race.
          if (e.Item) throw new Error(`image ${req.digest}: claim condition refused a record claimDecision would claim (status ${existing?.status})`);
          continue;
        }
        return { claimed: false, why: decision, record: await this.addTag(existing!, req.tag, now) };
      }
    }
    throw new DrydockError('THROTTLED', `image ${req.digest}: the claim kept racing with other writers; retry later`);
  }

  /** Adds a tag to a record that was not claimed (no pushed tag is lost), bumping updatedAt only when it is new. */
  private async addTag(rec: ImageRecord, tag: string | undefined, now: string): Promise<ImageRecord> {
    if (!tag || rec.tags.includes(tag)) return rec;
    try {
      const res = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { digest: rec.digest },
          UpdateExpression: 'ADD tags :tags SET updatedAt = :now',
          ConditionExpression: 'attribute_exists(digest) AND NOT contains(tags, :tag)',
          ExpressionAttributeValues: { ':tags': new Set([tag]), ':tag': tag, ':now': now },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toRecord(res.Attributes!);
    } catch (e) {
      // someone else added it meanwhile: the record we have is as good an answer
      if (isConditionFailure(e)) return rec;
      throw dynamoError(e, `add tag ${tag} to image ${rec.digest}`);
    }
  }

  /**
   * One UpdateItem: SET for the defined fields, REMOVE for the undefined ones, conditioned on the
   * record existing (an update never creates a half record) and on `expect`. The patch alone is
   * size-checked first; the whole item's size only DynamoDB knows, and its ValidationException
   * is turned into the same LIMIT_EXCEEDED.
   */
  async update(digest: string, patch: Partial<Omit<ImageRecord, 'digest' | 'createdAt'>>, expect?: { status?: ImageStatus[]; claimedBy?: string }): Promise<ImageRecord> {
    if (expect?.status && expect.status.length === 0) {
      throw new ConditionFailedError(expectationMessage(digest, await this.get(digest), expect));
    }
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':listKey': IMAGES_LIST_KEY };
    const sets: string[] = ['listKey = :listKey'];
    const removes: string[] = [];
    let i = 0;
    for (const [field, raw] of Object.entries(patch)) {
      if (field === 'digest' || field === 'createdAt' || (INDEX_ATTRIBUTES as readonly string[]).includes(field)) {
        throw new Error(`image ${digest}: ${field} cannot be updated`);
      }
      const n = `#f${i}`;
      const v = `:v${i}`;
      i++;
      names[n] = field;
      let value: unknown = raw;
      if (SET_ATTRIBUTES.has(field) && Array.isArray(raw)) value = raw.length > 0 ? new Set(raw as string[]) : undefined;
      if (value === undefined) {
        removes.push(n);
      } else {
        sets.push(`${n} = ${v}`);
        values[v] = compact(value);
      }
      if (field === 'repository' && typeof raw === 'string') {
        sets.push('repoKey = :repoKey');
        values[':repoKey'] = repoKey(raw);
      }
    }
    checkItemSize(itemSize({ digest, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) }), `image ${digest} update`);

    const conditions = ['attribute_exists(digest)'];
    if (expect?.status) {
      names['#status'] = 'status';
      const list = expect.status.map((s, j) => {
        values[`:s${j}`] = s;
        return `:s${j}`;
      });
      conditions.push(`#status IN (${list.join(', ')})`);
    }
    if (expect?.claimedBy !== undefined) {
      values[':claimedBy'] = expect.claimedBy;
      conditions.push('claimedBy = :claimedBy');
    }
    try {
      const res = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { digest },
          UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: Object.keys(names).length ? names : undefined,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return toRecord(res.Attributes!);
    } catch (e) {
      if (isConditionFailure(e)) throw new ConditionFailedError(expectationMessage(digest, e.Item ? toRecord(unmarshall(e.Item)) : undefined, expect));
      throw dynamoError(e, `update image ${digest}`);
    }
  }

  /** ADD to the layersDone string set: atomic, and a layer job delivered twice adds its key once. */
  async addLayerDone(digest: string, layerKey: string, now: Date): Promise<{ done: number; pending: number; status: ImageStatus }> {
    try {
      const res = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { digest },
          UpdateExpression: 'ADD layersDone :layer SET updatedAt = :now',
          ConditionExpression: 'attribute_exists(digest)',
          ExpressionAttributeValues: { ':layer': new Set([layerKey]), ':now': now.toISOString() },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const rec = toRecord(res.Attributes!);
      return { done: rec.layersDone?.length ?? 0, pending: rec.layersPending ?? 0, status: rec.status };
    } catch (e) {
      if (isConditionFailure(e)) throw new ConditionFailedError(`image ${digest}: no record to add layer ${layerKey} to`);
      throw dynamoError(e, `add layer ${layerKey} to image ${digest}`);
    }
  }

  /**
   * BatchGetItem in chunks of 100 keys (batch.ts: UnprocessedKeys retried with backoff, THROTTLED
   * when some remain), consistent reads; duplicates are asked for once (DynamoDB refuses a batch
   * with a key twice).
   */
  async getMany(digests: readonly string[]): Promise<Map<string, ImageRecord>> {
    const unique = [...new Set(digests)];
    const out = new Map<string, ImageRecord>();
    if (unique.length === 0) return out;
    const items = await batchGet(this.doc, this.table, unique.map((digest) => ({ digest })), { consistentRead: true, ...this.batchOptions });
    for (const item of items) {
      const rec = toRecord(item);
      out.set(rec.digest, rec);
    }
    return out;
  }

  /** A Query of GSI byUpdated (or byRepository), newest first, paged until `limit` records. */
  async list(opts: { limit: number; repository?: string }): Promise<ImageRecord[]> {
    const out: ImageRecord[] = [];
    const byRepo = opts.repository !== undefined;
    let startKey: Record<string, unknown> | undefined;
    while (out.length < opts.limit) {
      let res;
      try {
        res = await this.doc.send(
          new QueryCommand({
            TableName: this.table,
            IndexName: byRepo ? IMAGES_BY_REPOSITORY : IMAGES_BY_UPDATED,
            KeyConditionExpression: byRepo ? 'repoKey = :k' : 'listKey = :k',
            ExpressionAttributeValues: { ':k': byRepo ? repoKey(opts.repository!) : IMAGES_LIST_KEY },
            ScanIndexForward: false,
            Limit: opts.limit - out.length,
            ExclusiveStartKey: startKey,
          }),
        );
      } catch (e) {
        throw dynamoError(e, `list images${byRepo ? ` of ${opts.repository}` : ''}`);
      }
      out.push(...(res.Items ?? []).map(toRecord));
      startKey = res.LastEvaluatedKey;
      if (!startKey) break;
    }
    return out;
  }
}

/** The item as an ImageRecord: index attributes dropped, string sets as sorted arrays. */
export function toRecord(item: Record<string, unknown>): ImageRecord {
  const rec: Record<string, unknown> = { ...item };
  for (const a of INDEX_ATTRIBUTES) delete rec[a];
  rec.tags = stringSet(item.tags) ?? [];
  const done = stringSet(item.layersDone);
  if (done) rec.layersDone = done;
  else delete rec.layersDone;
  return rec as unknown as ImageRecord;
}
