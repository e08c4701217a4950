/**
 * The registry client's transport (shared/image/http-transport.ts) against a real HTTP server on
 * loopback: its answers read as fetch's would (status, ok, headers by any case, a repeated
 * header joined as fetch's Headers joins it, the body as a Node stream), and a process that uses
 * it does not load Node's bundled undici (the global Response and Headers load and compile it:
 * ~25 ms of a registry scan's start).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBodyOf, nodeFetch } from '../../shared/image/http-transport.js';

let server: Server;
let base = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/dup') {
      // raw headers: a repeated name in two cases, as a server may send it
      res.writeHead(200, [
        ['Content-Type', 'application/json'],
        ['Link', '</v2/a>; rel="next"'],
        ['link', '</v2/b>; rel="prev"'],
        ['Docker-Content-Digest', 'sha256:abc'],
      ].flat());
      res.end('{"ok":true}');
    } else {
      res.writeHead(404, 'Nope', { 'content-length': '0' });
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('nodeFetch', () => {
  it('reads headers as fetch does: any case, a repeated name joined by ", ", null when absent', async () => {
    const ours = await nodeFetch(`${base}/dup`);
    const theirs = await fetch(`${base}/dup`);
    for (const name of ['content-type', 'Content-Type', 'LINK', 'docker-content-digest', 'www-authenticate']) {
      expect(ours.headers.get(name), name).toBe(theirs.headers.get(name));
    }
    expect(ours.headers.get('link')).toBe('</v2/a>; rel="next", </v2/b>; rel="prev"');
    expect(ours.headers.has('Docker-Content-Digest')).toBe(true);
    expect(ours.status).toBe(200);
    expect(ours.ok).toBe(true);
    await theirs.text();
    const chunks: Buffer[] = [];
    for await (const c of nodeBodyOf(ours)!) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('{"ok":true}');
  });

  it('an error status: not ok, with its status text', async () => {
    const res = await nodeFetch(`${base}/missing`);
    expect(res.status).toBe(404);
    expect(res.ok).toBe(false);
    expect(res.statusText).toBe('Nope');
    nodeBodyOf(res)!.resume();
  });

  it('does not load Node\'s bundled undici (the control: the global Headers does)', async () => {
    const transport = fileURLToPath(new URL('../../shared/image/http-transport.ts', import.meta.url));
    // a child process (this one has loaded undici long ago), run asynchronously: the server is in this process
    const probe = (use: string) =>
      promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', `
          import { nodeFetch, nodeBodyOf } from ${JSON.stringify(transport)};
          const res = await nodeFetch(${JSON.stringify(`${base}/dup`)});
          nodeBodyOf(res).resume();
          ${use}
          const loaded = process.moduleLoadList.some((m) => m.includes('undici'));
          process.stdout.write(String(loaded) + ' ' + res.headers.get('docker-content-digest'));
          process.exit(0);
        `],
        { encoding: 'utf8', timeout: 60_000 },
      ).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? String(e) }));
    const plain = await probe('');
    expect(plain.stdout, plain.stderr).toBe('false sha256:abc');
    const control = await probe('new Headers();');
    expect(control.stdout, control.stderr).toBe('true sha256:abc');
  });
});
