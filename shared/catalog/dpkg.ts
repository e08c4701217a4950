/**
 * Debian packages from the dpkg database: /var/lib/dpkg/status (every package dpkg knows,
 * one stanza each) and /var/lib/dpkg/status.d/* (distroless images: one file per
 * package, usually without a Status field; the *.md5sums files beside them are skipped).
 *
 * Which packages are reported: those whose files are on disk, i.e. whose dpkg state
 * (third word of Status) is installed, half-installed, unpacked, half-configured,
 * triggers-awaited or triggers-pending. A package in "config-files" state has been
 * removed except for its configuration files, and "not-installed" is a record of a
 * package that is gone: neither puts the package's code in the image, so neither is
 * reported. A stanza without a Status field is "not-installed" in the status file (as
 * dpkg reads it) and installed in status.d (where distroless writes no Status).
 *
 * Parsing follows dpkg's own reading of the file where it matters for the result: field
 * names are case-insensitive, values are trimmed, continuation lines start with a space
 * or tab, stanzas are separated by empty lines, CRLF and a missing final newline are
 * accepted, and package names are lower-cased. A stanza dpkg would refuse (no Package,
 * an unparseable line, a duplicate field, an invalid Status, an on-disk package without
 * a valid Version) becomes a CatalogIssue and the other stanzas are still read.
 *
 * File ownership: for each reported package, the paths dpkg recorded as installed by it
 * in /var/lib/dpkg/info/<name>.list (<name>:<arch>.list for a Multi-Arch: same package)
 * are returned as CatalogResult.ownership, so that language packages whose metadata a
 * Debian package installed (python3-requests' PKG-INFO) are marked as owned by it. A
 * package without a list (distroless status.d, a fixture without info/) owns nothing.
 *
 * Licences: from /usr/share/doc/<name>/copyright when it is machine-readable (DEP-5: a
 * "Format:" line naming the copyright-format), every distinct `License:` short name of its
 * paragraphs, Debian's short names (GPL-2+, LGPL-2.1, BSD-3-clause, Expat) turned into SPDX ids
 * where the mapping is mechanical; anything else kept as written.
 * A free-form copyright file gives no licence (never a guess).
 */
import { PackageURL } from 'packageurl-js';
import type { CatalogContext, CatalogResult, Cataloger, Distro, FileView, Package, ViewFile } from './types.js';
import { distroQualifier } from './distro.js';
import { FileIssues, textOf } from './file-issues.js';
import { normalizeLicense } from './license.js';

const STATUS_FILE = '/var/lib/dpkg/status';
const STATUS_D_GLOB = '/var/lib/dpkg/status.d/*';
const INFO_DIR = '/var/lib/dpkg/info';
const INFO_LIST_GLOB = `${INFO_DIR}/*.list`;
const COPYRIGHT_GLOB = '/usr/share/doc/*/copyright';


/** First word of Status: what the user asked for. */
const WANTS = new Set(['unknown', 'install', 'hold', 'deinstall', 'purge']);
/** Second word of Status. */
const ERROR_FLAGS = new Set(['ok', 'reinstreq']);
/** Third word of Status: states in which the package's files are on disk (reported). */
const ON_DISK_STATES = new Set(['installed', 'half-installed', 'unpacked', 'half-configured', 'triggers-awaited', 'triggers-pending']);
/** Third word of Status: states in which they are not (skipped). */
const OFF_DISK_STATES = new Set(['not-installed', 'config-files']);

/** Fields copied into Package.metadata, by their (lower-cased) dpkg name. */
const METADATA_FIELDS: ReadonlyArray<readonly [field: string, key: string]> = [
  ['status', 'status'],
  ['maintainer', 'maintainer'],
  ['installed-size', 'installedSize'],
  ['multi-arch', 'multiArch'],
];

