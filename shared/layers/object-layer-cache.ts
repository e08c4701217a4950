/**
 * The layer cache over any ObjectStore (S3 on AWS, memory or a directory locally): one object
 * per extract at `<prefix><key>.json.gz` (the name kept from the JSON format: the key's format
 * version tells the layouts apart), cache-codec's binary layout gzip-compressed (extracts are
 * mostly text — package databases, manifests — so they shrink several times, which is S3
 * storage and transfer saved on every cache hit).
 *
 * As with DirLayerCache, a damaged entry (not gzip, truncated, not an extract of this format) is
 * a miss and is deleted, so the layer is read again and the next put replaces it. A failure of
 * the store itself (throttling, 5xx, a network error) is not a damaged entry: it is thrown, with
 * the store's error kind, so the job is retried instead of silently re-reading every layer.
 *
 * `has` answers from the object's existence alone, without downloading it: the analyzer uses it
 * to count the layers it must read before deciding whether to fan out.
 */
import { promisify } from 'node:util';
import { gunzip as gunzipCb, gzip as gzipCb } from 'node:zlib';
import { DrydockError, toDrydockError } from '../errors.js';
import type { LayerCache } from '../ports/layer-cache.js';
import type { ObjectStore } from '../ports/stores.js';
import { decodeExtract, encodeExtract } from './cache-codec.js';
import type { LayerExtract } from './extract.js';

const gzip = promisify(gzipCb);
const gunzip = promisify(gunzipCb);

export class ObjectLayerCache implements LayerCache {
  constructor(
    private readonly objects: ObjectStore,
    readonly prefix = 'layers/',
  ) {}

  /** The object key of a cache key (a hex digest: safe in S3 keys and file names). */
  objectKey(key: string): string {
    return `${this.prefix}${key}.json.gz`;
  }

  async has(key: string): Promise<boolean> {
    return this.objects.exists(this.objectKey(key));
  }

  async get(key: string, signal?: AbortSignal): Promise<LayerExtract | undefined> {
    aborted(signal, key);
    const bytes = await this.objects.get(this.objectKey(key));
    if (!bytes) return undefined;
    let extract: LayerExtract | undefined;
    try {
      // Stored gzip'd; but with Content-Encoding gzip on the object an HTTP layer may hand back
      // the bytes already inflated, so a body without the gzip magic is decoded as it is.
      const gzipped = bytes[0] === 0x1f && bytes[1] === 0x8b;
      extract = decodeExtract(gzipped ? await gunzip(bytes) : bytes);
    } catch {
      extract = undefined;
    }
    if (!extract) {
      // Damaged: forget it. Best effort — the next put overwrites it anyway.
      await this.objects.delete(this.objectKey(key)).catch(() => {});
    }
    return extract;
  }

  async put(key: string, extract: LayerExtract, signal?: AbortSignal): Promise<void> {
    aborted(signal, key);
    const bytes = await gzip(encodeExtract(extract));
    try {
      await this.objects.put(this.objectKey(key), bytes, { contentType: 'application/octet-stream', contentEncoding: 'gzip' });
    } catch (e) {
      throw toDrydockError(e, 'CACHE_ERROR', { layer: extract.digest });
    }
  }
}

function aborted(signal: AbortSignal | undefined, key: string): void {
  if (signal?.aborted) throw new DrydockError('ABORTED', `layer cache ${key}: aborted`, { cause: signal.reason });
}
