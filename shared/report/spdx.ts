import { createHash } from 'node:crypto';
import { formatPlatform } from '../image/platform.js';
import type { Package } from '../catalog/types.js';
import type { ImageInventory } from '../scan.js';
import { isSpdx } from '../catalog/license.js';

/**
 * SPDX 2.3 JSON for one image: the document DESCRIBES the image (a CONTAINER package);
 * the image CONTAINS each package, which carries its purl as a PACKAGE-MANAGER external
 * reference, its declared licence (an SPDX expression, or a LicenseRef with the declared
 * text in hasExtractedLicensingInfos) and, as sourceInfo, where it was found.
 */
export function renderSpdx(inv: ImageInventory, tool: { name: string; version: string }, now = new Date()): string {
  const imageId = `SPDXRef-Image-${hex(inv.image.manifestDigest).slice(0, 16)}`;
  const extracted = new Map<string, string>();
  const ids = new Set<string>();
  const packages = inv.packages.map((p) => spdxPackage(p, uniqueId(p, ids), extracted));
  const doc = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: inv.image.reference,
    documentNamespace: `https://drydock.invalid/spdx/${encodeURIComponent(inv.image.reference)}/${hex(inv.image.manifestDigest)}-${crypto.randomUUID()}`,
    creationInfo: {
      created: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      creators: [`Tool: ${tool.name}-${tool.version}`],
    },
    packages: [
      {
        SPDXID: imageId,
        name: inv.image.reference,
        versionInfo: inv.image.manifestDigest,
        downloadLocation: 'NOASSERTION',
        filesAnalyzed: false,
        primaryPackagePurpose: 'CONTAINER',
        checksums: [{ algorithm: 'SHA256', checksumValue: hex(inv.image.manifestDigest) }],
        comment: `platform ${formatPlatform(inv.image.platform)}${inv.distro ? `, distro ${inv.distro.prettyName ?? inv.distro.id}` : ''}`,
      },
      ...packages,
    ],
    relationships: [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: imageId },
      ...packages.map((p) => ({ spdxElementId: imageId, relationshipType: 'CONTAINS', relatedSpdxElement: p.SPDXID })),
    ],
    ...(extracted.size
      ? { hasExtractedLicensingInfos: [...extracted].map(([licenseId, extractedText]) => ({ licenseId, extractedText, name: extractedText })) }
      : {}),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function spdxPackage(p: Package, id: string, extracted: Map<string, string>) {
  return {
    SPDXID: id,
    name: p.name,
    versionInfo: p.version,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: declared(p.licenses ?? [], extracted),
    copyrightText: 'NOASSERTION',
    primaryPackagePurpose: p.type === 'deb' || p.type === 'rpm' || p.type === 'apk' ? 'OPERATING_SYSTEM' : 'LIBRARY',
    ...(p.sourceName && p.sourceName !== p.name ? { sourceInfo: `built from source package ${p.sourceName} ${p.sourceVersion ?? ''}`.trim() } : {}),
    externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl }],
    comment: `found by ${p.foundBy ?? 'drydock'} in ${p.locations.join(', ')} (layer ${p.layer})${p.ownedBy ? `; installed by ${p.ownedBy.purl}` : ''}`,
  };
}

/** The declared licences as one SPDX expression: SPDX ones as they are, other text as LicenseRefs. */
function declared(licenses: string[], extracted: Map<string, string>): string {
  if (!licenses.length) return 'NOASSERTION';
  const parts = licenses.map((l) => {
    if (isSpdx(l)) return licenses.length > 1 && / (AND|OR) /.test(l) ? `(${l})` : l;
    const ref = `LicenseRef-${l.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'unknown'}-${hex(l).slice(0, 8)}`;
    extracted.set(ref, l);
    return ref;
  });
  return parts.join(' AND ');
}

function uniqueId(p: Package, seen: Set<string>): string {
  const base = `SPDXRef-Package-${p.type}-${p.name}-${p.version}`.replace(/[^A-Za-z0-9.-]+/g, '-');
  let id = base.length > 120 ? `${base.slice(0, 100)}-${hex(p.purl).slice(0, 12)}` : base;
  for (let n = 2; seen.has(id); n++) id = `${base}-${n}`;
  seen.add(id);
  return id;
}


/** The hex part of a digest, or a sha256 of any other text. */
function hex(s: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(s);
  return m ? m[1]! : createHash('sha256').update(s).digest('hex');
}
