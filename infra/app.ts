/**
 * The CDK app: one Drydock stack, configured from CDK context (infra/config.ts), checked by
 * cdk-nag's AwsSolutions pack on every synth — a finding without an acknowledgement fails
 * `npm run synth`, `npm run deploy` and the tests alike.
 *
 * Offline by construction: no lookups, no Docker (esbuild from node_modules), no environment
 * needed (account and region come from context if given, else the stack is environment-agnostic
 * and `cdk deploy` takes the credentials' account and region).
 */
import { App, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { settingsFromContext, type DrydockSettings } from './config.js';
import { checkLocalEsbuild } from './functions.js';
import { DrydockStack } from './stack.js';

export const STACK_NAME = 'Drydock';

/**
 * Feature flags, set here rather than in cdk.json so the tests synthesize exactly what
 * `npm run synth` does.
 */
export const FEATURE_FLAGS = {
  // S3 server access logs delivered under a bucket policy (logging.s3.amazonaws.com), not ACLs
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
};

export interface CreateAppOptions {
  /** CDK context (what `-c key=value` and cdk.json give) */
  context?: Record<string, unknown>;
  /** settings given in code win over context */
  settings?: Partial<DrydockSettings>;
  env?: { account?: string; region?: string };
  outdir?: string;
}

export function createApp(opts: CreateAppOptions = {}): { app: App; stack: DrydockStack } {
  checkLocalEsbuild();
  const appProps: AppProps = {
    // no AWS::CDK::Metadata resource: nothing about this app is reported to AWS
    analyticsReporting: false,
    context: { ...FEATURE_FLAGS, ...opts.context },
    ...(opts.outdir ? { outdir: opts.outdir } : {}),
  };
  const app = new App(appProps);
  const ctx = (key: string) => app.node.tryGetContext(key);
  const settings = { ...settingsFromContext(ctx), ...opts.settings };
  // Only an explicit account/region pins the stack; otherwise it is environment-agnostic and
  // `cdk deploy` uses the caller's (CDK_DEFAULT_* would tie the synth to whatever credentials, or
  // the CLI's us-east-1 fallback, happen to be around).
  const account = opts.env?.account ?? ctx('account');
  const region = opts.env?.region ?? ctx('region');
  const stack = new DrydockStack(app, ctx('stackName') ?? STACK_NAME, {
    ...settings,
    description: 'Drydock: event-driven container-image scanning for Amazon ECR',
    ...(account || region ? { env: { ...(account ? { account } : {}), ...(region ? { region } : {}) } } : {}),
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
