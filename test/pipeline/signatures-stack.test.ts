/**
 * Signatures end to end through the deployed wiring (issue 19's done-when: "an image in the local
 * registry with a referrer signature made by the test's own key verifies end to end through the
 * pipeline's local stack"). The stack is synthesized from infra/ with the settings
 * `trustPolicyKey` and `policyKey` and run from its cdk.out bundles by
 * test/support/template-stack.ts (every function with exactly its template environment, the
 * template's queues, rules and event source mappings), as e2e.test.ts drives it. The trust policy
 * (inline root certificate) and a bundle (the shipped default bundle plus image_signature STOP
 * rules) are put in the bucket as an operator uploads them.
 *
 * Images pushed to the real Distribution registry: one unsigned, one with a Notary Project JWS
 * referrer signature by the test's own certificate chain (trusted by the policy), one with a COSE
 * referrer signature by a second chain the policy does not trust. Then a COSE signature by the
 * trusted chain is pushed for the unsigned image and its push event re-evaluates it.
 * Signatures are made here (test/trust/pki.ts) and pushed with the distribution API
 * (test/trust/push.ts), with the referrers tag, since this Distribution has no referrers API.
 * Real local servers: DynamoDB Local, s3rver, local-aws-sqs, the Distribution registry. Mocked,
 * because they cannot run here: the Lambda runtime, SNS, EventBridge, Secrets Manager and ECR's API.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoAdvisoryStore } from '../../shared/adapters/aws/dynamodb/advisory-store.js';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-object-store.js';
import { feedSummaryKey } from '../../shared/pipeline/feed-sync.js';
import type { ResultMessage } from '../../shared/pipeline/messages.js';
import type { PublishedMessage } from '../support/fake-sns.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { cleanupAssemblies, startTemplateStack, synthesizeAssembly, type TemplateStack, printLogsOnFailure as printStackLogs, deliverEvents } from '../support/template-stack.js';
import { makeChain, signNotationCose, signNotationJws, type TestChain } from '../trust/pki.js';
import { pushReferrer, putReferrersTag, type Pushed } from '../trust/push.js';
import { seedExploitData } from './exploit-server.js';
import { debianLayers, pushEvent, pushImage, zlibAdvisory } from './support.js';

const BUNDLE_KEY = 'policies/bundle.json';
const TRUST_KEY = 'policies/trust.json';
const NOTATION_TYPE = 'application/vnd.cncf.notary.signature';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** the leaf subject makeChain gives, as the verifier writes it (and the policy's identity) */
const SIGNER = 'C=US, ST=WA, O=Drydock Test, CN=release signer';

/**
 * The shipped default bundle with the image_signature gate's three triggers as STOP rules in its
 * policy: a signed image is judged by the default rules alone (the e2e image's "warn"), any
 * signature problem fails it.
 */
function bundle(): unknown {
  const b = JSON.parse(readFileSync(new URL('../../shared/policy/default-bundle.json', import.meta.url), 'utf8')) as { id: string; policies: Array<{ rules: unknown[] }> };
  b.id = 'default-and-signed';
  for (const trigger of ['unsigned', 'untrusted_signer', 'invalid_signature']) b.policies[0]!.rules.push({ id: `signature-${trigger}`, gate: 'image_signature', trigger, action: 'STOP', params: [] });
  return b;
}

let stack: TemplateStack;
let registry: TestRegistry;
let work: string;
let trusted: TestChain;
let untrusted: TestChain;
/** the images by role, as pushed (manifest descriptor) */
const images = {} as Record<'signed' | 'unsigned' | 'untrusted' | 'tampered', Pushed & { repository: string; tag: string }>;

/** ECR's push event for this stack's account and region. */
function push(digest: string, tag: string | undefined, repository: string, id?: string) {
  const e = pushEvent(digest, tag ?? 'none', repository, id);
  if (tag === undefined) delete e.detail['image-tag'];
  return { ...e, account: stack.account, region: stack.region };
}

