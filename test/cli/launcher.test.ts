/**
 * The `drydock` command's launcher (bin/drydock.cjs) as npm installs it, copied with a
 * package.json into a folder of its own: it answers --version without the bundle, says so (exit
 * 64) when the bundle is not built, and a bundle that throws as it loads is exit 70 with the
 * stack, never 0 or 1 (a gate's "findings" code).
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/hostile-corpus.js';

let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'drydock-launcher-'));
  await mkdir(join(dir, 'bin'));
  await copyFile(join(REPO_ROOT, 'bin', 'drydock.cjs'), join(dir, 'bin', 'drydock.cjs'));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'drydock-scan', version: '9.8.7', type: 'module' }));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function launch(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const env = { PATH: process.env.PATH ?? '', HOME: dir, DRYDOCK_NO_COMPILE_CACHE: '1' };
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(dir, 'bin', 'drydock.cjs'), ...args], { env, encoding: 'utf8', timeout: 60_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, out: x.stdout ?? '', err: x.stderr ?? '' };
  }
}

describe('bin/drydock.cjs', () => {
  it('answers --version and -v from its package.json, with no bundle beside it', async () => {
    await rm(join(dir, 'dist'), { recursive: true, force: true });
    expect(await launch('--version')).toEqual({ code: 0, out: 'drydock 9.8.7\n', err: '' });
    expect((await launch('-v')).out).toBe('drydock 9.8.7\n');
  });

  it('any other command without a built bundle: exit 64, saying how to build it', async () => {
    await rm(join(dir, 'dist'), { recursive: true, force: true });
    const r = await launch('scan', 'oci:/nowhere:x');
    expect(r.code).toBe(64);
    expect(r.err).toContain('the CLI is not built yet; run `npm run build`');
  });

  it('a bundle that throws as it loads: exit 70, "internal error" and the stack', async () => {
    await mkdir(join(dir, 'dist', 'cli'), { recursive: true });
    await writeFile(join(dir, 'dist', 'cli', 'drydock.mjs'), "throw new Error('a damaged install');\n");
    const r = await launch('scan', 'oci:/nowhere:x');
    expect(r.code).toBe(70);
    expect(r.err).toMatch(/^drydock: internal error: Error: a damaged install\n\s+at /);
  });

  it('the control: a bundle that loads runs with the arguments and its exit code is the command\'s', async () => {
    await mkdir(join(dir, 'dist', 'cli'), { recursive: true });
    await writeFile(join(dir, 'dist', 'cli', 'drydock.mjs'), "process.stdout.write(JSON.stringify(process.argv.slice(2)));\nprocess.exitCode = 4;\n");
    expect(await launch('scan', 'x', '--fail-on', 'high')).toEqual({ code: 4, out: '["scan","x","--fail-on","high"]', err: '' });
  });
});
