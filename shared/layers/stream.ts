import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { DrydockError, type ErrorContext } from '../errors.js';
import type { Compression } from '../image/media-types.js';

const HASHES: Record<string, string> = { sha256: 'sha256', sha512: 'sha512' };

/**
 * Hashes and counts a blob while it streams and fails it when it is not what its
 * descriptor says: more bytes than declared (at once, before reading the rest), fewer
 * bytes, or another digest (at the end). Nothing is buffered.
 */
export class BlobVerifier extends Transform {
  private readonly hash: Hash;
  private readonly expectedHex: string;
  bytes = 0;

  constructor(
    private readonly digest: string,
    private readonly declaredSize: number,
    private readonly context: ErrorContext,
    private readonly onBytes?: (n: number) => void,
  ) {
    super();
    const [alg = '', hex = ''] = digest.split(':', 2);
    const algorithm = HASHES[alg];
    if (!algorithm || !/^[a-f0-9]+$/.test(hex)) {
      throw new DrydockError('UNSUPPORTED_MEDIA_TYPE', `unsupported digest "${digest}" (sha256 and sha512 are read)`, { context });
    }
    this.hash = createHash(algorithm);
    this.expectedHex = hex;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.declaredSize) {
      cb(new DrydockError('SIZE_MISMATCH', `blob is larger than its declared size of ${this.declaredSize} bytes`, { context: this.context }));
      return;
    }
    this.hash.update(chunk);
    this.onBytes?.(chunk.length);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    cb(this.check());
  }

  /** The verdict on what was read so far, as if the stream ended here. */
  check(): DrydockError | null {
    if (this.bytes !== this.declaredSize) {
      return new DrydockError('SIZE_MISMATCH', `blob has ${this.bytes} bytes but its descriptor declares ${this.declaredSize}`, { context: this.context });
    }
    const actual = this.hash.copy().digest('hex');
    if (actual !== this.expectedHex) {
      return new DrydockError('DIGEST_MISMATCH', `blob digest mismatch: expected ${this.digest}, got ${this.digest.split(':')[0]}:${actual}`, { context: this.context });
    }
    return null;
  }
}

/** A decompressing stream for a layer's compression. */
export function createDecompressor(compression: Compression): Transform {
  switch (compression) {
    case 'gzip':
      // Several gzip members in a row are valid (pigz, some builders); zlib reads them all.
      return zlib.createGunzip({ chunkSize: 128 * 1024 });
    case 'zstd': {
      const native = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;
      return native ? native() : new FzstdTransform();
    }
    case 'none':
      return new Transform({ transform: (chunk, _e, cb) => cb(null, chunk) });
  }
}

/** Streaming zstd on Node versions without zlib zstd (Node < 22.15), in pure JS. */
class FzstdTransform extends Transform {
  private readonly decoder: ZstdDecompress;
  private sawData = false;

  constructor() {
    super();
    this.decoder = new ZstdDecompress((data) => {
      // fzstd may hand out views of its window: copy before passing on.
      if (data.length) this.push(Buffer.from(data));
    });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      if (chunk.length) this.sawData = true;
      this.decoder.push(chunk);
      cb();
    } catch (e) {
      cb(zstdError(e));
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      if (!this.sawData) throw new Error('empty zstd stream');
      this.decoder.push(new Uint8Array(0), true);
      cb();
    } catch (e) {
      cb(zstdError(e));
    }
  }
}

function zstdError(e: unknown): Error {
  const err = e instanceof Error ? e : new Error(String(e));
  err.message = `zstd: ${err.message}`;
  return err;
}
