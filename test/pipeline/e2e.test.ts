/**
 * The analysis path of the deployed stack in detail, through the template-driven local stack
 * (test/support/template-stack.ts: every function from its cdk.out bundle with exactly its
 * template environment; the template's queues, redrive policies, event source mappings and rule
 * patterns): the records an analysis leaves in DynamoDB and S3, its metrics, idempotency on a
 * redelivered event, poison messages, retries exhausted into the dead-letter queue, and the
 * operator's CLI configured from the stack's outputs. Real local servers: DynamoDB Local,
 * s3rver, local-aws-sqs, the Distribution registry (behind a fault proxy). Mocked, because they
 * cannot run here: the Lambda runtime, SNS, EventBridge, Secrets Manager and ECR's API.
 */
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { feedSummaryKey } from '../../shared/pipeline/feed-sync.js';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoAdvisoryStore } from '../../shared/adapters/aws/dynamodb/advisory-store.js';
import { DynamoPackageIndex } from '../../shared/adapters/aws/dynamodb/package-index.js';
import { DynamoResultStore } from '../../shared/adapters/aws/dynamodb/result-store.js';
import type { ResultMessage } from '../../shared/pipeline/messages.js';
import { runCli } from '../support/cli.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { cleanupAssemblies, describe as describeRuns, startTemplateStack, synthesizeAssembly, type TemplateStack, printLogsOnFailure as printStackLogs } from '../support/template-stack.js';
import { debianLayers, pushEvent, pushImage, REPOSITORY, zlibAdvisory } from './support.js';
import { seedExploitData } from './exploit-server.js';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-object-store.js';

let stack: TemplateStack;
let registry: TestRegistry;
let proxy: FaultProxy;
let work: string;
let digest: string;

async function imageItem(d: string) {
  return (await stack.docs.send(new GetCommand({ TableName: stack.outputs.ImagesTableName, Key: { digest: d }, ConsistentRead: true }))).Item;
}

/** ECR's push event for this stack's account and region. */
function push(d: string, tag: string, repository = REPOSITORY) {
  return { ...pushEvent(d, tag, repository), account: stack.account, region: stack.region };
}

