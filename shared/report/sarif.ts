/**
 * SARIF 2.1.0 for GitHub code scanning (and any SARIF viewer): one run per scan.
 *
 * - `tool.driver.rules`: one rule per vulnerability id, with a short and full description, a
 *   help text, `helpUri` to the advisory, `properties.security-severity` (the number GitHub
 *   ranks alerts by: over 9.0 critical, 7.0–8.9 high, 4.0–6.9 medium, under 4 low) and
 *   `properties.tags` ['security', 'vulnerability', <severity>].
 * - `results`: one per finding (the same finding in several platform images of one scan is one
 *   result naming every platform), ordered as the table orders them: known exploited first,
 *   then severity, then EPSS. Level error (critical, high), warning (medium, unknown), note
 *   (low, negligible). The message names the package, installed and fixed versions and whose
 *   severity it is; KEV (dates) and EPSS (score, percentile) are in the message and in
 *   `properties`. The location is the file in the image the package was read from (its
 *   database or manifest path, relative, under the uriBaseId of the image).
 * - `partialFingerprints.primaryLocationLineHash`: a hash of (image repository, rule, package,
 *   version), so GitHub keeps one alert across runs and tags of the same repository; a new
 *   version of the package is a new alert (and the old one is closed as fixed).
 * - Suppressed findings (ignore file, OpenVEX, a policy allowlist) stay, with `suppressions`
 *   of kind external and the justification: never dropped silently.
 * - Advisory data that does not cover an ecosystem of the image, or is stale, is a
 *   `toolExecutionNotification` of level error, and the invocation is not successful (the
 *   scan cannot vouch for what it did not check) unless the gap was accepted explicitly.
 *
 * Pure and deterministic: no clock, no random ids; the same input gives the same bytes.
 */
import type { BaseImageInfo, LayerGroup, RebuildAdvice } from '../base/types.js';
import { createHash } from 'node:crypto';
import type { Severity } from '../advisories/types.js';
import { formatPlatform } from '../image/platform.js';
import { parseReference } from '../image/reference.js';
import { compareByExploitation } from '../match/exploit.js';
import { severityRank, type Coverage, type Finding, type MatchResult } from '../match/index.js';
import type { PolicyResult } from '../policy/types.js';
import type { ImageInventory } from '../scan.js';

export const SARIF_SCHEMA = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';

/**
 * Bounds on what one document holds: GitHub code scanning accepts at most 25,000 results and
 * 25,000 rules per run (more are refused or cut); longer texts are cut here with an ellipsis.
 */
export const SARIF_LIMITS: Readonly<{ maxResults: number; maxRules: number; maxShortDescription: number; maxText: number }> = { maxResults: 25_000, maxRules: 25_000, maxShortDescription: 1_024, maxText: 8_192 };

export interface SarifInput {
  /** the scanned images (one per platform) */
  results: ImageInventory[];
  /** `matches[i]` for `results[i]`; undefined: no advisory data was matched against it */
  matches: ReadonlyArray<MatchResult | undefined>;
  /** the image's ecosystems covered and missed by the loaded advisory data (default: matches[i].coverage) */
  coverages?: ReadonlyArray<Coverage | undefined>;
  /** the policy evaluations, for the run's properties */
  policies?: ReadonlyArray<PolicyResult | undefined>;
  tool: { name: string; version: string };
  /** advisory data problems a gate fails closed on (missing ecosystems, stale sources), as the CLI words them */
  problems?: readonly string[];
  /** the user accepted missing or stale advisory data (--allow-missing-advisories): notifications are warnings, the run succeeds */
  allowMissingAdvisories?: boolean;
  /** with --base-images: each image's base and rebuild advice (run properties); findings then carry `layerGroup` (result properties) */
  bases?: ReadonlyArray<BaseImageInfo | undefined>;
  rebuild?: ReadonlyArray<RebuildAdvice | undefined>;
}

type Level = 'error' | 'warning' | 'note';

