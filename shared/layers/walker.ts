import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { DrydockError, isAbort, toDrydockError, type ErrorContext } from '../errors.js';
import { layerCompression } from '../image/media-types.js';
import { probeReads, type ContentProbe } from '../catalog/types.js';
import type { Descriptor } from '../image/types.js';
import type { LayerExtract, LayerIssue, LayerLimits } from './extract.js';
import { normalizeEntryPath, whiteoutOf } from './paths.js';
import { BlobVerifier, createDecompressor } from './stream.js';

export interface WalkOptions {
  descriptor: Descriptor;
  diffId?: string;
  /** true for the paths catalogers need (see pathMatcher) */
  wanted: (path: string) => boolean;
  /** content probes run on executables no path need asks for */
  probes?: readonly ContentProbe[];
  limits: LayerLimits;
  /** the image as the user named it, for error messages */
  image: string;
  signal?: AbortSignal;
  /** compressed bytes read, as they stream */
  onBytes?: (n: number) => void;
}

/**
 * Streams one layer blob: verifies its digest and size while reading, decompresses it,
 * walks the tar and keeps only what `wanted` selects (plus symlinks and whiteouts).
 * The blob is never held whole in memory or written to disk.
 *
 * Errors name the image and the layer. When the blob cannot be decompressed or untarred,
 * the rest of it is still hashed: a blob that is not what its descriptor says is a
 * DIGEST_MISMATCH (a transfer or registry fault), one that is but cannot be read is a
 * CORRUPT_LAYER (a broken image).
 */
