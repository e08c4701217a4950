/**
 * The deployment's settings: the stack's props, and how they are read from CDK context
 * (`cdk.json`, or `-c key=value` on the command line: `npm run deploy -- -c repositories=team/api`).
 * Every problem is reported together, like the functions' own configuration
 * (shared/pipeline/config.ts), so a deployment with two wrong settings is fixed in one round.
 */
import { DEFAULT_ALAS_STREAMS, validateAlasStreamNames } from '../shared/advisories/alas-feed.js';
import { DEFAULT_OSV_ECOSYSTEMS } from '../shared/advisories/feeds.js';
import { parseLimits } from '../shared/layers/extract.js';
import { parseAge } from '../shared/match/coverage.js';
import { baseRepositoryProblem, isTrustPolicyKey, isVexKey, MAX_BASE_REPOSITORIES, splitBaseRepository, type PublishMode } from '../shared/pipeline/config.js';
import { globMatch } from '../shared/policy/engine.js';

export const RESULT_STATUSES = ['pass', 'warn', 'fail', 'error'] as const;
export type ResultStatus = (typeof RESULT_STATUSES)[number];

export interface DrydockSettings {
  /**
   * ECR repositories to scan, in this account and region. Empty (the default): every repository
   * (the rule takes every push, IAM reads `repository/*`). Given: the EventBridge rule only
   * forwards pushes to these, and the analyzer may read only these. A `*` stands for any
   * characters (`team-*` or `team/*`), in the rule, in IAM and in the analyzer's filter alike.
   */
  repositories: string[];
  /** OSV ecosystems the feed sync downloads (DRYDOCK_OSV_ECOSYSTEMS) */
  ecosystems: string[];
  /** Amazon Linux updateinfo streams the feed sync downloads (DRYDOCK_ALAS_STREAMS; empty: none) */
  alasStreams: string[];
  /** a local policy bundle (JSON): validated at synth; upload it to `policyKey` after deploying */
  policyBundle?: string;
  /** the bundle's key in the bucket (DRYDOCK_POLICY_KEY); unset without a bundle: the shipped default bundle */
  policyKey?: string;
  /** the Slack notifier, its webhook secret and its dead-letter queue */
  slack: boolean;
  /** result statuses that reach Slack (the subscription's filter policy on the `status` attribute) */
  slackStatuses: ResultStatus[];
  /** lifetime of the report links the notifier posts (DRYDOCK_REPORT_URL_TTL_SECONDS) */
  reportUrlTtlSeconds: number;
  /** days a layer extract stays in the cache (`layers/` lifecycle rule) */
  layerCacheDays: number;
  /** reserved concurrency of the analyzer (and the scan queue's maximum concurrency) */
  analyzerConcurrency: number;
  /** reserved concurrency of the evaluator (and the evaluate queue's maximum concurrency) */
  evaluatorConcurrency: number;
  /**
   * true: reserve analyzerConcurrency, evaluatorConcurrency and 1 or 2 for the others. Off by
   * default: a new account's concurrency quota is 10 and Lambda keeps 10 of it unreserved, so
   * any reservation fails the deploy. The SQS event sources cap their pollers either way.
   */
  reservedConcurrency: boolean;
  /** scan-queue messages per analyzer invocation (1 or 2: each may hold a layer in memory) */
  analyzerBatchSize: number;
  /** receives before a message goes to its dead-letter queue (also DRYDOCK_MAX_RECEIVE_COUNT) */
  maxReceiveCount: number;
  /** hours between feed syncs */
  feedSyncHours: number;
  /** days between full re-evaluations */
  rescanDays: number;
  /** hours between reconciliations (ECR DescribeImages → scan jobs for images never analysed) */
  reconcileHours: number;
  /** days a result row (DynamoDB TTL) and its report (`reports/` lifecycle rule) are kept; 0 = forever (DRYDOCK_RESULT_RETENTION_DAYS) */
  resultRetentionDays: number;
  /** the primary platform of multi-platform images (DRYDOCK_PLATFORM), e.g. linux/arm64 */
  platform?: string;
  /** verdicts over missing or stale advisory data stand instead of failing closed (DRYDOCK_ALLOW_MISSING_ADVISORIES) */
  allowMissingAdvisories: boolean;
  /** oldest synced feed a verdict may rest on (DRYDOCK_MAX_ADVISORY_AGE: 5d by default, 36h, 0 = no limit) */
  maxAdvisoryAge?: string;
  /** the analyzer's scan budget over Drydock's defaults, `name=value` (DRYDOCK_LIMIT_<NAME>), e.g. maxExpansionRatio=1000 */
  limits?: string[];
  /** when the evaluator publishes (DRYDOCK_PUBLISH) */
  publish?: PublishMode;
  /** an OSV mirror (DRYDOCK_OSV_URL) */
  osvUrl?: string;
  /** an Amazon Linux repository mirror holding <stream>/mirror.list (DRYDOCK_ALAS_URL) */
  alasUrl?: string;
  /**
   * CISA KEV and FIRST EPSS synced by feed-sync into the bucket and put on the evaluator's findings
   * (DRYDOCK_EXPLOIT_FEEDS=1 on both); with the default bundle's kev rules, missing or stale KEV
   * fails the verdict closed. Default true.
   */
  exploitFeeds: boolean;
  /** the KEV catalog's URL (DRYDOCK_KEV_URL; default CISA's) */
  kevUrl?: string;
  /** the EPSS scores' URL (DRYDOCK_EPSS_URL; default FIRST's current scores) */
  epssUrl?: string;
  /** OpenVEX documents in the bucket (keys under vex/) whose statements suppress findings (DRYDOCK_VEX_KEYS); the evaluator may read exactly these */
  vexKeys: string[];
  /** the trust policy's key in the bucket (under policies/; DRYDOCK_TRUST_POLICY_KEY): the evaluator verifies image signatures against it, reading exactly this object and the images' registries; unset: signatures are not checked */
  trustPolicyKey?: string;
  /**
   * The trusted base images (issue 19; DRYDOCK_BASE_REPOSITORIES): "<repository>[:tag]" in this
   * stack's own registry, or "<registry>/<repository>[:tag]". The evaluator identifies each image's
   * base among their analysed digests, splits findings into base and application, advises rebuilds
   * and announces a patched base ("Drydock Base Image Updated"). Empty (the default): off.
   */
  baseRepositories: string[];
}

