/**
 * Base images (issue 19, items 3–4): which image an application image was built on, which of
 * its layers are the base's, and whether a newer digest of that base's tag would clear
 * findings. Pure data; shared/base/identify.ts fills it, the CLI and the evaluator feed it.
 */

/** A layer as both sides know it: the compressed digest, and the diffId when the config was read. */
export interface LayerId {
  digest: string;
  diffId?: string;
}

/** One digest of a trusted base repository, as the CLI resolved it or the pipeline tracked it. */
export interface BaseCandidate {
  registry: string;
  repository: string;
  /** the platform manifest's digest */
  digest: string;
  /** the index it was selected from, when the tag names an index */
  indexDigest?: string;
  /** the tags it holds (the pipeline: every tag ECR reported for it; the CLI: the tag it resolved) */
  tags: string[];
  layers: LayerId[];
  /** when it was pushed (or first seen): the newest candidate of a tag is the one a rebuild would get */
  pushedAt?: string;
}

export type LayerGroup = 'base' | 'application';

export interface BaseImageInfo {
  /** identified: a candidate's layers are the image's leading layers; unknown: none is (and no annotation could be verified) */
  status: 'identified' | 'unknown';
  /** how it was found: the OCI annotations org.opencontainers.image.base.{name,digest}, or its leading layers */
  source?: 'annotation' | 'layers';
  /** registry/repository[:tag]@digest */
  reference?: string;
  registry?: string;
  repository?: string;
  tag?: string;
  digest?: string;
  /** how many of the image's leading layers are the base's (0 when unknown) */
  layerCount: number;
  /** whether the trusted base list names its repository (and tag, when the list names tags) */
  trusted: boolean;
  /** one sentence: why it is (not) identified, (not) trusted */
  reason: string;
  /** a newer digest of the same base tag, when one is known: a rebuild would take it */
  newest?: { digest: string; tag: string; pushedAt?: string };
  /** the base's own signature status under the trust policy, when it was checked */
  signature?: { status: string; signers: string[]; reason?: string };
}

/** A finding a rebuild on the newest base would clear: in the base's layers, absent from the newest base. */
export interface ClearedFinding {
  id: string;
  package: string;
  version: string;
  severity: string;
  fixedIn?: string;
}

export interface RebuildAdvice {
  /** the base the image was built on, and the digest a rebuild would take */
  base: string;
  from: string;
  to: string;
  clears: ClearedFinding[];
  /** findings in the base's layers that the newest base still has */
  remains: number;
  /** one sentence for people */
  summary: string;
}
