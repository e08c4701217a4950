/**
 * Amazon Linux advisories (ALAS) fetched the way the distribution publishes them, for
 * `drydock feeds sync` (CLI) and the pipeline's feed-sync:
 *
 *   <stream>/mirror.list  (text: one mirror base URL a line; `$basearch` → x86_64)
 *   → <mirror>/repodata/repomd.xml          (conditional: ETag / If-Modified-Since)
 *   → its `<data type="updateinfo">`: `<location href>` and `<checksum type="sha256">`
 *   → <mirror>/<href>                       (gzip'd updateinfo.xml; sha256 verified before use)
 *
 * A repomd.xml that answers 304, or that names the same updateinfo checksum as last time,
 * downloads nothing more. Every request is bounded in time (ALAS_REQUEST_TIMEOUT_MS for the
 * small documents, ALAS_DOWNLOAD_TIMEOUT_MS for updateinfo) and size (ALAS_MAX_INDEX_BYTES,
 * ALAS_MAX_DOWNLOAD_BYTES). AL2 extras topics come from `extras-catalog.json` (stream
 * "al2-extras" = every topic, "al2-extras/<topic>" = one).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DrydockError } from '../errors.js';
import type { AlasRelease } from './alas.js';

/** One published updateinfo stream. `mirrorList` may hold `{topic}` (AL2 extras). */
export interface AlasStreamSource {
  /** "al2023-core", "al2-extras" */
  name: string;
  /** the release key's major version: advisories land under "Amazon Linux:<release>" */
  release: AlasRelease;
  mirrorList: string;
  /** AL2 extras: the catalog listing the topics */
  catalog?: string;
}

/** The streams Amazon Linux publishes updateinfo for (one list; the release key is the major version). */
export const ALAS_STREAMS: readonly AlasStreamSource[] = [
  { name: 'al1', release: '1', mirrorList: 'http://repo.us-west-2.amazonaws.com/2018.03/updates/x86_64/mirror.list' },
  { name: 'al2-core', release: '2', mirrorList: 'https://cdn.amazonlinux.com/2/core/latest/x86_64/mirror.list' },
  {
    name: 'al2-extras',
    release: '2',
    catalog: 'https://cdn.amazonlinux.com/2/extras-catalog.json',
    mirrorList: 'https://cdn.amazonlinux.com/2/extras/{topic}/latest/x86_64/mirror.list',
  },
  { name: 'al2023-core', release: '2023', mirrorList: 'https://cdn.amazonlinux.com/al2023/core/mirrors/latest/x86_64/mirror.list' },
  { name: 'al2023-kernel-livepatch', release: '2023', mirrorList: 'https://cdn.amazonlinux.com/al2023/kernel-livepatch/mirrors/latest/x86_64/mirror.list' },
  // unverified: this URL follows the kernel-livepatch stream's pattern; no published reference was found here
  { name: 'al2023-nvidia', release: '2023', mirrorList: 'https://cdn.amazonlinux.com/al2023/nvidia/mirrors/latest/x86_64/mirror.list' },
];

/**
 * The same streams under one base URL (a mirror of the repositories, or a local server in tests):
 * `<base>/<stream>/mirror.list`, `<base>/al2-extras/<topic>/mirror.list`, `<base>/extras-catalog.json`
 * (`--alas-url` / DRYDOCK_ALAS_URL).
 */
export function alasSourcesAt(base: string): AlasStreamSource[] {
  const b = base.replace(/\/+$/, '');
  return ALAS_STREAMS.map((s) => ({
    name: s.name,
    release: s.release,
    mirrorList: s.catalog ? `${b}/${s.name}/{topic}/mirror.list` : `${b}/${s.name}/mirror.list`,
    ...(s.catalog ? { catalog: `${b}/extras-catalog.json` } : {}),
  }));
}

/** Streams synced when none are named (the pipeline's DRYDOCK_ALAS_STREAMS default). */
export const DEFAULT_ALAS_STREAMS = ['al2-core', 'al2023-core'] as const;

