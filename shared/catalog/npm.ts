/**
 * npm packages: the ones installed in node_modules directories, and — for a project
 * directory that has no node_modules — the ones its npm lockfile pins.
 *
 * Installed packages. Every package's own manifest inside a node_modules directory, at
 * any depth: <dir>/node_modules/<name>/package.json and
 * <dir>/node_modules/@<scope>/<name>/package.json, where <dir> may itself be a package
 * (node_modules/a/node_modules/b/package.json is b installed for a). Other package.json
 * files inside a package (node_modules/x/lib/package.json, the "type": "module" stubs of
 * dual builds) are not manifests and are never read, nor are directories whose name starts
 * with "." (node_modules/.cache, .bin; pnpm's .pnpm store is a directory of its own
 * node_modules trees, so its packages are found). The manifest's `name` and `version`
 * are required; a manifest without them, or that is not JSON, is an issue. The name is
 * the one in the manifest, not the directory's (an alias "foo": "npm:bar@1" installs bar
 * in node_modules/foo); metadata.installPath is the package's directory.
 *
 * Manifests marked "private": true are skipped without an issue. npm refuses to publish
 * a private package, so such a manifest is never a registry package: it is a workspace
 * member or a local directory/tarball installed as a dependency — the project's own code,
 * like the root package.json, which is not reported either. Reporting it as pkg:npm/<name>
 * would name the public registry package that happens to share its name, and match that
 * package's advisories (the dependency-confusion shape).
 *
 * Lockfiles. npm-shrinkwrap.json, else package-lock.json (npm reads the shrinkwrap
 * when both exist), of a project directory that has no installed node_modules: an image
 * that ran `npm ci` has node_modules, whose manifests are what is really there (and say
 * what `--omit=dev` left out); an image that copied only the lockfile does not, and the
 * lockfile is then the best account of what the project runs with. A project counts as
 * installed when any manifest lies under <dir>/node_modules, or <dir>/node_modules/
 * .package-lock.json (npm >= 7's record of the tree, present even when nothing was
 * installed) exists. Lockfiles inside node_modules belong to installed packages (npm
 * never reads a dependency's package-lock, and a dependency's shrinkwrap was applied at
 * install time, so its result is in node_modules) and are ignored.
 *   - lockfileVersion 2 and 3: the `packages` map, keyed by install path relative to the
 *     project ("node_modules/a", "node_modules/a/node_modules/@s/b"). The "" root, the
 *     workspace folders (keys outside any node_modules) and link entries ("link": true,
 *     a symlink to a workspace folder) are the project's own code and are skipped. The
 *     name is the entry's `name` (aliases) or the last path component.
 *   - lockfileVersion 1: the nested `dependencies` tree. A version "npm:<name>@<version>"
 *     is an alias; a version "file:..." is a local directory or tarball and is skipped.
 * Each entry is one package, as each installed copy is one package: the lockfile gives
 * the Package values `npm ci` would produce, with metadata.installPath where npm would
 * install it and the entry's dev / optional / devOptional / peer / inBundle flags
 * ("true"; v1's `bundled` is inBundle). Licences come from v3's per-entry `license`.
 * A v2 lockfile also carries a v1 `dependencies` tree; `packages` is read, as npm does.
 * yarn.lock and pnpm-lock.yaml are out of scope (their installed node_modules are read).
 *
 * Licences: `license` (a string or a legacy {type} object, or an array of them), else the
 * legacy `licenses` array, normalised with normalizeLicenses — except "UNLICENSED", npm's
 * word for "no licence granted", which is kept as written (spdx-correct would turn it into
 * the Unlicense, a public-domain dedication: the opposite).
 *
 * The package URL is pkg:npm/<name>@<version>, a scope as its namespace
 * (pkg:npm/%40types/node@20.1.0), built by packageurl-js (which lower-cases npm names).
 *
 * Speed: an image can hold hundreds of node_modules trees. The needs are one glob (one
 * regular expression per tar entry) plus three basenames (a Set lookup); catalog() makes
 * one view.glob call with one pattern and classifies each file by splitting its path.
 */
import { posix } from 'node:path';
import { PackageURL } from 'packageurl-js';
import { normalizeLicenses } from './license.js';
import type { CatalogResult, Cataloger, FileView, Package, ViewFile } from './types.js';
import { FileIssues, textOf } from './file-issues.js';
import { JsonDepthError, parseJsonBounded } from './json.js';
import { MAX_LOCK_TREE_DEPTH, MAX_NODE_MODULES_DEPTH, MAX_PATH_LENGTH } from './limits.js';

