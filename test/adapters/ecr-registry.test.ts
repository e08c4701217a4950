/**
 * EcrRegistryApi with a FAKE ECR: Amazon ECR's API cannot run here, so the real SDK v3
 * ECRClient is given an in-process request handler that plays ECR's part — it reads the JSON 1.1
 * request the real client serialised and answers with canned DescribeImages results or ECR's
 * error documents (`__type`), which the real client deserialises into its own exception
 * classes. Nothing goes over the network.
 */
import { Readable } from 'node:stream';
import { ECRClient } from '@aws-sdk/client-ecr';
import { afterEach, describe, expect, it } from 'vitest';
import { EcrRegistryApi } from '../../shared/adapters/aws/ecr-registry.js';
import { DrydockError } from '../../shared/errors.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

interface SeenRequest {
  target: string | undefined;
  body: Record<string, unknown>;
}

type Answer = { status: number; doc: unknown };

const clients: ECRClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
});

/** A real ECRClient whose transport is `answer` (fake ECR), recording each request. */
function fakeEcr(answer: (body: Record<string, unknown>) => Answer): { client: ECRClient; seen: SeenRequest[] } {
  const seen: SeenRequest[] = [];
  const requestHandler = {
    async handle(req: { headers: Record<string, string>; body?: unknown }) {
      // the body is a Uint8Array (a subclass whose valueOf/toString warn): read its bytes
      const raw = req.body as Uint8Array | string;
      const text = typeof raw === 'string' ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
      const body = JSON.parse(text) as Record<string, unknown>;
      seen.push({ target: req.headers['x-amz-target'], body });
      const a = answer(body);
      return {
        response: {
          statusCode: a.status,
          headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'fake' },
          body: Readable.from([Buffer.from(JSON.stringify(a.doc))]),
        },
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  };
  const client = new ECRClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'drydock', secretAccessKey: 'drydock' },
    requestHandler: requestHandler as never,
  });
  clients.push(client);
  return { client, seen };
}

const found = (body: Record<string, unknown>): Answer => ({
  status: 200,
  doc: {
    imageDetails: [
      { registryId: body.registryId ?? '123456789012', repositoryName: body.repositoryName, imageDigest: (body.imageIds as Array<{ imageDigest: string }>)[0]!.imageDigest, imageTags: ['1.0'], imagePushedAt: 1_700_000_000 },
    ],
  },
});

describe('EcrRegistryApi (fake ECR: real client, canned answers)', () => {
  it('(fake ECR) an image ECR describes exists; the request names repository, digest and registry', async () => {
    const { client, seen } = fakeEcr(found);
    expect(await new EcrRegistryApi(client).imageExists('team/app', DIGEST, '210987654321')).toBe(true);
    expect(seen).toEqual([
      {
        target: 'AmazonEC2ContainerRegistry_V20150921.DescribeImages',
        body: { repositoryName: 'team/app', imageIds: [{ imageDigest: DIGEST }], registryId: '210987654321' },
      },
    ]);
    // without a registry id the caller's own registry is meant: none is sent
    await new EcrRegistryApi(client).imageExists('team/app', DIGEST);
    expect(seen[1]!.body).not.toHaveProperty('registryId');
  });

  it('(fake ECR) ImageNotFoundException and RepositoryNotFoundException mean it does not exist', async () => {
    for (const type of ['ImageNotFoundException', 'RepositoryNotFoundException']) {
      const { client } = fakeEcr(() => ({ status: 400, doc: { __type: type, message: `The image with imageId {imageDigest:'${DIGEST}'} does not exist` } }));
      expect(await new EcrRegistryApi(client).imageExists('team/app', DIGEST)).toBe(false);
    }
  });

  it('(fake ECR) an answer without image details is "cannot tell"', async () => {
    const { client } = fakeEcr(() => ({ status: 200, doc: { imageDetails: [] } }));
    expect(await new EcrRegistryApi(client).imageExists('team/app', DIGEST)).toBeUndefined();
  });

  it('(fake ECR) other failures are thrown with the core\'s error kinds', async () => {
    const denied = fakeEcr(() => ({ status: 400, doc: { __type: 'AccessDeniedException', message: 'not authorized to perform: ecr:DescribeImages' } }));
    const e1 = await new EcrRegistryApi(denied.client).imageExists('team/app', DIGEST).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(DrydockError);
    expect(e1).toMatchObject({ kind: 'permanent' });
    expect((e1 as Error).message).toMatch(/ECR DescribeImages team\/app@sha256:.*AccessDenied/);

    const server = fakeEcr(() => ({ status: 500, doc: { __type: 'ServerException', message: 'internal' } }));
    await expect(new EcrRegistryApi(server.client).imageExists('team/app', DIGEST)).rejects.toMatchObject({ code: 'SERVER_ERROR', kind: 'retryable' });
    // the SDK retried before giving up
    expect(server.seen.length).toBe(3);

    const throttled = fakeEcr(() => ({ status: 400, doc: { __type: 'ThrottlingException', message: 'Rate exceeded' } }));
    await expect(new EcrRegistryApi(throttled.client).imageExists('team/app', DIGEST)).rejects.toMatchObject({ code: 'THROTTLED', kind: 'retryable' });
  });
});

