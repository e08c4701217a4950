import { DrydockError } from '../errors.js';

/**
 * A streaming tar reader for layer tars, bounded in every input-controlled size: headers are
 * parsed as they arrive, bodies are handed to the caller's sink in the chunks they came in
 * (or skipped), and reading stops at the end-of-archive marker. It reads ustar, GNU (long
 * names "L"/"K", old sparse "S") and PAX (path, linkpath, size, GNU sparse 0.0 / 0.1 / 1.0)
 * headers. Entry types whose size field means nothing (links, directories, devices, fifos)
 * have no body, as Go's archive/tar (and so containerd) reads them.
 */

export type TarEntryType = 'file' | 'link' | 'symlink' | 'directory' | 'other';

export interface TarEntry {
  name: string;
  type: TarEntryType;
  /** the raw typeflag character */
  typeflag: string;
  mode: number;
  /** logical size of the file (the real size of a sparse file) */
  size: number;
  linkname: string;
  sparse: boolean;
}

/** Receives one entry's logical content (a sparse file's holes as zeros). */
export interface EntrySink {
  data(chunk: Buffer): void;
  end(): void;
}

/** A fault in the tar structure (reported as CORRUPT_LAYER "tar"). */
export class TarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarError';
  }
}

export interface TarReaderLimits {
  maxHeaderBytes: number;
  maxPathBytes: number;
  maxLinkBytes: number;
}

const BLOCK = 512;
type SparseChunk = { offset: number; length: number };
type Pax = { path?: string; linkpath?: string; size?: number; sparse: Record<string, string>; offsets: number[]; numbytes: number[] };

export class TarReader {
  /** the end-of-archive marker was read: nothing after it is looked at */
  ended = false;
  /** bytes consumed so far (offsets in messages) */
  private pos = 0;

  private want = BLOCK;
  private parts: Buffer[] = [];
  private have = 0;
  private onCollected: (buf: Buffer) => void = (b) => this.header(b);
  /** what is being collected is the next entry's header (not a long name, PAX data or sparse map) */
  private atHeader = true;

  private skip = 0;
  private body: { left: number; sink?: EntrySink; after?: () => void } | undefined;

  private longName: string | undefined;
  private longLink: string | undefined;
  private pax: Pax | undefined;

