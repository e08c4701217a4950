/**
 * The hostile corpus of issue 14: each class of input from the issue's table built as a real
 * input (OCI layout, OCI archive, an image behind a loopback HTTP server or the local
 * Distribution registry), scaled so that the scanner's bound trips quickly, not the machine,
 * plus the harness that runs the BUILT CLI on it as a user would (`node bin/drydock.cjs scan`),
 * with a per-case timeout, a peak-RSS cap (VmHWM polled from /proc) and a snapshot of the
 * case's directory tree (nothing may be written outside the cache dir).
 *
 * Tars are written byte by byte here (GNU headers, base-256 sizes, long names, sparse
 * entries, lies the real tools refuse to write) and streamed through zlib gzip or the `zstd`
 * CLI into the layout, so a layer that inflates to gigabytes costs a few megabytes of disk.
 * Used by test/hostile/corpus.test.ts (small limits) and bench/hostile-bench.ts (defaults).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createGzip, gzipSync } from 'node:zlib';
import { MediaType } from '../../shared/image/media-types.js';
import { run } from './exec.js';
import { buildImage, pushToRegistry } from './image-builder.js';
import { startRegistry } from './registry.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The shipped launcher (runs dist/cli/drydock.mjs, made by `npm run bundle`). */
export const DRYDOCK_BIN = process.env.DRYDOCK_CLI ? resolve(process.env.DRYDOCK_CLI) : join(REPO_ROOT, 'bin', 'drydock.cjs');

let bundled: Promise<void> | undefined;

/**
 * Make sure the CLI bundle is current: `node scripts/bundle.mjs` once per process, serialised
 * across the test files of one run by a lock directory (unless DRYDOCK_CLI names a build).
 */
export function ensureBuiltCli(): Promise<void> {
  if (process.env.DRYDOCK_CLI) return Promise.resolve();
  return (bundled ??= bundleOnce());
}

