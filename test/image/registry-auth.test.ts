import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { afterEach, describe, expect, it } from 'vitest';
import { DrydockError } from '../../shared/errors.js';
import { basicAuthorization, chainCredentials, dockerConfigCredentials, parseTokenResponse, parseWwwAuthenticate, staticCredentials } from '../../shared/image/auth.js';
import { ecrCredentials, type EcrTokenApi } from '../../shared/image/ecr-auth.js';

describe('parseWwwAuthenticate', () => {
  it('parses a Docker registry Bearer challenge', () => {
    expect(
      parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'),
    ).toEqual([
      {
        scheme: 'bearer',
        params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' },
      },
    ]);
  });

  it('splits several challenges and keeps commas and escapes inside quoted values', () => {
    expect(parseWwwAuthenticate('Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple, really"')).toEqual([
      { scheme: 'newauth', params: { realm: 'apps', type: '1', title: 'Login to "apps"' } },
      { scheme: 'basic', params: { realm: 'simple, really' } },
    ]);
  });

  it('skips token68 credentials and tolerates spaces around "="', () => {
    expect(parseWwwAuthenticate('Negotiate abc+/def==, Basic  realm = "r" ,charset="UTF-8"')).toEqual([
      { scheme: 'negotiate', params: {} },
      { scheme: 'basic', params: { realm: 'r', charset: 'UTF-8' } },
    ]);
  });

  it('returns no challenge for an empty header', () => {
    expect(parseWwwAuthenticate('')).toEqual([]);
  });
});

describe('parseTokenResponse', () => {
  it.each([
    ['token', '{"token":"t1","expires_in":300}', { token: 't1', expiresInSeconds: 300 }],
    ['access_token, default lifetime', '{"access_token":"t2"}', { token: 't2', expiresInSeconds: 60 }],
    ['no token', '{"expires_in":300}', undefined],
    ['not JSON', '<html>', undefined],
  ])('%s', (_name, body, expected) => {
    expect(parseTokenResponse(body)).toEqual(expected);
  });
});

describe('credential providers', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('staticCredentials answers for any registry and makes a Basic header', async () => {
    const creds = await staticCredentials('u', 'p:w').get('r.example.com');
    expect(creds).toEqual({ username: 'u', password: 'p:w' });
    expect(basicAuthorization(creds!)).toBe(`Basic ${Buffer.from('u:p:w').toString('base64')}`);
  });

  it('chainCredentials takes the first provider that has credentials', async () => {
    const none = { get: async () => undefined };
    const chain = chainCredentials(none, staticCredentials('a', '1'), staticCredentials('b', '2'));
    expect(await chain.get('r')).toEqual({ username: 'a', password: '1' });
    expect(await chainCredentials(none).get('r')).toBeUndefined();
  });

  it('dockerConfigCredentials reads auths, matching hosts and Docker Hub aliases', async () => {
    dir = await mkdtemp(join(tmpdir(), 'drydock-docker-config-'));
    const path = join(dir, 'config.json');
    await writeFile(
      path,
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:hub:pass').toString('base64') },
          'registry.example.com:5000': { username: 'u2', password: 'p2' },
          'ghcr.io': {},
        },
      }),
    );
    const provider = dockerConfigCredentials({ path });
    expect(await provider.get('registry-1.docker.io')).toEqual({ username: 'hubuser', password: 'hub:pass' });
    expect(await provider.get('registry.example.com:5000')).toEqual({ username: 'u2', password: 'p2' });
    expect(await provider.get('ghcr.io')).toBeUndefined();
    expect(await provider.get('other.example.com')).toBeUndefined();
  });

  it('dockerConfigCredentials is anonymous without a file and a CONFIG error with a broken one', async () => {
    dir = await mkdtemp(join(tmpdir(), 'drydock-docker-config-'));
    expect(await dockerConfigCredentials({ path: join(dir, 'missing.json') }).get('x')).toBeUndefined();
    const path = join(dir, 'config.json');
    await writeFile(path, JSON.stringify({ auths: { 'r.example.com': { auth: Buffer.from('no-colon').toString('base64') } } }));
    const err = await dockerConfigCredentials({ path }).get('r.example.com').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrydockError);
    expect((err as DrydockError).code).toBe('CONFIG');
    expect((err as DrydockError).message).toContain(path);
  });
});

describe('ecrCredentials', () => {
  const HOUR = 3600_000;

  /** A stand-in for the ECR API that answers GetAuthorizationToken and counts calls. */
  function mockedEcrApi(answer: (call: number) => Promise<unknown>): EcrTokenApi & { commands: unknown[] } {
    const commands: unknown[] = [];
    return {
      commands,
      send: async (command) => {
        commands.push(command);
        return (await answer(commands.length)) as never;
      },
    };
  }

  function tokenAnswer(password: string, expiresAt: number) {
    return {
      authorizationData: [{ authorizationToken: Buffer.from(`AWS:${password}`).toString('base64'), expiresAt: new Date(expiresAt) }],
      $metadata: {},
    };
  }

  it('decodes the token and caches it until 5 minutes before expiry (mocked ECR API)', async () => {
    let now = 0;
    const api = mockedEcrApi(async (n) => tokenAnswer(`pw${n}`, now + 12 * HOUR));
    const provider = ecrCredentials({ region: 'us-east-1', client: api, now: () => now });
    expect(await provider.get('123456789012.dkr.ecr.us-east-1.amazonaws.com')).toEqual({ username: 'AWS', password: 'pw1' });
    expect(api.commands[0]).toBeInstanceOf(GetAuthorizationTokenCommand);
    now = 12 * HOUR - 5 * 60_000 - 1;
    expect((await provider.get('x'))!.password).toBe('pw1');
    now += 1;
    expect((await provider.get('x'))!.password).toBe('pw2');
    expect(api.commands).toHaveLength(2);
  });

  it('makes one API call for concurrent callers (mocked ECR API)', async () => {
    const api = mockedEcrApi(async () => tokenAnswer('pw', Date.now() + 12 * HOUR));
    const provider = ecrCredentials({ region: 'us-east-1', client: api });
    await Promise.all([provider.get('a'), provider.get('a'), provider.get('a')]);
    expect(api.commands).toHaveLength(1);
  });

  it.each([
    ['throttling', { $fault: 'client', $retryable: { throttling: true } }, 'THROTTLED', 'retryable'],
    ['a server fault', { $fault: 'server' }, 'SERVER_ERROR', 'retryable'],
    ['a client fault (access denied)', { $fault: 'client' }, 'DENIED', 'permanent'],
    ['no AWS credentials', {}, 'CONFIG', 'fatal'],
  ])('maps %s to %s (mocked ECR API)', async (_name, fields, code, kind) => {
    const api = mockedEcrApi(async () => {
      throw Object.assign(new Error('ECR said no'), fields);
    });
    const err = await ecrCredentials({ region: 'eu-west-1', client: api })
      .get('x')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrydockError);
    expect((err as DrydockError).code).toBe(code);
    expect((err as DrydockError).kind).toBe(kind);
    expect((err as DrydockError).message).toContain('eu-west-1');
  });

  it.each(['nocolon', ':no-user'])('refuses a token that is not base64 "user:password": %s (mocked ECR API)', async (decoded) => {
    const authorizationToken = Buffer.from(decoded).toString('base64');
    const api = mockedEcrApi(async () => ({ authorizationData: [{ authorizationToken }], $metadata: {} }));
    const err = await ecrCredentials({ region: 'eu-west-1', client: api })
      .get('x')
      .catch((e: unknown) => e);
    expect((err as DrydockError).code).toBe('UNAUTHORIZED');
  });
});
