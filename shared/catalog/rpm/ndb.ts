/**
 * rpm's NDB `Packages.db` (rpm ≥ 4.15 "ndb" backend, the default on SUSE since SLES 15 SP3 /
 * openSUSE). Its layout (rpm lib/backend/ndb/rpmpkg.c), all integers little-endian:
 *
 * - A 32-byte header: magic "RpmP", format version 0, generation, number of slot pages
 *   (4096 bytes each, the first of which also holds this header), next package index.
 * - Slots of 16 bytes after the header, up to the end of the slot pages: magic "Slot",
 *   package index (0 = free slot), block offset and block count, in 16-byte blocks.
 * - At block offset × 16, the package's blob: a 16-byte head (magic "BlbS", package index,
 *   generation, blob length), the header blob, zero padding, and a 12-byte tail at the end
 *   of the slot's blocks (Adler-32 of everything from the head to the tail, blob length,
 *   magic "BlbE").
 *
 * Each slot is checked on its own (magics, package index, lengths inside the blocks and the
 * blocks inside the file, the checksum), so one damaged blob costs only its package. The
 * slot count is bounded by the slot pages the file really has, and slots whose blocks
 * overlap are refused (sound slots never do), so the work is bounded by the file's size.
 */
import { DatabaseReadBuilder, type DatabaseRead } from './records.js';

const HEADER_MAGIC = fourCC('RpmP');
const SLOT_MAGIC = fourCC('Slot');
const BLOB_HEAD_MAGIC = fourCC('BlbS');
const BLOB_TAIL_MAGIC = fourCC('BlbE');
const SLOT_PAGE = 4096;
const SLOT_SIZE = 16;
const BLOCK = 16;
const BLOB_HEAD = 16;
const BLOB_TAIL = 12;

function fourCC(s: string): number {
  return (s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24)) >>> 0;
}

/** True when `content` starts with the NDB magic. */
export function looksLikeNdb(content: Uint8Array): boolean {
  return content.length >= 4 && new DataView(content.buffer, content.byteOffset, 4).getUint32(0, true) === HEADER_MAGIC;
}

export function readNdb(content: Uint8Array): DatabaseRead {
  const out = new DatabaseReadBuilder();
  if (content.length < 32) {
    out.problem(`file of ${content.length} bytes is too short for an NDB database`);
    return out.result();
  }
  const view = new DataView(content.buffer, content.byteOffset, content.byteLength);
  const u32 = (at: number): number => view.getUint32(at, true);
  if (u32(0) !== HEADER_MAGIC) {
    out.problem('not an rpm NDB database (bad magic)');
    return out.result();
  }
  if (u32(4) !== 0) {
    out.problem(`unsupported NDB format version ${u32(4)}`);
    return out.result();
  }
  const slotPages = u32(12);
  if (slotPages === 0) {
    out.problem('the header declares no slot pages');
    return out.result();
  }
  let slotAreaEnd = slotPages * SLOT_PAGE;
  if (slotAreaEnd > content.length) {
    out.problem(`the header declares ${slotPages} slot pages but the file holds ${Math.floor(content.length / SLOT_PAGE)}: the packages of the missing slots are lost`);
    slotAreaEnd = content.length - (content.length % SLOT_SIZE);
  }
  // Slots first, with the checks that cost nothing; then, in block order, any two slots whose
  // blocks overlap are both refused (sound slots never share blocks), so that verifying the
  // blobs reads each byte of the file at most once however the slots are damaged.
  const slots: Slot[] = [];
  const seen = new Set<number>();
  for (let at = 2 * SLOT_SIZE; at + SLOT_SIZE <= slotAreaEnd; at += SLOT_SIZE) {
    const slotNo = (at - 2 * SLOT_SIZE) / SLOT_SIZE;
    if (u32(at) !== SLOT_MAGIC) {
      out.problem(`slot ${slotNo}: bad magic`);
      continue;
    }
    const pkgIndex = u32(at + 4);
    if (pkgIndex === 0) continue;
    const where = `package index ${pkgIndex}`;
    if (seen.has(pkgIndex)) {
      out.problem(`${where}: listed in more than one slot`);
      continue;
    }
    seen.add(pkgIndex);
    const blockOffset = u32(at + 8);
    const blockCount = u32(at + 12);
    const start = blockOffset * BLOCK;
    const end = start + blockCount * BLOCK;
    if (start < slotAreaEnd || end > content.length || end - start < BLOB_HEAD + BLOB_TAIL) {
      out.problem(`${where}: blocks ${blockOffset}+${blockCount} lie outside the data area of the file`);
      continue;
    }
    slots.push({ pkgIndex, where, start, end, overlaps: false });
  }
  const byStart = [...slots].sort((a, b) => a.start - b.start);
  for (let i = 1; i < byStart.length; i++) {
    const [previous, slot] = [byStart[i - 1] as Slot, byStart[i] as Slot];
    if (slot.start < previous.end) previous.overlaps = slot.overlaps = true;
  }
  for (const slot of slots) {
    if (slot.overlaps) out.problem(`${slot.where}: its blocks overlap another package's`);
    else readBlob(content, view, slot, out);
  }
  return out.result();
}

interface Slot {
  pkgIndex: number;
  where: string;
  /** byte range of its blocks */
  start: number;
  end: number;
  overlaps: boolean;
}

/** The header blob in one slot's blocks, after checking its frame and checksum. */
function readBlob(content: Uint8Array, view: DataView, slot: Slot, out: DatabaseReadBuilder): void {
  const u32 = (at: number): number => view.getUint32(at, true);
  const { start, end, where } = slot;
  const length = u32(start + 12);
  const tail = end - BLOB_TAIL;
  if (u32(start) !== BLOB_HEAD_MAGIC || u32(start + 4) !== slot.pkgIndex) {
    out.problem(`${where}: blob head does not match its slot`);
    return;
  }
  if (BLOB_HEAD + length > tail - start || u32(tail + 4) !== length || u32(tail + 8) !== BLOB_TAIL_MAGIC) {
    out.problem(`${where}: blob length ${length} does not fit its ${(end - start) / BLOCK} blocks, or its tail is damaged`);
    return;
  }
  if (adler32(content, start, tail) !== u32(tail)) {
    out.problem(`${where}: blob checksum mismatch`);
    return;
  }
  out.record(where, content.subarray(start + BLOB_HEAD, start + BLOB_HEAD + length));
}

/** Adler-32 (RFC 1950) of content[start, end). */
function adler32(content: Uint8Array, start: number, end: number): number {
  let a = 1;
  let b = 0;
  // 5552 bytes is the longest run before the sums must be reduced to stay exact in 32 bits.
  for (let i = start; i < end; ) {
    const stop = Math.min(end, i + 5552);
    for (; i < stop; i++) {
      a += content[i] as number;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}
