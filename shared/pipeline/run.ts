/**
 * One queue message, start to end, with DESIGN.md §4's failure semantics — shared by the
 * Lambda handlers, `npm run invoke` and the in-process pipeline:
 *
 * - poison (not JSON, unknown or invalid message): sent at once to the dead-letter queue with
 *   the reason, acknowledged — retrying cannot help;
 * - permanent (bad manifest, digest mismatch, corrupt layer, bad policy bundle, ...): recorded on
 *   the image record, published as an `error` result, acknowledged;
 * - image gone from the registry: recorded as `deleted`, published, acknowledged;
 * - retryable (throttling, 5xx, resets, the deadline): recorded on the record (attempt count), and
 *   rethrown so SQS redelivers; the attempt that reaches maxReceiveCount records
 *   RETRIES_EXHAUSTED and publishes an error before the message moves to the DLQ.
 */
import { DrydockError, isDrydockError, toDrydockError } from '../errors.js';
import type { ImageRecord, RecordedError } from '../ports/stores.js';
import { analyzeLayerJob, analyzeScanJob, type AnalysisOutcome } from './analyze.js';
import { OBJECT_KEYS, type PipelineDeps } from './deps.js';
import type { EvaluatorDeps } from './base-images.js';
import { errorResult, evaluateJob, publishResult, type EvaluationOutcome } from './evaluate.js';
import { PoisonMessageError, parseAnalyzerBody, parseEvaluateBody, type AnalyzerInput } from './messages.js';

export interface MessageContext {
  messageId: string;
  /** SQS ApproximateReceiveCount of this delivery */
  receiveCount: number;
  /** fires before the Lambda's deadline */
  signal?: AbortSignal;
}

export type MessageOutcome =
  | AnalysisOutcome
  | EvaluationOutcome
  | { outcome: 'poison'; why: string }
  | { outcome: 'failed'; digest?: string; error: RecordedError }
  | { outcome: 'deleted'; digest: string };

/** What the handler passes to Powertools idempotency: the key, then the work. */
export interface PreparedMessage {
  /** digest + job kind (+ tag for pushes, + trigger for evaluations): one piece of work, however often it arrives */
  idempotencyKey: string;
  run(): Promise<MessageOutcome>;
}

export function prepareAnalyzerMessage(body: string, deps: PipelineDeps, ctx: MessageContext): PreparedMessage {
  let input: AnalyzerInput;
  try {
    input = parseAnalyzerBody(body);
  } catch (e) {
    return { idempotencyKey: `poison:${ctx.messageId}`, run: () => poison(deps, body, ctx, e) };
  }
  switch (input.kind) {
    case 'scan': {
      const job = input.job;
      // By digest and tag: the same digest pushed under a new tag (a retag) is new work, whose
      // outcome is the tag recorded and a result published for it; the same push again is not.
      const key = job.image.digest
        ? `scan:${job.image.digest}${job.image.tag ? `:${job.image.tag}` : ''}`
        : `scan:${job.image.registry}/${job.image.repository}:${job.image.tag}:${job.jobId}`;
      return { idempotencyKey: key, run: () => guarded(deps, ctx, 'scan', job.image.digest, () => analyzeScanJob(job, deps, ctx.signal)) };
    }
    case 'layer': {
      const job = input.job;
      return { idempotencyKey: `layer:${job.digest}:${job.cacheKey}`, run: () => guarded(deps, ctx, 'layer', job.digest, () => analyzeLayerJob(job, deps, ctx.signal)) };
    }
    case 'ecr-event': {
      const { event, action, succeeded } = input;
      const digest = event.detail['image-digest'];
      return {
        idempotencyKey: `ecr-${action.toLowerCase()}:${digest}:${event.id}`,
        run: async () => {
          if (action === 'DELETE' && succeeded) {
            const record = await deps.images.get(digest);
            if (record && record.status !== 'deleted') await markDeleted(deps, record, 'ECR reported the image deleted');
            return { outcome: 'deleted', digest };
          }
          deps.log.info('ECR event ignored', { action, result: event.detail.result, digest });
          return { outcome: 'skipped', digest, why: `ECR ${action} ${event.detail.result}` };
        },
      };
    }
  }
}

/** `deps` may carry the event bus the "base patched" event goes to (EvaluatorDeps, shared/pipeline/base-images.ts). */
export function prepareEvaluatorMessage(body: string, deps: EvaluatorDeps, ctx: MessageContext): PreparedMessage {
  try {
    const job = parseEvaluateBody(body);
    return { idempotencyKey: `evaluate:${job.digest}:${job.trigger}`, run: () => guarded(deps, ctx, 'evaluate', job.digest, () => evaluateJob(job, deps)) };
  } catch (e) {
    return { idempotencyKey: `poison:${ctx.messageId}`, run: () => poison(deps, body, ctx, e) };
  }
}

