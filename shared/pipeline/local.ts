/**
 * The whole pipeline in one process: the same core, on in-memory adapters (or any ports the
 * caller passes), with the queues drained in a loop instead of by Lambda. Used by
 * `npm run pipeline:local`, `npm run invoke` without AWS, and the tests.
 */
import { MemoryAdvisoryStore } from '../adapters/local/memory-advisory-store.js';
import { MemoryBus, MemoryObjectStore, MemoryPublisher, MemoryQueue } from '../adapters/local/memory-messaging.js';
import { MemoryImageStore, MemoryPackageIndex, MemoryResultStore } from '../adapters/local/memory-stores.js';
import { openSource } from '../image/open.js';
import { DEFAULT_CONFIG, type PipelineConfig } from './config.js';
import type { EvaluatorDeps } from './base-images.js';
import { noMetrics, silentLog } from './deps.js';
import { imageReference } from './messages.js';
import { prepareAnalyzerMessage, prepareEvaluatorMessage, type MessageOutcome } from './run.js';

export interface LocalPipeline {
  /** the pipeline's ports, and the event bus the evaluator announces a patched base on */
  deps: EvaluatorDeps;
  bus: MemoryBus;
  scanQueue: MemoryQueue;
  evaluateQueue: MemoryQueue;
  deadLetters: MemoryQueue;
  publisher: MemoryPublisher;
}

export function localPipeline(overrides: Partial<Omit<EvaluatorDeps, 'config'>> & { config?: Partial<PipelineConfig> } = {}): LocalPipeline {
  const bus = new MemoryBus();
  const scanQueue = new MemoryQueue();
  const evaluateQueue = new MemoryQueue();
  const deadLetters = new MemoryQueue();
  const publisher = new MemoryPublisher();
  const config: PipelineConfig = { ...DEFAULT_CONFIG, ...overrides.config };
  const deps: EvaluatorDeps = {
    bus,
    images: new MemoryImageStore(),
    packageIndex: new MemoryPackageIndex(),
    results: new MemoryResultStore(),
    objects: new MemoryObjectStore(),
    advisories: new MemoryAdvisoryStore(),
    scanQueue,
    evaluateQueue,
    deadLetters,
    publisher,
    openImage: (image) => openSource(imageReference(image), { insecureRegistries: config.insecureRegistries }),
    now: () => new Date(),
    log: silentLog,
    metrics: noMetrics,
    ...overrides,
    config,
  };
  return { deps, bus, scanQueue, evaluateQueue, deadLetters, publisher };
}

export interface DrainReport {
  outcomes: MessageOutcome[];
  /** messages that failed retryably and were put back (as SQS would after the visibility timeout) */
  retried: number;
}

/**
 * Feeds `bodies` to the analyzer, then drains both queues until they are empty: each message is
 * run as its Lambda would run it (receive counts kept, a retryable failure put back until
 * maxReceiveCount, then dropped as SQS would move it to the DLQ).
 */
export async function drainLocal(p: { deps: EvaluatorDeps; scanQueue: MemoryQueue; evaluateQueue: MemoryQueue }, bodies: readonly unknown[] = []): Promise<DrainReport> {
  const report: DrainReport = { outcomes: [], retried: 0 };
  type Pending = { body: string; id: string; receives: number; kind: 'analyzer' | 'evaluator' };
  let seq = 0;
  const next = (kind: Pending['kind'], b: unknown): Pending => ({ body: typeof b === 'string' ? b : JSON.stringify(b), id: `local-${++seq}`, receives: 0, kind });
  const work: Pending[] = bodies.map((b) => next('analyzer', b));
  const pull = () => {
    for (const b of p.scanQueue.drain()) work.push(next('analyzer', b));
    for (const b of p.evaluateQueue.drain()) work.push(next('evaluator', b));
  };
  pull();
  while (work.length) {
    const m = work.shift()!;
    m.receives++;
    const ctx = { messageId: m.id, receiveCount: m.receives };
    const prepared = m.kind === 'analyzer' ? prepareAnalyzerMessage(m.body, p.deps, ctx) : prepareEvaluatorMessage(m.body, p.deps, ctx);
    try {
      report.outcomes.push(await prepared.run());
    } catch (e) {
      if (m.receives < p.deps.config.maxReceiveCount) {
        report.retried++;
        work.push(m);
      } else {
        p.deps.log.error('message moved to the dead-letter queue after its last attempt', { messageId: m.id, error: String(e) });
      }
    }
    pull();
  }
  return report;
}
