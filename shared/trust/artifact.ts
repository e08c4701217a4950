import { COSIGN_REFERRER_ARTIFACT_TYPE } from './discover.js';
import { NOTATION_ARTIFACT_TYPE } from './notation.js';

/**
 * Whether a pushed manifest is a signature (or the referrers index that lists signatures)
 * rather than an image, and which image it is about: the pipeline re-evaluates that subject
 * instead of scanning the artifact (issue 19, item 2). Decided from the tag and the manifest
 * alone, no registry call:
 *   tag "sha256-<hex>.sig"              cosign's signature tag            → subject sha256:<hex>
 *   tag "sha256-<hex>" (an index)       the OCI referrers tag schema      → subject sha256:<hex>
 *   manifest with `subject` whose artifactType (or config media type) is a Notary Project or
 *   cosign signature                                                       → its subject digest
 */

export type SignatureArtifactKind = 'cosign-tag' | 'referrers-index' | 'notation' | 'cosign';

export interface SignatureArtifact {
  kind: SignatureArtifactKind;
  /** the image to re-evaluate */
  subjectDigest: string;
}

/** Manifests above this are not parsed (the registry's own manifest limit). */
export const MAX_ARTIFACT_MANIFEST_BYTES = 4 * 1024 * 1024;

const SIG_TAG = /^sha256-([a-f0-9]{64})\.sig$/;
const REFERRERS_TAG = /^sha256-([a-f0-9]{64})$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

export function signatureArtifactOf(pushed: { tag?: string; manifest?: Buffer; mediaType?: string }): SignatureArtifact | undefined {
  const sigTag = pushed.tag !== undefined ? SIG_TAG.exec(pushed.tag) : null;
  if (sigTag) return { kind: 'cosign-tag', subjectDigest: `sha256:${sigTag[1]!}` };
  const refTag = pushed.tag !== undefined ? REFERRERS_TAG.exec(pushed.tag) : null;
  let doc: unknown;
  if (pushed.manifest && pushed.manifest.length <= MAX_ARTIFACT_MANIFEST_BYTES) {
    try {
      doc = JSON.parse(pushed.manifest.toString('utf8'));
    } catch {
      doc = undefined;
    }
  }
  // an index, by its media type or (when the event has none) by its content
  const isIndex = pushed.mediaType !== undefined ? INDEX_TYPES.has(pushed.mediaType) : isObject(doc) && Array.isArray(doc.manifests);
  if (refTag && isIndex) return { kind: 'referrers-index', subjectDigest: `sha256:${refTag[1]!}` };
  if (!isObject(doc) || !isObject(doc.subject) || typeof doc.subject.digest !== 'string' || !DIGEST.test(doc.subject.digest)) return undefined;
  const type = typeof doc.artifactType === 'string' ? doc.artifactType : isObject(doc.config) ? doc.config.mediaType : undefined;
  if (type === NOTATION_ARTIFACT_TYPE) return { kind: 'notation', subjectDigest: doc.subject.digest };
  if (type === COSIGN_REFERRER_ARTIFACT_TYPE) return { kind: 'cosign', subjectDigest: doc.subject.digest };
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
