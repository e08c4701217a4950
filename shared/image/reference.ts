import { DrydockError } from '../errors.js';

/**
 * Image references as users type them:
 *   registry refs   [host[:port]/]repo[:tag][@sha256:…]   (Docker Hub: "nginx" → docker.io/library/nginx:latest)
 *   ECR             <account>.dkr.ecr.<region>.amazonaws.com/repo:tag
 *   local sources   oci:<dir>[:tag]   oci-archive:<tar>[:tag]   docker-archive:<tar>[:repo:tag] (the tar's path ends at its first ":")
 *   engines         docker:<name>  (also docker-daemon:<name>)   podman:<name>   — the image as the local
 *                   Docker Engine or Podman holds it; `docker://host/repo:tag` is a registry reference
 *   bare paths      /abs, ./rel, ../rel, ~/…, dir/, or a name ending in .tar: kind "path", told apart by
 *                   content when opened (shared/image/open.ts)
 */
export type ImageReference = RegistryReference | LocalReference;

export interface RegistryReference {
  kind: 'registry';
  /** the host as named, e.g. "docker.io", "127.0.0.1:5000" */
  registry: string;
  /** repository path, e.g. "library/nginx" */
  repository: string;
  tag?: string;
  digest?: string;
  /** set when the host is an ECR private registry */
  ecr?: { accountId: string; region: string; fips: boolean };
  /** the reference as the user gave it */
  original: string;
}

export interface LocalReference {
  /** 'docker-daemon' / 'podman': `path` is the image's name or id as the engine knows it; 'path': not yet told apart */
  kind: 'oci' | 'oci-archive' | 'docker-archive' | 'docker-daemon' | 'podman' | 'path';
  path: string;
  /** oci / oci-archive: the org.opencontainers.image.ref.name to pick; docker-archive: a RepoTag */
  tag?: string;
  original: string;
}

