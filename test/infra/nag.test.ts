/**
 * cdk-nag's AwsSolutions checks on the synthesized app: no finding left unacknowledged in any
 * configuration, every acknowledgement used by a real finding (none stale, none broader than
 * the finding it names), each with a reason, and the checks themselves shown to be live.
 */
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allow, flattenCfnReference } from '../../infra/nag.js';
import { cleanup, synthAll, type ConfigName, type Synth } from './support.js';

const SYNTH_TIMEOUT = 300_000;
const CONFIG_NAMES: ConfigName[] = ['default', 'filtered', 'slackOff'];
const synths = {} as Record<ConfigName, Synth>;

beforeAll(async () => {
  Object.assign(synths, await synthAll(CONFIG_NAMES));
}, SYNTH_TIMEOUT);
afterAll(cleanup);

interface Finding {
  rule: string;
  path: string;
}

/** Every AwsSolutions finding, acknowledged or not. */
function allFindings(scope: IConstruct): Finding[] {
  const pack = new AwsSolutionsChecks();
  // cdk-nag filters acknowledged findings in a private method: turn it off to see them all
  (pack as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
  return pack.validateScope(scope).violations.flatMap((v) => v.violatingResources.map((r) => ({ rule: v.ruleName, path: r.constructPath! })));
}

interface Ack {
  rule: string;
  path: string;
  reason: string;
}

function acknowledgements(scope: IConstruct): Ack[] {
  const out: Ack[] = [];
  for (const c of scope.node.findAll()) {
    for (const m of c.node.metadata) {
      if (m.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(m.data as Record<string, string>)) out.push({ rule: id.replace(/^annotation::/i, ''), path: c.node.path, reason });
    }
  }
  return out;
}

/** `<Bucket83908E77.Arn>` → `<Bucket.Arn>` in finding ids, for readable expectations. */
function readable(s: Synth, rule: string): string {
  return rule.replace(/<([A-Za-z0-9]+)\.([A-Za-z]+)>/g, (m, id: string, attr: string) => (s.path.has(id) ? `<${s.path.get(id)}.${attr}>` : m));
}

describe('cdk-nag AwsSolutions', () => {
  it.each(CONFIG_NAMES)('%s: no unacknowledged finding (errors or warnings)', (c) => {
    const report = new AwsSolutionsChecks().validateScope(synths[c].app);
    expect(report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it.each(CONFIG_NAMES)('%s: every acknowledgement covers a real finding on that construct, and every finding has one', (c) => {
    const s = synths[c];
    const findings = allFindings(s.app);
    const acks = acknowledgements(s.app);
    for (const f of findings) {
      expect(acks.some((a) => a.rule === f.rule && (f.path === a.path || f.path.startsWith(`${a.path}/`))), `${f.rule} at ${f.path}`).toBe(true);
    }
    for (const a of acks) {
      expect(findings.some((f) => a.rule === f.rule && (f.path === a.path || f.path.startsWith(`${a.path}/`))), `stale acknowledgement ${a.rule} at ${a.path}`).toBe(true);
    }
  });

  it('the acknowledgements of the default deployment, each with its reason', () => {
    const s = synths.default;
    const acks = acknowledgements(s.app).map((a) => `${a.path.replace(/^Drydock\//, '')}: ${readable(s, a.rule)}`);
    const prefix = (p: string) => `AwsSolutions-IAM5[Resource::<Bucket.Arn>/${p}/*]`;
    expect(acks.sort()).toEqual(
      [
        'Analyzer/Role: AwsSolutions-IAM5[Resource::*]',
        'Analyzer/Role: AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecr:eu-west-1:111122223333:repository/*]',
        `Analyzer/Role: ${prefix('layers')}`,
        `Analyzer/Role: ${prefix('inventories')}`,
        `Analyzer/Role: ${prefix('sboms')}`,
        `Evaluator/Role: ${prefix('inventories')}`,
        'Evaluator/Role: AwsSolutions-IAM5[Resource::<Bucket.Arn>/feeds/*.summary.json]',
        `Evaluator/Role: ${prefix('reports')}`,
        `FeedSync/Role: ${prefix('feeds')}`,
        'Reconcile/Role: AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecr:eu-west-1:111122223333:repository/*]',
        `SlackNotifier/Role: ${prefix('reports')}`,
        'SlackWebhook: AwsSolutions-SMG4',
        ...['Analyzer', 'Evaluator', 'FeedSync', 'Rescan', 'Reconcile', 'SlackNotifier'].map((f) => `${f}/Function: AwsSolutions-L1`),
      ].sort(),
    );
    for (const a of acknowledgements(s.app)) {
      expect(a.reason.length, `${a.rule} at ${a.path}`).toBeGreaterThan(80);
    }
    const reasonOf = (rule: string) => acknowledgements(s.app).find((a) => a.rule === rule)!.reason;
    expect(reasonOf('AwsSolutions-IAM5[Resource::*]')).toMatch(/GetAuthorizationToken has no resource-level permissions/);
    expect(reasonOf('AwsSolutions-SMG4')).toMatch(/Slack issues it/);
    expect(reasonOf('AwsSolutions-L1')).toMatch(/nodejs22\.x is deliberate/);
    const reconcileEcr = acknowledgements(s.app).find((a) => a.path === 'Drydock/Reconcile/Role')!;
    expect(reconcileEcr.reason).toMatch(/DescribeRepositories without repository names .* is authorized against repository\/\*/);
  });

  it('the first-sync trigger (aws-cdk-lib/triggers) raises no finding: nothing is acknowledged for it', () => {
    for (const c of CONFIG_NAMES) {
      const findings = allFindings(synths[c].app);
      expect(findings.filter((f) => /FirstFeedSync|AWSCDK\.Trigger/.test(f.path))).toEqual([]);
      expect(acknowledgements(synths[c].app).filter((a) => /FirstFeedSync|AWSCDK\.Trigger/.test(a.path))).toEqual([]);
    }
  });

  it('with repositories named, only the wildcard pattern among them is acknowledged (and the listing reconcile needs)', () => {
    const s = synths.filtered;
    const ecr = acknowledgements(s.app)
      .filter((a) => a.rule.includes(':ecr:'))
      .map((a) => `${a.path.replace(/^Drydock\//, '')}: ${a.rule}`)
      .sort();
    const repo = (r: string) => `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecr:eu-west-1:111122223333:repository/${r}]`;
    expect(ecr).toEqual([`Analyzer/Role: ${repo('platform-*')}`, `Reconcile/Role: ${repo('*')}`, `Reconcile/Role: ${repo('platform-*')}`]);
    expect(acknowledgements(s.app).some((a) => a.rule === 'AwsSolutions-IAM5[Resource::*]')).toBe(true);
  });

  it('with Slack off, nothing is acknowledged for the notifier or the secret', () => {
    const acks = acknowledgements(synths.slackOff.app);
    expect(acks.filter((a) => /SlackNotifier|SlackWebhook/.test(a.path))).toEqual([]);
    expect(acks.filter((a) => a.rule === 'AwsSolutions-L1')).toHaveLength(5);
  });
});

describe('the checks are live', () => {
  it('report an unencrypted, unpoliced queue and a wildcard policy', () => {
    const app = new App();
    const stack = new Stack(app, 'Bad', { env: { account: '111122223333', region: 'eu-west-1' } });
    new sqs.Queue(stack, 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
    const rules = new Set(allFindings(app).map((f) => f.rule));
    for (const r of ['AwsSolutions-SQS2', 'AwsSolutions-SQS3', 'AwsSolutions-SQS4', 'AwsSolutions-IAM5[Action::s3:*]', 'AwsSolutions-IAM5[Resource::*]']) expect(rules, r).toContain(r);
  });

  it('fail the synth when registered as the app does (what npm run synth and deploy run)', () => {
    const app = new App();
    const stack = new Stack(app, 'Bad');
    new sqs.Queue(stack, 'Plain', { encryption: sqs.QueueEncryption.UNENCRYPTED });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS2/);
  });

  it('an acknowledgement names one finding: another wildcard on the same role is still reported', () => {
    const app = new App();
    const stack = new Stack(app, 'Acks', { env: { account: '111122223333', region: 'eu-west-1' } });
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    allow(role, 'One', ['s3:GetObject'], ['arn:aws:s3:::b/one/*'], { wildcardReason: 'a reason long enough for the test' });
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::b/two/*'] }));
    const open = new AwsSolutionsChecks().validateScope(app).violations.map((v) => v.ruleName);
    expect(open).toEqual(['AwsSolutions-IAM5[Resource::arn:aws:s3:::b/two/*]']);
  });
});

describe('allow()', () => {
  const role = () => {
    const stack = new Stack(new App(), 'S');
    return new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  };

  it('refuses wildcard actions, and wildcard resources without a reason', () => {
    expect(() => allow(role(), 'X', ['s3:Get*'], ['arn:aws:s3:::b/k'])).toThrow(/wildcard action s3:Get\*/);
    expect(() => allow(role(), 'X', ['s3:GetObject'], ['arn:aws:s3:::b/*'])).toThrow(/holds a wildcard and no reason/);
    expect(() => allow(role(), 'X', ['s3:GetObject'], ['arn:aws:s3:::b/k'])).not.toThrow();
  });

  it('flattens references the way cdk-nag prints them', () => {
    expect(flattenCfnReference({ 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Bucket1', 'Arn'] }, '/layers/*']] })).toBe('<Bucket1.Arn>/layers/*');
    expect(flattenCfnReference({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecr:x']] })).toBe('arn:<AWS::Partition>:ecr:x');
    expect(flattenCfnReference({ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::b/*' })).toBe('arn:<AWS::Partition>:s3:::b/*');
    expect(flattenCfnReference('*')).toBe('*');
  });
});
