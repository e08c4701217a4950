#!/usr/bin/env node
// The drydock command: runs the esbuild bundle made by `npm run build` (or `npm run bundle`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bundle = fileURLToPath(new URL('../dist/cli/drydock.mjs', import.meta.url));
if (!existsSync(bundle)) {
  process.stderr.write('drydock: the CLI is not built yet; run `npm run build` (or `npm run bundle`) first\n');
  process.exit(64);
}
await import(bundle);