export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's registry API actually answers. */
export const DOCKER_HUB_API = 'registry-1.docker.io';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;
const ECR_HOST = /^(\d{12})\.dkr\.ecr(-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

export function parseReference(input: string): ImageReference {
  const ref = input.trim();
  if (!ref) throw bad(input, 'the reference is empty');
  for (const kind of ['oci-archive', 'docker-archive', 'oci'] as const) {
    if (ref.startsWith(`${kind}:`)) return parseLocal(kind, ref.slice(kind.length + 1), input);
  }
  // skopeo's transport name for a registry
  if (ref.startsWith('docker://')) return parseRegistry(ref.slice('docker://'.length), input);
  for (const [prefix, kind] of [['docker-daemon:', 'docker-daemon'], ['docker:', 'docker-daemon'], ['podman:', 'podman']] as const) {
    if (ref.startsWith(prefix)) return parseEngine(kind, ref.slice(prefix.length), input);
  }
  if (isPathLike(ref)) return { kind: 'path', path: ref, original: input };
  return parseRegistry(ref, input);
}

/** An argument that names a file or directory, never a registry image: it is not looked up in a registry. */
export function isPathLike(ref: string): boolean {
  return /^(?:\/|\.{1,2}(?:\/|$)|~\/)/.test(ref) || (ref.endsWith('/') && !/^(?:[^/]*[.:][^/]*|localhost)\//.test(ref)) || (!ref.includes(':') && /\.(?:tar|tar\.gz|tgz)$/i.test(ref));
}

/** An image name or id as a container engine knows it: a docker reference, or a (short) image id. */
const ENGINE_NAME = /^(?:sha256:)?[a-f0-9]{12,64}$|^[a-zA-Z0-9][a-zA-Z0-9._/:@-]{0,511}$/;

function parseEngine(kind: 'docker-daemon' | 'podman', name: string, original: string): LocalReference {
  const engine = kind === 'podman' ? 'podman' : 'docker';
  if (!name) throw bad(original, `${engine}: needs an image name or id, e.g. ${engine}:app:dev`);
  if (!ENGINE_NAME.test(name) || name.includes('..')) throw bad(original, `"${name}" is not an image name or id`);
  return { kind, path: name, original };
}

function parseLocal(kind: LocalReference['kind'], rest: string, original: string): LocalReference {
  if (!rest) throw bad(original, `${kind}: needs a path, e.g. ${kind}:/path/to/${kind === 'oci' ? 'layout' : 'image.tar'}`);
  // oci / oci-archive: a tag follows the last ":" that comes after the last "/" (paths may hold
  // ":" in directory names). docker-archive: the path ends at the first ":", as skopeo and
  // containers/image read it, because its tag is a whole docker reference that may itself hold
  // "/" and ":" (docker-archive:save.tar:docker.io/library/debian:bookworm).
  let path: string;
  let tag: string;
  if (kind === 'docker-archive') {
    const colon = rest.indexOf(':');
    if (colon < 0) return { kind, path: rest, original };
    path = rest.slice(0, colon);
    tag = rest.slice(colon + 1);
  } else {
    const slash = rest.lastIndexOf('/');
    const tail = rest.slice(slash + 1);
    const colon = tail.lastIndexOf(':');
    if (colon < 0) return { kind, path: rest, original };
    path = rest.slice(0, slash + 1 + colon);
    tag = tail.slice(colon + 1);
  }
  if (!path) throw bad(original, `${kind}: needs a path before the tag`);
  if (!tag) return { kind, path, original };
  return { kind, path, tag, original };
}

function parseRegistry(ref: string, original: string): RegistryReference {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(original, `"${digest}" is not a digest (expected sha256:<64 hex digits>)`);
    if (digest.startsWith('sha256:') && !SHA256.test(digest)) throw bad(original, `"${digest}" is not a sha256 digest (64 lowercase hex digits)`);
  }
  let registry = DOCKER_HUB;
  const firstSlash = rest.indexOf('/');
  if (firstSlash >= 0) {
    const first = rest.slice(0, firstSlash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || /[A-Z]/.test(first)) {
      registry = first;
      rest = rest.slice(firstSlash + 1);
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.indexOf(':', lastSlash + 1);
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(original, `"${tag}" is not a valid tag`);
  }
  if (!rest) throw bad(original, 'the repository name is empty');
  if (registry === 'index.docker.io' || registry === DOCKER_HUB_API) registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !rest.includes('/')) rest = `library/${rest}`;
  for (const part of rest.split('/')) {
    if (!COMPONENT.test(part)) {
      throw bad(original, `"${part}" is not a valid repository name component (lowercase letters, digits and . _ - separators)`);
    }
  }
  if (rest.length > 255) throw bad(original, 'the repository name is longer than 255 characters');
  if (!tag && !digest) tag = 'latest';
  const out: RegistryReference = { kind: 'registry', registry, repository: rest, original };
  if (tag) out.tag = tag;
  if (digest) out.digest = digest;
  const m = ECR_HOST.exec(registry);
  if (m) out.ecr = { accountId: m[1]!, region: m[3]!, fips: Boolean(m[2]) };
  return out;
}

/** The tag or digest to ask the registry for (a digest wins over a tag). */
export function manifestReference(ref: RegistryReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/** The host to send API requests to. */
export function apiHost(ref: RegistryReference): string {
  return ref.registry === DOCKER_HUB ? DOCKER_HUB_API : ref.registry;
}

/** Canonical form: docker.io/library/nginx:latest, host/repo@sha256:… */
export function formatReference(ref: ImageReference): string {
  if (ref.kind === 'path') return ref.path;
  if (ref.kind !== 'registry') return ref.tag ? `${ref.kind}:${ref.path}:${ref.tag}` : `${ref.kind}:${ref.path}`;
  let s = `${ref.registry}/${ref.repository}`;
  if (ref.tag) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}

/** True for hosts that may be spoken to over plain http without --insecure-registry. */
export function isLoopbackHost(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(1, registry.indexOf(']')) : registry.replace(/:\d+$/, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function bad(ref: string, why: string): DrydockError {
  return new DrydockError('BAD_REFERENCE', `cannot parse image reference "${ref}": ${why}`);
}
