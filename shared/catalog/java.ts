/**
 * Java archives (.jar .war .ear .jpi .hpi, any case, anywhere in the image) as Maven
 * packages, including the archives nested inside them (WEB-INF/lib in a war, BOOT-INF/lib
 * in a Spring Boot jar, lib/ and modules in an ear, jars in jars).
 *
 * Evidence, strongest first, for each archive:
 *  1. every META-INF/maven/<groupId>/<artifactId>/pom.properties: one package each (a
 *     shaded jar gives several);
 *  2. if none gave a package, the main section of META-INF/MANIFEST.MF: the version from
 *     Implementation-Version, else Bundle-Version, else Specification-Version; the name
 *     from the matching title (Implementation-Title, Bundle-SymbolicName without its
 *     directives, Specification-Title) when it is an identifier, else the file name; the
 *     groupId from Implementation-Vendor-Id;
 *  3. else the file name, "<artifactId>-<version>.jar".
 * An archive with none of these (no version anywhere) gives no package. Package.name is
 * the artifactId; without a known groupId the package URL uses the artifactId as its
 * namespace (pkg:maven/<a>/<a>@<v>, maven purls need one) and metadata has no groupId.
 * metadata.evidence says which evidence was used. The licence is the manifest's
 * Bundle-License, given only when the archive yields exactly one package.
 *
 * Locations are the archive's path, nested parts joined by "!/":
 * "/app/app.ear!/web.war!/WEB-INF/lib/x.jar". Identical packages (same package URL) found
 * in one archive in the image are reported once, with every location.
 *
 * Reading: the zip's central directory is read here (end record, zip64, data prepended to
 * the archive as in executable jars), and only the entries needed are extracted: stored
 * ones are views of their container, deflated ones are inflated with fflate's streaming
 * Inflate, in small pieces, so an entry that inflates past its declared size is stopped
 * at once. Bounds per archive in the image (JavaArchiveLimits): nesting depth, bytes
 * inflated, central-directory entries per archive and in all. Exceeding one, a corrupt or
 * truncated zip, a corrupt entry: each is a CatalogIssue, and whatever else could be read
 * is still reported.
 */
import { posix } from 'node:path';
import { Inflate } from 'fflate';
import { PackageURL } from 'packageurl-js';
import { normalizeLicense } from './license.js';
import type { CatalogIssue, CatalogResult, Cataloger, ContentProbe, FileView, Package, ProbeReader, ViewFile } from './types.js';
import { parseJsonBounded } from './json.js';

const NAME = 'java';

/** Archive extensions, matched case-insensitively. */
const ARCHIVE_EXTENSIONS = ['jar', 'war', 'ear', 'jpi', 'hpi'] as const;

/** "**\/*.[jJ][aA][rR]" and so on: picomatch globs that ignore case of the extension only. */

const ARCHIVE_NAME = new RegExp(`\\.(?:${ARCHIVE_EXTENSIONS.join('|')})$`, 'i');

export interface JavaArchiveLimits {
  /** nesting: the file in the image is depth 0, an archive inside it depth 1; deeper archives are not opened */
  maxDepth: number;
  /** bytes inflated for one archive in the image, summed over every entry read in it and in the archives inside it */
  maxInflatedBytes: number;
  /** central-directory entries read of any one archive; the rest of its entries are not read */
  maxEntries: number;
  /** central-directory entries read for one archive in the image, summed over it and every archive inside it */
  maxTotalEntries: number;
  /** bytes of one archive in the image held while it is read; a larger one is known by its file name only */
  maxArchiveBytes: number;
}

export const DEFAULT_JAVA_LIMITS: Readonly<JavaArchiveLimits> = Object.freeze({
  maxDepth: 4,
  maxInflatedBytes: 256 * 1024 * 1024,
  maxEntries: 50_000,
  maxTotalEntries: 1_000_000,
  maxArchiveBytes: 64 * 1024 * 1024,
});

