/**
 * The evaluator's core: an analysed image's inventory × the advisories for its packages →
 * findings; the policy bundle → verdict; the result appended to the image's history, the full
 * report to the bucket, the message (with the delta against the previous result) published.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { SEVERITIES } from '../advisories/types.js';
import { DrydockError } from '../errors.js';
import { matchInventory, severityRank, type Finding } from '../match/index.js';
import { bundleGatesVulnerabilities, coverageOf, formatAge, imageEcosystems, type Coverage } from '../match/coverage.js';
import { ALAS_SUMMARY_BASE, feedSummaryKey, type FeedSummary } from './feed-sync.js';
import { evaluatePolicy, loadDefaultBundle, parseBundle } from '../policy/index.js';
import { policyContext } from '../policy/context.js';
import type { PolicyBundle, PolicyResult } from '../policy/types.js';
import { ConditionFailedError, type ImageRecord, type RecordedError, type ResultRecord } from '../ports/stores.js';
import { renderHtmlReport } from '../report/html.js';
import { EXPLOIT_KEYS, loadExploitData, type ExploitData } from '../advisories/exploit-feed.js';
import { parseVex, SUPPRESS_LIMITS, type Suppressions } from '../match/suppress.js';
import { TOOL } from '../version.js';
import { RegistrySource } from '../image/registry.js';
import { parseTrustPolicy, verifyImageSignatures, type ImageSignatureResult, type TrustPolicy } from '../trust/index.js';
import { MAX_TRUST_POLICY_BYTES } from '../trust/policy.js';
import { decodeInventory, packageIndexEntries } from './analyze.js';
import type { ImageInventory } from '../scan.js';
import type { ImageSource } from '../ports/image-source.js';
import type { Advisory } from '../advisories/types.js';
import type { AdvisoryStore, PackageKey } from '../ports/advisory-store.js';
import { packageKeyString } from '../ports/advisory-store.js';
import { OBJECT_KEYS, type PipelineDeps } from './deps.js';
import { checkOutgoing, type AdvisoryDataSummary, type BaseSummary, type EvaluateJob, type FindingBrief, type PlatformResult, type RebuildSummary, type ResultMessage, type Verdict } from './messages.js';
import { findingKey, identifyBase, layerGroups, layerIdsOf, rebuildAdvice, type BaseImageInfo, type LayerGroup, type RebuildAdvice } from '../base/index.js';
import { announcePatchedBase, inBaseRepository, loadBaseSetting, recordBaseEntry, type EvaluatorDeps } from './base-images.js';

export type EvaluationOutcome =
  | { outcome: 'evaluated'; digest: string; status: Verdict; changed: boolean; published: boolean; findings: number; resultId: string }
  | { outcome: 'skipped'; digest: string; why: string };

/**
 * The advisories for every key the inventory is matched by, fetched up front, 16 at a time: a
 * DynamoDB Query per key one after another would make an image of 500 keys wait on 500 round trips.
 */
async function prefetchAdvisories(deps: PipelineDeps, inv: ImageInventory, digest: string): Promise<AdvisoryStore> {
  const keys = packageIndexEntries(inv, digest, '').map((e) => e.key);
  const found = new Map<string, Advisory[]>();
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++]!;
      found.set(packageKeyString(key), await deps.advisories.forPackage(key));
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, keys.length) }, worker));
  deps.metrics.add('AdvisoryKeysRead', 'Count', keys.length);
  return {
    // a key the prefetch did not cover (the matcher asks for nothing else today) falls back to the store
    forPackage: async (key: PackageKey) => found.get(packageKeyString(key)) ?? deps.advisories.forPackage(key),
    put: (a) => deps.advisories.put(a),
  };
}

/** A result id that sorts by time and is the same for a redelivery of the same job. */
export function resultIdFor(jobId: string, at: Date): string {
  return `${at.toISOString().replace(/[-:.]/g, '')}-${createHash('sha256').update(jobId).digest('hex').slice(0, 12)}`;
}

const VERDICT_RANK: Record<Verdict, number> = { pass: 0, warn: 1, fail: 2, error: 3 };

/** One platform image's evaluation (the only one for a single-platform image). */
interface PlatformEvaluation {
  platform: string | undefined;
  manifestDigest: string | undefined;
  inv: ImageInventory;
  match: Awaited<ReturnType<typeof matchInventory>>;
  policy: PolicyResult;
  /** with DRYDOCK_BASE_REPOSITORIES: the base this platform image was built on */
  base?: BaseImageInfo;
}

