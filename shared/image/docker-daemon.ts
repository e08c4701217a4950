import { createWriteStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DrydockError, type ErrorContext } from '../errors.js';
import type { ImageSource } from '../ports/image-source.js';
import { DockerArchiveSource } from './docker-archive.js';
import type { Descriptor, FetchedManifest } from './types.js';

/**
 * Images held by a local container engine, read over its API on a unix socket: the Docker
 * Engine API (`GET /images/{name}/json`, `GET /images/{name}/get`), which Podman's service
 * also speaks. The export is a `docker save` tar whose manifest.json comes last, so it is
 * streamed to one spool file (a named size limit, mode 0600, in a fresh directory under the
 * cache or temp dir) and read in place as a docker archive; close() deletes it.
 */

export type Engine = 'docker' | 'podman';

export interface DaemonOptions {
  /** the environment to read DOCKER_HOST, XDG_RUNTIME_DIR from (default process.env) */
  env?: Record<string, string | undefined>;
  /** where the export is spooled (default the OS temp dir); a fresh directory is made inside */
  spoolDir?: string;
  /** the largest export spooled (default MAX_DAEMON_EXPORT_BYTES) */
  maxExportBytes?: number;
  /** how long the engine may send nothing (default DAEMON_IDLE_TIMEOUT_MS) */
  idleMs?: number;
}

/** The largest `docker save` export spooled to disk (limit maxDaemonExportBytes). */
export const MAX_DAEMON_EXPORT_BYTES = 32 * 1024 ** 3;
/** The engine sending nothing for this long fails the request (limit daemonIdleTimeout). */
export const DAEMON_IDLE_TIMEOUT_MS = 60_000;
/** The largest answer to an inspect request read into memory. */
const MAX_INSPECT_BYTES = 4 * 1024 * 1024;
/** The bare-name check waits this long for an engine before going to the registry. */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * The unix socket of an engine: Docker's from DOCKER_HOST (unix://…) else /var/run/docker.sock;
 * Podman's from CONTAINER_HOST (unix://…), else $XDG_RUNTIME_DIR/podman/podman.sock (rootless),
 * else /run/podman/podman.sock. A tcp:// or ssh:// host is a CONFIG error: only unix sockets
 * are spoken to (no TLS client certificates are handled here).
 */
export async function engineSocket(engine: Engine, env: Record<string, string | undefined> = process.env): Promise<string> {
  const variable = engine === 'docker' ? 'DOCKER_HOST' : 'CONTAINER_HOST';
  const host = env[variable];
  if (host) {
    if (!host.startsWith('unix://')) {
      throw new DrydockError('CONFIG', `${variable}=${host}: only unix:// sockets are supported for ${engine}: images; use a unix socket, or export the image (docker save / skopeo copy) and scan docker-archive:<tar>`);
    }
    return host.slice('unix://'.length);
  }
  if (engine === 'docker') return '/var/run/docker.sock';
  const rootless = env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'podman', 'podman.sock') : undefined;
  if (rootless && (await isSocket(rootless))) return rootless;
  return '/run/podman/podman.sock';
}

async function isSocket(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isSocket();
  } catch {
    return false;
  }
}

interface ImageInspect {
  Id?: string;
  RepoTags?: string[] | null;
  Size?: number;
}

/** One GET to the engine's API; the response once its headers arrived, bounded by an idle timeout. */
function engineGet(socket: string, path: string, idleMs: number, ctx: ErrorContext, engine: Engine): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method: 'GET', headers: { host: engine, accept: 'application/json, application/x-tar' } }, resolve);
    req.setTimeout(idleMs, () => {
      req.destroy(new DrydockError('NETWORK', `the ${engine} engine at ${socket} sent nothing for ${idleMs} ms (limit daemonIdleTimeout ${idleMs} ms)`, { context: ctx }));
    });
    req.once('error', (e) => {
      if (e instanceof DrydockError) return reject(e);
      const code = (e as NodeJS.ErrnoException).code;
      const hint = engine === 'docker' ? 'set DOCKER_HOST=unix://<socket>' : 'start it with `podman system service`, or set CONTAINER_HOST=unix://<socket>';
      reject(new DrydockError('SOURCE_UNREADABLE', `cannot reach the ${engine} engine at ${socket} (${code ?? e.message}); ${hint}`, { context: ctx, cause: e }));
    });
    req.end();
  });
}

async function readAll(res: IncomingMessage, limit: number, what: string, ctx: ErrorContext): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      res.destroy();
      throw new DrydockError('LIMIT_EXCEEDED', `${what} is larger than ${limit} bytes`, { context: ctx });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/** Engine API paths take the name as it is; it was checked to hold only reference characters. */
function imagePath(name: string, op: 'json' | 'get'): string {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9._/:@-]*$/.test(name) || name.includes('..')) {
    throw new DrydockError('BAD_REFERENCE', `"${name}" is not an image name or id`);
  }
  return `/images/${name}/${op}`;
}

/** `GET /images/{name}/json`: the image's inspect document, or undefined when the engine has no such image (404). */
export async function inspectImage(socket: string, name: string, engine: Engine, opts: { idleMs?: number; image?: string } = {}): Promise<ImageInspect | undefined> {
  const ctx = { image: opts.image ?? `${engine}:${name}` };
  const res = await engineGet(socket, imagePath(name, 'json'), opts.idleMs ?? DAEMON_IDLE_TIMEOUT_MS, ctx, engine);
  if (res.statusCode === 404) {
    res.resume();
    return undefined;
  }
  const body = await readAll(res, MAX_INSPECT_BYTES, `the ${engine} engine's answer about ${name}`, ctx);
  if (res.statusCode !== 200) {
    throw new DrydockError('SOURCE_UNREADABLE', `the ${engine} engine at ${socket} answered HTTP ${res.statusCode} for ${name}: ${engineMessage(body)}`, { context: ctx });
  }
  try {
    const doc = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not an object');
    return doc as ImageInspect;
  } catch (e) {
    throw new DrydockError('SOURCE_UNREADABLE', `the ${engine} engine's inspect answer for ${name} is not a JSON object`, { context: ctx, cause: e });
  }
}