const LEVEL: Record<Severity, Level> = { critical: 'error', high: 'error', medium: 'warning', low: 'note', negligible: 'note', unknown: 'warning' };

/** A severity as GitHub's security-severity number, where no CVSS score of that severity is known. */
const SEVERITY_SCORE: Record<Severity, string | undefined> = { critical: '9.5', high: '8.0', medium: '5.5', low: '2.0', negligible: '0.5', unknown: undefined };

const NOTIFICATIONS = {
  missing: { id: 'advisory-data-missing', text: 'An ecosystem of the image is covered by no loaded advisory data: its packages were not checked.' },
  stale: { id: 'advisory-data-stale', text: 'The advisory data is older than the maximum age allowed: recent vulnerabilities may be missing.' },
  other: { id: 'advisory-data-problem', text: 'A problem with the advisory data that a gate fails closed on.' },
  truncated: { id: 'results-truncated', text: 'More findings than one SARIF run can carry: the least urgent were left out.' },
} as const;

interface Entry {
  finding: Finding;
  /** indexes into input.results of the images that have it */
  images: number[];
  repo: string;
  uri: string;
  uriBaseId: string;
}

/** The SARIF 2.1.0 document (JSON text, newline-terminated). */
export function renderSarif(input: SarifInput, opts: SarifOptions = {}): string {
  return `${JSON.stringify(sarifLog(input, opts), null, 2)}\n`;
}

export interface SarifOptions {
  /** lower bounds than SARIF_LIMITS (a consumer that takes fewer results) */
  limits?: Partial<Pick<typeof SARIF_LIMITS, 'maxResults' | 'maxRules'>>;
}