export const ALAS_REQUEST_TIMEOUT_MS = 30_000;
export const ALAS_DOWNLOAD_TIMEOUT_MS = 600_000;
/** Largest mirror.list / repomd.xml / extras-catalog.json accepted. */
export const ALAS_MAX_INDEX_BYTES = 4 * 1024 * 1024;
/** Largest (compressed) updateinfo download accepted. */
export const ALAS_MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024;
/** Most AL2 extras topics taken from the catalog. */
export const ALAS_MAX_TOPICS = 1000;

/** A stream to fetch: a table entry, with the extras topic filled in. */
export interface AlasStream {
  /** "al2023-core", "al2-extras/kernel-5.15" */
  name: string;
  release: AlasRelease;
  mirrorList: string;
}

export interface AlasFetchOptions {
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** overrides ALAS_STREAMS (tests: a local server) */
  streams?: readonly AlasStreamSource[];
  requestTimeoutMs?: number;
  downloadTimeoutMs?: number;
  maxDownloadBytes?: number;
}

/** Checks stream names against the table without fetching (configuration errors early). */
export function validateAlasStreamNames(names: readonly string[], table: readonly AlasStreamSource[] = ALAS_STREAMS): void {
  for (const n of names) {
    const base = n.split('/')[0]!;
    const src = table.find((s) => s.name === base);
    const topic = n.slice(base.length + 1);
    if (!src || (n.includes('/') && (!src.catalog || !/^[A-Za-z0-9._+-]+$/.test(topic)))) {
      throw new DrydockError('CONFIG', `unknown Amazon Linux stream "${n}": one of ${table.map((s) => (s.catalog ? `${s.name}[/<topic>]` : s.name)).join(', ')}`);
    }
  }
}

/** Stream names → streams; "al2-extras" expands to every topic its catalog lists. */
export async function resolveAlasStreams(names: readonly string[], opts: AlasFetchOptions = {}): Promise<AlasStream[]> {
  const table = opts.streams ?? ALAS_STREAMS;
  validateAlasStreamNames(names, table);
  const out: AlasStream[] = [];
  const add = (s: AlasStream) => {
    if (!out.some((o) => o.name === s.name)) out.push(s);
  };
  for (const n of names) {
    const [base, topic] = [n.split('/')[0]!, n.includes('/') ? n.slice(n.indexOf('/') + 1) : undefined];
    const src = table.find((s) => s.name === base)!;
    if (!src.catalog) {
      add({ name: src.name, release: src.release, mirrorList: src.mirrorList });
      continue;
    }
    const topics = topic ? [topic] : await extrasTopics(src.catalog, opts);
    for (const t of topics) add({ name: `${src.name}/${t}`, release: src.release, mirrorList: src.mirrorList.replaceAll('{topic}', encodeURIComponent(t)) });
  }
  return out;
}

/** The topic names `extras-catalog.json` lists (`{"topics": [{"n": "kernel-5.15", …}]}`). */
async function extrasTopics(url: string, opts: AlasFetchOptions): Promise<string[]> {
  const text = await getText(url, opts);
  let json: { topics?: Array<{ n?: unknown }> };
  try {
    json = JSON.parse(text) as typeof json;
  } catch (e) {
    throw new DrydockError('SOURCE_UNREADABLE', `${url}: not JSON (${(e as Error).message})`);
  }
  const topics = (Array.isArray(json.topics) ? json.topics : []).map((t) => t?.n).filter((n): n is string => typeof n === 'string' && /^[A-Za-z0-9._+-]+$/.test(n));
  if (topics.length === 0) throw new DrydockError('SOURCE_UNREADABLE', `${url}: lists no extras topics`);
  return [...new Set(topics)].slice(0, ALAS_MAX_TOPICS);
}

/** What a previous check of a stream left (to make the next one conditional). */
export interface AlasPrevious {
  repomdUrl?: string;
  etag?: string;
  lastModified?: string;
  /** updateinfo's sha256 as repomd.xml gave it */
  checksum?: string;
}

