/**
 * Alpine packages (and those of other apk-based distributions: Wolfi, postmarketOS, ...)
 * from apk's installed database: /lib/apk/db/installed, and /usr/lib/apk/db/installed
 * where apk-tools 3 keeps it. When both names lead to the same file (a /lib -> usr/lib
 * symlink) it is read once; two distinct files are both read, each package located at
 * the file it came from.
 *
 * The database is a list of stanzas separated by empty lines, one "X:value" line per
 * field, X a single letter. Parsing follows apk-tools' own reading where it matters for
 * the result: a line shorter than two characters ends a stanza (as does, more leniently
 * than apk, a blank one), a line whose second character is not ":" makes the stanza
 * malformed, fields apk would overwrite keep their last value, and unknown letters are
 * ignored. CRLF, a byte-order mark and a missing final newline are accepted.
 *
 * What each package is made of:
 *   P name, V version (as apk writes it: "1.2.3-r0"), A arch, o origin → sourceName
 *   (sourceVersion is the version: apk builds every subpackage of an origin at the
 *   origin's version; a package without origin is its own source), L licence → licenses
 *   (see licensesOf), and metadata: C checksum, S size, I installed size, m maintainer,
 *   U url, t build time, c commit.
 *
 * A stanza apk would refuse, or that cannot name a package (no P, no V, a second P or V
 * in one stanza, as when the empty line between two packages is lost, a file line R
 * before any directory line F, a malformed line), becomes a CatalogIssue with its path
 * and layer, and the other stanzas are still read. apk itself refuses the whole database.
 *
 * File ownership: each package's F (directory) and R (file in that directory) lines
 * give the files it installed, "/<F>/<R>", returned as CatalogResult.ownership so that
 * language packages whose metadata an apk package installed (py3-*'s METADATA) are
 * marked as owned by it. Directories alone are not listed. The lines only apk's own
 * checks use (M, a, Z: permissions and checksums) are not validated.
 */
import { posix } from 'node:path';
import { PackageURL } from 'packageurl-js';
import { distroQualifier } from './distro.js';
import { normalizeLicense, normalizeLicenses } from './license.js';
import type { CatalogContext, CatalogResult, Cataloger, Distro, FileView, Package, ViewFile } from './types.js';
import { FileIssues, textOf } from './file-issues.js';
import { MAX_PATH_LENGTH } from './limits.js';

/** apk-tools 2 (and 3 without usr-merge), then apk-tools 3's own location. */
const INSTALLED_PATHS = ['/lib/apk/db/installed', '/usr/lib/apk/db/installed'];


/** Fields copied into Package.metadata, by their apk letter. */
const METADATA_FIELDS: ReadonlyArray<readonly [letter: string, key: string]> = [
  ['C', 'checksum'],
  ['S', 'size'],
  ['I', 'installedSize'],
  ['m', 'maintainer'],
  ['U', 'url'],
  ['t', 'buildTime'],
  ['c', 'commit'],
];

type Ownership = NonNullable<CatalogResult['ownership']>;

export const apkCataloger: Cataloger = {
  name: 'apk',
  kind: 'os',
  version: 1,
  needs: { exact: [...INSTALLED_PATHS] },
  catalog(view: FileView, ctx: CatalogContext): CatalogResult {
    const result: CatalogResult = { packages: [], issues: [] };
    const ownership: Ownership = [];
    const read = new Set<string>();
    for (const path of INSTALLED_PATHS) {
      const file = view.get(path);
      // view.get follows symlinks: file.path is the real path, so a shared file is read once
      if (!file || read.has(file.path)) continue;
      read.add(file.path);
      readInstalledFile(file, ctx.distro, result, ownership);
    }
    if (ownership.length > 0) result.ownership = ownership;
    return result;
  },
};

