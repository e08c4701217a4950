/**
 * The layer cache's binary format (cache-codec.ts, format /2): round trips of every kind of
 * entry, a new key version (every /1 entry is a miss), and damaged entries — truncated,
 * extended, bit-flipped, spans outside the body, a header length of 4 GiB, the old JSON — as
 * misses, never a throw; through DirLayerCache, a damaged file is a miss and is removed.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirLayerCache } from '../../shared/adapters/local/dir-layer-cache.js';
import { decodeExtract, encodeExtract, layerCacheKey } from '../../shared/layers/cache-codec.js';
import type { LayerExtract } from '../../shared/layers/extract.js';

const LAYER = `sha256:${'ab'.repeat(32)}`;

function sample(): LayerExtract {
  const status = Buffer.from('Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b7\n\n'.repeat(20));
  return {
    digest: LAYER,
    diffId: `sha256:${'cd'.repeat(32)}`,
    entries: [
      { type: 'file', path: 'var/lib/dpkg/status', mode: 0o644, size: status.length, content: status },
      { type: 'file', path: 'etc/empty', mode: 0o600, size: 0, content: Buffer.alloc(0) },
      { type: 'file', path: 'usr/lib/all-bytes.bin', mode: 0o755, size: 256, content: Buffer.from(Array.from({ length: 256 }, (_, i) => i)) },
      { type: 'symlink', path: 'usr/lib/os-release', mode: 0o777, target: '../../etc/os-release' },
      { type: 'hardlink', path: 'usr/bin/python3', mode: 0o755, target: 'usr/bin/python3.11' },
      { type: 'skipped', path: 'var/lib/rpm/rpmdb.sqlite', mode: 0o644, size: 900_000_000 },
      { type: 'probed', path: 'usr/local/bin/app', mode: 0o755, results: { 'go-buildinfo': Buffer.from([0xff, 0x20, 0x47, 0x6f]), 'elf-note': Buffer.alloc(0) } },
    ],
    whiteouts: ['etc/old.conf'],
    opaqueDirs: ['opt/app'],
    issues: [{ code: 'LIMIT_EXCEEDED', message: 'file over 64 MiB not read', path: 'var/lib/rpm/rpmdb.sqlite', layer: LAYER }],
    stats: { entries: 1234, uncompressedBytes: 98_765_432, compressedBytes: 31_415_926 },
  };
}

/** The bytes the /1 codec wrote for `x`: JSON, contents in base64. */
function formatOne(x: LayerExtract): Buffer {
  const entries = x.entries.map((e) =>
    e.type === 'file' ? { ...e, content: e.content.toString('base64') }
    : e.type === 'probed' ? { ...e, results: Object.fromEntries(Object.entries(e.results).map(([k, v]) => [k, v.toString('base64')])) }
    : e,
  );
  return Buffer.from(JSON.stringify({ format: 'drydock.layer-extract/1', ...x, entries }));
}

/** Rewrites the JSON header of an encoded extract (the body unchanged). */
function withHeader(bytes: Buffer, edit: (h: Record<string, unknown>) => void): Buffer {
  const n = bytes.readUInt32BE(4);
  const header = JSON.parse(bytes.toString('utf8', 8, 8 + n)) as Record<string, unknown>;
  edit(header);
  const text = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.from(bytes.subarray(0, 8));
  prefix.writeUInt32BE(text.length, 4);
  return Buffer.concat([prefix, text, bytes.subarray(8 + n)]);
}

