import { existsSync, mkdtempSync, ReadStream, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { builtin } from '../builtin.js';
import { DrydockError, toDrydockError, type ErrorContext } from '../errors.js';
import type { ExtractEntry, LayerExtract } from './extract.js';
import { youngGcEvery } from './young-gc.js';
import { LAYER_WORKER_KIND, SIGNAL_HUNGRY, type FileRange, type FromWorker, type LayerWorkerData, type ToWorker, type WorkerError, type WorkerJob } from './worker-protocol.js';

/**
 * Bytes of a streamed blob written for a worker but not yet taken in by its walk: the size of
 * each worker's ring (a SharedArrayBuffer made once per worker), the most a layer costs in transit.
 */
export const WORKER_WINDOW_BYTES = 4 * 1024 * 1024;
/** A message tells the worker of at least this many new bytes, or of fewer when its walk waits for them (SIGNAL_HUNGRY). */
const NOTICE_BYTES = 512 * 1024;

/**
 * Layer workers for one scan: each walks one layer at a time in its own thread (hash,
 * inflate, tar, walk; see layer-worker.ts). A blob that is a range of a local file (OCI
 * layout, image archive; see fileRangeOf) is read by the worker itself; any other (a
 * registry's response) is read here and its bytes written into the worker's ring, at most
 * WORKER_WINDOW_BYTES ahead of the walk: the source is not read while the ring is full, and no
 * buffer is allocated or handed over per chunk (the worker copies the bytes out as its walk
 * reads them, see Inbox in layer-worker.ts). Errors come back as the DrydockErrors the
 * in-thread walk throws (same codes, limits named the same way); a worker that crashes or exits fails its layer (CORRUPT_LAYER, retryable),
 * never hangs it. Workers start on first use, are unref'd while idle and are ended by close().
 */
export class LayerWorkerPool {
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();
  /** each worker's ring and its hungry flag, shared with it (see LayerWorkerData) */
  private readonly shared = new WeakMap<Worker, { ring: Uint8Array; signals: Int32Array }>();
  private closed = false;
  /** numbers the walks, so that a worker tells one walk's messages from an earlier one's */
  private walks = 0;

  constructor(
    /** threads at most (the scan's concurrency bounds the layers read at once anyway) */
    readonly size: number,
    private readonly script: URL,
    /** a worker already started for this scan: the first one the pool needs */
    private readonly early?: EarlyWorker,
  ) {}

  /** Layers walked so far in workers (for tests and the bench). */
  walked = 0;

  private readonly waiting: { resolve: (w: Worker) => void; reject: (e: unknown) => void }[] = [];

  /** A free worker: an idle one, a new one while the pool is below its size, else the next one released. */
  private acquire(): Promise<Worker> {
    if (this.closed) return Promise.reject(new DrydockError('CONFIG', 'layer worker pool is closed'));
    const w = this.idle.pop();
    if (w) return Promise.resolve(w);
    if (this.all.size < this.size) return Promise.resolve(this.spawn());
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private spawn(): Worker {
    // a worker started before the image was known (EarlyWorker) is taken first, unless it has already ended
    const thread = this.early?.take(this.script) ?? startThread(this.script);
    const fresh = thread.worker;
    this.shared.set(fresh, { ring: thread.ring, signals: thread.signals });
    this.all.add(fresh);
    fresh.once('exit', () => {
      this.all.delete(fresh);
      // a worker that ends while idle (killed, or failing as it starts) is never handed a layer
      const at = this.idle.indexOf(fresh);
      if (at >= 0) this.idle.splice(at, 1);
    });
    return fresh;
  }

  private release(w: Worker, reusable: boolean): void {
    if (!reusable || this.closed) {
      this.all.delete(w);
      // the exit code is of no interest: its layer has already answered or failed
      w.terminate().catch(() => undefined);
    }
    const next = this.waiting.shift();
    if (next) {
      if (reusable && !this.closed) next.resolve(w);
      else this.acquire().then(next.resolve, next.reject);
    } else if (reusable && !this.closed) {
      w.unref();
      this.idle.push(w);
    }
  }

  /**
   * Whether a walk started now gets a worker at once (an idle one, or a new one while the pool is
   * below its size): a scan reading more layers at once than it has workers walks the others in
   * its own thread instead of waiting for one.
   */
  hasRoom(): boolean {
    return !this.closed && this.idle.length + (this.size - this.all.size) > this.reserved;
  }

  /** room taken by reserve() and not yet used by a walk */
  private reserved = 0;

  /**
   * Takes the room hasRoom() sees for a walk that starts after an await (the blob opened first):
   * the layer that asked first gets the worker, not the one whose source answered first. The walk
   * passes the reservation on (walk(…, { reservation })); `cancel` gives the room back when
   * the walk never starts. Undefined when there is no room.
   */
  reserve(): { cancel: () => void } | undefined {
    if (!this.hasRoom()) return undefined;
    // the worker starts now, so that it boots (~80 ms here) while the blob is being opened (a
    // registry's round trips, ECR's redirect to S3) instead of after
    if (this.idle.length === 0 && this.all.size < this.size) {
      const booting = this.spawn();
      booting.unref();
      this.idle.push(booting);
    }
    this.reserved++;
    let taken = false;
    return {
      cancel: () => {
        if (taken) return;
        taken = true;
        this.reserved--;
      },
    };
  }

  /** Ends every worker; the pool takes no more layers. */
  async close(): Promise<void> {
    this.closed = true;
    this.idle.length = 0;
    for (const w of this.waiting.splice(0)) w.reject(new DrydockError('CONFIG', 'layer worker pool is closed'));
    await Promise.all([...this.all].map((w) => w.terminate()));
    this.all.clear();
  }

  /** Test hook: the next layer's worker throws an uncaught error once it has started. */
  crashNext = false;
  /** Test hook: the next layer's worker takes no bytes from its ring until resumeStalled() (a slow walk). */
  stallNext = false;
  private stalledWorker: Worker | undefined;

  resumeStalled(): void {
    this.stalledWorker?.postMessage({ type: 'resume' } satisfies ToWorker);
    this.stalledWorker = undefined;
  }

  /**
   * Bytes written into a ring and not yet taken out by its worker, over every walk going on:
   * now and the most seen (what the tests hold to WORKER_WINDOW_BYTES per worker).
   */
  inFlight = 0;
  peakInFlight = 0;

  /**
   * Walks one layer in a worker: the same result and the same errors as walkLayer(raw, …)
   * in this thread. A file range is handed over as its path and range (`raw` is destroyed
   * unread, progress comes back from the worker); any other stream is read here and its
   * bytes handed over, and destroyed when the walk fails before its end.
   */
  async walk(raw: Readable, job: WorkerJob, opts: { signal?: AbortSignal; onBytes?: (n: number) => void; reservation?: { cancel: () => void } } = {}): Promise<LayerExtract> {
    const context: ErrorContext = { image: job.image, layer: job.descriptor.digest };
    let worker: Worker;
    // the reserved room is this walk's: given back before acquire() takes it
    opts.reservation?.cancel();
    try {
      worker = await this.acquire();
    } catch (e) {
      raw.destroy();
      throw e;
    }
    worker.ref();
    const walk = this.walks++;
    const { ring, signals } = this.shared.get(worker)!;
    // a new walk: it waits for nothing yet (a failed walk may have left the flag set)
    Atomics.store(signals, SIGNAL_HUNGRY, 0);
    let settled = false;
    /** the worker answered for this layer (done or error): it is free for the next one */
    let answered = false;
    /** bytes in the ring the worker has not copied out */
    let inflight = 0;
    let wake: (() => void) | undefined;
    let resolveOutcome!: (x: LayerExtract) => void;
    let rejectOutcome!: (e: unknown) => void;
    const outcome = new Promise<LayerExtract>((res, rej) => {
      resolveOutcome = res;
      rejectOutcome = rej;
    });
    const settle = (error: unknown, value?: LayerExtract) => {
      if (settled) return;
      settled = true;
      wake?.();
      if (error === undefined) return resolveOutcome(value!);
      // a source waiting for bytes stops now: the pump ends instead of waiting on it
      if (!raw.destroyed) raw.destroy();
      rejectOutcome(error);
    };
    const onMessage = (m: FromWorker) => {
      if (m.type === 'read') {
        opts.onBytes?.(m.bytes);
      } else if (m.type === 'ack') {
        if (m.walk !== walk) return;
        inflight -= m.bytes;
        this.inFlight -= m.bytes;
        wake?.();
      } else if (m.type === 'done') {
        answered = true;
        settle(undefined, reviveExtract(m.extract));
      } else {
        answered = true;
        settle(reviveError(m.error, context));
      }
    };
    const onError = (e: Error) => settle(new DrydockError('CORRUPT_LAYER', `the layer worker failed: ${e.message}`, { context, cause: e, kind: 'retryable' }));
    const onExit = (code: number) => settle(new DrydockError('CORRUPT_LAYER', `the layer worker exited (code ${code}) before the layer was read`, { context, kind: 'retryable' }));
    const onAbort = () => settle(new DrydockError('ABORTED', 'operation aborted', { context }));
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted) onAbort();
    const post = (m: ToWorker) => worker.postMessage(m);
    // A range of a local file is read by the worker itself: this thread does not touch its bytes.
    const file = fileRangeOf(raw);
    if (file) raw.destroy();
    post(file ? { type: 'start', walk, job, file } : { type: 'start', walk, job });
    if (this.crashNext) {
      this.crashNext = false;
      post({ type: 'crash' });
    }
    if (this.stallNext) {
      this.stallNext = false;
      this.stalledWorker = worker;
      post({ type: 'stall' });
    }

    // The source is read here, into the ring; its failure is the layer's (as the in-thread pipeline reports it).
    const pump = async () => {
      /** where the next byte goes in the ring */
      let at = 0;
      /** bytes written since the last message */
      let unsaid = 0;
      const tell = () => {
        if (unsaid && !settled) post({ type: 'chunk', walk, bytes: unsaid });
        unsaid = 0;
      };
      // the source's chunks are dead once copied: freed as the pump goes (see young-gc.ts)
      const collect = youngGcEvery();
      try {
        for await (const chunk of raw as AsyncIterable<Buffer>) {
          if (settled) break;
          opts.onBytes?.(chunk.length);
          collect(chunk.length);
          let off = 0;
          while (off < chunk.length && !settled) {
            if (inflight >= ring.length) {
              // the ring is full: the worker hears of what is in it, and the source waits for room
              tell();
              while (!settled && inflight >= ring.length) await new Promise<void>((r) => (wake = r));
              wake = undefined;
              if (settled) break;
            }
            const n = Math.min(chunk.length - off, ring.length - inflight, ring.length - at);
            ring.set(chunk.subarray(off, off + n), at);
            at = (at + n) % ring.length;
            off += n;
            inflight += n;
            unsaid += n;
            this.inFlight += n;
            if (this.inFlight > this.peakInFlight) this.peakInFlight = this.inFlight;
          }
          // one message for several of the source's chunks, unless the walk is waiting for these bytes
          if (unsaid >= NOTICE_BYTES || Atomics.load(signals, SIGNAL_HUNGRY) === 1) tell();
          if (settled) break;
        }
        tell();
        if (!settled) post({ type: 'end', walk });
      } catch (e) {
        settle(toDrydockError(e, 'NETWORK', context));
      }
    };
    const pumped = file ? Promise.resolve() : pump();
    try {
      const extract = await outcome;
      this.walked++;
      debugLayer(job.descriptor.digest, `walked in worker thread ${worker.threadId} (${fileURLToPath(this.script)})`);
      return extract;
    } finally {
      // nothing of this layer is left running: the source is no longer read when this returns
      await pumped;
      if (!raw.destroyed) raw.destroy();
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      opts.signal?.removeEventListener('abort', onAbort);
      // what the worker did not take out of the ring (a failed walk) is no longer in flight: the next walk starts it afresh
      this.inFlight -= inflight;
      this.release(worker, answered);
    }
  }
}

interface Thread {
  worker: Worker;
  ring: Uint8Array;
  signals: Int32Array;
}

/** A layer worker thread with its ring and hungry flag (see LayerWorkerData). */
function startThread(script: URL): Thread {
  const ring = new SharedArrayBuffer(WORKER_WINDOW_BYTES);
  const signals = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  // node:worker_threads is loaded with the first worker: a scan served from the layer cache starts none
  const { Worker: WorkerThread } = builtin<typeof import('node:worker_threads')>('node:worker_threads');
  const worker = new WorkerThread(script, { workerData: { kind: LAYER_WORKER_KIND, ring, signals } satisfies LayerWorkerData });
  // A worker that fails while no walk listens (idle, or booting) must not take the process with
  // it: an 'error' event nobody listens to is thrown. Its walks listen for their own.
  worker.on('error', () => undefined);
  return { worker, ring: new Uint8Array(ring), signals: new Int32Array(signals) };
}

/**
 * A layer worker started before the scan knows its image, for a source whose manifests and
 * config come over the network (a registry): the thread boots (~80 ms here) during those round
 * trips instead of after them. The first pool that spawns a worker takes it (take); a scan that
 * needs none (one layer, served from the cache) ends it (end). It holds no event loop open.
 */
export class EarlyWorker {
  private thread: Thread | undefined;
  private wasTaken = false;

  constructor(private readonly script: URL) {
    this.thread = startThread(script);
    this.thread.worker.unref();
  }

  /**
   * The thread, to the first pool of the same worker script that asks; undefined after, and
   * when the thread has already ended (the pool then starts a fresh one).
   */
  take(script: URL): Thread | undefined {
    if (!this.thread || script.href !== this.script.href) return undefined;
    const t = this.thread;
    this.thread = undefined;
    this.wasTaken = true;
    return t.worker.threadId < 0 ? undefined : t;
  }

  /** Ends the thread unless a pool took it. */
  end(): void {
    const t = this.thread;
    this.thread = undefined;
    // its exit code is of no interest: it walked nothing
    t?.worker.terminate().catch(() => undefined);
  }

  /** Whether a pool took the thread (tests). */
  get taken(): boolean {
    return this.wasTaken;
  }
}

/**
 * The file range a blob stream reads, when it is an fs.ReadStream of a named file that has not
 * been read from yet (what the OCI layout and image archive sources return): the worker can
 * open the same range itself. Anything else (a registry's response, a test's stream) is pumped.
 */
export function fileRangeOf(raw: Readable): FileRange | undefined {
  if (!(raw instanceof ReadStream) || typeof raw.path !== 'string' || raw.bytesRead !== 0 || raw.destroyed || raw.readableDidRead) return undefined;
  // fs.ReadStream keeps the range it was created with as `start` and `end` (inclusive)
  const { start, end } = raw as unknown as { start?: unknown; end?: unknown };
  const from = start === undefined ? 0 : start;
  if (typeof from !== 'number' || !Number.isSafeInteger(from) || from < 0) return undefined;
  if (end === undefined || end === Infinity) return { path: raw.path, start: from, highWaterMark: raw.readableHighWaterMark };
  if (typeof end !== 'number' || !Number.isSafeInteger(end) || end < from) return undefined;
  return { path: raw.path, start: from, end, highWaterMark: raw.readableHighWaterMark };
}

/** Buffers arrive as plain Uint8Arrays: the extract as walkLayer returns it. */
function reviveExtract(x: LayerExtract): LayerExtract {
  const buf = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  x.entries = x.entries.map((e): ExtractEntry => {
    if (e.type === 'file') return { ...e, content: buf(e.content) };
    if (e.type === 'probed') return { ...e, results: Object.fromEntries(Object.entries(e.results).map(([k, v]) => [k, buf(v)])) };
    return e;
  });
  return x;
}

function reviveError(w: WorkerError, context: ErrorContext): DrydockError {
  if (w.drydock) return new DrydockError(w.code, w.message, { context: w.context, kind: w.kind });
  return new DrydockError(w.tar ? 'CORRUPT_LAYER' : 'NETWORK', w.message, { context });
}

/**
 * With DRYDOCK_DEBUG set, one line on stderr per layer walked: where it was walked (a worker
 * thread and the worker file, or the main thread). What shows, in a built CLI or a Lambda's
 * log, that the shipped worker file was found and used.
 */
export function debugLayer(digest: string, where: string, env: Record<string, string | undefined> = process.env): void {
  debugLine(`layer ${digest} ${where}`, env);
}

export function debugLine(message: string, env: Record<string, string | undefined> = process.env): void {
  if (env['DRYDOCK_DEBUG']) process.stderr.write(`drydock: debug: ${message}\n`);
}

/**
 * How many layer workers a scan uses; the layers read at once beyond them are walked in the main
 * thread (see hasRoom). DRYDOCK_LAYER_WORKERS unset, empty or `auto`: one less than the machine's
 * cores (the main thread has the last: it reads the source, catalogs, and walks a layer itself
 * when no worker is free), but none on 2 cores or fewer; `<n>`: n; `0` (or anything else): none,
 * every layer in the main thread. Then at most min(layers, concurrency), and none for a single
 * layer.
 *
 * None on 2 cores (a 2-vCPU Lambda, most CI runners): there the main thread's walks already keep
 * both cores busy, since zlib inflates on libuv's pool, and a worker's second JavaScript thread
 * only competes with them. Measured on the bench images with 512 KiB zlib chunks (10 and 8
 * interleaved runs): from an OCI layout 1.37 s without a worker against 1.50 s with one (the
 * 2-layer image 1.42 against 1.50), from the registry 1.73 against 1.77 (1.62 against 1.64); each
 * with ~0.25 s less CPU and ~20 MiB less peak RSS.
 */
export function workerCount(layers: number, concurrency: number, env: Record<string, string | undefined> = process.env, cores = availableParallelism()): number {
  const set = env['DRYDOCK_LAYER_WORKERS']?.trim() ?? '';
  const asked = set === '' || set === 'auto' ? (cores > 2 ? cores - 1 : 0) : /^\d+$/.test(set) ? Number(set) : 0;
  if (layers < 2) return 0;
  return Math.max(0, Math.min(layers, asked, concurrency));
}

let sourceBuild: Promise<URL | undefined> | undefined;

/**
 * Where the worker's entry point is: layer-worker.mjs beside the bundle (or beside its
 * chunks' directory). Run from the TypeScript sources (tests, benches), the entry is bundled
 * once per process with esbuild into a temporary directory. Undefined when there is none
 * (a bundle built without it): the scan then walks its layers in this thread.
 */
export function layerWorkerScript(): Promise<URL | undefined> {
  const here = import.meta.url;
  for (const rel of ['./layer-worker.mjs', '../layer-worker.mjs']) {
    const u = new URL(rel, here);
    if (u.protocol === 'file:' && existsSync(fileURLToPath(u))) return Promise.resolve(u);
  }
  if (!here.endsWith('.ts')) return Promise.resolve(undefined);
  return (sourceBuild ??= buildFromSource(fileURLToPath(new URL('./layer-worker.ts', here))));
}

async function buildFromSource(entry: string): Promise<URL | undefined> {
  // a development dependency, never reached from a bundle (the name is not a literal, so esbuild leaves it out)
  const name = 'esbuild';
  const esbuild = (await import(name)) as { build(o: object): Promise<unknown> };
  const dir = mkdtempSync(join(tmpdir(), 'drydock-layer-worker-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const outfile = join(dir, 'layer-worker.mjs');
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    external: ['ajv-formats-draft2019', 'xmlbuilder2', 'libxmljs2'],
    banner: { js: "import { createRequire as __drydockRequire } from 'node:module'; const require = __drydockRequire(import.meta.url);" },
  });
  return pathToFileURL(outfile);
}
