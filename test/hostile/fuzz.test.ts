/**
 * A seeded mutation fuzzer over a small valid image (issue 14, item 7): bytes of layers, tar
 * headers, manifests, configs, index.json, OCI archives and docker archives are mutated
 * (bit flips, truncations, length-field rewrites, JSON values swapped for null / numbers /
 * huge strings), and every case must end with exit 0 or 3: never a crash, a hang, an
 * unhandled rejection, a stack trace or another code.
 *
 * Cases run in-process through the CLI's own main() (the same error → exit-code mapping as
 * the binary; test/support/cli.ts), so 300 finish well inside two minutes here; a few run
 * through the built binary too. Each case has its own PRNG stream (seed, case number), so one
 * case is reproduced alone with DRYDOCK_FUZZ_ONLY.
 *
 *   DRYDOCK_FUZZ_SEED   (default 20261207)   DRYDOCK_FUZZ_CASES (default 300)
 *   DRYDOCK_FUZZ_ONLY=n (run case n only)    DRYDOCK_FUZZ_BINARY (cases through the binary, default 4)
 *   DRYDOCK_FUZZ_VERBOSE=1 (one line per case: mutation, exit code, first stderr line)
 *
 * A failure prints its seed, case number and mutation, and the path of the mutated input kept
 * under $TMPDIR/drydock-fuzz-failures/.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import {
  caseEnv,
  dpkgStatus,
  ensureBuiltCli,
  OS_RELEASE_DEBIAN,
  runDrydock,
  STACK_TRACE,
  tarBuffer,
  type RawEntry,
} from '../support/hostile-corpus.js';
import { prng } from '../support/prng.js';
import { MediaType } from '../../shared/image/media-types.js';

const SEED = Number(process.env.DRYDOCK_FUZZ_SEED ?? 20261207);
const CASES = Number(process.env.DRYDOCK_FUZZ_CASES ?? 300);
const ONLY = process.env.DRYDOCK_FUZZ_ONLY === undefined ? undefined : Number(process.env.DRYDOCK_FUZZ_ONLY);
const BINARY_CASES = Number(process.env.DRYDOCK_FUZZ_BINARY ?? 4);
const VERBOSE = process.env.DRYDOCK_FUZZ_VERBOSE === '1';
const CASE_TIMEOUT_MS = 15_000;
const MiB = 1024 * 1024;

type Rng = () => number;
const int = (r: Rng, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)]!;
const sha256 = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');

// ───────────────────────────── the base image ─────────────────────────────

type Compression = 'gzip' | 'zstd' | 'none';

interface Layer {
  tar: Buffer;
  compression: Compression;
}

interface Image {
  layers: Layer[];
  /** compressed blobs, parallel to layers (recomputed from tar unless a mutation set them) */
  blobs: Buffer[];
  config: unknown;
  manifest: unknown;
  index: unknown;
  /** raw documents when a mutation rewrote bytes instead of values */
  raw: { config?: Buffer; manifest?: Buffer; index?: Buffer };
  /** descriptor digests left as they were before a blob mutation (a digest lie) */
  keepDigest: boolean[];
}

const f = (name: string, content: string, extra: Partial<RawEntry> = {}): RawEntry => ({ name, data: Buffer.from(content), ...extra });

function compress(tar: Buffer, c: Compression): Buffer {
  if (c === 'gzip') return gzipSync(tar, { level: 1 });
  if (c === 'zstd') {
    const r = spawnSync('zstd', ['-q', '-1', '-c'], { input: tar, maxBuffer: 256 * MiB });
    if (r.status !== 0) throw new Error(`zstd: ${r.stderr}`);
    return r.stdout;
  }
  return tar;
}

const LAYER_TYPE: Record<Compression, string> = { gzip: MediaType.OciLayerGzip, zstd: MediaType.OciLayerZstd, none: MediaType.OciLayer };

