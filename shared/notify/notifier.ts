/**
 * The Slack notifier's core: results → Block Kit (shared/report/slack.ts; more than
 * `summaryThreshold` results at once → one summary, never a flood) → the incoming webhook
 * (./slack.ts: 429 Retry-After, backoff on 5xx and network faults). The webhook URL comes from a
 * secret (cached per container for 10 minutes, read again at once when Slack answers
 * 403/404/410: a rotated webhook) and is never logged. "Full report" links are pre-signed GETs
 * of the HTML report beside the result's JSON report. A message that cannot be posted makes
 * `notify` throw, so the caller's retries and dead-letter queue keep it; results this container
 * already posted are not posted again on such a retry.
 */
import { DrydockError, isDrydockError } from '../errors.js';
import { silentLog, type PipelineLog } from '../pipeline/deps.js';
import type { ResultMessage } from '../pipeline/messages.js';
import { htmlReportKey } from '../pipeline/deps.js';
import { consoleUrlFor, slackMessage, slackSummary, type SlackPayload } from '../report/slack.js';
import { CachedWebhook, postToSlack, SlackWebhookError, type PostToSlackOptions } from './slack.js';

/** S3 SigV4 pre-signed URLs live at most 7 days. */
export const MAX_REPORT_URL_TTL_SECONDS = 604_800;

export interface NotifierConfig {
  webhookSecretArn: string;
  /** where the reports are; unset: no report links */
  bucket?: string;
  reportUrlTtlSeconds: number;
  /** a console link template ({registry} {repository} {digest} {tag} {resultId}) */
  consoleUrl?: string;
  /** more results than this in one invocation → one summary message */
  summaryThreshold: number;
  maxAttempts: number;
  /** time budget of one post, retries included */
  postDeadlineMs: number;
}

