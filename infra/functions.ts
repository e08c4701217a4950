/**
 * One Lambda function of the pipeline: its own role (no managed policies: every permission is a
 * statement the stack adds, see stack.ts), its own log group, and the esbuild bundle of
 * functions/<name>/handler.ts built by the esbuild in node_modules — never Docker.
 *
 * The bundle is built the way scripts/bundle.mjs builds dist/: ESM, `module` before `main`, the
 * createRequire banner (CommonJS dependencies in an ESM bundle still call require() and read
 * __dirname), the optional CycloneDX plug-ins left out. The AWS SDK v3 is bundled rather than
 * taken from the runtime: the handlers are tested against the versions in package-lock.json
 * (S3 checksum defaults, Powertools' idempotency client) and the runtime's copy changes under
 * them without notice.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat, type ICommandHooks } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** The repository root (infra/..): entries, the lock file and node_modules are found from it. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

export const RUNTIME = lambda.Runtime.NODEJS_22_X;
/** esbuild's target for the function bundles (and the layer worker beside the analyzer's) */
export const BUNDLE_TARGET = 'node22';
export const ARCHITECTURE = lambda.Architecture.ARM_64;

/** The same banner as scripts/bundle.mjs. */
export const BANNER = [
  "import { createRequire as __drydockRequire } from 'node:module';",
  "import { fileURLToPath as __drydockPath } from 'node:url';",
  'const require = __drydockRequire(import.meta.url);',
  'const __filename = __drydockPath(import.meta.url);',
  "const __dirname = __drydockPath(new URL('.', import.meta.url));",
].join(' ');

/** Optional plug-ins of @cyclonedx/cyclonedx-library (XML, schema validation), loaded only if installed (as in scripts/bundle.mjs). */
export const EXTERNAL_MODULES = ['ajv-formats-draft2019', 'xmlbuilder2', 'libxmljs2'];

/** sql.js's WebAssembly engine (rpmdb.sqlite), loaded from beside the bundle (shared/catalog/rpm/sqlite.ts). */
export const SQL_WASM = 'node_modules/sql.js/dist/sql-wasm.wasm';

/** A value put between double quotes in a hook's shell command as it is: none of the characters the shell reads there. */
function shellSafe(value: string): string {
  if (/["$`\\!]/.test(value)) throw new Error(`infra/functions.ts: ${JSON.stringify(value)} cannot go into a bundling command as it is`);
  return value;
}

/** The layer workers' entry point (shared/layers/worker-pool.ts looks for layer-worker.mjs beside the bundle). */
export const LAYER_WORKER_ENTRY = 'shared/layers/layer-worker.ts';

/**
 * What goes beside the bundle: sql-wasm.wasm, and layer-worker.mjs built by the same local
 * esbuild with the function bundle's target, banner, externals and source map (a bundle of its
 * own: a worker thread loads only what a layer walk uses).
 */
function besideBundle(props: { sqlWasm?: boolean; layerWorker?: boolean }): ICommandHooks {
  return {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (inputDir: string, outputDir: string) => [
      ...(props.sqlWasm ? [`cp "${join(inputDir, SQL_WASM)}" "${join(outputDir, 'sql-wasm.wasm')}"`] : []),
      ...(props.layerWorker
        ? [
            [
              `"${join(inputDir, 'node_modules', '.bin', 'esbuild')}"`,
              `"${join(inputDir, LAYER_WORKER_ENTRY)}"`,
              '--bundle',
              '--platform=node',
              '--format=esm',
              `--target=${BUNDLE_TARGET}`,
              '--main-fields=module,main',
              '--sourcemap',
              '--log-level=warning',
              ...EXTERNAL_MODULES.map((m) => `--external:${m}`),
              `"--banner:js=${shellSafe(BANNER)}"`,
              `"--outfile=${join(outputDir, 'layer-worker.mjs')}"`,
            ].join(' '),
          ]
        : []),
    ],
  };
}

export interface PipelineFunctionProps {
  /** the folder under functions/ */
  name: string;
  description: string;
  timeout: Duration;
  memorySize: number;
  /** undefined: none */
  reservedConcurrency?: number;
  environment: Record<string, string>;
  /** copy sql-wasm.wasm beside the bundle */
  sqlWasm?: boolean;
  /** build layer-worker.mjs beside the bundle (a function that scans layers: its layer workers' entry point) */
  layerWorker?: boolean;
  /** asynchronous invocations that still fail after Lambda's retries go here */
  deadLetterQueue?: sqs.IQueue;
  logRetention?: logs.RetentionDays;
  /**
   * The function's `currentVersion` (made when something invokes a version, such as the first-sync
   * trigger) is deleted when a new one replaces it, instead of CDK's default of keeping every
   * version's code forever.
   */
  replaceVersions?: boolean;
}

export class PipelineFunction extends Construct {
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly fn: NodejsFunction;
  readonly timeout: Duration;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    super(scope, id);
    this.timeout = props.timeout;
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Drydock ${props.name}: only what the function uses`,
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // The function writes its own logs, nothing else: no AWSLambdaBasicExecutionRole (logs:* on every group).
    this.logGroup.grantWrite(this.role);
    this.fn = new NodejsFunction(this, 'Function', {
      entry: join(PROJECT_ROOT, 'functions', props.name, 'handler.ts'),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime: RUNTIME,
      architecture: ARCHITECTURE,
      description: props.description,
      timeout: props.timeout,
      memorySize: props.memorySize,
      ...(props.reservedConcurrency !== undefined ? { reservedConcurrentExecutions: props.reservedConcurrency } : {}),
      role: this.role,
      logGroup: this.logGroup,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      ...(props.deadLetterQueue ? { deadLetterQueue: props.deadLetterQueue } : {}),
      ...(props.replaceVersions ? { currentVersionOptions: { removalPolicy: RemovalPolicy.DESTROY } } : {}),
      bundling: {
        format: OutputFormat.ESM,
        target: BUNDLE_TARGET,
        platform: 'node',
        mainFields: ['module', 'main'],
        banner: BANNER,
        sourceMap: true,
        bundleAwsSDK: true,
        externalModules: EXTERNAL_MODULES,
        forceDockerBundling: false,
        logLevel: LogLevel.WARNING,
        ...(props.sqlWasm || props.layerWorker ? { commandHooks: besideBundle(props) } : {}),
      },
    });
  }
}

/**
 * Fails early, with the reason, when the local esbuild cannot run: NodejsFunction would
 * otherwise fall back to bundling in Docker, which this project never uses.
 */
export function checkLocalEsbuild(): void {
  const bin = join(PROJECT_ROOT, 'node_modules', '.bin', 'esbuild');
  try {
    execFileSync(bin, ['--version'], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`the local esbuild (${bin}) does not run: ${(e as Error).message}. Run npm ci; Drydock bundles its functions with it, never with Docker.`);
  }
}