describe('cache-codec, format /2', () => {
  it('round-trips every kind of entry, contents byte for byte, and an extract without a diff id', () => {
    const x = sample();
    const back = decodeExtract(encodeExtract(x));
    expect(back).toEqual(x);
    const bytes = back!.entries[2]!;
    expect(bytes.type === 'file' && bytes.content.equals(Buffer.from(Array.from({ length: 256 }, (_, i) => i)))).toBe(true);
    const { diffId: _d, ...noDiff } = x;
    const back2 = decodeExtract(encodeExtract(noDiff));
    expect(back2).toEqual(noDiff);
    expect(back2 && 'diffId' in back2).toBe(false);
  });

  it('stores contents as they are (no base64): the entry is smaller than the /1 JSON', () => {
    const x = sample();
    const status = x.entries[0]!.type === 'file' ? x.entries[0]!.content : Buffer.alloc(0);
    const encoded = encodeExtract(x);
    expect(encoded.includes(status)).toBe(true);
    expect(encoded.length).toBeLessThan(formatOne(x).length);
  });

  it('has a new key version: no key of the /1 format is ever looked up again', () => {
    const fingerprint = 'fp-1';
    const v1 = createHash('sha256').update(`drydock.layer-extract/1\n${LAYER}\n${fingerprint}`).digest('hex');
    expect(layerCacheKey(LAYER, fingerprint)).toMatch(/^[0-9a-f]{64}$/);
    expect(layerCacheKey(LAYER, fingerprint)).not.toBe(v1);
    expect(layerCacheKey(LAYER, fingerprint)).toBe(layerCacheKey(LAYER, fingerprint));
    expect(layerCacheKey(LAYER, 'fp-2')).not.toBe(layerCacheKey(LAYER, fingerprint));
  });

  it('an entry of the /1 JSON format, or of no format, is a miss', () => {
    expect(decodeExtract(formatOne(sample()))).toBeUndefined();
    expect(decodeExtract(Buffer.alloc(0))).toBeUndefined();
    expect(decodeExtract(Buffer.from('DDX'))).toBeUndefined();
    expect(decodeExtract(Buffer.from('{"format":"drydock.layer-extract/2"}'))).toBeUndefined();
  });

  it('every truncation, and a byte more or less at the end, is a miss', () => {
    const encoded = encodeExtract(sample());
    for (let n = 0; n < encoded.length; n++) expect(decodeExtract(encoded.subarray(0, n)), `first ${n} bytes`).toBeUndefined();
    expect(decodeExtract(Buffer.concat([encoded, Buffer.from([0])]))).toBeUndefined();
  });

  it('a header length beyond the entry (up to 4 GiB) is a miss, decided before anything is parsed', () => {
    const encoded = Buffer.from(encodeExtract(sample()));
    for (const n of [0xffffffff, encoded.length, encoded.length - 7]) {
      const bad = Buffer.from(encoded);
      bad.writeUInt32BE(n, 4);
      expect(decodeExtract(bad), `header length ${n}`).toBeUndefined();
    }
  });

  it('a content span outside the body, negative, fractional or malformed is a miss', () => {
    const encoded = encodeExtract(sample());
    const spans: unknown[] = [[0, 1e9], [-1, 4], [1.5, 2], [0], ['0', '4'], null, { offset: 0, length: 4 }, [Number.MAX_SAFE_INTEGER, 1]];
    for (const span of spans) {
      const bad = withHeader(encoded, (h) => ((h.entries as Array<Record<string, unknown>>)[0]!.content = span));
      expect(decodeExtract(bad), JSON.stringify(span)).toBeUndefined();
      const badProbe = withHeader(encoded, (h) => ((h.entries as Array<Record<string, unknown>>)[6]!.results = { 'go-buildinfo': span }));
      expect(decodeExtract(badProbe), `probe ${JSON.stringify(span)}`).toBeUndefined();
    }
    // and the control: the same rewrite with the true span decodes
    expect(decodeExtract(withHeader(encoded, () => {}))).toEqual(sample());
  });

  it('malformed header fields are a miss: an unknown entry type, a path that is not a string, a stats field missing, a body length that lies', () => {
    const encoded = encodeExtract(sample());
    const edits: Array<[string, (h: Record<string, unknown>) => void]> = [
      ['entry type', (h) => ((h.entries as Array<Record<string, unknown>>)[3]!.type = 'device')],
      ['path', (h) => ((h.entries as Array<Record<string, unknown>>)[3]!.path = 7)],
      ['link target', (h) => delete (h.entries as Array<Record<string, unknown>>)[4]!.target],
      ['mode', (h) => ((h.entries as Array<Record<string, unknown>>)[0]!.mode = -1)],
      ['stats', (h) => delete (h.stats as Record<string, unknown>).entries],
      ['whiteouts', (h) => (h.whiteouts = [1])],
      ['issues', (h) => (h.issues = [{ code: 'X' }])],
      ['bodyBytes', (h) => (h.bodyBytes = (h.bodyBytes as number) + 1)],
      ['format', (h) => (h.format = 'drydock.layer-extract/1')],
      ['digest', (h) => delete h.digest],
      ['diffId', (h) => (h.diffId = 5)],
    ];
    for (const [what, edit] of edits) expect(decodeExtract(withHeader(encoded, edit)), what).toBeUndefined();
  });

  it('never throws on damaged bytes: each flipped byte gives a miss or a well-formed extract (fast-check)', () => {
    const encoded = encodeExtract(sample());
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: encoded.length - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }), (flips) => {
        const bad = Buffer.from(encoded);
        for (const [at, x] of flips) bad[at]! ^= x;
        const out = decodeExtract(bad);
        if (out !== undefined) {
          expect(typeof out.digest).toBe('string');
          for (const e of out.entries) expect(typeof e.path).toBe('string');
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('DirLayerCache with format /2', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'drydock-cache-codec-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('round-trips through a file named <key>.extract', async () => {
    const cache = new DirLayerCache(dir);
    const key = layerCacheKey(LAYER, 'fp-dir');
    expect(await cache.get(key)).toBeUndefined();
    await cache.put(key, sample());
    expect(await readdir(join(dir, key.slice(0, 2)))).toEqual([`${key}.extract`]);
    expect(await cache.get(key)).toEqual(sample());
  });

  it('a damaged file is a miss, is removed, and the next put replaces it', async () => {
    const cache = new DirLayerCache(dir);
    const key = layerCacheKey(LAYER, 'fp-damaged');
    await cache.put(key, sample());
    const file = join(dir, key.slice(0, 2), `${key}.extract`);
    const good = await readFile(file);
    for (const bad of [good.subarray(0, good.length - 1), formatOne(sample()), Buffer.from('not an extract')]) {
      await writeFile(file, bad);
      expect(await cache.get(key)).toBeUndefined();
      expect(await readdir(join(dir, key.slice(0, 2)))).toEqual([]);
      await cache.put(key, sample());
      expect(await cache.get(key)).toEqual(sample());
    }
  });
});
