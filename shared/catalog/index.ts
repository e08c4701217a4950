/**
 * The catalogers Drydock runs, as an explicit list: adding a format is one module and one
 * line here. Running them detects the distribution first (catalogers use it for package
 * URLs), then collects every cataloger's packages and issues; a cataloger that throws
 * becomes an issue, never a failed scan. A throw is confined to the file it happened on:
 * the file whose content the cataloger read last is set aside (an issue names it) and the
 * cataloger runs again without it, so one hostile file cannot hide the packages beside it.
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
import { runtimeCataloger } from './runtime.js';
import { MAX_FAILED_FILES } from './limits.js';
import type { CatalogContext, CatalogIssue, CatalogResult, Cataloger, ContentProbe, Distro, FileView, Package, PackageRef, PathNeeds, ViewFile } from './types.js';

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
  runtimeCataloger,
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
      const result = catalogConfined(cataloger, view, distro ? { distro } : {});
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
      // no spreading: a view may hold hundreds of thousands of packages
      for (const p of result.packages) packages.push(p);
      for (const i of result.issues) issues.push(i);
    } catch (e) {
      issues.push(thrown(cataloger.name, e));
    }
  }
  packages.sort(comparePackages);
  return distro ? { distro, packages, issues } : { packages, issues };
}

/**
 * Runs one cataloger, confining a throw to one file: the file whose content it read last
 * is left out (recorded as an issue naming its path and layer) and the cataloger runs
 * again on the rest of the view. A throw with no file to blame (none read yet, the view
 * itself failing, or a file already left out) is the cataloger's: thrown on, unless files
 * were left out already, and then, as after MAX_FAILED_FILES files, the cataloger gives
 * up on the view: no packages, the issues so far plus one that says why.
 */
export function catalogConfined(cataloger: Cataloger, view: FileView, ctx: CatalogContext): CatalogResult {
  const excluded = new Set<string>();
  const failures: CatalogIssue[] = [];
  for (;;) {
    const tracked = trackingView(view, excluded);
    try {
      const result = cataloger.catalog(tracked.view, ctx);
      if (failures.length === 0) return result;
      return { ...result, issues: failures.concat(result.issues) };
    } catch (e) {
      // A failure of the view itself is nobody's file: the cataloger's issue as a whole.
      const culprit = tracked.viewFailed() ? undefined : tracked.last();
      if (!culprit || excluded.has(culprit.path) || excluded.size >= MAX_FAILED_FILES) {
        if (excluded.size === 0) throw e;
        const more = excluded.size >= MAX_FAILED_FILES ? `after ${excluded.size} files failed (limit maxFailedFiles ${MAX_FAILED_FILES}), ` : '';
        failures.push({ cataloger: cataloger.name, path: '/', message: `${cataloger.name} failed: ${more}no packages from it: ${describe(e)}` });
        return { packages: [], issues: failures };
      }
      excluded.add(culprit.path);
      failures.push({ cataloger: cataloger.name, path: culprit.path, layer: culprit.layer, message: `${cataloger.name} failed on this file, which was left out: ${describe(e)}` });
    }
  }
}

/** A view without the `excluded` paths that remembers which file's content was read last. */
function trackingView(view: FileView, excluded: ReadonlySet<string>): { view: FileView; last(): ViewFile | undefined; viewFailed(): boolean } {
  let last: ViewFile | undefined;
  let failed = false;
  const guard = <T>(call: () => T): T => {
    try {
      return call();
    } catch (e) {
      failed = true;
      throw e;
    }
  };
  const wrap = (file: ViewFile): ViewFile => {
    const out: ViewFile = {
      path: file.path,
      mode: file.mode,
      layer: file.layer,
      get content() {
        last = file;
        return file.content;
      },
    };
    if (file.truncated !== undefined) out.truncated = file.truncated;
    return out;
  };
  const keep = (files: ViewFile[]): ViewFile[] => {
    const out: ViewFile[] = [];
    for (const f of files) if (!excluded.has(f.path)) out.push(wrap(f));
    return out;
  };
  const tracked: FileView = {
    get(path) {
      const file = guard(() => view.get(path));
      return file && !excluded.has(file.path) ? wrap(file) : undefined;
    },
    glob: (pattern) => keep(guard(() => view.glob(pattern))),
  };
  if (view.probed) tracked.probed = (probe: ContentProbe) => keep(guard(() => view.probed!(probe)));
  if (view.realPath) tracked.realPath = (path) => guard(() => view.realPath!(path));
  return { view: tracked, last: () => last, viewFailed: () => failed };
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
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
