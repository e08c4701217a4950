/**
 * Every kind of bad input, each in a real image of its own (GNU tar, gzip/zstd CLIs), read
 * through an OCI layout: each fails with its own code and a message naming the image and
 * the layer — or, for what only makes the result incomplete, a warning naming both.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrydockError } from '../../shared/errors.js';
import { openSource } from '../../shared/image/open.js';
import { scanImage, type ScanOptions } from '../../shared/scan.js';
import { buildImage, type BuiltImage, type LayerSpec } from '../support/image-builder.js';
import { OS_RELEASE_12, stanza } from './helpers.js';

let work: string;
const GOOD: LayerSpec = { files: [{ path: 'etc/os-release', content: OS_RELEASE_12 }, { path: 'var/lib/dpkg/status', content: stanza('ok', '1') }] };
const BIG = { path: 'usr/share/big.txt', content: 'lorem ipsum dolor sit amet '.repeat(4000) };

async function image(name: string, bad: LayerSpec): Promise<{ ref: string; built: BuiltImage; bad: string }> {
  const layout = join(work, name);
  const built = await buildImage(layout, { tag: name, layers: [GOOD, bad] });
  return { ref: `oci:${layout}:${name}`, built, bad: built.layers[1]!.digest };
}

async function failure(ref: string, opts: ScanOptions = {}): Promise<DrydockError> {
  const e = await scanImage(await openSource(ref), ref, opts).then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(DrydockError);
  return e as DrydockError;
}

function namesBoth(e: DrydockError, ref: string, layer: string): void {
  expect(e.message).toContain(`[image ${ref}]`);
  expect(e.message).toContain(`[layer ${layer}]`);
  expect(e.context).toMatchObject({ image: ref, layer });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-bad-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('bad layers', () => {
  it('corrupt gzip (the digest matches the corrupt bytes): CORRUPT_LAYER, permanent', async () => {
    const { ref, bad } = await image('corrupt-gzip', {
      files: [BIG],
      blobTransform: (b) => {
        const c = Buffer.from(b);
        for (let i = 40; i < 80; i++) c[i] = c[i]! ^ 0x5a;
        return c;
      },
    });
    const e = await failure(ref);
    expect(e.code).toBe('CORRUPT_LAYER');
    expect(e.kind).toBe('permanent');
    expect(e.message).toMatch(/^corrupt gzip stream: /);
    namesBoth(e, ref, bad);
  });

  it('corrupt zstd: CORRUPT_LAYER', async () => {
    const { ref, bad } = await image('corrupt-zstd', {
      files: [BIG],
      compression: 'zstd',
      blobTransform: (b) => Buffer.concat([b.subarray(0, 20), Buffer.alloc(64, 0xee), b.subarray(84)]),
    });
    const e = await failure(ref);
    expect(e.code).toBe('CORRUPT_LAYER');
    expect(e.message).toMatch(/^corrupt zstd stream: /);
    namesBoth(e, ref, bad);
  });

  it('truncated tar inside a valid gzip: CORRUPT_LAYER naming the tar', async () => {
    const { ref, bad } = await image('truncated-tar', { files: [BIG], tarTransform: (t) => t.subarray(0, 3000) });
    const e = await failure(ref);
    expect(e.code).toBe('CORRUPT_LAYER');
    expect(e.message).toMatch(/^corrupt or truncated tar archive: /);
    namesBoth(e, ref, bad);
  });

  it('digest mismatch: DIGEST_MISMATCH with both digests', async () => {
    const { ref, bad } = await image('digest-mismatch', {
      files: [BIG],
      blobTransform: (b) => {
        const c = Buffer.from(b);
        c[c.length - 20] = c[c.length - 20]! ^ 1;
        return c;
      },
      digestOf: 'original',
    });
    const e = await failure(ref);
    expect(e.code).toBe('DIGEST_MISMATCH');
    expect(e.message).toMatch(new RegExp(`expected ${bad}, got sha256:[0-9a-f]{64}`));
    namesBoth(e, ref, bad);
  });

  it('declared size exceeded: SIZE_MISMATCH', async () => {
    const { ref, bad } = await image('size-exceeded', { files: [BIG], declaredSize: 100 });
    const e = await failure(ref);
    expect(e.code).toBe('SIZE_MISMATCH');
    expect(e.message).toContain('larger than its declared size of 100 bytes');
    namesBoth(e, ref, bad);
  });

  it('unknown media type: UNSUPPORTED_MEDIA_TYPE before any layer is read', async () => {
    const { ref, bad } = await image('unknown-type', { files: [BIG], mediaType: 'application/vnd.example.layer.v1.tar+lz4' });
    const e = await failure(ref);
    expect(e.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(e.message).toContain('application/vnd.example.layer.v1.tar+lz4');
    namesBoth(e, ref, bad);
  });

  it('limits exceeded: entries and uncompressed bytes, naming the limit', async () => {
    const { ref, bad } = await image('limits', { files: [BIG, { path: 'a' }, { path: 'b' }] });
    const entries = await failure(ref, { limits: { maxEntries: 3 } });
    expect(entries.code).toBe('LIMIT_EXCEEDED');
    expect(entries.message).toContain('maxEntries');
    expect(entries.context.layer).toBeDefined();
    const bytes = await failure(ref, { limits: { maxUncompressedBytes: 50_000 } });
    expect(bytes.code).toBe('LIMIT_EXCEEDED');
    namesBoth(bytes, ref, bad);
    const layers = await failure(ref, { limits: { maxLayers: 1 } });
    expect(layers.message).toContain('maxLayers');
  });
});

describe('what only makes the result incomplete', () => {
  it('a symlink loop is a SYMLINK_LOOP warning naming the path and layer; the rest is scanned', async () => {
    const { ref, bad } = await image('symlink-loop', { files: [
      { path: 'etc/.wh.os-release' },
      { path: 'etc/os-release', type: 'symlink', target: 'os-release.d/current' },
      { path: 'etc/os-release.d', type: 'symlink', target: '../etc/os-release.d2' },
      { path: 'etc/os-release.d2', type: 'symlink', target: 'os-release.d' },
    ] });
    const [inv] = await scanImage(await openSource(ref), ref);
    expect(inv!.packages.map((p) => p.name)).toEqual(['ok']);
    expect(inv!.warnings).toContainEqual(expect.objectContaining({ code: 'SYMLINK_LOOP', path: '/etc/os-release' }));
    const built = inv!.image.layers[1]!;
    expect(inv!.warnings.find((w) => w.code === 'SYMLINK_LOOP')?.layer).toBe(built.diffId ?? bad);
  });

  it('a needed file over the per-file limit is skipped with a warning', async () => {
    const { ref } = await image('big-status', { files: [{ path: 'var/lib/dpkg/status', content: stanza('big', '1').repeat(200) }] });
    const [inv] = await scanImage(await openSource(ref), ref, { limits: { maxFileBytes: 1000 } });
    expect(inv!.warnings).toContainEqual(expect.objectContaining({ code: 'LIMIT_EXCEEDED', path: '/var/lib/dpkg/status' }));
    // the skipped upper copy still hides the lower layer's status: no stale packages
    expect(inv!.packages).toEqual([]);
  });
});
