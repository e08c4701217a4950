import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DrydockError } from '../../shared/errors.js';
import { staticCredentials } from '../../shared/image/auth.js';
import { ecrCredentials } from '../../shared/image/ecr-auth.js';
import { MANIFEST_ACCEPT, MediaType } from '../../shared/image/media-types.js';
import { parseReference, type RegistryReference } from '../../shared/image/reference.js';
import { MAX_MANIFEST_BYTES, RegistryClient, RegistrySource, type RegistryClientOptions } from '../../shared/image/registry.js';
import type { Descriptor } from '../../shared/image/types.js';

// The official debian:bookworm amd64 manifest, with its digest as published upstream.
const MANIFEST = readFileSync(new URL('../../../shared/fixtures/oci/debian-bookworm-20241202/image-manifest.json', import.meta.url));
const MANIFEST_DIGEST = 'sha256:ec54b6327d5099ab29b38d70f7290e42d8769ef676fc262b34a18b688104f61b';
const CONFIG = readFileSync(new URL('../../../shared/fixtures/oci/debian-bookworm-20241202/image-config.json', import.meta.url));
const CONFIG_DIGEST = 'sha256:ff869c3288a47c9625a60473a3d5108ec45bd095a00e23568a82ee8b95d12954';
const CONFIG_DESC: Descriptor = { mediaType: MediaType.OciConfig, digest: CONFIG_DIGEST, size: CONFIG.length };

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

interface TestServer {
  /** "127.0.0.1:port" */
  host: string;
  origin: string;
  requests: Recorded[];
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const running: Server[] = [];

afterEach(async () => {
  for (const server of running.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A real HTTP (or, given a key and certificate, HTTPS) server on a loopback address and a random port that records every request. */
async function serve(handler: Handler, address = '127.0.0.1', tls?: { key: Buffer; cert: Buffer }): Promise<TestServer> {
  const requests: Recorded[] = [];
  const listener: Handler = (req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    handler(req, res);
  };
  const server = tls ? createTlsServer(tls, listener) : createServer(listener);
  running.push(server);
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const { port } = server.address() as AddressInfo;
  return { host: `${address}:${port}`, origin: `${tls ? 'https' : 'http'}://${address}:${port}`, requests };
}

function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A sleep that returns at once and records what it was asked to wait. */
function fakeSleep(): { delays: number[]; sleep: (ms: number) => Promise<void> } {
  const delays: number[] = [];
  return { delays, sleep: async (ms) => void delays.push(ms) };
}

function client(server: TestServer, options: RegistryClientOptions = {}): RegistryClient {
  return new RegistryClient(server.host, { sleep: fakeSleep().sleep, ...options });
}

/** Serves the debian manifest (tag "bookworm" and by digest) and config blob; `guard` may answer first. */
function registry(guard?: (req: IncomingMessage, res: ServerResponse) => boolean): Handler {
  return (req, res) => {
    if (guard?.(req, res)) return;
    const url = req.url ?? '';
    if (url === '/v2/library/debian/manifests/bookworm' || url === `/v2/library/debian/manifests/${MANIFEST_DIGEST}`) {
      res.writeHead(200, {
        'content-type': MediaType.OciManifest,
        'docker-content-digest': MANIFEST_DIGEST,
        'content-length': MANIFEST.length,
      });
      res.end(req.method === 'HEAD' ? undefined : MANIFEST);
    } else if (url === `/v2/library/debian/blobs/${CONFIG_DIGEST}`) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(CONFIG);
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
    }
  };
}

async function caught(promise: Promise<unknown>): Promise<DrydockError> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(DrydockError);
    return e as DrydockError;
  }
  throw new Error('expected the call to fail');
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

describe('RegistryClient manifests', () => {
  it('asks for every readable manifest type and returns the exact bytes with their sha256 digest', async () => {
    const server = await serve(registry());
    const m = await client(server).getManifest('library/debian', 'bookworm');
    expect(m.digest).toBe(MANIFEST_DIGEST);
    expect(m.bytes.equals(MANIFEST)).toBe(true);
    expect(m.mediaType).toBe(MediaType.OciManifest);
    const accept = (server.requests[0]!.headers.accept ?? '').split(',').map((s) => s.trim());
    expect(accept).toEqual([...MANIFEST_ACCEPT]);
    expect(accept).toContain(MediaType.DockerManifestList);
    expect(server.requests[0]!.headers['user-agent']).toMatch(/drydock/);
  });

  it('verifies a manifest fetched by digest', async () => {
    const other = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: {}, layers: [] }));
    const server = await serve((req, res) => {
      res.writeHead(200, { 'content-type': MediaType.OciManifest });
      res.end(req.url?.endsWith(MANIFEST_DIGEST) ? MANIFEST : other);
    });
    const c = client(server);
    expect((await c.getManifest('app', MANIFEST_DIGEST)).digest).toBe(MANIFEST_DIGEST);
    const wrongRef = sha256('something else');
    const err = await caught(c.getManifest('app', wrongRef));
    expect(err.code).toBe('DIGEST_MISMATCH');
    expect(err.kind).toBe('permanent');
    expect(err.message).toContain(sha256(other));
    expect(err.context.image).toBe(`${server.host}/app@${wrongRef}`);
  });

