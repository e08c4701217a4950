import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DrydockError, type ErrorContext } from '../errors.js';
import type { ImageSource } from '../ports/image-source.js';
import { sha256Digest, verifyDigest } from './digest.js';
import { MediaType } from './media-types.js';
import { parseJson } from './oci-layout.js';
import { asConfig, asObject } from './documents.js';
import { TarIndex } from './tar-index.js';
import type { Descriptor, FetchedManifest, ImageConfig, ImageManifest } from './types.js';

interface ArchiveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/**
 * `docker-archive:<tar>[:repo:tag]`: the format of `docker save` and `skopeo copy
 * docker-archive:` — manifest.json naming a config file and layer tars. There is no
 * registry manifest, so one is synthesised (Docker v2 schema 2) whose layer descriptors
 * carry the real digests: for an uncompressed layer (the usual case) its diff id, which
 * the layer reader then verifies; for a compressed one, the hash of the file.
 */
export class DockerArchiveSource implements ImageSource {
  private readonly paths = new Map<string, string>();
  private synthesized?: FetchedManifest;

  private constructor(
    readonly name: string,
    private readonly tar: TarIndex,
    private readonly tag: string | undefined,
    private readonly image: string,
  ) {}

  static async open(path: string, tag: string | undefined, image: string): Promise<DockerArchiveSource> {
    const tar = await TarIndex.open(path).catch((e: unknown) => {
      throw e instanceof DrydockError ? e.withContext({ image }) : e;
    });
    return new DockerArchiveSource(`docker-archive ${path}${tag ? `:${tag}` : ''}`, tar, tag, image);
  }

  private get ctx(): ErrorContext {
    return { image: this.image };
  }

  async rootManifest(): Promise<FetchedManifest> {
    if (this.synthesized) return this.synthesized;
    if (!this.tar.member('manifest.json')) {
      throw new DrydockError('SOURCE_UNREADABLE', 'not a docker archive: manifest.json is missing', { context: this.ctx });
    }
    const list = parseJson(await this.tar.read('manifest.json'), 'manifest.json', this.ctx) as ArchiveEntry[];
    if (!Array.isArray(list) || list.length === 0) throw new DrydockError('INVALID_MANIFEST', 'manifest.json lists no image', { context: this.ctx });
    list.forEach((e, i) => {
      const o = asObject(e, `manifest.json entry ${i}`, this.ctx);
      for (const f of ['RepoTags', 'Layers'] as const) {
        const v = o[f];
        if (v !== undefined && v !== null && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) {
          throw new DrydockError('INVALID_MANIFEST', `manifest.json entry ${i} has "${f}" that is not an array of strings`, { context: this.ctx });
        }
      }
    });
    const entry = this.select(list);
    if (typeof entry.Config !== 'string' || !Array.isArray(entry.Layers)) {
      throw new DrydockError('INVALID_MANIFEST', 'manifest.json entry needs Config and Layers', { context: this.ctx });
    }
    const configBytes = await this.read(entry.Config);
    const config: ImageConfig = asConfig(parseJson(configBytes, entry.Config, this.ctx), `config ${entry.Config}`, this.ctx);
    const configDigest = sha256Digest(configBytes);
    this.paths.set(configDigest, entry.Config);
    const diffIds = config.rootfs?.diff_ids ?? [];
    const layers: Descriptor[] = [];
    for (const [i, path] of entry.Layers.entries()) layers.push(await this.describeLayer(path, diffIds[i]));
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.DockerManifest,
      config: { mediaType: MediaType.DockerConfig, digest: configDigest, size: configBytes.length },
      layers,
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    this.synthesized = { bytes, mediaType: MediaType.DockerManifest, digest: sha256Digest(bytes) };
    return this.synthesized;
  }

