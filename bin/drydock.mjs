#!/usr/bin/env node
// The drydock command: runs the esbuild bundle made by `npm run build` (or `npm run bundle`).
import { existsSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';

// Node 22.1+ keeps the compiled bundle in an on-disk cache (a warm start then skips compiling it);
// Node 20 has no module.enableCompileCache and runs as before. The cache lives under the user's
// cache directory ($NODE_COMPILE_CACHE, else $XDG_CACHE_HOME/drydock/node-compile-cache, else
// ~/.cache/drydock/node-compile-cache); DRYDOCK_NO_COMPILE_CACHE=1 turns it off.
if (typeof module.enableCompileCache === 'function' && !process.env.DRYDOCK_NO_COMPILE_CACHE) {
  try {
    const { homedir } = await import('node:os');
    const cacheHome = process.env.XDG_CACHE_HOME || `${homedir()}/.cache`;
    module.enableCompileCache(process.env.NODE_COMPILE_CACHE || `${cacheHome}/drydock/node-compile-cache`);
  } catch {
    // a cache that cannot be made only costs speed
  }
}

const bundle = fileURLToPath(new URL('../dist/cli/drydock.mjs', import.meta.url));
if (!existsSync(bundle)) {
  process.stderr.write('drydock: the CLI is not built yet; run `npm run build` (or `npm run bundle`) first\n');
  process.exit(64);
}
await import(bundle);