  it('takes the media type from the document when the Content-Type is generic, else from its shape', async () => {
    const withField = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.DockerManifestList, manifests: [] }));
    const bare = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] }));
    const server = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(req.url?.endsWith('/field') ? withField : bare);
    });
    const c = client(server);
    expect((await c.getManifest('app', 'field')).mediaType).toBe(MediaType.DockerManifestList);
    expect((await c.getManifest('app', 'bare')).mediaType).toBe(MediaType.OciIndex);
  });

  it.each([
    ['a schema1 Content-Type', MediaType.DockerManifestV1Signed, { schemaVersion: 1, name: 'app', tag: '1.0', fsLayers: [] }],
    ['schemaVersion 1 behind a generic Content-Type', 'application/json', { schemaVersion: 1, name: 'app', tag: '1.0', fsLayers: [] }],
  ])('refuses schema1 manifests (%s) with a clear message', async (_name, contentType, doc) => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': contentType });
      res.end(JSON.stringify(doc));
    });
    const err = await caught(client(server).getManifest('app', '1.0', undefined, 'legacy/app:1.0'));
    expect(err.code).toBe('SCHEMA1_UNSUPPORTED');
    expect(err.kind).toBe('permanent');
    expect(err.message).toMatch(/schema 1 images are deprecated/);
    expect(err.message).toMatch(/re-push/);
    expect(err.message).toContain('[image legacy/app:1.0]');
    if (contentType !== 'application/json') expect(err.message).toContain(contentType);
  });

  it('refuses a manifest whose Content-Length is over 4 MiB before reading it', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': MediaType.OciManifest, 'content-length': MAX_MANIFEST_BYTES + 1 });
      res.write('{'); // and never more: only the declared length can tell
    });
    const err = await caught(client(server).getManifest('app', '1.0'));
    expect(err.code).toBe('LIMIT_EXCEEDED');
  }, 5_000);

  it('refuses a chunked manifest once it grows past 4 MiB', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': MediaType.OciManifest });
      res.end(Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20));
    });
    const err = await caught(client(server).getManifest('app', '1.0'));
    expect(err.code).toBe('LIMIT_EXCEEDED');
  });

  it('reports 404 as MANIFEST_NOT_FOUND naming the reference and repository', async () => {
    const server = await serve(registry());
    const err = await caught(client(server).getManifest('library/debian', 'nope'));
    expect(err.code).toBe('MANIFEST_NOT_FOUND');
    expect(err.kind).toBe('permanent');
    expect(err.message).toContain(`manifest nope not found in ${server.host}/library/debian`);
    expect(server.requests).toHaveLength(1);
  });

  it('HEADs a manifest for its type, digest and size, and falls back to GET when the digest header is missing', async () => {
    const server = await serve(registry());
    const head = await client(server).headManifest('library/debian', 'bookworm');
    expect(head).toEqual({ mediaType: MediaType.OciManifest, digest: MANIFEST_DIGEST, size: MANIFEST.length });
    expect(server.requests.map((r) => r.method)).toEqual(['HEAD']);

    const bare = await serve((req, res) => {
      res.writeHead(200, { 'content-type': MediaType.OciManifest, 'content-length': MANIFEST.length });
      res.end(req.method === 'HEAD' ? undefined : MANIFEST);
    });
    const fallback = await client(bare).headManifest('library/debian', 'bookworm');
    expect(fallback).toEqual({ mediaType: MediaType.OciManifest, digest: MANIFEST_DIGEST, size: MANIFEST.length });
    expect(bare.requests.map((r) => r.method)).toEqual(['HEAD', 'GET']);
  });

  it('HEAD by digest fails when the registry reports another digest', async () => {
    const server = await serve(registry());
    const asked = sha256('another manifest');
    const wrong = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': MediaType.OciManifest, 'docker-content-digest': MANIFEST_DIGEST, 'content-length': 10 });
      res.end();
    });
    expect((await client(server).headManifest('library/debian', MANIFEST_DIGEST)).digest).toBe(MANIFEST_DIGEST);
    const err = await caught(client(wrong).headManifest('library/debian', asked));
    expect(err.code).toBe('DIGEST_MISMATCH');
    expect(err.message).toContain(MANIFEST_DIGEST);
  });
});

