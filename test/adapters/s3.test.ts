/**
 * S3ObjectStore with the real SDK v3 S3Client against a real s3rver (started and stopped here):
 * round trips of buffers and multi-MiB streams (multipart, bytes identical — no chunk framing),
 * missing keys, prefixes; then S3's faults — 500s, 503 SlowDown and connection resets — injected
 * by a loopback proxy in front of s3rver (s3rver itself never fails): a few are absorbed by the
 * SDK's retries, persistent ones reach the caller as retryable DrydockErrors. The order of two
 * failing parts of one multipart upload is forced with an SDK middleware instead (a proxy cannot
 * sequence requests against each other): no part's rejection may go unobserved.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MIN_PART_SIZE, S3ObjectStore } from '../../shared/adapters/aws/s3-object-store.js';
import { DrydockError } from '../../shared/errors.js';
import { startFaultProxy, type Fault, type FaultProxy } from '../support/fault-proxy.js';
import { startS3Local, type S3Local } from '../support/s3-local.js';

let s3: S3Local;
let proxy: FaultProxy;
const clients: S3Client[] = [];

beforeAll(async () => {
  s3 = await startS3Local();
  proxy = await startFaultProxy(s3.endpoint);
});

afterAll(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await proxy?.stop();
  await s3?.stop();
});

afterEach(() => proxy.setDecide(() => 'pass'));

/** A client on s3rver (or on the fault proxy), recording the name of every command it sends. */
function client(opts: { viaProxy?: boolean } = {}): { client: S3Client; commands: string[] } {
  const c = new S3Client({ ...s3.clientConfig, ...(opts.viaProxy ? { endpoint: proxy.url } : {}) });
  const commands: string[] = [];
  c.middlewareStack.add(
    (next, context) => async (args) => {
      commands.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
  clients.push(c);
  return { client: c, commands };
}

function store(c: S3Client, opts: { prefix?: string; partSize?: number; bucket?: string } = {}): S3ObjectStore {
  return new S3ObjectStore(c, opts.bucket ?? s3.bucket, opts.prefix ?? '', opts.partSize ? { partSize: opts.partSize } : {});
}

/** `bytes` as a stream of uneven chunks (never aligned with the part size). */
function streamOf(bytes: Buffer, chunk = 100_003): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
    })(),
  );
}

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function key(name: string): string {
  return `t/${name}-${randomBytes(4).toString('hex')}`;
}

