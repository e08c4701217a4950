/**
 * A real Debian 12 root filesystem for tests, built by debootstrap once per machine and
 * cached under ~/.cache/drydock/rootfs-bookworm-minbase.
 *
 * The build runs in a sibling temporary directory; a marker file is written only after
 * debootstrap succeeds, and the directory is then renamed into place, so a cached rootfs
 * is either complete or absent. Building needs root, debootstrap and access to
 * deb.debian.org; it takes a few minutes.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

const SUITE = 'bookworm';
const MIRROR = 'http://deb.debian.org/debian';
const CACHE_DIR = join(homedir(), '.cache', 'drydock');
const ROOTFS_DIR = join(CACHE_DIR, `rootfs-${SUITE}-minbase`);
/** Written inside the rootfs after a successful build; its absence means "not built". */
const MARKER = '.drydock-rootfs-complete';

let pending: Promise<string> | undefined;

/** Path of a debootstrapped Debian bookworm (minbase) rootfs, building it on first use. */
export function ensureDebianRootfs(): Promise<string> {
  pending ??= build().catch((e: unknown) => {
    pending = undefined;
    throw e;
  });
  return pending;
}

async function build(): Promise<string> {
  if (existsSync(join(ROOTFS_DIR, MARKER))) return ROOTFS_DIR;
  const debootstrap = findDebootstrap();
  if (!debootstrap) {
    throw new Error('debootstrap is not installed: run `apt-get install debootstrap` (as root) to build the Debian test rootfs');
  }
  await mkdir(CACHE_DIR, { recursive: true });
  const tmp = await mkdtemp(join(CACHE_DIR, `.rootfs-${SUITE}-minbase.partial-`));
  const logPath = `${tmp}.log`;
  await chmod(tmp, 0o755); // mkdtemp makes it 0700; a root directory is 0755
  try {
    const started = Date.now();
    await run(debootstrap, ['--variant=minbase', SUITE, tmp, MIRROR], logPath);
    const seconds = Math.round((Date.now() - started) / 1000);
    await writeFile(join(tmp, MARKER), `debootstrap --variant=minbase ${SUITE} ${MIRROR}\nbuilt ${new Date().toISOString()} in ${seconds}s\n`);
    replaceStale(ROOTFS_DIR);
    await rename(tmp, ROOTFS_DIR);
    rmSync(logPath, { force: true });
    return ROOTFS_DIR;
  } catch (e) {
    removeTree(tmp);
    // Another process may have finished the same build first.
    if (existsSync(join(ROOTFS_DIR, MARKER))) return ROOTFS_DIR;
    throw new Error(`building the Debian rootfs failed: ${e instanceof Error ? e.message : String(e)}\n--- end of ${logPath} ---\n${logTail(logPath)}`, { cause: e });
  }
}

function findDebootstrap(): string | undefined {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin']) {
    const p = join(dir, 'debootstrap');
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** Run a command with stdout and stderr appended to `logPath`; reject on a non-zero exit. */
async function run(cmd: string, args: string[], logPath: string): Promise<void> {
  const log = await open(logPath, 'a');
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(cmd, args, { stdio: ['ignore', log.fd, log.fd] });
      child.on('error', reject);
      child.on('close', (code, signal) => {
        if (code === 0) resolve();
        else reject(new Error(`${cmd} exited with ${signal ?? `code ${code}`}`));
      });
    });
  } finally {
    await log.close();
  }
}

function logTail(path: string, lines = 15): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** A rootfs directory without the marker was not completely built by this helper: drop it. */
function replaceStale(dir: string): void {
  if (existsSync(dir) && !existsSync(join(dir, MARKER))) removeTree(dir);
}

/**
 * Remove a (partial) rootfs. debootstrap mounts /proc and /sys inside the target while it
 * runs; anything still mounted there is unmounted first, and `rm --one-file-system` makes
 * sure a leftover mount is never descended into.
 */
function removeTree(path: string): void {
  if (!existsSync(path)) return;
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((mnt) => mnt === path || mnt.startsWith(`${path}/`))
    .sort((a, b) => b.length - a.length);
  for (const mnt of mounts) execFileSync('umount', ['-l', mnt]);
  execFileSync('rm', ['-rf', '--one-file-system', '--', path]);
}
