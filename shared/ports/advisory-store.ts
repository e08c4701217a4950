import type { Advisory } from '../advisories/types.js';

/** The key advisories are stored and looked up by: an ecosystem key ("Debian:12", "npm") and a package name normalised for it. */
export interface PackageKey {
  ecosystem: string;
  name: string;
}

/**
 * Advisories by (ecosystem, package name). `forPackage` returns each advisory with only the
 * affected entries for that key, so the matcher never sees another release's data. The local
 * adapter holds them in memory (loaded from OSV zips/directories, the Debian tracker export,
 * Alpine secdb files); the DynamoDB adapter comes with the pipeline.
 */
export interface AdvisoryStore {
  forPackage(key: PackageKey): Promise<Advisory[]>;
  /** add or replace advisories (by source and id) */
  put(advisories: Iterable<Advisory>): Promise<void>;
}

export function packageKeyString(key: PackageKey): string {
  return `${key.ecosystem}\u0000${key.name}`;
}