/** One stanza of the installed database. */
interface Stanza {
  /** 1-based line number of its first line */
  line: number;
  /** the last value of each field, by letter */
  fields: Map<string, string>;
  /** the files of its R lines, as absolute paths, in order, without duplicates */
  files: string[];
  /** why the stanza cannot be read (it is then skipped whole) */
  error?: string;
  /** R lines not listed as owned files: their path would be longer than MAX_PATH_LENGTH */
  longPaths?: number;
}

function readInstalledFile(file: ViewFile, distro: Distro | undefined, out: CatalogResult, ownership: Ownership): void {
  const issues = new FileIssues('apk', file, out, 'malformed stanzas');
  const issue = (message: string): void => issues.add(message);

  let text = textOf(file);
  if (file.truncated) {
    // Only the start of the file was kept: read up to the last complete stanza.
    const end = Math.max(text.lastIndexOf('\n\n'), text.lastIndexOf('\n\r\n'));
    text = end === -1 ? '' : text.slice(0, end);
    issue(`file truncated after ${file.content.length} bytes: the packages recorded after that were not read`);
  }

  for (const stanza of parseStanzas(text)) {
    const name = stanza.fields.get('P');
    const record = readStanza(stanza);
    if (typeof record === 'string') {
      issue(`stanza at line ${stanza.line}${name ? ` (package "${truncate(name)}")` : ''}: ${record}`);
      continue;
    }
    let pkg: Package;
    try {
      pkg = toPackage(record, stanza, file, distro);
    } catch (e) {
      issue(`stanza at line ${stanza.line} (package "${truncate(record.name)}"): cannot build its package URL: ${(e as Error).message}`);
      continue;
    }
    out.packages.push(pkg);
    if (stanza.files.length > 0) ownership.push({ owner: pkg, paths: stanza.files });
    if (stanza.longPaths) {
      issue(`stanza at line ${stanza.line} (package "${truncate(record.name)}"): ${stanza.longPaths} file(s) with a path longer than ${MAX_PATH_LENGTH} characters not listed as its files (limit maxPathLength ${MAX_PATH_LENGTH})`);
    }
  }
  issues.close();
}

/**
 * Split the database text into stanzas. Never throws: a line apk would refuse marks its
 * stanza as malformed, and reading resumes after the next empty line.
 */
function parseStanzas(text: string): Stanza[] {
  const stanzas: Stanza[] = [];
  let current: Stanza | undefined;
  /** the directory of the stanza's last F line */
  let dir: string | undefined;
  let files = new Set<string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i] as string;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const lineNo = i + 1;
    if (line.length < 2 || line.trim() === '') {
      current = undefined;
      continue;
    }
    if (!current) {
      current = { line: lineNo, fields: new Map(), files: [] };
      stanzas.push(current);
      dir = undefined;
      files = new Set();
    }
    if (current.error) continue;
    if (line[1] !== ':') {
      current.error = `line ${lineNo}: expected "X:value", got "${truncate(line)}"`;
      continue;
    }
    const letter = line[0] as string;
    const value = line.slice(2);
    switch (letter) {
      case 'F':
        // normalised once per directory, not once per file in it; a directory past the path
        // limit is kept as is (its files are only counted)
        dir = value.length + 1 > MAX_PATH_LENGTH ? value : posix.join('/', value).replace(/(.)\/$/, '$1');
        break;
      case 'R': {
        if (dir === undefined) {
          current.error = `line ${lineNo}: file "${truncate(value)}" (R:) before any directory (F:)`;
          break;
        }
        // a file name, never a path of its own ("", ".", "..", "a/b" name no file apk installs)
        if (value === '' || value === '.' || value === '..' || value.includes('/')) break;
        // Bounded before it is built: a 1 MiB F: line and many R: lines must not make R × F bytes.
        if (dir.length + value.length + 1 > MAX_PATH_LENGTH) {
          current.longPaths = (current.longPaths ?? 0) + 1;
          break;
        }
        const path = dir === '/' ? `/${value}` : `${dir}/${value}`;
        if (!files.has(path)) {
          files.add(path);
          current.files.push(path);
        }
        break;
      }
      case 'P':
      case 'V':
        // apk would keep the last; a second one in a stanza is two packages run together
        if (current.fields.has(letter)) current.error = `line ${lineNo}: second ${letter}: field in one stanza (a missing empty line between two packages?)`;
        else current.fields.set(letter, value);
        break;
      default:
        current.fields.set(letter, value);
    }
  }
  return stanzas;
}

