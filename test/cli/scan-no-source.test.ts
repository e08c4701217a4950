/**
 * No silent blind spots (issue 16 item 4), through the shipped CLI (bin/drydock.cjs running the
 * bundle `npm run bundle` makes): a CentOS Stream 9 image, for which Drydock reads no advisory
 * source, is named in a warning by every output (table, JSON, HTML) and fails any gate as
 * "advisory data missing" (exit 4), with or without advisories loaded.
 *
 * The image: the real CentOS 8 Berkeley DB rpmdb (syft's fixture, one package: dive) and an
 * /etc/os-release of CentOS Stream 9. That os-release is written here, field for field as
 * CentOS Stream 9 ships it: the only CentOS os-release among the fixtures is CentOS Linux 7's.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../shared/cli/main.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { ensureBuiltCli } from '../support/hostile-corpus.js';
import { runBuiltCli, type CliRun } from '../support/cli.js';
import { OS_RELEASE_CENTOS_STREAM_9 } from '../integration/helpers.js';
import { buildImage, ociRef } from '../support/image-builder.js';


const WARNING = 'no advisory source for CentOS Stream 9 (os-release ID "centos", VERSION_ID "9")';
const REDHAT = join(SHARED_FIXTURES, 'advisories/redhat');

let work: string;
let image: string;

function drydock(...args: string[]): Promise<CliRun> {
  return runBuiltCli(args, { env: { ...process.env, DRYDOCK_CACHE_DIR: join(work, 'cache'), DOCKER_CONFIG: join(work, 'no-docker') } });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-no-source-'));
  await ensureBuiltCli();
  const layout = join(work, 'layout');
  await buildImage(layout, {
    tag: 'stream9',
    layers: [
      {
        files: [
          { path: 'etc/os-release', content: OS_RELEASE_CENTOS_STREAM_9 },
          { path: 'var/lib/rpm/Packages', content: await readFile(join(SHARED_FIXTURES, 'pkgdb/rpm/bdb-centos8-single-dive/Packages')) },
        ],
      },
    ],
  });
  image = ociRef(layout, 'stream9');
}, 300_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('a CentOS Stream 9 image: no advisory source', () => {
  it('table: the warning names the distribution, even with no advisories loaded; no gate, exit 0', async () => {
    const r = await drydock('scan', image, '--no-cache');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('dive');
    expect(r.out).toContain(`WARNING: ${WARNING}`);
    expect(r.out).toMatch(/its 1 OS package was not checked/);
  }, 120_000);

  it('JSON: coverage marks centos:9 as uncovered with no source; the problem is listed', async () => {
    const r = await drydock('scan', image, '--no-cache', '-o', 'json', '--advisories', REDHAT, '--max-advisory-age', '0');
    expect(r.code).toBe(EXIT.ok);
    const j = JSON.parse(r.out);
    expect(j.results[0].distro).toMatchObject({ id: 'centos', versionId: '9', prettyName: 'CentOS Stream 9' });
    expect(j.results[0].coverage).toEqual({ covered: [], uncovered: ['centos:9'], noSource: ['centos:9'] });
    expect(j.advisoryProblems).toEqual([expect.stringMatching(/^advisory data missing for centos:9/)]);
    // Red Hat's data does not judge CentOS Stream packages
    expect(j.results[0].vulnerabilities.findings).toEqual([]);
  }, 120_000);

  it('HTML: the advisory-data section names the distribution', async () => {
    const r = await drydock('scan', image, '--no-cache', '-o', 'html', '--advisories', REDHAT, '--max-advisory-age', '0');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('<section id="coverage">');
    expect(r.out).toContain(`No advisory source for CentOS Stream 9 (os-release ID &quot;centos&quot;, VERSION_ID &quot;9&quot;)`);
  }, 120_000);

  it('--fail-on: advisory data missing, exit 4, with and without advisories loaded', async () => {
    for (const extra of [[], ['--advisories', REDHAT]]) {
      const r = await drydock('scan', image, '--no-cache', '-q', '--fail-on', 'high', '--max-advisory-age', '0', ...extra);
      expect(r.code).toBe(EXIT.dataMissing);
      expect(r.err).toMatch(/advisory data missing for centos:9/);
    }
    // accepting the gap is the user's call, and says so
    const ok = await drydock('scan', image, '--no-cache', '-q', '--fail-on', 'high', '--max-advisory-age', '0', '--advisories', REDHAT, '--allow-missing-advisories');
    expect(ok.code).toBe(EXIT.ok);
  }, 240_000);
});
