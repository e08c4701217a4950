import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { DrydockError } from '../../shared/errors.js';
import { MediaType } from '../../shared/image/media-types.js';
import { DEFAULT_LIMITS, type LayerExtract } from '../../shared/layers/extract.js';
import { pathMatcher } from '../../shared/layers/paths.js';
import { SquashedView } from '../../shared/layers/squash.js';
import { walkLayer, type WalkOptions } from '../../shared/layers/walker.js';

type Entry = { name: string; type?: 'file' | 'symlink' | 'link' | 'directory'; content?: string; linkname?: string; mode?: number };

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) {
    const type = e.type ?? 'file';
    if (type === 'file') pack.entry({ name: e.name, mode: e.mode ?? 0o644 }, e.content ?? '');
    else pack.entry({ name: e.name, type, linkname: e.linkname, mode: e.mode ?? 0o777 });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const wanted = pathMatcher({ exact: ['/etc/os-release', '/var/lib/dpkg/status'], globs: ['/var/lib/dpkg/status.d/*'] });

function walk(blob: Buffer, over: Partial<WalkOptions> & { mediaType?: string } = {}): Promise<LayerExtract> {
  const descriptor = { mediaType: over.mediaType ?? MediaType.OciLayerGzip, digest: digestOf(blob), size: blob.length, ...over.descriptor };
  return walkLayer(Readable.from([blob]), { descriptor, wanted, limits: DEFAULT_LIMITS, image: 'test/image:1', ...over });
}

async function rejection(p: Promise<unknown>): Promise<DrydockError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(DrydockError);
  return e as DrydockError;
}

