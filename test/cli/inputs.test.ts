/**
 * Inputs users already have (issue 17, item 2), through the shipped CLI (bin/drydock.cjs running
 * the bundle `npm run bundle` makes) against a real registry: Debian's Distribution registry
 * with htpasswd auth, the image pushed by skopeo.
 *
 * - Docker credential helpers: stub `docker-credential-*` shell scripts in a temp dir put first
 *   on PATH, named by `credsStore` / `credHelpers` in $DOCKER_CONFIG/config.json; each logs the
 *   server URL it was asked for. (The helper timeout is tested in-process with a fake clock in
 *   test/image/credentials.test.ts: the CLI cannot be made to wait 15 s here.)
 * - The auth file of podman/skopeo: ${XDG_RUNTIME_DIR}/containers/auth.json and REGISTRY_AUTH_FILE.
 * - --username with --password-stdin: the registry is reached through a recording front (a Node
 *   proxy to the registry) that answers blob downloads with a 307 to a second recording host,
 *   "object storage" serving the blob; the password must reach the front only.
 * - Bare paths: an OCI layout directory, a docker-save tar made by skopeo, and paths that are no
 *   image (exit 64 naming the prefixes; the engine socket and registry that a lookup would reach
 *   record no request).
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../shared/cli/main.js';
import { CREDENTIAL_HELPER_MAX_OUTPUT_BYTES } from '../../shared/image/auth.js';
import { ensureBuiltCli } from '../support/hostile-corpus.js';
import { runBuiltCli, type CliRun } from '../support/cli.js';
import { buildImage, pushToRegistry, toDockerArchive } from '../support/image-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';

const USER = 'alice';
const PASSWORD = 'pw-7f3a9c-registry-secret';
const REPO = 'team/app';
const PACKAGES = ['alpha', 'beta'];

let work: string;
let bin: string;
let registry: TestRegistry;
let ref: string;
let front: Recorder;
let storage: Recorder;
let engine: Recorder;

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

interface Recorder {
  /** host:port (empty for a unix socket) */
  host: string;
  seen: Seen[];
  close(): Promise<void>;
}

const basic = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString('base64');

/** The environment every run starts from: nothing of this machine's credentials or engines. */
function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) {
    if (/^(DRYDOCK_|DOCKER_|CONTAINER_HOST$|REGISTRY_AUTH_FILE$|XDG_RUNTIME_DIR$)/.test(k)) delete env[k];
  }
  return {
    ...env,
    PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`,
    DRYDOCK_CACHE_DIR: join(work, 'cache'),
    DOCKER_CONFIG: join(work, 'no-docker'),
    // an engine lookup of a bare name would reach the recording socket, never a real engine
    DOCKER_HOST: `unix://${join(work, 'engine.sock')}`,
    CONTAINER_HOST: `unix://${join(work, 'no-podman.sock')}`,
    ...extra,
  };
}

/** The built CLI as a user runs it; `stdin` piped in (then closed). */
function drydock(args: string[], opts: { env?: Record<string, string>; stdin?: string; cwd?: string } = {}): Promise<CliRun> {
  return runBuiltCli(args, { cwd: opts.cwd ?? work, env: baseEnv(opts.env ?? {}), ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}) });
}

function packagesOf(out: string): string[] {
  const doc = JSON.parse(out) as { results: Array<{ packages: Array<{ name: string }> }> };
  return doc.results[0]!.packages.map((p) => p.name);
}

/** A stub helper: logs "<verb> <server URL>" to <work>/<name>.log, then runs `body`. */
async function helper(name: string, body: string): Promise<void> {
  const path = join(bin, `docker-credential-${name}`);
  await writeFile(path, `#!/bin/sh\nurl=$(cat)\nprintf '%s %s\\n' "$1" "$url" >> '${join(work, `${name}.log`)}'\n${body}\n`);
  await chmod(path, 0o755);
}

async function asked(name: string): Promise<string[]> {
  return (await readFile(join(work, `${name}.log`), 'utf8').catch(() => '')).split('\n').filter(Boolean);
}

async function clearLogs(): Promise<void> {
  for (const name of ['stub', 'wrong', 'none', 'big']) await rm(join(work, `${name}.log`), { force: true });
}

