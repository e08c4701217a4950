/**
 * npm run bench — the image reader's speed and memory, measured in one run on this machine.
 *
 * Builds (once, cached in ~/.cache/drydock/bench-v1) a multi-layer image of at least 300 MB
 * uncompressed: a debootstrap Debian rootfs plus generated application layers, gzip-compressed.
 * Then measures, each in its own process, page cache warmed first:
 *   floor      Node's own zlib gunzip of the same blobs to nowhere, one after another
 *   gzip -dc   the same blobs through `gzip -dc >/dev/null`
 *   cold scan  `drydock scan` with an empty layer cache (digest verified, tar walked, dpkg read)
 *   warm scan  the same scan again with the cache filled
 *   small scan the rootfs layer alone, to show peak memory does not grow with image size
 *   in-process the same cold and warm scans as one library call each (what a warm Lambda
 *              container or a long-lived process pays), without Node's start-up
 * and prints the ratios and peak RSS against the targets (scan ≤ 1.1× the zlib floor,
 * peak RSS ≤ 150 MB whatever the size, warm rescan ≤ 5 % of the cold scan).
 */
import { spawn } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { DirLayerCache } from '../shared/adapters/local/dir-layer-cache.js';
import { openSource } from '../shared/image/open.js';
import { scanImage } from '../shared/scan.js';
import { ensureDebianRootfs } from '../test/support/debootstrap.js';
import { blobPath, buildImage } from '../test/support/image-builder.js';
import { BENCH_LAYOUT as LAYOUT, BENCH_ROOT as ROOT, benchImage as image } from './bench-image.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

interface Timed {
  ms: number;
  maxRssKiB?: number;
}

function runTimed(cmd: string, args: string[], opts: { shell?: boolean } = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], shell: opts.shell ?? false });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`));
      const m = /DRYDOCK_BENCH (\{.*\})/.exec(err);
      resolve(m ? { ms, ...(JSON.parse(m[1]!) as { maxRssKiB: number }) } : { ms });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

const built = await image();
const blobs = built.layers.map((l) => blobPath(LAYOUT, l.digest));
const compressed = built.layers.reduce((n, l) => n + l.size, 0);
let uncompressed = 0;
for (const b of blobs) {
  await pipeline(createReadStream(b), createGunzip(), new Writable({ write: (c: Buffer, _e, cb) => ((uncompressed += c.length), cb()) }));
}
log(`image: ${built.layers.length} gzip layers, ${(compressed / 1e6).toFixed(1)} MB compressed, ${(uncompressed / 1e6).toFixed(1)} MB uncompressed`);

const cli = ['--import', './bench/rss-probe.mjs', 'dist/cli/drydock.mjs', 'scan', `oci:${LAYOUT}:bench`, '-q', '-o', 'json'];
const floor: number[] = [];
const gzip: number[] = [];
const cold: Timed[] = [];
const warm: Timed[] = [];
const small: Timed[] = [];
// the rootfs layer alone, as its own image in a layout of its own
const smallLayout = join(ROOT, 'small-layout');
if (!existsSync(join(smallLayout, 'index.json'))) {
  await buildImage(smallLayout, { tag: 'small', layers: [{ fromDirectory: await ensureDebianRootfs(), compression: 'gzip' }] });
}
for (let i = 0; i < RUNS; i++) {
  floor.push((await runTimed(process.execPath, ['bench/gunzip-floor.mjs', ...blobs])).ms);
  gzip.push((await runTimed('sh', ['-c', blobs.map((b) => `gzip -dc '${b}' >/dev/null`).join(' && ')])).ms);
  const cache = await mkdtemp(join(tmpdir(), 'drydock-bench-cache-'));
  cold.push(await runTimed(process.execPath, [...cli, '--cache-dir', cache]));
  warm.push(await runTimed(process.execPath, [...cli, '--cache-dir', cache]));
  small.push(await runTimed(process.execPath, ['--import', './bench/rss-probe.mjs', 'dist/cli/drydock.mjs', 'scan', `oci:${smallLayout}:small`, '-q', '-o', 'json', '--no-cache']));
  await rm(cache, { recursive: true, force: true });
}
/** The scan as a library call in this process: no Node start-up, no bundle loading. */
async function inProcess(cacheDir: string): Promise<number> {
  const ref = `oci:${LAYOUT}:bench`;
  const start = process.hrtime.bigint();
  await scanImage(await openSource(ref), ref, { cache: new DirLayerCache(cacheDir) });
  return Number(process.hrtime.bigint() - start) / 1e6;
}
const libCold: number[] = [];
const libWarm: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const cache = await mkdtemp(join(tmpdir(), 'drydock-bench-cache-'));
  libCold.push(await inProcess(cache));
  libWarm.push(await inProcess(cache));
  await rm(cache, { recursive: true, force: true });
}

const f = median(floor);
const coldMs = median(cold.map((t) => t.ms));
const warmMs = median(warm.map((t) => t.ms));
const peak = Math.max(...cold.map((t) => t.maxRssKiB ?? 0)) / 1024;
const peakSmall = Math.max(...small.map((t) => t.maxRssKiB ?? 0)) / 1024;
const rows: [string, string, string][] = [
  ['floor: Node zlib gunzip to nowhere, layer after layer', fmt(f), ''],
  ['gzip -dc >/dev/null', fmt(median(gzip)), `${(median(gzip) / f).toFixed(2)}× floor`],
  ['drydock scan, cold cache', fmt(coldMs), `${(coldMs / f).toFixed(2)}× floor (target ≤ 1.10×); ${((uncompressed / 1e6) / (coldMs / 1000)).toFixed(0)} MB/s uncompressed`],
  ['drydock scan, warm cache', fmt(warmMs), `${((100 * warmMs) / coldMs).toFixed(1)} % of cold, Node start-up included (target ≤ 5 %)`],
  ['in-process scan, cold cache', fmt(median(libCold)), `${(median(libCold) / f).toFixed(2)}× floor`],
  ['in-process scan, warm cache', fmt(median(libWarm)), `${((100 * median(libWarm)) / median(libCold)).toFixed(1)} % of cold (target ≤ 5 %)`],
  ['peak RSS, cold scan', `${peak.toFixed(0)} MiB`, `target ≤ 150 MB; rootfs layer alone: ${peakSmall.toFixed(0)} MiB`],
];
console.log(`\nDrydock scan benchmark — median of ${RUNS} runs, ${(uncompressed / 1e6).toFixed(0)} MB uncompressed in ${built.layers.length} layers (${(compressed / 1e6).toFixed(0)} MB gzip)\n`);
const w0 = Math.max(...rows.map((r) => r[0].length));
const w1 = Math.max(...rows.map((r) => r[1].length));
for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
