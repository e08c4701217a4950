/**
 * The images of `npm run bench:peers`, each in the three forms the scanners read:
 *   - an OCI image layout (Drydock: `drydock scan oci:<layout>:<tag>`),
 *   - a docker archive made from it by skopeo (snyk-docker-plugin: `docker-archive:<tar>`),
 *   - the image's root filesystem as a directory (trivy: `rootfs <dir>`).
 *
 * Layouts and archives are cached in ~/.cache/drydock/peers-bench-v1 under a key of what they
 * are made of (the rootfs's dpkg status and the npm fixture's files), so a rebuilt rootfs or a
 * changed fixture gives a new image. The npm layer is copied from the shared fixture into a
 * temporary directory at every run (read by path, never copied into the repository); for the
 * image with that layer, the root filesystem trivy reads is the rootfs and the layer merged
 * into a temporary directory (hard links to the cached rootfs, so it costs no copy).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { ensureDebianRootfs, ensureDebianRootfsWith } from '../test/support/debootstrap.js';
import { run } from '../test/support/exec.js';
import { SHARED_FIXTURES } from '../test/support/fixtures.js';
import { buildImage, toDockerArchive, type LayerSpec } from '../test/support/image-builder.js';

export const BENCH_ROOT = join(homedir(), '.cache', 'drydock', 'peers-bench-v1');
/** node_modules of a few real npm packages (package.json files only), read by path. */
export const NPM_FIXTURE = join(SHARED_FIXTURES, 'pkgdb', 'npm', 'node_modules');
/** Where the npm layer puts the fixture in the image. */
const APP_NODE_MODULES = 'app/node_modules';

export interface BenchImage {
  /** short name for the table, e.g. "debian-minbase" */
  name: string;
  description: string;
  /** OCI image layout and the tag of the image in it */
  layout: string;
  tag: string;
  /** the same image as a docker archive (skopeo copy) */
  dockerArchive: string;
  layers: number;
  /** the image's root filesystem as a directory */
  rootfs: string;
  /** where that directory comes from, for the printout */
  rootfsOrigin: string;
}

interface ImageDef {
  name: string;
  description: string;
  /** Debian packages debootstrap installs besides minbase */
  include: string[];
  /** add a layer with the npm fixture at /app/node_modules */
  npmLayer: boolean;
}

const IMAGES: ImageDef[] = [
  { name: 'debian-minbase', description: 'Debian bookworm, debootstrap --variant=minbase', include: [], npmLayer: false },
  {
    name: 'debian-python-node',
    description: 'Debian bookworm minbase + python3-requests, python3-yaml; a layer with /app/node_modules (shared npm fixture)',
    include: ['python3-requests', 'python3-yaml'],
    npmLayer: true,
  },
];

/**
 * The bench images, built or taken from the cache, and this run's scratch directory (beside the
 * cache, so the merged rootfs can hard-link to it); `cleanup` removes the scratch directory.
 */
export async function prepareImages(log: (s: string) => void): Promise<{ images: BenchImage[]; scratch: string; cleanup: () => Promise<void> }> {
  await mkdir(BENCH_ROOT, { recursive: true });
  const scratch = await mkdtemp(join(BENCH_ROOT, 'run-'));
  const cleanup = () => rm(scratch, { recursive: true, force: true });
  try {
    const images: BenchImage[] = [];
    for (const def of IMAGES) images.push(await prepare(def, scratch, log));
    return { images, scratch, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

async function prepare(def: ImageDef, scratch: string, log: (s: string) => void): Promise<BenchImage> {
  const rootfs = def.include.length > 0 ? await ensureDebianRootfsWith(def.include) : await ensureDebianRootfs();
  let appLayer: string | undefined;
  if (def.npmLayer) {
    appLayer = join(scratch, `${def.name}-layer`);
    await cp(NPM_FIXTURE, join(appLayer, APP_NODE_MODULES), { recursive: true });
  }

  const key = createHash('sha256')
    .update(JSON.stringify({ v: 1, def, dpkgStatus: await treeHash(join(rootfs, 'var/lib/dpkg/status')), npm: appLayer ? await treeHash(appLayer) : null }))
    .digest('hex')
    .slice(0, 16);
  const dir = join(BENCH_ROOT, `${def.name}-${key}`);
  const layout = join(dir, 'layout');
  const dockerArchive = join(dir, 'image.docker.tar');
  const marker = join(dir, 'complete');
  if (!existsSync(marker)) {
    log(`building image ${def.name} (once for these inputs)…`);
    // an earlier build of this image from other inputs, or an interrupted one
    for (const e of await readdir(BENCH_ROOT)) if (e.startsWith(`${def.name}-`)) await rm(join(BENCH_ROOT, e), { recursive: true, force: true });
    const layers: LayerSpec[] = [{ fromDirectory: rootfs, compression: 'gzip' }];
    if (appLayer) layers.push({ fromDirectory: appLayer, compression: 'gzip' });
    await buildImage(layout, { tag: def.name, layers });
    await toDockerArchive(layout, def.name, dockerArchive, { name: `drydock-bench/${def.name}:latest` });
    await writeFile(marker, `${new Date().toISOString()}\n`);
  }

  let dirForTrivy = rootfs;
  if (appLayer) {
    // rootfs + layer, as the squashed image: hard links to the cached rootfs, the layer copied over it
    dirForTrivy = join(scratch, `${def.name}-rootfs`);
    try {
      await run('cp', ['-a', '--link', rootfs, dirForTrivy]);
    } catch {
      await rm(dirForTrivy, { recursive: true, force: true });
      await run('cp', ['-a', rootfs, dirForTrivy]); // another filesystem: a real copy
    }
    await run('cp', ['-a', `${appLayer}/.`, dirForTrivy]);
  }
  return {
    name: def.name,
    description: def.description,
    layout,
    tag: def.name,
    dockerArchive,
    layers: appLayer ? 2 : 1,
    rootfs: dirForTrivy,
    rootfsOrigin: appLayer ? `${rootfs} + the /app layer, merged into a temporary directory` : rootfs,
  };
}

/** sha256 over a file, or over every file under a directory (relative path and content, in name order). */
async function treeHash(path: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (p: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(p, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOTDIR') throw e;
      h.update(`${relative(path, p)}\0`).update(await readFile(p));
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) await walk(join(p, e.name));
  };
  await walk(path);
  return h.digest('hex');
}
