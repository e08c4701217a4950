#!/usr/bin/env node
// The drydock command: runs the esbuild bundle made by `npm run build` (or `npm run bundle`).
//
// CommonJS on purpose. Node 20 sets up its ES-module loader only when the first ES module loads,
// which costs ~10 ms, and a second module hop (launcher → bundle → its chunks) more. So
// `drydock --version` is answered here, from package.json, before anything else loads: Node's own
// start-up is then nearly all it costs. Every other command imports the bundle, whose own entry
// answers --version the same way for `node dist/cli/drydock.mjs`.
'use strict';

const argv1 = process.argv[2];
if (argv1 === '--version' || argv1 === '-v') {
  // a reader that went away (`drydock --version | true`) is no error of ours
  process.stdout.on('error', () => {});
  process.stdout.write(`drydock ${require('../package.json').version}\n`);
} else {
  launch();
}

function launch() {
  const { existsSync } = require('node:fs');
  const { join } = require('node:path');
  const module = require('node:module');

  // Node 22.1+ keeps the compiled bundle in an on-disk cache (a warm start then skips compiling
  // it); Node 20 has no module.enableCompileCache and runs as before. The cache lives under the
  // user's cache directory ($NODE_COMPILE_CACHE, else $XDG_CACHE_HOME/drydock/node-compile-cache,
  // else ~/.cache/drydock/node-compile-cache); DRYDOCK_NO_COMPILE_CACHE=1 turns it off.
  if (typeof module.enableCompileCache === 'function' && !process.env.DRYDOCK_NO_COMPILE_CACHE) {
    try {
      const cacheHome = process.env.XDG_CACHE_HOME || join(require('node:os').homedir(), '.cache');
      module.enableCompileCache(process.env.NODE_COMPILE_CACHE || join(cacheHome, 'drydock', 'node-compile-cache'));
    } catch {
      // a cache that cannot be made only costs speed
    }
  }

  const bundle = join(__dirname, '..', 'dist', 'cli', 'drydock.mjs');
  if (!existsSync(bundle)) {
    process.stderr.write('drydock: the CLI is not built yet; run `npm run build` (or `npm run bundle`) first\n');
    process.exit(64);
  }
  import(require('node:url').pathToFileURL(bundle).href).catch((e) => {
    // the bundle failed to load or threw at its top level: a crash, said as one (exit 70, EX_SOFTWARE)
    process.stderr.write(`drydock: internal error: ${e && e.stack ? e.stack : String(e)}\n`);
    process.exit(70);
  });
}
