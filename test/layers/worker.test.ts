/**
 * Layers walked in worker threads (LayerWorkerPool, issue 18): the same inventory as the
 * in-thread walk, every limit enforced inside the worker (per layer and, through the shared
 * image budget, per image) with the same DrydockError, and a worker that crashes or is
 * killed fails its layer instead of hanging the scan. The worker is the real entry point
 * (shared/layers/layer-worker.ts), bundled with esbuild as `npm run bundle` ships it.
 * DRYDOCK_LAYER_WORKERS pins the thread count, so the tests do not depend on this machine's cores
 * (unset, a scan takes one less than the cores, see workerCount).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DrydockError } from '../../shared/errors.js';
import { openSource } from '../../shared/image/open.js';
import type { LayerLimits } from '../../shared/layers/extract.js';
import { LayerWorkerPool, layerWorkerScript, workerCount } from '../../shared/layers/worker-pool.js';
import type { WorkerJob } from '../../shared/layers/worker-protocol.js';
import { scanImage, scanPlan, type ImageInventory } from '../../shared/scan.js';
import { ensureDebianRootfs } from '../support/debootstrap.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { DEBIAN_OS_RELEASE, gzipBomb, hostileImage, tarEnd, tarFile, tarHeader } from '../support/hostile-layers.js';
import { blobPath, buildImage, type BuiltImage, type FileSpec } from '../support/image-builder.js';

let work: string;
let n = 0;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-worker-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

/** A tree of real files as layer entries, under `at` in the image. */
async function filesOf(dir: string, at: string): Promise<FileSpec[]> {
  const out: FileSpec[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const full = join(e.parentPath, e.name);
    out.push({ path: join(at, relative(dir, full)), content: await readFile(full) });
  }
  return out;
}

/** Scans `ref` with layer workers (pinned to 2) or in this thread (0); says how many layers the workers walked. */
async function scanWith(threads: 0 | 2, ref: string, limits: Partial<LayerLimits> = {}): Promise<{ inv: ImageInventory[]; walked: number }> {
  vi.stubEnv('DRYDOCK_LAYER_WORKERS', String(threads));
  const walk = vi.spyOn(LayerWorkerPool.prototype, 'walk');
  try {
    const inv = await scanImage(await openSource(ref), ref, { limits });
    return { inv, walked: walk.mock.calls.length };
  } finally {
    walk.mockRestore();
    vi.unstubAllEnvs();
  }
}

async function failureWith(threads: 0 | 2, ref: string, limits: Partial<LayerLimits> = {}): Promise<{ e: DrydockError; walked: number }> {
  vi.stubEnv('DRYDOCK_LAYER_WORKERS', String(threads));
  const walk = vi.spyOn(LayerWorkerPool.prototype, 'walk');
  try {
    const e = await scanImage(await openSource(ref), ref, { limits }).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(DrydockError);
    return { e: e as DrydockError, walked: walk.mock.calls.length };
  } finally {
    walk.mockRestore();
    vi.unstubAllEnvs();
  }
}