async function poison(deps: PipelineDeps, body: string, ctx: MessageContext, e: unknown): Promise<MessageOutcome> {
  if (!(e instanceof PoisonMessageError)) throw e;
  deps.metrics.add('PoisonMessages', 'Count', 1);
  deps.log.error('poison message: sent to the dead-letter queue, not retried', { messageId: ctx.messageId, reason: e.message });
  const letter = { schema: 'drydock.dead-letter/1', messageId: ctx.messageId, reason: e.message, receivedAt: deps.now().toISOString(), body };
  if (deps.deadLetters) await deps.deadLetters.send(letter, { attributes: { reason: 'POISON_MESSAGE' } });
  else await deps.objects.put(OBJECT_KEYS.deadLetter(ctx.messageId), JSON.stringify(letter), { contentType: 'application/json' });
  return { outcome: 'poison', why: e.message };
}

async function guarded<T extends MessageOutcome>(deps: PipelineDeps, ctx: MessageContext, job: 'scan' | 'layer' | 'evaluate', digest: string | undefined, work: () => Promise<T>): Promise<MessageOutcome> {
  try {
    return await work();
  } catch (thrown) {
    const err = isDrydockError(thrown) ? thrown : toDrydockError(thrown, 'SERVER_ERROR');
    const unknown = !isDrydockError(thrown);
    const retryable = err.retryable || unknown;
    const recorded: RecordedError = {
      code: unknown ? 'INTERNAL' : err.code,
      kind: unknown ? 'retryable' : err.kind,
      message: err.message,
      at: deps.now().toISOString(),
      job,
      ...(err.context.layer ? { layer: err.context.layer } : {}),
    };
    deps.log[retryable ? 'warn' : 'error'](`${job} job failed (${retryable ? 'will be retried' : 'not retried'})`, { digest, messageId: ctx.messageId, attempt: ctx.receiveCount, error: recorded, ...(unknown ? { stack: (thrown as Error)?.stack } : {}) });
    deps.metrics.add(retryable ? 'RetryableFailures' : 'PermanentFailures', 'Count', 1);
    const record = digest ? await deps.images.get(digest).catch(() => undefined) : undefined;
    if (!record) {
      if (retryable) throw err;
      return { outcome: 'failed', ...(digest ? { digest } : {}), error: recorded };
    }
    if (!retryable && err.code === 'MANIFEST_NOT_FOUND' && job !== 'evaluate') {
      const exists = await deps.registryApi?.imageExists(record.repository, record.digest).catch(() => undefined);
      if (exists !== true) {
        await markDeleted(deps, record, err.message);
        return { outcome: 'deleted', digest: record.digest };
      }
    }
    if (retryable) {
      const exhausted = ctx.receiveCount >= deps.config.maxReceiveCount;
      if (exhausted) {
        const final: RecordedError = { ...recorded, code: 'RETRIES_EXHAUSTED', message: `gave up after ${ctx.receiveCount} attempts; the message goes to the dead-letter queue. Last error: ${recorded.code}: ${recorded.message}` };
        await recordFailure(deps, record, final, job !== 'evaluate');
      } else {
        await safely(deps, () => deps.images.update(record.digest, { error: recorded, attempts: ctx.receiveCount, updatedAt: recorded.at }));
      }
      throw err;
    }
    await recordFailure(deps, record, recorded, job !== 'evaluate');
    return { outcome: 'failed', digest: record.digest, error: recorded };
  }
}

/** The failure on the record (analysis failures also end the analysis), then the error result. */
async function recordFailure(deps: PipelineDeps, record: ImageRecord, error: RecordedError, endsAnalysis: boolean): Promise<void> {
  await safely(deps, async () => {
    const patch = endsAnalysis
      ? { status: 'failed' as const, error, updatedAt: error.at, claimedBy: undefined, claimedAt: undefined, layersDone: undefined, layersPending: undefined }
      : { error, updatedAt: error.at };
    const updated = await deps.images.update(record.digest, patch);
    await publishResult(deps, errorResult(updated, error, deps.now()));
  });
}

async function markDeleted(deps: PipelineDeps, record: ImageRecord, why: string): Promise<void> {
  const at = deps.now().toISOString();
  const error: RecordedError = { code: 'MANIFEST_NOT_FOUND', kind: 'permanent', message: `image deleted from the registry before analysis: ${why}`, at };
  await safely(deps, async () => {
    const updated = await deps.images.update(record.digest, { status: 'deleted', error, updatedAt: at, claimedBy: undefined, claimedAt: undefined });
    // an analysed image's deletion is not an error, and a skipped push (an artifact, an untagged manifest) was never published
    if (record.status !== 'analyzed' && record.status !== 'evaluated' && record.status !== 'skipped') await publishResult(deps, errorResult(updated, error, deps.now()));
  });
  deps.metrics.add('ImagesDeleted', 'Count', 1);
}

/** Recording a failure must not hide it: a failing store is logged and the original outcome stands. */
async function safely(deps: PipelineDeps, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    deps.log.error('could not record the failure on the image record', { error: isDrydockError(e) ? e.toJSON() : String(e) });
    if (isDrydockError(e) && e.retryable) throw e;
    if (!(e instanceof DrydockError)) throw e;
  }
}
