/**
 * The whole flow on real local servers, through the real handler modules (middy, Powertools
 * Logger/Metrics/Batch/Idempotency) and the AWS SDK v3 adapters: DynamoDB Local, s3rver,
 * local-aws-sqs, the Distribution registry. Mocked, because they cannot run here: SNS (a fake
 * speaking its Query API) and the Lambda runtime (the test polls SQS and calls the handler with
 * a stand-in context, as Lambda's SQS poller would). ECR's own API is not called: the registry
 * override points the analyzer at the local registry.
 */
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoAdvisoryStore } from '../../shared/adapters/aws/dynamodb/advisory-store.js';
import { DynamoPackageIndex } from '../../shared/adapters/aws/dynamodb/package-index.js';
import { DynamoResultStore } from '../../shared/adapters/aws/dynamodb/result-store.js';
import { runCli } from '../support/cli.js';
import type { ResultMessage } from '../../shared/pipeline/messages.js';
import { lambdaContext, startLocalStack, TOPIC, type LocalStack, type SqsHandler } from './local-stack.js';
import { debianLayers, pushEvent, pushImage, REPOSITORY, zlibAdvisory } from './support.js';

type Handler = SqsHandler;

let stack: LocalStack;
let registry: LocalStack['registry'];
let proxy: LocalStack['proxy'];
let s3: LocalStack['s3'];
let sqs: LocalStack['sqs'];
let sns: LocalStack['sns'];
let names: LocalStack['names'];
let queues: LocalStack['queues'];
let docs: LocalStack['docs'];
let work: string;
let analyzer: Handler;
let evaluator: Handler;
let digest: string;
const saved = { ...process.env };
const poll = (url: string, handler: Handler, fn: string) => stack.poll(url, handler, fn);

async function imageItem(d: string) {
  return (await docs.send(new GetCommand({ TableName: names.images, Key: { digest: d }, ConsistentRead: true }))).Item;
}

beforeAll(async () => {
  stack = await startLocalStack('e2e');
  ({ registry, proxy, s3, sqs, sns, names, queues, docs, work } = stack);
  await new DynamoAdvisoryStore(docs, names.advisories).put([zlibAdvisory()]);
  digest = await pushImage(work, registry.host, '1.4.2');
  Object.assign(process.env, stack.env);
  analyzer = (await import('../../functions/analyzer/handler.js')).handler as unknown as Handler;
  evaluator = (await import('../../functions/evaluator/handler.js')).handler as unknown as Handler;
}, 120_000);

afterAll(async () => {
  process.env = saved;
  await stack?.stop();
});

