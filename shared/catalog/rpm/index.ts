/**
 * RPM packages from rpm's database, in any of its three formats: Berkeley DB `Packages`
 * (bdb.ts), NDB `Packages.db` (ndb.ts) and SQLite `rpmdb.sqlite` (sqlite.ts), each in
 * /var/lib/rpm (RHEL, CentOS, Amazon Linux, Mariner) or /usr/lib/sysimage/rpm (Fedora ≥ 36,
 * SUSE; /var/lib/rpm is then usually a symlink to it). The format is recognised by the
 * file's content, not its name. Every record is an RPM header blob (header.ts).
 *
 * Which database is read: one. A path reached through a symlink is the same file and is
 * read once. When several distinct databases exist (a Berkeley DB left behind after rpm
 * converted the database to SQLite, or copies in both directories), the first of
 * rpmdb.sqlite, Packages.db, Packages — /usr/lib/sysimage/rpm before /var/lib/rpm within
 * each — that can be read is the database (rpm only ever converts towards the newer
 * backends); the others are named in a CatalogIssue and not read, since reading both would
 * report stale versions beside the live ones. A database that yields no header and has
 * issues (unreadable) gives way to the next.
 *
 * What each package is made of: NAME, VERSION, RELEASE, EPOCH (only when the tag exists;
 * an explicit epoch 0 is kept), ARCH, LICENSE (→ licenses, normalised), SOURCERPM
 * ("name-version-release.src.rpm", split from the right → sourceName and sourceVersion;
 * a source rpm's file name carries no epoch, and since a spec's Epoch applies to the source
 * package and every binary built from it, the binary's epoch is prefixed to sourceVersion),
 * and metadata: vendor, sourceRpm, installedSize (bytes), modularityLabel (RHEL 8 module
 * streams). `version` is the EVR as rpm compares it: "[epoch:]version-release".
 *
 * The package URL follows the purl spec's rpm type: pkg:rpm/<namespace>/<name>@<version>-
 * <release>?arch=<arch>&epoch=<epoch>&distro=<id-version>; the namespace is the detected
 * distribution's ID, else one derived from the vendor (vendorNamespace), else none.
 *
 * gpg-pubkey "packages" are skipped: they are the OpenPGP keys `rpm --import` stored as
 * headers (name gpg-pubkey, version = key id, no arch, no files), not software.
 *
 * File ownership: each package's file list (DIRNAMES + BASENAMES, or FILENAMES) is
 * returned as CatalogResult.ownership — files, directories and %ghost entries alike, as rpm
 * records them.
 *
 * Robustness: nothing here throws on bad input. A database that cannot be read, a damaged
 * page, slot or row, a header rpm would refuse or a header without NAME/VERSION/RELEASE
 * becomes a CatalogIssue (path, layer, message; at most MAX_ISSUES_PER_FILE one by one) and
 * every other record is still read. A database truncated by the view's size limit is read
 * as far as it goes, with an issue saying so.
 */
import { PackageURL } from 'packageurl-js';
import { distroQualifier } from '../distro.js';
import { normalizeLicenses } from '../license.js';
import type { CatalogContext, CatalogResult, Cataloger, Distro, FileView, Package, ViewFile } from '../types.js';
import { looksLikeBdb, readBdb } from './bdb.js';
import { packageInfo, RpmHeader, type RpmPackageInfo } from './header.js';
import { looksLikeNdb, readNdb } from './ndb.js';
import type { DatabaseRead } from './records.js';
import { looksLikeSqlite, readSqlite, loadSqliteEngine } from './sqlite.js';
import { FileIssues } from '../file-issues.js';

const DIRECTORIES = ['/usr/lib/sysimage/rpm', '/var/lib/rpm'];
const FILE_NAMES = ['rpmdb.sqlite', 'Packages.db', 'Packages'];
/** Every database path, most preferred first: by format (newest backend first), then directory. */
export const RPM_DATABASE_PATHS: readonly string[] = FILE_NAMES.flatMap((name) => DIRECTORIES.map((dir) => `${dir}/${name}`));