/** A Docker config dir holding `doc` as config.json. */
async function dockerConfig(name: string, doc: unknown): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(doc));
  return dir;
}

async function listen(server: Server, where: string | 0): Promise<string> {
  await new Promise<void>((resolve) => (typeof where === 'string' ? server.listen(where, resolve) : server.listen(0, '127.0.0.1', resolve)));
  const addr = server.address();
  return typeof addr === 'object' && addr ? `127.0.0.1:${addr.port}` : '';
}

function recorder(server: Server, seen: Seen[], host: string): Recorder {
  return { host, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/**
 * The image's registry as the client sees it: every request recorded and passed to the real
 * registry, except that a blob the registry would serve is answered with a 307 to `storage`.
 */
async function startFront(storageHost: () => string): Promise<Recorder> {
  const seen: Seen[] = [];
  const upstream = new URL(registry.url);
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const fwd = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (up) => {
        const blob = /^\/v2\/.+\/blobs\/(sha256:[a-f0-9]{64})$/.exec(req.url ?? '');
        if (blob && up.statusCode === 200 && req.method === 'GET') {
          up.resume();
          res.writeHead(307, { location: `http://${storageHost()}/objects/${blob[1]}` });
          res.end();
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    fwd.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(fwd);
  });
  return recorder(server, seen, await listen(server, 0));
}

/** "Object storage" on another host: serves the blobs the front redirects to (it fetches them itself). */
async function startStorage(): Promise<Recorder> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const m = /^\/objects\/(sha256:[a-f0-9]{64})$/.exec(req.url ?? '');
    if (!m) {
      res.writeHead(404);
      res.end();
      return;
    }
    void fetch(`${registry.url}/v2/${REPO}/blobs/${m[1]}`, { headers: { authorization: registry.authorization! } }).then(
      async (up) => {
        const body = Buffer.from(await up.arrayBuffer());
        res.writeHead(up.status, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
        res.end(body);
      },
      () => {
        res.writeHead(502);
        res.end();
      },
    );
  });
  return recorder(server, seen, await listen(server, 0));
}

/** A unix socket that records what it is asked and knows no image (404, as dockerd answers). */
async function startEngine(socket: string): Promise<Recorder> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ message: 'No such image' }));
  });
  await listen(server, socket);
  return recorder(server, seen, '');
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-inputs-'));
  bin = join(work, 'bin');
  await mkdir(bin);
  const built = ensureBuiltCli();
  registry = await startRegistry({ users: { [USER]: PASSWORD } });
  const layout = join(work, 'layout');
  await buildImage(layout, {
    tag: 'v1',
    layers: [
      { files: [{ path: 'etc/os-release', content: OS_RELEASE_12 }] },
      { compression: 'gzip', files: [{ path: 'var/lib/dpkg/status', content: statusFile(stanza('alpha', '1.0'), stanza('beta', '2.0-1')) }] },
    ],
  });
  ref = (await pushToRegistry(layout, 'v1', { host: registry.host, username: USER, password: PASSWORD }, `${REPO}:v1`)).reference;
  await toDockerArchive(layout, 'v1', join(work, 'image.tar'), { name: 'drydock-test/app:v1' });
  storage = await startStorage();
  front = await startFront(() => storage.host);
  engine = await startEngine(join(work, 'engine.sock'));

  await helper('stub', `printf '{"ServerURL":"%s","Username":"${USER}","Secret":"${PASSWORD}"}' "$url"`);
  await helper('wrong', `printf '{"Username":"${USER}","Secret":"not-the-password"}'`);
  await helper('none', `echo 'credentials not found in native keychain'; exit 1`);
  await helper('big', `head -c ${CREDENTIAL_HELPER_MAX_OUTPUT_BYTES + 1024} /dev/zero | tr '\\0' 'x'`);
  await built;
}, 600_000);

