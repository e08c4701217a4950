/**
 * A real Debian 12 image end to end: the debootstrap rootfs packed as a two-layer image
 * (the base, then an "apt-get remove"-style layer that rewrites the status file and whites
 * out a package's files, with one package upgraded), pushed with skopeo to the authenticated registry, and scanned.
 * The inventory must equal what dpkg-query prints for the same status file.
 */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staticCredentials } from '../../shared/image/auth.js';
import { openSource } from '../../shared/image/open.js';
import { scanImage, type ImageInventory } from '../../shared/scan.js';
import { ensureDebianRootfs } from '../support/debootstrap.js';
import { dpkgQuery, ON_DISK_STATES } from '../support/dpkg-query.js';
import { buildImage, pushToRegistry, type BuiltImage } from '../support/image-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

let work: string;
let registry: TestRegistry;
let built: BuiltImage;
let admindir: string;
let inv: ImageInventory;

beforeAll(async () => {
  const rootfs = await ensureDebianRootfs();
  work = await mkdtemp(join(tmpdir(), 'drydock-debian-'));
  // The second layer: dpkg's status without "tzdata" (as `dpkg --purge tzdata` leaves it).
  const status = await readFile(join(rootfs, 'var/lib/dpkg/status'), 'utf8');
  const stanzas = status.split(/\n\n+/).filter((s) => s.trim());
  // …and with dash upgraded in place, as a later `apt-get install --only-upgrade dash` would leave it
  const kept = stanzas
    .filter((s) => !/^Package: tzdata$/m.test(s))
    .map((s) => (/^Package: dash$/m.test(s) ? s.replace(/^Version: (.*)$/m, 'Version: $1+drydock1') : s));
  expect(kept.length).toBe(stanzas.length - 1);
  const upper = join(work, 'upper');
  await mkdir(join(upper, 'var/lib/dpkg'), { recursive: true });
  await writeFile(join(upper, 'var/lib/dpkg/status'), `${kept.join('\n\n')}\n`);
  await mkdir(join(upper, 'usr/share'), { recursive: true });
  await writeFile(join(upper, 'usr/share/.wh.zoneinfo'), '');
  // dpkg-query reads the same admin dir the image ends with.
  admindir = join(work, 'admindir');
  await cp(join(rootfs, 'var/lib/dpkg'), admindir, { recursive: true });
  await cp(join(upper, 'var/lib/dpkg/status'), join(admindir, 'status'));

  const layout = join(work, 'layout');
  built = await buildImage(layout, {
    tag: 'bookworm',
    layers: [{ fromDirectory: rootfs, compression: 'gzip' }, { fromDirectory: upper, compression: 'zstd' }],
  });
  registry = await startRegistry({ users: { ci: 'ci-password' } });
  const { reference } = await pushToRegistry(layout, 'bookworm', { host: registry.host, username: 'ci', password: 'ci-password' }, 'library/debian:bookworm');
  const source = await openSource(reference, { credentials: staticCredentials('ci', 'ci-password') });
  [inv] = (await scanImage(source, reference)) as [ImageInventory];
}, 15 * 60_000);

afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('debootstrapped Debian bookworm as a registry image', () => {
  it('equals dpkg-query on the final status file', () => {
    const tuple = (r: { name: string; version: string; arch?: string }) => `${r.name} ${r.version} ${r.arch ?? ''}`;
    const expected = dpkgQuery(admindir).filter((r) => ON_DISK_STATES.has(r.state)).map(tuple).sort();
    expect(expected.length).toBeGreaterThan(80);
    expect(inv.packages.map(tuple).sort()).toEqual(expected);
    expect(inv.packages.some((p) => p.name === 'tzdata')).toBe(false);
  });

  it('names the layer that introduced each package: the base for all but the upgraded dash, and detects Debian 12', () => {
    const [base, upper] = built.layers.map((l) => l.diffId);
    for (const p of inv.packages) expect([p.name, p.layer]).toEqual([p.name, p.name === 'dash' ? upper : base]);
    expect(inv.packages.find((p) => p.name === 'dash')?.version).toMatch(/\+drydock1$/);
    expect(inv.distro).toMatchObject({ id: 'debian', versionId: '12', codename: 'bookworm' });
    expect(inv.warnings).toEqual([]);
  });
});
