/**
 * The pipeline's storage and messaging ports (DESIGN.md §2–§3). The core in shared/pipeline
 * reaches AWS only through these; shared/adapters/aws implements them with DynamoDB, S3, SQS,
 * SNS and EventBridge, shared/adapters/local in memory for the CLI and tests.
 */
import type { Readable } from 'node:stream';
import type { ErrorCode, ErrorKind } from '../errors.js';
import type { PackageKey } from './advisory-store.js';

// ---------------------------------------------------------------- images

export type ImageStatus =
  /** a job claimed it and is reading it (or its layer jobs are) */
  | 'analyzing'
  /** the last layer job claimed the assembly */
  | 'assembling'
  /** inventory written, evaluation queued */
  | 'analyzed'
  /** a verdict exists (lastVerdict) */
  | 'evaluated'
  /** a permanent error, or retries exhausted: see `error` */
  | 'failed'
  /** the registry no longer has it */
  | 'deleted'
  /** seen and deliberately not analysed (not an image, an attestation, an untagged push): see `skipReason` */
  | 'skipped';

export interface RecordedError {
  code: ErrorCode | 'POISON_MESSAGE' | 'RETRIES_EXHAUSTED' | 'INTERNAL';
  kind: ErrorKind;
  message: string;
  at: string;
  /** the job kind that failed: scan, layer, evaluate */
  job?: string;
  layer?: string;
}

export interface VerdictSummary {
  status: 'pass' | 'warn' | 'fail' | 'error';
  resultId: string;
  evaluatedAt: string;
  policyId?: string;
  policyDigest?: string;
  highestSeverity?: string;
  findings: number;
}

/** One item per pushed digest (an index digest for multi-platform pushes). */
export interface ImageRecord {
  /** the digest ECR reported for the push (or the root manifest's digest for manual jobs) */
  digest: string;
  registry: string;
  repository: string;
  tags: string[];
  status: ImageStatus;
  /** the platform image actually analysed, when the digest is an index */
  manifestDigest?: string;
  platform?: string;
  distro?: string;
  layers?: string[];
  /** the job that holds the claim (its id), and since when: a stale claim may be taken over */
  claimedBy?: string;
  claimedAt?: string;
  /** catalogers' fingerprint the inventory was made with: a change means re-analysis */
  analysisVersion?: string;
  /** fan-out: cache keys of the layers that layer jobs must finish, and those finished */
  layersPending?: number;
  layersDone?: string[];
  inventoryKey?: string;
  sbomKey?: string;
  packageCount?: number;
  packageKeyCount?: number;
  error?: RecordedError;
  /** receive count of the failing job's last attempt */
  attempts?: number;
  lastVerdict?: VerdictSummary;
  createdAt: string;
  updatedAt: string;
  analyzedAt?: string;
  /** status 'skipped': why ("not an image: <mediaType>", "untagged: analysed when a tag names it") */
  skipReason?: string;
  /** an index: every platform image analysed under it, each with its inventory and verdict */
  platforms?: PlatformAnalysis[];
  /** the tags an evaluation has covered: a pushed tag not among them gets its own (retag) evaluation */
  evaluatedTags?: string[];
  /**
   * The analysed (primary) platform image's layers in manifest order, with their diffIds: what a
   * trusted base candidate is compared by (shared/base). Absent over MAX_RECORDED_LAYER_IDS layers.
   */
  layerIds?: Array<{ digest: string; diffId?: string }>;
  /** the package-index key naming the base the last evaluation identified ("drydock:base" / "<registry>/<repository>:<tag>") */
  baseKey?: string;
}

/** One platform image of an index, analysed under the index's record. */
export interface PlatformAnalysis {
  /** os/arch[/variant] */
  platform: string;
  manifestDigest: string;
  inventoryKey: string;
  sbomKey?: string;
  distro?: string;
  packageCount: number;
  /** this platform image's layers in manifest order, with their diffIds (as ImageRecord.layerIds; within the record's bound) */
  layerIds?: Array<{ digest: string; diffId?: string }>;
  /** this platform's part of the last evaluation */
  lastVerdict?: { status: VerdictSummary['status']; findings: number; highestSeverity?: string; counts?: Record<string, number> };
}

export interface ClaimRequest {
  digest: string;
  registry: string;
  repository: string;
  tag?: string;
  jobId: string;
  analysisVersion: string;
  now: Date;
  /** a claim older than this may be taken over by another job */
  staleAfterMs: number;
}

export type ClaimOutcome =
  /** the caller now holds the claim (new record, a redelivery of its own job, a stale or failed-retryable claim, or a new analysisVersion) */
  | { claimed: true; record: ImageRecord }
  /** analysed already with this analysisVersion (the tag, if new, was added) */
  | { claimed: false; why: 'done'; record: ImageRecord }
  /** another job holds a fresh claim */
  | { claimed: false; why: 'busy'; record: ImageRecord }
  /** failed permanently before, or deleted: not retried by a duplicate */
  | { claimed: false; why: 'failed' | 'deleted'; record: ImageRecord };

/** Thrown by conditional updates whose condition no longer holds. */
export class ConditionFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConditionFailedError';
  }
}

