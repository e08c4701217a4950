/**
 * The layer workers as they ship (issue 18): the BUILT CLI (bin/drydock.cjs running the bundle
 * `npm run bundle` makes) walks the layers of a multi-layer OCI layout in worker threads started
 * from dist/cli/layer-worker.mjs, and prints the same inventory as with the workers switched off
 * (DRYDOCK_LAYER_WORKERS=0, every layer in the main thread). DRYDOCK_DEBUG=1 makes the scan say,
 * per layer, where it was walked: the observable proof that the shipped worker file was found.
 *
 * The image: the real Ubuntu 18.04 dpkg status (trivy's fixture) and os-release in one layer,
 * the real npm fixture tree in a second, a whiteout and a Python dist-info in a third.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../shared/cli/main.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { DEBIAN_OS_RELEASE } from '../support/hostile-layers.js';
import { DRYDOCK_BIN, ensureBuiltCli, REPO_ROOT } from '../support/hostile-corpus.js';
import { buildImage, ociRef, type BuiltImage, type FileSpec } from '../support/image-builder.js';

let work: string;
let image: string;
let built: BuiltImage;

function drydock(env: Record<string, string>, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [DRYDOCK_BIN, ...args],
      { cwd: REPO_ROOT, env: { ...process.env, DOCKER_CONFIG: join(work, 'no-docker'), ...env }, timeout: 120_000, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, out: stdout, err: stderr }),
    );
  });
}

async function filesOf(dir: string, at: string): Promise<FileSpec[]> {
  const out: FileSpec[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const full = join(e.parentPath, e.name);
    out.push({ path: join(at, relative(dir, full)), content: await readFile(full) });
  }
  return out;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-worker-cli-'));
  await ensureBuiltCli();
  const layout = join(work, 'layout');
  const status = await readFile(join(SHARED_FIXTURES, 'pkgdb', 'dpkg', 'trivy-ubuntu1804', 'var', 'lib', 'dpkg', 'status'));
  built = await buildImage(layout, {
    tag: 'three',
    layers: [
      { files: [{ path: 'etc/os-release', content: DEBIAN_OS_RELEASE }, { path: 'var/lib/dpkg/status', content: status }], compression: 'gzip' },
      { files: await filesOf(join(SHARED_FIXTURES, 'pkgdb', 'npm', 'node_modules'), 'app/node_modules'), compression: 'gzip' },
      {
        files: [
          { path: 'app/node_modules/.wh.lodash', content: '' },
          { path: 'usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA', content: 'Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n' },
        ],
        compression: 'gzip',
      },
    ],
  });
  image = ociRef(layout, 'three');
}, 300_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const WORKER_LINE = /^drydock: debug: layer (sha256:[0-9a-f]{64}) walked in worker thread (\d+) \((.+)\)$/gm;
const MAIN_LINE = /^drydock: debug: layer (sha256:[0-9a-f]{64}) walked in the main thread$/gm;

describe('the built CLI walks layers in the shipped worker', () => {
  it('dist/cli/layer-worker.mjs is built beside the CLI bundle', () => {
    expect(existsSync(join(REPO_ROOT, 'dist', 'cli', 'layer-worker.mjs'))).toBe(true);
  });

  it('every layer is walked in a worker thread from dist/cli/layer-worker.mjs, and the inventory equals the in-thread one', async () => {
    const threaded = await drydock({ DRYDOCK_DEBUG: '1', DRYDOCK_LAYER_WORKERS: '2' }, 'scan', image, '--no-cache', '-o', 'json');
    const inThread = await drydock({ DRYDOCK_DEBUG: '1', DRYDOCK_LAYER_WORKERS: '0' }, 'scan', image, '--no-cache', '-o', 'json');
    expect(threaded.code, threaded.err).toBe(EXIT.ok);
    expect(inThread.code, inThread.err).toBe(EXIT.ok);

    const digests = built.layers.map((l) => l.digest).sort();
    const inWorkers = [...threaded.err.matchAll(WORKER_LINE)];
    expect(inWorkers.map((m) => m[1]).sort()).toEqual(digests);
    // worker threads have ids ≥ 1 (the main thread is 0); the file is the one shipped beside the bundle
    for (const m of inWorkers) {
      expect(Number(m[2])).toBeGreaterThan(0);
      expect(m[3]).toBe(join(REPO_ROOT, 'dist', 'cli', 'layer-worker.mjs'));
    }
    expect(threaded.err).not.toMatch(MAIN_LINE);
    expect([...inThread.err.matchAll(MAIN_LINE)].map((m) => m[1]).sort()).toEqual(digests);
    expect(inThread.err).not.toMatch(WORKER_LINE);

    const a = JSON.parse(threaded.out) as { results: { packages: { type: string; name: string }[] }[] };
    const b = JSON.parse(inThread.out) as unknown;
    expect(a.results).toHaveLength(1);
    const packages = a.results[0]!.packages;
    // dpkg from the first layer, npm from the second (lodash whited out by the third), Python from the third
    expect(packages.filter((p) => p.type === 'deb')).toHaveLength(90);
    expect(packages.some((p) => p.type === 'npm')).toBe(true);
    expect(packages.some((p) => p.type === 'npm' && p.name === 'lodash')).toBe(false);
    expect(packages.some((p) => p.type === 'pypi' && p.name === 'requests')).toBe(true);
    expect(a).toEqual(b);
  }, 240_000);

  it('by default (DRYDOCK_LAYER_WORKERS unset or empty) one less worker than the cores, none on 2 cores or fewer: the main thread walks what no worker is free for', async () => {
    // empty, as unset: the helper passes this process's environment on
    const run = await drydock({ DRYDOCK_DEBUG: '1', DRYDOCK_LAYER_WORKERS: '' }, 'scan', image, '--no-cache', '-o', 'json');
    expect(run.code, run.err).toBe(EXIT.ok);
    const inWorkers = [...run.err.matchAll(WORKER_LINE)];
    const inMain = [...run.err.matchAll(MAIN_LINE)];
    expect([...inWorkers, ...inMain].map((m) => m[1]).sort()).toEqual(built.layers.map((l) => l.digest).sort());
    if (availableParallelism() > 2) {
      // three layers, two read at once (the CLI's default concurrency): the first goes to the worker
      expect(inWorkers.length).toBeGreaterThanOrEqual(1);
      expect(new Set(inWorkers.map((m) => m[2])).size).toBeLessThanOrEqual(Math.min(2, availableParallelism() - 1));
      for (const m of inWorkers) expect(m[3]).toBe(join(REPO_ROOT, 'dist', 'cli', 'layer-worker.mjs'));
    } else {
      expect(inWorkers).toHaveLength(0);
    }
    const packages = (JSON.parse(run.out) as { results: { packages: { type: string }[] }[] }).results[0]!.packages;
    expect(packages.filter((p) => p.type === 'deb')).toHaveLength(90);
  }, 240_000);
});