  constructor(
    private readonly limits: TarReaderLimits,
    private readonly onEntry: (e: TarEntry) => EntrySink | undefined,
  ) {}

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length && !this.ended) {
      const avail = chunk.length - off;
      if (this.skip > 0) {
        const n = Math.min(this.skip, avail);
        this.skip -= n;
        off += n;
        this.pos += n;
        continue;
      }
      if (this.body) {
        const b = this.body;
        const n = Math.min(b.left, avail);
        if (n > 0) b.sink?.data(chunk.subarray(off, off + n));
        b.left -= n;
        off += n;
        this.pos += n;
        if (b.left === 0) {
          this.body = undefined;
          b.after?.();
        }
        continue;
      }
      const n = Math.min(this.want - this.have, avail);
      this.parts.push(chunk.subarray(off, off + n));
      this.have += n;
      off += n;
      this.pos += n;
      if (this.have === this.want) {
        const buf = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
        this.parts = [];
        this.have = 0;
        const next = this.onCollected;
        this.want = BLOCK;
        this.onCollected = (b) => this.header(b);
        this.atHeader = true;
        next(buf);
      }
    }
  }

  /** The input ended: fine at a header boundary (with or without an end marker), a TarError inside anything. */
  finish(): void {
    if (this.ended) return;
    if (this.body || this.skip > 0 || this.have > 0 || !this.atHeader || this.longName !== undefined || this.longLink !== undefined || this.pax) {
      throw new TarError(`unexpected end of data at byte ${this.pos} (truncated tar archive)`);
    }
  }

  private collect(n: number, then: (buf: Buffer) => void): void {
    if (n === 0) return then(Buffer.alloc(0));
    this.want = n;
    this.onCollected = then;
    this.atHeader = false;
  }

  private padOf(size: number): number {
    return (BLOCK - (size % BLOCK)) % BLOCK;
  }

  private header(h: Buffer): void {
    const at = this.pos - BLOCK;
    if (isZero(h)) {
      this.ended = true;
      return;
    }
    if (!checksumOk(h)) throw new TarError(`bad header checksum at byte ${at}`);
    const typeflag = h[156] === 0 ? '0' : String.fromCharCode(h[156]!);
    const rawSize = parseNumber(h.subarray(124, 136), `size of the entry at byte ${at}`);
    const limits = this.limits;
    const meta = (limit: number, name: keyof TarReaderLimits | 'maxHeaderBytes', what: string, then: (b: Buffer) => void) => {
      if (rawSize > limit) {
        throw new DrydockError('LIMIT_EXCEEDED', `tar ${what} header at byte ${at} is ${rawSize} bytes, more than ${limit} (limit ${name} = ${limit})`);
      }
      this.collect(rawSize, (b) => {
        then(b);
        this.skip = this.padOf(rawSize);
      });
    };
    switch (typeflag) {
      case 'L':
        return meta(limits.maxPathBytes, 'maxPathBytes', 'GNU long name', (b) => (this.longName = cString(b)));
      case 'K':
        return meta(limits.maxLinkBytes, 'maxLinkBytes', 'GNU long link name', (b) => (this.longLink = cString(b)));
      case 'x':
        return meta(limits.maxHeaderBytes, 'maxHeaderBytes', 'PAX', (b) => (this.pax = parsePax(b, at)));
      case 'g':
        return meta(limits.maxHeaderBytes, 'maxHeaderBytes', 'PAX global', () => undefined);
    }

    const magic = h.subarray(257, 263).toString('latin1');
    let name = cString(h.subarray(0, 100));
    if (magic === 'ustar\0' && h[345] !== 0) name = `${cString(h.subarray(345, 500))}/${name}`;
    const pax = this.pax;
    name = pax?.path ?? this.longName ?? name;
    const linkname = pax?.linkpath ?? this.longLink ?? cString(h.subarray(157, 257));
    this.pax = this.longName = this.longLink = undefined;
    const storedSize = pax?.size ?? rawSize;
    if (!Number.isSafeInteger(storedSize) || storedSize < 0) throw new TarError(`invalid size ${storedSize} for ${JSON.stringify(name.slice(0, 200))} at byte ${at}`);
    if (Buffer.byteLength(name) > limits.maxPathBytes) {
      throw new DrydockError('LIMIT_EXCEEDED', `tar entry path at byte ${at} is longer than ${limits.maxPathBytes} bytes (limit maxPathBytes = ${limits.maxPathBytes})`);
    }
    if (Buffer.byteLength(linkname) > limits.maxLinkBytes) {
      throw new DrydockError('LIMIT_EXCEEDED', `tar link target of ${JSON.stringify(name.slice(0, 200))} is longer than ${limits.maxLinkBytes} bytes (limit maxLinkBytes = ${limits.maxLinkBytes})`);
    }
    const mode = parseNumber(h.subarray(100, 108), 'mode') & 0o7777;

    const type: TarEntryType =
      typeflag === '0' || typeflag === '7' || typeflag === 'S' ? 'file'
      : typeflag === '1' ? 'link'
      : typeflag === '2' ? 'symlink'
      : typeflag === '5' ? 'directory'
      : 'other';
    // Header-only types: the size field is ignored (Go archive/tar, which unpacks images).
    const headerOnly = '123456'.includes(typeflag);
    const dataSize = headerOnly ? 0 : storedSize;

    // GNU sparse files, old (type S) and PAX (0.0, 0.1, 1.0)
    if (typeflag === 'S') {
      const chunks: SparseChunk[] = [];
      readOldSparse(h, 386, 4, chunks, at);
      const realSize = parseNumber(h.subarray(483, 495), 'sparse real size');
      const done = () => this.entry({ name, type, typeflag, mode, size: realSize, linkname, sparse: true }, dataSize, chunks);
      if (h[482] === 0) return done();
      let extBytes = 0;
      const ext = (b: Buffer) => {
        extBytes += BLOCK;
        if (extBytes > limits.maxHeaderBytes) throw new DrydockError('LIMIT_EXCEEDED', `GNU sparse map at byte ${at} is longer than ${limits.maxHeaderBytes} bytes (limit maxHeaderBytes = ${limits.maxHeaderBytes})`);
        readOldSparse(b, 0, 21, chunks, at);
        if (b[504] !== 0) this.collect(BLOCK, ext);
        else done();
      };
      this.collect(BLOCK, ext);
      return;
    }
    const sp = pax?.sparse ?? {};
    if (type === 'file' && sp['GNU.sparse.major'] === '1') {
      const sparseName = sp['GNU.sparse.name'] ?? name;
      const realSize = toInt(sp['GNU.sparse.realsize'], 'GNU.sparse.realsize', at);
      // 1.0: the map is text at the start of the data, padded to a block.
      let text = '';
      let mapBytes = 0;
      const block = (b: Buffer) => {
        mapBytes += BLOCK;
        if (mapBytes > dataSize) throw new TarError(`GNU sparse 1.0 map of ${JSON.stringify(sparseName.slice(0, 200))} runs past its data`);
        if (mapBytes > limits.maxHeaderBytes) throw new DrydockError('LIMIT_EXCEEDED', `GNU sparse map at byte ${at} is longer than ${limits.maxHeaderBytes} bytes (limit maxHeaderBytes = ${limits.maxHeaderBytes})`);
        text += b.toString('latin1');
        const chunks = parseSparse10(text, at);
        if (!chunks) return this.collect(BLOCK, block);
        this.entry({ name: sparseName, type, typeflag, mode, size: realSize, linkname, sparse: true }, dataSize - mapBytes, chunks, dataSize);
      };
      this.collect(BLOCK, block);
      return;
    }
    if (type === 'file' && (sp['GNU.sparse.map'] !== undefined || (pax?.offsets.length ?? 0) > 0)) {
      const sparseName = sp['GNU.sparse.name'] ?? name;
      const realSize = toInt(sp['GNU.sparse.size'] ?? sp['GNU.sparse.realsize'], 'GNU.sparse.size', at);
      const chunks: SparseChunk[] = [];
      if (sp['GNU.sparse.map'] !== undefined) {
        const nums = sp['GNU.sparse.map'] === '' ? [] : sp['GNU.sparse.map'].split(',').map((v) => toInt(v, 'GNU.sparse.map', at));
        if (nums.length % 2) throw new TarError(`GNU sparse map at byte ${at} has an odd number of values`);
        for (let i = 0; i < nums.length; i += 2) chunks.push({ offset: nums[i]!, length: nums[i + 1]! });
      } else {
        const { offsets, numbytes } = pax!;
        if (offsets.length !== numbytes.length) throw new TarError(`GNU sparse 0.0 map at byte ${at} is incomplete`);
        for (let i = 0; i < offsets.length; i++) chunks.push({ offset: offsets[i]!, length: numbytes[i]! });
      }
      this.entry({ name: sparseName, type, typeflag, mode, size: realSize, linkname, sparse: true }, dataSize, chunks);
      return;
    }
    this.entry({ name, type, typeflag, mode, size: dataSize, linkname, sparse: false }, dataSize);
  }

  /**
   * Hands one entry to the caller and streams (or skips) its `dataSize` stored bytes; a
   * sparse entry's stored bytes are laid out by its map. `storedSize` is what the padding
   * is computed from (the whole data, with a 1.0 map).
   */
  private entry(e: TarEntry, dataSize: number, chunks?: SparseChunk[], storedSize = dataSize): void {
    if (chunks) validateSparse(chunks, e, dataSize);
    let sink = this.onEntry(e);
    if (sink && chunks) sink = sparseSink(sink, chunks, e.size);
    this.body = {
      left: dataSize,
      ...(sink ? { sink } : {}),
      after: () => {
        sink?.end();
        this.skip = this.padOf(storedSize);
      },
    };
    if (dataSize === 0) {
      this.body = undefined;
      sink?.end();
      this.skip = this.padOf(storedSize);
    }
  }
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function checksumOk(h: Buffer): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const v = i >= 148 && i < 156 ? 32 : h[i]!;
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  let stored: number;
  try {
    stored = parseNumber(h.subarray(148, 156), 'checksum');
  } catch {
    return false;
  }
  return stored === unsigned || stored === signed;
}

