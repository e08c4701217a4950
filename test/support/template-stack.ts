/**
 * The deployed stack, run here from its CloudFormation template alone: "test what ships, wired
 * as it ships".
 *
 * `synthesizeAssembly()` synthesizes the CDK app (infra/app.ts) into a cloud assembly;
 * `startTemplateStack()` reads its template and, from it only:
 * - creates every AWS::DynamoDB::Table on DynamoDB Local (keys, GSIs/LSIs with projections, TTL),
 *   every AWS::SQS::Queue on local-aws-sqs (visibility timeout, retention, RedrivePolicy →
 *   its dead-letter queue), every AWS::S3::Bucket on s3rver, every AWS::SNS::Topic and its
 *   subscriptions (SQS: filter policy, raw delivery or SNS's envelope) on the fake SNS, every
 *   AWS::SecretsManager::Secret on the fake Secrets Manager (MOCK);
 * - starts every AWS::Lambda::Function FROM ITS BUNDLE (the asset directory of cdk.out copied to
 *   a fresh temporary directory, so no node_modules is above it) in a child process running
 *   test/support/lambda-runtime.mjs (MOCK of the Lambda runtime), with EXACTLY the template's
 *   Environment.Variables (Refs, GetAtts, Joins and Subs resolved to the local resources), what
 *   the Lambda runtime itself sets, and NETWORK_EMULATION — nothing else;
 * - drives each AWS::Lambda::EventSourceMapping as declared (BatchSize, batching window,
 *   ReportBatchItemFailures, the real SQS event shape) with `drain()`;
 * - routes events put on the fake EventBridge, and events a test injects (`putEvent`, e.g. an
 *   ECR push), through each AWS::Events::Rule's EventPattern from the template to its targets
 *   (SQS: the event, Input, InputPath or InputTransformer as the body; Lambda: an asynchronous
 *   invocation, retried twice and then sent to the function's dead-letter queue, as Lambda does);
 *   scheduled rules run on demand (`runSchedule`) with a real "Scheduled Event";
 * - serves ECR's API (MOCK: DescribeRepositories / DescribeImages / BatchGetImage) from the
 *   local Distribution registry.
 *
 * What cannot be the same here, said once: time does not pass by itself (batching windows close
 * when the queue is empty; a failed message's visibility timeout is ended by `retryInFlight`;
 * asynchronous retries happen at once), one instance per function (invocations of a function
 * are serialized), and IAM is not enforced.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  type Message,
  type MessageAttributeValue,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { expect, onTestFailed } from 'vitest';
import { startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local.js';
import { matchesFilterPolicy, matchesPattern } from './event-pattern.js';
import { startFakeEcr, type FakeEcr } from './fake-ecr.js';
import { startFakeEventBridge, type FakeEventBridge, type WireEntry } from './fake-eventbridge.js';
import { startFakeSecretsManager, type FakeSecretsManager } from './fake-secrets-manager.js';
import { startFakeSns, type FakeSns, type PublishedMessage } from './fake-sns.js';
import { S3_LOCAL_CREDENTIALS, startS3Local, type S3Local } from './s3-local.js';
import { startSqsLocal, type SqsLocal } from './sqs-local.js';

// ───────────────────────────── the cloud assembly ─────────────────────────────

export interface CfnResource {
  Type: string;
  Properties?: Record<string, any>;
  DependsOn?: string | string[];
}
export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown; Description?: string }>;
}

export interface Assembly {
  /** the cloud assembly directory (cdk.out) */
  dir: string;
  stackName: string;
  template: CfnTemplate;
  /** asset hash → its directory in the assembly */
  assets: Map<string, string>;
}

const assemblies = new Map<string, Promise<Assembly>>();

/**
 * Synthesizes the CDK app with this context (as `-c key=value` gives it) into a temporary cloud
 * assembly, once per context and process (~20 s: five esbuild bundles). `cleanupAssemblies()`
 * removes them.
 */
export function synthesizeAssembly(context: Record<string, string> = {}): Promise<Assembly> {
  const key = JSON.stringify(Object.entries(context).sort());
  let found = assemblies.get(key);
  if (!found) {
    found = (async () => {
      const outdir = await mkdtemp(join(tmpdir(), 'drydock-assembly-'));
      const { createApp, STACK_NAME } = await import('../../infra/app.js');
      const { app, stack } = createApp({ context, outdir });
      app.synth();
      return loadAssembly(outdir, stack.stackName ?? STACK_NAME);
    })();
    assemblies.set(key, found);
  }
  return found;
}

export async function cleanupAssemblies(): Promise<void> {
  const all = await Promise.allSettled([...assemblies.values()]);
  assemblies.clear();
  for (const a of all) if (a.status === 'fulfilled') await rm(a.value.dir, { recursive: true, force: true });
}

/** Reads a synthesized stack's template and its assets manifest. */
export async function loadAssembly(dir: string, stackName = 'Drydock'): Promise<Assembly> {
  const template = JSON.parse(await readFile(join(dir, `${stackName}.template.json`), 'utf8')) as CfnTemplate;
  const manifest = JSON.parse(await readFile(join(dir, `${stackName}.assets.json`), 'utf8')) as { files?: Record<string, { source: { path: string; packaging?: string } }> };
  const assets = new Map<string, string>();
  for (const [hash, f] of Object.entries(manifest.files ?? {})) if (f.source.packaging === 'zip') assets.set(hash, join(dir, f.source.path));
  return { dir, stackName, template, assets };
}

/** A deep copy of an assembly whose template a test may change (e.g. remove a variable). */
export function copyAssembly(a: Assembly, change: (t: CfnTemplate) => void): Assembly {
  const template = structuredClone(a.template);
  change(template);
  return { ...a, template };
}

// ───────────────────────────── the local "network" ─────────────────────────────

export interface LocalNetwork {
  dynamodb: string;
  s3: string;
  sqs: string;
  sns: string;
  eventBridge: string;
  secretsManager: string;
  ecr: string;
  /** host:port of the registry that stands in for ECR's registry endpoint, if any */
  registry?: string;
}

/**
 * What AWS's network gives a function, not configuration: in AWS the SDK reaches each service at
 * its regional endpoint and ECR's registry at <account>.dkr.ecr.<region>.amazonaws.com over TLS.
 * Here the same requests must reach the local servers, so the functions get these variables,
 * and NOTHING else beyond their template environment and the Lambda runtime's own variables.
 * (The checksum settings and path-style addressing are what s3rver needs to behave like S3; the
 * registry override and insecure-registry list are how the local registry answers for ECR's.)
 */
export const NETWORK_EMULATION: Readonly<Record<string, (n: LocalNetwork) => string | undefined>> = {
  AWS_ENDPOINT_URL_DYNAMODB: (n) => n.dynamodb,
  AWS_ENDPOINT_URL_S3: (n) => n.s3,
  AWS_ENDPOINT_URL_SQS: (n) => n.sqs,
  AWS_ENDPOINT_URL_SNS: (n) => n.sns,
  AWS_ENDPOINT_URL_EVENTBRIDGE: (n) => n.eventBridge,
  AWS_ENDPOINT_URL_SECRETS_MANAGER: (n) => n.secretsManager,
  AWS_ENDPOINT_URL_ECR: (n) => n.ecr,
  AWS_REQUEST_CHECKSUM_CALCULATION: () => 'WHEN_REQUIRED',
  AWS_RESPONSE_CHECKSUM_VALIDATION: () => 'WHEN_REQUIRED',
  DRYDOCK_S3_FORCE_PATH_STYLE: () => '1',
  DRYDOCK_REGISTRY_OVERRIDE: (n) => n.registry,
  DRYDOCK_INSECURE_REGISTRIES: (n) => n.registry,
};

