/**
 * An in-process token server for Distribution's token authentication (the "Docker
 * Registry v2 authentication" flow Docker Hub and GHCR use), on 127.0.0.1 over plain http.
 *
 * GET <realm>?service=…&scope=repository:<name>:pull,push checks the Basic credentials
 * (if any) against its users, grants the requested actions the user is allowed, and answers
 * `{ token, access_token, expires_in, issued_at }`. The token is a JWT signed RS256 with a
 * key whose self-signed certificate (made with `openssl req -x509` in a temp dir) is the
 * registry's `rootcertbundle`.
 *
 * What Distribution 2.8 (registry/auth/token) checks, and so what the token carries:
 * - `iss` must equal the registry's `auth.token.issuer`, `aud` (a string in 2.8) its
 *   `auth.token.service`; `exp` / `nbf` are checked with 60 s leeway.
 * - The signing key is found through the JOSE header: `x5c` (a chain that must verify up to
 *   a certificate of the rootcertbundle; a self-signed cert in the bundle verifies itself),
 *   else `jwk`, else `kid`, looked up among the bundle's public keys by libtrust key ID
 *   (see libtrustKeyId). Both `x5c` and `kid` work with this server (keyHeader).
 * - `access` must hold every action the request needs (pull for GET/HEAD, pull+push for
 *   uploads); a valid token that lacks one gets 401 with error="insufficient_scope".
 *
 * As the token spec asks, a user who is not allowed an action still gets a token (without
 * that action): authorization errors come from the registry, not from the token server.
 * Wrong credentials are a 401 here. Anonymous requests get the `anonymous` grants.
 */
