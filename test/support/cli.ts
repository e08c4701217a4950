/** `drydock` run in-process, its stdout and stderr collected (stderr a TTY or not). */
import { PassThrough } from 'node:stream';
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
