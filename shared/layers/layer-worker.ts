/**
 * The layer worker: one layer at a time, the whole per-layer pipeline (hash, inflate, tar,
 * walk) in a worker thread, so that the layers of an image use every core. It runs the very
 * walkLayer of the in-thread path, fed with the blob's bytes as the main thread reads them
 * from the source, and posts back the extract (the kept files) or the error.
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
import { LAYER_WORKER_KIND, probeId, type FromWorker, type ToWorker, type WorkerError, type WorkerJob } from './worker-protocol.js';

/** The blob as a stream: chunks as they are posted, acknowledged once the walk has taken them in. */
class Inbox extends Readable {
  private unacked = 0;

  constructor(private readonly port: MessagePort) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _read(): void {
    if (this.unacked) {
      this.port.postMessage({ type: 'ack', bytes: this.unacked } satisfies FromWorker);
      this.unacked = 0;
    }
  }

  feed(chunk: Buffer): void {
    if (this.push(chunk)) this.port.postMessage({ type: 'ack', bytes: chunk.length } satisfies FromWorker);
    else this.unacked += chunk.length;
  }
}

export function serializeError(e: unknown): WorkerError {
  if (e instanceof DrydockError) {
    return { drydock: true, code: e.code, kind: e.kind, message: e.message.replace(/ \[(image|layer|path) [^\]]*\]/g, ''), context: e.context };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { drydock: false, name: err.name, message: err.message, tar: err instanceof TarError };
}

function serve(port: MessagePort): void {
  const defaultProbes = new Map((catalogNeeds().probes ?? []).map((p) => [probeId(p), p]));
  let inbox: Inbox | undefined;
  port.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'start': {
        // a local file is read here, in this thread: no bytes cross the threads
        const file = m.file;
        let source: Readable;
        let onBytes: ((n: number) => void) | undefined;
        if (file) {
          inbox = undefined;
          source = createReadStream(file.path, { start: file.start, ...(file.end !== undefined ? { end: file.end } : {}), highWaterMark: file.highWaterMark });
          onBytes = (n) => port.postMessage({ type: 'read', bytes: n } satisfies FromWorker);
        } else {
          inbox = new Inbox(port);
          source = inbox;
        }
        run(m.job, source, defaultProbes, onBytes).then(
          (extract) => port.postMessage({ type: 'done', extract } satisfies FromWorker),
          (e: unknown) => port.postMessage({ type: 'error', error: serializeError(e) } satisfies FromWorker),
        );
        return;
      }
      case 'chunk':
        inbox?.feed(Buffer.from(m.buf));
        return;
      case 'end':
        inbox?.push(null);
        return;
      case 'fail':
        // the source failed on the main thread: the walk ends as it would on a read error there
        inbox?.destroy(new Error(m.message));
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

const data = workerData as { kind?: string } | null | undefined;
if (!isMainThread && parentPort && data?.kind === LAYER_WORKER_KIND) serve(parentPort);
