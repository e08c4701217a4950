/**
 * One contract for every ImageStore / PackageIndex / ResultStore adapter: the in-memory ones
 * (memory-stores.test.ts) and the DynamoDB ones against DynamoDB Local (dynamodb.test.ts) must
 * pass the same tests, so the CLI and unit tests see what Lambda sees.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { PackageKey } from '../../shared/ports/advisory-store.js';
import {
  ConditionFailedError,
  type ClaimRequest,
  type ImageRecord,
  type ImageStore,
  type PackageIndex,
  type PackageIndexEntry,
  type ResultRecord,
  type ResultStore,
} from '../../shared/ports/stores.js';

export interface Stores {
  images: ImageStore;
  packageIndex: PackageIndex;
  results: ResultStore;
}

export interface StoresFactory {
  /** adapter family name for the describe blocks */
  name: string;
  /** fresh, empty stores (new tables or a new prefix for DynamoDB) */
  make(): Promise<Stores>;
}

export const T0 = new Date('2026-03-01T10:00:00.000Z');
export const at = (ms: number) => new Date(T0.getTime() + ms);
export const digestOf = (n: number | string) => `sha256:${String(n).padStart(64, '0')}`;
const STALE_MS = 15 * 60_000;

export function claimReq(over: Partial<ClaimRequest> = {}): ClaimRequest {
  return {
    digest: digestOf(1),
    registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com',
    repository: 'team/app',
    tag: 'v1',
    jobId: 'job-1',
    analysisVersion: 'cat-1',
    now: T0,
    staleAfterMs: STALE_MS,
    ...over,
  };
}

