/**
 * The catalogers Drydock runs, as an explicit list: adding a format is one module and one
 * line here. Running them detects the distribution first (catalogers use it for package
 * URLs), then collects every cataloger's packages and issues; a cataloger that throws
 * becomes an issue, never a failed scan.
 */
import { distroDetector } from './distro.js';
import { dpkgCataloger } from './dpkg.js';
import type { CatalogIssue, Cataloger, Distro, FileView, Package, PathNeeds } from './types.js';

export const catalogers: readonly Cataloger[] = [dpkgCataloger];

export interface CatalogRun {
  distro?: Distro;
  /** sorted by type, name, version, arch (then location) */
  packages: Package[];
  issues: CatalogIssue[];
}

/** Every path the catalogers in `list` and the distro detector read, deduplicated and sorted. */
export function catalogNeeds(list: readonly Cataloger[] = catalogers): PathNeeds {
  const all = [distroDetector.needs, ...list.map((c) => c.needs)];
  const merge = (pick: (n: PathNeeds) => string[] | undefined): string[] => [...new Set(all.flatMap((n) => pick(n) ?? []))].sort();
  return { exact: merge((n) => n.exact), globs: merge((n) => n.globs), basenames: merge((n) => n.basenames) };
}

export function runCatalogers(view: FileView, list: readonly Cataloger[] = catalogers): CatalogRun {
  const issues: CatalogIssue[] = [];
  const packages: Package[] = [];
  let distro: Distro | undefined;
  try {
    distro = distroDetector.detect(view);
  } catch (e) {
    issues.push(thrown(distroDetector.name, e));
  }
  for (const cataloger of list) {
    try {
      const result = cataloger.catalog(view, distro ? { distro } : {});
      packages.push(...result.packages);
      issues.push(...result.issues);
    } catch (e) {
      issues.push(thrown(cataloger.name, e));
    }
  }
  packages.sort(comparePackages);
  return distro ? { distro, packages, issues } : { packages, issues };
}

function thrown(name: string, e: unknown): CatalogIssue {
  return { cataloger: name, path: '/', message: `${name} failed: ${e instanceof Error ? e.message : String(e)}` };
}

/** Plain code-unit order (not locale order), so the result is the same everywhere. */
function comparePackages(a: Package, b: Package): number {
  return (
    compare(a.type, b.type) ||
    compare(a.name, b.name) ||
    compare(a.version, b.version) ||
    compare(a.arch ?? '', b.arch ?? '') ||
    compare(a.locations[0] ?? '', b.locations[0] ?? '')
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
