/**
 * `drydock scan` as a user runs it: output formats, exit codes and messages, on a real
 * OCI layout built with GNU tar and gzip.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as CDX from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../shared/cli/main.js';
import { runCli } from '../support/cli.js';
import { buildImage } from '../support/image-builder.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';

let work: string;
let ref: string;

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return cliOn(false, ...argv);
}

async function cliOn(tty: boolean, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return runCli(argv, { DRYDOCK_CACHE_DIR: join(work, 'cache') }, { tty: tty });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-cli-'));
  const layout = join(work, 'layout');
  await buildImage(layout, {
    tag: 'v1',
    layers: [{ files: [
      { path: 'etc/os-release', content: OS_RELEASE_12 },
      { path: 'var/lib/dpkg/status', content: statusFile(stanza('libssl3', '3.0.15-1~deb12u1', { Source: 'openssl' }), stanza('libstdc++6', '12.2.0-14', { Source: 'gcc-12' })) },
    ] }],
  });
  await buildImage(layout, {
    tag: 'broken',
    layers: [{ files: [{ path: 'a', content: 'x'.repeat(10000) }], blobTransform: (b) => b.subarray(0, b.length - 100) }],
  });
  ref = `oci:${layout}:v1`;
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('drydock scan', () => {
  it('prints the table with name, version, source, arch and layer', async () => {
    const { code, out } = await cli('scan', ref);
    expect(code).toBe(EXIT.ok);
    expect(out).toContain('Debian GNU/Linux 12 (bookworm), 1 layer, 2 packages');
    expect(out).toMatch(/^NAME\s+VERSION\s+SOURCE\s+ARCH\s+LAYER$/m);
    expect(out).toMatch(/^libssl3\s+3\.0\.15-1~deb12u1\s+openssl\s+amd64\s+#0 [0-9a-f]{12}$/m);
  });

  it('prints JSON with the schema id, image digests and packages', async () => {
    const { code, out } = await cli('scan', ref, '-o', 'json');
    expect(code).toBe(EXIT.ok);
    const doc = JSON.parse(out);
    expect(doc.schema).toBe('drydock.scan/v1');
    expect(doc.results[0].image.manifestDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(doc.results[0].packages.map((p: { name: string }) => p.name)).toEqual(['libssl3', 'libstdc++6']);
  });

  it('writes CycloneDX 1.6 JSON that is valid against the schema, with a purl per package', async () => {
    const { code, out } = await cli('scan', ref, '--output', 'cyclonedx');
    expect(code).toBe(EXIT.ok);
    const invalid = await new CDX.Validation.JsonStrictValidator(CDX.Spec.Version.v1dot6).validate(out);
    expect(invalid).toBeNull();
    const bom = JSON.parse(out);
    expect(bom.specVersion).toBe('1.6');
    expect(bom.metadata.component.type).toBe('container');
    const purls = bom.components.map((c: { purl: string }) => PackageURL.fromString(c.purl));
    expect(purls.map((p: PackageURL) => `${p.type}/${p.namespace}/${p.name}@${p.version}`)).toEqual([
      'deb/debian/libssl3@3.0.15-1~deb12u1',
      'deb/debian/libstdc++6@12.2.0-14',
    ]);
    expect(purls[0].qualifiers).toMatchObject({ arch: 'amd64', distro: 'debian-12' });
  });

  it('writes SPDX 2.3 JSON describing the image and containing each package', async () => {
    const { code, out } = await cli('scan', ref, '-o', 'spdx');
    expect(code).toBe(EXIT.ok);
    const doc = JSON.parse(out);
    expect(doc.spdxVersion).toBe('SPDX-2.3');
    expect(doc.packages.map((p: { name: string }) => p.name)).toEqual([ref, 'libssl3', 'libstdc++6']);
    expect(doc.relationships.filter((r: { relationshipType: string }) => r.relationshipType === 'CONTAINS')).toHaveLength(2);
  });

  it('exits 3 with a message naming the image and the layer when a layer is broken', async () => {
    const broken = ref.replace(/:v1$/, ':broken');
    const { code, err } = await cli('scan', broken);
    expect(code).toBe(EXIT.scanError);
    expect(err).toMatch(/^drydock: CORRUPT_LAYER: corrupt gzip stream: .* \[image oci:.*:broken\] \[layer sha256:[0-9a-f]{64}\]$/m);
  });

  it('exits 3 for an unparseable reference and a missing archive', async () => {
    expect((await cli('scan', 'UPPER/Case')).code).toBe(EXIT.scanError);
    const missing = await cli('scan', `oci-archive:${join(work, 'nope.tar')}`);
    expect(missing.code).toBe(EXIT.scanError);
    expect(missing.err).toContain('cannot open archive');
  });

  it('exits 64 on usage errors', async () => {
    expect((await cli('scan')).code).toBe(EXIT.usage);
    expect((await cli('scan', ref, '-o', 'xml')).code).toBe(EXIT.usage);
    expect((await cli('scan', ref, '--platform', 'linux')).code).toBe(EXIT.usage);
    expect((await cli('scan', ref, '--max-entries', '-5')).code).toBe(EXIT.usage);
    expect((await cli('frobnicate')).code).toBe(EXIT.usage);
  });

  it('shows a progress line with bytes and rate on a terminal, none otherwise, and none with -q', async () => {
    const tty = await cliOn(true, 'scan', ref, '--no-cache');
    expect(tty.code).toBe(EXIT.ok);
    expect(tty.err).toMatch(/layers 1\/1 {2}[\d.]+ MB\/[\d.]+ MB {2}[\d.]+ MB\/s/);
    // not a terminal: no progress line, only the note that no advisories were there to match
    expect((await cli('scan', ref, '--no-cache')).err).toMatch(/^note: no advisories \(run `drydock feeds sync`, or pass --advisories <dir\|zip>\): packages only\n$/);
    expect((await cliOn(true, 'scan', ref, '--no-cache', '-q')).err).toBe('');
  });

  it('applies limits given on the command line', async () => {
    const { code, err } = await cli('scan', ref, '--max-entries', '2', '--no-cache');
    expect(code).toBe(EXIT.scanError);
    expect(err).toContain('LIMIT_EXCEEDED');
  });
});
