/**
 * A real Debian 12 root filesystem for tests, built by debootstrap once per machine and
 * cached under ~/.cache/drydock/rootfs-bookworm-minbase; variants with extra packages
 * (`ensureDebianRootfsWith`) are cached beside it, one directory per package set.
 *
 * The build runs in a sibling temporary directory; a marker file is written only after
 * debootstrap succeeds, and the directory is then renamed into place, so a cached rootfs
 * is either complete or absent. Building needs root, debootstrap and the Debian mirror this
 * machine's apt is configured with (read from /etc/apt at run time, never written here); it
 * takes a few minutes.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';

const SUITE = 'bookworm';
const CACHE_DIR = join(homedir(), '.cache', 'drydock');
const ROOTFS_DIR = join(CACHE_DIR, `rootfs-${SUITE}-minbase`);
/** Written inside the rootfs after a successful build; its absence means "not built". */
const MARKER = '.drydock-rootfs-complete';

/** One rootfs to build: where it is cached and the extra packages debootstrap installs. */
interface RootfsSpec {
  dir: string;
  include: string[];
}

const pending = new Map<string, Promise<string>>();

/** Path of a debootstrapped Debian bookworm (minbase) rootfs, building it on first use. */
export function ensureDebianRootfs(): Promise<string> {
  return ensure({ dir: ROOTFS_DIR, include: [] });
}

/**
 * Path of a debootstrapped Debian bookworm (minbase) rootfs with `packages` (and their
 * dependencies) installed as well (`debootstrap --include=…`), building it on first use.
 * Each package set is its own cached directory, e.g.
 * ~/.cache/drydock/rootfs-bookworm-minbase+python3-requests+python3-yaml.
 */
export function ensureDebianRootfsWith(packages: readonly string[]): Promise<string> {
  const include = [...new Set(packages)].sort();
  for (const p of include) {
    // Debian package names (Policy 5.6.1); also keeps the directory name safe.
    if (!/^[a-z0-9][a-z0-9+.-]+$/.test(p)) throw new Error(`not a Debian package name: ${JSON.stringify(p)}`);
  }
  if (include.length === 0) return ensureDebianRootfs();
  return ensure({ dir: `${ROOTFS_DIR}+${include.join('+')}`, include });
}

function ensure(spec: RootfsSpec): Promise<string> {
  let p = pending.get(spec.dir);
  if (!p) {
    p = build(spec).catch((e: unknown) => {
      pending.delete(spec.dir);
      throw e;
    });
    pending.set(spec.dir, p);
  }
  return p;
}

async function build({ dir, include }: RootfsSpec): Promise<string> {
  if (existsSync(join(dir, MARKER))) return dir;
  const debootstrap = findDebootstrap();
  if (!debootstrap) {
    throw new Error('debootstrap is not installed: run `apt-get install debootstrap` (as root) to build the Debian test rootfs');
  }
  await mkdir(CACHE_DIR, { recursive: true });
  const tmp = await mkdtemp(join(CACHE_DIR, `.${basename(dir)}.partial-`));
  const logPath = `${tmp}.log`;
  await chmod(tmp, 0o755); // mkdtemp makes it 0700; a root directory is 0755
  const mirror = aptMirror(SUITE);
  const args = ['--variant=minbase', ...(include.length > 0 ? [`--include=${include.join(',')}`] : []), SUITE, tmp, mirror];
  try {
    const started = Date.now();
    await run(debootstrap, args, logPath);
    const seconds = Math.round((Date.now() - started) / 1000);
    const command = ['debootstrap', ...args.slice(0, -2), '<apt mirror>'].join(' ');
    await writeFile(join(tmp, MARKER), `${command}\nbuilt ${new Date().toISOString()} in ${seconds}s\n`);
    replaceStale(dir);
    await rename(tmp, dir);
    rmSync(logPath, { force: true });
    return dir;
  } catch (e) {
    removeTree(tmp);
    // Another process may have finished the same build first.
    if (existsSync(join(dir, MARKER))) return dir;
    throw new Error(`building the Debian rootfs failed: ${e instanceof Error ? e.message : String(e)}\n--- end of ${logPath} ---\n${logTail(logPath)}`, { cause: e });
  }
}

/**
 * The Debian archive this machine's apt uses for `suite`: the first `URIs:` of a deb822
 * source in /etc/apt/sources.list.d/*.sources whose Suites name it, else the first
 * `deb <uri> <suite> …` line of /etc/apt/sources.list(.d/*.list). DRYDOCK_DEBIAN_MIRROR wins.
 */
export function aptMirror(suite: string): string {
  const fromEnv = process.env.DRYDOCK_DEBIAN_MIRROR?.trim();
  if (fromEnv) return fromEnv;
  const dir = '/etc/apt/sources.list.d';
  const files = existsSync(dir) ? readdirSync(dir).sort().map((f) => join(dir, f)) : [];
  for (const file of files.filter((f) => f.endsWith('.sources'))) {
    for (const stanza of readFileSync(file, 'utf8').split(/\n\s*\n/)) {
      const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
      if (field('Enabled')[0] === 'no' || !field('Types').includes('deb')) continue;
      if (field('Suites').includes(suite)) {
        const uri = field('URIs')[0];
        if (uri) return uri;
      }
    }
  }
  for (const file of ['/etc/apt/sources.list', ...files.filter((f) => f.endsWith('.list'))]) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
      if (m && m[2] === suite) return m[1]!;
    }
  }
  throw new Error(`no Debian mirror for ${suite} in this machine's apt sources (/etc/apt); set DRYDOCK_DEBIAN_MIRROR`);
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