export async function evaluateJob(job: EvaluateJob, deps: EvaluatorDeps): Promise<EvaluationOutcome> {
  const started = Date.now();
  const record = await deps.images.get(job.digest);
  if (!record) throw new DrydockError('MANIFEST_NOT_FOUND', `no image record for ${job.digest}: nothing was analysed under this digest`, { context: { image: job.digest } });
  if (record.status === 'failed' || record.status === 'deleted' || record.status === 'skipped') return { outcome: 'skipped', digest: job.digest, why: `image is ${record.status}` };
  if (!record.inventoryKey) return { outcome: 'skipped', digest: job.digest, why: `image is ${record.status} and has no inventory yet` };

  // A redelivery after the result was appended reuses it (same job → same id), and compares with the one before.
  const recent = await deps.results.history(job.digest, 5);
  const own = recent.find((r) => r.reason === reasonOf(job));
  const now = deps.now();
  const resultId = own?.resultId ?? resultIdFor(job.jobId, now);
  const previous = recent.find((r) => r.resultId !== resultId && r.status !== 'error');

  // An index: every platform image, each matched and judged on its own; the image's verdict is the worst.
  const targets = record.platforms?.length
    ? record.platforms.map((p) => ({ key: p.inventoryKey, platform: p.platform as string | undefined, manifestDigest: p.manifestDigest as string | undefined }))
    : [{ key: record.inventoryKey, platform: record.platform, manifestDigest: record.manifestDigest }];
  const bundle = await loadBundle(deps);
  const gate = deps.config.advisoryGate;
  // KEV / EPSS (DRYDOCK_EXPLOIT_FEEDS): a rescan for a KEV change names the version it needs (trigger kev@<version>#<part>)
  const exploit = deps.config.exploitFeeds ? await loadExploitData(deps.objects, { ...(wantedKevVersion(job) ? { wantKevVersion: wantedKevVersion(job)! } : {}) }) : undefined;
  for (const issue of exploit?.issues ?? []) deps.log.warn('exploitation data unreadable: treated as missing', { issue });
  const suppressions = await loadVex(deps);
  // signatures (DRYDOCK_TRUST_POLICY_KEY): checked once for the image, before any gate sees it
  const signatures = await checkSignatures(deps, record);
  // base images (DRYDOCK_BASE_REPOSITORIES): the analysed digests of the trusted base repositories
  let baseSetting = await loadBaseSetting(deps, job.reason === 'base' || inBaseRepository(deps, record));
  const baseSignatures = new Map<string, BaseImageInfo['signature']>();
  const evals: PlatformEvaluation[] = [];
  const coverages: Coverage[] = [];
  const summaries = new Map<string, FeedSummary | undefined>();
  for (const t of targets) {
    const bytes = await deps.objects.get(t.key);
    if (!bytes) throw new DrydockError('SOURCE_UNREADABLE', `the inventory ${t.key} is missing from the bucket`, { kind: 'retryable', context: { image: job.digest } });
    const inv = decodeInventory(bytes, t.key);
    const match = await matchInventory(inv, await prefetchAdvisories(deps, inv, job.digest), {
      ...(exploit ? { exploits: exploit.lookup } : {}),
      ...(suppressions ? { suppressions, imageDigests: [...new Set([job.digest, record.digest, record.manifestDigest, t.manifestDigest, inv.image.manifestDigest].filter((d): d is string => !!d))] } : {}),
    });
    // Coverage by the synced feeds' summaries: vulnerability_data_unavailable fires on an uncovered ecosystem.
    const ecosystems = imageEcosystems(inv);
    for (const base of new Set(ecosystems.map((e) => e.split(':')[0]!))) {
      if (summaries.has(base)) continue;
      let summary = await feedSummary(deps, base);
      // a cached summary that does not cover this image's release is read again: the sync that
      // adds it (and the rescan it announces) must not be judged on the minute-old copy
      if (!ecosystems.filter((e) => e.split(':')[0] === base).every((e) => summary?.ecosystems.includes(e))) summary = await feedSummary(deps, base, true);
      summaries.set(base, summary);
    }
    match.coverage = coverageOf(ecosystems, [...summaries.values()].flatMap((x) => x?.ecosystems ?? []));
    coverages.push(match.coverage);
    // findings a VEX statement suppresses never reach the gates (as in the CLI); the bundle's allowlists are the engine's own
    const gateView = { ...match, findings: match.findings.filter((f) => f.suppressed?.by !== 'vex') };
    const ctx = policyContext(inv, { vulnerabilities: gateView, now });
    if (signatures) ctx.signatures = signatures;
    let base: BaseImageInfo | undefined;
    if (baseSetting) {
      const annotations = inv.image.baseAnnotations;
      const image = { digest: t.manifestDigest ?? inv.image.manifestDigest, layers: ctx.layerIds ?? [], ...(annotations ? { annotations } : {}) };
      base = identifyBase(image, baseSetting.candidates, baseSetting.list);
      // not among the cached candidates: perhaps built on a base analysed since; read them afresh once
      if (base.status === 'unknown' && baseSetting.cached) {
        baseSetting = (await loadBaseSetting(deps, true))!;
        base = identifyBase(image, baseSetting.candidates, baseSetting.list);
      }
      // the base's own signature under the trust policy, checked once per base digest
      if (base.status === 'identified' && base.digest && deps.config.trustPolicyKey) {
        if (!baseSignatures.has(base.digest)) {
          const r = await checkSignatures(deps, { registry: base.registry!, repository: base.repository!, digest: base.digest });
          baseSignatures.set(base.digest, r && { status: r.status, signers: r.signers.slice(0, 16), reason: r.reason.slice(0, 2000) });
        }
        const sig = baseSignatures.get(base.digest);
        if (sig) base.signature = sig;
      }
      ctx.base = base;
    }
    const policy = evaluatePolicy(bundle, ctx);
    evals.push({ platform: t.platform, manifestDigest: t.manifestDigest, inv, match, policy, ...(base ? { base } : {}) });
  }
  const multi = Boolean(record.platforms?.length);
  const worst = evals.reduce((w, e) => (VERDICT_RANK[e.policy.verdict] > VERDICT_RANK[w.policy.verdict] ? e : w), evals[0]!);
  const { policy, match } = worst;
  const advisoryData = advisoryDataOf(coverages, summaries, now, gate, exploit && { data: exploit, needKev: bundleUsesKev(bundle) });
  // Fail closed: a verdict over data that misses an ecosystem or is too old is "fail", unless accepted.
  const failedClosed = Boolean(advisoryData.problems?.length) && !gate.allowMissing && bundleGatesVulnerabilities(bundle);

  // The image's findings: each (vulnerability, package, version) once, with the platforms it is on.
  const onPlatforms = new Map<string, string[]>();
  const unique: Finding[] = [];
  for (const e of evals) {
    for (const f of e.match.findings) {
      const k = findingKey(f);
      let where = onPlatforms.get(k);
      if (!where) {
        onPlatforms.set(k, (where = []));
        unique.push(f);
      }
      if (e.platform && !where.includes(e.platform)) where.push(e.platform);
    }
  }
  const platformsOf = multi ? (f: Finding) => onPlatforms.get(findingKey(f)) ?? [] : undefined;
  // base and application: each finding's layer group on the platform it was first found on
  const groupOf = baseSetting ? findingGroups(evals) : undefined;
  const rebuild = baseSetting ? await rebuildOf(deps, worst) : undefined;
  // suppressed by VEX: in the report with their reason, not counted, not news
  const counted = unique.filter((f) => f.suppressed?.by !== 'vex');
  const suppressedCount = unique.length - counted.length;

  const counts = severityCounts(counted);
  const highest = highestOf(counted);
  const status: Verdict = failedClosed ? 'fail' : worst.policy.verdict;
  const findingIds = counted.map(findingKey).sort();
  const previousIds = new Set(previous?.findingIds ?? []);
  const newFindings = previous ? counted.filter((f) => !previousIds.has(findingKey(f))) : [];
  const countedIds = new Set(findingIds);
  const resolved = previous ? [...previousIds].filter((id) => !countedIds.has(id)) : [];
  const retag = job.reason === 'retag';
  // a retag is news for subscribers (a tag now names this verdict) even when the verdict is the same
  // A signature's or a base's state is news when it differs from the previous result's (a second
  // valid signature, a re-evaluation that changes nothing, are not)
  const signatureState = signatures?.status;
  const baseState = worst.base ? [worst.base.status, worst.base.trusted ? 'trusted' : 'untrusted', worst.base.digest ?? '', worst.base.newest?.digest ?? '', rebuild?.clears.length ?? 0].join('|') : undefined;
  const changed =
    retag ||
    !previous ||
    previous.status !== status ||
    newFindings.length > 0 ||
    resolved.length > 0 ||
    (signatureState !== undefined && previous.signatureState !== signatureState) ||
    (baseState !== undefined && previous.baseState !== baseState);

  const reportKey = OBJECT_KEYS.report(job.digest, resultId);
  if (!own) {
    const report = {
      // an index: image, distro and policy of the platform that decided the verdict; the findings of
      // every platform, each once with the platforms it is on; each platform's own part under `platforms`
      format: 'drydock.report/1', tool: TOOL, resultId, image: worst.inv.image, distro: worst.inv.distro, reason: reasonOf(job), policy,
      ...(signatures ? { signatures } : {}),
      ...(worst.base ? { base: worst.base } : {}),
      ...(rebuild ? { rebuild } : {}),
      vulnerabilities: multi
        ? { ...match, findings: unique.map((f) => ({ ...f, platforms: platformsOf!(f), ...(groupOf ? { layerGroup: groupOf(f) } : {}) })) }
        : groupOf ? { ...match, findings: match.findings.map((f) => ({ ...f, layerGroup: groupOf(f) })) } : match,
      evaluatedAt: now.toISOString(),
      ...(multi ? { platforms: evals.map((e) => ({ platform: e.platform, image: e.inv.image, distro: e.inv.distro, policy: e.policy, vulnerabilities: e.match })) } : {}),
    };
    await deps.objects.put(reportKey, gzipSync(JSON.stringify(report)), { contentType: 'application/json', contentEncoding: 'gzip' });
    // the page a person opens from Slack: verdict, fired rules, sortable findings, layers (of the platform that decided the verdict)
    const html = renderHtmlReport({
      inventory: worst.inv, match, policy, tool: TOOL, generatedAt: now, resultId, reason: reasonOf(job),
      image: { registry: record.registry, repository: record.repository, tags: record.tags ?? [], digest: record.digest },
    });
    await deps.objects.put(OBJECT_KEYS.htmlReport(reportKey), html, { contentType: 'text/html; charset=utf-8' });
  }
  const result: ResultRecord = {
    digest: job.digest,
    repository: record.repository,
    resultId,
    evaluatedAt: own?.evaluatedAt ?? now.toISOString(),
    status,
    reason: reasonOf(job),
    policyId: policy.bundleId,
    policyDigest: policy.bundleDigest,
    ...(highest ? { highestSeverity: highest } : {}),
    findings: counted.length,
    counts,
    reportKey,
    findingIds,
    rulesFired: policy.fired.length,
    ...(signatureState !== undefined ? { signatureState } : {}),
    ...(baseState !== undefined ? { baseState } : {}),
  };
  if (!own) await deps.results.append(result);
  // the application image's base entry in the package index: a patched base finds it with a Query
  const baseKey = baseSetting ? await recordBaseEntry(deps, record, evals.map((e) => e.base)) : undefined;
  const perPlatform = multi
    ? evals.map((e) => {
        const own = e.match.findings.filter((f) => f.suppressed?.by !== 'vex');
        const c = severityCounts(own);
        const h = highestOf(own);
        const distro = e.inv.distro ? `${e.inv.distro.id}${e.inv.distro.versionId ? ` ${e.inv.distro.versionId}` : ''}` : undefined;
        return { platform: e.platform ?? '', manifestDigest: e.manifestDigest ?? e.inv.image.manifestDigest, status: e.policy.verdict, counts: c, findings: own.length, ...(h ? { highestSeverity: h } : {}), ...(distro ? { distro } : {}), rulesFired: e.policy.fired.length };
      })
    : undefined;
  await recordVerdict(deps, record, result, perPlatform, baseSetting ? { baseKey } : undefined);

  const message = checkOutgoing<ResultMessage>({
    schema: 'drydock.result/1',
    resultId,
    image: imageOf(record),
    status,
    ...(previous ? { previousStatus: previous.status } : {}),
    changed,
    reason: result.reason,
    ...(highest ? { highestSeverity: highest } : {}),
    counts,
    policy: failedClosed ? { ...policySummary(policy), reason: `advisory data missing or stale: ${advisoryData.problems!.join('; ')} (policy: ${policy.reason})`.slice(0, 2000) } : policySummary(policy),
    advisoryData,
    ...(previous && !retag ? { newFindings: brief(newFindings, 50, platformsOf, groupOf), resolvedFindings: resolved.slice(0, 200) } : {}),
    topFindings: brief(counted, 20, platformsOf, groupOf),
    ...(suppressedCount > 0 ? { suppressedFindings: suppressedCount } : {}),
    ...(signatures ? { signature: signatureSummary(signatures) } : {}),
    ...(worst.base ? { base: baseSummary(worst.base) } : {}),
    ...(rebuild ? { rebuild: rebuildSummary(rebuild) } : {}),
    reportKey,
    evaluatedAt: result.evaluatedAt,
    ...(perPlatform ? { platforms: perPlatform } : {}),
    ...(retag ? { newTags: [retagTag(job.trigger)] } : {}),
  });
  const published = await publishResult(deps, message);
  // a trusted base image, newly analysed: the images built on its older digests are told and evaluated again
  if (baseSetting && job.reason === 'analysis') await announcePatchedBase(deps, record, baseSetting);
  deps.metrics.add('ImagesEvaluated', 'Count', 1);
  deps.metrics.add('Findings', 'Count', counted.length);
  deps.metrics.add('EvaluationDuration', 'Milliseconds', Date.now() - started);
  deps.log.info('image evaluated', { digest: job.digest, status, changed, findings: counted.length, ...(suppressedCount ? { suppressed: suppressedCount } : {}), platforms: perPlatform?.map((p) => `${p.platform} ${p.status}`), rulesFired: policy.fired.length, published });
  return { outcome: 'evaluated', digest: job.digest, status, changed, published, findings: counted.length, resultId };
}

