/**
 * Builders for real container images, for integration tests and the benchmark.
 *
 * Layers are made with the real tools: files are written into a staging directory and
 * archived by GNU tar (normalised: sorted, owner 0/0, mtime 0), then compressed with
 * `gzip -n` or `zstd -q`. Images are written as OCI image layouts (oci-layout, index.json,
 * blobs/sha256/…) and converted with `tar` and `skopeo` to OCI archives, docker-archive
 * tarballs, or pushed to a registry.
 *
 * Everything streams through files, so a 300 MB rootfs layer never sits in memory unless
 * a `tarTransform` / `blobTransform` asks for the bytes.
 *
 * Same input → same bytes → same digests (gzip -n stores no name/time; tar is normalised).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, link, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MediaType, type Compression } from '../../shared/image/media-types.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest, Platform } from '../../shared/image/types.js';
import { run, start, type Spawned } from './exec.js';

// ───────────────────────────── specs ─────────────────────────────

/**
 * One entry of a layer. Paths are relative to the layer root ("etc/os-release"; a leading
 * "/" or "./" is dropped). Parent directories are added (mode 0755) unless the layer says
 * `parentDirs: false`.
 *
 * Whiteouts are plain files named `.wh.<name>`; an opaque directory is `<dir>/.wh..wh..opq`.
 */
export type FileSpec = {
  path: string;
  /** default 'file' */
  type?: 'file' | 'dir' | 'symlink' | 'hardlink';
  /** file content (default empty) */
  content?: string | Buffer;
  /** permission bits incl. setuid etc.; default 0644 for files, 0755 for dirs (ignored for links) */
  mode?: number;
  /** symlink: the link text, stored as-is; hardlink: the layer path of an earlier-declared regular file */
  target?: string;
};

export type TarFormat = 'gnu' | 'pax' | 'ustar';

export type LayerSpec = {
  /** entries to archive (ignored with fromTarFile / fromDirectory) */
  files?: FileSpec[];
  /** use an existing uncompressed tar as the layer's tar */
  fromTarFile?: string;
  /** archive this directory tree (streamed; for a debootstrap rootfs or the benchmark) */
  fromDirectory?: string;
  /** default 'gzip' */
  compression?: Compression;
  /** default 'gnu' */
  tarFormat?: TarFormat;
  /** add entries for the parent directories of `files` (default true) */
  parentDirs?: boolean;
  /** rewrite the uncompressed tar before compression (e.g. truncate it); diff_id is of the result */
  tarTransform?: (tar: Buffer) => Buffer;
  /** rewrite the blob after compression (e.g. flip a byte) */
  blobTransform?: (blob: Buffer) => Buffer;
  /**
   * which bytes the descriptor digest is of: the final blob (default) or the blob before
   * `blobTransform` — the latter gives a blob whose content does not match its digest.
   * The blob is stored under the descriptor digest either way (replacing a good blob of that
   * digest in the same layout, so build broken images into a layout of their own).
   */
  digestOf?: 'transformed' | 'original';
  /** descriptor media type (default: the OCI/Docker layer type for the compression) */
  mediaType?: string;
  /** descriptor size (default: the real blob size) */
  declaredSize?: number;
  /** config rootfs.diff_ids entry (default: sha256 of the uncompressed tar) */
  diffId?: string;
  /** descriptor annotations */
  annotations?: Record<string, string>;
};

export type ManifestFormat = 'oci' | 'docker';

export interface ImageSpec {
  layers: LayerSpec[];
  /** default linux/amd64 */
  platform?: Platform;
  /** the org.opencontainers.image.ref.name of the index.json entry (replaces an entry with the same tag) */
  tag?: string;
  /** shallow-merged over the generated config (so `rootfs` or `history` given here win) */
  config?: Partial<ImageConfig>;
  /**
   * 'oci' (default) or Docker image manifest v2 schema 2 media types. A 'docker' layout is for
   * readers of layouts only: skopeo 1.9 cannot read Docker manifests from an OCI layout, so
   * to get a Docker-typed image into a registry build 'oci' and push with `format: 'v2s2'`.
   */
  manifestFormat?: ManifestFormat;
  /** manifest annotations */
  annotations?: Record<string, string>;
}

