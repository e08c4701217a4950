/**
 * The habits users bring from Trivy and Grype (issue 17, item 3), through the built binary
 * (bin/drydock.cjs → dist/cli): `-f/--format`, several outputs in one run
 * (`-o table -o sarif=file -o json=file`), `--output-file`, `--exit-code`, the `version`
 * command, "did you mean" with one usage line for a mistyped command or option, and shell
 * completion that bash really completes with.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBuiltCli, type CliRun } from '../support/cli.js';
import { buildImage } from '../support/image-builder.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';


let work: string;
let ref: string;

function drydock(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runBuiltCli(args, { cwd: work, env: { PATH: process.env.PATH ?? '', HOME: work, DRYDOCK_CACHE_DIR: join(work, 'cache'), ...env } });
}

beforeAll(async () => {
  if (!existsSync(fileURLToPath(new URL('../../dist/cli/drydock.mjs', import.meta.url)))) throw new Error('dist/cli/drydock.mjs is missing: run `npm run bundle` first');
  work = await mkdtemp(join(tmpdir(), 'drydock-habits-'));
  const layout = join(work, 'layout');
  await buildImage(layout, {
    tag: 'v1',
    layers: [{ files: [
      { path: 'etc/os-release', content: OS_RELEASE_12 },
      { path: 'var/lib/dpkg/status', content: statusFile(stanza('libssl3', '3.0.15-1~deb12u1', { Source: 'openssl' })) },
    ] }],
  });
  ref = `oci:${layout}:v1`;
  // invented: one OSV record for bookworm's openssl, fixed after the image's version, no severity (unknown)
  await writeFile(join(work, 'osv.json'), JSON.stringify({
    schema_version: '1.6.0', id: 'DEBIAN-CVE-2099-0042', modified: new Date().toISOString(), aliases: ['CVE-2099-0042'],
    affected: [{ package: { ecosystem: 'Debian:12', name: 'openssl' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.0.16-1~deb12u1' }] }] }],
  }));
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('outputs', () => {
  it('-f json and --format json are -o json', async () => {
    for (const flag of ['-f', '--format']) {
      const r = await drydock(['scan', ref, flag, 'json']);
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out)).toHaveProperty('results');
    }
  });

  it('-o table -o json=<file> -o cyclonedx=<file>: the table on stdout, each file whole', async () => {
    const r = await drydock(['scan', ref, '-o', 'table', '-o', `json=${join(work, 'out.json')}`, '-o', `cyclonedx=${join(work, 'sbom.json')}`]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^NAME\s+VERSION\s+SOURCE\s+ARCH\s+LAYER$/m);
    expect(JSON.parse(await readFile(join(work, 'out.json'), 'utf8'))).toHaveProperty('results');
    expect(JSON.parse(await readFile(join(work, 'sbom.json'), 'utf8'))).toMatchObject({ bomFormat: 'CycloneDX' });
  });

  it('--output-file takes the one -o without a file; two -o to stdout is a usage error', async () => {
    const r = await drydock(['scan', ref, '-o', 'json', '--output-file', join(work, 'report.json')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe('');
    expect(JSON.parse(await readFile(join(work, 'report.json'), 'utf8'))).toHaveProperty('results');
    const two = await drydock(['scan', ref, '-o', 'json', '-o', 'table']);
    expect(two.code).toBe(64);
    expect(two.err.trim().split('\n')).toHaveLength(2); // the message and one usage line, not the whole help
  });

  it('an unknown format names the formats (exit 64)', async () => {
    const r = await drydock(['scan', ref, '-o', 'xml']);
    expect(r.code).toBe(64);
    expect(r.err).toMatch(/table.*json.*sarif/);
  });
});

describe('--exit-code', () => {
  it('exits with the given code when a finding is left after --severity, 0 when none is; out of range is a usage error', async () => {
    const osv = join(work, 'osv.json');
    const hit = await drydock(['scan', ref, '--advisories', osv, '--exit-code', '7']);
    expect(hit.code, hit.err).toBe(7);
    expect(hit.out).toMatch(/CVE-2099-0042/);
    expect(hit.err).toMatch(/\(--exit-code 7\)/);
    const none = await drydock(['scan', ref, '--advisories', osv, '--exit-code', '7', '--severity', 'critical']);
    expect(none.code, none.err).toBe(0);
    expect((await drydock(['scan', ref, '--exit-code', '300'])).code).toBe(64);
  });
});

describe('version and mistakes', () => {
  it('`drydock version` names the tool, Node and the advisory data (none synced here)', async () => {
    const r = await drydock(['version']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^drydock \d+\.\d+\.\d+/);
    expect(r.out).toMatch(/advisory data: none synced/);
  });

  it('a mistyped command or option: "did you mean" and one usage line, exit 64', async () => {
    const cmd = await drydock(['scna', ref]);
    expect(cmd.code).toBe(64);
    expect(cmd.err).toMatch(/unknown command 'scna' \(did you mean scan\?\)/);
    expect(cmd.err.trim().split('\n')).toHaveLength(2);
    const opt = await drydock(['scan', ref, '--fial-on', 'high']);
    expect(opt.code).toBe(64);
    expect(opt.err).toMatch(/unknown option '--fial-on' \(did you mean --fail-on\?\)/);
    expect(opt.err.trim().split('\n')).toHaveLength(2);
  });
});

describe('shell completion', () => {
  const bash = spawnSync('bash', ['--version']).status === 0;
  it.skipIf(!bash)('bash completes commands, scan options and format values with the generated script', async () => {
    const script = (await drydock(['completion', 'bash'])).out;
    await writeFile(join(work, 'drydock.bash'), script);
    const complete = (words: string[]) => {
      const line = words.map((w) => `'${w}'`).join(' ');
      const r = spawnSync('bash', ['-c', `source '${join(work, 'drydock.bash')}'; COMP_WORDS=(${line}); COMP_CWORD=${words.length - 1}; _drydock; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
      return r.stdout.trim().split('\n').filter(Boolean);
    };
    expect(complete(['drydock', 'sc'])).toEqual(['scan']);
    expect(complete(['drydock', 'scan', '--fail-'])).toEqual(expect.arrayContaining(['--fail-on', '--fail-on-kev']));
    expect(complete(['drydock', 'scan', '-o', 'sa'])).toEqual(['sarif']);
  });

  it('zsh and fish scripts are generated for every command', async () => {
    for (const shell of ['zsh', 'fish']) {
      const r = await drydock(['completion', shell]);
      expect(r.code).toBe(0);
      for (const c of ['scan', 'policy', 'feeds', 'version']) expect(r.out).toContain(c);
    }
    expect((await drydock(['completion', 'tcsh'])).code).toBe(64);
  });
});
