/**
 * Cold start with exactly the environment each function is deployed with (infra/stack.ts; the
 * evaluator's DRYDOCK_EVALUATE_QUEUE_URL and the reconcile function are the wiring of issue 13):
 * each handler module, imported fresh in-process with only those variables (plus the Lambda
 * runtime's AWS_REGION and Powertools' silence), starts; with one required variable removed it
 * fails at import naming that variable. The bundle-level twin of this test (cdk.out bundles,
 * template environment) is the harness's. No AWS call is made at cold start, so nothing is mocked.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { awsClients, awsPipelineDeps } from '../../shared/adapters/aws/pipeline-deps.js';
import { DrydockError } from '../../shared/errors.js';
import { FUNCTION_NEEDS, loadConfig, resourceVariable } from '../../shared/pipeline/config.js';

const TEMPLATE_ENV: Record<keyof typeof FUNCTION_NEEDS, Record<string, string>> = {
  analyzer: {
    DRYDOCK_IMAGES_TABLE: 'images',
    DRYDOCK_PACKAGE_INDEX_TABLE: 'package-index',
    DRYDOCK_IDEMPOTENCY_TABLE: 'idempotency',
    DRYDOCK_BUCKET: 'bucket',
    DRYDOCK_SCAN_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/scan',
    DRYDOCK_EVALUATE_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/evaluate',
    DRYDOCK_DEAD_LETTER_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/scan-dlq',
    DRYDOCK_RESULTS_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:results',
    DRYDOCK_MAX_RECEIVE_COUNT: '5',
    DRYDOCK_STALE_CLAIM_SECONDS: '1200',
  },
  evaluator: {
    DRYDOCK_IMAGES_TABLE: 'images',
    DRYDOCK_RESULTS_TABLE: 'results',
    DRYDOCK_ADVISORIES_TABLE: 'advisories',
    DRYDOCK_IDEMPOTENCY_TABLE: 'idempotency',
    DRYDOCK_BUCKET: 'bucket',
    DRYDOCK_RESULTS_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:results',
    DRYDOCK_EVALUATE_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/evaluate',
    DRYDOCK_DEAD_LETTER_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/evaluate-dlq',
    DRYDOCK_MAX_RECEIVE_COUNT: '5',
    DRYDOCK_RESULT_RETENTION_DAYS: '180',
  },
  feedSync: {
    DRYDOCK_ADVISORIES_TABLE: 'advisories',
    DRYDOCK_BUCKET: 'bucket',
    DRYDOCK_EVENT_BUS_NAME: 'default',
    DRYDOCK_OSV_ECOSYSTEMS: 'npm,PyPI',
  },
  rescan: {
    DRYDOCK_PACKAGE_INDEX_TABLE: 'package-index',
    DRYDOCK_IMAGES_TABLE: 'images',
    DRYDOCK_EVALUATE_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/evaluate',
  },
  reconcile: {
    DRYDOCK_IMAGES_TABLE: 'images',
    DRYDOCK_SCAN_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/scan',
  },
};

const MODULES: Record<keyof typeof FUNCTION_NEEDS, string> = {
  analyzer: '../../functions/analyzer/handler.js',
  evaluator: '../../functions/evaluator/handler.js',
  feedSync: '../../functions/feed-sync/handler.js',
  rescan: '../../functions/rescan/handler.js',
  reconcile: '../../functions/reconcile/handler.js',
};

/** What the Lambda runtime adds, and Powertools kept quiet. */
const RUNTIME_ENV = { AWS_REGION: 'eu-west-1', POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' };

let saved: NodeJS.ProcessEnv;
beforeEach(() => {
  saved = { ...process.env };
});
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
  vi.resetModules();
});

/** Imports the handler module fresh with exactly `env` (every other DRYDOCK_* variable removed). */
async function coldStart(fn: keyof typeof FUNCTION_NEEDS, env: Record<string, string>): Promise<{ handler: unknown }> {
  for (const k of Object.keys(process.env)) if (k.startsWith('DRYDOCK_') || k.startsWith('AWS_ENDPOINT_URL')) delete process.env[k];
  Object.assign(process.env, RUNTIME_ENV, env);
  vi.resetModules();
  return (await import(MODULES[fn])) as { handler: unknown };
}

