/**
 * SnsPublisher and EventBridgeBus with the real SDK v3 clients against MOCK servers (SNS and
 * EventBridge cannot run here; test/support/fake-sns.ts and fake-eventbridge.ts speak their wire
 * protocols for Publish and PutEvents only). What this proves: the requests the adapters make
 * are what the services expect (the real clients serialise them, the mocks parse them as the
 * services document), answers and errors are understood, limits are applied before sending,
 * and PutEvents' partial failures are retried. Fan-out, filter policies and rules are not
 * exercised.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SNSClient } from '@aws-sdk/client-sns';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EventBridgeBus, PUT_EVENTS_LIMIT, putEventsEntrySize } from '../../shared/adapters/aws/eventbridge-bus.js';
import { SnsPublisher } from '../../shared/adapters/aws/sns-publisher.js';
import { MemoryBus, MemoryPublisher } from '../../shared/adapters/local/memory-messaging.js';
import { DrydockError } from '../../shared/errors.js';
import type { RetryOptions } from '../../shared/image/retry.js';
import type { BusEvent } from '../../shared/ports/stores.js';
import { startFakeEventBridge, type FakeEventBridge } from '../support/fake-eventbridge.js';
import { startFakeSns, type FakeSns } from '../support/fake-sns.js';

const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'drydock', secretAccessKey: 'drydock' };
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:drydock-scan-results';
const FAST: RetryOptions = { attempts: 4, baseDelayMs: 5, maxDelayMs: 50 };

let sns: FakeSns;
let events: FakeEventBridge;
let snsClient: SNSClient;
let ebClient: EventBridgeClient;

beforeAll(async () => {
  sns = await startFakeSns();
  events = await startFakeEventBridge();
  snsClient = new SNSClient({ endpoint: sns.endpoint, region: REGION, credentials: CREDENTIALS });
  ebClient = new EventBridgeClient({ endpoint: events.endpoint, region: REGION, credentials: CREDENTIALS });
});

afterAll(async () => {
  snsClient?.destroy();
  ebClient?.destroy();
  await sns?.stop();
  await events?.stop();
});

afterEach(() => {
  sns.published.length = 0;
  sns.actions.length = 0;
  events.requests.length = 0;
  events.accepted.length = 0;
  events.failEntries(undefined);
});

describe('SnsPublisher (mock SNS)', () => {
  it('(mock SNS) the message and its attributes arrive as sent', async () => {
    const p = new SnsPublisher(snsClient, TOPIC);
    const message = { schema: 'drydock.result/1', status: 'fail', image: { repository: 'team/app', digest: 'sha256:abc' }, counts: { critical: 1 }, note: 'ünïcode & <xml>' };
    const attributes = { status: 'fail', highestSeverity: 'critical', repository: 'team/app', changed: 'true' };
    const { messageId } = await p.publish(message, attributes);
    expect(sns.published).toHaveLength(1);
    const got = sns.published[0]!;
    expect(got.topicArn).toBe(TOPIC);
    expect(JSON.parse(got.message)).toEqual(message);
    expect(got.attributes).toEqual(attributes);
    // the id is the one the service answered, parsed by the real client from the XML
    expect(messageId).toBe(got.messageId);
  });

  it('(mock SNS) a message over 256 KiB with its attributes is LIMIT_EXCEEDED and not sent', async () => {
    const p = new SnsPublisher(snsClient, TOPIC);
    const err = await p.publish({ pad: 'x'.repeat(300 * 1024) }, { status: 'fail' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrydockError);
    expect(err).toMatchObject({ code: 'LIMIT_EXCEEDED', kind: 'permanent' });
    // fits alone, not with its attributes: SNS counts both
    const text = 'y'.repeat(256 * 1024 - 8);
    await expect(p.publish(text, { status: 'fail' })).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    expect(sns.actions).toEqual([]);
    await p.publish(text, {});
    expect(sns.published[0]!.message).toBe(text);
  });

  it('(mock SNS) persistent 500s are a retryable SERVER_ERROR after the SDK\'s retries; a refusal is permanent', async () => {
    const p = new SnsPublisher(snsClient, TOPIC);
    sns.failNext({ status: 500, code: 'InternalError', message: 'boom' }, 3);
    const err = await p.publish({ a: 1 }, { status: 'pass' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrydockError);
    expect(err).toMatchObject({ code: 'SERVER_ERROR', kind: 'retryable' });
    expect(sns.actions).toEqual(['Publish', 'Publish', 'Publish']);

    sns.failNext({ status: 404, code: 'NotFound', message: 'Topic does not exist' });
    const notFound = await p.publish({ a: 1 }, {}).catch((e: unknown) => e);
    expect(notFound).toMatchObject({ kind: 'permanent' });
    expect((notFound as Error).message).toMatch(/Topic does not exist/);
    expect(sns.published).toEqual([]);
  });

  it('(mock SNS) throttling is a retryable THROTTLED', async () => {
    const p = new SnsPublisher(snsClient, TOPIC);
    sns.failNext({ status: 429, code: 'Throttled', message: 'Rate exceeded' }, 3);
    await expect(p.publish({ a: 1 }, {})).rejects.toMatchObject({ code: 'THROTTLED', kind: 'retryable' });
  });
});

function ev(i: number, detail: unknown = { i }): BusEvent {
  return { source: 'drydock.feed-sync', detailType: 'Advisories Updated', detail };
}

describe('EventBridgeBus (mock EventBridge)', () => {
  it('(mock EventBridge) 25 entries go as 3 requests of 10, 10 and 5, all accepted', async () => {
    const bus = new EventBridgeBus(ebClient, 'drydock-bus', { retry: FAST, sleep: async () => {} });
    const list = Array.from({ length: 25 }, (_, i) => ev(i, { packageKeys: [`deb:12/openssl-${i}`] }));
    expect(await bus.put(list)).toEqual({ failed: 0 });
    expect(events.requests.map((r) => r.entries.length)).toEqual([10, 10, 5]);
    expect(events.accepted).toHaveLength(25);
    expect(events.accepted.map((e) => JSON.parse(e.Detail!))).toEqual(list.map((e) => e.detail));
    for (const e of events.accepted) {
      expect(e).toMatchObject({ EventBusName: 'drydock-bus', Source: 'drydock.feed-sync', DetailType: 'Advisories Updated' });
      expect(typeof e.Time).toBe('number');
    }
  });

  it('(mock EventBridge) a batch too large for one request is split by size, Time\'s 14 bytes included', async () => {
    const bus = new EventBridgeBus(ebClient, 'drydock-bus', { retry: FAST, sleep: async () => {} });
    // Two entries that fit one request only if the 14 bytes AWS counts for Time are forgotten.
    const half = PUT_EVENTS_LIMIT / 2;
    const base = putEventsEntrySize({ Source: 'drydock.feed-sync', DetailType: 'Advisories Updated', Detail: '{"pad":""}' });
    const pad = 'p'.repeat(half - base - 7);
    const big = [ev(0, { pad }), ev(1, { pad })];
    expect(await bus.put(big)).toEqual({ failed: 0 });
    expect(events.requests.map((r) => r.entries.length)).toEqual([1, 1]);

    events.requests.length = 0;
    // 100 KiB entries: two per request
    const list = Array.from({ length: 5 }, (_, i) => ev(i, { pad: 'q'.repeat(100 * 1024) }));
    expect(await bus.put(list)).toEqual({ failed: 0 });
    expect(events.requests.map((r) => r.entries.length)).toEqual([2, 2, 1]);
    for (const r of events.requests) expect(r.size).toBeLessThanOrEqual(PUT_EVENTS_LIMIT);
  });

  it('(mock EventBridge) an entry over 256 KiB alone is LIMIT_EXCEEDED before anything is sent', async () => {
    const bus = new EventBridgeBus(ebClient, 'drydock-bus');
    const err = await bus.put([ev(0), ev(1, { pad: 'z'.repeat(PUT_EVENTS_LIMIT) })]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrydockError);
    expect(err).toMatchObject({ code: 'LIMIT_EXCEEDED', kind: 'permanent' });
    expect(events.requests).toEqual([]);
  });

  it('(mock EventBridge) entries refused for a passing reason are retried, only those, in order', async () => {
    const waits: number[] = [];
    const bus = new EventBridgeBus(ebClient, 'drydock-bus', { retry: FAST, sleep: async (ms) => void waits.push(ms) });
    events.failEntries((_e, request, index) => (request === 1 && (index === 1 || index === 3) ? { ErrorCode: 'InternalFailure', ErrorMessage: 'try again' } : undefined));
    const list = Array.from({ length: 6 }, (_, i) => ev(i));
    expect(await bus.put(list)).toEqual({ failed: 0 });
    expect(events.requests.map((r) => r.entries.map((e) => (JSON.parse(e.Detail!) as { i: number }).i))).toEqual([[0, 1, 2, 3, 4, 5], [1, 3]]);
    expect(waits).toHaveLength(1);
    expect(events.accepted.map((e) => (JSON.parse(e.Detail!) as { i: number }).i).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    // the retried entries kept their original time
    const times = new Set(events.requests.flatMap((r) => r.entries.map((e) => e.Time)));
    expect(times.size).toBe(1);
  });

  it('(mock EventBridge) refusals that will not change are not retried; what never got through is counted', async () => {
    const bus = new EventBridgeBus(ebClient, 'drydock-bus', { retry: FAST, sleep: async () => {} });
    events.failEntries((e) => {
      const i = (JSON.parse(e.Detail!) as { i: number }).i;
      if (i === 0) return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
      if (i === 2) return { ErrorCode: 'ThrottlingException' };
      return undefined;
    });
    expect(await bus.put([ev(0), ev(1), ev(2)])).toEqual({ failed: 2 });
    // first request with all three, then only the throttled one until the attempts run out
    expect(events.requests.map((r) => r.entries.length)).toEqual([3, 1, 1, 1]);
    expect(events.accepted).toHaveLength(1);
  });

  it('(mock EventBridge) a whole-request failure is thrown through awsError', async () => {
    const bus = new EventBridgeBus(new EventBridgeClient({ endpoint: 'http://127.0.0.1:1', region: REGION, credentials: CREDENTIALS, maxAttempts: 1 }), 'drydock-bus');
    await expect(bus.put([ev(0)])).rejects.toMatchObject({ code: 'NETWORK', kind: 'retryable' });
  });
});

describe('MemoryPublisher and MemoryBus (the in-process stand-ins)', () => {
  it('MemoryPublisher records a JSON copy of each message with its attributes and a distinct id', async () => {
    const p = new MemoryPublisher();
    const message = { status: 'fail', at: new Date('2026-01-01T00:00:00Z') };
    const attributes = { status: 'fail' };
    const a = await p.publish(message, attributes);
    message.status = 'pass';
    attributes.status = 'pass';
    const b = await p.publish({ status: 'warn' }, {});
    expect(a.messageId).not.toBe(b.messageId);
    expect(p.messages.map((m) => [m.message, m.attributes])).toEqual([
      [{ status: 'fail', at: '2026-01-01T00:00:00.000Z' }, { status: 'fail' }],
      [{ status: 'warn' }, {}],
    ]);
  });

  it('MemoryBus records the events it was given', async () => {
    const bus = new MemoryBus();
    expect(await bus.put([ev(0), ev(1)])).toEqual({ failed: 0 });
    expect(bus.events).toEqual([ev(0), ev(1)]);
  });
});
