/**
 * Hostile registries (issue 14): servers on real sockets on 127.0.0.1 that never answer,
 * trickle a blob a byte at a time, stall mid-body, send a 1 MiB WWW-Authenticate header, or
 * ask for credentials that were given for another host. The registry client is the real
 * one on its default transport (Node's http and https, http-transport.ts); each time-bound case makes its bound small through the client's
 * settings (RegistryTimeouts) and checks WHICH limit tripped (the error names it), never how
 * long it took: the settings are chosen so that only the limit under test can trip, however
 * a loaded machine stretches the timers (the other limit is far away). Vitest's per-test
 * timeout (60 s) is the hang guard. The other cases use roomy bounds, so a slow machine
 * cannot turn them into timeouts. The end-to-end cases run `drydock scan` (main(),
 * in-process) and check the exit code 3 and the one-line message.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../shared/cli/main.js';
import { DrydockError } from '../../shared/errors.js';
import { envCredentials, hostCredentials } from '../../shared/image/auth.js';
import { RegistryClient, type RegistryClientOptions } from '../../shared/image/registry.js';
import type { Descriptor } from '../../shared/image/types.js';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!();
});

/**
 * A raw TCP server: `onRequest` gets the socket once the request's first bytes arrive.
 * The client's TLS probe of a loopback registry (a ClientHello, first byte 0x16) is closed
 * at once, as a plain-http server would, and not counted among `connections`.
 */
async function rawServer(onRequest: (socket: Socket) => void): Promise<{ host: string; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', (first: Buffer) => {
      if (first[0] === 0x16) return void socket.destroy();
      connections++;
      onRequest(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stops.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections };
}

