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

/**
 * Given credentials: `staticCredentials(host, username, password)` answers for that registry
 * only (host[:port], compared as Docker config keys are; what `--username`/`--password-stdin`
 * give); `staticCredentials(username, password)` answers for whichever registry asks (tests).
 */
export function staticCredentials(host: string, username: string, password: string): CredentialProvider;
export function staticCredentials(username: string, password: string): CredentialProvider;
export function staticCredentials(a: string, b: string, c?: string): CredentialProvider {
  if (c !== undefined) {
    if (!registryKey(a)) throw new DrydockError('CONFIG', 'credentials need the registry they are for (host[:port])');
    return hostCredentials([a], b, c);
  }
  const creds: Credentials = { username: a, password: b };
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
  /** the environment credential helpers run with (PATH finds them); default process.env */
  env?: Record<string, string | undefined>;
}

/** A credential helper that has not answered by then is killed (limit credentialHelperTimeout). */
export const CREDENTIAL_HELPER_TIMEOUT_MS = 15_000;
/** The most a credential helper may print (limit credentialHelperOutput). */
export const CREDENTIAL_HELPER_MAX_OUTPUT_BYTES = 64 * 1024;

interface DockerConfigAuths {
  auths: Map<string, Credentials>;
  credsStore?: string;
  credHelpers: Map<string, string>;
}

/**
 * Credentials from a Docker CLI config file, as the Docker CLI finds them: a `credHelpers`
 * entry for the registry, else the `credsStore` helper, else the `auths` entry (a base64
 * "user:password" `auth` field, or `username` / `password`). Helpers are run as
 * `docker-credential-<name> get` with the server URL on stdin (bounded in time and output;
 * "credentials not found" means anonymous; any other failure is a CONFIG error naming the
 * helper). A missing file means anonymous; a file that cannot be parsed is a CONFIG error.
 * Identity tokens (Username "<token>") are refused with a CONFIG error.
 */
export function dockerConfigCredentials(options: DockerConfigOptions = {}): CredentialProvider {
  const env = options.env ?? process.env;
  const path = options.path ?? join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
  let config: Promise<DockerConfigAuths> | undefined;
  const answers = new Map<string, Promise<Credentials | undefined>>();
  return {
    async get(registry, signal) {
      config ??= readDockerConfig(path);
      const c = await config;
      const key = registryKey(registry);
      const helper = c.credHelpers.get(key) ?? c.credsStore;
      if (helper) {
        let answer = answers.get(`${helper} ${key}`);
        if (!answer) {
          answer = runCredentialHelper(helper, helperServerUrl(key), env, path, signal);
          answers.set(`${helper} ${key}`, answer);
          answer.catch(() => answers.delete(`${helper} ${key}`));
        }
        const creds = await answer;
        if (creds) return creds;
      }
      return c.auths.get(key);
    },
  };
}

/**
 * The auth files of podman, skopeo and buildah (containers-auth.json(5)): $REGISTRY_AUTH_FILE
 * alone when it is set; else ${XDG_RUNTIME_DIR}/containers/auth.json (where `podman login`
 * writes), then ${XDG_CONFIG_HOME:-$HOME/.config}/containers/auth.json (where a login that must
 * survive a reboot is kept), the first that knows the registry winning. The same `auths` format
 * as Docker's; entries keyed by a repository path are not used: credentials are chosen by
 * registry host here. A missing file knows nothing; a malformed one is an error naming it.
 */
export function containersAuthFiles(env: Record<string, string | undefined> = process.env): string[] {
  if (env.REGISTRY_AUTH_FILE) return [env.REGISTRY_AUTH_FILE];
  const out: string[] = [];
  if (env.XDG_RUNTIME_DIR) out.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  const configHome = env.XDG_CONFIG_HOME || (env.HOME ? join(env.HOME, '.config') : undefined);
  if (configHome) out.push(join(configHome, 'containers', 'auth.json'));
  return out;
}

export function containersAuthCredentials(env: Record<string, string | undefined> = process.env): CredentialProvider | undefined {
  const files = containersAuthFiles(env);
  if (!files.length) return undefined;
  const providers = files.map((path): CredentialProvider => {
    let auths: Promise<Map<string, Credentials>> | undefined;
    return {
      async get(registry) {
        auths ??= readDockerConfig(path).then((c) => c.auths);
        return (await auths).get(registryKey(registry));
      },
    };
  });
  return providers.length === 1 ? providers[0] : chainCredentials(...providers);
}

/**
 * What a user's machine already knows, in the order skopeo and podman read it: the
 * containers auth files (containersAuthFiles), then
 * the Docker config with its credential helpers.
 */