describe('cold start with exactly the deployed environment', () => {
  for (const fn of Object.keys(MODULES) as Array<keyof typeof FUNCTION_NEEDS>) {
    it(`${fn} starts with its template environment`, async () => {
      const mod = await coldStart(fn, TEMPLATE_ENV[fn]);
      expect(typeof mod.handler).toBe('function');
    });

    it(`${fn} fails at cold start naming each required variable that is missing`, async () => {
      for (const field of FUNCTION_NEEDS[fn]) {
        const variable = resourceVariable(field);
        expect(TEMPLATE_ENV[fn], `${fn}'s template gives ${variable}`).toHaveProperty(variable);
        const { [variable]: _removed, ...rest } = TEMPLATE_ENV[fn];
        const err = await coldStart(fn, rest).then(
          () => undefined,
          (e: unknown) => e,
        );
        // (a fresh module graph has its own DrydockError class: compared by shape)
        expect(err, `${fn} without ${variable}`).toMatchObject({ code: 'CONFIG' });
        expect((err as DrydockError).message).toContain(`${variable} is not set`);
      }
    });
  }

  it('the reconcile function needs the region the runtime gives (its images are named <account>.dkr.ecr.<region>.amazonaws.com)', async () => {
    for (const k of Object.keys(process.env)) if (k.startsWith('DRYDOCK_') || k.startsWith('AWS_')) delete process.env[k];
    Object.assign(process.env, { POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' }, TEMPLATE_ENV.reconcile);
    vi.resetModules();
    await expect(import(MODULES.reconcile)).rejects.toMatchObject({ code: 'CONFIG', message: expect.stringContaining('AWS_REGION is not set') });
  });
});

describe('awsPipelineDeps builds only the ports of the resources it was given', () => {
  const clients = awsClients({ dynamodb: { region: 'eu-west-1' }, s3: { region: 'eu-west-1' }, sqs: { region: 'eu-west-1' }, sns: { region: 'eu-west-1' } });

  it("the evaluator's deps: its ports work, the others throw CONFIG naming their variable (not a TypeError from an adapter built on undefined)", () => {
    const { config, resources } = loadConfig(TEMPLATE_ENV.evaluator, FUNCTION_NEEDS.evaluator);
    const deps = awsPipelineDeps({ config, resources, clients });
    expect(deps.images).toBeDefined();
    expect(deps.results).toBeDefined();
    expect(deps.publisher).toBeDefined();
    expect(deps.deadLetters).toBeDefined();
    expect(() => deps.scanQueue).toThrow(/DRYDOCK_SCAN_QUEUE_URL is not set/);
    expect(() => deps.packageIndex).toThrow(/DRYDOCK_PACKAGE_INDEX_TABLE is not set/);
    // the same port object every time (built once)
    expect(deps.images).toBe(deps.images);
  });

  it('a function given no dead-letter queue has no deadLetters port (absent, not throwing: the core logs instead)', () => {
    const { config, resources } = loadConfig(TEMPLATE_ENV.rescan, FUNCTION_NEEDS.rescan);
    const deps = awsPipelineDeps({ config, resources, clients });
    expect(deps.deadLetters).toBeUndefined();
    expect('deadLetters' in deps).toBe(false);
    expect(() => deps.objects).toThrow(DrydockError);
    expect(() => deps.objects).toThrow(/DRYDOCK_BUCKET is not set/);
  });

  it('the retention setting: default 180 days, 0 keeps results forever, a bad value is a CONFIG error naming it', () => {
    expect(loadConfig({}, []).config.resultRetentionDays).toBe(180);
    expect(loadConfig({ DRYDOCK_RESULT_RETENTION_DAYS: '0' }, []).config.resultRetentionDays).toBe(0);
    expect(() => loadConfig({ DRYDOCK_RESULT_RETENTION_DAYS: '-1' }, [])).toThrow(/DRYDOCK_RESULT_RETENTION_DAYS="-1"/);
  });
});
