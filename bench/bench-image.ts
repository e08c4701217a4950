/**
 * The benchmark image, built once and cached in ~/.cache/drydock/bench-v1: a debootstrap Debian
 * rootfs plus two generated application layers, gzip-compressed (≥ 300 MB uncompressed).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDebianRootfs } from '../test/support/debootstrap.js';
import { buildImage, type BuiltImage } from '../test/support/image-builder.js';

export const BENCH_ROOT = join(homedir(), '.cache', 'drydock', 'bench-v1');
export const BENCH_LAYOUT = join(BENCH_ROOT, 'layout');
const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

/** Deterministic application files: half pseudo-random bytes, half repetitive text (≈ 55 % gzip ratio). */
async function writeAppTree(dir: string, files: number, seed: string): Promise<void> {
  let block = createHash('sha256').update(seed).digest();
  for (let i = 0; i < files; i++) {
    const sub = join(dir, 'srv', 'app', `mod${i % 16}`);
    await mkdir(sub, { recursive: true });
    const parts: Buffer[] = [];
    for (let j = 0; j < 1024; j++) {
      block = createHash('sha256').update(block).digest();
      parts.push(block, block.subarray(0, 8), Buffer.from(`line ${j} of file ${i}: the quick brown fox jumps over the lazy dog\n`.repeat(2)));
    }
    await writeFile(join(sub, `file${i}.bin`), Buffer.concat(parts));
  }
}

export async function benchImage(): Promise<BuiltImage> {
  const marker = join(BENCH_ROOT, 'image.json');
  if (existsSync(marker)) return JSON.parse(await readFile(marker, 'utf8')) as BuiltImage;
  log('building the benchmark image (once)…');
  const rootfs = await ensureDebianRootfs();
  const work = await mkdtemp(join(tmpdir(), 'drydock-bench-'));
  try {
    const app1 = join(work, 'app1');
    const app2 = join(work, 'app2');
    await writeAppTree(app1, 400, 'one');
    await writeAppTree(app2, 400, 'two');
    const built = await buildImage(BENCH_LAYOUT, {
      tag: 'bench',
      layers: [
        { fromDirectory: rootfs, compression: 'gzip' },
        { fromDirectory: app1, compression: 'gzip' },
        { fromDirectory: app2, compression: 'gzip' },
      ],
    });
    await writeFile(marker, JSON.stringify(built));
    return built;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

