/**
 * Builders for hostile layers and archives (issue 14): raw tar blocks written byte by byte
 * (so a header can lie about its size, type or checksum), hand-made zstd frames (RLE blocks
 * that inflate 4 bytes to 128 KiB, or a frame declaring a huge window), gzip bombs, and the
 * OCI layout that carries them. Each is scaled so the bound it tests trips quickly.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { constants as zc, gzipSync } from 'node:zlib';
import { buildImage, type BuiltImage, type FileSpec } from './image-builder.js';

const BLOCK = 512;

export interface RawHeader {
  name: string;
  /** the size field; a number is written in octal, a Buffer as the raw 12 bytes */
  size?: number | Buffer;
  /** typeflag character (default '0') */
  type?: string;
  linkname?: string;
  mode?: number;
  /** GNU magic ("ustar  \0") instead of ustar ("ustar\0" "00") */
  gnu?: boolean;
  /** bytes written over the header before the checksum is computed: [offset, bytes] */
  patch?: Array<[number, Buffer]>;
}

function octal(n: number, width: number): Buffer {
  return Buffer.from(`${n.toString(8).padStart(width - 1, '0')}\0`, 'latin1');
}

/** One 512-byte tar header with a correct checksum (whatever else it says). */
export function tarHeader(h: RawHeader): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(h.name.slice(0, 100), 0, 'utf8');
  octal(h.mode ?? 0o644, 8).copy(b, 100);
  octal(0, 8).copy(b, 108);
  octal(0, 8).copy(b, 116);
  if (Buffer.isBuffer(h.size)) h.size.copy(b, 124, 0, 12);
  else octal(h.size ?? 0, 12).copy(b, 124);
  octal(0, 12).copy(b, 136);
  b.write(h.type ?? '0', 156, 'latin1');
  if (h.linkname) b.write(h.linkname.slice(0, 100), 157, 'utf8');
  if (h.gnu) b.write('ustar  \0', 257, 'latin1');
  else {
    b.write('ustar\0', 257, 'latin1');
    b.write('00', 263, 'latin1');
  }
  for (const [off, bytes] of h.patch ?? []) bytes.copy(b, off);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  Buffer.from(`${sum.toString(8).padStart(6, '0')}\0 `, 'latin1').copy(b, 148);
  return b;
}

export function pad(data: Buffer): Buffer {
  const rest = (BLOCK - (data.length % BLOCK)) % BLOCK;
  return rest ? Buffer.concat([data, Buffer.alloc(rest)]) : data;
}

/** A regular file entry (header and padded body). */
export function tarFile(name: string, content: string | Buffer, type = '0'): Buffer {
  const body = Buffer.from(content);
  return Buffer.concat([tarHeader({ name, size: body.length, type }), pad(body)]);
}

export function tarSymlink(name: string, target: string): Buffer {
  if (Buffer.byteLength(target) <= 100) return tarHeader({ name, type: '2', linkname: target, mode: 0o777 });
  return Buffer.concat([gnuLong('K', target), tarHeader({ name, type: '2', linkname: target.slice(0, 100), mode: 0o777, gnu: true })]);
}

export function tarDir(name: string, size = 0): Buffer {
  return tarHeader({ name, type: '5', size, mode: 0o755 });
}

/** A GNU long name ("L") or long link ("K") header and its data. */
export function gnuLong(type: 'L' | 'K', value: string): Buffer {
  const data = Buffer.from(`${value}\0`);
  return Buffer.concat([tarHeader({ name: '././@LongLink', type, size: data.length, gnu: true }), pad(data)]);
}

/** A PAX extended header ("x") holding `records`. */
export function paxHeader(records: Array<[string, string]>, name = 'PaxHeaders/x'): Buffer {
  const body = Buffer.concat(
    records.map(([k, v]) => {
      const rest = ` ${k}=${v}\n`;
      let len = Buffer.byteLength(rest) + 1;
      while (String(len).length + Buffer.byteLength(rest) !== len) len = String(len).length + Buffer.byteLength(rest);
      return Buffer.from(`${len}${rest}`);
    }),
  );
  return Buffer.concat([tarHeader({ name, type: 'x', size: body.length }), pad(body)]);
}

/** The end-of-archive marker: two zero blocks. */
export function tarEnd(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}

export type SparseFormat = 'old-gnu' | 'pax-0.0' | 'pax-0.1' | 'pax-1.0';

/**
 * A GNU sparse entry for `content`, stored as its data runs with `holes` (zero runs) between
 * them: `runs` are [offset, data] pairs in order; the real size is `size`.
 */
