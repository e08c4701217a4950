/**
 * Small child-process helpers for the test fixtures: run a tool and collect its output,
 * or start one as part of a stream pipeline and wait for it to exit cleanly.
 * Every failure names the command, its exit status and the tail of its stderr.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** A tool exited non-zero, was killed, or could not be started. */
export class ExecError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderr: string,
    cause?: unknown,
  ) {
    const how = signal ? `killed by ${signal}` : exitCode === null ? 'failed to start' : `exited ${exitCode}`;
    const detail = stderr.trim() ? `:\n${tail(stderr, 2000)}` : '';
    super(`${command}: ${how}${detail}`, cause === undefined ? undefined : { cause });
    this.name = 'ExecError';
  }
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** bytes written to the tool's stdin (stdin is closed either way) */
  input?: string | Buffer;
  /** kill the tool (SIGKILL) after this many milliseconds */
  timeoutMs?: number;
}

export interface RunResult {
  stdout: Buffer;
  stderr: string;
}

/** Run `cmd args…` to completion; resolves with its output, rejects with ExecError on failure. */
export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => stdout.push(c));
  // stdin may close early (the tool does not read it); that is not an error of ours
  child.stdin.on('error', () => {});
  child.stdin.end(opts.input ?? '');
  const done = waitForExit(child, cmd, args);
  let timer: NodeJS.Timeout | undefined;
  if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
  try {
    const { stderr } = await done;
    return { stdout: Buffer.concat(stdout), stderr };
  } finally {
    if (timer) clearTimeout(timer);
  }
}

export interface Spawned {
  child: ChildProcess;
  /** resolves with the collected stderr when the tool exits 0; rejects with ExecError otherwise */
  done: Promise<{ stderr: string }>;
}

/**
 * Start a tool whose stdin/stdout the caller wires up (stderr is always collected).
 * `stdio` gives stdin and stdout: 'pipe', 'ignore', or a file descriptor.
 */
export function start(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; stdin?: 'pipe' | 'ignore' | number; stdout?: 'pipe' | 'ignore' | number } = {},
): Spawned {
  const stdio: SpawnOptions['stdio'] = [opts.stdin ?? 'pipe', opts.stdout ?? 'pipe', 'pipe'];
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio });
  child.stdin?.on('error', () => {});
  return { child, done: waitForExit(child, cmd, args) };
}

function waitForExit(child: ChildProcess, cmd: string, args: readonly string[]): Promise<{ stderr: string }> {
  const stderr: Buffer[] = [];
  child.stderr?.on('data', (c: Buffer) => stderr.push(c));
  const command = [cmd, ...args].map(quoteArg).join(' ');
  return new Promise((resolve, reject) => {
    let spawnError: unknown;
    child.once('error', (err) => {
      spawnError = err;
      // 'close' does not follow a failed spawn
      if (child.pid === undefined) reject(new ExecError(command, null, null, String(err), err));
    });
    child.once('close', (code, signal) => {
      const text = Buffer.concat(stderr).toString('utf8');
      if (code === 0 && !spawnError) resolve({ stderr: text });
      else reject(new ExecError(command, code, signal, text, spawnError));
    });
  });
}

/** The last `max` characters of `text` (whole lines where possible). */
export function tail(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(-max);
  const nl = cut.indexOf('\n');
  return '…' + (nl >= 0 && nl < cut.length - 1 ? cut.slice(nl + 1) : cut);
}

function quoteArg(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/**
 * `sh -c` script run as `WATCHDOG <name> <command> <args…>`: runs the command, and kills it when
 * its stdin (a pipe from this process) reaches EOF — on stop(), but also when the test process
 * dies without cleaning up (SIGKILL, a crashed vitest worker), so no server outlives the test run.
 * Exits with the command's status. (An asynchronous list's stdin is /dev/null unless redirected
 * explicitly (POSIX), so the reader gets the pipe through fd 3.)
 */
const WATCHDOG = `exec 3<&0
"$@" </dev/null & pid=$!
(while read -r _; do :; done; kill -TERM "$pid" 2>/dev/null) <&3 &
exec 3<&-
wait "$pid"`;

/** Kill functions of this process's servers still running; run if the process exits without stopping them. */
const running = new Set<() => void>();
process.on('exit', () => {
  for (const kill of running) kill();
});

export interface WatchedServer {
  child: ChildProcess;
  /** resolves with how the server ended ("exited 1", "killed by SIGTERM", "failed to start: …") */
  exited: Promise<string>;
  /** SIGKILL to the watchdog and the server (their own process group) */
  killGroup(): void;
}

/**
 * A long-running test server (registry, DynamoDB Local) under the watchdog, in its own process
 * group; stdout/stderr as `stdio` says (pipes, or a log file's descriptor).
 */
export function startWatched(name: string, argv: readonly string[], opts: { cwd?: string; stdio: ['pipe', 'pipe' | number, 'pipe' | number] }): WatchedServer {
  const child = spawn('sh', ['-c', WATCHDOG, name, ...argv], { cwd: opts.cwd, stdio: opts.stdio, detached: true });
  child.stdin!.on('error', () => {});
  const exited = new Promise<string>((resolve) => {
    child.once('error', (e) => resolve(`failed to start: ${e.message}`));
    child.once('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exited ${code}`));
  });
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  running.add(killGroup);
  // `exited` never rejects (see above); the handler is there so that stays true if it ever does
  exited.then(
    () => running.delete(killGroup),
    () => running.delete(killGroup),
  );
  return { child, exited, killGroup };
}
