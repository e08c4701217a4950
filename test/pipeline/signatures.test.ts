/**
 * Signatures in the pipeline (issue 19 item 2), in one process on memory ports with the real
 * local Distribution registry: the evaluator verifies the image's cosign signatures against the
 * trust policy in the bucket (DRYDOCK_TRUST_POLICY_KEY) with the same registry client the
 * analyzer uses, reports them in the result and its message attributes, and the bundle's
 * image_signature gate judges them; a pushed signature (cosign's .sig tag, or an OCI referrer
 * with the referrers tag) re-evaluates its subject instead of being scanned.
 * The signing key is made here (test/trust/helpers.ts), the artifacts pushed with the
 * distribution API as cosign does (test/trust/push.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drainLocal, localPipeline } from '../../shared/pipeline/local.js';
import type { ResultMessage } from '../../shared/pipeline/messages.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { cosignPayload, cosignSign, testKey, type TestKey } from '../trust/helpers.js';
import { pushCosignSigTag, pushReferrer, putReferrersTag } from '../trust/push.js';
import { debianLayers, pushEvent, pushImage } from './support.js';

const TRUST_KEY = 'policies/trust.json';
const BUNDLE_KEY = 'policies/bundle.json';
const COSIGN_REFERRER = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';

// signatures only: no vulnerability rule, so the verdict is the signature gate's alone
const BUNDLE = {
  id: 'signed-only',
  version: '2',
  policies: [{ id: 'signed', rules: [{ id: 'unsigned', gate: 'image_signature', trigger: 'unsigned', action: 'STOP', params: [] }, { id: 'invalid', gate: 'image_signature', trigger: 'invalid_signature', action: 'STOP', params: [] }] }],
  allowlists: [],
  mappings: [{ name: 'all', registry: '*', repository: '*', image: { type: 'tag', value: '*' }, policy_ids: ['signed'], allowlist_ids: [] }],
};

let registry: TestRegistry;
let work: string;
let key: TestKey;
const digests: Record<string, string> = {};

beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'drydock-signatures-'));
  key = testKey('p256');
  // one image per repository (each test's own), the same content
  for (const repo of ['signed', 'unsigned', 'late', 'referrer', 'nopolicy', 'orphan']) digests[repo] = await pushImage(work, registry.host, repo, debianLayers(), `team/${repo}`);
  await pushCosignSigTag(registry.url, 'team/signed', digests.signed!, [{ payload: cosignPayload(digests.signed!), signature: cosignSign(key, cosignPayload(digests.signed!)) }]);
}, 180_000);
afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function pipeline(withTrust = true) {
  const p = localPipeline({ config: { registryOverride: registry.host, fanoutMinLayers: 0, publishMode: 'always', policyKey: BUNDLE_KEY, ...(withTrust ? { trustPolicyKey: TRUST_KEY } : {}) } });
  await p.deps.objects.put(BUNDLE_KEY, JSON.stringify(BUNDLE));
  // keys inline: the pipeline reads no path: entries
  await p.deps.objects.put(TRUST_KEY, JSON.stringify({ version: 1, policies: [{ name: 'production', scopes: ['*/team/*'], cosign: { keys: [{ name: 'release', pem: key.publicPem }] } }] }));
  return p;
}

const sent = (p: Awaited<ReturnType<typeof pipeline>>) => p.publisher.messages as Array<{ message: ResultMessage; attributes: Record<string, string> }>;

describe('the evaluator checks signatures against the trust policy in the bucket', () => {
  it('a signed image: signature.status signed with its signer in the result and the message attributes; the gate passes it', async () => {
    const p = await pipeline();
    await drainLocal(p, [pushEvent(digests.signed!, 'signed', 'team/signed')]);
    const [{ message, attributes }] = sent(p) as [{ message: ResultMessage; attributes: Record<string, string> }];
    expect(message.status).toBe('pass');
    expect(message.signature).toMatchObject({ status: 'signed', signers: [expect.stringMatching(/^release \(SHA256:/)] });
    expect(message.signature!.reason).toMatch(/^signed by release .*\(cosign\)$/);
    expect(attributes.signature_status).toBe('signed');
    expect(attributes.signature_signers).toBe(message.signature!.signers.join(','));
    // the full report keeps every verdict looked at
    const report = JSON.parse((await import('node:zlib')).gunzipSync((await p.deps.objects.get(message.reportKey!))!).toString('utf8')) as { signatures: { verdicts: unknown[] } };
    expect(report.signatures.verdicts).toHaveLength(1);
  });

  it('an unsigned image under a bundle with an image_signature STOP rule fails; no signers attribute', async () => {
    const p = await pipeline();
    await drainLocal(p, [pushEvent(digests.unsigned!, 'unsigned', 'team/unsigned')]);
    const [{ message, attributes }] = sent(p) as [{ message: ResultMessage; attributes: Record<string, string> }];
    expect(message.status).toBe('fail');
    expect(message.signature).toMatchObject({ status: 'unsigned', signers: [], reason: 'no signature found; trust policy "production" requires one' });
    expect(message.policy?.stopRules).toBe(1);
    expect(attributes.signature_status).toBe('unsigned');
    expect(attributes).not.toHaveProperty('signature_signers');
  });

  it('without a trust policy nothing changes: no signature in the result, no attribute (and the gate fails closed: not_checked)', async () => {
    const p = await pipeline(false);
    await drainLocal(p, [pushEvent(digests.nopolicy!, 'nopolicy', 'team/nopolicy')]);
    const [{ message, attributes }] = sent(p) as [{ message: ResultMessage; attributes: Record<string, string> }];
    expect(message).not.toHaveProperty('signature');
    expect(Object.keys(attributes).sort()).toEqual(['changed', 'highestSeverity', 'repository', 'status']);
    expect(message.status).toBe('fail');
  });

  it('a trust policy object that is missing is a CONFIG error naming the key, never "not checked"', async () => {
    const p = localPipeline({ config: { registryOverride: registry.host, fanoutMinLayers: 0, publishMode: 'always', policyKey: BUNDLE_KEY, trustPolicyKey: 'policies/none.json' } });
    await p.deps.objects.put(BUNDLE_KEY, JSON.stringify(BUNDLE));
    await drainLocal(p, [pushEvent(digests.unsigned!, 'unsigned', 'team/unsigned', 'evt-no-trust')]);
    const { message } = sent(p).at(-1)!;
    expect(sent(p)).toHaveLength(1);
    expect(message.status).toBe('error');
    expect(message.error).toMatchObject({ code: 'CONFIG', message: 'the trust policy s3 key policies/none.json (DRYDOCK_TRUST_POLICY_KEY) does not exist' });
  });
});

describe('a pushed signature re-evaluates its subject', () => {
  it("cosign's .sig tag: one evaluation of the subject (now signed, news), no scan of the artifact", async () => {
    const p = await pipeline();
    await drainLocal(p, [pushEvent(digests.late!, 'late', 'team/late')]);
    expect(sent(p).map((m) => [m.message.status, m.message.signature?.status])).toEqual([['fail', 'unsigned']]);

    const payload = cosignPayload(digests.late!);
    const sig = await pushCosignSigTag(registry.url, 'team/late', digests.late!, [{ payload, signature: cosignSign(key, payload) }]);
    const tag = `sha256-${digests.late!.slice(7)}.sig`;
    const r = await drainLocal(p, [pushEvent(sig.digest, tag, 'team/late')]);
    expect(r.outcomes[0]).toEqual({ outcome: 'skipped', digest: sig.digest, why: `signature artifact (cosign-tag) of ${digests.late}: its evaluation queued` });
    expect(r.outcomes[1]).toMatchObject({ outcome: 'evaluated', digest: digests.late, status: 'pass', changed: true });
    expect(r.outcomes).toHaveLength(2);
    // the artifact itself is recorded as skipped, never scanned
    expect(await p.deps.images.get(sig.digest)).toMatchObject({ status: 'skipped', tags: [tag] });
    expect(await p.deps.objects.get(`inventories/${sig.digest.replace(':', '/')}.json.gz`)).toBeUndefined();
    const last = sent(p).at(-1)!;
    expect(last.message).toMatchObject({ status: 'pass', previousStatus: 'fail', changed: true, signature: { status: 'signed' }, image: { digest: digests.late } });
    expect(last.message.reason).toBe(`signature:signature:${tag}@ecr-event:${pushEvent(sig.digest, tag, 'team/late').id}`);
    expect(last.attributes.signature_status).toBe('signed');
    // the same event again: the same evaluation (its result reused), not a second one
    const again = await drainLocal(p, [pushEvent(sig.digest, tag, 'team/late')]);
    expect(again.outcomes.at(-1)).toMatchObject({ outcome: 'evaluated', resultId: (r.outcomes[1] as { resultId: string }).resultId });
  });

  it('an OCI referrer pushed untagged and the referrers tag: each re-evaluates the subject (told from the manifest), the artifact recorded as skipped', async () => {
    const p = await pipeline();
    await drainLocal(p, [pushEvent(digests.referrer!, 'referrer', 'team/referrer')]);
    const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digests.referrer!, size: 0 };
    const manifest = await fetch(`${registry.url}/v2/team/referrer/manifests/${digests.referrer}`, { headers: { accept: subject.mediaType } });
    subject.size = (await manifest.arrayBuffer()).byteLength;
    const payload = cosignPayload(digests.referrer!);
    const referrer = await pushReferrer(registry.url, 'team/referrer', subject, {
      artifactType: COSIGN_REFERRER,
      layerMediaType: SIMPLE_SIGNING,
      layer: payload,
      layerAnnotations: { 'dev.cosignproject.cosign/signature': cosignSign(key, payload) },
    });
    await putReferrersTag(registry.url, 'team/referrer', digests.referrer!, [referrer]);

    const untagged = pushEvent(referrer.digest, 'x', 'team/referrer', 'evt-referrer');
    delete untagged.detail['image-tag'];
    const r = await drainLocal(p, [untagged]);
    expect(r.outcomes.map((o) => o.outcome)).toEqual(['skipped', 'evaluated']);
    expect(r.outcomes[1]).toMatchObject({ digest: digests.referrer, status: 'pass' });
    expect(await p.deps.images.get(referrer.digest)).toMatchObject({ status: 'skipped', skipReason: `signature artifact (cosign) of ${digests.referrer}: its evaluation queued` });
    expect(sent(p).at(-1)!.message.signature?.status).toBe('signed');

    const indexDigest = (await fetch(`${registry.url}/v2/team/referrer/manifests/sha256-${digests.referrer!.slice(7)}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.index.v1+json' } })).headers.get('docker-content-digest')!;
    const byTag = await drainLocal(p, [pushEvent(indexDigest, `sha256-${digests.referrer!.slice(7)}`, 'team/referrer', 'evt-referrers-tag')]);
    expect(byTag.outcomes.map((o) => o.outcome)).toEqual(['skipped', 'evaluated']);
    // the same signature seen again through the referrers tag: re-evaluated, but the signature status
    // is the previous result's (kept in the result history), so it is not news
    expect(byTag.outcomes[1]).toMatchObject({ digest: digests.referrer, status: 'pass', changed: false });
  });

  it('a signature for an image never analysed queues nothing (its own evaluation will read it): skipped as any artifact', async () => {
    const p = await pipeline();
    const payload = cosignPayload(digests.orphan!);
    const sig = await pushCosignSigTag(registry.url, 'team/orphan', digests.orphan!, [{ payload, signature: cosignSign(key, payload) }]);
    const r = await drainLocal(p, [pushEvent(sig.digest, `sha256-${digests.orphan!.slice(7)}.sig`, 'team/orphan', 'evt-orphan')]);
    expect(r.outcomes).toEqual([{ outcome: 'skipped', digest: sig.digest, why: 'not an image: application/vnd.dev.cosign.simplesigning.v1+json' }]);
    expect(p.publisher.messages).toHaveLength(0);
  });
});