describe('worker threads: the same inventory as the in-thread walk', () => {
  it('a Debian bookworm rootfs (debootstrap) with the npm and dpkg fixtures in two more layers and a whiteout', async () => {
    const dir = join(work, `img${n++}`);
    const npm = await filesOf(join(SHARED_FIXTURES, 'pkgdb', 'npm', 'node_modules'), 'app/node_modules');
    await buildImage(dir, {
      tag: 'real',
      layers: [
        { fromDirectory: await ensureDebianRootfs(), compression: 'gzip' },
        { files: npm, compression: 'gzip' },
        // a whiteout of a package the rootfs has, so squashing across worker-walked layers counts
        { files: [{ path: 'usr/share/doc/.wh.bash', content: '' }, ...npm.slice(0, 3).map((f) => ({ ...f, path: f.path.replace('app/', 'srv/') }))], compression: 'gzip' },
      ],
    });
    const ref = `oci:${dir}:real`;
    const threaded = await scanWith(2, ref);
    const inThread = await scanWith(0, ref);
    expect(threaded.walked).toBe(3);
    expect(inThread.walked).toBe(0);
    expect(threaded.inv[0]!.packages.length).toBeGreaterThan(80);
    expect(threaded.inv[0]!.packages.some((p) => p.type === 'npm' && p.name === 'lodash')).toBe(true);
    expect(JSON.stringify(threaded.inv)).toBe(JSON.stringify(inThread.inv));
  }, 180_000);

  it('the real Ubuntu 18.04 dpkg status (trivy fixture) beside os-release, symlinks and a hard link', async () => {
    const dir = join(work, `img${n++}`);
    const status = await readFile(join(SHARED_FIXTURES, 'pkgdb', 'dpkg', 'trivy-ubuntu1804', 'var', 'lib', 'dpkg', 'status'));
    await buildImage(dir, {
      tag: 'real',
      layers: [
        { files: [{ path: 'etc/os-release', content: DEBIAN_OS_RELEASE }, { path: 'usr/lib/os-release', type: 'symlink', target: '../../etc/os-release' }], compression: 'gzip' },
        { files: [{ path: 'var/lib/dpkg/status', content: status }, { path: 'var/lib/dpkg/status-old', type: 'hardlink', target: 'var/lib/dpkg/status' }], compression: 'gzip', tarFormat: 'pax' },
      ],
    });
    const ref = `oci:${dir}:real`;
    const threaded = await scanWith(2, ref);
    const inThread = await scanWith(0, ref);
    expect(threaded.walked).toBe(2);
    // 91 stanzas, one of them "deinstall ok config-files"
    expect(threaded.inv[0]!.packages.filter((p) => p.type === 'deb')).toHaveLength(90);
    expect(JSON.stringify(threaded.inv)).toBe(JSON.stringify(inThread.inv));
  }, 60_000);
});

describe('worker threads: limits are enforced in the worker, with the same error', () => {
  const os = tarFile('etc/os-release', DEBIAN_OS_RELEASE);
  // invented: entries and kept files only need to be many or large, their content is irrelevant
  const many = (count: number, size: number, prefix: string) =>
    Array.from({ length: count }, (_, i) => tarFile(`usr/lib/${prefix}/node_modules/p${i}/package.json`, `{"name":"p${i}","version":"1.0.${i}","pad":"${'x'.repeat(size)}"}`));
  const gz = (pieces: Buffer[]) => ({ blob: gzipBomb(Buffer.concat([...pieces, tarEnd()]), 0), compression: 'gzip' as const });

  it.each([
    ['maxEntries', { maxEntries: 50 }],
    ['maxKeptBytes', { maxKeptBytes: 40_000 }],
    ['maxImageKeptBytes', { maxImageKeptBytes: 60_000 }],
    ['maxImageEntries', { maxImageEntries: 150 }],
  ] as const)('%s', async (name, limits) => {
    const dir = join(work, `img${n++}`);
    await hostileImage(dir, [gz([os, ...many(100, 500, 'a')]), gz(many(100, 500, 'b'))]);
    const ref = `oci:${dir}:hostile`;
    const threaded = await failureWith(2, ref, limits);
    const inThread = await failureWith(0, ref, limits);
    expect(threaded.walked).toBe(2);
    expect(threaded.e.code).toBe('LIMIT_EXCEEDED');
    expect(threaded.e.message).toContain(`limit ${name} =`);
    expect(threaded.e.message).toBe(inThread.e.message.replace(/\[layer [^\]]*\]/, threaded.e.message.match(/\[layer [^\]]*\]/)?.[0] ?? ''));
    expect(threaded.e.context.image).toBe(ref);
  }, 60_000);

  it('an inflation bomb stops at maxUncompressedBytes in the worker', async () => {
    const dir = join(work, `img${n++}`);
    const bomb = { blob: gzipBomb(tarHeader({ name: 'big', size: 1024 ** 3 }), 256 * 1024 * 1024), compression: 'gzip' as const };
    await hostileImage(dir, [gz([os]), bomb]);
    const { e, walked } = await failureWith(2, `oci:${dir}:hostile`, { maxUncompressedBytes: 32 * 1024 * 1024 });
    expect(walked).toBe(2);
    expect(e.code).toBe('LIMIT_EXCEEDED');
    expect(e.message).toContain('limit maxUncompressedBytes = 33554432');
  }, 60_000);

  it('a layer whose bytes are not its digest is a DIGEST_MISMATCH, as in the thread', async () => {
    const dir = join(work, `img${n++}`);
    await buildImage(dir, {
      tag: 'bad',
      layers: [
        { files: [{ path: 'etc/os-release', content: DEBIAN_OS_RELEASE }] },
        { files: [{ path: 'a', content: 'x'.repeat(1000) }], blobTransform: (b) => Buffer.concat([b.subarray(0, b.length - 9), Buffer.from([b[b.length - 9]! ^ 1]), b.subarray(b.length - 8)]), digestOf: 'original' },
      ],
    });
    const ref = `oci:${dir}:bad`;
    const threaded = await failureWith(2, ref);
    const inThread = await failureWith(0, ref);
    expect(threaded.walked).toBe(2);
    expect(threaded.e.code).toBe(inThread.e.code);
    expect(threaded.e.code).toBe('DIGEST_MISMATCH');
  }, 60_000);
});