/** At most this many issues are listed one by one per archive in the image; the rest are counted. */
const MAX_ISSUES_PER_ARCHIVE = 20;

/**
 * The Java cataloger with other limits (tests, or a caller with more memory). Its name and
 * version are those of javaCataloger: the limits are not part of the layer cache key.
 */
export function createJavaCataloger(limits: Partial<JavaArchiveLimits> = {}): Cataloger {
  const bounds: JavaArchiveLimits = { ...DEFAULT_JAVA_LIMITS, ...limits };
  const probe = archiveProbe(bounds);
  return {
    name: NAME,
    kind: 'language',
    version: 2,
    needs: { probes: [probe] },
    catalog(view: FileView): CatalogResult {
      const result: CatalogResult = { packages: [], issues: [] };
      for (const file of view.probed?.(probe) ?? []) {
        const found = parseJsonBounded(file.content.toString('utf8')) as CatalogResult;
        for (const p of found.packages) result.packages.push({ ...p, layer: file.layer });
        for (const i of found.issues) result.issues.push({ ...i, layer: file.layer });
      }
      return result;
    },
  };
}

export const javaCataloger: Cataloger = createJavaCataloger();

/**
 * Archives are read by a content probe while the layer streams: each archive is gathered (up
 * to maxArchiveBytes), scanned at its end, and only the packages and issues found are kept —
 * a layer of jars never sits in the layer extract or the cache, and one archive at a time is
 * held in memory per layer being read.
 */
function archiveProbe(bounds: JavaArchiveLimits): ContentProbe {
  return {
    name: 'java-archive',
    version: 1,
    maxBytes: Number.MAX_SAFE_INTEGER,
    select: (path) => ARCHIVE_NAME.test(path),
    start: (path) => new ArchiveReader(path, bounds),
  };
}

class ArchiveReader implements ProbeReader {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private truncated = false;

  constructor(
    private readonly path: string,
    private readonly bounds: JavaArchiveLimits,
  ) {}

  push(chunk: Buffer): boolean {
    if (this.bytes + chunk.length > this.bounds.maxArchiveBytes) {
      this.truncated = true;
      this.chunks.length = 0;
      return false;
    }
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    return true;
  }

  result(): Buffer {
    const file: ViewFile = { path: this.path, content: Buffer.concat(this.chunks), mode: 0o644, layer: '' };
    if (this.truncated) file.truncated = true;
    const out: CatalogResult = { packages: [], issues: [] };
    new ArchiveScan(file, this.bounds).run(out);
    return Buffer.from(JSON.stringify(out));
  }
}

// ---------------------------------------------------------------------------------------
// One archive in the image and everything nested in it

/** What one archive's own records say (before nested archives are looked at). */
interface Found {
  groupId?: string;
  artifactId: string;
  version: string;
  metadata: Record<string, string>;
}

class ArchiveScan {
  private readonly packages = new Map<string, Package>();
  private readonly issues: CatalogIssue[] = [];
  private issueCount = 0;
  private inflated = 0;
  private entriesRead = 0;
  /** entries not inflated because maxInflatedBytes was reached, and where that first happened */
  private overBudget: { count: number; first: string } | undefined;

  constructor(
    private readonly file: ViewFile,
    private readonly limits: JavaArchiveLimits,
  ) {}

  run(out: CatalogResult): void {
    const { file } = this;
    if (file.truncated) {
      this.issue(file.path, `archive not read: larger than ${this.limits.maxArchiveBytes} bytes (maxArchiveBytes); its file name is the only evidence used`);
      const found = fromFileName(posix.basename(file.path));
      if (found) this.add(found, file.path);
    } else {
      this.archive(file.content, file.path, 0);
    }
    if (this.overBudget) {
      const { count, first } = this.overBudget;
      this.issue(first, `inflated-bytes limit (${this.limits.maxInflatedBytes} bytes for one archive and those inside it) reached: ${count} entr${count === 1 ? 'y' : 'ies'} not read, from ${first} on`, true);
    }
    for (const p of this.packages.values()) out.packages.push(p);
    for (const i of this.issues) out.issues.push(i);
    if (this.issueCount > MAX_ISSUES_PER_ARCHIVE) {
      out.issues.push({ cataloger: NAME, path: file.path, layer: file.layer, message: `${this.issueCount - MAX_ISSUES_PER_ARCHIVE} more issues in this archive not listed` });
    }
  }

