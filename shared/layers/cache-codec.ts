import { createHash } from 'node:crypto';
import type { ExtractEntry, LayerExtract, LayerIssue } from './extract.js';

/**
 * The cache format's name and version, part of every cache key: a new version makes every
 * entry of the old one a miss. /1 was JSON with contents in base64; /2 is the binary layout
 * below, read without base64 and without scanning the contents as JSON text (issue 18: a warm
 * scan of the bench image decoded its 1.9 MB extract in ~11 ms, now ~3.5 ms).
 */
const FORMAT = 'drydock.layer-extract/2';

/**
 * The cache key of a layer: its blob digest and a fingerprint of everything that shapes the
 * extract (the paths catalogers need with their versions, the per-file limit). Change a
 * cataloger's needs or version and old extracts are simply never found again.
 */
export function layerCacheKey(digest: string, fingerprint: string): string {
  return createHash('sha256').update(`${FORMAT}\n${digest}\n${fingerprint}`).digest('hex');
}

/*
 * Layout:
 *   MAGIC (4 bytes) | header length H (u32, big-endian) | header (H bytes of UTF-8 JSON) | body
 * The header is the extract with each content (a file's bytes, a probe's result) replaced by its
 * [offset, length] in the body, plus `format` and `bodyBytes`, the body's exact length, so a
 * truncated or extended entry is refused. Decoded contents are views of the bytes read (no copy).
 */
const MAGIC = Buffer.from('DDX\x02', 'latin1');
const PREFIX = MAGIC.length + 4;
/** A header larger than this is refused before it is parsed (an extract's is a few hundred KiB). */
export const MAX_HEADER_BYTES = 256 * 1024 * 1024;

type Span = [offset: number, length: number];
type StoredEntry =
  | (Omit<Extract<ExtractEntry, { type: 'file' }>, 'content'> & { content: Span })
  | (Omit<Extract<ExtractEntry, { type: 'probed' }>, 'results'> & { results: Record<string, Span> })
  | Exclude<ExtractEntry, { type: 'file' } | { type: 'probed' }>;

/** The extract in the cache's binary layout. */
export function encodeExtract(extract: LayerExtract): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  const span = (b: Buffer): Span => {
    parts.push(b);
    const s: Span = [offset, b.length];
    offset += b.length;
    return s;
  };
  const entries: StoredEntry[] = extract.entries.map((e) =>
    e.type === 'file' ? { ...e, content: span(e.content) }
    : e.type === 'probed' ? { ...e, results: Object.fromEntries(Object.entries(e.results).map(([k, v]) => [k, span(v)])) }
    : e,
  );
  const header = Buffer.from(JSON.stringify({ format: FORMAT, ...extract, entries, bodyBytes: offset }));
  const prefix = Buffer.alloc(PREFIX);
  MAGIC.copy(prefix);
  prefix.writeUInt32BE(header.length, MAGIC.length);
  return Buffer.concat([prefix, header, ...parts], PREFIX + header.length + offset);
}

/** The extract, or undefined when the bytes are not a complete, well-formed extract of this format (never a throw). */
export function decodeExtract(bytes: Buffer): LayerExtract | undefined {
  try {
    return decode(bytes);
  } catch {
    return undefined;
  }
}

function decode(bytes: Buffer): LayerExtract | undefined {
  if (bytes.length < PREFIX || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const headerBytes = bytes.readUInt32BE(MAGIC.length);
  if (headerBytes > MAX_HEADER_BYTES || PREFIX + headerBytes > bytes.length) return undefined;
  const doc: unknown = JSON.parse(bytes.toString('utf8', PREFIX, PREFIX + headerBytes));
  const body = bytes.subarray(PREFIX + headerBytes);
  if (!isHeader(doc) || doc.bodyBytes !== body.length) return undefined;
  const content = (s: unknown): Buffer | undefined => {
    if (!Array.isArray(s) || s.length !== 2) return undefined;
    const [at, n] = s as unknown[];
    if (!Number.isSafeInteger(at) || !Number.isSafeInteger(n) || (at as number) < 0 || (n as number) < 0 || (at as number) + (n as number) > body.length) return undefined;
    return body.subarray(at as number, (at as number) + (n as number));
  };
  const entries: ExtractEntry[] = [];
  for (const e of doc.entries) {
    const entry = entryOf(e, content);
    if (!entry) return undefined;
    entries.push(entry);
  }
  const out: LayerExtract = { digest: doc.digest, entries, whiteouts: doc.whiteouts, opaqueDirs: doc.opaqueDirs, issues: doc.issues, stats: doc.stats };
  if (doc.diffId !== undefined) out.diffId = doc.diffId;
  return out;
}

interface Header {
  format: string;
  digest: string;
  diffId?: string;
  entries: unknown[];
  whiteouts: string[];
  opaqueDirs: string[];
  issues: LayerIssue[];
  stats: LayerExtract['stats'];
  bodyBytes: number;
}

function isHeader(doc: unknown): doc is Header {
  const d = doc as Partial<Record<keyof Header, unknown>> | null;
  if (typeof d !== 'object' || d === null || d.format !== FORMAT || typeof d.digest !== 'string') return false;
  if (d.diffId !== undefined && typeof d.diffId !== 'string') return false;
  if (!Array.isArray(d.entries) || !isStrings(d.whiteouts) || !isStrings(d.opaqueDirs) || !Array.isArray(d.issues)) return false;
  if (!d.issues.every((i: unknown) => isRecord(i) && typeof i.code === 'string' && typeof i.message === 'string' && typeof i.path === 'string' && typeof i.layer === 'string')) return false;
  const st = d.stats;
  return isRecord(st) && isCount(st.entries) && isCount(st.uncompressedBytes) && isCount(st.compressedBytes) && isCount(d.bodyBytes);
}

/** One stored entry as an ExtractEntry, its contents resolved in the body; undefined when malformed. */
function entryOf(e: unknown, content: (s: unknown) => Buffer | undefined): ExtractEntry | undefined {
  if (!isRecord(e) || typeof e.path !== 'string' || !isCount(e.mode)) return undefined;
  const { path, mode } = e;
  switch (e.type) {
    case 'file': {
      const bytes = content(e.content);
      return bytes && isCount(e.size) ? { type: 'file', path, mode, size: e.size, content: bytes } : undefined;
    }
    case 'symlink':
    case 'hardlink':
      return typeof e.target === 'string' ? { type: e.type, path, mode, target: e.target } : undefined;
    case 'skipped':
      return isCount(e.size) ? { type: 'skipped', path, mode, size: e.size } : undefined;
    case 'probed': {
      if (!isRecord(e.results)) return undefined;
      const results: Record<string, Buffer> = {};
      for (const [name, s] of Object.entries(e.results)) {
        const bytes = content(s);
        if (!bytes) return undefined;
        results[name] = bytes;
      }
      return { type: 'probed', path, mode, results };
    }
    default:
      return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStrings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}