describe('worker threads: faults end the layer, never hang it', () => {
  let built: BuiltImage;
  let pool: LayerWorkerPool | undefined;
  beforeAll(async () => {
    built = await buildImage(join(work, 'plain'), {
      tag: 'plain',
      layers: [{ files: [{ path: 'etc/os-release', content: DEBIAN_OS_RELEASE }, { path: 'var/lib/dpkg/status', content: 'Package: a\nStatus: install ok installed\nVersion: 1\n' }] }],
    });
  });
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });
  const job = (): WorkerJob => {
    const layer = built.layers[0]!;
    return { ...scanPlan().portable!, descriptor: { mediaType: layer.mediaType, digest: layer.digest, size: layer.size }, image: 'test/worker:1' };
  };
  const blob = () => createReadStream(blobPath(built.layoutDir, built.layers[0]!.digest));

  it('a worker crash fails the layer with CORRUPT_LAYER (retryable), and the next layer gets a fresh worker', async () => {
    pool = new LayerWorkerPool(1, (await layerWorkerScript())!);
    pool.crashNext = true;
    const e = await pool.walk(blob(), job()).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(DrydockError);
    expect((e as DrydockError).code).toBe('CORRUPT_LAYER');
    expect((e as DrydockError).retryable).toBe(true);
    expect((e as DrydockError).message).toMatch(/layer worker (failed|exited)/);
    const x = await pool.walk(blob(), job());
    expect(x.entries.some((en) => en.type === 'file' && en.path === '/var/lib/dpkg/status')).toBe(true);
  }, 60_000);

  it('a worker killed while it waits for bytes fails the layer; the stalled source is destroyed', async () => {
    pool = new LayerWorkerPool(1, (await layerWorkerScript())!);
    const stalled = new PassThrough();
    stalled.write((await readFile(blobPath(built.layoutDir, built.layers[0]!.digest))).subarray(0, 10));
    const walking = pool.walk(stalled, job()).then(() => undefined, (err: unknown) => err);
    // the only worker of the pool, once it has started: terminate it from outside
    await vi.waitFor(() => expect((pool as unknown as { all: Set<{ terminate(): Promise<number> }> }).all.size).toBe(1));
    await [...(pool as unknown as { all: Set<{ terminate(): Promise<number> }> }).all][0]!.terminate();
    const e = await walking;
    expect((e as DrydockError).code).toBe('CORRUPT_LAYER');
    expect((e as DrydockError).message).toContain('exited');
    expect(stalled.destroyed).toBe(true);
  }, 60_000);

  it('an abort ends the walk with ABORTED; a failing source with its error as the thread reports it', async () => {
    pool = new LayerWorkerPool(1, (await layerWorkerScript())!);
    const ac = new AbortController();
    const stalled = new PassThrough();
    const aborted = pool.walk(stalled, job(), { signal: ac.signal }).then(() => undefined, (err: unknown) => err);
    ac.abort();
    expect(((await aborted) as DrydockError).code).toBe('ABORTED');
    const failing = new Readable({ read() {} });
    const walking = pool.walk(failing, job()).then(() => undefined, (err: unknown) => err);
    failing.destroy(new Error('connection reset by peer'));
    const e = (await walking) as DrydockError;
    expect(e.code).toBe('NETWORK');
    expect(e.message).toContain('connection reset by peer');
  }, 60_000);
});

