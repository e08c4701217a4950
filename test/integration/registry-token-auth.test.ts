/**
 * The Bearer-token flow against a real registry: Debian's docker-registry (Distribution 2.8)
 * configured with `auth.token`, and the in-process token server of test/support/token-server.ts
 * signing RS256 JWTs with a self-signed certificate the registry trusts (rootcertbundle).
 * skopeo pushes through the same flow; RegistrySource pulls and scans.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DrydockError } from '../../shared/errors.js';
import { staticCredentials, type CredentialProvider } from '../../shared/image/auth.js';
import { openSource } from '../../shared/image/open.js';
import { parseReference, type RegistryReference } from '../../shared/image/reference.js';
import { RegistrySource } from '../../shared/image/registry.js';
import { MANIFEST_ACCEPT } from '../../shared/image/media-types.js';
import { scanImage, type ImageInventory } from '../../shared/scan.js';
import { buildImage, pushToRegistry, type BuiltImage, type LayerSpec } from '../support/image-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { startTokenServer, type TokenRequest, type TokenServer } from '../support/token-server.js';
import { comparable, OS_RELEASE_12, stanza, statusFile } from './helpers.js';

const REPO = 'team/app';

const LAYERS: LayerSpec[] = [
  {
    compression: 'gzip',
    files: [
      { path: 'etc/os-release', content: OS_RELEASE_12 },
      { path: 'var/lib/dpkg/status', content: statusFile(stanza('alpha', '1.0'), stanza('beta', '2.0', { Source: 'beta-src (2.0-1)' })) },
    ],
  },
  { compression: 'zstd', files: [{ path: 'var/lib/dpkg/status.d/gamma', content: stanza('gamma', '3.0') }] },
  { compression: 'none', files: [{ path: 'var/lib/dpkg/status.d/delta', content: stanza('delta', '1:4.0-1', { Architecture: 'all' }) }] },
];

/** One request the registry client made, seen through its fetch. */
interface Exchange {
  method: string;
  url: URL;
  authorization: string | null;
  status: number;
  wwwAuthenticate: string | null;
}

let work: string;
let tokens: TokenServer;
let registry: TestRegistry;
let built: BuiltImage;
let ref: string;
/** the token server's requests during the push */
let pushRequests: TokenRequest[];
/** the same image read from its OCI layout */
let local: ImageInventory;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-token-it-'));
  tokens = await startTokenServer({
    users: {
      drydock: { password: 's3cret', repositories: { [REPO]: ['pull', 'push'] } },
      viewer: { password: 'viewer-pw', repositories: { 'team/other': ['pull'] } },
    },
  });
  const layout = join(work, 'layout');
  [registry, built] = await Promise.all([startRegistry({ tokenAuth: tokens }), buildImage(layout, { tag: 'v1', layers: LAYERS })]);
  await pushToRegistry(layout, 'v1', { host: registry.host, username: 'drydock', password: 's3cret' }, `${REPO}:v1`);
  pushRequests = [...tokens.requests];
  ref = `${registry.host}/${REPO}:v1`;
  const results = await scanImage(await openSource(`oci:${layout}:v1`), `oci:${layout}:v1`);
  local = results[0]!;
});

