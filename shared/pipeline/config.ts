/**
 * The pipeline's configuration, read from environment variables and validated once (at a
 * Lambda's cold start): every problem is reported together, so a deployment with two wrong
 * settings is fixed in one round, and nothing runs half-configured.
 */
import { DrydockError } from '../errors.js';
import { parsePlatform } from '../image/platform.js';
import { DEFAULT_MAX_ADVISORY_AGE, parseAge } from '../match/coverage.js';
import { DEFAULT_LIMITS, LIMIT_NAMES, limitEnvName, limitsFromEnv, type LayerLimits } from '../layers/extract.js';
import type { Platform } from '../image/types.js';

export type PublishMode = 'always' | 'change' | 'fail';

export interface PipelineConfig {
  /** repository globs to analyse ("team-*\/api", "*"); empty: every repository */
  repositories: string[];
  /** the primary platform of a multi-platform index (analysed first; every platform is analysed) */
  platform: Platform;
  /** fan out into layer jobs when at least this many layers are missing from the cache (0: never) */
  fanoutMinLayers: number;
  /** a claim older than this is taken over (longer than the analyzer's timeout) */
  staleClaimMs: number;
  /** the queues' maxReceiveCount: the attempt that reaches it records RETRIES_EXHAUSTED */
  maxReceiveCount: number;
  /** send ECR images to this registry host instead (local runs and tests: a local registry) */
  registryOverride?: string;
  /** registries spoken to over plain http */
  insecureRegistries: string[];
  /** when the evaluator publishes: every result, on change, or on fail/error */
  publishMode: PublishMode;
  /** the policy bundle's key in the bucket; unset: the bundle shipped with Drydock */
  policyKey?: string;
  /** stop this long before the Lambda's deadline, so the failure is recorded and the message retried */
  deadlineMarginMs: number;
  /** layers read at the same time */
  concurrency: number;
  /** the scan's budget, over the defaults of shared/layers/extract.ts (DRYDOCK_LIMIT_<NAME>) */
  limits: Partial<LayerLimits>;
  /**
   * The evaluator's gate on its advisory data: a verdict over an ecosystem no synced feed covers,
   * or over a feed older than maxAge, fails closed unless allowMissing (DRYDOCK_ALLOW_MISSING_ADVISORIES=1,
   * DRYDOCK_MAX_ADVISORY_AGE: 5d by default, 0 = no age limit).
   */
  advisoryGate: { allowMissing: boolean; maxAgeMs: number; maxAgeText: string };
  /** results rows expire (DynamoDB TTL `expiresAt`) this many days after their evaluation; 0: kept forever */
  resultRetentionDays: number;
  /**
   * CISA KEV and FIRST EPSS (DRYDOCK_EXPLOIT_FEEDS=1; the stack sets it unless exploitFeeds=false):
   * feed-sync syncs them into the bucket, the evaluator puts them on findings and fails closed
   * when KEV is missing or stale and the policy bundle has a `kev` rule. Unset: off.
   */
  exploitFeeds: boolean;
  /** the KEV catalog's URL (DRYDOCK_KEV_URL; default CISA's) */
  kevUrl?: string;
  /** the EPSS scores' URL (DRYDOCK_EPSS_URL; default FIRST's current scores) */
  epssUrl?: string;
  /** OpenVEX documents in the bucket (DRYDOCK_VEX_KEYS, keys under vex/): their not_affected / fixed statements suppress the evaluator's findings */
  vexKeys: string[];
  /** the trust policy's key in the bucket (DRYDOCK_TRUST_POLICY_KEY, under policies/): the evaluator verifies each image's signatures against it; unset: not checked */
  trustPolicyKey?: string;
  /**
   * The trusted base repositories (DRYDOCK_BASE_REPOSITORIES, "<registry>/<repository>[:tag]",
   * comma-separated; issue 19 items 3–4): the evaluator identifies every image's base among the
   * analysed digests of these repositories, splits its findings, advises rebuilds, and announces a
   * patched base. Empty: off (the base_image gate then fails closed with not_checked).
   */
  baseRepositories: string[];
}

