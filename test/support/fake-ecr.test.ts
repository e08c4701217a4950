/**
 * The MOCKS of ECR's API and Secrets Manager used by the template-driven local stack, driven by
 * the real SDK v3 clients (ECR's paginators, GetSecretValue), so a reconciliation or a notifier
 * tested against them speaks the real wire protocol.
 */
import { DescribeRepositoriesCommand, ECRClient, paginateDescribeImages, paginateDescribeRepositories } from '@aws-sdk/client-ecr';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeEcr, type EcrImage, type FakeEcr } from './fake-ecr.js';
import { startFakeSecretsManager, type FakeSecretsManager } from './fake-secrets-manager.js';

const credentials = { accessKeyId: 'x', secretAccessKey: 'x' };
let ecr: FakeEcr;
let sm: FakeSecretsManager;

beforeAll(async () => {
  [ecr, sm] = await Promise.all([startFakeEcr({ registryId: '111122223333', region: 'eu-west-1' }), startFakeSecretsManager()]);
});
afterAll(async () => {
  await Promise.all([ecr?.stop(), sm?.stop()]);
});

describe('fake ECR API (mock)', () => {
  it('pages DescribeRepositories and DescribeImages with nextToken and maxResults, filters by tag status, refuses unknown repositories', async () => {
    const images: EcrImage[] = [];
    for (let r = 0; r < 3; r++) for (let i = 0; i < 7; i++) images.push({ repository: `team/r${r}`, digest: `sha256:${String(r * 10 + i).padStart(64, '0')}`, tags: i % 2 ? [] : [`v${i}`], mediaType: 'application/vnd.oci.image.manifest.v1+json', pushedAt: new Date(1_700_000_000_000) });
    ecr.setImages(images);
    const client = new ECRClient({ endpoint: ecr.endpoint, region: 'eu-west-1', credentials });
    try {
      const repos: string[] = [];
      for await (const page of paginateDescribeRepositories({ client, pageSize: 2 }, {})) repos.push(...(page.repositories ?? []).map((r) => r.repositoryName!));
      expect(repos).toEqual(['team/r0', 'team/r1', 'team/r2']);
      const got: string[] = [];
      let pages = 0;
      for await (const page of paginateDescribeImages({ client, pageSize: 3 }, { repositoryName: 'team/r1' })) {
        pages++;
        got.push(...(page.imageDetails ?? []).map((d) => d.imageDigest!));
        for (const d of page.imageDetails ?? []) expect(d.imagePushedAt).toEqual(new Date(1_700_000_000_000));
      }
      expect(pages).toBe(3);
      expect(got).toEqual(images.filter((i) => i.repository === 'team/r1').map((i) => i.digest));
      const tagged: string[] = [];
      for await (const page of paginateDescribeImages({ client }, { repositoryName: 'team/r0', filter: { tagStatus: 'TAGGED' } })) tagged.push(...(page.imageDetails ?? []).flatMap((d) => d.imageTags ?? []));
      expect(tagged).toEqual(['v0', 'v2', 'v4', 'v6']);
      await expect(client.send(new DescribeRepositoriesCommand({ repositoryNames: ['nope'] }))).rejects.toMatchObject({ name: 'RepositoryNotFoundException' });
      await expect(client.send(new DescribeRepositoriesCommand({ maxResults: 5000 }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
      expect(ecr.requests.map((r) => r.operation)).toContain('DescribeImages');
    } finally {
      client.destroy();
    }
  });
});

describe('fake Secrets Manager (mock)', () => {
  it('answers GetSecretValue by ARN or name, and ResourceNotFoundException for a secret without a value or unknown', async () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:SlackWebhook-abc123-XyZ9a1';
    sm.put(arn, 'SlackWebhook-abc123');
    const client = new SecretsManagerClient({ endpoint: sm.endpoint, region: 'eu-west-1', credentials });
    try {
      await expect(client.send(new GetSecretValueCommand({ SecretId: arn }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
      sm.setValue(arn, 'https://hooks.example.test/x');
      expect(await client.send(new GetSecretValueCommand({ SecretId: arn }))).toMatchObject({ ARN: arn, SecretString: 'https://hooks.example.test/x', VersionStages: ['AWSCURRENT'] });
      expect((await client.send(new GetSecretValueCommand({ SecretId: 'SlackWebhook-abc123' }))).SecretString).toBe('https://hooks.example.test/x');
      await expect(client.send(new GetSecretValueCommand({ SecretId: 'other' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    } finally {
      client.destroy();
    }
  });
});