describe('workerCount', () => {
  it('by default (unset, empty or `auto`) one less than the cores (the main thread has the last), none on 2 cores or fewer; 0 or anything else turns them off', () => {
    // the cores as the scan sees them when none are given
    expect(workerCount(64, 64, {})).toBe(workerCount(64, 64, {}, availableParallelism()));
    expect(workerCount(64, 64, {}, 1)).toBe(0);
    expect(workerCount(64, 64, {}, 2)).toBe(0);
    expect(workerCount(64, 64, { DRYDOCK_LAYER_WORKERS: 'auto' }, 2)).toBe(0);
    expect(workerCount(64, 64, {}, 3)).toBe(2);
    expect(workerCount(64, 64, { DRYDOCK_LAYER_WORKERS: '' }, 8)).toBe(7);
    expect(workerCount(3, 2, {}, 8)).toBe(2);
    // asked for, a worker runs on 2 cores all the same
    expect(workerCount(3, 2, { DRYDOCK_LAYER_WORKERS: '1' }, 2)).toBe(1);
    const auto = availableParallelism() > 2 ? availableParallelism() - 1 : 0;
    expect(workerCount(64, 64, {})).toBe(auto);
    expect(workerCount(64, 64, { DRYDOCK_LAYER_WORKERS: '' })).toBe(auto);
    expect(workerCount(64, 64, { DRYDOCK_LAYER_WORKERS: 'auto' })).toBe(auto);
    expect(workerCount(4, 2, {})).toBe(Math.min(2, auto));
    expect(workerCount(4, 4, { DRYDOCK_LAYER_WORKERS: '0' })).toBe(0);
    expect(workerCount(4, 4, { DRYDOCK_LAYER_WORKERS: 'yes' })).toBe(0);
  });

  it('is min(asked, layers, concurrency), and 0 (in the thread) for a single layer', () => {
    expect(workerCount(3, 2, { DRYDOCK_LAYER_WORKERS: '8' })).toBe(2);
    expect(workerCount(5, 4, { DRYDOCK_LAYER_WORKERS: '3' })).toBe(3);
    expect(workerCount(5, 4, { DRYDOCK_LAYER_WORKERS: '1' })).toBe(1);
    expect(workerCount(2, 4, { DRYDOCK_LAYER_WORKERS: '8' })).toBe(2);
    expect(workerCount(1, 4, { DRYDOCK_LAYER_WORKERS: '8' })).toBe(0);
    expect(workerCount(4, 1, { DRYDOCK_LAYER_WORKERS: '8' })).toBe(1);
  });
});

describe('fewer workers than layers read at once: the others are walked in the main thread', () => {
  it('one worker, two layers at a time, three layers: both threads walk, the inventory is the in-thread one', async () => {
    const dir = join(work, `img${n++}`);
    const status = await readFile(join(SHARED_FIXTURES, 'pkgdb', 'dpkg', 'trivy-ubuntu1804', 'var', 'lib', 'dpkg', 'status'));
    await buildImage(dir, {
      tag: 'mixed',
      layers: [
        { files: [{ path: 'etc/os-release', content: DEBIAN_OS_RELEASE }], compression: 'gzip' },
        { files: [{ path: 'var/lib/dpkg/status', content: status }], compression: 'gzip' },
        { files: await filesOf(join(SHARED_FIXTURES, 'pkgdb', 'npm', 'node_modules'), 'app/node_modules'), compression: 'gzip' },
      ],
    });
    const ref = `oci:${dir}:mixed`;
    vi.stubEnv('DRYDOCK_LAYER_WORKERS', '1');
    const walk = vi.spyOn(LayerWorkerPool.prototype, 'walk');
    const room = vi.spyOn(LayerWorkerPool.prototype, 'hasRoom');
    const threaded = await scanImage(await openSource(ref), ref);
    // every layer asked for a worker; the first got it, the one read beside it did not (the pool has one)
    expect(room.mock.results.map((r) => r.value as boolean)).toHaveLength(3);
    expect(room.mock.results[0]!.value).toBe(true);
    expect(room.mock.results[1]!.value).toBe(false);
    expect(walk.mock.calls.length).toBe(room.mock.results.filter((r) => r.value === true).length);
    walk.mockRestore();
    room.mockRestore();
    const inThread = await scanWith(0, ref);
    expect(threaded[0]!.packages.filter((p) => p.type === 'deb')).toHaveLength(90);
    expect(JSON.stringify(threaded)).toBe(JSON.stringify(inThread.inv));
  }, 60_000);
});