/** Most analysed digests of one base repository the evaluator compares an image with (the newest by update time). */
export const BASE_CANDIDATES_PER_REPOSITORY = 100;
/** Most entries DRYDOCK_BASE_REPOSITORIES may list (as the trusted base list file: MAX_BASES). */
export const MAX_BASE_REPOSITORIES = 256;

export const DEFAULT_CONFIG: PipelineConfig = {
  repositories: [],
  platform: { os: 'linux', architecture: 'amd64' },
  fanoutMinLayers: 4,
  staleClaimMs: 20 * 60_000,
  maxReceiveCount: 5,
  insecureRegistries: [],
  publishMode: 'change',
  deadlineMarginMs: 20_000,
  concurrency: 3,
  resultRetentionDays: 180,
  limits: {},
  exploitFeeds: false,
  vexKeys: [],
  baseRepositories: [],
  advisoryGate: { allowMissing: false, maxAgeMs: parseAge('DRYDOCK_MAX_ADVISORY_AGE', DEFAULT_MAX_ADVISORY_AGE), maxAgeText: DEFAULT_MAX_ADVISORY_AGE },
};

/** The AWS resources the handlers reach (names, URLs, ARNs). */
export interface PipelineResources {
  imagesTable: string;
  packageIndexTable: string;
  resultsTable: string;
  advisoriesTable: string;
  /** Powertools idempotency records; unset: idempotency rests on the image record's claim alone */
  idempotencyTable?: string;
  bucket: string;
  scanQueueUrl: string;
  evaluateQueueUrl: string;
  /** poison messages are sent here at once (they would only fail again) */
  deadLetterQueueUrl?: string;
  resultsTopicArn: string;
}

export const RESOURCE_VARS: Readonly<Record<keyof PipelineResources, { env: string; required: boolean }>> = {
  imagesTable: { env: 'DRYDOCK_IMAGES_TABLE', required: true },
  packageIndexTable: { env: 'DRYDOCK_PACKAGE_INDEX_TABLE', required: true },
  resultsTable: { env: 'DRYDOCK_RESULTS_TABLE', required: true },
  advisoriesTable: { env: 'DRYDOCK_ADVISORIES_TABLE', required: true },
  idempotencyTable: { env: 'DRYDOCK_IDEMPOTENCY_TABLE', required: false },
  bucket: { env: 'DRYDOCK_BUCKET', required: true },
  scanQueueUrl: { env: 'DRYDOCK_SCAN_QUEUE_URL', required: true },
  evaluateQueueUrl: { env: 'DRYDOCK_EVALUATE_QUEUE_URL', required: true },
  deadLetterQueueUrl: { env: 'DRYDOCK_DEAD_LETTER_QUEUE_URL', required: false },
  resultsTopicArn: { env: 'DRYDOCK_RESULTS_TOPIC_ARN', required: true },
};

/**
 * The resources each function's code reaches, and so the variables its cold start requires
 * (the CDK app gives each function exactly these, plus optional ones). A port whose resource is
 * not listed is not built: using it throws CONFIG naming the variable.
 */
export const FUNCTION_NEEDS = {
  analyzer: ['imagesTable', 'packageIndexTable', 'bucket', 'scanQueueUrl', 'evaluateQueueUrl', 'resultsTopicArn'],
  evaluator: ['imagesTable', 'resultsTable', 'advisoriesTable', 'bucket', 'resultsTopicArn'],
  feedSync: ['advisoriesTable', 'bucket'],
  rescan: ['packageIndexTable', 'imagesTable', 'evaluateQueueUrl'],
  reconcile: ['imagesTable', 'scanQueueUrl'],
} as const satisfies Record<string, ReadonlyArray<keyof PipelineResources>>;

/** The environment variable that names a resource. */
export function resourceVariable(field: keyof PipelineResources): string {
  return RESOURCE_VARS[field].env;
}

