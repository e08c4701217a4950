/**
 * A local HTTP server standing in for osv.dev's bucket: serves `/<ecosystem>/all.zip` built from
 * the OSV records it is given, with an ETag (the zip's sha256) and 304 for If-None-Match.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { zipSync, strToU8 } from 'fflate';

export interface OsvServer {
  url: string;
  /** replace an ecosystem's records (the zip and its ETag change) */
  set(ecosystem: string, records: readonly object[]): void;
  requests: Array<{ path: string; ifNoneMatch?: string; status: number }>;
  stop(): Promise<void>;
}

export async function startOsvServer(): Promise<OsvServer> {
  const zips = new Map<string, { bytes: Buffer; etag: string }>();
  const requests: OsvServer['requests'] = [];
  const server = createServer((req, res) => {
    const m = /^\/([^/]+)\/all\.zip$/.exec(req.url ?? '');
    const zip = m ? zips.get(decodeURIComponent(m[1]!)) : undefined;
    const ifNoneMatch = req.headers['if-none-match'];
    const status = !zip ? 404 : ifNoneMatch === zip.etag ? 304 : 200;
    requests.push({ path: req.url ?? '', ...(typeof ifNoneMatch === 'string' ? { ifNoneMatch } : {}), status });
    if (status !== 200) {
      res.writeHead(status, zip ? { etag: zip.etag } : {});
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/zip', 'content-length': zip!.bytes.length, etag: zip!.etag });
    res.end(zip!.bytes);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    set(ecosystem, records) {
      const files: Record<string, Uint8Array> = {};
      for (const r of records) files[`${(r as { id: string }).id}.json`] = strToU8(JSON.stringify(r));
      const bytes = Buffer.from(zipSync(files));
      zips.set(ecosystem, { bytes, etag: `"${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}"` });
    },
    stop: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** An OSV record affecting one package (ECOSYSTEM range introduced 0, fixed at `fixed`). */
export function osvRecord(id: string, ecosystem: string, name: string, fixed: string, modified = '2026-11-20T00:00:00Z', extra: Record<string, unknown> = {}): object {
  return {
    schema_version: '1.6.0',
    id,
    modified,
    published: '2026-11-19T00:00:00Z',
    aliases: [],
    summary: `${name}: test advisory ${id}`,
    affected: [{ package: { ecosystem, name }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }] }],
    ...extra,
  };
}
