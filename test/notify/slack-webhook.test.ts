/**
 * postToSlack against a real local HTTP server standing in for Slack's incoming webhook
 * (test/support/fake-slack.ts): 429 with Retry-After, 5xx retried with backoff, permanent 4xx
 * with Slack's text, a closed socket, an unreachable port, the deadline; the webhook URL never
 * in an error. Also the secret's parsing and the per-container cache.
 */
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isDrydockError } from '../../shared/errors.js';
import { CachedWebhook, maskWebhookUrl, parseRetryAfter, postToSlack, SlackWebhookError, webhookUrlFromSecret } from '../../shared/notify/slack.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';

const PAYLOAD = { text: 'FAIL team/api:1.4.2', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*FAIL* team/api:1.4.2' } }] };
/** short waits so the retry tests take milliseconds; Retry-After is Slack's and is honoured as given */
const FAST = { baseDelayMs: 20, maxDelayMs: 100 };

let slack: FakeSlack;
beforeAll(async () => {
  slack = await startFakeSlack();
});
afterAll(async () => {
  await slack.stop();
});
afterEach(() => slack.reset());

async function rejection(p: Promise<unknown>): Promise<SlackWebhookError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e, 'the post should have failed').toBeInstanceOf(SlackWebhookError);
  return e as SlackWebhookError;
}

