/**
 * In-memory ImageStore, PackageIndex and ResultStore for the CLI and unit tests, with the same
 * semantics as the DynamoDB adapters (test/adapters/stores-contract.ts runs one suite against
 * both). Records are copied in and out, so a caller mutating what it got never changes the
 * store, as with a real database. Not shared between processes; no size limits (DynamoDB's
 * 400 KB item limit is the DynamoDB adapter's business).
 *
 * The claim rules (`claimDecision`) and the package index normalisation live here and the
 * DynamoDB adapters reuse them, so the two cannot drift apart.
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

// ---------------------------------------------------------------- claim rules (shared with DynamoImageStore)

/**
 * What `ImageStore.claim` does with the record it finds (the DynamoDB adapter encodes the same
 * table as the ConditionExpression of its single UpdateItem):
 *
 * | record found                                               | claim by the same jobId | by another jobId |
 * |------------------------------------------------------------|-------------------------|------------------|
 * | none                                                       | claimed                 | claimed          |
 * | analyzing / assembling, claimedAt ≥ now − staleAfterMs     | claimed (redelivery)    | busy             |
 * | analyzing / assembling, claimedAt < now − staleAfterMs     | claimed                 | claimed (takeover)|
 * |   (or no claimedAt)                                        |                         |                  |
 * | analyzed / evaluated, same analysisVersion                 | done                    | done             |
 * | analyzed / evaluated, another (or no) analysisVersion      | claimed                 | claimed          |
 * | failed, error.kind 'retryable' (retries exhausted)         | claimed                 | claimed          |
 * | failed, any other error (permanent, fatal, none recorded)  | failed                  | failed           |
 * | deleted                                                    | deleted                 | deleted          |
 *
 * "Same jobId" only matters while the job's claim is live: a redelivery of a job that already
 * finished is 'done' (one analysis per push), and one that failed permanently stays 'failed'.
 * A claim sets status 'analyzing', claimedBy, claimedAt = updatedAt = now, registry and
 * repository, adds the tag, sets createdAt when new, and removes error, layersDone and
 * layersPending (a new attempt starts clean). When not claimed, the tag (if new) is still added
 * and updatedAt set, so no pushed tag is lost whatever the outcome.
 */
export function claimDecision(existing: ImageRecord | undefined, req: ClaimRequest): 'claim' | 'done' | 'busy' | 'failed' | 'deleted' {
  if (!existing) return 'claim';
  switch (existing.status) {
    case 'analyzing':
    case 'assembling':
      if (existing.claimedBy === req.jobId) return 'claim';
      return existing.claimedAt === undefined || existing.claimedAt < staleBefore(req) ? 'claim' : 'busy';
    case 'analyzed':
    case 'evaluated':
      return existing.analysisVersion === req.analysisVersion ? 'done' : 'claim';
    case 'failed':
      return existing.error?.kind === 'retryable' ? 'claim' : 'failed';
    case 'deleted':
      return 'deleted';
  }
}

/** ISO time before which a claim is stale (ISO-8601 UTC strings of one format sort as times). */
export function staleBefore(req: Pick<ClaimRequest, 'now' | 'staleAfterMs'>): string {
  return new Date(req.now.getTime() - req.staleAfterMs).toISOString();
}

/** Tags as stored: unique and sorted (a DynamoDB string set has no order, so neither do we). */
export function normaliseTags(tags: Iterable<string>): string[] {
  return [...new Set(tags)].sort();
}

// ---------------------------------------------------------------- package index rules (shared with DynamoPackageIndex)

/**
 * The entries `replaceForImage` writes: all must be for `digest`, and two entries for the same
 * key are merged (their versions joined, first-seen order), since the store holds one item per
 * (key, digest).
 */
export function normaliseIndexEntries(digest: string, entries: readonly PackageIndexEntry[]): PackageIndexEntry[] {
  const byKey = new Map<string, PackageIndexEntry>();
  for (const e of entries) {
    if (e.digest !== digest) throw new Error(`replaceForImage(${digest}): entry for ${e.key.ecosystem}/${e.key.name} names another image (${e.digest})`);
    const k = packageKeyString(e.key);
    const seen = byKey.get(k);
    if (seen) seen.versions = [...new Set([...seen.versions, ...e.versions])];
    else byKey.set(k, { key: { ecosystem: e.key.ecosystem, name: e.key.name }, digest, repository: e.repository, versions: [...new Set(e.versions)] });
  }
  return [...byKey.values()];
}

/** The previous keys to delete: those not among the new entries, once each. */
export function staleIndexKeys(entries: readonly PackageIndexEntry[], previousKeys: readonly PackageKey[] = []): PackageKey[] {
  const current = new Set(entries.map((e) => packageKeyString(e.key)));
  const out = new Map<string, PackageKey>();
  for (const k of previousKeys) {
    const s = packageKeyString(k);
    if (!current.has(s)) out.set(s, { ecosystem: k.ecosystem, name: k.name });
  }
  return [...out.values()];
}

/** History order: newest evaluatedAt first, the resultId breaking ties (as the DynamoDB LSI sorts `${evaluatedAt}#${resultId}`). */
export function resultOrderKey(r: Pick<ResultRecord, 'evaluatedAt' | 'resultId'>): string {
  return `${r.evaluatedAt}#${r.resultId}`;
}

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
}

/** The `expect` of ImageStore.update, checked against the stored record (same wording as DynamoImageStore). */
export function checkExpectation(digest: string, rec: ImageRecord, expect?: { status?: ImageStatus[]; claimedBy?: string }): void {
  const statusOk = !expect?.status || expect.status.includes(rec.status);
  const holderOk = expect?.claimedBy === undefined || rec.claimedBy === expect.claimedBy;
  if (!statusOk || !holderOk) throw new ConditionFailedError(expectationMessage(digest, rec, expect));
}

export function expectationMessage(digest: string, rec: ImageRecord | undefined, expect?: { status?: ImageStatus[]; claimedBy?: string }): string {
  if (!rec) return `image ${digest}: no record to update`;
  const wanted = [
    expect?.status && `status in [${expect.status.join(', ')}]`,
    expect?.claimedBy !== undefined && `claimed by ${expect.claimedBy}`,
  ].filter(Boolean);
  return `image ${digest}: expected ${wanted.join(' and ')}, found status ${rec.status}${rec.claimedBy ? ` claimed by ${rec.claimedBy}` : ''}`;
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