afterAll(async () => {
  await front?.close();
  await storage?.close();
  await engine?.close();
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('docker credential helpers (stub docker-credential-* executables first on PATH)', () => {
  it('credsStore: the helper is asked for the registry host on stdin and its answer scans the image', async () => {
    await clearLogs();
    const config = await dockerConfig('docker-store', { credsStore: 'stub' });
    const r = await drydock(['scan', ref, '-o', 'json'], { env: { DOCKER_CONFIG: config } });
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(packagesOf(r.out)).toEqual(PACKAGES);
    expect(await asked('stub')).toEqual([`get ${registry.host}`]);
    expect(r.out + r.err).not.toContain(PASSWORD);
  });

  it('a credHelpers entry for the host wins over credsStore', async () => {
    await clearLogs();
    const config = await dockerConfig('docker-helpers', { credsStore: 'wrong', credHelpers: { [registry.host]: 'stub' } });
    const r = await drydock(['scan', ref, '-o', 'json'], { env: { DOCKER_CONFIG: config } });
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(packagesOf(r.out)).toEqual(PACKAGES);
    expect(await asked('stub')).toEqual([`get ${registry.host}`]);
    expect(await asked('wrong')).toEqual([]);
    // and the control: credsStore alone is asked, and its wrong answer is refused by the registry
    const control = await drydock(['scan', ref], { env: { DOCKER_CONFIG: await dockerConfig('docker-wrong', { credsStore: 'wrong' }) } });
    expect(control.code).toBe(EXIT.scanError);
    expect(control.err).toContain(`UNAUTHORIZED: wrong credentials for ${registry.host}`);
    expect(await asked('wrong')).toEqual([`get ${registry.host}`]);
  });

  it('"credentials not found": the pull is anonymous and the 401 names the registry (exit 3)', async () => {
    await clearLogs();
    const config = await dockerConfig('docker-none', { credsStore: 'none' });
    const r = await drydock(['scan', ref], { env: { DOCKER_CONFIG: config } });
    expect(r.code).toBe(EXIT.scanError);
    expect(r.err).toContain(`UNAUTHORIZED: ${registry.host} needs credentials`);
    expect(await asked('none')).toEqual([`get ${registry.host}`]);
  });

  it(`a helper printing more than ${CREDENTIAL_HELPER_MAX_OUTPUT_BYTES} bytes: CONFIG error naming the limit (exit 64)`, async () => {
    const config = await dockerConfig('docker-big', { credsStore: 'big' });
    const r = await drydock(['scan', ref], { env: { DOCKER_CONFIG: config } });
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toContain(`CONFIG: credential helper docker-credential-big (named in ${join(config, 'config.json')}) printed more than ${CREDENTIAL_HELPER_MAX_OUTPUT_BYTES} bytes (limit credentialHelperOutput)`);
    expect(r.err.length).toBeLessThan(4096); // the output itself is not echoed
  });
});

describe('the auth file of podman and skopeo', () => {
  const wrongDocker = () => dockerConfig('docker-wrong-auths', { auths: { [registry.host]: { auth: basic(USER, 'not-the-password') } } });

  it('${XDG_RUNTIME_DIR}/containers/auth.json scans the image, winning over a wrong Docker config entry', async () => {
    const runtime = join(work, 'xdg');
    await mkdir(join(runtime, 'containers'), { recursive: true });
    await writeFile(join(runtime, 'containers', 'auth.json'), JSON.stringify({ auths: { [registry.host]: { auth: basic(USER, PASSWORD) } } }));
    const docker = await wrongDocker();
    const r = await drydock(['scan', ref, '-o', 'json'], { env: { XDG_RUNTIME_DIR: runtime, DOCKER_CONFIG: docker } });
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(packagesOf(r.out)).toEqual(PACKAGES);
    // the control: the Docker config entry alone is read, and is wrong
    const control = await drydock(['scan', ref], { env: { DOCKER_CONFIG: docker } });
    expect(control.code).toBe(EXIT.scanError);
    expect(control.err).toContain(`UNAUTHORIZED: wrong credentials for ${registry.host}`);
  });

  it('REGISTRY_AUTH_FILE names the auth file', async () => {
    const file = join(work, 'skopeo-auth.json');
    await writeFile(file, JSON.stringify({ auths: { [`http://${registry.host}`]: { auth: basic(USER, PASSWORD) } } }));
    const r = await drydock(['scan', ref, '-o', 'json'], { env: { REGISTRY_AUTH_FILE: file, DOCKER_CONFIG: await wrongDocker() } });
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(packagesOf(r.out)).toEqual(PACKAGES);
  });
});

describe('--username with --password-stdin (registry behind a recording front; blobs redirected to a second host)', () => {
  const frontRef = () => ref.replace(registry.host, front.host);
  const encoded = basic(USER, PASSWORD);

  it('scans with the piped password; the password goes to the image host only and is never printed', async () => {
    front.seen.length = 0;
    storage.seen.length = 0;
    // --no-cache: every blob is downloaded (through the redirect), none read from the layer cache
    const r = await drydock(['scan', frontRef(), '--username', USER, '--password-stdin', '--no-cache', '-o', 'json'], { stdin: `${PASSWORD}\n` });
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(packagesOf(r.out)).toEqual(PACKAGES);
    expect(r.out + r.err).not.toContain(PASSWORD);
    expect(r.out + r.err).not.toContain(encoded);
    // the image's host got the credentials ...
    expect(front.seen.some((s) => s.headers.authorization === `Basic ${encoded}`)).toBe(true);
    // ... and the blobs came from the second host, which never saw them
    expect(new Set(storage.seen.map((s) => s.url)).size).toBe(3); // the config and both layers
    for (const s of storage.seen) {
      expect(s.headers.authorization).toBeUndefined();
      expect(JSON.stringify(s)).not.toContain(PASSWORD);
      expect(JSON.stringify(s)).not.toContain(encoded);
    }
  });

  it('a wrong password is UNAUTHORIZED naming the registry, and the password is not in the error', async () => {
    const wrong = 'wrong-pw-31c9e2';
    const r = await drydock(['scan', frontRef(), '--username', USER, '--password-stdin'], { stdin: wrong });
    expect(r.code).toBe(EXIT.scanError);
    expect(r.err).toContain(`UNAUTHORIZED: wrong credentials for ${front.host}`);
    expect(r.out + r.err).not.toContain(wrong);
    expect(r.out + r.err).not.toContain(basic(USER, wrong));
  });

  it('--password-stdin without --username, and an empty password, are usage errors (exit 64)', async () => {
    const a = await drydock(['scan', frontRef(), '--password-stdin'], { stdin: PASSWORD });
    expect(a.code).toBe(EXIT.usage);
    expect(a.err).toContain('--password-stdin needs --username');
    expect(a.err).not.toContain(PASSWORD);
    const b = await drydock(['scan', frontRef(), '--username', USER, '--password-stdin'], { stdin: '' });
    expect(b.code).toBe(EXIT.usage);
    expect(b.err).toContain('standard input is empty');
  });
});

describe('bare paths', () => {
  it('./layout (an OCI layout directory) and ./image.tar (a docker-save tar by skopeo) are scanned', async () => {
    for (const path of ['./layout', './image.tar']) {
      const r = await drydock(['scan', path, '-o', 'json']);
      expect(r.code, `${path}: ${r.err}`).toBe(EXIT.ok);
      expect(packagesOf(r.out), path).toEqual(PACKAGES);
    }
  });

  it('a path that is no image is exit 64 naming the prefixes, with no engine or registry asked', async () => {
    await writeFile(join(work, 'notes.txt'), 'not an image');
    await mkdir(join(work, 'plain'), { recursive: true });
    engine.seen.length = 0;
    front.seen.length = 0;
    const cases: Array<[string, string]> = [
      ['./notes.txt', 'is not a tar archive'],
      ['plain/', 'is a directory without an oci-layout file'],
      // read as a reference this would be an image on the recording front
      [`./${front.host}/${REPO}:v1`, 'cannot be read (ENOENT)'],
    ];
    for (const [path, why] of cases) {
      const r = await drydock(['scan', path]);
      expect(r.code, `${path}: ${r.err}`).toBe(EXIT.usage);
      expect(r.err).toContain(why);
      expect(r.err).toContain('name an image as oci:<layout dir>, oci-archive:<tar>, docker-archive:<tar>, docker:<name> or podman:<name> (a path is never looked up in a registry)');
    }
    expect(engine.seen).toEqual([]);
    expect(front.seen).toEqual([]);
    // the recorders work: a bare name does ask the engine, then its registry
    const named = await drydock(['scan', `${front.host}/${REPO}:v1`]);
    expect(named.code).toBe(EXIT.scanError);
    expect(engine.seen.map((s) => s.url)).toEqual([`/images/${front.host}/${REPO}:v1/json`]);
    expect(front.seen.length).toBeGreaterThan(0);
  });
});
