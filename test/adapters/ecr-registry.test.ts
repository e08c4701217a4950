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
