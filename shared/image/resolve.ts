import { DrydockError, type ErrorContext } from '../errors.js';
import type { ImageSource } from '../ports/image-source.js';
import { INDEX_TYPES, MANIFEST_TYPES, MediaType, SCHEMA1_TYPES, layerCompression } from './media-types.js';
import { parseJson } from './oci-layout.js';
import { DEFAULT_PLATFORM, selectPlatforms } from './platform.js';
import type { Descriptor, FetchedManifest, ImageConfig, ImageIndex, ImageManifest, Platform, ResolvedImage } from './types.js';

export interface ResolveOptions {
  /** one platform (default linux/amd64), or every image of an index */
  platform?: Platform | 'all';
  /** most layers accepted in one image */
  maxLayers?: number;
  signal?: AbortSignal;
}

const CONFIG_TYPES = [MediaType.OciConfig, MediaType.DockerConfig] as string[];
const MAX_INDEX_DEPTH = 2;

/**
 * From a source's root document to single-platform images with their configs: indexes are
 * followed to the selected platform(s) (attestations skipped), schema1 is refused, and
 * every layer's media type is checked before any layer is read.
 */
export async function resolveImages(source: ImageSource, image: string, opts: ResolveOptions = {}): Promise<ResolvedImage[]> {
  const root = await source.rootManifest(opts.signal);
  return resolveDocument(source, image, root, undefined, opts, 0);
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
  const json = parseJson(doc.bytes, `manifest ${doc.digest}`, ctx) as Record<string, unknown>;
  const mediaType = typeof json.mediaType === 'string' && json.mediaType ? json.mediaType : doc.mediaType;
  if (SCHEMA1_TYPES.includes(mediaType) || json.schemaVersion === 1) {
    throw new DrydockError('SCHEMA1_UNSUPPORTED', 'the image uses Docker manifest schema 1, which is deprecated and not supported; pull and push it again with a current Docker or skopeo to convert it to schema 2', { context: ctx });
  }
  const isIndex = INDEX_TYPES.includes(mediaType) || (!mediaType && Array.isArray(json.manifests));
  if (isIndex) {
    if (depth >= MAX_INDEX_DEPTH) throw new DrydockError('INVALID_MANIFEST', 'image indexes are nested too deeply', { context: ctx });
    const index = json as unknown as ImageIndex;
    if (!Array.isArray(index.manifests)) throw new DrydockError('INVALID_MANIFEST', `index ${doc.digest} has no manifests array`, { context: ctx });
    const chosen = selectPlatforms(index.manifests, opts.platform ?? DEFAULT_PLATFORM, image);
    const out: ResolvedImage[] = [];
    for (const d of chosen) {
      const child = await source.manifest(d, opts.signal);
      const resolved = await resolveDocument(source, image, child, indexDigest ?? doc.digest, opts, depth + 1);
      out.push(...resolved.map((r) => (d.platform && !r.platform.os ? { ...r, platform: d.platform } : r)));
    }
    return out;
  }
  if (!MANIFEST_TYPES.includes(mediaType) && !(!mediaType && Array.isArray(json.layers))) {
    throw new DrydockError('UNSUPPORTED_MEDIA_TYPE', `unsupported manifest media type "${mediaType || '(none)'}"`, { context: ctx });
  }
  const manifest = json as unknown as ImageManifest;
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
  const config = parseJson(await source.blob(manifest.config, opts.signal), `config ${manifest.config.digest}`, ctx) as ImageConfig;
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
