/**
 * What ECR really sends (DESIGN.md §1 "Push events in practice"), through the in-process
 * pipeline on the real local registry: a `docker buildx`-style push (a tagged OCI index, untagged
 * per-platform manifests, in-toto attestation manifests; one PUSH event per manifest), OCI
 * artifacts that are not images (a cosign signature, a Helm chart, an SBOM artifact), an
 * arm64-only image, a retag and redeliveries.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoImageStore } from '../../shared/adapters/aws/dynamodb/image-store.js';
import { DynamoPackageIndex } from '../../shared/adapters/aws/dynamodb/package-index.js';
import { DynamoResultStore } from '../../shared/adapters/aws/dynamodb/result-store.js';
import { createTables, tableNames } from '../../shared/adapters/aws/tables.js';
import { MemoryAdvisoryStore } from '../../shared/adapters/local/memory-advisory-store.js';
import { MemoryObjectStore } from '../../shared/adapters/local/memory-messaging.js';
import { feedSummaryKey } from '../../shared/pipeline/feed-sync.js';
import { MAX_PLATFORMS, UNTAGGED_REASON } from '../../shared/pipeline/analyze.js';
import type { PipelineConfig } from '../../shared/pipeline/config.js';
import { drainLocal, localPipeline } from '../../shared/pipeline/local.js';
import type { ResultMessage } from '../../shared/pipeline/messages.js';
import { prepareAnalyzerMessage } from '../../shared/pipeline/run.js';
import { slackMessage } from '../../shared/report/slack.js';
import { stanza, statusFile } from '../integration/helpers.js';
import { buildArtifact, buildImage, buildIndex, buildMultiPlatformImage, pushToRegistry, type LayerSpec } from '../support/image-builder.js';
import { startDynamoDbLocal } from '../support/dynamodb-local.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { debianLayers, pushEvent, REPOSITORY, zlibAdvisory } from './support.js';

let registry: TestRegistry;
let work: string;
/** the buildx-style push: index, per-platform manifests, attestation manifests */
let buildx: { index: string; amd64: string; arm64: string; attestations: string[] };

/** the arm64 image has zlib at the fixed version: the advisory affects linux/amd64 only */
function arm64Layers(): LayerSpec[] {
  const [first, , last] = debianLayers();
  return [
    first!,
    { files: [{ path: 'var/lib/dpkg/status', content: statusFile(stanza('zlib1g', '1:1.2.13.dfsg-1+deb12u1', { Source: 'zlib' }), stanza('tzdata', '2024a-0+deb12u1')) }] },
    last!,
  ];
}

/**
 * The bucket as feed-sync leaves it after syncing OSV's Debian feed just now: the evaluator
 * checks coverage by these summaries and fails a verdict closed without them (issue 15).
 */
function syncedFeeds(): MemoryObjectStore {
  const objects = new MemoryObjectStore();
  const summary = { format: 'drydock.feed-summary/1', ecosystem: 'Debian', ecosystems: ['Debian:12'], advisories: 1, syncedAt: new Date().toISOString() };
  objects.objects.set(feedSummaryKey('Debian'), { bytes: Buffer.from(JSON.stringify(summary)), contentType: 'application/json' });
  return objects;
}

function pipeline(config: Partial<PipelineConfig> = {}, stores: Partial<Parameters<typeof localPipeline>[0]> = {}) {
  const advisories = new MemoryAdvisoryStore();
  // critical: the default bundle fails linux/amd64 on it; linux/arm64 (zlib fixed) only warns
  advisories.add(zlibAdvisory('DEBIAN-CVE-2099-0001', '1:1.2.13.dfsg-1+deb12u1', 'CRITICAL'));
  return localPipeline({ advisories, objects: syncedFeeds(), ...stores, config: { registryOverride: registry.host, fanoutMinLayers: 0, ...config } });
}

/** ECR's event for a manifest pushed without a tag (the children of an index): no image-tag. */
function untaggedEvent(digest: string, repository = REPOSITORY) {
  const e = pushEvent(digest, 'x', repository, `evt-${digest.slice(7, 19)}-untagged`);
  delete e.detail['image-tag'];
  return e;
}

