/**
 * Amazon Linux updateinfo fetched as the distribution publishes it (mirror.list → repomd.xml →
 * updateinfo.xml.gz), from a real local HTTP server serving the real fixtures: the checksum is
 * verified (a wrong one stores nothing), an unchanged repomd downloads nothing, offline is a
 * clear error; `drydock feeds sync --alas` stores the stream where scan and feeds status find it.
 */
import { createServer } from 'node:http';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAlasUpdateinfo } from '../../shared/advisories/alas.js';
import { alasCachePath, alasSourcesAt, parseRepomdUpdateinfo, resolveAlasStreams, syncAlasStreamToCache, validateAlasStreamNames } from '../../shared/advisories/alas-feed.js';
import { loadAdvisories, syncedFeeds } from '../../shared/advisories/load.js';
import { MemoryAdvisoryStore } from '../../shared/adapters/local/memory-advisory-store.js';
import { EXIT } from '../../shared/cli/main.js';
import { AMAZON, startAlasServer, type AlasServer } from '../support/alas-server.js';
import { runCli } from '../support/cli.js';

let server: AlasServer;
let work: string;
const AL2023 = join(AMAZON, 'updateinfo', 'al2023-core.ALAS2023-2023-001.vuln-list-update.xml.gz');
const AL2 = join(AMAZON, 'updateinfo', 'al2-core.ALAS2-2018-942+949.vuln-list-update.xml.gz');

beforeAll(async () => {
  server = await startAlasServer();
  work = await mkdtemp(join(tmpdir(), 'drydock-alas-'));
});
afterAll(async () => {
  await server.stop();
  await rm(work, { recursive: true, force: true });
});

