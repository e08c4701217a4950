/**
 * The RPM header blob, as every rpm database backend stores one per installed package
 * (rpm's headerExport / headerImport, lib/header.c):
 *
 *   il   int32 BE   number of index entries
 *   dl   int32 BE   length of the data store
 *   il × 16 bytes   index entries: tag, type, offset (into the data store), count; all BE
 *   dl bytes        data store
 *
 * The first entry is usually a region tag (HEADERIMMUTABLE 63, or HEADERIMAGE 61 /
 * HEADERSIGNATURES 62) whose offset points at a 16-byte trailer closing the region; the
 * entries after the region ("dribbles", added after install) replace region entries of
 * the same tag. Region tags carry no package data and are skipped.
 *
 * Validation follows rpm's checks (hdrblobInit / hdrblobVerifyInfo) where they are cheap
 * and catch corruption: sizes within rpm's limits and within the record, a known type for
 * every entry, offsets inside the data store, aligned for their type and in increasing
 * order, fixed-size values inside the data store. A header failing any of them is
 * refused whole, as rpm refuses it. Strings are only measured when read (a NUL must end
 * each one before the end of the data store), so the work on one header is bounded by
 * its size times the handful of tags read, never by a corrupt count.
 */

/** rpm tag numbers (lib/rpmtag.h) that the cataloger reads. */
export const RpmTag = {
  HEADERIMAGE: 61,
  HEADERSIGNATURES: 62,
  HEADERIMMUTABLE: 63,
  HEADERI18NTABLE: 100,
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  SIZE: 1009,
  VENDOR: 1011,
  LICENSE: 1014,
  ARCH: 1022,
  FILENAMES: 1027,
  SOURCERPM: 1044,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
  LONGSIZE: 5009,
  MODULARITYLABEL: 5096,
} as const;

/** rpm tag data types (rpmTagType). */
const TYPE = { NULL: 0, CHAR: 1, INT8: 2, INT16: 3, INT32: 4, INT64: 5, STRING: 6, BIN: 7, STRING_ARRAY: 8, I18NSTRING: 9 } as const;
/** Bytes per element of the fixed-size types (index = type); -1 for the string types. */
const TYPE_SIZE = [0, 1, 1, 2, 4, 8, -1, 1, -1, -1];
/** rpm's header limits (hdrchkTags, hdrchkData). */
const MAX_ENTRIES = 0xffff;
const MAX_DATA = 256 * 1024 * 1024;
const ENTRY_SIZE = 16;
const REGION_TAGS: ReadonlySet<number> = new Set([RpmTag.HEADERIMAGE, RpmTag.HEADERSIGNATURES, RpmTag.HEADERIMMUTABLE]);

interface IndexEntry {
  tag: number;
  type: number;
  /** offset into the data store */
  offset: number;
  count: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** A parsed header: typed access to the tags the cataloger reads. */
export class RpmHeader {
  private constructor(
    private readonly data: Uint8Array,
    private readonly dataStart: number,
    private readonly dataLength: number,
    private readonly entries: ReadonlyMap<number, IndexEntry>,
  ) {}

  /** The header in `blob`, or why it is refused. Never throws. */
  static parse(blob: Uint8Array): RpmHeader | string {
    if (blob.length < 8) return `header of ${blob.length} bytes is too short`;
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const il = view.getUint32(0);
    const dl = view.getUint32(4);
    if (il < 1 || il > MAX_ENTRIES) return `header has ${il} index entries (1 to ${MAX_ENTRIES} allowed)`;
    if (dl > MAX_DATA) return `header data store of ${dl} bytes exceeds rpm's limit`;
    const dataStart = 8 + il * ENTRY_SIZE;
    if (dataStart + dl > blob.length) return `header needs ${dataStart + dl} bytes, the record has ${blob.length}`;

    const entries = new Map<number, IndexEntry>();
    let end = 0;
    for (let i = 0; i < il; i++) {
      const at = 8 + i * ENTRY_SIZE;
      const entry: IndexEntry = { tag: view.getInt32(at), type: view.getUint32(at + 4), offset: view.getInt32(at + 8), count: view.getUint32(at + 12) };
      if (i === 0 && REGION_TAGS.has(entry.tag)) {
        // The region's offset points at its trailer, after the region's data.
        if (entry.type !== TYPE.BIN || entry.count !== ENTRY_SIZE || entry.offset < 0 || entry.offset + ENTRY_SIZE > dl) return `invalid region entry (tag ${entry.tag})`;
        continue;
      }
      const problem = checkEntry(entry, dl, end);
      if (problem) return `index entry ${i} (tag ${entry.tag}): ${problem}`;
      const size = TYPE_SIZE[entry.type] as number;
      end = entry.offset + (size > 0 ? size * entry.count : 0);
      // Later entries (dribbles) replace earlier ones, as rpm's import does.
      entries.set(entry.tag, entry);
    }
    return new RpmHeader(blob, dataStart, dl, entries);
  }