export type AlasCheck =
  | { status: 'unchanged'; repomdUrl: string; etag?: string; lastModified?: string; checksum?: string }
  /** the repository publishes no updateinfo (many AL2 extras topics): no advisories, not an error */
  | { status: 'none'; repomdUrl: string; etag?: string; lastModified?: string }
  | { status: 'changed'; repomdUrl: string; etag?: string; lastModified?: string; checksum: string; size?: number; updateinfoUrl: string };

/** mirror.list → repomd.xml (conditional) → the updateinfo entry; `unchanged` when repomd (or its updateinfo checksum) did not change. */
export async function checkAlasStream(stream: AlasStream, previous: AlasPrevious | undefined, opts: AlasFetchOptions = {}): Promise<AlasCheck> {
  const mirror = firstMirror(await getText(stream.mirrorList, opts), stream.mirrorList);
  const repomdUrl = `${mirror}/repodata/repomd.xml`;
  const headers: Record<string, string> = {};
  if (previous?.repomdUrl === repomdUrl) {
    if (previous.etag) headers['if-none-match'] = previous.etag;
    if (previous.lastModified) headers['if-modified-since'] = previous.lastModified;
  }
  const res = await request(repomdUrl, opts, opts.requestTimeoutMs ?? ALAS_REQUEST_TIMEOUT_MS, headers);
  if (res.status === 304 && previous) {
    await res.body?.cancel();
    return { status: 'unchanged', repomdUrl, ...pick(previous) };
  }
  await ensureOk(res, repomdUrl);
  const etag = res.headers.get('etag') ?? undefined;
  const lastModified = res.headers.get('last-modified') ?? undefined;
  const xml = await readBounded(res, repomdUrl, ALAS_MAX_INDEX_BYTES);
  const validators = { ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) };
  if (!/<data\b[^>]*\btype\s*=\s*["']updateinfo["']/.test(xml)) {
    if (!/<repomd\b/.test(xml)) throw new DrydockError('SOURCE_UNREADABLE', `${repomdUrl}: not a repomd.xml`);
    return { status: 'none', repomdUrl, ...validators };
  }
  const entry = parseRepomdUpdateinfo(xml, repomdUrl);
  if (previous?.checksum === entry.checksum) return { status: 'unchanged', repomdUrl, ...validators, checksum: entry.checksum };
  const href = entry.href.replace(/^\/+/, '');
  return { status: 'changed', repomdUrl, ...validators, checksum: entry.checksum, ...(entry.size !== undefined ? { size: entry.size } : {}), updateinfoUrl: new URL(href, `${mirror}/`).toString() };
}

function pick(p: AlasPrevious) {
  return { ...(p.etag ? { etag: p.etag } : {}), ...(p.lastModified ? { lastModified: p.lastModified } : {}), ...(p.checksum ? { checksum: p.checksum } : {}) };
}

/** The first http(s) line of a mirror.list, `$basearch` → x86_64, without a trailing slash. */
export function firstMirror(text: string, where: string): string {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim().replaceAll('$basearch', 'x86_64');
    if (/^https?:\/\/\S+$/.test(line)) return line.replace(/\/+$/, '');
  }
  throw new DrydockError('SOURCE_UNREADABLE', `${where}: names no mirror (no http(s) URL line)`);
}

/** repomd.xml's updateinfo entry: location href and sha256 checksum. */
export function parseRepomdUpdateinfo(xml: string, where: string): { href: string; checksum: string; size?: number } {
  for (const m of xml.matchAll(/<data\b[^>]*\btype\s*=\s*["']([^"']+)["'][^>]*>([\s\S]*?)<\/data>/g)) {
    if (m[1] !== 'updateinfo') continue;
    const body = m[2]!;
    const href = /<location\b[^>]*\bhref\s*=\s*["']([^"']+)["']/.exec(body)?.[1];
    const ck = /<checksum\b[^>]*\btype\s*=\s*["']([^"']+)["'][^>]*>\s*([0-9A-Fa-f]+)\s*<\/checksum>/.exec(body);
    if (!href) throw new DrydockError('SOURCE_UNREADABLE', `${where}: the updateinfo entry has no <location href>`);
    if (!ck || ck[1]!.toLowerCase() !== 'sha256' || ck[2]!.length !== 64) throw new DrydockError('SOURCE_UNREADABLE', `${where}: the updateinfo entry has no sha256 <checksum> (refusing an unverifiable download)`);
    if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.split('/').includes('..')) throw new DrydockError('SOURCE_UNREADABLE', `${where}: updateinfo location "${href}" is not a path inside the mirror`);
    const size = Number(/<size>\s*(\d+)\s*<\/size>/.exec(body)?.[1]);
    return { href, checksum: ck[2]!.toLowerCase(), ...(Number.isSafeInteger(size) && size > 0 ? { size } : {}) };
  }
  throw new DrydockError('SOURCE_UNREADABLE', `${where}: no <data type="updateinfo"> entry`);
}

