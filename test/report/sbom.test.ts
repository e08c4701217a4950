/**
 * The SBOM renderers on an inventory with every kind of licence: CycloneDX validated by the
 * CycloneDX library's strict JSON-schema validator (the official 1.6 schema it ships). SPDX 2.3
 * is validated against the official schemas in test/report/spdx-schema.test.ts; what stays here
 * is what no schema says: the cross-references resolve, the licences parse as SPDX expressions.
 */
import * as CDX from '@cyclonedx/cyclonedx-library';
import parseSpdx from 'spdx-expression-parse';
import { describe, expect, it } from 'vitest';
import type { Package } from '../../shared/catalog/types.js';
import { renderCycloneDx } from '../../shared/report/cyclonedx.js';
import { renderSpdx } from '../../shared/report/spdx.js';
import type { ImageInventory } from '../../shared/scan.js';

const TOOL = { name: 'drydock', version: '0.0.0-test' };
const pkg = (name: string, version: string, licenses: string[] | undefined, extra: Partial<Package> = {}): Package => ({
  type: 'deb',
  name,
  version,
  purl: `pkg:deb/debian/${encodeURIComponent(name)}@${encodeURIComponent(version)}?arch=amd64&distro=debian-12`,
  layer: `sha256:${'1'.repeat(64)}`,
  locations: ['/var/lib/dpkg/status'],
  foundBy: 'dpkg',
  ...(licenses ? { licenses } : {}),
  ...extra,
});

const inventory: ImageInventory = {
  image: {
    reference: 'registry.example/app:1',
    manifestDigest: `sha256:${'a'.repeat(64)}`,
    configDigest: `sha256:${'b'.repeat(64)}`,
    platform: { os: 'linux', architecture: 'amd64' },
    layers: [],
  },
  distro: { id: 'debian', versionId: '12', codename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)', source: '/etc/os-release' },
  packages: [
    pkg('libssl3', '3.0.15-1~deb12u1', ['Apache-2.0'], { sourceName: 'openssl', sourceVersion: '3.0.15-1~deb12u1' }),
    pkg('libstdc++6', '12.2.0-14', ['GPL-3.0-or-later WITH GCC-exception-3.1']),
    pkg('bash', '5.2.15-2+b7', ['GPL-3.0-or-later', 'MIT AND BSD-2-Clause']),
    pkg('tzdata', '2024a-0+deb12u1', ['public-domain', 'MIT']),
    pkg('no-licence', '1', undefined),
    pkg('requests', '2.28.1', ['Apache-2.0'], { type: 'pypi', purl: 'pkg:pypi/requests@2.28.1', ownedBy: { type: 'deb', name: 'python3-requests', version: '2.28.1+dfsg-1', purl: 'pkg:deb/debian/python3-requests@2.28.1%2Bdfsg-1' } }),
  ],
  warnings: [],
};

describe('CycloneDX 1.6', () => {
  it('is valid against the official schema, with licences as ids, expressions or names', async () => {
    const json = renderCycloneDx(inventory, TOOL);
    expect(await new CDX.Validation.JsonStrictValidator(CDX.Spec.Version.v1dot6).validate(json)).toBeNull();
    const bom = JSON.parse(json);
    const byName = Object.fromEntries(bom.components.map((c: { name: string }) => [c.name, c]));
    expect(byName.libssl3.licenses).toEqual([{ license: { id: 'Apache-2.0' } }]);
    expect(byName['libstdc++6'].licenses).toEqual([{ expression: 'GPL-3.0-or-later WITH GCC-exception-3.1' }]);
    expect(byName.bash.licenses).toEqual([{ expression: 'GPL-3.0-or-later AND (MIT AND BSD-2-Clause)' }]);
    expect(byName.tzdata.licenses).toEqual([{ license: { name: 'public-domain' } }, { license: { id: 'MIT' } }]);
    expect(byName['no-licence'].licenses).toBeUndefined();
    expect(byName.requests.properties).toContainEqual({ name: 'drydock:owned-by', value: 'pkg:deb/debian/python3-requests@2.28.1%2Bdfsg-1' });
  });
});

describe('SPDX 2.3', () => {
  const doc = JSON.parse(renderSpdx(inventory, TOOL, new Date('2026-11-23T10:00:00.123Z')));

  it('has the document fields 2.3 requires', () => {
    expect(doc).toMatchObject({ spdxVersion: 'SPDX-2.3', dataLicense: 'CC0-1.0', SPDXID: 'SPDXRef-DOCUMENT', name: 'registry.example/app:1' });
    expect(doc.documentNamespace).toMatch(/^https:\/\/[^#\s]+$/);
    expect(doc.creationInfo).toEqual({ created: '2026-11-23T10:00:00Z', creators: ['Tool: drydock-0.0.0-test'] });
  });

  it('gives every element a unique valid SPDXID and every relationship existing ends', () => {
    const ids = doc.packages.map((p: { SPDXID: string }) => p.SPDXID);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^SPDXRef-[A-Za-z0-9.-]+$/);
    const known = new Set(['SPDXRef-DOCUMENT', ...ids]);
    for (const r of doc.relationships) {
      expect(known.has(r.spdxElementId) && known.has(r.relatedSpdxElement)).toBe(true);
    }
    expect(doc.relationships.filter((r: { relationshipType: string }) => r.relationshipType === 'CONTAINS')).toHaveLength(inventory.packages.length);
    expect(doc.relationships[0]).toMatchObject({ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES' });
  });

  it('carries purls, and licences as SPDX expressions with LicenseRefs for declared text', () => {
    const pkgs = doc.packages.slice(1);
    for (const p of pkgs) {
      expect(p.downloadLocation).toBe('NOASSERTION');
      expect(p.externalRefs).toEqual([expect.objectContaining({ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl' })]);
      if (p.licenseDeclared !== 'NOASSERTION') expect(() => parseSpdx(p.licenseDeclared)).not.toThrow();
    }
    const tz = pkgs.find((p: { name: string }) => p.name === 'tzdata');
    expect(tz.licenseDeclared).toMatch(/^LicenseRef-public-domain-[0-9a-f]{8} AND MIT$/);
    const ref = tz.licenseDeclared.split(' ')[0];
    expect(doc.hasExtractedLicensingInfos).toEqual([{ licenseId: ref, extractedText: 'public-domain', name: 'public-domain' }]);
    expect(pkgs.find((p: { name: string }) => p.name === 'bash').licenseDeclared).toBe('GPL-3.0-or-later AND (MIT AND BSD-2-Clause)');
    expect(doc.packages[0]).toMatchObject({ primaryPackagePurpose: 'CONTAINER', checksums: [{ algorithm: 'SHA256', checksumValue: 'a'.repeat(64) }] });
    // the 2.3 schema's enum spells it with an underscore (unlike the hyphenated referenceCategory values)
    expect(pkgs.find((p: { name: string }) => p.name === 'libssl3').primaryPackagePurpose).toBe('OPERATING_SYSTEM');
    expect(pkgs.find((p: { name: string }) => p.name === 'requests').primaryPackagePurpose).toBe('LIBRARY');
  });
});