/** per object store (one bucket per deployment; tests run several side by side), per feed */
const summaryCaches = new WeakMap<object, Map<string, { at: number; summary: FeedSummary | undefined }>>();

/** A synced feed's summary (feed-sync.ts writes it), re-read at most once a minute (or now: `fresh`); undefined when never synced or unreadable. */
async function feedSummary(deps: PipelineDeps, base: string, fresh = false): Promise<FeedSummary | undefined> {
  let summaryCache = summaryCaches.get(deps.objects);
  if (!summaryCache) summaryCaches.set(deps.objects, (summaryCache = new Map()));
  const hit = summaryCache.get(base);
  if (!fresh && hit && Date.now() - hit.at < BUNDLE_TTL_MS) return hit.summary;
  let summary: FeedSummary | undefined;
  const bytes = await deps.objects.get(feedSummaryKey(base));
  if (bytes && bytes.length <= 1_048_576) {
    try {
      const s = JSON.parse(bytes.toString('utf8')) as FeedSummary;
      if (s.format === 'drydock.feed-summary/1' && Array.isArray(s.ecosystems) && typeof s.syncedAt === 'string') summary = s;
    } catch {
      // a damaged summary covers nothing: fail closed
    }
  }
  summaryCache.set(base, { at: Date.now(), summary });
  return summary;
}

