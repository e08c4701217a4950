/**
 * A real OCI distribution registry for integration tests: Debian's `docker-registry`
 * (CNCF Distribution 2.8) on 127.0.0.1, filesystem storage in a temp dir, optional
 * htpasswd Basic auth or token (Bearer) auth, deletes enabled.
 *
 * Behaviour worth knowing when writing tests against it:
 * - Distribution's htpasswd auth accepts bcrypt entries only (we make them with `htpasswd -Bbn`).
 * - Without credentials every /v2/ request is 401 with `WWW-Authenticate: Basic realm="drydock-test"`;
 *   with auth off, GET /v2/ is 200.
 * - With `tokenAuth` (e.g. a server from ./token-server.ts) a request without a valid token is
 *   401 with `WWW-Authenticate: Bearer realm="…",service="…",scope="repository:<name>:pull"`;
 *   a valid token lacking an action is also 401, with `error="insufficient_scope"` added.
 *   The registry never calls the token server: it verifies tokens with the rootcertbundle,
 *   which it reads once at startup.
 * - Manifests are served in the media type they were pushed with; ask for a type the stored
 *   manifest does not have (e.g. Accept only Docker v2 for an OCI manifest) and you get 404
 *   MANIFEST_UNKNOWN, so always send the full Accept list.
 * - The registry log (text format, incl. access log) goes to `<dataDir>/registry.log`.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, startWatched, tail, type WatchedServer } from './exec.js';

export interface StartRegistryOptions {
  /** user → password; when given, the registry requires Basic auth (htpasswd, bcrypt) */
  users?: Record<string, string>;
  /** when given, the registry requires Bearer tokens (auth.token); a TokenServer fits as is */
  tokenAuth?: TokenAuthConfig;
  /** how long to wait for GET /v2/ to answer (default 60 s, for a busy machine; a registry that
   *  exits is noticed at once, not at the deadline) */
  startTimeoutMs?: number;
}

export interface TestRegistry {
  /** "127.0.0.1:PORT", the registry part of image references */
  host: string;
  /** "http://127.0.0.1:PORT" */
  url: string;
  /** temp dir holding config.yml, htpasswd, registry.log and storage/ (removed by stop()) */
  dataDir: string;
  /** path of the registry's log file */
  logFile: string;
  /** the first user of `opts.users`, for convenience */
  username?: string;
  password?: string;
  /** Basic auth header value for the first user, if any */
  authorization?: string;
  /** the last part of the registry log, for assertion messages */
  logTail(maxChars?: number): Promise<string>;
  /** kill the registry and remove dataDir; safe to call twice */
  stop(): Promise<void>;
}

/** Distribution's `auth.token` section. */
export interface TokenAuthConfig {
  /** the token server's URL, sent to clients in the Bearer challenge */
  realm: string;
  /** sent in the challenge; tokens must have it as `aud` */
  service: string;
  /** tokens must have it as `iss` */
  issuer: string;
  /** PEM file of the certificate(s) whose keys may sign tokens (x5c roots and `kid` keys) */
  rootCertBundle: string;
}

const REALM = 'drydock-test';
const BIN = 'docker-registry';

/** Start a registry; resolves once GET /v2/ answers 200 or 401. */
export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  if (opts.tokenAuth && opts.users && Object.keys(opts.users).length > 0) {
    throw new Error('startRegistry: give either users (htpasswd) or tokenAuth, not both');
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'drydock-registry-'));
  try {
    const htpasswdPath = opts.users && Object.keys(opts.users).length > 0 ? join(dataDir, 'htpasswd') : undefined;
    if (htpasswdPath) await writeFile(htpasswdPath, await htpasswdLines(opts.users!), { mode: 0o600 });
    // A port picked by the kernel can be taken by someone else before the registry binds it,
    // so try a few times when the log says so.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        return await launch(dataDir, port, htpasswdPath, opts);
      } catch (err) {
        if (attempt < 4 && err instanceof PortInUse) continue;
        throw err;
      }
    }
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}

class PortInUse extends Error {}