async function manifestOf(repository: string, digest: string): Promise<Pushed> {
  const res = await fetch(`${registry.url}/v2/${repository}/manifests/${digest}`, { headers: { accept: OCI_MANIFEST } });
  const bytes = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`manifest ${repository}@${digest}: HTTP ${res.status}`);
  return { mediaType: res.headers.get('content-type') ?? OCI_MANIFEST, digest, size: bytes.length };
}

/** A Notary Project signature (JWS or COSE envelope) pushed as an OCI referrer of `subject`, with the referrers tag. */
async function sign(subject: Pushed & { repository: string }, chain: TestChain, envelope: 'jws' | 'cose', change?: (jws: Buffer) => Buffer): Promise<Pushed & { artifactType: string }> {
  const target = { digest: subject.digest, mediaType: subject.mediaType, size: subject.size };
  const signed = envelope === 'jws' ? signNotationJws(chain, target) : signNotationCose(chain, target);
  const layer = change ? change(signed) : signed;
  const referrer = await pushReferrer(registry.url, subject.repository, subject, { artifactType: NOTATION_TYPE, layerMediaType: envelope === 'jws' ? 'application/jose+json' : 'application/cose', layer });
  await putReferrersTag(registry.url, subject.repository, subject.digest, [referrer]);
  return referrer;
}