  has(tag: number): boolean {
    return this.entries.has(tag);
  }

  /** A STRING tag, or the first string of a STRING_ARRAY / I18NSTRING tag (the C locale's). */
  string(tag: number): string | undefined {
    const entry = this.entries.get(tag);
    if (!entry || (entry.type !== TYPE.STRING && entry.type !== TYPE.STRING_ARRAY && entry.type !== TYPE.I18NSTRING)) return undefined;
    return this.readStrings(entry, 1)?.[0];
  }

  /** Every string of a STRING_ARRAY (or STRING) tag; undefined when absent or malformed. */
  strings(tag: number): string[] | undefined {
    const entry = this.entries.get(tag);
    if (!entry || (entry.type !== TYPE.STRING && entry.type !== TYPE.STRING_ARRAY)) return undefined;
    return this.readStrings(entry, entry.count);
  }

  /** The values of an integer tag (INT8, INT16, INT32 or INT64; INT64 beyond 2^53 loses precision). */
  integers(tag: number): number[] | undefined {
    const entry = this.entries.get(tag);
    if (!entry) return undefined;
    const size = TYPE_SIZE[entry.type] as number;
    if (entry.type < TYPE.INT8 || entry.type > TYPE.INT64) return undefined;
    const view = new DataView(this.data.buffer, this.data.byteOffset + this.dataStart + entry.offset, size * entry.count);
    const out = new Array<number>(entry.count);
    for (let i = 0; i < entry.count; i++) {
      const at = i * size;
      out[i] = size === 1 ? view.getUint8(at) : size === 2 ? view.getUint16(at) : size === 4 ? view.getUint32(at) : Number(view.getBigUint64(at));
    }
    return out;
  }

  /** The first value of an integer tag. */
  integer(tag: number): number | undefined {
    const entry = this.entries.get(tag);
    return entry && entry.count >= 1 ? this.integers(tag)?.[0] : undefined;
  }

