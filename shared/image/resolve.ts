import { DrydockError, type ErrorContext } from '../errors.js';
import type { ImageSource } from '../ports/image-source.js';
import { INDEX_TYPES, MANIFEST_TYPES, MediaType, SCHEMA1_TYPES, layerCompression } from './media-types.js';
import { parseJson } from './oci-layout.js';
import { asConfig, asIndex, asManifest, asObject } from './documents.js';
import { DEFAULT_PLATFORM, isAttestation, selectPlatforms } from './platform.js';
import type { Descriptor, FetchedManifest, ImageConfig, ImageIndex, ImageManifest, Platform, ResolvedImage } from './types.js';

export interface ResolveOptions {
  /** one platform (default linux/amd64), or every image of an index */
  platform?: Platform | 'all';
  /** most layers accepted in one image */
  maxLayers?: number;
  signal?: AbortSignal;
  /** the root document, when the caller fetched it already (not fetched again) */
  root?: FetchedManifest;
  /**
   * Index entries that are not images (attestations are always left out; with this, also
   * entries with an artifactType or whose manifest is not an image, see `notAnImage`) are
   * reported here and left out instead of failing the resolution.
   */
  onSkip?: (descriptor: Descriptor, reason: string) => void;
}

const CONFIG_TYPES = [MediaType.OciConfig, MediaType.DockerConfig] as string[];
const MAX_INDEX_DEPTH = 2;

/**
 * From a source's root document to single-platform images with their configs: indexes are
 * followed to the selected platform(s) (attestations skipped), schema1 is refused, and
 * every layer's media type is checked before any layer is read.
 */
export async function resolveImages(source: ImageSource, image: string, opts: ResolveOptions = {}): Promise<ResolvedImage[]> {
  const root = opts.root ?? (await source.rootManifest(opts.signal));
  const images = await resolveDocument(source, image, root, undefined, opts, 0);
  if (root.names?.length) for (const img of images) img.tags = [...root.names];
  return images;
}

const IN_TOTO = 'application/vnd.in-toto+json';

/**
 * Why a manifest document is not a container image, or undefined when it is one (or an index
 * listing at least one image, or something `resolveImages` will refuse with its own error, such
 * as schema 1). Not images: OCI artifacts (`artifactType`), a config that is not the Docker/OCI
 * image config (cosign, Helm, SBOM and attestation artifacts), or a manifest whose layers are
 * all of types that are not image layers (in-toto attestations, cosign signatures on an image
 * config). A manifest mixing image layers with unknown ones is an image: resolving it fails closed.
 */
