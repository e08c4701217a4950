/**
 * What makes `drydock scan`'s gates (--fail-on, --policy) trustworthy: coverage of the image's
 * ecosystems by the loaded advisory data, the data's age, severity parsing (the policy bundle's
 * allowlists applied to --fail-on are in allowlists.ts). Pure except for reading feed metadata files.
 */
import { stat } from 'node:fs/promises';
import { sep } from 'node:path';
import { readFeedMeta } from '../advisories/feeds.js';
import type { LoadedSource } from '../advisories/load.js';
import { SEVERITIES, type Severity } from '../advisories/types.js';
import { DrydockError } from '../errors.js';

export { bundleGatesVulnerabilities, DEFAULT_MAX_ADVISORY_AGE, formatAge, parseAge } from '../match/coverage.js';

/** "critical", "HIGH", "Unknown" → the severity; anything else is a usage error naming the flag. */
export function parseSeverity(flag: string, v: string): Severity {
  const s = v.trim().toLowerCase() as Severity;
  if (!SEVERITIES.includes(s)) throw new DrydockError('CONFIG', `unknown severity "${v}" for ${flag} (${SEVERITIES.join(', ')})`);
  return s;
}

/** "low,high" → the set; repeated and comma-separated values both work. */
export function parseSeverityList(flag: string, values: readonly string[]): Set<Severity> {
  const out = new Set<Severity>();
  for (const v of values) for (const part of v.split(',')) if (part.trim()) out.add(parseSeverity(flag, part));
  if (out.size === 0) throw new DrydockError('CONFIG', `${flag} needs at least one severity (${SEVERITIES.join(', ')})`);
  return out;
}

/** The scan's "now": DRYDOCK_NOW (an ISO date-time, for tests only) or the clock. */
export function scanNow(env: NodeJS.ProcessEnv): Date {
  const v = env.DRYDOCK_NOW;
  if (v === undefined || v === '') return new Date();
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new DrydockError('CONFIG', `DRYDOCK_NOW must be an ISO date-time, got "${v}"`);
  return new Date(t);
}

export interface SourceFreshness {
  path: string;
  kind: string;
  ecosystems: string[];
  advisories: number;
  /** when the data was produced: the newest record date, else the feed's Last-Modified (ISO) */
  producedAt?: string;
  /** when it was synced: `feeds sync`'s last check, else the file's modification time (ISO) */
  syncedAt?: string;
  /** now − producedAt (else − syncedAt), in ms; undefined when neither is known */
  ageMs?: number;
}

/**
 * The loaded sources grouped by the path the user named (a directory of OSV records is one
 * source, produced when its newest record was): kinds joined, counts summed, ecosystems united,
 * the newest production date kept.
 */
export function groupByPath(paths: readonly string[], sources: readonly LoadedSource[]): LoadedSource[] {
  const out: LoadedSource[] = [];
  for (const p of paths) {
    const prefix = p.endsWith(sep) ? p : `${p}${sep}`;
    const under = sources.filter((s) => s.path === p || s.path.startsWith(prefix));
    if (under.length === 0) continue;
    if (under.length === 1 && under[0]!.path === p) {
      out.push(under[0]!);
      continue;
    }
    let producedAt: string | undefined;
    for (const s of under) if (s.producedAt && (!producedAt || Date.parse(s.producedAt) > Date.parse(producedAt))) producedAt = s.producedAt;
    out.push({
      path: p,
      kind: [...new Set(under.map((s) => s.kind))].sort().join('+') as LoadedSource['kind'],
      advisories: under.reduce((n, s) => n + s.advisories, 0),
      kept: under.reduce((n, s) => n + s.kept, 0),
      ecosystems: [...new Set(under.flatMap((s) => s.ecosystems))].sort(),
      ...(producedAt ? { producedAt } : {}),
    });
  }
  return out;
}

export async function freshnessOf(sources: readonly LoadedSource[], now: Date): Promise<SourceFreshness[]> {
  const out: SourceFreshness[] = [];
  for (const s of sources) {
    const meta = await readFeedMeta(s.path);
    const lastModified = meta?.lastModified && !Number.isNaN(Date.parse(meta.lastModified)) ? new Date(meta.lastModified).toISOString() : undefined;
    const producedAt = s.producedAt ?? lastModified;
    let syncedAt = meta?.checkedAt;
    if (!syncedAt) {
      const st = await stat(s.path).catch(() => undefined);
      if (st) syncedAt = st.mtime.toISOString();
    }
    // Amazon Linux updateinfo synced by `feeds sync`: current as of its last check (a stream may go
    // weeks without a new ALAS and still be the latest; AL1 gets none), not its newest advisory
    const ref = s.kind === 'alas-updateinfo' && meta?.checkedAt ? syncedAt : (producedAt ?? syncedAt);
    out.push({
      path: s.path,
      kind: s.kind,
      ecosystems: s.ecosystems,
      advisories: s.advisories,
      ...(producedAt ? { producedAt } : {}),
      ...(syncedAt ? { syncedAt } : {}),
      ...(ref ? { ageMs: Math.max(0, now.getTime() - Date.parse(ref)) } : {}),
    });
  }
  return out;
}
