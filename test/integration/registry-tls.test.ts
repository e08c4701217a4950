/**
 * Issue 17, item 6: a registry served over HTTPS on a loopback address was spoken to in plain
 * http and answered "400 Bad Request". The Distribution registry (Debian's docker-registry)
 * runs here with TLS on 127.0.0.1 and a self-signed certificate made by openssl for this run;
 * the image is pushed with skopeo and read back by a fresh Node process (NODE_EXTRA_CA_CERTS
 * is read at process start only), through openSource and scanImage as the CLI does.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startWatched, type WatchedServer } from '../support/exec.js';
import { buildImage, pushToRegistry } from '../support/image-builder.js';
import { OS_RELEASE_12, stanza, statusFile } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
let work: string;
let host: string;
let certPath: string;
let server: WatchedServer | undefined;
let logFile: string;

/** The child: opens the reference as the CLI does and prints what it found, or the error's code and message. */
const CHILD = `
import { openSource } from ${JSON.stringify(join(ROOT, 'shared/image/open.ts'))};
import { scanImage } from ${JSON.stringify(join(ROOT, 'shared/scan.ts'))};
const ref = process.argv[2];
try {
  const source = await openSource(ref, { registryTimeouts: { idleMs: 10000 } });
  const [inv] = await scanImage(source, ref);
  const client = source.client;
  process.stdout.write(JSON.stringify({ origin: client?.origin, packages: inv.packages.map((p) => p.name + '@' + p.version) }));
} catch (e) {
  process.stdout.write(JSON.stringify({ code: e.code, message: e.message }));
}
`;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function child(ref: string, env: NodeJS.ProcessEnv): Promise<{ origin?: string; packages?: string[]; code?: string; message?: string }> {
  const script = join(work, 'child.mts');
  await writeFile(script, CHILD);
  const { stdout } = await run(process.execPath, ['--import', 'tsx', script, ref], { cwd: ROOT, env, timeoutMs: 120_000 });
  return JSON.parse(stdout.toString('utf8')) as { origin?: string; packages?: string[]; code?: string; message?: string };
}

function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.NODE_TLS_REJECT_UNAUTHORIZED;
  // the docker config of whoever runs the tests is not asked
  env.DOCKER_CONFIG = join(work, 'no-docker-config');
  return env;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-registry-tls-'));
  certPath = join(work, 'cert.pem');
  const keyPath = join(work, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyPath, '-out', certPath], { stdio: 'ignore' });
  const port = await freePort();
  host = `127.0.0.1:${port}`;
  const config = join(work, 'config.yml');
  const q = (s: string) => JSON.stringify(s);
  await writeFile(config, [
    'version: 0.1',
    'log:', '  level: info', '  formatter: text',
    'storage:', '  filesystem:', `    rootdirectory: ${q(join(work, 'storage'))}`,
    'http:', `  addr: ${q(host)}`, `  secret: ${q('drydock-tls-test')}`,
    '  tls:', `    certificate: ${q(certPath)}`, `    key: ${q(keyPath)}`,
    'health:', '  storagedriver:', '    enabled: false',
  ].join('\n') + '\n');
  logFile = join(work, 'registry.log');
  const fd = openSync(logFile, 'w');
  try {
    server = startWatched('registry-tls-watchdog', ['docker-registry', 'serve', config], { stdio: ['pipe', fd, fd] });
  } finally {
    closeSync(fd);
  }
  // ready when curl (trusting the certificate) gets an answer from /v2/ over https
  for (let i = 0; ; i++) {
    try {
      await run('curl', ['-sf', '--cacert', certPath, `https://${host}/v2/`], { timeoutMs: 5000 });
      break;
    } catch (e) {
      if (i > 300) throw new Error(`the TLS registry did not start: ${String(e)}\n${await readFile(logFile, 'utf8')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const layout = join(work, 'layout');
  await buildImage(layout, {
    tag: 'v1',
    layers: [{ files: [
      { path: 'etc/os-release', content: OS_RELEASE_12 },
      { path: 'var/lib/dpkg/status', content: statusFile(stanza('alpha', '1.0'), stanza('beta', '2.0')) },
    ] }],
  });
  // skopeo with --dest-tls-verify=false tries https first, as Docker does for a loopback registry
  await pushToRegistry(layout, 'v1', { host }, 'team/app:v1');
}, 120_000);

afterAll(async () => {
  if (server && server.child.exitCode === null) {
    server.child.stdin!.end();
    const timer = setTimeout(server.killGroup, 3000);
    await server.exited;
    clearTimeout(timer);
  }
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a registry over HTTPS on 127.0.0.1 (the Distribution registry with TLS, self-signed certificate)', () => {
  it('is spoken to over https first and scanned when its certificate is trusted (NODE_EXTRA_CA_CERTS)', async () => {
    const out = await child(`${host}/team/app:v1`, { ...baseEnv(), NODE_EXTRA_CA_CERTS: certPath });
    expect(out.code, out.message).toBeUndefined();
    expect(out.origin).toBe(`https://${host}`);
    expect(out.packages).toEqual(['alpha@1.0', 'beta@2.0']);
    // never a plain-http request (the registry logs those as "http: TLS handshake error … client sent an HTTP request")
    expect(await readFile(logFile, 'utf8')).not.toMatch(/HTTP request to an HTTPS server|first record does not look like a TLS handshake/);
  }, 120_000);

  it('fails closed when the certificate is not trusted: names the problem and NODE_EXTRA_CA_CERTS, no fallback to http', async () => {
    const before = (await readFile(logFile, 'utf8')).length;
    const out = await child(`${host}/team/app:v1`, baseEnv());
    expect(out.code).toBe('NETWORK');
    expect(out.message).toMatch(/certificate of 127\.0\.0\.1:\d+ is not trusted/);
    expect(out.message).toContain('NODE_EXTRA_CA_CERTS');
    expect(out.message).not.toMatch(/attempt \d of/);
    const log = (await readFile(logFile, 'utf8')).slice(before);
    expect(log).not.toMatch(/HTTP request to an HTTPS server|first record does not look like a TLS handshake/);
  }, 120_000);
});