export interface BuiltLayer {
  digest: string;
  diffId: string;
  size: number;
  mediaType: string;
}

export interface BuiltImage {
  layoutDir: string;
  tag?: string;
  manifestDigest: string;
  manifestMediaType: string;
  manifestSize: number;
  configDigest: string;
  platform: Platform;
  layers: BuiltLayer[];
}

export interface MultiPlatformSpec {
  tag: string;
  platforms: Array<{
    platform: Platform;
    layers: LayerSpec[];
    config?: Partial<ImageConfig>;
  }>;
  /** add a BuildKit-style attestation manifest (unknown/unknown) for each platform image */
  attestation?: boolean;
  /** 'oci' (default: OCI index + OCI manifests) or 'docker' (manifest list + Docker manifests; see ImageSpec) */
  manifestFormat?: ManifestFormat;
}

export interface BuiltMultiPlatformImage {
  layoutDir: string;
  tag: string;
  indexDigest: string;
  indexMediaType: string;
  images: BuiltImage[];
  /** attestation manifest digests, in platform order (empty without `attestation`) */
  attestations: string[];
}

// ───────────────────────────── constants ─────────────────────────────

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
const EPOCH = '1970-01-01T00:00:00Z';
const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

const LAYER_TYPES: Record<ManifestFormat, Record<Compression, string>> = {
  oci: { none: MediaType.OciLayer, gzip: MediaType.OciLayerGzip, zstd: MediaType.OciLayerZstd },
  docker: { none: MediaType.DockerLayerTar, gzip: MediaType.DockerLayerGzip, zstd: MediaType.DockerLayerZstd },
};

/** GNU tar options that make an archive depend only on the file tree. */
function tarArgs(format: TarFormat): string[] {
  const args = [`--format=${format}`, '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0'];
  // GNU tar's default PAX header names contain the PID, and it records atime/ctime
  if (format === 'pax') args.push('--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime');
  return args;
}

// ───────────────────────────── small helpers ─────────────────────────────

export function sha256(data: string | Buffer): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return 'sha256:' + h.digest('hex');
}

/** Where a blob lives in an OCI layout. */
export function blobPath(layoutDir: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  if (!alg || !hex) throw new Error(`not a digest: ${digest}`);
  return join(layoutDir, 'blobs', alg, hex);
}

/** The skopeo / containers-image reference of a tagged image in a layout: `oci:<dir>:<tag>`. */
export function ociRef(layoutDir: string, tag: string): string {
  return `oci:${resolve(layoutDir)}:${tag}`;
}

/** Serialise uses of one layout dir within this process (index.json is read-modify-write). */
const layoutLocks = new Map<string, Promise<unknown>>();
async function withLayoutLock<T>(layoutDir: string, fn: () => Promise<T>): Promise<T> {
  const key = resolve(layoutDir);
  const prev = layoutLocks.get(key) ?? Promise.resolve();
  const next = prev.catch(() => {}).then(fn);
  layoutLocks.set(key, next);
  try {
    return await next;
  } finally {
    if (layoutLocks.get(key) === next) layoutLocks.delete(key);
  }
}

/** Passes data through, hashing and counting it. */
class HashTap extends Transform {
  private readonly hash = createHash('sha256');
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }
  digest(): string {
    return 'sha256:' + this.hash.digest('hex');
  }
}

