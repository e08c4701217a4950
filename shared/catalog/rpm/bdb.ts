/**
 * rpm's Berkeley DB `Packages` file (rpm ≤ 4.15 default backend; RHEL/CentOS ≤ 8, SLES ≤ 15
 * SP2, Amazon Linux 2): a DB_HASH database whose keys are header instance numbers and
 * whose values are RPM header blobs. Read directly, without Berkeley DB (libdb's on-disk
 * layout, dbinc/db_page.h):
 *
 * - Page 0 is the hash metadata page: magic 0x061561 at byte 12 (read in either byte order:
 *   the file is in the byte order of the machine that wrote it, and so is every integer
 *   on every page), version at 16, page size at 20, encryption at 24, last page number at 32.
 * - Every page starts with a 26-byte header: page number at 8, next page at 16, entry count
 *   at 20, "hf_offset" at 22 (on overflow pages: the bytes used on the page), type at 25.
 * - Hash pages (type 13, or 2 for unsorted hash pages of old libdb) hold an array of
 *   entry-count 16-bit item offsets after the header; items alternate key, value. An item
 *   starts with its kind: 1 = the bytes follow inline (their length runs to the previous
 *   item's start, or the page end for item 0), 3 = off-page: page number at +4 and total
 *   length at +8 of a chain of overflow pages (type 7) holding the bytes.
 *
 * Every hash page is visited in page order (the bucket structure is not needed to list all
 * records), so a damaged page or overflow chain costs only its own records. rpm stores a
 * 4-byte counter under key 0 — not a package — which is skipped. Work and memory are
 * bounded by the file: page numbers must lie inside it, a record may not claim more bytes
 * than the file has, and an overflow page may belong to one chain only (a chain that loops,
 * or reaches a page another record already used, is broken), so all records together never
 * hold more bytes than the file.
 */
import { DatabaseReadBuilder, type DatabaseRead } from './records.js';

const HASH_MAGIC = 0x061561;
const BTREE_MAGIC = 0x053162;
const PAGE_HEADER = 26;
const P_HASH_UNSORTED = 2;
const P_OVERFLOW = 7;
const P_HASHMETA = 8;
const P_HASH = 13;
const H_KEYDATA = 1;
const H_OFFPAGE = 3;
const VALID_PAGE_SIZES: ReadonlySet<number> = new Set([512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]);

/** True when `content` starts like a Berkeley DB hash or btree file (in either byte order). */
export function looksLikeBdb(content: Uint8Array): boolean {
  if (content.length < 16) return false;
  const view = new DataView(content.buffer, content.byteOffset, content.byteLength);
  return [true, false].some((le) => [HASH_MAGIC, BTREE_MAGIC].includes(view.getUint32(12, le)));
}

export function readBdb(content: Uint8Array): DatabaseRead {
  const out = new DatabaseReadBuilder();
  if (content.length < 512) {
    out.problem(`file of ${content.length} bytes is too short for a Berkeley DB database`);
    return out.result();
  }
  const view = new DataView(content.buffer, content.byteOffset, content.byteLength);
  const le = view.getUint32(12, true) === HASH_MAGIC || view.getUint32(12, true) === BTREE_MAGIC;
  const magic = view.getUint32(12, le);
  if (magic === BTREE_MAGIC) {
    out.problem('Berkeley DB btree database: rpm keeps Packages as a hash database, btree is not supported');
    return out.result();
  }
  if (magic !== HASH_MAGIC) {
    out.problem('not a Berkeley DB hash database (bad magic)');
    return out.result();
  }
  const version = view.getUint32(16, le);
  const pageSize = view.getUint32(20, le);
  const encrypted = view.getUint8(24);
  const metaType = view.getUint8(25);
  const lastPage = view.getUint32(32, le);
  if (version < 7 || version > 10) {
    out.problem(`unsupported Berkeley DB hash version ${version}`);
    return out.result();
  }
  if (!VALID_PAGE_SIZES.has(pageSize)) {
    out.problem(`invalid page size ${pageSize}`);
    return out.result();
  }
  if (metaType !== P_HASHMETA) {
    out.problem(`page 0 has type ${metaType}, not hash metadata`);
    return out.result();
  }
  if (encrypted !== 0) {
    out.problem('the database is encrypted');
    return out.result();
  }
  const pagesInFile = Math.floor(content.length / pageSize);
  const declaredPages = lastPage + 1;
  if (declaredPages > pagesInFile) {
    out.problem(`the metadata declares ${declaredPages} pages but the file holds ${pagesInFile}: the records on the missing pages are lost`);
  }
  const pages = Math.min(declaredPages, pagesInFile);
  const reader = new PageReader(content, view, le, pageSize, pages, out);
  for (let pgno = 1; pgno < pages; pgno++) reader.hashPage(pgno);
  return out.result();
}