describe('S3ObjectStore on s3rver', () => {
  it('round-trips a Buffer and a string, with get, open and exists', async () => {
    const { client: c } = client();
    const s = store(c);
    const k = key('buf');
    const bytes = randomBytes(70_000);
    await s.put(k, bytes, { contentType: 'application/octet-stream' });
    expect(await s.exists(k)).toBe(true);
    expect((await s.get(k))!.equals(bytes)).toBe(true);
    expect((await collect((await s.open(k))!)).equals(bytes)).toBe(true);

    const t = key('str');
    await s.put(t, '{"é":"ü"}', { contentType: 'application/json' });
    expect((await s.get(t))!.toString('utf8')).toBe('{"é":"ü"}');
  });

  it('uploads a 12 MiB stream as a multipart upload and reads back identical bytes', async () => {
    const { client: c, commands } = client();
    const s = store(c, { partSize: MIN_PART_SIZE });
    const k = key('big');
    const bytes = randomBytes(12 * 1024 * 1024 + 12_345);
    await s.put(k, streamOf(bytes));
    expect(commands).toEqual(['CreateMultipartUploadCommand', 'UploadPartCommand', 'UploadPartCommand', 'UploadPartCommand', 'CompleteMultipartUploadCommand']);
    const back = await s.get(k);
    expect(back!.length).toBe(bytes.length);
    // identical, byte for byte: no aws-chunked framing stored with the data
    expect(back!.equals(bytes)).toBe(true);
    expect((await collect((await s.open(k))!)).equals(bytes)).toBe(true);
  });

  it('with the SDK\'s default checksum mode (as on AWS) uploads are byte-identical too', async () => {
    // Parts are sent as buffers of known length, so the SDK puts its CRC32 in a header instead
    // of framing a streamed body (aws-chunked), which s3rver would store verbatim.
    const c = new S3Client({ ...s3.clientConfig, requestChecksumCalculation: 'WHEN_SUPPORTED', responseChecksumValidation: 'WHEN_SUPPORTED' });
    clients.push(c);
    const s = store(c, { partSize: MIN_PART_SIZE });
    const big = randomBytes(MIN_PART_SIZE + 1000);
    const small = randomBytes(1000);
    const [kb, ks] = [key('crc-big'), key('crc-small')];
    await s.put(kb, streamOf(big));
    await s.put(ks, streamOf(small));
    expect((await s.get(kb))!.equals(big)).toBe(true);
    expect((await s.get(ks))!.equals(small)).toBe(true);
  });

  it('a stream ending exactly on a part boundary makes no empty extra part', async () => {
    const { client: c, commands } = client();
    const s = store(c, { partSize: MIN_PART_SIZE });
    const k = key('exact');
    const bytes = randomBytes(2 * MIN_PART_SIZE);
    await s.put(k, streamOf(bytes, 65_536));
    expect(commands.filter((n) => n === 'UploadPartCommand')).toHaveLength(2);
    expect((await s.get(k))!.equals(bytes)).toBe(true);
  });

  it('a stream shorter than one part goes up as a single PutObject', async () => {
    const { client: c, commands } = client();
    const s = store(c, { partSize: MIN_PART_SIZE });
    const k = key('small');
    const bytes = randomBytes(300_000);
    await s.put(k, streamOf(bytes, 7_777));
    expect(commands).toEqual(['PutObjectCommand']);
    expect((await s.get(k))!.equals(bytes)).toBe(true);
  });

  it('an empty stream stores an empty object', async () => {
    const { client: c } = client();
    const s = store(c);
    const k = key('empty');
    await s.put(k, Readable.from([]));
    expect(await s.exists(k)).toBe(true);
    expect((await s.get(k))!.length).toBe(0);
  });

  it('a missing key is undefined / false, and delete is idempotent', async () => {
    const { client: c } = client();
    const s = store(c);
    const k = key('missing');
    expect(await s.get(k)).toBeUndefined();
    expect(await s.open(k)).toBeUndefined();
    expect(await s.exists(k)).toBe(false);
    await s.put(k, 'x');
    await s.delete(k);
    await s.delete(k);
    expect(await s.get(k)).toBeUndefined();
    expect(await s.exists(k)).toBe(false);
  });

  it('keys live under the prefix', async () => {
    const { client: c } = client();
    const k = key('p');
    await store(c, { prefix: 'stage-a/' }).put(k, 'A');
    expect((await store(c).get(`stage-a/${k}`))!.toString()).toBe('A');
    expect(await store(c, { prefix: 'stage-b/' }).exists(k)).toBe(false);
  });

  it('a missing bucket is a configuration error, not a missing object', async () => {
    const { client: c } = client();
    const s = store(c, { bucket: 'no-such-bucket' });
    await expect(s.get('k')).rejects.toMatchObject({ code: 'CONFIG', kind: 'fatal' });
    await expect(s.put('k', 'x')).rejects.toMatchObject({ code: 'CONFIG', kind: 'fatal' });
  });

  it('a failing source stream aborts the multipart upload and leaves no object', async () => {
    const { client: c, commands } = client();
    const s = store(c, { partSize: MIN_PART_SIZE });
    const k = key('broken');
    const source = Readable.from(
      (async function* () {
        yield randomBytes(MIN_PART_SIZE + 10);
        throw new Error('disk on fire');
      })(),
    );
    const err = await s.put(k, source).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrydockError);
    expect(err).toMatchObject({ code: 'SOURCE_UNREADABLE', kind: 'permanent' });
    expect((err as Error).message).toMatch(/disk on fire/);
    expect(commands).toContain('AbortMultipartUploadCommand');
    expect(await s.exists(k)).toBe(false);
  });

  it('rejects a part size below S3\'s 5 MiB minimum', () => {
    const { client: c } = client();
    expect(() => store(c, { partSize: 1024 })).toThrow(/minimum/);
  });
});

