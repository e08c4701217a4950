/**
 * Smoke tests of the fixture builders, checked with independent tools (skopeo, GNU tar,
 * zstd, gzip) and a real registry.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../shared/image/media-types.js';
import type { ImageConfig, ImageIndex, ImageManifest } from '../../shared/image/types.js';
import { run } from './exec.js';
import {
  blobPath,
  buildImage,
  buildMultiPlatformImage,
  ociRef,
  pushToRegistry,
  REF_NAME_ANNOTATION,
  sha256,
  tarDirectory,
  toDockerArchive,
  toOciArchive,
  type BuiltImage,
  type BuiltMultiPlatformImage,
  type FileSpec,
} from './image-builder.js';
import { startRegistry, type TestRegistry } from './registry.js';

const LONG_PATH = `usr/share/doc/${'a'.repeat(60)}/${'b'.repeat(60)}/copyright`; // > 100 chars

const BASE_FILES: FileSpec[] = [
  { path: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' },
  { path: 'usr/bin/real', content: '#!/bin/sh\n', mode: 0o755 },
  { path: 'usr/bin/alias', type: 'hardlink', target: 'usr/bin/real' },
  { path: 'bin/sh', type: 'symlink', target: '/usr/bin/real' },
  { path: 'var/empty', type: 'dir', mode: 0o700 },
  { path: LONG_PATH, content: 'license text' },
];

let work: string;
let layout: string;
let reg: TestRegistry;
let single: BuiltImage;
let multi: BuiltMultiPlatformImage;

async function sh(cmd: string): Promise<string> {
  return (await run('sh', ['-c', cmd])).stdout.toString('utf8');
}

const skopeo = (...args: string[]) => run('skopeo', ['--insecure-policy', ...args]);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-builder-test-'));
  layout = join(work, 'layout');
  [reg, single, multi] = await Promise.all([
    startRegistry({ users: { drydock: 'hunter2' } }),
    buildImage(layout, {
      tag: 'single',
      layers: [
        { files: BASE_FILES },
        {
          files: [{ path: 'etc/.wh.os-release' }, { path: 'var/.wh..wh..opq' }, { path: LONG_PATH, content: 'v2' }],
          compression: 'zstd',
          tarFormat: 'pax',
        },
        { files: [{ path: 'opt/plain', content: 'uncompressed layer' }], compression: 'none' },
      ],
    }),
    buildMultiPlatformImage(layout, {
      tag: 'multi',
      attestation: true,
      platforms: [
        { platform: { os: 'linux', architecture: 'amd64' }, layers: [{ files: [{ path: 'arch', content: 'amd64' }] }] },
        {
          platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
          layers: [{ files: [{ path: 'arch', content: 'arm64' }] }],
        },
      ],
    }),
  ]);
});

afterAll(async () => {
  await reg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('OCI layout', () => {
  it('is read by skopeo, with the digests we report', async () => {
    const raw = (await skopeo('inspect', '--raw', ociRef(layout, 'single'))).stdout;
    expect(sha256(raw)).toBe(single.manifestDigest);
    const manifest = JSON.parse(raw.toString()) as ImageManifest;
    expect(manifest.mediaType).toBe(MediaType.OciManifest);
    expect(manifest.layers.map((l) => l.mediaType)).toEqual([
      MediaType.OciLayerGzip,
      MediaType.OciLayerZstd,
      MediaType.OciLayer,
    ]);

    const config = JSON.parse((await skopeo('inspect', '--config', '--raw', ociRef(layout, 'single'))).stdout.toString()) as ImageConfig;
    expect(config.rootfs?.diff_ids).toEqual(single.layers.map((l) => l.diffId));
    expect(config.history).toHaveLength(3);
    expect(config).toMatchObject({ os: 'linux', architecture: 'amd64' });
  });

  it('keeps several tags in one index.json', async () => {
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as ImageIndex;
    const tags = index.manifests.map((m) => m.annotations?.[REF_NAME_ANNOTATION]);
    expect(tags.sort()).toEqual(['multi', 'single']);
    const raw = (await skopeo('inspect', '--raw', ociRef(layout, 'multi'))).stdout;
    expect(sha256(raw)).toBe(multi.indexDigest);
  });

  it('is reproducible', async () => {
    const a = await buildImage(join(work, 'repro-a'), { layers: [{ files: BASE_FILES }] });
    const b = await buildImage(join(work, 'repro-b'), { layers: [{ files: BASE_FILES }] });
    expect(a.manifestDigest).toBe(b.manifestDigest);
    expect(a.layers[0]!.digest).toBe(single.layers[0]!.digest);
  });

  it('writes a BuildKit-style attestation manifest per platform', async () => {
    const index = JSON.parse(await readFile(blobPath(layout, multi.indexDigest), 'utf8')) as ImageIndex;
    expect(index.manifests).toHaveLength(4);
    const att = index.manifests.filter((m) => m.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest');
    expect(att.map((a) => a.platform)).toEqual([
      { architecture: 'unknown', os: 'unknown' },
      { architecture: 'unknown', os: 'unknown' },
    ]);
    expect(att.map((a) => a.annotations?.['vnd.docker.reference.digest'])).toEqual(multi.images.map((i) => i.manifestDigest));
  });
});

describe('layers', () => {
  it('lists hard link, symlink, dirs and the long path with tar -tvf (GNU format)', async () => {
    const listing = await sh(`tar -tvzf ${blobPath(layout, single.layers[0]!.digest)}`);
    expect(listing).toMatch(/^h\S+ 0\/0 .* usr\/bin\/alias link to usr\/bin\/real$/m);
    expect(listing).toMatch(/^l\S+ 0\/0 .* bin\/sh -> \/usr\/bin\/real$/m);
    expect(listing).toMatch(/^drwx------ 0\/0 .* var\/empty\/$/m);
    expect(listing).toMatch(/^-rwxr-xr-x 0\/0 .* usr\/bin\/real$/m);
    expect(listing).toContain(LONG_PATH);
    // parent directories are explicit entries, names have no "./" prefix
    expect(listing).toMatch(/^d\S+ 0\/0 .* usr\/share\/doc\/$/m);
    expect(listing).not.toContain('./');
    // GNU long name record
    expect(await sh(`gzip -dc ${blobPath(layout, single.layers[0]!.digest)} | grep -c '././@LongLink' || true`)).not.toBe('0\n');
  });

  it('decompresses the zstd layer with zstd -dc to its diff_id; PAX long path and whiteouts listed', async () => {
    const layer = single.layers[1]!;
    const tar = (await run('zstd', ['-dc', blobPath(layout, layer.digest)])).stdout;
    expect(sha256(tar)).toBe(layer.diffId);
    expect(tar.includes('PaxHeaders')).toBe(true);
    const listing = (await run('tar', ['-tf', '-'], { input: tar })).stdout.toString();
    expect(listing.split('\n')).toEqual(expect.arrayContaining(['etc/.wh.os-release', 'var/.wh..wh..opq', LONG_PATH]));
  });

  it('stores an uncompressed layer as-is', async () => {
    const layer = single.layers[2]!;
    expect(layer.digest).toBe(layer.diffId);
    expect(await sh(`tar -tf ${blobPath(layout, layer.digest)}`)).toBe('opt/\nopt/plain\n');
  });

  it('applies tar/blob transforms and can declare a mismatching digest', async () => {
    const dir = join(work, 'broken');
    const img = await buildImage(dir, {
      layers: [
        { files: [{ path: 'f', content: 'x'.repeat(5000) }], tarTransform: (t) => t.subarray(0, 700) },
        {
          files: [{ path: 'g', content: 'y' }],
          blobTransform: (b) => Buffer.concat([b.subarray(0, 20), Buffer.from([b[20]! ^ 0xff]), b.subarray(21)]),
          digestOf: 'original',
          declaredSize: 1,
        },
      ],
    });
    const [truncated, corrupt] = img.layers as [BuiltImage['layers'][0], BuiltImage['layers'][0]];
    const untarred = (await run('gzip', ['-dc', blobPath(dir, truncated.digest)])).stdout;
    expect(untarred.length).toBe(700);
    expect(sha256(untarred)).toBe(truncated.diffId);
    await expect(run('tar', ['-tf', '-'], { input: untarred })).rejects.toThrow(/tar/);

    const stored = await readFile(blobPath(dir, corrupt.digest));
    expect(sha256(stored)).not.toBe(corrupt.digest);
    expect(corrupt.size).toBe(1);
  });

  it('tars a directory tree (streamed) for fromDirectory / tarDirectory', async () => {
    const tree = join(work, 'tree');
    await mkdir(join(tree, 'etc'), { recursive: true });
    await writeFile(join(tree, 'etc', 'hostname'), 'box\n');
    const r = await tarDirectory(tree, { out: join(work, 'tree.tar.zst'), compression: 'zstd' });
    expect(await sh(`zstd -dc ${r.path} | tar -tf -`)).toBe('etc/\netc/hostname\n');
    expect(createHash('sha256').update(await readFile(r.path)).digest('hex')).toBe(r.digest.slice(7));
    const img = await buildImage(join(work, 'tree-layout'), { layers: [{ fromDirectory: tree, compression: 'zstd' }] });
    expect(img.layers[0]).toMatchObject({ digest: r.digest, diffId: r.diffId });
  });
});

describe('archives', () => {
  it('docker-archive (skopeo) has manifest.json, uncompressed layers named by diff_id', async () => {
    const dir = join(work, 'gz');
    const img = await buildImage(dir, { tag: 'gz', layers: [{ files: BASE_FILES }, { files: [{ path: 'x' }], compression: 'none' }] });
    const tar = join(work, 'docker.tar');
    await toDockerArchive(dir, 'gz', tar, { name: 'drydock/smoke:1' });
    const manifest = JSON.parse(await sh(`tar -xOf ${tar} manifest.json`)) as Array<{ Config: string; RepoTags: string[]; Layers: string[] }>;
    expect(manifest).toHaveLength(1);
    expect(manifest[0]!.RepoTags).toEqual(['docker.io/drydock/smoke:1']);
    expect(manifest[0]!.Config).toBe(`${img.configDigest.slice(7)}.json`);
    expect(manifest[0]!.Layers).toEqual(img.layers.map((l) => `${l.diffId.slice(7)}.tar`));
  });

  it('oci-archive is read by skopeo', async () => {
    const tar = join(work, 'oci.tar');
    await toOciArchive(layout, tar);
    const raw = (await skopeo('inspect', '--raw', `oci-archive:${tar}:single`)).stdout;
    expect(sha256(raw)).toBe(single.manifestDigest);
  });
});

describe('registry', () => {
  const inspect = (ref: string, ...auth: string[]) => skopeo('inspect', '--raw', '--tls-verify=false', ...auth, `docker://${ref}`);

  it('pushes with credentials; inspect works with them and fails without', async () => {
    const pushed = await pushToRegistry(layout, 'single', reg, 'smoke/single:1');
    expect(pushed).toEqual({ reference: `${reg.host}/smoke/single:1`, digest: single.manifestDigest });
    const raw = (await inspect(pushed.reference, '--creds', `${reg.username}:${reg.password}`)).stdout;
    expect(sha256(raw)).toBe(single.manifestDigest);
    await expect(inspect(pushed.reference, '--no-creds')).rejects.toThrow(/unauthorized|authentication required/i);
    await expect(pushToRegistry(layout, 'single', { host: reg.host }, 'smoke/anon:1')).rejects.toThrow(/unauthorized|authentication required/i);
  });

  it('keeps the index (and attestations) when pushing a multi-platform image with --all', async () => {
    const pushed = await pushToRegistry(layout, 'multi', reg, 'smoke/multi:1', { all: true });
    expect(pushed.digest).toBe(multi.indexDigest);
    const raw = (await inspect(pushed.reference, '--creds', `${reg.username}:${reg.password}`)).stdout;
    expect(sha256(raw)).toBe(multi.indexDigest);
    const index = JSON.parse(raw.toString()) as ImageIndex;
    expect(index.mediaType).toBe(MediaType.OciIndex);
    expect(index.manifests).toHaveLength(4);
    // a per-platform manifest is there too
    const arm = multi.images[1]!.manifestDigest;
    const m = (await inspect(`${reg.host}/smoke/multi@${arm}`, '--creds', `${reg.username}:${reg.password}`)).stdout;
    expect(sha256(m)).toBe(arm);
  });

  it('converts to Docker v2 schema 2 on request', async () => {
    const dir = join(work, 'v2s2');
    await buildImage(dir, { tag: 't', layers: [{ files: [{ path: 'a', content: 'a' }] }] });
    const pushed = await pushToRegistry(dir, 't', reg, 'smoke/docker:1', { format: 'v2s2' });
    const raw = (await inspect(pushed.reference, '--creds', `${reg.username}:${reg.password}`)).stdout;
    expect(sha256(raw)).toBe(pushed.digest);
    const manifest = JSON.parse(raw.toString()) as ImageManifest;
    expect(manifest.mediaType).toBe(MediaType.DockerManifest);
    expect(manifest.layers[0]!.mediaType).toBe(MediaType.DockerLayerGzip);
  });

  it('builds Docker-typed layouts for layout readers, and says why skopeo cannot push them', async () => {
    const dir = join(work, 'docker-layout');
    const img = await buildImage(dir, { tag: 'd', manifestFormat: 'docker', layers: [{ files: [{ path: 'a' }] }] });
    const manifest = JSON.parse(await readFile(blobPath(dir, img.manifestDigest), 'utf8')) as ImageManifest;
    expect(manifest.mediaType).toBe(MediaType.DockerManifest);
    expect(manifest.config.mediaType).toBe(MediaType.DockerConfig);
    expect(manifest.layers[0]!.mediaType).toBe(MediaType.DockerLayerGzip);
    await expect(pushToRegistry(dir, 'd', reg, 'smoke/nope:1')).rejects.toThrow(/skopeo cannot read/);
  });
});