function advisoryDataOf(
  coverages: readonly Coverage[],
  summaries: ReadonlyMap<string, FeedSummary | undefined>,
  now: Date,
  gate: { allowMissing: boolean; maxAgeMs: number; maxAgeText: string },
  exploit?: { data: ExploitData; needKev: boolean },
): AdvisoryDataSummary {
  const covered = [...new Set(coverages.flatMap((c) => c.covered))].sort().slice(0, 64);
  const uncovered = [...new Set(coverages.flatMap((c) => c.uncovered))].sort().slice(0, 64);
  const sources: NonNullable<AdvisoryDataSummary['sources']> = [];
  const problems: string[] = [];
  if (uncovered.length > 0) problems.push(`advisory data missing for ${uncovered.join(', ')}: no synced feed covers ${uncovered.length === 1 ? 'it' : 'them'}`);
  for (const s of summaries.values()) {
    if (!s) continue;
    const ref = s.producedAt ?? (s.lastModified && !Number.isNaN(Date.parse(s.lastModified)) ? new Date(s.lastModified).toISOString() : undefined) ?? s.syncedAt;
    const ageMs = Math.max(0, now.getTime() - Date.parse(ref));
    const ageDays = Number.isNaN(ageMs) ? undefined : Math.floor(ageMs / 86_400_000);
    const feed = s.ecosystem === ALAS_SUMMARY_BASE ? 'alas/Amazon Linux' : `osv/${s.ecosystem}`;
    sources.push({ feed, ...(s.producedAt ? { producedAt: s.producedAt } : {}), syncedAt: s.syncedAt, ...(ageDays !== undefined ? { ageDays } : {}) });
    if (gate.maxAgeMs > 0 && !Number.isNaN(ageMs) && ageMs > gate.maxAgeMs) problems.push(`advisory data stale: ${feed} is ${formatAge(ageMs)} old, older than DRYDOCK_MAX_ADVISORY_AGE ${gate.maxAgeText}`);
  }
  // KEV / EPSS: fresh as of their last successful check (KEV's catalog can go a week without a release and be current)
  if (exploit) {
    const { index, kevVersion } = exploit.data;
    for (const [feed, entry] of [['cisa-kev', kevVersion ? index.kev : undefined], ['first-epss', index.epss]] as const) {
      if (!entry) continue;
      const ageMs = Math.max(0, now.getTime() - Date.parse(entry.syncedAt));
      sources.push({ feed, ...(entry.producedAt ? { producedAt: entry.producedAt } : {}), syncedAt: entry.syncedAt, ...(Number.isNaN(ageMs) ? {} : { ageDays: Math.floor(ageMs / 86_400_000) }) });
      if (feed === 'cisa-kev' && exploit.needKev && gate.maxAgeMs > 0 && !Number.isNaN(ageMs) && ageMs > gate.maxAgeMs) problems.push(`known-exploited data stale: cisa-kev was last checked ${formatAge(ageMs)} ago, longer than DRYDOCK_MAX_ADVISORY_AGE ${gate.maxAgeText}`);
    }
    if (exploit.needKev && !kevVersion) problems.push(`known-exploited data missing: no CISA KEV catalog synced (${EXPLOIT_KEYS.kev}${exploit.data.issues.length ? `: ${exploit.data.issues[0]}` : ''}), so the policy's kev rules cannot fire`);
  }
  const ages = sources.flatMap((s) => (s.ageDays !== undefined ? [s.ageDays] : []));
  return {
    covered,
    uncovered,
    ...(sources.length > 0 ? { sources: sources.slice(0, 64) } : {}),
    ...(ages.length > 0 ? { oldestAgeDays: Math.max(...ages) } : {}),
    ...(problems.length > 0 ? { problems: problems.slice(0, 64), accepted: gate.allowMissing } : {}),
  };
}

