/**
 * Synthesizes the CDK app for the infra tests, once per configuration and test file (esbuild
 * bundles six functions; a second configuration in the same process reuses the bundles), and
 * turns the template's intrinsic references into readable names: `<Bucket.Arn>/layers/*`
 * instead of `{"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket83908E77", "Arn"]}, "/layers/*"]]}`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CfnElement, type App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { createApp } from '../../infra/app.js';
import type { DrydockStack } from '../../infra/stack.js';

export const ENV = { account: '111122223333', region: 'eu-west-1' };

/**
 * The configurations under test, given as CDK context the way `-c key=value` gives it (strings),
 * so the context parsing is exercised too.
 */
export const CONFIGS = {
  /** no context: every repository, Slack on */
  default: {},
  /** repositories named (one with a wildcard), a policy bundle, a platform, fewer ecosystems, an OSV mirror; concurrency reserved, results kept forever */
  filtered: {
    repositories: 'team/api,team/web,platform-*',
    policyBundle: 'shared/policy/default-bundle.json',
    platform: 'linux/arm64',
    ecosystems: 'Debian,npm',
    alasStreams: 'al2023-core,al2-extras/kernel-5.15',
    osvUrl: 'https://osv-mirror.example.org',
    layerCacheDays: '14',
    analyzerBatchSize: '2',
    reservedConcurrency: 'true',
    resultRetentionDays: '0',
    reconcileHours: '12',
    limits: 'maxKeptBytes=512M,maxExpansionRatio=1000',
    allowMissingAdvisories: 'true',
    maxAdvisoryAge: '36h',
  },
  /** Slack off; no reserved concurrency (the default, given explicitly) */
  slackOff: { slack: 'false', reservedConcurrency: 'false' },
} satisfies Record<string, Record<string, string>>;

export type ConfigName = keyof typeof CONFIGS;

export interface Synth {
  app: App;
  stack: DrydockStack;
  template: Template;
  json: { Resources: Record<string, CfnResourceJson>; Outputs?: Record<string, { Value: unknown }> };
  outdir: string;
  /** logical id → the top-level construct id under the stack ("Analyzer", "ScanQueue", "ImagesTable") */
  owner: Map<string, string>;
  /** logical id → the construct path under the stack without "/Resource" ("Analyzer/Logs") */
  path: Map<string, string>;
  /** a template value with references written as names (see the module comment) */
  name(value: unknown): string;
  /** the logical id of the only resource of that top-level construct and type */
  logicalId(owner: string, type: string): string;
  resources(type: string): Array<[string, CfnResourceJson]>;
}

export interface CfnResourceJson {
  Type: string;
  Properties: Record<string, any>;
  DependsOn?: string[];
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}

const cache = new Map<ConfigName, Synth>();
/**
 * One cloud assembly directory per test process: the bundles of the functions do not depend on
 * the configuration, and CDK's asset cache (keyed by the output directory too) then builds them
 * once. Each synth's template is read right after its own synth.
 */
let outdir: string | undefined;

export function synth(config: ConfigName): Synth {
  const cached = cache.get(config);
  if (cached) return cached;
  outdir ??= mkdtempSync(join(tmpdir(), 'drydock-cdk-'));
  const { app, stack } = createApp({ context: CONFIGS[config], env: ENV, outdir });
  const template = Template.fromStack(stack); // synthesizes (bundling, cdk-nag validation)
  const json = template.toJSON() as Synth['json'];
  const owner = new Map<string, string>();
  const path = new Map<string, string>();
  for (const c of stack.node.findAll()) {
    if (!(c instanceof CfnElement)) continue;
    const id = stack.resolve(c.logicalId) as string;
    const rel = c.node.path.slice(stack.node.path.length + 1);
    owner.set(id, rel.split('/')[0]!);
    path.set(id, rel.replace(/\/Resource$/, ''));
  }
  const name = (value: unknown): string => {
    const visit = (v: unknown): string => {
      if (typeof v === 'string') return v;
      if (Array.isArray(v)) return `[${v.map(visit).join(', ')}]`;
      const o = v as Record<string, unknown>;
      if (o && typeof o === 'object') {
        if ('Fn::Join' in o) {
          const [d, items] = o['Fn::Join'] as [string, unknown[]];
          return items.map(visit).join(d);
        }
        if ('Fn::GetAtt' in o) {
          const [id, attr] = o['Fn::GetAtt'] as [string, string];
          return `<${path.get(id) ?? id}.${attr}>`;
        }
        if ('Ref' in o) return `<${path.get(o.Ref as string) ?? (o.Ref as string)}>`;
      }
      return JSON.stringify(v);
    };
    return visit(value);
  };
  const resources = (type: string) => Object.entries(json.Resources).filter(([, r]) => r.Type === type);
  const logicalId = (own: string, type: string) => {
    const found = resources(type).filter(([id]) => owner.get(id) === own);
    if (found.length !== 1) throw new Error(`${found.length} resources of type ${type} under ${own}`);
    return found[0]![0];
  };
  const s: Synth = { app, stack, template, json, outdir, owner, path, name, logicalId, resources };
  cache.set(config, s);
  return s;
}

/**
 * Synthesizes the configurations one after another, letting the worker's pending RPC calls to
 * vitest be answered before each: a synth blocks the worker (esbuild and cdk-nag run
 * synchronously) for up to a minute on a busy machine, and a call still in flight when that
 * starts times out (`Timeout calling "onTaskUpdate"`, an unhandled error that fails the run).
 */
export async function synthAll<C extends ConfigName>(configs: readonly C[]): Promise<Record<C, Synth>> {
  const out = {} as Record<C, Synth>;
  for (const c of configs) {
    await new Promise<void>((r) => setTimeout(r, 250));
    out[c] = synth(c);
  }
  return out;
}

export function cleanup(): void {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
  outdir = undefined;
  cache.clear();
}

/** The Lambda function resource of a PipelineFunction ("Analyzer", ...). */
export function fn(s: Synth, owner: string): CfnResourceJson {
  return s.json.Resources[s.logicalId(owner, 'AWS::Lambda::Function')]!;
}

/** Every statement of the policies attached to a function's role, as "actions on resources [if condition]". */
export function roleStatements(s: Synth, owner: string): string[] {
  const role = s.logicalId(owner, 'AWS::IAM::Role');
  const out: string[] = [];
  for (const [, p] of s.resources('AWS::IAM::Policy')) {
    if (!(p.Properties.Roles as unknown[]).some((r) => s.name(r) === `<${s.path.get(role)}>`)) continue;
    for (const st of p.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>) out.push(describeStatement(s, st));
  }
  // (inline and managed policies on the role itself: none, asserted in stack.test.ts)
  return out.sort();
}

export function describeStatement(s: Synth, st: Record<string, unknown>): string {
  const list = (v: unknown) => (Array.isArray(v) ? v : [v]);
  const actions = list(st.Action).map(String).sort().join(',');
  const resources = list(st.Resource).map(s.name).sort().join(' ');
  const effect = st.Effect === 'Allow' ? '' : `${String(st.Effect)} `;
  return `${effect}${actions} on ${resources}${st.Condition ? ` if ${JSON.stringify(st.Condition)}` : ''}`;
}