/** Octal (NUL / space padded), or GNU base-256 (positive only). Negative or unsafe numbers are a TarError. */
function parseNumber(field: Buffer, what: string): number {
  if ((field[0]! & 0x80) !== 0) {
    if (field[0] === 0xff) throw new TarError(`negative ${what}`);
    let n = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    if (!Number.isSafeInteger(n)) throw new TarError(`${what} is too large`);
    return n;
  }
  const s = field.toString('latin1').replace(/^[ \0]+|[ \0]+$/g, '').replace(/\0.*$/s, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarError(`invalid ${what} ${JSON.stringify(s.slice(0, 20))}`);
  const n = parseInt(s, 8);
  if (!Number.isSafeInteger(n)) throw new TarError(`${what} is too large`);
  return n;
}

function toInt(v: string | undefined, what: string, at: number): number {
  if (v === undefined || !/^\d{1,16}$/.test(v.trim())) throw new TarError(`invalid ${what} ${JSON.stringify(String(v).slice(0, 20))} at byte ${at}`);
  const n = Number(v.trim());
  if (!Number.isSafeInteger(n)) throw new TarError(`invalid ${what} at byte ${at}`);
  return n;
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString('utf8');
}

function parsePax(data: Buffer, at: number): Pax {
  const out: Pax = { sparse: {}, offsets: [], numbytes: [] };
  let i = 0;
  while (i < data.length) {
    if (data[i] === 0) break;
    const space = data.indexOf(0x20, i);
    if (space < 0 || space - i > 20) throw new TarError(`bad PAX record at byte ${at}`);
    const len = Number(data.subarray(i, space).toString('latin1'));
    if (!Number.isSafeInteger(len) || len <= space - i + 1 || i + len > data.length || data[i + len - 1] !== 0x0a) {
      throw new TarError(`bad PAX record length at byte ${at}`);
    }
    const record = data.subarray(space + 1, i + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq < 0) throw new TarError(`bad PAX record at byte ${at}`);
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    if (key === 'path') out.path = value;
    else if (key === 'linkpath') out.linkpath = value;
    else if (key === 'size') out.size = toInt(value, 'PAX size', at);
    else if (key === 'GNU.sparse.offset') out.offsets.push(toInt(value, key, at));
    else if (key === 'GNU.sparse.numbytes') out.numbytes.push(toInt(value, key, at));
    else if (key.startsWith('GNU.sparse.')) out.sparse[key] = value;
    i += len;
  }
  return out;
}

function readOldSparse(b: Buffer, start: number, count: number, out: SparseChunk[], at: number): void {
  for (let k = 0; k < count; k++) {
    const o = start + k * 24;
    if (b[o] === 0) break;
    out.push({ offset: parseNumber(b.subarray(o, o + 12), `sparse offset at byte ${at}`), length: parseNumber(b.subarray(o + 12, o + 24), `sparse length at byte ${at}`) });
  }
}

/** The 1.0 map ("count\n" then "offset\nlength\n" pairs), or undefined while more text is needed. */
function parseSparse10(text: string, at: number): SparseChunk[] | undefined {
  const lines = text.split('\n');
  // the last piece has no newline yet: not a complete number
  lines.pop();
  if (lines.length === 0) return undefined;
  const count = toInt(lines[0], 'GNU sparse 1.0 map size', at);
  if (lines.length < 1 + 2 * count) return undefined;
  const chunks: SparseChunk[] = [];
  for (let i = 0; i < count; i++) chunks.push({ offset: toInt(lines[1 + 2 * i], 'sparse offset', at), length: toInt(lines[2 + 2 * i], 'sparse length', at) });
  return chunks;
}

function validateSparse(chunks: SparseChunk[], e: TarEntry, dataSize: number): void {
  let end = 0;
  let stored = 0;
  for (const c of chunks) {
    if (c.offset < end || c.offset + c.length > e.size) throw new TarError(`GNU sparse map of ${JSON.stringify(e.name.slice(0, 200))} is not in order or runs past its size of ${e.size}`);
    end = c.offset + c.length;
    stored += c.length;
  }
  if (stored !== dataSize) throw new TarError(`GNU sparse map of ${JSON.stringify(e.name.slice(0, 200))} holds ${stored} bytes but the entry stores ${dataSize}`);
}

/** Lays stored bytes out at their offsets, holes as zeros, up to the real size. */
function sparseSink(sink: EntrySink, chunks: SparseChunk[], realSize: number): EntrySink {
  let pos = 0;
  let i = 0;
  let left = 0;
  const zeros = (n: number) => {
    while (n > 0) {
      const k = Math.min(n, 64 * 1024);
      sink.data(Buffer.alloc(k));
      n -= k;
      pos += k;
    }
  };
  return {
    data(chunk) {
      let off = 0;
      while (off < chunk.length) {
        while (left === 0) {
          const c = chunks[i++]!;
          zeros(c.offset - pos);
          left = c.length;
        }
        const n = Math.min(left, chunk.length - off);
        sink.data(chunk.subarray(off, off + n));
        off += n;
        left -= n;
        pos += n;
      }
    },
    end() {
      zeros(realSize - pos);
      sink.end();
    },
  };
}
