/**
 * A MOCK of AWS Secrets Manager's GetSecretValue (and PutSecretValue, for tests that rotate a
 * secret): a node:http server speaking the AWS JSON 1.1 protocol (`X-Amz-Target:
 * secretsmanager.GetSecretValue`, `application/x-amz-json-1.1`) well enough for the real SDK v3
 * SecretsManagerClient. Secrets are addressed by ARN or name, as Secrets Manager allows; an
 * unknown one is a ResourceNotFoundException, a secret without a value a
 * ResourceNotFoundException too ("Secrets Manager can't find the specified secret value for
 * staging label: AWSCURRENT"), as a secret created without a value answers in AWS.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { answer, listenLocal } from './aws-json.js';

export interface FakeSecret {
  arn: string;
  name: string;
  value?: string;
}

export interface FakeSecretsManager {
  endpoint: string;
  /** create (or replace the value of) a secret */
  put(arn: string, name: string, value?: string): void;
  /** set the value of an existing secret, by ARN or name */
  setValue(id: string, value: string): void;
  secrets(): FakeSecret[];
  /** every request's operation and SecretId, in order */
  requests: Array<{ operation: string; secretId?: string }>;
  stop(): Promise<void>;
}

/** Requests larger than this are refused (Secrets Manager's own limit on a value is 64 KiB). */
const MAX_REQUEST = 128 * 1024;

export async function startFakeSecretsManager(): Promise<FakeSecretsManager> {
  const byArn = new Map<string, FakeSecret & { versionId: string; created: number }>();
  const requests: FakeSecretsManager['requests'] = [];
  const find = (id: string) => byArn.get(id) ?? [...byArn.values()].find((s) => s.name === id);

  const server = createServer((req, res) => {
    void handle(req, res).catch((e: unknown) => answer(res, 500, { __type: 'InternalServiceError', message: String(e) }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_REQUEST) return answer(res, 400, { __type: 'InvalidRequestException', message: `request over ${MAX_REQUEST} bytes` });
      chunks.push(c as Buffer);
    }
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.replace(/^secretsmanager\./, '');
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { SecretId?: string; SecretString?: string };
    requests.push({ operation, ...(body.SecretId ? { secretId: body.SecretId } : {}) });
    const secret = body.SecretId ? find(body.SecretId) : undefined;
    if (operation === 'GetSecretValue') {
      if (!secret) return answer(res, 400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
      if (secret.value === undefined) return answer(res, 400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT" });
      return answer(res, 200, { ARN: secret.arn, Name: secret.name, SecretString: secret.value, VersionId: secret.versionId, VersionStages: ['AWSCURRENT'], CreatedDate: secret.created / 1000 });
    }
    if (operation === 'PutSecretValue') {
      if (!secret) return answer(res, 400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
      secret.value = body.SecretString ?? '';
      secret.versionId = randomUUID();
      return answer(res, 200, { ARN: secret.arn, Name: secret.name, VersionId: secret.versionId, VersionStages: ['AWSCURRENT'] });
    }
    return answer(res, 400, { __type: 'UnknownOperationException', message: `the mock knows GetSecretValue and PutSecretValue, not ${target}` });
  }

  const endpoint = await listenLocal(server);
  return {
    endpoint,
    requests,
    put(arn, name, value) {
      byArn.set(arn, { arn, name, ...(value !== undefined ? { value } : {}), versionId: randomUUID(), created: Date.now() });
    },
    setValue(id, value) {
      const s = find(id);
      if (!s) throw new Error(`no secret ${id}`);
      s.value = value;
      s.versionId = randomUUID();
    },
    secrets: () => [...byArn.values()].map(({ arn, name, value }) => ({ arn, name, ...(value !== undefined ? { value } : {}) })),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