/** The events of the buildx push, in ECR's order: the manifests the index names first, then the tagged index. */
function buildxEvents(tag = '2.0.0') {
  return [untaggedEvent(buildx.amd64), untaggedEvent(buildx.arm64), ...buildx.attestations.map((a) => untaggedEvent(a)), pushEvent(buildx.index, tag)];
}

async function registryManifestSize(digest: string): Promise<number> {
  const res = await fetch(`${registry.url}/v2/${REPOSITORY}/manifests/${digest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  return (await res.arrayBuffer()).byteLength;
}

const messages = (p: ReturnType<typeof pipeline>) => p.publisher.messages.map((m) => m.message as ResultMessage);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-push-semantics-'));
  registry = await startRegistry();
  const layout = join(work, 'buildx');
  const built = await buildMultiPlatformImage(layout, {
    tag: '2.0.0',
    platforms: [
      { platform: { os: 'linux', architecture: 'amd64' }, layers: debianLayers() },
      { platform: { os: 'linux', architecture: 'arm64' }, layers: arm64Layers() },
    ],
    attestation: true,
  });
  const pushed = await pushToRegistry(layout, '2.0.0', { host: registry.host }, `${REPOSITORY}:2.0.0`, { all: true });
  expect(pushed.digest).toBe(built.indexDigest);
  buildx = { index: built.indexDigest, amd64: built.images[0]!.manifestDigest, arm64: built.images[1]!.manifestDigest, attestations: built.attestations };
}, 90_000);

afterAll(async () => {
  await registry?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('a docker buildx push (tagged index + untagged platform manifests + attestations)', () => {
  it('one analysis with every platform, one result for the tag, the other manifests recorded as skipped, nothing an error', async () => {
    const p = pipeline();
    const r = await drainLocal(p, buildxEvents());
    expect(r.retried).toBe(0);
    const kinds = r.outcomes.map((o) => o.outcome);
    expect(kinds.filter((k) => k === 'analyzed')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'evaluated')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'skipped')).toHaveLength(4);
    expect(kinds).not.toContain('failed');
    expect(r.outcomes.find((o) => o.outcome === 'analyzed')).toMatchObject({ digest: buildx.index, packages: 5 });

    // one result, for the tag, covering both platforms
    expect(messages(p)).toHaveLength(1);
    const m = messages(p)[0]!;
    expect(m).toMatchObject({
      status: 'fail',
      changed: true,
      image: { digest: buildx.index, tags: ['2.0.0'], platform: 'linux/amd64, linux/arm64', distro: 'debian 12' },
      counts: { critical: 1 },
      platforms: [
        { platform: 'linux/amd64', manifestDigest: buildx.amd64, status: 'fail', findings: 1, counts: { critical: 1 }, distro: 'debian 12' },
        { platform: 'linux/arm64', manifestDigest: buildx.arm64, status: 'warn', findings: 0, distro: 'debian 12' },
      ],
      topFindings: [{ id: 'CVE-2099-0001', package: 'zlib1g', platforms: ['linux/amd64'] }],
    });
    // the Slack message says each platform's verdict and where the finding is
    const slack = JSON.stringify(slackMessage(m).blocks);
    expect(slack).toContain('Platforms (2)');
    expect(slack).toMatch(/`linux\/amd64` \*FAIL\*.*`linux\/arm64` \*WARN\*/);
    expect(slack).toContain('on linux/amd64');
    // the JSON report lists every platform's findings once, each with its platforms
    const report = JSON.parse(gunzipSync((await p.deps.objects.get(m.reportKey!))!).toString('utf8'));
    expect(report.vulnerabilities.findings.map((f: { id: string; platforms: string[] }) => [f.id, f.platforms])).toEqual([['CVE-2099-0001', ['linux/amd64']]]);
    expect(report.platforms.map((x: { platform: string; policy: { verdict: string } }) => [x.platform, x.policy.verdict])).toEqual([['linux/amd64', 'fail'], ['linux/arm64', 'warn']]);
    expect(p.publisher.messages.map((x) => x.attributes)).toEqual([{ status: 'fail', highestSeverity: 'critical', repository: REPOSITORY, changed: 'true' }]);

    // the index's record keeps each platform's inventory and verdict
    const rec = await p.deps.images.get(buildx.index);
    expect(rec).toMatchObject({ status: 'evaluated', tags: ['2.0.0'], evaluatedTags: ['2.0.0'], packageCount: 5, lastVerdict: { status: 'fail', findings: 1 } });
    expect(rec?.platforms).toMatchObject([
      { platform: 'linux/amd64', manifestDigest: buildx.amd64, packageCount: 3, lastVerdict: { status: 'fail', findings: 1 } },
      { platform: 'linux/arm64', manifestDigest: buildx.arm64, packageCount: 2, lastVerdict: { status: 'warn', findings: 0 } },
    ]);
    for (const pl of rec!.platforms!) expect(await p.deps.objects.exists(pl.inventoryKey)).toBe(true);
    expect(new Set(rec!.platforms!.map((pl) => pl.inventoryKey)).size).toBe(2);
    // one package index entry per key under the index digest, with both platforms' versions
    const holders = await p.deps.packageIndex.imagesFor({ ecosystem: 'Debian:12', name: 'zlib' });
    expect(holders.map((h) => [h.digest, [...h.versions].sort()])).toEqual([[buildx.index, ['1:1.2.13.dfsg-1', '1:1.2.13.dfsg-1+deb12u1']]]);

    // the untagged platform manifests and the attestations: skipped with their reason, no analysis, no result
    for (const d of [buildx.amd64, buildx.arm64]) {
      expect(await p.deps.images.get(d)).toMatchObject({ status: 'skipped', skipReason: UNTAGGED_REASON });
      expect((await p.deps.images.get(d))?.inventoryKey).toBeUndefined();
    }
    for (const d of buildx.attestations) {
      expect(await p.deps.images.get(d)).toMatchObject({ status: 'skipped', skipReason: 'not an image: attestation (application/vnd.in-toto+json)' });
    }
    expect((await p.deps.results.history(buildx.amd64, 5)).length).toBe(0);

    // the same push delivered again adds nothing
    const again = await drainLocal(p, buildxEvents());
    expect(again.outcomes.map((o) => o.outcome).filter((k) => k !== 'skipped')).toEqual([]);
    expect(messages(p)).toHaveLength(1);
    expect((await p.deps.results.history(buildx.index, 10)).length).toBe(1);
    expect(await p.deps.images.get(buildx.index)).toMatchObject({ analyzedAt: rec!.analyzedAt, status: 'evaluated' });
  });

  it('the index event first and its children after: the same single analysis and result', async () => {
    const p = pipeline();
    const events = buildxEvents();
    const r = await drainLocal(p, [events.at(-1)!, ...events.slice(0, -1)]);
    expect(r.outcomes.map((o) => o.outcome).sort()).toEqual(['analyzed', 'evaluated', 'skipped', 'skipped', 'skipped', 'skipped']);
    expect(messages(p).map((m) => [m.status, m.platforms?.map((x) => x.status)])).toEqual([['fail', ['fail', 'warn']]]);
  });

  it('fanned out into layer jobs: layers shared by the platforms are read once, the result is the same', async () => {
    const p = pipeline({ fanoutMinLayers: 2 });
    const r = await drainLocal(p, [pushEvent(buildx.index, '2.0.0')]);
    // amd64 and arm64 share their first and last layers: 4 distinct layers
    expect(r.outcomes[0]).toMatchObject({ outcome: 'fanned-out', layerJobs: 4 });
    expect(r.outcomes.map((o) => o.outcome).slice(-2)).toEqual(['analyzed', 'evaluated']);
    expect(messages(p)).toHaveLength(1);
    expect(messages(p)[0]).toMatchObject({ status: 'fail', platforms: [{ platform: 'linux/amd64', status: 'fail' }, { platform: 'linux/arm64', status: 'warn' }] });
    expect(await p.deps.images.get(buildx.index)).toMatchObject({ status: 'evaluated', packageCount: 5 });
  });

  it('DRYDOCK_PLATFORM only orders the platforms: linux/arm64 first, both analysed', async () => {
    const p = pipeline({ platform: { os: 'linux', architecture: 'arm64' } });
    await drainLocal(p, [pushEvent(buildx.index, '2.0.0')]);
    expect(messages(p)[0]?.platforms?.map((x) => x.platform)).toEqual(['linux/arm64', 'linux/amd64']);
    expect(await p.deps.images.get(buildx.index)).toMatchObject({ manifestDigest: buildx.arm64, platform: 'linux/arm64, linux/amd64' });
  });
});

describe('an index with more platform images than the limit', () => {
  it('fails permanently with an error result naming maxPlatforms', async () => {
    const layout = join(work, 'buildx');
    const child = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: buildx.amd64, size: (await registryManifestSize(buildx.amd64)) };
    const many = await buildIndex(layout, 'many', Array.from({ length: MAX_PLATFORMS + 1 }, (_, i) => ({ ...child, platform: { os: 'linux', architecture: `arch${i}` } })));
    await pushToRegistry(layout, 'many', { host: registry.host }, `${REPOSITORY}:many`, { all: true });
    const p = pipeline();
    const r = await drainLocal(p, [pushEvent(many.digest, 'many')]);
    expect(r.retried).toBe(0);
    expect(r.outcomes[0]).toMatchObject({ outcome: 'failed', error: { code: 'LIMIT_EXCEEDED', kind: 'permanent', message: expect.stringMatching(/17 platform images, more than the limit of 16 \(limit maxPlatforms\)/) } });
    expect(messages(p).map((m) => m.error?.code)).toEqual(['LIMIT_EXCEEDED']);
  });
});

describe('a retag of an analysed digest', () => {
  it('records the new tag and publishes a result for it, once; its idempotency key differs from the first push', async () => {
    const p = pipeline();
    await drainLocal(p, [pushEvent(buildx.index, '2.0.0')]);
    const retag = pushEvent(buildx.index, 'latest');
    const keys = [pushEvent(buildx.index, '2.0.0'), retag].map((e) => prepareAnalyzerMessage(JSON.stringify(e), p.deps, { messageId: 'k', receiveCount: 1 }).idempotencyKey);
    expect(keys).toEqual([`scan:${buildx.index}:2.0.0`, `scan:${buildx.index}:latest`]);

    const r = await drainLocal(p, [retag]);
    expect(r.outcomes.map((o) => o.outcome)).toEqual(['skipped', 'evaluated']);
    expect(messages(p)).toHaveLength(2);
    expect(messages(p)[1]).toMatchObject({
      status: 'fail',
      changed: true,
      newTags: ['latest'],
      image: { digest: buildx.index, tags: ['2.0.0', 'latest'] },
      reason: expect.stringMatching(/^retag:tag:latest@/),
      platforms: [{ platform: 'linux/amd64' }, { platform: 'linux/arm64' }],
    });
    expect(messages(p)[1]!.newFindings).toBeUndefined();
    expect(await p.deps.images.get(buildx.index)).toMatchObject({ tags: ['2.0.0', 'latest'], evaluatedTags: ['2.0.0', 'latest'] });

    // the retag event again, and the first push again: nothing more
    const again = await drainLocal(p, [retag, pushEvent(buildx.index, '2.0.0')]);
    expect(again.outcomes.map((o) => o.outcome)).toEqual(['skipped', 'skipped']);
    expect(messages(p)).toHaveLength(2);
  });

  it('a retag while the first evaluation is still queued is covered by that evaluation (one result naming both tags)', async () => {
    const p = pipeline();
    // analyse only: keep the evaluate job on the queue
    const first = await prepareAnalyzerMessage(JSON.stringify(pushEvent(buildx.index, '2.0.0')), p.deps, { messageId: 'a', receiveCount: 1 }).run();
    expect(first.outcome).toBe('analyzed');
    const second = await prepareAnalyzerMessage(JSON.stringify(pushEvent(buildx.index, 'latest')), p.deps, { messageId: 'b', receiveCount: 1 }).run();
    expect(second).toMatchObject({ outcome: 'skipped', why: 'done' });
    const r = await drainLocal(p);
    // the analysis's evaluate job was asked for twice (same trigger, so on Lambda the evaluator's
    // idempotency key runs it once; in process it reuses the result): one result, naming both tags
    expect(r.outcomes.map((o) => o.outcome)).toEqual(['evaluated', 'evaluated']);
    expect(new Set(messages(p).map((m) => m.resultId)).size).toBe(1);
    expect(messages(p)[0]!.image.tags).toEqual(['2.0.0', 'latest']);
    expect((await p.deps.results.history(buildx.index, 10)).length).toBe(1);
  });
});

describe('OCI artifacts that are not images', () => {
  it('a cosign signature, a Helm chart and an SBOM artifact are recorded as skipped, never analysed or published', async () => {
    const layout = join(work, 'artifacts');
    const sigTag = `${buildx.index.replace(':', '-')}.sig`;
    const sig = await buildArtifact(layout, {
      tag: sigTag,
      configMediaType: 'application/vnd.oci.image.config.v1+json',
      config: { architecture: '', os: '', rootfs: { type: 'layers', diff_ids: [] } },
      layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', content: JSON.stringify({ critical: { image: { 'docker-manifest-digest': buildx.index } } }), annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQ==' } }],
    });
    const chart = await buildArtifact(layout, {
      tag: '0.1.0',
      configMediaType: 'application/vnd.cncf.helm.config.v1+json',
      config: { name: 'api', version: '0.1.0', apiVersion: 'v2' },
      layers: [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', content: Buffer.from('not really a chart') }],
    });
    const sbom = await buildArtifact(layout, {
      tag: 'sbom',
      artifactType: 'application/spdx+json',
      configMediaType: 'application/vnd.oci.empty.v1+json',
      layers: [{ mediaType: 'application/spdx+json', content: '{"spdxVersion":"SPDX-2.3"}' }],
    });
    for (const [tag, repo] of [[sigTag, REPOSITORY], ['0.1.0', 'charts/api'], ['sbom', REPOSITORY]] as const) {
      await pushToRegistry(layout, tag, { host: registry.host }, `${repo}:${tag}`);
    }
    const p = pipeline();
    const r = await drainLocal(p, [pushEvent(sig.digest, sigTag), pushEvent(chart.digest, '0.1.0', 'charts/api'), pushEvent(sbom.digest, 'sbom')]);
    expect(r.retried).toBe(0);
    expect(r.outcomes).toEqual([
      { outcome: 'skipped', digest: sig.digest, why: 'not an image: application/vnd.dev.cosign.simplesigning.v1+json' },
      { outcome: 'skipped', digest: chart.digest, why: 'not an image: application/vnd.cncf.helm.config.v1+json' },
      { outcome: 'skipped', digest: sbom.digest, why: 'not an image: application/spdx+json' },
    ]);
    expect(p.publisher.messages).toHaveLength(0);
    expect(await p.deps.images.get(chart.digest)).toMatchObject({ status: 'skipped', tags: ['0.1.0'], repository: 'charts/api', skipReason: 'not an image: application/vnd.cncf.helm.config.v1+json' });
    expect((await p.deps.images.get(sig.digest))?.error).toBeUndefined();

    // pushed again, then deleted: still nothing published
    const again = await drainLocal(p, [pushEvent(sig.digest, sigTag)]);
    expect(again.outcomes).toEqual([{ outcome: 'skipped', digest: sig.digest, why: 'not an image: application/vnd.dev.cosign.simplesigning.v1+json' }]);
    const del = { ...pushEvent(chart.digest, '0.1.0', 'charts/api'), id: 'delete-chart' };
    del.detail['action-type'] = 'DELETE';
    await drainLocal(p, [del]);
    expect(await p.deps.images.get(chart.digest)).toMatchObject({ status: 'deleted' });
    expect(p.publisher.messages).toHaveLength(0);
  });
});

describe('single-platform images of any platform', () => {
  it('an arm64-only image is analysed (not refused for not being linux/amd64)', async () => {
    const layout = join(work, 'arm64-only');
    const img = await buildImage(layout, { tag: 'arm', layers: arm64Layers(), platform: { os: 'linux', architecture: 'arm64' } });
    const pushed = await pushToRegistry(layout, 'arm', { host: registry.host }, `${REPOSITORY}:arm`);
    expect(pushed.digest).toBe(img.manifestDigest);
    const p = pipeline();
    const r = await drainLocal(p, [pushEvent(img.manifestDigest, 'arm')]);
    expect(r.outcomes.map((o) => o.outcome)).toEqual(['analyzed', 'evaluated']);
    expect(messages(p)).toHaveLength(1);
    expect(messages(p)[0]).toMatchObject({ status: 'warn', counts: { critical: 0 }, image: { digest: img.manifestDigest, platform: 'linux/arm64', tags: ['arm'] } });
    expect(messages(p)[0]!.platforms).toBeUndefined();
    expect(await p.deps.images.get(img.manifestDigest)).toMatchObject({ status: 'evaluated', platform: 'linux/arm64', packageCount: 2 });
  });

  it('a manual scan job by digest without a tag is analysed (only untagged pushes are skipped)', async () => {
    const p = pipeline();
    const job = { schema: 'drydock.scan-job/1', jobId: 'manual:1', image: { registry: '111122223333.dkr.ecr.eu-west-1.amazonaws.com', repository: REPOSITORY, digest: buildx.arm64 }, reason: 'manual', requestedAt: new Date().toISOString() };
    const r = await drainLocal(p, [job]);
    expect(r.outcomes.map((o) => o.outcome)).toEqual(['analyzed', 'evaluated']);
    expect(await p.deps.images.get(buildx.arm64)).toMatchObject({ status: 'evaluated', platform: 'linux/arm64' });
  });
});

describe('on DynamoDB Local (the real image, result and package index adapters)', () => {
  it('the buildx push, its redelivery and a retag: one analysis, skips recorded, a skipped manifest claimable again by a tagged push', async () => {
    const ddb = await startDynamoDbLocal();
    const client = new DynamoDBClient(ddb.clientConfig);
    try {
      const names = tableNames(`t-${randomUUID().slice(0, 8)}-`);
      await createTables(client, names);
      const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
      const p = pipeline({}, { images: new DynamoImageStore(doc, names.images), results: new DynamoResultStore(doc, names.results), packageIndex: new DynamoPackageIndex(doc, names.packageIndex) });
      const r = await drainLocal(p, buildxEvents());
      expect(r.retried).toBe(0);
      expect(r.outcomes.map((o) => o.outcome).filter((k) => k !== 'skipped')).toEqual(['analyzed', 'evaluated']);
      const again = await drainLocal(p, buildxEvents());
      expect(again.outcomes.map((o) => o.outcome).filter((k) => k !== 'skipped')).toEqual([]);
      expect((await p.deps.results.history(buildx.index, 10)).length).toBe(1);
      expect(messages(p).map((m) => [m.status, m.platforms?.map((x) => `${x.platform} ${x.status}`)])).toEqual([['fail', ['linux/amd64 fail', 'linux/arm64 warn']]]);
      expect(await p.deps.images.get(buildx.index)).toMatchObject({ status: 'evaluated', tags: ['2.0.0'], evaluatedTags: ['2.0.0'], platforms: [{ platform: 'linux/amd64', lastVerdict: { status: 'fail' } }, { platform: 'linux/arm64', lastVerdict: { status: 'warn' } }] });
      expect(await p.deps.images.get(buildx.arm64)).toMatchObject({ status: 'skipped', skipReason: UNTAGGED_REASON });
      expect(await p.deps.images.get(buildx.attestations[0]!)).toMatchObject({ status: 'skipped', skipReason: expect.stringMatching(/^not an image: attestation/) });

      const retag = await drainLocal(p, [pushEvent(buildx.index, 'latest')]);
      expect(retag.outcomes.map((o) => o.outcome)).toEqual(['skipped', 'evaluated']);
      expect((await drainLocal(p, [pushEvent(buildx.index, 'latest')])).outcomes.map((o) => o.outcome)).toEqual(['skipped']);
      expect(messages(p).map((m) => m.newTags)).toEqual([undefined, ['latest']]);
      expect(await p.deps.images.get(buildx.index)).toMatchObject({ tags: ['2.0.0', 'latest'], evaluatedTags: ['2.0.0', 'latest'] });

      // the skipped arm64 manifest pushed under a tag of its own: claimed again and analysed
      const tagged = await drainLocal(p, [pushEvent(buildx.arm64, 'arm64-only')]);
      expect(tagged.outcomes.map((o) => o.outcome)).toEqual(['analyzed', 'evaluated']);
      expect(await p.deps.images.get(buildx.arm64)).toMatchObject({ status: 'evaluated', platform: 'linux/arm64', tags: ['arm64-only'] });
      expect((await p.deps.images.get(buildx.arm64))?.skipReason).toBeUndefined();
    } finally {
      client.destroy();
      await ddb.stop();
    }
  }, 120_000);
});