export const DEFAULT_SETTINGS: DrydockSettings = {
  repositories: [],
  // the CLI's default list (`drydock feeds sync`): the ecosystems the catalogers produce packages for
  ecosystems: [...DEFAULT_OSV_ECOSYSTEMS],
  alasStreams: [...DEFAULT_ALAS_STREAMS],
  slack: true,
  slackStatuses: ['fail', 'warn', 'error'],
  reportUrlTtlSeconds: 3600,
  layerCacheDays: 30,
  analyzerConcurrency: 10,
  evaluatorConcurrency: 5,
  reservedConcurrency: false,
  allowMissingAdvisories: false,
  analyzerBatchSize: 1,
  maxReceiveCount: 5,
  feedSyncHours: 6,
  rescanDays: 1,
  reconcileHours: 6,
  resultRetentionDays: 180,
  exploitFeeds: true,
  vexKeys: [],
  baseRepositories: [],
};

export const DEFAULT_POLICY_KEY = 'policies/bundle.json';

/** A repository name as ECR allows it, plus `*` for "any characters". */
const REPOSITORY = /^(?:[a-z0-9*]+(?:[._-][a-z0-9*]+)*\/)*[a-z0-9*]+(?:[._-][a-z0-9*]+)*$/;

/** The context keys read by settingsFromContext, with what they take (for errors and the README). */
export const CONTEXT_KEYS: Record<keyof DrydockSettings, string> = {
  repositories: 'comma-separated repository names (`*` = any characters); empty = all',
  ecosystems: 'comma-separated OSV ecosystems',
  alasStreams: 'comma-separated Amazon Linux streams (al1, al2-core, al2-extras[/<topic>], al2023-core, al2023-kernel-livepatch, al2023-nvidia); empty = none',
  policyBundle: 'path of a policy bundle JSON file',
  policyKey: 'S3 key of the policy bundle',
  slack: 'true | false',
  slackStatuses: 'comma-separated of pass, warn, fail, error',
  reportUrlTtlSeconds: 'integer 60..604800',
  layerCacheDays: 'integer 1..3650',
  analyzerConcurrency: 'integer 1..1000',
  evaluatorConcurrency: 'integer 1..1000',
  reservedConcurrency: 'true | false',
  analyzerBatchSize: '1 | 2',
  maxReceiveCount: 'integer 1..1000',
  feedSyncHours: 'integer 1..168',
  rescanDays: 'integer 1..30',
  reconcileHours: 'integer 1..168',
  resultRetentionDays: 'integer 0..3650 (0 = keep forever)',
  platform: 'os/arch[/variant]',
  allowMissingAdvisories: 'true | false',
  maxAdvisoryAge: 'an age such as 5d, 36h, or 0 (no limit)',
  limits: 'comma-separated name=value of the scan budget (shared/layers/extract.ts), e.g. maxKeptBytes=512M,maxExpansionRatio=1000',
  publish: 'always | change | fail',
  osvUrl: 'https URL of an OSV mirror',
  alasUrl: 'https URL of an Amazon Linux repository mirror (<stream>/mirror.list beneath it)',
  exploitFeeds: 'true | false',
  kevUrl: 'https URL of the CISA KEV catalog JSON (a mirror)',
  epssUrl: 'https URL of the FIRST EPSS scores CSV (gzip; a mirror)',
  vexKeys: 'comma-separated S3 keys under vex/ of OpenVEX documents',
  trustPolicyKey: 'S3 key under policies/ of the trust policy (docs/signatures.md; keys and certificates inline)',
  baseRepositories: 'comma-separated trusted base images, <repository>[:tag] (this registry) or <registry>/<repository>[:tag]; empty = off',
};

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid Drydock deployment settings:\n  - ${problems.join('\n  - ')}`);
    this.name = 'SettingsError';
  }
}

/** Reads the settings from a context getter (`node.tryGetContext`); unknown values are reported, not ignored. */
export function settingsFromContext(get: (key: string) => unknown): DrydockSettings {
  const problems: string[] = [];
  const s: DrydockSettings = { ...DEFAULT_SETTINGS };
  const raw = (key: keyof DrydockSettings) => {
    const v = get(key);
    return v === undefined || v === null || v === '' ? undefined : v;
  };
  const list = (key: keyof DrydockSettings): string[] | undefined => {
    const v = raw(key);
    if (v === undefined) return undefined;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.map((x) => x.trim()).filter(Boolean);
    if (typeof v === 'string') return v.split(',').map((x) => x.trim()).filter(Boolean);
    problems.push(`${key}: expected ${CONTEXT_KEYS[key]}, got ${JSON.stringify(v)}`);
    return undefined;
  };
  const bool = (key: keyof DrydockSettings): boolean | undefined => {
    const v = raw(key);
    if (v === undefined) return undefined;
    if (v === true || v === 'true') return true;
    if (v === false || v === 'false') return false;
    problems.push(`${key}: expected true or false, got ${JSON.stringify(v)}`);
    return undefined;
  };
  const int = (key: keyof DrydockSettings, min: number, max: number): number | undefined => {
    const v = raw(key);
    if (v === undefined) return undefined;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${key}: expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
      return undefined;
    }
    return n;
  };
  const str = (key: keyof DrydockSettings): string | undefined => {
    const v = raw(key);
    if (v === undefined) return undefined;
    if (typeof v === 'string') return v.trim();
    problems.push(`${key}: expected ${CONTEXT_KEYS[key]}, got ${JSON.stringify(v)}`);
    return undefined;
  };

  const repositories = list('repositories');
  if (repositories) s.repositories = repositories;
  const ecosystems = list('ecosystems');
  if (ecosystems) s.ecosystems = ecosystems;
  const alasStreams = list('alasStreams');
  if (alasStreams) s.alasStreams = alasStreams;
  const limits = list('limits');
  if (limits) s.limits = limits;
  const vexKeys = list('vexKeys');
  if (vexKeys) s.vexKeys = vexKeys;
  const baseRepositories = list('baseRepositories');
  if (baseRepositories) s.baseRepositories = baseRepositories;
  const slackStatuses = list('slackStatuses');
  if (slackStatuses) s.slackStatuses = slackStatuses as ResultStatus[];
  for (const [key, value] of [
    ['slack', bool('slack')],
    ['reservedConcurrency', bool('reservedConcurrency')],
    ['allowMissingAdvisories', bool('allowMissingAdvisories')],
    ['exploitFeeds', bool('exploitFeeds')],
    ['kevUrl', str('kevUrl')],
    ['epssUrl', str('epssUrl')],
    ['maxAdvisoryAge', str('maxAdvisoryAge')],
    ['reportUrlTtlSeconds', int('reportUrlTtlSeconds', 60, 604_800)],
    ['layerCacheDays', int('layerCacheDays', 1, 3650)],
    ['analyzerConcurrency', int('analyzerConcurrency', 1, 1000)],
    ['evaluatorConcurrency', int('evaluatorConcurrency', 1, 1000)],
    ['analyzerBatchSize', int('analyzerBatchSize', 1, 2)],
    ['maxReceiveCount', int('maxReceiveCount', 1, 1000)],
    ['feedSyncHours', int('feedSyncHours', 1, 168)],
    ['rescanDays', int('rescanDays', 1, 30)],
    ['reconcileHours', int('reconcileHours', 1, 168)],
    ['resultRetentionDays', int('resultRetentionDays', 0, 3650)],
    ['policyBundle', str('policyBundle')],
    ['policyKey', str('policyKey')],
    ['trustPolicyKey', str('trustPolicyKey')],
    ['platform', str('platform')],
    ['publish', str('publish')],
    ['osvUrl', str('osvUrl')],
    ['alasUrl', str('alasUrl')],
  ] as const) {
    if (value !== undefined) (s as unknown as Record<string, unknown>)[key] = value;
  }
  problems.push(...settingsProblems(s));
  if (problems.length) throw new SettingsError(problems);
  return s;
}

/** What is wrong with a complete set of settings (props given in code are checked the same way). */
export function settingsProblems(s: DrydockSettings): string[] {
  const problems: string[] = [];
  for (const r of s.repositories) {
    if (!REPOSITORY.test(r) || r.length > 256) problems.push(`repositories: ${JSON.stringify(r)} is not an ECR repository name (lower-case letters, digits, . _ - /, and * for any characters)`);
  }
  if (new Set(s.repositories).size !== s.repositories.length) problems.push('repositories: a repository is listed twice');
  for (const e of s.ecosystems) if (!/^[A-Za-z0-9][A-Za-z0-9 .:_-]*$/.test(e) || e.includes(',')) problems.push(`ecosystems: ${JSON.stringify(e)} is not an OSV ecosystem name`);
  try {
    validateAlasStreamNames(s.alasStreams);
  } catch (e) {
    problems.push(`alasStreams: ${(e as Error).message}`);
  }
  for (const st of s.slackStatuses) if (!(RESULT_STATUSES as readonly string[]).includes(st)) problems.push(`slackStatuses: ${JSON.stringify(st)} is not one of ${RESULT_STATUSES.join(', ')}`);
  if (s.slack && s.slackStatuses.length === 0) problems.push('slackStatuses: empty, so Slack would never be told anything (set slack=false instead)');
  // no "*": the evaluator is granted exactly this one object
  if (s.policyKey !== undefined && (!/^[A-Za-z0-9!_.'()/-]+$/.test(s.policyKey) || s.policyKey.endsWith('/'))) problems.push(`policyKey: ${JSON.stringify(s.policyKey)} is not a plain S3 object key`);
  if (s.policyKey !== undefined && ['layers/', 'inventories/', 'sboms/', 'reports/', 'dead-letters/', 'feeds/'].some((p) => s.policyKey!.startsWith(p))) {
    problems.push(`policyKey: ${s.policyKey} is inside a prefix the pipeline writes (or expires)`);
  }
  if (s.maxAdvisoryAge !== undefined) {
    try {
      parseAge('maxAdvisoryAge', s.maxAdvisoryAge);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (s.limits !== undefined) {
    try {
      parseLimits(s.limits);
    } catch (e) {
      problems.push(`limits: ${(e as Error).message}`);
    }
  }
  if (s.platform !== undefined && !/^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/.test(s.platform)) problems.push(`platform: ${JSON.stringify(s.platform)} is not os/arch[/variant]`);
  if (s.publish !== undefined && !['always', 'change', 'fail'].includes(s.publish)) problems.push(`publish: ${JSON.stringify(s.publish)} must be always, change or fail`);
  if (s.osvUrl !== undefined && !/^https:\/\/[^\s]+$/.test(s.osvUrl)) problems.push(`osvUrl: ${JSON.stringify(s.osvUrl)} is not an https URL`);
  if (s.alasUrl !== undefined && !/^https:\/\/[^\s]+$/.test(s.alasUrl)) problems.push(`alasUrl: ${JSON.stringify(s.alasUrl)} is not an https URL`);
  for (const key of ['kevUrl', 'epssUrl'] as const) if (s[key] !== undefined && !/^https:\/\/[^\s,]+$/.test(s[key])) problems.push(`${key}: ${JSON.stringify(s[key])} is not an https URL`);
  // exact keys: the evaluator is granted these objects and no others
  for (const k of s.vexKeys) if (!isVexKey(k)) problems.push(`vexKeys: ${JSON.stringify(k)} is not a plain S3 key under vex/`);
  if (new Set(s.vexKeys).size !== s.vexKeys.length) problems.push('vexKeys: a key is listed twice');
  if (s.trustPolicyKey !== undefined && !isTrustPolicyKey(s.trustPolicyKey)) problems.push(`trustPolicyKey: ${JSON.stringify(s.trustPolicyKey)} is not a plain S3 key under policies/`);
  if (s.trustPolicyKey !== undefined && s.trustPolicyKey === (s.policyKey ?? (s.policyBundle ? DEFAULT_POLICY_KEY : undefined))) problems.push(`trustPolicyKey: ${s.trustPolicyKey} is the policy bundle's key`);
  if (s.baseRepositories.length > MAX_BASE_REPOSITORIES) problems.push(`baseRepositories: ${s.baseRepositories.length} entries, more than ${MAX_BASE_REPOSITORIES}`);
  for (const b of s.baseRepositories) {
    const why = baseRepositoryProblem(b, false);
    if (why) problems.push(`baseRepositories: ${JSON.stringify(b)} ${why}`);
    // a base in this registry is only a candidate once analysed: the analyzer must watch its repository
    else if (!splitBaseRepository(b).registry && s.repositories.length && !s.repositories.some((r) => globMatch(r, splitBaseRepository(b).repository))) {
      problems.push(`baseRepositories: ${JSON.stringify(b)} is not among the repositories the stack analyses (the repositories setting), so its digests would never be known`);
    }
  }
  if (new Set(s.baseRepositories).size !== s.baseRepositories.length) problems.push('baseRepositories: an entry is listed twice');
  if (![1, 2].includes(s.analyzerBatchSize)) problems.push(`analyzerBatchSize: ${s.analyzerBatchSize} must be 1 or 2`);
  // props given in code are not range-checked by settingsFromContext
  for (const [key, min, max] of [
    ['reconcileHours', 1, 168],
    ['resultRetentionDays', 0, 3650],
  ] as const) {
    if (!Number.isInteger(s[key]) || s[key] < min || s[key] > max) problems.push(`${key}: expected an integer in [${min}, ${max}], got ${JSON.stringify(s[key])}`);
  }
  return problems;
}