async function bundleOnce(): Promise<void> {
  const lock = join(tmpdir(), 'drydock-hostile-bundle.lock');
  const deadline = Date.now() + 240_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const age = Date.now() - (await lstat(lock).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > 300_000) await rm(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`the CLI bundle lock ${lock} was held for 4 minutes`);
      else await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    await run(process.execPath, ['scripts/bundle.mjs'], { cwd: REPO_ROOT, timeoutMs: 240_000 });
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

// ───────────────────────────── raw tar ─────────────────────────────

export interface RawEntry {
  name: string;
  /** typeflag: '0' file, '5' dir, '2' symlink, '1' hard link, 'S' GNU sparse … (default '0') */
  type?: string;
  /** content (default empty) */
  data?: Buffer;
  /** size field (default data length); may lie, be huge or negative */
  size?: number;
  linkname?: string;
  mode?: number;
  /** GNU sparse: the real size of the file (one chunk at offset 0 covering the stored data) */
  sparseRealSize?: number;
}

function octal(buf: Buffer, off: number, len: number, value: number): void {
  buf.write(value.toString(8).padStart(len - 1, '0') + '\0', off, len, 'latin1');
}

/** A numeric field: octal when it fits, else GNU base-256 (two's complement for negatives). */
function numeric(buf: Buffer, off: number, len: number, value: number): void {
  if (value >= 0 && value < 8 ** (len - 1)) return octal(buf, off, len, value);
  let v = BigInt(value);
  if (v < 0n) v = (1n << BigInt(8 * len)) + v;
  for (let i = len - 1; i >= 0; i--) {
    buf[off + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  buf[off] = value < 0 ? 0xff : buf[off]! | 0x80;
}

/** One 512-byte GNU header. */
export function tarHeader(e: RawEntry & { size: number }): Buffer {
  const h = Buffer.alloc(512);
  h.write(e.name, 0, 100, 'utf8');
  const type = e.type ?? '0';
  octal(h, 100, 8, e.mode ?? (type === '5' ? 0o755 : type === '2' ? 0o777 : 0o644));
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  numeric(h, 124, 12, e.size);
  octal(h, 136, 12, 0);
  h.write(type, 156, 1, 'latin1');
  if (e.linkname) h.write(e.linkname, 157, 100, 'utf8');
  h.write('ustar  \0', 257, 8, 'latin1'); // GNU magic + version
  h.write('root', 265, 32, 'latin1');
  h.write('root', 297, 32, 'latin1');
  if (e.sparseRealSize !== undefined) {
    numeric(h, 386, 12, 0); // sparse[0].offset
    numeric(h, 398, 12, e.size); // sparse[0].numbytes
    h[482] = 0; // isextended
    numeric(h, 483, 12, e.sparseRealSize); // realsize
  }
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += h[i]!;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return h;
}

const pad = (n: number) => (512 - (n % 512)) % 512;
const ZERO_BLOCK = Buffer.alloc(512);

/** Writes a tar stream into a sink with back-pressure; long names as GNU 'L' / 'K' records. */
export class TarWriter {
  bytes = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  constructor(private readonly sink: Writable) {}

  /** Bytes as given; small writes are gathered into 1 MiB ones. */
  async raw(b: Buffer): Promise<void> {
    this.bytes += b.length;
    if (b.length >= 64 * 1024) {
      await this.flush();
      return this.write(b);
    }
    this.pending.push(b);
    this.pendingBytes += b.length;
    if (this.pendingBytes >= MiB) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.pending.length) return;
    const b = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    await this.write(b);
  }

  private async write(b: Buffer): Promise<void> {
    if (!this.sink.write(b)) await new Promise<void>((r) => this.sink.once('drain', r));
  }

  /** `n` zero bytes (in 1 MiB writes). */
  async zeros(n: number): Promise<void> {
    const chunk = Buffer.alloc(Math.min(n, MiB));
    for (let left = n; left > 0; left -= chunk.length) await this.raw(left >= chunk.length ? chunk : chunk.subarray(0, left));
  }

  async add(e: RawEntry): Promise<void> {
    const data = e.data ?? Buffer.alloc(0);
    if (Buffer.byteLength(e.name) > 100) await this.longRecord('L', e.name);
    if (e.linkname && Buffer.byteLength(e.linkname) > 100) await this.longRecord('K', e.linkname);
    await this.raw(tarHeader({ ...e, size: e.size ?? data.length }));
    if (data.length) {
      await this.raw(data);
      await this.raw(ZERO_BLOCK.subarray(0, pad(data.length)));
    }
  }

  /** A file of `size` zero bytes, streamed. */
  async addZeroFile(name: string, size: number): Promise<void> {
    await this.raw(tarHeader({ name, size }));
    await this.zeros(size + pad(size));
  }

  private async longRecord(type: 'L' | 'K', text: string): Promise<void> {
    const data = Buffer.from(text + '\0');
    await this.add({ name: '././@LongLink', type, data });
  }

  /** The end-of-archive marker (two zero blocks), then everything gathered is written. */
  async end(): Promise<void> {
    await this.raw(Buffer.alloc(1024));
    await this.flush();
  }
}

/** A whole small tar in memory. */
export async function tarBuffer(entries: RawEntry[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = { write: (b: Buffer) => (chunks.push(Buffer.from(b)), true), once() {} } as unknown as Writable;
  const w = new TarWriter(sink);
  for (const e of entries) await w.add(e);
  await w.end();
  return Buffer.concat(chunks);
}

// ───────────────────────────── layouts ─────────────────────────────

export type Compression = 'gzip' | 'zstd' | 'none';

export interface LayerBlob {
  digest: string;
  diffId: string;
  size: number;
  mediaType: string;
}

const LAYER_TYPE: Record<Compression, string> = {
  gzip: MediaType.OciLayerGzip,
  zstd: MediaType.OciLayerZstd,
  none: MediaType.OciLayer,
};

function sha256(b: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}

async function ensureLayout(dir: string): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
}

async function putBlob(dir: string, data: Buffer | string): Promise<{ digest: string; size: number }> {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
  const digest = sha256(buf);
  await writeFile(join(dir, 'blobs', 'sha256', digest.slice(7)), buf);
  return { digest, size: buf.length };
}

/**
 * Stream a tar made by `produce` through the compressor into the layout's blobs.
 * `zstdArgs` are the zstd CLI's (default `-q -1`); `blobTransform` rewrites a small blob.
 */
export async function writeLayer(
  dir: string,
  produce: (w: TarWriter) => Promise<void>,
  opts: { compression?: Compression; zstdArgs?: string[]; gzipLevel?: number; blobTransform?: (b: Buffer) => Buffer } = {},
): Promise<LayerBlob> {
  await ensureLayout(dir);
  const compression = opts.compression ?? 'gzip';
  const tmp = join(dir, 'blobs', 'sha256', `.tmp-${process.pid}-${Math.random().toString(16).slice(2)}`);
  const out = createWriteStream(tmp);
  const tarHash = createHash('sha256');
  const blobHash = createHash('sha256');
  let size = 0;
  const countOut = (b: Buffer) => {
    blobHash.update(b);
    size += b.length;
  };
  let sink: Writable;
  let finished: Promise<void>;
  const outDone = new Promise<void>((res, rej) => {
    out.once('finish', res);
    out.once('error', rej);
  });
  if (compression === 'gzip') {
    const gz = createGzip({ level: opts.gzipLevel ?? 1 });
    gz.on('data', (b: Buffer) => {
      countOut(b);
      out.write(b);
    });
    finished = new Promise<void>((res, rej) => {
      gz.once('end', () => (out.end(), res()));
      gz.once('error', rej);
    });
    sink = gz;
  } else if (compression === 'zstd') {
    const child = spawn('zstd', [...(opts.zstdArgs ?? ['-q', '-1']), '-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.stdout.on('data', (b: Buffer) => {
      countOut(b);
      out.write(b);
    });
    finished = new Promise<void>((res, rej) => {
      child.once('error', rej);
      child.once('close', (code) => (code === 0 ? (out.end(), res()) : rej(new Error(`zstd exited ${code}: ${err}`))));
    });
    sink = child.stdin;
  } else {
    finished = Promise.resolve();
    sink = out;
  }
  const tap = {
    write(b: Buffer) {
      tarHash.update(b);
      if (compression === 'none') countOut(b);
      return sink.write(b);
    },
    once(ev: string, fn: () => void) {
      sink.once(ev, fn);
    },
  } as unknown as Writable;
  const w = new TarWriter(tap);
  try {
    await produce(w);
    await w.flush();
    sink.end();
    await finished;
    await outDone;
  } catch (e) {
    sink.destroy();
    await rm(tmp, { force: true });
    throw e;
  }
  const diffId = 'sha256:' + tarHash.digest('hex');
  let digest = 'sha256:' + blobHash.digest('hex');
  if (opts.blobTransform) {
    const blob = opts.blobTransform(await readFile(tmp));
    await writeFile(tmp, blob);
    digest = sha256(blob);
    size = blob.length;
  }
  await rename(tmp, join(dir, 'blobs', 'sha256', digest.slice(7)));
  return { digest, diffId, size, mediaType: LAYER_TYPE[compression] };
}

export interface LayoutDocs {
  /** rewrite the config before it is stored (return any JSON value, e.g. null) */
  config?: (c: Record<string, unknown>) => unknown;
  manifest?: (m: Record<string, unknown>) => unknown;
  index?: (i: Record<string, unknown>) => unknown;
}

export interface BuiltLayout {
  dir: string;
  ref: string;
  tag: string;
  layers: LayerBlob[];
  manifestDigest: string;
  configDigest: string;
}

/** config + manifest + index.json (tag `tag`) over layers already in the layout. */
export async function writeLayout(dir: string, layers: LayerBlob[], tag = 'v1', docs: LayoutDocs = {}): Promise<BuiltLayout> {
  await ensureLayout(dir);
  const config: Record<string, unknown> = {
    created: '1970-01-01T00:00:00Z',
    architecture: 'amd64',
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: '1970-01-01T00:00:00Z', created_by: `hostile layer ${i}` })),
  };
  const c = await putBlob(dir, JSON.stringify(docs.config ? docs.config(config) : config));
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, ...c },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const m = await putBlob(dir, JSON.stringify(docs.manifest ? docs.manifest(manifest) : manifest));
  const index: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [{ mediaType: MediaType.OciManifest, ...m, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  };
  await writeFile(join(dir, 'index.json'), JSON.stringify(docs.index ? docs.index(index) : index));
  return { dir, ref: `oci:${dir}:${tag}`, tag, layers, manifestDigest: m.digest, configDigest: c.digest };
}

