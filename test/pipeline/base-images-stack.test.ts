/**
 * Base images through the deployed wiring (issue 19 items 3–4, its two-image done-when): the stack
 * is synthesized from infra/ with the settings `baseRepositories` (a bare `base/debian:12`, which
 * the template puts under this registry's host) and `policyKey`, and run from its cdk.out bundles
 * by test/support/template-stack.ts (every function with exactly its template environment, the
 * template's tables and GSIs, queues, rules and event source mappings), as e2e.test.ts and
 * signatures-stack.test.ts drive it. The bundle (per-layer-group policies and base_image rules,
 * as in base-images.test.ts) is put in the bucket as an operator uploads it.
 *
 * Pushed to the real Distribution registry and announced by ECR push events through the
 * template's rule: base v1 (a vulnerable zlib and openssl), an application image built on v1's
 * layers with its own vulnerable curl, then base v2 under the same tag with zlib fixed. The
 * evaluator — with the environment, tables and bus the template gives it — identifies the base,
 * splits findings and policies, writes the base entry of the package index, puts "Drydock Base
 * Image Updated" on the bus named in its environment (source and detail-type the ones its IAM
 * statement allows), and re-evaluates the application image with rebuild advice listing exactly
 * what v2 clears.
 * Real local servers: DynamoDB Local, s3rver, local-aws-sqs, the Distribution registry. Mocked,
 * because they cannot run here: the Lambda runtime, SNS, EventBridge, Secrets Manager and ECR's API.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoAdvisoryStore } from '../../shared/adapters/aws/dynamodb/advisory-store.js';
import { DynamoPackageIndex } from '../../shared/adapters/aws/dynamodb/package-index.js';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-object-store.js';
import { BASE_EVENT_SOURCE, BASE_INDEX_ECOSYSTEM, BASE_UPDATED_DETAIL_TYPE } from '../../shared/pipeline/base-images.js';
import { feedSummaryKey } from '../../shared/pipeline/feed-sync.js';
import { ecrRegistryHost, type ResultMessage } from '../../shared/pipeline/messages.js';
import type { PublishedMessage } from '../support/fake-sns.js';
import { buildImage, pushToRegistry, type LayerSpec } from '../support/image-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { cleanupAssemblies, startTemplateStack, synthesizeAssembly, type TemplateStack, printLogsOnFailure as printStackLogs, deliverEvents } from '../support/template-stack.js';
import { seedExploitData } from './exploit-server.js';
import { advisory, appLayer, baseV1, baseV2, BUNDLE, CURL, OPENSSL, ZLIB } from './base-images-fixture.js';
import { pushEvent, zlibAdvisory } from './support.js';

const BUNDLE_KEY = 'policies/bundle.json';

let stack: TemplateStack;
let registry: TestRegistry;
let work: string;
/** "<this stack's ECR registry>/base/debian", as the template names the trusted base */
let BASE: string;
let n = 0;

async function pushLayers(repository: string, tag: string, layers: LayerSpec[]): Promise<string> {
  const layout = join(work, `layout-${++n}`);
  await buildImage(layout, { tag, layers });
  return (await pushToRegistry(layout, tag, { host: registry.host }, `${repository}:${tag}`)).digest;
}

/** ECR's push event for this stack's account and region. */
function push(digest: string, tag: string, repository: string) {
  return { ...pushEvent(digest, tag, repository), account: stack.account, region: stack.region };
}

beforeAll(async () => {
  const [assembly, reg] = await Promise.all([
    // Slack off (a supported configuration, as in e2e.test.ts); the settings under test
    synthesizeAssembly({ slack: 'false', policyKey: BUNDLE_KEY, baseRepositories: 'base/debian:12' }),
    startRegistry(),
  ]);
  registry = reg;
  work = await mkdtemp(join(tmpdir(), 'drydock-base-images-stack-'));
  stack = await startTemplateStack({ assembly, registry: { host: registry.host, url: registry.url } });
  BASE = `${ecrRegistryHost(stack.account, stack.region)}/base/debian`;

  // the bucket and tables as an operator and feed-sync leave them: bundle, advisories, feed summary, exploit data
  const put = (Key: string, Body: string) => stack.s3Client.send(new PutObjectCommand({ Bucket: stack.outputs.BucketName, Key, Body, ContentType: 'application/json' }));
  await put(BUNDLE_KEY, JSON.stringify(BUNDLE));
  await new DynamoAdvisoryStore(stack.docs, stack.outputs.AdvisoriesTableName!).put([
    zlibAdvisory(`DEBIAN-${ZLIB}`, '1:1.2.13.dfsg-1+deb12u1', 'high'),
    advisory(`DEBIAN-${OPENSSL}`, 'openssl', '3.0.99-1'),
    advisory(`DEBIAN-${CURL}`, 'curl', '7.88.1-10+deb12u99'),
  ]);
  await put(feedSummaryKey('Debian'), JSON.stringify({ format: 'drydock.feed-summary/1', ecosystem: 'Debian', ecosystems: ['Debian:12'], advisories: 3, syncedAt: new Date().toISOString() }));
  await seedExploitData(new S3ObjectStore(stack.s3Client, stack.outputs.BucketName!));
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
  await cleanupAssemblies();
}, 60_000);