export function storesContract(factory: StoresFactory): void {
  let s: Stores;
  beforeEach(async () => {
    s = await factory.make();
  });

  /** A record claimed by job-1 at T0 and then moved to `status` by job-1 (the pipeline's path). */
  async function recordIn(status: ImageRecord['status'], patch: Partial<ImageRecord> = {}, req: Partial<ClaimRequest> = {}): Promise<ImageRecord> {
    const c = await s.images.claim(claimReq(req));
    expect(c.claimed).toBe(true);
    return s.images.update(c.record.digest, { status, updatedAt: at(1000).toISOString(), ...patch }, { status: ['analyzing'], claimedBy: c.record.claimedBy! });
  }

  describe(`${factory.name}: ImageStore.claim`, () => {
    it('creates and claims an absent record with every claim field set', async () => {
      const out = await s.images.claim(claimReq());
      const expected: ImageRecord = {
        digest: digestOf(1),
        registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com',
        repository: 'team/app',
        tags: ['v1'],
        status: 'analyzing',
        claimedBy: 'job-1',
        claimedAt: T0.toISOString(),
        createdAt: T0.toISOString(),
        updatedAt: T0.toISOString(),
      };
      expect(out).toEqual({ claimed: true, record: expected });
      expect(await s.images.get(digestOf(1))).toEqual(expected);
    });

    it('creates a record without tags when the push had none (digest-only)', async () => {
      const out = await s.images.claim(claimReq({ tag: undefined }));
      expect(out.claimed).toBe(true);
      expect(out.record.tags).toEqual([]);
      expect((await s.images.get(digestOf(1)))!.tags).toEqual([]);
    });

    it('the same job claims again on redelivery (claimedAt renewed, createdAt kept)', async () => {
      await s.images.claim(claimReq());
      const out = await s.images.claim(claimReq({ now: at(60_000), tag: 'v1' }));
      expect(out.claimed).toBe(true);
      expect(out.record.claimedAt).toBe(at(60_000).toISOString());
      expect(out.record.createdAt).toBe(T0.toISOString());
      expect(out.record.tags).toEqual(['v1']);
    });

    it('another job gets busy while the claim is fresh; its tag is still recorded', async () => {
      await s.images.claim(claimReq());
      const out = await s.images.claim(claimReq({ jobId: 'job-2', tag: 'latest', now: at(STALE_MS) }));
      expect(out.claimed).toBe(false);
      expect(out).toMatchObject({ why: 'busy', record: { status: 'analyzing', claimedBy: 'job-1', claimedAt: T0.toISOString(), tags: ['latest', 'v1'] } });
      expect((await s.images.get(digestOf(1)))!.claimedBy).toBe('job-1');
    });

    it('an assembling record with a fresh claim is busy too', async () => {
      await recordIn('assembling');
      const out = await s.images.claim(claimReq({ jobId: 'job-2', now: at(2000) }));
      expect(out).toMatchObject({ claimed: false, why: 'busy' });
    });

    it('another job takes over a stale claim (older than staleAfterMs)', async () => {
      await recordIn('analyzing', { layersPending: 3, layersDone: ['l1'] });
      const out = await s.images.claim(claimReq({ jobId: 'job-2', now: at(STALE_MS + 1) }));
      expect(out.claimed).toBe(true);
      expect(out.record).toMatchObject({ status: 'analyzing', claimedBy: 'job-2', claimedAt: at(STALE_MS + 1).toISOString(), createdAt: T0.toISOString() });
      // a new attempt starts clean
      expect(out.record.layersDone).toBeUndefined();
      expect(out.record.layersPending).toBeUndefined();
    });

    it('takes over a stale assembling claim as well', async () => {
      await recordIn('assembling');
      const out = await s.images.claim(claimReq({ jobId: 'job-2', now: at(STALE_MS + 1) }));
      expect(out).toMatchObject({ claimed: true, record: { claimedBy: 'job-2', status: 'analyzing' } });
    });

    it('analyzed with the same analysisVersion is done; a new tag is added, an old one not duplicated', async () => {
      await recordIn('analyzed', { analysisVersion: 'cat-1' });
      const same = await s.images.claim(claimReq({ jobId: 'job-2', tag: 'v1', now: at(5000) }));
      expect(same).toMatchObject({ claimed: false, why: 'done', record: { tags: ['v1'], updatedAt: at(1000).toISOString() } });
      const tagged = await s.images.claim(claimReq({ jobId: 'job-3', tag: 'prod', now: at(6000) }));
      expect(tagged).toMatchObject({ claimed: false, why: 'done', record: { status: 'analyzed', claimedBy: 'job-1', tags: ['prod', 'v1'], updatedAt: at(6000).toISOString() } });
      expect((await s.images.get(digestOf(1)))!.tags).toEqual(['prod', 'v1']);
    });

    it('a redelivery of the job that already finished is done, not a second analysis', async () => {
      await recordIn('evaluated', { analysisVersion: 'cat-1' });
      const out = await s.images.claim(claimReq({ jobId: 'job-1', now: at(5000) }));
      expect(out).toMatchObject({ claimed: false, why: 'done' });
    });

    it('a new analysisVersion re-claims an evaluated record and clears the old run state', async () => {
      await recordIn('evaluated', {
        analysisVersion: 'cat-1',
        layersPending: 2,
        layersDone: ['a', 'b'],
        error: { code: 'CORRUPT_LAYER', kind: 'partial', message: 'one db', at: T0.toISOString() },
      });
      const out = await s.images.claim(claimReq({ jobId: 'job-9', analysisVersion: 'cat-2', now: at(5000) }));
      expect(out.claimed).toBe(true);
      expect(out.record).toMatchObject({ status: 'analyzing', claimedBy: 'job-9', analysisVersion: 'cat-1' });
      expect(out.record.error).toBeUndefined();
      expect(out.record.layersDone).toBeUndefined();
      expect(out.record.layersPending).toBeUndefined();
    });

    it('an analyzed record without analysisVersion is re-claimed', async () => {
      await recordIn('analyzed');
      expect((await s.images.claim(claimReq({ jobId: 'job-2', now: at(5000) }))).claimed).toBe(true);
    });

    it('a permanent failure is not retried by a duplicate, nor by the same job', async () => {
      await recordIn('failed', { error: { code: 'INVALID_MANIFEST', kind: 'permanent', message: 'bad', at: T0.toISOString() } });
      const other = await s.images.claim(claimReq({ jobId: 'job-2', now: at(STALE_MS * 10) }));
      expect(other).toMatchObject({ claimed: false, why: 'failed', record: { status: 'failed', error: { code: 'INVALID_MANIFEST' } } });
      const same = await s.images.claim(claimReq({ jobId: 'job-1', now: at(STALE_MS * 10) }));
      expect(same).toMatchObject({ claimed: false, why: 'failed' });
    });

    it('a failure whose retries were exhausted (kind retryable) is re-claimed by a new job', async () => {
      await recordIn('failed', { error: { code: 'RETRIES_EXHAUSTED', kind: 'retryable', message: 'dlq', at: T0.toISOString() }, attempts: 5 });
      const out = await s.images.claim(claimReq({ jobId: 'job-2', now: at(5000) }));
      expect(out.claimed).toBe(true);
      expect(out.record).toMatchObject({ status: 'analyzing', claimedBy: 'job-2', attempts: 5 });
      expect(out.record.error).toBeUndefined();
    });

    it('a deleted image is not claimed', async () => {
      await recordIn('deleted');
      const out = await s.images.claim(claimReq({ jobId: 'job-2', now: at(5000) }));
      expect(out).toMatchObject({ claimed: false, why: 'deleted', record: { status: 'deleted' } });
    });

    it('a claim exactly staleAfterMs old is still fresh (strictly older is stale)', async () => {
      await s.images.claim(claimReq());
      expect(await s.images.claim(claimReq({ jobId: 'job-2', now: at(STALE_MS) }))).toMatchObject({ claimed: false, why: 'busy' });
      expect(await s.images.claim(claimReq({ jobId: 'job-2', now: at(STALE_MS + 1) }))).toMatchObject({ claimed: true });
    });

    it('concurrent claims by different jobs: exactly one wins', async () => {
      const outs = await Promise.all(Array.from({ length: 8 }, (_, i) => s.images.claim(claimReq({ jobId: `job-${i}`, tag: `t${i}` }))));
      expect(outs.filter((o) => o.claimed)).toHaveLength(1);
      expect(outs.filter((o) => !o.claimed && o.why === 'busy')).toHaveLength(7);
      // no pushed tag is lost whatever the outcome
      expect((await s.images.get(digestOf(1)))!.tags).toEqual(['t0', 't1', 't2', 't3', 't4', 't5', 't6', 't7']);
    });
  });

  describe(`${factory.name}: ImageStore.update / addLayerDone / list`, () => {
    it('sets defined fields, removes undefined ones and returns the new record', async () => {
      const c = await s.images.claim(claimReq());
      const updated = await s.images.update(
        c.record.digest,
        { status: 'analyzed', inventoryKey: 'inv/1.json', packageCount: 120, distro: 'debian:12', claimedBy: undefined, claimedAt: undefined, updatedAt: at(3000).toISOString(), layers: ['sha256:l1', 'sha256:l2'] },
        { status: ['analyzing', 'assembling'], claimedBy: 'job-1' },
      );
      const expected: ImageRecord = {
        digest: digestOf(1),
        registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com',
        repository: 'team/app',
        tags: ['v1'],
        status: 'analyzed',
        inventoryKey: 'inv/1.json',
        packageCount: 120,
        distro: 'debian:12',
        layers: ['sha256:l1', 'sha256:l2'],
        createdAt: T0.toISOString(),
        updatedAt: at(3000).toISOString(),
      };
      expect(updated).toEqual(expected);
      expect(await s.images.get(digestOf(1))).toEqual(expected);
    });

    it('nested values (error, lastVerdict) round-trip; optional fields left undefined inside are dropped', async () => {
      const c = await s.images.claim(claimReq());
      const error = { code: 'THROTTLED' as const, kind: 'retryable' as const, message: 'slow down', at: T0.toISOString(), job: 'scan', layer: undefined };
      const lastVerdict = { status: 'warn' as const, resultId: 'r1', evaluatedAt: T0.toISOString(), findings: 3, policyId: undefined };
      const r = await s.images.update(c.record.digest, { error, lastVerdict, attempts: 2 });
      expect(r.error).toEqual({ code: 'THROTTLED', kind: 'retryable', message: 'slow down', at: T0.toISOString(), job: 'scan' });
      expect(r.lastVerdict).toEqual({ status: 'warn', resultId: 'r1', evaluatedAt: T0.toISOString(), findings: 3 });
      expect(r.attempts).toBe(2);
    });

    it('a wrong expected status throws ConditionFailedError and changes nothing', async () => {
      const c = await s.images.claim(claimReq());
      const err = await s.images.update(c.record.digest, { status: 'evaluated' }, { status: ['analyzed'] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConditionFailedError);
      expect((err as Error).message).toMatch(/status in \[analyzed\].*found status analyzing/);
      expect((await s.images.get(digestOf(1)))!.status).toBe('analyzing');
    });

    it('a lost claim (another claimedBy) throws ConditionFailedError', async () => {
      const c = await s.images.claim(claimReq());
      await expect(s.images.update(c.record.digest, { status: 'analyzed' }, { status: ['analyzing'], claimedBy: 'job-2' })).rejects.toBeInstanceOf(ConditionFailedError);
      await expect(s.images.update(c.record.digest, { status: 'analyzed' }, { claimedBy: 'job-1' })).resolves.toMatchObject({ status: 'analyzed' });
    });

    it('an empty expected status list never matches', async () => {
      await s.images.claim(claimReq());
      await expect(s.images.update(digestOf(1), { packageCount: 1 }, { status: [] })).rejects.toBeInstanceOf(ConditionFailedError);
    });

    it('updating an absent record throws ConditionFailedError instead of creating half a record', async () => {
      await expect(s.images.update(digestOf(404), { status: 'analyzed' })).rejects.toBeInstanceOf(ConditionFailedError);
      expect(await s.images.get(digestOf(404))).toBeUndefined();
    });

    it('tags and layersDone written by update are unique and sorted; empty ones read as [] / absent', async () => {
      await s.images.claim(claimReq());
      expect((await s.images.update(digestOf(1), { tags: ['b', 'a', 'b'], layersDone: ['y', 'x'] })).tags).toEqual(['a', 'b']);
      expect((await s.images.get(digestOf(1)))!.layersDone).toEqual(['x', 'y']);
      const cleared = await s.images.update(digestOf(1), { tags: [], layersDone: [] });
      expect(cleared.tags).toEqual([]);
      expect(cleared.layersDone).toBeUndefined();
    });

    it('addLayerDone counts each layer key once and reports pending and status', async () => {
      const c = await s.images.claim(claimReq());
      await s.images.update(c.record.digest, { layersPending: 3 });
      expect(await s.images.addLayerDone(c.record.digest, 'layer-a', at(1))).toEqual({ done: 1, pending: 3, status: 'analyzing' });
      expect(await s.images.addLayerDone(c.record.digest, 'layer-a', at(2))).toEqual({ done: 1, pending: 3, status: 'analyzing' });
      expect(await s.images.addLayerDone(c.record.digest, 'layer-b', at(3))).toEqual({ done: 2, pending: 3, status: 'analyzing' });
      const rec = (await s.images.get(c.record.digest))!;
      expect(rec.layersDone).toEqual(['layer-a', 'layer-b']);
      expect(rec.updatedAt).toBe(at(3).toISOString());
    });

    it('concurrent addLayerDone calls all count (the last one sees the full set)', async () => {
      await s.images.claim(claimReq());
      await s.images.update(digestOf(1), { layersPending: 10 });
      const outs = await Promise.all(Array.from({ length: 10 }, (_, i) => s.images.addLayerDone(digestOf(1), `l${i}`, at(i))));
      expect(outs.map((o) => o.done).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it('addLayerDone on an absent record throws ConditionFailedError', async () => {
      await expect(s.images.addLayerDone(digestOf(404), 'l', T0)).rejects.toBeInstanceOf(ConditionFailedError);
      expect(await s.images.get(digestOf(404))).toBeUndefined();
    });

    it('list: most recently updated first, limited, narrowed by repository', async () => {
      const repos = ['a/one', 'b/two', 'a/one', 'b/two', 'a/one'];
      for (const [i, repository] of repos.entries()) {
        await s.images.claim(claimReq({ digest: digestOf(i), repository, now: at(i * 1000) }));
      }
      // an update moves an image to the front
      await s.images.update(digestOf(1), { updatedAt: at(10_000).toISOString() });
      const all = await s.images.list({ limit: 10 });
      expect(all.map((r) => r.digest)).toEqual([digestOf(1), digestOf(4), digestOf(3), digestOf(2), digestOf(0)]);
      expect((await s.images.list({ limit: 2 })).map((r) => r.digest)).toEqual([digestOf(1), digestOf(4)]);
      expect((await s.images.list({ limit: 10, repository: 'a/one' })).map((r) => r.digest)).toEqual([digestOf(4), digestOf(2), digestOf(0)]);
      expect((await s.images.list({ limit: 1, repository: 'b/two' })).map((r) => r.digest)).toEqual([digestOf(1)]);
      expect(await s.images.list({ limit: 10, repository: 'nope' })).toEqual([]);
      expect(await s.images.list({ limit: 0 })).toEqual([]);
      // whole records, without any index bookkeeping
      expect(all[0]).toEqual(await s.images.get(digestOf(1)));
    });

    it('list follows a repository change made by update', async () => {
      await s.images.claim(claimReq({ repository: 'old/name' }));
      await s.images.update(digestOf(1), { repository: 'new/name', updatedAt: at(1).toISOString() });
      expect(await s.images.list({ limit: 5, repository: 'old/name' })).toEqual([]);
      expect((await s.images.list({ limit: 5, repository: 'new/name' })).map((r) => r.repository)).toEqual(['new/name']);
    });

    it('an empty repository is a repository like any other', async () => {
      await s.images.claim(claimReq({ repository: '' }));
      expect((await s.images.list({ limit: 5, repository: '' })).map((r) => r.digest)).toEqual([digestOf(1)]);
    });
  });

  describe(`${factory.name}: ImageStore.getMany`, () => {
    it('returns the records that exist, keyed by digest; absent digests are left out, duplicates read once', async () => {
      const a = await recordIn('analyzed', { inventoryKey: 'inv/1' });
      const b = (await s.images.claim(claimReq({ digest: digestOf(2), jobId: 'job-2', tag: 'v2' }))).record;
      const got = await s.images.getMany([digestOf(2), digestOf(99), digestOf(1), digestOf(2)]);
      expect([...got.keys()].sort()).toEqual([digestOf(1), digestOf(2)]);
      expect(got.get(digestOf(1))).toEqual(a);
      expect(got.get(digestOf(2))).toEqual(b);
      expect(got.has(digestOf(99))).toBe(false);
    });

    it('an empty list reads nothing', async () => {
      expect((await s.images.getMany([])).size).toBe(0);
    });

    it('more digests than one batch (100) are all looked up', async () => {
      const present = [3, 57, 101, 150, 249];
      for (const n of present) await s.images.claim(claimReq({ digest: digestOf(n), jobId: `job-${n}` }));
      const asked = Array.from({ length: 250 }, (_, i) => digestOf(i));
      const got = await s.images.getMany(asked);
      expect([...got.keys()].sort()).toEqual(present.map(digestOf).sort());
      expect(got.get(digestOf(150))).toMatchObject({ digest: digestOf(150), status: 'analyzing', tags: ['v1'] });
    });
  });

  describe(`${factory.name}: PackageIndex`, () => {
    const openssl: PackageKey = { ecosystem: 'Debian:12', name: 'openssl' };
    const zlib: PackageKey = { ecosystem: 'Debian:12', name: 'zlib' };
    const lodash: PackageKey = { ecosystem: 'npm', name: 'lodash' };
    const entry = (key: PackageKey, digest: string, versions = ['1.0'], repository = 'team/app'): PackageIndexEntry => ({ key, digest, repository, versions });

    it('indexes images by key and answers which images hold a key, in digest order', async () => {
      expect(await s.packageIndex.replaceForImage(digestOf(2), [entry(openssl, digestOf(2), ['3.0.11-1']), entry(zlib, digestOf(2))])).toEqual({ written: 2, deleted: 0 });
      await s.packageIndex.replaceForImage(digestOf(1), [entry(openssl, digestOf(1), ['3.0.13-1', '3.0.13-2'], 'other/app')]);
      expect(await s.packageIndex.imagesFor(openssl)).toEqual([entry(openssl, digestOf(1), ['3.0.13-1', '3.0.13-2'], 'other/app'), entry(openssl, digestOf(2), ['3.0.11-1'])]);
      expect(await s.packageIndex.imagesFor(zlib)).toEqual([entry(zlib, digestOf(2))]);
      expect(await s.packageIndex.imagesFor(lodash)).toEqual([]);
      // the ecosystem is part of the key
      expect(await s.packageIndex.imagesFor({ ecosystem: 'Debian:11', name: 'openssl' })).toEqual([]);
    });

    it('replacing removes the previous keys no longer present, and only this image’s entries', async () => {
      await s.packageIndex.replaceForImage(digestOf(1), [entry(openssl, digestOf(1)), entry(zlib, digestOf(1))]);
      await s.packageIndex.replaceForImage(digestOf(2), [entry(zlib, digestOf(2))]);
      const out = await s.packageIndex.replaceForImage(digestOf(1), [entry(openssl, digestOf(1), ['2.0']), entry(lodash, digestOf(1))], [openssl, zlib, zlib]);
      expect(out).toEqual({ written: 2, deleted: 1 });
      expect(await s.packageIndex.imagesFor(zlib)).toEqual([entry(zlib, digestOf(2))]);
      expect(await s.packageIndex.imagesFor(openssl)).toEqual([entry(openssl, digestOf(1), ['2.0'])]);
      expect(await s.packageIndex.imagesFor(lodash)).toEqual([entry(lodash, digestOf(1))]);
    });

    it('without previousKeys nothing is deleted', async () => {
      await s.packageIndex.replaceForImage(digestOf(1), [entry(openssl, digestOf(1)), entry(zlib, digestOf(1))]);
      expect(await s.packageIndex.replaceForImage(digestOf(1), [entry(openssl, digestOf(1))])).toEqual({ written: 1, deleted: 0 });
      expect(await s.packageIndex.imagesFor(zlib)).toHaveLength(1);
    });

    it('two entries for one key are merged (versions joined)', async () => {
      const out = await s.packageIndex.replaceForImage(digestOf(1), [entry(openssl, digestOf(1), ['1', '2']), entry(openssl, digestOf(1), ['2', '3'])]);
      expect(out).toEqual({ written: 1, deleted: 0 });
      expect(await s.packageIndex.imagesFor(openssl)).toEqual([entry(openssl, digestOf(1), ['1', '2', '3'])]);
    });

    it('an entry naming another image is refused', async () => {
      await expect(s.packageIndex.replaceForImage(digestOf(1), [entry(openssl, digestOf(2))])).rejects.toThrow(/names another image/);
      expect(await s.packageIndex.imagesFor(openssl)).toEqual([]);
    });

    it('an image with many packages is indexed whole', async () => {
      const keys = Array.from({ length: 130 }, (_, i) => ({ ecosystem: 'npm', name: `pkg-${i}` }));
      expect(await s.packageIndex.replaceForImage(digestOf(1), keys.map((k) => entry(k, digestOf(1))))).toEqual({ written: 130, deleted: 0 });
      for (const k of [keys[0]!, keys[64]!, keys[129]!]) expect(await s.packageIndex.imagesFor(k)).toEqual([entry(k, digestOf(1))]);
      expect(await s.packageIndex.replaceForImage(digestOf(1), [], keys)).toEqual({ written: 0, deleted: 130 });
      expect(await s.packageIndex.imagesFor(keys[77]!)).toEqual([]);
    });
  });

  describe(`${factory.name}: ResultStore`, () => {
    const result = (resultId: string, evaluatedAt: Date, over: Partial<ResultRecord> = {}): ResultRecord => ({
      digest: digestOf(1),
      repository: 'team/app',
      resultId,
      status: 'pass',
      evaluatedAt: evaluatedAt.toISOString(),
      findings: 0,
      reason: 'analysis',
      counts: { critical: 0, high: 0 },
      reportKey: `reports/${resultId}.json`,
      findingIds: [],
      rulesFired: 0,
      ...over,
    });

    it('latest and history return the newest evaluation first', async () => {
      await s.results.append(result('r-b', at(2000), { status: 'fail', findings: 2, findingIds: ['CVE-1', 'CVE-2'], highestSeverity: 'high' }));
      await s.results.append(result('r-a', at(1000)));
      await s.results.append(result('r-c', at(3000), { status: 'warn', policyId: 'default', policyDigest: 'sha256:p' }));
      expect(await s.results.latest(digestOf(1))).toEqual(result('r-c', at(3000), { status: 'warn', policyId: 'default', policyDigest: 'sha256:p' }));
      expect((await s.results.history(digestOf(1), 10)).map((r) => r.resultId)).toEqual(['r-c', 'r-b', 'r-a']);
      expect((await s.results.history(digestOf(1), 2)).map((r) => r.resultId)).toEqual(['r-c', 'r-b']);
      expect((await s.results.history(digestOf(1), 10))[1]).toEqual(result('r-b', at(2000), { status: 'fail', findings: 2, findingIds: ['CVE-1', 'CVE-2'], highestSeverity: 'high' }));
    });

    it('the same resultId appended twice is written once (the first stays), without an error', async () => {
      await s.results.append(result('r-1', at(1000), { status: 'fail' }));
      await expect(s.results.append(result('r-1', at(5000), { status: 'pass' }))).resolves.toBeUndefined();
      const h = await s.results.history(digestOf(1), 10);
      expect(h).toHaveLength(1);
      expect(h[0]).toMatchObject({ resultId: 'r-1', status: 'fail', evaluatedAt: at(1000).toISOString() });
    });

    it('results of equal time are ordered by resultId; other images are apart', async () => {
      await s.results.append(result('r-1', at(1000)));
      await s.results.append(result('r-2', at(1000)));
      await s.results.append(result('x-1', at(9000), { digest: digestOf(2) }));
      expect((await s.results.history(digestOf(1), 5)).map((r) => r.resultId)).toEqual(['r-2', 'r-1']);
      expect((await s.results.latest(digestOf(2)))!.resultId).toBe('x-1');
    });

    it('an image without results has no latest and an empty history', async () => {
      expect(await s.results.latest(digestOf(9))).toBeUndefined();
      expect(await s.results.history(digestOf(9), 5)).toEqual([]);
      await s.results.append(result('r-1', at(1000)));
      expect(await s.results.history(digestOf(1), 0)).toEqual([]);
    });

    it('an error result round-trips with its recorded error', async () => {
      const r = result('r-e', at(1000), { status: 'error', error: { code: 'RETRIES_EXHAUSTED', kind: 'retryable', message: 'gave up', at: T0.toISOString(), job: 'evaluate' } });
      await s.results.append(r);
      expect(await s.results.latest(digestOf(1))).toEqual(r);
    });
  });
}