/** Downloads updateinfo into memory (bounded by ALAS_MAX_DOWNLOAD_BYTES), verifying its sha256: nothing unverified is returned. */
export async function downloadUpdateinfo(check: Extract<AlasCheck, { status: 'changed' }>, opts: AlasFetchOptions = {}): Promise<Buffer> {
  const res = await request(check.updateinfoUrl, opts, opts.downloadTimeoutMs ?? ALAS_DOWNLOAD_TIMEOUT_MS);
  await ensureOk(res, check.updateinfoUrl);
  const bytes = await readBoundedBytes(res, check.updateinfoUrl, opts.maxDownloadBytes ?? ALAS_MAX_DOWNLOAD_BYTES, 'ALAS_MAX_DOWNLOAD_BYTES');
  verifySha256(bytes, check);
  return bytes;
}

export function verifySha256(bytes: Uint8Array, check: { checksum: string; updateinfoUrl: string }): void {
  const got = createHash('sha256').update(bytes).digest('hex');
  if (got !== check.checksum) {
    throw new DrydockError('SOURCE_UNREADABLE', `${check.updateinfoUrl}: sha256 ${got} does not match repomd.xml's ${check.checksum}: nothing was stored (a mirror mid-update, or a tampered file)`);
  }
}

// ----------------------------------------------------------------------------- CLI cache

export interface AlasCacheMeta {
  format: 'drydock.alas-feed/1';
  stream: string;
  release: AlasRelease;
  mirrorList: string;
  repomdUrl: string;
  etag?: string;
  lastModified?: string;
  checksum: string;
  bytes: number;
  checkedAt: string;
  updatedAt: string;
}

/** Where `feeds sync` keeps a stream: <feeds>/alas/<stream>/updateinfo.xml.gz (scan and feeds status find it there). */
export function alasCachePath(dir: string, stream: string): string {
  return join(dir, 'alas', ...stream.split('/').map((s) => s.replace(/[^A-Za-z0-9._+-]/g, '_')), 'updateinfo.xml.gz');
}

export interface AlasCacheResult {
  feed: string;
  /** none: the repository publishes no updateinfo */
  status: 'updated' | 'unchanged' | 'none';
  bytes: number;
  path: string;
}