  /** Read the archive `data` found at `location` (depth 0: the file itself). */
  private archive(data: Buffer, location: string, depth: number): void {
    const room = Math.min(this.limits.maxEntries, this.limits.maxTotalEntries - this.entriesRead);
    const cd = readCentralDirectory(data, Math.max(room, 0));
    if (typeof cd === 'string') {
      this.issue(location, `not a readable zip archive: ${cd}`);
      return;
    }
    this.entriesRead += cd.entries.length;
    if (cd.total > cd.entries.length) {
      const which = room < this.limits.maxEntries ? `${this.limits.maxTotalEntries} entries for one archive and those inside it` : `${this.limits.maxEntries} entries per archive`;
      this.issue(location, `${cd.total} entries, only the first ${cd.entries.length} read (limit: ${which}); packages recorded in the others are missing`);
    }

    const poms: Array<{ entry: ZipEntry; groupId: string; artifactId: string }> = [];
    const nested: ZipEntry[] = [];
    let manifest: ZipEntry | undefined;
    for (const entry of cd.entries) {
      if (entry.name.endsWith('/')) continue;
      const pom = POM_PROPERTIES.exec(entry.name);
      if (pom) poms.push({ entry, groupId: pom[1] as string, artifactId: pom[2] as string });
      else if (entry.name.toUpperCase() === MANIFEST_PATH) manifest ??= entry;
      else if (ARCHIVE_NAME.test(entry.name)) nested.push(entry);
    }

    const found: Found[] = [];
    for (const pom of poms) {
      const bytes = this.extract(data, pom.entry, location);
      if (!bytes) continue;
      const read = fromPomProperties(decodeText(bytes), pom.entry.name, pom.groupId, pom.artifactId);
      if (typeof read === 'string') this.issue(location, `${pom.entry.name}: ${read}`);
      else found.push(read);
    }
    const manifestBytes = manifest && this.extract(data, manifest, location);
    const attributes = manifestBytes ? parseManifest(manifestBytes) : undefined;
    const fileName = posix.basename(location);
    if (found.length === 0) {
      const weaker = (attributes && fromManifest(attributes, fileName)) ?? fromFileName(fileName);
      if (weaker) found.push(weaker);
    }
    const licenses = found.length === 1 && attributes ? bundleLicenses(attributes.get('bundle-license')) : [];
    for (const f of found) this.add(f, location, licenses);

    if (nested.length === 0) return;
    if (depth >= this.limits.maxDepth) {
      this.issue(location, `${nested.length} archive${nested.length === 1 ? '' : 's'} inside not opened: nesting deeper than ${this.limits.maxDepth} levels (first: ${(nested[0] as ZipEntry).name})`);
      return;
    }
    for (const entry of nested) {
      const bytes = this.extract(data, entry, location);
      if (bytes) this.archive(bytes, `${location}!/${entry.name}`, depth + 1);
    }
  }

  /** The content of one entry, or undefined (with an issue) when it cannot or may not be read. */
  private extract(zip: Buffer, entry: ZipEntry, location: string): Buffer | undefined {
    const raw = rawData(zip, entry);
    if (typeof raw === 'string') {
      this.issue(location, `${entry.name}: ${raw}`);
      return undefined;
    }
    if (entry.method === STORED) {
      if (entry.compressedSize === entry.size) return raw;
      this.issue(location, `${entry.name}: stored entry with different sizes (${entry.compressedSize} stored, ${entry.size} declared)`);
      return undefined;
    }
    if (this.inflated + entry.size > this.limits.maxInflatedBytes) {
      const where = `${location}!/${entry.name}`;
      this.overBudget = { count: (this.overBudget?.count ?? 0) + 1, first: this.overBudget?.first ?? where };
      return undefined;
    }
    this.inflated += entry.size;
    const data = inflateBounded(raw, entry.size);
    if (typeof data === 'string') {
      this.issue(location, `${entry.name}: ${data}`);
      return undefined;
    }
    return data;
  }