const NAME = 'npm';
/** A package's own manifest in a node_modules directory (the walker's need). */
const MANIFEST_GLOB = '**/node_modules/{*,@*/*}/package.json';
const PACKAGE_LOCK = 'package-lock.json';
const SHRINKWRAP = 'npm-shrinkwrap.json';
/** npm >= 7 writes node_modules/.package-lock.json: the installed tree exists. */
const HIDDEN_LOCKFILE = '.package-lock.json';
/** Everything catalog() reads, in one pattern: one pass over the view. */
const VIEW_GLOB = `**/{node_modules/{*,@*/*}/package.json,node_modules/${HIDDEN_LOCKFILE},${PACKAGE_LOCK},${SHRINKWRAP}}`;


/** Lockfile v2/v3 entry flags kept in metadata (as "true"). */
const LOCK_FLAGS = ['dev', 'optional', 'devOptional', 'peer', 'inBundle'] as const;

export const npmCataloger: Cataloger = {
  name: NAME,
  kind: 'language',
  version: 1,
  needs: { globs: [MANIFEST_GLOB], basenames: [PACKAGE_LOCK, SHRINKWRAP, HIDDEN_LOCKFILE] },
  catalog(view: FileView): CatalogResult {
    const result: CatalogResult = { packages: [], issues: [] };
    /** directories with a node_modules directory (the part of a path before its first /node_modules/) */
    const installed = new Set<string>();
    /** project directory → the lockfile npm would read there */
    const lockfiles = new Map<string, ViewFile>();
    /** manifests nested deeper than MAX_NODE_MODULES_DEPTH: counted, one issue names the first */
    let tooDeep: { file: ViewFile; count: number } | undefined;
    for (const file of view.glob(VIEW_GLOB)) {
      const place = classify(file.path);
      if (!place) continue;
      if (place.depth > MAX_NODE_MODULES_DEPTH) {
        if (tooDeep) tooDeep.count++;
        else tooDeep = { file, count: 1 };
        installed.add(place.project);
        continue;
      }
      if (place.kind === 'lockfile') {
        // npm-shrinkwrap.json wins over package-lock.json in the same directory.
        if (!lockfiles.has(place.project) || posix.basename(file.path) === SHRINKWRAP) lockfiles.set(place.project, file);
        continue;
      }
      installed.add(place.project);
      if (place.kind === 'manifest') readManifest(file, result);
    }
    for (const [project, file] of lockfiles) {
      if (installed.has(project) || view.get(posix.join(project, 'node_modules', HIDDEN_LOCKFILE))) continue;
      readLockfile(file, project, result);
    }
    if (tooDeep) {
      const { file, count } = tooDeep;
      result.issues.push({
        cataloger: NAME,
        path: file.path,
        layer: file.layer,
        message: `${count} package manifest(s) nested in more than ${MAX_NODE_MODULES_DEPTH} node_modules directories not read (limit maxNodeModulesDepth ${MAX_NODE_MODULES_DEPTH}), this one among them`,
      });
    }
    return result;
  },
};

/** depth: how many node_modules directories the path goes through */
type Place = { kind: 'manifest' | 'hidden-lockfile' | 'lockfile'; project: string; depth: number };

/**
 * What a path the view glob returned is: a package's own manifest, a hidden lockfile or a
 * project lockfile, with its project directory (for the first two: the directory holding the
 * outermost node_modules); undefined for anything else (a lockfile inside node_modules,
 * node_modules/.cache/package.json, node_modules/@scope/package.json).
 */
function classify(path: string): Place | undefined {
  // One split and one pass: linear in the path however deep node_modules are nested.
  const parts = path.split('/');
  const n = parts.length;
  const base = parts[n - 1];
  let first = -1;
  let depth = 0;
  for (let i = 0; i < n; i++) {
    if (parts[i] !== 'node_modules') continue;
    if (first === -1) first = i;
    depth++;
  }
  if (base === PACKAGE_LOCK || base === SHRINKWRAP) return first === -1 ? { kind: 'lockfile', project: posix.dirname(path), depth } : undefined;
  if (first === -1) return undefined;
  const project = parts.slice(0, first).join('/') || '/';
  if (base === HIDDEN_LOCKFILE) return parts[n - 2] === 'node_modules' ? { kind: 'hidden-lockfile', project, depth } : undefined;
  if (base !== 'package.json') return undefined;
  const dir = parts[n - 2] ?? '';
  if (dir === '' || dir.startsWith('.') || dir.startsWith('@')) return undefined;
  if (parts[n - 3] === 'node_modules') return { kind: 'manifest', project, depth };
  const scope = parts[n - 3] ?? '';
  if (parts[n - 4] === 'node_modules' && scope.length > 1 && scope.startsWith('@')) return { kind: 'manifest', project, depth };
  return undefined;
}

