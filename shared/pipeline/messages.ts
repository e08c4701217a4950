/**
 * The pipeline's messages, each with a versioned JSON Schema (schemas/*.v1.json) validated at
 * every boundary: what a handler receives is checked before anything acts on it, what it sends
 * is checked before it leaves, so a bad producer is caught where it is, not three hops later.
 * A body that fails is a poison message (PoisonMessageError): it never succeeds on retry.
 */
import { randomUUID } from 'node:crypto';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import evaluateJobSchema from './schemas/evaluate-job.v1.json' with { type: 'json' };
import layerJobSchema from './schemas/layer-job.v1.json' with { type: 'json' };
import resultSchema from './schemas/result.v1.json' with { type: 'json' };
import scanJobSchema from './schemas/scan-job.v1.json' with { type: 'json' };

export const SCHEMAS = {
  'drydock.scan-job/1': scanJobSchema,
  'drydock.layer-job/1': layerJobSchema,
  'drydock.evaluate-job/1': evaluateJobSchema,
  'drydock.result/1': resultSchema,
} as const;

export type SchemaName = keyof typeof SCHEMAS;

export interface ImageName {
  registry: string;
  repository: string;
  digest?: string;
  tag?: string;
}

export interface ScanJob {
  schema: 'drydock.scan-job/1';
  jobId: string;
  image: ImageName;
  reason: 'push' | 'manual' | 'rescan';
  requestedAt: string;
  requestedBy?: string;
}

export interface LayerJob {
  schema: 'drydock.layer-job/1';
  jobId: string;
  /** the image record's digest */
  digest: string;
  image: ImageName;
  layer: { digest: string; size: number; mediaType: string; index: number; diffId?: string };
  cacheKey: string;
  requestedAt: string;
}

export interface EvaluateJob {
  schema: 'drydock.evaluate-job/1';
  jobId: string;
  digest: string;
  /** retag: an analysed digest pushed under a tag no evaluation covered yet */
  /** base: a newer digest of the image's base tag was pushed (the "base patched" announcement): its result carries the rebuild advice */
  reason: 'analysis' | 'rescan' | 'manual' | 'schedule' | 'retag' | 'signature' | 'base';
  /** what caused it (the analysis job id, a feed update's id): part of the idempotency key */
  trigger: string;
  requestedAt: string;
}

/** The trigger prefix of an evaluation a pushed signature asked for (analyze.ts). */
export const SIGNATURE_TRIGGER = 'signature:';

/** The trigger prefix of an evaluation a patched base asked for ("base:<registry>/<repository>:<tag>@<digest>"). */
export const BASE_TRIGGER = 'base:';

export type Verdict = 'pass' | 'warn' | 'fail' | 'error';

export interface FindingBrief {
  id: string;
  severity: string;
  /** whose severity it is: "debian", "osv:GHSA", "nvd", "cna:<name>", "none" (shared/match/severity.ts) */
  severitySource?: string;
  package: string;
  version: string;
  fixedIn?: string;
  /** known exploited (CISA KEV) / likely exploited (FIRST EPSS), when those feeds were loaded */
  kev?: { dateAdded: string; dueDate: string; ransomware?: boolean };
  epss?: { score: number; percentile?: number; date: string };
  /** a multi-platform image: the platforms (os/arch[/variant]) the finding is on */
  platforms?: string[];
  /** with trusted base repositories configured: whether the finding is in the base image's layers or the application's */
  layerGroup?: 'base' | 'application';
}

/** The base image part of a result (DRYDOCK_BASE_REPOSITORIES; shared/base). */
export interface BaseSummary {
  status: 'identified' | 'unknown';
  /** registry/repository[:tag]@digest, when identified */
  reference?: string;
  trusted: boolean;
  /** how it was found: its OCI base annotations (verified against its layers) or its leading layers */
  source?: 'annotation' | 'layers';
  layerCount: number;
  reason: string;
  /** a newer digest of the base's tag */
  newest?: { digest: string; tag: string; pushedAt?: string };
  /** the base's own signature status under the trust policy, when one is configured */
  signature?: string;
}

/** What rebuilding on the newest digest of the base's tag would clear (shared/base/advice.ts). */
export interface RebuildSummary {
  to: string;
  clears: Array<{ id: string; package: string; version: string; severity: string; fixedIn?: string }>;
  remains: number;
  summary: string;
}

/** One platform image's part of a multi-platform result. */
export interface PlatformResult {
  platform: string;
  manifestDigest: string;
  status: Verdict;
  counts: Record<string, number>;
  findings: number;
  highestSeverity?: string;
  distro?: string;
  rulesFired?: number;
}