  private add(found: Found, location: string, licenses: string[] = []): void {
    let purl: string;
    try {
      purl = new PackageURL('maven', found.groupId ?? found.artifactId, found.artifactId, found.version, undefined, undefined).toString();
    } catch (e) {
      this.issue(location, `${found.metadata.evidencePath}: cannot build a package URL for ${found.artifactId} ${found.version}: ${(e as Error).message}`);
      return;
    }
    const known = this.packages.get(purl);
    if (known) {
      if (!known.locations.includes(location)) known.locations.push(location);
      return;
    }
    const pkg: Package = { type: 'maven', name: found.artifactId, version: found.version, purl, layer: this.file.layer, locations: [location], metadata: found.metadata };
    if (licenses.length > 0) pkg.licenses = licenses;
    this.packages.set(purl, pkg);
  }

  /** Record an issue about `path` (an archive location); `always` bypasses the per-archive cap. */
  private issue(path: string, message: string, always = false): void {
    if (!always && ++this.issueCount > MAX_ISSUES_PER_ARCHIVE) return;
    this.issues.push({ cataloger: NAME, path, layer: this.file.layer, message });
  }
}

// ---------------------------------------------------------------------------------------
// Evidence

const POM_PROPERTIES = /^META-INF\/maven\/([^/]+)\/([^/]+)\/pom\.properties$/;
const MANIFEST_PATH = 'META-INF/MANIFEST.MF';

/** A groupId, artifactId or name taken from a manifest: no spaces, no unresolved "${...}". */
const IDENTIFIER = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/;

function isVersion(v: string): boolean {
  return v !== '' && !/\s/.test(v) && !v.includes('${');
}

function fromPomProperties(text: string, path: string, dirGroup: string, dirArtifact: string): Found | string {
  const props = parseProperties(text);
  const groupId = props.get('groupId')?.trim() || dirGroup;
  const artifactId = props.get('artifactId')?.trim() || dirArtifact;
  const version = props.get('version')?.trim() ?? '';
  if (!isVersion(version)) return version ? `invalid version "${truncate(version)}"` : 'no version';
  return { groupId, artifactId, version, metadata: { evidence: 'pom.properties', evidencePath: path, groupId, artifactId } };
}

/** Manifest attributes giving a name and a version, strongest pair first. */
const MANIFEST_PAIRS: ReadonlyArray<readonly [title: string, version: string]> = [
  ['Implementation-Title', 'Implementation-Version'],
  ['Bundle-SymbolicName', 'Bundle-Version'],
  ['Specification-Title', 'Specification-Version'],
];

function fromManifest(attributes: Map<string, string>, fileName: string): Found | undefined {
  const get = (name: string): string => {
    const value = attributes.get(name.toLowerCase())?.trim() ?? '';
    // Bundle-SymbolicName: "org.example.lib;singleton:=true"
    return name === 'Bundle-SymbolicName' ? (value.split(';')[0] as string).trim() : value;
  };
  const pairIndex = MANIFEST_PAIRS.findIndex(([, version]) => isVersion(get(version)));
  if (pairIndex < 0) return undefined;
  const [pairTitle, versionFrom] = MANIFEST_PAIRS[pairIndex] as readonly [string, string];
  const titles = [pairTitle, ...MANIFEST_PAIRS.map(([t]) => t).filter((t) => t !== pairTitle)];
  const nameFrom = titles.find((t) => IDENTIFIER.test(get(t)));
  const artifactId = nameFrom ? get(nameFrom) : (splitFileName(fileName)?.name ?? stem(fileName));
  if (!artifactId) return undefined;
  const metadata: Record<string, string> = { evidence: 'manifest', evidencePath: MANIFEST_PATH };
  const vendorId = get('Implementation-Vendor-Id');
  const groupId = IDENTIFIER.test(vendorId) ? vendorId : undefined;
  if (groupId) metadata.groupId = groupId;
  metadata.artifactId = artifactId;
  metadata.nameFrom = nameFrom ?? 'file name';
  metadata.versionFrom = versionFrom;
  const found: Found = { artifactId, version: get(versionFrom), metadata };
  if (groupId) found.groupId = groupId;
  return found;
}