export async function walkLayer(raw: Readable, opts: WalkOptions): Promise<LayerExtract> {
  const { descriptor, limits } = opts;
  const context: ErrorContext = { image: opts.image, layer: descriptor.digest };
  const compression = layerCompression(descriptor.mediaType);
  if (!compression) {
    raw.destroy();
    throw new DrydockError('UNSUPPORTED_MEDIA_TYPE', `unsupported layer media type "${descriptor.mediaType}"`, { context });
  }

  const verifier = new BlobVerifier(descriptor.digest, descriptor.size, context, opts.onBytes);
  const decompressor = createDecompressor(compression);
  const extract = tar.extract();
  const result: LayerExtract = {
    digest: descriptor.digest,
    entries: [],
    whiteouts: [],
    opaqueDirs: [],
    issues: [],
    stats: { entries: 0, uncompressedBytes: 0, compressedBytes: 0 },
  };
  if (opts.diffId) result.diffId = opts.diffId;
  const kept = new Map<string, Buffer>();
  const issue = (code: LayerIssue['code'], path: string, message: string) =>
    result.issues.push({ code, path, message, layer: descriptor.digest });

  const probes = opts.probes ?? [];
  /**
   * Feeds an executable to the probes whose size limit it fits, keeping only what they find.
   * A probed file that no probe recognises still hides a lower layer's result for its path.
   */
  const probe = (fitting: ContentProbe[], path: string, mode: number, size: number, stream: Readable, next: () => void): void => {
    let active = fitting.map((p) => ({ name: p.name, reader: p.start(path) }));
    const all = active;
    stream.on('data', (chunk: Buffer) => {
      if (active.length) active = active.filter((a) => a.reader.push(chunk));
    });
    stream.on('end', () => {
      const results: Record<string, Buffer> = {};
      for (const a of all) {
        const r = a.reader.result();
        if (r) results[a.name] = r;
      }
      result.entries.push(Object.keys(results).length ? { type: 'probed', path, mode, results } : { type: 'skipped', path, mode, size });
      next();
    });
  };

  extract.on('entry', (header, stream, next) => {
    // An entry dies with the extractor (truncated tar, limit): the extractor's error is reported.
    stream.on('error', () => {});
    const stats = result.stats;
    stats.entries++;
    stats.uncompressedBytes += header.size ?? 0;
    const over =
      stats.entries > limits.maxEntries ? `layer has more than ${limits.maxEntries} entries (limit maxEntries)`
      : stats.uncompressedBytes > limits.maxUncompressedBytes ? `layer exceeds ${limits.maxUncompressedBytes} uncompressed bytes (limit maxUncompressedBytes)`
      : undefined;
    if (over) {
      extract.destroy(new DrydockError('LIMIT_EXCEEDED', over, { context }));
      return;
    }
    const path = normalizeEntryPath(header.name);
    const mode = header.mode ?? 0o644;
    const done = () => next();
    stream.on('end', done);

    const wh = whiteoutOf(path);
    if (wh) {
      if ('opaqueDir' in wh) result.opaqueDirs.push(wh.opaqueDir);
      else if ('removed' in wh) result.whiteouts.push(wh.removed);
      stream.resume();
      return;
    }
    switch (header.type) {
      case 'symlink':
        result.entries.push({ type: 'symlink', path, mode, target: header.linkname ?? '' });
        break;
      case 'link': {
        if (!opts.wanted(path)) break;
        const target = normalizeEntryPath(header.linkname ?? '');
        const content = kept.get(target);
        if (content) {
          kept.set(path, content);
          result.entries.push({ type: 'file', path, mode, size: content.length, content });
        } else {
          result.entries.push({ type: 'hardlink', path, mode, target });
        }
        break;
      }
      case 'file':
      case 'contiguous-file': {
        if (!opts.wanted(path)) {
          const size = header.size ?? 0;
          const fitting = probes.length ? probes.filter((p) => probeReads(p, path, mode, size)) : [];
          if (!fitting.length) break;
          stream.removeListener('end', done);
          probe(fitting, path, mode, size, stream as unknown as Readable, next);
          return;
        }
        const size = header.size ?? 0;
        if (size > limits.maxFileBytes) {
          issue('LIMIT_EXCEEDED', path, `file of ${size} bytes is larger than the per-file read limit of ${limits.maxFileBytes} bytes (limit maxFileBytes); skipped`);
          result.entries.push({ type: 'skipped', path, mode, size });
          break;
        }
        const chunks: Buffer[] = [];
        stream.on('data', (c) => chunks.push(c as Buffer));
        stream.removeListener('end', done);
        stream.on('end', () => {
          const content = Buffer.concat(chunks);
          kept.set(path, content);
          result.entries.push({ type: 'file', path, mode, size: content.length, content });
          next();
        });
        return;
      }
      default:
        // directories, devices, fifos: nothing a cataloger reads
        break;
    }
    stream.resume();
  });

  // The inner chain (decompress → untar) reads what the outer chain (blob → verifier) writes
  // into it. If the inner chain fails, the outer one keeps draining the blob into the
  // verifier so the digest can still be judged.
  let innerError: unknown;
  let innerStage = 'untar' as 'decompress' | 'untar';
  decompressor.once('error', (e) => {
    if (innerError === undefined) innerStage = 'decompress';
    innerError ??= e;
  });
  const inner = pipeline(decompressor, extract, { signal: opts.signal }).catch((e: unknown) => {
    innerError ??= e;
  });
  const sink = new Writable({
    highWaterMark: 256 * 1024,
    write(chunk: Buffer, _enc, cb) {
      if (innerError !== undefined) return fatalInner(cb);
      if (decompressor.write(chunk)) return cb();
      const resume = () => {
        decompressor.off('drain', resume);
        decompressor.off('close', resume);
        if (innerError !== undefined) fatalInner(cb);
        else cb();
      };
      decompressor.on('drain', resume);
      decompressor.on('close', resume);
    },
    final(cb) {
      if (innerError === undefined) decompressor.end();
      inner.then(() => fatalInner(cb), cb);
    },
  });
  // A limit or an abort is final at once; a read error lets the rest of the blob be hashed.
  function fatalInner(cb: (e?: Error | null) => void): void {
    if (innerError instanceof DrydockError || isAbort(innerError)) cb(innerError as Error);
    else cb();
  }

  try {
    await pipeline(raw, verifier, sink, { signal: opts.signal });
  } catch (e) {
    decompressor.destroy();
    extract.destroy();
    throw toDrydockError(e, 'NETWORK', context);
  }
  result.stats.compressedBytes = verifier.bytes;
  if (innerError !== undefined) {
    if (innerError instanceof DrydockError) throw innerError.withContext(context);
    const msg = innerError instanceof Error ? innerError.message : String(innerError);
    const what = innerStage === 'decompress' ? `corrupt ${compression} stream` : 'corrupt or truncated tar archive';
    throw new DrydockError('CORRUPT_LAYER', `${what}: ${msg}`, { context, cause: innerError });
  }
  return result;
}
