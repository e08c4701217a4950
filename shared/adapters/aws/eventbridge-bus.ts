/**
 * EventBus on Amazon EventBridge ("Advisories Updated" from feed-sync, read by the rescan rule).
 *
 * PutEvents takes at most 10 entries and 256 KiB per request, sized the way AWS documents it
 * ("Calculating PutEvents event entry size"): the UTF-8 bytes of Source, DetailType, Detail and
 * each Resource, plus 14 when Time is set. Entries are packed greedily within both limits. An
 * entry over the limit alone can never be sent: that is a permanent LIMIT_EXCEEDED, raised
 * before any request so a caller never publishes half a change set and then fails.
 *
 * PutEvents is not all-or-nothing: FailedEntryCount says how many entries were refused, and the
 * answer's Entries (same order as the request) say which and why. Those refused for a passing
 * reason (internal failure, throttling) are sent again with backoff; refusals that will not
 * change (malformed detail, not authorised) are not retried. What still failed after the last
 * attempt is counted in the returned `failed`, for the caller to log, alarm on or throw.
 *
 * Each entry carries Time = when put() was called, so an entry sent on a retry keeps the time
 * the change happened, not the time the retry got through.
 */
import { PutEventsCommand, type EventBridgeClient, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { DrydockError } from '../../errors.js';
import { DEFAULT_RETRY, backoffDelay, realSleep, type RetryOptions, type Sleep } from '../../image/retry.js';
import type { BusEvent, EventBus } from '../../ports/stores.js';
import { awsError } from './errors.js';

/** PutEvents' request size limit, in bytes (entry sizes as computed by putEventsEntrySize). */
export const PUT_EVENTS_LIMIT = 256 * 1024;
/** PutEvents' entry count limit. */
export const PUT_EVENTS_ENTRIES = 10;

/** Entry error codes that will not change on retry. */
const PERMANENT_ENTRY_ERRORS = new Set([
  'MalformedDetail',
  'InvalidArgument',
  'ValidationException',
  'AccessDeniedException',
  'NotAuthorizedForSourceException',
  'NotAuthorizedForDetailTypeException',
]);

export interface EventBridgeBusOptions {
  /** attempts and backoff for entries a request reports as failed */
  retry?: RetryOptions;
  /** injectable so tests do not wait */
  sleep?: Sleep;
  /** the events' Time (default: the clock) */
  now?: () => Date;
}

/** The size AWS counts for one PutEvents entry. */
export function putEventsEntrySize(entry: PutEventsRequestEntry): number {
  let size = 0;
  if (entry.Time) size += 14;
  size += Buffer.byteLength(entry.Source ?? '');
  size += Buffer.byteLength(entry.DetailType ?? '');
  if (entry.Detail) size += Buffer.byteLength(entry.Detail);
  for (const r of entry.Resources ?? []) size += Buffer.byteLength(r);
  return size;
}

export class EventBridgeBus implements EventBus {
  private readonly retry: RetryOptions;
  private readonly sleep: Sleep;
  private readonly now: () => Date;

  constructor(
    private readonly client: EventBridgeClient,
    readonly busName: string,
    opts: EventBridgeBusOptions = {},
  ) {
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.sleep = opts.sleep ?? realSleep;
    this.now = opts.now ?? (() => new Date());
  }

  async put(events: readonly BusEvent[]): Promise<{ failed: number }> {
    const time = this.now();
    const entries = events.map((e, i): { entry: PutEventsRequestEntry; size: number } => {
      // Detail must be a JSON object; a string is taken as one already serialised.
      const detail = typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail ?? {});
      const entry: PutEventsRequestEntry = { EventBusName: this.busName, Source: e.source, DetailType: e.detailType, Detail: detail, Time: time };
      const size = putEventsEntrySize(entry);
      if (size > PUT_EVENTS_LIMIT) {
        throw new DrydockError('LIMIT_EXCEEDED', `event ${i} (${e.detailType}) for bus ${this.busName} is ${size} bytes; PutEvents takes at most ${PUT_EVENTS_LIMIT}: put the payload in S3 and send its key`);
      }
      return { entry, size };
    });
    let failed = 0;
    let batch: PutEventsRequestEntry[] = [];
    let batchBytes = 0;
    for (const { entry, size } of entries) {
      if (batch.length === PUT_EVENTS_ENTRIES || (batch.length > 0 && batchBytes + size > PUT_EVENTS_LIMIT)) {
        failed += await this.putBatch(batch);
        batch = [];
        batchBytes = 0;
      }
      batch.push(entry);
      batchBytes += size;
    }
    if (batch.length) failed += await this.putBatch(batch);
    return { failed };
  }

  /** Sends one batch, retrying the entries refused for a passing reason; returns how many still failed. */
  private async putBatch(batch: PutEventsRequestEntry[]): Promise<number> {
    let pending = batch;
    let permanent = 0;
    const attempts = Math.max(1, Math.floor(this.retry.attempts));
    for (let attempt = 1; ; attempt++) {
      let res;
      try {
        res = await this.client.send(new PutEventsCommand({ Entries: pending }));
      } catch (e) {
        throw awsError(e, `EventBridge PutEvents to ${this.busName}`);
      }
      if (!res.FailedEntryCount) return permanent;
      const retry: PutEventsRequestEntry[] = [];
      pending.forEach((entry, i) => {
        const r = res.Entries?.[i];
        // The answer lists one result per entry, in order; a missing result is not a success.
        if (r?.EventId && !r.ErrorCode) return;
        if (r?.ErrorCode && PERMANENT_ENTRY_ERRORS.has(r.ErrorCode)) permanent++;
        else retry.push(entry);
      });
      if (!retry.length || attempt >= attempts) return permanent + retry.length;
      pending = retry;
      await this.sleep(backoffDelay(attempt, this.retry));
    }
  }
}
