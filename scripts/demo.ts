/**
 * The main job on a fresh machine: a real scan of a real image with the embedded defaults.
 *
 * Builds a Debian 12 (bookworm) root filesystem with debootstrap (cached after the first
 * run), makes it a one-layer OCI image, pushes it to a local Distribution registry with
 * htpasswd authentication, and runs `drydock scan` against it as a user would — the layer
 * streamed from the registry, the local layer cache, the findings table on stdout (matched
 * against the real Debian Security Tracker entries in ../shared/fixtures when no feeds are synced).
 * Extra arguments go to `drydock scan` (e.g. `npm run demo -- -o cyclonedx`).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ensureDebianRootfs } from '../test/support/debootstrap.js';
import { SHARED_FIXTURES } from '../test/support/fixtures.js';
import { buildImage, pushToRegistry } from '../test/support/image-builder.js';
import { startRegistry } from '../test/support/registry.js';

const say = (s: string) => process.stderr.write(`demo: ${s}\n`);

say('building (or reusing) a Debian bookworm root filesystem with debootstrap…');
const rootfs = await ensureDebianRootfs();
const layout = join(homedir(), '.cache', 'drydock', 'demo-layout');
if (!existsSync(join(layout, 'index.json'))) {
  say('packing it as an OCI image (one gzip layer)…');
  await mkdir(layout, { recursive: true });
  await buildImage(layout, { tag: 'bookworm', layers: [{ fromDirectory: rootfs, compression: 'gzip' }] });
}
say('starting a local registry with authentication and pushing the image…');
const registry = await startRegistry({ users: { demo: 'demo-password' } });
let code = 1;
try {
  const { reference } = await pushToRegistry(layout, 'bookworm', { host: registry.host, username: 'demo', password: 'demo-password' }, 'library/debian:bookworm');
  // Offline and real: the Debian Security Tracker entries beside the repo (point-in-time data),
  // with the NVD and CVE List records of the CVEs they name (severities where Debian gives none),
  // unless the user names advisories or has synced feeds (`drydock feeds sync`).
  const extra = process.argv.slice(2);
  const tracker = join(SHARED_FIXTURES, 'advisories', 'debian', 'security-tracker');
  if (!extra.includes('--advisories') && existsSync(tracker) && !existsSync(join(homedir(), '.cache', 'drydock', 'feeds'))) {
    extra.push('--advisories', tracker);
    for (const d of ['nvd-api2-debian', 'cve5-debian']) {
      const records = join(SHARED_FIXTURES, 'advisories', 'nvd', d);
      if (existsSync(records)) extra.push('--advisories', records);
    }
  }
  say(`drydock scan ${reference} ${extra.join(' ')}`);
  code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['bin/drydock.cjs', 'scan', reference, ...extra], {
      stdio: 'inherit',
      env: { ...process.env, DRYDOCK_REGISTRY_HOST: registry.host, DRYDOCK_REGISTRY_USERNAME: 'demo', DRYDOCK_REGISTRY_PASSWORD: 'demo-password' },
    });
    child.on('close', (c) => resolve(c ?? 1));
  });
} finally {
  await registry.stop();
}
process.exitCode = code;