export const dpkgCataloger: Cataloger = {
  name: 'dpkg',
  kind: 'os',
  version: 3,
  needs: { exact: [STATUS_FILE], globs: [STATUS_D_GLOB, INFO_LIST_GLOB, COPYRIGHT_GLOB] },
  catalog(view: FileView, ctx: CatalogContext): CatalogResult {
    const result: CatalogResult = { packages: [], issues: [] };
    const status = view.get(STATUS_FILE);
    if (status) readDatabaseFile(status, 'status', ctx.distro, result);
    for (const file of view.glob(STATUS_D_GLOB)) {
      if (!file.path.endsWith('.md5sums')) readDatabaseFile(file, 'status.d', ctx.distro, result);
    }
    addCopyrightLicenses(view, result);
    const ownership = ownershipOf(view, result);
    if (ownership.length > 0) result.ownership = ownership;
    return result;
  },
};

/** Characters of a Debian package name (Policy 5.6.1): nothing that could leave info/. */
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]*$/;

/** The files of each reported package, from its info/<name>[:<arch>].list. */
function ownershipOf(view: FileView, out: CatalogResult): NonNullable<CatalogResult['ownership']> {
  const ownership: NonNullable<CatalogResult['ownership']> = [];
  for (const owner of out.packages) {
    if (!PACKAGE_NAME.test(owner.name)) continue;
    // dpkg names the list <name>:<arch>.list for Multi-Arch: same packages, <name>.list otherwise.
    const list = (owner.arch ? view.get(`${INFO_DIR}/${owner.name}:${owner.arch}.list`) : undefined) ?? view.get(`${INFO_DIR}/${owner.name}.list`);
    if (!list) continue;
    const paths = readFileList(list, out);
    if (paths.length > 0) ownership.push({ owner, paths });
  }
  return ownership;
}

/** Licences from each package's DEP-5 copyright file (packages that declare some already keep theirs). */
function addCopyrightLicenses(view: FileView, out: CatalogResult): void {
  for (const p of out.packages) {
    if (p.type !== 'deb' || (p.licenses && p.licenses.length > 0) || !PACKAGE_NAME.test(p.name)) continue;
    const file = view.get(`/usr/share/doc/${p.name}/copyright`);
    if (!file) continue;
    const licenses = dep5Licenses(textOf(file));
    if (licenses.length > 0) p.licenses = licenses;
  }
}

/** Debian's short licence names (copyright-format 1.0 §7.2) whose SPDX id is mechanical. */
function debianShortName(name: string): string | undefined {
  const m = /^(GPL|LGPL|AGPL|GFDL)-(\d(?:\.\d)?)(\+)?$/.exec(name);
  if (m) {
    const version = m[2]!.includes('.') ? m[2]! : `${m[2]!}.0`;
    return `${m[1]!}-${version}-${m[3] ? 'or-later' : 'only'}`;
  }
  return undefined;
}

/** An SPDX id that is the short name itself in another case (BSD-3-clause, zlib), or Expat (MIT); nothing guessed. */
function spdxSpelling(name: string): string | undefined {
  if (name.toLowerCase() === 'expat') return 'MIT';
  if (/\s/.test(name)) return undefined;
  const id = normalizeLicense(name);
  return id !== undefined && id.toLowerCase() === name.toLowerCase() ? id : undefined;
}

/**
 * The licence short names of a machine-readable copyright file (empty when it is not one):
 * the first line of every `License:` field, "A or B" / "A and B" kept as expressions.
 */
export function dep5Licenses(text: string): string[] {
  const head = /^\s*Format:\s*(\S+)/i.exec(text.slice(0, 1024));
  if (!head || !/copyright-format|dep5/i.test(head[1]!)) return [];
  const names: string[] = [];
  for (const m of text.matchAll(/^License:[ \t]*([^\n]*)$/gim)) {
    const raw = m[1]!.trim().replace(/,$/, '');
    if (!raw) continue;
    const parts = raw.split(/\s+(or|and)\s+/i);
    // one short name a part (no spaces: "GPL-3+ with Autoconf-data exception", "A and/or B" stay as written, never guessed at)
    const mapped = parts.map((x, i) => (i % 2 ? x.toUpperCase() : (debianShortName(x) ?? spdxSpelling(x) ?? x)));
    const value = mapped.length > 1 ? mapped.join(' ') : mapped[0]!;
    if (!names.includes(value)) names.push(value);
    if (names.length >= 64) break; // a bound: no package has more distinct licences than that
  }
  return names;
}

