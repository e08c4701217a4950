/**
 * s3rver (the S3 emulator in the `s3rver` devDependency) in-process for one test file: on
 * 127.0.0.1, a free port, a fresh temporary directory, one bucket made at start.
 *
 * Behaviour worth knowing when writing tests against it (see /work/shared/LOCAL-SERVERS.md):
 * - The SDK's default checksum mode (WHEN_SUPPORTED) sends streamed bodies with aws-chunked
 *   framing and trailing checksums, which s3rver does not understand and stores verbatim,
 *   framing included, without an error. `clientConfig` therefore sets
 *   requestChecksumCalculation / responseChecksumValidation to WHEN_REQUIRED.
 * - Path-style addressing only (`forcePathStyle`): no wildcard DNS for virtual hosts here.
 * - It knows one access key, S3RVER (secret S3RVER), and refuses others; it does not verify
 *   SigV4 signatures at all (s3rver 3.7 leaves that unimplemented), so a proxy that rewrites the
 *   Host header (test/support/fault-proxy.ts) works, and a signing bug would go unnoticed here.
 * - It never throttles nor fails: faults are injected with test/support/fault-proxy.ts.
 * - Its PutObject answers before the object's bytes reach its file (it resolves on `end()` of
 *   the write stream, not on `finish`), and writes in place: a GET right after a PUT may read a
 *   truncated object, and a PUT cut off mid-body leaves one. S3 is read-after-write consistent
 *   and a PUT is all or nothing, so `durablePutObject` below replaces that one method: the
 *   bytes go to a temporary file, which is renamed into place once written (seen as a flake:
 *   feed-sync's state read back empty on a loaded machine).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { S3ClientConfig } from '@aws-sdk/client-s3';

/** The parts of s3rver's API used here (it ships no types). */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverCtor = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: Array<{ name: string }>;
}) => S3rverInstance;

export const S3_LOCAL_REGION = 'us-east-1';
export const S3_LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface S3Local {
  /** "http://127.0.0.1:PORT" */
  endpoint: string;
  bucket: string;
  /** the directory s3rver stores objects in */
  directory: string;
  /** everything an S3Client needs to talk to this server (override `endpoint` to go through a proxy) */
  clientConfig: S3ClientConfig & { endpoint: string; region: string };
  stop(): Promise<void>;
}

export interface StartS3LocalOptions {
  bucket?: string;
}

/** s3rver's filesystem store, the parts `durablePutObject` uses. */
interface FilesystemStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
}
interface StoredObject {
  bucket: string;
  key: string;
  content: Buffer | NodeJS.ReadableStream;
  metadata: unknown;
}

/** PutObject as S3 does it: the object is replaced only once all its bytes are written. */
async function durablePutObject(this: FilesystemStore, object: StoredObject): Promise<{ size: number; md5: string }> {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  await mkdir(dirname(objectPath), { recursive: true });
  // not ending in s3rver's object suffix, so listings never show it
  const partial = `${objectPath}.partial-${randomUUID()}`;
  const md5 = createHash('md5');
  let size = 0;
  const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : (object.content as NodeJS.ReadableStream);
  const count = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      md5.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  try {
    await pipeline(source, count, createWriteStream(partial));
    await rename(partial, objectPath);
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  }
  const digest = md5.digest('hex');
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
}

export async function startS3Local(opts: StartS3LocalOptions = {}): Promise<S3Local> {
  const require = createRequire(import.meta.url);
  const S3rver = require('s3rver') as S3rverCtor;
  const store = require('s3rver/lib/stores/filesystem') as { prototype: { putObject: unknown } };
  store.prototype.putObject = durablePutObject;
  const directory = await mkdtemp(join(tmpdir(), 'drydock-s3rver-'));
  const bucket = opts.bucket ?? 'drydock-test';
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory,
    silent: true,
    configureBuckets: [{ name: bucket }],
  });
  let addr: AddressInfo;
  try {
    addr = await server.run();
  } catch (e) {
    await rm(directory, { recursive: true, force: true });
    throw e;
  }
  const endpoint = `http://127.0.0.1:${addr.port}`;
  let stopped = false;
  return {
    endpoint,
    bucket,
    directory,
    clientConfig: {
      endpoint,
      region: S3_LOCAL_REGION,
      credentials: { ...S3_LOCAL_CREDENTIALS },
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close().catch(() => {});
      await rm(directory, { recursive: true, force: true });
    },
  };
}
