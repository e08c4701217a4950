/**
 * In-memory ImageStore, PackageIndex and ResultStore for the CLI and unit tests, with the same
 * semantics as the DynamoDB adapters (test/adapters/stores-contract.ts runs one suite against
 * both). Records are copied in and out, so a caller mutating what it got never changes the
 * store, as with a real database. Not shared between processes; no size limits (DynamoDB's
 * 400 KB item limit is the DynamoDB adapter's business).
 *
 * The claim rules and the package index normalisation are in ../store-rules.ts, shared with
 * the DynamoDB adapters.
 */
import { packageKeyString, type PackageKey } from '../../ports/advisory-store.js';
import {
  ConditionFailedError,
  type ClaimOutcome,
  type ClaimRequest,
  type ImageRecord,
  type ImageStatus,
  type ImageStore,
  type PackageIndex,
  type PackageIndexEntry,
  type ResultRecord,
  type ResultStore,
} from '../../ports/stores.js';
import { checkExpectation, claimDecision, normaliseIndexEntries, normaliseTags, resultOrderKey, staleIndexKeys } from '../store-rules.js';

// ---------------------------------------------------------------- images

export class MemoryImageStore implements ImageStore {
  private readonly records = new Map<string, ImageRecord>();

  async get(digest: string): Promise<ImageRecord | undefined> {
    const r = this.records.get(digest);
    return r && structuredClone(r);
  }

  async claim(req: ClaimRequest): Promise<ClaimOutcome> {
    const existing = this.records.get(req.digest);
    const decision = claimDecision(existing, req);
    const now = req.now.toISOString();
    if (decision === 'claim') {
      const rec: ImageRecord = {
        ...existing,
        digest: req.digest,
        registry: req.registry,
        repository: req.repository,
        tags: normaliseTags([...(existing?.tags ?? []), ...(req.tag ? [req.tag] : [])]),
        status: 'analyzing',
        claimedBy: req.jobId,
        claimedAt: now,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      delete rec.error;
      delete rec.layersDone;
      delete rec.layersPending;
      this.records.set(req.digest, rec);
      return { claimed: true, record: structuredClone(rec) };
    }
    const rec = existing!;
    if (req.tag && !rec.tags.includes(req.tag)) {
      rec.tags = normaliseTags([...rec.tags, req.tag]);
      rec.updatedAt = now;
    }
    return { claimed: false, why: decision, record: structuredClone(rec) };
  }

  async update(digest: string, patch: Partial<Omit<ImageRecord, 'digest' | 'createdAt'>>, expect?: { status?: ImageStatus[]; claimedBy?: string }): Promise<ImageRecord> {
    const rec = this.records.get(digest);
    if (!rec) throw new ConditionFailedError(`image ${digest}: no record to update`);
    checkExpectation(digest, rec, expect);
    const next: Record<string, unknown> = { ...rec };
    for (const [k, v] of Object.entries(patch)) {
      if (k === 'digest' || k === 'createdAt') throw new Error(`image ${digest}: ${k} cannot be updated`);
      if (v === undefined) delete next[k];
      else next[k] = structuredClone(v);
    }
    const updated = next as unknown as ImageRecord;
    // the same normal form DynamoDB's string sets give
    updated.tags = normaliseTags(updated.tags ?? []);
    if (updated.layersDone !== undefined) {
      if (updated.layersDone.length === 0) delete updated.layersDone;
      else updated.layersDone = normaliseTags(updated.layersDone);
    }
    this.records.set(digest, updated);
    return structuredClone(updated);
  }

  async addLayerDone(digest: string, layerKey: string, now: Date): Promise<{ done: number; pending: number; status: ImageStatus }> {
    const rec = this.records.get(digest);
    if (!rec) throw new ConditionFailedError(`image ${digest}: no record to add layer ${layerKey} to`);
    rec.layersDone = normaliseTags([...(rec.layersDone ?? []), layerKey]);
    rec.updatedAt = now.toISOString();
    return { done: rec.layersDone.length, pending: rec.layersPending ?? 0, status: rec.status };
  }

  async list(opts: { limit: number; repository?: string }): Promise<ImageRecord[]> {
    if (opts.limit <= 0) return [];
    return [...this.records.values()]
      .filter((r) => opts.repository === undefined || r.repository === opts.repository)
      .sort((a, b) => (a.updatedAt === b.updatedAt ? (a.digest < b.digest ? 1 : -1) : a.updatedAt < b.updatedAt ? 1 : -1))
      .slice(0, opts.limit)
      .map((r) => structuredClone(r));
  }

  async getMany(digests: readonly string[]): Promise<Map<string, ImageRecord>> {
    const out = new Map<string, ImageRecord>();
    for (const d of digests) {
      const r = this.records.get(d);
      if (r && !out.has(d)) out.set(d, structuredClone(r));
    }
    return out;
  }
}

// ---------------------------------------------------------------- package index

export class MemoryPackageIndex implements PackageIndex {
  /** packageKeyString → digest → entry */
  private readonly byKey = new Map<string, Map<string, PackageIndexEntry>>();

  async replaceForImage(digest: string, entries: PackageIndexEntry[], previousKeys?: PackageKey[]): Promise<{ written: number; deleted: number }> {
    const puts = normaliseIndexEntries(digest, entries);
    const deletes = staleIndexKeys(puts, previousKeys);
    for (const e of puts) {
      const k = packageKeyString(e.key);
      let m = this.byKey.get(k);
      if (!m) this.byKey.set(k, (m = new Map()));
      m.set(digest, structuredClone(e));
    }
    for (const key of deletes) {
      const m = this.byKey.get(packageKeyString(key));
      m?.delete(digest);
      if (m?.size === 0) this.byKey.delete(packageKeyString(key));
    }
    return { written: puts.length, deleted: deletes.length };
  }

  async imagesFor(key: PackageKey): Promise<PackageIndexEntry[]> {
    const m = this.byKey.get(packageKeyString(key));
    if (!m) return [];
    return [...m.values()].sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0)).map((e) => structuredClone(e));
  }
}

// ---------------------------------------------------------------- results

export class MemoryResultStore implements ResultStore {
  /** digest → resultId → record */
  private readonly byDigest = new Map<string, Map<string, ResultRecord>>();

  async append(result: ResultRecord): Promise<void> {
    let m = this.byDigest.get(result.digest);
    if (!m) this.byDigest.set(result.digest, (m = new Map()));
    if (!m.has(result.resultId)) m.set(result.resultId, structuredClone(result));
  }

  async latest(digest: string): Promise<ResultRecord | undefined> {
    return (await this.history(digest, 1))[0];
  }

  async history(digest: string, limit: number): Promise<ResultRecord[]> {
    if (limit <= 0) return [];
    return [...(this.byDigest.get(digest)?.values() ?? [])]
      .sort((a, b) => (resultOrderKey(a) < resultOrderKey(b) ? 1 : -1))
      .slice(0, limit)
      .map((r) => structuredClone(r));
  }
}