export function notAnImage(doc: FetchedManifest): string | undefined {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(doc.bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined; // resolveImages reports the parse error
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const mediaType = typeof json.mediaType === 'string' && json.mediaType ? json.mediaType : doc.mediaType;
  if (typeof json.artifactType === 'string' && json.artifactType) return `not an image: ${json.artifactType}`;
  if (INDEX_TYPES.includes(mediaType) || (!mediaType && Array.isArray(json.manifests))) {
    const entries = Array.isArray(json.manifests) ? (json.manifests as Descriptor[]) : [];
    const images = entries.filter((d) => d && typeof d === 'object' && !isAttestation(d) && !d.artifactType);
    return entries.length > 0 && images.length === 0 ? `not an image: the index lists no image manifests (${[...new Set(entries.map(entryType))].join(', ')})` : undefined;
  }
  if (SCHEMA1_TYPES.includes(mediaType) || json.schemaVersion === 1) return undefined;
  const config = json.config as Descriptor | undefined;
  if (config && typeof config.mediaType === 'string' && !CONFIG_TYPES.includes(config.mediaType)) return `not an image: ${config.mediaType}`;
  const layers = Array.isArray(json.layers) ? (json.layers as Descriptor[]) : [];
  const foreign = layers.filter((l) => !l || typeof l.mediaType !== 'string' || !layerCompression(l.mediaType));
  if (layers.length > 0 && foreign.length === layers.length) {
    const types = [...new Set(foreign.map((l) => String(l?.mediaType)))].join(', ');
    return types.includes(IN_TOTO) ? `not an image: attestation (${types})` : `not an image: ${types}`;
  }
  return undefined;
}

function entryType(d: Descriptor): string {
  if (typeof d !== 'object' || d === null) return String(d); // a malformed entry: resolveImages refuses the index
  return d.artifactType ?? (isAttestation(d) ? 'attestation-manifest' : String(d.mediaType));
}

async function resolveDocument(
  source: ImageSource,
  image: string,
  doc: FetchedManifest,
  indexDigest: string | undefined,
  opts: ResolveOptions,
  depth: number,
): Promise<ResolvedImage[]> {
  const ctx: ErrorContext = { image };
  const json = asObject(parseJson(doc.bytes, `manifest ${doc.digest}`, ctx), `manifest ${doc.digest}`, ctx);
  const mediaType = typeof json.mediaType === 'string' && json.mediaType ? json.mediaType : doc.mediaType;
  if (SCHEMA1_TYPES.includes(mediaType) || json.schemaVersion === 1) {
    throw new DrydockError('SCHEMA1_UNSUPPORTED', 'the image uses Docker manifest schema 1, which is deprecated and not supported; pull and push it again with a current Docker or skopeo to convert it to schema 2', { context: ctx });
  }
  const isIndex = INDEX_TYPES.includes(mediaType) || (!mediaType && Array.isArray(json.manifests));
  if (isIndex) {
    if (depth >= MAX_INDEX_DEPTH) throw new DrydockError('INVALID_MANIFEST', 'image indexes are nested too deeply', { context: ctx });
    const index: ImageIndex = asIndex(json, `index ${doc.digest}`, ctx);
    if (!Array.isArray(index.manifests)) throw new DrydockError('INVALID_MANIFEST', `index ${doc.digest} has no manifests array`, { context: ctx });
    let entries = index.manifests;
    if (opts.onSkip) {
      entries = entries.filter((d) => {
        if (d.artifactType) opts.onSkip!(d, `not an image: ${d.artifactType}`);
        return !d.artifactType;
      });
    }
    const chosen = selectPlatforms(entries, opts.platform ?? DEFAULT_PLATFORM, image);
    const out: ResolvedImage[] = [];
    for (const d of chosen) {
      const child = await source.manifest(d, opts.signal);
      const why = opts.onSkip ? notAnImage(child) : undefined;
      if (why) {
        opts.onSkip!(d, why);
        continue;
      }
      const resolved = await resolveDocument(source, image, child, indexDigest ?? doc.digest, opts, depth + 1);
      out.push(...resolved.map((r) => (d.platform && !r.platform.os ? { ...r, platform: d.platform } : r)));
    }
    return out;
  }
  if (!MANIFEST_TYPES.includes(mediaType) && !(!mediaType && Array.isArray(json.layers))) {
    throw new DrydockError('UNSUPPORTED_MEDIA_TYPE', `unsupported manifest media type "${mediaType || '(none)'}"`, { context: ctx });
  }
  const manifest: ImageManifest = asManifest(json, `manifest ${doc.digest}`, ctx);
  if (!manifest.config || !Array.isArray(manifest.layers)) {
    throw new DrydockError('INVALID_MANIFEST', `manifest ${doc.digest} needs a config and a layers array`, { context: ctx });
  }
  if (!CONFIG_TYPES.includes(manifest.config.mediaType)) {
    throw new DrydockError('UNSUPPORTED_MEDIA_TYPE', `not a container image: config media type "${manifest.config.mediaType}"`, { context: ctx });
  }
  if (opts.maxLayers !== undefined && manifest.layers.length > opts.maxLayers) {
    throw new DrydockError('LIMIT_EXCEEDED', `image has ${manifest.layers.length} layers, more than the limit of ${opts.maxLayers} (limit maxLayers)`, { context: ctx });
  }
  for (const layer of manifest.layers) checkLayer(layer, ctx);
  const config: ImageConfig = asConfig(parseJson(await source.blob(manifest.config, opts.signal), `config ${manifest.config.digest}`, ctx), `config ${manifest.config.digest}`, ctx);
  const diffIds = config.rootfs?.diff_ids ?? [];
  const platform: Platform = { os: config.os ?? '', architecture: config.architecture ?? '' };
  if (config.variant) platform.variant = config.variant;
  if (opts.platform && opts.platform !== 'all' && !indexDigest && platform.os &&
      (platform.os !== opts.platform.os || platform.architecture !== opts.platform.architecture)) {
    throw new DrydockError('PLATFORM_NOT_FOUND', `the image is ${platform.os}/${platform.architecture}, not the requested ${opts.platform.os}/${opts.platform.architecture}`, { context: ctx });
  }
  const resolved: ResolvedImage = {
    reference: image,
    manifestDigest: doc.digest,
    manifest,
    config,
    configDigest: manifest.config.digest,
    platform,
    layers: manifest.layers.map((descriptor, index) => {
      const diffId = diffIds.length === manifest.layers.length ? diffIds[index] : undefined;
      return diffId ? { index, descriptor, diffId } : { index, descriptor };
    }),
  };
  if (indexDigest) resolved.indexDigest = indexDigest;
  return [resolved];
}

function checkLayer(layer: Descriptor, ctx: ErrorContext): void {
  if (typeof layer.digest !== 'string' || typeof layer.size !== 'number' || layer.size < 0) {
    throw new DrydockError('INVALID_MANIFEST', 'a layer descriptor needs a digest and a size', { context: { ...ctx, layer: String(layer.digest) } });
  }
  if (!layerCompression(layer.mediaType)) {
    throw new DrydockError('UNSUPPORTED_MEDIA_TYPE', `unsupported layer media type "${layer.mediaType}" (tar, tar+gzip and tar+zstd layers are read)`, { context: { ...ctx, layer: layer.digest } });
  }
}
