import { open as openFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DrydockError } from '../errors.js';
import type { ImageSource } from '../ports/image-source.js';
import type { CredentialProvider } from './auth.js';
import type { DaemonOptions } from './docker-daemon.js';
import { OciLayoutSource } from './oci-layout.js';
import { parseReference, type ImageReference } from './reference.js';
import type { RegistryTimeouts } from './registry.js';
import { TarIndex } from './tar-index.js';

export interface OpenOptions {
  /** registries spoken to over plain http (loopback registries are tried over https first, then http) */
  insecureRegistries?: string[];
  credentials?: CredentialProvider;
  /** time bounds on registry requests (defaults: DEFAULT_REGISTRY_TIMEOUTS) */
  registryTimeouts?: Partial<RegistryTimeouts>;
  /**
   * Local container engines (docker:/podman: references, and bare names): the environment
   * naming their sockets, where exports are spooled (the CLI passes its cache dir), the size limit.
   */
  engines?: DaemonOptions;
  /**
   * Whether a registry reference given as a string (without a digest) is first looked for in a
   * local engine, as `docker run` would find it: only when an engine socket exists and the
   * engine has the image. Default true for strings; references given parsed never are.
   */
  engineLookup?: boolean;
}

/*
 * Start-up (issue 18): an OCI layout is read with oci-layout.ts alone; the registry client
 * (node:http, node:tls, its auth), the engine client (node:http) and the docker-archive reader
 * are imported only for a reference of their kind, so a local scan does not load them.
 */

/** What to write instead of a path that is no image. */
const PREFIXES = 'oci:<layout dir>, oci-archive:<tar>, docker-archive:<tar>, docker:<name> or podman:<name>';

/**
 * The ImageSource for a reference string: a registry, an OCI layout or archive, a docker
 * archive, a local engine's image, or a bare path told apart by its content.
 */
export async function openSource(input: string | ImageReference, opts: OpenOptions = {}): Promise<ImageSource> {
  const ref = typeof input === 'string' ? parseReference(input) : input;
  switch (ref.kind) {
    case 'oci':
      return OciLayoutSource.fromDir(ref.path, ref.tag, ref.original);
    case 'oci-archive':
      return OciLayoutSource.fromArchive(ref.path, ref.tag, ref.original);
    case 'docker-archive':
      return (await import('./docker-archive.js')).DockerArchiveSource.open(ref.path, ref.tag, ref.original);
    case 'docker-daemon':
      return (await import('./docker-daemon.js')).DaemonImageSource.open('docker', ref.path, ref.original, opts.engines);
    case 'podman':
      return (await import('./docker-daemon.js')).DaemonImageSource.open('podman', ref.path, ref.original, opts.engines);
    case 'path':
      return openPath(ref.path, ref.original);
    case 'registry': {
      if (typeof input === 'string' && opts.engineLookup !== false && !ref.digest) {
        const name = input.trim();
        const { DaemonImageSource, engineHasImage } = await import('./docker-daemon.js');
        const engine = await engineHasImage(name, opts.engines);
        if (engine) return DaemonImageSource.open(engine, name, ref.original, opts.engines);
      }
      const { RegistrySource } = await import('./registry.js');
      return new RegistrySource(ref, {
        ...(opts.insecureRegistries ? { insecureRegistries: opts.insecureRegistries } : {}),
        ...(opts.credentials ? { credentials: opts.credentials } : {}),
        ...(opts.registryTimeouts ? { timeouts: opts.registryTimeouts } : {}),
      });
    }
    default:
      throw new DrydockError('BAD_REFERENCE', `unknown reference kind in ${JSON.stringify(ref)}`);
  }
}

/**
 * A bare path: a directory holding an `oci-layout` file is an OCI layout; a tar holding
 * manifest.json is a docker archive (`docker save`, which since Docker 25 also holds an OCI
 * layout), else one holding `oci-layout` is an OCI archive. Anything else is a usage error
 * (CONFIG, exit 64) naming the prefixes, never a registry lookup.
 */
async function openPath(given: string, original: string): Promise<ImageSource> {
  const path = given.startsWith('~/') ? join(homedir(), given.slice(2)) : given;
  const usage = (why: string) => new DrydockError('CONFIG', `${given} ${why}; name an image as ${PREFIXES} (a path is never looked up in a registry)`, { context: { image: original } });
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    throw usage(`cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (info.isDirectory()) {
    const layout = await stat(join(path, 'oci-layout')).catch(() => undefined);
    if (!layout?.isFile()) throw usage('is a directory without an oci-layout file, so not an OCI image layout');
    return OciLayoutSource.fromDir(path, undefined, original);
  }
  if (!info.isFile()) throw usage('is neither a directory nor a file');
  const head = Buffer.alloc(512);
  const fh = await openFile(path, 'r');
  try {
    await fh.read(head, 0, 512, 0);
  } finally {
    await fh.close();
  }
  if (head[0] === 0x1f && head[1] === 0x8b) throw usage('is compressed (gzip): decompress it first (gunzip), archives are read uncompressed');
  if (head.subarray(257, 262).toString('latin1') !== 'ustar') throw usage('is not a tar archive');
  let tar: TarIndex;
  try {
    tar = await TarIndex.open(path);
  } catch (e) {
    if (e instanceof DrydockError && e.code === 'LIMIT_EXCEEDED') throw e;
    throw usage(`is not a readable tar archive (${(e as Error).message})`);
  }
  if (tar.member('manifest.json')) return (await import('./docker-archive.js')).DockerArchiveSource.open(path, undefined, original);
  if (tar.member('oci-layout')) return OciLayoutSource.fromArchive(path, undefined, original);
  throw usage('is a tar archive holding neither manifest.json (docker save) nor oci-layout (OCI archive)');
}