/** The environment variables, for docs and the CDK app. */
export const ENVIRONMENT = {
  ...Object.fromEntries(Object.entries(RESOURCE_VARS).map(([k, v]) => [v.env, `${k}${v.required ? '' : ' (optional)'}`])),
  DRYDOCK_REPOSITORIES: 'comma-separated repository globs to analyse (default: all)',
  DRYDOCK_PLATFORM: 'os/arch[/variant]: the primary platform of a multi-platform image, analysed first (every platform of an index is analysed; default linux/amd64)',
  DRYDOCK_FANOUT_MIN_LAYERS: 'fan out into layer jobs from this many uncached layers (default 4, 0 = never)',
  DRYDOCK_STALE_CLAIM_SECONDS: 'seconds after which another job takes over an analysis (default 1200)',
  DRYDOCK_MAX_RECEIVE_COUNT: "the queue's maxReceiveCount (default 5)",
  DRYDOCK_REGISTRY_OVERRIDE: 'host[:port] to read ECR images from instead (local runs)',
  DRYDOCK_INSECURE_REGISTRIES: 'comma-separated hosts spoken to over http',
  DRYDOCK_PUBLISH: 'always | change | fail (default change)',
  DRYDOCK_POLICY_KEY: 'S3 key of the policy bundle (default: the bundle shipped with Drydock)',
  DRYDOCK_DEADLINE_MARGIN_SECONDS: 'stop this long before the Lambda deadline (default 20)',
  DRYDOCK_CONCURRENCY: 'layers read at once (default 3)',
  DRYDOCK_ALLOW_MISSING_ADVISORIES: '1: a verdict over missing or stale advisory data stands (with the problems in the result) instead of failing closed',
  DRYDOCK_MAX_ADVISORY_AGE: 'oldest synced feed a verdict may rest on (default 5d; 36h, 0 = no limit)',
  // the scan's budget, one variable per limit: a positive integer, K/M/G/T suffixes allowed
  ...Object.fromEntries(LIMIT_NAMES.map((n) => [limitEnvName(n), `scan budget: ${n} (default ${DEFAULT_LIMITS[n]}, shared/layers/extract.ts)`])),
  DRYDOCK_RECONCILE_MAX_JOBS: 'scan jobs the reconciliation sends per run at most (default 1000)',
  DRYDOCK_RESULT_RETENTION_DAYS: 'days a results row is kept after its evaluation (DynamoDB TTL expiresAt; default 180, 0 = forever)',
  DRYDOCK_EXPLOIT_FEEDS: '1: feed-sync syncs CISA KEV and FIRST EPSS, the evaluator uses them (and fails closed on missing or stale KEV when the bundle has a kev rule); unset or 0: off',
  DRYDOCK_KEV_URL: "the KEV catalog's URL (default CISA's known_exploited_vulnerabilities.json)",
  DRYDOCK_EPSS_URL: "the EPSS scores' URL (default FIRST's epss_scores-current.csv.gz)",
  DRYDOCK_VEX_KEYS: 'comma-separated S3 keys (under vex/) of OpenVEX 0.2.0 documents whose statements suppress findings',
  DRYDOCK_TRUST_POLICY_KEY: "S3 key (under policies/) of the trust policy (docs/signatures.md, inline keys and certificates only): the evaluator verifies each image's signatures against it; unset: not checked",
  DRYDOCK_BASE_REPOSITORIES: 'comma-separated "<registry>/<repository>[:tag]" of the trusted base images (docs/pipeline.md "Base images"): the evaluator identifies each image\'s base among their analysed digests; unset: off',
} as const;

