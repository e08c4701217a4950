/**
 * PHP packages Composer installed, from the record it keeps in the vendor directory:
 * `vendor/composer/installed.json`. Two forms exist:
 *
 * - Composer 1: a JSON array of package objects. It does not say which packages came from
 *   require-dev, so packages read from it carry no `dev` flag.
 * - Composer 2: `{ "packages": [...], "dev": true, "dev-package-names": ["phpunit/phpunit", …] }`.
 *   A package named in dev-package-names was installed only for development (require-dev);
 *   it is still reported, with metadata `dev: "true"`, and the others with `dev: "false"`,
 *   so a policy can tell them apart. (`composer install --no-dev` leaves the list empty and
 *   installs none of them.)
 *
 * Each package object has "name" ("vendor/package"), "version" as Composer shows it
 * ("v6.4.3", "1.2.0", "dev-main"), "version_normalized" ("6.4.3.0"), "license" (an array,
 * or a string in hand-edited files), "type", and "source" / "dist" with the installed
 * commit or archive reference. Name and version are kept as written.
 *
 * Package URL: pkg:composer/<vendor>/<package>@<version>. The purl composer type makes the
 * vendor (namespace) and name lower-case and says nothing of the version, so the version is
 * the one Composer shows, a leading "v" included (pkg:composer/symfony/console@v6.4.3);
 * version_normalized is kept in metadata for comparisons.
 *
 * A file that is not JSON or neither form is one CatalogIssue; a package entry without a
 * "vendor/package" name or a version is one issue and the other entries are still read.
 */
import { PackageURL } from 'packageurl-js';
import { normalizeLicenses } from './license.js';
import type { CatalogResult, Cataloger, FileView, Package, ViewFile } from './types.js';
import { FileIssues, textOf } from './file-issues.js';
import { JsonDepthError, parseJsonBounded } from './json.js';

const INSTALLED_GLOB = '**/vendor/composer/installed.json';


/** "vendor/package": each part non-empty, no whitespace, exactly one slash. */
const PACKAGE_NAME = /^[^/\s]+\/[^/\s]+$/;

export const phpCataloger: Cataloger = {
  name: 'php',
  kind: 'language',
  version: 1,
  needs: { globs: [INSTALLED_GLOB] },
  catalog(view: FileView): CatalogResult {
    const result: CatalogResult = { packages: [], issues: [] };
    for (const file of view.glob(INSTALLED_GLOB)) readInstalledFile(file, result);
    return result;
  },
};

function readInstalledFile(file: ViewFile, out: CatalogResult): void {
  const issues = new FileIssues('php', file, out, 'unreadable packages');
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

  let entries: unknown[];
  /** names of require-dev packages (Composer 2); undefined when the file does not say */
  let devNames: Set<string> | undefined;
  if (Array.isArray(doc)) {
    entries = doc;
  } else if (isObject(doc) && Array.isArray(doc.packages)) {
    entries = doc.packages;
    // Absent only from files Composer 2 did not write: then, as for Composer 1, no dev flag.
    const listed = doc['dev-package-names'];
    if (Array.isArray(listed) && listed.every((n) => typeof n === 'string')) {
      devNames = new Set(listed.map((n) => n.toLowerCase()));
    } else if (listed !== undefined) {
      issue('"dev-package-names" is not an array of names: packages are reported without a dev flag');
    }
  } else {
    issue('not a Composer installed.json: neither an array of packages nor an object with "packages"');
    return;
  }

  for (const [i, entry] of entries.entries()) {
    const where = `package ${i + 1}`;
    if (!isObject(entry)) {
      issue(`${where}: not an object`);
      continue;
    }
    const { name, version } = entry;
    if (typeof name !== 'string' || !PACKAGE_NAME.test(name)) {
      issue(typeof name === 'string' ? `${where}: name "${truncate(name)}" is not "vendor/package"` : `${where}: no name`);
      continue;
    }
    if (typeof version !== 'string' || !version.trim() || /\s/.test(version.trim())) {
      issue(typeof version === 'string' && version.trim() ? `package "${name}": invalid version "${truncate(version)}"` : `package "${name}": no version`);
      continue;
    }
    const [vendor, pkgName] = name.split('/') as [string, string];
    let purl: string;
    try {
      purl = new PackageURL('composer', vendor, pkgName, version.trim(), undefined, undefined).toString();
    } catch (e) {
      issue(`package "${name}": cannot build its package URL: ${(e as Error).message}`);
      continue;
    }
    const pkg: Package = { type: 'composer', name, version: version.trim(), purl, layer: file.layer, locations: [file.path] };
    const licenses = normalizeLicenses(licensesOf(entry.license));
    if (licenses.length > 0) pkg.licenses = licenses;
    pkg.metadata = metadataOf(entry, devNames);
    if (Object.keys(pkg.metadata).length === 0) delete pkg.metadata;
    out.packages.push(pkg);
  }
  issues.close();
}

/** "license": an array of identifiers (what Composer writes) or one string. */
function licensesOf(license: unknown): string[] {
  if (typeof license === 'string') return [license];
  if (Array.isArray(license)) return license.filter((l): l is string => typeof l === 'string');
  return [];
}

function metadataOf(entry: Record<string, unknown>, devNames: Set<string> | undefined): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (devNames) metadata.dev = String(devNames.has((entry.name as string).toLowerCase()));
  if (typeof entry.version_normalized === 'string' && entry.version_normalized) metadata.versionNormalized = entry.version_normalized;
  if (typeof entry.type === 'string' && entry.type) metadata.packageType = entry.type;
  // The commit or archive installed: what identifies a "dev-main" version.
  const reference = [entry.source, entry.dist].map((s) => (isObject(s) && typeof s.reference === 'string' ? s.reference : '')).find(Boolean);
  if (reference) metadata.reference = reference;
  return metadata;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