/** The engine's error text ({"message": …}), bounded. */
function engineMessage(body: Buffer): string {
  const text = body.subarray(0, 2048).toString('utf8');
  try {
    const doc = JSON.parse(text) as { message?: unknown };
    if (typeof doc.message === 'string') return doc.message.slice(0, 500);
  } catch {
    // not JSON: the text itself
  }
  return text.slice(0, 500).trim() || '(no message)';
}

/**
 * Whether a bare name (`drydock scan app:dev`) is an image of a local engine: its socket
 * exists and `GET /images/{name}/json` answers 200 within PROBE_TIMEOUT_MS. Anything else
 * (no socket, no engine answering, 404, an error) means no: the name goes to its registry.
 */
export async function engineHasImage(name: string, opts: DaemonOptions = {}): Promise<Engine | undefined> {
  const env = opts.env ?? process.env;
  for (const engine of ['docker', 'podman'] as const) {
    let socket: string;
    try {
      socket = await engineSocket(engine, env);
    } catch {
      continue;
    }
    if (!(await isSocket(socket))) continue;
    try {
      if (await inspectImage(socket, name, engine, { idleMs: PROBE_TIMEOUT_MS })) return engine;
    } catch {
      // no usable engine here: not an error for a name that may well be a registry image
    }
  }
  return undefined;
}

/** An image of a local engine, exported once and read as the docker archive it is. */
export class DaemonImageSource implements ImageSource {
  private constructor(
    readonly name: string,
    private readonly archive: DockerArchiveSource,
    private readonly spool: string,
  ) {}

  /**
   * Opens `name` (a docker reference or an image id) of `engine`: inspect (404 → MANIFEST_NOT_FOUND),
   * then the export streamed to the spool file, refused past `maxExportBytes`.
   */
  static async open(engine: Engine, name: string, image: string, opts: DaemonOptions = {}): Promise<DaemonImageSource> {
    const ctx = { image };
    const socket = await engineSocket(engine, opts.env ?? process.env);
    const idleMs = opts.idleMs ?? DAEMON_IDLE_TIMEOUT_MS;
    const limit = opts.maxExportBytes ?? MAX_DAEMON_EXPORT_BYTES;
    const info = await inspectImage(socket, name, engine, { idleMs, image });
    if (!info) throw new DrydockError('MANIFEST_NOT_FOUND', `the ${engine} engine at ${socket} has no image ${name}`, { context: ctx });
    if (typeof info.Size === 'number' && info.Size > limit) {
      throw new DrydockError('LIMIT_EXCEEDED', `${engine}:${name} is ${info.Size} bytes, more than the ${limit} spooled from an engine (limit maxDaemonExportBytes)`, { context: ctx });
    }
    const base = opts.spoolDir ?? tmpdir();
    await mkdir(base, { recursive: true });
    const dir = await mkdtemp(join(base, 'drydock-export-'));
    const file = join(dir, 'image.tar');
    try {
      // The inspected id, not the name: the image exported is the one inspected even if the tag moves meanwhile.
      const res = await engineGet(socket, imagePath(info.Id && /^sha256:[a-f0-9]{64}$/.test(info.Id) ? info.Id : name, 'get'), idleMs, ctx, engine);
      if (res.statusCode !== 200) {
        const body = await readAll(res, 64 * 1024, `the ${engine} engine's error`, ctx).catch(() => Buffer.alloc(0));
        throw new DrydockError('SOURCE_UNREADABLE', `the ${engine} engine at ${socket} refused to export ${name}: HTTP ${res.statusCode} ${engineMessage(body)}`, { context: ctx });
      }
      await pipeline(res, limitBytes(limit, engine, name, ctx), createWriteStream(file, { mode: 0o600 }));
      const archive = await DockerArchiveSource.open(file, undefined, image);
      return new DaemonImageSource(`${engine} ${name}`, archive, dir);
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      if (e instanceof DrydockError) throw e;
      throw new DrydockError('SOURCE_UNREADABLE', `exporting ${name} from the ${engine} engine failed: ${(e as Error).message}`, { context: ctx, cause: e });
    }
  }

  rootManifest(): Promise<FetchedManifest> {
    return this.archive.rootManifest();
  }

  manifest(descriptor: Descriptor): Promise<FetchedManifest> {
    return this.archive.manifest(descriptor);
  }

  blob(descriptor: Descriptor): Promise<Buffer> {
    return this.archive.blob(descriptor);
  }

  openBlob(descriptor: Descriptor): Promise<Readable> {
    return this.archive.openBlob(descriptor);
  }

  /** Deletes the spooled export. */
  async close(): Promise<void> {
    await rm(this.spool, { recursive: true, force: true });
  }
}

/** Passes bytes through until more than `limit` have come, then fails naming the limit. */
function limitBytes(limit: number, engine: Engine, name: string, ctx: ErrorContext) {
  let total = 0;
  return async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      total += chunk.length;
      if (total > limit) {
        throw new DrydockError('LIMIT_EXCEEDED', `the export of ${engine}:${name} is larger than ${limit} bytes (limit maxDaemonExportBytes)`, { context: ctx });
      }
      yield chunk;
    }
  };
}