  /** The first `count` NUL-terminated strings at the entry's offset; undefined when one runs past the data store. */
  private readStrings(entry: IndexEntry, count: number): string[] | undefined {
    const limit = this.dataStart + this.dataLength;
    const out: string[] = [];
    let at = this.dataStart + entry.offset;
    for (let i = 0; i < count; i++) {
      const nul = this.data.indexOf(0, at);
      if (nul === -1 || nul >= limit) return undefined;
      out.push(utf8.decode(this.data.subarray(at, nul)));
      at = nul + 1;
    }
    return out;
  }
}

/** Why an index entry is invalid (rpm's hdrchkTag/Type/Align/Range), or undefined. */
function checkEntry(entry: IndexEntry, dl: number, previousEnd: number): string | undefined {
  if (entry.tag < RpmTag.HEADERI18NTABLE) return 'tag number out of range';
  if (entry.type < TYPE.NULL || entry.type > TYPE.I18NSTRING) return `unknown type ${entry.type}`;
  if (entry.offset < 0 || entry.offset > dl) return `offset ${entry.offset} outside the data store (${dl} bytes)`;
  if (entry.offset < previousEnd) return `offset ${entry.offset} overlaps the previous entry's data`;
  const size = TYPE_SIZE[entry.type] as number;
  if (size > 1 && entry.offset % size !== 0) return `offset ${entry.offset} not aligned for type ${entry.type}`;
  if (entry.count < 1 || entry.count > dl) return `count ${entry.count} impossible in ${dl} bytes`;
  if (entry.type === TYPE.STRING && entry.count !== 1) return `STRING with count ${entry.count}`;
  if (size > 0 && entry.offset + size * entry.count > dl) return `value runs past the data store`;
  if (size < 0 && entry.offset >= dl) return 'string starts at the end of the data store';
  return undefined;
}

/** What the cataloger takes from one header. */
export interface RpmPackageInfo {
  name: string;
  version: string;
  release: string;
  epoch?: number;
  arch?: string;
  sourceRpm?: string;
  license?: string;
  vendor?: string;
  /** installed size in bytes (LONGSIZE, else SIZE) */
  size?: number;
  modularityLabel?: string;
  /** absolute paths of the files and directories the package installed */
  files: string[];
  /** why some of the file list could not be read */
  fileListProblem?: string;
}

/** The package a header describes, or why it cannot be one. */
export function packageInfo(header: RpmHeader): RpmPackageInfo | string {
  const name = header.string(RpmTag.NAME);
  const version = header.string(RpmTag.VERSION);
  const release = header.string(RpmTag.RELEASE);
  if (!name) return 'no NAME';
  if (!version) return `package "${name}": no VERSION`;
  if (release === undefined) return `package "${name}": no RELEASE`;
  const info: RpmPackageInfo = { name, version, release, files: [] };
  if (header.has(RpmTag.EPOCH)) {
    const epoch = header.integer(RpmTag.EPOCH);
    if (epoch === undefined) return `package "${name}": EPOCH is not an integer`;
    info.epoch = epoch;
  }
  const optional = (tag: number): string | undefined => {
    const value = header.string(tag)?.trim();
    return value && value !== '(none)' ? value : undefined;
  };
  const arch = optional(RpmTag.ARCH);
  if (arch) info.arch = arch;
  const sourceRpm = optional(RpmTag.SOURCERPM);
  if (sourceRpm) info.sourceRpm = sourceRpm;
  const license = optional(RpmTag.LICENSE);
  if (license) info.license = license;
  const vendor = optional(RpmTag.VENDOR);
  if (vendor) info.vendor = vendor;
  const modularityLabel = optional(RpmTag.MODULARITYLABEL);
  if (modularityLabel) info.modularityLabel = modularityLabel;
  const size = header.integer(RpmTag.LONGSIZE) ?? header.integer(RpmTag.SIZE);
  if (size !== undefined) info.size = size;
  readFileList(header, info);
  return info;
}

/**
 * The package's files: DIRNAMES[DIRINDEXES[i]] + BASENAMES[i] (rpm ≥ 4 keeps them split),
 * or the old single FILENAMES list. An index pointing outside DIRNAMES, or lists of
 * different lengths, leave the unreadable entries out and say so.
 */
function readFileList(header: RpmHeader, info: RpmPackageInfo): void {
  if (!header.has(RpmTag.BASENAMES)) {
    if (header.has(RpmTag.FILENAMES)) {
      const names = header.strings(RpmTag.FILENAMES);
      if (names) info.files = names;
      else info.fileListProblem = 'FILENAMES is malformed';
    }
    return;
  }
  const basenames = header.strings(RpmTag.BASENAMES);
  const dirnames = header.strings(RpmTag.DIRNAMES);
  const dirindexes = header.integers(RpmTag.DIRINDEXES);
  if (!basenames || !dirnames || !dirindexes) {
    info.fileListProblem = 'BASENAMES, DIRNAMES or DIRINDEXES is missing or malformed';
    return;
  }
  if (dirindexes.length !== basenames.length) info.fileListProblem = `${basenames.length} BASENAMES but ${dirindexes.length} DIRINDEXES`;
  const n = Math.min(basenames.length, dirindexes.length);
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const dir = dirnames[dirindexes[i] as number];
    if (dir === undefined) bad++;
    else info.files.push(dir + (basenames[i] as string));
  }
  if (bad > 0) info.fileListProblem = `${bad} DIRINDEXES outside DIRNAMES (${dirnames.length} entries)`;
}
