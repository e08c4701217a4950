/**
 * A local HTTP server on 127.0.0.1 standing in for Amazon Linux's repositories:
 * /<stream>/mirror.list → /<stream>/mirror/$basearch/repodata/repomd.xml (ETag, 304 on
 * If-None-Match) → repodata/updateinfo.xml.gz. The repomd.xml is the real fixture's shape
 * (../shared/fixtures/advisories/amazon/repodata) with its updateinfo checksum set to the served
 * file's sha256, or to a wrong one when `corrupt` is set.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { alasSourcesAt, type AlasStreamSource } from '../../shared/advisories/alas-feed.js';
import { SHARED_FIXTURES } from './fixtures.js';

export const AMAZON = join(SHARED_FIXTURES, 'advisories', 'amazon');

interface Served {
  gz: Buffer;
  repomd: string;
  etag: string;
}

export interface AlasServer {
  url: string;
  /** the table pointing every stream at this server */
  sources: AlasStreamSource[];
  /** serve this updateinfo.xml.gz for a stream (its repomd.xml changes with it) */
  set(stream: string, gz: Buffer, opts?: { corrupt?: boolean; noUpdateinfo?: boolean }): Promise<void>;
  /** request paths with their status, in order */
  requests: Array<{ path: string; status: number }>;
  stop(): Promise<void>;
}

export async function startAlasServer(): Promise<AlasServer> {
  const template = await readFile(join(AMAZON, 'repodata', 'repomd.al2-core.vuln-list-update.xml'), 'utf8');
  const served = new Map<string, Served>();
  const requests: AlasServer['requests'] = [];
  let url = '';
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const reply = (status: number, body?: Buffer | string, headers: Record<string, string> = {}) => {
      requests.push({ path, status });
      res.writeHead(status, headers).end(body);
    };
    if (path === '/extras-catalog.json') return reply(200, JSON.stringify({ topics: [{ n: 'kernel-5.15' }, { n: 'golang1.19' }] }), { 'content-type': 'application/json' });
    const m = /^\/(.+)\/(mirror\.list|mirror\/x86_64\/repodata\/(repomd\.xml|updateinfo\.xml\.gz))$/.exec(path);
    const s = m ? served.get(decodeURIComponent(m[1]!)) : undefined;
    if (!m || !s) return reply(404);
    if (m[2] === 'mirror.list') return reply(200, `# mirrors\n${url}/${m[1]}/mirror/$basearch\n`);
    if (m[3] === 'repomd.xml') {
      if (req.headers['if-none-match'] === s.etag) return reply(304, undefined, { etag: s.etag });
      return reply(200, s.repomd, { etag: s.etag, 'content-type': 'text/xml' });
    }
    return reply(200, s.gz, { 'content-type': 'application/octet-stream' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let version = 0;
  return {
    url,
    requests,
    sources: alasSourcesAt(url),
    async set(stream, gz, opts = {}) {
      const sha = createHash('sha256').update(gz).digest('hex');
      const checksum = opts.corrupt ? createHash('sha256').update('something else').digest('hex') : sha;
      const repomd = template.replace(/(<data type="updateinfo">[\s\S]*?<checksum type="sha256">)[0-9a-f]+(<\/checksum>)/, `$1${checksum}$2`).replace(/(<data type="updateinfo">[\s\S]*?<size>)\d+(<\/size>)/, `$1${gz.length}$2`);
      served.set(stream, { gz, repomd: opts.noUpdateinfo ? template.replace(/<data type="updateinfo">[\s\S]*?<\/data>/, '') : repomd, etag: `"v${++version}"` });
    },
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
