/**
 * Credentials a user's machine already has (issue 17, item 2), in-process: Docker credential
 * helpers (`credsStore`, `credHelpers`) run as real executables — stub `docker-credential-*`
 * shell scripts in a temp dir put first on PATH, each logging the server URL it was asked
 * for — and the auth file of podman/skopeo (${XDG_RUNTIME_DIR}/containers/auth.json,
 * REGISTRY_AUTH_FILE). The helper timeout is driven with vitest's fake setTimeout (the helper
 * process is real; only the clock is faked), so nothing waits 15 s and nothing asserts wall time.
 * The same inputs through the built CLI against a real registry: test/cli/inputs.test.ts.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DrydockError } from '../../shared/errors.js';
import {
  containersAuthCredentials,
  containersAuthFiles,
  CREDENTIAL_HELPER_MAX_OUTPUT_BYTES,
  CREDENTIAL_HELPER_TIMEOUT_MS,
  dockerConfigCredentials,
  localCredentials,
} from '../../shared/image/auth.js';

let work: string;
let bin: string;
let env: Record<string, string | undefined>;

const HOST = '127.0.0.1:5999';
const basic = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString('base64');

/** A stub helper: logs "<name> <argv> <stdin>" to <work>/<name>.log, then runs `body`. */
async function helper(name: string, body: string): Promise<void> {
  const path = join(bin, `docker-credential-${name}`);
  const log = join(work, `${name}.log`);
  await writeFile(path, `#!/bin/sh\nurl=$(cat)\nprintf '%s %s\\n' "$1" "$url" >> '${log}'\n${body}\n`);
  await chmod(path, 0o755);
}

/** What a helper was asked: one "<verb> <server URL>" line per run; [] when it never ran. */
async function asked(name: string): Promise<string[]> {
  const text = await readFile(join(work, `${name}.log`), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean);
}

async function dockerConfig(dir: string, doc: unknown): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'config.json');
  await writeFile(path, JSON.stringify(doc));
  return path;
}