/** The tag of a retag trigger "tag:<tag>@<analyzedAt>" (tags cannot contain "@"). */
function retagTag(trigger: string): string {
  return trigger.replace(/^tag:/, '').replace(/@[^@]*$/, '');
}

function highestOf(findings: readonly Finding[]): string | undefined {
  return findings.reduce<string | undefined>((h, f) => (!h || severityRank(f.severity) > severityRank(h as Finding['severity']) ? f.severity : h), undefined);
}

function reasonOf(job: EvaluateJob): string {
  return `${job.reason}:${job.trigger}`;
}

/** The finding's identity across evaluations: vulnerability × package × installed version. */

function severityCounts(findings: readonly Finding[]): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(SEVERITIES.map((s) => [s, 0]));
  for (const f of findings) counts[f.severity] = (counts[f.severity] ?? 0) + 1;
  return counts;
}

/** Known exploited first, then severity, then EPSS (as the CLI's table), then id. */
function brief(findings: readonly Finding[], n: number, platformsOf?: (f: Finding) => string[], groupOf?: (f: Finding) => LayerGroup): FindingBrief[] {
  return [...findings]
    .sort((a, b) => Number(!!b.kev) - Number(!!a.kev) || severityRank(b.severity) - severityRank(a.severity) || (b.epss?.score ?? -1) - (a.epss?.score ?? -1) || a.id.localeCompare(b.id))
    .slice(0, n)
    .map((f) => ({
      id: f.id,
      severity: f.severity,
      ...(f.severitySource ? { severitySource: f.severitySource } : {}),
      package: f.package.name,
      version: f.package.version,
      ...(f.fixedIn ? { fixedIn: f.fixedIn } : {}),
      ...(f.kev ? { kev: f.kev } : {}),
      ...(f.epss ? { epss: f.epss } : {}),
      ...(platformsOf ? { platforms: platformsOf(f).slice(0, 64) } : {}),
      ...(groupOf ? { layerGroup: groupOf(f) } : {}),
    }));
}