beforeAll(async () => {
  // Slack off (a supported configuration): this file is about the analysis path; deployed.test.ts covers Slack
  const [assembly, reg] = await Promise.all([synthesizeAssembly({ slack: 'false' }), startRegistry()]);
  registry = reg;
  proxy = await startFaultProxy(registry.url);
  work = await mkdtemp(join(tmpdir(), 'drydock-e2e-'));
  // the analyzer reads the registry through the fault proxy (standing in for ECR's registry endpoint)
  stack = await startTemplateStack({ assembly, registry: { host: proxy.host, url: proxy.url } });
  await new DynamoAdvisoryStore(stack.docs, stack.outputs.AdvisoriesTableName!).put([zlibAdvisory()]);
  // the bucket as feed-sync leaves it after syncing OSV's Debian feed just now: without it the evaluator fails closed (issue 15)
  const summary = { format: 'drydock.feed-summary/1', ecosystem: 'Debian', ecosystems: ['Debian:12'], advisories: 1, syncedAt: new Date().toISOString() };
  await stack.s3Client.send(new PutObjectCommand({ Bucket: stack.outputs.BucketName, Key: feedSummaryKey('Debian'), Body: JSON.stringify(summary), ContentType: 'application/json' }));
  // and KEV / EPSS as its exploit sync leaves them (the stack's default exploitFeeds=true: without KEV the default bundle's kev rules fail closed)
  await seedExploitData(new S3ObjectStore(stack.s3Client, stack.outputs.BucketName!));
  digest = await pushImage(work, registry.host, '1.4.2');
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  await Promise.all([proxy?.stop(), registry?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
  await cleanupAssemblies();
}, 60_000);

const printLogsOnFailure = () => printStackLogs(stack);

describe('ECR push event → analyzer → evaluator → published result (the deployed wiring, on local servers)', () => {
  it('ends with the result message, its attributes and the DynamoDB and S3 records; a second delivery changes nothing', async () => {
    printLogsOnFailure();
    const event = push(digest, '1.4.2');
    expect(await stack.putEvent(event)).toBe(1);
    const runs = await stack.drain();
    expect(runs.filter((r) => !r.outcome.ok || r.failures?.length), describeRuns(runs)).toEqual([]);
    expect(runs.map((r) => r.fn)).toEqual(['Analyzer', 'Evaluator']);

    expect(stack.sns.published).toHaveLength(1);
    const pub = stack.sns.published[0]!;
    expect(pub.topicArn).toBe(stack.outputs.ResultsTopicArn);
    expect(pub.attributes).toMatchObject({ status: 'warn', highestSeverity: 'unknown', repository: REPOSITORY, changed: 'true' });
    const msg = JSON.parse(pub.message) as ResultMessage;
    expect(msg).toMatchObject({ schema: 'drydock.result/1', status: 'warn', changed: true });
    expect(msg.image).toMatchObject({ digest, registry: `${stack.account}.dkr.ecr.${stack.region}.amazonaws.com`, repository: REPOSITORY, tags: ['1.4.2'], distro: 'debian 12' });
    expect(msg.counts).toMatchObject({ critical: 0, high: 0, unknown: 1 });
    expect(msg.topFindings).toEqual([expect.objectContaining({ id: 'CVE-2099-0001', package: 'zlib1g', version: '1:1.2.13.dfsg-1', fixedIn: '1:1.2.13.dfsg-1+deb12u1' })]);
    expect(msg.reason).toMatch(/^analysis/);
    expect(msg.reportKey).toMatch(/^reports\//);

    const item = await imageItem(digest);
    expect(item).toMatchObject({ digest, repository: REPOSITORY, status: 'evaluated', distro: 'debian 12', packageCount: 3, lastVerdict: { status: 'warn', resultId: msg.resultId, findings: 1 } });
    for (const gone of ['claimedBy', 'claimedAt', 'error', 'layersPending', 'layersDone']) expect(item, gone).not.toHaveProperty(gone);
    const results = new DynamoResultStore(stack.docs, stack.outputs.ResultsTableName!);
    expect(await results.latest(digest)).toMatchObject({ digest, resultId: msg.resultId, status: 'warn', findings: 1 });
    const index = new DynamoPackageIndex(stack.docs, stack.ref('PackageIndexTable'));
    expect((await index.imagesFor({ ecosystem: 'Debian:12', name: 'openssl' })).map((x) => x.digest)).toEqual([digest]);
    for (const key of [item!.inventoryKey, item!.sbomKey, msg.reportKey]) await stack.s3Client.send(new HeadObjectCommand({ Bucket: stack.outputs.BucketName, Key: key as string }));

    // the metrics went out in EMF, in the functions' own logs
    const emf = stack.fn('Analyzer').logs() + stack.fn('Evaluator').logs();
    for (const m of ['ImagesAnalyzed', 'ImagesEvaluated', 'Findings']) expect(emf, m).toContain(`"${m}"`);

    // the same event delivered again (EventBridge and SQS are at-least-once)
    const before = { image: await imageItem(digest), results: (await results.history(digest, 10)).length };
    await stack.putEvent(event);
    const again = await stack.drain();
    expect(again.map((r) => r.fn)).toEqual(['Analyzer']);
    expect(again[0]!.failures).toEqual([]);
    expect(stack.sns.published).toHaveLength(1);
    expect(await imageItem(digest)).toEqual(before.image);
    expect((await results.history(digest, 10)).length).toBe(before.results);
  }, 180_000);

  it('a poison message goes to the dead-letter queue at once with its reason; the batch reports no failure', async () => {
    printLogsOnFailure();
    await stack.sqs.admin.send(new SendMessageCommand({ QueueUrl: stack.queue('ScanQueue').url, MessageBody: 'not an event' }));
    const runs = await stack.drain();
    expect(runs).toEqual([expect.objectContaining({ fn: 'Analyzer', records: 1, failures: [] })]);
    const dead = await stack.sqs.receiveAll(stack.queue('ScanDeadLetters').url, 1, { timeoutMs: 5000 });
    expect(dead).toHaveLength(1);
    expect(JSON.parse(dead[0]!.Body!)).toMatchObject({ schema: 'drydock.dead-letter/1', body: 'not an event', reason: expect.stringMatching(/not JSON/) });
  }, 60_000);

  it("a retryable failure is a batch item failure with a backoff; the maxReceiveCount-th attempt records RETRIES_EXHAUSTED and the redrive policy moves the message to the DLQ", async () => {
    printLogsOnFailure();
    const digest2 = await pushImage(work, registry.host, '2.0.0', debianLayers([{ files: [{ path: 'app/v2', content: 'two' }] }]));
    const layer = await lastLayer(digest2);
    const event = push(digest2, '2.0.0');
    proxy.setDecide((req) => (req.url?.includes('/blobs/') && req.url.includes(layer) ? { status: 500 } : 'pass'));
    try {
      await stack.putEvent(event);
      const first = await stack.drain();
      expect(first).toEqual([expect.objectContaining({ fn: 'Analyzer', records: 1, failures: [expect.any(String)] })]);
      expect(first[0]!.outcome.ok).toBe(true);
      expect(await imageItem(digest2)).toMatchObject({ status: 'analyzing', error: { code: 'SERVER_ERROR', kind: 'retryable' } });
      // until the visibility timeout passes, nothing is redelivered
      expect(await stack.drain()).toEqual([]);
      // Each retry: the backoff the function set "passes" (retryInFlight). As in SQS, only
      // receives count (test/support/sqs-local.ts corrects local-aws-sqs on that point), so the
      // function is invoked exactly maxReceiveCount times; the last attempt records
      // RETRIES_EXHAUSTED and publishes the error, then the redrive policy moves the message.
      // the template gives the queue's redrive policy and the analyzer the same number
      const maxReceiveCount = Number(stack.fn('Analyzer').env.DRYDOCK_MAX_RECEIVE_COUNT);
      expect(maxReceiveCount).toBeGreaterThan(1);
      let invocations = 1;
      let moved: Awaited<ReturnType<typeof stack.sqs.receiveAll>> = [];
      for (let cycle = 0; cycle < maxReceiveCount + 3 && moved.length === 0; cycle++) {
        await stack.retryInFlight('ScanQueue');
        const runs = await stack.drain();
        expect(runs.filter((r) => !r.outcome.ok), describeRuns(runs)).toEqual([]);
        invocations += runs.filter((r) => r.fn === 'Analyzer').length;
        moved = await stack.sqs.receiveAll(stack.queue('ScanDeadLetters').url, 1, { timeoutMs: 300 });
      }
      expect(moved.map((m) => (JSON.parse(m.Body!) as { id?: string }).id)).toEqual([event.id]);
      expect(invocations).toBe(maxReceiveCount);
      expect(await imageItem(digest2)).toMatchObject({ status: 'failed', error: { code: 'RETRIES_EXHAUSTED' } });
    } finally {
      proxy.setDecide(() => 'pass');
    }
  }, 180_000);

  it("the operator's CLI, configured from the stack's outputs: submit queues a scan job; rescan re-evaluates; images and results read the stack", async () => {
    printLogsOnFailure();
    // the operator's shell: the stack's outputs as DRYDOCK_* variables (the SDK reads its region and endpoints from the process)
    const env = stack.cliEnvironment();
    const saved = { ...process.env };
    Object.assign(process.env, env);
    onTestFinished(() => {
      process.env = saved;
    });
    const cli = async (...argv: string[]) => {
      const r = await runCli(argv, process.env);
      return { code: r.code, text: r.out + r.err };
    };
    expect(await cli('submit', `${proxy.host}/team/api:1.4.2`)).toMatchObject({ code: 0, text: expect.stringMatching(/^queued manual:[0-9a-f-]+ for 127\.0\.0\.1:\d+\/team\/api:1\.4\.2\n$/) });
    let runs = await stack.drain();
    expect(runs.filter((r) => !r.outcome.ok || r.failures?.length), describeRuns(runs)).toEqual([]);
    expect(runs[0]).toMatchObject({ fn: 'Analyzer', records: 1 });
    expect(await cli('rescan', '--package', 'Debian:12/zlib')).toMatchObject({ code: 0, text: expect.stringMatching(/queued 1 evaluation\(s\) for 1 image\(s\)/) });
    runs = await stack.drain();
    expect(runs.filter((r) => !r.outcome.ok || r.failures?.length), describeRuns(runs)).toEqual([]);
    expect(runs.map((r) => r.fn)).toContain('Evaluator');
    const [latest] = await new DynamoResultStore(stack.docs, stack.outputs.ResultsTableName!).history(digest, 1);
    expect(latest).toMatchObject({ status: 'warn', reason: expect.stringMatching(/^rescan:cli:/) });
    expect((await cli('rescan')).code).toBe(64);

    const images = await cli('images', '--repository', REPOSITORY);
    expect(images.code).toBe(0);
    expect(images.text).toMatch(new RegExp(`team/api\\s+1\\.4\\.2\\s+${digest.slice(0, 19)}\\s+evaluated\\s+warn\\s+1`));
    const results = await cli('results', digest);
    expect(results.code).toBe(2);
    expect(results.text).toMatch(/verdict\s+WARN/);
    expect(results.text).toMatch(/CVE-2099-0001\s+zlib1g\s+1:1\.2\.13\.dfsg-1\s+1:1\.2\.13\.dfsg-1\+deb12u1\s+unknown/);
  }, 180_000);
});

/** The digest of an image's last layer, from the registry. */
async function lastLayer(d: string): Promise<string> {
  const res = await fetch(`${registry.url}/v2/${REPOSITORY}/manifests/${d}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' } });
  const m = (await res.json()) as { layers: Array<{ digest: string }> };
  return m.layers.at(-1)!.digest;
}