describe('RegistryClient blobs', () => {
  it('reads a small blob whole and verifies its digest and size', async () => {
    const server = await serve(registry());
    const c = client(server);
    expect((await c.getBlobBytes('library/debian', CONFIG_DESC)).equals(CONFIG)).toBe(true);

    const tampered = await serve((_req, res) => res.end(Buffer.concat([CONFIG.subarray(1), Buffer.from(' ')])));
    const err = await caught(client(tampered).getBlobBytes('library/debian', CONFIG_DESC));
    expect(err.code).toBe('DIGEST_MISMATCH');
    expect(err.context.layer).toBe(CONFIG_DIGEST);
    expect(err.message).toContain(CONFIG_DIGEST);

    const short = await serve((_req, res) => res.end(CONFIG.subarray(1)));
    expect((await caught(client(short).getBlobBytes('library/debian', CONFIG_DESC))).code).toBe('SIZE_MISMATCH');
  });

  it('refuses to read a blob larger than 32 MiB into memory, before any request', async () => {
    const server = await serve(registry());
    const err = await caught(client(server).getBlobBytes('library/debian', { ...CONFIG_DESC, size: 33 * 1024 * 1024 }));
    expect(err.code).toBe('LIMIT_EXCEEDED');
    expect(err.context.layer).toBe(CONFIG_DIGEST);
    expect(server.requests).toHaveLength(0);
  });

  it('streams a blob as a Node Readable', async () => {
    const server = await serve(registry());
    const stream = await client(server).getBlob('library/debian', CONFIG_DESC);
    expect(stream).toBeInstanceOf(Readable);
    expect((await readAll(stream)).equals(CONFIG)).toBe(true);
  });

  it('reports 404 as BLOB_NOT_FOUND naming the digest and the image', async () => {
    const server = await serve(registry());
    const desc = { ...CONFIG_DESC, digest: sha256('missing') };
    const err = await caught(client(server).getBlob('library/debian', desc, undefined, 'debian:bookworm'));
    expect(err.code).toBe('BLOB_NOT_FOUND');
    expect(err.message).toContain(`blob ${desc.digest} not found in ${server.host}/library/debian`);
    expect(err.context).toEqual({ image: 'debian:bookworm', layer: desc.digest });
  });

  it('refuses a descriptor digest that could escape the blob path', async () => {
    const server = await serve(registry());
    const err = await caught(client(server).getBlob('library/debian', { ...CONFIG_DESC, digest: 'sha256:../../x' }));
    expect(err.code).toBe('INVALID_MANIFEST');
    expect(server.requests).toHaveLength(0);
  });

  it('follows a redirect to object storage on another host without leaking the Authorization header', async () => {
    const storage = await serve((_req, res) => res.end(CONFIG), '127.0.0.2');
    const creds = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;
    const server = await serve(
      registry((req, res) => {
        if (req.headers.authorization !== creds) {
          res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' });
          res.end();
          return true;
        }
        if (req.url?.includes('/blobs/')) {
          res.writeHead(307, { location: `${storage.origin}/bucket/blob?sig=abc` });
          res.end();
          return true;
        }
        return false;
      }),
    );
    const stream = await client(server, { credentials: staticCredentials('alice', 's3cret') }).getBlob('library/debian', CONFIG_DESC);
    expect((await readAll(stream)).equals(CONFIG)).toBe(true);
    expect(server.requests.at(-1)!.headers.authorization).toBe(creds);
    expect(storage.requests).toHaveLength(1);
    expect(storage.requests[0]!.url).toBe('/bucket/blob?sig=abc');
    expect(storage.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('gives up after 5 redirects', async () => {
    const server = await serve((req, res) => {
      res.writeHead(302, { location: `${req.url}x` });
      res.end();
    });
    const err = await caught(client(server).getBlob('app', CONFIG_DESC));
    expect(err.message).toMatch(/more than 5 redirects/);
    expect(server.requests).toHaveLength(6);
  });
});

describe('RegistryClient authentication', () => {
  /** A registry that wants `Bearer good-token`, with its token service at /token on the same server. */
  function bearerRegistry(opts: { tokenField?: 'token' | 'access_token'; expiresIn?: number; basic?: string } = {}): Handler {
    let realm = '';
    return (req, res) => {
      realm ||= `http://${req.headers.host}/token`;
      const url = new URL(req.url ?? '', 'http://x');
      if (url.pathname === '/token') {
        if (opts.basic && req.headers.authorization !== opts.basic) {
          res.writeHead(401);
          res.end();
          return;
        }
        const ok = url.searchParams.get('service') === 'registry.test' && url.searchParams.get('scope') === 'repository:library/debian:pull';
        res.writeHead(ok ? 200 : 400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ [opts.tokenField ?? 'token']: 'good-token', ...(opts.expiresIn ? { expires_in: opts.expiresIn } : {}) }));
        return;
      }
      if (req.headers.authorization !== 'Bearer good-token') {
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="${realm}",service="registry.test",scope="repository:library/debian:pull"`,
        });
        res.end();
        return;
      }
      registry()(req, res);
    };
  }

  it('gets a Bearer token from the realm with service and scope, and reuses it while valid', async () => {
    let now = 1_000_000;
    const server = await serve(bearerRegistry({ expiresIn: 300 }));
    const c = client(server, { now: () => now });
    await c.getManifest('library/debian', 'bookworm');
    await c.getManifest('library/debian', MANIFEST_DIGEST);
    await c.getBlobBytes('library/debian', CONFIG_DESC);
    const tokenRequests = () => server.requests.filter((r) => r.url.startsWith('/token'));
    expect(tokenRequests()).toHaveLength(1);
    expect(tokenRequests()[0]!.url).toBe('/token?service=registry.test&scope=repository%3Alibrary%2Fdebian%3Apull');
    expect(tokenRequests()[0]!.headers.authorization).toBeUndefined();
    // 401, token, retry; then two requests straight with the token
    expect(server.requests).toHaveLength(5);

    now += 295_000; // inside the expiry margin: a new token is fetched up front
    await c.getManifest('library/debian', 'bookworm');
    expect(tokenRequests()).toHaveLength(2);
  });

  it('accepts access_token and defaults the lifetime to 60 s', async () => {
    let now = 0;
    const server = await serve(bearerRegistry({ tokenField: 'access_token' }));
    const c = client(server, { now: () => now });
    await c.getManifest('library/debian', 'bookworm');
    now = 45_000;
    await c.getManifest('library/debian', 'bookworm');
    now = 55_000;
    await c.getManifest('library/debian', 'bookworm');
    expect(server.requests.filter((r) => r.url.startsWith('/token'))).toHaveLength(2);
  });

  it('sends Basic credentials to the token realm when it has them', async () => {
    const basic = `Basic ${Buffer.from('bob:pw').toString('base64')}`;
    const server = await serve(bearerRegistry({ basic }));
    await client(server, { credentials: staticCredentials('bob', 'pw') }).getManifest('library/debian', 'bookworm');
    expect(server.requests.find((r) => r.url.startsWith('/token'))!.headers.authorization).toBe(basic);

    const err = await caught(client(server, { credentials: staticCredentials('bob', 'wrong') }).getManifest('library/debian', 'bookworm'));
    expect(err.code).toBe('UNAUTHORIZED');
    expect(err.message).toContain(`wrong credentials for ${server.host}`);
  });

  it('shares one token request among concurrent calls', async () => {
    const server = await serve(bearerRegistry());
    const c = client(server);
    await Promise.all([
      c.getManifest('library/debian', 'bookworm'),
      c.getBlobBytes('library/debian', CONFIG_DESC),
      c.getManifest('library/debian', MANIFEST_DIGEST),
    ]);
    expect(server.requests.filter((r) => r.url.startsWith('/token'))).toHaveLength(1);
  });

  it('uses Basic auth when challenged, then sends it up front', async () => {
    const basic = `Basic ${Buffer.from('carol:pw').toString('base64')}`;
    const server = await serve(
      registry((req, res) => {
        if (req.headers.authorization === basic) return false;
        res.writeHead(401, { 'www-authenticate': 'Basic realm="Registry Realm"' });
        res.end();
        return true;
      }),
    );
    const c = client(server, { credentials: staticCredentials('carol', 'pw') });
    await c.getManifest('library/debian', 'bookworm');
    await c.getManifest('library/debian', 'bookworm');
    expect(server.requests.map((r) => r.headers.authorization)).toEqual([undefined, basic, basic]);
  });

  it('reports wrong Basic credentials as UNAUTHORIZED naming the registry and the image', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="Registry Realm"' });
      res.end();
    });
    const err = await caught(
      client(server, { credentials: staticCredentials('carol', 'nope') }).getManifest('app', '1.0', undefined, `${server.host}/app:1.0`),
    );
    expect(err.code).toBe('UNAUTHORIZED');
    expect(err.kind).toBe('permanent');
    expect(err.message).toContain(`wrong credentials for ${server.host}`);
    expect(err.message).toContain(`[image ${server.host}/app:1.0]`);
    expect(server.requests).toHaveLength(2);
  });

  it('says credentials are needed when challenged without any', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="Registry Realm"' });
      res.end();
    });
    const err = await caught(client(server).getManifest('app', '1.0'));
    expect(err.code).toBe('UNAUTHORIZED');
    expect(err.message).toMatch(/needs credentials/);
    expect(server.requests).toHaveLength(1);
  });

  it('reports 403 as DENIED', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(403);
      res.end();
    });
    const err = await caught(client(server).getManifest('app', '1.0'));
    expect(err.code).toBe('DENIED');
    expect(err.kind).toBe('permanent');
    expect(err.context.image).toBe(`${server.host}/app:1.0`);
  });

  it('authenticates with ECR credentials from a mocked ECR API', async () => {
    const token = Buffer.from('AWS:ecr-password').toString('base64');
    const fakeEcr = {
      calls: 0,
      async send() {
        this.calls++;
        return { authorizationData: [{ authorizationToken: token, expiresAt: new Date(Date.now() + 12 * 3600_000) }], $metadata: {} };
      },
    };
    const basic = `Basic ${Buffer.from('AWS:ecr-password').toString('base64')}`;
    const server = await serve(
      registry((req, res) => {
        if (req.headers.authorization === basic) return false;
        res.writeHead(401, { 'www-authenticate': 'Basic realm="https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/",service="ecr.amazonaws.com"' });
        res.end();
        return true;
      }),
    );
    const c = client(server, { credentials: ecrCredentials({ region: 'eu-west-1', client: fakeEcr }) });
    await c.getManifest('library/debian', 'bookworm');
    await c.getBlobBytes('library/debian', CONFIG_DESC);
    expect(fakeEcr.calls).toBe(1);
    expect(server.requests.at(-1)!.headers.authorization).toBe(basic);
  });
});

describe('RegistryClient retries', () => {
  it('honours Retry-After on 429, then succeeds', async () => {
    let calls = 0;
    const server = await serve(
      registry((_req, res) => {
        if (++calls > 2) return false;
        // an HTTP date has whole seconds, and the client reads it a moment later (longer on a busy
        // machine): 10 s ahead keeps the wait it computes above zero whatever the load
        res.writeHead(429, { 'retry-after': calls === 1 ? '3' : new Date(Date.now() + 10_000).toUTCString() });
        res.end();
        return true;
      }),
    );
    const { delays, sleep } = fakeSleep();
    const m = await client(server, { sleep }).getManifest('library/debian', 'bookworm');
    expect(m.digest).toBe(MANIFEST_DIGEST);
    expect(server.requests).toHaveLength(3);
    expect(delays[0]).toBe(3000);
    expect(delays[1]).toBeGreaterThan(0);
    expect(delays[1]).toBeLessThanOrEqual(10_000);
  });

  it('gives up on 503 after 4 attempts with growing backoff: SERVER_ERROR, retryable', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(503, 'Service Unavailable');
      res.end();
    });
    const { delays, sleep } = fakeSleep();
    const err = await caught(client(server, { sleep, retry: { baseDelayMs: 100, maxDelayMs: 10_000 } }).getManifest('app', '1.0'));
    expect(err.code).toBe('SERVER_ERROR');
    expect(err.kind).toBe('retryable');
    expect(err.message).toContain('503');
    expect(server.requests).toHaveLength(4);
    expect(delays).toHaveLength(3);
    [100, 200, 400].forEach((ceiling, i) => {
      expect(delays[i]).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delays[i]).toBeLessThanOrEqual(ceiling);
    });
  });

  it('throws THROTTLED at once when Retry-After asks for longer than the longest wait', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(429, { 'retry-after': '3600' });
      res.end();
    });
    const { delays, sleep } = fakeSleep();
    const err = await caught(client(server, { sleep }).getManifest('app', '1.0'));
    expect(err.code).toBe('THROTTLED');
    expect(err.retryable).toBe(true);
    expect(server.requests).toHaveLength(1);
    expect(delays).toEqual([]);
  });

  it('retries a connection the server resets', async () => {
    let calls = 0;
    const server = await serve(
      registry((req) => {
        if (++calls > 1) return false;
        req.socket.destroy();
        return true;
      }),
    );
    const { delays, sleep } = fakeSleep();
    const m = await client(server, { sleep }).getManifest('library/debian', 'bookworm');
    expect(m.digest).toBe(MANIFEST_DIGEST);
    expect(server.requests).toHaveLength(2);
    expect(delays).toHaveLength(1);
  });

  it('ends with NETWORK, retryable, when every connection is reset', async () => {
    const server = await serve((req) => req.socket.destroy());
    const err = await caught(client(server).getBlob('app', CONFIG_DESC));
    expect(err.code).toBe('NETWORK');
    expect(err.kind).toBe('retryable');
    expect(err.context.layer).toBe(CONFIG_DIGEST);
    expect(server.requests).toHaveLength(4);
  });
});

describe('RegistryClient transport policy', () => {
  /** The real fetch, recording each URL it is asked for. */
  function recordingFetch(): { urls: string[]; fetch: typeof fetch } {
    const urls: string[] = [];
    return { urls, fetch: (input, init) => (urls.push(String(input)), fetch(input, init)) };
  }

  it('speaks https to a non-loopback host, never plain http, unless it is listed as insecure', async () => {
    // 0.0.0.0 reaches this machine but is not a loopback name, so it gets https by default.
    const server = await serve(registry(), '127.0.0.1');
    const port = server.host.split(':')[1];
    const host = `0.0.0.0:${port}`;
    const rec = recordingFetch();
    const err = await caught(new RegistryClient(host, { fetch: rec.fetch, sleep: fakeSleep().sleep }).getManifest('library/debian', 'bookworm'));
    expect(err.code).toBe('NETWORK'); // a TLS handshake with a plain-http server
    expect(rec.urls.length).toBeGreaterThan(0);
    expect(rec.urls.every((u) => u.startsWith(`https://${host}/`))).toBe(true);
    expect(server.requests).toHaveLength(0);

    const insecure = new RegistryClient(host, { insecureRegistries: [host] });
    expect(insecure.origin).toBe(`http://${host}`);
    expect((await insecure.getManifest('library/debian', 'bookworm')).digest).toBe(MANIFEST_DIGEST);
  });

  it('refuses a redirect to plain http on a non-loopback host without making that request', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(302, { location: 'http://storage.example.com/blob' });
      res.end();
    });
    const rec = recordingFetch();
    const err = await caught(client(server, { fetch: rec.fetch }).getBlob('app', CONFIG_DESC));
    expect(err.code).toBe('INSECURE_REGISTRY');
    expect(err.message).toContain('storage.example.com');
    expect(rec.urls).toEqual([`${server.origin}/v2/app/blobs/${CONFIG_DIGEST}`]);
  });

  it('refuses a plain-http token realm on a non-loopback host', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="http://auth.example.com/token",service="x"' });
      res.end();
    });
    const rec = recordingFetch();
    const err = await caught(client(server, { fetch: rec.fetch }).getManifest('app', '1.0'));
    expect(err.code).toBe('INSECURE_REGISTRY');
    expect(rec.urls.some((u) => u.includes('auth.example.com'))).toBe(false);
  });
});