/** Each finding's layer group (base or application), on the first platform image it was found on. */
function findingGroups(evals: readonly PlatformEvaluation[]): (f: Finding) => LayerGroup {
  const groups = new Map<string, LayerGroup>();
  for (const e of evals) {
    const of = layerGroups(layerIdsOf(e.inv.image.layers), e.base);
    for (const f of e.match.findings) {
      const k = findingKey(f);
      if (!groups.has(k)) groups.set(k, of(f.layer));
    }
  }
  return (f) => groups.get(findingKey(f)) ?? 'application';
}

/**
 * The rebuild advice of the platform image that decided the verdict: its base-layer findings the
 * newest digest of its base tag no longer has, by that digest's latest result (its findingIds,
 * "<id>|<package>|<version>"). None when that digest has no result yet: advice is never invented.
 */
async function rebuildOf(deps: PipelineDeps, e: PlatformEvaluation): Promise<RebuildAdvice | undefined> {
  if (!e.base?.newest) return undefined;
  const latest = await deps.results.latest(e.base.newest.digest);
  if (!latest || latest.status === 'error') return undefined;
  const newest = latest.findingIds.map((k) => {
    const parts = k.split('|');
    return { id: parts[0]!, package: { name: parts.slice(1, -1).join('|') } };
  });
  return rebuildAdvice(e.match.findings.filter((f) => f.suppressed?.by !== 'vex'), layerIdsOf(e.inv.image.layers), e.base, newest);
}

function baseSummary(b: BaseImageInfo): BaseSummary {
  return {
    status: b.status,
    ...(b.reference ? { reference: b.reference.slice(0, 1024) } : {}),
    trusted: b.trusted,
    ...(b.source ? { source: b.source } : {}),
    layerCount: b.layerCount,
    reason: b.reason.slice(0, 2000),
    ...(b.newest ? { newest: b.newest } : {}),
    ...(b.signature ? { signature: b.signature.status } : {}),
  };
}

function rebuildSummary(a: RebuildAdvice): RebuildSummary {
  return { to: a.to, clears: a.clears.slice(0, 100), remains: a.remains, summary: a.summary.slice(0, 1000) };
}

/** The base_status attribute: unknown, untrusted, stale (a newer digest of its tag exists), trusted. */
function baseStatus(b: BaseSummary): string {
  if (b.status !== 'identified') return 'unknown';
  if (!b.trusted) return 'untrusted';
  return b.newest ? 'stale' : 'trusted';
}

/** The KEV version a rescan job for a KEV change needs (its trigger is "kev@<version>#<part>"). */
function wantedKevVersion(job: EvaluateJob): string | undefined {
  return /^kev@([0-9a-f]{16})#/.exec(job.trigger)?.[1];
}

/** Whether the bundle has a rule on the vulnerabilities gate's kev trigger (then missing or stale KEV fails closed). */
export function bundleUsesKev(bundle: PolicyBundle): boolean {
  return bundle.policies.some((p) => p.rules.some((r) => r.gate.toLowerCase() === 'vulnerabilities' && r.trigger.toLowerCase() === 'kev'));
}

let cachedVex: { keys: string; at: number; suppressions: Suppressions | undefined } | undefined;

/**
 * The OpenVEX documents DRYDOCK_VEX_KEYS names, re-read at most once a minute: their
 * not_affected / fixed statements suppress findings exactly as the CLI's --vex. A document that
 * is missing or not valid OpenVEX 0.2.0 stops evaluation with a CONFIG error naming it (as a
 * malformed policy bundle does), never a silent "nothing suppressed".
 */
