import { DrydockError, type ErrorContext } from '../errors.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest, Platform } from './types.js';

/**
 * Shape checks for the JSON documents of an image (registry, OCI layout or archive):
 * indexes, manifests, their descriptors and image configs. A document comes from whoever
 * built or serves the image, so `null`, a string where an object belongs or a size that is
 * not a number is refused here, where the document is parsed, as INVALID_MANIFEST naming
 * the image and the document ("manifest sha256:…", "index … entry 3", "config …"),
 * instead of failing later as a TypeError deep in the code that trusted the type.
 *
 * Only what Drydock reads is checked; unknown fields are left alone, as the specs ask.
 */

type Json = Record<string, unknown>;

function invalid(what: string, problem: string, context: ErrorContext): DrydockError {
  return new DrydockError('INVALID_MANIFEST', `${what} ${problem}`, { context });
}

/** What a JSON value is, for messages: "null", "an array", "a string", ... */
export function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

export function isJsonObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The document as an object, or INVALID_MANIFEST "<what> is not a JSON object (null)". */
export function asObject(doc: unknown, what: string, context: ErrorContext): Json {
  if (!isJsonObject(doc)) throw invalid(what, `is not a JSON object (${jsonKind(doc)})`, context);
  return doc;
}

function optionalString(o: Json, field: string, what: string, context: ErrorContext): void {
  if (o[field] !== undefined && typeof o[field] !== 'string') throw invalid(what, `has a "${field}" that is ${jsonKind(o[field])}, not a string`, context);
}

function optionalStringMap(o: Json, field: string, what: string, context: ErrorContext, nullable = false): void {
  const v = o[field];
  if (v === undefined || (nullable && v === null)) return;
  if (!isJsonObject(v)) throw invalid(what, `has "${field}" that is ${jsonKind(v)}, not an object`, context);
  for (const [k, s] of Object.entries(v)) {
    if (typeof s !== 'string') throw invalid(what, `has "${field}" entry "${k.slice(0, 80)}" that is ${jsonKind(s)}, not a string`, context);
  }
}

function optionalStringArray(o: Json, field: string, what: string, context: ErrorContext, nullable = false): void {
  const v = o[field];
  if (v === undefined || (nullable && v === null)) return;
  if (!Array.isArray(v)) throw invalid(what, `has "${field}" that is ${jsonKind(v)}, not an array`, context);
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'string') throw invalid(what, `has "${field}" item ${i} that is ${jsonKind(v[i])}, not a string`, context);
  }
}

function checkPlatform(p: unknown, what: string, context: ErrorContext): Platform {
  const o = asObject(p, `${what} platform`, context);
  for (const f of ['os', 'architecture'] as const) {
    if (typeof o[f] !== 'string') throw invalid(`${what} platform`, `has "${f}" that is ${jsonKind(o[f])}, not a string`, context);
  }
  optionalString(o, 'variant', `${what} platform`, context);
  optionalString(o, 'os.version', `${what} platform`, context);
  optionalStringArray(o, 'os.features', `${what} platform`, context);
  return o as unknown as Platform;
}

/**
 * A content descriptor: an object with a string digest and a size that is a whole number
 * of bytes, a string mediaType when present (`mediaTypeRequired` for manifests' config and
 * layers), and well-typed platform, annotations, urls and artifactType when present.
 */
export function asDescriptor(d: unknown, what: string, context: ErrorContext, mediaTypeRequired = false): Descriptor {
  const o = asObject(d, what, context);
  if (typeof o.digest !== 'string' || o.digest === '') throw invalid(what, `has "digest" that is ${jsonKind(o.digest)}, not a digest string`, context);
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) {
    throw invalid(what, `has "size" ${typeof o.size === 'number' ? String(o.size) : `that is ${jsonKind(o.size)}`}, not a whole number of bytes`, context);
  }
  if (mediaTypeRequired ? typeof o.mediaType !== 'string' : o.mediaType !== undefined && typeof o.mediaType !== 'string') {
    throw invalid(what, `has "mediaType" that is ${jsonKind(o.mediaType)}, not a string`, context);
  }
  optionalString(o, 'artifactType', what, context);
  optionalStringMap(o, 'annotations', what, context);
  optionalStringArray(o, 'urls', what, context);
  if (o.platform !== undefined) checkPlatform(o.platform, what, context);
  return o as unknown as Descriptor;
}