/** The paths of one info/*.list file: one absolute path a line; "/." (the root) is left out. */
function readFileList(file: ViewFile, out: CatalogResult): string[] {
  let text = file.content.toString('utf8');
  if (file.truncated) {
    text = text.slice(0, Math.max(text.lastIndexOf('\n'), 0));
    out.issues.push({ cataloger: 'dpkg', path: file.path, layer: file.layer, message: `file truncated after ${file.content.length} bytes: the files listed after that are not attributed to the package` });
  }
  const paths: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('/') && line !== '/.') paths.push(line);
  }
  return paths;
}

type DatabaseKind = 'status' | 'status.d';

/** One stanza of a deb822 file. */
interface Stanza {
  /** 1-based line number of its first line */
  line: number;
  /** values by lower-cased field name; continuation lines are kept, joined with "\n" */
  fields: Map<string, string>;
  /** why the stanza cannot be read (it is then skipped whole) */
  error?: string;
}

function readDatabaseFile(file: ViewFile, kind: DatabaseKind, distro: Distro | undefined, out: CatalogResult): void {
  const issues = new FileIssues('dpkg', file, out, 'malformed stanzas');
  const issue = (message: string): void => issues.add(message);

  let text = textOf(file);
  if (file.truncated) {
    // Only the start of the file was kept: read up to the last complete stanza.
    const end = Math.max(text.lastIndexOf('\n\n'), text.lastIndexOf('\n\r\n'));
    text = end === -1 ? '' : text.slice(0, end);
    issue(`file truncated after ${file.content.length} bytes: the packages recorded after that were not read`);
  }

  for (const stanza of parseStanzas(text)) {
    const read = readStanza(stanza, kind);
    if (read === undefined) continue;
    const name = stanza.fields.get('package');
    if (typeof read === 'string') {
      issue(`stanza at line ${stanza.line}${name ? ` (package "${name}")` : ''}: ${read}`);
      continue;
    }
    try {
      out.packages.push(toPackage(read, stanza, file, distro));
    } catch (e) {
      issue(`stanza at line ${stanza.line} (package "${read.name}"): cannot build its package URL: ${(e as Error).message}`);
    }
  }
  issues.close();
}

/**
 * Split deb822 text into stanzas. Never throws: a line that is neither "Field: value" nor
 * a continuation marks its stanza as malformed, and reading resumes after the next empty line.
 */
function parseStanzas(text: string): Stanza[] {
  const stanzas: Stanza[] = [];
  let current: Stanza | undefined;
  let field: string | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, '');
    const lineNo = i + 1;
    if (line === '') {
      current = undefined;
      field = undefined;
      continue;
    }
    if (line.trim() === '') {
      // dpkg keeps a whitespace-only line inside a stanza as part of the field value;
      // between stanzas it is noise.
      if (current && field) current.fields.set(field, `${current.fields.get(field)}\n`);
      continue;
    }
    if (!current) {
      current = { line: lineNo, fields: new Map() };
      stanzas.push(current);
    }
    if (current.error) continue;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (field) current.fields.set(field, `${current.fields.get(field)}\n${line.trimEnd()}`);
      else current.error = `line ${lineNo}: continuation line before any field`;
      continue;
    }
    const colon = line.indexOf(':');
    const name = line.slice(0, Math.max(colon, 0));
    if (colon <= 0 || /\s/.test(name)) {
      current.error = `line ${lineNo}: expected "Field: value", got "${truncate(line)}"`;
      continue;
    }
    field = name.toLowerCase();
    if (current.fields.has(field)) {
      current.error = `line ${lineNo}: duplicate field "${name}"`;
      continue;
    }
    current.fields.set(field, line.slice(colon + 1).trim());
  }
  return stanzas;
}

