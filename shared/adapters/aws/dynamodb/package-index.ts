/**
 * PackageIndex on the package index table (tables.ts PACKAGE_INDEX_TABLE): one item per
 * (package key, image digest), so the rescan's "which images hold openssl on Debian:12?" is
 * one paged Query. An image with 1,500 packages writes ~1,500 small items: BatchWriteItem in
 * chunks of 25 (batch.ts), partial answers retried.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { PackageKey } from '../../../ports/advisory-store.js';
import type { PackageIndex, PackageIndexEntry } from '../../../ports/stores.js';
import { normaliseIndexEntries, staleIndexKeys } from '../../store-rules.js';
import { packageKeyAttribute } from '../tables.js';
import { batchWrite, type BatchOptions, type WriteRequest } from './batch.js';
import { checkItemSize, itemSize, queryPartition } from './items.js';

export interface DynamoPackageIndexOptions {
  batch?: BatchOptions;
  /** Query page size (Limit); unset = DynamoDB's 1 MB pages. Small values exercise the paging in tests. */
  pageSize?: number;
}

export class DynamoPackageIndex implements PackageIndex {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly opts: DynamoPackageIndexOptions = {},
  ) {}

  /**
   * Puts every entry and deletes this image's items for `previousKeys` no longer present, in one
   * stream of batches (a put and a delete never share a key). Not atomic: a failure part-way
   * leaves some entries written, and the retried job writes them all again (puts are idempotent).
   * `deleted` counts the delete requests sent, whether or not the item existed.
   */
  async replaceForImage(digest: string, entries: PackageIndexEntry[], previousKeys?: PackageKey[]): Promise<{ written: number; deleted: number }> {
    const puts = normaliseIndexEntries(digest, entries);
    const deletes = staleIndexKeys(puts, previousKeys);
    const requests: WriteRequest[] = [
      ...puts.map((e) => {
        const item = {
          pkg: packageKeyAttribute(e.key),
          digest,
          ecosystem: e.key.ecosystem,
          name: e.key.name,
          repository: e.repository,
          versions: e.versions,
        };
        checkItemSize(itemSize(item), `package index entry ${e.key.ecosystem}/${e.key.name} of image ${digest}`);
        return { PutRequest: { Item: item } };
      }),
      ...deletes.map((k) => ({ DeleteRequest: { Key: { pkg: packageKeyAttribute(k), digest } } })),
    ];
    await batchWrite(this.doc, this.table, requests, this.opts.batch);
    return { written: puts.length, deleted: deletes.length };
  }

  /** All entries of the key, in digest order, following LastEvaluatedKey page after page. */
  async imagesFor(key: PackageKey): Promise<PackageIndexEntry[]> {
    const out: PackageIndexEntry[] = [];
    for await (const item of queryPartition(this.doc, this.table, 'pkg', packageKeyAttribute(key), `Query ${this.table} ${key.ecosystem}/${key.name}`, this.opts.pageSize)) {
      if (item.ecosystem !== key.ecosystem || item.name !== key.name) continue; // guard, see packageKeyAttribute
      out.push({
        key: { ecosystem: key.ecosystem, name: key.name },
        digest: item.digest as string,
        repository: item.repository as string,
        versions: (item.versions as string[] | undefined) ?? [],
      });
    }
    return out;
  }
}