  private select(list: ArchiveEntry[]): ArchiveEntry {
    const tags = list.flatMap((e) => e.RepoTags ?? []);
    if (!this.tag) {
      if (list.length === 1) return list[0]!;
      throw new DrydockError('MANIFEST_NOT_FOUND', `the archive holds ${list.length} images; name one with :<repo:tag> (tags: ${tags.join(', ')})`, { context: this.ctx });
    }
    const want = this.tag;
    const full = fullRepoTag(want);
    const hit = list.find((e) => (e.RepoTags ?? []).some((t) => t === want || t.endsWith(`/${want}`) || fullRepoTag(t) === full));
    if (!hit) throw new DrydockError('MANIFEST_NOT_FOUND', `no image tagged "${want}" in the archive (tags: ${tags.join(', ') || 'none'})`, { context: this.ctx });
    return hit;
  }

  private async describeLayer(path: string, diffId: string | undefined): Promise<Descriptor> {
    const member = this.tar.member(path);
    if (!member) throw new DrydockError('BLOB_NOT_FOUND', `layer ${path} named in manifest.json is missing from the archive`, { context: this.ctx });
    const magic = await this.tar.read(path, 16, { head: 4 });
    const mediaType =
      magic[0] === 0x1f && magic[1] === 0x8b ? MediaType.DockerLayerGzip
      : magic.readUInt32LE(0) === 0xfd2fb528 ? MediaType.DockerLayerZstd
      : MediaType.DockerLayerTar;
    const fromName = /(?:^|\/)blobs\/sha256\/([a-f0-9]{64})$/.exec(path)?.[1];
    const digest =
      fromName ? `sha256:${fromName}`
      : mediaType === MediaType.DockerLayerTar && diffId ? diffId
      : await this.hash(path);
    this.paths.set(digest, path);
    return { mediaType, digest, size: member.size };
  }

  private async hash(path: string): Promise<string> {
    const h = createHash('sha256');
    await pipeline(this.tar.stream(path), h);
    return `sha256:${h.digest('hex')}`;
  }

  private read(path: string): Promise<Buffer> {
    if (!this.tar.member(path)) throw new DrydockError('BLOB_NOT_FOUND', `${path} named in manifest.json is missing from the archive`, { context: this.ctx });
    return this.tar.read(path);
  }

  async manifest(descriptor: Descriptor): Promise<FetchedManifest> {
    throw new DrydockError('MANIFEST_NOT_FOUND', `a docker archive has no manifest ${descriptor.digest}`, { context: this.ctx });
  }

  async blob(descriptor: Descriptor): Promise<Buffer> {
    const bytes = await this.read(this.pathOf(descriptor));
    verifyDigest(bytes, descriptor.digest, { ...this.ctx, path: descriptor.digest });
    return bytes;
  }

  async openBlob(descriptor: Descriptor): Promise<Readable> {
    return this.tar.stream(this.pathOf(descriptor));
  }

  private pathOf(descriptor: Descriptor): string {
    const path = this.paths.get(descriptor.digest);
    if (!path) throw new DrydockError('BLOB_NOT_FOUND', `blob ${descriptor.digest} is not in the archive`, { context: { ...this.ctx, layer: descriptor.digest } });
    return path;
  }
}

/**
 * A RepoTag in its full form, so that `docker save`'s familiar "debian:bookworm" and skopeo's
 * "docker.io/library/debian:bookworm" name the same image: no registry → docker.io, a Docker Hub
 * name without a namespace → library/, no tag → latest.
 */
export function fullRepoTag(repoTag: string): string {
  const slash = repoTag.lastIndexOf('/');
  const colon = repoTag.lastIndexOf(':');
  const [name, tag] = colon > slash ? [repoTag.slice(0, colon), repoTag.slice(colon + 1)] : [repoTag, 'latest'];
  const first = name.split('/')[0]!;
  const hasRegistry = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  let full = hasRegistry ? name : `docker.io/${name}`;
  if (full.startsWith('docker.io/') && !full.slice('docker.io/'.length).includes('/')) full = `docker.io/library/${full.slice('docker.io/'.length)}`;
  return `${full}:${tag}`;
}