/** Wait for all; if any failed, throw the first tool error (most informative), else the first error. */
async function settleAll(work: Array<Promise<unknown>>, tools: Array<Promise<unknown>>): Promise<void> {
  const [w, t] = await Promise.all([Promise.allSettled(work), Promise.allSettled(tools)]);
  const failed = [...t, ...w].find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

function compressor(compression: Exclude<Compression, 'none'>): Spawned {
  // -n: no original name / timestamp in the gzip header (reproducible); zstd writes to stdout for stdin input
  return compression === 'gzip' ? start('gzip', ['-n', '-c']) : start('zstd', ['-q', '-c']);
}

/**
 * Stream an uncompressed tar through the compressor into `outPath`, hashing both sides.
 * `producer` is the tool writing `source` (tar), awaited for its exit status.
 */
async function compressTo(
  source: Readable,
  producer: Spawned | undefined,
  compression: Compression,
  outPath: string,
): Promise<{ diffId: string; digest: string; size: number }> {
  const tarTap = new HashTap();
  const tools = producer ? [producer.done] : [];
  if (compression === 'none') {
    await settleAll([pipeline(source, tarTap, createWriteStream(outPath))], tools);
    const diffId = tarTap.digest();
    return { diffId, digest: diffId, size: tarTap.size };
  }
  const comp = compressor(compression);
  const blobTap = new HashTap();
  await settleAll(
    [pipeline(source, tarTap, comp.child.stdin!), pipeline(comp.child.stdout!, blobTap, createWriteStream(outPath))],
    [...tools, comp.done],
  );
  return { diffId: tarTap.digest(), digest: blobTap.digest(), size: blobTap.size };
}

async function collect(source: Readable, producer: Spawned | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const reading = (async () => {
    for await (const c of source) chunks.push(c as Buffer);
  })();
  await settleAll([reading], producer ? [producer.done] : []);
  return Buffer.concat(chunks);
}

// ───────────────────────────── tar ─────────────────────────────

/** "/a/./b/" → "a/b"; rejects paths that leave the layer root. */
function layerPath(p: string): string {
  const norm = posix.normalize('/' + p).replace(/^\/+/, '').replace(/\/+$/, '');
  if (!norm || p.split('/').includes('..')) throw new Error(`bad layer path: ${JSON.stringify(p)}`);
  return norm;
}

/**
 * Write `files` into `stage` and return the archive order: sorted by name, except that a
 * hard link comes right after its target when the target sorts later (tar can only link
 * to an entry it has already written, and we want the declared file to be the real one).
 */
async function stageFiles(stage: string, files: FileSpec[], parentDirs: boolean): Promise<string[]> {
  const specs = new Map<string, FileSpec>();
  for (const f of files) {
    const p = layerPath(f.path);
    if (specs.has(p)) throw new Error(`duplicate layer path: ${p}`);
    specs.set(p, f);
  }
  const entries = new Set(specs.keys());
  if (parentDirs) {
    for (const p of specs.keys()) {
      for (let d = posix.dirname(p); d !== '.'; d = posix.dirname(d)) entries.add(d);
    }
  }

  // dirs and files first, then symlinks (so nothing is written through them), then hard links
  const kind = (p: string) => specs.get(p)?.type ?? (specs.has(p) ? 'file' : 'dir');
  const rank = { dir: 0, file: 1, symlink: 2, hardlink: 3 } as const;
  const creation = [...entries].sort((a, b) => rank[kind(a)] - rank[kind(b)] || (a < b ? -1 : a > b ? 1 : 0));
  for (const p of creation) {
    const f = specs.get(p);
    const abs = join(stage, p);
    await mkdir(dirname(abs), { recursive: true });
    switch (kind(p)) {
      case 'dir':
        await mkdir(abs, { recursive: true }); // mode set below, once its children exist
        break;
      case 'file':
        await writeFile(abs, f?.content ?? '');
        await chmod(abs, f?.mode ?? 0o644);
        break;
      case 'symlink':
        if (f?.target === undefined) throw new Error(`symlink ${p} needs a target`);
        await symlink(f.target, abs);
        break;
      case 'hardlink': {
        if (f?.target === undefined) throw new Error(`hard link ${p} needs a target`);
        const t = layerPath(f.target);
        const tk = specs.has(t) ? kind(t) : undefined;
        if (tk !== 'file' && tk !== 'hardlink') throw new Error(`hard link ${p}: target ${t} is not a file of this layer`);
        await link(join(stage, t), abs);
        break;
      }
    }
  }
  // directory modes last: a read-only dir must not stop us writing its children
  for (const p of entries) {
    if (kind(p) === 'dir') await chmod(join(stage, p), specs.get(p)?.mode ?? 0o755);
  }

  const order: string[] = [];
  const written = new Set<string>();
  const waiting = new Map<string, string[]>();
  const emit = (p: string) => {
    order.push(p);
    written.add(p);
    for (const l of waiting.get(p) ?? []) emit(l);
    waiting.delete(p);
  };
  for (const p of [...entries].sort(byteOrder)) {
    const f = specs.get(p);
    if (f?.type === 'hardlink') {
      const t = layerPath(f.target!);
      if (!written.has(t)) {
        waiting.set(t, [...(waiting.get(t) ?? []), p]);
        continue;
      }
    }
    emit(p);
  }
  return order;
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Start GNU tar writing an archive of `entries` (relative to `cwd`, not recursed) to stdout. */
async function startTarOfEntries(cwd: string, entries: string[], format: TarFormat, listFile: string): Promise<Spawned> {
  await writeFile(listFile, entries.map((e) => e + '\0').join(''));
  return start(
    'tar',
    [...tarArgs(format), '-C', cwd, '--no-recursion', '--null', '--verbatim-files-from', '-T', listFile, '-cf', '-'],
    { stdin: 'ignore' },
  );
}

/** Start GNU tar writing an archive of the tree under `dir` (names without "./") to stdout. */
async function startTarOfDirectory(dir: string, format: TarFormat, listFile: string): Promise<Spawned> {
  const top = (await readdir(dir)).sort(byteOrder);
  await writeFile(listFile, top.map((e) => e + '\0').join(''));
  return start('tar', [...tarArgs(format), '-C', dir, '--null', '--verbatim-files-from', '-T', listFile, '-cf', '-'], {
    stdin: 'ignore',
  });
}

export interface TarDirectoryResult {
  /** the layer blob */
  path: string;
  compression: Compression;
  /** sha256 of the uncompressed tar */
  diffId: string;
  /** sha256 of the blob */
  digest: string;
  size: number;
}

/**
 * Archive a directory tree (e.g. a debootstrap rootfs) as a layer blob, streamed to a file.
 * `out` defaults to a new temp file (the caller removes it). Entry names have no "./" prefix.
 */
export async function tarDirectory(
  dir: string,
  opts: { out?: string; compression?: Compression; tarFormat?: TarFormat } = {},
): Promise<TarDirectoryResult> {
  const compression = opts.compression ?? 'gzip';
  const work = await mkdtemp(join(tmpdir(), 'drydock-tar-'));
  try {
    const out = opts.out ?? join(await mkdtemp(join(tmpdir(), 'drydock-layer-')), `layer.tar${ext(compression)}`);
    const tar = await startTarOfDirectory(dir, opts.tarFormat ?? 'gnu', join(work, 'entries'));
    const r = await compressTo(tar.child.stdout!, tar, compression, out);
    return { path: out, compression, ...r };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function ext(c: Compression): string {
  return c === 'gzip' ? '.gz' : c === 'zstd' ? '.zst' : '';
}

// ───────────────────────────── layout ─────────────────────────────

async function ensureLayout(layoutDir: string): Promise<void> {
  await mkdir(join(layoutDir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
}

/** Store `data` as a blob; returns its descriptor fields. */
async function putBlob(layoutDir: string, data: Buffer): Promise<{ digest: string; size: number }> {
  const digest = sha256(data);
  await writeFile(blobPath(layoutDir, digest), data);
  return { digest, size: data.length };
}

async function putJson(layoutDir: string, mediaType: string, doc: unknown): Promise<Descriptor> {
  return { mediaType, ...(await putBlob(layoutDir, Buffer.from(JSON.stringify(doc)))) };
}

/** Add (or, for a tag already present, replace) an entry of the layout's index.json. */
async function addToIndex(layoutDir: string, desc: Descriptor, tag: string | undefined): Promise<void> {
  const path = join(layoutDir, 'index.json');
  let index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
  try {
    index = JSON.parse(await readFile(path, 'utf8')) as ImageIndex;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const entry: Descriptor = { ...desc };
  if (tag !== undefined) {
    entry.annotations = { ...entry.annotations, [REF_NAME_ANNOTATION]: tag };
    index.manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME_ANNOTATION] !== tag);
  }
  index.manifests.push(entry);
  await writeFile(path, JSON.stringify(index));
}

/** Build one layer blob into the layout. */
async function buildLayer(layoutDir: string, spec: LayerSpec, format: ManifestFormat): Promise<BuiltLayer> {
  const compression = spec.compression ?? 'gzip';
  const tarFormat = spec.tarFormat ?? 'gnu';
  const work = await mkdtemp(join(tmpdir(), 'drydock-layer-'));
  // written inside the layout so the final rename never crosses file systems
  const tmpBlob = join(layoutDir, 'blobs', 'sha256', `.tmp-${randomBytes(8).toString('hex')}`);
  try {
    let producer: Spawned | undefined;
    let source: Readable;
    if (spec.fromTarFile !== undefined) {
      source = createReadStream(spec.fromTarFile);
    } else if (spec.fromDirectory !== undefined) {
      producer = await startTarOfDirectory(spec.fromDirectory, tarFormat, join(work, 'entries'));
      source = producer.child.stdout!;
    } else {
      const stage = join(work, 'stage');
      await mkdir(stage);
      const order = await stageFiles(stage, spec.files ?? [], spec.parentDirs ?? true);
      producer = await startTarOfEntries(stage, order, tarFormat, join(work, 'entries'));
      source = producer.child.stdout!;
    }
    if (spec.tarTransform) {
      const tar = spec.tarTransform(await collect(source, producer));
      source = Readable.from([tar]);
      producer = undefined;
    }
    let { diffId, digest, size } = await compressTo(source, producer, compression, tmpBlob);
    let descDigest = digest;
    if (spec.blobTransform) {
      const blob = spec.blobTransform(await readFile(tmpBlob));
      await writeFile(tmpBlob, blob);
      const original = digest;
      digest = sha256(blob);
      size = blob.length;
      descDigest = spec.digestOf === 'original' ? original : digest;
    }
    await rename(tmpBlob, blobPath(layoutDir, descDigest));
    return {
      digest: descDigest,
      diffId: spec.diffId ?? diffId,
      size: spec.declaredSize ?? size,
      mediaType: spec.mediaType ?? LAYER_TYPES[format][compression],
    };
  } finally {
    await rm(tmpBlob, { force: true });
    await rm(work, { recursive: true, force: true });
  }
}

/** Write layers, config and manifest blobs of one image (index.json untouched). */
async function writeImage(layoutDir: string, spec: ImageSpec): Promise<BuiltImage> {
  await ensureLayout(layoutDir);
  const format = spec.manifestFormat ?? 'oci';
  const platform = spec.platform ?? DEFAULT_PLATFORM;
  const layers = await Promise.all(spec.layers.map((l) => buildLayer(layoutDir, l, format)));

  const config: ImageConfig = {
    created: EPOCH,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant !== undefined && { variant: platform.variant }),
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: EPOCH, created_by: `drydock-test: layer ${i}` })),
    ...spec.config,
  };
  const configDesc = await putJson(layoutDir, format === 'oci' ? MediaType.OciConfig : MediaType.DockerConfig, config);

  const manifestMediaType = format === 'oci' ? MediaType.OciManifest : MediaType.DockerManifest;
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: manifestMediaType,
    config: configDesc,
    layers: layers.map((l, i) => ({
      mediaType: l.mediaType,
      digest: l.digest,
      size: l.size,
      ...(spec.layers[i]?.annotations && { annotations: spec.layers[i]!.annotations }),
    })),
    ...(spec.annotations && { annotations: spec.annotations }),
  };
  const m = await putJson(layoutDir, manifestMediaType, manifest);
  return {
    layoutDir,
    ...(spec.tag !== undefined && { tag: spec.tag }),
    manifestDigest: m.digest,
    manifestMediaType,
    manifestSize: m.size,
    configDigest: configDesc.digest,
    platform,
    layers,
  };
}