export function networkEnvironment(n: LocalNetwork): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(NETWORK_EMULATION)) {
    const v = value(n);
    if (v !== undefined) env[name] = v;
  }
  return env;
}

/** The one fake identity: DynamoDB Local keeps tables per access key + region, s3rver knows only this key. */
export const LOCAL_IDENTITY = { region: 'us-east-1', account: '000000000000', credentials: { ...S3_LOCAL_CREDENTIALS, sessionToken: 'drydock-local-session' } };

// ───────────────────────────── functions ─────────────────────────────

/** How long Lambda gives a function's init phase (on-demand). */
export const INIT_TIMEOUT_MS = 10_000;
/** Log text kept per function (the last part). */
const LOG_LIMIT = 2 * 1024 * 1024;

export type InvokeOutcome =
  | { ok: true; result: unknown; ms: number; coldStart: boolean }
  | { ok: false; phase: 'init' | 'invoke' | 'timeout' | 'crash'; errorType: string; errorMessage: string; stack?: string; ms: number; coldStart: boolean };

export interface InvocationRecord {
  fn: string;
  trigger: string;
  outcome: InvokeOutcome;
  /** SQS batches: the record count and the failures reported */
  records?: number;
  failures?: string[];
}

export class LocalFunction {
  /** the environment the function's process gets (template + runtime + network) */
  readonly env: Record<string, string>;
  readonly timeoutMs: number;
  readonly memoryMb: number;
  private child?: ChildProcess;
  private ready?: Promise<{ ok: true } | { ok: false; errorType: string; errorMessage: string; stack?: string }>;
  private log = '';
  private chain: Promise<unknown> = Promise.resolve();
  private nextTimeoutMs?: number;
  private pending = new Map<string, (m: ChildMessage) => void>();
  private exitWaiters = new Set<(why: string) => void>();
  coldStarts = 0;

  constructor(
    /** the construct id ("Analyzer", "FeedSync"), from the logical id */
    readonly name: string,
    readonly logicalId: string,
    readonly functionName: string,
    readonly arn: string,
    readonly taskRoot: string,
    opts: { env: Record<string, string>; timeoutSeconds: number; memoryMb: number },
  ) {
    this.env = opts.env;
    this.timeoutMs = opts.timeoutSeconds * 1000;
    this.memoryMb = opts.memoryMb;
  }

  /** everything the function wrote to stdout and stderr (the last LOG_LIMIT characters) */
  logs(): string {
    return this.log;
  }

  /** the next invocation only gets this timeout (a deadline test); later ones the template's */
  shortenNextTimeout(ms: number): void {
    this.nextTimeoutMs = ms;
  }

  private append(text: string): void {
    this.log += text;
    if (this.log.length > LOG_LIMIT) this.log = this.log.slice(-LOG_LIMIT);
  }

  private start(): Promise<{ ok: true } | { ok: false; errorType: string; errorMessage: string; stack?: string }> {
    this.coldStarts++;
    this.append(`--- cold start ${this.coldStarts} ---\n`);
    const child = fork(join(this.taskRoot, RUNTIME_FILE), [], {
      cwd: this.taskRoot,
      env: this.env,
      // not the test runner's loaders: Lambda runs plain node with the memory limit it derives from MemorySize
      execArgv: [`--max-old-space-size=${Math.max(64, Math.floor(this.memoryMb * 0.9))}`],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    this.child = child;
    child.stdout!.on('data', (c: Buffer) => this.append(c.toString('utf8')));
    child.stderr!.on('data', (c: Buffer) => this.append(c.toString('utf8')));
    const ready = new Promise<{ ok: true } | { ok: false; errorType: string; errorMessage: string; stack?: string }>((resolve) => {
      const timer = setTimeout(() => {
        resolve({ ok: false, errorType: 'Runtime.InitTimeout', errorMessage: `init did not finish within ${INIT_TIMEOUT_MS} ms (INIT_TIMEOUT_MS)` });
        child.kill('SIGKILL');
      }, INIT_TIMEOUT_MS);
      child.on('message', (raw) => {
        const m = raw as unknown as ChildMessage;
        if (m.type === 'ready') {
          clearTimeout(timer);
          resolve({ ok: true });
        } else if (m.type === 'init-error') {
          clearTimeout(timer);
          resolve({ ok: false, errorType: m.errorType ?? 'Runtime.InitError', errorMessage: m.errorMessage ?? '', ...(m.stack ? { stack: m.stack } : {}) });
        } else if ('id' in m && m.id !== undefined) {
          this.pending.get(m.id)?.(m);
        }
      });
      child.on('error', (e) => this.append(`[harness] child error: ${e.message}\n`));
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        const why = `exit ${code ?? signal}`;
        this.append(`--- process ${why} ---\n`);
        if (this.child === child) {
          this.child = undefined;
          this.ready = undefined;
        }
        resolve({ ok: false, errorType: 'Runtime.ExitError', errorMessage: `Runtime exited during init: ${why}` });
        for (const w of this.exitWaiters) w(why);
      });
    });
    return ready;
  }

