/**
 * Slack incoming-webhook client: POST the payload as JSON, and tell apart what a retry can fix
 * from what it cannot (DESIGN §4).
 *
 * - 200 "ok": done.
 * - 429: Slack's rate limit; wait the `Retry-After` seconds it names, then try again.
 * - 5xx, resets, refused connections, an attempt that times out: retried with exponential
 *   backoff and jitter, up to `maxAttempts`, all within `deadlineMs`. Still failing: a
 *   retryable DrydockError (THROTTLED / SERVER_ERROR / NETWORK), so the caller's own retry (the
 *   Lambda's async retries, then its DLQ) takes over.
 * - any other 4xx: permanent. Slack answers with a short text (`invalid_payload`, `no_service`,
 *   `action_prohibited`, `channel_is_archived`, …) which the error carries.
 *
 * The webhook URL is a credential (anyone holding it can post): it never appears in an error
 * or a log line, only its origin with the path masked.
 */
import { DrydockError, isAbort, type ErrorCode } from '../errors.js';
import { isLoopbackHost } from '../image/reference.js';

export interface PostToSlackOptions {
  /** attempts in all, the first included (default 4) */
  maxAttempts?: number;
  /** total time budget from the first attempt, waits included (default 30 s) */
  deadlineMs?: number;
  /** one attempt's time limit (default 10 s) */
  attemptTimeoutMs?: number;
  /** backoff: base * 2^(attempt-1), half of it random, capped at maxDelayMs (defaults 500 ms, 8 s) */
  baseDelayMs?: number;
  maxDelayMs?: number;
  signal?: AbortSignal;
  /** for tests */
  fetch?: typeof fetch;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  now?: () => number;
  /** told of each retry (the URL is not in it) */
  onRetry?: (e: { attempt: number; delayMs: number; code: ErrorCode; status?: number; message: string }) => void;
}

export interface PostToSlackResult {
  status: number;
  /** Slack's answer ("ok") */
  body: string;
  attempts: number;
}

/** A failed post: the HTTP status and Slack's answer when there was one, and the attempts made. */
export class SlackWebhookError extends DrydockError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly details: { status?: number; slackError?: string; attempts: number; retryAfterMs?: number },
    opts: { kind?: DrydockError['kind']; cause?: unknown } = {},
  ) {
    super(code, message, opts);
    this.name = 'SlackWebhookError';
  }

  /** Slack says the webhook no longer works as configured (revoked, channel gone, posting refused). */
  get webhookRejected(): boolean {
    return this.details.status === 403 || this.details.status === 404 || this.details.status === 410;
  }
}

const DEFAULTS = { maxAttempts: 4, deadlineMs: 30_000, attemptTimeoutMs: 10_000, baseDelayMs: 500, maxDelayMs: 8_000 };

/** "https://hooks.slack.com/services/T0/B0/secret" → "https://hooks.slack.com/***" */
export function maskWebhookUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/***`;
  } catch {
    return '(an unparseable URL)';
  }
}

function checkUrl(webhookUrl: string): URL {
  let u: URL;
  try {
    u = new URL(webhookUrl);
  } catch {
    throw new DrydockError('CONFIG', 'the Slack webhook URL is not a URL (check the secret: a URL, or JSON {"webhookUrl": "https://hooks.slack.com/…"})');
  }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopbackHost(u.hostname))) {
    throw new DrydockError('CONFIG', `the Slack webhook ${maskWebhookUrl(webhookUrl)} must be https (plain http only to a loopback host)`);
  }
  if (u.username || u.password) throw new DrydockError('CONFIG', `the Slack webhook ${maskWebhookUrl(webhookUrl)} must not carry credentials`);
  return u;
}

/** Retry-After as seconds (or an HTTP date), in ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Removes the URL (and its path, which is the secret) from any text before it is kept. */
function scrub(text: string, url: URL): string {
  let out = text.split(url.href).join(maskWebhookUrl(url.href));
  if (url.pathname.length > 1) out = out.split(url.pathname).join('/***');
  return out;
}

function describeCause(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  const cause = err?.cause;
  if (cause?.code) return `${cause.code}${cause.message && !cause.message.includes(cause.code) ? ` ${cause.message}` : ''}`;
  return cause?.message ?? err?.message ?? String(e);
}

interface Attempt {
  error?: SlackWebhookError;
  ok?: PostToSlackResult;
  /** Slack's wait, or our backoff when undefined */
  retryAfterMs?: number;
}

