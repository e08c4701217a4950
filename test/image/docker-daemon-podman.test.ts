/**
 * docker: and podman: against a real engine: Debian's Podman 4 (`podman system service`, its
 * Docker-compatible Engine API and its own, on a unix socket), with a private store (vfs
 * driver, cgroupfs, file events; no container is ever run, so it works in this sandbox).
 * The image is a real docker-save tar made by skopeo from a layout built with GNU tar and gzip,
 * loaded with `podman load`. Skipped, saying so, where podman is not installed (CI installs it).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrydockError } from '../../shared/errors.js';
import { openSource, type OpenOptions } from '../../shared/image/open.js';
import { scanImage } from '../../shared/scan.js';
import { run, startWatched, type WatchedServer } from '../support/exec.js';
import { buildImage, toDockerArchive } from '../support/image-builder.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';

const hasPodman = (() => {
  try {
    execFileSync('podman', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const NAME = 'localhost/drydock-test/app:dev';
let work: string;
let socket: string;
let service: WatchedServer | undefined;
let logFile: string;

function podmanArgs(): string[] {
  return ['--root', join(work, 'root'), '--runroot', join(work, 'run'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
}

function ping(): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/_ping' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.setTimeout(1000, () => req.destroy());
    req.once('error', () => resolve(0));
    req.end();
  });
}

async function packages(ref: string, opts: OpenOptions): Promise<{ name: string; packages: string[] }> {
  const source = await openSource(ref, opts);
  try {
    const [inv] = await scanImage(source, ref);
    return { name: source.name, packages: inv!.packages.map((p) => `${p.name}@${p.version}`) };
  } finally {
    await source.close?.();
  }
}

beforeAll(async () => {
  if (!hasPodman) return;
  work = await mkdtemp(join(tmpdir(), 'drydock-podman-'));
  await buildImage(join(work, 'layout'), {
    tag: 'dev',
    layers: [
      { files: [{ path: 'etc/os-release', content: OS_RELEASE_12 }] },
      { compression: 'gzip', files: [{ path: 'var/lib/dpkg/status', content: statusFile(stanza('alpha', '1.0'), stanza('beta', '2.0-1')) }] },
    ],
  });
  const save = join(work, 'save.tar');
  await toDockerArchive(join(work, 'layout'), 'dev', save, { name: NAME });
  await run('podman', [...podmanArgs(), 'load', '-q', '-i', save], { timeoutMs: 120_000 });
  socket = join(work, 'podman.sock');
  logFile = join(work, 'service.log');
  const fd = openSync(logFile, 'w');
  try {
    service = startWatched('podman-watchdog', ['podman', ...podmanArgs(), 'system', 'service', '--time=0', `unix://${socket}`], { stdio: ['pipe', fd, fd] });
  } finally {
    closeSync(fd);
  }
  for (let i = 0; (await ping()) !== 200; i++) {
    if (i > 300) throw new Error(`podman system service did not answer /_ping: ${await readFile(logFile, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 180_000);

afterAll(async () => {
  if (service && service.child.exitCode === null) {
    service.child.stdin!.end();
    const timer = setTimeout(service.killGroup, 5000);
    await service.exited;
    clearTimeout(timer);
  }
  if (work) await rm(work, { recursive: true, force: true });
});

describe.skipIf(!hasPodman)('a real engine: Podman\'s API service on a unix socket', () => {
  it('podman:<name> (CONTAINER_HOST=unix://…) is exported and scanned; the spool is deleted', async () => {
    const spoolDir = join(work, 'spool');
    const got = await packages(`podman:${NAME}`, { engines: { env: { CONTAINER_HOST: `unix://${socket}` }, spoolDir } });
    expect(got.packages).toEqual(['alpha@1.0', 'beta@2.0-1']);
    expect(await readdir(spoolDir)).toEqual([]);
  });

  it('docker:<name> over the Docker-compatible API (DOCKER_HOST=unix://…), and a bare name found in the engine', async () => {
    const opts: OpenOptions = { engines: { env: { DOCKER_HOST: `unix://${socket}` }, spoolDir: join(work, 'spool') } };
    expect((await packages(`docker:${NAME}`, opts)).packages).toEqual(['alpha@1.0', 'beta@2.0-1']);
    const bare = await packages(NAME, opts);
    expect(bare.name).toBe(`docker ${NAME}`);
    expect(bare.packages).toEqual(['alpha@1.0', 'beta@2.0-1']);
  });

  it('an image the engine does not have is MANIFEST_NOT_FOUND, and a bare name of it goes to its registry', async () => {
    const opts: OpenOptions = { engines: { env: { DOCKER_HOST: `unix://${socket}` } } };
    const e = await openSource(`docker:localhost/drydock-test/none:1`, opts).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(DrydockError);
    expect((e as DrydockError).code).toBe('MANIFEST_NOT_FOUND');
    const other = await openSource('localhost/drydock-test/none:1', opts);
    expect(other.name).toBe('registry localhost/drydock-test/none:1');
  });
});
