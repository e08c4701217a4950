/**
 * What makes `drydock scan`'s gates (--fail-on, --policy) trustworthy: coverage of the image's
 * ecosystems by the loaded advisory data, the data's age, severity parsing, and the policy
 * bundle's allowlists applied to --fail-on. Pure except for reading feed metadata files.
 */
import { stat } from 'node:fs/promises';
import { sep } from 'node:path';
import { readFeedMeta } from '../advisories/feeds.js';
import type { LoadedSource } from '../advisories/load.js';
import { SEVERITIES, type Severity } from '../advisories/types.js';
import type { Finding } from '../match/index.js';
import { globMatch, selectorMatches } from '../policy/engine.js';
import type { PolicyBundle, PolicyContext } from '../policy/types.js';
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

/**
 * The bundle's allowlists (of the mapping that selects the image, as the policy engine picks
 * them) applied to findings, so that --fail-on and --policy agree: an item of gate
 * "vulnerabilities" whose trigger_id matches "<id>+<package>" (or an alias in place of the id)
 * marks the finding suppressed, with the allowlist and item named. Expired items do not apply.
 */
export function applyBundleAllowlists(bundle: PolicyBundle, ctx: PolicyContext, findings: Finding[]): number {
  const img = {
    registry: ctx.image.registry ?? '',
    repository: ctx.image.repository ?? '',
    tag: ctx.image.tag,
    digest: ctx.image.digest,
    id: ctx.image.id,
  };
  const mapping = bundle.mappings.find((m) => selectorMatches(m, img));
  if (!mapping) return 0;
  const items = mapping.allowlist_ids
    .map((id) => bundle.allowlists.find((a) => a.id === id))
    .flatMap((a) => (a ? a.items.filter((i) => i.gate.toLowerCase() === 'vulnerabilities').map((item) => ({ list: a, item })) : []));
  let n = 0;
  for (const f of findings) {
    if (f.suppressed) continue;
    const ids = [f.id, ...f.aliases].map((id) => `${id}+${f.package.name}`);
    for (const { list, item } of items) {
      if (item.expires_on !== undefined && ctx.now.getTime() >= Date.parse(item.expires_on)) continue;
      if (!ids.some((t) => globMatch(item.trigger_id, t))) continue;
      f.suppressed = { by: `allowlist ${list.id}/${item.id}`, reason: `${list.name ?? list.comment ?? `policy bundle ${bundle.id}`}${item.expires_on ? `, until ${item.expires_on}` : ''}` };
      n++;
      break;
    }
  }
  return n;
}
