/**
 * A MOCK of Amazon EventBridge's PutEvents: a node:http server speaking the AWS JSON 1.1
 * protocol (`X-Amz-Target: AWSEvents.PutEvents`, `application/x-amz-json-1.1`) well enough for
 * the real SDK v3 EventBridgeClient. It records every request and the entries it accepted. It
 * matches no rule by itself; a delivery layer (test/support/template-stack.ts: the template's
 * rules, patterns and targets) can be plugged in with `onAccepted`, called for each accepted
 * entry before the answer. A delivery failure never fails PutEvents (EventBridge delivers after
 * accepting); it is recorded in `deliveryErrors`.
 *
 * Like EventBridge it refuses a request of more than 10 entries or more than 256 KiB (entry
 * sizes computed as AWS documents: Source + DetailType + Detail + Resources + 14 with a Time)
 * with a ValidationException, so a batching mistake fails the test. `failEntries` makes it
 * refuse chosen entries inside an accepted request (FailedEntryCount / per-entry ErrorCode),
 * as EventBridge does under throttling or internal failures.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { answer, listenLocal } from './aws-json.js';

export interface WireEntry {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  Resources?: string[];
  EventBusName?: string;
  /** epoch seconds on the wire */
  Time?: number;
}

export interface PutEventsRequestLog {
  entries: WireEntry[];
  /** size of the request as EventBridge counts it */
  size: number;
}

/** Decides per entry: undefined accepts it, an error refuses it. `request` counts from 1. */
export type EntryFailer = (entry: WireEntry, request: number, index: number) => { ErrorCode: string; ErrorMessage?: string } | undefined;

export interface FakeEventBridge {
  endpoint: string;
  requests: PutEventsRequestLog[];
  /** entries accepted, in order of acceptance */
  accepted: WireEntry[];
  failEntries(failer: EntryFailer | undefined): void;
  /** plug in rule matching and delivery (undefined: none); `id` is the EventId answered */
  onAccepted(deliver: ((entry: WireEntry, id: string) => Promise<void>) | undefined): void;
  deliveryErrors: Array<{ id: string; error: string }>;
  stop(): Promise<void>;
}

const LIMIT = 256 * 1024;

export function wireEntrySize(e: WireEntry): number {
  let size = e.Time !== undefined ? 14 : 0;
  size += Buffer.byteLength(e.Source ?? '') + Buffer.byteLength(e.DetailType ?? '');
  if (e.Detail) size += Buffer.byteLength(e.Detail);
  for (const r of e.Resources ?? []) size += Buffer.byteLength(r);
  return size;
}

export async function startFakeEventBridge(): Promise<FakeEventBridge> {
  const requests: PutEventsRequestLog[] = [];
  const accepted: WireEntry[] = [];
  let failer: EntryFailer | undefined;
  let deliver: ((entry: WireEntry, id: string) => Promise<void>) | undefined;
  const deliveryErrors: FakeEventBridge['deliveryErrors'] = [];

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((e: unknown) => answer(res, 500, { __type: 'InternalException', message: String(e) }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const target = req.headers['x-amz-target'];
    if (target !== 'AWSEvents.PutEvents') return answer(res, 400, { __type: 'UnknownOperationException', message: `the mock knows only PutEvents, not ${String(target)}` });
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { Entries?: WireEntry[] };
    const entries = body.Entries ?? [];
    const size = entries.reduce((n, e) => n + wireEntrySize(e), 0);
    requests.push({ entries, size });
    if (entries.length < 1 || entries.length > 10) {
      return answer(res, 400, { __type: 'ValidationException', message: `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10 (got ${entries.length})` });
    }
    if (size > LIMIT) return answer(res, 400, { __type: 'ValidationException', message: `Total size of the entries in the request is over the limit (${size} > ${LIMIT})` });
    let failed = 0;
    const delivered: Array<[WireEntry, string]> = [];
    const results = entries.map((e, i) => {
      const f = failer?.(e, requests.length, i);
      if (f) {
        failed++;
        return f;
      }
      accepted.push(e);
      const id = randomUUID();
      delivered.push([e, id]);
      return { EventId: id };
    });
    if (deliver) {
      for (const [e, id] of delivered) {
        try {
          await deliver(e, id);
        } catch (err) {
          deliveryErrors.push({ id, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
        }
      }
    }
    answer(res, 200, { FailedEntryCount: failed, Entries: results });
  }

  const endpoint = await listenLocal(server);
  return {
    endpoint,
    requests,
    accepted,
    failEntries(f) {
      failer = f;
    },
    onAccepted(d) {
      deliver = d;
    },
    deliveryErrors,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
