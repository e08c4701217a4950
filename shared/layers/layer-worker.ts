/**
 * The layer worker: one layer at a time, the whole per-layer pipeline (hash, inflate, tar,
 * walk) in a worker thread, so that the layers of an image use every core. It runs the very
 * walkLayer of the in-thread path, fed with the blob's bytes (read from the local file here, or
 * as the main thread reads them from the source, through a shared ring: see Inbox), and posts
 * back the extract (the kept files) or the error.
 *
 * This file is its own entry point (bundled beside the CLI and the analyzer as
 * layer-worker.mjs, see LayerWorkerPool): loaded in a thread started by the pool, it serves;
 * imported anywhere else it does nothing.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { catalogNeeds } from '../catalog/index.js';
import type { ContentProbe } from '../catalog/types.js';
import { DrydockError } from '../errors.js';
import { ImageBudget, type LayerExtract } from './extract.js';
import { candidateMatcher, pathMatcher } from './paths.js';
import { TarError } from './tar-reader.js';
import { walkLayer } from './walker.js';
import { youngGcEvery } from './young-gc.js';
import { LAYER_WORKER_KIND, probeId, SIGNAL_HUNGRY, type FromWorker, type LayerWorkerData, type ToWorker, type WorkerError, type WorkerJob } from './worker-protocol.js';

/** Bytes copied out of the ring at a time: what one read of a local file takes too (see oci-layout.ts). */
export const INBOX_READ_BYTES = 256 * 1024;
/** Room given back to the pool at a time, unless it waits for room or the ring is empty. */
const ACK_BYTES = 1024 * 1024;

/**
 * A streamed blob as the walk reads it: the main thread writes its bytes into the ring and says
 * how many; they are copied out here only when the walk asks for more (as a file is read), and
 * their room is then given back (ack). Nothing is copied ahead of the walk, so no chunk waits in
 * this thread long enough to outlive the young-generation collections that free it (issue 18: the
 * chunks posted ahead of the walk before did, and a registry scan peaked at ~230 MiB).
 */
export class Inbox extends Readable {
  private readonly ring: Uint8Array;
  /** where the next unread byte is in the ring */
  private at = 0;
  /** bytes in the ring not yet copied out */
  private available = 0;
  private ended = false;
  private wanted = false;
  /** tests: copy nothing out until resumed */
  private stalled = false;
  private delivering = false;
  /** bytes copied out and not yet acknowledged to the pool */
  private unacked = 0;

  constructor(
    private readonly port: MessagePort,
    ring: SharedArrayBuffer,
    private readonly walk: number,
    /** the flag shared with the pool (see LayerWorkerData.signals); tests may leave it out */
    private readonly signals: Int32Array = new Int32Array(1),
  ) {
    super({ highWaterMark: INBOX_READ_BYTES });
    this.ring = new Uint8Array(ring);
  }

  override _read(): void {
    this.wanted = true;
    this.deliver();
  }

  /** `bytes` more bytes follow the ones before in the ring. */
  feed(bytes: number): void {
    if (this.destroyed) return;
    if (!Number.isSafeInteger(bytes) || bytes <= 0 || this.ended || this.available + bytes > this.ring.length) {
      this.destroy(new Error(`layer worker: the pool wrote ${bytes} bytes into a ring holding ${this.available} of ${this.ring.length}`));
      return;
    }
    this.available += bytes;
    this.deliver();
  }

  end(): void {
    this.ended = true;
    this.deliver();
  }

  stall(on: boolean): void {
    this.stalled = on;
    this.deliver();
  }