/** A one-or-more-layer layout from in-memory entries. */
export async function layoutOf(dir: string, layers: Array<RawEntry[] | ((w: TarWriter) => Promise<void>)>, opts: { compression?: Compression; docs?: LayoutDocs } = {}): Promise<BuiltLayout> {
  const blobs: LayerBlob[] = [];
  for (const l of layers) {
    const produce = typeof l === 'function' ? l : async (w: TarWriter) => {
      for (const e of l) await w.add(e);
      await w.end();
    };
    blobs.push(await writeLayer(dir, produce, { compression: opts.compression ?? 'gzip' }));
  }
  return writeLayout(dir, blobs, 'v1', opts.docs);
}

/** An uncompressed tar of the layout's files (oci-archive), with `lead` records before them. */
export async function ociArchiveOf(layoutDir: string, tarPath: string, lead: (w: TarWriter) => Promise<void>): Promise<void> {
  const out = createWriteStream(tarPath);
  const w = new TarWriter(out);
  await lead(w);
  const files = ['oci-layout', 'index.json', ...(await readdir(join(layoutDir, 'blobs', 'sha256'))).map((f) => `blobs/sha256/${f}`)];
  for (const f of files) await w.add({ name: f, data: await readFile(join(layoutDir, f)) });
  await w.end();
  await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
}

// ───────────────────────────── file contents ─────────────────────────────

export const OS_RELEASE_DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n';
export const OS_RELEASE_ALPINE = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n';

export function dpkgStanza(name: string, version: string): string {
  return `Package: ${name}\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: ${version}\nMaintainer: Drydock Tests <tests@example.invalid>\nDescription: test package ${name}\n`;
}

export function dpkgStatus(n: number, prefix = 'pkg'): string {
  return Array.from({ length: n }, (_, i) => dpkgStanza(`${prefix}${i}`, `1.${i}-1`)).join('\n');
}

const file = (name: string, content: string | Buffer, extra: Partial<RawEntry> = {}): RawEntry => ({ name, data: Buffer.from(content), ...extra });
const dirEntry = (name: string): RawEntry => ({ name: name.endsWith('/') ? name : name + '/', type: '5' });
const link = (name: string, target: string): RawEntry => ({ name, type: '2', linkname: target });

// ───────────────────────────── servers ─────────────────────────────

interface Closable {
  stop(): Promise<void>;
}