  /** Starts the process if none is up and reports how its init went (as provisioned concurrency would). */
  coldStart(): Promise<{ ok: true } | { ok: false; errorType: string; errorMessage: string; stack?: string }> {
    const run = this.chain.then(async () => {
      this.ready ??= this.start();
      const init = await this.ready;
      if (!init.ok) await this.kill();
      return init;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Invoke (RequestResponse): one at a time per function, a cold start when no process is up. */
  invoke(event: unknown, trigger = 'direct'): Promise<InvokeOutcome> {
    const run = this.chain.then(() => this.invokeNow(event, trigger));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async invokeNow(event: unknown, _trigger: string): Promise<InvokeOutcome> {
    const started = Date.now();
    const timeoutMs = this.nextTimeoutMs ?? this.timeoutMs;
    this.nextTimeoutMs = undefined;
    let coldStart = false;
    if (!this.ready) {
      coldStart = true;
      this.ready = this.start();
    }
    const init = await this.ready;
    if (!init.ok) {
      await this.kill();
      this.ready = undefined;
      return { ok: false, phase: 'init', errorType: init.errorType, errorMessage: init.errorMessage, ...(init.stack ? { stack: init.stack } : {}), ms: Date.now() - started, coldStart };
    }
    const child = this.child!;
    const id = randomUUID();
    const deadline = Date.now() + timeoutMs;
    return new Promise<InvokeOutcome>((resolve) => {
      const done = (o: InvokeOutcome) => {
        clearTimeout(timer);
        this.pending.delete(id);
        this.exitWaiters.delete(onExit);
        resolve(o);
      };
      const timedOut = () => {
        clearTimeout(timer);
        this.exitWaiters.delete(onExit);
        this.pending.delete(id);
        this.append(`[harness] Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds\n`);
        this.kill()
          .then(() => done({ ok: false, phase: 'timeout', errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`, ms: Date.now() - started, coldStart }))
          .catch((e: unknown) => done({ ok: false, phase: 'timeout', errorType: 'Sandbox.Timedout', errorMessage: `Task timed out; killing the runtime failed: ${String(e)}`, ms: Date.now() - started, coldStart }));
      };
      const timer = setTimeout(timedOut, timeoutMs);
      const onExit = (why: string) => done({ ok: false, phase: 'crash', errorType: 'Runtime.ExitError', errorMessage: `Runtime exited with error: ${why}`, ms: Date.now() - started, coldStart });
      this.exitWaiters.add(onExit);
      this.pending.set(id, (m) => {
        // an answer at or after the deadline is too late: Lambda has already ended the invocation
        if (Date.now() >= deadline) return timedOut();
        if (m.type === 'result') done({ ok: true, result: JSON.parse(m.payload ?? 'null'), ms: Date.now() - started, coldStart });
        else if (m.type === 'error') done({ ok: false, phase: 'invoke', errorType: m.errorType ?? 'Error', errorMessage: m.errorMessage ?? '', ...(m.stack ? { stack: m.stack } : {}), ms: Date.now() - started, coldStart });
      });
      child.send({ type: 'invoke', id, event, deadline, requestId: randomUUID(), functionArn: this.arn }, (err) => {
        if (err) done({ ok: false, phase: 'crash', errorType: 'Runtime.ExitError', errorMessage: `could not reach the runtime: ${err.message}`, ms: Date.now() - started, coldStart });
      });
    });
  }

  /** Ends the process (the next invocation is a cold start). */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    this.ready = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}

interface ChildMessage {
  type: 'ready' | 'init-error' | 'result' | 'error';
  id?: string;
  payload?: string;
  errorType?: string;
  errorMessage?: string;
  stack?: string;
}

const RUNTIME_FILE = '__drydock_lambda_runtime.mjs';
const RUNTIME_SOURCE = fileURLToPath(new URL('./lambda-runtime.mjs', import.meta.url));

// ───────────────────────────── the stack ─────────────────────────────

export interface TemplateStackOptions {
  assembly: Assembly;
  /** the registry standing in for ECR's registry endpoint (host:port and base URL) */
  registry?: { host: string; url: string };
  /** the fake ECR API's image list comes from the registry unless given later (ecr.setImages) */
  region?: string;
  account?: string;
  /**
   * Network emulation for the internet a function reaches (not configuration): an https URL a
   * template variable names (an OSV mirror) → the local server answering for it. A variable
   * whose value starts with such a URL gets the local one instead; nothing else changes.
   */
  externalUrls?: Record<string, string>;
}

interface QueueInfo {
  logicalId: string;
  name: string;
  url: string;
  arn: string;
}

interface Mapping {
  logicalId: string;
  queue: QueueInfo;
  fn: LocalFunction;
  batchSize: number;
  windowSeconds: number;
  reportFailures: boolean;
  enabled: boolean;
}

interface AsyncInvocation {
  fn: LocalFunction;
  payload: unknown;
  trigger: string;
  attempt: number;
}

export interface TemplateStack {
  assembly: Assembly;
  template: CfnTemplate;
  dynamo: DynamoDbLocal;
  s3: S3Local;
  sqs: SqsLocal;
  sns: FakeSns;
  eventBridge: FakeEventBridge;
  secrets: FakeSecretsManager;
  ecr: FakeEcr;
  network: LocalNetwork;
  region: string;
  account: string;
  /** a document client on DynamoDB Local with the stack's identity */
  docs: DynamoDBDocumentClient;
  /** an S3 client on s3rver */
  s3Client: S3Client;
  /** the functions, by construct id ("Analyzer") */
  functions: Map<string, LocalFunction>;
  fn(name: string): LocalFunction;
  /** a resource's local physical id (what Ref gives), by logical id or construct id */
  ref(name: string): string;
  /** a queue's URL / ARN by logical id or construct id ("ScanQueue") */
  queue(name: string): QueueInfo;
  /** the stack's Outputs, resolved */
  outputs: Record<string, string>;
  /** what an operator's CLI gets from the outputs (DRYDOCK_* named by the output's description) plus network and identity */
  cliEnvironment(): Record<string, string>;
  invocations: InvocationRecord[];
  /** route an event (as EventBridge delivers it) through the template's rules */
  putEvent(event: Record<string, unknown>): Promise<number>;
  /** run a scheduled rule now, by construct or logical id ("FeedSyncSchedule") */
  runSchedule(rule: string): Promise<void>;
  /**
   * What the stack's creation runs: each Custom::Trigger (aws-cdk-lib/triggers) invokes its
   * handler once — InvocationType Event: queued as an asynchronous invocation (run by drain);
   * RequestResponse: invoked now. (The CDK's provider function, which calls Lambda's Invoke API in
   * AWS, is not used for that: the harness invokes the handler itself.)
   */
  runDeployTriggers(): Promise<InvocationRecord[]>;
  /** poll every event source mapping and run pending asynchronous invocations until all is idle */
  drain(opts?: { maxRounds?: number; timeoutMs?: number }): Promise<InvocationRecord[]>;
  /** the messages a failed batch left in flight become visible now (their visibility timeout "passed") */
  retryInFlight(queue?: string): Promise<number>;
  /** every function's logs, for a failing test's message */
  logs(): string;
  stop(): Promise<void>;
}

/** Construct id from a logical id: "ScanQueueEE21BF32" → "ScanQueue". */
export function constructName(logicalId: string): string {
  return logicalId.replace(/[0-9A-F]{8}$/, '');
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export async function startTemplateStack(opts: TemplateStackOptions): Promise<TemplateStack> {
  const { assembly } = opts;
  const template = assembly.template;
  const region = opts.region ?? LOCAL_IDENTITY.region;
  const account = opts.account ?? LOCAL_IDENTITY.account;
  const stackName = assembly.stackName;
  const resources = Object.entries(template.Resources);
  const ofType = (t: string) => resources.filter(([, r]) => r.Type === t);
  const cleanups: Array<() => Promise<void>> = [];
  const work = await mkdtemp(join(tmpdir(), 'drydock-stack-'));
  cleanups.push(() => rm(work, { recursive: true, force: true }));

  try {
    const [dynamo, s3, sqs, sns, eventBridge, secrets] = await Promise.all([
      startDynamoDbLocal(),
      startS3Local({ bucket: 'drydock-harness' }),
      startSqsLocal(),
      startFakeSns(),
      startFakeEventBridge(),
      startFakeSecretsManager(),
    ]);
    cleanups.push(dynamo.stop, s3.stop, sqs.stop, sns.stop, eventBridge.stop, secrets.stop);
    const ecr = await startFakeEcr({ ...(opts.registry ? { registryUrl: opts.registry.url } : {}), registryId: account, region });
    cleanups.push(ecr.stop);
    const network: LocalNetwork = {
      dynamodb: dynamo.endpoint,
      s3: s3.endpoint,
      sqs: sqs.endpoint,
      sns: sns.endpoint,
      eventBridge: eventBridge.endpoint,
      secretsManager: secrets.endpoint,
      ecr: ecr.endpoint,
      ...(opts.registry ? { registry: opts.registry.host } : {}),
    };
    const clientConfig = { region, credentials: LOCAL_IDENTITY.credentials };
    const ddb = new DynamoDBClient({ ...clientConfig, endpoint: dynamo.endpoint });
    const docs = DynamoDBDocumentClient.from(ddb, { marshallOptions: { removeUndefinedValues: true } });
    const s3Client = new S3Client({ ...s3.clientConfig, credentials: LOCAL_IDENTITY.credentials, region });
    cleanups.push(async () => {
      ddb.destroy();
      s3Client.destroy();
    });

    // ── physical ids (what Ref and GetAtt give) ──
    const physical = new Map<string, string>();
    const attrs = new Map<string, Record<string, string>>();
    const queues = new Map<string, QueueInfo>();
    const arn = (service: string, resource: string) => `arn:aws:${service}:${region}:${account}:${resource}`;
    const nameOf = (id: string) => `${stackName}-${id}`;

    // pseudo parameters and intrinsic functions
    const pseudo: Record<string, string> = {
      'AWS::Region': region,
      'AWS::AccountId': account,
      'AWS::Partition': 'aws',
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': stackName,
      'AWS::StackId': arn('cloudformation', `stack/${stackName}/${randomUUID()}`),
    };
    const refOf = (id: string): string => {
      if (pseudo[id] !== undefined) return pseudo[id]!;
      const p = physical.get(id);
      if (p === undefined) throw new Error(`template-stack: Ref ${id} cannot be resolved (no such resource here, or of a type the harness does not create)`);
      return p;
    };
    const getAtt = (id: string, attr: string): string => {
      const v = attrs.get(id)?.[attr];
      if (v === undefined) throw new Error(`template-stack: Fn::GetAtt ${id}.${attr} cannot be resolved`);
      return v;
    };
    const resolve = (v: unknown): any => {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null) return v;
      if (Array.isArray(v)) return v.map(resolve);
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length === 1) {
        const [k] = keys as [string];
        const a = o[k];
        switch (k) {
          case 'Ref':
            return refOf(a as string);
          case 'Fn::GetAtt': {
            const [id, attr] = Array.isArray(a) ? (a as string[]) : String(a).split(/\.(.*)/s);
            return getAtt(id!, resolve(attr) as string);
          }
          case 'Fn::Join': {
            const [d, items] = a as [string, unknown[]];
            return (resolve(items) as unknown[]).join(d);
          }
          case 'Fn::Select': {
            const [i, list] = a as [unknown, unknown];
            return (resolve(list) as unknown[])[Number(resolve(i))];
          }
          case 'Fn::Split': {
            const [d, s] = a as [string, unknown];
            return String(resolve(s)).split(d);
          }
          case 'Fn::Sub': {
            const [text, vars] = Array.isArray(a) ? (a as [string, Record<string, unknown>]) : [a as string, {}];
            return text.replace(/\$\{([^}!][^}]*)\}/g, (_m, name: string) => {
              if (vars[name] !== undefined) return String(resolve(vars[name]));
              if (name.includes('.') && !name.startsWith('AWS::')) {
                const [id, attr] = name.split(/\.(.*)/s) as [string, string];
                return getAtt(id, attr);
              }
              return refOf(name);
            }).replace(/\$\{!/g, '${');
          }
        }
        if (k.startsWith('Fn::')) throw new Error(`template-stack: ${k} is not supported by the harness`);
      }
      return Object.fromEntries(Object.entries(o).map(([kk, vv]) => [kk, resolve(vv)]));
    };

    // ── DynamoDB ──
    for (const [id, r] of ofType('AWS::DynamoDB::Table')) {
      const p = r.Properties ?? {};
      const TableName = (p.TableName as string | undefined) ?? nameOf(id);
      const input: CreateTableCommandInput = {
        TableName,
        AttributeDefinitions: p.AttributeDefinitions,
        KeySchema: p.KeySchema,
        BillingMode: p.BillingMode ?? 'PROVISIONED',
        ...(p.ProvisionedThroughput ? { ProvisionedThroughput: p.ProvisionedThroughput } : p.BillingMode === 'PAY_PER_REQUEST' ? {} : { ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 } }),
        ...(p.GlobalSecondaryIndexes ? { GlobalSecondaryIndexes: p.GlobalSecondaryIndexes } : {}),
        ...(p.LocalSecondaryIndexes ? { LocalSecondaryIndexes: p.LocalSecondaryIndexes } : {}),
      };
      await ddb.send(new CreateTableCommand(input));
      if (p.TimeToLiveSpecification?.Enabled) {
        await ddb.send(new UpdateTimeToLiveCommand({ TableName, TimeToLiveSpecification: { AttributeName: p.TimeToLiveSpecification.AttributeName, Enabled: true } }));
      }
      physical.set(id, TableName);
      attrs.set(id, { Arn: arn('dynamodb', `table/${TableName}`) });
    }

    // ── S3 ──
    for (const [id, r] of ofType('AWS::S3::Bucket')) {
      const name = ((r.Properties?.BucketName as string | undefined) ?? nameOf(id)).toLowerCase().slice(0, 63);
      await s3Client.send(new CreateBucketCommand({ Bucket: name }));
      physical.set(id, name);
      attrs.set(id, { Arn: `arn:aws:s3:::${name}`, DomainName: `${name}.s3.amazonaws.com`, RegionalDomainName: `${name}.s3.${region}.amazonaws.com` });
    }

    // ── SQS: every queue first, then the redrive policies (a DLQ must exist before it is named) ──
    for (const [id, r] of ofType('AWS::SQS::Queue')) {
      const p = r.Properties ?? {};
      const fifo = p.FifoQueue === true || p.FifoQueue === 'true';
      const name = (p.QueueName as string | undefined) ?? `${nameOf(id)}${fifo ? '.fifo' : ''}`;
      const a: Record<string, string> = {};
      for (const k of ['VisibilityTimeout', 'MessageRetentionPeriod', 'DelaySeconds', 'MaximumMessageSize', 'ReceiveMessageWaitTimeSeconds', 'ContentBasedDeduplication']) if (p[k] !== undefined) a[k] = String(p[k]);
      if (fifo) a.FifoQueue = 'true';
      const q = await sqs.createQueue(name, a);
      const info = { logicalId: id, name, url: q.url, arn: q.arn };
      queues.set(id, info);
      physical.set(id, q.url);
      attrs.set(id, { Arn: q.arn, QueueName: name, QueueUrl: q.url });
    }
    for (const [id, r] of ofType('AWS::SQS::Queue')) {
      const rp = r.Properties?.RedrivePolicy;
      if (!rp) continue;
      const policy = resolve(rp) as { deadLetterTargetArn: string; maxReceiveCount: number };
      await sqs.admin.send(new SetQueueAttributesCommand({ QueueUrl: queues.get(id)!.url, Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: policy.deadLetterTargetArn, maxReceiveCount: Number(policy.maxReceiveCount) }) } }));
    }
    const queueByArn = (a: string) => [...queues.values()].find((q) => q.arn === a);

    // ── the rest of what Ref / GetAtt may name ──
    for (const [id, r] of ofType('AWS::SNS::Topic')) {
      const name = (r.Properties?.TopicName as string | undefined) ?? nameOf(id);
      physical.set(id, arn('sns', name));
      attrs.set(id, { TopicArn: arn('sns', name), TopicName: name });
    }
    for (const [id, r] of ofType('AWS::SecretsManager::Secret')) {
      const name = (r.Properties?.Name as string | undefined) ?? `${id}-${randomUUID().slice(0, 12)}`;
      const secretArn = arn('secretsmanager', `secret:${name}-${randomUUID().slice(0, 6)}`);
      const p = r.Properties ?? {};
      secrets.put(secretArn, name, typeof p.SecretString === 'string' ? p.SecretString : p.GenerateSecretString ? randomUUID().replace(/-/g, '') : undefined);
      physical.set(id, secretArn);
      attrs.set(id, { Id: secretArn });
    }
    for (const [id] of ofType('AWS::KMS::Key')) {
      const keyId = randomUUID();
      physical.set(id, keyId);
      attrs.set(id, { Arn: arn('kms', `key/${keyId}`), KeyId: keyId });
    }
    for (const [id] of ofType('AWS::Logs::LogGroup')) {
      const name = `/aws/lambda/${nameOf(id)}`;
      physical.set(id, name);
      attrs.set(id, { Arn: arn('logs', `log-group:${name}:*`) });
    }
    for (const [id] of ofType('AWS::IAM::Role')) {
      physical.set(id, nameOf(id));
      attrs.set(id, { Arn: `arn:aws:iam::${account}:role/${nameOf(id)}`, RoleId: id });
    }
    for (const [id] of ofType('AWS::Events::Rule')) {
      physical.set(id, nameOf(id));
      attrs.set(id, { Arn: arn('events', `rule/${nameOf(id)}`) });
    }
    for (const [id, r] of ofType('AWS::Lambda::Function')) {
      const name = (r.Properties?.FunctionName as string | undefined) ?? nameOf(id);
      physical.set(id, name);
      attrs.set(id, { Arn: arn('lambda', `function:${name}`) });
    }
    for (const [id, r] of ofType('AWS::Lambda::Version')) {
      const fnArn = arn('lambda', `function:${String(resolve(r.Properties?.FunctionName))}`);
      physical.set(id, `${fnArn}:1`);
      attrs.set(id, { Version: '1', FunctionArn: fnArn });
    }

    // ── functions, each from its bundle ──
    const functions = new Map<string, LocalFunction>();
    const byArnOrName = new Map<string, LocalFunction>();
    const runtimeSource = await readFile(RUNTIME_SOURCE);
    for (const [id, r] of ofType('AWS::Lambda::Function')) {
      const p = r.Properties ?? {};
      const hash = String(p.Code?.S3Key ?? '').replace(/\.zip$/, '');
      const assetDir = assembly.assets.get(hash);
      if (!assetDir) throw new Error(`template-stack: function ${id}: no asset directory for code ${JSON.stringify(p.Code)}`);
      const taskRoot = await mkdtemp(join(work, `${constructName(id)}-`));
      await cp(assetDir, taskRoot, { recursive: true });
      await writeFile(join(taskRoot, RUNTIME_FILE), runtimeSource);
      const functionName = physical.get(id)!;
      const memoryMb = Number(p.MemorySize ?? 128);
      const timeoutSeconds = Number(p.Timeout ?? 3);
      const templateEnv = resolve(p.Environment?.Variables ?? {}) as Record<string, unknown>;
      const logGroup = p.LoggingConfig?.LogGroup !== undefined ? String(resolve(p.LoggingConfig.LogGroup)) : `/aws/lambda/${functionName}`;
      const env: Record<string, string> = {
        // what the Lambda runtime itself sets
        PATH: '/usr/local/bin:/usr/bin/:/bin:/opt/bin',
        LANG: 'en_US.UTF-8',
        TZ: ':UTC',
        _HANDLER: String(p.Handler ?? 'index.handler'),
        AWS_EXECUTION_ENV: `AWS_Lambda_${String(p.Runtime ?? 'nodejs22.x')}`,
        AWS_REGION: region,
        AWS_DEFAULT_REGION: region,
        AWS_ACCESS_KEY_ID: LOCAL_IDENTITY.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_IDENTITY.credentials.secretAccessKey,
        AWS_SESSION_TOKEN: LOCAL_IDENTITY.credentials.sessionToken,
        AWS_LAMBDA_FUNCTION_NAME: functionName,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
        AWS_LAMBDA_LOG_GROUP_NAME: logGroup,
        AWS_LAMBDA_LOG_STREAM_NAME: `${new Date().toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]${randomUUID().replace(/-/g, '')}`,
        LAMBDA_TASK_ROOT: taskRoot,
        LAMBDA_RUNTIME_DIR: taskRoot,
        // the local network
        ...networkEnvironment(network),
      };
      // the template's variables (NODE_OPTIONS included) — Lambda refuses reserved names there, so they cannot collide
      for (const [k, v] of Object.entries(templateEnv)) {
        let value = String(v);
        for (const [external, local] of Object.entries(opts.externalUrls ?? {})) if (value.startsWith(external)) value = local + value.slice(external.length);
        env[k] = value;
      }
      const f = new LocalFunction(constructName(id).replace(/Function$/, ''), id, functionName, getAtt(id, 'Arn'), taskRoot, { env, timeoutSeconds, memoryMb });
      functions.set(f.name, f);
      byArnOrName.set(functionName, f);
      byArnOrName.set(f.arn, f);
    }
    cleanups.push(async () => {
      await Promise.all([...functions.values()].map((f) => f.kill()));
    });
    const functionByRef = (v: unknown): LocalFunction => {
      const key = String(resolve(v));
      const f = byArnOrName.get(key) ?? byArnOrName.get(key.replace(/:(\$LATEST|\d+)$/, '')) ?? byArnOrName.get(arn('lambda', `function:${key}`));
      if (!f) throw new Error(`template-stack: no function ${key}`);
      return f;
    };

    const invocations: InvocationRecord[] = [];
    const asyncQueue: AsyncInvocation[] = [];

    // ── asynchronous invocation (EventBridge and SNS targets): 2 retries, then the function's DLQ ──
    const maxRetries = (f: LocalFunction): number => {
      for (const [, r] of ofType('AWS::Lambda::EventInvokeConfig')) {
        if (functionByRef(r.Properties?.FunctionName) === f && r.Properties?.MaximumRetryAttempts !== undefined) return Number(r.Properties.MaximumRetryAttempts);
      }
      return 2;
    };
    const functionDlq = (f: LocalFunction): QueueInfo | undefined => {
      const target = template.Resources[f.logicalId]?.Properties?.DeadLetterConfig?.TargetArn;
      return target === undefined ? undefined : queueByArn(String(resolve(target)));
    };
    async function runAsync(inv: AsyncInvocation): Promise<void> {
      const outcome = await inv.fn.invoke(inv.payload, inv.trigger);
      invocations.push({ fn: inv.fn.name, trigger: `${inv.trigger} (async attempt ${inv.attempt})`, outcome });
      if (outcome.ok) return;
      if (inv.attempt <= maxRetries(inv.fn)) {
        asyncQueue.push({ ...inv, attempt: inv.attempt + 1 });
        return;
      }
      const dlq = functionDlq(inv.fn);
      if (dlq) {
        await sqs.admin.send(
          new SendMessageCommand({
            QueueUrl: dlq.url,
            MessageBody: JSON.stringify(inv.payload),
            MessageAttributes: {
              RequestID: { DataType: 'String', StringValue: randomUUID() },
              ErrorCode: { DataType: 'Number', StringValue: '200' },
              ErrorMessage: { DataType: 'String', StringValue: `${outcome.errorType}: ${outcome.errorMessage}`.slice(0, 1000) },
            },
          }),
        );
      }
    }

    // ── SNS: the template's subscriptions ──
    interface Subscription {
      topicArn: string;
      protocol: string;
      endpoint: string;
      raw: boolean;
      filter?: unknown;
      scope: string;
      arn: string;
    }
    const subscriptions: Subscription[] = [];
    for (const [id, r] of ofType('AWS::SNS::Subscription')) {
      const p = r.Properties ?? {};
      subscriptions.push({
        topicArn: String(resolve(p.TopicArn)),
        protocol: String(p.Protocol),
        endpoint: String(resolve(p.Endpoint)),
        raw: p.RawMessageDelivery === true || p.RawMessageDelivery === 'true',
        ...(p.FilterPolicy !== undefined ? { filter: typeof p.FilterPolicy === 'string' ? JSON.parse(p.FilterPolicy) : resolve(p.FilterPolicy) } : {}),
        scope: String(p.FilterPolicyScope ?? 'MessageAttributes'),
        arn: `${String(resolve(p.TopicArn))}:${id}`,
      });
    }
    for (const [id, r] of ofType('AWS::SNS::Topic')) {
      for (const s of asArray(r.Properties?.Subscription as Array<{ Protocol: string; Endpoint: unknown }>)) {
        subscriptions.push({ topicArn: physical.get(id)!, protocol: s.Protocol, endpoint: String(resolve(s.Endpoint)), raw: false, scope: 'MessageAttributes', arn: `${physical.get(id)}:${randomUUID()}` });
      }
    }
    const topicArns = new Set(ofType('AWS::SNS::Topic').map(([id]) => physical.get(id)!));
    sns.onPublish(async (m: PublishedMessage) => {
      if (!topicArns.has(m.topicArn)) throw new Error(`NotFound: topic ${m.topicArn} is not in the template`);
      for (const s of subscriptions.filter((x) => x.topicArn === m.topicArn)) {
        if (s.filter !== undefined) {
          const pass = s.scope === 'MessageBody' ? matchesPattern(s.filter, safeJson(m.message)) : matchesFilterPolicy(s.filter, m.typedAttributes);
          if (!pass) continue;
        }
        const envelope = {
          Type: 'Notification',
          MessageId: m.messageId,
          TopicArn: m.topicArn,
          ...(m.subject !== undefined ? { Subject: m.subject } : {}),
          Message: m.message,
          Timestamp: m.timestamp,
          SignatureVersion: '1',
          Signature: 'bG9jYWw=',
          SigningCertURL: `https://sns.${region}.amazonaws.com/SimpleNotificationService-local.pem`,
          UnsubscribeURL: `https://sns.${region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${s.arn}`,
          ...(Object.keys(m.typedAttributes).length ? { MessageAttributes: Object.fromEntries(Object.entries(m.typedAttributes).map(([k, a]) => [k, { Type: a.type, Value: a.value }])) } : {}),
        };
        if (s.protocol === 'sqs') {
          const q = queueByArn(s.endpoint);
          if (!q) throw new Error(`subscription ${s.arn}: no queue ${s.endpoint}`);
          const attributes: Record<string, MessageAttributeValue> = {};
          if (s.raw) for (const [k, a] of Object.entries(m.typedAttributes)) attributes[k] = { DataType: a.type === 'String.Array' ? 'String' : a.type, StringValue: a.value };
          await sqs.admin.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: s.raw ? m.message : JSON.stringify(envelope), ...(Object.keys(attributes).length ? { MessageAttributes: attributes } : {}) }));
        } else if (s.protocol === 'lambda') {
          const f = functionByRef(s.endpoint);
          const { SignatureVersion, Signature, SigningCertURL, UnsubscribeURL, ...rest } = envelope;
          asyncQueue.push({ fn: f, trigger: `sns:${s.topicArn}`, attempt: 1, payload: { Records: [{ EventSource: 'aws:sns', EventVersion: '1.0', EventSubscriptionArn: s.arn, Sns: { ...rest, Subject: m.subject ?? null, SignatureVersion, Signature, SigningCertUrl: SigningCertURL, UnsubscribeUrl: UnsubscribeURL, MessageAttributes: envelope.MessageAttributes ?? {} } }] } });
        }
        // other protocols (email, https) leave the stack: nothing to deliver here
      }
    });

    // ── EventBridge rules ──
    interface Rule {
      logicalId: string;
      name: string;
      arn: string;
      bus: string;
      pattern?: unknown;
      schedule?: string;
      enabled: boolean;
      targets: Array<Record<string, any>>;
    }
    const rules: Rule[] = ofType('AWS::Events::Rule').map(([id, r]) => {
      const p = r.Properties ?? {};
      return {
        logicalId: id,
        name: physical.get(id)!,
        arn: getAtt(id, 'Arn'),
        bus: p.EventBusName === undefined ? 'default' : String(resolve(p.EventBusName)),
        ...(p.EventPattern !== undefined ? { pattern: typeof p.EventPattern === 'string' ? JSON.parse(p.EventPattern) : p.EventPattern } : {}),
        ...(p.ScheduleExpression !== undefined ? { schedule: String(p.ScheduleExpression) } : {}),
        enabled: (p.State ?? 'ENABLED') === 'ENABLED',
        targets: asArray(p.Targets as Array<Record<string, any>>),
      };
    });

    async function deliverToTarget(rule: Rule, target: Record<string, any>, event: Record<string, unknown>): Promise<void> {
      const targetArn = String(resolve(target.Arn));
      let body: string;
      if (target.Input !== undefined) body = String(resolve(target.Input));
      else if (target.InputPath !== undefined) body = JSON.stringify(jsonPath(event, String(target.InputPath)) ?? null);
      else if (target.InputTransformer !== undefined) body = transformInput(resolve(target.InputTransformer) as InputTransformer, event, rule);
      else body = JSON.stringify(event);
      const q = queueByArn(targetArn);
      if (q) {
        await sqs.admin.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: body, ...(target.SqsParameters?.MessageGroupId ? { MessageGroupId: String(target.SqsParameters.MessageGroupId) } : {}) }));
        return;
      }
      if (targetArn.startsWith('arn:aws:lambda:')) {
        let payload: unknown;
        try {
          payload = JSON.parse(body);
        } catch {
          payload = body;
        }
        asyncQueue.push({ fn: functionByRef(targetArn), payload, trigger: `rule:${constructName(rule.logicalId)}`, attempt: 1 });
        return;
      }
      throw new Error(`template-stack: rule ${rule.logicalId}: target ${targetArn} is of a kind the harness does not deliver to`);
    }

    async function putEvent(event: Record<string, unknown>, bus = 'default'): Promise<number> {
      let matched = 0;
      for (const rule of rules) {
        if (!rule.enabled || rule.pattern === undefined || rule.bus !== bus) continue;
        if (!matchesPattern(rule.pattern, event)) continue;
        matched++;
        for (const t of rule.targets) await deliverToTarget(rule, t, event);
      }
      return matched;
    }

    eventBridge.onAccepted(async (e: WireEntry, id: string) => {
      const event = {
        version: '0',
        id,
        'detail-type': e.DetailType,
        source: e.Source,
        account,
        time: isoSeconds(e.Time !== undefined ? new Date(e.Time * 1000) : new Date()),
        region,
        resources: e.Resources ?? [],
        detail: JSON.parse(e.Detail ?? '{}'),
      };
      const bus = e.EventBusName && !e.EventBusName.startsWith('arn:') ? e.EventBusName : e.EventBusName?.split('/').pop() ?? 'default';
      await putEvent(event, bus);
    });

    // ── event source mappings ──
    const mappings: Mapping[] = [];
    for (const [id, r] of ofType('AWS::Lambda::EventSourceMapping')) {
      const p = r.Properties ?? {};
      const source = String(resolve(p.EventSourceArn));
      const queue = queueByArn(source);
      if (!queue) throw new Error(`template-stack: event source mapping ${id}: ${source} is not a queue of the template (only SQS sources are driven here)`);
      mappings.push({
        logicalId: id,
        queue,
        fn: functionByRef(p.FunctionName),
        batchSize: Number(p.BatchSize ?? 10),
        windowSeconds: Number(p.MaximumBatchingWindowInSeconds ?? 0),
        reportFailures: asArray(p.FunctionResponseTypes as string[]).includes('ReportBatchItemFailures'),
        enabled: p.Enabled === undefined || p.Enabled === true || p.Enabled === 'true',
      });
    }
    const inFlight = new Map<string, Set<string>>();

    async function pollOnce(m: Mapping): Promise<InvocationRecord | undefined> {
      const batch: Message[] = [];
      // the batching window: keep receiving until the batch is full or the queue has nothing visible
      while (batch.length < m.batchSize) {
        const got = await sqs.admin.send(
          new ReceiveMessageCommand({ QueueUrl: m.queue.url, MaxNumberOfMessages: Math.min(10, m.batchSize - batch.length), WaitTimeSeconds: 0, AttributeNames: ['All'], MessageAttributeNames: ['All'] }),
        );
        if (!got.Messages?.length) break;
        batch.push(...got.Messages);
        if (m.windowSeconds === 0) break;
      }
      if (batch.length === 0) return undefined;
      const event = {
        Records: batch.map((msg) => ({
          messageId: msg.MessageId!,
          receiptHandle: msg.ReceiptHandle!,
          body: msg.Body ?? '',
          attributes: {
            ApproximateReceiveCount: msg.Attributes?.ApproximateReceiveCount ?? '1',
            SentTimestamp: msg.Attributes?.SentTimestamp ?? String(Date.now()),
            SenderId: msg.Attributes?.SenderId ?? 'AIDALOCALSENDER',
            ApproximateFirstReceiveTimestamp: msg.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
          },
          messageAttributes: Object.fromEntries(
            Object.entries(msg.MessageAttributes ?? {}).map(([k, a]) => [k, { stringValue: a.StringValue, stringListValues: [], binaryListValues: [], dataType: a.DataType }]),
          ),
          md5OfBody: msg.MD5OfBody ?? '',
          eventSource: 'aws:sqs',
          eventSourceARN: m.queue.arn,
          awsRegion: region,
        })),
      };
      const outcome = await m.fn.invoke(event, `sqs:${constructName(m.queue.logicalId)}`);
      let failed: Set<string>;
      if (!outcome.ok) failed = new Set(batch.map((b) => b.MessageId!));
      else if (!m.reportFailures) failed = new Set();
      else {
        const ids = new Set(batch.map((b) => b.MessageId!));
        const reported = (outcome.result as { batchItemFailures?: Array<{ itemIdentifier?: unknown }> } | null)?.batchItemFailures ?? [];
        // an item failure that names no record of the batch fails the whole batch (as Lambda treats an invalid response)
        failed = reported.some((f) => typeof f.itemIdentifier !== 'string' || !ids.has(f.itemIdentifier)) ? ids : new Set(reported.map((f) => f.itemIdentifier as string));
      }
      const done = batch.filter((b) => !failed.has(b.MessageId!));
      for (let i = 0; i < done.length; i += 10) {
        await sqs.admin.send(new DeleteMessageBatchCommand({ QueueUrl: m.queue.url, Entries: done.slice(i, i + 10).map((b, j) => ({ Id: String(j), ReceiptHandle: b.ReceiptHandle! })) }));
      }
      const handles = inFlight.get(m.queue.logicalId) ?? new Set<string>();
      for (const b of batch) if (failed.has(b.MessageId!)) handles.add(b.ReceiptHandle!);
      inFlight.set(m.queue.logicalId, handles);
      const rec: InvocationRecord = { fn: m.fn.name, trigger: `sqs:${constructName(m.queue.logicalId)}`, outcome, records: batch.length, failures: [...failed] };
      invocations.push(rec);
      return rec;
    }

    async function drain(o: { maxRounds?: number; timeoutMs?: number } = {}): Promise<InvocationRecord[]> {
      const maxRounds = o.maxRounds ?? 100;
      const deadline = Date.now() + (o.timeoutMs ?? 300_000);
      const from = invocations.length;
      for (let round = 1; ; round++) {
        let progressed = false;
        for (const m of mappings) {
          if (!m.enabled) continue;
          if (await pollOnce(m)) progressed = true;
        }
        while (asyncQueue.length) {
          progressed = true;
          await runAsync(asyncQueue.shift()!);
          if (Date.now() > deadline) break;
        }
        if (!progressed) return invocations.slice(from);
        if (round >= maxRounds || Date.now() > deadline) {
          throw new Error(`template-stack: drain still busy after ${round} rounds (maxRounds ${maxRounds}) or its time (timeoutMs ${o.timeoutMs ?? 300_000}); invocations:\n${describe(invocations.slice(from))}`);
        }
      }
    }

    const lookup = (name: string, type?: string): string => {
      if (template.Resources[name] && (!type || template.Resources[name]!.Type === type)) return name;
      const found = resources.filter(([id, r]) => (!type || r.Type === type) && [constructName(id), constructName(id).replace(/Function$/, '')].includes(name));
      if (found.length !== 1) throw new Error(`template-stack: ${found.length} resources named ${name}${type ? ` of type ${type}` : ''}`);
      return found[0]![0];
    };

    const outputs: Record<string, string> = {};
    for (const [k, o] of Object.entries(template.Outputs ?? {})) outputs[k] = String(resolve(o.Value));

    const stack: TemplateStack = {
      assembly,
      template,
      dynamo,
      s3,
      sqs,
      sns,
      eventBridge,
      secrets,
      ecr,
      network,
      region,
      account,
      docs,
      s3Client,
      functions,
      fn(name) {
        const f = functions.get(name) ?? [...functions.values()].find((x) => x.logicalId === name || x.functionName === name);
        if (!f) throw new Error(`template-stack: no function ${name} (have ${[...functions.keys()].join(', ')})`);
        return f;
      },
      ref: (name) => refOf(lookup(name)),
      queue: (name) => queues.get(lookup(name, 'AWS::SQS::Queue'))!,
      outputs,
      cliEnvironment() {
        const env: Record<string, string> = {
          AWS_REGION: region,
          AWS_ACCESS_KEY_ID: LOCAL_IDENTITY.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: LOCAL_IDENTITY.credentials.secretAccessKey,
          ...networkEnvironment(network),
        };
        for (const [k, o] of Object.entries(template.Outputs ?? {})) if (o.Description && /^DRYDOCK_[A-Z_]+$/.test(o.Description)) env[o.Description] = outputs[k]!;
        return env;
      },
      invocations,
      putEvent: (event) => putEvent(event),
      async runSchedule(name) {
        const id = lookup(name, 'AWS::Events::Rule');
        const rule = rules.find((r) => r.logicalId === id)!;
        if (!rule.schedule) throw new Error(`template-stack: rule ${name} has no ScheduleExpression`);
        const event = { version: '0', id: randomUUID(), 'detail-type': 'Scheduled Event', source: 'aws.events', account, time: isoSeconds(new Date()), region, resources: [rule.arn], detail: {} };
        for (const t of rule.targets) await deliverToTarget(rule, t, event);
      },
      async runDeployTriggers() {
        const out: InvocationRecord[] = [];
        for (const [id, r] of ofType('Custom::Trigger')) {
          const f = functionByRef(r.Properties?.HandlerArn);
          const payload = {};
          if (r.Properties?.InvocationType === 'Event') asyncQueue.push({ fn: f, payload, trigger: `deploy:${id}`, attempt: 1 });
          else {
            const outcome = await f.invoke(payload, `deploy:${id}`);
            const rec = { fn: f.name, trigger: `deploy:${id}`, outcome };
            invocations.push(rec);
            out.push(rec);
          }
        }
        return out;
      },
      drain,
      async retryInFlight(name) {
        let n = 0;
        for (const [qid, handles] of inFlight) {
          if (name !== undefined && qid !== lookup(name, 'AWS::SQS::Queue')) continue;
          for (const h of handles) {
            try {
              await sqs.admin.send(new ChangeMessageVisibilityCommand({ QueueUrl: queues.get(qid)!.url, ReceiptHandle: h, VisibilityTimeout: 0 }));
              n++;
            } catch {
              // deleted or moved meanwhile: nothing in flight any more
            }
          }
          handles.clear();
        }
        return n;
      },
      logs() {
        return [...functions.values()].map((f) => `===== ${f.name} (${f.functionName}) =====\n${f.logs().slice(-20_000)}`).join('\n');
      },
      async stop() {
        sns.onPublish(undefined);
        eventBridge.onAccepted(undefined);
        await runCleanups(cleanups);
      },
    };
    return stack;
  } catch (e) {
    await runCleanups(cleanups);
    throw e;
  }
}

