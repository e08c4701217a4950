import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DrydockError } from '../errors.js';

/** A regular file inside an uncompressed tar archive: where its bytes sit. */
export interface TarMember {
  name: string;
  offset: number;
  size: number;
}

const BLOCK = 512;
/** the largest PAX or GNU long-name header read from an archive (named in the error) */
export const MAX_ARCHIVE_HEADER_BYTES = 1024 * 1024;
/** the most members an archive index holds (named in the error) */
export const MAX_ARCHIVE_MEMBERS = 1_000_000;

/**
 * Random access to the files of an uncompressed tar archive (OCI and docker archives)
 * without extracting it: one pass over the headers records each member's offset, then
 * members are read in place. Reads ustar, PAX ("x") and GNU long-name ("L") headers.
 */
export class TarIndex {
  private constructor(
    readonly path: string,
    private readonly members: Map<string, TarMember>,
  ) {}

  static async open(path: string): Promise<TarIndex> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      throw new DrydockError('SOURCE_UNREADABLE', `cannot open archive: ${(e as Error).message}`, { context: { path }, cause: e });
    }
    try {
      return new TarIndex(path, await readHeaders(fh, path));
    } finally {
      await fh.close();
    }
  }

  names(): string[] {
    return [...this.members.keys()];
  }

  member(name: string): TarMember | undefined {
    return this.members.get(normalize(name));
  }

  /** The whole member (refused above maxBytes), or only its first `limit` bytes with `{ head: limit }`. */
  async read(name: string, maxBytes = 64 * 1024 * 1024, opts: { head?: number } = {}): Promise<Buffer> {
    const found = this.require(name);
    const m = opts.head === undefined ? found : { ...found, size: Math.min(found.size, opts.head) };
    if (m.size > maxBytes) {
      throw new DrydockError('LIMIT_EXCEEDED', `${name} in the archive is ${m.size} bytes, more than ${maxBytes}`, { context: { path: this.path } });
    }
    const fh = await open(this.path, 'r');
    try {
      const buf = Buffer.alloc(m.size);
      const { bytesRead } = await fh.read(buf, 0, m.size, m.offset);
      if (bytesRead !== m.size) throw new DrydockError('SOURCE_UNREADABLE', `archive is truncated inside ${name}`, { context: { path: this.path } });
      return buf;
    } finally {
      await fh.close();
    }
  }

  stream(name: string): Readable {
    const m = this.require(name);
    if (m.size === 0) return createReadStream(this.path, { start: 1, end: 0 });
    return createReadStream(this.path, { start: m.offset, end: m.offset + m.size - 1, highWaterMark: 1024 * 1024 });
  }

  private require(name: string): TarMember {
    const m = this.member(name);
    if (!m) throw new DrydockError('BLOB_NOT_FOUND', `${name} is not in the archive`, { context: { path: this.path } });
    return m;
  }
}

function normalize(name: string): string {
  return name.replace(/^(\.\/|\/)+/, '');
}

async function readHeaders(fh: FileHandle, path: string): Promise<Map<string, TarMember>> {
  const { size: fileSize } = await fh.stat();
  const members = new Map<string, TarMember>();
  const header = Buffer.alloc(BLOCK);
  let pos = 0;
  let longName: string | undefined;
  let paxPath: string | undefined;
  let paxSize: number | undefined;
  const fail = (why: string) => new DrydockError('SOURCE_UNREADABLE', `not a readable tar archive: ${why}`, { context: { path } });

  let count = 0;
  while (pos + BLOCK <= fileSize) {
    await fh.read(header, 0, BLOCK, pos);
    if (header.every((b) => b === 0)) break;
    if (!checksumOk(header)) throw fail(`bad header checksum at offset ${pos}`);
    if (++count > MAX_ARCHIVE_MEMBERS) {
      throw new DrydockError('LIMIT_EXCEEDED', `the archive has more than ${MAX_ARCHIVE_MEMBERS} members (limit MAX_ARCHIVE_MEMBERS)`, { context: { path } });
    }
    const type = String.fromCharCode(header[156] ?? 0);
    const headerName = () => JSON.stringify(cString(header.subarray(0, 100)).slice(0, 100));
    let size: number;
    try {
      size = paxSize ?? parseNumber(header.subarray(124, 136));
    } catch (e) {
      throw fail(`member ${headerName()} at offset ${pos}: ${(e as Error).message}`);
    }
    if (!Number.isSafeInteger(size) || size < 0) throw fail(`member ${headerName()} at offset ${pos} has an invalid size ${size}`);
    // header-only types (links, directories, devices) have no data whatever their size field says
    if ('123456'.includes(type)) size = 0;
    const dataOffset = pos + BLOCK;
    if (dataOffset + size > fileSize) throw fail(`truncated: member ${headerName()} at offset ${pos} needs ${size} bytes`);
    const next = dataOffset + Math.ceil(size / BLOCK) * BLOCK;

    if (type === 'x' || type === 'L' || type === 'g' || type === 'K') {
      if (size > MAX_ARCHIVE_HEADER_BYTES) {
        throw new DrydockError('LIMIT_EXCEEDED', `the archive's ${type === 'L' || type === 'K' ? 'GNU long name' : 'PAX'} header at offset ${pos} is ${size} bytes, more than ${MAX_ARCHIVE_HEADER_BYTES} (limit MAX_ARCHIVE_HEADER_BYTES)`, { context: { path } });
      }
      if (type === 'x' || type === 'L') {
        const data = Buffer.alloc(size);
        await fh.read(data, 0, size, dataOffset);
        if (type === 'L') longName = cString(data);
        else ({ path: paxPath, size: paxSize } = parsePax(data));
      }
      pos = next;
      continue;
    }
    let name = longName ?? paxPath;
    if (name === undefined) {
      name = cString(header.subarray(0, 100));
      const prefix = header.subarray(257, 262).toString('latin1') === 'ustar' ? cString(header.subarray(345, 500)) : '';
      if (prefix) name = `${prefix}/${name}`;
    }
    name = normalize(name);
    if (type === '0' || type === '\0' || type === '7') {
      members.set(name, { name, offset: dataOffset, size });
    } else if (type === '1') {
      const target = members.get(normalize(cString(header.subarray(157, 257))));
      if (target) members.set(name, { ...target, name });
    }
    longName = paxPath = paxSize = undefined;
    pos = next;
  }
  return members;
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  try {
    return parseNumber(h.subarray(148, 156)) === sum;
  } catch {
    return false;
  }
}

/** Octal, or GNU base-256 when the high bit of the first byte is set. */
function parseNumber(field: Buffer): number {
  if ((field[0]! & 0x80) !== 0) {
    if (field[0] === 0xff) throw new Error('negative number in a header field');
    let n = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const s = cString(field).trim();
  if (s && !/^[0-7]+$/.test(s)) throw new Error(`invalid number ${JSON.stringify(s.slice(0, 20))} in a header field`);
  return s ? parseInt(s, 8) : 0;
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString('utf8');
}

function parsePax(data: Buffer): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    if (space < 0) break;
    const len = parseInt(data.subarray(i, space).toString('latin1'), 10);
    if (!(len > 0)) break;
    const record = data.subarray(space + 1, i + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    if (key === 'path') out.path = value;
    else if (key === 'size') out.size = /^\d{1,16}$/.test(value) ? Number(value) : -1;
    i += len;
  }
  return out;
}