async function loadVex(deps: PipelineDeps): Promise<Suppressions | undefined> {
  const keys = deps.config.vexKeys;
  if (keys.length === 0) return undefined;
  const id = keys.join(',');
  if (cachedVex && cachedVex.keys === id && Date.now() - cachedVex.at < BUNDLE_TTL_MS) return cachedVex.suppressions;
  const out: Suppressions = { ignore: [], vex: [] };
  for (const key of keys) {
    const bytes = await deps.objects.get(key);
    if (!bytes) throw new DrydockError('CONFIG', `the VEX document s3 key ${key} (DRYDOCK_VEX_KEYS) does not exist`);
    if (bytes.length > SUPPRESS_LIMITS.maxVexBytes) throw new DrydockError('CONFIG', `VEX document ${key}: larger than maxVexBytes (${SUPPRESS_LIMITS.maxVexBytes} bytes)`);
    out.vex.push(...parseVex(bytes.toString('utf8'), key));
  }
  if (out.vex.length > SUPPRESS_LIMITS.maxVexStatements) throw new DrydockError('CONFIG', `DRYDOCK_VEX_KEYS: ${out.vex.length} statements, more than maxVexStatements (${SUPPRESS_LIMITS.maxVexStatements})`);
  cachedVex = { keys: id, at: Date.now(), suppressions: out.vex.length ? out : undefined };
  return cachedVex.suppressions;
}

function policySummary(p: PolicyResult): NonNullable<ResultMessage['policy']> {
  const counted = p.fired.filter((r) => !r.allowlistedBy);
  return {
    bundleId: p.bundleId,
    bundleDigest: p.bundleDigest,
    reason: p.reason,
    rulesFired: p.fired.length,
    stopRules: counted.filter((r) => r.action === 'STOP').length,
    warnRules: counted.filter((r) => r.action === 'WARN').length,
  };
}

export function imageOf(record: ImageRecord): ResultMessage['image'] {
  return {
    digest: record.digest,
    ...(record.manifestDigest ? { manifestDigest: record.manifestDigest } : {}),
    registry: record.registry,
    repository: record.repository,
    tags: record.tags ?? [],
    ...(record.platform ? { platform: record.platform } : {}),
    ...(record.distro ? { distro: record.distro } : {}),
  };
}

async function recordVerdict(deps: PipelineDeps, record: ImageRecord, result: ResultRecord, perPlatform?: PlatformResult[], base?: { baseKey: string | undefined }): Promise<void> {
  const lastVerdict = {
    status: result.status,
    resultId: result.resultId,
    evaluatedAt: result.evaluatedAt,
    findings: result.findings,
    ...(result.policyId ? { policyId: result.policyId } : {}),
    ...(result.policyDigest ? { policyDigest: result.policyDigest } : {}),
    ...(result.highestSeverity ? { highestSeverity: result.highestSeverity } : {}),
  };
  const updatedAt = deps.now().toISOString();
  // the base entry's key, so the next evaluation removes it when the base changes
  const baseField = base && base.baseKey !== record.baseKey ? { baseKey: base.baseKey } : {};
  try {
    // Only an analysed image becomes "evaluated": a re-analysis in progress keeps its status.
    // The tags it covered (as read) are recorded: a tag pushed later gets its own evaluation.
    const platforms = perPlatform && record.platforms
      ? record.platforms.map((p) => {
          const v = perPlatform.find((r) => r.platform === p.platform && r.manifestDigest === p.manifestDigest);
          return v ? { ...p, lastVerdict: { status: v.status, findings: v.findings, counts: v.counts, ...(v.highestSeverity ? { highestSeverity: v.highestSeverity } : {}) } } : p;
        })
      : undefined;
    await deps.images.update(
      record.digest,
      { status: 'evaluated', lastVerdict, evaluatedTags: [...(record.tags ?? [])].sort(), ...(platforms ? { platforms } : {}), ...baseField, updatedAt },
      { status: ['analyzed', 'evaluated'] },
    );
  } catch (e) {
    if (!(e instanceof ConditionFailedError)) throw e;
    await deps.images.update(record.digest, { lastVerdict, ...baseField, updatedAt });
  }
}

/** Publishes per DRYDOCK_PUBLISH; attributes repeat what subscribers filter on. */
export async function publishResult(deps: PipelineDeps, message: ResultMessage): Promise<boolean> {
  const mode = deps.config.publishMode;
  const wanted = message.status === 'error' || mode === 'always' || (mode === 'change' && message.changed) || (mode === 'fail' && message.status === 'fail');
  if (!wanted) return false;
  await deps.publisher.publish(message, {
    status: message.status,
    highestSeverity: message.highestSeverity ?? 'none',
    repository: message.image.repository,
    changed: String(message.changed),
    // only with a trust policy (SNS refuses empty attribute values: no signers, no attribute)
    ...(message.signature ? { signature_status: message.signature.status } : {}),
    ...(message.signature?.signers.length ? { signature_signers: message.signature.signers.join(',').slice(0, 1024) } : {}),
    // only with trusted base repositories (DRYDOCK_BASE_REPOSITORIES)
    ...(message.base?.reference ? { base_image: message.base.reference } : {}),
    ...(message.base ? { base_status: baseStatus(message.base) } : {}),
  });
  deps.metrics.add('ResultsPublished', 'Count', 1);
  return true;
}

