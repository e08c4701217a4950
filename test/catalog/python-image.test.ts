/**
 * The Python cataloger through the whole scan pipeline (tar walker with the declared glob,
 * squashed layers, dpkg ownership): the Debian bookworm rootfs with python3-requests and
 * python3-yaml as the first layer of an OCI image, and a `pip install PyYAML==6.0` layer
 * on top of it. A package's layer is the diff_id of the layer that wrote its record.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryView } from '../../shared/catalog/dir-view.js';
import { dpkgCataloger } from '../../shared/catalog/dpkg.js';
import { runCatalogers } from '../../shared/catalog/index.js';
import { pythonCataloger } from '../../shared/catalog/python.js';
import type { Package } from '../../shared/catalog/types.js';
import { openSource } from '../../shared/image/open.js';
import { scanImage, type ImageInventory } from '../../shared/scan.js';
import { ensureDebianRootfsWith } from '../support/debootstrap.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { buildImage, ociRef, type BuiltImage, type FileSpec } from '../support/image-builder.js';

const WHEEL_METADATA = join(SHARED_FIXTURES, 'pkgdb/python/debian-bookworm/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info');
const PIP_DIST_INFO = 'usr/local/lib/python3.11/dist-packages/PyYAML-6.0.dist-info';

let work: string;
let rootfs: string;
let built: BuiltImage;
let inv: ImageInventory;

beforeAll(async () => {
  rootfs = await ensureDebianRootfsWith(['python3-requests', 'python3-yaml']);
  work = await mkdtemp(join(tmpdir(), 'drydock-python-image-'));
  const pipLayer: FileSpec[] = readdirSync(WHEEL_METADATA).map((name) => ({ path: `${PIP_DIST_INFO}/${name}`, content: readFileSync(join(WHEEL_METADATA, name)) }));
  pipLayer.push({ path: `${PIP_DIST_INFO}/INSTALLER`, content: 'pip\n' });
  const layout = join(work, 'layout');
  built = await buildImage(layout, { tag: 'python', layers: [{ fromDirectory: rootfs, compression: 'gzip' }, { files: pipLayer, compression: 'gzip' }] });
  const source = await openSource(ociRef(layout, 'python'));
  [inv] = (await scanImage(source, ociRef(layout, 'python'), { catalogers: [dpkgCataloger, pythonCataloger] })) as [ImageInventory];
}, 15 * 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const brief = (p: Package) => ({ name: p.name, version: p.version, purl: p.purl, licenses: p.licenses, location: p.locations[0], ownedBy: p.ownedBy?.name, foundBy: p.foundBy });

describe('a Debian bookworm image with Python packages from dpkg and from pip', () => {
  it('finds the Debian ones as on disk, owned by their Debian packages, in the base layer', () => {
    const [base] = built.layers as [BuiltImage['layers'][number]];
    const onDisk = runCatalogers(new DirectoryView(rootfs), [dpkgCataloger, pythonCataloger]).packages.filter((p) => p.type === 'pypi');
    const fromImage = inv.packages.filter((p) => p.type === 'pypi' && !p.locations[0]?.startsWith('/usr/local/'));
    expect(fromImage.map(brief)).toEqual(onDisk.map(brief));
    expect(fromImage.every((p) => p.layer === base.diffId && p.ownedBy?.type === 'deb')).toBe(true);
    expect(inv.warnings).toEqual([]);
  });

  it('finds the pip one in the layer that added it, owned by nothing', () => {
    const top = built.layers[1];
    expect(inv.packages.filter((p) => p.type === 'pypi' && p.name === 'PyYAML').map((p) => [p.locations[0], p.layer, p.ownedBy?.name])).toEqual([
      ['/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA', built.layers[0]?.diffId, 'python3-yaml'],
      [`/${PIP_DIST_INFO}/METADATA`, top?.diffId, undefined],
    ]);
  });
});
