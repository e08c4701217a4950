import { createReadStream } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { DrydockError, type ErrorContext } from '../errors.js';
import type { ImageSource } from '../ports/image-source.js';
import { assertDigest, sha256Digest, verifyDigest } from './digest.js';
import { MediaType } from './media-types.js';
import { asIndex } from './documents.js';
import { TarIndex } from './tar-index.js';
import type { Descriptor, FetchedManifest, ImageIndex } from './types.js';

const REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';
const MAX_JSON = 4 * 1024 * 1024;

/** The files of an OCI image layout, in a directory or an uncompressed tar of one. */
interface LayoutFiles {
  read(rel: string): Promise<Buffer>;
  stream(rel: string): Promise<Readable>;
}

/**
 * Files of a layout directory, read only inside it: each path is resolved (symlinks
 * followed by the host) and must stay under the directory's own real path, so a layout
 * whose index.json links to /etc/passwd is refused without reading, let alone echoing, it.
 */
class DirFiles implements LayoutFiles {
  private realRoot?: string;
  constructor(private readonly root: string) {}

  private async inside(rel: string): Promise<{ file: string; size: number }> {
    this.realRoot ??= await realpath(this.root);
    const real = await realpath(join(this.root, rel)).catch(() => undefined);
    if (real === undefined) throw notFound(rel);
    if (real !== this.realRoot && !real.startsWith(this.realRoot.endsWith(sep) ? this.realRoot : this.realRoot + sep)) {
      throw new DrydockError('SOURCE_UNREADABLE', `${rel} in the image layout is a link to a file outside the layout directory; not read`);
    }
    const st = await stat(real).catch(() => undefined);
    if (!st?.isFile()) throw notFound(rel);
    return { file: real, size: st.size };
  }

  async read(rel: string): Promise<Buffer> {
    const { file, size } = await this.inside(rel);
    if (size > MAX_JSON) throw new DrydockError('LIMIT_EXCEEDED', `${rel} is larger than ${MAX_JSON} bytes (limit MAX_JSON)`);
    return readFile(file);
  }
  async stream(rel: string): Promise<Readable> {
    const { file } = await this.inside(rel);
    return createReadStream(file, { highWaterMark: 256 * 1024 });
  }
}

class ArchiveFiles implements LayoutFiles {
  constructor(private readonly tar: TarIndex) {}
  async read(rel: string): Promise<Buffer> {
    if (!this.tar.member(rel)) throw notFound(rel);
    return this.tar.read(rel, MAX_JSON);
  }
  async stream(rel: string): Promise<Readable> {
    if (!this.tar.member(rel)) throw notFound(rel);
    return this.tar.stream(rel);
  }
}

function notFound(rel: string): DrydockError {
  return new DrydockError(rel.startsWith('blobs/') ? 'BLOB_NOT_FOUND' : 'SOURCE_UNREADABLE', `${rel} is missing from the image layout`);
}

/**
 * An OCI image layout (image-layout.md): `oci:<dir>[:tag]` or `oci-archive:<tar>[:tag]`.
 * The tag is matched against org.opencontainers.image.ref.name in index.json.
 */
export class OciLayoutSource implements ImageSource {
  private constructor(
    readonly name: string,
    private readonly files: LayoutFiles,
    private readonly tag: string | undefined,
    private readonly image: string,
  ) {}

  static async fromDir(dir: string, tag: string | undefined, image: string): Promise<OciLayoutSource> {
    const st = await stat(dir).catch(() => undefined);
    if (!st?.isDirectory()) throw new DrydockError('SOURCE_UNREADABLE', `${dir} is not a directory holding an OCI image layout`, { context: { image } });
    return new OciLayoutSource(`oci ${dir}${tag ? `:${tag}` : ''}`, new DirFiles(dir), tag, image);
  }

  static async fromArchive(path: string, tag: string | undefined, image: string): Promise<OciLayoutSource> {
    const tar = await TarIndex.open(path).catch((e: unknown) => {
      throw e instanceof DrydockError ? e.withContext({ image }) : e;
    });
    return new OciLayoutSource(`oci-archive ${path}${tag ? `:${tag}` : ''}`, new ArchiveFiles(tar), tag, image);
  }

  private get ctx(): ErrorContext {
    return { image: this.image };
  }

