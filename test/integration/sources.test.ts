/**
 * The image reader end to end on real images: built with GNU tar, gzip and zstd, turned
 * into an OCI archive with tar and into a docker archive with skopeo, pushed with skopeo to
 * a real Distribution registry (Debian's docker-registry) with htpasswd auth on 127.0.0.1,
 * then read back through every source kind.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirLayerCache } from '../../shared/adapters/local/dir-layer-cache.js';
import { DrydockError } from '../../shared/errors.js';
import { staticCredentials } from '../../shared/image/auth.js';
import { openSource } from '../../shared/image/open.js';
import type { ImageSource } from '../../shared/ports/image-source.js';
import { scanImage, type ImageInventory, type ScanOptions } from '../../shared/scan.js';
import { buildImage, buildMultiPlatformImage, pushToRegistry, toDockerArchive, toOciArchive, type BuiltImage, type LayerSpec } from '../support/image-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { comparable, dir, OS_RELEASE_12, stanza, statusFile } from './helpers.js';

const LONG = `${'very-long-directory-name-'.repeat(3)}/${'status-file-with-a-name-longer-than-one-hundred-characters-'.repeat(2)}x`;

/**
 * Three layers, one per compression and tar format, exercising every squash rule:
 *  L0 gzip/gnu:   os-release symlink → ../usr/lib/os-release; status (alpha, beta, gamma);
 *                 status.d/old and a status.d file under a > 100 character path (GNU long name)
 *  L1 zstd/pax:   status rewritten (alpha 1.1, beta, delta); status.d made opaque (hides L0's);
 *                 status.d/epsilon + epsilon2; /etc/os-release now a hard link to a new usr/lib/os-release
 *  L2 none/ustar: whiteout of status.d/epsilon2; status.d/eta
 */
export const LAYERS: LayerSpec[] = [
  {
    compression: 'gzip',
    tarFormat: 'gnu',
    files: [
      { path: 'usr/lib/os-release', content: 'ID=debian\nVERSION_ID="11"\nVERSION_CODENAME=bullseye\n' },
      { path: 'etc/os-release', type: 'symlink', target: '../usr/lib/os-release' },
      { path: 'var/lib/dpkg/status', content: statusFile(stanza('alpha', '1.0'), stanza('beta', '2.0', { Source: 'beta-src (2.0-1)' }), stanza('gamma', '3.0')) },
      { path: 'var/lib/dpkg/status.d/old', content: stanza('old-pkg', '1') },
      { path: `var/lib/dpkg/status.d/${LONG.replace('/', '-')}`, content: stanza('longname-pkg', '1') },
      { path: `opt/${LONG}`, content: 'not needed' },
    ],
  },
  {
    compression: 'zstd',
    tarFormat: 'pax',
    files: [
      dir('var/lib/dpkg/status.d'),
      { path: 'var/lib/dpkg/status.d/.wh..wh..opq' },
      { path: 'var/lib/dpkg/status', content: statusFile(stanza('alpha', '1.1'), stanza('beta', '2.0', { Source: 'beta-src (2.0-1)' }), stanza('delta', '4.0', { Architecture: 'all' })) },
      { path: 'var/lib/dpkg/status.d/epsilon', content: stanza('epsilon', '5.0') },
      { path: 'var/lib/dpkg/status.d/epsilon2', content: stanza('epsilon2', '5.2') },
      { path: 'usr/lib/os-release', content: OS_RELEASE_12 },
      { path: 'etc/.wh.os-release' },
    ],
  },
  {
    compression: 'none',
    tarFormat: 'ustar',
    files: [
      { path: 'var/lib/dpkg/status.d/.wh.epsilon2' },
      { path: 'var/lib/dpkg/status.d/eta', content: stanza('eta', '7:1.0-1') },
    ],
  },
];

// The hard link: a fourth layer would hide it behind a whiteout, so L1 carries it itself.
LAYERS[1]!.files!.push({ path: 'etc/os-release', type: 'hardlink', target: 'usr/lib/os-release' });

