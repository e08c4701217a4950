/**
 * A blob's GET over plain http read straight off the socket (shared/image/plain-http.ts, through
 * blobFetch): against a raw TCP server on loopback that writes exactly the bytes each test
 * gives, so that framing the Node http server would never send (headers cut anywhere, chunk
 * extensions and trailers, informational answers, bodies framed by the connection's end, lies
 * about lengths) is what the reader meets. Each answer either reads as the server meant it or
 * fails with an error that says why; none hangs or is taken for a whole body.
 */
import { createHash, randomBytes } from 'node:crypto';
import { maxHeaderSize } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { blobFetch, nodeBodyOf } from '../../shared/image/http-transport.js';
import { plainGet } from '../../shared/image/plain-http.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A server that answers every connection with `answer` (after reading the request head); the request heads it read. */
async function serve(answer: (socket: Socket) => unknown): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  server = createServer((socket) => {
    let head = '';
    socket.on('error', () => undefined);
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      requests.push(head);
      void answer(socket);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/v2/a/blobs/sha256:00`, requests };
}

async function readAll(body: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Writes `bytes` a few at a time, with pauses: every boundary a parser could trip on. */
async function dribble(socket: Socket, bytes: Buffer, step = 7): Promise<void> {
  for (let at = 0; at < bytes.length; at += step) {
    socket.write(bytes.subarray(at, at + step));
    await new Promise((r) => setImmediate(r));
  }
}

describe('plainGet: framing', () => {
  it('Content-Length: the body as sent, with the status and headers, the request as a registry client sends it', async () => {
    const blob = randomBytes(3 * 1024 * 1024 + 17);
    const { url, requests } = await serve((s) => {
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${blob.length}\r\nDocker-Content-Digest: sha256:x\r\nX-Twice: a\r\nx-twice: b\r\n\r\n`);
      s.end(blob);
    });
    const res = await blobFetch(url, { headers: { authorization: 'Bearer t', 'user-agent': 'drydock-test' }, redirect: 'manual' });
    expect(res.status).toBe(200);
    expect(res.ok).toBe(true);
    expect(res.statusText).toBe('OK');
    expect(res.headers.get('docker-content-digest')).toBe('sha256:x');
    expect(res.headers.get('x-twice')).toBe('a, b');
    const body = nodeBodyOf(res)!;
    expect((await readAll(body)).equals(blob)).toBe(true);
    expect(body.complete).toBe(true);
    expect(requests[0]).toMatch(/^GET \/v2\/a\/blobs\/sha256:00 HTTP\/1\.1\r\n/);
    expect(requests[0]).toContain('\r\nConnection: close\r\n');
    expect(requests[0]).toContain('\r\nauthorization: Bearer t\r\n');
    expect(requests[0]).toMatch(/\r\nHost: 127\.0\.0\.1:\d+\r\n/);
  });

  it('headers and body cut at every few bytes, after a 100 Continue and a 103 Early Hints', async () => {
    const blob = Buffer.from('the body, cut anywhere '.repeat(50));
    const { url } = await serve(async (s) => {
      await dribble(s, Buffer.concat([Buffer.from(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: ${blob.length}\r\n\r\n`), blob]), 5);
      s.end();
    });
    const a = await plainGet(new URL(url), {});
    expect(a.status).toBe(200);
    expect((await readAll(a.body)).equals(blob)).toBe(true);
  });

  it('Transfer-Encoding: chunked, with chunk extensions and trailer fields, cut at every few bytes; Content-Length beside it is ignored', async () => {
    const parts = [randomBytes(10), randomBytes(70_000), randomBytes(1)];
    const wire = Buffer.concat([
      Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n'),
      ...parts.flatMap((p, i) => [Buffer.from(`${p.length.toString(16)}${i === 1 ? ';ext=1' : ''}\r\n`), p, Buffer.from('\r\n')]),
      Buffer.from('0\r\nX-Trailer: yes\r\n\r\n'),
    ]);
    const { url } = await serve(async (s) => {
      await dribble(s, wire, 4093);
      // the connection stays open: the last chunk and the empty line end the body
    });
    const a = await plainGet(new URL(url), {});
    expect((await readAll(a.body)).equals(Buffer.concat(parts))).toBe(true);
    expect(a.body.complete).toBe(true);
  });

  it('no length at all: the body ends with the connection', async () => {
    const blob = randomBytes(200_000);
    const { url } = await serve((s) => {
      s.write('HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n');
      s.end(blob);
    });
    const a = await plainGet(new URL(url), {});
    expect((await readAll(a.body)).equals(blob)).toBe(true);
    expect(a.body.complete).toBe(true);
  });

  it('a 404 with an empty body and a redirect answer as they are (the client decides)', async () => {
    const { url } = await serve((s) => s.end('HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:1/x\r\nContent-Length: 0\r\n\r\n'));
    const res = await blobFetch(url, { redirect: 'manual' });
    expect(res.status).toBe(307);
    expect(res.headers.get('location')).toBe('http://127.0.0.1:1/x');
    expect(nodeBodyOf(res)!.complete).toBe(true);
  });
});

describe('plainGet: answers that are not whole, or not HTTP, are errors', () => {
  it('a body cut off before its Content-Length fails the body (not a short blob taken as whole)', async () => {
    const { url } = await serve((s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n');
      s.end(randomBytes(1000));
    });
    const a = await plainGet(new URL(url), {});
    await expect(readAll(a.body)).rejects.toThrow(/closed before the end of the body/);
    expect(a.body.complete).toBe(false);
  });

  it('a chunked body cut off before its last chunk fails', async () => {
    const { url } = await serve((s) => s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'));
    const a = await plainGet(new URL(url), {});
    await expect(readAll(a.body)).rejects.toThrow(/closed before the end of the body/);
  });

  it.each([
    ['a status line that is not HTTP/1.x', 'ICY 200 OK\r\n\r\n', /not an HTTP\/1\.x status line/],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', /malformed header line/],
    ['another transfer coding', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', /unsupported Transfer-Encoding/],
    ['two different lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello', /invalid Content-Length/],
    ['a length that is not a number', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', /invalid Content-Length/],
  ])('%s', async (_name, wire, message) => {
    const { url } = await serve((s) => s.end(wire));
    await expect(plainGet(new URL(url), {})).rejects.toThrow(message);
  });

  it('an invalid chunk size fails the body', async () => {
    const { url } = await serve((s) => s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'));
    const a = await plainGet(new URL(url), {});
    await expect(readAll(a.body)).rejects.toThrow(/invalid chunk size line/);
  });

  it("headers larger than Node's maxHeaderSize: HPE_HEADER_OVERFLOW, as Node's client says it, without reading on", async () => {
    const { url } = await serve(async (s) => {
      s.write('HTTP/1.1 200 OK\r\n');
      // an endless header: the reader must stop at the limit
      for (let i = 0; i < 64 && !s.destroyed; i++) {
        s.write(`X-Pad-${i}: ${'a'.repeat(4096)}\r\n`);
        await new Promise((r) => setImmediate(r));
      }
    });
    const e = await plainGet(new URL(url), {}).then(() => undefined, (err: unknown) => err as Error & { code?: string });
    expect(e?.code).toBe('HPE_HEADER_OVERFLOW');
    expect(e?.message).toContain(String(maxHeaderSize));
  });

  it('a connection closed before any answer is a socket hang up (ECONNRESET: retried by the client)', async () => {
    const { url } = await serve((s) => s.destroy());
    const e = await plainGet(new URL(url), {}).then(() => undefined, (err: unknown) => err as Error & { code?: string });
    expect(e?.code).toBe('ECONNRESET');
    expect(e?.message).toBe('socket hang up');
  });

  it('a refused connection is the socket error itself (ECONNREFUSED)', async () => {
    const { url } = await serve(() => undefined);
    const port = new URL(url).port;
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    const e = await plainGet(new URL(`http://127.0.0.1:${port}/x`), {}).then(() => undefined, (err: unknown) => err as Error & { code?: string });
    expect(e?.code).toBe('ECONNREFUSED');
  });

  it('a header value with a line break is refused before anything is sent', async () => {
    const { url, requests } = await serve((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    await expect(plainGet(new URL(url), { authorization: 'Bearer x\r\nX-Injected: 1' })).rejects.toThrow(/line break/);
    expect(requests).toEqual([]);
  });
});

describe('plainGet: abort and back-pressure', () => {
  it('an abort before the request or the answer rejects with an AbortError; one during the body fails the body', async () => {
    const { url } = await serve(() => undefined);
    // already aborted: nothing is sent
    await expect(plainGet(new URL(url), {}, AbortSignal.abort())).rejects.toMatchObject({ name: 'AbortError' });
    const before = new AbortController();
    const pending = plainGet(new URL(url), {}, before.signal);
    before.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });

    const { url: url2 } = await serve((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nxyz'));
    const during = new AbortController();
    const a = await plainGet(new URL(url2), {}, during.signal);
    const reading = readAll(a.body);
    during.abort();
    await expect(reading).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('a reader that does not read holds the socket: the server cannot write the whole body ahead of it', async () => {
    const blob = randomBytes(64 * 1024 * 1024);
    let written = 0;
    let finished = false;
    const { url } = await serve(async (s) => {
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${blob.length}\r\n\r\n`);
      for (let at = 0; at < blob.length && !s.destroyed; at += 1024 * 1024) {
        if (!s.write(blob.subarray(at, at + 1024 * 1024))) await new Promise((r) => s.once('drain', r));
        written += 1024 * 1024;
      }
      finished = true;
      s.end();
    });
    const a = await plainGet(new URL(url), {});
    // nobody reads for a while: what was written is bounded by the body's buffer and the sockets' buffers
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 10));
    expect(finished).toBe(false);
    expect(written).toBeLessThan(blob.length / 2);
    const hash = createHash('sha256');
    for await (const c of a.body) hash.update(c as Buffer);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(blob).digest('hex'));
  });
});