function fromFileName(fileName: string): Found | undefined {
  const split = splitFileName(fileName);
  if (!split) return undefined;
  return { artifactId: split.name, version: split.version, metadata: { evidence: 'file name', evidencePath: fileName, artifactId: split.name } };
}

/**
 * "commons-lang3-3.12.0.jar" → commons-lang3 3.12.0. The version starts after a hyphen
 * followed by a digit; when there are several, the last whose first part is dotted wins
 * ("log4j-1.2-api-2.17.1" → log4j-1.2-api 2.17.1, "guava-32.1.2-jre" → guava 32.1.2-jre).
 */
export function splitFileName(fileName: string): { name: string; version: string } | undefined {
  const base = stem(fileName);
  const starts: number[] = [];
  for (let i = 1; i < base.length - 1; i++) if (base[i] === '-' && /[0-9]/.test(base[i + 1] as string)) starts.push(i);
  const dotted = starts.filter((i) => (base.slice(i + 1).split('-')[0] as string).includes('.'));
  const at = dotted.length > 0 ? dotted[dotted.length - 1] : starts[0];
  if (at === undefined) return undefined;
  const version = base.slice(at + 1);
  return /^[0-9][0-9A-Za-z._+~-]*$/.test(version) ? { name: base.slice(0, at), version } : undefined;
}

function stem(fileName: string): string {
  return fileName.replace(ARCHIVE_NAME, '');
}

/**
 * Bundle-License: comma-separated clauses "name;link=...;description=..." (the name may be
 * quoted). Each name normalised to SPDX where it can be; if a part of the list does not
 * normalise, the comma was probably part of one name ("Apache License, Version 2.0") and
 * the whole value is one licence.
 */
function bundleLicenses(value: string | undefined): string[] {
  const text = value?.trim();
  if (!text || text === '<<EXTERNAL>>') return [];
  const names = splitOutsideQuotes(text, ',').map((clause) => unquote((splitOutsideQuotes(clause, ';')[0] as string).trim())).filter(Boolean);
  const normalised = names.map((n) => normalizeLicense(n));
  if (normalised.every((n) => n !== undefined)) return [...new Set(normalised as string[])];
  const whole = unquote((splitOutsideQuotes(text, ';')[0] as string).trim());
  return [normalizeLicense(whole) ?? whole];
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '"') quoted = !quoted;
    else if (!quoted && text[i] === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function unquote(s: string): string {
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

/** UTF-8 when the bytes are valid UTF-8, else ISO-8859-1 (java.util.Properties' historic encoding). */
function decodeText(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }
}

/**
 * java.util.Properties text: "key=value", "key: value" or "key value"; "#" and "!"
 * comments; a line ending in an odd number of backslashes continues on the next (whose
 * leading blanks are dropped); backslash escapes (\t \n \r \f \uXXXX, else the character).
 */
export function parseProperties(text: string): Map<string, string> {
  const props = new Map<string, string>();
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = (lines[i] as string).replace(/^[ \t\f]+/, '');
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    while (endsInEscape(line) && i + 1 < lines.length) line = line.slice(0, -1) + (lines[++i] as string).replace(/^[ \t\f]+/, '');
    if (endsInEscape(line)) line = line.slice(0, -1);
    let k = 0;
    while (k < line.length && !'=: \t\f'.includes(line[k] as string)) k += line[k] === '\\' ? 2 : 1;
    const key = line.slice(0, k);
    let v = k;
    while (v < line.length && ' \t\f'.includes(line[v] as string)) v++;
    if (v < line.length && '=:'.includes(line[v] as string)) v++;
    while (v < line.length && ' \t\f'.includes(line[v] as string)) v++;
    props.set(unescapeProperty(key), unescapeProperty(line.slice(v)));
  }
  return props;
}