/** The SARIF 2.1.0 log as an object. */
export function sarifLog(input: SarifInput, opts: SarifOptions = {}): Record<string, unknown> {
  const maxResults = Math.min(SARIF_LIMITS.maxResults, opts.limits?.maxResults ?? Infinity);
  const maxRules = Math.min(SARIF_LIMITS.maxRules, opts.limits?.maxRules ?? Infinity);
  const images = input.results;
  const baseIds = uriBaseIds(images);
  const repos = images.map((inv) => imageRepository(inv.image.reference));

  // One entry per (repository, id, package, version): the same finding in several platform images is one result.
  const byKey = new Map<string, Entry>();
  for (const [i, inv] of images.entries()) {
    for (const f of input.matches[i]?.findings ?? []) {
      const key = fingerprintKey(repos[i]!, f);
      const seen = byKey.get(key);
      if (seen) {
        seen.images.push(i);
        continue;
      }
      byKey.set(key, { finding: f, images: [i], repo: repos[i]!, uri: packageUri(inv, f), uriBaseId: baseIds[i]! });
    }
  }
  const all = [...byKey.entries()]
    .sort(([ka, a], [kb, b]) => compareByExploitation(a.finding, b.finding, severityRank) || a.finding.package.purl.localeCompare(b.finding.package.purl) || (ka < kb ? -1 : ka > kb ? 1 : 0))
    .map(([, e]) => e);
  const entries = all.slice(0, maxResults);

  // Rules: one per id (the most urgent ids when there are too many), sorted; the worst finding of an id speaks for the rule.
  const ruleIds = [...new Set(entries.map((e) => e.finding.id))].slice(0, maxRules).sort();
  const ruleIndex = new Map(ruleIds.map((id, i) => [id, i]));
  const kept = entries.filter((e) => ruleIndex.has(e.finding.id));
  const findingsById = new Map<string, Finding[]>();
  for (const e of kept) findingsById.set(e.finding.id, [...(findingsById.get(e.finding.id) ?? []), e.finding]);
  const rules = ruleIds.map((id) => rule(id, findingsById.get(id)!));

  const results = kept.map((e) => result(e, ruleIndex.get(e.finding.id)!, images));

  // Tool execution notifications: what the scan could not vouch for.
  const accepted = input.allowMissingAdvisories === true;
  const level: Level = accepted ? 'warning' : 'error';
  const notes: Array<Record<string, unknown>> = [];
  const coverages = images.map((_, i) => input.coverages?.[i] ?? input.matches[i]?.coverage);
  for (const [i, inv] of images.entries()) {
    const c = coverages[i];
    const where = images.length > 1 ? `${inv.image.reference} (${formatPlatform(inv.image.platform)})` : inv.image.reference;
    if (c && c.uncovered.length > 0) {
      notes.push(
        notification(
          NOTIFICATIONS.missing.id,
          level,
          `No advisory data for ${c.uncovered.join(', ')} in ${where}: ${c.uncovered.length === 1 ? 'its' : 'their'} packages were not checked (covered: ${c.covered.join(', ') || 'none'})${accepted ? '; accepted with --allow-missing-advisories' : ''}.`,
          { image: inv.image.reference, platform: formatPlatform(inv.image.platform), uncovered: c.uncovered, covered: c.covered },
        ),
      );
    } else if (!c && !input.matches[i] && inv.packages.length > 0) {
      notes.push(notification(NOTIFICATIONS.missing.id, level, `No advisory data was matched against ${where}: none of its ${inv.packages.length} packages was checked.`, { image: inv.image.reference, platform: formatPlatform(inv.image.platform) }));
    }
  }
  const coverageKnown = coverages.some((c) => c !== undefined);
  for (const p of input.problems ?? []) {
    // the coverage notifications above already say it, per image
    if (coverageKnown && p.startsWith('advisory data missing for ')) continue;
    const kind = p.startsWith('advisory data stale') ? NOTIFICATIONS.stale : p.includes('missing') ? NOTIFICATIONS.missing : NOTIFICATIONS.other;
    notes.push(notification(kind.id, level, `${clip(p, SARIF_LIMITS.maxText)}${accepted ? ' (accepted with --allow-missing-advisories)' : ''}`));
  }
  const truncated = all.length - kept.length;
  if (truncated > 0) {
    notes.push(
      notification(
        NOTIFICATIONS.truncated.id,
        'error',
        `${truncated} of ${all.length} findings are not in this document: one run carries at most ${maxResults} results and ${maxRules} rules (SARIF_LIMITS.maxResults, SARIF_LIMITS.maxRules); the table or JSON output has them all.`,
      ),
    );
  }
  const failed = notes.some((n) => n.level === 'error');

  const policies = images.flatMap((inv, i) => {
    const p = input.policies?.[i];
    if (!p) return [];
    const counted = p.fired.filter((r) => !r.allowlistedBy);
    return [
      {
        image: inv.image.reference,
        platform: formatPlatform(inv.image.platform),
        verdict: p.verdict,
        reason: p.reason,
        bundleId: p.bundleId,
        bundleDigest: p.bundleDigest,
        stop: counted.filter((r) => r.action === 'STOP').length,
        warn: counted.filter((r) => r.action === 'WARN').length,
        allowlisted: p.fired.length - counted.length,
      },
    ];
  });

  const semver = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.test(input.tool.version);
  const run: Record<string, unknown> = {
    tool: {
      driver: {
        name: input.tool.name,
        fullName: `${input.tool.name} container image scanner`,
        version: input.tool.version,
        ...(semver ? { semanticVersion: input.tool.version } : {}),
        rules,
        notifications: Object.values(NOTIFICATIONS).map((n) => ({ id: n.id, shortDescription: { text: n.text } })),
      },
    },
    invocations: [
      {
        executionSuccessful: !failed,
        ...(notes.length > 0 ? { toolExecutionNotifications: notes } : {}),
      },
    ],
    // GitHub keeps one set of alerts per category: one per image repository
    automationDetails: { id: `${input.tool.name}/${[...new Set(repos)].sort().join(',') || 'image'}/` },
    originalUriBaseIds: Object.fromEntries(
      images.map((inv, i) => [
        baseIds[i]!,
        { description: { text: `The root file system of ${inv.image.reference} (${formatPlatform(inv.image.platform)}, manifest ${inv.image.manifestDigest})` } },
      ]),
    ),
    columnKind: 'unicodeCodePoints',
    results,
    properties: {
      images: images.map((inv, i) => ({
        reference: inv.image.reference,
        repository: repos[i],
        platform: formatPlatform(inv.image.platform),
        manifestDigest: inv.image.manifestDigest,
        ...(inv.image.indexDigest ? { indexDigest: inv.image.indexDigest } : {}),
        ...(inv.distro ? { distro: inv.distro.prettyName ?? [inv.distro.id, inv.distro.versionId].filter(Boolean).join(' ') } : {}),
        packages: inv.packages.length,
        findings: input.matches[i]?.findings.length ?? null,
        ...(coverages[i] ? { covered: coverages[i]!.covered, uncovered: coverages[i]!.uncovered } : {}),
        ...(input.bases?.[i] ? { base: input.bases[i] } : {}),
        ...(input.rebuild?.[i] ? { rebuild: input.rebuild[i] } : {}),
      })),
      ...(policies.length > 0 ? { policies } : {}),
    },
  };
  return { $schema: SARIF_SCHEMA, version: '2.1.0', runs: [run] };
}

