/**
 * A streamed layer (what a registry's response is) reaches its worker through the worker's ring
 * (issue 18): the main thread writes the bytes into a SharedArrayBuffer of WORKER_WINDOW_BYTES
 * and stops reading the source while the ring is full; the worker copies bytes out only as its
 * walk reads them. Before, the bytes were posted ahead of the walk and sat in the worker long
 * enough to outlive the young-generation collections meant to free them: a registry scan with
 * two workers peaked at ~230 MiB. These tests hold the bound through the pool's in-flight count
 * (an observable hook, not a timing), with the real worker entry point (bundled with esbuild as
 * `npm run bundle` ships it) and a real MessageChannel for the Inbox.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DrydockError } from '../../shared/errors.js';
import { MediaType } from '../../shared/image/media-types.js';
import { openSource } from '../../shared/image/open.js';
import type { LayerLimits } from '../../shared/layers/extract.js';
import { Inbox, INBOX_READ_BYTES } from '../../shared/layers/layer-worker.js';
import { EarlyWorker, LayerWorkerPool, layerWorkerScript, WORKER_WINDOW_BYTES } from '../../shared/layers/worker-pool.js';
import { SIGNAL_HUNGRY, type FromWorker, type WorkerJob } from '../../shared/layers/worker-protocol.js';
import { scanImage, scanPlan } from '../../shared/scan.js';
import { DEBIAN_OS_RELEASE, tarEnd, tarFile } from '../support/hostile-layers.js';
import { buildImage, pushToRegistry } from '../support/image-builder.js';
import { startRegistry } from '../support/registry.js';

const MiB = 1024 * 1024;
let pool: LayerWorkerPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

/** An uncompressed layer: os-release (kept by the catalogers), then `filler` bytes nobody keeps. */
function layer(filler: number, before: Buffer[] = []): { blob: Buffer; job: (limits?: Partial<LayerLimits>) => WorkerJob } {
  // invented content: only its size matters (random, so that a misplaced byte changes the digest)
  const blob = Buffer.concat([tarFile('etc/os-release', DEBIAN_OS_RELEASE), ...before, tarFile('srv/filler.bin', randomBytes(filler)), tarEnd()]);
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  const job = (limits: Partial<LayerLimits> = {}): WorkerJob => {
    const portable = scanPlan({ limits }).portable!;
    return { ...portable, descriptor: { mediaType: MediaType.OciLayer, digest, size: blob.length }, image: 'test/worker-ring:1' };
  };
  return { blob, job };
}

/** The blob in 64 KiB chunks, read on demand; `pulled` is what the pool has taken from it so far. */
function source(blob: Buffer): Readable & { pulled: number } {
  const s = new Readable({
    highWaterMark: 64 * 1024,
    read() {
      if (s.pulled >= blob.length) return void this.push(null);
      const chunk = blob.subarray(s.pulled, s.pulled + 64 * 1024);
      s.pulled += chunk.length;
      this.push(chunk);
    },
  }) as Readable & { pulled: number };
  s.pulled = 0;
  return s;
}