function endsInEscape(line: string): boolean {
  const m = /\\+$/.exec(line);
  return m !== null && m[0].length % 2 === 1;
}

function unescapeProperty(s: string): string {
  return s.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_m, c: string) => {
    if (c.length === 5) return String.fromCharCode(parseInt(c.slice(1), 16));
    return c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c === 'f' ? '\f' : c;
  });
}

/**
 * The main section of a JAR manifest, by lower-cased attribute name. Lines end in CRLF, LF
 * or CR; a line starting with one space continues the previous value (writers wrap at 72
 * bytes, possibly inside a UTF-8 sequence, so values are joined as bytes and decoded after).
 * The main section ends at the first empty line.
 */
export function parseManifest(bytes: Uint8Array): Map<string, string> {
  const raw: Array<{ name: string; parts: Uint8Array[] }> = [];
  let start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (start < bytes.length) {
    let end = start;
    while (end < bytes.length && bytes[end] !== 0x0a && bytes[end] !== 0x0d) end++;
    const line = bytes.subarray(start, end);
    start = bytes[end] === 0x0d && bytes[end + 1] === 0x0a ? end + 2 : end + 1;
    if (line.length === 0) break;
    const last = raw[raw.length - 1];
    if (line[0] === 0x20) {
      last?.parts.push(line.subarray(1));
      continue;
    }
    const colon = line.indexOf(0x3a);
    if (colon <= 0) continue;
    const name = Buffer.from(line.subarray(0, colon)).toString('latin1').trim();
    const value = line.subarray(line[colon + 1] === 0x20 ? colon + 2 : colon + 1);
    raw.push({ name, parts: [value] });
  }
  const attributes = new Map<string, string>();
  for (const { name, parts } of raw) attributes.set(name.toLowerCase(), Buffer.concat(parts).toString('utf8'));
  return attributes;
}

// ---------------------------------------------------------------------------------------
// Zip: the central directory, and one entry's data

const STORED = 0;
const DEFLATED = 8;

interface ZipEntry {
  name: string;
  flags: number;
  method: number;
  compressedSize: number;
  size: number;
  /** offset of the local header in the buffer (data prepended to the zip accounted for) */
  localOffset: number;
}

interface CentralDirectory {
  /** the entries read, in central-directory order */
  entries: ZipEntry[];
  /** the entries the archive declares */
  total: number;
}

const EOCD_SIG = 0x06054b50;
const EOCD_LEN = 22;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_LOCATOR_LEN = 20;
const ZIP64_EOCD_SIG = 0x06064b50;
const ZIP64_EOCD_LEN = 56;
const CEN_SIG = 0x02014b50;
const CEN_LEN = 46;
const LOC_SIG = 0x04034b50;
const LOC_LEN = 30;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;

/**
 * The first `maxEntries` entries of the zip's central directory, or why it cannot be read.
 * Offsets are checked against the buffer before every read.
 */
function readCentralDirectory(zip: Buffer, maxEntries: number): CentralDirectory | string {
  try {
    return readCentralDirectoryUnchecked(zip, maxEntries);
  } catch (e) {
    // A read past the end that the checks below missed: the archive is corrupt all the same.
    return `corrupt central directory (${(e as Error).message})`;
  }
}