// ───────────────────────────── public builders ─────────────────────────────

/**
 * Build a single-platform image into the OCI layout at `layoutDir` (created if needed; an
 * existing layout keeps its other images and tags).
 */
export function buildImage(layoutDir: string, spec: ImageSpec): Promise<BuiltImage> {
  return withLayoutLock(layoutDir, async () => {
    const img = await writeImage(layoutDir, spec);
    await addToIndex(
      layoutDir,
      { mediaType: img.manifestMediaType, digest: img.manifestDigest, size: img.manifestSize },
      spec.tag,
    );
    return img;
  });
}

/**
 * Build a multi-platform image: one manifest per platform under an OCI index (or Docker
 * manifest list), tagged `tag` in index.json. With `attestation`, each platform image gets
 * a BuildKit-style attestation manifest (platform unknown/unknown, annotations
 * vnd.docker.reference.type=attestation-manifest and vnd.docker.reference.digest=<image>,
 * one in-toto SLSA provenance layer).
 */
export function buildMultiPlatformImage(layoutDir: string, spec: MultiPlatformSpec): Promise<BuiltMultiPlatformImage> {
  return withLayoutLock(layoutDir, async () => {
    const format = spec.manifestFormat ?? 'oci';
    const images: BuiltImage[] = [];
    const attestations: Descriptor[] = [];
    for (const p of spec.platforms) {
      const img = await writeImage(layoutDir, { layers: p.layers, platform: p.platform, config: p.config, manifestFormat: format });
      images.push(img);
      if (spec.attestation) attestations.push(await writeAttestation(layoutDir, img));
    }
    const indexMediaType = format === 'oci' ? MediaType.OciIndex : MediaType.DockerManifestList;
    const index: ImageIndex = {
      schemaVersion: 2,
      mediaType: indexMediaType,
      manifests: [
        ...images.map((i) => ({ mediaType: i.manifestMediaType, digest: i.manifestDigest, size: i.manifestSize, platform: i.platform })),
        ...attestations,
      ],
    };
    const desc = await putJson(layoutDir, indexMediaType, index);
    await addToIndex(layoutDir, desc, spec.tag);
    return {
      layoutDir,
      tag: spec.tag,
      indexDigest: desc.digest,
      indexMediaType,
      images: images.map((i) => ({ ...i, tag: spec.tag })),
      attestations: attestations.map((a) => a.digest),
    };
  });
}

