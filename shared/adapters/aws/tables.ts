/**
 * The DynamoDB tables of DESIGN.md §3 as plain data: key schemas, attribute definitions and
 * secondary indexes. The CDK app (infra/) builds its `Table`s from these constants and the
 * tests create identical tables with `createTables`, so the adapters in ./dynamodb are always
 * tested against the shape that is deployed. Attribute types use DynamoDB's letters ('S', 'N',
 * 'B'), which are also the values of CDK's `AttributeType` enum.
 *
 * Every table is on-demand (PAY_PER_REQUEST): the load is bursty (a push storm, a feed sync)
 * and small on average. Image records, package index entries and advisories are replaced, not
 * expired; results rows expire (TTL `expiresAt`, DRYDOCK_RESULT_RETENTION_DAYS after their
 * evaluation): the latest verdict lives on the image record, and the evaluator's delta reads
 * only the last few rows, which a re-evaluation at least once per retention period renews.
 */
import {
  CreateTableCommand,
  ResourceInUseException,
  waitUntilTableExists,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { awsError } from './errors.js';

export type AttributeType = 'S' | 'N' | 'B';

export interface KeyAttribute {
  name: string;
  type: AttributeType;
}

export type Projection = { type: 'ALL' } | { type: 'KEYS_ONLY' } | { type: 'INCLUDE'; nonKeyAttributes: string[] };

export interface SecondaryIndex {
  indexName: string;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
  projection: Projection;
}

export interface TableDefinition {
  /** the logical name; the physical name comes from the deployment (TableNames) */
  id: keyof TableNames;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
  globalSecondaryIndexes: SecondaryIndex[];
  /** share the table's partition key; must exist when the table is created */
  localSecondaryIndexes: SecondaryIndex[];
  /** the TTL attribute, if the table expires items */
  timeToLiveAttribute?: string;
}

/** Physical table names, one per deployment (stage) or per test. */
export interface TableNames {
  images: string;
  packageIndex: string;
  results: string;
  advisories: string;
  idempotency: string;
}

// ---------------------------------------------------------------- images

/** GSI for `ImageStore.list()` without a repository: every image under one constant partition. */
export const IMAGES_BY_UPDATED = 'byUpdated';
/** GSI for `ImageStore.list({repository})`. */
export const IMAGES_BY_REPOSITORY = 'byRepository';
/** The value of `listKey` on every image item (the single partition of IMAGES_BY_UPDATED). */
export const IMAGES_LIST_KEY = 'image';

/**
 * One item per image digest. The two GSIs make `list()` a Query, newest `updatedAt` first:
 * - byUpdated: pk `listKey` (always IMAGES_LIST_KEY), sk `updatedAt`. One GSI partition for
 *   all images: fine for a scanner (a GSI partition takes ~1,000 writes/s, image records
 *   change a few times per push); past that, shard listKey ("image#0".."image#N") and merge.
 * - byRepository: pk `repoKey` = "r#" + repository, sk `updatedAt`. The prefix keeps the key
 *   non-empty (DynamoDB rejects an empty string as an index key) for images without one.
 * Both project ALL: the record is small by design (inventories live in S3) and `list` returns
 * whole records without a second read.
 */
export const IMAGES_TABLE: TableDefinition = {
  id: 'images',
  partitionKey: { name: 'digest', type: 'S' },
  globalSecondaryIndexes: [
    {
      indexName: IMAGES_BY_UPDATED,
      partitionKey: { name: 'listKey', type: 'S' },
      sortKey: { name: 'updatedAt', type: 'S' },
      projection: { type: 'ALL' },
    },
    {
      indexName: IMAGES_BY_REPOSITORY,
      partitionKey: { name: 'repoKey', type: 'S' },
      sortKey: { name: 'updatedAt', type: 'S' },
      projection: { type: 'ALL' },
    },
  ],
  localSecondaryIndexes: [],
};

// ---------------------------------------------------------------- package index

/**
 * One item per (package key, image digest): pk `pkg` = `${ecosystem}|${name}`, sk `digest`, so
 * "which images contain openssl on Debian:12?" is one paged Query (the rescan's question).
 */
export const PACKAGE_INDEX_TABLE: TableDefinition = {
  id: 'packageIndex',
  partitionKey: { name: 'pkg', type: 'S' },
  sortKey: { name: 'digest', type: 'S' },
  globalSecondaryIndexes: [],
  localSecondaryIndexes: [],
};

// ---------------------------------------------------------------- results

/** LSI of the results table: the history of one image in evaluation order. */
export const RESULTS_BY_TIME = 'byTime';
/** The results table's TTL attribute: epoch seconds, evaluation time + the retention (absent: kept). */
export const RESULTS_TTL_ATTRIBUTE = 'expiresAt';

/**
 * Verdict history per image: pk `digest`, sk `resultId`, so that a conditional put
 * (attribute_not_exists) writes one resultId once even when a redelivered evaluation computes
 * it again with another `evaluatedAt`. Time order comes from the LSI byTime, sk `at` =
 * `${evaluatedAt}#${resultId}` (ISO timestamps sort as strings; the id breaks ties). An LSI
 * (not a GSI) so `latest()` can read it strongly consistently right after an append. The 10 GB
 * per-digest limit of an LSI is far away (a result item is ~1 KB).
 */
export const RESULTS_TABLE: TableDefinition = {
  id: 'results',
  partitionKey: { name: 'digest', type: 'S' },
  sortKey: { name: 'resultId', type: 'S' },
  globalSecondaryIndexes: [],
  localSecondaryIndexes: [
    {
      indexName: RESULTS_BY_TIME,
      partitionKey: { name: 'digest', type: 'S' },
      sortKey: { name: 'at', type: 'S' },
      projection: { type: 'ALL' },
    },
  ],
  timeToLiveAttribute: RESULTS_TTL_ATTRIBUTE,
};

// ---------------------------------------------------------------- advisories

/**
 * Advisories by package: pk `pkg` = `${ecosystem}|${name}`, sk `advisory` = `${source}#${id}`,
 * the advisory trimmed to that key as gzip'd JSON (see dynamodb/advisory-store.ts), plus one
 * bookkeeping item per advisory (pk `${source}#${id}`, sk "#keys") listing the keys it was
 * stored under, so that a new version that no longer affects a package removes the old slice.
 */
export const ADVISORIES_TABLE: TableDefinition = {
  id: 'advisories',
  partitionKey: { name: 'pkg', type: 'S' },
  sortKey: { name: 'advisory', type: 'S' },
  globalSecondaryIndexes: [],
  localSecondaryIndexes: [],
};

// ---------------------------------------------------------------- idempotency

/**
 * Powertools for AWS Lambda's idempotency records (its DynamoDBPersistenceLayer defaults: key
 * `id`, expiry `expiration`), one per (function, digest + job kind) for an hour.
 */
export const IDEMPOTENCY_TABLE: TableDefinition = {
  id: 'idempotency',
  partitionKey: { name: 'id', type: 'S' },
  globalSecondaryIndexes: [],
  localSecondaryIndexes: [],
  timeToLiveAttribute: 'expiration',
};

export const TABLES: readonly TableDefinition[] = [IMAGES_TABLE, PACKAGE_INDEX_TABLE, RESULTS_TABLE, ADVISORIES_TABLE, IDEMPOTENCY_TABLE];

/** DynamoDB's hard limit on one item (names + values), and on one BatchWriteItem call. */
export const MAX_ITEM_BYTES = 400 * 1024;
export const MAX_BATCH_WRITE = 25;
export const MAX_BATCH_GET = 100;

// ---------------------------------------------------------------- creating them (tests, local use)

/** The CreateTable request for one definition (on-demand billing). */
export function createTableInput(def: TableDefinition, tableName: string): CreateTableCommandInput {
  const attrs = new Map<string, AttributeType>();
  const keyAttrs = (pk: KeyAttribute, sk?: KeyAttribute) => {
    for (const a of sk ? [pk, sk] : [pk]) {
      const seen = attrs.get(a.name);
      if (seen && seen !== a.type) throw new Error(`table ${def.id}: attribute ${a.name} is both ${seen} and ${a.type}`);
      attrs.set(a.name, a.type);
    }
    return [
      { AttributeName: pk.name, KeyType: 'HASH' as const },
      ...(sk ? [{ AttributeName: sk.name, KeyType: 'RANGE' as const }] : []),
    ];
  };
  const projection = (p: Projection) =>
    p.type === 'INCLUDE' ? { ProjectionType: p.type, NonKeyAttributes: p.nonKeyAttributes } : { ProjectionType: p.type };
  const index = (ix: SecondaryIndex) => ({
    IndexName: ix.indexName,
    KeySchema: keyAttrs(ix.partitionKey, ix.sortKey),
    Projection: projection(ix.projection),
  });
  const input: CreateTableCommandInput = {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: keyAttrs(def.partitionKey, def.sortKey),
    ...(def.globalSecondaryIndexes.length > 0 && { GlobalSecondaryIndexes: def.globalSecondaryIndexes.map(index) }),
    ...(def.localSecondaryIndexes.length > 0 && { LocalSecondaryIndexes: def.localSecondaryIndexes.map(index) }),
  };
  input.AttributeDefinitions = [...attrs].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType }));
  return input;
}