describe('ECR push event → analyzer → evaluator → published result (local servers; SNS and the Lambda runtime mocked)', () => {
  it('ends with the result message, its attributes and the DynamoDB records; a second delivery changes nothing', async () => {
    const emf: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => (emf.push(String(chunk)), true));
    try {
      const event = pushEvent(digest, '1.4.2');
      // what the EventBridge rule's SQS target does: the event, as JSON, is the message body
      await sqs.admin.send(new SendMessageCommand({ QueueUrl: queues.scan, MessageBody: JSON.stringify(event) }));
      const a = await poll(queues.scan, analyzer, 'analyzer');
      expect(a).toMatchObject({ records: 1, response: { batchItemFailures: [] } });
      const e = await poll(queues.evaluate, evaluator, 'evaluator');
      expect(e).toMatchObject({ records: 1, response: { batchItemFailures: [] } });

      expect(sns.published).toHaveLength(1);
      const pub = sns.published[0]!;
      expect(pub.topicArn).toBe(TOPIC);
      expect(pub.attributes).toEqual({ status: 'warn', highestSeverity: 'unknown', repository: REPOSITORY, changed: 'true' });
      const msg = JSON.parse(pub.message) as ResultMessage;
      expect(msg.schema).toBe('drydock.result/1');
      expect(msg.status).toBe('warn');
      expect(msg.changed).toBe(true);
      expect(msg.previousStatus).toBeUndefined();
      expect(msg.image).toEqual({ digest, manifestDigest: digest, registry: '111122223333.dkr.ecr.eu-west-1.amazonaws.com', repository: REPOSITORY, tags: ['1.4.2'], platform: 'linux/amd64', distro: 'debian 12' });
      expect(msg.counts).toEqual({ critical: 0, high: 0, medium: 0, low: 0, negligible: 0, unknown: 1 });
      expect(msg.topFindings).toEqual([{ id: 'CVE-2099-0001', severity: 'unknown', package: 'zlib1g', version: '1:1.2.13.dfsg-1', fixedIn: '1:1.2.13.dfsg-1+deb12u1' }]);
      expect(msg.policy).toMatchObject({ bundleId: expect.any(String), bundleDigest: expect.stringMatching(/^sha256:/), stopRules: 0 });
      expect(msg.policy!.warnRules).toBeGreaterThan(0);
      expect(msg.reason).toMatch(/^analysis:/);
      expect(msg.reportKey).toMatch(/^reports\/sha256\//);

      const item = await imageItem(digest);
      expect(item).toMatchObject({
        digest, registry: '111122223333.dkr.ecr.eu-west-1.amazonaws.com', repository: REPOSITORY, tags: new Set(['1.4.2']), status: 'evaluated',
        manifestDigest: digest, platform: 'linux/amd64', distro: 'debian 12', packageCount: 3, packageKeyCount: 3,
        inventoryKey: `inventories/sha256/${digest.slice(7)}.json.gz`, sbomKey: `sboms/sha256/${digest.slice(7)}.cdx.json`,
        lastVerdict: { status: 'warn', resultId: msg.resultId, findings: 1, highestSeverity: 'unknown' },
      });
      expect(item!.layers).toHaveLength(3);
      for (const gone of ['claimedBy', 'claimedAt', 'error', 'layersPending', 'layersDone', 'attempts']) expect(item, gone).not.toHaveProperty(gone);

      const results = new DynamoResultStore(docs, names.results);
      const latest = await results.latest(digest);
      expect(latest).toMatchObject({ digest, resultId: msg.resultId, status: 'warn', findings: 1, findingIds: ['CVE-2099-0001|zlib1g|1:1.2.13.dfsg-1'], reportKey: msg.reportKey });
      const index = new DynamoPackageIndex(docs, names.packageIndex);
      expect((await index.imagesFor({ ecosystem: 'Debian:12', name: 'openssl' })).map((x) => x.digest)).toEqual([digest]);
      const s3c = new S3Client(s3.clientConfig);
      for (const key of [item!.inventoryKey, item!.sbomKey, msg.reportKey]) await s3c.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key as string }));

      // the metrics went out in EMF
      const blobs = emf.filter((l) => l.includes('"_aws"')).join('\n');
      for (const m of ['ImagesAnalyzed', 'LayersRead', 'BytesRead', 'ImagesEvaluated', 'Findings', 'EvaluationDuration']) expect(blobs, m).toContain(`"${m}"`);

      // the same event delivered again (EventBridge and SQS are at-least-once)
      const before = { image: await imageItem(digest), results: (await results.history(digest, 10)).length };
      await sqs.admin.send(new SendMessageCommand({ QueueUrl: queues.scan, MessageBody: JSON.stringify(event) }));
      const again = await poll(queues.scan, analyzer, 'analyzer');
      expect(again).toMatchObject({ records: 1, response: { batchItemFailures: [] } });
      expect((await poll(queues.evaluate, evaluator, 'evaluator')).records).toBe(0);
      expect(sns.published).toHaveLength(1);
      expect(await imageItem(digest)).toEqual(before.image);
      expect((await results.history(digest, 10)).length).toBe(before.results);
    } finally {
      spy.mockRestore();
    }
  }, 120_000);

  it('a poison message goes to the dead-letter queue at once with its reason; the batch reports no failure', async () => {
    await sqs.admin.send(new SendMessageCommand({ QueueUrl: queues.scan, MessageBody: 'not an event' }));
    const r = await poll(queues.scan, analyzer, 'analyzer');
    expect(r).toMatchObject({ records: 1, response: { batchItemFailures: [] } });
    const dead = await sqs.receiveAll(queues.scanDlq, 1, { timeoutMs: 5000 });
    expect(dead).toHaveLength(1);
    expect(JSON.parse(dead[0]!.Body!)).toMatchObject({ schema: 'drydock.dead-letter/1', body: 'not an event', reason: expect.stringMatching(/not JSON/) });
  });

  it('a retryable failure is reported as a batch item failure, and SQS redrives it to the DLQ after maxReceiveCount', async () => {
    const digest2 = await pushImage(work, registry.host, '2.0.0', debianLayers([{ files: [{ path: 'app/v2', content: 'two' }] }]));
    const digest2Layers = (url: string) => (url.includes(layer4) ? layer4 : '\u0000');
    const layer4 = await lastLayer(digest2);
    const event = pushEvent(digest2, '2.0.0');
    await sqs.admin.send(new SendMessageCommand({ QueueUrl: queues.scan, MessageBody: JSON.stringify(event) }));
    // the registry answers 500 for this image's blobs, every time
    proxy.setDecide((req) => (req.url?.includes('/blobs/') && req.url.includes(digest2Layers(req.url)) ? { status: 500 } : 'pass'));
    try {
      for (let attempt = 1; attempt <= 3; attempt++) {
        const got = await sqs.admin.send(new ReceiveMessageCommand({ QueueUrl: queues.scan, MaxNumberOfMessages: 1, AttributeNames: ['All'], VisibilityTimeout: 0 }));
        const m = got.Messages?.[0];
        expect(m, `attempt ${attempt}`).toBeDefined();
        expect(m!.Attributes!.ApproximateReceiveCount).toBe(String(attempt));
        const res = await analyzer({ Records: [{ messageId: m!.MessageId!, receiptHandle: m!.ReceiptHandle!, body: m!.Body!, attributes: { ApproximateReceiveCount: m!.Attributes!.ApproximateReceiveCount! } }] } as unknown as SQSEvent, lambdaContext('drydock-analyzer'));
        expect(res.batchItemFailures).toEqual([{ itemIdentifier: m!.MessageId }]);
        if (attempt < 3) expect(await imageItem(digest2)).toMatchObject({ status: 'analyzing', attempts: attempt, error: { code: 'SERVER_ERROR', kind: 'retryable' } });
      }
      const item = await imageItem(digest2);
      expect(item).toMatchObject({ status: 'failed', error: { code: 'RETRIES_EXHAUSTED', kind: 'retryable' } });
      expect(sns.published.at(-1)?.attributes).toMatchObject({ status: 'error', repository: REPOSITORY });
      // the next receive finds it moved to the DLQ by the queue's redrive policy
      const moved = await sqs.receiveAll(queues.scanDlq, 1, { timeoutMs: 5000 });
      expect(JSON.parse(moved[0]!.Body!).id).toBe(event.id);
    } finally {
      proxy.setDecide(() => 'pass');
    }
  }, 60_000);

  it('drydock submit queues a valid scan job; drydock rescan re-evaluates without publishing an unchanged verdict (DRYDOCK_PUBLISH=change)', async () => {
    expect(await cli('submit', `${proxy.host}/team/api:1.4.2`)).toMatchObject({ code: 0, text: expect.stringMatching(/^queued manual:[0-9a-f-]+ for 127\.0\.0\.1:\d+\/team\/api:1\.4\.2\n$/) });
    const a = await poll(queues.scan, analyzer, 'analyzer');
    expect(a).toMatchObject({ records: 1, response: { batchItemFailures: [] } });
    const published = sns.published.length;
    expect(await cli('rescan', '--package', 'Debian:12/zlib')).toMatchObject({ code: 0, text: expect.stringMatching(/queued 1 evaluation\(s\) for 1 image\(s\) holding 1 package key\(s\) \(1 index items read\)/) });
    const e = await poll(queues.evaluate, evaluator, 'evaluator');
    expect(e).toMatchObject({ records: 1, response: { batchItemFailures: [] } });
    expect(sns.published.length).toBe(published);
    const results = new DynamoResultStore(docs, names.results);
    const [latest, before] = await results.history(digest, 2);
    expect(latest).toMatchObject({ status: 'warn', reason: expect.stringMatching(/^rescan:cli:/) });
    expect(before).toMatchObject({ status: 'warn', reason: expect.stringMatching(/^analysis:/) });
    expect((await cli('rescan')).code).toBe(64);
    // --wait resolves the tag through the registry and, for a digest already judged, answers with its verdict
    expect(await cli('submit', `${proxy.host}/team/api:1.4.2`, '--wait', '--timeout', '30')).toMatchObject({ code: 2, text: expect.stringMatching(new RegExp(`WARN  team/api@${digest}  findings 1 \\(worst unknown\\)`)) });
    await poll(queues.scan, analyzer, 'analyzer');
    expect(await cli('submit', 'oci:/tmp/x')).toMatchObject({ code: 64, text: expect.stringMatching(/not a registry image/) });
  });

  it('drydock images and drydock results read the deployed stack (here: the local servers)', async () => {
    const images = await cli('images', '--repository', REPOSITORY);
    expect(images.code).toBe(0);
    expect(images.text).toMatch(new RegExp(`team/api\\s+1\\.4\\.2\\s+${digest.slice(0, 19)}\\s+evaluated\\s+warn\\s+1`));
    const results = await cli('results', digest);
    expect(results.code).toBe(2);
    expect(results.text).toMatch(/verdict\s+WARN/);
    expect(results.text).toMatch(/CVE-2099-0001\s+zlib1g\s+1:1\.2\.13\.dfsg-1\s+1:1\.2\.13\.dfsg-1\+deb12u1\s+unknown/);
  });
});


/** The digest of an image's last layer, from the registry. */
async function lastLayer(d: string): Promise<string> {
  const res = await fetch(`${registry.url}/v2/${REPOSITORY}/manifests/${d}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' } });
  const m = (await res.json()) as { layers: Array<{ digest: string }> };
  return m.layers.at(-1)!.digest;
}

/** The CLI against the local stack (process.env holds its DRYDOCK_* and endpoint variables); stdout and stderr together. */
async function cli(...argv: string[]): Promise<{ code: number; text: string }> {
  const r = await runCli(argv, process.env);
  return { code: r.code, text: r.out + r.err };
}