async function listen(server: Server | ReturnType<typeof createNetServer>): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closer(server: Server | ReturnType<typeof createNetServer>, sockets: Set<Socket>): Closable {
  return {
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

function track(server: Server | ReturnType<typeof createNetServer>): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}

/** A TCP server that accepts and never writes a byte. */
export async function silentServer(): Promise<{ host: string } & Closable> {
  const server = createNetServer(() => {});
  const sockets = track(server);
  const host = await listen(server);
  return { host, ...closer(server, sockets) };
}

/** A raw HTTP/1.1 responder: every request gets `response` (bytes written as given). */
export async function rawHttpServer(response: Buffer): Promise<{ host: string } & Closable> {
  const server = createNetServer((s) => {
    s.on('error', () => {});
    s.once('data', () => s.end(response));
  });
  const sockets = track(server);
  const host = await listen(server);
  return { host, ...closer(server, sockets) };
}

/** An HTTP server that records every request's Authorization header. */
export async function recordingServer(answer: (req: IncomingMessage, res: import('node:http').ServerResponse) => void): Promise<{ host: string; seen: Array<{ url: string; authorization?: string }> } & Closable> {
  const seen: Array<{ url: string; authorization?: string }> = [];
  const server = createHttpServer((req, res) => {
    seen.push({ url: req.url ?? '', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    req.resume();
    answer(req, res);
  });
  const sockets = track(server);
  const host = await listen(server);
  return { host, seen, ...closer(server, sockets) };
}

/** A proxy in front of a registry that sends blob bodies at `bytesPerSecond` (manifests pass). */
export async function tricklingProxy(target: string, bytesPerSecond = 1): Promise<{ host: string } & Closable> {
  const timers = new Set<NodeJS.Timeout>();
  const server = createHttpServer((req, res) => {
    const [hostname, port] = target.split(':');
    const up = httpRequest({ host: hostname, port: Number(port), method: req.method, path: req.url, headers: { ...req.headers, host: target } }, (u) => {
      if (!/\/blobs\/sha256:/.test(req.url ?? '') || req.method !== 'GET' || u.statusCode !== 200) {
        res.writeHead(u.statusCode ?? 502, u.headers);
        u.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      u.on('data', (c: Buffer) => chunks.push(c));
      u.on('end', () => {
        const body = Buffer.concat(chunks);
        res.writeHead(200, { 'content-type': String(u.headers['content-type'] ?? 'application/octet-stream'), 'content-length': String(body.length), 'docker-content-digest': String(u.headers['docker-content-digest'] ?? '') });
        let i = 0;
        const tick = () => {
          if (res.destroyed || i >= body.length) return void res.end();
          res.write(body.subarray(i, i + bytesPerSecond));
          i += bytesPerSecond;
          const t = setTimeout(() => (timers.delete(t), tick()), 1000);
          timers.add(t);
        };
        tick();
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const sockets = track(server);
  const host = await listen(server);
  const c = closer(server, sockets);
  return {
    host,
    stop: async () => {
      for (const t of timers) clearTimeout(t);
      await c.stop();
    },
  };
}

// ───────────────────────────── cases ─────────────────────────────

/**
 * What a case must end with (besides exit 0 or 3, no stack trace, nothing written outside
 * the cache, within its timeout and RSS cap):
 * - limit: exit 3 naming the image, the layer (when given) and a limit;
 * - limit-or-ok: exit 0, or exit 3 as `limit` (a bound that stops early, or linear work that finishes);
 * - error: exit 3 naming the image, matching `match`, matching none of `forbid`;
 * - packages: exit 0 with these package names in the JSON output (evasion rows);
 * - ends: exit 0 or 3 (3 naming the image), nothing more.
 */
export type Expectation =
  | { kind: 'limit'; layer?: string; words?: RegExp }
  | { kind: 'limit-or-ok'; layer?: string; words?: RegExp }
  | { kind: 'error'; match?: RegExp[]; forbid?: RegExp[] }
  | { kind: 'packages'; packages: string[] }
  | { kind: 'ends'; forbid?: RegExp[] };

export interface BuiltCase {
  /** image reference for `drydock scan` */
  ref: string;
  /** extra flags (limits) */
  args?: string[];
  /** flags passed only when `drydock scan --help` lists them (limits other work may add) */
  optionalArgs?: Array<[flag: string, value: string]>;
  env?: Record<string, string>;
  expect: Expectation;
  /** run as `drydock scan … | head -3` in bash */
  pipeToHead?: number;
  /** per-case timeout (default 30 s) */
  timeoutMs?: number;
  /** a problem the servers saw (credentials leaked…), checked after the run */
  probe?(): string | undefined;
  cleanup?(): Promise<void>;
}

export interface HostileCase {
  id: string;
  /** the issue's table row it stands for */
  row: string;
  build(work: string): Promise<BuiltCase>;
}

/** What "names a limit" means in a message. */
export const LIMIT_WORDS = /\blimits?\b|--max-[\w-]+|\bmax[A-Z]\w*|at most|exceed/i;
export const TIMEOUT_WORDS = /time(d)?[ -]?out|timeout|idle|deadline|no (answer|response)/i;

/** Scales: `test` trips with small limits, `bench` is the issue's size under default limits. */
export type Scale = 'test' | 'bench';

export function hostileCases(scale: Scale = 'test'): HostileCase[] {
  const big = scale === 'bench';
  const smallLimit = big ? [] : ['--max-layer-bytes', String(8 * MiB)];
  return [
    ...[1, ...(big ? [10] : [])].map((gib): HostileCase => ({
      id: `zstd-bomb-${gib}g`,
      row: `zstd layer inflating to ${gib} GiB`,
      build: async (work) => {
        const size = gib * GiB;
        const l = await writeLayer(work, async (w) => {
          await w.add(file('etc/os-release', OS_RELEASE_DEBIAN));
          await w.addZeroFile('zeros.bin', size);
          await w.end();
        }, { compression: 'zstd', zstdArgs: ['-q', '-3'] });
        const lay = await writeLayout(work, [l]);
        return { ref: lay.ref, args: smallLimit, expect: { kind: 'limit', layer: l.digest } };
      },
    })),
    ...(big ? [] : [{
      id: 'zstd-bomb-1g-defaults',
      row: 'zstd layer of 33 KB inflating to 1 GiB (default limits: the expansion ratio)',
      build: async (work: string) => {
        const l = await writeLayer(work, async (w) => {
          for (let i = 0; i < 1024; i++) await w.addZeroFile(`zeros/${i}.bin`, MiB - 512);
          await w.end();
        }, { compression: 'zstd', zstdArgs: ['-q', '-3'] });
        const lay = await writeLayout(work, [l]);
        return { ref: lay.ref, expect: { kind: 'limit', layer: l.digest } as Expectation };
      },
    }]),
    {
      id: 'zstd-window-1.9g',
      row: '12 KB zstd frame declaring a 1.9 GiB window',
      build: async (work) => {
        const l = await writeLayer(work, async (w) => {
          await w.add(file('etc/os-release', OS_RELEASE_DEBIAN));
          await w.add(file('var/lib/dpkg/status', dpkgStatus(40)));
          await w.add(file('filler.bin', Buffer.alloc(12 * 1024, 7)));
          await w.end();
        }, {
          compression: 'zstd',
          zstdArgs: ['-q', '-3', '--long=31'],
          blobTransform: (b) => {
            // magic (4) + Frame_Header_Descriptor; without Single_Segment the Window_Descriptor follows
            if ((b[4]! & 0x20) !== 0) throw new Error('zstd wrote a single-segment frame: no window descriptor to patch');
            const out = Buffer.from(b);
            out[5] = (20 << 3) | 7; // windowLog 30 + 7/8 → 1.875 GiB
            return out;
          },
        });
        const lay = await writeLayout(work, [l]);
        return { ref: lay.ref, expect: { kind: 'limit', layer: l.digest, words: /window|limit|--max-[\w-]+/i } };
      },
    },
    {
      id: 'zstd-window-2g-long31',
      row: 'zstd frame made with --long=31 (2 GiB window) from stdin',
      build: async (work) => {
        const l = await writeLayer(work, async (w) => {
          await w.add(file('etc/os-release', OS_RELEASE_DEBIAN));
          await w.add(file('var/lib/dpkg/status', dpkgStatus(40)));
          await w.end();
        }, { compression: 'zstd', zstdArgs: ['-q', '-3', '--long=31'] });
        const lay = await writeLayout(work, [l]);
        return { ref: lay.ref, expect: { kind: 'limit', layer: l.digest, words: /window|limit|--max-[\w-]+/i } };
      },
    },
    {
      id: 'lockfiles-total',
      row: `${big ? '100 × 63 MiB' : '100 × 8 MiB'} package-lock.json in one layer (per-file cap, no total)`,
      build: async (work) => {
        const each = big ? 63 * MiB : 8 * MiB;
        const head = '{"name":"app","version":"1.0.0","lockfileVersion":3,"packages":{"":{"name":"app"}},"pad":"';
        const tail = '"}';
        const l = await writeLayer(work, async (w) => {
          const padLen = each - head.length - tail.length;
          for (let i = 0; i < 100; i++) {
            await w.raw(tarHeader({ name: `srv/app${i}/package-lock.json`, size: each }));
            await w.raw(Buffer.from(head));
            await w.raw(Buffer.alloc(padLen, 0x61));
            await w.raw(Buffer.from(tail));
            await w.raw(ZERO_BLOCK.subarray(0, pad(each)));
          }
          await w.end();
        });
        const lay = await writeLayout(work, [l]);
        return { ref: lay.ref, expect: { kind: 'limit', layer: l.digest } };
      },
    },
    {
      id: 'symlinks-long-names',
      row: `${big ? 2000 : 200} symlinks with 1 MiB link names`,
      build: async (work) => {
        const target = 'x'.repeat(MiB);
        const l = await writeLayer(work, async (w) => {
          for (let i = 0; i < (big ? 2000 : 200); i++) await w.add(link(`l/${i}`, target));
          await w.end();
        });
        const lay = await writeLayout(work, [l]);
        return { ref: lay.ref, expect: { kind: 'limit', layer: l.digest } };
      },
    },
    {
      id: 'symlinks-many',
      row: `${big ? '1.9M' : '200k'} symlinks`,
      build: async (work) => {
        const l = await writeLayer(work, async (w) => {
          const n = big ? 1_900_000 : 200_000;
          for (let i = 0; i < n; i++) await w.raw(tarHeader({ name: `s/${i % 1000}/${i}`, type: '2', linkname: `../../t/${i}`, size: 0 }));
          await w.end();
        });
        const lay = await writeLayout(work, [l]);
        return { ref: lay.ref, expect: { kind: 'limit-or-ok', layer: l.digest } };
      },
    },
    {
      id: 'node-modules-deep',
      row: 'node_modules nested 2,000 deep',
      build: async (work) => {
        const l = await writeLayer(work, async (w) => {
          let p = 'app';
          for (let i = 0; i < 2000; i++) {
            p += `/node_modules/m${i % 10}`;
            await w.add(file(`${p}/package.json`, JSON.stringify({ name: `m${i % 10}`, version: `1.0.${i}` })));
          }
          await w.end();
        });
        const lay = await writeLayout(work, [l]);
        return { ref: lay.ref, expect: { kind: 'limit-or-ok', layer: l.digest } };
      },
    },
    {
      id: 'lockfile-v1-deep',
      row: 'package-lock v1 nested 100,000 deep',
      build: async (work) => {
        const depth = 100_000;
        const open = '{"version":"1.0.0","dependencies":{"a":';
        const json = `{"name":"app","version":"1.0.0","lockfileVersion":1,"dependencies":{"a":${open.repeat(depth)}{"version":"1.0.0"}${'}}'.repeat(depth)}}}`;
        const l = await writeLayer(work, async (w) => {
          await w.add(file('app/package-lock.json', json));
          await w.end();
        });
        const lay = await writeLayout(work, [l]);
        return { ref: lay.ref, expect: { kind: 'limit-or-ok', layer: l.digest } };
      },
    },
    {
      id: 'apk-huge-F-line',
      row: 'apk installed: one 1 MiB F: line',
      build: async (work) => {
        const db = `P:musl\nV:1.2.4-r2\nA:x86_64\nT:the musl c library\nF:${'d'.repeat(MiB)}\nR:libc.so\n\n`;
        const lay = await layoutOf(work, [[file('etc/os-release', OS_RELEASE_ALPINE), file('lib/apk/db/installed', db)]]);
        return { ref: lay.ref, args: ['-o', 'json'], expect: { kind: 'packages', packages: ['musl'] } };
      },
    },
    {
      id: 'apk-many-R-lines',
      row: 'apk installed: 200k R: lines',
      build: async (work) => {
        const rs = Array.from({ length: 200_000 }, (_, i) => `R:f${i}`).join('\n');
        const db = `P:musl\nV:1.2.4-r2\nA:x86_64\nT:the musl c library\nF:lib\n${rs}\n\nP:busybox\nV:1.36.1-r15\nA:x86_64\nF:bin\nR:busybox\n\n`;
        const lay = await layoutOf(work, [[file('etc/os-release', OS_RELEASE_ALPINE), file('lib/apk/db/installed', db)]]);
        return { ref: lay.ref, args: ['-o', 'json'], expect: { kind: 'packages', packages: ['musl', 'busybox'] } };
      },
    },
    {
      id: 'opaque-markers',
      row: `${big ? '900k' : '100k'} opaque-directory markers over a layer of 60k symlinks`,
      build: async (work) => {
        const lower = await writeLayer(work, async (w) => {
          await w.add(file('etc/os-release', OS_RELEASE_DEBIAN));
          for (let i = 0; i < 60_000; i++) await w.raw(tarHeader({ name: `d/${i % 3000}/l${i}`, type: '2', linkname: '/etc/os-release', size: 0 }));
          await w.end();
        });
        const upper = await writeLayer(work, async (w) => {
          for (let i = 0; i < (big ? 900_000 : 100_000); i++) await w.raw(tarHeader({ name: `o/${i}/.wh..wh..opq`, size: 0 }));
          await w.end();
        });
        const lay = await writeLayout(work, [lower, upper]);
        return { ref: lay.ref, expect: { kind: 'limit-or-ok', layer: upper.digest } };
      },
    },
    {
      id: 'gzip-tar-then-zeros',
      row: `gzip: small tar then ${big ? 10 : 4} GiB of zeros${big ? ' (default limits)' : ', --max-layer-bytes 1M'}`,
      build: async (work) => {
        const zeros = (big ? 10 : 4) * GiB;
        const small = await tarBuffer([file('etc/os-release', OS_RELEASE_DEBIAN), file('var/lib/dpkg/status', dpkgStatus(3, 'zeros'))]);
        // One gzip member of the tar, then 64 MiB members of zeros (members concatenate: one valid
        // gzip stream of ~4 MB per 4 GiB). The diff_id covers the tar up to its end marker only:
        // hashing gigabytes of zeros would cost more than the case (drydock does not check diff_ids).
        const member = gzipSync(Buffer.alloc(64 * MiB), { level: 9 });
        const l = await writeRawBlob(work, MediaType.OciLayerGzip, [gzipSync(small), ...Array<Buffer>(zeros / (64 * MiB)).fill(member)], sha256(small));
        const lay = await writeLayout(work, [l]);
        // read to the end this takes ~3 s a GiB here; stopped at the end marker (or a limit), well under a second
        return { ref: lay.ref, args: big ? [] : ['--max-layer-bytes', String(MiB)], timeoutMs: big ? 120_000 : 8_000, expect: { kind: 'limit-or-ok', layer: l.digest } };
      },
    },
    {
      id: 'gzip-bad-tar',
      row: 'a valid gzip whose tar is bad ("corrupt gzip stream")',
      build: async (work) => {
        const l = await writeLayer(work, async (w) => {
          await w.raw(Buffer.from('this is not a tar archive at all, but a valid gzip of text\n'.repeat(40)));
        });
        const lay = await writeLayout(work, [l]);
        return { ref: lay.ref, expect: { kind: 'error', match: [/CORRUPT_LAYER/, /tar/i, new RegExp(l.digest.slice(7, 19))], forbid: [/corrupt gzip/i] } };
      },
    },
    ...(['negative-size', 'huge-long-name'] as const).map((fault): HostileCase => ({
      id: `archive-${fault}`,
      row: fault === 'negative-size' ? 'archive tar index: negative member size' : `archive tar index: ${big ? 2 : 1.5} GiB GNU long name`,
      build: async (work) => {
        const lay = await layoutOf(join(work, 'layout'), [[file('etc/os-release', OS_RELEASE_DEBIAN), file('var/lib/dpkg/status', dpkgStatus(2))]]);
        const tar = join(work, 'image.tar');
        if (fault === 'negative-size') {
          await ociArchiveOf(lay.dir, tar, (w) => w.raw(tarHeader({ name: 'junk', size: -1024 })));
        } else {
          // the long name's bytes are a hole in a sparse file: no disk, the indexer still reads them
          const longSize = big ? 2 * GiB : 1.5 * GiB;
          await ociArchiveOf(lay.dir, tar, async (w) => {
            await w.raw(tarHeader({ name: '././@LongLink', type: 'L', size: longSize }));
          });
          const body = await readFile(tar);
          const fh = await open(tar, 'w');
          try {
            await fh.write(body.subarray(0, 512), 0, 512, 0);
            await fh.write(body.subarray(512), 0, body.length - 512, 512 + longSize);
          } finally {
            await fh.close();
          }
        }
        await rm(lay.dir, { recursive: true });
        return { ref: `oci-archive:${tar}:v1`, expect: { kind: 'error', match: [/archive|tar/i] } };
      },
    })),
    {
      id: 'dir-entry-with-size',
      row: 'a tar directory entry with a non-zero size field',
      build: async (work) => {
        const l = await writeLayer(work, async (w) => {
          await w.add(file('etc/os-release', OS_RELEASE_DEBIAN));
          await w.add({ name: 'var/lib/', type: '5', data: Buffer.alloc(1000, 0x41) });
          await w.add(file('var/lib/dpkg/status', dpkgStatus(3)));
          await w.end();
        });
        const lay = await writeLayout(work, [l]);
        return { ref: lay.ref, expect: { kind: 'ends' } };
      },
    },
    ...(['manifest', 'config', 'layer', 'index-entry'] as const).map((where): HostileCase => ({
      id: `json-null-${where}`,
      row: `JSON null as ${where}`,
      build: async (work) => {
        const l = await writeLayer(work, async (w) => {
          await w.add(file('etc/os-release', OS_RELEASE_DEBIAN));
          await w.end();
        });
        const docs: LayoutDocs =
          where === 'manifest' ? { manifest: () => null }
          : where === 'config' ? { config: () => null }
          : where === 'layer' ? { manifest: (m) => ({ ...m, layers: [null] }) }
          : { index: (i) => ({ ...i, manifests: [null, ...(i.manifests as unknown[])] }) };
        const lay = await writeLayout(work, [l], 'v1', docs);
        // the message names the document that is wrong
        const doc = { manifest: /manifest/i, config: /config/i, layer: /layer/i, 'index-entry': /index/i }[where];
        return { ref: lay.ref, expect: { kind: 'error', match: [/INVALID_MANIFEST/, doc], forbid: [/TypeError/] } };
      },
    })),
    {
      id: 'registry-trickle',
      row: 'blob served at 1 byte/s (real registry behind a trickling proxy)',
      build: async (work) => {
        const reg = await startRegistry();
        try {
          await buildImage(join(work, 'src'), {
            tag: 'v1',
            layers: [{ files: [{ path: 'etc/os-release', content: OS_RELEASE_DEBIAN }, { path: 'var/lib/dpkg/status', content: dpkgStatus(200) }] }],
          });
          await pushToRegistry(join(work, 'src'), 'v1', { host: reg.host }, 'hostile/trickle:v1');
          await rm(join(work, 'src'), { recursive: true });
          const proxy = await tricklingProxy(reg.host, 1);
          return {
            ref: `${proxy.host}/hostile/trickle:v1`,
            timeoutMs: 90_000,
            expect: { kind: 'error', match: [TIMEOUT_WORDS] },
            cleanup: async () => {
              await proxy.stop();
              await reg.stop();
            },
          };
        } catch (e) {
          await reg.stop();
          throw e;
        }
      },
    },
    {
      id: 'registry-never-answers',
      row: 'a registry that never sends headers',
      build: async () => {
        const s = await silentServer();
        return { ref: `${s.host}/hostile/silent:v1`, optionalArgs: [['--registry-timeout', '5']], timeoutMs: 90_000, expect: { kind: 'error', match: [TIMEOUT_WORDS] }, cleanup: s.stop };
      },
    },
    {
      id: 'www-authenticate-1mib',
      row: 'a 1 MiB WWW-Authenticate header ("cannot reach host … attempt 1 of 4")',
      build: async () => {
        const s = await rawHttpServer(Buffer.from(`HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="${'r'.repeat(MiB)}"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`));
        return { ref: `${s.host}/hostile/header:v1`, timeoutMs: 60_000, expect: { kind: 'error', match: [/header/i], forbid: [/cannot reach/i, /attempt \d+ of/i] }, cleanup: s.stop };
      },
    },
    {
      id: 'credentials-other-host',
      row: 'DRYDOCK_REGISTRY_USERNAME/PASSWORD set, another registry answers 401 Basic',
      build: async () => {
        const s = await recordingServer((_req, res) => {
          res.writeHead(401, { 'www-authenticate': 'Basic realm="elsewhere"', 'content-type': 'application/json' });
          res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        });
        return {
          ref: `${s.host}/hostile/creds:v1`,
          env: { DRYDOCK_REGISTRY_HOST: 'registry.example.invalid', DRYDOCK_REGISTRY_USERNAME: 'alice', DRYDOCK_REGISTRY_PASSWORD: 's3cret-for-another-host' },
          expect: { kind: 'error', match: [/UNAUTHORIZED|DENIED/] },
          probe: () => {
            const leaked = s.seen.filter((r) => r.authorization);
            return leaked.length ? `credentials sent to ${s.host}: ${leaked.map((r) => `${r.url} (${r.authorization!.slice(0, 12)}…)`).join(', ')}` : undefined;
          },
          cleanup: s.stop,
        };
      },
    },
    {
      id: 'credentials-token-realm-other-host',
      row: 'credentials for one registry, its Bearer realm on another host',
      build: async () => {
        const realm = await recordingServer((_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"token":"t0ken"}');
        });
        const reg = await recordingServer((_req, res) => {
          res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${realm.host}/token",service="hostile",scope="repository:hostile/realm:pull"`, 'content-type': 'application/json' });
          res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        });
        return {
          ref: `${reg.host}/hostile/realm:v1`,
          env: { DRYDOCK_REGISTRY_HOST: reg.host, DRYDOCK_REGISTRY_USERNAME: 'alice', DRYDOCK_REGISTRY_PASSWORD: 's3cret-for-the-registry' },
          expect: { kind: 'error', match: [/UNAUTHORIZED|DENIED/] },
          probe: () => {
            const leaked = realm.seen.filter((r) => r.authorization?.startsWith('Basic'));
            return leaked.length ? `credentials for ${reg.host} sent to the token realm on ${realm.host}` : undefined;
          },
          cleanup: async () => {
            await reg.stop();
            await realm.stop();
          },
        };
      },
    },
    ...([['dpkg-symlink-relative', '../../opt/dpkgdb', 'opt/dpkgdb/status'], ['dpkg-symlink-root', '/', 'status']] as const).map(([id, target, at]): HostileCase => ({
      id,
      row: `var/lib/dpkg a symlink (-> ${target})`,
      build: async (work) => {
        const lay = await layoutOf(work, [[
          file('etc/os-release', OS_RELEASE_DEBIAN),
          dirEntry('var/lib'),
          link('var/lib/dpkg', target),
          file(at, dpkgStatus(3, 'hidden')),
        ]]);
        return { ref: lay.ref, args: ['-o', 'json'], expect: { kind: 'packages', packages: ['hidden0', 'hidden1', 'hidden2'] } };
      },
    })),
    {
      id: 'dpkg-status-sparse',
      row: 'dpkg status stored as a GNU sparse entry',
      build: async (work) => {
        const status = Buffer.from(dpkgStatus(3, 'sparse'));
        const lay = await layoutOf(work, [[
          file('etc/os-release', OS_RELEASE_DEBIAN),
          { name: 'var/lib/dpkg/status', type: 'S', data: status, sparseRealSize: status.length },
        ]]);
        return { ref: lay.ref, args: ['-o', 'json'], expect: { kind: 'packages', packages: ['sparse0', 'sparse1', 'sparse2'] } };
      },
    },
    {
      id: 'python-metadata-continuations',
      row: 'Python METADATA with 1.5M continuation lines beside a well-formed package',
      build: async (work) => {
        const site = 'usr/lib/python3/site-packages';
        const bad = `Metadata-Version: 2.1\nName: evil\nVersion: 6.6.6\nDescription: x\n${'        more\n'.repeat(1_500_000)}`;
        const good = 'Metadata-Version: 2.1\nName: goodpkg\nVersion: 2.0.0\nSummary: fine\n';
        const lay = await layoutOf(work, [[
          file('etc/os-release', OS_RELEASE_DEBIAN),
          file(`${site}/evil-6.6.6.dist-info/METADATA`, bad),
          file(`${site}/goodpkg-2.0.0.dist-info/METADATA`, good),
        ]]);
        return { ref: lay.ref, args: ['-o', 'json'], expect: { kind: 'packages', packages: ['goodpkg'] } };
      },
    },
    {
      id: 'oci-index-symlink-passwd',
      row: 'OCI layout with index.json -> /etc/passwd',
      build: async (work) => {
        const lay = await layoutOf(work, [[file('etc/os-release', OS_RELEASE_DEBIAN)]]);
        await rm(join(lay.dir, 'index.json'));
        await symlink('/etc/passwd', join(lay.dir, 'index.json'));
        return { ref: lay.ref, expect: { kind: 'error', forbid: [/root:/, /:\/bin\/|nologin/] } };
      },
    },
    {
      id: 'stdout-closed-head-3',
      row: 'drydock scan … | head -3',
      build: async (work) => {
        const lay = await layoutOf(work, [[file('etc/os-release', OS_RELEASE_DEBIAN), file('var/lib/dpkg/status', dpkgStatus(6000))]]);
        return { ref: lay.ref, pipeToHead: 3, expect: { kind: 'ends', forbid: [/EPIPE/] } };
      },
    },
  ];
}

async function writeRawBlob(dir: string, mediaType: string, parts: Buffer[], diffId: string): Promise<LayerBlob> {
  await ensureLayout(dir);
  const h = createHash('sha256');
  let size = 0;
  for (const p of parts) {
    h.update(p);
    size += p.length;
  }
  const digest = 'sha256:' + h.digest('hex');
  const fh = await open(join(dir, 'blobs', 'sha256', digest.slice(7)), 'w');
  try {
    for (const p of parts) await fh.write(p);
  } finally {
    await fh.close();
  }
  return { digest, diffId, size, mediaType };
}

// ───────────────────────────── the harness ─────────────────────────────

export interface DrydockRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** peak resident set (VmHWM) in bytes, as last polled */
  peakRss: number;
  /** why the harness killed it, if it did */
  killed?: string;
}

/**
 * `node bin/drydock.cjs <args>` (or `… | head -N` in bash), killed after `timeoutMs` or when
 * its peak RSS passes `rssCap`. stdout is kept up to 4 MiB.
 */
export async function runDrydock(
  args: string[],
  opts: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs: number; rssCap: number; pipeToHead?: number },
): Promise<DrydockRun> {
  const started = performance.now();
  const child = opts.pipeToHead
    ? spawn('bash', ['-c', `set -o pipefail; "$0" "$@" | head -${opts.pipeToHead} >/dev/null`, process.execPath, DRYDOCK_BIN, ...args], { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    : spawn(process.execPath, [DRYDOCK_BIN, ...args], { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => {
    if (stdout.length < 4 * MiB) stdout += b.toString();
  });
  child.stderr!.on('data', (b: Buffer) => {
    if (stderr.length < 4 * MiB) stderr += b.toString();
  });
  let peakRss = 0;
  let killed: string | undefined;
  const kill = (why: string) => {
    if (killed) return;
    killed = why;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone already
    }
  };
  const poll = setInterval(() => {
    readVmHwm(child.pid!, opts.pipeToHead !== undefined).then(
      (kb) => {
        peakRss = Math.max(peakRss, kb * 1024);
        if (peakRss > opts.rssCap) kill(`peak RSS ${(peakRss / MiB).toFixed(0)} MB over the ${(opts.rssCap / MiB).toFixed(0)} MB cap`);
      },
      () => {},
    );
  }, 20);
  const timer = setTimeout(() => kill(`no exit within ${opts.timeoutMs} ms`), opts.timeoutMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((res) => {
    child.once('error', () => res([null, null]));
    child.once('close', (c, s) => res([c, s]));
  });
  clearInterval(poll);
  clearTimeout(timer);
  return { code, signal, stdout, stderr, ms: performance.now() - started, peakRss, ...(killed ? { killed } : {}) };
}

/** VmHWM (kB) of `pid`, or of its node child when `pid` is the bash of a pipeline. */
async function readVmHwm(pid: number, viaShell: boolean): Promise<number> {
  try {
    if (viaShell) {
      const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim().split(/\s+/).filter(Boolean).map(Number);
      let best = 0;
      for (const c of children) best = Math.max(best, await readVmHwm(c, false));
      return best;
    }
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    return Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** path → "type size mtime" of everything under `root`, except `skip` (the cache dir). */
export async function snapshotTree(root: string, skip: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const skipSet = new Set(skip.map((s) => resolve(s)));
  const walk = async (dir: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const p = join(dir, name);
      if (skipSet.has(resolve(p))) continue;
      const st = await lstat(p);
      const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : 'file';
      out.set(p, `${type} ${st.isDirectory() ? '' : st.size} ${st.isDirectory() ? '' : st.mtimeMs}`);
      if (st.isDirectory()) await walk(p);
    }
  };
  await walk(root);
  return out;
}

export function treeChanges(before: Map<string, string>, after: Map<string, string>): string[] {
  const changes: string[] = [];
  for (const [p, v] of after) if (before.get(p) !== v) changes.push(before.has(p) ? `changed ${p}` : `created ${p}`);
  for (const p of before.keys()) if (!after.has(p)) changes.push(`removed ${p}`);
  return changes;
}

/** Lines that mean a stack trace reached the user. */
export const STACK_TRACE = /^\s+at .+(\(|:\d+:\d+)|node:internal|unexpected error|Error: .*\n\s+at /m;

/** Every package name in `drydock scan -o json` output. */
export function packageNames(json: string): string[] {
  try {
    const doc = JSON.parse(json) as { results?: Array<{ packages?: Array<{ name: string }> }> };
    return (doc.results ?? []).flatMap((r) => (r.packages ?? []).map((p) => p.name));
  } catch {
    return [];
  }
}

/**
 * Check one run against the common rules and the case's expectation; returns the problems
 * (empty when the case passed).
 */
export function judge(c: BuiltCase, r: DrydockRun, outside: string[]): string[] {
  const problems: string[] = [];
  if (r.killed) problems.push(`killed: ${r.killed}`);
  else if (r.code !== 0 && r.code !== 3) problems.push(`exit ${r.code ?? 'none'}${r.signal ? ` (signal ${r.signal})` : ''}, want 0 or 3`);
  if (STACK_TRACE.test(r.stderr)) problems.push('a stack trace or "unexpected error" on stderr');
  if (outside.length) problems.push(`written outside the cache dir: ${outside.slice(0, 5).join('; ')}`);
  const probe = c.probe?.();
  if (probe) problems.push(probe);
  if (r.killed) return problems;
  const namesImage = r.stderr.includes(c.ref) || /\[image [^\]]+\]/.test(r.stderr);
  const e = c.expect;
  const limitChecks = (layer: string | undefined, words: RegExp | undefined) => {
    if (r.code !== 3) problems.push(`exit ${r.code}, want 3 (a named limit)`);
    if (!namesImage) problems.push('the message does not name the image');
    if (layer && !r.stderr.includes(layer) && !r.stderr.includes(layer.slice(7, 19))) problems.push(`the message does not name the layer ${layer.slice(0, 19)}…`);
    if (!(words ?? LIMIT_WORDS).test(r.stderr)) problems.push(`the message names no limit (${words ?? LIMIT_WORDS})`);
  };
  switch (e.kind) {
    case 'limit':
      limitChecks(e.layer, e.words);
      break;
    case 'limit-or-ok':
      if (r.code !== 0) limitChecks(e.layer, e.words);
      break;
    case 'error':
      if (r.code !== 3) problems.push(`exit ${r.code}, want 3`);
      if (!namesImage) problems.push('the message does not name the image');
      for (const m of e.match ?? []) if (!m.test(r.stderr)) problems.push(`stderr does not match ${m}`);
      for (const f of e.forbid ?? []) if (f.test(r.stderr)) problems.push(`stderr matches ${f}`);
      break;
    case 'packages': {
      if (r.code !== 0) problems.push(`exit ${r.code}, want 0 with the packages`);
      const names = new Set(packageNames(r.stdout));
      const missing = e.packages.filter((p) => !names.has(p));
      if (missing.length) problems.push(`packages not found: ${missing.join(', ')} (found ${names.size})`);
      break;
    }
    case 'ends':
      if (r.code === 3 && !namesImage) problems.push('the message does not name the image');
      for (const f of e.forbid ?? []) if (f.test(r.stderr)) problems.push(`stderr matches ${f}`);
      break;
  }
  return problems;
}

/** The flags of one case: its own, plus the optional ones `help` (the text of `drydock scan --help`) lists. */
export function caseArgs(c: BuiltCase, help: string): string[] {
  const optional = (c.optionalArgs ?? []).filter(([flag]) => new RegExp(`(^|\\s)${flag}(\\s|=|$)`, 'm').test(help)).flat();
  return [...(c.args ?? []), ...optional];
}

let helpText: Promise<string> | undefined;
/** `drydock scan --help` of the CLI under test (once per process). */
export function scanHelp(): Promise<string> {
  return (helpText ??= run(process.execPath, [DRYDOCK_BIN, 'scan', '--help'], { timeoutMs: 30_000 }).then(
    (r) => r.stdout.toString('utf8'),
    () => '',
  ));
}

/** The environment of one run: nothing of the caller's home, cache or temp dirs. */
export function caseEnv(caseDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = ['PATH', 'LANG', 'LC_ALL', 'TZ'];
  const env: NodeJS.ProcessEnv = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, HOME: join(caseDir, 'home'), TMPDIR: join(caseDir, 'tmp'), ...extra };
}

export async function prepareCaseDirs(caseDir: string): Promise<{ input: string; cache: string }> {
  const input = join(caseDir, 'input');
  const cache = join(caseDir, 'cache');
  for (const d of [input, join(caseDir, 'home'), join(caseDir, 'tmp')]) await mkdir(d, { recursive: true });
  return { input, cache };
}

