/**
 * ObjectLayerCache over the ObjectStores it runs on — in memory, a directory (the CLI's local
 * mode) and S3 (a real s3rver, started and stopped here) — and the ObjectStore contract those
 * three share: round trips of every kind of extract entry, gzip storage, damaged objects as
 * misses that are deleted, and store failures that are not mistaken for misses.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-object-store.js';
import { DirObjectStore, MemoryObjectStore } from '../../shared/adapters/local/memory-messaging.js';
import { DrydockError } from '../../shared/errors.js';
import { decodeExtract, encodeExtract, layerCacheKey } from '../../shared/layers/cache-codec.js';
import type { LayerExtract } from '../../shared/layers/extract.js';
import { ObjectLayerCache } from '../../shared/layers/object-layer-cache.js';
import type { ObjectStore } from '../../shared/ports/stores.js';
import { startS3Local, type S3Local } from '../support/s3-local.js';

let s3: S3Local;
let s3Client: S3Client;
let dir: string;

beforeAll(async () => {
  s3 = await startS3Local();
  s3Client = new S3Client(s3.clientConfig);
  dir = await mkdtemp(join(tmpdir(), 'drydock-objects-'));
});

afterAll(async () => {
  s3Client?.destroy();
  await s3?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const LAYER = `sha256:${'1f'.repeat(32)}`;

/** An extract with one entry of every kind, built by hand. */
function sampleExtract(): LayerExtract {
  const status = Buffer.from('Package: openssl\nStatus: install ok installed\nVersion: 3.0.15-1~deb12u1\n\n'.repeat(40));
  return {
    digest: LAYER,
    diffId: `sha256:${'2e'.repeat(32)}`,
    entries: [
      { type: 'file', path: 'var/lib/dpkg/status', mode: 0o644, size: status.length, content: status },
      { type: 'file', path: 'usr/lib/bin.dat', mode: 0o755, size: 256, content: Buffer.from(Array.from({ length: 256 }, (_, i) => i)) },
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

function key(): string {
  return layerCacheKey(`sha256:${randomBytes(32).toString('hex')}`, 'fingerprint-1');
}

const stores: Array<[string, () => ObjectStore]> = [
  ['memory', () => new MemoryObjectStore()],
  ['directory', () => new DirObjectStore(dir)],
  ['S3 (s3rver)', () => new S3ObjectStore(s3Client, s3.bucket, 'cache-test/')],
];

describe.each(stores)('ObjectLayerCache on the %s store', (_name, make) => {
  it('round-trips an extract with every kind of entry', async () => {
    const objects = make();
    const cache = new ObjectLayerCache(objects);
    const k = key();
    const extract = sampleExtract();
    expect(await cache.has(k)).toBe(false);
    expect(await cache.get(k)).toBeUndefined();
    await cache.put(k, extract);
    expect(await cache.has(k)).toBe(true);
    const back = await cache.get(k);
    expect(back).toEqual(extract);
    const file = back!.entries[1]!;
    expect(file.type === 'file' && file.content.equals(Buffer.from(Array.from({ length: 256 }, (_, i) => i)))).toBe(true);
  });

  it('stores the codec\'s JSON gzip-compressed under <prefix><key>.json.gz', async () => {
    const objects = make();
    const cache = new ObjectLayerCache(objects, 'layers/');
    const k = key();
    const extract = sampleExtract();
    await cache.put(k, extract);
    expect(cache.objectKey(k)).toBe(`layers/${k}.json.gz`);
    const raw = (await objects.get(`layers/${k}.json.gz`))!;
    expect([raw[0], raw[1]]).toEqual([0x1f, 0x8b]);
    expect(decodeExtract(gunzipSync(raw))).toEqual(extract);
    expect(raw.length).toBeLessThan(encodeExtract(extract).length / 3);
  });

  it('a damaged object is a miss and is deleted', async () => {
    const objects = make();
    const cache = new ObjectLayerCache(objects);
    const damaged: Array<[string, Buffer]> = [
      ['random bytes', randomBytes(500)],
      ['truncated gzip', gzipSync(encodeExtract(sampleExtract())).subarray(0, 200)],
      ['gzip of something else', gzipSync('{"format":"drydock.layer-extract/0","digest":"x"}')],
      ['empty', Buffer.alloc(0)],
    ];
    for (const [what, bytes] of damaged) {
      const k = key();
      await objects.put(cache.objectKey(k), bytes);
      expect(await cache.has(k), what).toBe(true);
      expect(await cache.get(k), what).toBeUndefined();
      expect(await objects.exists(cache.objectKey(k)), `${what} deleted`).toBe(false);
      expect(await cache.has(k), what).toBe(false);
      // and the next put replaces it
      await cache.put(k, sampleExtract());
      expect(await cache.get(k), what).toEqual(sampleExtract());
    }
  });

  it('an extract stored without compression (inflated by an HTTP layer) still reads', async () => {
    const objects = make();
    const cache = new ObjectLayerCache(objects);
    const k = key();
    await objects.put(cache.objectKey(k), encodeExtract(sampleExtract()));
    expect(await cache.get(k)).toEqual(sampleExtract());
  });
});

describe('ObjectLayerCache failures', () => {
  /** A store whose reads or writes fail as S3 would under throttling. */
  function failing(op: 'get' | 'put', error: unknown): ObjectStore & { deleted: string[] } {
    const inner = new MemoryObjectStore();
    const deleted: string[] = [];
    return {
      put: (k, b, o) => (op === 'put' ? Promise.reject(error) : inner.put(k, b, o)),
      get: (k) => (op === 'get' ? Promise.reject(error) : inner.get(k)),
      open: (k) => inner.open(k),
      exists: (k) => inner.exists(k),
      delete: async (k) => void deleted.push(k),
      deleted,
    };
  }

  it('a store failure on read is thrown with its kind, not taken for a miss, and deletes nothing', async () => {
    const store = failing('get', new DrydockError('THROTTLED', 'S3 GetObject: SlowDown'));
    const cache = new ObjectLayerCache(store);
    await expect(cache.get(key())).rejects.toMatchObject({ code: 'THROTTLED', kind: 'retryable' });
    expect(store.deleted).toEqual([]);
  });

  it('a store failure on write is a CACHE_ERROR naming the layer (or keeps the store\'s own error)', async () => {
    const plain = new ObjectLayerCache(failing('put', new Error('disk full')));
    const e = await plain.put(key(), sampleExtract()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DrydockError);
    expect(e).toMatchObject({ code: 'CACHE_ERROR', kind: 'retryable', context: { layer: LAYER } });
    const s3ish = new ObjectLayerCache(failing('put', new DrydockError('SERVER_ERROR', 'S3 PutObject: InternalError')));
    await expect(s3ish.put(key(), sampleExtract())).rejects.toMatchObject({ code: 'SERVER_ERROR', context: { layer: LAYER } });
  });

  it('an aborted signal stops get and put', async () => {
    const cache = new ObjectLayerCache(new MemoryObjectStore());
    const ac = new AbortController();
    ac.abort();
    await expect(cache.get(key(), ac.signal)).rejects.toMatchObject({ code: 'ABORTED' });
    await expect(cache.put(key(), sampleExtract(), ac.signal)).rejects.toMatchObject({ code: 'ABORTED' });
  });
});

describe.each(stores)('ObjectStore contract: %s', (_name, make) => {
  async function collect(r: Readable): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of r) parts.push(Buffer.from(c as Uint8Array));
    return Buffer.concat(parts);
  }

  it('put (Buffer, string, stream), get, open, exists, delete; missing keys are undefined / false', async () => {
    const s = make();
    const id = randomBytes(4).toString('hex');
    const bytes = randomBytes(200_000);
    await s.put(`c/${id}/buf.bin`, bytes, { contentType: 'application/octet-stream' });
    await s.put(`c/${id}/str.json`, '{"ok":true}', { contentType: 'application/json' });
    await s.put(`c/${id}/stream.bin`, Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]));
    expect((await s.get(`c/${id}/buf.bin`))!.equals(bytes)).toBe(true);
    expect((await s.get(`c/${id}/str.json`))!.toString()).toBe('{"ok":true}');
    expect((await s.get(`c/${id}/stream.bin`))!.equals(bytes)).toBe(true);
    expect((await collect((await s.open(`c/${id}/buf.bin`))!)).equals(bytes)).toBe(true);
    expect(await s.exists(`c/${id}/buf.bin`)).toBe(true);

    // overwrite
    await s.put(`c/${id}/str.json`, 'v2');
    expect((await s.get(`c/${id}/str.json`))!.toString()).toBe('v2');

    for (const missing of [`c/${id}/nope`, `c/${id}`, `c/${id}/buf.bin/deeper`]) {
      expect(await s.get(missing), missing).toBeUndefined();
      expect(await s.open(missing), missing).toBeUndefined();
      expect(await s.exists(missing), missing).toBe(false);
    }
    await s.delete(`c/${id}/buf.bin`);
    await s.delete(`c/${id}/buf.bin`);
    await s.delete(`c/${id}`);
    expect(await s.get(`c/${id}/buf.bin`)).toBeUndefined();
    expect(await s.exists(`c/${id}/stream.bin`)).toBe(true);
  });

  it('what get returns is a copy: changing it changes nothing stored', async () => {
    const s = make();
    const k = `copy/${randomBytes(4).toString('hex')}`;
    const original = Buffer.from('abc');
    await s.put(k, original);
    original[0] = 0x7a;
    const got = (await s.get(k))!;
    got[1] = 0x7a;
    expect((await s.get(k))!.toString()).toBe('abc');
  });
});

describe('DirObjectStore', () => {
  it('writes atomically: no temporary file is left behind, a failed stream leaves no object', async () => {
    const d = await mkdtemp(join(tmpdir(), 'drydock-dirstore-'));
    try {
      const s = new DirObjectStore(d);
      await s.put('a/b/c.json', '{}');
      const failing = Readable.from(
        (async function* () {
          yield Buffer.from('half');
          throw new Error('source died');
        })(),
      );
      await expect(s.put('a/b/d.json', failing)).rejects.toMatchObject({ code: 'CACHE_ERROR' });
      expect(await s.exists('a/b/d.json')).toBe(false);
      expect((await readdir(join(d, 'a', 'b'))).sort()).toEqual(['c.json']);
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });

  it('refuses keys that would leave its directory', async () => {
    const s = new DirObjectStore(dir);
    for (const bad of ['../escape', 'a/../../b', '/abs', 'a//b', 'a\\b', '']) {
      await expect(s.put(bad, 'x'), bad).rejects.toMatchObject({ code: 'CONFIG' });
    }
  });
});