describe('the pool: a streamed layer is held to the ring', () => {
  it('a slow worker: the main thread stops reading the source once the ring is full, then the layer completes', async () => {
    pool = new LayerWorkerPool(1, (await layerWorkerScript())!);
    const { blob, job } = layer(6 * WORKER_WINDOW_BYTES);
    const src = source(blob);
    // the worker takes nothing out of its ring until resumed: the ring fills, and must stop the pump
    pool.stallNext = true;
    const walking = pool.walk(src, job());
    await expect.poll(() => pool!.inFlight, { timeout: 30_000 }).toBe(WORKER_WINDOW_BYTES);
    // give a pump that ignored the bound every chance to read on (the assertions are on bytes, not time)
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 10));
    expect(pool.inFlight).toBe(WORKER_WINDOW_BYTES);
    // the ring, the chunk being written and what the source buffers: not the blob
    expect(src.pulled).toBeLessThanOrEqual(WORKER_WINDOW_BYTES + 3 * 64 * 1024);
    expect(src.pulled).toBeLessThan(blob.length / 4);
    pool.resumeStalled();
    const x = await walking;
    expect(src.pulled).toBe(blob.length);
    expect(x.stats.uncompressedBytes).toBe(blob.length);
    expect(x.entries.some((e) => e.type === 'file' && e.path === '/etc/os-release' && e.content.toString() === DEBIAN_OS_RELEASE)).toBe(true);
    // six rings' worth went through one ring, never more than one ring in flight
    expect(pool.peakInFlight).toBe(WORKER_WINDOW_BYTES);
    expect(pool.inFlight).toBe(0);
  }, 60_000);

  it('odd-sized chunks wrap around the ring in order (the digest is checked in the worker)', async () => {
    pool = new LayerWorkerPool(1, (await layerWorkerScript())!);
    const { blob, job } = layer(3 * WORKER_WINDOW_BYTES + 12_345);
    // chunk sizes that do not divide the ring: every wrap cuts a chunk in two
    const sizes = [7001, 65_536, 1, 300_000, 4099];
    const chunks: Buffer[] = [];
    for (let at = 0, i = 0; at < blob.length; i++) {
      chunks.push(blob.subarray(at, at + sizes[i % sizes.length]!));
      at += sizes[i % sizes.length]!;
    }
    let progress = 0;
    const x = await pool.walk(Readable.from(chunks), job(), { onBytes: (n) => (progress += n) });
    expect(progress).toBe(blob.length);
    expect(x.stats.uncompressedBytes).toBe(blob.length);
    expect(pool.peakInFlight).toBeLessThanOrEqual(WORKER_WINDOW_BYTES);
    expect(pool.inFlight).toBe(0);
  }, 60_000);

  it('a walk that fails with its ring full leaves the ring to the next walk of the same worker', async () => {
    pool = new LayerWorkerPool(1, (await layerWorkerScript())!);
    // 40 entries before the filler: maxEntries = 10 stops the walk while the ring still holds bytes
    const many = Array.from({ length: 40 }, (_, i) => tarFile(`srv/f${i}`, 'x'));
    const bad = layer(3 * WORKER_WINDOW_BYTES, many);
    const badSource = source(bad.blob);
    const e = await pool.walk(badSource, bad.job({ maxEntries: 10 })).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(DrydockError);
    expect((e as DrydockError).code).toBe('LIMIT_EXCEEDED');
    expect((e as DrydockError).message).toContain('limit maxEntries = 10');
    // the source was not read to its end, and was let go
    expect(badSource.pulled).toBeLessThan(bad.blob.length);
    expect(badSource.destroyed).toBe(true);
    expect(pool.inFlight).toBe(0);
    // the same worker (the pool has one), its ring written afresh: late acknowledgements of the failed walk count for nothing
    const good = layer(2 * WORKER_WINDOW_BYTES + 999);
    const x = await pool.walk(source(good.blob), good.job());
    expect(x.stats.uncompressedBytes).toBe(good.blob.length);
    expect(pool.walked).toBe(1);
    expect(pool.inFlight).toBe(0);
  }, 60_000);
});

