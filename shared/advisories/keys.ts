/**
 * How an advisory is split by package key for storage: one copy per (ecosystem, name) it
 * affects, holding only that key's affected entries, so the matcher never sees another
 * release's or package's data (the AdvisoryStore contract). Used by the DynamoDB advisory store;
 * MemoryAdvisoryStore does the same split inline.
 */
import { packageKeyString, type PackageKey } from '../ports/advisory-store.js';
import type { Advisory, AffectedPackage } from './types.js';

export interface AdvisorySlice {
  key: PackageKey;
  /** the advisory with `affected` narrowed to this key's entries (in their original order) */
  advisory: Advisory;
}

/**
 * The advisory's slices by `packageKeyString` of each key, in first-seen order. `keep`
 * (optional) drops entries whose key the caller will never ask for; an advisory left with no
 * entries has no slices.
 */
export function splitByPackageKey(a: Advisory, keep?: (key: PackageKey) => boolean): Map<string, AdvisorySlice> {
  const groups = new Map<string, { key: PackageKey; affected: AffectedPackage[] }>();
  for (const p of a.affected) {
    const key = { ecosystem: p.ecosystem, name: p.name };
    if (keep && !keep(key)) continue;
    const k = packageKeyString(key);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { key, affected: [] }));
    g.affected.push(p);
  }
  const out = new Map<string, AdvisorySlice>();
  for (const [k, g] of groups) out.set(k, { key: g.key, advisory: { ...a, affected: g.affected } });
  return out;
}

/** The identity an advisory is replaced by: a newer copy with the same source and id replaces it. */
export function advisoryId(a: Pick<Advisory, 'source' | 'id'>): string {
  return `${a.source}#${a.id}`;
}
