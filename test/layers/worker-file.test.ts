/**
 * A layer that is a range of a local file (an OCI layout's blob, a member of an OCI or Docker
 * image archive) is read by its layer worker itself (issue 18: the main thread then holds none
 * of its bytes, which keeps a two-worker scan's peak memory at its goal). The same layer handed
 * over as a plain stream (what a registry's response is) is pumped through the main thread.
 * Both must give the in-thread walk's extract, report the same compressed bytes as progress,
 * and read exactly the member's range of an archive — not the archive around it.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DrydockError } from '../../shared/errors.js';
import { openSource } from '../../shared/image/open.js';
import { walkLayer } from '../../shared/layers/walker.js';
import { fileRangeOf, LayerWorkerPool, layerWorkerScript } from '../../shared/layers/worker-pool.js';
import type { FileRange, WorkerJob } from '../../shared/layers/worker-protocol.js';
import { scanImage, scanPlan } from '../../shared/scan.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { DEBIAN_OS_RELEASE } from '../support/hostile-layers.js';
import { blobPath, buildImage, toDockerArchive, toOciArchive, type BuiltImage } from '../support/image-builder.js';

let work: string;
let built: BuiltImage;
let pool: LayerWorkerPool | undefined;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-worker-file-'));
  const status = await readFile(join(SHARED_FIXTURES, 'pkgdb', 'dpkg', 'trivy-ubuntu1804', 'var', 'lib', 'dpkg', 'status'));
  built = await buildImage(join(work, 'layout'), {
    tag: 'v1',
    layers: [
      { files: [{ path: 'etc/os-release', content: DEBIAN_OS_RELEASE }, { path: 'var/lib/dpkg/status', content: status }], compression: 'gzip' },
      { files: [{ path: 'usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA', content: 'Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n' }], compression: 'gzip' },
    ],
  });
}, 120_000);
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});
afterEach(async () => {
  await pool?.close();
  pool = undefined;
  vi.unstubAllEnvs();
});

const jobFor = (i: number): WorkerJob => {
  const l = built.layers[i]!;
  return { ...scanPlan().portable!, descriptor: { mediaType: l.mediaType, digest: l.digest, size: l.size }, image: 'test/worker-file:1' };
};
const blob = (i: number) => blobPath(built.layoutDir, built.layers[i]!.digest);

describe('fileRangeOf: which blob streams a worker reads itself', () => {
  it('an unread fs.ReadStream of a named file, whole or a range; nothing else', async () => {
    const whole = createReadStream(blob(0), { highWaterMark: 64 * 1024 });
    expect(fileRangeOf(whole)).toEqual({ path: blob(0), start: 0, highWaterMark: 64 * 1024 });
    whole.destroy();
    const range = createReadStream(blob(0), { start: 10, end: 99 });
    expect(fileRangeOf(range)).toEqual({ path: blob(0), start: 10, end: 99, highWaterMark: 64 * 1024 });
    range.destroy();
    // once bytes have been taken from it, the stream is no longer the whole range
    const started = createReadStream(blob(0), { highWaterMark: 16 });
    await new Promise<void>((resolve) => started.once('readable', () => (started.read(), resolve())));
    expect(fileRangeOf(started)).toBeUndefined();
    started.destroy();
    expect(fileRangeOf(new PassThrough())).toBeUndefined();
    expect(fileRangeOf(Readable.from([Buffer.from('x')]))).toBeUndefined();
  });
});

describe('a layer read by the worker from its file, or pumped as a stream', () => {
  it('gives the in-thread extract and the same progress either way', async () => {
    pool = new LayerWorkerPool(1, (await layerWorkerScript())!);
    const bytes = await readFile(blob(0));
    const plan = scanPlan();
    const inThread = await walkLayer(createReadStream(blob(0)), { descriptor: jobFor(0).descriptor, wanted: plan.wanted, candidate: plan.candidate, probes: plan.needs.probes, limits: plan.limits, image: 'test/worker-file:1' });
    let fromFile = 0;
    const file = await pool.walk(createReadStream(blob(0)), jobFor(0), { onBytes: (n) => (fromFile += n) });
    let pumped = 0;
    // odd-sized chunks, as a network delivers them
    const chunks = Array.from({ length: Math.ceil(bytes.length / 7001) }, (_, i) => bytes.subarray(i * 7001, (i + 1) * 7001));
    const stream = await pool.walk(Readable.from(chunks), jobFor(0), { onBytes: (n) => (pumped += n) });
    expect(file.entries.some((e) => e.type === 'file' && e.path === '/var/lib/dpkg/status')).toBe(true);
    expect(JSON.stringify(file)).toBe(JSON.stringify(inThread));
    expect(JSON.stringify(stream)).toBe(JSON.stringify(inThread));
    expect(fromFile).toBe(bytes.length);
    expect(pumped).toBe(bytes.length);
  });

  it('a file that is not the layer (a range that cuts it short) fails as in the thread', async () => {
    pool = new LayerWorkerPool(1, (await layerWorkerScript())!);
    const size = built.layers[0]!.size;
    const e = await pool.walk(createReadStream(blob(0), { start: 0, end: size - 11 }), jobFor(0)).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(DrydockError);
    const plan = scanPlan();
    const inThread = await walkLayer(createReadStream(blob(0), { start: 0, end: size - 11 }), { descriptor: jobFor(0).descriptor, wanted: plan.wanted, limits: plan.limits, image: 'test/worker-file:1' }).then(() => undefined, (err: unknown) => err);
    expect((e as DrydockError).code).toBe((inThread as DrydockError).code);
    expect((e as DrydockError).message.replace(/ \[.*$/, '')).toBe((inThread as DrydockError).message.replace(/ \[.*$/, ''));
  });

  it('a missing file fails the layer (no hang), as the thread reports it', async () => {
    pool = new LayerWorkerPool(1, (await layerWorkerScript())!);
    const missing = createReadStream(join(work, 'no-such-blob'));
    // the stream fails to open on its own; the worker, given the path, fails to open it too
    missing.on('error', () => undefined);
    const e = await pool.walk(missing, jobFor(0)).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(DrydockError);
    expect((e as DrydockError).message).toContain('no-such-blob');
  });
});

describe('image archives: each layer is read from its member range by a worker', () => {
  it.each(['oci-archive', 'docker-archive'] as const)('%s: the same inventory as in the thread, every layer in a worker', async (kind) => {
    const tar = join(work, `${kind}.tar`);
    if (kind === 'oci-archive') await toOciArchive(built.layoutDir, tar);
    else await toDockerArchive(built.layoutDir, 'v1', tar);
    const ref = kind === 'oci-archive' ? `oci-archive:${tar}:v1` : `docker-archive:${tar}`;
    // each layer goes to its worker as a file range inside the archive (seen as the pool gets it)
    const ranges: (FileRange | undefined)[] = [];
    const original = LayerWorkerPool.prototype.walk;
    const walk = vi.spyOn(LayerWorkerPool.prototype, 'walk').mockImplementation(function (this: LayerWorkerPool, raw, job, opts) {
      ranges.push(fileRangeOf(raw));
      return original.call(this, raw, job, opts);
    });
    vi.stubEnv('DRYDOCK_LAYER_WORKERS', '2');
    const threaded = await scanImage(await openSource(ref), ref);
    walk.mockRestore();
    expect(ranges).toHaveLength(2);
    for (const range of ranges) {
      expect(range?.path).toBe(tar);
      expect(range?.start).toBeGreaterThan(0);
      expect(range?.end).toBeGreaterThan(range!.start);
    }
    vi.stubEnv('DRYDOCK_LAYER_WORKERS', '0');
    const inThread = await scanImage(await openSource(ref), ref);
    expect(threaded[0]!.packages.filter((p) => p.type === 'deb')).toHaveLength(90);
    expect(threaded[0]!.packages.some((p) => p.type === 'pypi' && p.name === 'requests')).toBe(true);
    expect(JSON.stringify(threaded)).toBe(JSON.stringify(inThread));
  }, 60_000);
});