export function sparseEntry(format: SparseFormat, name: string, runs: Array<[number, Buffer]>, size: number): Buffer {
  const data = Buffer.concat(runs.map(([, d]) => d));
  if (format === 'old-gnu') {
    if (runs.length > 4) throw new Error('old-gnu builder: at most 4 runs');
    const patch: Array<[number, Buffer]> = [];
    runs.forEach(([off, d], i) => {
      patch.push([386 + i * 24, octal(off, 12)], [386 + i * 24 + 12, octal(d.length, 12)]);
    });
    patch.push([483, octal(size, 12)]);
    return Buffer.concat([tarHeader({ name, type: 'S', size: data.length, gnu: true, patch }), pad(data)]);
  }
  const fake = `./GNUSparseFile.0/${name.split('/').pop()}`;
  if (format === 'pax-0.1') {
    const map = runs.flatMap(([off, d]) => [off, d.length]).join(',');
    return Buffer.concat([
      paxHeader([['GNU.sparse.size', String(size)], ['GNU.sparse.numblocks', String(runs.length)], ['GNU.sparse.name', name], ['GNU.sparse.map', map]]),
      tarHeader({ name: fake, size: data.length }),
      pad(data),
    ]);
  }
  if (format === 'pax-0.0') {
    const recs: Array<[string, string]> = [['GNU.sparse.size', String(size)], ['GNU.sparse.numblocks', String(runs.length)], ['GNU.sparse.name', name]];
    for (const [off, d] of runs) recs.push(['GNU.sparse.offset', String(off)], ['GNU.sparse.numbytes', String(d.length)]);
    return Buffer.concat([paxHeader(recs), tarHeader({ name: fake, size: data.length }), pad(data)]);
  }
  // 1.0: the map is text at the start of the data, padded to a block
  const mapText = pad(Buffer.from(`${runs.length}\n${runs.map(([off, d]) => `${off}\n${d.length}\n`).join('')}`));
  const stored = Buffer.concat([mapText, data]);
  return Buffer.concat([
    paxHeader([['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', name], ['GNU.sparse.realsize', String(size)]]),
    tarHeader({ name: fake, size: stored.length }),
    pad(stored),
  ]);
}

// ───────────── zstd frames by hand (RFC 8878) ─────────────

const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/** A frame header with a window descriptor (no content size, no checksum): window = 2^windowLog. */
function zstdFrameHeader(windowLog: number): Buffer {
  return Buffer.concat([ZSTD_MAGIC, Buffer.from([0x00, (windowLog - 10) << 3])]);
}

function blockHeader(last: boolean, type: number, size: number): Buffer {
  const v = (last ? 1 : 0) | (type << 1) | (size << 3);
  return Buffer.from([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff]);
}

/**
 * A zstd frame: `raw` stored as raw blocks, then `zeroBytes` of zeros as RLE blocks of
 * 128 KiB (4 bytes each: 1 GiB of zeros in 32 KiB), then `tail` raw. The bomb shape.
 */
export function zstdBomb(raw: Buffer, zeroBytes: number, tail: Buffer = Buffer.alloc(0), windowLog = 17): Buffer {
  const parts: Buffer[] = [zstdFrameHeader(windowLog)];
  const MAX = 128 * 1024;
  const pieces: Array<{ type: number; data: Buffer; size: number }> = [];
  for (let i = 0; i < raw.length; i += MAX) pieces.push({ type: 0, data: raw.subarray(i, i + MAX), size: Math.min(MAX, raw.length - i) });
  for (let left = zeroBytes; left > 0; left -= MAX) pieces.push({ type: 1, data: Buffer.from([0]), size: Math.min(MAX, left) });
  for (let i = 0; i < tail.length; i += MAX) pieces.push({ type: 0, data: tail.subarray(i, i + MAX), size: Math.min(MAX, tail.length - i) });
  if (!pieces.length) pieces.push({ type: 0, data: Buffer.alloc(0), size: 0 });
  pieces.forEach((p, i) => parts.push(blockHeader(i === pieces.length - 1, p.type, p.size), p.data));
  return Buffer.concat(parts);
}

/**
 * A 12 KB zstd frame that declares a window of 1.875 GiB (exponent 20, mantissa 7: 2^30 +
 * 7/8 * 2^30), followed by raw blocks; zstd itself refuses windows over 2^27 by default.
 */
export function zstdWindowBomb(): Buffer {
  const parts: Buffer[] = [Buffer.concat([ZSTD_MAGIC, Buffer.from([0x00, (20 << 3) | 7])])];
  for (let i = 0; i < 12; i++) parts.push(blockHeader(i === 11, 0, 1000), Buffer.alloc(1000));
  return Buffer.concat(parts);
}

/** gzip of a tar followed by `zeroBytes` zeros (streamed through zlib in pieces). */
export function gzipBomb(tar: Buffer, zeroBytes: number): Buffer {
  const zeros = Buffer.alloc(zeroBytes);
  return gzipSync(Buffer.concat([tar, zeros]), { level: zc.Z_BEST_COMPRESSION });
}

// ───────────── images ─────────────

export type LayerBlob = { blob: Buffer; compression: 'gzip' | 'zstd' | 'none' };

/**
 * An OCI layout (tag "hostile") whose layers are exactly these blobs (already compressed);
 * `files` layers come before them, built normally.
 */
export async function hostileImage(dir: string, blobs: LayerBlob[], before: FileSpec[][] = []): Promise<BuiltImage> {
  await mkdir(dir, { recursive: true });
  return buildImage(dir, {
    tag: 'hostile',
    layers: [
      ...before.map((files) => ({ files })),
      ...blobs.map(({ blob, compression }) => ({ files: [], compression, blobTransform: () => blob })),
    ],
  });
}

/** An uncompressed tar written to `path`, from raw pieces (for archive-index cases). */
export async function writeRawTar(path: string, pieces: Buffer[]): Promise<void> {
  await writeFile(path, Buffer.concat(pieces));
}

export const DEBIAN_OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n';

/** A dpkg status database with `names` installed. */
export function dpkgStatus(names: string[]): string {
  return names
    .map((n) => `Package: ${n}\nStatus: install ok installed\nPriority: optional\nSection: libs\nMaintainer: Test <t@example.org>\nArchitecture: amd64\nVersion: 1.0-1\nDescription: ${n}\n`)
    .join('\n');
}

export { join };
