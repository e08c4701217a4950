/**
 * Images of a local container engine (issue 17, item 2), and bare paths.
 *
 * No Docker or Podman daemon can run in this sandbox, so the engine is an "Engine API
 * stand-in": a Node HTTP server on a unix socket answering the two calls Drydock makes,
 * `GET /images/{name}/json` (inspect; 404 {"message": "No such image: …"} as dockerd answers)
 * and `GET /images/{name}/get` (export), the export being a real `docker save`-format tar
 * written by `skopeo copy oci:… docker-archive:…` from an image built with GNU tar and gzip.
 */
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrydockError } from '../../shared/errors.js';
import { openSource, type OpenOptions } from '../../shared/image/open.js';
import { parseReference } from '../../shared/image/reference.js';
import { scanImage } from '../../shared/scan.js';
import { buildImage, toDockerArchive, toOciArchive, type BuiltImage } from '../support/image-builder.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';

let work: string;
let built: BuiltImage;
let saveTar: string;
const NAME = 'drydock-test/app:dev';

interface StandIn {
  socket: string;
  requests: string[];
  close(): Promise<void>;
}

/** The Engine API stand-in on `socket`: knows one image, by its name (familiar or full) and by its id. */
async function engineStandIn(socket: string, opts: { size?: number } = {}): Promise<StandIn> {
  const requests: string[] = [];
  const id = built.configDigest;
  const names = new Set([NAME, `docker.io/${NAME}`, id, id.slice('sha256:'.length, 'sha256:'.length + 12)]);
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '';
    requests.push(`${req.method} ${url}`);
    const m = /^\/images\/(.+)\/(json|get)$/.exec(url);
    if (!m || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'page not found' }));
      return;
    }
    const [, name, op] = m as unknown as [string, string, string];
    if (!names.has(name)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: `No such image: ${name}` }));
      return;
    }
    if (op === 'json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ Id: id, RepoTags: [NAME], Size: opts.size ?? 4096, Os: 'linux', Architecture: 'amd64' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-tar' });
    createReadStream(saveTar).pipe(res);
  });
  await mkdir(join(socket, '..'), { recursive: true });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return { socket, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function caught(p: Promise<unknown>): Promise<DrydockError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  if (!(e instanceof DrydockError)) throw new Error(`expected a DrydockError, got ${String(e)}`);
  return e;
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
  work = await mkdtemp(join(tmpdir(), 'drydock-engine-'));
  built = await buildImage(join(work, 'layout'), {
    tag: 'dev',
    layers: [
      { files: [{ path: 'etc/os-release', content: OS_RELEASE_12 }] },
      { compression: 'gzip', files: [{ path: 'var/lib/dpkg/status', content: statusFile(stanza('alpha', '1.0'), stanza('beta', '2.0-1')) }] },
    ],
  });
  saveTar = join(work, 'save.tar');
  await toDockerArchive(join(work, 'layout'), 'dev', saveTar, { name: NAME });
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('docker: and podman: through the Engine API (Engine API stand-in on a unix socket)', () => {
  it('docker:<name> with DOCKER_HOST=unix://…: inspect, then the export streamed to a spool file that close() deletes', async () => {
    const engine = await engineStandIn(join(work, 'd1', 'docker.sock'));
    const spoolDir = join(work, 'spool1');
    try {
      const got = await packages(`docker:${NAME}`, { engines: { env: { DOCKER_HOST: `unix://${engine.socket}` }, spoolDir } });
      expect(got.packages).toEqual(['alpha@1.0', 'beta@2.0-1']);
      expect(got.name).toBe(`docker ${NAME}`);
      // the image inspected is the image exported: by its id
      expect(engine.requests).toEqual([`GET /images/${NAME}/json`, `GET /images/${built.configDigest}/get`]);
      expect(await readdir(spoolDir)).toEqual([]);
    } finally {
      await engine.close();
    }
  });

  it('podman:<name> on $XDG_RUNTIME_DIR/podman/podman.sock', async () => {
    const runtime = join(work, 'xdg');
    const engine = await engineStandIn(join(runtime, 'podman', 'podman.sock'));
    try {
      const got = await packages(`podman:${NAME}`, { engines: { env: { XDG_RUNTIME_DIR: runtime }, spoolDir: join(work, 'spool2') } });
      expect(got.packages).toEqual(['alpha@1.0', 'beta@2.0-1']);
      expect(got.name).toBe(`podman ${NAME}`);
    } finally {
      await engine.close();
    }
  });

  it('a bare name is read from the engine when the engine has it, and goes to its registry when not (404)', async () => {
    const engine = await engineStandIn(join(work, 'd3', 'docker.sock'));
    const opts: OpenOptions = { engines: { env: { DOCKER_HOST: `unix://${engine.socket}` }, spoolDir: join(work, 'spool3') } };
    try {
      expect((await packages(NAME, opts)).name).toBe(`docker ${NAME}`);
      const other = await openSource('drydock-test/other:1', opts);
      expect(other.name).toBe('registry docker.io/drydock-test/other:1'); // opened, not fetched
      expect(engine.requests).toContain('GET /images/drydock-test/other:1/json');
      // a digest pins a registry manifest: the engine is not asked
      const before = engine.requests.length;
      const pinned = await openSource(`${NAME}@sha256:${'a'.repeat(64)}`, opts);
      expect(pinned.name).toMatch(/^registry /);
      expect(engine.requests).toHaveLength(before);
    } finally {
      await engine.close();
    }
  });

  it('an unknown image is MANIFEST_NOT_FOUND naming the engine; a missing socket names it and DOCKER_HOST', async () => {
    const engine = await engineStandIn(join(work, 'd4', 'docker.sock'));
    try {
      const e = await caught(openSource('docker:nope:1', { engines: { env: { DOCKER_HOST: `unix://${engine.socket}` } } }));
      expect(e.code).toBe('MANIFEST_NOT_FOUND');
      expect(e.message).toContain(`has no image nope:1`);
    } finally {
      await engine.close();
    }
    const missing = join(work, 'nowhere.sock');
    const e = await caught(openSource(`docker:${NAME}`, { engines: { env: { DOCKER_HOST: `unix://${missing}` } } }));
    expect(e.code).toBe('SOURCE_UNREADABLE');
    expect(e.message).toContain(missing);
    expect(e.message).toContain('DOCKER_HOST');
    const tcp = await caught(openSource(`docker:${NAME}`, { engines: { env: { DOCKER_HOST: 'tcp://127.0.0.1:2375' } } }));
    expect(tcp.code).toBe('CONFIG');
  });

  it('an export larger than maxExportBytes fails naming the limit and leaves no spool file', async () => {
    const engine = await engineStandIn(join(work, 'd5', 'docker.sock'), { size: 100 });
    const spoolDir = join(work, 'spool5');
    try {
      const tarSize = (await stat(saveTar)).size;
      const e = await caught(openSource(`docker:${NAME}`, { engines: { env: { DOCKER_HOST: `unix://${engine.socket}` }, spoolDir, maxExportBytes: tarSize - 1 } }));
      expect(e.code).toBe('LIMIT_EXCEEDED');
      expect(e.message).toContain('maxDaemonExportBytes');
      expect(await readdir(spoolDir)).toEqual([]);
      // the inspect answer's Size already over the limit: refused before any export
      engine.requests.length = 0;
      const early = await caught(openSource(`docker:${NAME}`, { engines: { env: { DOCKER_HOST: `unix://${engine.socket}` }, spoolDir, maxExportBytes: 50 } }));
      expect(early.code).toBe('LIMIT_EXCEEDED');
      expect(engine.requests).toEqual([`GET /images/${NAME}/json`]);
    } finally {
      await engine.close();
    }
  });

  it('parses docker:, docker-daemon:, podman: and docker:// references', () => {
    expect(parseReference('docker:app:dev')).toMatchObject({ kind: 'docker-daemon', path: 'app:dev' });
    expect(parseReference('docker-daemon:ghcr.io/o/app:1')).toMatchObject({ kind: 'docker-daemon', path: 'ghcr.io/o/app:1' });
    expect(parseReference('podman:localhost/app')).toMatchObject({ kind: 'podman', path: 'localhost/app' });
    expect(parseReference('docker://ghcr.io/o/app:1')).toMatchObject({ kind: 'registry', registry: 'ghcr.io', repository: 'o/app', tag: '1' });
    expect(() => parseReference('docker:')).toThrow(/needs an image name/);
    expect(() => parseReference('docker:../../containers/json')).toThrow(/not an image name/);
  });
});

describe('bare paths are told apart by content, never looked up in a registry', () => {
  it('reads a layout directory, a docker-save tar and an OCI archive given as paths', async () => {
    const oci = join(work, 'bare.oci.tar');
    await toOciArchive(join(work, 'layout'), oci);
    for (const ref of [join(work, 'layout'), saveTar, oci]) {
      expect((await packages(ref, {})).packages, ref).toEqual(['alpha@1.0', 'beta@2.0-1']);
    }
    // relative forms are paths too
    expect(parseReference('./image.tar')).toMatchObject({ kind: 'path' });
    expect(parseReference('layout/')).toMatchObject({ kind: 'path' }); // a repository name never ends with "/"
    expect(parseReference('layout')).toMatchObject({ kind: 'registry' }); // no path mark: a name
    expect(parseReference('image.tar')).toMatchObject({ kind: 'path' });
    expect(parseReference('../x')).toMatchObject({ kind: 'path' });
  });

  it('a path that is no image is a usage error (CONFIG, exit 64) naming the prefixes', async () => {
    const plainDir = join(work, 'plain');
    await mkdir(plainDir, { recursive: true });
    const notTar = join(work, 'notes.tar');
    await writeFile(notTar, 'not a tar at all');
    const emptyTar = join(work, 'other.tar');
    await writeFile(join(plainDir, 'a.txt'), 'x');
    const { run } = await import('../support/exec.js');
    await run('tar', ['-C', plainDir, '-cf', emptyTar, 'a.txt']);
    for (const [path, why] of [
      [plainDir, 'without an oci-layout file'],
      [notTar, 'is not a tar archive'],
      [emptyTar, 'neither manifest.json'],
      [join(work, 'missing.tar'), 'cannot be read (ENOENT)'],
    ] as const) {
      const e = await caught(openSource(path));
      expect(e.code, path).toBe('CONFIG');
      expect(e.message).toContain(why);
      expect(e.message).toContain('oci:<layout dir>, oci-archive:<tar>, docker-archive:<tar>, docker:<name> or podman:<name>');
    }
  });
});