/** The error result for an image whose analysis or evaluation failed for good. */
export function errorResult(record: ImageRecord, error: RecordedError, now: Date): ResultMessage {
  return checkOutgoing<ResultMessage>({
    schema: 'drydock.result/1',
    resultId: resultIdFor(`error:${record.digest}:${error.at}`, now),
    image: imageOf(record),
    status: 'error',
    ...(record.lastVerdict ? { previousStatus: record.lastVerdict.status } : {}),
    changed: record.lastVerdict?.status !== 'error',
    reason: error.job ?? 'analysis',
    counts: {},
    error: { code: error.code, kind: error.kind, message: error.message },
    evaluatedAt: now.toISOString(),
  });
}

let cachedBundle: { key: string; at: number; bundle: PolicyBundle } | undefined;
const BUNDLE_TTL_MS = 60_000;

/**
 * The policy bundle from the bucket (DRYDOCK_POLICY_KEY), re-read at most once a minute, or the
 * bundle shipped with Drydock. A malformed bundle stops evaluation with its precise problems
 * (a CONFIG error, recorded and published), never a silent fallback to another bundle.
 */
async function loadBundle(deps: PipelineDeps): Promise<PolicyBundle> {
  const key = deps.config.policyKey;
  if (!key) return loadDefaultBundle();
  if (cachedBundle && cachedBundle.key === key && Date.now() - cachedBundle.at < BUNDLE_TTL_MS) return cachedBundle.bundle;
  const bytes = await deps.objects.get(key);
  if (!bytes) throw new DrydockError('CONFIG', `the policy bundle s3 key ${key} (DRYDOCK_POLICY_KEY) does not exist`);
  const bundle = parseBundle(bytes, key);
  cachedBundle = { key, at: Date.now(), bundle };
  return bundle;
}

/** The result message's part: status, signers (at most 16, each at most 512 characters), reason (at most 2000). */
function signatureSummary(r: ImageSignatureResult): NonNullable<ResultMessage['signature']> {
  return { status: r.status, signers: r.signers.slice(0, 16).map((s) => s.slice(0, 512)), reason: r.reason.slice(0, 2000) };
}

/**
 * The image's signatures under the trust policy (DRYDOCK_TRUST_POLICY_KEY), read from its
 * registry as the analyzer reads the image (deps.openImage: ECR credentials on AWS, the
 * registry override locally). Cosign signs what a tag names, so the record's digest (an index's
 * when there is one) is checked first, then the platform manifest's when that one is unsigned.
 * No trust policy: undefined (the image_signature gate then fails closed). A registry that
 * cannot be read throws: an unreadable registry is never "unsigned".
 */
async function checkSignatures(deps: PipelineDeps, record: Pick<ImageRecord, 'registry' | 'repository' | 'digest' | 'manifestDigest'>): Promise<ImageSignatureResult | undefined> {
  const policy = await loadTrustPolicyObject(deps);
  if (!policy) return undefined;
  const registry = deps.config.registryOverride ?? record.registry;
  const source: ImageSource = await deps.openImage({ registry, repository: record.repository, digest: record.digest });
  const close = () => source.close?.();
  try {
    if (!(source instanceof RegistrySource)) throw new DrydockError('CONFIG', `image signatures of ${record.repository}@${record.digest} cannot be checked: ${source.name} is not a registry`);
    const ref = { registry: record.registry, repository: record.repository };
    const now = deps.now();
    let result = await verifyImageSignatures(source.client, ref, record.digest, policy, { now });
    if (result.status === 'unsigned' && record.manifestDigest && record.manifestDigest !== record.digest) {
      result = await verifyImageSignatures(source.client, ref, record.manifestDigest, policy, { now });
    }
    deps.metrics.add('SignaturesChecked', 'Count', 1);
    return result;
  } finally {
    await close();
  }
}

let cachedTrust: { key: string; at: number; policy: TrustPolicy } | undefined;

/**
 * The trust policy from the bucket (DRYDOCK_TRUST_POLICY_KEY), re-read at most once a minute
 * (as the bundle). Keys and certificates are inline (`pem:`): a `path:` entry is refused, the
 * evaluator reads no other object. A missing, oversized or malformed policy stops evaluation
 * with a CONFIG error naming the key, never a silent "not checked".
 */
async function loadTrustPolicyObject(deps: PipelineDeps): Promise<TrustPolicy | undefined> {
  const key = deps.config.trustPolicyKey;
  if (!key) return undefined;
  if (cachedTrust && cachedTrust.key === key && Date.now() - cachedTrust.at < BUNDLE_TTL_MS) return cachedTrust.policy;
  const bytes = await deps.objects.get(key);
  if (!bytes) throw new DrydockError('CONFIG', `the trust policy s3 key ${key} (DRYDOCK_TRUST_POLICY_KEY) does not exist`);
  if (bytes.length > MAX_TRUST_POLICY_BYTES) throw new DrydockError('CONFIG', `trust policy ${key}: ${bytes.length} bytes, more than ${MAX_TRUST_POLICY_BYTES} (limit MAX_TRUST_POLICY_BYTES)`);
  const policy = await parseTrustPolicy(bytes.toString('utf8'), key, (path) =>
    Promise.reject(new Error(`path entries (${path}) are not read in the pipeline: put the PEM inline (pem:)`)),
  );
  cachedTrust = { key, at: Date.now(), policy };
  return policy;
}