describe('EcrRegistryApi listings (fake ECR: real client, canned pages)', () => {
  const digest = (n: number) => `sha256:${String(n).padStart(64, '0')}`;

  it('(fake ECR) listRepositories pages through DescribeRepositories with nextToken', async () => {
    const { client, seen } = fakeEcr((body) =>
      body.nextToken === 'p2'
        ? { status: 200, doc: { repositories: [{ repositoryName: 'team/web', registryId: '123456789012' }] } }
        : { status: 200, doc: { repositories: [{ repositoryName: 'team/api', registryId: '123456789012' }, { repositoryName: 'other', registryId: '123456789012' }], nextToken: 'p2' } },
    );
    const repos = [];
    for await (const r of new EcrRegistryApi(client).listRepositories()) repos.push(r);
    expect(repos).toEqual([
      { name: 'team/api', registryId: '123456789012' },
      { name: 'other', registryId: '123456789012' },
      { name: 'team/web', registryId: '123456789012' },
    ]);
    expect(seen.map((s) => s.target)).toEqual(['AmazonEC2ContainerRegistry_V20150921.DescribeRepositories', 'AmazonEC2ContainerRegistry_V20150921.DescribeRepositories']);
    expect(seen[0]!.body).toEqual({ maxResults: 1000 });
    expect(seen[1]!.body).toEqual({ maxResults: 1000, nextToken: 'p2' });
  });

  it('(fake ECR) listImages asks for tagged images only, pages through, and names registry, digest and tags', async () => {
    const { client, seen } = fakeEcr((body) =>
      body.nextToken
        ? { status: 200, doc: { imageDetails: [{ registryId: '123456789012', repositoryName: 'team/api', imageDigest: digest(2), imageTags: ['v2', 'latest'], imagePushedAt: 1_700_000_100 }] } }
        : { status: 200, doc: { imageDetails: [{ registryId: '123456789012', repositoryName: 'team/api', imageDigest: digest(1), imageTags: ['v1'], imagePushedAt: 1_700_000_000 }], nextToken: 'next' } },
    );
    const images = [];
    for await (const i of new EcrRegistryApi(client, '123456789012').listImages('team/api')) images.push(i);
    expect(images).toEqual([
      { repository: 'team/api', registryId: '123456789012', digest: digest(1), tags: ['v1'], pushedAt: new Date(1_700_000_000_000).toISOString() },
      { repository: 'team/api', registryId: '123456789012', digest: digest(2), tags: ['v2', 'latest'], pushedAt: new Date(1_700_000_100_000).toISOString() },
    ]);
    expect(seen[0]!.body).toEqual({ repositoryName: 'team/api', filter: { tagStatus: 'TAGGED' }, maxResults: 1000, registryId: '123456789012' });
    expect(seen[1]!.body).toMatchObject({ nextToken: 'next' });
  });

  it('(fake ECR) a repository deleted since it was listed has no images; other failures are thrown as the core\'s errors', async () => {
    const gone = fakeEcr(() => ({ status: 400, doc: { __type: 'RepositoryNotFoundException', message: 'The repository does not exist' } }));
    const none = [];
    for await (const i of new EcrRegistryApi(gone.client).listImages('team/gone')) none.push(i);
    expect(none).toEqual([]);
    const denied = fakeEcr(() => ({ status: 400, doc: { __type: 'AccessDeniedException', message: 'not authorized to perform: ecr:DescribeRepositories' } }));
    const it = new EcrRegistryApi(denied.client).listRepositories()[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toMatchObject({ kind: 'permanent', message: expect.stringMatching(/ECR DescribeRepositories/) });
  });
});