/** The configuration from the environment, every problem listed at once. */
export function notifierConfig(env: NodeJS.ProcessEnv): NotifierConfig {
  const problems: string[] = [];
  const int = (name: string, dflt: number, min: number, max: number): number => {
    const raw = env[name]?.trim();
    if (!raw) return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: an integer from ${min} to ${max}`);
      return dflt;
    }
    return n;
  };
  const webhookSecretArn = env.DRYDOCK_SLACK_WEBHOOK_SECRET_ARN?.trim() ?? '';
  if (!webhookSecretArn) problems.push('DRYDOCK_SLACK_WEBHOOK_SECRET_ARN is not set (the Secrets Manager secret holding the Slack webhook URL)');
  const consoleUrl = env.DRYDOCK_CONSOLE_URL?.trim() || undefined;
  if (consoleUrl && !/^https?:\/\/[^/\s]+/i.test(consoleUrl)) problems.push(`DRYDOCK_CONSOLE_URL=${JSON.stringify(consoleUrl)}: an http(s) URL (placeholders {registry} {repository} {digest} {tag} {resultId})`);
  const config: NotifierConfig = {
    webhookSecretArn,
    reportUrlTtlSeconds: int('DRYDOCK_REPORT_URL_TTL_SECONDS', MAX_REPORT_URL_TTL_SECONDS, 1, MAX_REPORT_URL_TTL_SECONDS),
    summaryThreshold: int('DRYDOCK_SLACK_SUMMARY_THRESHOLD', 5, 1, 1000),
    maxAttempts: int('DRYDOCK_SLACK_MAX_ATTEMPTS', 4, 1, 10),
    postDeadlineMs: int('DRYDOCK_SLACK_DEADLINE_SECONDS', 30, 1, 900) * 1000,
  };
  const bucket = env.DRYDOCK_BUCKET?.trim();
  if (bucket) config.bucket = bucket;
  if (consoleUrl) config.consoleUrl = consoleUrl;
  if (problems.length) throw new DrydockError('CONFIG', `slack-notifier configuration: ${problems.join('; ')}`);
  return config;
}

/** Reads the secret's text (Secrets Manager on AWS). */
export type SecretReader = (secretArn: string) => Promise<string>;
/** A GET URL of `key` in `bucket`, valid `ttlSeconds`. */
export type Presigner = (bucket: string, key: string, ttlSeconds: number) => Promise<string>;

export interface NotifierDeps {
  config: NotifierConfig;
  readSecret: SecretReader;
  presign: Presigner;
  log?: PipelineLog;
  /** passed to every post (tests shorten the backoff) */
  postOptions?: Omit<PostToSlackOptions, 'signal'>;
  /** stop posting this long before the Lambda deadline (default 2 s) */
  deadlineMarginMs?: number;
}

export interface NotifyOutcome {
  /** messages posted to Slack */
  posted: number;
  /** records skipped: invalid (poison) or already posted by this container */
  skipped: number;
  summary: boolean;
}

export interface Notifier {
  notify(results: ReadonlyArray<{ result: ResultMessage; messageId: string }>, context: { getRemainingTimeInMillis(): number }, alreadySkipped?: number): Promise<NotifyOutcome>;
}

/** What this container has posted lately (an async retry after a partial failure skips these). */
class RecentlyPosted {
  private readonly seen = new Map<string, number>();
  constructor(private readonly ttlMs = 6 * 3600_000, private readonly max = 2000) {}
  has(key: string): boolean {
    const at = this.seen.get(key);
    return at !== undefined && Date.now() - at < this.ttlMs;
  }
  add(key: string): void {
    this.seen.set(key, Date.now());
    while (this.seen.size > this.max) this.seen.delete(this.seen.keys().next().value!);
  }
}

export function createNotifier(deps: NotifierDeps): Notifier {
  const { config } = deps;
  const logger = deps.log ?? silentLog;
  const webhook = new CachedWebhook(() => deps.readSecret(config.webhookSecretArn));
  const recent = new RecentlyPosted();
  const margin = deps.deadlineMarginMs ?? 2000;

  const reportUrl = async (r: ResultMessage): Promise<string | undefined> => {
    if (!config.bucket || !r.reportKey) return undefined;
    try {
      return await deps.presign(config.bucket, htmlReportKey(r.reportKey), config.reportUrlTtlSeconds);
    } catch (e) {
      // The message is worth more than its link: post it without one.
      logger.warn('could not pre-sign the report link', { resultId: r.resultId, error: (e as Error).message });
      return undefined;
    }
  };

  const post = async (payload: SlackPayload, context: { getRemainingTimeInMillis(): number }): Promise<void> => {
    const budget = () => Math.max(1000, Math.min(config.postDeadlineMs, context.getRemainingTimeInMillis() - margin));
    const options = (): PostToSlackOptions => ({
      maxAttempts: config.maxAttempts,
      ...deps.postOptions,
      deadlineMs: budget(),
      onRetry: (r) => logger.warn('Slack post retried', { attempt: r.attempt, delayMs: r.delayMs, code: r.code, status: r.status, error: r.message }),
    });
    const url = await webhook.get();
    try {
      await postToSlack(url, payload, options());
    } catch (e) {
      if (!(e instanceof SlackWebhookError) || !e.webhookRejected) throw e;
      // Revoked or moved: the secret may have been rotated since it was cached.
      webhook.invalidate();
      const fresh = await webhook.get();
      if (fresh === url) throw e;
      logger.info('the webhook secret changed; posting with the new webhook');
      await postToSlack(fresh, payload, options());
    }
  };

  /** Posts the results: one message each, or one summary when there are more than the threshold. */
  const notify = async (results: ReadonlyArray<{ result: ResultMessage; messageId: string }>, context: { getRemainingTimeInMillis(): number }, alreadySkipped = 0): Promise<NotifyOutcome> => {
    let skipped = alreadySkipped;
    const fresh = results.filter(({ result }) => !recent.has(`result:${result.resultId}:${result.status}`));
    skipped += results.length - fresh.length;
    if (results.length !== fresh.length) logger.info('results already posted by this container skipped', { count: results.length - fresh.length });
    if (fresh.length === 0) return { posted: 0, skipped, summary: false };

    const jobs: Array<{ key: string[]; ids: string[]; build: () => Promise<SlackPayload> }> = [];
    const summary = fresh.length > config.summaryThreshold;
    if (summary) {
      const list = fresh.map((f) => f.result);
      jobs.push({
        key: list.map((r) => `result:${r.resultId}:${r.status}`),
        ids: list.map((r) => r.resultId),
        build: async () => {
          const urls = new Map<string, string | undefined>();
          for (const r of list) urls.set(r.resultId, await reportUrl(r));
          return slackSummary(list, { reportUrl: (r) => urls.get(r.resultId), ...(config.consoleUrl && !/\{/.test(config.consoleUrl) ? { consoleUrl: config.consoleUrl } : {}) });
        },
      });
    } else {
      for (const { result } of fresh) {
        jobs.push({
          key: [`result:${result.resultId}:${result.status}`],
          ids: [result.resultId],
          build: async () => {
            const url = await reportUrl(result);
            const consoleUrl = consoleUrlFor(config.consoleUrl, result);
            return slackMessage(result, { ...(url ? { reportUrl: url } : {}), ...(consoleUrl ? { consoleUrl } : {}) });
          },
        });
      }
    }

    let posted = 0;
    const failures: Array<{ ids: string[]; error: unknown }> = [];
    for (const job of jobs) {
      try {
        await post(await job.build(), context);
        posted++;
        for (const k of job.key) recent.add(k);
        logger.info('posted to Slack', { resultIds: job.ids, summary });
      } catch (e) {
        failures.push({ ids: job.ids, error: e });
        logger.error('could not post to Slack', { resultIds: job.ids, error: isDrydockError(e) ? e.toJSON() : (e as Error).message });
      }
    }
    if (failures.length) {
      const first = failures[0]!.error;
      const code = isDrydockError(first) ? first.code : 'NETWORK';
      // Thrown so that Lambda's async retries, then the function's DLQ, keep the message.
      throw new DrydockError(code, `${failures.length} of ${jobs.length} Slack messages not posted (results ${failures.flatMap((f) => f.ids).join(', ')}): ${(first as Error).message}`, { cause: first, kind: isDrydockError(first) ? first.kind : 'retryable' });
    }
    return { posted, skipped, summary };
  };

  return { notify };
}

