import { describe, expect, it } from 'vitest';
import { DrydockError } from '../../shared/errors.js';
import { backoffDelay, isTransientNetworkError, parseRetryAfter, realSleep, withRetry, type Attempt } from '../../shared/image/retry.js';

const POLICY = { attempts: 4, baseDelayMs: 100, maxDelayMs: 1_000 };

describe('backoffDelay', () => {
  it('doubles up to the maximum, with half of each wait random', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, POLICY, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, POLICY, () => 1))).toEqual([100, 200, 400, 800, 1000]);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it.each([
    ['delay-seconds', '120', 120_000],
    ['an HTTP-date', 'Thu, 01 Jan 2026 00:00:30 GMT', 30_000],
    ['an HTTP-date in the past', 'Wed, 31 Dec 2025 23:00:00 GMT', 0],
    ['garbage', 'soon', undefined],
    ['nothing', null, undefined],
  ])('%s', (_name, value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe('isTransientNetworkError', () => {
  it('finds socket error codes in the cause chain fetch wraps them in', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(isTransientNetworkError(new TypeError('fetch failed', { cause: reset }))).toBe(true);
    const closed = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    expect(isTransientNetworkError(new TypeError('fetch failed', { cause: closed }))).toBe(true);
    expect(isTransientNetworkError(new Error('socket hang up'))).toBe(true);
  });

  it('does not treat certificate or argument errors as transient', () => {
    const cert = Object.assign(new Error('certificate has expired'), { code: 'CERT_HAS_EXPIRED' });
    expect(isTransientNetworkError(new TypeError('fetch failed', { cause: cert }))).toBe(false);
    expect(isTransientNetworkError(Object.assign(new Error('bad'), { code: 'UND_ERR_INVALID_ARG' }))).toBe(false);
  });
});

describe('withRetry', () => {
  const transient = () => new DrydockError('SERVER_ERROR', 'HTTP 503');

  it('retries transient failures and returns the first value', async () => {
    const delays: number[] = [];
    const seen: number[] = [];
    const value = await withRetry(
      async (attempt): Promise<Attempt<string>> => {
        seen.push(attempt);
        return attempt < 3 ? { retry: transient() } : { value: 'ok' };
      },
      { retry: POLICY, sleep: async (ms) => void delays.push(ms), random: () => 0 },
    );
    expect(value).toBe('ok');
    expect(seen).toEqual([1, 2, 3]);
    expect(delays).toEqual([50, 100]);
  });

  it('does not retry thrown errors', async () => {
    let calls = 0;
    const err = await withRetry(
      async () => {
        calls++;
        throw new DrydockError('DENIED', 'no');
      },
      { retry: POLICY, sleep: async () => undefined },
    ).catch((e: unknown) => e);
    expect((err as DrydockError).code).toBe('DENIED');
    expect(calls).toBe(1);
  });

  it('real sleep rejects as soon as the signal aborts, and the retry ends ABORTED', async () => {
    // The server asks for an hour's wait; the signal aborts once the sleep has begun. A sleep
    // that ignored the signal would hang until the test's timeout: no wall-clock bound needed.
    const controller = new AbortController();
    let sleeps = 0;
    const err = await withRetry(async () => ({ retry: transient(), afterMs: 3_600_000 }), {
      retry: { ...POLICY, maxDelayMs: 3_600_000 },
      sleep: (ms, signal) => {
        sleeps++;
        const slept = realSleep(ms, signal);
        controller.abort();
        return slept;
      },
      signal: controller.signal,
    }).catch((e: unknown) => e);
    expect((err as DrydockError).code).toBe('ABORTED');
    expect(sleeps).toBe(1);
  });
});