/** name, version, the layer that introduced it (beta is unchanged since L0, though L1 rewrote the status file) */
const EXPECTED = [
  ['alpha', '1.1', 1],
  ['beta', '2.0', 0],
  ['delta', '4.0', 1],
  ['epsilon', '5.0', 1],
  ['eta', '7:1.0-1', 2],
] as const;

let work: string;
let registry: TestRegistry;
let built: BuiltImage;
const refs: Record<string, string> = {};

async function scanOne(ref: string, opts: ScanOptions & { source?: ImageSource } = {}): Promise<ImageInventory> {
  const source = opts.source ?? (await openSource(ref, { credentials: staticCredentials('drydock', 's3cret') }));
  const results = await scanImage(source, ref, opts);
  expect(results).toHaveLength(1);
  return results[0]!;
}

async function scanError(ref: string, opts: ScanOptions & { source?: ImageSource } = {}): Promise<DrydockError> {
  const e = await scanOne(ref, opts).then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(DrydockError);
  return e as DrydockError;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-it-'));
  registry = await startRegistry({ users: { drydock: 's3cret' } });
  const layout = join(work, 'layout');
  built = await buildImage(layout, { tag: 'v1', layers: LAYERS });
  await toOciArchive(layout, join(work, 'image.oci.tar'));
  // skopeo 1.9 will not put a zstd layer in a docker archive: the same layers gzip-compressed
  // (identical tars, so identical diff ids) make the docker archive.
  const gzLayout = join(work, 'layout-gz');
  await buildImage(gzLayout, { tag: 'v1', layers: LAYERS.map((l) => ({ ...l, compression: l.compression === 'zstd' ? 'gzip' : l.compression })) });
  await toDockerArchive(gzLayout, 'v1', join(work, 'image.docker.tar'), { name: 'drydock-test/app:v1' });
  await pushToRegistry(layout, 'v1', { host: registry.host, username: 'drydock', password: 's3cret' }, 'team/app:v1');
  refs.oci = `oci:${layout}:v1`;
  refs['oci-archive'] = `oci-archive:${join(work, 'image.oci.tar')}:v1`;
  refs['docker-archive'] = `docker-archive:${join(work, 'image.docker.tar')}`;
  refs.registry = `${registry.host}/team/app:v1`;
});

afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('one image through every source kind', () => {
  it.each(['oci', 'oci-archive', 'docker-archive', 'registry'])('%s: squashes whiteouts, opaque dirs, hard links and symlinks', async (kind) => {
    const inv = await scanOne(refs[kind]!);
    expect(inv.packages.map((p) => [p.name, p.version, built.layers.findIndex((l) => l.diffId === p.layer)])).toEqual(EXPECTED);
    expect(inv.distro).toMatchObject({ id: 'debian', versionId: '12', codename: 'bookworm' });
    expect(inv.warnings).toEqual([]);
    expect(inv.image.layers.map((l) => l.diffId)).toEqual(built.layers.map((l) => l.diffId));
  });

  it('gives identical results from all four sources', async () => {
    const all = await Promise.all(Object.values(refs).map((r) => scanOne(r)));
    const first = comparable(all[0]!);
    for (const inv of all.slice(1)) expect(comparable(inv)).toEqual(first);
  });

  it('keeps the registry manifest digest (the pushed image is byte-identical)', async () => {
    const inv = await scanOne(refs.registry!);
    expect(inv.image.manifestDigest).toBe(built.manifestDigest);
    expect(inv.image.layers.map((l) => l.digest)).toEqual(built.layers.map((l) => l.digest));
  });
});

