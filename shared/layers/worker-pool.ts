import { existsSync, mkdtempSync, ReadStream, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DrydockError, toDrydockError, type ErrorContext } from '../errors.js';
import type { ExtractEntry, LayerExtract } from './extract.js';
import { youngGcEvery } from './young-gc.js';
import { LAYER_WORKER_KIND, type FileRange, type FromWorker, type ToWorker, type WorkerError, type WorkerJob } from './worker-protocol.js';

/** Bytes of a blob sent to a worker but not yet taken in by its walk: what a layer costs in transit. */
export const WORKER_WINDOW_BYTES = 4 * 1024 * 1024;
/** Bytes per message: the source's chunks are copied into batches of this size (one copy, few messages). */
const BATCH_BYTES = 256 * 1024;

/**
 * Layer workers for one scan: each walks one layer at a time in its own thread (hash,
 * inflate, tar, walk; see layer-worker.ts). A blob that is a range of a local file (OCI
 * layout, image archive; see fileRangeOf) is read by the worker itself; any other (a
 * registry's response) is read here and its bytes posted, at most WORKER_WINDOW_BYTES ahead
 * of the walk. Errors
 * come back as the DrydockErrors the in-thread walk throws (same codes, limits named the
 * same way); a worker that crashes or exits fails its layer (CORRUPT_LAYER, retryable),
 * never hangs it. Workers start on first use, are unref'd while idle and are ended by close().
 */
export class LayerWorkerPool {
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();
  private closed = false;

  constructor(
    /** threads at most (the scan's concurrency bounds the layers read at once anyway) */
    readonly size: number,
    private readonly script: URL,
  ) {}

  /** Layers walked so far in workers (for tests and the bench). */
  walked = 0;

  private readonly waiting: { resolve: (w: Worker) => void; reject: (e: unknown) => void }[] = [];

  /** A free worker: an idle one, a new one while the pool is below its size, else the next one released. */
  private acquire(): Promise<Worker> {
    if (this.closed) return Promise.reject(new DrydockError('CONFIG', 'layer worker pool is closed'));
    const w = this.idle.pop();
    if (w) return Promise.resolve(w);
    if (this.all.size < this.size) {
      const fresh = new Worker(this.script, { workerData: { kind: LAYER_WORKER_KIND } });
      this.all.add(fresh);
      fresh.once('exit', () => this.all.delete(fresh));
      return Promise.resolve(fresh);
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
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

  /**
   * Walks one layer in a worker: the same result and the same errors as walkLayer(raw, …)
   * in this thread. A file range is handed over as its path and range (`raw` is destroyed
   * unread, progress comes back from the worker); any other stream is read here and its
   * bytes handed over, and destroyed when the walk fails before its end.
   */
  async walk(raw: Readable, job: WorkerJob, opts: { signal?: AbortSignal; onBytes?: (n: number) => void } = {}): Promise<LayerExtract> {
    const context: ErrorContext = { image: job.image, layer: job.descriptor.digest };
    let worker: Worker;
    try {
      worker = await this.acquire();
    } catch (e) {
      raw.destroy();
      throw e;
    }
    worker.ref();
    let settled = false;
    /** the worker answered for this layer (done or error): it is free for the next one */
    let answered = false;
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
        inflight -= m.bytes;
        if (inflight < WORKER_WINDOW_BYTES) wake?.();
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
    const post = (m: ToWorker, transfer?: ArrayBuffer[]) => worker.postMessage(m, transfer);
    // A range of a local file is read by the worker itself: this thread does not touch its bytes.
    const file = fileRangeOf(raw);
    if (file) raw.destroy();
    post(file ? { type: 'start', job, file } : { type: 'start', job });
    if (this.crashNext) {
      this.crashNext = false;
      post({ type: 'crash' });
    }

    const send = async (buf: ArrayBuffer) => {
      while (!settled && inflight >= WORKER_WINDOW_BYTES) await new Promise<void>((r) => (wake = r));
      wake = undefined;
      if (settled) return;
      inflight += buf.byteLength;
      post({ type: 'chunk', buf }, [buf]);
    };
    // The source is read here; its failure is the layer's (as the in-thread pipeline reports it).
    const pump = async () => {
      let batch: Uint8Array | undefined;
      let fill = 0;
      // the source's chunks are dead once copied: freed as the pump goes (see young-gc.ts)
      const collect = youngGcEvery();
      try {
        for await (const chunk of raw as AsyncIterable<Buffer>) {
          if (settled) break;
          opts.onBytes?.(chunk.length);
          collect(chunk.length);
          let off = 0;
          while (off < chunk.length && !settled) {
            batch ??= new Uint8Array(BATCH_BYTES);
            const n = Math.min(BATCH_BYTES - fill, chunk.length - off);
            batch.set(chunk.subarray(off, off + n), fill);
            fill += n;
            off += n;
            if (fill === BATCH_BYTES) {
              const full = batch.buffer as ArrayBuffer;
              batch = undefined;
              fill = 0;
              await send(full);
            }
          }
          if (settled) break;
        }
        if (!settled && batch && fill) await send((batch.buffer as ArrayBuffer).slice(0, fill));
        if (!settled) post({ type: 'end' });
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
      this.release(worker, answered);
    }
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
 * How many layer workers a scan uses: opt-in with DRYDOCK_LAYER_WORKERS=<n> (or `auto`: the
 * machine's cores), then min(n, layers, concurrency); 0 (every layer in this thread) when unset,
 * 0, or below 2. Off by default: on an idle 2-core machine they make a cold OCI-layout scan
 * 1.09× faster, but a registry scan's peak RSS rises from ~140 to ~230 MiB, over the 150 MB goal
 * (issue 18's notes); they become the default once the registry path stays within it.
 */
export function workerCount(layers: number, concurrency: number, env: Record<string, string | undefined> = process.env): number {
  const set = env['DRYDOCK_LAYER_WORKERS']?.trim();
  const cores = set === 'auto' ? availableParallelism() : set && /^\d+$/.test(set) ? Number(set) : 0;
  const n = Math.min(layers, cores, concurrency);
  return n >= 2 ? n : 0;
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
