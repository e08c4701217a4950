/**
 * Oracle Linux advisories (ELSA) fetched as Oracle publishes them, for `drydock feeds sync`:
 * one OVAL document for every release, `com.oracle.elsa-all.xml.bz2` (ELSA_URL).
 *
 * The request is conditional (If-None-Match / If-Modified-Since from the last sync): a 304
 * downloads nothing. A new copy is streamed to a temporary file beside the cached one (never
 * held in memory), bounded in size (ELSA_MAX_DOWNLOAD_BYTES) and time (ELSA_DOWNLOAD_TIMEOUT_MS).
 * It is then decompressed ONCE and its definitions section kept, gzip'd (ELSA_FILE): bzip2 is slow
 * to decode (the pure-JS decoder manages a few MB/s) and the tests/objects/states half of the
 * document is never read, so every later scan reads a smaller file at zlib's speed. That file is
 * READ THROUGH with the real reader before it replaces the cached one: Oracle publishes no
 * checksum, so a truncated or corrupt download, or something that is not an ELSA OVAL document,
 * is refused and the previous copy stays in place.
 *
 * CLI contract (shared/cli owns the flag): `drydock feeds sync --oracle` calls
 * `syncElsaToCache(feedsDir, { url: flagOrEnv })` (`--oracle-url` / DRYDOCK_ORACLE_URL for a mirror);
 * the file lands at elsaCachePath(feedsDir), where syncedFeeds() (load.ts) finds it for scans.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DrydockError } from '../errors.js';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { elsaDefinitions, ovalDefinitionsSection } from './elsa.js';

export const ELSA_URL = 'https://linux.oracle.com/security/oval/com.oracle.elsa-all.xml.bz2';
/** The cached file's name: the download's definitions section, gzip'd (load.ts syncedFeeds() looks for it). */
export const ELSA_FILE = 'com.oracle.elsa-all.definitions.xml.gz';
export const ELSA_DOWNLOAD_TIMEOUT_MS = 900_000;
/** Largest (compressed) OVAL download accepted. */
export const ELSA_MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024;

export interface ElsaFetchOptions {
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** a mirror of ELSA_URL (tests: a local server) */
  url?: string;
  timeoutMs?: number;
  maxDownloadBytes?: number;
}

export interface ElsaCacheMeta {
  format: 'drydock.elsa-feed/1';
  url: string;
  etag?: string;
  lastModified?: string;
  /** of the download (the published file) */
  sha256: string;
  bytes: number;
  /** of the cached definitions section (gzip) */
  cachedBytes: number;
  /** definitions read into advisories when the copy was checked */
  advisories: number;
  checkedAt: string;
  updatedAt: string;
}

export interface ElsaCacheResult {
  feed: 'elsa';
  status: 'updated' | 'unchanged';
  bytes: number;
  path: string;
  advisories: number;
}

/** Where `feeds sync` keeps the OVAL: <feeds>/elsa/com.oracle.elsa-all.xml.bz2. */
export function elsaCachePath(dir: string): string {
  return join(dir, 'elsa', ELSA_FILE);
}