interface DpkgRecord {
  name: string;
  version: string;
  arch?: string;
  sourceName: string;
  sourceVersion: string;
}

/** The record of an on-disk package; undefined for a package not on disk; a string says why the stanza is malformed. */
function readStanza(stanza: Stanza, kind: DatabaseKind): DpkgRecord | string | undefined {
  if (stanza.error) return stanza.error;
  const { fields } = stanza;
  const name = fields.get('package')?.toLowerCase();
  if (!name) return fields.has('package') ? 'empty Package field' : 'no Package field';
  if (/\s/.test(name)) return `invalid package name "${truncate(name)}"`;

  const status = fields.get('status');
  const state = packageState(status, kind);
  if (!state) return `invalid Status "${truncate(status ?? '')}"`;
  if (!ON_DISK_STATES.has(state)) return undefined;

  const version = fields.get('version');
  if (!version) return `no Version for a package in state "${state}"`;
  if (/\s/.test(version)) return `invalid Version "${truncate(version)}": embedded whitespace`;

  const record: DpkgRecord = { name, version, ...sourceOf(fields.get('source'), name, version) };
  const arch = fields.get('architecture');
  if (arch) record.arch = arch;
  return record;
}

/** The dpkg state (third Status word); undefined when Status is not three valid words. */
function packageState(status: string | undefined, kind: DatabaseKind): string | undefined {
  if (status === undefined) return kind === 'status.d' ? 'installed' : 'not-installed';
  const words = status.split(/\s+/);
  const [want = '', flag = '', state = ''] = words;
  const valid = words.length === 3 && WANTS.has(want) && ERROR_FLAGS.has(flag) && (ON_DISK_STATES.has(state) || OFF_DISK_STATES.has(state));
  return valid ? state : undefined;
}

/**
 * Source: "name" or "name (version)"; absent or empty means the binary package is its
 * own source. Like dpkg, anything after the name (or the parenthesised version) is ignored.
 */
function sourceOf(source: string | undefined, name: string, version: string): Pick<DpkgRecord, 'sourceName' | 'sourceVersion'> {
  const m = source ? /^(\S+)(?:\s*\(\s*([^\s()]+)\s*\))?/.exec(source) : null;
  if (!m) return { sourceName: name, sourceVersion: version };
  return { sourceName: m[1] as string, sourceVersion: m[2] ?? version };
}

function toPackage(record: DpkgRecord, stanza: Stanza, file: ViewFile, distro: Distro | undefined): Package {
  const pkg: Package = {
    type: 'deb',
    name: record.name,
    version: record.version,
    sourceName: record.sourceName,
    sourceVersion: record.sourceVersion,
    purl: purlOf(record, distro),
    layer: file.layer,
    locations: [file.path],
  };
  if (record.arch) pkg.arch = record.arch;
  const metadata: Record<string, string> = {};
  for (const [field, key] of METADATA_FIELDS) {
    const value = stanza.fields.get(field);
    if (value) metadata[key] = value;
  }
  if (Object.keys(metadata).length > 0) pkg.metadata = metadata;
  return pkg;
}

/**
 * pkg:deb/<distro id>/<name>@<version>?arch=<arch>&distro=<id>-<versionId>. Without a
 * detected distro the namespace is "debian" and there is no distro qualifier; a distro
 * without VERSION_ID (testing, sid) is named by its codename: "debian-trixie".
 */
function purlOf(record: DpkgRecord, distro: Distro | undefined): string {
  const qualifiers: Record<string, string> = {};
  if (record.arch) qualifiers.arch = record.arch;
  if (distro) qualifiers.distro = distroQualifier(distro);
  const namespace = distro?.id || 'debian';
  return new PackageURL('deb', namespace, record.name, record.version, Object.keys(qualifiers).length > 0 ? qualifiers : undefined, undefined).toString();
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