export function localCredentials(env: Record<string, string | undefined> = process.env): CredentialProvider {
  const containers = containersAuthCredentials(env);
  const docker = dockerConfigCredentials({ env });
  return containers ? chainCredentials(containers, docker) : docker;
}

/** The server URL a helper is asked about: Docker Hub's legacy index URL, else the host. */
function helperServerUrl(key: string): string {
  return key === 'docker.io' ? 'https://index.docker.io/v1/' : key;
}

async function runCredentialHelper(
  name: string,
  serverUrl: string,
  env: Record<string, string | undefined>,
  configPath: string,
  signal?: AbortSignal,
): Promise<Credentials | undefined> {
  const program = `docker-credential-${name}`;
  const fail = (why: string, cause?: unknown) =>
    new DrydockError('CONFIG', `credential helper ${program} (named in ${configPath}) ${why}`, { context: { path: configPath }, ...(cause === undefined ? {} : { cause }) });
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw fail('has a name that is not a program name');
  // loaded here: a scan that runs no credential helper does not load child_process (start-up)
  const { spawn } = await import('node:child_process');
  const { code, stdout, stderr, error } = await new Promise<{ code: number | null; stdout: string; stderr: string; error?: Error }>((resolve) => {
    const child = spawn(program, ['get'], { env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let failure: Error | undefined;
    // Killed, the helper's pipes are closed on our side too: a grandchild it left behind
    // (a shell script's `sleep`, an agent) would otherwise hold them open, and 'close' with them.
    const stop = () => {
      child.kill('SIGKILL');
      child.stdout.destroy();
      child.stderr.destroy();
    };
    const timer = setTimeout(() => {
      failure = fail(`did not answer within ${CREDENTIAL_HELPER_TIMEOUT_MS} ms (limit credentialHelperTimeout)`);
      stop();
    }, CREDENTIAL_HELPER_TIMEOUT_MS);
    const take = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size > CREDENTIAL_HELPER_MAX_OUTPUT_BYTES) {
        failure ??= fail(`printed more than ${CREDENTIAL_HELPER_MAX_OUTPUT_BYTES} bytes (limit credentialHelperOutput)`);
        stop();
        return;
      }
      into.push(chunk);
    };
    child.stdout.on('data', take(out));
    child.stderr.on('data', take(err));
    child.stdin.on('error', () => undefined); // a helper that exits without reading stdin
    child.stdin.end(serverUrl);
    child.once('error', (e) => {
      failure ??= (e as NodeJS.ErrnoException).code === 'ENOENT' ? fail(`is not installed: ${program} was not found in PATH`, e) : fail(`could not be run: ${e.message}`, e);
    });
    child.once('close', (exit) => {
      clearTimeout(timer);
      resolve({ code: exit, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ...(failure ? { error: failure } : {}) });
    });
  });
  if (error) throw error;
  if (code !== 0) {
    const said = (stdout.trim() || stderr.trim()).slice(0, 300);
    if (/credentials not found/i.test(said)) return undefined;
    throw fail(`failed for ${serverUrl} (exit ${code}): ${said || 'no message'}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch (e) {
    throw fail(`answered for ${serverUrl} with something that is not JSON`, e);
  }
  if (!isRecord(doc) || typeof doc.Username !== 'string' || typeof doc.Secret !== 'string') {
    throw fail(`answered for ${serverUrl} without Username and Secret`);
  }
  if (doc.Username === '<token>') throw fail(`answered for ${serverUrl} with an identity token, which is not supported: log in with a username and password or token`);
  if (!doc.Username && !doc.Secret) return undefined;
  return { username: doc.Username, password: doc.Secret };
}

async function readDockerConfig(path: string): Promise<DockerConfigAuths> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { auths: new Map(), credHelpers: new Map() };
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
    if (/^(?:[a-z][a-z0-9+.-]*:\/\/)?[^/]+\/[^/]/i.test(name) && !/^[a-z][a-z0-9+.-]*:\/\//i.test(name)) continue; // a repository-scoped entry
    const creds = entryCredentials(entry);
    if (creds === 'invalid') {
      throw new DrydockError('CONFIG', `docker config ${path}: the "auth" field for ${name} is not base64 "user:password"`, {
        context: { path },
      });
    }
    if (creds) out.set(registryKey(name), creds);
  }
  const credHelpers = new Map<string, string>();
  if (isRecord(doc) && isRecord(doc.credHelpers)) {
    for (const [host, helper] of Object.entries(doc.credHelpers)) if (typeof helper === 'string' && helper) credHelpers.set(registryKey(host), helper);
  }
  const credsStore = isRecord(doc) && typeof doc.credsStore === 'string' && doc.credsStore ? doc.credsStore : undefined;
  return { auths: out, credHelpers, ...(credsStore ? { credsStore } : {}) };
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
