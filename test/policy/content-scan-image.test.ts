/**
 * The content-scan and file-meta probes through a real scan: an image built with GNU tar and
 * gzip, streamed by the walker with the default catalogers plus a cataloger that only
 * declares the probes and reads their results off the squashed view. Checks what survives
 * whiteouts, what the layer cache gives back, and that kept files are checked too.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirLayerCache } from '../../shared/adapters/local/dir-layer-cache.js';
import { catalogers } from '../../shared/catalog/index.js';
import type { Cataloger } from '../../shared/catalog/types.js';
import type { LayerExtract } from '../../shared/layers/extract.js';
import { openSource } from '../../shared/image/open.js';
import { contentMatchesFrom, contentPatterns, contentScanProbe } from '../../shared/policy/content-scan.js';
import { fileMetaFrom, fileMetaProbe } from '../../shared/policy/file-meta.js';
import type { ContentMatch, FileMeta } from '../../shared/policy/types.js';
import { scanImage } from '../../shared/scan.js';
import { buildImage, type BuiltImage } from '../support/image-builder.js';

let work: string;
let image: BuiltImage;

const SHADOW = 'root:::0:::::\nbin:!::0:::::\nnobody:!::0:::::\n';
const OS_RELEASE = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n';

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-content-scan-'));
  image = await buildImage(join(work, 'layout'), {
    tag: 'v1',
    layers: [
      {
        files: [
          { path: 'etc/os-release', content: OS_RELEASE },
          { path: 'etc/shadow', content: SHADOW, mode: 0o640 },
          { path: 'app/.env', content: 'REGION=eu-west-1\nAWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n' },
          { path: 'tmp/build/id_rsa', content: '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n', mode: 0o600 },
          { path: 'usr/bin/tool', content: Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01\x00\x00'), Buffer.from('\nAKIAIOSFODNN7EXAMPLE\n')]), mode: 0o755 },
          { path: 'bin/su', content: '#!/bin/sh\n', mode: 0o4755 },
          { path: 'app/replaced.txt', content: 'api_key = "0123456789abcdef0123"\n' },
        ],
      },
      {
        files: [
          // the private key is deleted, replaced.txt overwritten with a clean copy
          { path: 'tmp/build/.wh.id_rsa' },
          { path: 'app/replaced.txt', content: 'nothing here\n' },
          { path: 'root/.docker/config.json', content: '{\n  "auths": {\n    "registry.example.com": {\n      "auth": "dXNlcjpwYXNzd29yZA=="\n    }\n  }\n}\n' },
        ],
      },
    ],
  });
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('content scan in a real image', () => {
  const contentProbe = contentScanProbe(contentPatterns(['ALPINE_NULL_ROOT=^root:::0:::::$', 'OS_ID=^ID=alpine$']));
  const metaProbe = fileMetaProbe();

  /** Scans with the default catalogers and one that only carries the probes and reads their results. */
  async function scan(cache?: DirLayerCache): Promise<{ matches: ContentMatch[]; files: FileMeta[]; cached: boolean[] }> {
    let seen: { matches: ContentMatch[]; files: FileMeta[] } | undefined;
    const policyData: Cataloger = {
      name: 'policy-data',
      kind: 'binary',
      version: 1,
      needs: { probes: [contentProbe, metaProbe] },
      // the first call gets the squashed image; layer attribution then re-runs catalogers on lower-layer prefixes
      catalog(view) {
        seen ??= { matches: contentMatchesFrom(view, contentProbe), files: fileMetaFrom(view, metaProbe) };
        return { packages: [], issues: [] };
      },
    };
    const ref = `oci:${join(work, 'layout')}:v1`;
    // the layer extracts alone (get/put): the image analysis would answer without running this
    // side-channel cataloger at all, and what is under test is what the extracts keep
    const layers = cache ? { get: (k: string) => cache.get(k), put: (k: string, x: LayerExtract) => cache.put(k, x) } : undefined;
    const [inv] = await scanImage(await openSource(ref), ref, { catalogers: [...catalogers, policyData], ...(layers ? { cache: layers } : {}) });
    return { ...seen!, cached: inv!.image.layers.map((l) => l.cached) };
  }

  it('reports the patterns matched per file, by the layer that wrote it, without deleted or overwritten files', async () => {
    const { matches } = await scan();
    const [l1, l2] = image.layers.map((l) => l.diffId);
    expect(matches).toEqual([
      { name: 'AWS_ACCESS_KEY', path: '/app/.env', layer: l1 },
      { name: 'ALPINE_NULL_ROOT', path: '/etc/shadow', layer: l1 },
      // kept by the distro detector, so checked from the view rather than by the probe
      { name: 'OS_ID', path: '/etc/os-release', layer: l1 },
      { name: 'DOCKER_AUTH', path: '/root/.docker/config.json', layer: l2 },
    ].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)));
    // the whiteout removed /tmp/build/id_rsa (PRIV_KEY); the binary /usr/bin/tool was skipped
    expect(matches.map((m) => m.path)).not.toContain('/tmp/build/id_rsa');
    expect(matches.map((m) => m.path)).not.toContain('/usr/bin/tool');
    expect(matches.map((m) => m.path)).not.toContain('/app/replaced.txt');
  });

  it('lists every regular file with its mode, size and layer (probed and kept alike)', async () => {
    const { files } = await scan();
    const [l1, l2] = image.layers.map((l) => l.diffId);
    const byPath = new Map(files.map((f) => [f.path, f]));
    expect([...byPath.keys()].sort()).toEqual(['/app/.env', '/app/replaced.txt', '/bin/su', '/etc/os-release', '/etc/shadow', '/root/.docker/config.json', '/usr/bin/tool']);
    expect(byPath.get('/bin/su')).toEqual({ path: '/bin/su', mode: 0o104755, size: 10, type: 'file', layer: l1 });
    expect(byPath.get('/app/replaced.txt')).toMatchObject({ size: 13, layer: l2 });
    expect(byPath.get('/etc/os-release')).toMatchObject({ size: OS_RELEASE.length, mode: 0o100644, layer: l1 });
  });

  it('gives the same results from the layer cache', async () => {
    const cache = new DirLayerCache(join(work, 'cache'));
    const first = await scan(cache);
    const second = await scan(cache);
    expect(first.cached).toEqual([false, false]);
    expect(second.cached).toEqual([true, true]);
    expect(second.matches).toEqual(first.matches);
    expect(second.files).toEqual(first.files);
    expect(second.matches.length).toBe(4);
  });
});
