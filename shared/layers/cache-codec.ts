import { createHash } from 'node:crypto';
import type { ExtractEntry, LayerExtract } from './extract.js';

const FORMAT = 'drydock.layer-extract/1';

/**
 * The cache key of a layer: its blob digest and a fingerprint of everything that shapes the
 * extract (the paths catalogers need with their versions, the per-file limit). Change a
 * cataloger's needs or version and old extracts are simply never found again.
 */
export function layerCacheKey(digest: string, fingerprint: string): string {
  return createHash('sha256').update(`${FORMAT}\n${digest}\n${fingerprint}`).digest('hex');
}

type StoredEntry = Omit<ExtractEntry, 'content' | 'results'> & { content?: string; results?: Record<string, string> };

/** JSON with file contents in base64: extracts hold only the few files catalogers need. */
export function encodeExtract(extract: LayerExtract): Buffer {
  const entries: StoredEntry[] = extract.entries.map((e) =>
    e.type === 'file' ? { ...e, content: e.content.toString('base64') }
    : e.type === 'probed' ? { ...e, results: mapValues(e.results, (b) => b.toString('base64')) }
    : e,
  );
  return Buffer.from(JSON.stringify({ format: FORMAT, ...extract, entries }));
}

/** The extract, or undefined when the bytes are not a complete extract of this format. */
export function decodeExtract(bytes: Buffer): LayerExtract | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isStored(doc)) return undefined;
  const { format: _format, entries, ...rest } = doc;
  return {
    ...rest,
    entries: entries.map((e): ExtractEntry => {
      if (e.type === 'file') return { ...e, content: Buffer.from(e.content ?? '', 'base64') } as ExtractEntry;
      if (e.type === 'probed') return { ...e, results: mapValues(e.results ?? {}, (b) => Buffer.from(b, 'base64')) } as ExtractEntry;
      return e as ExtractEntry;
    }),
  };
}

function isStored(doc: unknown): doc is Omit<LayerExtract, 'entries'> & { format: string; entries: StoredEntry[] } {
  const d = doc as Partial<LayerExtract> & { format?: unknown };
  return (
    typeof d === 'object' && d !== null && d.format === FORMAT && typeof d.digest === 'string' &&
    Array.isArray(d.entries) && Array.isArray(d.whiteouts) && Array.isArray(d.opaqueDirs) &&
    Array.isArray(d.issues) && typeof d.stats === 'object'
  );
}

function mapValues<A, B>(o: Record<string, A>, f: (a: A) => B): Record<string, B> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));
}