const printLogsOnFailure = () => printStackLogs(stack);

const deliver = (...events: Array<Record<string, unknown>>) => deliverEvents(stack, ...events);

const messageOf = (p: PublishedMessage) => JSON.parse(p.message) as ResultMessage;
const publishedFor = (published: PublishedMessage[], digest: string) => published.filter((p) => messageOf(p).image.digest === digest);

interface Report {
  base?: { status: string };
  rebuild?: { clears: Array<{ id: string }> };
  policy: { fired: Array<{ layerGroup?: string; action: string; gate: string; trigger: string; triggerId: string }> };
  vulnerabilities: { findings: Array<{ id: string; layerGroup?: string }> };
}
async function reportOf(m: ResultMessage): Promise<Report> {
  const o = await stack.s3Client.send(new GetObjectCommand({ Bucket: stack.outputs.BucketName, Key: m.reportKey! }));
  return JSON.parse(gunzipSync(Buffer.from(await o.Body!.transformToByteArray())).toString('utf8')) as Report;
}

/** The evaluator role's policy statement with this Sid, from the template. */
function evaluatorStatement(sid: string): { Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> } {
  const role = stack.template.Resources[stack.fn('Evaluator').logicalId]!.Properties!.Role as { 'Fn::GetAtt': [string, string] };
  const statements = Object.values(stack.template.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties?.Roles) === JSON.stringify([{ Ref: role['Fn::GetAtt'][0] }]))
    .flatMap((r) => r.Properties!.PolicyDocument.Statement as Array<{ Sid?: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> }>);
  const found = statements.filter((s) => s.Sid === sid);
  if (found.length !== 1) throw new Error(`the evaluator's role has ${found.length} statements ${sid}`);
  return found[0]!;
}
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