/**
 * Creates the tables (those that already exist are left as they are) and waits until they
 * are ACTIVE. For tests and local use; deployments create them with CDK from the same data.
 * (TTL, if a table had one, is a separate UpdateTimeToLive call, which DynamoDB Local accepts.)
 */
export async function createTables(client: DynamoDBClient, names: TableNames, opts: { maxWaitSeconds?: number } = {}): Promise<void> {
  await Promise.all(
    TABLES.map(async (def) => {
      const name = names[def.id];
      try {
        await client.send(new CreateTableCommand(createTableInput(def, name)));
      } catch (e) {
        if (!(e instanceof ResourceInUseException)) throw awsError(e, `CreateTable ${name}`);
      }
      await waitUntilTableExists({ client, maxWaitTime: opts.maxWaitSeconds ?? 120, minDelay: 1, maxDelay: 5 }, { TableName: name });
    }),
  );
}

/** Table names with a common prefix, e.g. `tableNames('t1-')` for one test. */
export function tableNames(prefix: string): TableNames {
  return { images: `${prefix}images`, packageIndex: `${prefix}package-index`, results: `${prefix}results`, advisories: `${prefix}advisories`, idempotency: `${prefix}idempotency` };
}

/**
 * The partition key value of a package key in the package index and advisories tables. Ecosystem
 * keys ("Debian:12", "npm", "Alpine:v3.19") never contain "|", so the value is unambiguous
 * whatever the package name holds; the ecosystem and name are also stored as attributes and
 * compared on read, as a guard.
 */
export function packageKeyAttribute(key: { ecosystem: string; name: string }): string {
  return `${key.ecosystem}|${key.name}`;
}