describe('RegistryClient on an https registry', () => {
  // A self-signed certificate made for this run; certificate checks are relaxed for this block only.
  let tls: { key: Buffer; cert: Buffer };
  let dir: string;
  let previous: string | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'drydock-tls-'));
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'].concat(
      ['-subj', '/CN=drydock-test', '-days', '1', '-keyout', key, '-out', cert],
    ), { stdio: 'ignore' });
    tls = { key: readFileSync(key), cert: readFileSync(cert) };
    previous = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  });
  afterAll(() => {
    if (previous === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = previous;
    rmSync(dir, { recursive: true, force: true });
  });

  /** An https registry reached as 0.0.0.0:port, a host name that is not loopback, so the client uses https. */
  async function httpsRegistry(handler: Handler): Promise<RegistryClient> {
    const server = await serve(handler, '127.0.0.1', tls);
    return new RegistryClient(`0.0.0.0:${server.host.split(':')[1]}`, { sleep: fakeSleep().sleep });
  }

  it('fetches over https', async () => {
    const c = await httpsRegistry(registry());
    expect(c.origin).toMatch(/^https:/);
    expect((await c.getManifest('library/debian', 'bookworm')).digest).toBe(MANIFEST_DIGEST);
  });

  it('refuses a redirect to plain http on this machine', async () => {
    const local = await serve((_req, res) => res.end(CONFIG));
    const c = await httpsRegistry((_req, res) => {
      res.writeHead(307, { location: `${local.origin}/2018-06-01/runtime/invocation/next` });
      res.end();
    });
    const err = await caught(c.getBlob('library/debian', CONFIG_DESC));
    expect(err.code).toBe('INSECURE_REGISTRY');
    expect(local.requests).toHaveLength(0);
  });

  it('refuses a plain-http token realm on this machine', async () => {
    const local = await serve((_req, res) => res.end('{"token":"t"}'));
    const c = await httpsRegistry((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${local.origin}/token",service="x"` });
      res.end();
    });
    const err = await caught(c.getManifest('library/debian', 'bookworm'));
    expect(err.code).toBe('INSECURE_REGISTRY');
    expect(local.requests).toHaveLength(0);
  });

  it('allows plain http to a host listed as insecure', async () => {
    const storage = await serve((_req, res) => res.end(CONFIG));
    const server = await serve((_req, res) => {
      res.writeHead(307, { location: `${storage.origin}/blob` });
      res.end();
    }, '127.0.0.1', tls);
    const c = new RegistryClient(`0.0.0.0:${server.host.split(':')[1]}`, { insecureRegistries: [storage.host] });
    expect(c.origin).toMatch(/^https:/);
    expect((await readAll(await c.getBlob('library/debian', CONFIG_DESC))).equals(CONFIG)).toBe(true);
    expect(storage.requests).toHaveLength(1);
  });
});

