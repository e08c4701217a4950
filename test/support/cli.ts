/** `drydock` run in-process, its stdout and stderr collected (stderr a TTY or not). */
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { DRYDOCK_BIN, REPO_ROOT } from './hostile-corpus.js';
import { main } from '../../shared/cli/main.js';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv, opts: { tty?: boolean } = {}): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY: opts.tty ?? false }) as unknown as NodeJS.WriteStream;
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  (stderr as unknown as PassThrough).on('data', (c: Buffer) => (err += c.toString()));
  const code = await main([...argv], { stdout, stderr, env });
  return { code, out, err };
}

/**
 * The built CLI (bin/drydock.cjs → dist/cli, or $DRYDOCK_CLI) as a user runs it, in a child
 * process: exactly `env` (nothing of the caller's is added), `stdin` piped in then closed, killed
 * after `timeoutMs`. Call ensureBuiltCli() (hostile-corpus.ts) first, once per file.
 */
export function runBuiltCli(args: readonly string[], opts: { env: NodeJS.ProcessEnv; cwd?: string; stdin?: string; timeoutMs?: number }): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DRYDOCK_BIN, ...args], { cwd: opts.cwd ?? REPO_ROOT, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.stdin ?? '');
  });
}
