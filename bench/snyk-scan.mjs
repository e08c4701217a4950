// Child process of `npm run bench:peers`: scan a docker archive with snyk-docker-plugin's JS API
// and write its whole response (PluginResponse: scanResults with their facts) as JSON.
//   node bench/snyk-scan.mjs <install prefix> <docker archive> <out.json>
// The plugin is loaded from the bench's own install prefix (~/.cache/drydock/peers/snyk),
// never from the project's dependencies.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const [prefix, archive, out] = process.argv.slice(2);
if (!prefix || !archive || !out) {
  process.stderr.write('usage: node bench/snyk-scan.mjs <install prefix> <docker archive> <out.json>\n');
  process.exit(64);
}
const require = createRequire(join(resolve(prefix), 'package.json'));
const plugin = require('snyk-docker-plugin');
const response = await plugin.scan({ path: `docker-archive:${resolve(archive)}` });
writeFileSync(out, JSON.stringify(response));