export function loadConfig(env: Record<string, string | undefined>, need: ReadonlyArray<keyof PipelineResources> = Object.keys(RESOURCE_VARS) as Array<keyof PipelineResources>): { config: PipelineConfig; resources: PipelineResources } {
  const problems: string[] = [];
  const resources = {} as PipelineResources;
  for (const [field, spec] of Object.entries(RESOURCE_VARS) as Array<[keyof PipelineResources, { env: string; required: boolean }]>) {
    const v = env[spec.env]?.trim();
    if (v) resources[field] = v;
    else if (spec.required && need.includes(field)) problems.push(`${spec.env} is not set (${field})`);
  }
  const int = (name: string, dflt: number, min: number, max: number): number => {
    const raw = env[name]?.trim();
    if (!raw) return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name}=${JSON.stringify(raw)} is not an integer in [${min}, ${max}]`);
      return dflt;
    }
    return n;
  };
  const list = (name: string) => (env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const config: PipelineConfig = {
    ...DEFAULT_CONFIG,
    repositories: list('DRYDOCK_REPOSITORIES'),
    fanoutMinLayers: int('DRYDOCK_FANOUT_MIN_LAYERS', DEFAULT_CONFIG.fanoutMinLayers, 0, 10_000),
    staleClaimMs: int('DRYDOCK_STALE_CLAIM_SECONDS', DEFAULT_CONFIG.staleClaimMs / 1000, 1, 7 * 86_400) * 1000,
    maxReceiveCount: int('DRYDOCK_MAX_RECEIVE_COUNT', DEFAULT_CONFIG.maxReceiveCount, 1, 1000),
    insecureRegistries: list('DRYDOCK_INSECURE_REGISTRIES'),
    deadlineMarginMs: int('DRYDOCK_DEADLINE_MARGIN_SECONDS', DEFAULT_CONFIG.deadlineMarginMs / 1000, 0, 900) * 1000,
    concurrency: int('DRYDOCK_CONCURRENCY', DEFAULT_CONFIG.concurrency, 1, 64),
    resultRetentionDays: int('DRYDOCK_RESULT_RETENTION_DAYS', DEFAULT_CONFIG.resultRetentionDays, 0, 36_500),
  };
  try {
    config.limits = limitsFromEnv(env);
  } catch (e) {
    problems.push((e as Error).message);
  }
  const allowMissing = env.DRYDOCK_ALLOW_MISSING_ADVISORIES?.trim();
  if (allowMissing && allowMissing !== '1' && allowMissing !== '0') problems.push(`DRYDOCK_ALLOW_MISSING_ADVISORIES=${JSON.stringify(allowMissing)} must be 1 or 0`);
  const maxAgeText = env.DRYDOCK_MAX_ADVISORY_AGE?.trim() || DEFAULT_MAX_ADVISORY_AGE;
  try {
    config.advisoryGate = { allowMissing: allowMissing === '1', maxAgeMs: parseAge('DRYDOCK_MAX_ADVISORY_AGE', maxAgeText), maxAgeText };
  } catch (e) {
    problems.push((e as Error).message);
  }
  const platform = env.DRYDOCK_PLATFORM?.trim();
  if (platform) {
    try {
      config.platform = parsePlatform(platform);
    } catch (e) {
      problems.push(`DRYDOCK_PLATFORM: ${(e as Error).message}`);
    }
  }
  const override = env.DRYDOCK_REGISTRY_OVERRIDE?.trim();
  if (override) {
    if (/^[A-Za-z0-9.-]+(:\d+)?$/.test(override)) config.registryOverride = override;
    else problems.push(`DRYDOCK_REGISTRY_OVERRIDE=${JSON.stringify(override)} is not host[:port]`);
  }
  const publish = env.DRYDOCK_PUBLISH?.trim();
  if (publish) {
    if (publish === 'always' || publish === 'change' || publish === 'fail') config.publishMode = publish;
    else problems.push(`DRYDOCK_PUBLISH=${JSON.stringify(publish)} must be always, change or fail`);
  }
  const policyKey = env.DRYDOCK_POLICY_KEY?.trim();
  if (policyKey) config.policyKey = policyKey;
  const exploitFeeds = env.DRYDOCK_EXPLOIT_FEEDS?.trim();
  if (exploitFeeds && exploitFeeds !== '1' && exploitFeeds !== '0') problems.push(`DRYDOCK_EXPLOIT_FEEDS=${JSON.stringify(exploitFeeds)} must be 1 or 0`);
  config.exploitFeeds = exploitFeeds === '1';
  for (const [name, field] of [['DRYDOCK_KEV_URL', 'kevUrl'], ['DRYDOCK_EPSS_URL', 'epssUrl']] as const) {
    const url = env[name]?.trim();
    if (!url) continue;
    if (/^https?:\/\/[^\s]+$/.test(url)) config[field] = url;
    else problems.push(`${name}=${JSON.stringify(url)} is not an http(s) URL`);
  }
  config.vexKeys = list('DRYDOCK_VEX_KEYS');
  for (const k of config.vexKeys) if (!isVexKey(k)) problems.push(`DRYDOCK_VEX_KEYS: ${JSON.stringify(k)} is not a plain S3 key under vex/`);
  const trustPolicyKey = env.DRYDOCK_TRUST_POLICY_KEY?.trim();
  if (trustPolicyKey) {
    if (isTrustPolicyKey(trustPolicyKey)) config.trustPolicyKey = trustPolicyKey;
    else problems.push(`DRYDOCK_TRUST_POLICY_KEY=${JSON.stringify(trustPolicyKey)} is not a plain S3 key under policies/`);
  }
  config.baseRepositories = list('DRYDOCK_BASE_REPOSITORIES');
  if (config.baseRepositories.length > MAX_BASE_REPOSITORIES) problems.push(`DRYDOCK_BASE_REPOSITORIES: ${config.baseRepositories.length} entries, more than ${MAX_BASE_REPOSITORIES} (limit MAX_BASE_REPOSITORIES)`);
  for (const b of config.baseRepositories) {
    const why = baseRepositoryProblem(b, true);
    if (why) problems.push(`DRYDOCK_BASE_REPOSITORIES: ${JSON.stringify(b)} ${why}`);
  }
  if (problems.length) {
    throw new DrydockError('CONFIG', `invalid Drydock configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return { config, resources };
}

