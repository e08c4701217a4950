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
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

export async function startS3Local(opts: StartS3LocalOptions = {}): Promise<S3Local> {
  const require = createRequire(import.meta.url);
  const S3rver = require('s3rver') as S3rverCtor;
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