beforeAll(async () => {
  const [assembly, reg, a, b] = await Promise.all([
    // Slack off (a supported configuration, as in e2e.test.ts); the two settings under test
    synthesizeAssembly({ slack: 'false', policyKey: BUNDLE_KEY, trustPolicyKey: TRUST_KEY }),
    startRegistry(),
    makeChain(),
    // another root, the same leaf subject: what the policy refuses is the chain, not the name
    makeChain({ rootSubject: '/C=US/ST=WA/O=Someone Else/CN=Other Root' }),
  ]);
  [registry, trusted, untrusted] = [reg, a, b];
  work = await mkdtemp(join(tmpdir(), 'drydock-signatures-stack-'));
  stack = await startTemplateStack({ assembly, registry: { host: registry.host, url: registry.url } });

  // the bucket as an operator and feed-sync leave it: bundle, trust policy, advisory data
  const put = (Key: string, Body: string) => stack.s3Client.send(new PutObjectCommand({ Bucket: stack.outputs.BucketName, Key, Body, ContentType: 'application/json' }));
  const ecrRegistry = `${stack.account}.dkr.ecr.${stack.region}.amazonaws.com`;
  await put(BUNDLE_KEY, JSON.stringify(bundle()));
  await put(
    TRUST_KEY,
    JSON.stringify({ version: 1, policies: [{ name: 'production', scopes: [`${ecrRegistry}/team/*`], notation: { trustStores: [{ name: 'release-root', pem: trusted.rootPem }], identities: [`x509.subject: ${SIGNER}`] } }] }),
  );
  await new DynamoAdvisoryStore(stack.docs, stack.outputs.AdvisoriesTableName!).put([zlibAdvisory()]);
  const summary = { format: 'drydock.feed-summary/1', ecosystem: 'Debian', ecosystems: ['Debian:12'], advisories: 1, syncedAt: new Date().toISOString() };
  await put(feedSummaryKey('Debian'), JSON.stringify(summary));
  await seedExploitData(new S3ObjectStore(stack.s3Client, stack.outputs.BucketName!));

  // three images, each its own application layer (the images table is keyed by digest; three
  // layers, as in e2e.test.ts, stay under the layer fan-out) and its own repository
  for (const role of ['signed', 'unsigned', 'untrusted', 'tampered'] as const) {
    const repository = `team/${role}`;
    const layers = [...debianLayers().slice(0, 2), { files: [{ path: 'app/README', content: `the ${role} application\n` }] }];
    const digest = await pushImage(work, registry.host, role, layers, repository);
    images[role] = { ...(await manifestOf(repository, digest)), repository, tag: role };
  }
  await sign(images.signed, trusted, 'jws');
  await sign(images.untrusted, untrusted, 'cose');
  // by the trusted chain, then one byte of the signed payload changed (its size): the signature no longer verifies
  await sign(images.tampered, trusted, 'jws', (jws) => {
    const envelope = JSON.parse(jws.toString('utf8')) as { payload: string };
    const payload = JSON.parse(Buffer.from(envelope.payload, 'base64url').toString('utf8')) as { targetArtifact: { size: number } };
    payload.targetArtifact.size += 1;
    envelope.payload = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return Buffer.from(JSON.stringify(envelope));
  });
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

async function reportOf(m: ResultMessage): Promise<{ policy: { fired: Array<{ gate: string; trigger: string; action: string; triggerId: string; message: string }> }; signatures: { verdicts: Array<{ format: string; status: string; code?: string }> } }> {
  const o = await stack.s3Client.send(new GetObjectCommand({ Bucket: stack.outputs.BucketName, Key: m.reportKey! }));
  return JSON.parse(gunzipSync(Buffer.from(await o.Body!.transformToByteArray())).toString('utf8')) as never;
}

const signatureFires = async (m: ResultMessage) => (await reportOf(m)).policy.fired.filter((f) => f.gate === 'image_signature');

describe('the template-driven stack with trustPolicyKey: the evaluator verifies Notary Project referrer signatures', () => {
  it('the evaluator runs with the trust policy key from the template, and the analyzer without it', () => {
    expect(stack.fn('Evaluator').env.DRYDOCK_TRUST_POLICY_KEY).toBe(TRUST_KEY);
    expect(stack.fn('Evaluator').env.DRYDOCK_POLICY_KEY).toBe(BUNDLE_KEY);
    expect(stack.fn('Analyzer').env).not.toHaveProperty('DRYDOCK_TRUST_POLICY_KEY');
  });

  it("signed by the test's trusted chain (JWS referrer): signed with the signer's identity in the result and the attributes; the verdict is the default rules' (warn), no signature rule fired", async () => {
    printLogsOnFailure();
    const img = images.signed;
    const { fns, published } = await deliver(push(img.digest, img.tag, img.repository));
    expect(fns).toEqual(['Analyzer', 'Evaluator']);
    expect(published).toHaveLength(1);
    const msg = messageOf(published[0]!);
    expect(msg.image).toMatchObject({ digest: img.digest, repository: img.repository, tags: [img.tag] });
    expect(msg.signature).toEqual({ status: 'signed', signers: [SIGNER], reason: `signed by ${SIGNER} (notation)` });
    expect(msg.status).toBe('warn');
    expect(msg.policy).toMatchObject({ bundleId: 'default-and-signed', stopRules: 0 });
    expect(published[0]!.attributes).toMatchObject({ status: 'warn', repository: img.repository, signature_status: 'signed', signature_signers: SIGNER });
    expect(await signatureFires(msg)).toEqual([]);
    expect((await reportOf(msg)).signatures.verdicts).toEqual([expect.objectContaining({ format: 'notation', status: 'valid' })]);
  }, 180_000);

  it('unsigned: fail, by the image_signature gate (its reason in the report), signature_status unsigned, no signers attribute', async () => {
    printLogsOnFailure();
    const img = images.unsigned;
    const { published } = await deliver(push(img.digest, img.tag, img.repository));
    expect(published).toHaveLength(1);
    const msg = messageOf(published[0]!);
    expect(msg.status).toBe('fail');
    expect(msg.signature).toEqual({ status: 'unsigned', signers: [], reason: 'no signature found; trust policy "production" requires one' });
    expect(msg.policy).toMatchObject({ stopRules: 1 });
    expect(published[0]!.attributes).toMatchObject({ status: 'fail', signature_status: 'unsigned' });
    expect(published[0]!.attributes).not.toHaveProperty('signature_signers');
    expect(await signatureFires(msg)).toEqual([
      expect.objectContaining({ trigger: 'unsigned', action: 'STOP', triggerId: 'unsigned', message: 'Image is not signed: no signature found; trust policy "production" requires one' }),
    ]);
  }, 180_000);

  it('signed by a chain the policy does not trust (COSE referrer): fail by untrusted_signer, signature_status untrusted', async () => {
    printLogsOnFailure();
    const img = images.untrusted;
    const { published } = await deliver(push(img.digest, img.tag, img.repository));
    expect(published).toHaveLength(1);
    const msg = messageOf(published[0]!);
    expect(msg.status).toBe('fail');
    expect(msg.signature).toMatchObject({ status: 'untrusted', signers: [], reason: expect.stringMatching(/^notation signature by an untrusted signer: the certificate chain \(root "C=US, ST=WA, O=Someone Else, CN=Other Root"\) ends in none of the 1 trust-store/) });
    expect(published[0]!.attributes).toMatchObject({ status: 'fail', signature_status: 'untrusted' });
    expect(published[0]!.attributes).not.toHaveProperty('signature_signers');
    expect(await signatureFires(msg)).toEqual([expect.objectContaining({ trigger: 'untrusted_signer', action: 'STOP', triggerId: SIGNER })]);
  }, 180_000);

  it('signed by the trusted chain, its payload then altered (JWS referrer): fail by invalid_signature, signature_status invalid', async () => {
    printLogsOnFailure();
    const img = images.tampered;
    const { published } = await deliver(push(img.digest, img.tag, img.repository));
    expect(published).toHaveLength(1);
    const msg = messageOf(published[0]!);
    expect(msg.status).toBe('fail');
    expect(msg.signature).toMatchObject({ status: 'invalid', signers: [], reason: 'notation signature invalid: the ES256 signature does not verify with the leaf certificate\'s key: the JWS envelope was altered' });
    expect(published[0]!.attributes).toMatchObject({ status: 'fail', signature_status: 'invalid' });
    expect(published[0]!.attributes).not.toHaveProperty('signature_signers');
    expect(await signatureFires(msg)).toEqual([expect.objectContaining({ trigger: 'invalid_signature', action: 'STOP', message: expect.stringMatching(/^Invalid notation signature \(bad_signature\)/) })]);
  }, 180_000);

  it("a trusted signature pushed for the unsigned image: its push event re-evaluates the image (reason signature), fail → warn; the artifact is never scanned", async () => {
    printLogsOnFailure();
    const img = images.unsigned;
    const referrer = await sign(img, trusted, 'cose');
    // ECR stores a referrer untagged: its push event names no tag
    const event = push(referrer.digest, undefined, img.repository, 'evt-late-signature');
    const { fns, published } = await deliver(event);
    expect(fns).toEqual(['Analyzer', 'Evaluator']);
    expect(published).toHaveLength(1);
    const msg = messageOf(published[0]!);
    expect(msg.image.digest).toBe(img.digest);
    expect(msg).toMatchObject({ status: 'warn', previousStatus: 'fail', changed: true, signature: { status: 'signed', signers: [SIGNER] } });
    expect(msg.reason).toBe(`signature:signature:${referrer.digest}@ecr-event:${event.id}`);
    expect(published[0]!.attributes).toMatchObject({ status: 'warn', signature_status: 'signed', signature_signers: SIGNER, changed: 'true' });
    expect(await signatureFires(msg)).toEqual([]);
    // the artifact itself: recorded as skipped, never scanned (no inventory)
    const artifact = (await stack.docs.send(new GetCommand({ TableName: stack.outputs.ImagesTableName, Key: { digest: referrer.digest }, ConsistentRead: true }))).Item;
    expect(artifact).toMatchObject({ status: 'skipped', skipReason: `signature artifact (notation) of ${img.digest}: its evaluation queued` });
    expect(artifact).not.toHaveProperty('inventoryKey');
  }, 180_000);
});
