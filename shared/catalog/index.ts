/**
 * The catalogers Drydock runs, as an explicit list: adding a format is one module and one
 * line here. Running them detects the distribution first (catalogers use it for package
 * URLs), then collects every cataloger's packages and issues; a cataloger that throws
 * becomes an issue, never a failed scan.
 */
import { apkCataloger } from './apk.js';
import { distroDetector, distroQualifier } from './distro.js';
import { dotnetCataloger } from './dotnet.js';
import { dpkgCataloger } from './dpkg.js';
import { goBinaryCataloger } from './golang.js';
import { javaCataloger } from './java.js';
import { npmCataloger } from './npm.js';
import { phpCataloger } from './php.js';
import { pythonCataloger } from './python.js';
import { rubyCataloger } from './ruby.js';
import { rpmCataloger } from './rpm/index.js';
import { rustBinaryCataloger } from './rust.js';
import type { CatalogIssue, Cataloger, Distro, FileView, Package, PackageRef, PathNeeds } from './types.js';

/** OS catalogers first (their file ownership is applied to what the others find), each kind in this order. */
export const catalogers: readonly Cataloger[] = [
  dpkgCataloger,
  apkCataloger,
  rpmCataloger,
  npmCataloger,
  pythonCataloger,
  rubyCataloger,
  dotnetCataloger,
  phpCataloger,
  javaCataloger,
  goBinaryCataloger,
  rustBinaryCataloger,
];

const KIND_ORDER: Record<Cataloger['kind'], number> = { os: 0, language: 1, binary: 2 };

export interface CatalogRun {
  distro?: Distro;
  /** sorted by type, name, version, arch (then location) */
  packages: Package[];
  issues: CatalogIssue[];
}

/** Every path (and content probe) the catalogers in `list` and the distro detector need, deduplicated and sorted. */
export function catalogNeeds(list: readonly Cataloger[] = catalogers): PathNeeds {
  const all = [distroDetector.needs, ...list.map((c) => c.needs)];
  const merge = (pick: (n: PathNeeds) => string[] | undefined): string[] => [...new Set(all.flatMap((n) => pick(n) ?? []))].sort();
  const needs: PathNeeds = { exact: merge((n) => n.exact), globs: merge((n) => n.globs), basenames: merge((n) => n.basenames) };
  const probes = [...new Map(all.flatMap((n) => n.probes ?? []).map((p) => [p.name, p])).values()];
  if (probes.length) needs.probes = probes.sort((a, b) => (a.name < b.name ? -1 : 1));
  return needs;
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
  const owners = new Map<string, PackageRef>();
  const real = realPaths(view);
  const ordered = [...list].sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind]);
  for (const cataloger of ordered) {
    try {
      const result = cataloger.catalog(view, distro ? { distro } : {});
      for (const p of result.packages) {
        p.foundBy = cataloger.name;
        if (cataloger.kind === 'os' && distro) p.distro ??= distroQualifier(distro);
        // A language package whose record an OS package installed is that OS package's.
        if (cataloger.kind !== 'os') {
          // a record inside an archive (/x.war!/WEB-INF/lib/y.jar) belongs to whoever installed the archive
          const owner = p.locations.map((l) => owners.get(l.split('!/')[0]!)).find(Boolean);
          if (owner) p.ownedBy = owner;
        }
      }
      for (const { owner, paths } of result.ownership ?? []) {
        const ref: PackageRef = { type: owner.type, name: owner.name, version: owner.version, purl: owner.purl };
        for (const path of paths) {
          // Package lists name paths as installed (/lib/…); views give real paths (/usr/lib/… on merged-/usr).
          for (const p of [path, real(path)]) if (p && !owners.has(p)) owners.set(p, ref);
        }
      }
      packages.push(...result.packages);
      issues.push(...result.issues);
    } catch (e) {
      issues.push(thrown(cataloger.name, e));
    }
  }
  packages.sort(comparePackages);
  return distro ? { distro, packages, issues } : { packages, issues };
}

/** The view's real path of a file, resolving each directory once (package lists hold tens of thousands of paths). */
function realPaths(view: FileView): (path: string) => string | undefined {
  if (!view.realPath) return () => undefined;
  const dirs = new Map<string, string | undefined>();
  return (path) => {
    const slash = path.lastIndexOf('/');
    const dir = path.slice(0, slash) || '/';
    if (!dirs.has(dir)) dirs.set(dir, view.realPath!(dir));
    const realDir = dirs.get(dir);
    return realDir === undefined ? undefined : `${realDir === '/' ? '' : realDir}/${path.slice(slash + 1)}`;
  };
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