export interface ImageStore {
  get(digest: string): Promise<ImageRecord | undefined>;
  /** Creates or claims the record for analysis in one conditional write (see ClaimOutcome). */
  claim(req: ClaimRequest): Promise<ClaimOutcome>;
  /**
   * Sets the fields of `patch` (undefined values remove the field). With `expect`, only when the
   * record's status is one of them (and, with `claimedBy`, still held by that job): else
   * ConditionFailedError.
   */
  update(digest: string, patch: Partial<Omit<ImageRecord, 'digest' | 'createdAt'>>, expect?: { status?: ImageStatus[]; claimedBy?: string }): Promise<ImageRecord>;
  /** Adds a finished layer key to the set atomically (set add is idempotent); returns the set size and layersPending. */
  addLayerDone(digest: string, layerKey: string, now: Date): Promise<{ done: number; pending: number; status: ImageStatus }>;
  /** Most recently updated first; `repository` narrows it. */
  list(opts: { limit: number; repository?: string }): Promise<ImageRecord[]>;
  /** The records of these digests that exist, keyed by digest (absent digests are not in the map; duplicates are read once). */
  getMany(digests: readonly string[]): Promise<Map<string, ImageRecord>>;
}

// ---------------------------------------------------------------- package index

/** One entry per (package key, image digest): "which images contain openssl on Debian 12?" is a Query. */
export interface PackageIndexEntry {
  key: PackageKey;
  digest: string;
  repository: string;
  /** installed versions of the packages behind this key in that image (source versions for dpkg) */
  versions: string[];
}

export interface PackageIndex {
  /** Writes the entries (batched; unprocessed items retried) and removes this image's entries for keys no longer present. */
  replaceForImage(digest: string, entries: PackageIndexEntry[], previousKeys?: PackageKey[]): Promise<{ written: number; deleted: number }>;
  /** The digests of the images holding the key (a Query, paged through). */
  imagesFor(key: PackageKey): Promise<PackageIndexEntry[]>;
}

// ---------------------------------------------------------------- results

export interface ResultRecord extends VerdictSummary {
  digest: string;
  repository: string;
  /** why this evaluation ran: analysis, rescan (with the trigger), manual */
  reason: string;
  counts: Record<string, number>;
  /** the full result (findings, fired rules) in the object store */
  reportKey: string;
  /** finding ids at this evaluation, for the next one's delta */
  findingIds: string[];
  rulesFired: number;
  /** the signature status under the trust policy at this evaluation (the next one's "changed") */
  signatureState?: string;
  /** the base's status, trust, digest, newest digest and cleared-finding count at this evaluation (the next one's "changed") */
  baseState?: string;
  error?: RecordedError;
}

export interface ResultStore {
  /** Appends to the image's history; the same resultId twice is written once. */
  append(result: ResultRecord): Promise<void>;
  latest(digest: string): Promise<ResultRecord | undefined>;
  history(digest: string, limit: number): Promise<ResultRecord[]>;
}

// ---------------------------------------------------------------- objects (S3)

export interface ObjectStore {
  /** Writes the object whole; a stream is uploaded as it is read. */
  put(key: string, body: Buffer | string | Readable, opts?: { contentType?: string; contentEncoding?: string }): Promise<void>;
  /** The object's bytes, or undefined when it does not exist. */
  get(key: string): Promise<Buffer | undefined>;
  /** The object as a stream, or undefined when it does not exist. */
  open(key: string): Promise<Readable | undefined>;
  exists(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
}

// ---------------------------------------------------------------- messaging

export interface SendOptions {
  delaySeconds?: number;
  /** for FIFO queues; ignored by standard queues */
  deduplicationId?: string;
  groupId?: string;
  attributes?: Record<string, string>;
}

/** A queue of JSON messages (scan jobs, layer jobs, evaluate jobs, dead letters). */
export interface JobQueue {
  send(body: unknown, opts?: SendOptions): Promise<void>;
  /** Sends in batches of the queue's limit (10 for SQS), retrying entries that failed. */
  sendBatch(bodies: readonly unknown[], opts?: SendOptions): Promise<void>;
}

/** Publishes a message with string attributes subscribers can filter on (SNS). */
export interface Publisher {
  publish(message: unknown, attributes: Record<string, string>): Promise<{ messageId: string }>;
}

export interface BusEvent {
  source: string;
  detailType: string;
  detail: unknown;
}

/** Puts events on an event bus (EventBridge), in batches within its size and count limits. */
export interface EventBus {
  put(events: readonly BusEvent[]): Promise<{ failed: number }>;
}

// ---------------------------------------------------------------- registry (ECR)

export interface RegistryApi {
  /** Whether the registry still has the image (ECR DescribeImages); undefined when it cannot tell. */
  imageExists(repository: string, digest: string, registryId?: string): Promise<boolean | undefined>;
  /** Every repository of the registry (ECR DescribeRepositories, paged through). */
  listRepositories(): AsyncIterable<RegistryRepository>;
  /** The repository's tagged images (ECR DescribeImages, tagStatus TAGGED, paged through). */
  listImages(repository: string): AsyncIterable<RegistryImage>;
}

export interface RegistryRepository {
  name: string;
  /** the registry (AWS account) id */
  registryId: string;
}

export interface RegistryImage {
  repository: string;
  registryId: string;
  digest: string;
  /** as the registry lists them; the first is the one a job names */
  tags: string[];
  pushedAt?: string;
}
