/**
 * `-o spdx` validated against the official SPDX 2.3 JSON schemas in ../shared/fixtures/schemas
 * (spdx/spdx-spec tag v2.3, draft-07; and the support/2.3.1 revision, draft 2019-09) with ajv, on
 * the SBOM of a real scan (the built CLI on an OCI layout made by GNU tar and gzip) and on an
 * inventory with every kind of licence. The validators are first shown to reject broken
 * documents, so a pass means something.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderSpdx } from '../../shared/report/spdx.js';
import type { ImageInventory } from '../../shared/scan.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { buildImage } from '../support/image-builder.js';

const BIN = fileURLToPath(new URL('../../bin/drydock.cjs', import.meta.url));
const SCHEMAS = join(SHARED_FIXTURES, 'schemas');
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv | Ajv2019) => unknown;

let work: string;
let v23: ValidateFunction;
let v231: ValidateFunction;
let scanned: Record<string, unknown>;

const errorsOf = (v: ValidateFunction, doc: unknown): string => (v(doc) ? '' : JSON.stringify(v.errors?.slice(0, 5)));

const inventory: ImageInventory = {
  image: { reference: 'registry.example/app:1', manifestDigest: `sha256:${'a'.repeat(64)}`, configDigest: `sha256:${'b'.repeat(64)}`, platform: { os: 'linux', architecture: 'amd64' }, layers: [] },
  distro: { id: 'debian', versionId: '12', codename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)', source: '/etc/os-release' },
  packages: [
    { type: 'deb', name: 'libssl3', version: '3.0.15-1~deb12u1', purl: 'pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64&distro=debian-12', layer: `sha256:${'1'.repeat(64)}`, locations: ['/var/lib/dpkg/status'], foundBy: 'dpkg', licenses: ['Apache-2.0'], sourceName: 'openssl' },
    { type: 'deb', name: 'libstdc++6', version: '12.2.0-14', purl: 'pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=amd64&distro=debian-12', layer: `sha256:${'1'.repeat(64)}`, locations: ['/var/lib/dpkg/status'], foundBy: 'dpkg', licenses: ['GPL-3.0-or-later WITH GCC-exception-3.1'] },
    { type: 'deb', name: 'tzdata', version: '2024a-0+deb12u1', purl: 'pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12', layer: `sha256:${'1'.repeat(64)}`, locations: ['/var/lib/dpkg/status'], foundBy: 'dpkg', licenses: ['public-domain', 'MIT'] },
    { type: 'npm', name: '@scope/pkg', version: '1.0.0', purl: 'pkg:npm/%40scope/pkg@1.0.0', layer: `sha256:${'2'.repeat(64)}`, locations: ['/app/node_modules/@scope/pkg/package.json'], foundBy: 'npm' },
  ],
  warnings: [],
};

beforeAll(async () => {
  const a = new Ajv({ allErrors: true, strict: false });
  addFormats(a);
  v23 = a.compile(JSON.parse(await readFile(join(SCHEMAS, 'spdx-schema-2.3.json'), 'utf8')) as object);
  const b = new Ajv2019({ allErrors: true, strict: false });
  addFormats(b);
  v231 = b.compile(JSON.parse(await readFile(join(SCHEMAS, 'spdx-schema-2.3.1.support-branch.json'), 'utf8')) as object);

  if (!existsSync(fileURLToPath(new URL('../../dist/cli/drydock.mjs', import.meta.url)))) throw new Error('dist/cli/drydock.mjs is missing: run `npm run bundle` first');
  work = await mkdtemp(join(tmpdir(), 'drydock-spdx-'));
  const layout = join(work, 'layout');
  await buildImage(layout, {
    tag: 'v1',
    layers: [
      { files: [{ path: 'etc/os-release', content: OS_RELEASE_12 }, { path: 'var/lib/dpkg/status', content: statusFile(stanza('libssl3', '3.0.15-1~deb12u1', { Source: 'openssl' }), stanza('libc6', '2.36-9+deb12u1', { Source: 'glibc' })) }] },
      { files: [{ path: 'app/node_modules/lodash/package.json', content: JSON.stringify({ name: 'lodash', version: '4.17.20', license: 'MIT' }) }] },
    ],
  });
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [BIN, 'scan', `oci:${layout}:v1`, '-o', 'spdx'], { env: { PATH: process.env.PATH ?? '', HOME: work, DRYDOCK_CACHE_DIR: join(work, 'cache') }, maxBuffer: 32 * 1024 * 1024 }, (e, stdout, stderr) =>
      e ? reject(new Error(`drydock scan -o spdx failed: ${String(stderr)}`)) : resolve(String(stdout)),
    );
  });
  scanned = JSON.parse(out) as Record<string, unknown>;
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('SPDX 2.3 under the official JSON schemas', () => {
  it('the validators reject broken documents', () => {
    const good = JSON.parse(renderSpdx(inventory, { name: 'drydock', version: '0.0.0-test' })) as Record<string, unknown>;
    for (const v of [v23, v231]) {
      expect(errorsOf(v, good)).toBe('');
      expect(errorsOf(v, { ...good, spdxVersion: undefined })).not.toBe('');
      expect(errorsOf(v, { ...good, relationships: [{ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'NOT_A_TYPE', relatedSpdxElement: 'x' }] })).not.toBe('');
      const packages = (good.packages as Array<Record<string, unknown>>).map((p) => ({ ...p, externalRefs: [{ referenceCategory: 'NOPE', referenceType: 'purl', referenceLocator: 'x' }] }));
      expect(errorsOf(v, { ...good, packages })).not.toBe('');
    }
  });

  it('an inventory with licence ids, expressions, non-SPDX names and none validates under both revisions', () => {
    const doc = JSON.parse(renderSpdx(inventory, { name: 'drydock', version: '0.0.0-test' }, new Date('2026-11-23T10:00:00.123Z'))) as unknown;
    expect(errorsOf(v23, doc)).toBe('');
    expect(errorsOf(v231, doc)).toBe('');
  });

  it('the built CLI’s `-o spdx` of a real two-layer image validates under both revisions, with every package', () => {
    expect(errorsOf(v23, scanned)).toBe('');
    expect(errorsOf(v231, scanned)).toBe('');
    const names = (scanned.packages as Array<{ name: string }>).map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['libssl3', 'libc6', 'lodash']));
  });
});
