/**
 * The image analysis in the layer cache (issue 18, warm start): a second scan of an image with
 * the same plan and limits reads one entry instead of decoding, squashing and cataloguing every
 * layer again, and answers exactly as the first; anything that could change the answer (another
 * cataloger or version, another limit, other layers) is a miss; a damaged or foreign entry is a
 * miss, never believed; a scan with a policy collector does not use it.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirLayerCache } from '../../shared/adapters/local/dir-layer-cache.js';
import { catalogers as defaultCatalogers } from '../../shared/catalog/index.js';
import type { Cataloger } from '../../shared/catalog/types.js';
import { openSource } from '../../shared/image/open.js';
import { policyCollector } from '../../shared/policy/collector.js';
import { scanImage, type ImageInventory, type ScanOptions } from '../../shared/scan.js';
import { buildImage } from '../support/image-builder.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';

let work: string;
let ref: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-analysis-cache-'));
  const layout = join(work, 'layout');
  await buildImage(layout, {
    tag: 'v1',
    layers: [
      { files: [{ path: 'etc/os-release', content: OS_RELEASE_12 }, { path: 'var/lib/dpkg/status', content: statusFile(stanza('libssl3', '3.0.15-1~deb12u1', { Source: 'openssl' }), stanza('zlib1g', '1:1.2.13.dfsg-1')) }], compression: 'gzip' },
      { files: [{ path: 'app/node_modules/left-pad/package.json', content: JSON.stringify({ name: 'left-pad', version: '1.3.0', license: 'WTFPL' }) }], compression: 'gzip' },
    ],
  });
  ref = `oci:${layout}:v1`;
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** The default catalogers plus one that counts its runs (a cataloger that finds nothing). */
function counting(): { list: Cataloger[]; runs: () => number } {
  let runs = 0;
  const counter: Cataloger = { name: 'test-counter', kind: 'binary', version: 1, needs: {}, catalog: () => ((runs += 1), { packages: [], issues: [] }) };
  return { list: [...defaultCatalogers, counter], runs: () => runs };
}

async function scan(cacheDir: string, opts: ScanOptions = {}): Promise<ImageInventory> {
  const [inv] = await scanImage(await openSource(ref), ref, { cache: new DirLayerCache(cacheDir), ...opts });
  return inv!;
}

/** The inventory without the fields a warm scan is expected to change (each layer's `cached`). */
const answer = (inv: ImageInventory) => JSON.stringify({ ...inv, image: { ...inv.image, layers: inv.image.layers.map((l) => ({ ...l, cached: undefined })) } });

describe('the image analysis in the layer cache', () => {
  it('a second scan answers from it: the catalogers do not run, the answer is the first one, every layer reported cached', async () => {
    const cache = join(work, 'cache-1');
    const c = counting();
    const cold = await scan(cache, { catalogers: c.list });
    // (attribution runs the catalogers again on earlier layers' states: a scan counts more than one)
    const perScan = c.runs();
    expect(perScan).toBeGreaterThan(0);
    expect(cold.packages.map((p) => p.name).sort()).toEqual(['left-pad', 'libssl3', 'zlib1g']);
    const warm = await scan(cache, { catalogers: c.list });
    expect(c.runs()).toBe(perScan);
    expect(answer(warm)).toBe(answer(cold));
    expect(warm.image.layers.map((l) => l.cached)).toEqual([true, true]);
    const files = (await readdir(join(cache), { recursive: true })).filter((f) => f.endsWith('.analysis.json'));
    expect(files).toHaveLength(1);
  });

  it('another cataloger version, or another limit, is a miss: the catalogers run again', async () => {
    const cache = join(work, 'cache-2');
    const c = counting();
    await scan(cache, { catalogers: c.list });
    const perScan = c.runs();
    const bumped = c.list.map((x) => (x.name === 'test-counter' ? { ...x, version: 2 } : x));
    await scan(cache, { catalogers: bumped });
    expect(c.runs()).toBe(2 * perScan);
    await scan(cache, { catalogers: c.list, limits: { maxEntries: 100_000 } });
    expect(c.runs()).toBe(3 * perScan);
    // and the same plan again is a hit
    await scan(cache, { catalogers: c.list, limits: { maxEntries: 100_000 } });
    expect(c.runs()).toBe(3 * perScan);
  });

  it('a damaged or foreign entry is a miss, never believed: the analysis is made again and the answer is the true one', async () => {
    const cache = join(work, 'cache-3');
    const c = counting();
    const cold = await scan(cache, { catalogers: c.list });
    const perScan = c.runs();
    const [file] = (await readdir(cache, { recursive: true })).filter((f) => f.endsWith('.analysis.json'));
    const path = join(cache, file!);
    const foreign = [
      'not json',
      JSON.stringify({ v: 1, layers: [{ entries: 1, uncompressedBytes: 1 }], packages: [], warnings: [] }),
      JSON.stringify({ v: 999, layers: [{ entries: 1, uncompressedBytes: 1 }, { entries: 1, uncompressedBytes: 1 }], packages: [], warnings: [] }),
      JSON.stringify({ v: 1, layers: [{ entries: 1, uncompressedBytes: 1 }, { entries: 1, uncompressedBytes: 1 }], packages: [null], warnings: [] }),
    ];
    let runs = c.runs();
    for (const bad of foreign) {
      await writeFile(path, bad);
      const again = await scan(cache, { catalogers: c.list });
      expect(c.runs(), bad).toBe((runs += perScan));
      expect(answer(again)).toBe(answer(cold));
    }
  });

  it('a scan with a policy collector does not use it (the collector reads the files themselves)', async () => {
    const cache = join(work, 'cache-4');
    const c = counting();
    const collector = policyCollector([]);
    await scan(cache, { catalogers: c.list, collector });
    const perScan = c.runs();
    const second = await scan(cache, { catalogers: c.list, collector });
    expect(c.runs()).toBe(2 * perScan);
    expect(second.policyData).toBeDefined();
    expect((await readdir(cache, { recursive: true })).filter((f) => f.endsWith('.analysis.json'))).toEqual([]);
  });
});