/** An HTTP server recording each request's path and Authorization header. */
async function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ host: string; seen: Array<{ url: string; authorization?: string }> }> {
  const seen: Array<{ url: string; authorization?: string }> = [];
  const server = createHttpServer((req, res) => {
    seen.push({ url: req.url ?? '', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stops.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const MiB = 1024 * 1024;
/** bounds no local exchange comes near, however loaded the machine (the cases not about time) */
const ROOMY: RegistryClientOptions['timeouts'] = { idleMs: 30_000, totalFloorMs: 60_000, minBytesPerSecond: MiB };
/** a small idle bound; the total bound far away, so only the idle one can trip */
const IDLE_ONLY: RegistryClientOptions['timeouts'] = { idleMs: 200, totalFloorMs: 60_000, minBytesPerSecond: MiB };
const client = (host: string, options: RegistryClientOptions = {}) => new RegistryClient(host, { timeouts: ROOMY, sleep: async () => undefined, ...options });

async function caught(p: Promise<unknown>): Promise<DrydockError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(DrydockError);
  return e as DrydockError;
}

function blobOf(size: number): { bytes: Buffer; descriptor: Descriptor } {
  const bytes = Buffer.alloc(size, 7);
  return { bytes, descriptor: { mediaType: 'application/octet-stream', digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size } };
}

/** Runs `drydock scan` in-process; returns the exit code and what it wrote. */
async function scan(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, cb) {
        add(String(chunk));
        cb();
      },
    });
  const err = Object.assign(sink((s) => (stderr += s)), { isTTY: false }) as unknown as NodeJS.WriteStream;
  const code = await main(['scan', '-q', '--no-cache', ...args], { stdout: sink((s) => (stdout += s)), stderr: err, env: { HOME: process.env.HOME, ...env, DOCKER_CONFIG: '/nonexistent' } });
  return { code, stdout, stderr };
}

describe('time bounds on every request and transfer', () => {
  it('a server that never sends headers: NETWORK naming registryIdleTimeout, after the idle bound, not retried', async () => {
    const server = await rawServer(() => undefined);
    const start = Date.now();
    const err = await caught(client(server.host, { timeouts: IDLE_ONLY }).getManifest('app', 'v1'));
    expect(err.code).toBe('NETWORK');
    expect(err.message).toBe(`manifest v1 of ${server.host}/app: no response headers from ${server.host} for 200 ms (limit registryIdleTimeout 200 ms) [image ${server.host}/app:v1]`);
    // not before the bound (a lower bound only: load can delay the timer, never advance it)
    expect(Date.now() - start).toBeGreaterThanOrEqual(190);
    expect(server.connections()).toBe(1);
  });

  it('a blob served at one byte per 20 ms (never idle): NETWORK naming registryTotalTimeout', async () => {
    // The idle bound (2 s) is 100 times the trickle's interval, and no smaller than the total
    // bound (401 ms), so the total bound is the only one that can trip; the whole blob would
    // take 20 s to arrive, so without a total bound the transfer would succeed (and fail this).
    const { descriptor } = blobOf(1000);
    const server = await rawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${descriptor.size}\r\n\r\n`);
      const timer = setInterval(() => (socket.destroyed ? clearInterval(timer) : socket.write(Buffer.from([7]))), 20);
      socket.on('close', () => clearInterval(timer));
    });
    const err = await caught(client(server.host, { timeouts: { idleMs: 2_000, totalFloorMs: 400, minBytesPerSecond: MiB } }).getBlobBytes('app', descriptor));
    expect(err.code).toBe('NETWORK');
    expect(err.message).toContain(`blob ${descriptor.digest} of ${server.host}/app: ${server.host} took more than 401 ms (limit registryTotalTimeout: 400 ms + the expected 1000 bytes at 1048576 bytes/s)`);
    expect(err.message).not.toContain('registryIdleTimeout');
    expect(err.context.layer).toBe(descriptor.digest);
  });

  it('a streamed blob that stalls half way: the stream fails with NETWORK naming registryIdleTimeout', async () => {
    const { bytes, descriptor } = blobOf(64 * 1024);
    const server = await rawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${bytes.length}\r\n\r\n`);
      socket.write(bytes.subarray(0, bytes.length / 2)); // and then nothing
    });
    const stream = await client(server.host, { timeouts: IDLE_ONLY }).getBlob('app', descriptor);
    const err = await caught((async () => {
      for await (const _ of stream) void _;
    })());
    expect(err.code).toBe('NETWORK');
    expect(err.message).toContain(`no bytes from ${server.host} for 200 ms (limit registryIdleTimeout 200 ms)`);
  });

  it('a slow reader of a blob stream is not the server\'s fault: pauses longer than the idle bound do not trip it', async () => {
    const { bytes, descriptor } = blobOf(256 * 1024);
    const server = await httpServer((_req, res) => {
      res.writeHead(200, { 'content-length': bytes.length });
      res.end(bytes);
    });
    // idle bound 500 ms (roomy for a local server sending at once), total bound far away
    const stream = await client(server.host, { timeouts: { ...IDLE_ONLY, idleMs: 500 } }).getBlob('app', descriptor);
    let total = 0;
    let pauses = 0;
    for await (const chunk of stream) {
      total += (chunk as Buffer).length;
      // each pause is longer than the idle bound on its own (three are enough)
      if (pauses++ < 3) await new Promise((r) => setTimeout(r, 750));
    }
    expect(total).toBe(bytes.length);
    expect(pauses).toBeGreaterThanOrEqual(2);
  });

  it('drydock scan against a registry that never answers: exit 3, one line naming the limit, no stack trace', async () => {
    // --registry-timeout sets the idle bound (1 s); the total bound stays at its 30 s default
    const server = await rawServer(() => undefined);
    const r = await scan([`${server.host}/app:v1`, '--registry-timeout', '1']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('drydock: NETWORK: ');
    expect(r.stderr).toContain('(limit registryIdleTimeout 1000 ms)');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('answers that are not what HTTP allows, and connections dropped at the worst moment (the default transport, Node\'s http)', () => {
  /** Every process-level error while `fn` runs: an uncaught 'error' event would be one. */
  async function noUncaught<T>(fn: () => Promise<T>): Promise<T> {
    const seen: unknown[] = [];
    const record = (e: unknown) => seen.push(e);
    process.on('uncaughtException', record);
    process.on('unhandledRejection', record);
    try {
      const out = await fn();
      // what a dropped body would emit comes on later ticks
      await new Promise((r) => setTimeout(r, 100));
      expect(seen).toEqual([]);
      return out;
    } finally {
      process.off('uncaughtException', record);
      process.off('unhandledRejection', record);
    }
  }

  it('a status outside 200–599 (HTTP/1.1 999): a NETWORK error naming the status, not a crash', async () => {
    const server = await rawServer((socket) => socket.end('HTTP/1.1 999 Odd\r\nContent-Length: 0\r\n\r\n'));
    const err = await noUncaught(() => caught(client(server.host).getManifest('app', 'v1')));
    expect(err.code).toBe('NETWORK');
    expect(err.message).toContain('status 999');
  });

  it('a blob whose connection is reset after the headers, before anyone reads it: the stream fails with NETWORK naming the blob, nothing uncaught', async () => {
    const { descriptor } = blobOf(64 * 1024);
    const server = await rawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${descriptor.size}\r\n\r\n${'x'.repeat(100)}`);
      setTimeout(() => socket.resetAndDestroy(), 20);
    });
    const err = await noUncaught(async () => {
      const stream = await client(server.host).getBlob('app', descriptor);
      // the reader comes only after the reset
      await new Promise((r) => setTimeout(r, 200));
      return caught((async () => {
        for await (const _ of stream) void _;
      })());
    });
    expect(err.code).toBe('NETWORK');
    expect(err.message).toContain(`blob ${descriptor.digest} of ${server.host}/app: the download failed`);
  });

  it('a redirect with an endless body is not read on: the blob behind it arrives, the connection is cut', async () => {
    const { bytes, descriptor } = blobOf(4096);
    let endless: NodeJS.Timeout | undefined;
    const server = await rawServer((socket) => {
      socket.once('data', () => undefined);
      const first = server.connections() === 1;
      if (first) {
        // a chunked body that never ends, after the redirect's headers
        socket.write(`HTTP/1.1 307 Temporary Redirect\r\nLocation: /v2/app/blobs/${descriptor.digest}?again=1\r\nTransfer-Encoding: chunked\r\n\r\n`);
        endless = setInterval(() => (socket.destroyed ? clearInterval(endless) : socket.write('400\r\n' + 'z'.repeat(1024) + '\r\n')), 5);
        socket.on('close', () => clearInterval(endless));
      } else {
        socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`), bytes]));
      }
    });
    const got = await noUncaught(() => client(server.host).getBlobBytes('app', descriptor));
    expect(got.equals(bytes)).toBe(true);
    expect(server.connections()).toBe(2);
  });

  it('a redirect whose short body is reset after the client has dropped it: the blob behind it arrives, nothing uncaught', async () => {
    const { bytes, descriptor } = blobOf(4096);
    const server = await rawServer((socket) => {
      if (server.connections() === 1) {
        // 10 bytes promised, 5 sent: the client drains it (short) and goes on; then the reset
        socket.write(`HTTP/1.1 307 Temporary Redirect\r\nLocation: /v2/app/blobs/${descriptor.digest}?again=1\r\nContent-Length: 10\r\n\r\nshort`);
        setTimeout(() => socket.resetAndDestroy(), 50);
      } else {
        socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`), bytes]));
      }
    });
    const got = await noUncaught(() => client(server.host).getBlobBytes('app', descriptor));
    expect(got.equals(bytes)).toBe(true);
  });

  it('a blob sent gzip-encoded (Content-Encoding: gzip) is taken as the bytes sent: a digest mismatch, never a pass', async () => {
    const { descriptor } = blobOf(4096);
    const { gzipSync } = await import('node:zlib');
    const body = gzipSync(Buffer.alloc(4096, 7));
    const server = await rawServer((socket) => socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${body.length}\r\n\r\n`), body])));
    const err = await noUncaught(() => caught(client(server.host).getBlobBytes('app', descriptor)));
    expect(['SIZE_MISMATCH', 'DIGEST_MISMATCH']).toContain(err.code);
  });
});

