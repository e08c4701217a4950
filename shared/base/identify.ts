import { isTrusted, type TrustedBaseList } from './list.js';
import type { BaseCandidate, BaseImageInfo, LayerId } from './types.js';

/** The OCI pre-defined annotations a builder may set on the manifest (or as config labels). */
export const BASE_NAME_ANNOTATION = 'org.opencontainers.image.base.name';
export const BASE_DIGEST_ANNOTATION = 'org.opencontainers.image.base.digest';

export interface ImageLayers {
  /** the platform manifest's digest (a candidate with this digest is the image itself, never its base) */
  digest: string;
  layers: readonly LayerId[];
  /** manifest annotations, then config labels: the first that has the base keys wins */
  annotations?: Readonly<Record<string, string>>;
}

/** What the annotations claim, parsed: `name` is "<registry>/<repository>[:tag]" as the builder wrote it. */
export interface AnnotatedBase {
  name?: string;
  registry?: string;
  repository?: string;
  tag?: string;
  digest?: string;
}

export function annotatedBase(annotations: Readonly<Record<string, string>> | undefined): AnnotatedBase | undefined {
  const name = annotations?.[BASE_NAME_ANNOTATION]?.trim();
  const digest = annotations?.[BASE_DIGEST_ANNOTATION]?.trim();
  if (!name && !digest) return undefined;
  const out: AnnotatedBase = {};
  if (digest && /^sha256:[0-9a-f]{64}$/.test(digest)) out.digest = digest;
  if (name) {
    out.name = name;
    const at = name.indexOf('@');
    const bare = at >= 0 ? name.slice(0, at) : name;
    const slash = bare.indexOf('/');
    const colon = bare.lastIndexOf(':');
    const repoPart = colon > slash ? bare.slice(0, colon) : bare;
    if (colon > slash) out.tag = bare.slice(colon + 1);
    const first = repoPart.split('/')[0]!;
    // "debian:12" and "library/debian" are Docker Hub names, as the reference grammar reads them
    if (slash < 0 || !(first.includes('.') || first.includes(':') || first === 'localhost')) {
      out.registry = 'docker.io';
      out.repository = slash < 0 ? `library/${repoPart}` : repoPart;
    } else {
      out.registry = first;
      out.repository = repoPart.slice(first.length + 1);
    }
    if (!out.digest && at >= 0 && /^sha256:[0-9a-f]{64}$/.test(name.slice(at + 1))) out.digest = name.slice(at + 1);
  }
  return out;
}

/** diffIds when both sides have them (they survive recompression), else compressed digests. */
function sameLayer(a: LayerId, b: LayerId): boolean {
  if (a.diffId && b.diffId) return a.diffId === b.diffId;
  return a.digest === b.digest;
}

function isPrefix(base: readonly LayerId[], image: readonly LayerId[]): boolean {
  if (base.length === 0 || base.length > image.length) return false;
  return base.every((l, i) => sameLayer(l, image[i]!));
}

const newer = (a: BaseCandidate, b: BaseCandidate): boolean => (a.pushedAt ?? '') > (b.pushedAt ?? '');

/**
 * Which base the image was built on. The annotations are believed only when a candidate with
 * the digest they name has layers that are the image's leading layers (a builder can write
 * anything there); otherwise the longest candidate whose layers lead the image's wins, the
 * newest among equals. Never trusted for being named: trust comes from the list.
 */
export function identifyBase(image: ImageLayers, candidates: readonly BaseCandidate[], list: TrustedBaseList): BaseImageInfo {
  const others = candidates.filter((c) => c.digest !== image.digest);
  const claimed = annotatedBase(image.annotations);
  let chosen: BaseCandidate | undefined;
  let source: BaseImageInfo['source'];
  let note = '';
  if (claimed?.digest) {
    const named = others.find((c) => c.digest === claimed.digest || c.indexDigest === claimed.digest);
    if (named && isPrefix(named.layers, image.layers)) {
      chosen = named;
      source = 'annotation';
    } else if (named) note = `; the annotations name ${claimed.name ?? claimed.digest}, whose layers are not this image's leading layers`;
    else note = `; the annotations name ${claimed.name ?? claimed.digest}, a digest no trusted base list entry was resolved to`;
  }
  if (!chosen) {
    for (const c of others) {
      if (!isPrefix(c.layers, image.layers)) continue;
      if (!chosen || c.layers.length > chosen.layers.length || (c.layers.length === chosen.layers.length && newer(c, chosen))) chosen = c;
    }
    if (chosen) source = 'layers';
  }
  if (!chosen) {
    return {
      status: 'unknown',
      layerCount: 0,
      trusted: false,
      reason: `no trusted base image's layers are this image's leading layers (${others.length} base digest${others.length === 1 ? '' : 's'} compared)${note}`,
    };
  }
  const tag = pickTag(chosen, claimed, list);
  const trusted = isTrusted(list, chosen.registry, chosen.repository, tag);
  const info: BaseImageInfo = {
    status: 'identified',
    source: source!,
    reference: `${chosen.registry}/${chosen.repository}${tag !== undefined ? `:${tag}` : ''}@${chosen.indexDigest ?? chosen.digest}`,
    registry: chosen.registry,
    repository: chosen.repository,
    digest: chosen.indexDigest ?? chosen.digest,
    layerCount: chosen.layers.length,
    trusted,
    reason: `${source === 'annotation' ? 'named by its annotations and' : 'identified by'} its ${chosen.layers.length} leading layer${chosen.layers.length === 1 ? '' : 's'}; ${trusted ? 'in the trusted base list' : `not in the trusted base list (${list.source})`}${note}`,
  };
  if (tag !== undefined) info.tag = tag;
  if (tag !== undefined) {
    let latest = chosen;
    for (const c of others) if (c.registry === chosen.registry && c.repository === chosen.repository && c.tags.includes(tag) && newer(c, latest)) latest = c;
    if (latest !== chosen && (latest.indexDigest ?? latest.digest) !== info.digest) {
      info.newest = { digest: latest.indexDigest ?? latest.digest, tag, ...(latest.pushedAt ? { pushedAt: latest.pushedAt } : {}) };
    }
  }
  return info;
}

/** The tag the base is known by: the annotation's, else one the list names, else its first. */
function pickTag(c: BaseCandidate, claimed: AnnotatedBase | undefined, list: TrustedBaseList): string | undefined {
  if (claimed?.tag && claimed.repository === c.repository) return claimed.tag;
  const listed = c.tags.find((t) => isTrusted(list, c.registry, c.repository, t));
  return listed ?? c.tags[0];
}

