/**
 * Base images in the pipeline (issue 19 items 3–4), in one process on memory ports with the real
 * local Distribution registry: a trusted base (base/debian:12, v1 with a vulnerable zlib), an
 * application image built on it (its own layer adds a vulnerable curl), then base v2 pushed
 * under the same tag with zlib fixed. The evaluator identifies the base by its leading layers,
 * splits the findings, applies the bundle's base_policy_ids / application_policy_ids per group,
 * announces the patched base (one event naming the application image, one re-evaluation) and
 * the re-evaluation's result carries rebuild advice listing exactly what v2 clears. An image on
 * a base of the same repository under an untrusted tag fires base_image not_trusted.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { feedSummaryKey } from '../../shared/pipeline/feed-sync.js';
import { MemoryAdvisoryStore } from '../../shared/adapters/local/memory-advisory-store.js';
import { MemoryObjectStore } from '../../shared/adapters/local/memory-messaging.js';
import { BASE_EVENT_SOURCE, BASE_INDEX_ECOSYSTEM, BASE_UPDATED_DETAIL_TYPE } from '../../shared/pipeline/base-images.js';
import type { PipelineConfig } from '../../shared/pipeline/config.js';
import { drainLocal, localPipeline, type LocalPipeline } from '../../shared/pipeline/local.js';
import { prepareAnalyzerMessage } from '../../shared/pipeline/run.js';
import { cosignPayload, cosignSign, testKey } from '../trust/helpers.js';
import { pushCosignSigTag } from '../trust/push.js';
import { ecrRegistryHost, type ResultMessage } from '../../shared/pipeline/messages.js';
import { stanza, statusFile } from '../integration/helpers.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { buildImage, pushToRegistry, type LayerSpec } from '../support/image-builder.js';
import { advisory, appLayer, baseV1, baseV2, BUNDLE, CURL, osLayer, OPENSSL, ZLIB } from './base-images-fixture.js';
import { pushEvent, zlibAdvisory } from './support.js';

const BUNDLE_KEY = 'policies/bundle.json';
const TRUST_KEY = 'policies/trust.json';
// the push events' account and region (events/ecr-push.json): the registry the records name
const REGISTRY = ecrRegistryHost('111122223333', 'eu-west-1');
const BASE = `${REGISTRY}/base/debian`;

const baseOld = [osLayer, { files: [{ path: 'var/lib/dpkg/status', content: statusFile(stanza('tzdata', '2023c-5')) }] }];

let registry: TestRegistry;
let work: string;
let n = 0;
async function push(repository: string, tag: string, layers: LayerSpec[]): Promise<string> {
  const layout = join(work, `layout-${++n}`);
  await buildImage(layout, { tag, layers });
  return (await pushToRegistry(layout, tag, { host: registry.host }, `${repository}:${tag}`)).digest;
}

beforeAll(async () => {
  registry = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'drydock-base-images-'));
}, 60_000);
afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function pipeline(extra: { config?: Partial<PipelineConfig>; bundle?: unknown; trust?: unknown } = {}): Promise<LocalPipeline> {
  const advisories = new MemoryAdvisoryStore();
  advisories.add(zlibAdvisory(`DEBIAN-${ZLIB}`, '1:1.2.13.dfsg-1+deb12u1', 'high'));
  advisories.add(advisory(`DEBIAN-${OPENSSL}`, 'openssl', '3.0.99-1'));
  advisories.add(advisory(`DEBIAN-${CURL}`, 'curl', '7.88.1-10+deb12u99'));
  const objects = new MemoryObjectStore();
  objects.objects.set(feedSummaryKey('Debian'), { bytes: Buffer.from(JSON.stringify({ format: 'drydock.feed-summary/1', ecosystem: 'Debian', ecosystems: ['Debian:12'], advisories: 3, syncedAt: new Date().toISOString() })) });
  // another bundle under its own key: the evaluator keeps a bundle for a minute by its key
  const policyKey = extra.bundle ? 'policies/bundle-other.json' : BUNDLE_KEY;
  const p = localPipeline({ advisories, objects, config: { registryOverride: registry.host, fanoutMinLayers: 0, publishMode: 'always', policyKey, baseRepositories: [`${BASE}:12`], ...extra.config } });
  await p.deps.objects.put(policyKey, JSON.stringify(extra.bundle ?? BUNDLE));
  if (extra.trust) await p.deps.objects.put(TRUST_KEY, JSON.stringify(extra.trust));
  return p;
}

type Sent = { message: ResultMessage; attributes: Record<string, string> };
const sent = (p: LocalPipeline) => p.publisher.messages as Sent[];
const resultOf = (p: LocalPipeline, digest: string) => sent(p).filter((m) => m.message.image.digest === digest).at(-1)!;
async function report(p: LocalPipeline, m: ResultMessage) {
  return JSON.parse(gunzipSync((await p.deps.objects.get(m.reportKey!))!).toString('utf8')) as {
    base?: { status: string };
    rebuild?: { clears: Array<{ id: string }> };
    policy: { fired: Array<{ layerGroup?: string; action: string; gate: string; trigger: string; triggerId: string }> };
    vulnerabilities: { findings: Array<{ id: string; layerGroup?: string }> };
  };
}

describe('a trusted base, an application image on it, then the base patched', () => {
  it('identifies the base, splits findings and policies by layer group, and advises exactly what the patched base clears', async () => {
    const p = await pipeline();
    const v1 = await push('base/debian', '12', baseV1);
    const app = await push('team/app', '1', [...baseV1, appLayer]);
    await drainLocal(p, [pushEvent(v1, '12', 'base/debian')]);
    const first = await drainLocal(p, [pushEvent(app, '1', 'team/app')]);
    expect(first.outcomes.map((o) => o.outcome)).toEqual(['analyzed', 'evaluated']);

    // base identified by its two leading layers, trusted, current
    const { message, attributes } = resultOf(p, app);
    expect(message.base).toMatchObject({ status: 'identified', reference: `${BASE}:12@${v1}`, trusted: true, source: 'layers', layerCount: 2 });
    expect(message.base).not.toHaveProperty('newest');
    expect(message).not.toHaveProperty('rebuild');
    expect(attributes).toMatchObject({ base_image: `${BASE}:12@${v1}`, base_status: 'trusted' });
    // findings split: zlib and openssl in the base's layers, curl in the application's
    const groups = Object.fromEntries(message.topFindings!.map((f) => [f.id, f.layerGroup]));
    expect(groups).toEqual({ [ZLIB]: 'base', [OPENSSL]: 'base', [CURL]: 'application' });
    // per-group policies: the base's findings WARN (base_policy_ids), the application's STOP (application_policy_ids)
    const r = await report(p, message);
    expect(r.vulnerabilities.findings.map((f) => `${f.id}:${f.layerGroup}`).sort()).toEqual([`${ZLIB}:base`, `${OPENSSL}:base`, `${CURL}:application`].sort());
    expect(r.policy.fired.map((f) => `${f.layerGroup}:${f.action}:${f.triggerId.split('+')[0]}`).sort()).toEqual([`application:STOP:${CURL}`, `base:WARN:${ZLIB}`, `base:WARN:${OPENSSL}`]);
    expect(message.status).toBe('fail');
    // the package index knows the application image is built on v1 of base/debian:12
    const name = `${BASE}:12`;
    expect(await p.deps.packageIndex.imagesFor({ ecosystem: BASE_INDEX_ECOSYSTEM, name })).toEqual([{ key: { ecosystem: BASE_INDEX_ECOSYSTEM, name }, digest: app, repository: 'team/app', versions: [v1] }]);
    expect(p.bus.events).toEqual([]);
    // another application image on v1, deleted from the registry since: never announced nor re-evaluated
    const gone = await push('team/gone', '1', [...baseV1, { files: [{ path: 'app/README', content: 'gone\n' }] }]);
    await drainLocal(p, [pushEvent(gone, '1', 'team/gone')]);
    expect((await p.deps.packageIndex.imagesFor({ ecosystem: BASE_INDEX_ECOSYSTEM, name })).map((e) => e.digest).sort()).toEqual([app, gone].sort());
    await drainLocal(p, [{ ...pushEvent(gone, '1', 'team/gone', 'evt-gone'), 'detail-type': 'ECR Image Action', detail: { ...pushEvent(gone, '1', 'team/gone').detail, 'action-type': 'DELETE' } }]);
    expect((await p.deps.images.get(gone))?.status).toBe('deleted');

    // base v2 under the same tag, zlib fixed: analysed, evaluated, announced; the application re-evaluated
    const v2 = await push('base/debian', '12', baseV2);
    expect(v2).not.toBe(v1);
    const patched = await drainLocal(p, [pushEvent(v2, '12', 'base/debian')]);
    expect(patched.outcomes.map((o) => [o.outcome, 'digest' in o ? o.digest : undefined])).toEqual([['analyzed', v2], ['evaluated', v2], ['evaluated', app]]);
    expect(p.bus.events).toEqual([
      {
        source: BASE_EVENT_SOURCE,
        detailType: BASE_UPDATED_DETAIL_TYPE,
        detail: { schema: 'drydock.base-image-updated/1', base: BASE, tag: '12', digest: v2, previousDigests: [v1], images: [{ digest: app, repository: 'team/app', builtOn: v1 }], total: 1 },
      },
    ]);
    // the sample in events/ has the same shape
    const sample = JSON.parse(readFileSync(new URL('../../events/base-image-updated.json', import.meta.url), 'utf8')) as { source: string; 'detail-type': string; detail: Record<string, unknown> };
    expect([sample.source, sample['detail-type']]).toEqual([BASE_EVENT_SOURCE, BASE_UPDATED_DETAIL_TYPE]);
    expect(Object.keys(sample.detail).sort()).toEqual(Object.keys(p.bus.events[0]!.detail as object).sort());
    const again = resultOf(p, app);
    expect(again.message.reason).toBe(`base:base:${BASE}:12@${v2}`);
    expect(again.message.changed).toBe(true);
    expect(again.message.base).toMatchObject({ reference: `${BASE}:12@${v1}`, trusted: true, newest: { digest: v2, tag: '12' } });
    expect(again.attributes.base_status).toBe('stale');
    // exactly what v2 clears: zlib (fixed there); openssl is in v2 too and remains
    expect(again.message.rebuild).toMatchObject({ to: v2, remains: 1, clears: [{ id: ZLIB, package: 'zlib1g', version: '1:1.2.13.dfsg-1', severity: 'high', fixedIn: '1:1.2.13.dfsg-1+deb12u1' }] });
    expect(again.message.rebuild!.clears).toHaveLength(1);
    expect(again.message.rebuild!.summary).toMatch(/clears 1 finding in the base layers; 1 remains/);
    // the stale base now warns too
    const r2 = await report(p, again.message);
    expect(r2.policy.fired.filter((f) => f.gate === 'base_image').map((f) => `${f.trigger}:${f.action}`)).toEqual(['stale:WARN']);
    expect(r2.rebuild!.clears.map((c) => c.id)).toEqual([ZLIB]);

    // re-analysis of the application image (new catalogers) keeps its one base entry
    await p.deps.images.update(app, { analysisVersion: 'older-catalogers' });
    const entryOfApp = async () => (await p.deps.packageIndex.imagesFor({ ecosystem: BASE_INDEX_ECOSYSTEM, name })).filter((e) => e.digest === app);
    const analysis = prepareAnalyzerMessage(JSON.stringify(pushEvent(app, '1', 'team/app', 'evt-reanalysis')), p.deps, { messageId: 'reanalysis', receiveCount: 1 });
    expect(await analysis.run()).toMatchObject({ outcome: 'analyzed', digest: app });
    // the analysis alone (its previous keys are the inventory's) leaves the entry; the evaluation writes it over, once
    expect(await entryOfApp()).toEqual([{ key: { ecosystem: BASE_INDEX_ECOSYSTEM, name }, digest: app, repository: 'team/app', versions: [v1] }]);
    expect((await drainLocal(p)).outcomes.map((o) => o.outcome)).toEqual(['evaluated']);
    expect(await entryOfApp()).toEqual([{ key: { ecosystem: BASE_INDEX_ECOSYSTEM, name }, digest: app, repository: 'team/app', versions: [v1] }]);
    // the newest base evaluated again (a rescan) announces nothing: only its analysis does
    const rescan = { schema: 'drydock.evaluate-job/1', jobId: `evaluate:${v2}:rescan:u1`, digest: v2, reason: 'rescan', trigger: 'u1', requestedAt: new Date().toISOString() };
    await p.evaluateQueue.send(rescan);
    const rescanned = await drainLocal(p);
    expect(rescanned.outcomes.map((o) => [o.outcome, 'digest' in o ? o.digest : undefined])).toEqual([['evaluated', v2]]);
    expect(p.bus.events).toHaveLength(1);
  });

  it('an image on a digest of the base repository under a tag the list does not trust fires base_image not_trusted', async () => {
    const p = await pipeline();
    const old = await push('base/debian', '11', baseOld);
    const app = await push('team/legacy', '1', [...baseOld, appLayer]);
    await drainLocal(p, [pushEvent(old, '11', 'base/debian'), pushEvent(app, '1', 'team/legacy')]);
    const { message, attributes } = resultOf(p, app);
    expect(message.base).toMatchObject({ status: 'identified', reference: `${BASE}:11@${old}`, trusted: false });
    expect(attributes.base_status).toBe('untrusted');
    const r = await report(p, message);
    expect(r.policy.fired.filter((f) => f.gate === 'base_image').map((f) => [f.trigger, f.action, f.triggerId])).toEqual([['not_trusted', 'STOP', `${BASE}:11@${old}`]]);
    expect(message.status).toBe('fail');
  });

  it('an image on no known base: unknown, and not_trusted fires with "unknown"', async () => {
    const p = await pipeline();
    const app = await push('team/scratch', '1', [appLayer]);
    await drainLocal(p, [pushEvent(app, '1', 'team/scratch')]);
    const { message, attributes } = resultOf(p, app);
    expect(message.base).toMatchObject({ status: 'unknown', trusted: false, layerCount: 0 });
    expect(attributes.base_status).toBe('unknown');
    expect(attributes).not.toHaveProperty('base_image');
    const r = await report(p, message);
    expect(r.policy.fired.filter((f) => f.gate === 'base_image').map((f) => f.triggerId)).toEqual(['unknown']);
    expect(await p.deps.packageIndex.imagesFor({ ecosystem: BASE_INDEX_ECOSYSTEM, name: `${BASE}:12` })).toEqual([]);
  });

  it("with a trust policy the base's own signature is verified: a signed base passes base_image not_signed, an unsigned one fires it", async () => {
    const key = testKey('p256');
    const signedBase = `${REGISTRY}/base/signed`;
    const bundle = { ...BUNDLE, policies: BUNDLE.policies.map((pol) => (pol.id === 'base-image' ? { ...pol, rules: [{ id: 'unsigned-base', gate: 'base_image', trigger: 'not_signed', action: 'STOP', params: [] }] } : pol)) };
    const trust = { version: 1, policies: [{ name: 'bases', scopes: ['*/base/*'], cosign: { keys: [{ name: 'platform', pem: key.publicPem }] } }] };
    const p = await pipeline({ config: { baseRepositories: [`${signedBase}:12`, `${BASE}:13`], trustPolicyKey: TRUST_KEY }, bundle, trust });
    const signed = await push('base/signed', '12', baseV2);
    await pushCosignSigTag(registry.url, 'base/signed', signed, [{ payload: cosignPayload(signed), signature: cosignSign(key, cosignPayload(signed)) }]);
    const unsigned = await push('base/debian', '13', baseOld);
    const onSigned = await push('team/on-signed', '1', [...baseV2, appLayer]);
    const onUnsigned = await push('team/on-unsigned', '1', [...baseOld, appLayer]);
    await drainLocal(p, [pushEvent(signed, '12', 'base/signed'), pushEvent(unsigned, '13', 'base/debian'), pushEvent(onSigned, '1', 'team/on-signed'), pushEvent(onUnsigned, '1', 'team/on-unsigned')]);

    const good = resultOf(p, onSigned).message;
    expect(good.base).toMatchObject({ reference: `${signedBase}:12@${signed}`, trusted: true, signature: 'signed' });
    expect((await report(p, good)).policy.fired.filter((f) => f.gate === 'base_image')).toEqual([]);
    const bad = resultOf(p, onUnsigned).message;
    expect(bad.base).toMatchObject({ reference: `${BASE}:13@${unsigned}`, trusted: true, signature: 'unsigned' });
    expect((await report(p, bad)).policy.fired.filter((f) => f.gate === 'base_image').map((f) => [f.trigger, f.triggerId])).toEqual([['not_signed', 'unsigned']]);
  });

  it('a base analysed a moment ago is found although the evaluator had the candidates cached', async () => {
    const p = await pipeline();
    const scratch = await push('team/scratch', '2', [appLayer]);
    await drainLocal(p, [pushEvent(scratch, '2', 'team/scratch')]); // candidates listed (none yet) and cached
    const v1 = await push('base/debian', '12', baseV1);
    const app = await push('team/app', '1', [...baseV1, appLayer]);
    // the application's evaluation runs before its base's own (which would refresh the cache)
    const r = await drainLocal(p, [pushEvent(app, '1', 'team/app'), pushEvent(v1, '12', 'base/debian')]);
    expect(r.outcomes.map((o) => [o.outcome, 'digest' in o ? o.digest : undefined])).toEqual([['analyzed', app], ['analyzed', v1], ['evaluated', app], ['evaluated', v1]]);
    expect(resultOf(p, app).message.base).toMatchObject({ status: 'identified', reference: `${BASE}:12@${v1}` });
  });
});