afterAll(async () => {
  await registry?.stop();
  await tokens?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

beforeEach(() => {
  tokens.clearRequests();
  tokens.keyHeader = 'x5c';
});

/** A RegistrySource for `ref` whose requests are recorded in `log`. */
function source(credentials: CredentialProvider, log: Exchange[]): RegistrySource {
  const recording: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    log.push({
      method: init?.method ?? 'GET',
      url: new URL(input instanceof Request ? input.url : String(input)),
      authorization: new Headers(init?.headers).get('authorization'),
      status: res.status,
      wwwAuthenticate: res.headers.get('www-authenticate'),
    });
    return res;
  };
  // The token server listens on another port: declared as this registry's, so credentials may go to it.
  const tokenHosts = { [new URL(registry.url).host]: [new URL(tokens.realm).host] };
  return new RegistrySource(parseReference(ref) as RegistryReference, { credentials, fetch: recording, tokenHosts });
}

async function scan(src: RegistrySource): Promise<ImageInventory> {
  const results = await scanImage(src, ref);
  expect(results).toHaveLength(1);
  return results[0]!;
}

async function scanError(src: RegistrySource): Promise<DrydockError> {
  const e = await scan(src).then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(DrydockError);
  return e as DrydockError;
}

const registryExchanges = (log: Exchange[]) => log.filter((x) => x.url.origin === registry.url);

/** The decoded JOSE header of a compact JWT. */
const jwtHeader = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;

describe('Distribution token auth (real registry, in-process token server)', () => {
  it('skopeo pushed through the token flow, asking for pull,push on the repository', () => {
    const granted = pushRequests.filter((r) => r.status === 200 && r.user === 'drydock' && r.scopes.includes(`repository:${REPO}:pull,push`));
    expect(granted.length).toBeGreaterThan(0);
    expect(granted[0]!.service).toBe(tokens.service);
    expect(granted[0]!.granted).toEqual([{ type: 'repository', name: REPO, actions: ['pull', 'push'] }]);
  });

  it('scans through RegistrySource: same packages as the OCI layout, one token for manifest, config and every layer', async () => {
    const log: Exchange[] = [];
    const inv = await scan(source(staticCredentials('drydock', 's3cret'), log));

    expect(inv.packages.map((p) => [p.name, p.version])).toEqual([['alpha', '1.0'], ['beta', '2.0'], ['delta', '1:4.0-1'], ['gamma', '3.0']]);
    expect(comparable(inv)).toEqual(comparable(local));
    expect(inv.image.manifestDigest).toBe(built.manifestDigest);

    // the token server: one request, Basic-authenticated, for exactly the pull scope
    expect(tokens.requests).toHaveLength(1);
    const [request] = tokens.requests;
    expect(request).toMatchObject({
      method: 'GET',
      user: 'drydock',
      status: 200,
      service: tokens.service,
      scopes: [`repository:${REPO}:pull`],
      granted: [{ type: 'repository', name: REPO, actions: ['pull'] }],
    });
    expect(jwtHeader(request!.token!)).toMatchObject({ alg: 'RS256', x5c: [expect.any(String)] });

    // the registry: one anonymous 401 with the Bearer challenge, then everything with that token
    const [first, ...rest] = registryExchanges(log);
    expect(first).toMatchObject({ method: 'GET', authorization: null, status: 401 });
    expect(first!.url.pathname).toBe(`/v2/${REPO}/manifests/v1`);
    expect(first!.wwwAuthenticate).toBe(`Bearer realm="${tokens.realm}",service="${tokens.service}",scope="repository:${REPO}:pull"`);
    expect(rest.every((x) => x.authorization === `Bearer ${request!.token}` && x.status === 200)).toBe(true);
    const paths = rest.map((x) => x.url.pathname);
    expect(paths).toContain(`/v2/${REPO}/manifests/v1`);
    expect(paths).toContain(`/v2/${REPO}/blobs/${built.configDigest}`);
    for (const layer of built.layers) expect(paths).toContain(`/v2/${REPO}/blobs/${layer.digest}`);
  });

  it('accepts tokens that name their key by libtrust key ID (kid) instead of x5c', async () => {
    tokens.keyHeader = 'kid';
    const inv = await scan(source(staticCredentials('drydock', 's3cret'), []));
    expect(comparable(inv)).toEqual(comparable(local));
    expect(tokens.requests).toHaveLength(1);
    const header = jwtHeader(tokens.requests[0]!.token!);
    expect(header).toMatchObject({ alg: 'RS256', kid: tokens.keyId });
    expect(header).not.toHaveProperty('x5c');
  });

  it('wrong password: the token server refuses, UNAUTHORIZED naming the image', async () => {
    const log: Exchange[] = [];
    const e = await scanError(source(staticCredentials('drydock', 'wrong'), log));
    expect(e.code).toBe('UNAUTHORIZED');
    expect(e.message).toContain(ref);
    expect(tokens.requests).toMatchObject([{ user: 'drydock', status: 401, scopes: [`repository:${REPO}:pull`], granted: [] }]);
    expect(registryExchanges(log).every((x) => x.authorization === null)).toBe(true);
  });

  it('a user allowed no pull on the repository: a token without access, 401 insufficient_scope → DENIED', async () => {
    const log: Exchange[] = [];
    const e = await scanError(source(staticCredentials('viewer', 'viewer-pw'), log));
    // Distribution answers a valid token that lacks the action with 401 (not 403): the client
    // reads error="insufficient_scope" and says the credentials are valid but may not pull.
    expect(e.code).toBe('DENIED');
    expect(e.message).toContain('not allowed to pull');
    expect(e.message).toContain(ref);
    expect(tokens.requests).toMatchObject([{ user: 'viewer', status: 200, scopes: [`repository:${REPO}:pull`], granted: [] }]);
    const withToken = registryExchanges(log).filter((x) => x.authorization?.startsWith('Bearer '));
    expect(withToken).toHaveLength(1);
    expect(withToken[0]!.status).toBe(401);
    expect(withToken[0]!.wwwAuthenticate).toContain('error="insufficient_scope"');
  });

  it('the registry verifies the signature: claims altered after signing are refused', async () => {
    const get = async (token: string) => {
      const res = await fetch(`${registry.url}/v2/${REPO}/manifests/v1`, {
        headers: { authorization: `Bearer ${token}`, accept: MANIFEST_ACCEPT.join(', ') },
      });
      await res.arrayBuffer();
      return res.status;
    };
    const tokenFor = async (user: string, password: string) => {
      const url = `${tokens.realm}?service=${encodeURIComponent(tokens.service)}&scope=${encodeURIComponent(`repository:${REPO}:pull`)}`;
      const res = await fetch(url, { headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } });
      return ((await res.json()) as { token: string }).token;
    };
    expect(await get(await tokenFor('drydock', 's3cret'))).toBe(200);

    const [header, claims, signature] = (await tokenFor('viewer', 'viewer-pw')).split('.');
    const forged = JSON.parse(Buffer.from(claims!, 'base64url').toString('utf8')) as { access: unknown };
    expect(forged.access).toEqual([]);
    forged.access = [{ type: 'repository', name: REPO, actions: ['pull'] }];
    expect(await get(`${header}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${signature}`)).toBe(401);
    expect(await registry.logTail(20_000)).toContain('unable to verify token signature');
  });
});