async function runCleanups(cleanups: Array<() => Promise<void>>): Promise<void> {
  const errors: unknown[] = [];
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length) throw new AggregateError(errors, 'template-stack: cleanup failed');
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** EventBridge's time format: ISO 8601 to the second. */
function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A summary of invocations, for assertion messages. */
export function describe(records: InvocationRecord[]): string {
  return records
    .map((r) => `${r.fn} ← ${r.trigger}${r.records !== undefined ? ` (${r.records} records, ${r.failures?.length ?? 0} failed)` : ''}: ${r.outcome.ok ? 'ok' : `${r.outcome.phase} ${r.outcome.errorType}: ${r.outcome.errorMessage}`}`)
    .join('\n');
}

/** The subset of JSONPath EventBridge's InputPath / InputPathsMap use: $, $.a.b, $.a[0], $['a b']. */
export function jsonPath(doc: unknown, path: string): unknown {
  if (!path.startsWith('$')) throw new Error(`JSONPath ${path} must start with $`);
  const parts: Array<string | number> = [];
  const re = /\.([^.[\]]+)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]/gy;
  re.lastIndex = 1;
  while (re.lastIndex < path.length) {
    const m = re.exec(path);
    if (!m) throw new Error(`JSONPath ${path} is not supported by the harness`);
    parts.push(m[2] !== undefined ? Number(m[2]) : (m[1] ?? m[3] ?? m[4])!);
  }
  let v: any = doc;
  for (const p of parts) {
    if (v === null || typeof v !== 'object') return undefined;
    v = v[p as never];
  }
  return v;
}