describe('a registry scan: its blob streams go through the ring', () => {
  it('the Distribution registry on loopback, one worker beside the main thread: every layer read, the worker one held to the ring', async () => {
    const work = await mkdtemp(join(tmpdir(), 'drydock-worker-ring-'));
    const registry = await startRegistry();
    try {
      const layout = join(work, 'layout');
      await buildImage(layout, {
        tag: 'v1',
        layers: [
          // invented: a big layer (the ring wraps several times) beside a small one
          { files: [{ path: 'etc/os-release', content: DEBIAN_OS_RELEASE }, { path: 'srv/filler.bin', content: randomBytes(3 * WORKER_WINDOW_BYTES) }], compression: 'gzip' },
          { files: [{ path: 'var/lib/dpkg/status', content: 'Package: a\nStatus: install ok installed\nVersion: 1\n' }], compression: 'gzip' },
        ],
      });
      await pushToRegistry(layout, 'v1', { host: registry.host }, 'test/ring:1');
      const ref = `${registry.host}/test/ring:1`;
      const pools: LayerWorkerPool[] = [];
      const original = LayerWorkerPool.prototype.walk;
      const walk = vi.spyOn(LayerWorkerPool.prototype, 'walk').mockImplementation(function (this: LayerWorkerPool, raw, job, opts) {
        pools.push(this);
        return original.call(this, raw, job, opts);
      });
      vi.stubEnv('DRYDOCK_LAYER_WORKERS', '1');
      try {
        const [inv] = await scanImage(await openSource(ref), ref);
        expect(inv!.packages.map((p) => p.name)).toEqual(['a']);
        expect(inv!.distro?.id).toBe('debian');
      } finally {
        walk.mockRestore();
        vi.unstubAllEnvs();
      }
      // the first layer went to the worker as the registry's response, through the ring and no further ahead
      expect(pools.length).toBeGreaterThanOrEqual(1);
      expect(pools[0]!.peakInFlight).toBeGreaterThan(0);
      expect(pools[0]!.peakInFlight).toBeLessThanOrEqual(WORKER_WINDOW_BYTES);
      expect(pools[0]!.inFlight).toBe(0);
    } finally {
      await registry.stop();
      await rm(work, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('a registry scan starts its layer worker while the manifests are fetched (EarlyWorker)', () => {
  it('two layers: the pool takes the early worker and walks a layer in it; one layer: it is ended unused; an OCI layout starts none', async () => {
    const work = await mkdtemp(join(tmpdir(), 'drydock-early-worker-'));
    const registry = await startRegistry();
    const made: EarlyWorker[] = [];
    const taken: boolean[] = [];
    const take = vi.spyOn(EarlyWorker.prototype, 'take');
    const realEnd = EarlyWorker.prototype.end;
    const end = vi.spyOn(EarlyWorker.prototype, 'end').mockImplementation(function (this: EarlyWorker) {
      made.push(this);
      taken.push(this.taken);
      realEnd.call(this);
    });
    vi.stubEnv('DRYDOCK_LAYER_WORKERS', '1');
    try {
      const two = join(work, 'two');
      await buildImage(two, {
        tag: 'v1',
        layers: [
          { files: [{ path: 'etc/os-release', content: DEBIAN_OS_RELEASE }, { path: 'srv/filler.bin', content: randomBytes(MiB) }], compression: 'gzip' },
          { files: [{ path: 'var/lib/dpkg/status', content: 'Package: a\nStatus: install ok installed\nVersion: 1\n' }], compression: 'gzip' },
        ],
      });
      const one = join(work, 'one');
      await buildImage(one, { tag: 'v1', layers: [{ files: [{ path: 'etc/os-release', content: DEBIAN_OS_RELEASE }], compression: 'gzip' }] });
      await pushToRegistry(two, 'v1', { host: registry.host }, 'test/early-two:1');
      await pushToRegistry(one, 'v1', { host: registry.host }, 'test/early-one:1');

      const twoRef = `${registry.host}/test/early-two:1`;
      const [inv] = await scanImage(await openSource(twoRef), twoRef);
      expect(inv!.packages.map((p) => p.name)).toEqual(['a']);
      expect(made).toHaveLength(1);
      expect(taken).toEqual([true]);
      // the thread it handed over was a live one (the pool walked a layer in it)
      expect(take.mock.results.some((r) => r.type === 'return' && r.value !== undefined)).toBe(true);

      const oneRef = `${registry.host}/test/early-one:1`;
      const [single] = await scanImage(await openSource(oneRef), oneRef);
      expect(single!.distro?.id).toBe('debian');
      expect(made).toHaveLength(2);
      expect(taken).toEqual([true, false]);

      // the control: an OCI layout is no remote source, and starts no early worker
      const [local] = await scanImage(await openSource(`oci:${two}:v1`), `oci:${two}:v1`);
      expect(local!.packages.map((p) => p.name)).toEqual(['a']);
      expect(made).toHaveLength(2);
    } finally {
      take.mockRestore();
      end.mockRestore();
      vi.unstubAllEnvs();
      await registry.stop();
      await rm(work, { recursive: true, force: true });
    }
  }, 120_000);

  it('a worker that fails as it boots, with no walk listening, is no uncaught error (vitest fails a run on one)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drydock-early-boom-'));
    try {
      const script = join(dir, 'boom.mjs');
      await writeFile(script, "throw new Error('the worker failed as it loaded');\n");
      const early = new EarlyWorker(pathToFileURL(script));
      const thread = (early as unknown as { thread: { worker: import('node:worker_threads').Worker } }).thread;
      const code = await new Promise<number>((r) => thread.worker.once('exit', r));
      expect(code).toBe(1);
      // a pool handed this dead thread starts a fresh one instead (see the next test)
      expect(thread.worker.threadId).toBeLessThan(0);
      early.end();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('an early worker that ended before a pool took it is replaced by a fresh one: the layer is walked all the same', async () => {
    const script = (await layerWorkerScript())!;
    const early = new EarlyWorker(script);
    const thread = (early as unknown as { thread: { worker: { terminate(): Promise<number>; threadId: number } } }).thread;
    await thread.worker.terminate();
    expect(thread.worker.threadId).toBeLessThan(0);
    pool = new LayerWorkerPool(1, script, early);
    const { blob, job } = layer(64 * 1024);
    const x = await pool.walk(Readable.from([blob]), job());
    expect(x.stats.uncompressedBytes).toBe(blob.length);
    expect(early.taken).toBe(true);
    expect(pool.walked).toBe(1);
  }, 60_000);
});

describe('Inbox: the worker copies bytes out of the ring only as the walk reads them', () => {
  /** bytes acknowledged on `port` since the last call (read synchronously: no waiting on delivery) */
  const acks = (port: MessagePort) => {
    let n = 0;
    for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
      n += (m.message as Extract<FromWorker, { type: 'ack' }>).bytes;
    }
    return n;
  };

  it('nothing is copied out (or acknowledged) ahead of the reader; room comes back in batches, at once when the ring runs empty; one chunk per read, in order across the ring end', async () => {
    const { port1, port2 } = new MessageChannel();
    const ring = new SharedArrayBuffer(MiB);
    const view = new Uint8Array(ring);
    const signals = new Int32Array(new SharedArrayBuffer(4));
    const inbox = new Inbox(port1, ring, 7, signals);
    try {
      // invented bytes; what matters is their order
      const data = randomBytes(MiB + MiB / 2);
      view.set(data.subarray(0, MiB));
      inbox.feed(MiB);
      expect(acks(port2)).toBe(0);
      const got: Buffer[] = [];
      // one read: the stream takes a chunk for the reader and at most one more to its highWaterMark;
      // the ring is not empty and less than a batch was taken, so that room is not given back yet
      const first = inbox.read(INBOX_READ_BYTES) as Buffer | null;
      expect(first).not.toBeNull();
      got.push(first!);
      expect(acks(port2)).toBe(0);
      expect(Atomics.load(signals, SIGNAL_HUNGRY)).toBe(0);
      // the walk reads on until the ring is empty: then everything taken is given back, in one message
      let taken = 0;
      let messages = 0;
      for (let chunk = inbox.read(INBOX_READ_BYTES) as Buffer | null; chunk; chunk = inbox.read(INBOX_READ_BYTES) as Buffer | null) {
        got.push(chunk);
        const n = acks(port2);
        if (n > 0) messages++;
        taken += n;
      }
      taken += acks(port2);
      expect(taken).toBe(MiB);
      expect(messages).toBeLessThanOrEqual(1);
      // the room given back is written again: the rest of the data wraps around the ring's end
      const more = Math.min(taken, data.length - MiB);
      view.set(data.subarray(MiB, MiB + more), 0);
      inbox.feed(more);
      let written = MiB + more;
      inbox.on('data', (c: Buffer) => {
        got.push(c);
        const room = acks(port2);
        const n = Math.min(room, data.length - written);
        if (n > 0) {
          const at = written % MiB;
          const head = Math.min(n, MiB - at);
          view.set(data.subarray(written, written + head), at);
          view.set(data.subarray(written + head, written + n), 0);
          written += n;
          inbox.feed(n);
        }
        if (written === data.length) inbox.end();
      });
      await new Promise<void>((resolve, reject) => inbox.once('end', resolve).once('error', reject));
      expect(Buffer.concat(got).equals(data)).toBe(true);
      // every byte taken was given back (the last batch when the ring ran empty)
      expect(written).toBe(data.length);
    } finally {
      inbox.destroy();
      port1.close();
      port2.close();
    }
  });

  it('a reader waiting on an empty ring raises SIGNAL_HUNGRY (the pool then tells of bytes at once)', async () => {
    const { port1, port2 } = new MessageChannel();
    const ring = new SharedArrayBuffer(MiB);
    const signals = new Int32Array(new SharedArrayBuffer(4));
    const inbox = new Inbox(port1, ring, 3, signals);
    try {
      expect(inbox.read()).toBeNull();
      expect(Atomics.load(signals, SIGNAL_HUNGRY)).toBe(1);
      inbox.feed(1000);
      const chunk = inbox.read() as Buffer | null;
      expect(chunk?.length).toBe(1000);
      // the ring ran empty: its room is given back at once, not kept for a batch; and the stream,
      // below its highWaterMark, waits for more again
      expect(acks(port2)).toBe(1000);
      expect(Atomics.load(signals, SIGNAL_HUNGRY)).toBe(1);
    } finally {
      inbox.destroy();
      port1.close();
      port2.close();
    }
  });

  it('more bytes than the ring has room for fail the stream, naming the ring', async () => {
    const { port1, port2 } = new MessageChannel();
    const ring = new SharedArrayBuffer(MiB);
    const inbox = new Inbox(port1, ring, 1);
    try {
      const failed = new Promise<Error>((resolve) => inbox.once('error', resolve));
      inbox.feed(MiB - 10);
      inbox.feed(11);
      expect((await failed).message).toBe(`layer worker: the pool wrote 11 bytes into a ring holding ${MiB - 10} of ${MiB}`);
    } finally {
      port1.close();
      port2.close();
    }
  });
});
