/**
 * A MOCK of Amazon ECR's API (not the registry: that is the real Distribution registry): a
 * node:http server speaking the AWS JSON 1.1 protocol (`X-Amz-Target:
 * AmazonEC2ContainerRegistry_V20150921.<Operation>`) well enough for the real SDK v3 ECRClient.
 *
 * - DescribeRepositories (repositoryNames, maxResults 1..1000, nextToken) and DescribeImages
 *   (repositoryName, imageIds, filter.tagStatus, maxResults 1..1000, nextToken), paginated as ECR
 *   does: an opaque nextToken, a page of at most maxResults (default 100), a
 *   RepositoryNotFoundException for an unknown repository, InvalidParameterException for a
 *   malformed request or token.
 * - BatchGetImage (repositoryName, imageIds): the manifest bytes from the registry.
 *
 * What it lists comes from `images()`: by default the local registry's catalog and tags (each
 * tag HEADed for its digest and media type) — a Distribution registry cannot list untagged
 * manifests, so a test that needs them (the children of a pushed index) gives the list itself.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { answer, listenLocal } from './aws-json.js';

export interface EcrImage {
  repository: string;
  digest: string;
  tags: string[];
  /** imageManifestMediaType */
  mediaType: string;
  /** artifactMediaType (the config's media type), when known */
  artifactMediaType?: string;
  sizeInBytes?: number;
  pushedAt?: Date;
}

export interface FakeEcr {
  endpoint: string;
  registryId: string;
  /** replace the image source (undefined: back to the registry's catalog) */
  setImages(images: (() => Promise<EcrImage[]>) | EcrImage[] | undefined): void;
  /** every request's operation and body, in order */
  requests: Array<{ operation: string; body: Record<string, unknown> }>;
  stop(): Promise<void>;
}

export interface FakeEcrOptions {
  /** the registry's base URL (http://127.0.0.1:PORT), for the default image list and BatchGetImage */
  registryUrl?: string;
  registryId?: string;
  region?: string;
}

const PREFIX = 'AmazonEC2ContainerRegistry_V20150921.';
const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
const MAX_REQUEST = 1024 * 1024;

/** The Distribution registry's catalog, as ECR images (tagged manifests only). */
export async function registryImages(registryUrl: string): Promise<EcrImage[]> {
  const out: EcrImage[] = [];
  const catalog = (await (await fetch(`${registryUrl}/v2/_catalog?n=1000`)).json()) as { repositories?: string[] };
  for (const repository of catalog.repositories ?? []) {
    const tags = ((await (await fetch(`${registryUrl}/v2/${repository}/tags/list`)).json()) as { tags?: string[] | null }).tags ?? [];
    const byDigest = new Map<string, EcrImage>();
    for (const tag of tags) {
      const res = await fetch(`${registryUrl}/v2/${repository}/manifests/${tag}`, { method: 'HEAD', headers: { accept: ACCEPT } });
      const digest = res.headers.get('docker-content-digest');
      if (!res.ok || !digest) continue;
      const img = byDigest.get(digest) ?? { repository, digest, tags: [], mediaType: res.headers.get('content-type') ?? '', sizeInBytes: Number(res.headers.get('content-length') ?? 0), pushedAt: new Date() };
      img.tags.push(tag);
      byDigest.set(digest, img);
    }
    out.push(...byDigest.values());
  }
  return out;
}

