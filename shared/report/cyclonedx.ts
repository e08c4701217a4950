import * as CDX from '@cyclonedx/cyclonedx-library';
import { formatPlatform } from '../image/platform.js';
import type { ImageInventory } from '../scan.js';
import { isSpdx } from '../catalog/license.js';
import type { Finding, MatchResult } from '../match/index.js';

/**
 * CycloneDX 1.6 JSON for one image: the image as metadata.component (type container),
 * each package a library component with its purl as bom-ref, and the layer and source
 * package kept as properties. With a match result, each finding is a vulnerability
 * (see `vulnerability` below) that affects its package's component.
 */
export function renderCycloneDx(inv: ImageInventory, tool: { name: string; version: string }, match?: MatchResult): string {
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

  const seen = new Map<string, CDX.Models.Component>();
  for (const p of inv.packages) {
    // Two records with one purl (the same package in two status files) are one component.
    if (seen.has(p.purl)) continue;
    const c = new CDX.Models.Component(CDX.Enums.ComponentType.Library, p.name, {
      version: p.version,
      purl: p.purl,
      bomRef: p.purl,
    });
    seen.set(p.purl, c);
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
  for (const f of match?.findings ?? []) {
    const component = seen.get(f.package.purl);
    if (component) bom.vulnerabilities.add(vulnerability(f, component));
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


const V = CDX.Enums.Vulnerability;
const CDX_SEVERITY: Record<Finding['severity'], CDX.Enums.Vulnerability.Severity> = {
  critical: V.Severity.Critical,
  high: V.Severity.High,
  medium: V.Severity.Medium,
  low: V.Severity.Low,
  negligible: V.Severity.Info,
  unknown: V.Severity.Unknown,
};
const CVSS_METHOD = { '2.0': V.RatingMethod.CVSSv2, '3.0': V.RatingMethod.CVSSv3, '3.1': V.RatingMethod.CVSSv31, '4.0': V.RatingMethod.CVSSv4 } as const;
/** OpenVEX justification → CycloneDX analysis justification (as CISA's VEX mapping pairs them). */
const VEX_JUSTIFICATION: Record<string, CDX.Enums.Vulnerability.AnalysisJustification> = {
  component_not_present: V.AnalysisJustification.CodeNotPresent,
  vulnerable_code_not_present: V.AnalysisJustification.CodeNotPresent,
  vulnerable_code_not_in_execute_path: V.AnalysisJustification.CodeNotReachable,
  vulnerable_code_cannot_be_controlled_by_adversary: V.AnalysisJustification.RequiresEnvironment,
  inline_mitigations_already_exist: V.AnalysisJustification.ProtectedByMitigatingControl,
};

/** Where an id is published: the database that assigns it. */
function sourceOf(id: string): CDX.Models.Vulnerability.Source {
  if (id.startsWith('CVE-')) return new CDX.Models.Vulnerability.Source({ name: 'NVD', url: `https://nvd.nist.gov/vuln/detail/${id}` });
  if (id.startsWith('GHSA-')) return new CDX.Models.Vulnerability.Source({ name: 'GitHub', url: `https://github.com/advisories/${id}` });
  if (/^(DSA|DLA|TEMP)-/.test(id)) return new CDX.Models.Vulnerability.Source({ name: 'Debian', url: `https://security-tracker.debian.org/tracker/${id}` });
  if (id.startsWith('ALAS')) return new CDX.Models.Vulnerability.Source({ name: 'Amazon Linux' });
  if (id.startsWith('ALPINE-')) return new CDX.Models.Vulnerability.Source({ name: 'Alpine' });
  return new CDX.Models.Vulnerability.Source({ name: id.split('-')[0] || 'OSV' });
}

/**
 * One finding as a CycloneDX vulnerability: id and source, ratings (the severity Drydock
 * decided, with the source that gave it, and the CVSS score with method and vector), aliases
 * as references, advisories, the affected component by bom-ref, and for a suppressed
 * finding an analysis: a VEX `not_affected` keeps its justification, `fixed` is "resolved",
 * an ignore-file or allowlist entry is "not_affected" with the reason in detail.
 */
function vulnerability(f: Finding, component: CDX.Models.Component): CDX.Models.Vulnerability.Vulnerability {
  const v = new CDX.Models.Vulnerability.Vulnerability({
    id: f.id,
    source: sourceOf(f.id),
    ...(f.summary ? { description: f.summary } : {}),
    ...(f.fixedIn ? { recommendation: `Upgrade ${f.package.name} to ${f.fixedIn} or later` } : f.remediation ? { recommendation: f.remediation } : {}),
    ...(f.published && !Number.isNaN(Date.parse(f.published)) ? { published: new Date(f.published) } : {}),
  });
  v.ratings.add(new CDX.Models.Vulnerability.Rating({ severity: CDX_SEVERITY[f.severity], method: V.RatingMethod.Other, source: new CDX.Models.Vulnerability.Source({ name: f.severitySource ?? f.evidence[0]?.source ?? 'drydock' }) }));
  if (f.cvss) v.ratings.add(new CDX.Models.Vulnerability.Rating({ score: f.cvss.score, severity: CDX_SEVERITY[f.cvss.severity], method: CVSS_METHOD[f.cvss.version], vector: f.cvss.vector }));
  for (const a of [...f.aliases, ...(f.related ?? [])]) v.references.add(new CDX.Models.Vulnerability.Reference(a, sourceOf(a)));
  for (const id of [f.id, ...f.aliases]) {
    const url = sourceOf(id).url;
    if (url) v.advisories.add(new CDX.Models.Vulnerability.Advisory(url, { title: id }));
  }
  const affect = new CDX.Models.Vulnerability.Affect(component.bomRef);
  const vexed = f.suppressed?.by === 'vex';
  affect.versions.add(new CDX.Models.Vulnerability.AffectedSingleVersion(f.package.version, { status: vexed ? V.AffectStatus.Unaffected : V.AffectStatus.Affected }));
  v.affects.add(affect);
  v.properties.add(new CDX.Models.Property('drydock:fix-state', f.fixState));
  if (f.fixedIn) v.properties.add(new CDX.Models.Property('drydock:fixed-in', f.fixedIn));
  v.properties.add(new CDX.Models.Property('drydock:layer', f.layer));
  for (const e of f.evidence) v.properties.add(new CDX.Models.Property('drydock:evidence', `${e.source} ${e.advisory}`));
  if (f.suppressed) {
    v.properties.add(new CDX.Models.Property('drydock:suppressed-by', f.suppressed.by));
    const vex = vexed ? /^(not_affected|fixed)(?: \((\w+))?/.exec(f.suppressed.reason) : null;
    const justification = vex?.[2] ? VEX_JUSTIFICATION[vex[2]] : undefined;
    v.analysis = new CDX.Models.Vulnerability.Analysis({
      state: vex?.[1] === 'fixed' ? V.AnalysisState.Resolved : V.AnalysisState.NotAffected,
      ...(justification ? { justification } : {}),
      detail: `suppressed by ${f.suppressed.by}: ${f.suppressed.reason}`,
    });
  }
  return v;
}