describe('S3 faults through a proxy (injected)', () => {
  const serverError: Fault = { status: 500, body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>', headers: { 'content-type': 'application/xml' } };
  const slowDown: Fault = { status: 503, body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>', headers: { 'content-type': 'application/xml' } };

  /** The first `n` requests get `fault`, the rest pass. */
  function failFirst(n: number, fault: Fault): void {
    let seen = 0;
    proxy.setDecide(() => (seen++ < n ? fault : 'pass'));
  }

  function faultsSince(start: number): string[] {
    return proxy.log.slice(start).map((l) => l.fault);
  }

  it('two 500s are absorbed by the SDK\'s retries', async () => {
    const { client: c } = client({ viaProxy: true });
    const s = store(c);
    const k = key('retry500');
    const start = proxy.log.length;
    failFirst(2, serverError);
    await s.put(k, 'survived');
    expect(faultsSince(start)).toEqual(['500', '500', 'pass']);
    expect((await s.get(k))!.toString()).toBe('survived');
  });

  it('persistent 500s end in a retryable SERVER_ERROR', async () => {
    const { client: c } = client({ viaProxy: true });
    const s = store(c);
    const start = proxy.log.length;
    failFirst(Infinity, serverError);
    const err = await s.put(key('dead500'), 'x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrydockError);
    expect(err).toMatchObject({ code: 'SERVER_ERROR', kind: 'retryable' });
    expect((err as Error).message).toMatch(/S3 PutObject s3:\/\/.*InternalError/);
    // the SDK tried as often as its standard strategy allows (3 attempts) before giving up
    expect(faultsSince(start)).toEqual(['500', '500', '500']);
    const getErr = await s.get(key('dead500-get')).catch((e: unknown) => e);
    expect(getErr).toMatchObject({ code: 'SERVER_ERROR', kind: 'retryable' });
  });

  it('503 SlowDown is retried by the SDK and, when it persists, is a retryable THROTTLED', async () => {
    const { client: c } = client({ viaProxy: true });
    const s = store(c);
    const k = key('slow');
    failFirst(1, slowDown);
    await s.put(k, 'eventually');
    expect((await s.get(k))!.toString()).toBe('eventually');

    failFirst(Infinity, slowDown);
    const err = await s.get(k).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrydockError);
    expect(err).toMatchObject({ code: 'THROTTLED', kind: 'retryable' });
    expect((err as Error).message).toMatch(/SlowDown/);
  });

  it('connection resets end in a retryable NETWORK error', async () => {
    const { client: c } = client({ viaProxy: true });
    const s = store(c);
    const k = key('reset');
    await s.put(k, 'here');
    const start = proxy.log.length;
    failFirst(Infinity, 'reset');
    const err = await s.get(k).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrydockError);
    expect(err).toMatchObject({ code: 'NETWORK', kind: 'retryable' });
    expect(faultsSince(start).length).toBeGreaterThanOrEqual(2);
    const existsErr = await s.exists(k).catch((e: unknown) => e);
    expect(existsErr).toMatchObject({ code: 'NETWORK', kind: 'retryable' });
  });

  it('a single reset is absorbed by the SDK\'s retries', async () => {
    const { client: c } = client({ viaProxy: true });
    const s = store(c);
    const k = key('reset-once');
    await s.put(k, 'still here');
    failFirst(1, 'reset');
    expect((await s.get(k))!.toString()).toBe('still here');
  });

  it('a 500 on one part of a multipart upload is retried and the object is whole', async () => {
    const { client: c, commands } = client({ viaProxy: true });
    const s = store(c, { partSize: MIN_PART_SIZE });
    const k = key('mp-fault');
    const bytes = randomBytes(MIN_PART_SIZE + 4096);
    let uploadParts = 0;
    // fail the first attempt of the second part only
    proxy.setDecide((req) => (req.method === 'PUT' && /partNumber=2/.test(req.url ?? '') && uploadParts++ === 0 ? serverError : 'pass'));
    await s.put(k, streamOf(bytes));
    expect(uploadParts).toBe(2);
    expect(commands.filter((n) => n === 'UploadPartCommand')).toHaveLength(2);
    expect((await s.get(k))!.equals(bytes)).toBe(true);
  });

  it('a part that keeps failing aborts the multipart upload: retryable error, no object', async () => {
    const { client: c, commands } = client({ viaProxy: true });
    const s = store(c, { partSize: MIN_PART_SIZE });
    const k = key('mp-dead');
    proxy.setDecide((req) => (req.method === 'PUT' && /partNumber=2/.test(req.url ?? '') ? serverError : 'pass'));
    const err = await s.put(k, streamOf(randomBytes(2 * MIN_PART_SIZE + 1))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrydockError);
    expect(err).toMatchObject({ code: 'SERVER_ERROR', kind: 'retryable' });
    expect(commands).toContain('AbortMultipartUploadCommand');
    expect(commands).not.toContain('CompleteMultipartUploadCommand');
    proxy.setDecide(() => 'pass');
    expect(await s.exists(k)).toBe(false);
  });
});

describe('multipart upload with a part failing while the next is in flight (failures injected by SDK middleware)', () => {
  /** A deferred: a promise and the function that resolves it. */
  function gate(): { opened: Promise<void>; open: () => void } {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    return { opened, open };
  }

  /** S3's answer to a part that keeps failing, as the SDK surfaces it once its retries are spent. */
  function internalError(part: number): Error {
    return Object.assign(new Error(`We encountered an internal error (part ${part}, injected)`), { name: 'InternalError', $fault: 'server', $metadata: { httpStatusCode: 500 } });
  }

  it('observes every in-flight part: no unhandled rejection, abort only after all parts settled', async () => {
    // The order is forced without timers: part 1 fails only once part 2 has started, and part 2
    // fails only after part 1's failure has reached the uploader and a macrotask has passed (so
    // an uploader that aborts at once, or leaves part 2 unobserved, shows it every time).
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const { client: c, commands } = client();
      const events: string[] = [];
      const part2Started = gate();
      const part1Failed = gate();
      const part2Settled = gate();
      c.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'AbortMultipartUploadCommand') events.push('abort');
          if (context.commandName !== 'UploadPartCommand') return next(args);
          const n = (args.input as { PartNumber?: number }).PartNumber;
          if (n === 1) {
            await part2Started.opened;
            events.push('part 1 failed');
            part1Failed.open();
            throw internalError(1);
          }
          if (n === 2) {
            part2Started.open();
            try {
              await part1Failed.opened;
              await new Promise<void>((resolve) => setImmediate(resolve));
              events.push('part 2 failed');
              throw internalError(2);
            } finally {
              part2Settled.open();
            }
          }
          return next(args);
        },
        { step: 'initialize', name: 'injectPartFailures' },
      );
      const s = store(c, { partSize: MIN_PART_SIZE });
      const k = key('mp-race');
      const err = await s.put(k, streamOf(randomBytes(2 * MIN_PART_SIZE + 1))).catch((e: unknown) => e);
      // wait for part 2 to settle, then for Node to report any rejection nobody handled
      await part2Settled.opened;
      await new Promise<void>((resolve) => setImmediate(resolve));
      await new Promise<void>((resolve) => setTimeout(resolve, 0));

      expect(unhandled).toEqual([]);
      expect(err).toBeInstanceOf(DrydockError);
      expect(err).toMatchObject({ code: 'SERVER_ERROR', kind: 'retryable' });
      expect((err as Error).message).toMatch(/part 1, injected/);
      expect(events).toEqual(['part 1 failed', 'part 2 failed', 'abort']);
      expect(commands).not.toContain('CompleteMultipartUploadCommand');
      // part 3 is never started: nothing is read or sent after the failure
      expect(commands.filter((n) => n === 'UploadPartCommand')).toHaveLength(2);
      expect(await s.exists(k)).toBe(false);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