function readManifest(file: ViewFile, out: CatalogResult): void {
  const issue = (message: string): void => {
    out.issues.push({ cataloger: NAME, path: file.path, layer: file.layer, message });
  };
  const json = parseJson(file);
  if (typeof json === 'string') return issue(json);
  if (json.private === true) return;
  const name = json.name;
  const version = json.version;
  if (typeof name !== 'string' || name.trim() === '') return issue('package.json has no "name"');
  if (typeof version !== 'string' || version.trim() === '') return issue(`package.json of "${truncate(name)}" has no "version"`);
  const licenses = npmLicenses(json.license !== undefined ? json.license : json.licenses);
  const made = makePackage(name.trim(), version.trim(), licenses, file, { installPath: posix.dirname(file.path) });
  if (typeof made === 'string') return issue(made);
  out.packages.push(made);
}

function readLockfile(file: ViewFile, project: string, out: CatalogResult): void {
  const issues = new FileIssues(NAME, file, out, 'bad entries');
  const issue = (message: string): void => issues.add(message);
  const json = parseJson(file);
  if (typeof json === 'string') {
    issue(json);
  } else if (isObject(json.packages)) {
    const v = json.lockfileVersion;
    if (typeof v === 'number' && v > 3) issue(`lockfileVersion ${v} is newer than this reader (3): read as version 3`);
    readPackagesMap(json.packages, file, project, out, issue);
  } else if (isObject(json.dependencies)) {
    readDependencyTree(json.dependencies, file, project, out, issue);
  } else if (typeof json.lockfileVersion !== 'number') {
    issue('neither "packages" nor "dependencies" nor "lockfileVersion": not an npm lockfile');
  }
  issues.close();
}

/** lockfileVersion 2 and 3: `packages`, keyed by install path relative to the project. */
function readPackagesMap(packages: Record<string, unknown>, file: ViewFile, project: string, out: CatalogResult, issue: (m: string) => void): void {
  for (const [key, entry] of Object.entries(packages)) {
    if (key === '') continue;
    const at = lastNodeModules(key);
    if (at === -1) continue; // a workspace folder: the project's own code
    if (!isObject(entry)) {
      issue(`entry "${truncate(key)}" is not an object`);
      continue;
    }
    if (entry.link === true) continue; // a symlink to a workspace folder
    const name = typeof entry.name === 'string' && entry.name !== '' ? entry.name : key.slice(at);
    if (typeof entry.version !== 'string' || entry.version.trim() === '') {
      issue(`entry "${truncate(key)}" has no "version"`);
      continue;
    }
    const metadata: Record<string, string> = { installPath: posix.join(project, key) };
    for (const flag of LOCK_FLAGS) if (entry[flag] === true) metadata[flag] = 'true';
    const made = makePackage(name, entry.version.trim(), npmLicenses(entry.license), file, metadata);
    if (typeof made === 'string') issue(`entry "${truncate(key)}": ${made}`);
    else out.packages.push(made);
  }
}

