import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DrydockError, isAbort, toDrydockError, type ErrorContext } from '../errors.js';
import { layerCompression } from '../image/media-types.js';
import { probeReads, type ContentProbe } from '../catalog/types.js';
import type { Descriptor } from '../image/types.js';
import { EXPANSION_CHECK_AFTER, limitError, type ImageBudget, type LayerExtract, type LayerIssue, type LayerLimits } from './extract.js';
import { TarError, TarReader, type EntrySink, type TarEntry } from './tar-reader.js';
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
  /**
   * Files kept although no need names their path, because a symlinked directory may lead a
   * needed path to them (see candidateMatcher); they count against the same limits.
   */
  candidate?: (path: string) => boolean;
  /** the image's running totals, shared by its layers */
  budget?: ImageBudget;
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

  if (descriptor.size > limits.maxCompressedBytes) {
    raw.destroy();
    throw limitError('maxCompressedBytes', `layer blob of ${descriptor.size} bytes is larger than ${limits.maxCompressedBytes}`, limits.maxCompressedBytes, context);
  }
  try {
    opts.budget?.add({ compressedBytes: descriptor.size }, context);
  } catch (e) {
    raw.destroy();
    throw e;
  }

  const verifier = new BlobVerifier(descriptor.digest, descriptor.size, context, opts.onBytes);
  const decompressor = createDecompressor(compression, { maxZstdWindowBytes: limits.maxZstdWindowBytes });
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
  const budget = opts.budget;
  let keptBytes = 0;
  let symlinks = 0;
  const keep = (n: number) => {
    if ((keptBytes += n) > limits.maxKeptBytes) {
      throw limitError('maxKeptBytes', `files kept from the layer exceed ${limits.maxKeptBytes} bytes`, limits.maxKeptBytes);
    }
    budget?.add({ keptBytes: n });
  };

  const probes = opts.probes ?? [];
  /** Feeds an executable to the probes whose size limit it fits, keeping only what they find. */
  const probe = (fitting: ContentProbe[], path: string, mode: number, size: number): EntrySink => {
    let active = fitting.map((p) => ({ name: p.name, reader: p.start(path) }));
    const all = active;
    return {
      data(chunk) {
        if (active.length) active = active.filter((a) => a.reader.push(chunk));
      },
      end() {
        const results: Record<string, Buffer> = {};
        for (const a of all) {
          const r = a.reader.result();
          if (r) {
            keep(r.length);
            results[a.name] = r;
          }
        }
        // A probed file that no probe recognises still hides a lower layer's result for its path.
        result.entries.push(Object.keys(results).length ? { type: 'probed', path, mode, results } : { type: 'skipped', path, mode, size });
      },
    };
  };
  /** Keeps a file's content, counted against the kept-bytes limits as it arrives. */
  const collect = (path: string, mode: number): EntrySink => {
    const chunks: Buffer[] = [];
    return {
      data(c) {
        keep(c.length);
        chunks.push(c);
      },
      end() {
        const content = Buffer.concat(chunks);
        kept.set(path, content);
        result.entries.push({ type: 'file', path, mode, size: content.length, content });
      },
    };
  };

  const onEntry = (header: TarEntry): EntrySink | undefined => {
    const stats = result.stats;
    if (++stats.entries > limits.maxEntries) throw limitError('maxEntries', `layer has more than ${limits.maxEntries} entries`, limits.maxEntries);
    budget?.add({ entries: 1 });
    const path = normalizeEntryPath(header.name);
    const mode = header.mode;

    const wh = whiteoutOf(path);
    if (wh) {
      if ('opaqueDir' in wh) result.opaqueDirs.push(wh.opaqueDir);
      else if ('removed' in wh) result.whiteouts.push(wh.removed);
      return undefined;
    }
    switch (header.type) {
      case 'symlink':
        if (++symlinks > limits.maxSymlinks) throw limitError('maxSymlinks', `layer has more than ${limits.maxSymlinks} symlinks`, limits.maxSymlinks);
        budget?.add({ symlinks: 1 });
        result.entries.push({ type: 'symlink', path, mode, target: header.linkname });
        return undefined;
      case 'link': {
        if (!opts.wanted(path) && !opts.candidate?.(path)) return undefined;
        const target = normalizeEntryPath(header.linkname);
        const content = kept.get(target);
        if (content) {
          kept.set(path, content);
          result.entries.push({ type: 'file', path, mode, size: content.length, content });
        } else {
          result.entries.push({ type: 'hardlink', path, mode, target });
        }
        return undefined;
      }
      case 'file': {
        const size = header.size;
        const wanted = opts.wanted(path);
        if (!wanted && !opts.candidate?.(path)) {
          if (header.sparse || !probes.length) return undefined;
          const fitting = probes.filter((p) => probeReads(p, path, mode, size));
          return fitting.length ? probe(fitting, path, mode, size) : undefined;
        }
        if (size > limits.maxFileBytes) {
          if (wanted) issue('LIMIT_EXCEEDED', path, `file of ${size} bytes is larger than the per-file read limit of ${limits.maxFileBytes} bytes (limit maxFileBytes); skipped`);
          result.entries.push({ type: 'skipped', path, mode, size });
          return undefined;
        }
        return collect(path, mode);
      }
      default:
        // directories, devices, fifos: nothing a cataloger reads
        return undefined;
    }
  };

  const reader = new TarReader({ maxHeaderBytes: limits.maxHeaderBytes, maxPathBytes: limits.maxPathBytes, maxLinkBytes: limits.maxLinkBytes }, onEntry);
  /** the end-of-archive marker was read: the rest of the blob is hashed, not inflated */
  let tarEnded = false;
  /** the first failure of the inner chain (decompress → untar) */
  let innerError: unknown;
  const untar = new Writable({
    highWaterMark: 256 * 1024,
    write(chunk: Buffer, _enc, cb) {
      if (tarEnded) return cb();
      try {
        const stats = result.stats;
        // Decompressed bytes, not the entries' declared sizes, are what a layer costs.
        stats.uncompressedBytes += chunk.length;
        if (stats.uncompressedBytes > limits.maxUncompressedBytes) {
          throw limitError('maxUncompressedBytes', `layer inflates to more than ${limits.maxUncompressedBytes} bytes`, limits.maxUncompressedBytes);
        }
        if (stats.uncompressedBytes > EXPANSION_CHECK_AFTER && stats.uncompressedBytes > limits.maxExpansionRatio * Math.max(1, verifier.bytes)) {
          throw limitError('maxExpansionRatio', `layer inflates more than ${limits.maxExpansionRatio} times (${verifier.bytes} compressed bytes gave ${stats.uncompressedBytes})`, limits.maxExpansionRatio);
        }
        budget?.add({ uncompressedBytes: chunk.length });
        reader.push(chunk);
        if (reader.ended) {
          tarEnded = true;
          // Nothing after the end marker is inflated.
          decompressor.destroy();
        }
        cb();
      } catch (e) {
        // set at once: the blob side must not write into a chain that is being torn down
        innerError ??= e;
        cb(e as Error);
      }
    },
    final(cb) {
      try {
        reader.finish();
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
  });

  // The inner chain (decompress → untar) reads what the outer chain (blob → verifier) writes
  // into it. If the inner chain fails, the outer one keeps draining the blob into the
  // verifier so the digest can still be judged.
  const inner = pipeline(decompressor, untar, { signal: opts.signal }).catch((e: unknown) => {
    // after the end marker the decompressor is destroyed on purpose: only a limit or a real abort counts then
    if (!tarEnded || e instanceof DrydockError || opts.signal?.aborted) innerError ??= e;
  });
  const take = (chunk: Buffer, cb: (e?: Error | null) => void): void => {
    if (innerError !== undefined) return fatalInner(cb);
    // after the end marker, or once the inner chain has failed, the rest is only hashed
    if (tarEnded || decompressor.destroyed || decompressor.writableEnded) return cb();
    if (decompressor.write(chunk)) return cb();
    const resume = () => {
      decompressor.off('drain', resume);
      decompressor.off('close', resume);
      if (innerError !== undefined) fatalInner(cb);
      else cb();
    };
    decompressor.on('drain', resume);
    decompressor.on('close', resume);
  };
  const sink = new Writable({
    highWaterMark: 256 * 1024,
    write(chunk: Buffer, _enc, cb) {
      take(chunk, cb);
    },
    // The chunks that came while the decompressor was busy go in as one write: a registry's
    // body comes in socket reads of 64 KiB or less, and each write into zlib is a round trip to
    // libuv's pool (four times as many writes as a file read in 256 KiB cost ~0.13 s of CPU for
    // the bench image walked in one thread).
    writev(chunks, cb) {
      take(chunks.length === 1 ? (chunks[0]!.chunk as Buffer) : Buffer.concat(chunks.map((c) => c.chunk as Buffer)), cb);
    },
    final(cb) {
      if (innerError === undefined && !tarEnded) decompressor.end();
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
    untar.destroy();
    throw toDrydockError(e, 'NETWORK', context);
  }
  result.stats.compressedBytes = verifier.bytes;
  if (innerError !== undefined) {
    if (innerError instanceof DrydockError) throw innerError.withContext(context);
    const msg = innerError instanceof Error ? innerError.message : String(innerError);
    // Tar faults are told apart by type: a pipeline destroys every stage with the first error.
    const what = innerError instanceof TarError ? 'corrupt or truncated tar archive' : `corrupt ${compression} stream`;
    throw new DrydockError('CORRUPT_LAYER', `${what}: ${msg}`, { context, cause: innerError });
  }
  return result;
}