function readCentralDirectoryUnchecked(zip: Buffer, maxEntries: number): CentralDirectory | string {
  const eocd = findEndRecord(zip);
  if (eocd < 0) return zip.length === 0 ? 'empty file' : 'no end-of-central-directory record (not a zip, or truncated)';
  const disk = zip.readUInt16LE(eocd + 4);
  const cdDisk = zip.readUInt16LE(eocd + 6);
  let total = zip.readUInt16LE(eocd + 10);
  let cdSize = zip.readUInt32LE(eocd + 12);
  let cdOffset = zip.readUInt32LE(eocd + 16);
  let cdEnd = eocd;

  const locator = eocd - ZIP64_LOCATOR_LEN;
  if (locator >= 0 && zip.readUInt32LE(locator) === ZIP64_LOCATOR_SIG) {
    const declared = Number(zip.readBigUInt64LE(locator + 8));
    // Normally right before the locator; where it says it is when data was not prepended.
    const candidates = [locator - ZIP64_EOCD_LEN, declared];
    const record = candidates.find((p) => Number.isSafeInteger(p) && p >= 0 && p + ZIP64_EOCD_LEN <= locator && zip.readUInt32LE(p) === ZIP64_EOCD_SIG);
    if (record === undefined) return 'zip64 end-of-central-directory record not found';
    if (zip.readUInt32LE(record + 16) !== 0 || zip.readUInt32LE(record + 20) !== 0) return 'multi-disk archives are not supported';
    total = safeNumber(zip.readBigUInt64LE(record + 32));
    cdSize = safeNumber(zip.readBigUInt64LE(record + 40));
    cdOffset = safeNumber(zip.readBigUInt64LE(record + 48));
    cdEnd = record;
  } else if ((disk !== 0 && disk !== U16_MAX) || (cdDisk !== 0 && cdDisk !== U16_MAX)) {
    return 'multi-disk archives are not supported';
  }

  const cdStart = cdEnd - cdSize;
  if (!Number.isSafeInteger(cdStart) || cdStart < 0) return `central directory (${cdSize} bytes) does not fit before its end record`;
  // Bytes before the zip proper (a launch script, a self-extractor stub) shift every offset.
  const prefix = cdStart - cdOffset;
  if (prefix < 0) return `central directory offset ${cdOffset} is past its actual position ${cdStart}`;
  if (total * CEN_LEN > cdSize) return `central directory of ${cdSize} bytes cannot hold the ${total} entries declared`;

  const entries: ZipEntry[] = [];
  let p = cdStart;
  const count = Math.min(total, maxEntries);
  for (let i = 0; i < count; i++) {
    if (p + CEN_LEN > cdEnd || zip.readUInt32LE(p) !== CEN_SIG) return `central directory entry ${i + 1} of ${total} is corrupt`;
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const next = p + CEN_LEN + nameLen + extraLen + commentLen;
    if (next > cdEnd) return `central directory entry ${i + 1} of ${total} runs past the directory's end`;
    let compressedSize = zip.readUInt32LE(p + 20);
    let size = zip.readUInt32LE(p + 24);
    let localOffset = zip.readUInt32LE(p + 42);
    if (compressedSize === U32_MAX || size === U32_MAX || localOffset === U32_MAX) {
      // zip64 extra field (id 1): the 64-bit values of those fields that are 0xFFFFFFFF, in this order.
      const extra = zip.subarray(p + CEN_LEN + nameLen, p + CEN_LEN + nameLen + extraLen);
      const z64 = zip64Extra(extra);
      if (!z64) return `central directory entry ${i + 1} of ${total}: zip64 sizes missing`;
      let at = 0;
      const take = (): number | undefined => (at + 8 <= z64.length ? safeNumberOrUndefined(z64.readBigUInt64LE((at += 8) - 8)) : undefined);
      if (size === U32_MAX) size = take() ?? -1;
      if (compressedSize === U32_MAX) compressedSize = take() ?? -1;
      if (localOffset === U32_MAX) localOffset = take() ?? -1;
      if (size < 0 || compressedSize < 0 || localOffset < 0) return `central directory entry ${i + 1} of ${total}: zip64 sizes missing`;
    }
    entries.push({
      name: zip.toString('utf8', p + CEN_LEN, p + CEN_LEN + nameLen),
      flags: zip.readUInt16LE(p + 8),
      method: zip.readUInt16LE(p + 10),
      compressedSize,
      size,
      localOffset: localOffset + prefix,
    });
    p = next;
  }
  return { entries, total };
}