export interface ResultMessage {
  schema: 'drydock.result/1';
  resultId: string;
  image: { digest: string; manifestDigest?: string; registry: string; repository: string; tags: string[]; platform?: string; distro?: string };
  status: Verdict;
  previousStatus?: Verdict;
  changed: boolean;
  reason?: string;
  highestSeverity?: string;
  counts: Record<string, number>;
  policy?: { bundleId: string; bundleDigest: string; reason?: string; rulesFired?: number; stopRules?: number; warnRules?: number };
  newFindings?: FindingBrief[];
  resolvedFindings?: string[];
  topFindings?: FindingBrief[];
  error?: { code: string; kind?: string; message: string };
  reportKey?: string;
  evaluatedAt: string;
  /** an index: every platform's verdict and counts (status above is the worst of them) */
  platforms?: PlatformResult[];
  /** a retag: the tag(s) this result is published for */
  newTags?: string[];
  /** the advisory data the verdict rests on (optional): coverage of the image's ecosystems, feed ages, problems */
  advisoryData?: AdvisoryDataSummary;
  /** findings an OpenVEX statement suppresses (DRYDOCK_VEX_KEYS): not counted, listed with their reason in the report */
  suppressedFindings?: number;
  /** the image's signature status under the trust policy (DRYDOCK_TRUST_POLICY_KEY); absent without one */
  signature?: { status: 'signed' | 'unsigned' | 'untrusted' | 'invalid' | 'no_policy'; signers: string[]; reason: string };
  /** the base image, with trusted base repositories configured (DRYDOCK_BASE_REPOSITORIES); absent without them */
  base?: BaseSummary;
  /** a newer digest of the base's tag exists and its findings are known: what a rebuild would clear */
  rebuild?: RebuildSummary;
}

/** Coverage and freshness of the advisory data behind a verdict (evaluate.ts). */
export interface AdvisoryDataSummary {
  covered: string[];
  uncovered: string[];
  sources?: Array<{ feed: string; producedAt?: string; syncedAt?: string; ageDays?: number }>;
  oldestAgeDays?: number;
  /** missing or stale data; with accepted false (or absent) the verdict was failed closed */
  problems?: string[];
  /** DRYDOCK_ALLOW_MISSING_ADVISORIES=1: the problems were accepted, the policy's verdict stands */
  accepted?: boolean;
}

/** An ECR "Image Action" event as EventBridge delivers it (the SQS target's body, no input transformer). */
export interface EcrImageActionEvent {
  version: string;
  id: string;
  'detail-type': 'ECR Image Action';
  source: 'aws.ecr';
  account: string;
  time: string;
  region: string;
  resources: unknown[];
  detail: {
    result: 'SUCCESS' | 'FAILURE';
    'repository-name': string;
    'image-digest': string;
    'action-type': 'PUSH' | 'DELETE';
    'image-tag'?: string;
  };
}

/** A body that can never be processed: bad JSON, an unknown or invalid message. Not retried. */
export class PoisonMessageError extends Error {
  constructor(message: string, readonly details: string[] = []) {
    super(details.length ? `${message}: ${details.join('; ')}` : message);
    this.name = 'PoisonMessageError';
  }
}

let ajv: Ajv | undefined;
const validators = new Map<SchemaName, ValidateFunction>();

function validator(name: SchemaName): ValidateFunction {
  let v = validators.get(name);
  if (!v) {
    if (!ajv) {
      ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
      // ajv-formats is CommonJS: its default export arrives wrapped under ESM interop.
      const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (a: Ajv) => Ajv;
      addFormats(ajv);
      for (const s of Object.values(SCHEMAS)) ajv.addSchema(s);
    }
    v = ajv.getSchema(SCHEMAS[name].$id)!;
    validators.set(name, v);
  }
  return v;
}

/** Problems of `data` against the named schema, each with its JSON pointer; empty when valid. */
export function schemaErrors(name: SchemaName, data: unknown): string[] {
  const v = validator(name);
  if (v(data)) return [];
  return (v.errors ?? []).map(describe);
}

function describe(e: ErrorObject): string {
  const where = e.instancePath || '(root)';
  if (e.keyword === 'additionalProperties') return `${where}: unknown property "${(e.params as { additionalProperty: string }).additionalProperty}"`;
  if (e.keyword === 'enum') return `${where}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((x) => JSON.stringify(x)).join(', ')}`;
  return `${where}: ${e.message ?? e.keyword}`;
}

/** Checks an outgoing message; a failure is a bug in the sender, so it throws plainly. */
export function checkOutgoing<T extends { schema: SchemaName }>(msg: T): T {
  const errors = schemaErrors(msg.schema, msg);
  if (errors.length) throw new Error(`refusing to send an invalid ${msg.schema} message: ${errors.join('; ')}`);
  return msg;
}

export type AnalyzerInput =
  | { kind: 'scan'; job: ScanJob }
  | { kind: 'layer'; job: LayerJob }
  /** an ECR DELETE action, or a push that did not succeed */
  | { kind: 'ecr-event'; event: EcrImageActionEvent; action: 'PUSH' | 'DELETE'; succeeded: boolean };

