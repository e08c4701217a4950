/**
 * `drydock scan … | head -3` (issue 14): the shipped CLI (bin/drydock.cjs running the
 * bundle `npm run bundle` makes) on a real OCI layout whose report is far larger than a
 * pipe's buffer, piped by bash into `head -3`. Once head has its three lines and exits,
 * the CLI's writes fail with EPIPE: it must end quietly with the scan's own exit code
 * (0 here: no policy, no advisories), never a stack trace or exit 1 (the "findings" code).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRYDOCK_BIN, ensureBuiltCli, REPO_ROOT } from '../support/hostile-corpus.js';
import { buildImage, ociRef } from '../support/image-builder.js';

const work = mkdtempSync(join(tmpdir(), 'drydock-epipe-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A dpkg status of `n` installed packages: the table report has a line for each. */
function dpkgStatus(n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) {
    out += `Package: pkg-${i}\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: 1.${i}.0-1\nMaintainer: Someone <someone@example.org>\nDescription: package number ${i}\n\n`;
  }
  return out;
}

let image = '';

beforeAll(async () => {
  await ensureBuiltCli();
  const layout = join(work, 'layout');
  await buildImage(layout, {
    tag: 'big',
    layers: [{ files: [{ path: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n' }, { path: 'var/lib/dpkg/status', content: dpkgStatus(5_000) }] }],
  });
  image = ociRef(layout, 'big');
}, 300_000);

/** bash: drydock's stdout into `head -<lines>`; drydock's stderr and exit code kept apart. */
function pipeToHead(args: string[], lines: number): { head: string; stderr: string; code: number } {
  const errFile = join(work, `stderr-${Math.random().toString(36).slice(2)}`);
  const quoted = [process.execPath, DRYDOCK_BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('bash', ['-c', `${quoted} 2>'${errFile}' | head -${lines}; echo "exit=\${PIPESTATUS[0]}" >&2; cat '${errFile}' >&2`], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, DRYDOCK_CACHE_DIR: join(work, 'cache'), DOCKER_CONFIG: join(work, 'no-docker') },
    timeout: 120_000,
  });
  const m = /^exit=(\d+)\n/.exec(r.stderr);
  return { head: r.stdout, stderr: m ? r.stderr.slice(m[0].length) : r.stderr, code: m ? Number(m[1]) : -1 };
}

describe('a closed stdout ends the CLI quietly', () => {
  it('table report | head -3: three lines, exit 0, nothing on stderr about EPIPE, no stack trace', () => {
    const r = pipeToHead(['scan', image, '-q', '--no-cache'], 3);
    expect(r.head.split('\n')).toHaveLength(4); // three whole lines
    expect(r.stderr).not.toMatch(/EPIPE|\n\s+at |Error:/);
    expect(r.code).toBe(0);
  }, 120_000);

  it('JSON report | head -1: exit 0, no stack trace', () => {
    const r = pipeToHead(['scan', image, '-q', '--no-cache', '-o', 'json'], 1);
    expect(r.head.length).toBeGreaterThan(0);
    expect(r.stderr).not.toMatch(/EPIPE|\n\s+at |Error:/);
    expect(r.code).toBe(0);
  }, 120_000);

  it('--help | head -1 (before any scan): exit 0', () => {
    const r = pipeToHead(['--help'], 1);
    expect(r.head).toMatch(/^usage: drydock scan/);
    expect(r.stderr).not.toMatch(/EPIPE|\n\s+at /);
    expect(r.code).toBe(0);
  }, 60_000);
});
