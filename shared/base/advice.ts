import type { Finding } from '../match/index.js';
import { layerGroups } from './layers.js';
import type { BaseImageInfo, ClearedFinding, LayerId, RebuildAdvice } from './types.js';

/** How findings are compared across images: the same key the evaluator's result history uses. */
export function findingKey(f: Pick<Finding, 'id'> & { package: { name: string; version: string } }): string {
  return `${f.id}|${f.package.name}|${f.package.version}`;
}

/**
 * What a rebuild on the newest digest of the base's tag would clear: the findings in the
 * base's layers that the newest base does not have (by vulnerability and package name: the
 * newest base carries the fixed version, so the version is not compared). Suppressed findings
 * are left out. Undefined when the base is not identified or no newer digest is known; when
 * the newest base's findings are not known, advice cannot be given and is not invented.
 */
export function rebuildAdvice(
  findings: readonly Finding[],
  layers: readonly LayerId[],
  base: BaseImageInfo | undefined,
  newestBaseFindings: ReadonlyArray<Pick<Finding, 'id'> & { package: { name: string } }> | undefined,
): RebuildAdvice | undefined {
  if (base?.status !== 'identified' || !base.newest || !newestBaseFindings || !base.digest) return undefined;
  const groupOf = layerGroups(layers, base);
  const still = new Set(newestBaseFindings.map((f) => `${f.id}|${f.package.name}`));
  const inBase = findings.filter((f) => !f.suppressed && groupOf(f.layer) === 'base');
  const clears: ClearedFinding[] = [];
  const seen = new Set<string>();
  let remains = 0;
  for (const f of inBase) {
    if (still.has(`${f.id}|${f.package.name}`)) {
      remains++;
      continue;
    }
    const k = findingKey(f);
    if (seen.has(k)) continue;
    seen.add(k);
    clears.push({ id: f.id, package: f.package.name, version: f.package.version, severity: f.severity, ...(f.fixedIn ? { fixedIn: f.fixedIn } : {}) });
  }
  clears.sort((a, b) => a.id.localeCompare(b.id) || a.package.localeCompare(b.package));
  const name = `${base.registry}/${base.repository}${base.tag ? `:${base.tag}` : ''}`;
  return {
    base: name,
    from: base.digest,
    to: base.newest.digest,
    clears,
    remains,
    summary: clears.length
      ? `Rebuilding on ${name} (${base.newest.digest.slice(0, 19)}) clears ${clears.length} finding${clears.length === 1 ? '' : 's'} in the base layers; ${remains} remain${remains === 1 ? 's' : ''}`
      : `A newer ${name} (${base.newest.digest.slice(0, 19)}) exists, but it clears none of this image's ${remains} base-layer finding${remains === 1 ? '' : 's'}`,
  };
}
