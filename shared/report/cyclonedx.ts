import * as CDX from '@cyclonedx/cyclonedx-library';
import { formatPlatform } from '../image/platform.js';
import type { ImageInventory } from '../scan.js';
import { isSpdx } from '../catalog/license.js';

/**
 * CycloneDX 1.6 JSON for one image: the image as metadata.component (type container),
 * each package a library component with its purl as bom-ref, and the layer and source
 * package kept as properties.
 */
export function renderCycloneDx(inv: ImageInventory, tool: { name: string; version: string }): string {
  const bom = new CDX.Models.Bom();
  bom.serialNumber = `urn:uuid:${crypto.randomUUID()}`;
  bom.metadata.timestamp = new Date();
  bom.metadata.tools.components.add(new CDX.Models.Component(CDX.Enums.ComponentType.Application, tool.name, { version: tool.version }));
  const image = new CDX.Models.Component(CDX.Enums.ComponentType.Container, inv.image.reference, {
    version: inv.image.manifestDigest,
    bomRef: inv.image.manifestDigest,
  });
  image.properties.add(new CDX.Models.Property('drydock:image:platform', formatPlatform(inv.image.platform)));
  image.properties.add(new CDX.Models.Property('drydock:image:config-digest', inv.image.configDigest));
  if (inv.distro) {
    image.properties.add(new CDX.Models.Property('drydock:distro:id', inv.distro.id));
    if (inv.distro.versionId) image.properties.add(new CDX.Models.Property('drydock:distro:version-id', inv.distro.versionId));
  }
  bom.metadata.component = image;

  const seen = new Set<string>();
  for (const p of inv.packages) {
    // Two records with one purl (the same package in two status files) are one component.
    if (seen.has(p.purl)) continue;
    seen.add(p.purl);
    const c = new CDX.Models.Component(CDX.Enums.ComponentType.Library, p.name, {
      version: p.version,
      purl: p.purl,
      bomRef: p.purl,
    });
    c.properties.add(new CDX.Models.Property('drydock:package:type', p.type));
    c.properties.add(new CDX.Models.Property('drydock:layer', p.layer));
    for (const loc of p.locations) c.properties.add(new CDX.Models.Property('drydock:location', loc));
    if (p.sourceName) c.properties.add(new CDX.Models.Property('drydock:source:name', p.sourceName));
    if (p.sourceVersion) c.properties.add(new CDX.Models.Property('drydock:source:version', p.sourceVersion));
    if (p.arch) c.properties.add(new CDX.Models.Property('drydock:arch', p.arch));
    if (p.foundBy) c.properties.add(new CDX.Models.Property('drydock:found-by', p.foundBy));
    if (p.ownedBy) c.properties.add(new CDX.Models.Property('drydock:owned-by', p.ownedBy.purl));
    for (const l of licenses(p.licenses ?? [])) c.licenses.add(l);
    bom.components.add(c);
  }
  const serializer = new CDX.Serialize.JsonSerializer(new CDX.Serialize.JSON.Normalize.Factory(CDX.Spec.Spec1dot6));
  return `${serializer.serialize(bom, { sortLists: true, space: 2 })}\n`;
}

/**
 * CycloneDX allows either license objects (SPDX ids or names) or one expression: all SPDX
 * ids stay ids; several SPDX expressions become one expression joined by AND; anything
 * that mixes in non-SPDX text keeps each declared licence as an id or a name.
 */
function licenses(declared: string[]): CDX.Models.License[] {
  if (!declared.length) return [];
  const simple = declared.every((l) => CDX.SPDX.isSupportedSpdxId(l));
  if (simple) return declared.map((l) => new CDX.Models.SpdxLicense(l));
  if (declared.every(isSpdx)) {
    const expr = declared.length === 1 ? declared[0]! : declared.map((l) => (/ (AND|OR|WITH) /.test(l) ? `(${l})` : l)).join(' AND ');
    return [new CDX.Models.LicenseExpression(expr)];
  }
  return declared.map((l) => (CDX.SPDX.isSupportedSpdxId(l) ? new CDX.Models.SpdxLicense(l) : new CDX.Models.NamedLicense(l)));
}

