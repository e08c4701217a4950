import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DrydockError } from '../../errors.js';
import { decodeExtract, encodeExtract } from '../../layers/cache-codec.js';
import type { LayerExtract } from '../../layers/extract.js';
import type { LayerCache } from '../../ports/layer-cache.js';

/**
 * Layer cache in a local directory: one file per extract (`<key>.extract`, cache-codec's binary
 * layout, read as it is: no gzip, as decoding is what a warm scan waits for), written atomically.
 */
export class DirLayerCache implements LayerCache {
  constructor(readonly dir: string) {}

  private file(key: string): string {
    return join(this.dir, key.slice(0, 2), `${key}.extract`);
  }

  async get(key: string): Promise<LayerExtract | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.file(key));
    } catch {
      return undefined;
    }
    const extract = decodeExtract(bytes);
    // A damaged entry is a miss: remove it so the next write replaces it.
    if (!extract) await rm(this.file(key), { force: true });
    return extract;
  }

  async put(key: string, extract: LayerExtract): Promise<void> {
    const file = this.file(key);
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    try {
      await mkdir(join(this.dir, key.slice(0, 2)), { recursive: true });
      await writeFile(tmp, encodeExtract(extract));
      await rename(tmp, file);
    } catch (e) {
      await rm(tmp, { force: true });
      throw new DrydockError('CACHE_ERROR', `cannot write the layer cache in ${this.dir}: ${(e as Error).message}`, { cause: e, context: { layer: extract.digest } });
    }
  }
}