/** Pseudo-packages holding imported OpenPGP keys, not software. */
const GPG_PUBKEY = 'gpg-pubkey';

export const rpmCataloger: Cataloger = {
  name: 'rpm',
  kind: 'os',
  version: 1,
  needs: { exact: [...RPM_DATABASE_PATHS] },
  async prepare(view: FileView): Promise<void> {
    // sql.js loads only for images that hold an rpmdb.sqlite
    if (RPM_DATABASE_PATHS.some((p) => p.endsWith('.sqlite') && view.get(p))) await loadSqliteEngine();
  },
  catalog(view: FileView, ctx: CatalogContext): CatalogResult {
    const result: CatalogResult = { packages: [], issues: [] };
    const ownership: NonNullable<CatalogResult['ownership']> = [];
    const files = distinctDatabases(view);
    for (const [i, file] of files.entries()) {
      const read = readDatabaseFile(file, ctx.distro, result, ownership);
      // A database that could not be read at all gives way to the next one; one that was read
      // (even empty) is the database.
      if (read.headers === 0 && read.issues > 0) continue;
      const ignored = files.slice(i + 1);
      if (ignored.length > 0) {
        result.issues.push({
          cataloger: 'rpm',
          path: file.path,
          layer: file.layer,
          message: `packages read from ${file.path}; other rpm databases not read (likely stale): ${ignored.map((f) => f.path).join(', ')}`,
        });
      }
      break;
    }
    if (ownership.length > 0) result.ownership = ownership;
    return result;
  },
};

/** The database files present, in order of preference, each real file once. */
function distinctDatabases(view: FileView): ViewFile[] {
  const seen = new Set<string>();
  const files: ViewFile[] = [];
  for (const path of RPM_DATABASE_PATHS) {
    const file = view.get(path);
    if (!file || seen.has(file.path)) continue;
    seen.add(file.path);
    files.push(file);
  }
  return files;
}