/** lockfileVersion 1: the nested `dependencies` tree (read without recursion: depth is the file's to choose). */
function readDependencyTree(root: Record<string, unknown>, file: ViewFile, project: string, out: CatalogResult, issue: (m: string) => void): void {
  type Level = { deps: Record<string, unknown>; dir: string; depth: number };
  const stack: Level[] = [{ deps: root, dir: project, depth: 1 }];
  const prefix = project === '/' ? 1 : project.length + 1;
  while (stack.length > 0) {
    const { deps, dir, depth } = stack.pop() as Level;
    const children: Level[] = [];
    for (const [key, entry] of Object.entries(deps)) {
      // Every install path is built once from its parent's, and both are bounded: the tree's
      // depth by MAX_LOCK_TREE_DEPTH, each path by MAX_PATH_LENGTH (linear in the file).
      const installPath = posix.join(dir, 'node_modules', key);
      const where = `"${truncate(installPath.slice(prefix))}"`;
      if (installPath.length > MAX_PATH_LENGTH) {
        issue(`entry ${where}: install path longer than ${MAX_PATH_LENGTH} characters (limit maxPathLength ${MAX_PATH_LENGTH}): it and its dependencies not read`);
        continue;
      }
      if (!isObject(entry)) {
        issue(`entry ${where} is not an object`);
        continue;
      }
      if (isObject(entry.dependencies)) {
        if (depth >= MAX_LOCK_TREE_DEPTH) issue(`entry ${where}: dependencies nested more than ${MAX_LOCK_TREE_DEPTH} levels deep (limit maxLockTreeDepth ${MAX_LOCK_TREE_DEPTH}): not read`);
        else children.push({ deps: entry.dependencies, dir: installPath, depth: depth + 1 });
      }
      let version = typeof entry.version === 'string' ? entry.version.trim() : '';
      if (version === '') {
        issue(`entry ${where} has no "version"`);
        continue;
      }
      if (version.startsWith('file:')) continue; // a local directory (a link) or tarball: no registry version
      let name = key;
      if (version.startsWith('npm:')) {
        // an alias: "npm:<name>@<version>", the name possibly scoped
        const spec = version.slice(4);
        const at = spec.indexOf('@', 1);
        if (at === -1) {
          issue(`entry ${where}: alias "${truncate(version)}" has no version`);
          continue;
        }
        name = spec.slice(0, at);
        version = spec.slice(at + 1);
      }
      const metadata: Record<string, string> = { installPath };
      for (const flag of ['dev', 'optional'] as const) if (entry[flag] === true) metadata[flag] = 'true';
      if (entry.bundled === true) metadata.inBundle = 'true';
      const made = makePackage(name, version, [], file, metadata);
      if (typeof made === 'string') issue(`entry ${where}: ${made}`);
      else out.packages.push(made);
    }
    // depth-first, in file order
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i] as Level);
  }
}

/** The offset of the name after the last "node_modules/" component of a lockfile key, or -1. */
function lastNodeModules(key: string): number {
  const marker = 'node_modules/';
  const i = key.lastIndexOf(`/${marker}`);
  if (i !== -1) return i + 1 + marker.length;
  return key.startsWith(marker) ? marker.length : -1;
}

/** A package, or why it cannot be one. */
function makePackage(name: string, version: string, licenses: string[], file: ViewFile, metadata: Record<string, string>): Package | string {
  const parts = splitName(name);
  if (!parts) return `invalid package name "${truncate(name)}"`;
  if (/\s/.test(version)) return `invalid version "${truncate(version)}" of "${truncate(name)}"`;
  let purl: string;
  try {
    purl = new PackageURL('npm', parts.namespace, parts.name, version, undefined, undefined).toString();
  } catch (e) {
    return `cannot build the package URL of "${truncate(name)}": ${(e as Error).message}`;
  }
  const pkg: Package = { type: 'npm', name, version, purl, layer: file.layer, locations: [file.path], metadata };
  if (licenses.length > 0) pkg.licenses = licenses;
  return pkg;
}

/** "@scope/name" → namespace "@scope" and name; "name" → name alone; undefined for anything else. */
function splitName(name: string): { namespace: string | undefined; name: string } | undefined {
  if (/\s/.test(name)) return undefined;
  if (name.startsWith('@')) {
    const slash = name.indexOf('/');
    if (slash <= 1 || slash === name.length - 1 || name.includes('/', slash + 1)) return undefined;
    return { namespace: name.slice(0, slash), name: name.slice(slash + 1) };
  }
  return name.includes('/') ? undefined : { namespace: undefined, name };
}

/**
 * Licences as npm manifests declare them: a string, a {type} object (legacy), or an array
 * of either (legacy `licenses`); normalised, except "UNLICENSED" (see the file comment).
 */
function npmLicenses(declared: unknown): string[] {
  const texts: string[] = [];
  const add = (d: unknown): void => {
    if (typeof d === 'string') texts.push(d);
    else if (isObject(d) && typeof d.type === 'string') texts.push(d.type);
  };
  if (Array.isArray(declared)) declared.forEach(add);
  else add(declared);
  const out: string[] = [];
  for (const text of texts) {
    const normalized = text.trim().toUpperCase() === 'UNLICENSED' ? [text.trim()] : normalizeLicenses([text]);
    for (const l of normalized) if (!out.includes(l)) out.push(l);
  }
  return out;
}

/** The file's JSON object, or why there is none. */
function parseJson(file: ViewFile): Record<string, unknown> | string {
  if (file.truncated) return `file truncated after ${file.content.length} bytes: not read`;
  let json: unknown;
  try {
    json = parseJsonBounded(textOf(file));
  } catch (e) {
    return e instanceof JsonDepthError ? `${e.message}: not read` : `invalid JSON: ${(e as Error).message}`;
  }
  return isObject(json) ? json : 'not a JSON object';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
