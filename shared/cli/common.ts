/** Small helpers several commands share. Imports nothing heavy. */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DrydockError, isDrydockError } from '../errors.js';
import { EXIT, UsageError, type CliIO } from './io.js';

/** --cache-dir (or DRYDOCK_CACHE_DIR, which the option reads), else $XDG_CACHE_HOME/drydock, else ~/.cache/drydock. */
export function cacheDirOf(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag ?? env.DRYDOCK_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'drydock');
}

export function positiveInt(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new DrydockError('CONFIG', `${flag} needs a positive whole number, got "${v}"`);
  return n;
}

export async function readBundleFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new DrydockError('CONFIG', `policy bundle ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

/**
 * A command's failure said in one line: a usage error (64, with its usage line), a Drydock
 * error (CONFIG = 64, else 3), or a bug (3; the stack only with DRYDOCK_DEBUG=1).
 */
export function failure(e: unknown, io: CliIO, usageCodes: readonly string[] = ['CONFIG']): number {
  if (e instanceof UsageError) {
    io.stderr.write(`drydock: ${e.message}\n${e.usageLine ? `${e.usageLine}\n` : ''}`);
    return EXIT.usage;
  }
  if (isDrydockError(e)) {
    io.stderr.write(`drydock: ${e.code}: ${e.message}\n`);
    return usageCodes.includes(e.code) ? EXIT.usage : EXIT.scanError;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  io.stderr.write(io.env.DRYDOCK_DEBUG ? `drydock: unexpected error: ${err.stack ?? err.message}\n` : `drydock: unexpected error: ${err.name}: ${err.message} (DRYDOCK_DEBUG=1 shows where)\n`);
  return EXIT.scanError;
}