/** Read one database into `out`: how many headers made packages (gpg-pubkey included), how many issues it had. */
function readDatabaseFile(file: ViewFile, distro: Distro | undefined, out: CatalogResult, ownership: NonNullable<CatalogResult['ownership']>): { headers: number; issues: number } {
  const issues = new FileIssues('rpm', file, out, 'problems');
  const issue = (message: string): void => issues.add(message);
  if (file.truncated) issue(`file truncated after ${file.content.length} bytes: the packages stored after that were not read`);

  let read: DatabaseRead | string;
  try {
    read = readAnyFormat(file.content);
  } catch (e) {
    // not expected: the readers report problems rather than throw; kept so that nothing escapes
    read = `cannot read the database: ${e instanceof Error ? e.message : String(e)}`;
  }
  if (typeof read === 'string') {
    issue(read);
    return { headers: 0, issues: issues.total };
  }
  for (const problem of read.problems) issue(problem);

  // Most packages of a distribution share a few licence strings; normalising one is slow (spdx-correct).
  const licenses = new Map<string, string[]>();
  let found = 0;
  for (const record of read.records) {
    const header = RpmHeader.parse(record.blob);
    if (typeof header === 'string') {
      issue(`${record.where}: ${header}`);
      continue;
    }
    const info = packageInfo(header);
    if (typeof info === 'string') {
      issue(`${record.where}: ${info}`);
      continue;
    }
    found++;
    if (info.name === GPG_PUBKEY) continue;
    let pkg: Package;
    try {
      pkg = toPackage(info, file, distro, licenses);
    } catch (e) {
      issue(`${record.where} (package "${info.name}"): cannot make its package: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    out.packages.push(pkg);
    if (info.fileListProblem) issue(`${record.where} (package "${info.name}"): file list: ${info.fileListProblem}`);
    if (info.files.length > 0) ownership.push({ owner: pkg, paths: info.files });
  }
  issues.close();
  return { headers: found, issues: issues.total };
}

/** The records of a database in whichever of the three formats it is; a string when it is none of them. */
function readAnyFormat(content: Buffer): DatabaseRead | string {
  if (looksLikeSqlite(content)) return readSqlite(content);
  if (looksLikeNdb(content)) return readNdb(content);
  if (looksLikeBdb(content)) return readBdb(content);
  return content.length === 0 ? 'empty file' : 'not an rpm database: neither SQLite, NDB nor Berkeley DB';
}

function toPackage(info: RpmPackageInfo, file: ViewFile, distro: Distro | undefined, licenses: Map<string, string[]>): Package {
  const epochPrefix = info.epoch === undefined ? '' : `${info.epoch}:`;
  const pkg: Package = {
    type: 'rpm',
    name: info.name,
    version: `${epochPrefix}${info.version}-${info.release}`,
    release: info.release,
    purl: purlOf(info, distro),
    layer: file.layer,
    locations: [file.path],
  };
  if (info.epoch !== undefined) pkg.epoch = info.epoch;
  if (info.arch) pkg.arch = info.arch;
  const source = info.sourceRpm ? splitSourceRpm(info.sourceRpm) : undefined;
  if (source) {
    pkg.sourceName = source.name;
    pkg.sourceVersion = `${epochPrefix}${source.version}-${source.release}`;
  }
  if (info.license) {
    let normalized = licenses.get(info.license);
    if (!normalized) licenses.set(info.license, (normalized = normalizeLicenses([info.license])));
    pkg.licenses = [...normalized];
  }
  const metadata: Record<string, string> = {};
  if (info.vendor) metadata.vendor = info.vendor;
  if (info.sourceRpm) metadata.sourceRpm = info.sourceRpm;
  if (info.size !== undefined) metadata.installedSize = String(info.size);
  if (info.modularityLabel) metadata.modularityLabel = info.modularityLabel;
  if (Object.keys(metadata).length > 0) pkg.metadata = metadata;
  return pkg;
}

/** "name-version-release.src.rpm" (or .nosrc.rpm) split from the right; undefined when it is not of that form. */
export function splitSourceRpm(sourceRpm: string): { name: string; version: string; release: string } | undefined {
  const m = /^(.+)-([^-]+)-([^-]+)\.(?:no)?src\.rpm$/.exec(sourceRpm);
  return m ? { name: m[1] as string, version: m[2] as string, release: m[3] as string } : undefined;
}

/**
 * The purl namespace an rpm vendor stands for, used when no distribution was detected:
 * "Red Hat, Inc." → redhat, else the vendor's first word in lower case ("SUSE LLC <…>" →
 * suse, "openSUSE" → opensuse, "Fedora Project" → fedora, "CentOS" → centos, "Amazon
 * Linux" → amazon, "Microsoft Corporation" → microsoft, "Rocky Enterprise Software
 * Foundation" → rocky). Undefined for no vendor.
 */
export function vendorNamespace(vendor: string | undefined): string | undefined {
  if (!vendor) return undefined;
  if (/^red\s*hat\b/i.test(vendor)) return 'redhat';
  return /^[A-Za-z][A-Za-z0-9]*/.exec(vendor.trim())?.[0].toLowerCase();
}

function purlOf(info: RpmPackageInfo, distro: Distro | undefined): string {
  const qualifiers: Record<string, string> = {};
  if (info.arch) qualifiers.arch = info.arch;
  if (info.epoch !== undefined) qualifiers.epoch = String(info.epoch);
  if (distro) qualifiers.distro = distroQualifier(distro);
  const namespace = distro?.id || vendorNamespace(info.vendor);
  return new PackageURL('rpm', namespace, info.name, `${info.version}-${info.release}`, Object.keys(qualifiers).length > 0 ? qualifiers : undefined, undefined).toString();
}