describe('RegistryClient aborts', () => {
  it('makes no request when the signal is already aborted', async () => {
    const server = await serve(registry());
    const calls: unknown[] = [];
    const recording: typeof fetch = (input, init) => (calls.push(input), fetch(input, init));
    const err = await caught(client(server, { fetch: recording }).getManifest('library/debian', 'bookworm', AbortSignal.abort()));
    expect(err.code).toBe('ABORTED');
    expect(calls).toHaveLength(0);
    expect(server.requests).toHaveLength(0);
  });

  it('does not retry after an abort during the backoff', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(503);
      res.end();
    });
    const controller = new AbortController();
    const sleep = async () => controller.abort();
    const err = await caught(client(server, { sleep }).getManifest('app', '1.0', controller.signal));
    expect(err.code).toBe('ABORTED');
    expect(server.requests).toHaveLength(1);
  });

  it('fails a blob stream with ABORTED naming the layer when aborted mid-download', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200);
      res.write(Buffer.alloc(1024));
    });
    const controller = new AbortController();
    const stream = await client(server).getBlob('app', CONFIG_DESC, controller.signal);
    stream.once('data', () => controller.abort());
    const err = await caught(readAll(stream));
    expect(err.code).toBe('ABORTED');
    expect(err.context.layer).toBe(CONFIG_DIGEST);
  });
});