import { createPrivateKey, createHash, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './exec.js';

/** repository name (or "*" for every repository) → the actions granted on it ("*" = all requested) */
export type RepositoryGrants = Record<string, readonly string[]>;

export interface TokenUser {
  password: string;
  /** default: nothing (the user gets tokens, but without access) */
  repositories?: RepositoryGrants;
}

export interface TokenServerOptions {
  users: Record<string, TokenUser>;
  /** what requests without credentials are granted (default nothing) */
  anonymous?: RepositoryGrants;
  /** the registry's auth.token.service, the tokens' `aud` (default "drydock-test-registry") */
  service?: string;
  /** auth.token.issuer, the tokens' `iss` (default "drydock-test-token-issuer") */
  issuer?: string;
  /** token lifetime in seconds (default 300) */
  ttlSeconds?: number;
  /** how a token names its signing key (default 'x5c'); can be changed later on the server */
  keyHeader?: KeyHeader;
}

/** `x5c`: the signing certificate itself; `kid`: the libtrust key ID of its public key. */
export type KeyHeader = 'x5c' | 'kid';

/** One entry of a token's `access` claim. */
export interface ResourceActions {
  type: string;
  name: string;
  actions: string[];
}

/** One request the token server answered. */
export interface TokenRequest {
  method: string;
  /** the Basic user name sent, if any (also when its password was wrong) */
  user?: string;
  /** the HTTP status answered: 200, 401 (bad credentials), 400 (wrong service), 404 / 405 */
  status: number;
  service: string | null;
  /** the requested scopes, as sent (several `scope` parameters and space-separated lists are split) */
  scopes: string[];
  /** the token's `access` claim (empty unless status 200) */
  granted: ResourceActions[];
  /** the issued token, if any */
  token?: string;
}

export interface TokenServer {
  /** "http://127.0.0.1:PORT/token", the registry's auth.token.realm */
  realm: string;
  service: string;
  issuer: string;
  /** path of the PEM certificate the registry trusts (auth.token.rootcertbundle) */
  rootCertBundle: string;
  /** the libtrust key ID of the signing key, as the registry computes it from the bundle */
  keyId: string;
  /** how tokens issued from now on name their signing key */
  keyHeader: KeyHeader;
  /** every request so far, oldest first (clearRequests() empties it) */
  readonly requests: TokenRequest[];
  clearRequests(): void;
  /** close the server and remove the key and certificate; safe to call twice */
  stop(): Promise<void>;
}

const BASIC_REALM = 'drydock-test-token-server';
const TOKEN_PATH = '/token';

export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const service = opts.service ?? 'drydock-test-registry';
  const issuer = opts.issuer ?? 'drydock-test-token-issuer';
  const ttl = opts.ttlSeconds ?? 300;
  const dir = await mkdtemp(join(tmpdir(), 'drydock-token-'));
  let server: Server | undefined;
  try {
    const keyPath = join(dir, 'signing-key.pem');
    const certPath = join(dir, 'signing-cert.pem');
    // -nodes: no passphrase on the key; a day of validity is plenty for a test run
    await run('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '1',
      '-subj', '/CN=drydock test token issuer',
      '-keyout', keyPath, '-out', certPath,
    ]);
    const key = createPrivateKey(await readFile(keyPath));
    const cert = new X509Certificate(await readFile(certPath));
    const certDer = cert.raw.toString('base64'); // x5c entries are standard base64 DER, not base64url
    const keyId = libtrustKeyId(cert.publicKey.export({ type: 'spki', format: 'der' }));

    const requests: TokenRequest[] = [];
    const state: TokenServer = {
      realm: '',
      service,
      issuer,
      rootCertBundle: certPath,
      keyId,
      keyHeader: opts.keyHeader ?? 'x5c',
      requests,
      clearRequests: () => void requests.splice(0),
      stop: async () => {},
    };

    const issue = (user: string | undefined, granted: ResourceActions[]): string => {
      const header = state.keyHeader === 'x5c' ? { typ: 'JWT', alg: 'RS256', x5c: [certDer] } : { typ: 'JWT', alg: 'RS256', kid: keyId };
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        iss: issuer,
        sub: user ?? '',
        aud: service,
        exp: now + ttl,
        nbf: now,
        iat: now,
        jti: randomBytes(16).toString('hex'),
        access: granted,
      };
      return signJwt(header, claims, key);
    };

    server = createServer((req, res) => {
      try {
        handle(req, res);
      } catch (e) {
        reply(res, 500, { errors: [{ code: 'UNKNOWN', message: (e as Error).message }] });
      }
    });
    const handle = (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://token-server');
      const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
      const record: TokenRequest = { method: req.method ?? '', status: 0, service: url.searchParams.get('service'), scopes, granted: [] };
      requests.push(record);
      const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        record.status = status;
        reply(res, status, body, headers);
      };
      if (url.pathname !== TOKEN_PATH) return answer(404, { errors: [{ code: 'NOT_FOUND', message: `no ${url.pathname} here` }] });
      if (req.method !== 'GET') return answer(405, { errors: [{ code: 'UNSUPPORTED', message: 'only GET is supported' }] }, { allow: 'GET' });
      if (record.service !== service) {
        return answer(400, { errors: [{ code: 'INVALID_REQUEST', message: `unknown service ${JSON.stringify(record.service)}` }] });
      }
      const creds = basicCredentials(req.headers.authorization);
      if (creds) record.user = creds.user;
      const user = creds && opts.users[creds.user];
      if (req.headers.authorization !== undefined && (!creds || !user || user.password !== creds.password)) {
        return answer(401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] }, {
          'www-authenticate': `Basic realm="${BASIC_REALM}"`,
        });
      }
      record.granted = grant(scopes, user ? (user.repositories ?? {}) : (opts.anonymous ?? {}));
      record.token = issue(creds?.user, record.granted);
      answer(200, { token: record.token, access_token: record.token, expires_in: ttl, issued_at: new Date().toISOString() });
    };

    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(0, '127.0.0.1', () => resolve());
    });
    state.realm = `http://127.0.0.1:${(server.address() as AddressInfo).port}${TOKEN_PATH}`;
    let stopped = false;
    const listening = server;
    state.stop = async () => {
      if (stopped) return;
      stopped = true;
      listening.closeAllConnections();
      await new Promise<void>((resolve) => listening.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    };
    return state;
  } catch (err) {
    server?.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * The `access` claim for the requested scopes: for each `repository:<name>:<actions>` scope,
 * the requested actions the grants allow (nothing for other resource types).
 */
export function grant(scopes: readonly string[], grants: RepositoryGrants): ResourceActions[] {
  const out: ResourceActions[] = [];
  for (const scope of scopes) {
    // type[(class)]:name:actions; the name may itself contain ':' (never in Distribution repo names)
    const first = scope.indexOf(':');
    const last = scope.lastIndexOf(':');
    if (first <= 0 || last === first) continue;
    const type = scope.slice(0, first).replace(/\(.*\)$/, '');
    const name = scope.slice(first + 1, last);
    const requested = scope.slice(last + 1).split(',').filter(Boolean);
    if (type !== 'repository') continue;
    const allowed = grants[name] ?? grants['*'] ?? [];
    const actions = requested.filter((a) => allowed.includes('*') || allowed.includes(a));
    if (actions.length > 0) out.push({ type: 'repository', name, actions });
  }
  return out;
}

/**
 * libtrust's key ID, which Distribution expects in a token's `kid`: SHA-256 of the DER
 * SubjectPublicKeyInfo, the first 240 bits in base32 without padding (48 characters), in
 * twelve groups of four joined by ':'.
 */
export function libtrustKeyId(spkiDer: Buffer): string {
  const b32 = base32(createHash('sha256').update(spkiDer).digest().subarray(0, 30));
  return b32.match(/.{4}/g)!.join(':');
}

/** RFC 4648 base32, no padding. */
function base32(bytes: Uint8Array): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

/** A compact JWS: base64url(header).base64url(claims).base64url(RSASSA-PKCS1-v1_5 SHA-256 signature). */
function signJwt(header: object, claims: object, key: KeyObject): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(sign('sha256', Buffer.from(input), key))}`;
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** user and password of a Basic Authorization value; undefined when absent or not Basic. */
function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
