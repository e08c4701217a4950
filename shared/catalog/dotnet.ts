/**
 * .NET (NuGet) packages from the dependency manifests the .NET SDK writes beside an
 * application or library it builds or publishes: `<app>.deps.json`. (The glob also matches
 * the manifests of the SDK's tools and of the shared frameworks under /usr/share/dotnet;
 * they are read the same way.)
 *
 *     {
 *       "runtimeTarget": { "name": ".NETCoreApp,Version=v8.0/linux-x64", "signature": "" },
 *       "targets": { ".NETCoreApp,Version=v8.0/linux-x64": { "Newtonsoft.Json/13.0.3": { … } } },
 *       "libraries": {
 *         "MyApp/1.0.0": { "type": "project", "serviceable": false, "sha512": "" },
 *         "Newtonsoft.Json/13.0.3": { "type": "package", "serviceable": true,
 *           "sha512": "sha512-…", "path": "newtonsoft.json/13.0.3", "hashPath": "newtonsoft.json.13.0.3.nupkg.sha512" },
 *         "runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/8.0.0": { "type": "runtimepack", … }
 *       }
 *     }
 *
 * Every entry of `libraries` is keyed "<name>/<version>". Which are reported:
 * - "package": a NuGet package the app was built with: reported.
 * - "runtimepack": the .NET runtime a self-contained app carries (the NuGet package
 *   Microsoft.NETCore.App.Runtime.<rid> and its ASP.NET Core / Windows Desktop siblings),
 *   keyed with a "runtimepack." prefix: reported under the package's own name, since the
 *   runtime's vulnerabilities are published against those packages.
 * - "project": the application itself or another project of its solution, built from
 *   source, not from a NuGet feed: not reported (no NuGet identity to match), nor is
 *   "reference" (a plain assembly reference) or any other type.
 * `runtimeTarget.name` (the target framework, and the runtime identifier for RID-specific
 * builds) is kept in each package's metadata with the library's sha512, path and hashPath.
 *
 * A file that is not JSON, or has no `libraries` object, is one CatalogIssue; a library
 * entry that cannot be read (key not "<name>/<version>", no type) is one issue and the other
 * entries are still read.
 *
 * Package URL: pkg:nuget/<name>@<version>, the name as written (NuGet ids are
 * case-insensitive but case-preserving; the purl type keeps the case).
 */
import { PackageURL } from 'packageurl-js';
import type { CatalogResult, Cataloger, FileView, Package, ViewFile } from './types.js';
import { FileIssues, textOf } from './file-issues.js';
import { JsonDepthError, parseJsonBounded } from './json.js';

const DEPS_GLOB = '**/*.deps.json';


/** Library types reported, and the prefix the SDK puts before the package name in the key. */
const REPORTED_TYPES: Record<string, string> = { package: '', runtimepack: 'runtimepack.' };

/** Library fields copied into Package.metadata when they are non-empty strings. */
const METADATA_FIELDS = ['sha512', 'path', 'hashPath'] as const;

export const dotnetCataloger: Cataloger = {
  name: 'dotnet',
  kind: 'language',
  version: 1,
  needs: { globs: [DEPS_GLOB] },
  catalog(view: FileView): CatalogResult {
    const result: CatalogResult = { packages: [], issues: [] };
    for (const file of view.glob(DEPS_GLOB)) readDepsFile(file, result);
    return result;
  },
};

function readDepsFile(file: ViewFile, out: CatalogResult): void {
  const issues = new FileIssues('dotnet', file, out, 'unreadable libraries');
  const issue = (message: string): void => issues.add(message);
  if (file.truncated) {
    issue(`file truncated after ${file.content.length} bytes: not read`);
    return;
  }
  let doc: unknown;
  try {
    doc = parseJsonBounded(textOf(file));
  } catch (e) {
    issue(e instanceof JsonDepthError ? `${e.message}: not read` : `not valid JSON: ${(e as Error).message}`);
    return;
  }
  if (!isObject(doc) || !isObject(doc.libraries)) {
    issue('not a .NET dependency manifest: no "libraries" object');
    return;
  }
  const runtimeTarget = isObject(doc.runtimeTarget) && typeof doc.runtimeTarget.name === 'string' ? doc.runtimeTarget.name : undefined;

  for (const [key, library] of Object.entries(doc.libraries)) {
    if (!isObject(library) || typeof library.type !== 'string') {
      issue(`library "${truncate(key)}": no "type"`);
      continue;
    }
    const prefix = REPORTED_TYPES[library.type];
    if (prefix === undefined) continue;
    const slash = key.indexOf('/');
    const keyName = slash === -1 ? '' : key.slice(0, slash);
    const version = slash === -1 ? '' : key.slice(slash + 1);
    const name = keyName.startsWith(prefix) ? keyName.slice(prefix.length) : keyName;
    if (!name || !version || /[\s/]/.test(name) || /[\s/]/.test(version)) {
      issue(`library "${truncate(key)}": key is not "<name>/<version>"`);
      continue;
    }
    let purl: string;
    try {
      purl = new PackageURL('nuget', undefined, name, version, undefined, undefined).toString();
    } catch (e) {
      issue(`library "${truncate(key)}": cannot build its package URL: ${(e as Error).message}`);
      continue;
    }
    const pkg: Package = { type: 'nuget', name, version, purl, layer: file.layer, locations: [file.path] };
    const metadata: Record<string, string> = { type: library.type };
    for (const field of METADATA_FIELDS) {
      const value = library[field];
      if (typeof value === 'string' && value) metadata[field] = value;
    }
    if (runtimeTarget) metadata.runtimeTarget = runtimeTarget;
    pkg.metadata = metadata;
    out.packages.push(pkg);
  }
  issues.close();
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
