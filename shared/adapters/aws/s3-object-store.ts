/**
 * ObjectStore on Amazon S3: inventories, SBOMs, reports, layer extracts and dead letters, all
 * under one bucket (and an optional key prefix, so tests and stages can share a bucket).
 *
 * Streams of unknown length: PutObject needs a Content-Length (S3 answers 411 to a chunked body
 * without one), and @aws-sdk/lib-storage is not a dependency, so a Readable is cut into parts
 * here. The first part is buffered; a stream that ends within it (the common case: an SBOM, a
 * compressed extract) goes up as one PutObject. A longer one becomes a multipart upload, one
 * part uploading while the next is read, so memory stays at two parts whatever the object size
 * and the source is paused (backpressure) while S3 is slower than it. A failed multipart upload
 * is aborted so no invisible, billed parts are left behind.
 *
 * Every SDK failure goes through awsError: the SDK has already retried throttling, 5xx and
 * resets by then, so what reaches the caller is final for this attempt and carries the right
 * kind (retryable → SQS redelivers the job).
 */
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { DrydockError } from '../../errors.js';
import { isTransientNetworkError } from '../../image/retry.js';
import type { ObjectStore } from '../../ports/stores.js';
import { awsError } from './errors.js';

/** S3's floor for every part but the last. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** S3's ceiling on the number of parts of one upload. */
export const MAX_PARTS = 10_000;

export interface S3ObjectStoreOptions {
  /** bytes per multipart part (≥ 5 MiB; default 8 MiB): also the largest object sent as one PutObject */
  partSize?: number;
}

type PutOpts = { contentType?: string; contentEncoding?: string };

export class S3ObjectStore implements ObjectStore {
  private readonly partSize: number;

  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    readonly prefix = '',
    opts: S3ObjectStoreOptions = {},
  ) {
    this.partSize = opts.partSize ?? 8 * 1024 * 1024;
    if (this.partSize < MIN_PART_SIZE) throw new DrydockError('CONFIG', `S3 part size ${this.partSize} is below S3's minimum of ${MIN_PART_SIZE} bytes`);
  }

  private key(key: string): string {
    return this.prefix + key;
  }

  private where(key: string): string {
    return `s3://${this.bucket}/${this.key(key)}`;
  }

  async put(key: string, body: Buffer | string | Readable, opts: PutOpts = {}): Promise<void> {
    if (typeof body === 'string' || Buffer.isBuffer(body)) return this.putWhole(key, typeof body === 'string' ? Buffer.from(body) : body, opts);
    return this.putStream(key, body, opts);
  }

  private async putWhole(key: string, bytes: Buffer, opts: PutOpts): Promise<void> {
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(key), Body: bytes, ContentLength: bytes.length, ...headers(opts) }));
    } catch (e) {
      throw s3Error(e, `S3 PutObject ${this.where(key)}`);
    }
  }

  private async putStream(key: string, body: Readable, opts: PutOpts): Promise<void> {
    const parts = chunks(body, this.partSize);
    const first = await next(parts, () => this.where(key));
    if (first.last) return this.putWhole(key, first.bytes, opts);

    // Multipart. With the SDK's default checksum mode (WHEN_SUPPORTED) every UploadPart carries a
    // CRC32, and S3 then insists the upload was created with that algorithm and that Complete
    // lists each part's checksum (lib-storage does the same). With WHEN_REQUIRED (s3rver, other
    // S3-compatible servers) no checksums are sent at all.
    const checksums = (await this.client.config.requestChecksumCalculation()) === 'WHEN_SUPPORTED';
    let uploadId: string | undefined;
    // Parts uploading now (at most two: one finishing, the next started). Each is observed the
    // moment it starts, so whichever fails first, the others can never surface as unhandled
    // rejections (which fail a whole Lambda batch); a failure is still read where it is awaited.
    const inFlight: Promise<void>[] = [];
    try {
      const created = await this.client.send(
        new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.key(key), ...headers(opts), ...(checksums ? { ChecksumAlgorithm: 'CRC32' } : {}) }),
      );
      uploadId = created.UploadId;
      if (!uploadId) throw new DrydockError('SERVER_ERROR', `S3 CreateMultipartUpload ${this.where(key)}: no UploadId in the answer`);
      const done: CompletedPart[] = [];
      let part = first;
      for (let n = 1; ; n++) {
        if (n > MAX_PARTS) throw new DrydockError('LIMIT_EXCEEDED', `S3 upload ${this.where(key)}: more than ${MAX_PARTS} parts of ${this.partSize} bytes`);
        // Read part n+1 while part n uploads, but never hold more than two parts.
        const upload = this.uploadPart(key, uploadId, n, part.bytes, checksums).then((p) => {
          done.push(p);
        });
        // Observed at once (before anything below can throw): its outcome is read by the await
        // below or, if something else fails first, by Promise.allSettled in the catch.
        upload.catch(ignore);
        inFlight.push(upload);
        if (inFlight.length > 1) await inFlight.shift();
        if (part.last) break;
        part = await next(parts, () => this.where(key));
        if (part.bytes.length === 0 && part.last) break; // the stream ended exactly on a part boundary
      }
      while (inFlight.length) await inFlight.shift();
      done.sort((a, b) => a.PartNumber! - b.PartNumber!);
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: this.key(key), UploadId: uploadId, MultipartUpload: { Parts: done } }));
    } catch (e) {
      // A part still uploading could outlive an abort sent now and stay behind: let every one
      // settle first (their failures are this failure's consequences, not news).
      await Promise.allSettled(inFlight);
      if (uploadId) {
        // Best effort: a lifecycle rule (AbortIncompleteMultipartUpload) catches what this misses.
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.key(key), UploadId: uploadId })).catch(ignore);
      }
      // Stop reading the source: close the part generator (and with it the stream's iterator).
      await parts.return(undefined).catch(ignore);
      body.destroy();
      throw s3Error(e, `S3 multipart upload ${this.where(key)}`);
    }
  }

  private async uploadPart(key: string, uploadId: string, n: number, bytes: Buffer, checksums: boolean): Promise<CompletedPart> {
    const res = await this.client.send(
      new UploadPartCommand({ Bucket: this.bucket, Key: this.key(key), UploadId: uploadId, PartNumber: n, Body: bytes, ContentLength: bytes.length, ...(checksums ? { ChecksumAlgorithm: 'CRC32' } : {}) }),
    );
    return { PartNumber: n, ETag: res.ETag, ...(res.ChecksumCRC32 ? { ChecksumCRC32: res.ChecksumCRC32 } : {}) };
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      if (!res.Body) return Buffer.alloc(0);
      return Buffer.from(await res.Body.transformToByteArray());
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw s3Error(e, `S3 GetObject ${this.where(key)}`);
    }
  }

  async open(key: string): Promise<Readable | undefined> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      // In Node the SDK's body is the http.IncomingMessage itself: a Readable. Errors while
      // reading it (a reset mid-body) surface on the stream, to whoever consumes it.
      return res.Body as Readable | undefined;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw s3Error(e, `S3 GetObject ${this.where(key)}`);
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw s3Error(e, `S3 HeadObject ${this.where(key)}`);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      // S3 answers 204 for a key that does not exist: delete is idempotent as the port wants.
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
    } catch (e) {
      throw s3Error(e, `S3 DeleteObject ${this.where(key)}`);
    }
  }
}