async function baseImage(): Promise<Image> {
  const l1 = await tarBuffer([
    { name: 'etc/', type: '5' },
    f('etc/os-release', OS_RELEASE_DEBIAN),
    { name: 'usr/lib/os-release', type: '2', linkname: '../../etc/os-release' },
    { name: 'var/lib/dpkg/', type: '5' },
    f('var/lib/dpkg/status', dpkgStatus(4)),
    f('tmp/scratch', 'scratch'),
    f('srv/old/keep.txt', 'old'),
  ]);
  const l2 = await tarBuffer([
    f('app/node_modules/left-pad/package.json', JSON.stringify({ name: 'left-pad', version: '1.3.0' })),
    f('app/package-lock.json', JSON.stringify({ name: 'app', version: '1.0.0', lockfileVersion: 3, packages: { '': { name: 'app' }, 'node_modules/left-pad': { version: '1.3.0' } } })),
    f('usr/lib/python3/site-packages/six-1.16.0.dist-info/METADATA', 'Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n'),
    f('tmp/.wh.scratch', ''),
    f('srv/old/.wh..wh..opq', ''),
    { name: 'app/link', type: '1', linkname: 'app/package-lock.json' },
  ]);
  const l3 = await tarBuffer([f('etc/motd', 'hello\n')]);
  const layers: Layer[] = [
    { tar: l1, compression: 'gzip' },
    { tar: l2, compression: 'zstd' },
    { tar: l3, compression: 'none' },
  ];
  return { layers, blobs: layers.map((l) => compress(l.tar, l.compression)), config: undefined, manifest: undefined, index: undefined, raw: {}, keepDigest: layers.map(() => false) };
}

/** Fill in config, manifest and index from the layers (documents a mutation replaced stay). */
function documents(img: Image, original?: { digests: string[]; sizes: number[] }): void {
  const digests = img.blobs.map((b, i) => (img.keepDigest[i] && original ? original.digests[i]! : sha256(b)));
  const sizes = img.blobs.map((b, i) => (img.keepDigest[i] && original ? original.sizes[i]! : b.length));
  img.config ??= {
    created: '1970-01-01T00:00:00Z',
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/bin:/bin'] },
    rootfs: { type: 'layers', diff_ids: img.layers.map((l) => sha256(l.tar)) },
    history: img.layers.map((_, i) => ({ created: '1970-01-01T00:00:00Z', created_by: `fuzz layer ${i}` })),
  };
  const configBytes = img.raw.config ?? Buffer.from(JSON.stringify(img.config));
  img.manifest ??= {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: sha256(configBytes), size: configBytes.length },
    layers: img.layers.map((l, i) => ({ mediaType: LAYER_TYPE[l.compression], digest: digests[i], size: sizes[i] })),
  };
  const manifestBytes = img.raw.manifest ?? Buffer.from(JSON.stringify(img.manifest));
  img.index ??= {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [{ mediaType: MediaType.OciManifest, digest: sha256(manifestBytes), size: manifestBytes.length, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }],
  };
}

