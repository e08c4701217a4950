/**
 * The ELSA OVAL fetched as Oracle publishes it (one com.oracle.elsa-all.xml.bz2), from a real
 * local HTTP server serving the real per-arch sample: conditional requests (a 304 downloads
 * nothing), a download that does not read as ELSA OVAL (truncated, corrupt) is refused and the
 * previous copy kept, the size bound is named, offline is a clear error; the cached file is where
 * scans find it (syncedFeeds) and loads as elsa-oval.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryAdvisoryStore } from '../../shared/adapters/local/memory-advisory-store.js';
import { compressionOf } from '../../shared/advisories/elsa.js';
import { ELSA_FILE, elsaCachePath, syncElsaToCache } from '../../shared/advisories/elsa-feed.js';
import { loadAdvisories, syncedFeeds } from '../../shared/advisories/load.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const PER_ARCH = join(SHARED_FIXTURES, 'advisories/oracle/oval/elsa-all.ol7-ol8-ol10.per-arch-subset.vunnel.xml');

/** The published form is bzip2; made here with the bzip2 tool, else gzip (the reader tells them apart by content). */
async function publishedBytes(): Promise<Buffer> {
  const bz = spawnSync('bzip2', ['-c', PER_ARCH], { maxBuffer: 1 << 24 });
  return bz.status === 0 ? bz.stdout : gzipSync(await readFile(PER_ARCH));
}

let server: Server;
let url: string;
let body: Buffer;
let etag: string;
const requests: Array<{ status: number; ifNoneMatch?: string }> = [];
let work: string;

const serve = (b: Buffer) => {
  body = b;
  etag = `"${createHash('sha256').update(b).digest('hex').slice(0, 16)}"`;
};

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-elsa-sync-'));
  serve(await publishedBytes());
  server = createServer((req, res) => {
    const inm = req.headers['if-none-match'];
    if (req.url !== '/security/oval/com.oracle.elsa-all.xml.bz2') {
      res.writeHead(404).end();
      requests.push({ status: 404 });
      return;
    }
    if (inm === etag) {
      res.writeHead(304, { etag }).end();
      requests.push({ status: 304, ifNoneMatch: inm });
      return;
    }
    res.writeHead(200, { etag, 'last-modified': new Date(0).toUTCString(), 'content-length': String(body.length), 'content-type': 'application/x-bzip2' }).end(body);
    requests.push({ status: 200, ...(typeof inm === 'string' ? { ifNoneMatch: inm } : {}) });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/security/oval/com.oracle.elsa-all.xml.bz2`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(work, { recursive: true, force: true });
});

describe('drydock feeds sync --oracle (syncElsaToCache, local server)', () => {
  const dir = () => join(work, 'feeds');

  it('downloads the OVAL, checks it reads as ELSA, and stores it where scans find it', async () => {
    const r = await syncElsaToCache(dir(), { url });
    expect(r).toEqual({ feed: 'elsa', status: 'updated', bytes: body.length, path: elsaCachePath(dir()), advisories: 3 });
    // kept: the definitions section only, gzip'd (scans never decode bzip2 nor read the tests/objects/states)
    const cached = await readFile(r.path);
    expect(compressionOf(cached)).toBe('gzip');
    const section = gunzipSync(cached).toString('utf8');
    const xml = await readFile(PER_ARCH, 'utf8');
    expect(section).toBe(`${xml.slice(0, xml.indexOf('</definitions>') + '</definitions>'.length)}\n</oval_definitions>\n`);
    const meta = JSON.parse(await readFile(`${r.path}.meta.json`, 'utf8')) as Record<string, unknown>;
    expect(meta).toMatchObject({ format: 'drydock.elsa-feed/1', url, etag, bytes: body.length, cachedBytes: cached.length, advisories: 3, sha256: createHash('sha256').update(body).digest('hex') });
    expect(await syncedFeeds(dir())).toContain(r.path);
    const summary = await loadAdvisories(await syncedFeeds(dir()), new MemoryAdvisoryStore());
    expect(summary.sources.map((s) => [s.kind, s.advisories, s.ecosystems])).toEqual([['elsa-oval', 3, ['Oracle Linux:10', 'Oracle Linux:7', 'Oracle Linux:8']]]);
  });

  it('a second sync is conditional: 304, nothing downloaded', async () => {
    const before = requests.length;
    const r = await syncElsaToCache(dir(), { url });
    expect(r).toMatchObject({ status: 'unchanged', advisories: 3 });
    expect(requests.slice(before)).toEqual([{ status: 304, ifNoneMatch: etag }]);
  });

  it('a truncated or corrupt download is refused and the previous copy kept', async () => {
    const good = await readFile(elsaCachePath(dir()));
    const original = body;
    try {
      serve(original.subarray(0, Math.floor(original.length / 2)));
      await expect(syncElsaToCache(dir(), { url })).rejects.toThrow(/does not read as ELSA OVAL.*nothing was stored/);
      const bad = Buffer.from(original);
      bad.fill(0x41, 20, bad.length - 20);
      serve(bad);
      await expect(syncElsaToCache(dir(), { url })).rejects.toThrow(/nothing was stored/);
      // an OVAL-shaped document with no ELSA definition in it (invented) is refused too
      serve(gzipSync(Buffer.from('<oval_definitions><definitions></definitions></oval_definitions>')));
      await expect(syncElsaToCache(dir(), { url })).rejects.toThrow(/holds no ELSA definition/);
    } finally {
      serve(original);
    }
    expect(await readFile(elsaCachePath(dir()))).toEqual(good);
    expect((await readdir(join(dir(), 'elsa'))).sort()).toEqual([ELSA_FILE, `${ELSA_FILE}.meta.json`]);
  });

  it('the size bound is named; a missing file and no server are clear errors', async () => {
    await expect(syncElsaToCache(join(work, 'other'), { url, maxDownloadBytes: 100 })).rejects.toThrow(/ELSA_MAX_DOWNLOAD_BYTES/);
    await expect(syncElsaToCache(join(work, 'other'), { url: url.replace('com.oracle.elsa-all.xml.bz2', 'nope.bz2') })).rejects.toThrow(/answered 404/);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(syncElsaToCache(join(work, 'other'), { url: `http://127.0.0.1:${port}/x.bz2` })).rejects.toThrow(/cannot reach .*feeds sync needs the network/);
  });
});