/** An image index: a `manifests` array whose every entry is a descriptor ("<what> entry n"). */
export function asIndex(doc: unknown, what: string, context: ErrorContext): ImageIndex {
  const o = asObject(doc, what, context);
  if (!Array.isArray(o.manifests)) throw invalid(what, `has no manifests array ("manifests" is ${jsonKind(o.manifests)})`, context);
  optionalString(o, 'mediaType', what, context);
  optionalStringMap(o, 'annotations', what, context);
  const entries = o.manifests as unknown[];
  for (let i = 0; i < entries.length; i++) asDescriptor(entries[i], `${what} entry ${i}`, context);
  return o as unknown as ImageIndex;
}

/** An image manifest: a config descriptor and a layers array of descriptors ("<what> layer n"). */
export function asManifest(doc: unknown, what: string, context: ErrorContext): ImageManifest {
  const o = asObject(doc, what, context);
  if (o.config === undefined || !Array.isArray(o.layers)) throw invalid(what, 'needs a config and a layers array', context);
  optionalString(o, 'mediaType', what, context);
  optionalStringMap(o, 'annotations', what, context);
  asDescriptor(o.config, `${what} config`, context, true);
  const layers = o.layers as unknown[];
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i];
    const digest = isJsonObject(layer) && typeof layer.digest === 'string' ? layer.digest : undefined;
    asDescriptor(layer, `${what} layer ${i}`, digest ? { ...context, layer: digest } : context, true);
  }
  return o as unknown as ImageManifest;
}

/**
 * An image config: an object whose os / architecture / variant are strings, rootfs an
 * object with a diff_ids array of strings, and the runtime config's fields Drydock reads
 * (User, WorkingDir, Env, Entrypoint, Cmd, Labels, ExposedPorts) of their types; `null`
 * is accepted where Docker writes it (Entrypoint, Cmd, Labels, and the config itself).
 */
export function asConfig(doc: unknown, what: string, context: ErrorContext): ImageConfig {
  const o = asObject(doc, what, context);
  for (const f of ['os', 'architecture', 'variant', 'created']) optionalString(o, f, what, context);
  if (o.rootfs !== undefined) {
    const rootfs = asObject(o.rootfs, `${what} rootfs`, context);
    optionalStringArray(rootfs, 'diff_ids', `${what} rootfs`, context);
  }
  if (o.config !== undefined && o.config !== null) {
    const c = asObject(o.config, `${what} config`, context);
    for (const f of ['User', 'WorkingDir']) optionalString(c, f, `${what} config`, context);
    optionalStringArray(c, 'Env', `${what} config`, context, true);
    optionalStringArray(c, 'Entrypoint', `${what} config`, context, true);
    optionalStringArray(c, 'Cmd', `${what} config`, context, true);
    optionalStringMap(c, 'Labels', `${what} config`, context, true);
    if (c.ExposedPorts !== undefined && c.ExposedPorts !== null && !isJsonObject(c.ExposedPorts)) {
      throw invalid(`${what} config`, `has "ExposedPorts" that is ${jsonKind(c.ExposedPorts)}, not an object`, context);
    }
  } else if (o.config === null) {
    delete o.config;
  }
  if (o.history !== undefined) {
    if (!Array.isArray(o.history)) throw invalid(what, `has "history" that is ${jsonKind(o.history)}, not an array`, context);
    for (let i = 0; i < o.history.length; i++) {
      const h = asObject(o.history[i], `${what} history ${i}`, context);
      for (const f of ['created', 'created_by', 'comment']) optionalString(h, f, `${what} history ${i}`, context);
    }
  }
  return o as unknown as ImageConfig;
}