/** The last end-of-central-directory signature whose comment fits in the buffer, or -1. */
function findEndRecord(zip: Buffer): number {
  const last = zip.length - EOCD_LEN;
  const first = Math.max(0, last - U16_MAX);
  for (let p = last; p >= first; p--) {
    if (zip[p] === 0x50 && zip[p + 1] === 0x4b && zip.readUInt32LE(p) === EOCD_SIG && p + EOCD_LEN + zip.readUInt16LE(p + 20) <= zip.length) return p;
  }
  return -1;
}

function zip64Extra(extra: Buffer): Buffer | undefined {
  for (let p = 0; p + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(p);
    const len = extra.readUInt16LE(p + 2);
    if (p + 4 + len > extra.length) return undefined;
    if (id === 1) return extra.subarray(p + 4, p + 4 + len);
    p += 4 + len;
  }
  return undefined;
}

function safeNumberOrUndefined(n: bigint): number | undefined {
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : undefined;
}

function safeNumber(n: bigint): number {
  // An impossible value: every bound check after this fails on it.
  return safeNumberOrUndefined(n) ?? Number.MAX_SAFE_INTEGER;
}

/** The entry's bytes as stored (compressed or not), or why they cannot be found. */
function rawData(zip: Buffer, entry: ZipEntry): Buffer | string {
  if (entry.flags & 1) return 'encrypted entry';
  if (entry.method !== STORED && entry.method !== DEFLATED) return `unsupported compression method ${entry.method}`;
  const p = entry.localOffset;
  if (p + LOC_LEN > zip.length || zip.readUInt32LE(p) !== LOC_SIG) return `no local header at offset ${p}`;
  const start = p + LOC_LEN + zip.readUInt16LE(p + 26) + zip.readUInt16LE(p + 28);
  const end = start + entry.compressedSize;
  if (end > zip.length) return `data (${entry.compressedSize} bytes at offset ${start}) runs past the end of the archive`;
  return zip.subarray(start, end);
}

/** Compressed bytes pushed to the inflater at a time: one push inflates to at most ~1032 times this. */
const INFLATE_CHUNK = 32 * 1024;

/**
 * Inflate `raw` into exactly `size` bytes. The input is pushed in small pieces, so data that
 * inflates past `size` (a zip bomb lying about its size) is stopped after one piece.
 */
function inflateBounded(raw: Uint8Array, size: number): Buffer | string {
  let out: Buffer;
  try {
    out = Buffer.allocUnsafe(size);
  } catch (e) {
    return `cannot hold its ${size} bytes: ${(e as Error).message}`;
  }
  let filled = 0;
  let over = false;
  const inflater = new Inflate((chunk) => {
    if (over || chunk.length === 0) return;
    if (filled + chunk.length > size) {
      over = true;
      return;
    }
    out.set(chunk, filled);
    filled += chunk.length;
  });
  try {
    if (raw.length === 0) return size === 0 ? out : 'deflated entry without data';
    for (let at = 0; at < raw.length && !over; at += INFLATE_CHUNK) {
      const end = Math.min(at + INFLATE_CHUNK, raw.length);
      inflater.push(raw.subarray(at, end), end === raw.length);
    }
  } catch (e) {
    return `corrupt deflate data (${(e as Error).message})`;
  }
  if (over) return `inflates to more than its declared ${size} bytes`;
  if (filled !== size) return `inflates to ${filled} bytes, not the ${size} declared`;
  return out;
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
