/**
 * drydock.yaml and DRYDOCK_* variables, through the built binary (bin/drydock.cjs → dist/cli):
 * the esbuild bundle is what users run, and it once failed every command when a drydock.yaml
 * was present ("not valid YAML: parse is not a function": the bundled dynamic import of the
 * CommonJS `yaml` package had no named export). Precedence: command line over environment over
 * the file's command section over its common keys.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBuiltCli, type CliRun } from '../support/cli.js';
import { buildImage } from '../support/image-builder.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';

const BUNDLE = fileURLToPath(new URL('../../dist/cli/drydock.mjs', import.meta.url));

let work: string;
let ref: string;

function drydock(cwd: string, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runBuiltCli(args, { cwd, env: { PATH: process.env.PATH ?? '', HOME: work, DRYDOCK_CACHE_DIR: join(work, 'cache'), ...env } });
}

async function project(name: string, yaml: string): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'drydock.yaml'), yaml);
  return dir;
}

beforeAll(async () => {
  if (!existsSync(BUNDLE)) throw new Error('dist/cli/drydock.mjs is missing: run `npm run bundle` first');
  work = await mkdtemp(join(tmpdir(), 'drydock-config-'));
  const layout = join(work, 'layout');
  await buildImage(layout, {
    tag: 'v1',
    layers: [{ files: [
      { path: 'etc/os-release', content: OS_RELEASE_12 },
      { path: 'var/lib/dpkg/status', content: statusFile(stanza('libssl3', '3.0.15-1~deb12u1', { Source: 'openssl' })) },
    ] }],
  });
  ref = `oci:${layout}:v1`;
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('drydock.yaml, read by the built CLI', () => {
  it("a project's drydock.yaml sets the output format (common key), and its scan: section wins over the common key", async () => {
    const common = await project('common', 'output: json\n');
    const a = await drydock(common, ['scan', ref]);
    expect(a.err).not.toMatch(/config|YAML/);
    expect(a.code).toBe(0);
    expect(JSON.parse(a.out)).toMatchObject({ results: [expect.objectContaining({ packages: [expect.objectContaining({ name: 'libssl3' })] })] });

    const section = await project('section', 'output: table\nscan:\n  output: json\n');
    expect(JSON.parse((await drydock(section, ['scan', ref])).out)).toHaveProperty('results');
  }, 60_000);

  it('the environment wins over the file, the command line over both', async () => {
    const dir = await project('precedence', 'output: json\n');
    const env = await drydock(dir, ['scan', ref], { DRYDOCK_OUTPUT: 'table' });
    expect(env.code).toBe(0);
    expect(env.out).toMatch(/^NAME\s+VERSION\s+SOURCE\s+ARCH\s+LAYER$/m);
    const line = await drydock(dir, ['scan', ref, '-o', 'json'], { DRYDOCK_OUTPUT: 'table' });
    expect(JSON.parse(line.out)).toHaveProperty('results');
  }, 60_000);

  it('an unknown key is a usage error naming the file and a near key; a file that is not YAML says so (exit 64)', async () => {
    const typo = await project('typo', 'outptu: json\n');
    const r = await drydock(typo, ['scan', ref]);
    expect(r.code).toBe(64);
    expect(r.err).toMatch(/drydock\.yaml: unknown key "outptu" \(did you mean output\?\)/);
    const bad = await project('bad', 'output: [json\n');
    const b = await drydock(bad, ['scan', ref]);
    expect(b.code).toBe(64);
    expect(b.err).toMatch(/drydock\.yaml: not valid YAML: /);
    expect(b.err).not.toMatch(/is not a function/);
  }, 60_000);

  it('--config names another file; one that does not exist is an error, not ignored', async () => {
    const dir = await project('named', 'output: table\n');
    await writeFile(join(dir, 'ci.yaml'), 'output: json\n');
    expect(JSON.parse((await drydock(dir, ['scan', ref, '--config', 'ci.yaml'])).out)).toHaveProperty('results');
    const missing = await drydock(dir, ['scan', ref, '--config', 'nope.yaml']);
    expect(missing.code).toBe(64);
    expect(missing.err).toMatch(/config file nope\.yaml: no such file/);
  }, 60_000);
});
