import type { Advisory } from '../../advisories/types.js';
import { packageKeyString, type AdvisoryStore, type PackageKey } from '../../ports/advisory-store.js';

/**
 * The embedded advisory store: an index from (ecosystem, name) to advisories trimmed to that
 * key. An advisory put again (same source and id) replaces the earlier one, so loading a newer
 * copy of a feed never leaves stale affected entries behind.
 */
export class MemoryAdvisoryStore implements AdvisoryStore {
  private readonly byId = new Map<string, Advisory>();
  private readonly byKey = new Map<string, Map<string, Advisory>>();

  /** `keep` (optional) drops entries whose key the caller will never ask for: a scan loads only its inventory's keys. */
  constructor(private readonly keep?: (key: PackageKey) => boolean) {}

  async forPackage(key: PackageKey): Promise<Advisory[]> {
    return [...(this.byKey.get(packageKeyString(key))?.values() ?? [])];
  }

  async put(advisories: Iterable<Advisory>): Promise<void> {
    for (const a of advisories) this.add(a);
  }

  /** synchronous put, for loaders that stream records */
  add(a: Advisory): boolean {
    const id = `${a.source}\u0000${a.id}`;
    const old = this.byId.get(id);
    if (old) this.unindex(id, old);
    const kept = this.keep ? a.affected.filter((p) => this.keep!({ ecosystem: p.ecosystem, name: p.name })) : a.affected;
    if (kept.length === 0) {
      this.byId.delete(id);
      return false;
    }
    this.byId.set(id, a);
    const keys = new Set(kept.map((p) => packageKeyString(p)));
    for (const k of keys) {
      const entry: Advisory = { ...a, affected: kept.filter((p) => packageKeyString(p) === k) };
      let m = this.byKey.get(k);
      if (!m) this.byKey.set(k, (m = new Map()));
      m.set(id, entry);
    }
    return true;
  }

  private unindex(id: string, a: Advisory): void {
    for (const p of a.affected) this.byKey.get(packageKeyString(p))?.delete(id);
  }

  get size(): { advisories: number; keys: number } {
    return { advisories: this.byId.size, keys: this.byKey.size };
  }
}