interface InputTransformer {
  InputPathsMap?: Record<string, string>;
  InputTemplate: string;
}

/**
 * EventBridge's input transformer: each <name> of the template is replaced by the value its
 * path selects — inside a JSON string as the raw text, elsewhere as JSON — plus the predefined
 * <aws.events.rule-arn>, <aws.events.rule-name>, <aws.events.event.ingestion-time>,
 * <aws.events.event> and <aws.events.event.json>.
 */
export function transformInput(t: InputTransformer, event: Record<string, unknown>, rule: { arn: string; name: string }): string {
  const values: Record<string, unknown> = {
    'aws.events.rule-arn': rule.arn,
    'aws.events.rule-name': rule.name,
    'aws.events.event.ingestion-time': event.time,
    'aws.events.event': event,
    'aws.events.event.json': event,
  };
  for (const [name, path] of Object.entries(t.InputPathsMap ?? {})) values[name] = jsonPath(event, path);
  let out = '';
  let inString = false;
  const tpl = t.InputTemplate;
  for (let i = 0; i < tpl.length; i++) {
    const c = tpl[i]!;
    if (c === '<') {
      const end = tpl.indexOf('>', i);
      const name = end > i ? tpl.slice(i + 1, end) : '';
      if (name && Object.prototype.hasOwnProperty.call(values, name)) {
        const v = values[name];
        if (inString) out += typeof v === 'string' ? JSON.stringify(v).slice(1, -1) : v === undefined ? '' : JSON.stringify(v).replace(/"/g, '\\"');
        else out += v === undefined ? 'null' : JSON.stringify(v);
        i = end;
        continue;
      }
    }
    if (c === '"' && tpl[i - 1] !== '\\') inString = !inString;
    out += c;
  }
  return out;
}

/** Call at the start of a test: on its failure, every function's logs and the invocations go with the error. */
export function printLogsOnFailure(stack: TemplateStack): void {
  onTestFailed(() => console.error(`function logs:\n${stack.logs()}\ninvocations:\n${describe(stack.invocations)}`));
}

/** Delivers the events through the template's rules and runs the stack until idle; every run must succeed. Returns the functions run and what was published meanwhile. */
export async function deliverEvents(stack: TemplateStack, ...events: Array<Record<string, unknown>>): Promise<{ fns: string[]; published: PublishedMessage[] }> {
  const before = stack.sns.published.length;
  for (const e of events) expect(await stack.putEvent(e)).toBe(1);
  const runs = await stack.drain();
  expect(runs.filter((r) => !r.outcome.ok || r.failures?.length), describe(runs)).toEqual([]);
  return { fns: runs.map((r) => r.fn), published: stack.sns.published.slice(before) };
}
