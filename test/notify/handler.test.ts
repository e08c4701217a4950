/**
 * The slack-notifier Lambda handler end to end (middy + Powertools Logger, as deployed) with
 * the fake Slack webhook and an injected secret reader and presigner: one result → one post
 * with its blocks and report link; eight → one summary; poison messages skipped; Slack down →
 * the invocation throws (Lambda's async retry / DLQ); a rotated webhook re-read on 404.
 * Also the sample event events/slack-notifier-sns-result.json against the SNS fixture's shape.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SNSEvent, SNSEventRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, MAX_REPORT_URL_TTL_SECONDS, notifierConfig, s3Presigner, secretsManagerReader, type NotifierConfig, type Presigner } from '../../functions/slack-notifier/handler.js';
import { schemaErrors, type ResultMessage } from '../../shared/pipeline/messages.js';
import type { SlackPayload } from '../../shared/report/slack.js';
import { blockKitProblems, startFakeSlack, type FakeSlack } from '../support/fake-slack.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const SAMPLE = new URL('../../events/slack-notifier-sns-result.json', import.meta.url);
const silent = () => new Logger({ serviceName: 'drydock-slack-notifier-test', logLevel: 'SILENT' });

const context = {
  functionName: 'drydock-slack-notifier',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:drydock-slack-notifier',
  memoryLimitInMB: '256',
  awsRequestId: 'req-1',
  logGroupName: '/aws/lambda/drydock-slack-notifier',
  logStreamName: 'test',
  callbackWaitsForEmptyEventLoop: false,
  getRemainingTimeInMillis: () => 60_000,
  done() {},
  fail() {},
  succeed() {},
} as unknown as Context;

let slack: FakeSlack;
let sample: SNSEvent;
let sampleResult: ResultMessage;

beforeAll(async () => {
  slack = await startFakeSlack();
  sample = JSON.parse(await readFile(SAMPLE, 'utf8')) as SNSEvent;
  sampleResult = JSON.parse(sample.Records[0]!.Sns.Message) as ResultMessage;
});
afterAll(async () => {
  await slack.stop();
});
afterEach(() => slack.reset());

const presigned: Array<{ bucket: string; key: string; ttl: number }> = [];
const presign: Presigner = async (bucket, key, ttl) => {
  presigned.push({ bucket, key, ttl });
  return `https://${bucket}.s3.eu-west-1.amazonaws.com/${key}?X-Amz-Expires=${ttl}&X-Amz-Signature=${'0'.repeat(64)}`;
};

function config(over: Partial<NotifierConfig> = {}): NotifierConfig {
  return { webhookSecretArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:drydock/slack-AbCdEf', bucket: 'drydock-test-bucket', reportUrlTtlSeconds: 604_800, summaryThreshold: 5, maxAttempts: 3, postDeadlineMs: 10_000, ...over };
}

function handlerWith(opts: { secret?: () => string; config?: Partial<NotifierConfig> } = {}) {
  const reads: string[] = [];
  const handler = createHandler({
    config: config(opts.config),
    readSecret: async (arn) => {
      reads.push(arn);
      return opts.secret ? opts.secret() : JSON.stringify({ webhookUrl: slack.url });
    },
    presign,
    logger: silent(),
    postOptions: { baseDelayMs: 10, maxDelayMs: 50 },
  });
  return { handler, reads };
}

function record(message: string, i = 0): SNSEventRecord {
  const base = sample.Records[0]!;
  return { ...base, Sns: { ...base.Sns, MessageId: `msg-${i}`, Message: message } };
}

function variant(i: number, status: ResultMessage['status']): ResultMessage {
  return { ...sampleResult, resultId: `${sampleResult.resultId}-${i}`, status, image: { ...sampleResult.image, repository: `team/svc-${i}` }, reason: 'rescan:feed-update-7' };
}

describe('slack-notifier handler', () => {
  it('one SNS record → exactly one POST with the blocks of that result and a pre-signed link to its HTML report', async () => {
    presigned.length = 0;
    const { handler, reads } = handlerWith();
    const out = await handler(sample, context);
    expect(out).toEqual({ posted: 1, skipped: 0, summary: false });
    expect(slack.requests).toHaveLength(1);
    expect(reads).toEqual([config().webhookSecretArn]);
    const payload = slack.accepted[0] as SlackPayload;
    expect(blockKitProblems(payload)).toEqual([]);
    expect(payload.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: ':x: FAIL (was pass) team/api:1.4.2', emoji: true } });
    const body = JSON.stringify(payload.blocks);
    expect(body).toContain('CVE-2024-5535');
    expect(body).toContain('fixed in `3.0.14-1~deb12u1`');
    expect(presigned).toEqual([{ bucket: 'drydock-test-bucket', key: sampleResult.reportKey!.replace(/\.json\.gz$/, '.html'), ttl: 604_800 }]);
    const actions = payload.blocks.at(-1) as { type: string; elements: Array<{ text: { text: string }; url: string }> };
    expect(actions.type).toBe('actions');
    expect(actions.elements[0]!.text.text).toBe('Full report');
    expect(actions.elements[0]!.url).toMatch(/^https:\/\/drydock-test-bucket\.s3\.eu-west-1\.amazonaws\.com\/reports\/sha256\/514b8948.*\.html\?X-Amz-Expires=604800/);

    // the secret is cached per container: a second invocation does not read it again
    await handler({ Records: [record(JSON.stringify({ ...sampleResult, resultId: 'another' }))] }, context);
    expect(reads).toHaveLength(1);
    expect(slack.requests).toHaveLength(2);
  });

  it('8 records in one invocation → one summary POST', async () => {
    const { handler } = handlerWith();
    const statuses = ['fail', 'fail', 'fail', 'warn', 'warn', 'pass', 'pass', 'error'] as const;
    const event: SNSEvent = { Records: statuses.map((s, i) => record(JSON.stringify(variant(i, s)), i)) };
    const out = await handler(event, context);
    expect(out).toEqual({ posted: 1, skipped: 0, summary: true });
    expect(slack.requests).toHaveLength(1);
    const payload = slack.accepted[0] as SlackPayload;
    expect(blockKitProblems(payload)).toEqual([]);
    // the sample's previous status is pass: the two passes did not change verdict
    expect(payload.text).toMatch(/^8 image results after the advisory update \(6 changed verdict\): 3 fail, 1 error, 2 warn, 2 pass — team\/svc-\d:1\.4\.2 fail/);
    expect(payload.blocks[0]).toMatchObject({ type: 'header' });
  });

  it('an SQS batch (results topic → queue with a batching window) is read too: SNS envelopes and raw bodies alike', async () => {
    const { handler } = handlerWith();
    const envelope = (r: ResultMessage, i: number) => ({ messageId: `sqs-${i}`, body: JSON.stringify({ Type: 'Notification', MessageId: `sns-${i}`, TopicArn: 'arn:aws:sns:eu-west-1:111122223333:drydock-results', Message: JSON.stringify(r) }) });
    const raw = (r: ResultMessage, i: number) => ({ messageId: `sqs-raw-${i}`, body: JSON.stringify(r) });
    const records = [...[1, 2, 3, 4].map((i) => envelope(variant(i, 'fail'), i)), ...[5, 6, 7].map((i) => raw(variant(i, 'warn'), i)), { messageId: 'bad', body: 'not json' }];
    const out = await handler({ Records: records } as never, context);
    expect(out).toEqual({ posted: 1, skipped: 1, summary: true });
    expect(slack.accepted).toHaveLength(1);
    expect(JSON.stringify(slack.accepted[0])).toContain('team/svc-7');
  });

  it('5 records (the threshold) → five messages, one per image', async () => {
    const { handler } = handlerWith();
    const event: SNSEvent = { Records: [0, 1, 2, 3, 4].map((i) => record(JSON.stringify(variant(100 + i, 'warn')), i)) };
    expect(await handler(event, context)).toEqual({ posted: 5, skipped: 0, summary: false });
    expect(slack.accepted).toHaveLength(5);
  });

  it('invalid messages (not JSON, not a drydock.result/1) → no POST, no throw: skipped as poison', async () => {
    const { handler } = handlerWith();
    const bad = { ...sampleResult, status: 'maybe', image: { ...sampleResult.image, digest: 'sha256:short' } };
    const noMessage = { ...record('', 3), Sns: { ...record('', 3).Sns, Message: undefined as unknown as string } };
    const out = await handler({ Records: [record('Hello from SNS!'), record(JSON.stringify(bad), 1), record(JSON.stringify({ schema: 'drydock.scan-job/1' }), 2), noMessage] }, context);
    expect(out).toEqual({ posted: 0, skipped: 4, summary: false });
    expect(slack.requests).toHaveLength(0);
  });

  it('Slack down (500 on every try) → the invocation throws a retryable error, so Lambda retries and then the DLQ keeps it', async () => {
    const { handler } = handlerWith();
    slack.failAlways({ status: 500, body: 'internal_error' });
    const e = await handler({ Records: [record(JSON.stringify({ ...sampleResult, resultId: 'down-1' }))] }, context).then(
      () => undefined,
      (x: unknown) => x as Error & { code?: string; kind?: string },
    );
    expect(e).toBeInstanceOf(Error);
    expect(e!.code).toBe('SERVER_ERROR');
    expect(e!.kind).toBe('retryable');
    expect(e!.message).toContain('1 of 1 Slack messages not posted');
    expect(e!.message).not.toContain(slack.secret);
    expect(slack.requests).toHaveLength(3);

    // Lambda's retry of the same event once Slack is back: posted then
    slack.heal();
    expect(await handler({ Records: [record(JSON.stringify({ ...sampleResult, resultId: 'down-1' }))] }, context)).toMatchObject({ posted: 1 });
  });

  it('a retried invocation does not post again what this container already posted', async () => {
    const { handler } = handlerWith();
    const ok = record(JSON.stringify({ ...sampleResult, resultId: 'partial-ok' }), 1);
    const failing = record(JSON.stringify({ ...sampleResult, resultId: 'partial-fail' }), 2);
    slack.fail({ pass: true }); // the first goes through
    slack.fail({ status: 400, body: 'invalid_payload' });
    await expect(handler({ Records: [ok, failing] }, context)).rejects.toThrow(/invalid_payload/);
    expect(slack.requests.map((r) => r.answered)).toEqual([200, 400]);
    expect(slack.accepted).toHaveLength(1);
    const out = await handler({ Records: [ok, failing] }, context);
    expect(out).toEqual({ posted: 1, skipped: 1, summary: false });
    expect(slack.requests).toHaveLength(3);
  });

  it('a 404 from Slack re-reads the secret: a rotated webhook is used at once', async () => {
    let n = 0;
    const { handler, reads } = handlerWith({ secret: () => (n++ === 0 ? slack.url.replace(slack.secret, 'rotated-away') : slack.url) });
    const out = await handler({ Records: [record(JSON.stringify({ ...sampleResult, resultId: 'rotated' }))] }, context);
    expect(out).toMatchObject({ posted: 1 });
    expect(reads).toHaveLength(2);
    expect(slack.requests.map((r) => r.answered)).toEqual([404, 200]);
  });

  it('a 404 with the same webhook in the secret fails permanently (and is thrown, not dropped)', async () => {
    const { handler, reads } = handlerWith({ secret: () => slack.url.replace(slack.secret, 'gone') });
    await expect(handler({ Records: [record(JSON.stringify({ ...sampleResult, resultId: 'gone' }))] }, context)).rejects.toMatchObject({ kind: 'permanent' });
    expect(reads).toHaveLength(2);
  });

  it('a presigner failure still posts the message, without the link; no bucket → no link', async () => {
    const handler = createHandler({
      config: config(),
      readSecret: async () => slack.url,
      presign: async () => {
        throw new Error('no credentials');
      },
      logger: silent(),
    });
    await handler({ Records: [record(JSON.stringify({ ...sampleResult, resultId: 'nolink' }))] }, context);
    const noBucket = handlerWith({ config: { bucket: undefined } }).handler;
    await noBucket({ Records: [record(JSON.stringify({ ...sampleResult, resultId: 'nobucket' }))] }, context);
    expect(slack.accepted).toHaveLength(2);
    for (const p of slack.accepted as SlackPayload[]) expect(p.blocks.some((b) => b.type === 'actions')).toBe(false);
  });
});

describe('the AWS defaults behind the injectable reader and presigner', () => {
  const credentials = { accessKeyId: 'AKIAEXAMPLEEXAMPLE00', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

  it('s3Presigner: a SigV4 GET of the HTML report, valid the TTL, opened inline as text/html', async () => {
    const url = new URL(await s3Presigner(new S3Client({ region: 'eu-west-1', credentials }))('drydock-bucket', 'reports/sha256/ab/r1.html', 604_800));
    expect(url.hostname).toBe('drydock-bucket.s3.eu-west-1.amazonaws.com');
    expect(url.pathname).toBe('/reports/sha256/ab/r1.html');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('604800');
    expect(url.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(url.searchParams.get('response-content-type')).toBe('text/html; charset=utf-8');
    expect(url.searchParams.get('response-content-disposition')).toBe('inline');
    expect(url.href.length).toBeLessThan(3000);
  });

  it('secretsManagerReader: GetSecretValue through the real SDK client (against a local stand-in speaking its JSON protocol)', async () => {
    const seen: Array<{ target: string | undefined; body: unknown }> = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ target: req.headers['x-amz-target'] as string | undefined, body: JSON.parse(body) });
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ ARN: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:drydock/slack-AbCdEf', Name: 'drydock/slack', SecretString: '{"webhookUrl":"https://hooks.slack.com/services/T/B/x"}', VersionId: 'v1' }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const client = new SecretsManagerClient({ region: 'eu-west-1', credentials, endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
      const text = await secretsManagerReader(client)('arn:aws:secretsmanager:eu-west-1:111122223333:secret:drydock/slack-AbCdEf');
      expect(text).toBe('{"webhookUrl":"https://hooks.slack.com/services/T/B/x"}');
      expect(seen).toEqual([{ target: 'secretsmanager.GetSecretValue', body: { SecretId: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:drydock/slack-AbCdEf' } }]);
    } finally {
      server.close();
    }
  });
});

describe('notifierConfig', () => {
  it('defaults: 7-day links, summary over 5 results', () => {
    expect(notifierConfig({ DRYDOCK_SLACK_WEBHOOK_SECRET_ARN: 'arn:x', DRYDOCK_BUCKET: 'b' })).toEqual({
      webhookSecretArn: 'arn:x',
      bucket: 'b',
      reportUrlTtlSeconds: MAX_REPORT_URL_TTL_SECONDS,
      summaryThreshold: 5,
      maxAttempts: 4,
      postDeadlineMs: 30_000,
    });
  });

  it('lists every problem at once', () => {
    expect(() => notifierConfig({ DRYDOCK_REPORT_URL_TTL_SECONDS: '604801', DRYDOCK_CONSOLE_URL: 'console', DRYDOCK_SLACK_SUMMARY_THRESHOLD: '0' })).toThrow(
      /DRYDOCK_SLACK_WEBHOOK_SECRET_ARN is not set.*DRYDOCK_CONSOLE_URL="console".*DRYDOCK_REPORT_URL_TTL_SECONDS="604801": an integer from 1 to 604800.*DRYDOCK_SLACK_SUMMARY_THRESHOLD="0"/,
    );
  });
});

describe('events/slack-notifier-sns-result.json', () => {
  type Json = null | string | number | boolean | Json[] | { [k: string]: Json };
  const keys = (o: unknown) => Object.keys(o as object).sort();

  it('has the keys of the SNS event Lambda receives (aws-lambda-go fixture), with SNS-typed message attributes', async () => {
    const fixture = JSON.parse(await readFile(`${SHARED_FIXTURES}events/sns-event.aws-lambda-go.json`, 'utf8')) as { Records: Array<Record<string, Json>> };
    const ref = fixture.Records[0]!;
    const ours = sample.Records[0]! as unknown as Record<string, Json>;
    expect(keys(sample)).toEqual(keys(fixture));
    expect(keys(ours)).toEqual(keys(ref));
    expect(keys(ours.Sns)).toEqual(keys(ref.Sns));
    for (const k of keys(ref.Sns)) {
      const mine = (ours.Sns as Record<string, Json>)[k];
      const theirs = (ref.Sns as Record<string, Json>)[k];
      // SNS delivers "Subject": null when the publisher set none (Drydock's publisher sets none)
      if (k === 'Subject') expect(mine === null || typeof mine === 'string').toBe(true);
      else expect(typeof mine, k).toBe(typeof theirs);
    }
    for (const [, v] of Object.entries(ours.Sns as Record<string, Json>).filter(([k]) => k === 'MessageAttributes')) {
      for (const attr of Object.values(v as Record<string, Json>)) expect(keys(attr)).toEqual(['Type', 'Value']);
    }
    expect(sample.Records[0]!.EventSource).toBe('aws:sns');
    expect(sample.Records[0]!.Sns.TopicArn).toMatch(/^arn:aws:sns:eu-west-1:111122223333:/);
  });

  it('carries a valid drydock.result/1 whose attributes repeat what subscribers filter on', () => {
    expect(schemaErrors('drydock.result/1', sampleResult)).toEqual([]);
    const attrs = sample.Records[0]!.Sns.MessageAttributes;
    expect(attrs).toEqual({
      status: { Type: 'String', Value: sampleResult.status },
      highestSeverity: { Type: 'String', Value: sampleResult.highestSeverity },
      repository: { Type: 'String', Value: sampleResult.image.repository },
      changed: { Type: 'String', Value: String(sampleResult.changed) },
    });
  });
});
