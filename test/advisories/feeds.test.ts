import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { feedPath, osvFeed, syncFeed } from '../../shared/advisories/feeds.js';
import { DrydockError } from '../../shared/errors.js';

/** A real local HTTP server standing in for OSV's bucket: ETag, Last-Modified, 304, a broken transfer. */
describe('feeds sync against a local HTTP server', () => {
  let server: Server;
  let base: string;
  let dir: string;
  let body = Buffer.from('PK first version of the zip');
  let etag = '"v1"';
  const seen: Array<{ url: string; ifNoneMatch?: string; ifModifiedSince?: string }> = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'drydock-feeds-'));
    server = createServer((req, res) => {
      seen.push({ url: req.url!, ifNoneMatch: req.headers['if-none-match'], ifModifiedSince: req.headers['if-modified-since'] });
      if (req.url === '/npm/all.zip') {
        if (req.headers['if-none-match'] === etag) {
          res.writeHead(304).end();
          return;
        }
        res.writeHead(200, { etag, 'last-modified': 'Mon, 23 Nov 2026 10:00:00 GMT', 'content-length': body.length });
        res.end(body);
      } else if (req.url === '/Broken/all.zip') {
        res.writeHead(200, { 'content-length': 1000 });
        res.write(Buffer.alloc(100));
        setTimeout(() => res.destroy(), 20);
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('downloads, then an unchanged feed costs one conditional request and is not rewritten', async () => {
    const feed = osvFeed('npm', base);
    const first = await syncFeed(feed, { dir });
    expect(first).toMatchObject({ status: 'updated', bytes: body.length });
    expect(await readFile(feedPath(dir, feed))).toEqual(body);
    const second = await syncFeed(feed, { dir });
    expect(second.status).toBe('unchanged');
    expect(seen.at(-1)).toMatchObject({ url: '/npm/all.zip', ifNoneMatch: '"v1"', ifModifiedSince: 'Mon, 23 Nov 2026 10:00:00 GMT' });
    body = Buffer.from('PK second version');
    etag = '"v2"';
    const third = await syncFeed(feed, { dir });
    expect(third.status).toBe('updated');
    expect(await readFile(feedPath(dir, feed), 'utf8')).toBe('PK second version');
  });

  it('a transfer that breaks off keeps the cached copy and leaves no partial file', async () => {
    const feed = osvFeed('Broken', base);
    await expect(syncFeed(feed, { dir })).rejects.toThrow(/Broken\/all\.zip/);
    const files = await readdir(join(dir, 'osv', 'Broken')).catch(() => [] as string[]);
    expect(files.filter((f) => f.includes('.part'))).toEqual([]);
  });

  it('an ecosystem the server does not have is a clear configuration error', async () => {
    await expect(syncFeed(osvFeed('NoSuchEcosystem', base), { dir })).rejects.toMatchObject({ code: 'CONFIG', message: expect.stringMatching(/404/) });
  });

  it('offline (nothing listening) fails with what to do instead', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    const err = await syncFeed(osvFeed('npm', `http://127.0.0.1:${port}`), { dir: join(dir, 'other') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrydockError);
    expect(err).toMatchObject({ code: 'NETWORK', message: expect.stringMatching(/ECONNREFUSED.*--advisories/) });
  });
});