describe('RegistrySource', () => {
  function source(server: TestServer, options: RegistryClientOptions = {}): RegistrySource {
    const ref = parseReference(`${server.host}/library/debian:bookworm`) as RegistryReference;
    return new RegistrySource(ref, { sleep: fakeSleep().sleep, ...options });
  }

  it('fetches the root manifest, child manifests by digest and blobs for its reference', async () => {
    const server = await serve(registry());
    const src = source(server);
    expect(src.name).toBe(`registry ${server.host}/library/debian:bookworm`);
    const root = await src.rootManifest();
    expect(root.digest).toBe(MANIFEST_DIGEST);
    const child = await src.manifest({ mediaType: MediaType.OciManifest, digest: MANIFEST_DIGEST, size: MANIFEST.length });
    expect(child.bytes.equals(MANIFEST)).toBe(true);
    expect((await src.blob(CONFIG_DESC)).equals(CONFIG)).toBe(true);
    expect((await readAll(await src.openBlob(CONFIG_DESC))).equals(CONFIG)).toBe(true);
    expect(server.requests.map((r) => r.url)).toEqual([
      '/v2/library/debian/manifests/bookworm',
      `/v2/library/debian/manifests/${MANIFEST_DIGEST}`,
      `/v2/library/debian/blobs/${CONFIG_DIGEST}`,
      `/v2/library/debian/blobs/${CONFIG_DIGEST}`,
    ]);
  });

  it('uses ECR credentials for an ECR reference, also behind credentials that do not know the host (mocked ECR API server)', async () => {
    // A local stand-in for the ECR API's JSON protocol, reached through the SDK's endpoint override.
    const ecrApi = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      const token = Buffer.from('AWS:ecr-password').toString('base64');
      res.end(JSON.stringify({ authorizationData: [{ authorizationToken: token, expiresAt: Date.now() / 1000 + 43_200 }] }));
    });
    const basic = `Basic ${Buffer.from('AWS:ecr-password').toString('base64')}`;
    const server = await serve(
      registry((req, res) => {
        if (req.headers.authorization === basic) return false;
        res.writeHead(401, { 'www-authenticate': 'Basic realm="ecr"' });
        res.end();
        return true;
      }),
    );
    const env = { AWS_ENDPOINT_URL_ECR: ecrApi.origin, AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'test-secret' };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      // An ECR-shaped reference whose API host is the local registry.
      const ref: RegistryReference = {
        kind: 'registry',
        registry: server.host,
        repository: 'library/debian',
        tag: 'bookworm',
        ecr: { accountId: '123456789012', region: 'eu-west-1', fips: false },
        original: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/library/debian:bookworm',
      };
      for (const credentials of [undefined, { get: async () => undefined }]) {
        const src = new RegistrySource(ref, { sleep: fakeSleep().sleep, credentials });
        expect((await src.rootManifest()).digest).toBe(MANIFEST_DIGEST);
      }
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    expect(ecrApi.requests).toHaveLength(2);
    expect(ecrApi.requests[0]!.headers['x-amz-target']).toBe('AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken');
    expect(server.requests.at(-1)!.headers.authorization).toBe(basic);
  });

  it('names the image as the user gave it in errors and checks descriptor sizes', async () => {
    const server = await serve(registry());
    const src = source(server);
    const err = await caught(src.manifest({ mediaType: MediaType.OciManifest, digest: MANIFEST_DIGEST, size: 1 }));
    expect(err.code).toBe('SIZE_MISMATCH');
    expect(err.context.image).toBe(`${server.host}/library/debian:bookworm`);
    const missing = await caught(src.blob({ ...CONFIG_DESC, digest: sha256('x') }));
    expect(missing.code).toBe('BLOB_NOT_FOUND');
    expect(missing.context.image).toBe(`${server.host}/library/debian:bookworm`);
  });
});
