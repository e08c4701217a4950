/**
 * What the infra documentation promises, checked against what is synthesized: the Mermaid
 * architecture (infra/architecture.mmd, embedded in infra/README.md) node by node and edge by
 * edge; the settings and outputs the README lists; and `npm run synth` itself — the pinned CDK
 * CLI, offline (no notices, no version check, no telemetry, no lookups), as a user runs it.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTEXT_KEYS } from '../../infra/config.js';
import { PROJECT_ROOT } from '../../infra/functions.js';
import { cleanup, synthAll, type Synth } from './support.js';

const run = promisify(execFile);
const SYNTH_TIMEOUT = 300_000;
let d: Synth;

beforeAll(async () => {
  ({ default: d } = await synthAll(['default']));
}, SYNTH_TIMEOUT);
afterAll(cleanup);

const read = (p: string) => readFileSync(join(PROJECT_ROOT, p), 'utf8');

// ---------------------------------------------------------------- the diagram

type Style = 'flow' | 'data' | 'dead-letter';
interface Edge {
  from: string;
  to: string;
  style: Style;
}

/** Nodes and edges of a Mermaid flowchart written one statement per line (as architecture.mmd is). */
function parseMermaid(text: string): { nodes: Set<string>; edges: Edge[] } {
  const nodes = new Set<string>();
  const edges: Edge[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('%%') || line.startsWith('flowchart')) continue;
    const edge = /^(\w+)\s+(-->|-\.->|---)(?:\|[^|]*\|)?\s+(\w+)$/.exec(line);
    if (edge) {
      const [, from, arrow, to] = edge as unknown as [string, string, string, string];
      edges.push({ from, to, style: arrow === '-->' ? 'flow' : arrow === '---' ? 'data' : 'dead-letter' });
      continue;
    }
    const node = /^(\w+)(\(\[|\[\[|\[\(|\{\{|\(|\[|>)/.exec(line);
    if (node) {
      nodes.add(node[1]!);
      continue;
    }
    throw new Error(`architecture.mmd: a line this test cannot read (one node or one edge per line): ${line}`);
  }
  for (const e of edges) for (const id of [e.from, e.to]) if (!nodes.has(id)) throw new Error(`architecture.mmd: edge to undeclared node ${id}`);
  return { nodes, edges };
}

/** The top-level construct a template value refers to: `<Bucket.Arn>/layers/*` → Bucket. */
const ownerOf = (s: Synth, v: unknown): string | undefined => /^<([^./>]+)/.exec(s.name(v))?.[1];

/** The edges the synthesized stack really has, by the diagram's styles. */
function stackEdges(s: Synth): Array<Edge & { required: boolean }> {
  const out: Array<Edge & { required: boolean }> = [];
  const add = (from: string | undefined, to: string | undefined, style: Style, required: boolean) => {
    if (!from || !to || from === to) return;
    if (!out.some((e) => e.from === from && e.to === to && e.style === style)) out.push({ from, to, style, required });
  };
  const deadLetterQueues = new Set<string>();
  for (const [, q] of s.resources('AWS::SQS::Queue')) if (q.Properties.RedrivePolicy) deadLetterQueues.add(ownerOf(s, q.Properties.RedrivePolicy.deadLetterTargetArn)!);
  for (const [, r] of s.resources('AWS::Events::Rule')) for (const t of r.Properties.Targets) deadLetterQueues.add(ownerOf(s, t.DeadLetterConfig.Arn)!);
  for (const [, fun] of s.resources('AWS::Lambda::Function')) if (fun.Properties.DeadLetterConfig) deadLetterQueues.add(ownerOf(s, fun.Properties.DeadLetterConfig.TargetArn)!);
  for (const [, sub] of s.resources('AWS::SNS::Subscription')) deadLetterQueues.add(ownerOf(s, sub.Properties.RedrivePolicy.deadLetterTargetArn)!);

  for (const [id, r] of s.resources('AWS::Events::Rule')) {
    for (const t of r.Properties.Targets) {
      add(s.owner.get(id), ownerOf(s, t.Arn), 'flow', true);
      add(s.owner.get(id), ownerOf(s, t.DeadLetterConfig.Arn), 'dead-letter', false);
    }
  }
  // the deploy-time trigger invokes its handler (a version of the function) once
  for (const [id, t] of s.resources('Custom::Trigger')) add(s.owner.get(id), ownerOf(s, t.Properties.HandlerArn), 'flow', true);
  for (const [, m] of s.resources('AWS::Lambda::EventSourceMapping')) add(ownerOf(s, m.Properties.EventSourceArn), ownerOf(s, m.Properties.FunctionName), 'flow', true);
  for (const [, sub] of s.resources('AWS::SNS::Subscription')) {
    add(ownerOf(s, sub.Properties.TopicArn), ownerOf(s, sub.Properties.Endpoint), 'flow', true);
    add(ownerOf(s, sub.Properties.TopicArn), ownerOf(s, sub.Properties.RedrivePolicy.deadLetterTargetArn), 'dead-letter', false);
  }
  for (const [id, q] of s.resources('AWS::SQS::Queue')) if (q.Properties.RedrivePolicy) add(s.owner.get(id), ownerOf(s, q.Properties.RedrivePolicy.deadLetterTargetArn), 'dead-letter', false);
  for (const [id, fun] of s.resources('AWS::Lambda::Function')) if (fun.Properties.DeadLetterConfig) add(s.owner.get(id), ownerOf(s, fun.Properties.DeadLetterConfig.TargetArn), 'dead-letter', false);
  for (const [, a] of s.resources('AWS::CloudWatch::Alarm')) for (const action of a.Properties.AlarmActions) add(ownerOf(s, a.Properties.Dimensions[0].Value), ownerOf(s, action), 'dead-letter', false);
  for (const [, p] of s.resources('AWS::IAM::Policy')) {
    const fn = ownerOf(s, p.Properties.Roles[0]);
    for (const st of p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>) {
      const actions = ([] as string[]).concat(st.Action);
      for (const res of ([] as unknown[]).concat(st.Resource)) {
        const target = ownerOf(s, res);
        if (actions.includes('sqs:SendMessage')) add(fn, target, deadLetterQueues.has(target!) ? 'dead-letter' : 'flow', !deadLetterQueues.has(target!));
        if (actions.includes('sns:Publish')) add(fn, target, 'flow', true);
        if (actions.some((a) => /^(dynamodb|s3|secretsmanager):/.test(a))) add(fn, target, 'data', true);
      }
    }
  }
  return out;
}

describe('the architecture diagram', () => {
  const mmd = read('infra/architecture.mmd');
  const { nodes, edges } = parseMermaid(mmd);
  /**
   * what the diagram leaves out on purpose: the key (on the topics' labels), the access-log bucket,
   * the alarms (drawn as DLQ → AlarmTopic edges), the trigger's provider Lambda (FirstFeedSync stands for it)
   */
  const NOT_DRAWN = /^(Key|AccessLogs|.*Alarm|AWSCDK\.TriggerCustomResourceProvider.*)$/;

  it('is embedded in infra/README.md and the top README exactly', () => {
    expect(read('infra/README.md')).toContain('```mermaid\n' + mmd.trimEnd() + '\n```');
    expect(read('README.md')).toContain('```mermaid\n' + mmd.trimEnd() + '\n```');
  });

  it('draws every resource of the stack, and nothing that is not one (external actors are lower-case)', () => {
    const drawable = new Set(Object.keys(d.json.Resources).map((id) => d.owner.get(id)!).filter((o) => !NOT_DRAWN.test(o)));
    const drawn = new Set([...nodes].filter((id) => /^[A-Z]/.test(id)));
    expect([...drawn].sort()).toEqual([...drawable].sort());
    for (const id of nodes) if (!/^[A-Z]/.test(id)) expect(['ecr', 'bus', 'osv', 'slack', 'ops'], id).toContain(id);
  });

  it('every edge between two resources is real, and drawn in the style of its kind', () => {
    const real = stackEdges(d);
    for (const e of edges.filter((e) => /^[A-Z]/.test(e.from) && /^[A-Z]/.test(e.to))) {
      const match = real.find((r) => r.style === e.style && ((r.from === e.from && r.to === e.to) || (e.style === 'data' && r.from === e.to && r.to === e.from)));
      expect(match, `${e.from} ${e.style} ${e.to}`).toBeDefined();
    }
  });

  it('every trigger, message flow and data access of the stack is drawn', () => {
    for (const r of stackEdges(d).filter((r) => r.required)) {
      const drawn = edges.some((e) => e.style === r.style && ((e.from === r.from && e.to === r.to) || (r.style === 'data' && e.from === r.to && e.to === r.from)));
      expect(drawn, `${r.from} ${r.style} ${r.to}`).toBe(true);
    }
  });

  it('the edge checks can fail: an invented edge is not real', () => {
    const real = stackEdges(d);
    expect(real.some((r) => r.from === 'Rescan' && r.to === 'ResultsTopic')).toBe(false);
    expect(real.some((r) => r.from === 'Analyzer' && r.to === 'ResultsTable')).toBe(false);
    expect(real.some((r) => r.from === 'ScanQueue' && r.to === 'Analyzer' && r.style === 'flow')).toBe(true);
    // Slack: results → queue → notifier; the notifier is neither subscribed nor dead-lettering itself
    expect(real.some((r) => r.from === 'ResultsTopic' && r.to === 'SlackNotifier')).toBe(false);
    expect(real.some((r) => r.from === 'SlackNotifier' && r.to === 'SlackDeadLetters')).toBe(false);
    expect(real.some((r) => r.from === 'ResultsTopic' && r.to === 'SlackQueue' && r.style === 'flow')).toBe(true);
    expect(real.some((r) => r.from === 'SlackQueue' && r.to === 'SlackNotifier' && r.style === 'flow')).toBe(true);
    // the new paths: continuation, first sync, reconciliation
    expect(real.some((r) => r.from === 'FeedSyncRequestedRule' && r.to === 'FeedSync' && r.style === 'flow')).toBe(true);
    expect(real.some((r) => r.from === 'FirstFeedSync' && r.to === 'FeedSync' && r.style === 'flow')).toBe(true);
    expect(real.some((r) => r.from === 'ReconcileSchedule' && r.to === 'Reconcile' && r.style === 'flow')).toBe(true);
    expect(real.some((r) => r.from === 'Reconcile' && r.to === 'ScanQueue' && r.style === 'flow')).toBe(true);
    expect(real.some((r) => r.from === 'Reconcile' && r.to === 'EvaluateQueue')).toBe(false);
  });
});

// ---------------------------------------------------------------- README, scripts, cdk.json

describe('infra/README.md and the scripts', () => {
  const readme = read('infra/README.md');

  it('documents every setting and every output', () => {
    for (const key of Object.keys(CONTEXT_KEYS)) expect(readme, key).toContain(`\`${key}\``);
    for (const out of Object.keys(d.json.Outputs ?? {}).filter((o) => !o.startsWith('Bootstrap'))) expect(readme, out).toContain(out);
    for (const cmd of ['npm run synth', 'npm run deploy', 'put-secret-value', 'aws s3 cp', 'cdk bootstrap']) expect(readme, cmd).toContain(cmd);
  });

  it('package.json: synth runs the pinned CLI offline; deploy runs it; the CLI is pinned exactly', () => {
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string>; devDependencies: Record<string, string> };
    expect(pkg.scripts.synth).toBe('CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=true cdk synth --no-notices --no-lookups --quiet');
    expect(pkg.scripts.deploy).toBe('cdk deploy');
    expect(pkg.devDependencies['aws-cdk']).toBe('2.1148.1');
    const cdkJson = JSON.parse(read('cdk.json')) as { app: string; output: string; context: Record<string, unknown> };
    expect(cdkJson.app).toBe('node --import tsx infra/main.ts');
    expect(cdkJson.output).toBe('dist/cdk.out');
    expect(cdkJson.context['cli-telemetry']).toBe(false);
  });

  it(
    '`npm run synth` synthesizes the same stack with the pinned CLI, offline, with no AWS environment',
    async () => {
      const out = mkdtempSync(join(tmpdir(), 'drydock-npm-synth-'));
      try {
        const env: NodeJS.ProcessEnv = { ...process.env };
        // as a user runs it: not under a test runner, no AWS credentials or region
        for (const k of Object.keys(env)) if (/^(VITEST|NODE_ENV|AWS_|CDK_)/.test(k)) delete env[k];
        await run('npm', ['run', 'synth', '--', '--output', out], { cwd: PROJECT_ROOT, env, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 });
        const template = JSON.parse(readFileSync(join(out, 'Drydock.template.json'), 'utf8')) as { Resources: Record<string, { Type: string }> };
        const types = (r: Record<string, { Type: string }>) => Object.values(r).map((x) => x.Type).sort();
        expect(types(template.Resources)).toEqual(types(d.json.Resources));
        // environment-agnostic without credentials: the region is the deploy-time pseudo parameter
        expect(JSON.stringify(template)).toContain('"Ref":"AWS::Region"');
        const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { artifacts: Record<string, { environment?: string }> };
        expect(manifest.artifacts.Drydock!.environment).toBe('aws://unknown-account/unknown-region');
        // no lookups: nothing cached from an AWS account
        expect(existsSync(join(PROJECT_ROOT, 'cdk.context.json'))).toBe(false);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    },
    SYNTH_TIMEOUT,
  );
});
