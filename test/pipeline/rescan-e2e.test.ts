/**
 * Step 7 end to end on the local stack (DynamoDB Local, s3rver, local-aws-sqs, the registry;
 * stand-ins for SNS, EventBridge and the Lambda runtime; a real local HTTP server serving OSV
 * all.zip files): two images analysed; a new advisory for a package of one of them is synced →
 * exactly that image is re-evaluated → exactly one result is published → exactly one Slack
 * message reaches a real local HTTP server standing in for Slack, its report link opening the
 * HTML report; the same feed again sends nothing.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { Context, EventBridgeEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdvisoriesUpdated } from '../../shared/pipeline/feed-sync.js';
import type { ResultMessage } from '../../shared/pipeline/messages.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';
import { S3Client } from '@aws-sdk/client-s3';
import { createHandler } from '../../functions/slack-notifier/handler.js';
import { s3Presigner } from '../../shared/adapters/aws/notifier-readers.js';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { osvRecord, startOsvServer, type OsvServer } from '../support/osv-server.js';
import { lambdaContext, startLocalStack, type LocalStack, type SqsHandler } from './local-stack.js';
import { pushEvent, pushImage } from './support.js';

let stack: LocalStack;
let osv: OsvServer;
let slack: FakeSlack;
let analyzer: SqsHandler;
let evaluator: SqsHandler;
let feedSync: (e: unknown, c: Context) => Promise<{ ecosystems: Array<{ status: string; changedKeys: number; events: number }> }>;
let rescan: (e: EventBridgeEvent<string, unknown>, c: Context) => Promise<{ images: number; itemsRead: number; jobs: number }>;
const saved = { ...process.env };
const digests: Record<'web' | 'worker', string> = { web: '', worker: '' };

beforeAll(async () => {
  [stack, osv, slack] = await Promise.all([startLocalStack('feeds'), startOsvServer(), startFakeSlack()]);
  osv.set('Debian', [osvRecord('DEBIAN-CVE-2099-1000', 'Debian:12', 'zlib', '1:1.2.13.dfsg-1+deb12u1')]);
  // two images: "web" has curl, "worker" does not; both have zlib
  const zlib = stanza('zlib1g', '1:1.2.13.dfsg-1', { Source: 'zlib' });
  digests.web = await pushImage(stack.work, stack.registry.host, 'web', [
    { files: [{ path: 'etc/os-release', content: OS_RELEASE_12 }, { path: 'var/lib/dpkg/status', content: statusFile(zlib, stanza('libcurl4', '7.88.1-10+deb12u5', { Source: 'curl' })) }] },
  ], 'team/web');
  digests.worker = await pushImage(stack.work, stack.registry.host, 'worker', [
    { files: [{ path: 'etc/os-release', content: OS_RELEASE_12 }, { path: 'var/lib/dpkg/status', content: statusFile(zlib) }] },
  ], 'team/worker');
  Object.assign(process.env, stack.env, { DRYDOCK_OSV_ECOSYSTEMS: 'Debian', DRYDOCK_OSV_URL: osv.url, DRYDOCK_EVENT_BUS_NAME: 'default' });
  analyzer = (await import('../../functions/analyzer/handler.js')).handler as unknown as SqsHandler;
  evaluator = (await import('../../functions/evaluator/handler.js')).handler as unknown as SqsHandler;
  feedSync = (await import('../../functions/feed-sync/handler.js')).handler as never;
  rescan = (await import('../../functions/rescan/handler.js')).handler as never;
}, 120_000);

afterAll(async () => {
  process.env = saved;
  await Promise.all([stack?.stop(), osv?.stop(), slack?.stop()]);
});

/** What EventBridge would deliver to the rescan rule's target for each accepted entry. */
function deliveredEvents(from: number): Array<EventBridgeEvent<string, AdvisoriesUpdated>> {
  return stack.eventBridge.accepted.slice(from).map((e, i) => ({
    version: '0', id: `evt-${from + i}`, 'detail-type': e.DetailType!, source: e.Source!, account: '000000000000',
    time: new Date().toISOString(), region: 'us-east-1', resources: [], detail: JSON.parse(e.Detail!) as AdvisoriesUpdated,
  }));
}

async function drain(): Promise<void> {
  for (;;) {
    const a = await stack.poll(stack.queues.scan, analyzer, 'analyzer');
    const e = await stack.poll(stack.queues.evaluate, evaluator, 'evaluator');
    if (a.records === 0 && e.records === 0) return;
  }
}

