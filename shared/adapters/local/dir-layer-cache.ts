import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DrydockError } from '../../errors.js';
import { decodeExtract, encodeExtract } from '../../layers/cache-codec.js';
import type { LayerExtract } from '../../layers/extract.js';
import type { LayerCache } from '../../ports/layer-cache.js';

/** The largest image analysis kept (JSON): an image with some 50,000 packages. */
export const MAX_ANALYSIS_BYTES = 64 * 1024 * 1024;

/**
 * Layer cache in a local directory: one file per extract (`<key>.extract`, cache-codec's binary
 * layout, read as it is: no gzip, as decoding is what a warm scan waits for), and one JSON file
 * per image analysed (`<key>.analysis.json`, see scanImage's AnalysisSnapshot), each written atomically.
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

  private analysisFile(key: string): string {
    return join(this.dir, key.slice(0, 2), `${key}.analysis.json`);
  }

  /** The stored analysis, parsed (scanImage checks its shape); undefined when absent, unreadable or larger than MAX_ANALYSIS_BYTES. */
  async getAnalysis(key: string): Promise<unknown> {
    try {
      const bytes = await readFile(this.analysisFile(key));
      if (bytes.length > MAX_ANALYSIS_BYTES) return undefined;
      return JSON.parse(bytes.toString('utf8')) as unknown;
    } catch {
      return undefined;
    }
  }

  /** Written atomically; an analysis larger than MAX_ANALYSIS_BYTES is not kept (the layers still are). */
  async putAnalysis(key: string, snapshot: unknown): Promise<void> {
    const text = JSON.stringify(snapshot);
    if (Buffer.byteLength(text) > MAX_ANALYSIS_BYTES) return;
    // a failure loses only speed: the layers' extracts are cached (and their write failures reported)
    await this.write(key, this.analysisFile(key), text).catch(() => undefined);
  }

  async put(key: string, extract: LayerExtract): Promise<void> {
    try {
      await this.write(key, this.file(key), encodeExtract(extract));
    } catch (e) {
      throw new DrydockError('CACHE_ERROR', `cannot write the layer cache in ${this.dir}: ${(e as Error).message}`, { cause: e, context: { layer: extract.digest } });
    }
  }

  /** `data` into `file` (in the key's subdirectory) through a temporary file renamed over it: a reader never sees half an entry. */
  private async write(key: string, file: string, data: string | Uint8Array): Promise<void> {
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    try {
      await mkdir(join(this.dir, key.slice(0, 2)), { recursive: true });
      await writeFile(tmp, data);
      await rename(tmp, file);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }
}