/** An attestation manifest as BuildKit attaches to an image; returns its index descriptor. */
async function writeAttestation(layoutDir: string, img: BuiltImage): Promise<Descriptor> {
  const predicateType = 'https://slsa.dev/provenance/v0.2';
  const statement = {
    _type: 'https://in-toto.io/Statement/v0.1',
    predicateType,
    subject: [{ name: `pkg:docker/drydock-test@${img.manifestDigest}`, digest: { sha256: img.manifestDigest.slice(7) } }],
    predicate: { builder: { id: 'drydock-test' }, buildType: 'https://mobyproject.org/buildkit@v1' },
  };
  const layer = await putJson(layoutDir, MediaType.InTotoAttestation, statement);
  const config = await putJson(layoutDir, MediaType.OciConfig, {
    architecture: 'unknown',
    os: 'unknown',
    config: {},
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
  });
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config,
    layers: [{ ...layer, annotations: { 'in-toto.io/predicate-type': predicateType } }],
  };
  const m = await putJson(layoutDir, MediaType.OciManifest, manifest);
  return {
    ...m,
    annotations: {
      'vnd.docker.reference.digest': img.manifestDigest,
      'vnd.docker.reference.type': 'attestation-manifest',
    },
    platform: { architecture: 'unknown', os: 'unknown' },
  };
}