describe('feed update → rescan of exactly the affected image → one published result (local servers; SNS, EventBridge and the Lambda runtime mocked)', () => {
  it('runs the whole loop, and a second sync of the same feed sends nothing', async () => {
    // the first feed sync fills the advisories table (zlib, both images: nothing indexed yet)
    const first = await feedSync({}, lambdaContext('drydock-feed-sync', 900_000));
    expect(first.ecosystems).toEqual([expect.objectContaining({ status: 'updated', changedKeys: 1, events: 1 })]);
    const accepted = stack.eventBridge.accepted.length;

    for (const [name, digest] of Object.entries(digests)) {
      await stack.sqs.admin.send(new SendMessageCommand({ QueueUrl: stack.queues.scan, MessageBody: JSON.stringify(pushEvent(digest, name, `team/${name}`)) }));
    }
    await drain();
    const firstResults = stack.sns.published.map((p) => JSON.parse(p.message) as ResultMessage);
    expect(firstResults.map((r) => r.image.repository).sort()).toEqual(['team/web', 'team/worker']);
    expect(firstResults.every((r) => r.topFindings?.some((f) => f.id === 'DEBIAN-CVE-2099-1000'))).toBe(true);

    // a new advisory for curl appears in the feed
    osv.set('Debian', [
      osvRecord('DEBIAN-CVE-2099-1000', 'Debian:12', 'zlib', '1:1.2.13.dfsg-1+deb12u1'),
      osvRecord('DEBIAN-CVE-2099-2000', 'Debian:12', 'curl', '7.88.1-10+deb12u8', '2026-11-23T08:00:00Z', { aliases: ['CVE-2099-2000'], database_specific: { severity: 'HIGH' } }),
    ]);
    const second = await feedSync({}, lambdaContext('drydock-feed-sync', 900_000));
    expect(second.ecosystems).toEqual([expect.objectContaining({ status: 'updated', changedKeys: 1, events: 1 })]);
    const events = deliveredEvents(accepted);
    expect(events.map((e) => e.detail.keys)).toEqual([[{ ecosystem: 'Debian:12', name: 'curl' }]]);

    const rescans = [];
    for (const e of events) rescans.push(await rescan(e, lambdaContext('drydock-rescan')));
    expect(rescans).toEqual([{ keys: 1, itemsRead: 1, images: 1, jobs: 1 }]);
    const published = stack.sns.published.length;
    const ev = await stack.poll(stack.queues.evaluate, evaluator, 'evaluator');
    expect(ev).toMatchObject({ records: 1, response: { batchItemFailures: [] } });
    expect(stack.sns.published.length).toBe(published + 1);
    const msg = JSON.parse(stack.sns.published.at(-1)!.message) as ResultMessage;
    expect(msg.image).toMatchObject({ digest: digests.web, repository: 'team/web' });
    expect(msg).toMatchObject({ changed: true, reason: expect.stringMatching(/^rescan:Debian@/) });
    expect(msg.newFindings).toEqual([expect.objectContaining({ id: 'CVE-2099-2000', package: 'libcurl4', fixedIn: '7.88.1-10+deb12u8' })]);
    expect(stack.sns.published.at(-1)!.attributes).toMatchObject({ repository: 'team/web', changed: 'true' });

    // SNS delivers what was published since the feed update to the Slack notifier
    const notifier = createHandler({
      config: { webhookSecretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:drydock/slack', bucket: stack.s3.bucket, reportUrlTtlSeconds: 3600, summaryThreshold: 5, maxAttempts: 2, postDeadlineMs: 10_000 },
      readSecret: async () => JSON.stringify({ webhookUrl: slack.url }),
      presign: s3Presigner(new S3Client(stack.s3.clientConfig)),
    });
    const snsEvent = (from: number) => ({ Records: stack.sns.published.slice(from).map((p, i) => ({ EventSource: 'aws:sns', EventVersion: '1.0', EventSubscriptionArn: `${p.topicArn}:sub`, Sns: { Type: 'Notification', MessageId: p.messageId || `m${i}`, TopicArn: p.topicArn, Subject: null, Message: p.message, Timestamp: new Date().toISOString(), MessageAttributes: {} } })) });
    const out = await notifier(snsEvent(published) as never, lambdaContext('drydock-slack-notifier'));
    expect(out).toEqual({ posted: 1, skipped: 0, summary: false });
    expect(slack.accepted).toHaveLength(1);
    const payload = JSON.stringify(slack.accepted[0]);
    for (const want of ['team/web', 'CVE-2099-2000', 'libcurl4', '7.88.1-10+deb12u8']) expect(payload).toContain(want);
    const link = /"url":"(http:\/\/127\.0\.0\.1:\d+\/[^"]+\.html[^"]*)"/.exec(payload)?.[1];
    expect(link, 'a pre-signed link to the HTML report').toBeDefined();
    const page = await fetch(link!);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('CVE-2099-2000');
    expect(html).toMatch(/<html/i);

    // the same feed again: one conditional request, no event, no evaluation, nothing published
    const third = await feedSync({}, lambdaContext('drydock-feed-sync', 900_000));
    expect(third.ecosystems).toEqual([expect.objectContaining({ status: 'unchanged', events: 0 })]);
    expect(osv.requests.at(-1)).toMatchObject({ status: 304 });
    expect(deliveredEvents(accepted + events.length)).toEqual([]);
    expect((await stack.poll(stack.queues.evaluate, evaluator, 'evaluator')).records).toBe(0);
    expect(stack.sns.published.length).toBe(published + 1);
    expect(slack.requests).toHaveLength(1);
  }, 120_000);
});