  async rootManifest(): Promise<FetchedManifest> {
    const layoutBytes = await this.files.read('oci-layout').catch(() => undefined);
    const layout = layoutBytes ? parseJson(layoutBytes, 'oci-layout', this.ctx) : undefined;
    if (!layout || typeof (layout as { imageLayoutVersion?: unknown }).imageLayoutVersion !== 'string') {
      throw new DrydockError('SOURCE_UNREADABLE', 'not an OCI image layout: the oci-layout file is missing or has no imageLayoutVersion', { context: this.ctx });
    }
    const indexBytes = await this.files.read('index.json').catch((e: unknown) => {
      if (e instanceof DrydockError && e.message.includes('outside the layout')) throw e.withContext(this.ctx);
      throw new DrydockError('SOURCE_UNREADABLE', 'not an OCI image layout: index.json is missing', { context: this.ctx, cause: e });
    });
    const index: ImageIndex = asIndex(parseJson(indexBytes, 'index.json', this.ctx), 'index.json', this.ctx);
    if (!Array.isArray(index.manifests)) throw new DrydockError('INVALID_MANIFEST', 'index.json has no manifests array', { context: this.ctx });
    const named = (d: Descriptor) => d.annotations?.[REF_NAME] ?? d.annotations?.[CONTAINERD_NAME];
    if (this.tag) {
      const tag = this.tag;
      const hit = index.manifests.find((d) => {
        const n = named(d);
        return n === tag || (n !== undefined && n.endsWith(`:${tag}`));
      });
      if (!hit) {
        const tags = index.manifests.map(named).filter(Boolean);
        throw new DrydockError('MANIFEST_NOT_FOUND', `no image tagged "${tag}" in the layout (tags: ${tags.join(', ') || 'none'})`, { context: this.ctx });
      }
      return withNames(await this.manifest(hit), named(hit));
    }
    if (index.manifests.length === 1) return withNames(await this.manifest(index.manifests[0]!), named(index.manifests[0]!));
    const names = [...new Set(index.manifests.map(named).filter((n): n is string => Boolean(n)))];
    if (names.length > 1) {
      throw new DrydockError('MANIFEST_NOT_FOUND', `the layout holds several images; name one with :<tag> (tags: ${names.join(', ')})`, { context: this.ctx });
    }
    // Untagged per-platform manifests: index.json itself is the image index.
    return withNames({ bytes: indexBytes, mediaType: index.mediaType ?? MediaType.OciIndex, digest: sha256Digest(indexBytes) }, names[0]);
  }

  async manifest(descriptor: Descriptor): Promise<FetchedManifest> {
    const bytes = await this.blob(descriptor);
    // The resolver reads the document's own mediaType / shape when the descriptor has none.
    return { bytes, mediaType: descriptor.mediaType ?? '', digest: descriptor.digest };
  }

  async blob(descriptor: Descriptor): Promise<Buffer> {
    const ctx = { ...this.ctx, path: descriptor.digest };
    const bytes = await this.files.read(blobPath(descriptor.digest, ctx)).catch((e: unknown) => {
      throw e instanceof DrydockError ? e.withContext(ctx) : e;
    });
    verifyDigest(bytes, descriptor.digest, ctx);
    return bytes;
  }

  async openBlob(descriptor: Descriptor): Promise<Readable> {
    const ctx = { ...this.ctx, layer: descriptor.digest };
    return this.files.stream(blobPath(descriptor.digest, ctx)).catch((e: unknown) => {
      throw e instanceof DrydockError ? e.withContext(ctx) : e;
    });
  }
}

/** The root document with the name the layout gives it (ref.name, else containerd's image name), when it has one. */
function withNames(doc: FetchedManifest, name: string | undefined): FetchedManifest {
  return name ? { ...doc, names: [name] } : doc;
}

function blobPath(digest: string, ctx: ErrorContext): string {
  assertDigest(digest, ctx);
  const [alg, hex] = digest.split(':');
  return `blobs/${alg}/${hex}`;
}

export function parseJson(bytes: Buffer, what: string, context: ErrorContext): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new DrydockError('INVALID_MANIFEST', `${what} is not valid JSON: ${(e as Error).message}`, { context, cause: e });
  }
}