describe('which layer gets the worker: the largest, whichever blob answers first', () => {
  it('a registry-like source whose largest layer answers last: that layer is still the one walked in the worker, the others beside it', async () => {
    const dir = join(work, `img${n++}`);
    await buildImage(dir, {
      tag: 'order',
      layers: [
        { files: [{ path: 'etc/os-release', content: DEBIAN_OS_RELEASE }], compression: 'gzip' },
        { files: await filesOf(join(SHARED_FIXTURES, 'pkgdb', 'npm', 'node_modules'), 'app/node_modules'), compression: 'gzip' },
        { files: [{ path: 'etc/motd', content: 'hello\n' }], compression: 'gzip' },
      ],
    });
    const ref = `oci:${dir}:order`;
    const source = await openSource(ref);
    const manifest = JSON.parse((await readFile(join(dir, 'index.json'), 'utf8')).toString()) as { manifests: { digest: string }[] };
    const layers = (JSON.parse(await readFile(blobPath(dir, manifest.manifests[0]!.digest), 'utf8')) as { layers: { digest: string; size: number }[] }).layers;
    const largest = [...layers].sort((a, b) => b.size - a.size)[0]!;
    expect(largest).toBe(layers[1]);
    // the largest blob opens last (a registry answering it late), and as a plain stream (the
    // pump path a registry's body takes), so the order the blobs open in cannot pick the worker's layer
    const open = source.openBlob.bind(source);
    source.openBlob = async (d, signal) => {
      if (d.digest === largest.digest) await new Promise((r) => setTimeout(r, 150));
      const raw = await open(d, signal);
      return Readable.from(raw, { objectMode: false });
    };
    vi.stubEnv('DRYDOCK_LAYER_WORKERS', '1');
    const walk = vi.spyOn(LayerWorkerPool.prototype, 'walk');
    const [inv] = await scanImage(source, ref, { concurrency: 2 });
    expect(walk.mock.calls.map((c) => c[1].descriptor.digest)[0]).toBe(largest.digest);
    // beside the worker, this thread walked the others: one worker, three layers, two at a time
    expect(walk.mock.calls.length).toBeLessThan(3);
    const inThread = await scanWith(0, ref);
    expect(JSON.stringify([inv])).toBe(JSON.stringify(inThread.inv));
  }, 60_000);
});

describe('LayerWorkerPool.reserve', () => {
  it('holds the room for a walk that starts after an await, and gives it back when cancelled', async () => {
    const script = await layerWorkerScript();
    expect(script).toBeDefined();
    const pool = new LayerWorkerPool(1, script!);
    try {
      expect(pool.hasRoom()).toBe(true);
      const held = pool.reserve();
      expect(held).toBeDefined();
      // the one worker is spoken for: nobody else gets room, and cancelling twice gives back one
      expect(pool.hasRoom()).toBe(false);
      expect(pool.reserve()).toBeUndefined();
      held!.cancel();
      held!.cancel();
      expect(pool.hasRoom()).toBe(true);
      expect(pool.reserve()).toBeDefined();
      expect(pool.hasRoom()).toBe(false);
    } finally {
      await pool.close();
    }
  });
});