export interface ArtifactSpec {
  tag: string;
  /** the config descriptor's media type (cosign, Helm, ...); the config blob is `config` as JSON */
  configMediaType: string;
  config?: unknown;
  /** each layer's media type and bytes */
  layers: Array<{ mediaType: string; content: string | Buffer; annotations?: Record<string, string> }>;
  /** OCI 1.1 `artifactType` on the manifest */
  artifactType?: string;
  /** OCI 1.1 `subject`: the manifest this artifact refers to */
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/**
 * An OCI artifact that is not a container image (a cosign signature, a Helm chart, an SBOM):
 * an OCI image manifest with the given config media type and layers, tagged `tag` in index.json.
 * Returns the manifest descriptor.
 */
export function buildArtifact(layoutDir: string, spec: ArtifactSpec): Promise<Descriptor> {
  return withLayoutLock(layoutDir, async () => {
    await ensureLayout(layoutDir);
    const config = { mediaType: spec.configMediaType, ...(await putBlob(layoutDir, Buffer.from(JSON.stringify(spec.config ?? {})))) };
    const layers: Descriptor[] = [];
    for (const l of spec.layers) {
      layers.push({ mediaType: l.mediaType, ...(await putBlob(layoutDir, Buffer.isBuffer(l.content) ? l.content : Buffer.from(l.content))), ...(l.annotations && { annotations: l.annotations }) });
    }
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      ...(spec.artifactType !== undefined && { artifactType: spec.artifactType }),
      config,
      layers,
      ...(spec.subject && { subject: spec.subject }),
      ...(spec.annotations && { annotations: spec.annotations }),
    };
    const desc = await putJson(layoutDir, MediaType.OciManifest, manifest);
    await addToIndex(layoutDir, desc, spec.tag);
    return desc;
  });
}