/** The files of the OCI layout: path → bytes. */
function layoutFiles(img: Image, original?: { digests: string[]; sizes: number[] }): Map<string, Buffer> {
  documents(img, original);
  const files = new Map<string, Buffer>();
  const blob = (b: Buffer, digest = sha256(b)) => files.set(`blobs/sha256/${digest.slice(7)}`, b);
  img.blobs.forEach((b, i) => blob(b, img.keepDigest[i] && original ? original.digests[i] : undefined));
  blob(img.raw.config ?? Buffer.from(JSON.stringify(img.config)));
  blob(img.raw.manifest ?? Buffer.from(JSON.stringify(img.manifest)));
  files.set('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
  files.set('index.json', img.raw.index ?? Buffer.from(JSON.stringify(img.index)));
  return files;
}

async function archiveOf(files: Map<string, Buffer>): Promise<Buffer> {
  return tarBuffer([...files].map(([name, data]) => ({ name, data })));
}

/** A `docker save` archive of the image: manifest.json, config, uncompressed layer tars. */
async function dockerArchiveOf(img: Image): Promise<{ files: Map<string, Buffer> }> {
  documents(img);
  const files = new Map<string, Buffer>();
  const configBytes = img.raw.config ?? Buffer.from(JSON.stringify(img.config));
  const configName = `${sha256(configBytes).slice(7)}.json`;
  files.set(configName, configBytes);
  const layerNames = img.layers.map((l) => {
    const name = `${sha256(l.tar).slice(7)}.tar`;
    files.set(name, l.tar);
    return name;
  });
  files.set('manifest.json', Buffer.from(JSON.stringify([{ Config: configName, RepoTags: ['fuzz:v1'], Layers: layerNames }])));
  return { files };
}

// ───────────────────────────── mutations ─────────────────────────────

/** Offsets of the tar's headers (stops at the end marker or a header it cannot step over). */
function headerOffsets(tar: Buffer): number[] {
  const out: number[] = [];
  for (let off = 0; off + 512 <= tar.length; ) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    out.push(off);
    const size = parseInt(h.toString('latin1', 124, 136).replace(/\0.*$/s, '').trim() || '0', 8);
    if (!Number.isFinite(size) || size < 0) break;
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

function rewriteChecksum(tar: Buffer, off: number): void {
  tar.fill(0x20, off + 148, off + 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += tar[off + i]!;
  tar.write(sum.toString(8).padStart(6, '0') + '\0 ', off + 148, 8, 'latin1');
}

function mutateBytes(r: Rng, b: Buffer): { bytes: Buffer; what: string } {
  const out = Buffer.from(b);
  if (out.length === 0) return { bytes: Buffer.from([int(r, 256)]), what: 'one byte in an empty document' };
  switch (int(r, 5)) {
    case 0: {
      const n = 1 + int(r, 8);
      for (let i = 0; i < n; i++) out[int(r, out.length)]! ^= 1 << int(r, 8);
      return { bytes: out, what: `${n} bit flip(s)` };
    }
    case 1: {
      const at = int(r, out.length);
      return { bytes: out.subarray(0, at), what: `truncated at ${at} of ${b.length}` };
    }
    case 2: {
      const at = int(r, out.length);
      const v = pick(r, [0x00, 0xff, 0x7f, 0x80]);
      const n = 1 + int(r, 16);
      out.fill(v, at, Math.min(at + n, out.length));
      return { bytes: out, what: `${n} byte(s) at ${at} set to ${v}` };
    }
    case 3: {
      const at = int(r, out.length);
      const junk = Buffer.alloc(1 + int(r, 64), int(r, 256));
      return { bytes: Buffer.concat([out.subarray(0, at), junk, out.subarray(at)]), what: `${junk.length} byte(s) inserted at ${at}` };
    }
    default: {
      const at = int(r, out.length);
      const n = 1 + int(r, 64);
      return { bytes: Buffer.concat([out.subarray(0, at), out.subarray(at + n)]), what: `${n} byte(s) cut at ${at}` };
    }
  }
}

const SIZE_VALUES = [0, 1, 511, 513, 1 << 20, 0o77777777777, 2 ** 40, -1, -512, -(2 ** 40)];

/** Rewrite one field of one header (checksum fixed up, so the header is still accepted). */
function mutateTarHeader(r: Rng, tar: Buffer): { tar: Buffer; what: string } {
  const out = Buffer.from(tar);
  const offsets = headerOffsets(out);
  if (!offsets.length) return { tar: out, what: 'no header' };
  const off = pick(r, offsets);
  const field = pick(r, ['size', 'type', 'name', 'linkname', 'mode', 'bytes', 'checksum'] as const);
  let what = `header at ${off}: `;
  switch (field) {
    case 'size': {
      const v = pick(r, SIZE_VALUES);
      if (v >= 0 && v < 8 ** 11) out.write(v.toString(8).padStart(11, '0') + '\0', off + 124, 12, 'latin1');
      else {
        let big = BigInt(v);
        if (big < 0n) big = (1n << 96n) + big;
        for (let i = 11; i >= 0; i--) {
          out[off + 124 + i] = Number(big & 0xffn);
          big >>= 8n;
        }
        out[off + 124] = v < 0 ? 0xff : 0x80;
      }
      what += `size = ${v}`;
      break;
    }
    case 'type': {
      const t = pick(r, ['0', '1', '2', '3', '4', '5', '6', '7', 'S', 'L', 'K', 'x', 'g', 'V', 'M', 'D', String.fromCharCode(int(r, 256))]);
      out.write(t, off + 156, 1, 'latin1');
      what += `type = ${JSON.stringify(t)}`;
      break;
    }
    case 'name':
    case 'linkname': {
      const at = field === 'name' ? 0 : 157;
      const v = pick(r, ['', '/', '..', '../../../../etc/passwd', '/etc/shadow', 'a/'.repeat(49), 'var/lib/dpkg', 'x\0y', '.wh..wh..opq', 'etc/.wh.os-release']);
      out.fill(0, off + at, off + at + 100);
      out.write(v, off + at, 100, 'latin1');
      what += `${field} = ${JSON.stringify(v)}`;
      break;
    }
    case 'mode':
      out.write(pick(r, ['7777777', '0000000', 'zzzzzzz', '\0\0\0\0\0\0\0']), off + 100, 7, 'latin1');
      what += 'mode rewritten';
      break;
    case 'bytes': {
      const n = 1 + int(r, 6);
      for (let i = 0; i < n; i++) out[off + int(r, 512)] = int(r, 256);
      what += `${n} random byte(s)`;
      break;
    }
    case 'checksum':
      out.write('0000000\0', off + 148, 8, 'latin1');
      return { tar: out, what: what + 'checksum zeroed' };
  }
  rewriteChecksum(out, off);
  return { tar: out, what };
}

/** Every path to a value inside a JSON document. */
function jsonPaths(doc: unknown, path: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  out.push(path);
  if (doc && typeof doc === 'object') for (const [k, v] of Object.entries(doc)) jsonPaths(v, [...path, Array.isArray(doc) ? Number(k) : k], out);
  return out;
}

function swapJson(r: Rng, doc: unknown): { doc: unknown; what: string } {
  const copy = structuredClone(doc);
  const path = pick(r, jsonPaths(copy));
  const values: Array<[string, () => unknown]> = [
    ['null', () => null],
    ['0', () => 0],
    ['-1', () => -1],
    ['1e308', () => 1e308],
    ['2^53+1', () => 2 ** 53 + 1],
    ['1.5', () => 1.5],
    ['true', () => true],
    ['""', () => ''],
    ['a 1 MiB string', () => 'x'.repeat(MiB)],
    ['{}', () => ({})],
    ['[]', () => []],
    ['[null]', () => [null]],
    ['a bad digest', () => 'sha256:' + 'z'.repeat(64)],
    ['a traversal', () => '../../../../etc/passwd'],
    ['deleted', () => undefined],
  ];
  const [name, make] = pick(r, values);
  if (path.length === 0) return { doc: make() ?? null, what: `whole document = ${name}` };
  let parent = copy as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  const v = make();
  if (v === undefined) {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else parent[last] = v;
  return { doc: copy, what: `${path.join('.')} = ${name}` };
}

type Target = 'layer-blob' | 'tar-header' | 'tar-truncate' | 'manifest' | 'config' | 'index' | 'oci-archive' | 'docker-archive';
const TARGETS: readonly Target[] = ['layer-blob', 'layer-blob', 'tar-header', 'tar-header', 'tar-header', 'tar-truncate', 'manifest', 'manifest', 'config', 'config', 'index', 'oci-archive', 'oci-archive', 'docker-archive', 'docker-archive'];

interface FuzzInput {
  /** what was done */
  what: string;
  /** files to write under the case dir: relative path → bytes */
  files: Map<string, Buffer>;
  /** image reference relative to the case dir (joined by the caller) */
  ref: (dir: string) => string;
}

async function makeCase(seed: number, n: number): Promise<FuzzInput> {
  const r = prng((seed ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0);
  const img = await baseImage();
  const original = { digests: img.blobs.map((b) => sha256(b)), sizes: img.blobs.map((b) => b.length) };
  const target = pick(r, TARGETS);
  const li = int(r, img.layers.length);
  const layerOf = (name: string) => `layer ${li} (${img.layers[li]!.compression}) ${name}`;
  const oci = (files: Map<string, Buffer>, what: string): FuzzInput => ({ what: `${target}: ${what}`, files: prefix('layout/', files), ref: (d) => `oci:${join(d, 'layout')}:v1` });
  switch (target) {
    case 'layer-blob': {
      const m = mutateBytes(r, img.blobs[li]!);
      img.blobs[li] = m.bytes;
      img.keepDigest[li] = r() < 0.25;
      return oci(layoutFiles(img, original), `${layerOf(m.what)}${img.keepDigest[li] ? ', digest kept (a lie)' : ''}`);
    }
    case 'tar-header':
    case 'tar-truncate': {
      const layer = img.layers[li]!;
      let what: string;
      if (target === 'tar-header') {
        const times = 1 + int(r, 3);
        const whats: string[] = [];
        for (let i = 0; i < times; i++) {
          const m = mutateTarHeader(r, layer.tar);
          layer.tar = m.tar;
          whats.push(m.what);
        }
        what = whats.join('; ');
      } else {
        const at = int(r, layer.tar.length);
        layer.tar = layer.tar.subarray(0, at);
        what = `tar truncated at ${at}`;
      }
      img.blobs[li] = compress(layer.tar, layer.compression);
      return oci(layoutFiles(img), layerOf(what));
    }
    case 'manifest':
    case 'config':
    case 'index': {
      documents(img);
      let what: string;
      if (r() < 0.75) {
        const m = swapJson(r, img[target]);
        img[target] = m.doc;
        what = m.what;
      } else {
        const m = mutateBytes(r, Buffer.from(JSON.stringify(img[target])));
        img.raw[target] = m.bytes;
        what = `bytes: ${m.what}`;
      }
      if (target === 'config') {
        // the manifest points at the mutated config (else it is only a missing blob)
        const bytes = img.raw.config ?? Buffer.from(JSON.stringify(img.config));
        (img.manifest as { config: Record<string, unknown> }).config = { mediaType: MediaType.OciConfig, digest: sha256(bytes), size: bytes.length };
        img.index = undefined;
      }
      if (target === 'manifest') img.index = undefined;
      return oci(layoutFiles(img), what);
    }
    case 'oci-archive': {
      let bytes = await archiveOf(layoutFiles(img));
      const m = r() < 0.5 ? mutateTarHeader(r, bytes) : (() => { const b = mutateBytes(r, bytes); return { tar: b.bytes, what: b.what }; })();
      bytes = m.tar;
      return { what: `oci-archive: ${m.what}`, files: new Map([['image.tar', bytes]]), ref: (d) => `oci-archive:${join(d, 'image.tar')}:v1` };
    }
    case 'docker-archive': {
      const { files } = await dockerArchiveOf(img);
      let what: string;
      if (r() < 0.3) {
        const m = swapJson(r, JSON.parse(files.get('manifest.json')!.toString()));
        files.set('manifest.json', Buffer.from(JSON.stringify(m.doc) ?? 'null'));
        what = `manifest.json ${m.what}`;
      } else what = '';
      let bytes = await archiveOf(files);
      if (!what || r() < 0.5) {
        const m = r() < 0.5 ? mutateTarHeader(r, bytes) : (() => { const b = mutateBytes(r, bytes); return { tar: b.bytes, what: b.what }; })();
        bytes = m.tar;
        what = [what, m.what].filter(Boolean).join('; ');
      }
      return { what: `docker-archive: ${what}`, files: new Map([['image.tar', bytes]]), ref: (d) => `docker-archive:${join(d, 'image.tar')}:fuzz:v1` };
    }
  }
}

function prefix(p: string, files: Map<string, Buffer>): Map<string, Buffer> {
  return new Map([...files].map(([k, v]) => [p + k, v]));
}

async function writeInput(dir: string, input: FuzzInput): Promise<void> {
  for (const [rel, bytes] of input.files) {
    const path = join(dir, rel);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, bytes);
  }
}

// ───────────────────────────── the run ─────────────────────────────

let work: string;
const failureRoot = join(tmpdir(), 'drydock-fuzz-failures');
/** unhandled rejections / uncaught exceptions, attributed to the case running when they came */
let current = -1;
const stray: Array<{ n: number; what: string }> = [];
const onStray = (e: unknown) => stray.push({ n: current, what: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-fuzz-'));
  process.on('unhandledRejection', onStray);
  process.on('uncaughtException', onStray);
});

afterAll(async () => {
  process.off('unhandledRejection', onStray);
  process.off('uncaughtException', onStray);
  if (work) await rm(work, { recursive: true, force: true });
});

async function keepFailure(n: number, caseDir: string): Promise<string> {
  const dest = join(failureRoot, `seed-${SEED}-case-${n}`);
  await rm(dest, { recursive: true, force: true });
  await mkdir(failureRoot, { recursive: true });
  await cp(caseDir, dest, { recursive: true });
  return dest;
}

const cases = ONLY !== undefined ? [ONLY] : Array.from({ length: CASES }, (_, i) => i);

describe(`seeded mutation fuzzer (seed ${SEED}, ${cases.length} case(s))`, () => {
  it('the base image scans cleanly (exit 0, its packages found)', async () => {
    const input: FuzzInput = { what: 'none', files: prefix('layout/', layoutFiles(await baseImage())), ref: (d) => `oci:${join(d, 'layout')}:v1` };
    const dir = join(work, 'base');
    await writeInput(dir, input);
    const res = await runCli(['scan', input.ref(dir), '--cache-dir', join(dir, 'cache'), '-q', '-o', 'json'], caseEnv(dir));
    expect(res.err).not.toMatch(STACK_TRACE);
    expect(res.code).toBe(0);
    const names = (JSON.parse(res.out) as { results: Array<{ packages: Array<{ name: string }> }> }).results[0]!.packages.map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['pkg0', 'pkg3', 'left-pad', 'six']));
  });

  it(`every mutation ends with exit 0 or 3, in-process through main()`, async () => {
    const failures: string[] = [];
    const lateWrites: number[] = [];
    const codes = new Map<number, number>();
    for (const n of cases) {
      current = n;
      const input = await makeCase(SEED, n);
      const dir = join(work, `case-${n}`);
      await writeInput(dir, input);
      const strayBefore = stray.length;
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        runCli(['scan', input.ref(dir), '--cache-dir', join(dir, 'cache'), '-q', '-o', 'json'], caseEnv(dir)).then(
          (r) => ({ ...r, problem: undefined as string | undefined }),
          (e: unknown) => ({ code: -1, out: '', err: String(e), problem: `main() rejected: ${(e as Error)?.stack ?? String(e)}` }),
        ),
        new Promise<{ code: number; out: string; err: string; problem: string }>((res) => {
          timer = setTimeout(() => res({ code: -1, out: '', err: '', problem: `no exit within ${CASE_TIMEOUT_MS} ms (hang)` }), CASE_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      // let stray rejections of this case surface before judging it
      await new Promise((res) => setImmediate(res));
      const problems: string[] = [];
      if (outcome.problem) problems.push(outcome.problem);
      else if (outcome.code !== 0 && outcome.code !== 3) problems.push(`exit ${outcome.code}, want 0 or 3`);
      if (STACK_TRACE.test(outcome.err)) problems.push(`stack trace / unexpected error: ${outcome.err.split('\n')[0]!.slice(0, 300)}`);
      for (const s of stray.slice(strayBefore)) problems.push(`unhandled: ${s.what}`);
      codes.set(outcome.code, (codes.get(outcome.code) ?? 0) + 1);
      if (VERBOSE) console.log(`case ${n} (${input.what}) → ${outcome.code} ${outcome.err.split('\n')[0]!.slice(0, 200)}`);
      if (problems.length) {
        const kept = await keepFailure(n, dir);
        const line = `fuzz failure: seed ${SEED} case ${n} (${input.what}): ${problems.join('; ')}; input kept at ${kept} (rerun: DRYDOCK_FUZZ_SEED=${SEED} DRYDOCK_FUZZ_ONLY=${n})`;
        console.error(line);
        failures.push(line);
      }
      // A scan that returned while a cache write of another layer was still going leaves the dir
      // changing under rm: work left running after the scan answered (scanImage waits for every
      // layer it started, so this is a failure).
      try {
        await rm(dir, { recursive: true, force: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw e;
        lateWrites.push(n);
        failures.push(`fuzz failure: seed ${SEED} case ${n} (${input.what}): still writing into the cache dir after main() returned (rerun: DRYDOCK_FUZZ_SEED=${SEED} DRYDOCK_FUZZ_ONLY=${n})`);
        await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      }
    }
    current = -1;
    const late = lateWrites.length ? `; still writing into the cache dir after main() returned: case(s) ${lateWrites.join(', ')}` : '';
    console.log(`fuzz seed ${SEED}: ${cases.length} case(s), exit codes ${JSON.stringify(Object.fromEntries(codes))}, ${failures.length} failure(s)${late}`);
    expect(failures).toEqual([]);
  }, 600_000);

  it(`the first ${BINARY_CASES} mutation(s) also through the built binary`, async () => {
    await ensureBuiltCli();
    const failures: string[] = [];
    for (const n of cases.slice(0, BINARY_CASES)) {
      const input = await makeCase(SEED, n);
      const dir = join(work, `bin-${n}`);
      await mkdir(join(dir, 'home'), { recursive: true });
      await mkdir(join(dir, 'tmp'), { recursive: true });
      await writeInput(dir, input);
      const r = await runDrydock(['scan', input.ref(dir), '--cache-dir', join(dir, 'cache'), '-q', '-o', 'json'], { env: caseEnv(dir), cwd: dir, timeoutMs: 30_000, rssCap: 500 * MiB });
      const problems: string[] = [];
      if (r.killed) problems.push(`killed: ${r.killed}`);
      else if (r.code !== 0 && r.code !== 3) problems.push(`exit ${r.code}${r.signal ? ` (${r.signal})` : ''}, want 0 or 3`);
      if (STACK_TRACE.test(r.stderr)) problems.push(`stack trace: ${r.stderr.split('\n')[0]!.slice(0, 300)}`);
      if (problems.length) {
        const kept = await keepFailure(n, dir);
        failures.push(`fuzz failure (binary): seed ${SEED} case ${n} (${input.what}): ${problems.join('; ')}; input kept at ${kept}`);
        console.error(failures[failures.length - 1]);
      }
      await rm(dir, { recursive: true, force: true });
    }
    expect(failures).toEqual([]);
  }, 300_000);
});