function expectNoSecret(e: Error): void {
  const all = `${e.message} ${JSON.stringify((e as SlackWebhookError).toJSON?.() ?? {})} ${String(e.stack)}`;
  expect(all).not.toContain(slack.secret);
  expect(all).not.toContain(slack.url);
  expect(e.message).toContain(maskWebhookUrl(slack.url));
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('postToSlack', () => {
  it('POSTs the payload as JSON; Slack answers ok', async () => {
    const r = await postToSlack(slack.url, PAYLOAD);
    expect(r).toEqual({ status: 200, body: 'ok', attempts: 1 });
    expect(slack.requests).toHaveLength(1);
    expect(slack.requests[0]!.method).toBe('POST');
    expect(slack.requests[0]!.headers['content-type']).toMatch(/^application\/json/);
    expect(slack.accepted).toEqual([PAYLOAD]);
  });

  it('429 with Retry-After: 1 → waits at least that long, then succeeds', async () => {
    slack.fail({ status: 429, retryAfter: '1', body: 'rate_limited' });
    const retries: number[] = [];
    const r = await postToSlack(slack.url, PAYLOAD, { ...FAST, onRetry: (x) => retries.push(x.delayMs) });
    expect(r.attempts).toBe(2);
    expect(slack.requests).toHaveLength(2);
    expect(slack.requests[0]!.answered).toBe(429);
    const gap = slack.requests[1]!.at - slack.requests[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(900);
    expect(retries).toEqual([1000]);
    expect(slack.accepted).toEqual([PAYLOAD]);
  });

  it('429 asking for longer than the deadline allows: a retryable THROTTLED error at once, not a long wait', async () => {
    slack.fail({ status: 429, retryAfter: '30' });
    // what it waited is recorded, not timed: a wall-clock bound flakes on a busy machine
    const slept: number[] = [];
    const e = await rejection(postToSlack(slack.url, PAYLOAD, { ...FAST, deadlineMs: 2000, sleep: async (ms) => void slept.push(ms) }));
    expect(slept).toEqual([]);
    expect(e.code).toBe('THROTTLED');
    expect(e.retryable).toBe(true);
    expect(e.details.retryAfterMs).toBe(30_000);
    expect(e.message).toContain('deadline');
    expect(slack.requests).toHaveLength(1);
  });

  it('500s are retried with growing, jittered backoff, then the post succeeds', async () => {
    slack.fail({ status: 500 }, 2);
    const delays: number[] = [];
    const r = await postToSlack(slack.url, PAYLOAD, { baseDelayMs: 40, maxDelayMs: 1000, onRetry: (x) => delays.push(x.delayMs) });
    expect(r.attempts).toBe(3);
    expect(slack.requests.map((q) => q.answered)).toEqual([500, 500, 200]);
    // attempt 1: within [20, 40]; attempt 2: within [40, 80]
    expect(delays[0]).toBeGreaterThanOrEqual(20);
    expect(delays[0]).toBeLessThanOrEqual(40);
    expect(delays[1]).toBeGreaterThanOrEqual(40);
    expect(delays[1]).toBeLessThanOrEqual(80);
    expect(slack.requests[2]!.at - slack.requests[1]!.at).toBeGreaterThanOrEqual(delays[1]! - 5);
  });

  it('backoff delays: exponential, capped, half of each random (injected clock-free sleep)', async () => {
    slack.failAlways({ status: 503 });
    const slept: number[] = [];
    const e = await rejection(postToSlack(slack.url, PAYLOAD, { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 500, random: () => 1, sleep: async (ms) => void slept.push(ms) }));
    expect(slept).toEqual([100, 200, 400, 500, 500]);
    expect(e.code).toBe('SERVER_ERROR');
    expect(slack.requests).toHaveLength(6);
  });

  it('persistent 500 → a retryable SERVER_ERROR after maxAttempts (default 4), with Slack\'s answer, URL masked', async () => {
    slack.failAlways({ status: 500, body: 'internal_error' });
    const e = await rejection(postToSlack(slack.url, PAYLOAD, FAST));
    expect(isDrydockError(e)).toBe(true);
    expect(e.code).toBe('SERVER_ERROR');
    expect(e.kind).toBe('retryable');
    expect(e.details).toMatchObject({ status: 500, slackError: 'internal_error', attempts: 4 });
    expect(e.message).toContain('"internal_error"');
    expect(e.message).toContain('gave up after 4 attempts');
    expect(slack.requests).toHaveLength(4);
    expectNoSecret(e);
  });

  it('400 invalid_payload → permanent at once, with Slack\'s text', async () => {
    slack.fail({ status: 400, body: 'invalid_payload' });
    const e = await rejection(postToSlack(slack.url, PAYLOAD, FAST));
    expect(e.kind).toBe('permanent');
    expect(e.retryable).toBe(false);
    expect(e.details).toMatchObject({ status: 400, slackError: 'invalid_payload', attempts: 1 });
    expect(e.message).toContain('400 "invalid_payload"');
    expect(slack.requests).toHaveLength(1);
    expectNoSecret(e);
  });

  it('what the fake Slack itself refuses: blocks over the limits (invalid_blocks), a wrong path (no_service), 403 action_prohibited', async () => {
    const tooMany = { text: 'x', blocks: Array.from({ length: 51 }, () => ({ type: 'divider' })) };
    const blocks = await rejection(postToSlack(slack.url, tooMany, FAST));
    expect(blocks.details.slackError).toBe('invalid_blocks');
    const gone = await rejection(postToSlack(slack.url.replace(slack.secret, 'oldsecret999'), PAYLOAD, FAST));
    expect(gone.details).toMatchObject({ status: 404, slackError: 'no_service' });
    expect(gone.webhookRejected).toBe(true);
    expect(gone.message).not.toContain('oldsecret999');
    slack.fail({ status: 403, body: 'action_prohibited' });
    const denied = await rejection(postToSlack(slack.url, PAYLOAD, FAST));
    expect(denied).toMatchObject({ code: 'DENIED', kind: 'permanent' });
    expect(denied.message).toContain('action_prohibited');
    expect(denied.webhookRejected).toBe(true);
  });

  it('a socket closed without an answer is retried (NETWORK), then succeeds', async () => {
    slack.fail({ close: true });
    const r = await postToSlack(slack.url, PAYLOAD, FAST);
    expect(r.attempts).toBe(2);
    expect(slack.requests.map((q) => q.answered)).toEqual([0, 200]);
  });

  it('an unreachable webhook (closed port) → a retryable NETWORK error after every attempt, URL masked', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}/services/T0/B0/${slack.secret}`;
    const e = await rejection(postToSlack(url, PAYLOAD, { ...FAST, maxAttempts: 3 }));
    expect(e.code).toBe('NETWORK');
    expect(e.retryable).toBe(true);
    expect(e.details.attempts).toBe(3);
    expect(e.message).toContain('ECONNREFUSED');
    expect(e.message).not.toContain(slack.secret);
    expect(e.message).toContain(`http://127.0.0.1:${port}/***`);
  });

  it('an answer that never comes: each attempt times out (NETWORK), within the deadline', async () => {
    const srv = createServer(() => {
      /* accepts and never answers */
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    try {
      // The budget is checked on what was scheduled (attempt timeouts and recorded waits), not on
      // the wall clock, which a busy machine stretches.
      const slept: number[] = [];
      const sleep = (ms: number) => {
        slept.push(ms);
        return new Promise<void>((r) => setTimeout(r, ms));
      };
      const e = await rejection(postToSlack(`http://127.0.0.1:${port}/services/x`, PAYLOAD, { ...FAST, attemptTimeoutMs: 200, deadlineMs: 1500, sleep }));
      expect(e.code).toBe('NETWORK');
      expect(e.message).toContain('no answer in time');
      const attempts = e.details.attempts ?? 0;
      expect(attempts).toBeGreaterThanOrEqual(1);
      expect(slept).toHaveLength(attempts - 1);
      expect(attempts * 200 + slept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1500);
    } finally {
      srv.close();
    }
  });

  it('refuses plain http to a non-loopback host and URLs with credentials (CONFIG), never echoing the URL', async () => {
    await expect(postToSlack('http://hooks.slack.com/services/T/B/secret123', PAYLOAD)).rejects.toMatchObject({ code: 'CONFIG' });
    await expect(postToSlack('http://hooks.slack.com/services/T/B/secret123', PAYLOAD)).rejects.not.toThrow(/secret123/);
    await expect(postToSlack('not a url secret123', PAYLOAD)).rejects.not.toThrow(/secret123/);
    await expect(postToSlack('https://u:p@hooks.slack.com/x', PAYLOAD)).rejects.toMatchObject({ code: 'CONFIG' });
  });
});

describe('helpers', () => {
  it('maskWebhookUrl keeps the origin only', () => {
    expect(maskWebhookUrl('https://hooks.slack.com/services/T000/B000/XXXXsecret')).toBe('https://hooks.slack.com/***');
  });

  it('parseRetryAfter: seconds or an HTTP date', () => {
    expect(parseRetryAfter('1', 0)).toBe(1000);
    expect(parseRetryAfter('2.5', 0)).toBe(2500);
    expect(parseRetryAfter(null, 0)).toBeUndefined();
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    const now = Date.parse('2026-11-23T10:00:00Z');
    expect(parseRetryAfter('Mon, 23 Nov 2026 10:00:03 GMT', now)).toBe(3000);
  });

  it('webhookUrlFromSecret: the URL, or JSON {"webhookUrl"}; a bad secret is CONFIG without its text', () => {
    const url = 'https://hooks.slack.com/services/T0/B0/abc';
    expect(webhookUrlFromSecret(url)).toBe(url);
    expect(webhookUrlFromSecret(` ${url}\n`)).toBe(url);
    expect(webhookUrlFromSecret(JSON.stringify({ webhookUrl: url, channel: '#sec' }))).toBe(url);
    expect(() => webhookUrlFromSecret('{"webhookUrl": "https://hooks.slack.com/services/x/y/topsecret"')).toThrow(/does not parse/);
    expect(() => webhookUrlFromSecret('{"webhookUrl": "https://hooks.slack.com/services/x/y/topsecret"')).not.toThrow(/topsecret/);
    expect(() => webhookUrlFromSecret('{"hook": "x"}')).toThrow(/without a "webhookUrl"/);
    expect(() => webhookUrlFromSecret('topsecret')).not.toThrow(/topsecret/);
  });

  it('CachedWebhook reads once per TTL, and again after invalidate()', async () => {
    let reads = 0;
    let t = 0;
    const cache = new CachedWebhook(async () => `https://hooks.slack.com/services/T/B/v${++reads}`, 600_000, () => t);
    const [a, b] = await Promise.all([cache.get(), cache.get()]);
    expect(a).toBe('https://hooks.slack.com/services/T/B/v1');
    expect(b).toBe(a);
    t = 599_999;
    expect(await cache.get()).toBe(a);
    t = 600_000;
    expect(await cache.get()).toBe('https://hooks.slack.com/services/T/B/v2');
    cache.invalidate();
    expect(await cache.get()).toBe('https://hooks.slack.com/services/T/B/v3');
    expect(reads).toBe(3);
  });
});
