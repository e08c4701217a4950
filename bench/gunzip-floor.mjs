// The floor of npm run bench, in its own plain-node process (no TypeScript loader, like the
// bundled CLI): Node's zlib gunzip of each blob given, one after another, to nowhere; with
// Node's default options, or with the output chunk the scan's own gunzip uses.
import { createReadStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

// --chunk-size=<bytes> first: zlib's output chunk (what the scan sets, GUNZIP_CHUNK_BYTES); else Node's default (16 KiB)
const [first, ...rest] = process.argv.slice(2);
const sized = /^--chunk-size=(\d+)$/.exec(first ?? '');
const options = sized ? { chunkSize: Number(sized[1]) } : {};
for (const blob of sized ? rest : process.argv.slice(2)) {
  await pipeline(createReadStream(blob, { highWaterMark: 256 * 1024 }), createGunzip(options), new Writable({ write: (_c, _e, cb) => cb() }));
}
