/**
 * The policy engine's model: Anchore Engine policy bundles (version "1_0" and "2"), the data
 * gates read (PolicyContext), gates and triggers (one file per gate under gates/, registered
 * in one list), and the evaluation result.
 */
import type { Distro, Package } from '../catalog/types.js';
import type { Finding, MatchResult } from '../match/index.js';

export type PolicyAction = 'STOP' | 'WARN' | 'GO';
export type Verdict = 'pass' | 'warn' | 'fail';

/** One rule as the bundle writes it; params are strings in Anchore's format. */
export interface PolicyRule {
  id?: string;
  gate: string;
  trigger: string;
  action: PolicyAction;
  params: Array<{ name: string; value: string }>;
  recommendation?: string;
}

export interface Policy {
  id: string;
  name?: string;
  version?: string;
  comment?: string;
  rules: PolicyRule[];
}

export interface AllowlistItem {
  id: string;
  gate: string;
  /** the fired trigger's id ("CVE-2023-1234+openssl"); "*" and a trailing "*" match as in Anchore */
  trigger_id: string;
  /** ISO date-time after which the item no longer applies */
  expires_on?: string;
}

export interface Allowlist {
  id: string;
  name?: string;
  version?: string;
  comment?: string;
  items: AllowlistItem[];
}

/** registry / repository / image globs ("*" wildcards) selecting images. */
export interface ImageSelector {
  registry: string;
  repository: string;
  image: { type: 'tag' | 'digest' | 'id'; value: string };
}

export interface Mapping extends ImageSelector {
  id?: string;
  name?: string;
  policy_ids: string[];
  allowlist_ids: string[];
  /**
   * Drydock: policies evaluated on the base image's layers only / on the application's layers
   * only (shared/base: packages, findings, files of those layers). With no identified base,
   * every layer is the application's.
   */
  base_policy_ids?: string[];
  application_policy_ids?: string[];
}

/** A bundle after validation, normalised to version 2 names (whitelist → allowlist, blacklist → denylist). */
export interface PolicyBundle {
  id: string;
  name?: string;
  version: '1_0' | '2';
  comment?: string;
  policies: Policy[];
  allowlists: Allowlist[];
  mappings: Mapping[];
  allowlisted_images: ImageSelector[];
  denylisted_images: ImageSelector[];
}

/** Image config fields the dockerfile and metadata gates read (from the OCI image config). */
export interface ImageConfigSummary {
  user?: string;
  exposedPorts: string[];
  env: string[];
  entrypoint?: string[];
  cmd?: string[];
  workingDir?: string;
  labels: Record<string, string>;
  /** history `created_by` lines, oldest first (the Dockerfile instructions, as built) */
  history: Array<{ createdBy: string; emptyLayer: boolean }>;
  created?: string;
}

/** Metadata of one file of the squashed image (no contents). */
export interface FileMeta {
  path: string;
  /** mode bits incl. setuid/setgid/sticky and the file type bits when known */
  mode: number;
  size: number;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';
  layer: string;
  linkTarget?: string;
}

/** A named content regex matched in a file (secret_scans, files/content_regex_match). */
export interface ContentMatch {
  /** the regex's name ("AWS_ACCESS_KEY", "ALPINE_NULL_ROOT") */
  name: string;
  path: string;
  layer: string;
}

/** Everything gates may read about one image. Undefined = that data was not collected. */
export interface PolicyContext {
  image: {
    reference: string;
    registry?: string;
    repository?: string;
    tag?: string;
    digest: string;
    /** image id = config digest */
    id: string;
    architecture: string;
    os: string;
    /** compressed size of all layers, bytes */
    size: number;
    layerCount: number;
    config?: ImageConfigSummary;
  };
  distro?: Distro;
  packages: Package[];
  /** undefined when no advisories were available (vulnerability_data_unavailable fires) */
  vulnerabilities?: MatchResult;
  /** when the advisory data was last synced (stale_feed_data) */
  advisoriesUpdatedAt?: Date;
  files?: FileMeta[];
  contentMatches?: ContentMatch[];
  /** /etc/passwd as text, when the image has one */
  passwd?: string;
  /** the image's signature status under the trust policy (shared/trust); undefined when none was configured (image_signature then fails closed) */
  signatures?: import('../trust/index.js').ImageSignatureResult;
  /** the base image under the trusted base list (shared/base); undefined when none was configured (base_image then fails closed) */
  base?: import('../base/types.js').BaseImageInfo;
  /** the image's layers in order (digest, diffId): what the base split compares package and finding layers with */
  layerIds?: import('../base/types.js').LayerId[];
  /** set in the context a base_policy_ids / application_policy_ids policy sees */
  layerGroup?: import('../base/types.js').LayerGroup;
  /** evaluation time (tests set it) */
  now: Date;
}

/** How a param is checked and converted before a trigger sees it. */
export interface ParamSpec {
  name: string;
  description: string;
  required?: boolean;
  /**
   * string; integer / number (decimal text); boolean ("true"/"false"); enum (one of `values`);
   * list (comma-separated, trimmed, non-empty items); regex (compiled with RE2: linear time).
   */
  type: 'string' | 'integer' | 'number' | 'boolean' | 'enum' | 'list' | 'regex';
  values?: readonly string[];
  default?: string;
}

/** Param values after checking: string, number, boolean, string[] or a compiled Re2 matcher. */
export type ParamValues = Record<string, unknown>;

export interface TriggerFire {
  /** stable id allowlist items name: e.g. "CVE-2023-1234+openssl", "22", "root" */
  triggerId: string;
  message: string;
}

export interface Trigger {
  name: string;
  description: string;
  params: readonly ParamSpec[];
  evaluate(ctx: PolicyContext, params: ParamValues): TriggerFire[];
}

export interface Gate {
  name: string;
  /** older names bundles may use (Anchore renames) */
  aliases?: readonly string[];
  description: string;
  triggers: readonly Trigger[];
}

export interface FiredRule {
  policyId: string;
  ruleId?: string;
  gate: string;
  trigger: string;
  triggerId: string;
  action: PolicyAction;
  message: string;
  /** the layers it was evaluated on, for a mapping's base_policy_ids / application_policy_ids */
  layerGroup?: 'base' | 'application';
  /** the allowlist item that suppressed it (it then does not count toward the verdict) */
  allowlistedBy?: { allowlistId: string; itemId: string };
  /** an allowlist item matched but had expired on this date: the rule counts */
  expiredAllowlist?: { allowlistId: string; itemId: string; expiredOn: string };
}

export interface PolicyResult {
  verdict: Verdict;
  /** why: "denylisted image", "allowlisted image", "STOP rule fired", ... */
  reason: string;
  bundleId: string;
  /** sha256 of the bundle's canonical JSON */
  bundleDigest: string;
  mapping?: { id?: string; name?: string };
  policyIds: string[];
  fired: FiredRule[];
  evaluatedAt: string;
  evaluationMs: number;
}

export type { Finding };
