/**
 * AdvisoryStore on the advisories table (tables.ts ADVISORIES_TABLE), with the semantics of
 * MemoryAdvisoryStore: an advisory is stored once per package key it affects, trimmed to that
 * key's entries, and a newer copy (same source and id) replaces the older one entirely —
 * including removing it from keys it no longer affects.
 *
 * Items:
 * - slice:    pk `pkg` = `${ecosystem}|${name}`, sk `advisory` = `${source}#${id}`, `ecosystem`,
 *             `name`, `modified`, and `data` = the trimmed advisory as gzip'd JSON (Binary).
 *             Compressed because versions[] enumerations and references repeat a lot (JSON
 *             advisories shrink ~5–10×) and DynamoDB bills reads and writes by the KB.
 * - key list: pk `${source}#${id}`, sk "#keys", `keys` = gzip'd JSON [[ecosystem, name], …]: where
 *             the advisory was stored last time, so put() knows which old slices to delete.
 *             Its pk has no "|" and its sk no source prefix, so it never meets a slice.
 *
 * A slice over ADVISORY_ITEM_LIMIT after compression is refused with LIMIT_EXCEEDED naming the
 * advisory, before anything is written: compacting such a record (e.g. dropping enumerated
 * versions covered by ranges) is the feed reader's call, silently dropping it is not ours.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DrydockError } from '../../../errors.js';
import { advisoryId, splitByPackageKey } from '../../../advisories/keys.js';
import type { Advisory } from '../../../advisories/types.js';
import { packageKeyString, type AdvisoryStore, type PackageKey } from '../../../ports/advisory-store.js';
import { packageKeyAttribute } from '../tables.js';
import { batchGet, batchWrite, type BatchOptions, type Item, type WriteRequest } from './batch.js';
import { itemSize, queryPartition } from './items.js';

/** Below DynamoDB's 400 KB so the estimate and the other attributes never tip an item over. */
export const ADVISORY_ITEM_LIMIT = 350 * 1024;
const KEYS_SK = '#keys';

export interface DynamoAdvisoryStoreOptions {
  batch?: BatchOptions;
  /** Query page size (Limit) of forPackage; unset = DynamoDB's 1 MB pages */
  pageSize?: number;
  /** override of ADVISORY_ITEM_LIMIT (tests) */
  itemLimit?: number;
}

export class DynamoAdvisoryStore implements AdvisoryStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly opts: DynamoAdvisoryStoreOptions = {},
  ) {}

  /** The advisories stored under the key, each trimmed to it, in (source, id) order. */
  async forPackage(key: PackageKey): Promise<Advisory[]> {
    const out: Advisory[] = [];
    for await (const item of queryPartition(this.doc, this.table, 'pkg', packageKeyAttribute(key), `advisories for ${key.ecosystem}/${key.name}`, this.opts.pageSize)) {
      if (item.advisory === KEYS_SK || item.ecosystem !== key.ecosystem || item.name !== key.name) continue;
      out.push(JSON.parse(gunzipSync(item.data as Uint8Array).toString('utf8')) as Advisory);
    }
    return out;
  }

  /**
   * Adds or replaces advisories (by source and id; the last copy in the input wins). All items
   * are built and size-checked first; then the slices are written and stale ones deleted, and
   * the key lists last, so a failure part-way leaves the old key lists in place and the retried
   * put still finds every stale slice.
   */
  async put(advisories: Iterable<Advisory>): Promise<void> {
    const latest = new Map<string, Advisory>();
    for (const a of advisories) {
      const id = advisoryId(a);
      latest.delete(id); // keep input order of the last copies
      latest.set(id, a);
    }
    if (latest.size === 0) return;
    const limit = this.opts.itemLimit ?? ADVISORY_ITEM_LIMIT;

    const slicePuts: WriteRequest[] = [];
    const keyLists: WriteRequest[] = [];
    const newKeys = new Map<string, Set<string>>();
    for (const [id, a] of latest) {
      const slices = splitByPackageKey(a);
      newKeys.set(id, new Set(slices.keys()));
      for (const { key, advisory } of slices.values()) {
        const item: Item = {
          pkg: packageKeyAttribute(key),
          advisory: id,
          ecosystem: key.ecosystem,
          name: key.name,
          ...(a.modified !== undefined && { modified: a.modified }),
          data: gzipSync(JSON.stringify(advisory)),
        };
        const size = itemSize(item);
        if (size > limit) {
          throw new DrydockError(
            'LIMIT_EXCEEDED',
            `advisory ${a.source} ${a.id} for ${key.ecosystem}/${key.name}: ${size} bytes after gzip, over the ${limit}-byte item limit; it must be compacted by the feed reader, not dropped`,
          );
        }
        slicePuts.push({ PutRequest: { Item: item } });
      }
      if (slices.size > 0) {
        const keys = [...slices.values()].map((s) => [s.key.ecosystem, s.key.name]);
        const item: Item = { pkg: id, advisory: KEYS_SK, ...(a.modified !== undefined && { modified: a.modified }), keys: gzipSync(JSON.stringify(keys)) };
        const size = itemSize(item);
        if (size > limit) throw new DrydockError('LIMIT_EXCEEDED', `advisory ${a.source} ${a.id}: its list of ${keys.length} package keys is ${size} bytes after gzip, over the ${limit}-byte item limit`);
        keyLists.push({ PutRequest: { Item: item } });
      } else {
        keyLists.push({ DeleteRequest: { Key: { pkg: id, advisory: KEYS_SK } } });
      }
    }

    // where each advisory was stored before: strongly consistent, a put just before must count
    const old = await batchGet(
      this.doc,
      this.table,
      [...latest.keys()].map((id) => ({ pkg: id, advisory: KEYS_SK })),
      { ...this.opts.batch, consistentRead: true },
    );
    const staleDeletes: WriteRequest[] = [];
    for (const item of old) {
      const id = item.pkg as string;
      const current = newKeys.get(id) ?? new Set<string>();
      const keys = JSON.parse(gunzipSync(item.keys as Uint8Array).toString('utf8')) as [string, string][];
      for (const [ecosystem, name] of keys) {
        if (!current.has(packageKeyString({ ecosystem, name }))) staleDeletes.push({ DeleteRequest: { Key: { pkg: packageKeyAttribute({ ecosystem, name }), advisory: id } } });
      }
    }

    await batchWrite(this.doc, this.table, [...slicePuts, ...staleDeletes], this.opts.batch);
    await batchWrite(this.doc, this.table, keyLists, this.opts.batch);
  }
}