/** A VEX document's key: a plain S3 key under `vex/` (the evaluator is granted exactly these keys). */
export function isVexKey(k: string): boolean {
  return /^vex\/[A-Za-z0-9!_.'()/-]+$/.test(k) && !k.endsWith('/') && !k.includes('..') && k.length <= 512;
}

/** The trust policy's key: a plain S3 key under `policies/` (the evaluator is granted exactly this key). */
export function isTrustPolicyKey(k: string): boolean {
  return /^policies\/[A-Za-z0-9!_.'()/-]+$/.test(k) && !k.endsWith('/') && !k.includes('..') && k.length <= 512;
}

/** A repository path as the distribution spec allows it (lower case, separators . _ - and /). */
const REPOSITORY_PATH = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** "<registry>/<repository>[:tag]" split as the reference grammar reads it: a first part with "." or ":" (or "localhost") is a registry. */
export function splitBaseRepository(entry: string): { registry?: string; repository: string; tag?: string } {
  const slash = entry.indexOf('/');
  const colon = entry.lastIndexOf(':');
  const hasTag = colon > entry.lastIndexOf('/');
  const name = hasTag ? entry.slice(0, colon) : entry;
  const tag = hasTag ? entry.slice(colon + 1) : undefined;
  const first = slash >= 0 ? name.slice(0, name.indexOf('/')) : '';
  const isRegistry = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  return { ...(isRegistry ? { registry: first, repository: name.slice(first.length + 1) } : { repository: name }), ...(tag !== undefined ? { tag } : {}) };
}

/**
 * What is wrong with a trusted base entry, or undefined: "<repository>[:tag]" (the stack's own
 * registry; only where `needRegistry` is false) or "<registry>/<repository>[:tag]". No globs:
 * the evaluator lists each repository's digests by its exact name.
 */
export function baseRepositoryProblem(entry: string, needRegistry: boolean): string | undefined {
  if (entry.length > 512) return 'is longer than 512 characters';
  if (entry.includes('*')) return 'has a "*": base repositories are listed by their exact name';
  if (entry.includes('@')) return 'names a digest: every digest of the repository (or tag) is tracked';
  const { registry, repository, tag } = splitBaseRepository(entry);
  if (needRegistry && !registry) return 'has no registry (expected "<registry>/<repository>[:tag]")';
  if (registry !== undefined && !/^[A-Za-z0-9.-]+(:\d+)?$/.test(registry)) return `has a malformed registry ${JSON.stringify(registry)}`;
  if (!REPOSITORY_PATH.test(repository) || repository.length > 256) return `has a malformed repository ${JSON.stringify(repository)}`;
  if (tag !== undefined && !TAG.test(tag)) return `has a malformed tag ${JSON.stringify(tag)}`;
  return undefined;
}
