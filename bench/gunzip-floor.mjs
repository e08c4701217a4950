// The floor of npm run bench, in its own plain-node process (no TypeScript loader, like the
// bundled CLI): Node's zlib gunzip of each blob given, one after another, to nowhere.
import { createReadStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

for (const blob of process.argv.slice(2)) {
  await pipeline(createReadStream(blob, { highWaterMark: 256 * 1024 }), createGunzip(), new Writable({ write: (_c, _e, cb) => cb() }));
}
