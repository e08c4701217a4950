/**
 * `drydock feeds sync`: download advisory feeds into a local cache with conditional requests,
 * so an unchanged feed costs one request (304) and nothing is rewritten. A download goes to a
 * temporary file and replaces the cached copy only when complete: an interrupted sync never
 * leaves a truncated feed behind. Offline, it fails with a message that says what to do.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DrydockError } from '../errors.js';

export const OSV_BASE_URL = 'https://osv-vulnerabilities.storage.googleapis.com';
export const DEBIAN_TRACKER_URL = 'https://security-tracker.debian.org/tracker/data/json';
/** CISA's Known Exploited Vulnerabilities catalog (JSON, schema known_exploited_vulnerabilities_schema.json). */
export const KEV_URL = 'https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json';
/**
 * FIRST's EPSS scores of the day (gzip CSV), run by Empirical Security for FIRST since 2025 (the
 * old epss.cyentia.com host redirects here); it redirects to the dated epss_scores-YYYY-MM-DD.csv.gz,
 * whose first line names the model and score date.
 */
export const EPSS_URL = 'https://epss.empiricalsecurity.com/epss_scores-current.csv.gz';
/** The cached file names of the exploitation feeds (syncedFeeds in load.ts looks for them). */
export const KEV_FILE = 'known_exploited_vulnerabilities.json';
export const EPSS_FILE = 'epss_scores-current.csv.gz';

/** OSV ecosystems synced when none are named: the ones the catalogers produce packages for. */
export const DEFAULT_OSV_ECOSYSTEMS = ['Debian', 'Alpine', 'Ubuntu', 'Rocky Linux', 'AlmaLinux', 'npm', 'PyPI', 'Go', 'Maven', 'RubyGems', 'NuGet', 'Packagist', 'crates.io'];

export interface Feed {
  /** "osv/npm", "debian-tracker" */
  name: string;
  url: string;
  /** file name inside the feed's cache directory */
  file: string;
  /** a download larger than this is refused (the cached copy is kept), the limit named in the error */
  maxBytes?: number;
}

/** Download bounds of the exploitation feeds (the KEV catalog is ~1.5 MB, EPSS's gzip CSV ~2 MB in 2025). */
export const MAX_KEV_DOWNLOAD_BYTES = 64 * 1024 * 1024;
export const MAX_EPSS_DOWNLOAD_BYTES = 256 * 1024 * 1024;

export function osvFeed(ecosystem: string, base = OSV_BASE_URL): Feed {
  return { name: `osv/${ecosystem}`, url: `${base.replace(/\/+$/, '')}/${encodeURIComponent(ecosystem)}/all.zip`, file: 'all.zip' };
}

export function debianTrackerFeed(url = DEBIAN_TRACKER_URL): Feed {
  return { name: 'debian-tracker', url, file: 'tracker.json' };
}

/** CISA KEV: enrichment (known exploited, with the due date), never coverage; cached as kev/known_exploited_vulnerabilities.json. */
export function kevFeed(url = KEV_URL): Feed {
  return { name: 'kev', url, file: KEV_FILE, maxBytes: MAX_KEV_DOWNLOAD_BYTES };
}

/** FIRST EPSS: enrichment (likely exploited), never coverage; cached as epss/epss_scores-current.csv.gz. */
export function epssFeed(url = EPSS_URL): Feed {
  return { name: 'epss', url, file: EPSS_FILE, maxBytes: MAX_EPSS_DOWNLOAD_BYTES };
}

export interface FeedMeta {
  url: string;
  etag?: string;
  lastModified?: string;
  bytes: number;
  /** ISO time of the last successful check */
  checkedAt: string;
  /** ISO time the content last changed */
  updatedAt: string;
}

export interface FeedSyncResult {
  feed: string;
  status: 'updated' | 'unchanged';
  bytes: number;
  path: string;
}

export interface FeedSyncOptions {
  /** the feeds cache directory (…/feeds) */
  dir: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** bytes downloaded so far for one feed */
  progress?: (feed: string, bytes: number, total?: number) => void;
}

/** Where a feed lives in the cache. */
export function feedPath(dir: string, feed: Feed): string {
  return join(dir, ...feed.name.split('/').map(safeSegment), feed.file);
}

function safeSegment(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** What `feeds sync` recorded beside a downloaded feed (`<path>.meta.json`), if it did. */
export async function readFeedMeta(path: string): Promise<FeedMeta | undefined> {
  return readMeta(path);
}

async function readMeta(path: string): Promise<FeedMeta | undefined> {
  try {
    const meta = JSON.parse(await readFile(`${path}.meta.json`, 'utf8')) as FeedMeta;
    await stat(path);
    return meta;
  } catch {
    return undefined;
  }
}

export async function syncFeed(feed: Feed, opts: FeedSyncOptions): Promise<FeedSyncResult> {
  const path = feedPath(opts.dir, feed);
  const old = await readMeta(path);
  const headers: Record<string, string> = { 'user-agent': 'drydock-feeds' };
  if (old?.url === feed.url) {
    if (old.etag) headers['if-none-match'] = old.etag;
    if (old.lastModified) headers['if-modified-since'] = old.lastModified;
  }
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(feed.url, { headers, signal: opts.signal });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new DrydockError(
      'NETWORK',
      `cannot reach ${feed.url} (${cause?.code ?? cause?.message ?? (e as Error).message}): feeds sync needs the network; offline, scan with --advisories <dir|zip> or the feeds already synced`,
      { cause: e },
    );
  }
  const now = new Date().toISOString();
  if (res.status === 304 && old) {
    await res.body?.cancel();
    await writeFile(`${path}.meta.json`, JSON.stringify({ ...old, checkedAt: now }, null, 2));
    return { feed: feed.name, status: 'unchanged', bytes: old.bytes, path };
  }
  if (res.status === 404) {
    await res.body?.cancel();
    throw new DrydockError('CONFIG', `no feed at ${feed.url} (404): is "${feed.name}" spelled as the feed spells it?`);
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new DrydockError(res.status >= 500 || res.status === 429 ? 'SERVER_ERROR' : 'NETWORK', `${feed.url} answered ${res.status} ${res.statusText}`);
  }
  await mkdir(join(path, '..'), { recursive: true });
  const tmp = `${path}.part-${process.pid}`;
  const total = Number(res.headers.get('content-length')) || undefined;
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      if (feed.maxBytes !== undefined && bytes > feed.maxBytes) {
        cb(new DrydockError('LIMIT_EXCEEDED', `${feed.url}: more than maxBytes (${feed.maxBytes}) bytes: refused, the cached copy was kept`));
        return;
      }
      opts.progress?.(feed.name, bytes, total);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), count, createWriteStream(tmp), { signal: opts.signal });
    if (total !== undefined && bytes !== total) throw new DrydockError('NETWORK', `${feed.url}: got ${bytes} of ${total} bytes`);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    if (e instanceof DrydockError) throw e;
    throw new DrydockError('NETWORK', `downloading ${feed.url} failed after ${bytes} bytes: ${(e as Error).message}; the cached copy was kept`, { cause: e });
  }
  const meta: FeedMeta = {
    url: feed.url,
    ...(res.headers.get('etag') ? { etag: res.headers.get('etag')! } : {}),
    ...(res.headers.get('last-modified') ? { lastModified: res.headers.get('last-modified')! } : {}),
    bytes,
    checkedAt: now,
    updatedAt: now,
  };
  await writeFile(`${path}.meta.json`, JSON.stringify(meta, null, 2));
  return { feed: feed.name, status: 'updated', bytes, path };
}