async function launch(
  dataDir: string,
  port: number,
  htpasswdPath: string | undefined,
  opts: StartRegistryOptions,
): Promise<TestRegistry> {
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  const configPath = join(dataDir, 'config.yml');
  const logFile = join(dataDir, 'registry.log');
  await writeFile(configPath, configYaml({ addr: host, storage: join(dataDir, 'storage'), htpasswdPath, tokenAuth: opts.tokenAuth }));

  const logFd = openSync(logFile, 'w');
  let server: WatchedServer;
  try {
    server = startWatched('registry-watchdog', [BIN, 'serve', configPath], { stdio: ['pipe', logFd, logFd] });
  } finally {
    closeSync(logFd); // the child holds its own copy
  }
  const { child, exited, killGroup } = server;

  const readLog = async (max = 4000) => tail(await readFile(logFile, 'utf8').catch(() => ''), max);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin!.end(); // the watchdog sends the registry SIGTERM
      const timer = setTimeout(killGroup, 3000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dataDir, { recursive: true, force: true });
  };

  const timeoutMs = opts.startTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let lastProblem = 'no answer yet';
  let exitReason: string | undefined;
  exited.then(
    (r) => (exitReason = r),
    (e: unknown) => (exitReason = `failed: ${String(e)}`),
  );
  while (true) {
    if (exitReason !== undefined) {
      const log = await readLog();
      if (/address already in use/i.test(log)) throw new PortInUse(log);
      throw new Error(`${BIN} ${exitReason} before it was ready on ${url}; log tail:\n${log}`);
    }
    if (Date.now() > deadline) {
      const log = await readLog();
      killGroup();
      await exited;
      throw new Error(
        `${BIN} did not answer GET ${url}/v2/ within ${timeoutMs} ms (${lastProblem}); log tail:\n${log}`,
      );
    }
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) break;
      lastProblem = `last status ${res.status}`;
    } catch (e) {
      lastProblem = `last error ${(e as Error).message}`;
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const users = Object.entries(opts.users ?? {});
  const first = htpasswdPath ? users[0] : undefined;
  return {
    host,
    url,
    dataDir,
    logFile,
    ...(first && {
      username: first[0],
      password: first[1],
      authorization: 'Basic ' + Buffer.from(`${first[0]}:${first[1]}`).toString('base64'),
    }),
    logTail: readLog,
    stop,
  };
}

/** htpasswd file content: one bcrypt line per user (Distribution rejects other hash types). */
async function htpasswdLines(users: Record<string, string>): Promise<string> {
  const lines: string[] = [];
  for (const [user, password] of Object.entries(users)) {
    if (user.includes(':')) throw new Error(`htpasswd user names cannot contain ':' (${user})`);
    // -B bcrypt, -b password from the command line, -n print instead of writing a file
    const { stdout } = await run('htpasswd', ['-Bbn', user, password]);
    lines.push(stdout.toString('utf8').trim());
  }
  return lines.join('\n') + '\n';
}

function configYaml(c: {
  addr: string;
  storage: string;
  htpasswdPath: string | undefined;
  tokenAuth: TokenAuthConfig | undefined;
}): string {
  const q = (s: string) => JSON.stringify(s); // a JSON string is a valid YAML double-quoted scalar
  const t = c.tokenAuth;
  const auth = c.htpasswdPath
    ? ['auth:', '  htpasswd:', `    realm: ${q(REALM)}`, `    path: ${q(c.htpasswdPath)}`]
    : t
      ? [
          'auth:',
          '  token:',
          `    realm: ${q(t.realm)}`,
          `    service: ${q(t.service)}`,
          `    issuer: ${q(t.issuer)}`,
          `    rootcertbundle: ${q(t.rootCertBundle)}`,
        ]
      : [];
  return [
    'version: 0.1',
    'log:',
    '  level: info',
    '  formatter: text',
    '  fields:',
    '    service: drydock-test-registry',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${q(c.storage)}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: ${q(c.addr)}`,
    // a fixed secret silences the "No HTTP secret provided" warning and keeps uploads valid
    `  secret: ${q(randomBytes(16).toString('hex'))}`,
    'health:',
    '  storagedriver:',
    '    enabled: false',
    ...auth,
    '',
  ].join('\n');
}

/** A port that was free a moment ago on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}