describe('registry errors', () => {
  it('wrong credentials: UNAUTHORIZED naming the image', async () => {
    const source = await openSource(refs.registry!, { credentials: staticCredentials('drydock', 'wrong') });
    const e = await scanError(refs.registry!, { source });
    expect(e.code).toBe('UNAUTHORIZED');
    expect(e.message).toContain(refs.registry!);
  });

  it('no credentials: UNAUTHORIZED', async () => {
    const source = await openSource(refs.registry!, { credentials: { get: async () => undefined } });
    expect((await scanError(refs.registry!, { source })).code).toBe('UNAUTHORIZED');
  });

  it('unknown tag: MANIFEST_NOT_FOUND naming the image', async () => {
    const ref = `${registry.host}/team/app:nope`;
    const e = await scanError(ref);
    expect(e.code).toBe('MANIFEST_NOT_FOUND');
    expect(e.message).toContain(ref);
  });
});

describe('multi-platform index', () => {
  let ref: string;
  beforeAll(async () => {
    const layout = join(work, 'multi');
    const platformLayer = (arch: string): LayerSpec[] => [{ files: [
      { path: 'etc/os-release', content: OS_RELEASE_12 },
      { path: 'var/lib/dpkg/status', content: stanza(`only-on-${arch}`, '1.0', { Architecture: arch }) },
    ] }];
    await buildMultiPlatformImage(layout, {
      tag: 'multi',
      attestation: true,
      platforms: [
        { platform: { os: 'linux', architecture: 'amd64' }, layers: platformLayer('amd64') },
        { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, layers: platformLayer('arm64') },
        { platform: { os: 'linux', architecture: 'arm', variant: 'v7' }, layers: platformLayer('armhf') },
      ],
    });
    await pushToRegistry(layout, 'multi', { host: registry.host, username: 'drydock', password: 's3cret' }, 'team/multi:1', { all: true });
    ref = `${registry.host}/team/multi:1`;
  });

  it('picks linux/amd64 by default', async () => {
    const inv = await scanOne(ref);
    expect(inv.packages.map((p) => p.name)).toEqual(['only-on-amd64']);
    expect(inv.image.indexDigest).toMatch(/^sha256:/);
  });

  it('picks the requested platform, arm64 with or without its implied v8 variant', async () => {
    for (const platform of [{ os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }]) {
      expect((await scanOne(ref, { platform })).packages.map((p) => p.name)).toEqual(['only-on-arm64']);
    }
    expect((await scanOne(ref, { platform: { os: 'linux', architecture: 'arm', variant: 'v7' } })).packages.map((p) => p.name)).toEqual(['only-on-armhf']);
  });

  it('scans every platform with "all", skipping attestation manifests', async () => {
    const source = await openSource(ref, { credentials: staticCredentials('drydock', 's3cret') });
    const results = await scanImage(source, ref, { platform: 'all' });
    expect(results.map((r) => `${r.image.platform.architecture}:${r.packages[0]?.name}`)).toEqual([
      'amd64:only-on-amd64', 'arm64:only-on-arm64', 'arm:only-on-armhf',
    ]);
  });

  it('names the available platforms when the requested one is missing', async () => {
    const e = await scanError(ref, { platform: { os: 'linux', architecture: 's390x' } });
    expect(e.code).toBe('PLATFORM_NOT_FOUND');
    expect(e.message).toContain('linux/amd64, linux/arm64/v8, linux/arm/v7');
  });
});

describe('layer cache', () => {
  it('reads each layer once: a warm rescan opens no blob and gives the same result', async () => {
    const cache = new DirLayerCache(join(work, 'cache'));
    const source = await openSource(refs.oci!);
    let opened = 0;
    const counting: ImageSource = { ...source, name: source.name, rootManifest: (s) => source.rootManifest(s), manifest: (d, s) => source.manifest(d, s), blob: (d, s) => source.blob(d, s), openBlob: (d, s) => { opened++; return source.openBlob(d, s); } };
    const cold = await scanOne(refs.oci!, { source: counting, cache });
    expect(opened).toBe(3);
    const warm = await scanOne(refs.oci!, { source: counting, cache });
    expect(opened).toBe(3);
    expect(warm.image.layers.every((l) => l.cached)).toBe(true);
    expect(comparable(warm)).toEqual(comparable(cold));
  });
});