async function caught(p: Promise<unknown>): Promise<DrydockError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  if (!(e instanceof DrydockError)) throw new Error(`expected a DrydockError, got ${String(e)}`);
  return e;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-credentials-'));
  bin = join(work, 'bin');
  await mkdir(bin);
  env = { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` };
  await helper('stub', `printf '{"ServerURL":"%s","Username":"helper-user","Secret":"helper-secret"}' "$url"`);
  await helper('other', `printf '{"Username":"other-user","Secret":"other-secret"}'`);
  await helper('none', `echo 'credentials not found in native keychain'; exit 1`);
  await helper('broken', `echo 'error getting credentials - err: exit status 1, out: dbus not running' >&2; exit 1`);
  await helper('notjson', `echo 'hello'`);
  await helper('token', `printf '{"Username":"<token>","Secret":"identity-token"}'`);
  await helper('empty', `printf '{"Username":"","Secret":""}'`);
  await helper('big', `head -c ${CREDENTIAL_HELPER_MAX_OUTPUT_BYTES + 4096} /dev/zero | tr '\\0' 'x'`);
  // hangs in a grandchild that holds stdout open: killing the helper alone does not close the pipe
  await helper('hang', `sleep 600 & echo $! > '${join(work, 'hang.pid')}'\nwait`);
}, 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('Docker credential helpers (stub docker-credential-* executables on PATH)', () => {
  it('credsStore: the helper is run as `get` with the server URL on stdin, and its Username/Secret are used', async () => {
    const path = await dockerConfig(join(work, 'c1'), { credsStore: 'stub' });
    const provider = dockerConfigCredentials({ path, env });
    expect(await provider.get(HOST)).toEqual({ username: 'helper-user', password: 'helper-secret' });
    // asked once per registry, by host (scheme and path dropped); Docker Hub by its legacy index URL
    expect(await provider.get(`http://${HOST}/v2/`)).toEqual({ username: 'helper-user', password: 'helper-secret' });
    expect(await provider.get('registry-1.docker.io')).toEqual({ username: 'helper-user', password: 'helper-secret' });
    expect(await asked('stub')).toEqual([`get ${HOST}`, 'get https://index.docker.io/v1/']);
  });

  it('a credHelpers entry for the host wins over credsStore; other hosts still go to credsStore', async () => {
    await rm(join(work, 'stub.log'), { force: true });
    const path = await dockerConfig(join(work, 'c2'), { credsStore: 'stub', credHelpers: { [HOST]: 'other' } });
    const provider = dockerConfigCredentials({ path, env });
    expect(await provider.get(HOST)).toEqual({ username: 'other-user', password: 'other-secret' });
    expect(await asked('other')).toEqual([`get ${HOST}`]);
    expect(await asked('stub')).toEqual([]);
    expect(await provider.get('ghcr.io')).toEqual({ username: 'helper-user', password: 'helper-secret' });
    expect(await asked('stub')).toEqual(['get ghcr.io']);
  });

  it('"credentials not found" means anonymous, or the auths entry when there is one; an empty answer too', async () => {
    const path = await dockerConfig(join(work, 'c3'), { credsStore: 'none', auths: { 'other.example:5000': { auth: basic('file-user', 'file-pw') } } });
    const provider = dockerConfigCredentials({ path, env });
    expect(await provider.get(HOST)).toBeUndefined();
    expect(await provider.get('other.example:5000')).toEqual({ username: 'file-user', password: 'file-pw' });
    expect(await asked('none')).toEqual([`get ${HOST}`, 'get other.example:5000']);
    const empty = await dockerConfig(join(work, 'c3e'), { credsStore: 'empty' });
    expect(await dockerConfigCredentials({ path: empty, env }).get(HOST)).toBeUndefined();
  });

  it('any other failure is a CONFIG error naming the helper, the config file and what it said', async () => {
    const cases: Array<[string, RegExp]> = [
      ['broken', /docker-credential-broken .* failed for 127\.0\.0\.1:5999 \(exit 1\): error getting credentials .*dbus not running/],
      ['notjson', /docker-credential-notjson .* answered for 127\.0\.0\.1:5999 with something that is not JSON/],
      ['token', /docker-credential-token .* identity token, which is not supported/],
      ['missing', /docker-credential-missing .* is not installed: docker-credential-missing was not found in PATH/],
      ['../evil', /has a name that is not a program name/],
    ];
    for (const [name, message] of cases) {
      const path = await dockerConfig(join(work, `c4-${name.replace(/\W/g, '')}`), { credsStore: name });
      const e = await caught(dockerConfigCredentials({ path, env }).get(HOST));
      expect(e.code, name).toBe('CONFIG');
      expect(e.message, name).toMatch(message);
      expect(e.message, name).toContain(path);
    }
    // the identity token itself is never repeated
    const path = await dockerConfig(join(work, 'c4-token'), { credsStore: 'token' });
    expect((await caught(dockerConfigCredentials({ path, env }).get(HOST))).message).not.toContain('identity-token');
  });

  it(`a helper printing more than ${CREDENTIAL_HELPER_MAX_OUTPUT_BYTES} bytes is killed: CONFIG error naming the limit`, async () => {
    const path = await dockerConfig(join(work, 'c5'), { credsStore: 'big' });
    const e = await caught(dockerConfigCredentials({ path, env }).get(HOST));
    expect(e.code).toBe('CONFIG');
    expect(e.message).toContain(`printed more than ${CREDENTIAL_HELPER_MAX_OUTPUT_BYTES} bytes (limit credentialHelperOutput)`);
  });

  it(`a helper that never answers is killed at CREDENTIAL_HELPER_TIMEOUT_MS (fake clock, real helper process), even when a grandchild holds its output open`, async () => {
    const path = await dockerConfig(join(work, 'c6'), { credsStore: 'hang' });
    const pidFile = join(work, 'hang.pid');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const pending = caught(dockerConfigCredentials({ path, env }).get(HOST));
    try {
      // the helper is running once its grandchild's pid is written (real I/O; the clock is fake)
      for (let i = 0; !(await stat(pidFile).then((s) => s.size > 0, () => false)); i++) {
        if (i > 100_000) throw new Error('the hanging helper never started');
        await new Promise((r) => setImmediate(r));
      }
      // one millisecond short of the limit: still waiting
      await vi.advanceTimersByTimeAsync(CREDENTIAL_HELPER_TIMEOUT_MS - 1);
      let settled = false;
      pending.then(
        () => (settled = true),
        () => (settled = true),
      );
      for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      const e = await pending;
      expect(e.code).toBe('CONFIG');
      expect(e.message).toContain(`did not answer within ${CREDENTIAL_HELPER_TIMEOUT_MS} ms (limit credentialHelperTimeout)`);
    } finally {
      vi.useRealTimers();
      const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });
});