/**
 * What the analyzer's queue carries: a scan job, a layer job, or the ECR event itself (the
 * EventBridge rule's SQS target delivers the event as the body). A successful PUSH becomes a
 * scan job whose id is the event id, so a redelivered event is the same job.
 */
export function parseAnalyzerBody(body: string, opts: { registryFor?: (account: string, region: string) => string } = {}): AnalyzerInput {
  const data = parseJsonBody(body);
  if (data['detail-type'] === 'ECR Image Action' && data.source === 'aws.ecr') {
    const event = checkEcrEvent(data);
    const d = event.detail;
    const succeeded = d.result === 'SUCCESS';
    if (d['action-type'] !== 'PUSH' || !succeeded) return { kind: 'ecr-event', event, action: d['action-type'], succeeded };
    const registry = (opts.registryFor ?? ecrRegistryHost)(event.account, event.region);
    const image: ImageName = { registry, repository: d['repository-name'], digest: d['image-digest'] };
    if (d['image-tag']) image.tag = d['image-tag'];
    const job: ScanJob = { schema: 'drydock.scan-job/1', jobId: `ecr-event:${event.id}`, image, reason: 'push', requestedAt: normaliseTime(event.time) };
    const errors = schemaErrors('drydock.scan-job/1', job);
    if (errors.length) throw new PoisonMessageError('the ECR push event names an image Drydock cannot address', errors);
    return { kind: 'scan', job };
  }
  if (data.schema === 'drydock.scan-job/1') return { kind: 'scan', job: checked<ScanJob>('drydock.scan-job/1', data) };
  if (data.schema === 'drydock.layer-job/1') return { kind: 'layer', job: checked<LayerJob>('drydock.layer-job/1', data) };
  throw new PoisonMessageError(`not a message the analyzer reads (schema ${JSON.stringify(data.schema ?? null)}, detail-type ${JSON.stringify(data['detail-type'] ?? null)}); expected drydock.scan-job/1, drydock.layer-job/1 or an ECR Image Action event`);
}

export function parseEvaluateBody(body: string): EvaluateJob {
  const data = parseJsonBody(body);
  if (data.schema === 'drydock.evaluate-job/1') return checked<EvaluateJob>('drydock.evaluate-job/1', data);
  throw new PoisonMessageError(`not a message the evaluator reads (schema ${JSON.stringify(data.schema ?? null)}); expected drydock.evaluate-job/1`);
}

function parseJsonBody(body: string): Record<string, unknown> {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch (e) {
    throw new PoisonMessageError(`the message body is not JSON (${(e as Error).message}); first bytes: ${JSON.stringify(body.slice(0, 80))}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new PoisonMessageError('the message body is not a JSON object');
  return data as Record<string, unknown>;
}

function checked<T>(name: SchemaName, data: unknown): T {
  const errors = schemaErrors(name, data);
  if (errors.length) throw new PoisonMessageError(`invalid ${name} message`, errors);
  return data as T;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

function checkEcrEvent(data: Record<string, unknown>): EcrImageActionEvent {
  const errors: string[] = [];
  const detail = data.detail as Record<string, unknown> | undefined;
  for (const f of ['id', 'account', 'region', 'time'] as const) if (typeof data[f] !== 'string' || !data[f]) errors.push(`/${f}: missing`);
  if (!detail || typeof detail !== 'object') errors.push('/detail: missing');
  else {
    if (typeof detail['repository-name'] !== 'string' || !detail['repository-name']) errors.push('/detail/repository-name: missing');
    if (typeof detail['image-digest'] !== 'string' || !DIGEST.test(detail['image-digest'])) errors.push(`/detail/image-digest: not a sha256 digest (${JSON.stringify(detail['image-digest'])})`);
    if (detail['action-type'] !== 'PUSH' && detail['action-type'] !== 'DELETE') errors.push(`/detail/action-type: ${JSON.stringify(detail['action-type'])}`);
    if (detail.result !== 'SUCCESS' && detail.result !== 'FAILURE') errors.push(`/detail/result: ${JSON.stringify(detail.result)}`);
  }
  if (errors.length) throw new PoisonMessageError('malformed ECR Image Action event', errors);
  return data as unknown as EcrImageActionEvent;
}

/** The private registry host of an account and region (what ECR events leave implicit). */
export function ecrRegistryHost(account: string, region: string): string {
  return `${account}.dkr.ecr.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

function normaliseTime(t: string): string {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? new Date().toISOString() : d.toISOString();
}

export function newJobId(prefix: string): string {
  return `${prefix}:${randomUUID()}`;
}

/** "registry/repository@digest" (or ":tag" when there is no digest yet). */
export function imageReference(image: ImageName): string {
  const base = `${image.registry}/${image.repository}`;
  if (image.digest) return `${base}@${image.digest}`;
  return `${base}:${image.tag ?? 'latest'}`;
}