/**
 * An OCI index over manifests already in the layout (any descriptors: repeated entries, other
 * platforms, artifacts), tagged `tag` in index.json. Returns the index descriptor.
 */
export function buildIndex(layoutDir: string, tag: string, manifests: Descriptor[], extra: { annotations?: Record<string, string> } = {}): Promise<Descriptor> {
  return withLayoutLock(layoutDir, async () => {
    await ensureLayout(layoutDir);
    const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests, ...(extra.annotations && { annotations: extra.annotations }) };
    const desc = await putJson(layoutDir, MediaType.OciIndex, index);
    await addToIndex(layoutDir, desc, tag);
    return desc;
  });
}

// ───────────────────────────── converters ─────────────────────────────

/** No policy.json lookup: accept anything (these are our own test images). */
const SKOPEO_BASE = ['--insecure-policy'];

/**
 * skopeo 1.9's `oci:` transport only considers index.json entries with OCI manifest/index
 * media types and otherwise says "no descriptor found for reference"; say why instead.
 */
async function assertSkopeoReadable(layoutDir: string, tag: string): Promise<void> {
  const index = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8')) as ImageIndex;
  const entry = index.manifests.find((m) => m.annotations?.[REF_NAME_ANNOTATION] === tag);
  if (!entry) throw new Error(`no image tagged ${JSON.stringify(tag)} in ${layoutDir}/index.json`);
  if (entry.mediaType !== MediaType.OciManifest && entry.mediaType !== MediaType.OciIndex) {
    throw new Error(
      `skopeo cannot read ${tag} (${entry.mediaType}) from an OCI layout; build it with manifestFormat 'oci' ` +
        `and push with format 'v2s2' to get Docker media types`,
    );
  }
}

/** skopeo's global flags picking one image out of an index (default: the host's platform). */
function platformFlags(p: Platform | undefined): string[] {
  if (!p) return [];
  return [
    '--override-os',
    p.os,
    '--override-arch',
    p.architecture,
    ...(p.variant !== undefined ? ['--override-variant', p.variant] : []),
  ];
}

/**
 * An `oci-archive`: a plain (uncompressed) tar of the layout with entries `oci-layout`,
 * `index.json`, `blobs/…` (no "./" prefix), normalised like the layers.
 */
export async function toOciArchive(layoutDir: string, tarPath: string): Promise<void> {
  await run('tar', [...tarArgs('gnu'), '-C', layoutDir, '-cf', resolve(tarPath), 'oci-layout', 'index.json', 'blobs']);
}

