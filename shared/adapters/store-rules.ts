/**
 * The rules the ImageStore / PackageIndex / ResultStore adapters share, so that the in-memory
 * stores (adapters/local) and the DynamoDB ones (adapters/aws) cannot drift apart: the claim
 * table, tag and index normalisation, result order, and the wording of a failed expectation.
 * test/adapters/stores-contract.ts runs one suite against both families.
 */
import { packageKeyString, type PackageKey } from '../ports/advisory-store.js';
import { ConditionFailedError, type ClaimRequest, type ImageRecord, type ImageStatus, type PackageIndexEntry, type ResultRecord } from '../ports/stores.js';

// ---------------------------------------------------------------- claim rules 

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
 * | skipped (not an image, untagged push)                      | claimed                 | claimed          |
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
    case 'skipped':
      // classified again by the new job (a tag may now name an untagged manifest)
      return 'claim';
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

// ---------------------------------------------------------------- package index rules 

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