function notification(id: string, level: Level, text: string, properties?: Record<string, unknown>): Record<string, unknown> {
  return { level, message: { text }, descriptor: { id }, ...(properties ? { properties } : {}) };
}

/** GitHub's ranking number: the CVSS score when it agrees with the severity shown, else the severity's band. */
export function securitySeverity(f: Pick<Finding, 'severity' | 'cvss'>): string | undefined {
  if (f.cvss && f.cvss.severity === f.severity && f.cvss.score > 0) return f.cvss.score.toFixed(1);
  return SEVERITY_SCORE[f.severity];
}

function worstFirst(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || Number(securitySeverity(b) ?? -1) - Number(securitySeverity(a) ?? -1) || a.package.purl.localeCompare(b.package.purl));
}

function rule(id: string, findings: readonly Finding[]): Record<string, unknown> {
  const worst = worstFirst(findings)[0]!;
  const summary = findings.find((f) => f.summary)?.summary?.trim();
  const packages = [...new Set(findings.map((f) => f.package.name))].sort();
  const aliases = [...new Set(findings.flatMap((f) => f.aliases))].filter((a) => a !== id).sort();
  const firstLine = summary?.split('\n')[0]?.trim();
  const short = firstLine ? `${id}: ${firstLine}` : `${id} in ${packages.join(', ')}`;
  const full = `${summary ? (/[.!?]$/.test(summary) ? summary : `${summary}.`) : `${id} affects ${packages.join(', ')}.`}${aliases.length ? ` Also known as ${aliases.join(', ')}.` : ''}`;
  const url = advisoryUrl(worst);
  const score = securitySeverity(worst);
  const helpLines = [
    `${id}${aliases.length ? ` (${aliases.join(', ')})` : ''}: ${worst.severity} severity${worst.severitySource ? `, from ${worst.severitySource}` : ''}${worst.cvss ? `; CVSS ${worst.cvss.version} ${worst.cvss.score.toFixed(1)} ${worst.cvss.vector}` : ''}.`,
    ...(summary ? [summary] : []),
    ...(url ? [`Advisory: ${url}`] : []),
  ];
  const md = [
    `**${id}**${aliases.length ? ` (${aliases.join(', ')})` : ''}: ${worst.severity} severity${worst.severitySource ? `, from ${worst.severitySource}` : ''}${worst.cvss ? `; CVSS ${worst.cvss.version} **${worst.cvss.score.toFixed(1)}** \`${worst.cvss.vector}\`` : ''}.`,
    ...(summary ? ['', mdEscape(summary)] : []),
    ...(url ? ['', `[${id}](${url})`] : []),
  ];
  return {
    id,
    shortDescription: { text: clip(short, SARIF_LIMITS.maxShortDescription) },
    fullDescription: { text: clip(full, SARIF_LIMITS.maxText) },
    ...(url ? { helpUri: url } : {}),
    help: { text: clip(helpLines.join('\n'), SARIF_LIMITS.maxText), markdown: clip(md.join('\n'), SARIF_LIMITS.maxText) },
    defaultConfiguration: { level: LEVEL[worst.severity] },
    properties: {
      ...(score !== undefined ? { 'security-severity': score } : {}),
      tags: ['security', 'vulnerability', worst.severity],
      precision: 'very-high',
      ...(worst.cvss ? { cvss: { version: worst.cvss.version, score: worst.cvss.score, vector: worst.cvss.vector } } : {}),
    },
  };
}

function result(e: Entry, ruleIndex: number, images: readonly ImageInventory[]): Record<string, unknown> {
  const f = e.finding;
  const src = f.package.sourceName && f.package.sourceName !== f.package.name ? ` (source ${f.package.sourceName})` : '';
  const fix = f.fixedIn ? `Fixed in ${f.fixedIn}.` : `No fixed version (${f.fixState}).`;
  const sev = `${f.severity} severity${f.severitySource ? ` from ${f.severitySource}` : ''}${f.cvss ? `, CVSS ${f.cvss.score.toFixed(1)}` : ''}`;
  const kev = f.kev ? ` Known exploited (CISA KEV): added ${f.kev.dateAdded}, due ${f.kev.dueDate}${f.kev.ransomware ? ', known ransomware use' : ''}.` : '';
  const epss = f.epss ? ` EPSS ${f.epss.score.toFixed(5)}${f.epss.percentile !== undefined ? ` (percentile ${f.epss.percentile.toFixed(5)})` : ''} on ${f.epss.date}.` : '';
  const platforms = e.images.map((i) => formatPlatform(images[i]!.image.platform));
  const where = images.length > 1 ? ` In ${platforms.join(', ')}.` : '';
  const suppressed = f.suppressed ? ` Suppressed by ${f.suppressed.by}: ${f.suppressed.reason}.` : '';
  const text = `${f.package.name} ${f.package.version}${src} is affected by ${f.id} (${sev}). ${fix}${kev}${epss}${where}${suppressed}`;
  const score = securitySeverity(f);
  return {
    ruleId: f.id,
    ruleIndex,
    level: LEVEL[f.severity],
    message: { text: clip(text, SARIF_LIMITS.maxText) },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: e.uri, uriBaseId: e.uriBaseId },
          // GitHub anchors an alert to a line; a package database has no line of its own to point at
          region: { startLine: 1 },
        },
        message: { text: `${f.package.type} package ${f.package.name} ${f.package.version}` },
      },
    ],
    partialFingerprints: { primaryLocationLineHash: fingerprint(e.repo, f) },
    ...(f.suppressed ? { suppressions: [{ kind: 'external', status: 'accepted', justification: clip(`${f.suppressed.by}: ${f.suppressed.reason}`, SARIF_LIMITS.maxText) }] } : {}),
    properties: {
      ...(score !== undefined ? { 'security-severity': score } : {}),
      severity: f.severity,
      ...(f.severitySource ? { severitySource: f.severitySource } : {}),
      ...(f.cvss ? { cvssScore: f.cvss.score, cvssVector: f.cvss.vector } : {}),
      purl: f.package.purl,
      packageType: f.package.type,
      packageName: f.package.name,
      installedVersion: f.package.version,
      ...(f.package.sourceName ? { sourcePackage: f.package.sourceName } : {}),
      fixState: f.fixState,
      ...(f.fixedIn ? { fixedVersion: f.fixedIn } : {}),
      ...(f.aliases.length ? { aliases: [...f.aliases].sort() } : {}),
      kev: !!f.kev,
      ...(f.kev ? { kevDateAdded: f.kev.dateAdded, kevDueDate: f.kev.dueDate, ...(f.kev.ransomware ? { kevRansomware: true } : {}) } : {}),
      ...(f.epss ? { epss: f.epss.score, ...(f.epss.percentile !== undefined ? { epssPercentile: f.epss.percentile } : {}), epssDate: f.epss.date } : {}),
      layer: f.layer,
      ...((f as { layerGroup?: LayerGroup }).layerGroup ? { layerGroup: (f as { layerGroup?: LayerGroup }).layerGroup } : {}),
      platforms,
      ...(f.suppressed ? { suppressedBy: f.suppressed.by } : {}),
    },
  };
}

/**
 * The repository an image belongs to, for fingerprints that survive new tags and digests:
 * "registry/repository" for a registry image, the docker reference inside a docker-archive,
 * else the kind and the last path element of a local layout or archive.
 */
export function imageRepository(reference: string): string {
  try {
    const ref = parseReference(reference);
    if (ref.kind === 'registry') return `${ref.registry}/${ref.repository}`;
    if (ref.kind === 'docker-archive' && ref.tag) {
      try {
        const inner = parseReference(ref.tag);
        if (inner.kind === 'registry') return `${inner.registry}/${inner.repository}`;
      } catch {
        // a plain tag: fall through to the archive's name
      }
    }
    const base = ref.path.replace(/\/+$/, '').split('/').pop() || ref.path;
    return `${ref.kind}:${base}`;
  } catch {
    return reference;
  }
}

function fingerprintKey(repo: string, f: Finding): string {
  return JSON.stringify([repo, f.id, f.package.type, f.package.name, f.package.version]);
}

/** A stable hash of (image repository, rule, package, version). */
export function fingerprint(repo: string, f: Pick<Finding, 'id' | 'package'>): string {
  return createHash('sha256').update(JSON.stringify([repo, f.id, f.package.type, f.package.name, f.package.version])).digest('hex').slice(0, 32);
}

/** The file the package was read from, relative to the image root, percent-encoded (":" too, so it never reads as a scheme). */
function packageUri(inv: ImageInventory, f: Finding): string {
  const p =
    inv.packages.find((x) => x.purl === f.package.purl && x.locations.length > 0) ??
    inv.packages.find((x) => x.type === f.package.type && x.name === f.package.name && x.version === f.package.version && x.locations.length > 0);
  const path = p?.locations.slice().sort()[0];
  if (!path) return '.';
  const segs = path.split('/').filter((s) => s !== '' && s !== '.');
  return segs.length ? segs.map((s) => encodeURIComponent(s)).join('/') : '.';
}

/** One uriBaseId per image: IMAGE, or IMAGE_<platform> when several platforms were scanned. */
function uriBaseIds(images: readonly ImageInventory[]): string[] {
  if (images.length <= 1) return ['IMAGE'];
  const used = new Set<string>();
  return images.map((inv) => {
    const base = `IMAGE_${formatPlatform(inv.image.platform).replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()}`;
    let id = base;
    for (let n = 2; used.has(id); n++) id = `${base}_${n}`;
    used.add(id);
    return id;
  });
}

/** Where the advisory is published: the distribution's tracker for its own findings, else the database that assigns the id. */
export function advisoryUrl(f: Pick<Finding, 'id' | 'aliases' | 'evidence'>): string | undefined {
  const id = f.id;
  if (/^(CVE|DSA|DLA|TEMP)-/.test(id) && f.evidence.some((e) => e.source === 'debian-tracker')) return `https://security-tracker.debian.org/tracker/${id}`;
  if (/^GHSA-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$/.test(id)) return `https://github.com/advisories/${id}`;
  if (/^CVE-\d{4}-\d+$/.test(id)) return `https://nvd.nist.gov/vuln/detail/${id}`;
  if (/^(DSA|DLA)-\d+(-\d+)?$/.test(id)) return `https://security-tracker.debian.org/tracker/${id}`;
  if (/^(PYSEC|GO|RUSTSEC)-/.test(id)) return `https://osv.dev/vulnerability/${id}`;
  const cve = f.aliases.find((a) => /^CVE-\d{4}-\d+$/.test(a));
  return cve ? `https://nvd.nist.gov/vuln/detail/${cve}` : undefined;
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function mdEscape(s: string): string {
  return s.replace(/([\\`*_{}[\]<>#|])/g, '\\$1');
}