class PageReader {
  /** Pages already part of an overflow chain: in a sound file each belongs to one record. */
  private readonly chained: Uint8Array;

  constructor(
    private readonly content: Uint8Array,
    private readonly view: DataView,
    private readonly le: boolean,
    private readonly pageSize: number,
    private readonly pages: number,
    private readonly out: DatabaseReadBuilder,
  ) {
    this.chained = new Uint8Array(pages);
  }

  private type(pgno: number): number {
    return this.view.getUint8(pgno * this.pageSize + 25);
  }

  /** The records on one page, if it is a hash page. */
  hashPage(pgno: number): void {
    const type = this.type(pgno);
    if (type !== P_HASH && type !== P_HASH_UNSORTED) return;
    const base = pgno * this.pageSize;
    const entries = this.view.getUint16(base + 20, this.le);
    const indexEnd = PAGE_HEADER + 2 * entries;
    if (entries % 2 !== 0 || indexEnd > this.pageSize) {
      this.out.problem(`page ${pgno}: invalid entry count ${entries}`);
      return;
    }
    const offsets: number[] = [];
    for (let i = 0; i < entries; i++) {
      const offset = this.view.getUint16(base + PAGE_HEADER + 2 * i, this.le);
      const previous = i === 0 ? this.pageSize : (offsets[i - 1] as number);
      if (offset < indexEnd || offset >= previous) {
        this.out.problem(`page ${pgno}: item ${i} at invalid offset ${offset}`);
        return;
      }
      offsets.push(offset);
    }
    for (let i = 0; i < entries; i += 2) {
      const keyStart = base + (offsets[i] as number);
      const keyEnd = base + (i === 0 ? this.pageSize : (offsets[i - 1] as number));
      const valueStart = base + (offsets[i + 1] as number);
      const valueEnd = base + (offsets[i] as number);
      const key = this.content[keyStart] === H_KEYDATA ? this.content.subarray(keyStart + 1, keyEnd) : undefined;
      // rpm's instance counter lives under key 0; instance numbers are in the file's byte order.
      const instance = key?.length === 4 ? new DataView(key.buffer, key.byteOffset, 4).getUint32(0, this.le) : undefined;
      if (instance === 0) continue;
      const where = instance === undefined ? `page ${pgno} item ${i + 1}` : `record ${instance}`;
      const kind = this.content[valueStart];
      if (kind === H_OFFPAGE) {
        if (valueEnd - valueStart < 12) {
          this.out.problem(`${where}: truncated off-page item`);
          continue;
        }
        const first = this.view.getUint32(valueStart + 4, this.le);
        const length = this.view.getUint32(valueStart + 8, this.le);
        const blob = this.overflow(first, length, where);
        if (blob) this.out.record(where, blob);
      } else if (kind === H_KEYDATA) {
        this.out.record(where, this.content.subarray(valueStart + 1, valueEnd));
      } else {
        this.out.problem(`${where}: unsupported item kind ${kind} on page ${pgno}`);
      }
    }
  }

  /** The `length` bytes of the overflow chain starting at page `first`; undefined (and a problem) when it is broken. */
  private overflow(first: number, length: number, where: string): Uint8Array | undefined {
    if (length > this.content.length) {
      this.out.problem(`${where}: claims ${length} bytes, more than the whole file`);
      return undefined;
    }
    // The pages' bytes are gathered first and copied once the chain proved whole: a corrupt
    // length costs no allocation.
    const chunks: Uint8Array[] = [];
    let filled = 0;
    let pgno = first;
    while (filled < length) {
      if (pgno === 0 || pgno >= this.pages || this.chained[pgno]) {
        const why = pgno === 0 ? 'ends early' : this.chained[pgno] ? `reaches page ${pgno} a second time` : `points to page ${pgno}, outside the file`;
        this.out.problem(`${where}: overflow chain ${why} after ${filled} of ${length} bytes`);
        return undefined;
      }
      this.chained[pgno] = 1;
      if (this.type(pgno) !== P_OVERFLOW) {
        this.out.problem(`${where}: overflow chain reaches page ${pgno} of type ${this.type(pgno)}`);
        return undefined;
      }
      const base = pgno * this.pageSize;
      const used = this.view.getUint16(base + 22, this.le);
      if (used > this.pageSize - PAGE_HEADER) {
        this.out.problem(`${where}: overflow page ${pgno} claims ${used} bytes`);
        return undefined;
      }
      const take = Math.min(used, length - filled);
      chunks.push(this.content.subarray(base + PAGE_HEADER, base + PAGE_HEADER + take));
      filled += take;
      pgno = this.view.getUint32(base + 16, this.le);
    }
    const blob = new Uint8Array(length);
    let at = 0;
    for (const chunk of chunks) {
      blob.set(chunk, at);
      at += chunk.length;
    }
    return blob;
  }
}