/** Syncs one stream into the CLI's feeds cache; the file is replaced only by a complete, verified download. */
export async function syncAlasStreamToCache(stream: AlasStream, dir: string, opts: AlasFetchOptions = {}): Promise<AlasCacheResult> {
  const path = alasCachePath(dir, stream.name);
  let old: AlasCacheMeta | undefined;
  try {
    old = JSON.parse(await readFile(`${path}.meta.json`, 'utf8')) as AlasCacheMeta;
    await readFile(path).then(() => undefined);
    if (old.format !== 'drydock.alas-feed/1' || old.mirrorList !== stream.mirrorList) old = undefined;
  } catch {
    old = undefined;
  }
  const check = await checkAlasStream(stream, old, opts);
  const now = new Date().toISOString();
  const feed = `alas/${stream.name}`;
  if (check.status === 'none') {
    // nothing published: a copy from before (if any) no longer applies
    await rm(path, { force: true });
    await rm(`${path}.meta.json`, { force: true });
    return { feed, status: 'none', bytes: 0, path };
  }
  if (check.status === 'unchanged' && old) {
    const meta: AlasCacheMeta = { ...old, repomdUrl: check.repomdUrl, checkedAt: now };
    if (check.etag) meta.etag = check.etag;
    if (check.lastModified) meta.lastModified = check.lastModified;
    await writeFile(`${path}.meta.json`, JSON.stringify(meta, null, 2));
    return { feed, status: 'unchanged', bytes: old.bytes, path };
  }
  if (check.status !== 'changed') throw new DrydockError('SOURCE_UNREADABLE', `${stream.mirrorList}: repomd.xml answered 304 without a cached copy`);
  const bytes = await downloadUpdateinfo(check, opts);
  await mkdir(join(path, '..'), { recursive: true });
  const tmp = `${path}.part-${process.pid}`;
  try {
    await new Promise<void>((resolve, reject) => {
      const ws = createWriteStream(tmp);
      ws.on('error', reject);
      ws.end(bytes, () => resolve());
    });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  const meta: AlasCacheMeta = {
    format: 'drydock.alas-feed/1',
    stream: stream.name,
    release: stream.release,
    mirrorList: stream.mirrorList,
    repomdUrl: check.repomdUrl,
    ...(check.etag ? { etag: check.etag } : {}),
    ...(check.lastModified ? { lastModified: check.lastModified } : {}),
    checksum: check.checksum,
    bytes: bytes.length,
    checkedAt: now,
    updatedAt: now,
  };
  await writeFile(`${path}.meta.json`, JSON.stringify(meta, null, 2));
  return { feed, status: 'updated', bytes: bytes.length, path };
}

// ----------------------------------------------------------------------------- HTTP

async function request(url: string, opts: AlasFetchOptions, timeoutMs: number, headers: Record<string, string> = {}): Promise<Response> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  try {
    return await (opts.fetch ?? fetch)(url, { headers: { 'user-agent': 'drydock-feeds', ...headers }, signal });
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = timeout.aborted ? `no answer within ${timeoutMs} ms` : (cause?.code ?? cause?.message ?? (e as Error).message);
    throw new DrydockError('NETWORK', `cannot reach ${url} (${why}): feeds sync needs the network; offline, scan with --advisories <dir|zip> or the feeds already synced`, { cause: e });
  }
}

async function ensureOk(res: Response, url: string): Promise<void> {
  if (res.ok && res.body) return;
  await res.body?.cancel();
  if (res.status === 404) throw new DrydockError('SOURCE_UNREADABLE', `${url} answered 404: the stream is not published there`);
  throw new DrydockError(res.status >= 500 || res.status === 429 ? 'SERVER_ERROR' : 'SOURCE_UNREADABLE', `${url} answered ${res.status} ${res.statusText}`);
}

async function getText(url: string, opts: AlasFetchOptions): Promise<string> {
  const res = await request(url, opts, opts.requestTimeoutMs ?? ALAS_REQUEST_TIMEOUT_MS);
  await ensureOk(res, url);
  return readBounded(res, url, ALAS_MAX_INDEX_BYTES);
}

async function readBounded(res: Response, url: string, max: number): Promise<string> {
  return (await readBoundedBytes(res, url, max, 'ALAS_MAX_INDEX_BYTES')).toString('utf8');
}

async function readBoundedBytes(res: Response, url: string, max: number, limitName: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > max) {
    await res.body?.cancel();
    throw new DrydockError('SOURCE_UNREADABLE', `${url}: ${declared} bytes is more than ${max} (${limitName})`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = res.body!.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > max) throw new DrydockError('SOURCE_UNREADABLE', `${url}: more than ${max} bytes (${limitName})`);
      chunks.push(Buffer.from(value));
    }
  } catch (e) {
    await reader.cancel().catch(() => undefined);
    if (e instanceof DrydockError) throw e;
    throw new DrydockError('NETWORK', `downloading ${url} failed after ${total} bytes: ${(e as Error).message}`, { cause: e });
  }
  if (declared > 0 && total !== declared) throw new DrydockError('NETWORK', `${url}: got ${total} of ${declared} bytes`);
  return Buffer.concat(chunks);
}