function headers(opts: PutOpts): { ContentType?: string; ContentEncoding?: string } {
  return { ...(opts.contentType ? { ContentType: opts.contentType } : {}), ...(opts.contentEncoding ? { ContentEncoding: opts.contentEncoding } : {}) };
}

/**
 * "No such object", told apart from other failures by the SDK's error name and status:
 * GetObject says NoSuchKey, HeadObject (no body to name it) NotFound with a 404. A missing
 * bucket is not a missing object: it would make every read a miss, so it is a configuration
 * error (HeadObject cannot tell the two apart; the first get or put will).
 */
function isNotFound(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (err?.name === 'NoSuchBucket') return false;
  return err?.name === 'NoSuchKey' || err?.name === 'NotFound' || err?.$metadata?.httpStatusCode === 404;
}

/** awsError, except that a missing bucket is a configuration error nothing but a person can fix. */
function s3Error(e: unknown, what: string): DrydockError {
  if ((e as { name?: string })?.name === 'NoSuchBucket') return new DrydockError('CONFIG', `${what}: the bucket does not exist`, { cause: e });
  return awsError(e, what);
}

/** For a failure already reported elsewhere (or best effort by design): see each call. */
function ignore(): void {}

type Part = { bytes: Buffer; last: boolean };

/**
 * The stream cut into parts of exactly `size` bytes (the last one shorter, possibly empty):
 * S3 wants every part but the last at least 5 MiB, whatever chunk sizes the source yields.
 */
async function* chunks(body: Readable, size: number): AsyncGenerator<Part, void, undefined> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  for await (const chunk of body) {
    let buf: Buffer = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    while (heldBytes + buf.length >= size) {
      const take = size - heldBytes;
      held.push(buf.subarray(0, take));
      buf = buf.subarray(take);
      const bytes = Buffer.concat(held, size);
      held = [];
      heldBytes = 0;
      // Whether this part is the last is only known at the end of the stream: yield it as
      // not-last; an empty last part follows when the stream ends on the boundary.
      yield { bytes, last: false };
    }
    if (buf.length) {
      held.push(buf);
      heldBytes += buf.length;
    }
  }
  yield { bytes: Buffer.concat(held, heldBytes), last: true };
}

/** The next part; a failing source stream is reported as unreadable, not as an S3 failure. */
async function next(parts: AsyncGenerator<Part, void, undefined>, where: () => string): Promise<Part> {
  let r: IteratorResult<Part, void>;
  try {
    r = await parts.next();
  } catch (e) {
    if (e instanceof DrydockError) throw e;
    // A source that is itself a network stream may fail transiently: keep that retryable.
    throw new DrydockError(isTransientNetworkError(e) ? 'NETWORK' : 'SOURCE_UNREADABLE', `cannot read the body for ${where()}: ${(e as Error).message}`, { cause: e });
  }
  return r.done ? { bytes: Buffer.alloc(0), last: true } : r.value;
}