/**
 * A `docker save`-style tarball made by `skopeo copy oci:<dir>:<tag> docker-archive:<tar>:<name>`.
 *
 * Format written by skopeo 1.9 (containers/image v5): `manifest.json` (the `docker save`
 * list: [{Config: "<hex>.json", RepoTags: [name], Layers: ["<hex>.tar", …]}]), the config as
 * `<config hex>.json`, each layer UNCOMPRESSED as `<diffId hex>.tar` (skopeo decompresses
 * gzip/zstd layers, so the files are named by diff_id, not by blob digest), a legacy
 * `repositories` file, and legacy per-layer dirs `<id>/{VERSION,json,layer.tar}` whose
 * `layer.tar` is a symlink to `../<diffId hex>.tar`. The config is rewritten into Docker's
 * form only where needed; its digest stays the OCI one.
 *
 * From a multi-platform tag skopeo picks one image: `platform` (default: the host's).
 * The file is replaced if it exists (skopeo refuses to append to an existing archive).
 */
export async function toDockerArchive(
  layoutDir: string,
  tag: string,
  tarPath: string,
  opts: { name?: string; platform?: Platform } = {},
): Promise<void> {
  const name = opts.name ?? `drydock-test/image:${tag}`;
  await assertSkopeoReadable(layoutDir, tag);
  await rm(tarPath, { force: true });
  await run('skopeo', [
    ...SKOPEO_BASE,
    ...platformFlags(opts.platform),
    'copy',
    '--quiet',
    ociRef(layoutDir, tag),
    `docker-archive:${resolve(tarPath)}:${name}`,
  ]);
}

export interface RegistryTarget {
  host: string;
  username?: string;
  password?: string;
}

export interface PushResult {
  /** "<host>/<repoTag>" */
  reference: string;
  /** the digest of the manifest (or index, with `all`) the registry now holds for the tag */
  digest: string;
}

/**
 * Push a tagged image of the layout with `skopeo copy` (plain HTTP, no TLS).
 *
 * - `all` copies a whole index (every platform + attestations); without it skopeo copies the
 *   one image of an index matching `platform` (default: the host's, linux/amd64 here).
 * - By default digests are preserved (`--preserve-digests`): the registry holds exactly the
 *   manifest/index that was built, and uncompressed layers stay uncompressed (otherwise
 *   skopeo gzips them for a registry and the manifest digest changes).
 * - `format: 'v2s2'` makes skopeo convert to Docker manifest v2 schema 2 (+ manifest list with
 *   `all`); digests then change (see the result). skopeo 1.9 refuses to convert zstd layers
 *   and in-toto attestation manifests, so use gzip/uncompressed layers and no attestation.
 * - Without credentials the push is anonymous (`--dest-no-creds`: no auth file is consulted).
 */
export async function pushToRegistry(
  layoutDir: string,
  tag: string,
  reg: RegistryTarget,
  repoTag: string,
  opts: { all?: boolean; platform?: Platform; format?: 'oci' | 'v2s2'; preserveDigests?: boolean } = {},
): Promise<PushResult> {
  await assertSkopeoReadable(layoutDir, tag);
  const preserve = opts.preserveDigests ?? opts.format === undefined;
  const work = await mkdtemp(join(tmpdir(), 'drydock-push-'));
  try {
    const digestFile = join(work, 'digest');
    const reference = `${reg.host}/${repoTag}`;
    await run('skopeo', [
      ...SKOPEO_BASE,
      ...platformFlags(opts.platform),
      'copy',
      '--quiet',
      ...(opts.all ? ['--all'] : []),
      ...(opts.format ? ['--format', opts.format] : []),
      ...(preserve ? ['--preserve-digests'] : []),
      '--dest-tls-verify=false',
      ...(reg.username !== undefined ? ['--dest-creds', `${reg.username}:${reg.password ?? ''}`] : ['--dest-no-creds']),
      '--digestfile',
      digestFile,
      ociRef(layoutDir, tag),
      `docker://${reference}`,
    ]);
    return { reference, digest: (await readFile(digestFile, 'utf8')).trim() };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