describe('walkLayer', () => {
  it('keeps only needed files, every symlink, whiteouts and opaque dirs', async () => {
    const t = await tarOf([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
      { name: 'etc/passwd', content: 'root:x:0:0' },
      { name: './var/lib/dpkg/status', content: 'Package: a\n' },
      { name: 'var/lib/dpkg/status.d/b', content: 'Package: b\n' },
      { name: 'var/lib/dpkg/status.d/.wh.c' },
      { name: 'opt/.wh..wh..opq' },
      { name: 'usr/.wh..wh.plnk' },
    ]);
    const x = await walk(gzipSync(t));
    expect(x.entries.map((e) => `${e.type} ${e.path}`).sort()).toEqual([
      'file /var/lib/dpkg/status',
      'file /var/lib/dpkg/status.d/b',
      'symlink /etc/os-release',
    ]);
    expect(x.whiteouts).toEqual(['/var/lib/dpkg/status.d/c']);
    expect(x.opaqueDirs).toEqual(['/opt']);
    expect(x.stats.entries).toBe(8);
    expect(x.stats.compressedBytes).toBeGreaterThan(0);
  });

  it('resolves a hard link to a kept file in the same layer, and keeps an unresolved one for the squash', async () => {
    const t = await tarOf([
      { name: 'var/lib/dpkg/status', content: 'Package: a\n' },
      { name: 'var/lib/dpkg/status.d/a', type: 'link', linkname: 'var/lib/dpkg/status' },
      { name: 'var/lib/dpkg/status.d/z', type: 'link', linkname: 'usr/share/elsewhere' },
    ]);
    const x = await walk(gzipSync(t));
    const a = x.entries.find((e) => e.path === '/var/lib/dpkg/status.d/a');
    expect(a?.type === 'file' && a.content.toString()).toBe('Package: a\n');
    expect(x.entries.find((e) => e.path === '/var/lib/dpkg/status.d/z')).toMatchObject({ type: 'hardlink', target: '/usr/share/elsewhere' });
  });

  it('reads zstd and uncompressed layers the same as gzip', async () => {
    const t = await tarOf([{ name: 'var/lib/dpkg/status', content: 'Package: z\n' }]);
    const zst = execFileSync('zstd', ['-q', '-c'], { input: t });
    for (const [blob, mediaType] of [[zst, MediaType.OciLayerZstd], [t, MediaType.OciLayer], [gzipSync(t), MediaType.DockerLayerGzip]] as const) {
      const x = await walk(blob, { mediaType });
      expect(x.entries).toHaveLength(1);
    }
  });

  it('fails a blob whose digest differs from its descriptor, naming image and layer', async () => {
    const blob = gzipSync(await tarOf([{ name: 'a', content: 'x' }]));
    const wrong = `sha256:${'0'.repeat(64)}`;
    const e = await rejection(walk(blob, { descriptor: { mediaType: MediaType.OciLayerGzip, digest: wrong, size: blob.length } }));
    expect(e.code).toBe('DIGEST_MISMATCH');
    expect(e.message).toContain('[image test/image:1]');
    expect(e.message).toContain(`[layer ${wrong}]`);
  });

  it('fails at once when the blob is larger than declared, and when smaller at the end', async () => {
    const blob = gzipSync(await tarOf([{ name: 'a', content: 'x' }]));
    const big = await rejection(walk(blob, { descriptor: { mediaType: MediaType.OciLayerGzip, digest: digestOf(blob), size: blob.length - 1 } }));
    expect(big.code).toBe('SIZE_MISMATCH');
    expect(big.message).toContain('larger than its declared size');
    const small = await rejection(walk(blob, { descriptor: { mediaType: MediaType.OciLayerGzip, digest: digestOf(blob), size: blob.length + 10 } }));
    expect(small.code).toBe('SIZE_MISMATCH');
  });

  it('reports corrupt gzip with a correct digest as CORRUPT_LAYER, and a mismatching corrupt blob as DIGEST_MISMATCH', async () => {
    const blob = gzipSync(await tarOf([{ name: 'var/lib/dpkg/status', content: 'Package: a\n'.repeat(2000) }]));
    const corrupt = Buffer.from(blob);
    for (let i = 20; i < 60; i++) corrupt[i] = corrupt[i]! ^ 0xff;
    const e = await rejection(walk(corrupt));
    expect(e.code).toBe('CORRUPT_LAYER');
    expect(e.message).toMatch(/corrupt gzip stream/);
    const mismatch = await rejection(walk(corrupt, { descriptor: { mediaType: MediaType.OciLayerGzip, digest: digestOf(blob), size: corrupt.length } }));
    expect(mismatch.code).toBe('DIGEST_MISMATCH');
  });

  it('reports a truncated tar inside a valid gzip as CORRUPT_LAYER', async () => {
    const t = await tarOf([{ name: 'var/lib/dpkg/status', content: 'x'.repeat(5000) }]);
    const e = await rejection(walk(gzipSync(t.subarray(0, 2000))));
    expect(e.code).toBe('CORRUPT_LAYER');
    expect(e.message).toMatch(/tar/);
  });

  it('refuses an unknown media type before reading', async () => {
    const e = await rejection(walk(Buffer.from('x'), { mediaType: 'application/vnd.example.layer.v1+lz4' }));
    expect(e.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('enforces entry and byte limits, and skips files over the per-file limit with an issue', async () => {
    const t = gzipSync(await tarOf([
      { name: 'a', content: 'x'.repeat(100) },
      { name: 'b', content: 'y'.repeat(100) },
      { name: 'var/lib/dpkg/status', content: 'z'.repeat(100) },
    ]));
    expect((await rejection(walk(t, { limits: { ...DEFAULT_LIMITS, maxEntries: 2 } }))).code).toBe('LIMIT_EXCEEDED');
    const bytes = await rejection(walk(t, { limits: { ...DEFAULT_LIMITS, maxUncompressedBytes: 150 } }));
    expect(bytes.message).toContain('maxUncompressedBytes');
    const x = await walk(t, { limits: { ...DEFAULT_LIMITS, maxFileBytes: 50 } });
    expect(x.entries).toEqual([{ type: 'skipped', path: '/var/lib/dpkg/status', mode: 0o644, size: 100 }]);
    expect(x.issues).toMatchObject([{ code: 'LIMIT_EXCEEDED', path: '/var/lib/dpkg/status' }]);
  });
});

describe('SquashedView', () => {
  const layer = (id: string, part: Partial<LayerExtract>): LayerExtract => ({
    digest: `sha256:${id.repeat(64).slice(0, 64)}`,
    entries: [],
    whiteouts: [],
    opaqueDirs: [],
    issues: [],
    stats: { entries: 0, uncompressedBytes: 0, compressedBytes: 0 },
    ...part,
  });
  const file = (path: string, text: string) => ({ type: 'file' as const, path, mode: 0o644, size: text.length, content: Buffer.from(text) });

  it('applies whiteouts and opaque dirs to lower layers only, and names the last writer', () => {
    const view = new SquashedView([
      layer('a', { entries: [file('/d/one', '1'), file('/d/two', '2'), file('/o/old', 'old'), file('/keep', 'k')] }),
      layer('b', { whiteouts: ['/d/one'], opaqueDirs: ['/o'], entries: [file('/o/new', 'new'), file('/keep', 'k2')] }),
    ]);
    expect(view.files()).toEqual(['/d/two', '/keep', '/o/new']);
    expect(view.get('/keep')?.layer).toBe(`sha256:${'b'.repeat(64)}`);
    expect(view.get('/keep')?.content.toString()).toBe('k2');
  });

  it('whiting out a directory removes everything below it', () => {
    const view = new SquashedView([
      layer('a', { entries: [file('/var/lib/dpkg/status', 's'), file('/var/lib/other', 'o')] }),
      layer('b', { whiteouts: ['/var/lib/dpkg'] }),
    ]);
    expect(view.files()).toEqual(['/var/lib/other']);
  });

  it('resolves symlinks inside the root, relative and absolute, across layers', () => {
    const view = new SquashedView([
      layer('a', { entries: [file('/usr/lib/os-release', 'ID=debian')] }),
      layer('b', { entries: [
        { type: 'symlink', path: '/etc/os-release', mode: 0o777, target: '../usr/lib/os-release' },
        { type: 'symlink', path: '/lib', mode: 0o777, target: 'usr/lib' },
        { type: 'symlink', path: '/escape', mode: 0o777, target: '../../../../usr/lib/os-release' },
      ] }),
    ]);
    expect(view.get('/etc/os-release')?.content.toString()).toBe('ID=debian');
    expect(view.get('/lib/os-release')?.path).toBe('/usr/lib/os-release');
    expect(view.get('/escape')?.path).toBe('/usr/lib/os-release');
  });

  it('detects symlink loops and records them with the layer', () => {
    const view = new SquashedView([
      layer('a', { entries: [
        { type: 'symlink', path: '/etc/os-release', mode: 0o777, target: 'os-release2' },
        { type: 'symlink', path: '/etc/os-release2', mode: 0o777, target: '/etc/os-release' },
      ] }),
    ]);
    expect(view.get('/etc/os-release')).toBeUndefined();
    expect(view.issues).toMatchObject([{ code: 'SYMLINK_LOOP', path: '/etc/os-release', layer: `sha256:${'a'.repeat(64)}` }]);
  });

  it('resolves a hard link to a file kept in a lower layer', () => {
    const view = new SquashedView([
      layer('a', { entries: [file('/x/target', 'T')] }),
      layer('b', { entries: [{ type: 'hardlink', path: '/x/link', mode: 0o644, target: '/x/target' }] }),
    ]);
    expect(view.get('/x/link')?.content.toString()).toBe('T');
  });
});