export async function startFakeEcr(opts: FakeEcrOptions = {}): Promise<FakeEcr> {
  const registryId = opts.registryId ?? '000000000000';
  const region = opts.region ?? 'us-east-1';
  const requests: FakeEcr['requests'] = [];
  let source: (() => Promise<EcrImage[]>) | undefined;
  const images = async (): Promise<EcrImage[]> => {
    if (source) return source();
    if (!opts.registryUrl) return [];
    return registryImages(opts.registryUrl);
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch((e: unknown) => answer(res, 500, { __type: 'ServerException', message: String(e) }));
  });

  function page<T>(items: T[], body: Record<string, unknown>): { items: T[]; nextToken?: string } | { error: string } {
    const max = body.maxResults === undefined ? 100 : Number(body.maxResults);
    if (!Number.isInteger(max) || max < 1 || max > 1000) return { error: `maxResults ${String(body.maxResults)} must be in [1, 1000]` };
    let start = 0;
    if (body.nextToken !== undefined) {
      const m = /^fake-ecr:(\d+)$/.exec(Buffer.from(String(body.nextToken), 'base64').toString('utf8'));
      if (!m) return { error: 'Invalid NextToken' };
      start = Number(m[1]);
    }
    const slice = items.slice(start, start + max);
    return { items: slice, ...(start + max < items.length ? { nextToken: Buffer.from(`fake-ecr:${start + max}`).toString('base64') } : {}) };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_REQUEST) return answer(res, 400, { __type: 'InvalidParameterException', message: `request over ${MAX_REQUEST} bytes` });
      chunks.push(c as Buffer);
    }
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith(PREFIX) ? target.slice(PREFIX.length) : target;
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
    requests.push({ operation, body });
    const all = await images();
    const repositories = [...new Set(all.map((i) => i.repository))].sort();
    const repoDoc = (name: string) => ({
      repositoryArn: `arn:aws:ecr:${region}:${registryId}:repository/${name}`,
      registryId,
      repositoryName: name,
      repositoryUri: `${registryId}.dkr.ecr.${region}.amazonaws.com/${name}`,
      createdAt: 0,
      imageTagMutability: 'MUTABLE',
    });
    const notFound = (name: string) => answer(res, 400, { __type: 'RepositoryNotFoundException', message: `The repository with name '${name}' does not exist in the registry with id '${registryId}'` });
    switch (operation) {
      case 'DescribeRepositories': {
        const names = body.repositoryNames as string[] | undefined;
        if (names) {
          const missing = names.find((n) => !repositories.includes(n));
          if (missing) return notFound(missing);
          if (body.nextToken !== undefined || body.maxResults !== undefined) return answer(res, 400, { __type: 'InvalidParameterException', message: 'maxResults and nextToken cannot be used with repositoryNames' });
          return answer(res, 200, { repositories: names.map(repoDoc) });
        }
        const p = page(repositories, body);
        if ('error' in p) return answer(res, 400, { __type: 'InvalidParameterException', message: p.error });
        return answer(res, 200, { repositories: p.items.map(repoDoc), ...(p.nextToken ? { nextToken: p.nextToken } : {}) });
      }
      case 'DescribeImages': {
        const name = String(body.repositoryName ?? '');
        if (!repositories.includes(name)) return notFound(name);
        let list = all.filter((i) => i.repository === name);
        const ids = body.imageIds as Array<{ imageDigest?: string; imageTag?: string }> | undefined;
        if (ids) list = list.filter((i) => ids.some((id) => (id.imageDigest ? id.imageDigest === i.digest : true) && (id.imageTag ? i.tags.includes(id.imageTag) : true)));
        const status = (body.filter as { tagStatus?: string } | undefined)?.tagStatus;
        if (status === 'TAGGED') list = list.filter((i) => i.tags.length > 0);
        if (status === 'UNTAGGED') list = list.filter((i) => i.tags.length === 0);
        const p = page(list, body);
        if ('error' in p) return answer(res, 400, { __type: 'InvalidParameterException', message: p.error });
        return answer(res, 200, {
          imageDetails: p.items.map((i) => ({
            registryId,
            repositoryName: i.repository,
            imageDigest: i.digest,
            ...(i.tags.length ? { imageTags: i.tags } : {}),
            imageSizeInBytes: i.sizeInBytes ?? 0,
            imagePushedAt: (i.pushedAt ?? new Date(0)).getTime() / 1000,
            imageManifestMediaType: i.mediaType,
            ...(i.artifactMediaType ? { artifactMediaType: i.artifactMediaType } : {}),
          })),
          ...(p.nextToken ? { nextToken: p.nextToken } : {}),
        });
      }
      case 'BatchGetImage': {
        const name = String(body.repositoryName ?? '');
        if (!repositories.includes(name)) return notFound(name);
        if (!opts.registryUrl) return answer(res, 400, { __type: 'InvalidParameterException', message: 'the mock has no registry to read manifests from' });
        const found: unknown[] = [];
        const failures: unknown[] = [];
        for (const id of (body.imageIds as Array<{ imageDigest?: string; imageTag?: string }>) ?? []) {
          const ref = id.imageDigest ?? id.imageTag ?? '';
          const r = await fetch(`${opts.registryUrl}/v2/${name}/manifests/${ref}`, { headers: { accept: ACCEPT } });
          if (!r.ok) {
            await r.body?.cancel();
            failures.push({ imageId: id, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' });
            continue;
          }
          found.push({ registryId, repositoryName: name, imageId: { imageDigest: r.headers.get('docker-content-digest'), ...(id.imageTag ? { imageTag: id.imageTag } : {}) }, imageManifest: await r.text(), imageManifestMediaType: r.headers.get('content-type') });
        }
        return answer(res, 200, { images: found, failures });
      }
      default:
        return answer(res, 400, { __type: 'UnknownOperationException', message: `the mock knows DescribeRepositories, DescribeImages and BatchGetImage, not ${target}` });
    }
  }

  const endpoint = await listenLocal(server);
  return {
    endpoint,
    registryId,
    requests,
    setImages(s) {
      source = s === undefined ? undefined : Array.isArray(s) ? async () => s : s;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