/** Syncs the ELSA OVAL into the CLI's feeds cache; the file is replaced only by a complete copy that reads as ELSA. */
export async function syncElsaToCache(dir: string, opts: ElsaFetchOptions = {}): Promise<ElsaCacheResult> {
  const url = opts.url ?? ELSA_URL;
  const path = elsaCachePath(dir);
  let old: ElsaCacheMeta | undefined;
  try {
    old = JSON.parse(await readFile(`${path}.meta.json`, 'utf8')) as ElsaCacheMeta;
    await stat(path); // the data file must still be there
    if (old.format !== 'drydock.elsa-feed/1' || old.url !== url) old = undefined;
  } catch {
    old = undefined;
  }
  const headers: Record<string, string> = { 'user-agent': 'drydock-feeds' };
  if (old?.etag) headers['if-none-match'] = old.etag;
  if (old?.lastModified) headers['if-modified-since'] = old.lastModified;
  const timeoutMs = opts.timeoutMs ?? ELSA_DOWNLOAD_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(url, { headers, signal });
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = timeout.aborted ? `no answer within ${timeoutMs} ms (ELSA_DOWNLOAD_TIMEOUT_MS)` : (cause?.code ?? cause?.message ?? (e as Error).message);
    throw new DrydockError('NETWORK', `cannot reach ${url} (${why}): feeds sync needs the network; offline, scan with --advisories <file> or the feeds already synced`, { cause: e });
  }
  const now = new Date().toISOString();
  if (res.status === 304 && old) {
    await res.body?.cancel();
    const meta: ElsaCacheMeta = { ...old, checkedAt: now };
    const etag = res.headers.get('etag');
    if (etag) meta.etag = etag;
    await writeFile(`${path}.meta.json`, JSON.stringify(meta, null, 2));
    return { feed: 'elsa', status: 'unchanged', bytes: old.bytes, path, advisories: old.advisories };
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    if (res.status === 304) throw new DrydockError('SOURCE_UNREADABLE', `${url} answered 304 without a cached copy`);
    throw new DrydockError(res.status >= 500 || res.status === 429 ? 'SERVER_ERROR' : 'SOURCE_UNREADABLE', `${url} answered ${res.status} ${res.statusText}`);
  }
  const max = opts.maxDownloadBytes ?? ELSA_MAX_DOWNLOAD_BYTES;
  const declared = Number(res.headers.get('content-length'));
  if (declared > max) {
    await res.body.cancel();
    throw new DrydockError('SOURCE_UNREADABLE', `${url}: ${declared} bytes is more than ${max} (ELSA_MAX_DOWNLOAD_BYTES)`);
  }
  await mkdir(join(path, '..'), { recursive: true });
  const tmp = `${path}.download-${process.pid}`;
  const section = `${path}.part-${process.pid}`;
  try {
    const { bytes, sha256 } = await download(res, tmp, url, max, declared);
    let advisories = 0;
    try {
      await pipeline(Readable.from(ovalDefinitionsSection(createReadStream(tmp, { highWaterMark: 1 << 20 }), { where: url })), createGzip(), createWriteStream(section));
      for await (const r of elsaDefinitions(section, { where: url })) if (r.advisory) advisories++;
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      throw new DrydockError('SOURCE_UNREADABLE', `${url}: the download does not read as ELSA OVAL (${e.message}): nothing was stored`);
    }
    if (advisories === 0) throw new DrydockError('SOURCE_UNREADABLE', `${url}: the download holds no ELSA definition: nothing was stored`);
    const cachedBytes = (await stat(section)).size;
    await rename(section, path);
    const etag = res.headers.get('etag') ?? undefined;
    const lastModified = res.headers.get('last-modified') ?? undefined;
    const meta: ElsaCacheMeta = {
      format: 'drydock.elsa-feed/1',
      url,
      ...(etag ? { etag } : {}),
      ...(lastModified ? { lastModified } : {}),
      sha256,
      bytes,
      cachedBytes,
      advisories,
      checkedAt: now,
      updatedAt: now,
    };
    await writeFile(`${path}.meta.json`, JSON.stringify(meta, null, 2));
    return { feed: 'elsa', status: 'updated', bytes, path, advisories };
  } finally {
    await rm(tmp, { force: true });
    await rm(section, { force: true });
  }
}

/** The response body to `tmp`, bounded; its size and sha256. */
async function download(res: Response, tmp: string, url: string, max: number, declared: number): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  const ws = createWriteStream(tmp);
  const closed = new Promise<void>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('close', resolve);
  });
  // the writer's error is observed here and re-thrown by `await closed` below
  closed.catch(() => undefined);
  let total = 0;
  const reader = res.body!.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > max) throw new DrydockError('SOURCE_UNREADABLE', `${url}: more than ${max} bytes (ELSA_MAX_DOWNLOAD_BYTES)`);
      hash.update(value);
      if (!ws.write(value)) await new Promise<void>((resolve, reject) => {
        ws.once('drain', resolve);
        ws.once('error', reject);
      });
    }
  } catch (e) {
    await reader.cancel().catch(() => undefined);
    ws.destroy();
    await closed.catch(() => undefined);
    if (e instanceof DrydockError) throw e;
    throw new DrydockError('NETWORK', `downloading ${url} failed after ${total} bytes: ${(e as Error).message}`, { cause: e });
  }
  ws.end();
  await closed;
  if (declared > 0 && total !== declared) throw new DrydockError('NETWORK', `${url}: got ${total} of ${declared} bytes`);
  return { bytes: total, sha256: hash.digest('hex') };
}
