/**
 * npm run pipeline:local -- <registry/repo:tag> [--advisories <path>]... [--policy <bundle.json>]
 *
 * The deployed stack on this machine, as it ships (test/support/template-stack.ts): the CDK app
 * is synthesized (with --policy: the policyBundle setting), its template's tables, queues,
 * bucket, topics and secret are created on local servers (DynamoDB Local, s3rver,
 * local-aws-sqs; mocks of SNS, EventBridge, Secrets Manager and ECR's API), and every function
 * runs from its cdk.out bundle with exactly its template environment. An ECR push event (AWS's
 * shape, events/ecr-push.json) for the image, read from the local registry that stands in for
 * ECR's, goes through the EcrImageActionRule → scan queue → analyzer → evaluate queue →
 * evaluator → results topic → Slack queue → slack-notifier (posting to a local stand-in for
 * Slack). Printed as JSON: each invocation, the published results, the Slack messages and the
 * image's record. Needs Java (DynamoDB Local); takes ~30 s to synthesize and start.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoAdvisoryStore } from '../shared/adapters/aws/dynamodb/advisory-store.js';
import { MemoryAdvisoryStore } from '../shared/adapters/local/memory-advisory-store.js';
import type { Advisory } from '../shared/advisories/types.js';
import { loadAdvisories } from '../shared/advisories/load.js';
import { openSource } from '../shared/image/open.js';
import { parseReference } from '../shared/image/reference.js';
import { startFakeSlack } from '../test/support/fake-slack.js';
import { cleanupAssemblies, describe, startTemplateStack, synthesizeAssembly } from '../test/support/template-stack.js';

/** The loaders write into a memory store; this one also keeps what they read, in order. */
class CollectingStore extends MemoryAdvisoryStore {
  readonly all: Advisory[] = [];
  override add(a: Advisory): boolean {
    this.all.push(a);
    return super.add(a);
  }
}

const { positionals, values } = parseArgs({ allowPositionals: true, options: { advisories: { type: 'string', multiple: true }, policy: { type: 'string' } } });
const ref = positionals[0] ? parseReference(positionals[0]) : undefined;
if (!ref || ref.kind !== 'registry') {
  console.error('usage: npm run pipeline:local -- <registry/repo:tag> [--advisories <path>]... [--policy <bundle.json>]');
  process.exit(64);
}
const source = await openSource(ref, { insecureRegistries: [ref.registry] });
const digest = ref.digest ?? (await source.rootManifest()).digest;
await source.close?.();

console.error('synthesizing the CDK app and starting the stack on local servers…');
const assembly = await synthesizeAssembly(values.policy ? { policyBundle: resolve(values.policy) } : {});
const slack = await startFakeSlack();
const stack = await startTemplateStack({ assembly, registry: { host: ref.registry, url: `http://${ref.registry}` } });
let code = 0;
try {
  if (stack.outputs.SlackWebhookSecretArn) stack.secrets.setValue(stack.outputs.SlackWebhookSecretArn, slack.url);
  if (values.advisories?.length) {
    // read with the CLI's loaders, then stored in the stack's advisories table as feed-sync would
    const read = new CollectingStore();
    await loadAdvisories(values.advisories, read);
    await new DynamoAdvisoryStore(stack.docs, stack.outputs.AdvisoriesTableName!).put(read.all);
  }
  if (values.policy) {
    // what the PolicyUpload output tells the operator to do
    const key = stack.fn('Evaluator').env.DRYDOCK_POLICY_KEY!;
    await stack.s3Client.send(new PutObjectCommand({ Bucket: stack.outputs.BucketName, Key: key, Body: await readFile(values.policy) }));
  }

  const event = JSON.parse(await readFile(new URL('../events/ecr-push.json', import.meta.url), 'utf8')) as Record<string, unknown> & { id: string; detail: Record<string, string> };
  event.id = `local-${Date.now()}`;
  event.account = stack.account;
  event.region = stack.region;
  event.detail['repository-name'] = ref.repository;
  event.detail['image-digest'] = digest;
  event.detail['image-tag'] = ref.tag ?? 'latest';

  const started = performance.now();
  const rules = await stack.putEvent(event);
  const runs = await stack.drain();
  const ms = Math.round(performance.now() - started);
  const image = (await stack.docs.send(new GetCommand({ TableName: stack.outputs.ImagesTableName, Key: { digest }, ConsistentRead: true }))).Item;
  if (runs.some((r) => !r.outcome.ok)) {
    code = 1;
    console.error(`a function failed:\n${describe(runs)}\n\n${stack.logs()}`);
  }
  console.log(
    JSON.stringify(
      {
        ms,
        rulesMatched: rules,
        invocations: runs.map((r) => ({ function: r.fn, trigger: r.trigger, records: r.records, failures: r.failures, outcome: r.outcome })),
        published: stack.sns.published.map((p) => ({ topicArn: p.topicArn, attributes: p.attributes, message: JSON.parse(p.message) as unknown })),
        slack: slack.accepted,
        image,
      },
      (_k, v: unknown) => (v instanceof Set ? [...v] : v),
      2,
    ),
  );
} finally {
  await stack.stop();
  await slack.stop();
  await cleanupAssemblies();
}
process.exitCode = code;