interface ApkRecord {
  name: string;
  version: string;
  arch?: string;
  origin?: string;
}

/** The package a stanza records; a string says why it cannot be read. */
function readStanza(stanza: Stanza): ApkRecord | string {
  if (stanza.error) return stanza.error;
  const { fields } = stanza;
  const name = fields.get('P');
  if (!name) return name === undefined ? 'no package name (P:)' : 'empty package name (P:)';
  if (/\s/.test(name)) return `invalid package name "${truncate(name)}": embedded whitespace`;
  const version = fields.get('V');
  if (!version) return version === undefined ? 'no version (V:)' : 'empty version (V:)';
  if (/\s/.test(version)) return `invalid version "${truncate(version)}": embedded whitespace`;
  const record: ApkRecord = { name, version };
  const arch = fields.get('A')?.trim();
  if (arch) record.arch = arch;
  const origin = fields.get('o')?.trim();
  if (origin) record.origin = origin;
  return record;
}

function toPackage(record: ApkRecord, stanza: Stanza, file: ViewFile, distro: Distro | undefined): Package {
  const pkg: Package = {
    type: 'apk',
    name: record.name,
    version: record.version,
    sourceName: record.origin ?? record.name,
    sourceVersion: record.version,
    purl: purlOf(record, distro),
    layer: file.layer,
    locations: [file.path],
  };
  if (record.arch) pkg.arch = record.arch;
  const licenses = licensesOf(stanza.fields.get('L') ?? '');
  if (licenses.length > 0) pkg.licenses = licenses;
  const metadata: Record<string, string> = {};
  for (const [letter, key] of METADATA_FIELDS) {
    const value = stanza.fields.get(letter)?.trim();
    if (value) metadata[key] = value;
  }
  if (Object.keys(metadata).length > 0) pkg.metadata = metadata;
  return pkg;
}

/**
 * The L field as licences. Alpine writes an SPDX expression today ("MIT AND BSD-2-Clause")
 * and wrote a blank-separated list before ("MIT BSD GPL2+"). An expression, or a single
 * word, is normalised whole. Several words without an operator are read as such a list,
 * one licence a word, each normalised where it can be, when at least one of them is a
 * licence name (normalising the whole text would keep only one of them); otherwise
 * ("Public Domain") the text is kept as declared.
 */
function licensesOf(declared: string): string[] {
  const text = declared.trim();
  if (!text) return [];
  const words = text.split(/\s+/);
  const expression = /[()]/.test(text) || words.some((w) => /^(and|or|with)$/i.test(w));
  if (words.length === 1 || expression) return normalizeLicenses([text]);
  if (words.some((w) => normalizeLicense(w) !== undefined)) return normalizeLicenses(words);
  return [text];
}

/**
 * pkg:apk/<distro id>/<name>@<version>?arch=<arch>&distro=<id>-<versionId>. Without a
 * detected distro the namespace is "alpine" and there is no distro qualifier.
 */
function purlOf(record: ApkRecord, distro: Distro | undefined): string {
  const qualifiers: Record<string, string> = {};
  if (record.arch) qualifiers.arch = record.arch;
  if (distro) qualifiers.distro = distroQualifier(distro);
  const namespace = distro?.id || 'alpine';
  return new PackageURL('apk', namespace, record.name, record.version, Object.keys(qualifiers).length > 0 ? qualifiers : undefined, undefined).toString();
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