describe('a 1 MiB WWW-Authenticate header', () => {
  it('is reported as a header overflow (LIMIT_EXCEEDED), not "cannot reach host", and not retried', async () => {
    const server = await rawServer((socket) => {
      socket.end(`HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="${'r'.repeat(1024 * 1024)}"\r\nContent-Length: 0\r\n\r\n`);
    });
    const err = await caught(client(server.host).getManifest('app', 'v1'));
    expect(err.code).toBe('LIMIT_EXCEEDED');
    expect(err.message).toMatch(/sent response headers larger than \d+ bytes \(header overflow; limit maxHeaderSize \d+/);
    expect(err.message).not.toMatch(/cannot reach|attempt \d+ of/);
    expect(server.connections()).toBe(1);

    const r = await scan([`${server.host}/app:v1`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^drydock: LIMIT_EXCEEDED: .*header overflow/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('credentials stay with the registry they were given for', () => {
  const unauthorizedBasic = (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(401, { 'www-authenticate': 'Basic realm="elsewhere"' });
    res.end();
  };

  it('hostCredentials answers only for its hosts (Docker Hub names as one)', async () => {
    const creds = hostCredentials(['registry.example.com', 'docker.io'], 'alice', 'pw');
    expect(await creds.get('registry.example.com')).toEqual({ username: 'alice', password: 'pw' });
    expect(await creds.get('REGISTRY.example.com')).toEqual({ username: 'alice', password: 'pw' });
    expect(await creds.get('registry-1.docker.io')).toEqual({ username: 'alice', password: 'pw' });
    expect(await creds.get('registry.example.com:5000')).toBeUndefined();
    expect(await creds.get('evil.example.com')).toBeUndefined();
  });

  it('environment credentials need DRYDOCK_REGISTRY_HOST (CONFIG otherwise), and are bound to it', async () => {
    expect(envCredentials({})).toBeUndefined();
    expect(() => envCredentials({ DRYDOCK_REGISTRY_USERNAME: 'a', DRYDOCK_REGISTRY_PASSWORD: 'b' })).toThrow(/DRYDOCK_REGISTRY_HOST/);
    const bound = envCredentials({ DRYDOCK_REGISTRY_USERNAME: 'a', DRYDOCK_REGISTRY_PASSWORD: 'b', DRYDOCK_REGISTRY_HOST: 'one.example, two.example:5000' })!;
    expect(await bound.get('two.example:5000')).toEqual({ username: 'a', password: 'b' });
    expect(await bound.get('three.example')).toBeUndefined();
  });

  it('another registry answering 401 Basic never sees them: UNAUTHORIZED, no Authorization header sent', async () => {
    const other = await httpServer(unauthorizedBasic);
    const err = await caught(client(other.host, { credentials: hostCredentials(['registry.example.invalid'], 'alice', 's3cret') }).getManifest('app', 'v1'));
    expect(err.code).toBe('UNAUTHORIZED');
    expect(other.seen.length).toBeGreaterThan(0);
    expect(other.seen.filter((r) => r.authorization)).toEqual([]);

    const r = await scan([`${other.host}/app:v1`], { DRYDOCK_REGISTRY_HOST: 'registry.example.invalid', DRYDOCK_REGISTRY_USERNAME: 'alice', DRYDOCK_REGISTRY_PASSWORD: 's3cret' });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^drydock: UNAUTHORIZED: /);
    expect(other.seen.filter((x) => x.authorization)).toEqual([]);
  });

  it('drydock scan with credentials but no DRYDOCK_REGISTRY_HOST: a usage error (64), nothing sent', async () => {
    const other = await httpServer(unauthorizedBasic);
    const r = await scan([`${other.host}/app:v1`], { DRYDOCK_REGISTRY_USERNAME: 'alice', DRYDOCK_REGISTRY_PASSWORD: 's3cret' });
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('DRYDOCK_REGISTRY_HOST');
    expect(other.seen).toEqual([]);
  });

  async function realmSetup() {
    const realm = await httpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"token":"t0ken"}');
    });
    const reg = await httpServer((req, res) => {
      if (req.headers.authorization === 'Bearer t0ken') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
        return;
      }
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${realm.host}/token",service="hostile"` });
      res.end();
    });
    return { realm, reg };
  }

  it('a Bearer realm on another host (here: another port) gets the token request without them', async () => {
    const { realm, reg } = await realmSetup();
    const err = await caught(client(reg.host, { credentials: hostCredentials([reg.host], 'alice', 's3cret') }).getManifest('app', 'v1'));
    // the anonymous token was accepted, and the manifest is not there
    expect(err.code).toBe('MANIFEST_NOT_FOUND');
    expect(realm.seen).toHaveLength(1);
    expect(realm.seen[0]!.authorization).toBeUndefined();
  });

  it('the realm gets them when declared as the registry\'s token server (tokenHosts)', async () => {
    const { realm, reg } = await realmSetup();
    const c = client(reg.host, { credentials: hostCredentials([reg.host], 'alice', 's3cret'), tokenHosts: { [reg.host]: [realm.host] } });
    await caught(c.getManifest('app', 'v1'));
    expect(realm.seen[0]!.authorization).toBe(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
  });

  it('a realm on another host that refuses the anonymous request: UNAUTHORIZED saying the credentials were withheld from it', async () => {
    const realm = await httpServer((_req, res) => {
      res.writeHead(401);
      res.end();
    });
    const reg = await httpServer((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${realm.host}/token",service="hostile"` });
      res.end();
    });
    const err = await caught(client(reg.host, { credentials: hostCredentials([reg.host], 'alice', 's3cret') }).getManifest('app', 'v1'));
    expect(err.code).toBe('UNAUTHORIZED');
    expect(err.message).toContain(`were not sent to its token server on another host, ${realm.host}`);
    expect(realm.seen.filter((r) => r.authorization)).toEqual([]);
  });
});

describe('documents of the wrong shape (JSON null, wrong types)', () => {
  const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
  const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
  const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
  const LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';
  const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  const json = (v: unknown) => Buffer.from(JSON.stringify(v));
  const GOOD_CONFIG = json({ os: 'linux', architecture: 'amd64', rootfs: { type: 'layers', diff_ids: [] } });
  const LAYER = { mediaType: LAYER_TYPE, digest: `sha256:${'1'.repeat(64)}`, size: 10 };

  /** A registry serving `app:v1` as `root` (its media type), and `blobs` / other manifests by digest. */
  async function registryWith(root: { type: string; body: Buffer }, docs: Buffer[] = []) {
    const byDigest = new Map(docs.map((d) => [digestOf(d), d]));
    return httpServer((req, res) => {
      const m = /^\/v2\/app\/(manifests|blobs)\/(.+)$/.exec(req.url ?? '');
      const body = m?.[2] === 'v1' ? root.body : m ? byDigest.get(decodeURIComponent(m[2]!)) : undefined;
      if (!body) {
        res.writeHead(404);
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': m![1] === 'manifests' ? (m![2] === 'v1' ? root.type : OCI_MANIFEST) : 'application/octet-stream', 'content-length': body.length });
      res.end(body);
    });
  }

  async function expectInvalid(host: string, pattern: RegExp): Promise<void> {
    const r = await scan([`${host}/app:v1`]);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr).toMatch(/^drydock: INVALID_MANIFEST: .*\[image 127\.0\.0\.1:\d+\/app:v1\]\n$/);
    expect(r.stderr).not.toMatch(/TypeError|unexpected error|\n\s+at /);
    expect(r.code).toBe(3);
  }

  it('a manifest that is JSON null', async () => {
    const reg = await registryWith({ type: OCI_MANIFEST, body: Buffer.from('null') });
    await expectInvalid(reg.host, /manifest v1 of .* is not a JSON object/);
  });

  it('a layer descriptor that is null: "manifest … layer 1 is not a JSON object (null)"', async () => {
    const manifest = json({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: digestOf(GOOD_CONFIG), size: GOOD_CONFIG.length }, layers: [LAYER, null] });
    const reg = await registryWith({ type: OCI_MANIFEST, body: manifest }, [GOOD_CONFIG]);
    await expectInvalid(reg.host, new RegExp(`manifest ${digestOf(manifest)} layer 1 is not a JSON object \\(null\\)`));
  });

  it('a config descriptor whose size is a string', async () => {
    const manifest = json({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: digestOf(GOOD_CONFIG), size: String(GOOD_CONFIG.length) }, layers: [LAYER] });
    const reg = await registryWith({ type: OCI_MANIFEST, body: manifest }, [GOOD_CONFIG]);
    await expectInvalid(reg.host, /manifest sha256:[0-9a-f]{64} config has "size" that is a string, not a whole number of bytes/);
  });

  it('a config that is JSON null, and one whose rootfs.diff_ids is a string', async () => {
    for (const [config, problem] of [
      [Buffer.from('null'), 'is not a JSON object \\(null\\)'],
      [json({ os: 'linux', architecture: 'amd64', rootfs: { type: 'layers', diff_ids: 'sha256:x' } }), 'rootfs has "diff_ids" that is a string, not an array'],
    ] as const) {
      const manifest = json({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: digestOf(config), size: config.length }, layers: [LAYER] });
      const reg = await registryWith({ type: OCI_MANIFEST, body: manifest }, [config]);
      await expectInvalid(reg.host, new RegExp(`config ${digestOf(config)} ${problem}`));
    }
  });

  it('an index entry that is null, and one whose platform is a string: "index … entry n"', async () => {
    for (const [entry, problem] of [
      [null, 'entry 1 is not a JSON object \\(null\\)'],
      [{ mediaType: OCI_MANIFEST, digest: `sha256:${'2'.repeat(64)}`, size: 5, platform: 'linux/amd64' }, 'entry 1 platform is not a JSON object \\(a string\\)'],
    ] as const) {
      const index = json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: `sha256:${'3'.repeat(64)}`, size: 5, platform: { os: 'linux', architecture: 'arm64' } }, entry] });
      const reg = await registryWith({ type: OCI_INDEX, body: index });
      await expectInvalid(reg.host, new RegExp(`index ${digestOf(index)} ${problem}`));
    }
  });

  it('an OCI layout whose index.json is null, or lists a null entry', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drydock-null-layout-'));
    stops.push(async () => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    for (const [index, problem] of [
      ['null', /index\.json is not a JSON object \(null\)/],
      ['{"schemaVersion":2,"manifests":[null]}', /index\.json entry 0 is not a JSON object \(null\)/],
    ] as const) {
      writeFileSync(join(dir, 'index.json'), index);
      const r = await scan([`oci:${dir}`]);
      expect(r.stderr).toMatch(problem);
      expect(r.stderr).toMatch(/^drydock: INVALID_MANIFEST: /);
      expect(r.stderr).not.toMatch(/TypeError|unexpected error|\n\s+at /);
      expect(r.code).toBe(3);
    }
  });
});