describe('the template-driven stack with baseRepositories: base identified, findings split, a patched base announced and advised', () => {
  it("the evaluator runs with the trusted base under this registry's host, the package index and the bus; the analyzer without the base list", () => {
    const env = stack.fn('Evaluator').env;
    expect(env.DRYDOCK_BASE_REPOSITORIES).toBe(`${BASE}:12`);
    expect(env.DRYDOCK_PACKAGE_INDEX_TABLE).toBe(stack.ref('PackageIndexTable'));
    expect(env.DRYDOCK_EVENT_BUS_NAME).toBe('default');
    expect(env.DRYDOCK_POLICY_KEY).toBe(BUNDLE_KEY);
    expect(stack.fn('Analyzer').env).not.toHaveProperty('DRYDOCK_BASE_REPOSITORIES');
  });

  it('v1 and an application image on it, then v2 under the same tag with the fix: split findings and policies, one "base patched" event naming the application image, its re-evaluation advising exactly what v2 clears', async () => {
    printLogsOnFailure();
    const v1 = await pushLayers('base/debian', '12', baseV1);
    const app = await pushLayers('team/app', '1', [...baseV1, appLayer]);

    const base1 = await deliver(push(v1, '12', 'base/debian'));
    expect(base1.fns).toEqual(['Analyzer', 'Evaluator']);
    expect(base1.published.map((p) => messageOf(p).image.digest)).toEqual([v1]);
    const first = await deliver(push(app, '1', 'team/app'));
    expect(first.fns).toEqual(['Analyzer', 'Evaluator']);
    expect(first.published).toHaveLength(1);

    // base identified by its two leading layers, trusted, current
    const message = messageOf(first.published[0]!);
    expect(message.image).toMatchObject({ digest: app, repository: 'team/app', tags: ['1'] });
    expect(message.base).toMatchObject({ status: 'identified', reference: `${BASE}:12@${v1}`, trusted: true, source: 'layers', layerCount: 2 });
    expect(message.base).not.toHaveProperty('newest');
    expect(message).not.toHaveProperty('rebuild');
    expect(first.published[0]!.attributes).toMatchObject({ base_image: `${BASE}:12@${v1}`, base_status: 'trusted', status: 'fail' });
    // findings split: zlib and openssl in the base's layers, curl in the application's
    expect(Object.fromEntries(message.topFindings!.map((f) => [f.id, f.layerGroup]))).toEqual({ [ZLIB]: 'base', [OPENSSL]: 'base', [CURL]: 'application' });
    // per-group policies: the base's findings WARN (base_policy_ids), the application's STOP (application_policy_ids)
    const r = await reportOf(message);
    expect(r.vulnerabilities.findings.map((f) => `${f.id}:${f.layerGroup}`).sort()).toEqual([`${ZLIB}:base`, `${OPENSSL}:base`, `${CURL}:application`].sort());
    expect(r.policy.fired.map((f) => `${f.layerGroup}:${f.action}:${f.triggerId.split('+')[0]}`).sort()).toEqual([`application:STOP:${CURL}`, `base:WARN:${ZLIB}`, `base:WARN:${OPENSSL}`]);
    expect(message.status).toBe('fail');

    // the base entry in the template's package index table, under a partition key the evaluator's IAM condition allows
    const name = `${BASE}:12`;
    const index = new DynamoPackageIndex(stack.docs, stack.ref('PackageIndexTable'));
    expect(await index.imagesFor({ ecosystem: BASE_INDEX_ECOSYSTEM, name })).toEqual([{ key: { ecosystem: BASE_INDEX_ECOSYSTEM, name }, digest: app, repository: 'team/app', versions: [v1] }]);
    const raw = await stack.docs.send(new QueryCommand({ TableName: stack.ref('PackageIndexTable'), KeyConditionExpression: 'pkg = :p', ExpressionAttributeValues: { ':p': `${BASE_INDEX_ECOSYSTEM}|${name}` } }));
    expect(raw.Items?.map((i) => i.digest)).toEqual([app]);
    const leading = evaluatorStatement('BaseIndexEntries').Condition!['ForAllValues:StringLike']!['dynamodb:LeadingKeys'] as string[];
    expect(leading.some((p) => p.endsWith('*') && String(raw.Items![0]!.pkg).startsWith(p.slice(0, -1)))).toBe(true);
    expect(stack.eventBridge.accepted.filter((e) => e.DetailType === BASE_UPDATED_DETAIL_TYPE)).toEqual([]);

    // base v2 under the same tag, zlib fixed: analysed, evaluated, announced; the application re-evaluated
    const v2 = await pushLayers('base/debian', '12', baseV2);
    expect(v2).not.toBe(v1);
    const patched = await deliver(push(v2, '12', 'base/debian'));
    // no rule of the template takes the event on to a function: only the base's analysis and the two evaluations ran
    expect(patched.fns).toEqual(['Analyzer', 'Evaluator', 'Evaluator']);
    expect(patched.published.map((p) => messageOf(p).image.digest)).toEqual([v2, app]);

    // the event: on the bus of the evaluator's environment, with the source and detail-type its IAM statement allows
    const announced = stack.eventBridge.accepted.filter((e) => e.DetailType === BASE_UPDATED_DETAIL_TYPE);
    expect(announced).toHaveLength(1);
    const e = announced[0]!;
    const allowed = evaluatorStatement('AnnounceBasePatched');
    expect(allowed.Action).toBe('events:PutEvents');
    expect(JSON.stringify(allowed.Resource)).toMatch(new RegExp(`:event-bus/${stack.fn('Evaluator').env.DRYDOCK_EVENT_BUS_NAME}"\\]\\]\\}$`));
    expect([e.EventBusName, e.Source]).toEqual([stack.fn('Evaluator').env.DRYDOCK_EVENT_BUS_NAME, allowed.Condition!.StringEquals!['events:source']]);
    expect(asList(allowed.Condition!.StringEquals!['events:detail-type'])).toContain(e.DetailType);
    expect([e.Source, e.DetailType]).toEqual([BASE_EVENT_SOURCE, BASE_UPDATED_DETAIL_TYPE]);
    expect(JSON.parse(e.Detail!)).toEqual({ schema: 'drydock.base-image-updated/1', base: BASE, tag: '12', digest: v2, previousDigests: [v1], images: [{ digest: app, repository: 'team/app', builtOn: v1 }], total: 1 });
    expect(stack.eventBridge.deliveryErrors).toEqual([]);

    // the application image re-evaluated because of v2: stale base, rebuild advice listing exactly what v2 clears
    const [again] = publishedFor(patched.published, app);
    const m2 = messageOf(again!);
    expect(m2.reason).toBe(`base:base:${BASE}:12@${v2}`);
    expect(m2.changed).toBe(true);
    expect(m2.base).toMatchObject({ reference: `${BASE}:12@${v1}`, trusted: true, newest: { digest: v2, tag: '12' } });
    expect(again!.attributes).toMatchObject({ base_image: `${BASE}:12@${v1}`, base_status: 'stale', changed: 'true' });
    // zlib is fixed in v2; openssl is in v2 too and remains; curl is the application's own
    expect(m2.rebuild).toMatchObject({ to: v2, remains: 1, clears: [{ id: ZLIB, package: 'zlib1g', version: '1:1.2.13.dfsg-1', severity: 'high', fixedIn: '1:1.2.13.dfsg-1+deb12u1' }] });
    expect(m2.rebuild!.clears).toHaveLength(1);
    expect(m2.rebuild!.summary).toMatch(/clears 1 finding in the base layers; 1 remains/);
    expect(Object.fromEntries(m2.topFindings!.map((f) => [f.id, f.layerGroup]))).toEqual({ [ZLIB]: 'base', [OPENSSL]: 'base', [CURL]: 'application' });
    const r2 = await reportOf(m2);
    expect(r2.policy.fired.filter((f) => f.gate === 'base_image').map((f) => `${f.trigger}:${f.action}`)).toEqual(['stale:WARN']);
    expect(r2.rebuild!.clears.map((c) => c.id)).toEqual([ZLIB]);
    // v2 itself: a base judged by the bases' mapping, its own digest the newest
    expect(messageOf(publishedFor(patched.published, v2)[0]!).image).toMatchObject({ repository: 'base/debian', tags: ['12'] });
  }, 240_000);
});
