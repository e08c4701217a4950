import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DrydockError } from '../errors.js';

/**
 * Registry authentication pieces that do not talk HTTP themselves: challenge parsing,
 * token answers, and the credential providers. The token exchange lives in the
 * registry client, which owns transport, retries and the http/https policy.
 */

export interface Credentials {
  username: string;
  password: string;
}

/**
 * Where a registry client gets a username / password for a registry host (as the client
 * names it, e.g. "127.0.0.1:5000", "registry-1.docker.io"). `undefined` = pull anonymously.
 */
export interface CredentialProvider {
  get(registry: string, signal?: AbortSignal): Promise<Credentials | undefined>;
}

/** The same credentials for whichever registry the client asks about. */
export function staticCredentials(username: string, password: string): CredentialProvider {
  const creds: Credentials = { username, password };
  return { get: async () => creds };
}

/**
 * Credentials bound to the registries they were given for: answered only for those hosts
 * (compared as Docker config keys are: scheme and path dropped, lower case, Docker Hub's
 * names as one), so a registry named by an image, a redirect or a token realm elsewhere
 * never sees them.
 */
export function hostCredentials(hosts: readonly string[], username: string, password: string): CredentialProvider {
  const creds: Credentials = { username, password };
  const keys = new Set(hosts.map(registryKey).filter(Boolean));
  return { get: async (registry) => (keys.has(registryKey(registry)) ? creds : undefined) };
}

/**
 * The credentials the environment gives: DRYDOCK_REGISTRY_USERNAME and _PASSWORD for the
 * registries in DRYDOCK_REGISTRY_HOST (host[:port], comma-separated). Undefined when no
 * username and password are set; a CONFIG error when they are set without a host, since
 * credentials offered to any registry that asks are credentials given away.
 */
export function envCredentials(env: Record<string, string | undefined>): CredentialProvider | undefined {
  const user = env.DRYDOCK_REGISTRY_USERNAME;
  const pass = env.DRYDOCK_REGISTRY_PASSWORD;
  if (!user || !pass) return undefined;
  const hosts = (env.DRYDOCK_REGISTRY_HOST ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  if (hosts.length === 0) {
    throw new DrydockError('CONFIG', 'DRYDOCK_REGISTRY_USERNAME and DRYDOCK_REGISTRY_PASSWORD are set without DRYDOCK_REGISTRY_HOST: name the registry (host[:port], comma-separated for several) they are for; they are never sent to any other');
  }
  return hostCredentials(hosts, user, pass);
}

/** Asks each provider in turn; the first that has credentials for the registry wins. */
export function chainCredentials(...providers: CredentialProvider[]): CredentialProvider {
  return {
    async get(registry, signal) {
      for (const provider of providers) {
        const creds = await provider.get(registry, signal);
        if (creds) return creds;
      }
      return undefined;
    },
  };
}

export interface DockerConfigOptions {
  /** defaults to $DOCKER_CONFIG/config.json, else ~/.docker/config.json */
  path?: string;
}

/**
 * Credentials from a Docker CLI config file (`auths` entries with a base64 "user:password"
 * `auth` field, or `username` / `password`). A missing file means anonymous; a file that
 * cannot be parsed is a CONFIG error. Credential helpers (`credsStore`, `credHelpers`) and
 * identity tokens are not supported.
 */
export function dockerConfigCredentials(options: DockerConfigOptions = {}): CredentialProvider {
  const path = options.path ?? join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
  let auths: Promise<Map<string, Credentials>> | undefined;
  return {
    async get(registry) {
      auths ??= readDockerAuths(path);
      return (await auths).get(registryKey(registry));
    },
  };
}

async function readDockerAuths(path: string): Promise<Map<string, Credentials>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new DrydockError('CONFIG', `cannot read docker config ${path}: ${(e as Error).message}`, {
      context: { path },
      cause: e,
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new DrydockError('CONFIG', `docker config ${path} is not valid JSON`, { context: { path }, cause: e });
  }
  const out = new Map<string, Credentials>();
  const entries = isRecord(doc) && isRecord(doc.auths) ? Object.entries(doc.auths) : [];
  for (const [name, entry] of entries) {
    if (!isRecord(entry)) continue;
    const creds = entryCredentials(entry);
    if (creds === 'invalid') {
      throw new DrydockError('CONFIG', `docker config ${path}: the "auth" field for ${name} is not base64 "user:password"`, {
        context: { path },
      });
    }
    if (creds) out.set(registryKey(name), creds);
  }
  return out;
}

function entryCredentials(entry: Record<string, unknown>): Credentials | 'invalid' | undefined {
  if (typeof entry.auth === 'string' && entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return 'invalid';
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof entry.username === 'string' && typeof entry.password === 'string') {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/** Docker Hub goes by several names in config files and API hosts. */
const DOCKER_HUB_NAMES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/** "https://index.docker.io/v1/" → "docker.io"; "http://host:5000/" → "host:5000". */
function registryKey(name: string): string {
  const host = name
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
  return DOCKER_HUB_NAMES.has(host) ? 'docker.io' : host;
}

/** One challenge of a WWW-Authenticate header; the scheme is lower-cased, as are parameter names. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;
const TOKEN68 = /[A-Za-z0-9._~+/-]+=*[ \t]*(?:,|$)/y;

/**
 * Parses a WWW-Authenticate value (RFC 9110 §11.6.1, formerly RFC 7235): one or more
 * challenges separated by commas, each a scheme followed by a token68 or by name=value
 * parameters whose values may be quoted strings with backslash escapes.
 */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let current: Challenge | undefined;
  let i = 0;
  const skip = (chars: RegExp) => {
    while (i < header.length && chars.test(header[i]!)) i++;
  };
  const match = (re: RegExp): string | undefined => {
    re.lastIndex = i;
    const m = re.exec(header);
    if (!m) return undefined;
    i = re.lastIndex;
    return m[0];
  };
  while (i < header.length) {
    skip(/[\s,]/);
    if (i >= header.length) break;
    const name = match(TOKEN);
    if (!name) {
      i++; // not a token: skip the stray character
      continue;
    }
    skip(/[ \t]/);
    if (current && header[i] === '=') {
      i++;
      skip(/[ \t]/);
      current.params[name.toLowerCase()] = header[i] === '"' ? quotedString() : (match(TOKEN) ?? '');
    } else {
      current = { scheme: name.toLowerCase(), params: {} };
      challenges.push(current);
      match(TOKEN68); // a token68 credential form carries nothing a registry client needs
    }
  }
  return challenges;

  function quotedString(): string {
    let out = '';
    for (i++; i < header.length; i++) {
      const c = header[i]!;
      if (c === '"') {
        i++;
        break;
      }
      if (c === '\\' && i + 1 < header.length) i++;
      out += header[i];
    }
    return out;
  }
}

/** A token server's answer (Docker token auth spec): `token` or, OAuth2-style, `access_token`. */
export interface TokenAnswer {
  token: string;
  /** lifetime in seconds; 60 when the server does not say, as the spec prescribes */
  expiresInSeconds: number;
}

export function parseTokenResponse(body: string): TokenAnswer | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!isRecord(doc)) return undefined;
  const token = typeof doc.token === 'string' && doc.token ? doc.token : doc.access_token;
  if (typeof token !== 'string' || !token) return undefined;
  const expires = doc.expires_in;
  return { token, expiresInSeconds: typeof expires === 'number' && expires > 0 ? expires : 60 };
}

export function basicAuthorization(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64')}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