describe('repomd.xml (real samples)', () => {
  it('names the updateinfo location and its sha256', async () => {
    for (const f of ['repomd.al2-core.vuln-list-update.xml', 'repomd.vuls-data-update.xml']) {
      const e = parseRepomdUpdateinfo(await readFile(join(AMAZON, 'repodata', f), 'utf8'), f);
      expect(e.href).toMatch(/^repodata\/.*updateinfo\.xml\.gz$/);
      expect(e.checksum).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(() => parseRepomdUpdateinfo('<repomd><data type="primary"></data></repomd>', 'x')).toThrow(/no <data type="updateinfo">/);
    expect(() => parseRepomdUpdateinfo('<repomd><data type="updateinfo"><checksum type="sha256">' + 'a'.repeat(64) + '</checksum><location href="../../etc/passwd"/></data></repomd>', 'x')).toThrow(/not a path inside the mirror/);
  });

  it('stream names are checked; al2-extras expands to the catalog topics', async () => {
    expect(() => validateAlasStreamNames(['al2023-core', 'al2-extras/kernel-5.15'])).not.toThrow();
    expect(() => validateAlasStreamNames(['al2024'])).toThrow(/unknown Amazon Linux stream "al2024"/);
    expect(() => validateAlasStreamNames(['al2-core/x'])).toThrow(/unknown Amazon Linux stream/);
    const streams = await resolveAlasStreams(['al2-extras', 'al2023-core'], { streams: server.sources });
    expect(streams.map((s) => [s.name, s.release])).toEqual([
      ['al2-extras/kernel-5.15', '2'],
      ['al2-extras/golang1.19', '2'],
      ['al2023-core', '2023'],
    ]);
    expect(streams[0]!.mirrorList).toBe(`${server.url}/al2-extras/kernel-5.15/mirror.list`);
  });
});

describe('syncing a stream into the feeds cache (local server)', () => {
  const dir = () => join(work, 'feeds');
  const stream = () => ({ name: 'al2023-core', release: '2023' as const, mirrorList: `${server.url}/al2023-core/mirror.list` });
  const downloads = () => server.requests.filter((r) => r.path.endsWith('updateinfo.xml.gz')).length;

  it('downloads the verified updateinfo; it reads as AL2023 advisories', async () => {
    await server.set('al2023-core', await readFile(AL2023));
    const r = await syncAlasStreamToCache(stream(), dir());
    expect(r).toMatchObject({ feed: 'alas/al2023-core', status: 'updated', path: alasCachePath(dir(), 'al2023-core') });
    expect(await readFile(r.path)).toEqual(await readFile(AL2023));
    const read = await readAlasUpdateinfo(r.path);
    expect(read.advisories.map((a) => a.id)).toEqual(['ALAS2023-2023-001']);
    expect(read.advisories[0]!.affected[0]!.ecosystem).toBe('Amazon Linux:2023');
    expect(downloads()).toBe(1);
  });

  it('a second sync with an unchanged repomd downloads nothing (304); a republished repomd with the same checksum neither', async () => {
    const before = server.requests.length;
    expect(await syncAlasStreamToCache(stream(), dir())).toMatchObject({ status: 'unchanged' });
    expect(server.requests.slice(before).map((r) => `${r.status} ${r.path.split('/').pop()}`)).toEqual(['200 mirror.list', '304 repomd.xml']);
    await server.set('al2023-core', await readFile(AL2023)); // new ETag, same file
    expect(await syncAlasStreamToCache(stream(), dir())).toMatchObject({ status: 'unchanged' });
    expect(downloads()).toBe(1);
  });

  it('a wrong checksum is a clear error and nothing is stored', async () => {
    await server.set('al2023-core', await readFile(AL2), { corrupt: true });
    await expect(syncAlasStreamToCache(stream(), dir())).rejects.toThrow(/sha256 [0-9a-f]{64} does not match repomd\.xml's [0-9a-f]{64}: nothing was stored/);
    expect(await readFile(alasCachePath(dir(), 'al2023-core'))).toEqual(await readFile(AL2023));
    const meta = JSON.parse(await readFile(`${alasCachePath(dir(), 'al2023-core')}.meta.json`, 'utf8')) as { checksum: string };
    expect(meta.checksum).not.toBe('');
  });

  it('offline: a clear NETWORK error, quickly', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const t0 = Date.now();
    await expect(syncAlasStreamToCache({ ...stream(), mirrorList: `http://127.0.0.1:${port}/al2023-core/mirror.list` }, join(work, 'offline'), { requestTimeoutMs: 2000 })).rejects.toThrow(/cannot reach .*mirror\.list/);
    expect(Date.now() - t0).toBeLessThan(5000);
    await expect(stat(join(work, 'offline'))).rejects.toThrow();
  });
});

describe('bounded in time', () => {
  it('a server that accepts and never answers is a clear error after the request timeout, not a hang', async () => {
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer(() => undefined);
    silent.on('connection', (s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    try {
      const t0 = Date.now();
      await expect(
        syncAlasStreamToCache({ name: 'al2023-core', release: '2023', mirrorList: `http://127.0.0.1:${port}/mirror.list` }, join(work, 'hang'), { requestTimeoutMs: 300 }),
      ).rejects.toThrow(/cannot reach .*no answer within 300 ms/);
      expect(Date.now() - t0).toBeLessThan(3000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});

describe('drydock feeds sync --alas (local server via --alas-url)', () => {
  const cli = (...argv: string[]) => runCli(argv, { DRYDOCK_CACHE_DIR: join(work, 'cli') });

  it('syncs, then unchanged; scan and feeds status find the stream without --advisories', async () => {
    await server.set('al2023-core', await readFile(AL2023));
    await server.set('al2-core', await readFile(AL2));
    const first = await cli('feeds', 'sync', '--alas', 'al2023-core', '--alas', 'al2-core', '--alas-url', server.url);
    expect(first.err).toBe('');
    expect(first.code).toBe(EXIT.ok);
    expect(first.out).toMatch(/^alas\/al2023-core: updated/m);
    expect(first.out).toMatch(/^alas\/al2-core: updated/m);
    const second = await cli('feeds', 'sync', '--alas', 'al2023-core', '--alas-url', server.url);
    expect(second.out).toMatch(/^alas\/al2023-core: unchanged/m);
    expect(second.out).not.toMatch(/osv\//);

    const paths = await syncedFeeds(join(work, 'cli', 'feeds'));
    expect(paths.filter((p) => p.includes(`${join('feeds', 'alas')}`))).toHaveLength(2);
    const loaded = await loadAdvisories(paths, new MemoryAdvisoryStore());
    expect(loaded.sources.flatMap((s) => s.ecosystems ?? []).sort()).toEqual(['Amazon Linux:2', 'Amazon Linux:2023']);

    const status = await cli('feeds', 'status');
    expect(status.code).toBe(EXIT.ok);
    expect(status.out).toMatch(/al2023-core\/updateinfo\.xml\.gz\s+alas-updateinfo\s+Amazon Linux:2023\s+1\b/);
    // fresh as of the sync, though its one advisory is from 2023
    expect(status.out).not.toMatch(/STALE/);
  });

  it('an unknown stream is a usage error; offline is exit 3, said once', async () => {
    expect((await cli('feeds', 'sync', '--alas', 'al2024')).code).toBe(EXIT.usage);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const r = await cli('feeds', 'sync', '--alas', 'al2023-core', '--alas', 'al2-core', '--alas-url', `http://127.0.0.1:${port}`);
    expect(r.code).toBe(EXIT.scanError);
    expect(r.err.match(/cannot reach/g)).toHaveLength(1);
    expect(r.err).toMatch(/--advisories/);
  });

  it('the published mirror.list URLs are one table', () => {
    expect(alasSourcesAt('http://m.example/').map((s) => s.mirrorList)[0]).toBe('http://m.example/al1/mirror.list');
  });
});