export async function postToSlack(webhookUrl: string, payload: unknown, opts: PostToSlackOptions = {}): Promise<PostToSlackResult> {
  const url = checkUrl(webhookUrl);
  const masked = maskWebhookUrl(webhookUrl);
  const maxAttempts = Math.max(1, opts.maxAttempts ?? DEFAULTS.maxAttempts);
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? defaultSleep;
  const random = opts.random ?? Math.random;
  const doFetch = opts.fetch ?? fetch;
  const started = now();
  const deadline = started + (opts.deadlineMs ?? DEFAULTS.deadlineMs);
  const body = JSON.stringify(payload);

  const attemptOnce = async (attempt: number): Promise<Attempt> => {
    const remaining = deadline - now();
    const timeout = AbortSignal.timeout(Math.max(1, Math.min(opts.attemptTimeoutMs ?? DEFAULTS.attemptTimeoutMs, remaining)));
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    let res: Response;
    let text: string;
    try {
      res = await doFetch(url, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body, signal, redirect: 'error' });
      text = await res.text();
    } catch (e) {
      if (opts.signal?.aborted) throw new DrydockError('ABORTED', `posting to Slack ${masked} was cancelled`, { cause: e });
      const timedOut = isAbort(e) || (e as Error)?.name === 'TimeoutError';
      const why = timedOut ? 'no answer in time' : scrub(describeCause(e), url);
      return { error: new SlackWebhookError('NETWORK', `posting to Slack ${masked}: ${why} (attempt ${attempt})`, { attempts: attempt }, { cause: e }) };
    }
    const slackText = scrub(text.trim().slice(0, 500), url);
    if (res.status >= 200 && res.status < 300) return { ok: { status: res.status, body: slackText, attempts: attempt } };
    const what = `Slack ${masked} answered ${res.status}${slackText ? ` ${JSON.stringify(slackText)}` : ''}`;
    if (res.status === 429) {
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), now());
      return { retryAfterMs: retryAfterMs ?? undefined, error: new SlackWebhookError('THROTTLED', `${what} (rate limited, attempt ${attempt})`, { status: 429, slackError: slackText, attempts: attempt, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }) };
    }
    if (res.status >= 500) return { error: new SlackWebhookError('SERVER_ERROR', `${what} (attempt ${attempt})`, { status: res.status, slackError: slackText, attempts: attempt }) };
    // Any other answer is Slack refusing this request as it is: retrying sends the same refusal.
    const code: ErrorCode = res.status === 401 ? 'UNAUTHORIZED' : res.status === 403 ? 'DENIED' : res.status === 404 || res.status === 410 ? 'CONFIG' : 'PARSE_ERROR';
    const hint =
      res.status === 404 || res.status === 410
        ? ': the webhook is revoked or its channel is gone; put a working webhook URL in the secret'
        : res.status === 403
          ? ': Slack refuses posts through this webhook'
          : res.status === 400
            ? ': Slack refused the message'
            : '';
    return { error: new SlackWebhookError(code, `${what}${hint}`, { status: res.status, slackError: slackText, attempts: attempt }, { kind: 'permanent' }) };
  };

  let last: SlackWebhookError | undefined;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const r = await attemptOnce(attempt);
    if (r.ok) return r.ok;
    last = r.error!;
    if (!last.retryable) throw last;
    if (attempt === maxAttempts) break;
    const exp = Math.min(opts.maxDelayMs ?? DEFAULTS.maxDelayMs, (opts.baseDelayMs ?? DEFAULTS.baseDelayMs) * 2 ** (attempt - 1));
    const delay = r.retryAfterMs ?? Math.round(exp / 2 + random() * (exp / 2));
    if (now() + delay >= deadline) {
      throw new SlackWebhookError(last.code, `${last.message}; giving up: the next try (in ${delay} ms) would pass the ${opts.deadlineMs ?? DEFAULTS.deadlineMs} ms deadline`, last.details, { cause: last.cause });
    }
    opts.onRetry?.({ attempt, delayMs: delay, code: last.code, ...(last.details.status !== undefined ? { status: last.details.status } : {}), message: last.message });
    try {
      await sleep(delay, opts.signal);
    } catch (e) {
      throw new DrydockError('ABORTED', `posting to Slack ${masked} was cancelled`, { cause: e });
    }
  }
  throw new SlackWebhookError(last!.code, `${last!.message}; gave up after ${maxAttempts} attempts`, last!.details, { cause: last!.cause });
}

/**
 * The secret's text → the webhook URL. The secret is the URL itself, or JSON with `webhookUrl`
 * (or `url`). A bad secret is a CONFIG error whose message never repeats the secret.
 */
export function webhookUrlFromSecret(secret: string): string {
  const s = secret.trim();
  if (s.startsWith('{')) {
    let data: unknown;
    try {
      data = JSON.parse(s);
    } catch {
      throw new DrydockError('CONFIG', 'the Slack webhook secret looks like JSON but does not parse');
    }
    const obj = data as Record<string, unknown>;
    const url = obj.webhookUrl ?? obj.url;
    if (typeof url !== 'string' || !url) throw new DrydockError('CONFIG', `the Slack webhook secret is JSON without a "webhookUrl" string (keys: ${Object.keys(obj).join(', ') || 'none'})`);
    checkUrl(url);
    return url;
  }
  checkUrl(s);
  return s;
}

/**
 * The webhook URL read through `read` (Secrets Manager on AWS), kept for `ttlMs` (default 10
 * minutes) per container; `invalidate()` after Slack says the webhook is gone makes the next
 * `get()` read the secret again (it may have been rotated).
 */
export class CachedWebhook {
  private value: { url: string; at: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly read: () => Promise<string>,
    private readonly ttlMs = 10 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  async get(): Promise<string> {
    if (this.value && this.now() - this.value.at < this.ttlMs) return this.value.url;
    this.pending ??= (async () => {
      try {
        const url = webhookUrlFromSecret(await this.read());
        this.value = { url, at: this.now() };
        return url;
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }

  invalidate(): void {
    this.value = undefined;
  }
}