  /** One chunk per _read (as fs.ReadStream reads): copied out of the ring, its room given back. */
  private deliver(): void {
    // a _read called from inside push() (a consumer reading in its 'data' handler) is served by the loop below
    if (this.delivering) return;
    this.delivering = true;
    try {
      while (this.wanted && !this.stalled && !this.destroyed) {
        if (this.available > 0) {
          this.wanted = false;
          const n = Math.min(this.available, INBOX_READ_BYTES, this.ring.length - this.at);
          const chunk = Buffer.allocUnsafeSlow(n);
          chunk.set(this.ring.subarray(this.at, this.at + n));
          this.at = (this.at + n) % this.ring.length;
          this.available -= n;
          this.unacked += n;
          Atomics.store(this.signals, SIGNAL_HUNGRY, 0);
          // Room is given back in batches of ACK_BYTES, and at once when the ring is empty. Not
          // sooner when the pool waits for room: the ring is full then and this walk has its 4 MiB
          // to take in (an answer per chunk, as a fast registry kept the pool waiting, cost ~60 ms
          // of postMessage per layer here).
          if (this.unacked >= ACK_BYTES || this.available === 0) {
            this.port.postMessage({ type: 'ack', walk: this.walk, bytes: this.unacked } satisfies FromWorker);
            this.unacked = 0;
          }
          this.push(chunk);
        } else if (this.ended) {
          this.wanted = false;
          this.push(null);
        } else {
          // the walk waits for bytes: the pool tells of the next ones at once instead of batching them
          Atomics.store(this.signals, SIGNAL_HUNGRY, 1);
          break;
        }
      }
    } finally {
      this.delivering = false;
    }
  }
}

export function serializeError(e: unknown): WorkerError {
  if (e instanceof DrydockError) {
    return { drydock: true, code: e.code, kind: e.kind, message: e.message.replace(/ \[(image|layer|path) [^\]]*\]/g, ''), context: e.context };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { drydock: false, name: err.name, message: err.message, tar: err instanceof TarError };
}

function serve(port: MessagePort, ring: SharedArrayBuffer, signals: Int32Array): void {
  const defaultProbes = new Map((catalogNeeds().probes ?? []).map((p) => [probeId(p), p]));
  let inbox: Inbox | undefined;
  /** the walk the ring is written for: messages of an earlier one (posted before it ended) are dropped */
  let current = -1;
  port.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'start': {
        current = m.walk;
        // an earlier walk's stream copies and acknowledges nothing more: the ring is this walk's now
        inbox?.destroy();
        inbox = undefined;
        // a local file is read here, in this thread: no bytes cross the threads
        const file = m.file;
        let source: Readable;
        let onBytes: ((n: number) => void) | undefined;
        if (file) {
          source = createReadStream(file.path, { start: file.start, ...(file.end !== undefined ? { end: file.end } : {}), highWaterMark: file.highWaterMark });
          onBytes = (n) => port.postMessage({ type: 'read', bytes: n } satisfies FromWorker);
        } else {
          inbox = new Inbox(port, ring, m.walk, signals);
          source = inbox;
        }
        run(m.job, source, defaultProbes, onBytes).then(
          (extract) => port.postMessage({ type: 'done', extract } satisfies FromWorker),
          (e: unknown) => port.postMessage({ type: 'error', error: serializeError(e) } satisfies FromWorker),
        );
        return;
      }
      case 'chunk':
        if (m.walk === current) inbox?.feed(m.bytes);
        return;
      case 'end':
        if (m.walk === current) inbox?.end();
        return;
      case 'stall':
      case 'resume':
        inbox?.stall(m.type === 'stall');
        return;
      case 'crash':
        // for tests only: what an unexpected fault in the worker looks like to the pool
        throw new Error('layer worker: crash requested');
    }
  });
}

async function run(job: WorkerJob, raw: Readable, defaultProbes: Map<string, ContentProbe>, progress?: (n: number) => void): Promise<LayerExtract> {
  // the walk's dead chunks are freed as it goes (see young-gc.ts), not 64 MB later
  const collect = youngGcEvery();
  const onBytes = (n: number) => {
    progress?.(n);
    collect(n);
  };
  const probes = job.probes.map((id) => {
    const p = defaultProbes.get(id);
    if (!p) throw new DrydockError('CONFIG', `layer worker: unknown content probe ${id}`);
    return p;
  });
  return walkLayer(raw, {
    descriptor: job.descriptor,
    ...(job.diffId ? { diffId: job.diffId } : {}),
    wanted: pathMatcher(job.needs),
    candidate: candidateMatcher(job.needs),
    probes,
    limits: job.limits,
    image: job.image,
    onBytes,
    ...(job.budget ? { budget: ImageBudget.over(job.limits, job.budget) } : {}),
  });
}

const data = workerData as Partial<LayerWorkerData> | null | undefined;
if (!isMainThread && parentPort && data?.kind === LAYER_WORKER_KIND && data.ring instanceof SharedArrayBuffer && data.signals instanceof SharedArrayBuffer) {
  serve(parentPort, data.ring, new Int32Array(data.signals));
}
