import { setTimeout as delay } from 'node:timers/promises';
import { DrydockError, type ErrorContext } from '../errors.js';

/**
 * Retrying of transient failures (DESIGN.md §4): throttling, 5xx answers and dropped
 * connections are tried again a few times with exponential backoff and jitter; after the
 * last attempt the caller gets a retryable DrydockError, so the job is redelivered later
 * instead of being recorded as a failure. An abort is never retried.
 */

/** How often and how patiently a failing call is repeated. */
export interface RetryOptions {
  /** total tries including the first one (1 = no retry) */
  attempts: number;
  /** the backoff before the first retry; it doubles with each further retry */
  baseDelayMs: number;
  /** the longest single wait: caps the backoff, and a longer Retry-After is not waited for */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { attempts: 4, baseDelayMs: 250, maxDelayMs: 20_000 };

/** Waits `ms`; rejects early when `signal` aborts. Injectable so tests do not wait. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realSleep: Sleep = async (ms, signal) => {
  await delay(ms, undefined, signal ? { signal } : undefined);
};

/** One try's outcome: a value, or a transient failure worth another try (after `afterMs`, when the server said). */
export type Attempt<T> = { value: T } | { retry: DrydockError; afterMs?: number };

export interface WithRetryOptions {
  retry: RetryOptions;
  sleep: Sleep;
  signal?: AbortSignal;
  /** names the image / layer in the ABORTED error */
  context?: ErrorContext;
  /** for tests; defaults to Math.random */
  random?: () => number;
}

/**
 * Runs `tryOnce` until it yields a value, it throws (thrown errors are final), or the
 * attempts are used up (then the last transient error is thrown). A server's Retry-After
 * is honoured; one longer than `maxDelayMs` ends the retries at once, since waiting that
 * long inside one call would outlast the caller's own deadline.
 */
export async function withRetry<T>(tryOnce: (attempt: number) => Promise<Attempt<T>>, opts: WithRetryOptions): Promise<T> {
  const attempts = Math.max(1, Math.floor(opts.retry.attempts));
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(opts.signal, opts.context);
    const outcome = await tryOnce(attempt);
    if ('value' in outcome) return outcome.value;
    if (attempt >= attempts) throw outcome.retry;
    const wait = outcome.afterMs ?? backoffDelay(attempt, opts.retry, opts.random);
    if (wait > opts.retry.maxDelayMs) throw outcome.retry;
    try {
      await opts.sleep(wait, opts.signal);
    } catch (e) {
      throw abortedError(opts.context, e);
    }
  }
}

/**
 * The wait before retry number `retry` (1-based): exponential up to `maxDelayMs`, with
 * "equal jitter" (half fixed, half random) so that parallel clients spread out but
 * never retry immediately.
 */
export function backoffDelay(retry: number, opts: RetryOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** (retry - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** A Retry-After header (delay-seconds or HTTP-date, RFC 9110 §10.2.3) as milliseconds from `now`. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Socket-level error codes that mean "the connection failed, the same request may work now". */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

/** True when `e` (or an error in its cause chain, as fetch wraps them) is a dropped or failed connection. */
export function isTransientNetworkError(e: unknown): boolean {
  for (let err = e, depth = 0; err instanceof Error && depth < 8; err = err.cause, depth++) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
    if (/socket hang up|other side closed/i.test(err.message)) return true;
  }
  return false;
}

function throwIfAborted(signal: AbortSignal | undefined, context?: ErrorContext): void {
  if (signal?.aborted) throw abortedError(context, signal.reason);
}

/** The error every aborted registry call ends in; never retried here (its kind lets the job be redelivered). */
export function abortedError(context: ErrorContext | undefined, cause?: unknown): DrydockError {
  return new DrydockError('ABORTED', 'registry request aborted', { context, cause });
}
