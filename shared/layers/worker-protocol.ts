/** The messages between LayerWorkerPool (main thread) and the layer worker (layer-worker.ts). */
import type { ContentProbe } from '../catalog/types.js';
import type { ErrorCode, ErrorContext, ErrorKind } from '../errors.js';
import type { Descriptor } from '../image/types.js';
import type { LayerExtract, LayerLimits } from './extract.js';

/** workerData.kind of a layer worker: a thread started with anything else does not serve. */
export const LAYER_WORKER_KIND = 'drydock-layer-worker';

/** What a layer worker is started with. */
export interface LayerWorkerData {
  kind: typeof LAYER_WORKER_KIND;
  /**
   * The worker's ring (WORKER_WINDOW_BYTES, shared with the pool): a streamed blob's bytes are
   * written here by the main thread and copied out by the worker as its walk reads them.
   */
  ring: SharedArrayBuffer;
  /**
   * An Int32 flag shared with the pool (SIGNAL_HUNGRY): the walk waits for bytes. The messages
   * that move the ring's bytes are batched ('chunk' per 512 KiB, 'ack' per 1 MiB or when the ring
   * runs empty), and a 'chunk' is sent at once to a walk that waits: a few hundred messages for
   * a layer instead of thousands.
   */
  signals: SharedArrayBuffer;
}

/** signals[SIGNAL_HUNGRY] is 1 while the worker's walk waits for bytes the ring does not hold. */
export const SIGNAL_HUNGRY = 0;

/** What a worker needs to walk one layer as the plan says; plain data (functions are rebuilt in the worker). */
export interface WorkerJob {
  descriptor: Descriptor;
  diffId?: string;
  /** the plan's path needs without the probes */
  needs: { exact?: string[]; globs?: string[]; basenames?: string[] };
  /** the plan's content probes, by probeId; the worker takes them from the default catalogers */
  probes: string[];
  limits: LayerLimits;
  image: string;
  /** the image's shared totals (ImageBudget.shared) */
  budget?: SharedArrayBuffer;
}

/** A blob that is a range of a local file (an OCI layout's blob, a member of an image archive): the worker reads it itself. */
export interface FileRange {
  path: string;
  start: number;
  /** inclusive, as fs.createReadStream takes it; undefined: to the end of the file */
  end?: number;
  highWaterMark: number;
}

export type ToWorker =
  /**
   * A layer to walk (`walk` numbers the pool's walks: what belongs to an earlier one is ignored):
   * its bytes follow through the ring, or, with `file`, the worker reads them from there.
   */
  | { type: 'start'; walk: number; job: WorkerJob; file?: FileRange }
  /** the next `bytes` bytes of the blob are in the ring, after the ones before (wrapping at its end) */
  | { type: 'chunk'; walk: number; bytes: number }
  | { type: 'end'; walk: number }
  /** tests only: throw an uncaught error in the worker */
  | { type: 'crash' }
  /** tests only: the walk takes no bytes from the ring until 'resume' (a slow worker) */
  | { type: 'stall' }
  | { type: 'resume' };

export type WorkerError =
  | { drydock: true; code: ErrorCode; kind: ErrorKind; message: string; context: ErrorContext }
  | { drydock: false; name: string; message: string; tar: boolean };

export type FromWorker =
  /** this many bytes of the blob were copied out of the ring by walk `walk`: their room may be written again */
  | { type: 'ack'; walk: number; bytes: number }
  /** this many compressed bytes were read from the file (a `file` layer only: the source's progress) */
  | { type: 'read'; bytes: number }
  | { type: 'done'; extract: LayerExtract }
  | { type: 'error'; error: WorkerError };

export function probeId(p: ContentProbe): string {
  return `${p.name}@${p.version}/${p.maxBytes}`;
}