describe('the auth file of podman and skopeo', () => {
  it('${XDG_RUNTIME_DIR}/containers/auth.json is read; REGISTRY_AUTH_FILE wins over it; repository-scoped entries are not used', async () => {
    const runtime = join(work, 'xdg');
    await mkdir(join(runtime, 'containers'), { recursive: true });
    await writeFile(
      join(runtime, 'containers', 'auth.json'),
      JSON.stringify({ auths: { [HOST]: { auth: basic('xdg-user', 'xdg-pw') }, 'quay.example/team/app': { auth: basic('repo-user', 'repo-pw') } } }),
    );
    const xdg = containersAuthCredentials({ XDG_RUNTIME_DIR: runtime })!;
    expect(await xdg.get(HOST)).toEqual({ username: 'xdg-user', password: 'xdg-pw' });
    expect(await xdg.get('quay.example')).toBeUndefined();

    const file = join(work, 'registry-auth.json');
    await writeFile(file, JSON.stringify({ auths: { [`https://${HOST}`]: { auth: basic('file-user', 'file-pw') } } }));
    const named = containersAuthCredentials({ XDG_RUNTIME_DIR: runtime, REGISTRY_AUTH_FILE: file })!;
    expect(await named.get(HOST)).toEqual({ username: 'file-user', password: 'file-pw' });

    expect(containersAuthCredentials({})).toBeUndefined();
    expect(await containersAuthCredentials({ XDG_RUNTIME_DIR: join(work, 'no-runtime') })!.get(HOST)).toBeUndefined();
    await writeFile(join(work, 'broken-auth.json'), '{"auths":');
    const e = await caught(containersAuthCredentials({ REGISTRY_AUTH_FILE: join(work, 'broken-auth.json') })!.get(HOST));
    expect(e.code).toBe('CONFIG');
    expect(e.message).toContain('broken-auth.json');
  });

  it('then ${XDG_CONFIG_HOME:-$HOME/.config}/containers/auth.json, where a login kept across reboots lives; the runtime file wins for a registry both know', async () => {
    const runtime = join(work, 'xdg-rt');
    const config = join(work, 'xdg-config');
    const home = join(work, 'home-dir');
    for (const d of [join(runtime, 'containers'), join(config, 'containers'), join(home, '.config', 'containers')]) await mkdir(d, { recursive: true });
    await writeFile(join(runtime, 'containers', 'auth.json'), JSON.stringify({ auths: { [HOST]: { auth: basic('runtime-user', 'rt-pw') } } }));
    await writeFile(join(config, 'containers', 'auth.json'), JSON.stringify({ auths: { [HOST]: { auth: basic('config-user', 'c-pw') }, 'ghcr.io': { auth: basic('gh-config', 'g-pw') } } }));
    await writeFile(join(home, '.config', 'containers', 'auth.json'), JSON.stringify({ auths: { 'quay.io': { auth: basic('home-user', 'h-pw') } } }));
    const both = containersAuthCredentials({ XDG_RUNTIME_DIR: runtime, XDG_CONFIG_HOME: config, HOME: home })!;
    expect(await both.get(HOST)).toEqual({ username: 'runtime-user', password: 'rt-pw' });
    expect(await both.get('ghcr.io')).toEqual({ username: 'gh-config', password: 'g-pw' });
    // XDG_CONFIG_HOME set: $HOME/.config is not read
    expect(await both.get('quay.io')).toBeUndefined();
    const homeOnly = containersAuthCredentials({ HOME: home })!;
    expect(await homeOnly.get('quay.io')).toEqual({ username: 'home-user', password: 'h-pw' });
    expect(containersAuthFiles({ REGISTRY_AUTH_FILE: '/x.json', XDG_RUNTIME_DIR: runtime, HOME: home })).toEqual(['/x.json']);
  });

  it('localCredentials: the containers auth file first, then the Docker config and its helpers', async () => {
    const runtime = join(work, 'xdg2');
    await mkdir(join(runtime, 'containers'), { recursive: true });
    await writeFile(join(runtime, 'containers', 'auth.json'), JSON.stringify({ auths: { [HOST]: { auth: basic('xdg-user', 'xdg-pw') } } }));
    const docker = join(work, 'docker-local');
    await dockerConfig(docker, { auths: { [HOST]: { auth: basic('wrong-user', 'wrong-pw') }, 'ghcr.io': { auth: basic('gh-user', 'gh-pw') } } });
    const local = localCredentials({ ...env, XDG_RUNTIME_DIR: runtime, DOCKER_CONFIG: docker });
    expect(await local.get(HOST)).toEqual({ username: 'xdg-user', password: 'xdg-pw' });
    expect(await local.get('ghcr.io')).toEqual({ username: 'gh-user', password: 'gh-pw' });
    expect(await local.get('elsewhere.example')).toBeUndefined();
  });
});
