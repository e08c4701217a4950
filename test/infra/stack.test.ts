/**
 * The synthesized Drydock stack (infra/), for three configurations: every resource type and
 * count, the tables against shared/adapters/aws/tables.ts, every IAM statement of every role,
 * the event patterns against the sample events in events/, queue and timeout relations, dead-
 * letter queues and their alarms, encryption, and the functions' bundles and environments.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_OSV_ECOSYSTEMS } from '../../shared/advisories/feeds.js';
import { TABLES, createTableInput } from '../../shared/adapters/aws/tables.js';
import { repositoryWanted } from '../../shared/pipeline/analyze.js';
import { ENVIRONMENT, FUNCTION_NEEDS, loadConfig, resourceVariable, type PipelineResources } from '../../shared/pipeline/config.js';
import { OBJECT_KEYS } from '../../shared/pipeline/deps.js';
import { FEED_SYNC_REQUESTED_DETAIL_TYPE } from '../../shared/pipeline/feed-sync.js';
import { FEATURE_FLAGS, createApp } from '../../infra/app.js';
import { DEFAULT_SETTINGS, SettingsError, settingsFromContext } from '../../infra/config.js';
import { BANNER, PROJECT_ROOT, SQL_WASM } from '../../infra/functions.js';
import { DrydockStack, PREFIXES, TIMEOUTS, VISIBILITY_FACTOR, tableConstructId } from '../../infra/stack.js';
import { matchesPattern, wildcard } from './event-pattern.js';
import { CONFIGS, ENV, cleanup, describeStatement, fn, roleStatements, synthAll, type CfnResourceJson, type Synth } from './support.js';

const SYNTH_TIMEOUT = 300_000;
let d: Synth; // default: all repositories, Slack on
let f: Synth; // filtered: repositories, policy bundle, platform, ecosystems, OSV mirror, reserved concurrency, results kept forever
let n: Synth; // Slack off, no reserved concurrency

beforeAll(async () => {
  ({ default: d, filtered: f, slackOff: n } = await synthAll(['default', 'filtered', 'slackOff']));
}, SYNTH_TIMEOUT);
afterAll(cleanup);

const event = (name: string) => JSON.parse(readFileSync(join(PROJECT_ROOT, 'events', name), 'utf8')) as Record<string, any>;
const props = (s: Synth, owner: string, type: string) => s.json.Resources[s.logicalId(owner, type)]!.Properties;
const counts = (s: Synth) => {
  const c: Record<string, number> = {};
  for (const r of Object.values(s.json.Resources)) c[r.Type] = (c[r.Type] ?? 0) + 1;
  return c;
};
/** the Lambda behind Custom::Trigger (aws-cdk-lib/triggers): one per stack, not a pipeline function */
const TRIGGER_PROVIDER = 'AWSCDK.TriggerCustomResourceProviderCustomResourceProvider';

// ---------------------------------------------------------------- every resource

describe('resources', () => {
  const withSlack = {
    'AWS::CloudWatch::Alarm': 4,
    'AWS::DynamoDB::Table': 5,
    // ECR, feed-sync schedule and continuation, advisories updated, full rescan, reconcile
    'AWS::Events::Rule': 6,
    'AWS::IAM::Policy': 6,
    // six functions + the trigger provider's
    'AWS::IAM::Role': 7,
    'AWS::KMS::Key': 1,
    'AWS::Lambda::EventSourceMapping': 3,
    'AWS::Lambda::Function': 7,
    'AWS::Lambda::Permission': 5,
    // feed-sync's version, invoked once by the first-sync trigger
    'AWS::Lambda::Version': 1,
    'Custom::Trigger': 1,
    'AWS::Logs::LogGroup': 6,
    'AWS::S3::Bucket': 2,
    'AWS::S3::BucketPolicy': 2,
    'AWS::SNS::Subscription': 1,
    'AWS::SNS::Topic': 2,
    'AWS::SNS::TopicPolicy': 2,
    'AWS::SQS::Queue': 7,
    'AWS::SQS::QueuePolicy': 7,
    'AWS::SecretsManager::Secret': 1,
  };

  it('has exactly these resources with Slack on (default and filtered), nothing else', () => {
    expect(counts(d)).toEqual(withSlack);
    expect(counts(f)).toEqual(withSlack);
  });

  it('leaves out the notifier, its secret, subscription, queue, event source, dead-letter queue and alarm with Slack off', () => {
    const { 'AWS::SNS::Subscription': _subscription, 'AWS::SecretsManager::Secret': _secret, ...rest } = withSlack;
    expect(counts(n)).toEqual({
      ...rest,
      'AWS::CloudWatch::Alarm': 3,
      'AWS::IAM::Policy': 5,
      'AWS::IAM::Role': 6,
      'AWS::Lambda::EventSourceMapping': 2,
      'AWS::Lambda::Function': 6,
      'AWS::Lambda::Permission': 5,
      'AWS::Logs::LogGroup': 5,
      'AWS::SQS::Queue': 5,
      'AWS::SQS::QueuePolicy': 5,
    });
    expect(n.stack.slackNotifier).toBeUndefined();
    expect(n.stack.slackQueue).toBeUndefined();
    expect(n.stack.slackDeadLetters).toBeUndefined();
    expect(Object.keys(n.json.Outputs ?? {})).not.toContain('SlackWebhookSecretArn');
  });

  it('synthesizes without warnings or errors', () => {
    for (const s of [d, f, n]) {
      expect(Annotations.fromStack(s.stack).findWarning('*', Match.anyValue())).toEqual([]);
      expect(Annotations.fromStack(s.stack).findError('*', Match.anyValue())).toEqual([]);
    }
  });

  it('outputs what the CLI and the deployer need', () => {
    const out = (s: Synth) => Object.fromEntries(Object.entries(s.json.Outputs ?? {}).filter(([k]) => !k.startsWith('Bootstrap')).map(([k, v]) => [k, s.name(v.Value)]));
    expect(out(d)).toEqual({
      ImagesTableName: '<ImagesTable>',
      PackageIndexTableName: '<PackageIndexTable>',
      ResultsTableName: '<ResultsTable>',
      AdvisoriesTableName: '<AdvisoriesTable>',
      BucketName: '<Bucket>',
      ScanQueueUrl: '<ScanQueue>',
      EvaluateQueueUrl: '<EvaluateQueue>',
      ResultsTopicArn: '<ResultsTopic>',
      AlarmTopicArn: '<AlarmTopic>',
      SlackWebhookSecretArn: '<SlackWebhook>',
    });
    expect(out(f).PolicyUpload).toBe('aws s3 cp shared/policy/default-bundle.json s3://<Bucket>/policies/bundle.json');
    // infra/README.md exports the CLI's variables from the outputs whose description is a DRYDOCK_* name
    const described = Object.fromEntries(Object.entries(d.json.Outputs ?? {}).map(([k, v]) => [k, (v as { Description?: string }).Description]));
    expect(Object.entries(described).filter(([, v]) => v?.startsWith('DRYDOCK_'))).toEqual([
      ['ImagesTableName', 'DRYDOCK_IMAGES_TABLE'],
      ['PackageIndexTableName', 'DRYDOCK_PACKAGE_INDEX_TABLE'],
      ['ResultsTableName', 'DRYDOCK_RESULTS_TABLE'],
      ['AdvisoriesTableName', 'DRYDOCK_ADVISORIES_TABLE'],
      ['BucketName', 'DRYDOCK_BUCKET'],
      ['ScanQueueUrl', 'DRYDOCK_SCAN_QUEUE_URL'],
      ['EvaluateQueueUrl', 'DRYDOCK_EVALUATE_QUEUE_URL'],
      ['ResultsTopicArn', 'DRYDOCK_RESULTS_TOPIC_ARN'],
    ]);
  });
});

// ---------------------------------------------------------------- DynamoDB

describe('DynamoDB tables', () => {
  const byName = (a: { AttributeName?: string }, b: { AttributeName?: string }) => (a.AttributeName ?? '').localeCompare(b.AttributeName ?? '');

  it('are built from shared/adapters/aws/tables.ts: keys, attributes and indexes as the adapters are tested with', () => {
    expect(d.resources('AWS::DynamoDB::Table')).toHaveLength(TABLES.length);
    for (const def of TABLES) {
      const t = props(d, tableConstructId(def), 'AWS::DynamoDB::Table');
      const want = createTableInput(def, 'unused');
      expect(t.KeySchema, def.id).toEqual(want.KeySchema);
      expect([...t.AttributeDefinitions].sort(byName), def.id).toEqual([...want.AttributeDefinitions!].sort(byName));
      expect(t.GlobalSecondaryIndexes, def.id).toEqual(want.GlobalSecondaryIndexes);
      expect(t.LocalSecondaryIndexes, def.id).toEqual(want.LocalSecondaryIndexes);
      expect(t.BillingMode, def.id).toBe('PAY_PER_REQUEST');
    }
  });

  it('has the index the rescan queries (package index: pkg → digest) and the images list index', () => {
    expect(props(d, 'PackageIndexTable', 'AWS::DynamoDB::Table').KeySchema).toEqual([
      { AttributeName: 'pkg', KeyType: 'HASH' },
      { AttributeName: 'digest', KeyType: 'RANGE' },
    ]);
    expect(props(d, 'ImagesTable', 'AWS::DynamoDB::Table').GlobalSecondaryIndexes.map((g: { IndexName: string }) => g.IndexName)).toEqual(['byUpdated', 'byRepository']);
    expect(props(d, 'ResultsTable', 'AWS::DynamoDB::Table').LocalSecondaryIndexes.map((g: { IndexName: string }) => g.IndexName)).toEqual(['byTime']);
  });

  it('are encrypted (KMS, AWS managed key) with point-in-time recovery', () => {
    for (const [id, t] of d.resources('AWS::DynamoDB::Table')) {
      expect(t.Properties.SSESpecification, id).toEqual({ SSEEnabled: true });
      expect(t.Properties.PointInTimeRecoverySpecification, id).toEqual({ PointInTimeRecoveryEnabled: true });
    }
  });

  it('expires idempotency records (TTL on expiration) and results (TTL on expiresAt), nothing else', () => {
    for (const s of [d, f]) {
      for (const def of TABLES) {
        const t = props(s, tableConstructId(def), 'AWS::DynamoDB::Table');
        if (def.id === 'idempotency') expect(t.TimeToLiveSpecification).toEqual({ AttributeName: 'expiration', Enabled: true });
        // the attribute is always enabled; resultRetentionDays=0 means the evaluator writes no expiresAt
        else if (def.id === 'results') expect(t.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
        else expect(t.TimeToLiveSpecification, def.id).toBeUndefined();
      }
    }
  });

  it('keeps the scanner state on stack deletion, not the idempotency records', () => {
    for (const def of TABLES) {
      const t = d.json.Resources[d.logicalId(tableConstructId(def), 'AWS::DynamoDB::Table')]!;
      expect(t.DeletionPolicy, def.id).toBe(def.id === 'idempotency' ? 'Delete' : 'Retain');
    }
  });
});

// ---------------------------------------------------------------- S3

describe('S3', () => {
  const denyInsecure = (s: Synth, owner: string) =>
    props(s, owner, 'AWS::S3::BucketPolicy').PolicyDocument.Statement.filter((st: Record<string, unknown>) => st.Effect === 'Deny').map((st: Record<string, unknown>) => describeStatement(s, st));

  it('the bucket: SSE-S3, public access blocked, TLS 1.2+ only, access logs', () => {
    const b = props(d, 'Bucket', 'AWS::S3::Bucket');
    expect(b.BucketEncryption).toEqual({ ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
    expect(b.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(b.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    expect(d.name(b.LoggingConfiguration)).toBe(JSON.stringify({ DestinationBucketName: { Ref: d.logicalId('AccessLogs', 'AWS::S3::Bucket') }, LogFilePrefix: 'drydock/' }));
    expect(denyInsecure(d, 'Bucket')).toEqual([
      'Deny s3:* on <Bucket.Arn> <Bucket.Arn>/* if {"Bool":{"aws:SecureTransport":"false"}}',
      'Deny s3:* on <Bucket.Arn> <Bucket.Arn>/* if {"NumericLessThan":{"s3:TlsVersion":1.2}}',
    ]);
    expect(props(d, 'Bucket', 'AWS::S3::BucketPolicy').PolicyDocument.Statement.filter((st: Record<string, unknown>) => st.Effect === 'Allow')).toEqual([]);
  });

  it('expires the layer cache and the reports (both configurable, reports = the results retention) and aborts incomplete uploads', () => {
    const rules = (s: Synth) => props(s, 'Bucket', 'AWS::S3::Bucket').LifecycleConfiguration.Rules;
    expect(rules(d)).toEqual([
      { Id: 'expire-layer-cache', Prefix: 'layers/', ExpirationInDays: 30, Status: 'Enabled' },
      { Id: 'expire-reports', Prefix: 'reports/', ExpirationInDays: 180, Status: 'Enabled' },
      { Id: 'abort-incomplete-uploads', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' },
    ]);
    expect(DEFAULT_SETTINGS.resultRetentionDays).toBe(180);
    // resultRetentionDays=0: reports are kept forever, like the results rows
    expect(rules(f)).toEqual([
      { Id: 'expire-layer-cache', Prefix: 'layers/', ExpirationInDays: 14, Status: 'Enabled' },
      { Id: 'abort-incomplete-uploads', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' },
    ]);
    // the same number reaches the evaluator, which sets the rows' expiresAt
    expect(fn(d, 'Evaluator').Properties.Environment.Variables.DRYDOCK_RESULT_RETENTION_DAYS).toBe('180');
    expect(fn(f, 'Evaluator').Properties.Environment.Variables.DRYDOCK_RESULT_RETENTION_DAYS).toBe('0');
  });

  it('the access-log bucket: SSE-S3, blocked, TLS only, 90 days, written only by S3 logging for the bucket', () => {
    const b = props(d, 'AccessLogs', 'AWS::S3::Bucket');
    expect(b.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
    expect(b.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(b.LifecycleConfiguration.Rules).toEqual([{ Id: 'expire-access-logs', ExpirationInDays: 90, Status: 'Enabled' }]);
    expect(denyInsecure(d, 'AccessLogs')).toHaveLength(2);
    const allows = props(d, 'AccessLogs', 'AWS::S3::BucketPolicy').PolicyDocument.Statement.filter((st: Record<string, unknown>) => st.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0].Principal).toEqual({ Service: 'logging.s3.amazonaws.com' });
    expect(describeStatement(d, allows[0])).toBe(
      's3:PutObject on <AccessLogs.Arn>/drydock/* if {"ArnLike":{"aws:SourceArn":{"Fn::GetAtt":["' + d.logicalId('Bucket', 'AWS::S3::Bucket') + '","Arn"]}},"StringEquals":{"aws:SourceAccount":"111122223333"}}',
    );
  });
});

// ---------------------------------------------------------------- SQS, timeouts, dead letters

describe('queues', () => {
  const queueOf = (s: Synth, arnRef: unknown) => s.name(arnRef).replace(/^<(.*)\.Arn>$/, '$1');

  it('are all encrypted (SSE-SQS) and refuse plain-HTTP requests', () => {
    for (const s of [d, n]) {
      for (const [id, q] of s.resources('AWS::SQS::Queue')) expect(q.Properties.SqsManagedSseEnabled, id).toBe(true);
      const policed = new Set<string>();
      for (const [, p] of s.resources('AWS::SQS::QueuePolicy')) {
        const deny = p.Properties.PolicyDocument.Statement.filter((st: Record<string, any>) => st.Effect === 'Deny');
        expect(deny).toHaveLength(1);
        expect(deny[0].Condition).toEqual({ Bool: { 'aws:SecureTransport': 'false' } });
        expect(deny[0].Action).toBe('sqs:*');
        for (const q of p.Properties.Queues) policed.add(s.name(q));
      }
      expect(policed.size).toBe(s.resources('AWS::SQS::Queue').length);
    }
  });

  it('visibility timeout ≥ 6 × the consuming function\'s timeout, DLQ after maxReceiveCount = DRYDOCK_MAX_RECEIVE_COUNT', () => {
    for (const s of [d, f, n]) {
      const mappings = s.resources('AWS::Lambda::EventSourceMapping');
      expect(mappings.map(([, m]) => `${queueOf(s, m.Properties.EventSourceArn)} → ${s.name(m.Properties.FunctionName)}`).sort()).toEqual([
        'EvaluateQueue → <Evaluator/Function>',
        'ScanQueue → <Analyzer/Function>',
        ...(s.stack.slackNotifier ? ['SlackQueue → <SlackNotifier/Function>'] : []),
      ]);
      for (const [, m] of mappings) {
        const queue = props(s, queueOf(s, m.Properties.EventSourceArn), 'AWS::SQS::Queue');
        const owner = s.name(m.Properties.FunctionName).slice(1).split('/')[0]!;
        const func = fn(s, owner).Properties;
        expect(queue.VisibilityTimeout, owner).toBeGreaterThanOrEqual(VISIBILITY_FACTOR * func.Timeout);
        expect(queue.RedrivePolicy.maxReceiveCount, owner).toBe(5);
        if (owner === 'SlackNotifier') {
          // it dead-letters nothing itself: a poison record is logged and skipped, a failed batch is
          // thrown back to the queue, which moves it to its dead-letter queue after maxReceiveCount
          expect(Object.keys(func.Environment.Variables)).not.toContain('DRYDOCK_MAX_RECEIVE_COUNT');
          expect(Object.keys(func.Environment.Variables)).not.toContain('DRYDOCK_DEAD_LETTER_QUEUE_URL');
          continue;
        }
        expect(func.Environment.Variables.DRYDOCK_MAX_RECEIVE_COUNT, owner).toBe(String(queue.RedrivePolicy.maxReceiveCount));
        // poison messages go straight to the same dead-letter queue the queue redrives to
        expect(s.name(func.Environment.Variables.DRYDOCK_DEAD_LETTER_QUEUE_URL), owner).toBe(s.name(queue.RedrivePolicy.deadLetterTargetArn).replace('.Arn>', '>'));
      }
    }
    expect(props(d, 'ScanQueue', 'AWS::SQS::Queue').VisibilityTimeout).toBe(6 * 15 * 60);
    expect(props(d, 'EvaluateQueue', 'AWS::SQS::Queue').VisibilityTimeout).toBe(6 * TIMEOUTS.evaluator.toSeconds());
    expect(props(d, 'SlackQueue', 'AWS::SQS::Queue').VisibilityTimeout).toBe(6 * 60);
    expect(TIMEOUTS.slackNotifier.toSeconds()).toBe(60);
  });

  it('dead-letter queues keep messages longer than their sources (14 days vs 4)', () => {
    for (const [src, dlq] of [['ScanQueue', 'ScanDeadLetters'], ['EvaluateQueue', 'EvaluateDeadLetters'], ['SlackQueue', 'SlackDeadLetters']] as const) {
      expect(props(d, src, 'AWS::SQS::Queue').MessageRetentionPeriod).toBe(4 * 86_400);
      expect(props(d, dlq, 'AWS::SQS::Queue').MessageRetentionPeriod).toBe(14 * 86_400);
      expect(d.name(props(d, src, 'AWS::SQS::Queue').RedrivePolicy.deadLetterTargetArn)).toBe(`<${dlq}.Arn>`);
    }
  });

  it('event source mappings: partial batch responses, analyzer batch 1 (or 2), evaluator 10, Slack 50 within a minute, pollers capped (≤ reserved concurrency when reserved)', () => {
    const esm = (s: Synth, owner: string) => s.resources('AWS::Lambda::EventSourceMapping').find(([, m]) => s.name(m.Properties.FunctionName) === `<${owner}/Function>`)![1].Properties;
    for (const s of [d, f, n]) {
      for (const owner of ['Analyzer', 'Evaluator']) expect(esm(s, owner).FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(esm(s, 'Evaluator').BatchSize).toBe(10);
      for (const owner of ['Analyzer', 'Evaluator']) expect(esm(s, owner).MaximumBatchingWindowInSeconds, owner).toBeUndefined();
    }
    expect(esm(d, 'Analyzer').BatchSize).toBe(1);
    expect(esm(f, 'Analyzer').BatchSize).toBe(2);
    for (const s of [d, f]) {
      // a feed update's many results gathered into one invocation (one summary); a batch that
      // cannot be posted fails as a whole (no partial batch responses)
      const slack = esm(s, 'SlackNotifier');
      expect(s.name(slack.EventSourceArn)).toBe('<SlackQueue.Arn>');
      expect(slack.BatchSize).toBe(50);
      expect(slack.MaximumBatchingWindowInSeconds).toBe(60);
      expect(slack.FunctionResponseTypes).toBeUndefined();
    }
    // reserved (filtered): the pollers never exceed what the function may run
    for (const owner of ['Analyzer', 'Evaluator', 'SlackNotifier']) {
      expect(esm(f, owner).ScalingConfig.MaximumConcurrency, owner).toBe(fn(f, owner).Properties.ReservedConcurrentExecutions);
    }
    // not reserved (the default): the same numbers still bound the pollers
    for (const s of [d, n]) {
      expect(esm(s, 'Analyzer').ScalingConfig, 'Analyzer').toEqual({ MaximumConcurrency: DEFAULT_SETTINGS.analyzerConcurrency });
      expect(esm(s, 'Evaluator').ScalingConfig, 'Evaluator').toEqual({ MaximumConcurrency: DEFAULT_SETTINGS.evaluatorConcurrency });
      for (const [id, fun] of s.resources('AWS::Lambda::Function')) expect(fun.Properties.ReservedConcurrentExecutions, id).toBeUndefined();
    }
    expect(esm(d, 'SlackNotifier').ScalingConfig).toEqual({ MaximumConcurrency: 2 });
    // SQS's allowed range for maximumConcurrency
    for (const s of [d, f, n]) {
      for (const [, m] of s.resources('AWS::Lambda::EventSourceMapping')) {
        expect(m.Properties.ScalingConfig.MaximumConcurrency).toBeGreaterThanOrEqual(2);
        expect(m.Properties.ScalingConfig.MaximumConcurrency).toBeLessThanOrEqual(1000);
      }
    }
  });

  it('a new account can deploy: nothing reserved by default; a concurrency of 1 still caps the pollers at SQS\'s minimum of 2 (bundling skipped: only the template is read)', () => {
    expect(DEFAULT_SETTINGS.reservedConcurrency).toBe(false);
    const template = (id: string, settings: Partial<typeof DEFAULT_SETTINGS>) => {
      const app = new App({ analyticsReporting: false, context: { ...FEATURE_FLAGS, 'aws:cdk:bundling-stacks': [] } });
      const stack = new DrydockStack(app, id, { ...settings, env: ENV });
      return Object.values(Template.fromStack(stack).toJSON().Resources as Record<string, { Type: string; Properties: Record<string, any> }>);
    };
    const mappings = (resources: ReturnType<typeof template>) =>
      resources.filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping').map((r) => [r.Properties.BatchSize, r.Properties.ScalingConfig?.MaximumConcurrency]).sort((a, b) => a[0] - b[0]);
    const one = template('OneAtATime', { analyzerConcurrency: 1, evaluatorConcurrency: 1 });
    expect(mappings(one)).toEqual([[1, 2], [10, 2], [50, 2]]);
    for (const r of one.filter((r) => r.Type === 'AWS::Lambda::Function')) expect(r.Properties.ReservedConcurrentExecutions).toBeUndefined();
    // reserved: a concurrency of 1 is the reservation itself, and no poller cap above it
    const reservedOne = template('ReservedOne', { reservedConcurrency: true, analyzerConcurrency: 1, evaluatorConcurrency: 3 });
    expect(mappings(reservedOne)).toEqual([[1, undefined], [10, 3], [50, 2]]);
  });

  /** the queues something sends its failures to: queue redrives, rule targets, function DLQs, subscription DLQs */
  const deadLetterQueuesOf = (s: Synth) => {
    const deadLetterQueues = new Set<string>();
    for (const [, q] of s.resources('AWS::SQS::Queue')) if (q.Properties.RedrivePolicy) deadLetterQueues.add(queueOf(s, q.Properties.RedrivePolicy.deadLetterTargetArn));
    for (const [, r] of s.resources('AWS::Events::Rule')) for (const t of r.Properties.Targets) deadLetterQueues.add(queueOf(s, t.DeadLetterConfig.Arn));
    for (const [, fun] of s.resources('AWS::Lambda::Function')) if (fun.Properties.DeadLetterConfig) deadLetterQueues.add(queueOf(s, fun.Properties.DeadLetterConfig.TargetArn));
    for (const [, sub] of s.resources('AWS::SNS::Subscription')) deadLetterQueues.add(queueOf(s, sub.Properties.RedrivePolicy.deadLetterTargetArn));
    return deadLetterQueues;
  };

  it('every dead-letter queue has an alarm that notifies the alarm topic, and every other queue has a dead-letter queue', () => {
    for (const s of [d, n]) {
      const deadLetterQueues = deadLetterQueuesOf(s);

      const alarmed = new Map<string, Record<string, any>>();
      for (const [, a] of s.resources('AWS::CloudWatch::Alarm')) alarmed.set(s.name(a.Properties.Dimensions[0].Value).replace(/^<(.*)\.QueueName>$/, '$1'), a.Properties);
      expect([...alarmed.keys()].sort()).toEqual([...deadLetterQueues].sort());
      for (const [q, a] of alarmed) {
        expect(a, q).toMatchObject({
          Namespace: 'AWS/SQS',
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Statistic: 'Maximum',
          Period: 300,
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          EvaluationPeriods: 1,
          TreatMissingData: 'notBreaching',
        });
        expect(a.Dimensions).toHaveLength(1);
        expect(a.AlarmActions.map(s.name)).toEqual(['<AlarmTopic>']);
      }
      const sources = s.resources('AWS::SQS::Queue').map(([id]) => s.owner.get(id)!).filter((q) => !deadLetterQueues.has(q));
      expect(sources.sort()).toEqual(['EvaluateQueue', 'ScanQueue', ...(s.stack.slackQueue ? ['SlackQueue'] : [])]);
      for (const q of sources) expect(props(s, q, 'AWS::SQS::Queue').RedrivePolicy, q).toBeDefined();
    }
    expect([...deadLetterQueuesOf(d)].sort()).toEqual(['EvaluateDeadLetters', 'EventDeadLetters', 'ScanDeadLetters', 'SlackDeadLetters']);
    expect([...d.stack.alarms].length).toBe(4);
  });
});

// ---------------------------------------------------------------- functions

describe('functions', () => {
  const spec = {
    Analyzer: { Timeout: 900, MemorySize: 3008, ReservedConcurrentExecutions: 10 },
    Evaluator: { Timeout: 300, MemorySize: 1024, ReservedConcurrentExecutions: 5 },
    FeedSync: { Timeout: 900, MemorySize: 3008, ReservedConcurrentExecutions: 1 },
    Rescan: { Timeout: 300, MemorySize: 1024, ReservedConcurrentExecutions: 1 },
    Reconcile: { Timeout: 300, MemorySize: 512, ReservedConcurrentExecutions: 1 },
    SlackNotifier: { Timeout: 60, MemorySize: 256, ReservedConcurrentExecutions: 2 },
  };
  /** the pipeline's functions (not the trigger provider) */
  const pipelineFunctions = (s: Synth) => s.resources('AWS::Lambda::Function').filter(([id]) => s.owner.get(id) !== TRIGGER_PROVIDER);

  it('nodejs22.x on arm64, the timeout, memory and (with reservedConcurrency=true) reserved concurrency of the job', () => {
    expect(pipelineFunctions(d).map(([id]) => d.owner.get(id)).sort()).toEqual(Object.keys(spec).sort());
    for (const [owner, { ReservedConcurrentExecutions, ...want }] of Object.entries(spec)) {
      const p = fn(d, owner).Properties;
      expect(p, owner).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.handler', ...want });
      expect(p.ReservedConcurrentExecutions, owner).toBeUndefined();
      expect(fn(f, owner).Properties.ReservedConcurrentExecutions, owner).toBe(ReservedConcurrentExecutions);
      expect(d.name(p.Role)).toBe(`<${owner}/Role.Arn>`);
      expect(d.name(p.LoggingConfig)).toBe(JSON.stringify({ LogGroup: { Ref: d.logicalId(owner, 'AWS::Logs::LogGroup') } }));
    }
    for (const [id, fun] of n.resources('AWS::Lambda::Function')) expect(fun.Properties.ReservedConcurrentExecutions, id).toBeUndefined();
  });

  it('the first feed sync runs at deploy time: a trigger invokes feed-sync once, asynchronously, after what it uses', () => {
    for (const s of [d, n]) {
      const [[id, trigger]] = s.resources('Custom::Trigger') as [[string, CfnResourceJson]];
      expect(s.owner.get(id)).toBe('FirstFeedSync');
      const { ServiceToken, HandlerArn, ...rest } = trigger.Properties;
      expect(s.name(ServiceToken)).toBe(`<${TRIGGER_PROVIDER}/Handler.Arn>`);
      // a version of feed-sync (replaced, not kept, on the next code change)
      expect(s.name(HandlerArn)).toBe('<FeedSync/Function/CurrentVersion>');
      const version = s.json.Resources[(HandlerArn as { Ref: string }).Ref]!;
      expect(version).toMatchObject({ Type: 'AWS::Lambda::Version', DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
      expect(s.name(version.Properties.FunctionName)).toBe('<FeedSync/Function>');
      // Event: the deploy does not wait for the sync; only on creation, not on each code change
      expect(rest).toEqual({ InvocationType: 'Event', Timeout: '120000', ExecuteOnHandlerChange: false });
      // created after feed-sync (role, policy, log group), its continuation rule and target permission, what it writes, and rescan
      const after = new Set((trigger.DependsOn ?? []).map((dep) => s.path.get(dep) ?? dep));
      for (const dep of ['FeedSync/Function', 'FeedSync/Role', 'FeedSync/Role/DefaultPolicy', 'FeedSyncRequestedRule', 'AdvisoriesUpdatedRule', 'AdvisoriesTable', 'Bucket', 'Rescan/Function', 'EventDeadLetters']) {
        expect(after, dep).toContain(dep);
      }
      // the permission that lets the continuation rule invoke feed-sync
      expect([...after].some((p) => p.startsWith('FeedSyncRequestedRule/AllowEventRule')), [...after].join(' ')).toBe(true);
    }
  });

  it('the trigger provider may only invoke feed-sync (and write its own logs)', () => {
    const role = props(d, TRIGGER_PROVIDER, 'AWS::IAM::Role');
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }]);
    expect(role.ManagedPolicyArns.map(d.name)).toEqual(['{"Fn::Sub":"arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}']);
    expect(role.Policies).toHaveLength(1);
    expect(role.Policies[0].PolicyDocument.Statement.map((st: Record<string, unknown>) => describeStatement(d, st))).toEqual(['lambda:InvokeFunction on <FeedSync/Function.Arn>:*']);
  });

  it('log groups: one per function, kept a month', () => {
    for (const owner of Object.keys(spec)) expect(props(d, owner, 'AWS::Logs::LogGroup').RetentionInDays).toBe(30);
  });

  it('roles: assumed by Lambda only, no managed or inline policies (every permission is a statement tested below)', () => {
    for (const [id, r] of d.resources('AWS::IAM::Role').filter(([id]) => d.owner.get(id) !== TRIGGER_PROVIDER)) {
      expect(r.Properties.AssumeRolePolicyDocument.Statement, id).toEqual([{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }]);
      expect(r.Properties.ManagedPolicyArns, id).toBeUndefined();
      expect(r.Properties.Policies, id).toBeUndefined();
    }
    for (const [id, p] of d.resources('AWS::IAM::Policy')) expect(p.Properties.Roles, id).toHaveLength(1);
  });

  const env = (s: Synth, owner: string): Record<string, string> =>
    Object.fromEntries(Object.entries(fn(s, owner).Properties.Environment.Variables as Record<string, unknown>).map(([k, v]) => [k, s.name(v)]));

  it('analyzer and evaluator environments: the variables shared/pipeline/config.ts reads, naming the right resources', () => {
    expect(env(d, 'Analyzer')).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      DRYDOCK_IMAGES_TABLE: '<ImagesTable>',
      DRYDOCK_PACKAGE_INDEX_TABLE: '<PackageIndexTable>',
      DRYDOCK_IDEMPOTENCY_TABLE: '<IdempotencyTable>',
      DRYDOCK_BUCKET: '<Bucket>',
      DRYDOCK_SCAN_QUEUE_URL: '<ScanQueue>',
      DRYDOCK_EVALUATE_QUEUE_URL: '<EvaluateQueue>',
      DRYDOCK_DEAD_LETTER_QUEUE_URL: '<ScanDeadLetters>',
      DRYDOCK_RESULTS_TOPIC_ARN: '<ResultsTopic>',
      DRYDOCK_MAX_RECEIVE_COUNT: '5',
      DRYDOCK_STALE_CLAIM_SECONDS: '1200',
    });
    expect(env(f, 'Analyzer')).toMatchObject({ DRYDOCK_REPOSITORIES: 'team/api,team/web,platform-*', DRYDOCK_PLATFORM: 'linux/arm64', DRYDOCK_LIMIT_MAX_KEPT_BYTES: String(512 * 1024 ** 2), DRYDOCK_LIMIT_MAX_EXPANSION_RATIO: '1000' });
    expect(env(d, 'Evaluator')).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      DRYDOCK_IMAGES_TABLE: '<ImagesTable>',
      DRYDOCK_RESULTS_TABLE: '<ResultsTable>',
      DRYDOCK_ADVISORIES_TABLE: '<AdvisoriesTable>',
      DRYDOCK_IDEMPOTENCY_TABLE: '<IdempotencyTable>',
      DRYDOCK_BUCKET: '<Bucket>',
      DRYDOCK_RESULTS_TOPIC_ARN: '<ResultsTopic>',
      DRYDOCK_EVALUATE_QUEUE_URL: '<EvaluateQueue>',
      DRYDOCK_DEAD_LETTER_QUEUE_URL: '<EvaluateDeadLetters>',
      DRYDOCK_MAX_RECEIVE_COUNT: '5',
      DRYDOCK_RESULT_RETENTION_DAYS: '180',
      DRYDOCK_EXPLOIT_FEEDS: '1',
    });
    expect(env(f, 'Evaluator').DRYDOCK_POLICY_KEY).toBe('policies/bundle.json');
    expect(env(f, 'Evaluator').DRYDOCK_RESULT_RETENTION_DAYS).toBe('0');
    // fail-closed advisory gate: the defaults need no variable; the filtered stack opts out and sets an age
    expect(env(f, 'Evaluator')).toMatchObject({ DRYDOCK_ALLOW_MISSING_ADVISORIES: '1', DRYDOCK_MAX_ADVISORY_AGE: '36h' });
    // retry backoff: each changes the visibility of a failed message on its own source queue
    expect(env(d, 'Analyzer').DRYDOCK_SCAN_QUEUE_URL).toBe('<ScanQueue>');
    expect(env(d, 'Evaluator').DRYDOCK_EVALUATE_QUEUE_URL).toBe('<EvaluateQueue>');
    // every DRYDOCK_* variable is one the pipeline's configuration knows
    for (const owner of ['Analyzer', 'Evaluator', 'Reconcile']) {
      for (const k of Object.keys(env(f, owner)).filter((k) => k.startsWith('DRYDOCK_'))) expect(Object.keys(ENVIRONMENT), `${owner} ${k}`).toContain(k);
    }
  });

  it("the handlers' own configuration accepts what is deployed (what each handler needs is there)", () => {
    const needs: Record<string, Array<keyof PipelineResources>> = {
      // functions/*/handler.ts: depsFromEnv([...])
      Analyzer: ['imagesTable', 'packageIndexTable', 'bucket', 'scanQueueUrl', 'evaluateQueueUrl', 'resultsTopicArn'],
      Evaluator: ['imagesTable', 'resultsTable', 'advisoriesTable', 'bucket', 'resultsTopicArn', 'evaluateQueueUrl'],
      FeedSync: ['advisoriesTable', 'bucket'],
      Rescan: ['packageIndexTable', 'imagesTable', 'evaluateQueueUrl'],
      Reconcile: ['imagesTable', 'scanQueueUrl'],
    };
    for (const s of [d, f]) {
      for (const [owner, need] of Object.entries(needs)) {
        const { config, resources } = loadConfig(env(s, owner), need);
        for (const r of need) expect(resources[r], `${owner} ${r}`).toMatch(/^<.+>$/);
        if (owner === 'Analyzer' || owner === 'Evaluator') {
          expect(config.maxReceiveCount).toBe(s.stack.settings.maxReceiveCount);
          expect(resources.idempotencyTable).toBe('<IdempotencyTable>');
          expect(resources.deadLetterQueueUrl).toBeDefined();
        }
        if (owner === 'Analyzer') expect(config.staleClaimMs).toBeGreaterThan(TIMEOUTS.analyzer.toMilliseconds());
        if (owner === 'Evaluator') expect(config.resultRetentionDays).toBe(s.stack.settings.resultRetentionDays);
      }
    }
    expect(loadConfig(env(f, 'Reconcile'), []).config.repositories).toEqual(['team/api', 'team/web', 'platform-*']);
    // what each handler builds at cold start (FUNCTION_NEEDS, shared/pipeline/config.ts) is deployed with it
    const owners: Record<keyof typeof FUNCTION_NEEDS, string> = { analyzer: 'Analyzer', evaluator: 'Evaluator', feedSync: 'FeedSync', rescan: 'Rescan', reconcile: 'Reconcile' };
    for (const s of [d, f, n]) {
      for (const [fnName, need] of Object.entries(FUNCTION_NEEDS) as Array<[keyof typeof FUNCTION_NEEDS, ReadonlyArray<keyof PipelineResources>]>) {
        for (const r of need) expect(Object.keys(env(s, owners[fnName])), `${fnName} ${r}`).toContain(resourceVariable(r));
      }
    }
    expect(loadConfig(env(f, 'Analyzer'), []).config.repositories).toEqual(['team/api', 'team/web', 'platform-*']);
    expect(loadConfig(env(f, 'Analyzer'), []).config.platform).toEqual({ os: 'linux', architecture: 'arm64' });
  });

  it('feed-sync, rescan and slack-notifier environments', () => {
    expect(env(d, 'FeedSync')).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      DRYDOCK_ADVISORIES_TABLE: '<AdvisoriesTable>',
      DRYDOCK_BUCKET: '<Bucket>',
      DRYDOCK_EVENT_BUS_NAME: 'default',
      DRYDOCK_OSV_ECOSYSTEMS: DEFAULT_OSV_ECOSYSTEMS.join(','),
      DRYDOCK_ALAS_STREAMS: 'al2-core,al2023-core',
      DRYDOCK_EXPLOIT_FEEDS: '1',
    });
    expect(env(f, 'FeedSync')).toMatchObject({ DRYDOCK_OSV_ECOSYSTEMS: 'Debian,npm', DRYDOCK_ALAS_STREAMS: 'al2023-core,al2-extras/kernel-5.15', DRYDOCK_OSV_URL: 'https://osv-mirror.example.org' });
    expect(env(d, 'Rescan')).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      DRYDOCK_PACKAGE_INDEX_TABLE: '<PackageIndexTable>',
      DRYDOCK_IMAGES_TABLE: '<ImagesTable>',
      DRYDOCK_EVALUATE_QUEUE_URL: '<EvaluateQueue>',
    });
    // reconcile: what it lists against (the images table), where it queues (the scan queue), which repositories
    expect(env(d, 'Reconcile')).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      DRYDOCK_IMAGES_TABLE: '<ImagesTable>',
      DRYDOCK_SCAN_QUEUE_URL: '<ScanQueue>',
    });
    expect(env(f, 'Reconcile')).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      DRYDOCK_IMAGES_TABLE: '<ImagesTable>',
      DRYDOCK_SCAN_QUEUE_URL: '<ScanQueue>',
      DRYDOCK_REPOSITORIES: 'team/api,team/web,platform-*',
    });
    expect(env(d, 'SlackNotifier')).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      DRYDOCK_SLACK_WEBHOOK_SECRET_ARN: '<SlackWebhook>',
      DRYDOCK_BUCKET: '<Bucket>',
      DRYDOCK_REPORT_URL_TTL_SECONDS: '3600',
    });
  });

  it('asynchronous invocations that still fail go to a dead-letter queue; functions fed by a queue have none (the queue has)', () => {
    for (const s of [d, n]) {
      // invoked asynchronously = allowed to be invoked by a rule; the others are polled from a queue
      const asynchronous = new Set(s.resources('AWS::Lambda::Permission').map(([, p]) => s.name(p.Properties.FunctionName).slice(1).split('/')[0]!));
      const polled = new Set(s.resources('AWS::Lambda::EventSourceMapping').map(([, m]) => s.name(m.Properties.FunctionName).slice(1).split('/')[0]!));
      expect([...asynchronous].sort()).toEqual(['FeedSync', 'Reconcile', 'Rescan']);
      expect([...polled].sort()).toEqual(['Analyzer', 'Evaluator', ...(s.stack.slackNotifier ? ['SlackNotifier'] : [])]);
      const withDlq = s.resources('AWS::Lambda::Function').filter(([, fun]) => fun.Properties.DeadLetterConfig).map(([id]) => s.owner.get(id)!);
      expect(withDlq.sort()).toEqual([...asynchronous].sort());
    }
    const dlq = (owner: string) => d.name(fn(d, owner).Properties.DeadLetterConfig?.TargetArn);
    expect(dlq('FeedSync')).toBe('<EventDeadLetters.Arn>');
    expect(dlq('Rescan')).toBe('<EventDeadLetters.Arn>');
    expect(dlq('Reconcile')).toBe('<EventDeadLetters.Arn>');
    expect(fn(d, 'SlackNotifier').Properties.DeadLetterConfig).toBeUndefined();
    expect(fn(d, 'SlackNotifier').Properties.DestinationConfig).toBeUndefined();
  });

  it('are bundled by the local esbuild: ESM with the createRequire banner, the AWS SDK inside, sql-wasm.wasm and layer-worker.mjs beside the analyzer only', () => {
    const placeholder = readFileSync(join(PROJECT_ROOT, 'functions/reconcile/handler.ts'), 'utf8').includes('PLACEHOLDER');
    for (const owner of ['Analyzer', 'Evaluator', 'FeedSync', 'Rescan', 'Reconcile', 'SlackNotifier']) {
      const key = fn(d, owner).Properties.Code.S3Key as string;
      const dir = join(d.outdir, `asset.${key.replace(/\.zip$/, '')}`);
      const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
      expect(code.startsWith(BANNER), owner).toBe(true);
      expect(code, owner).toMatch(/\bexport\s*\{[^}]*\bhandler\b/);
      // bundled, not imported from the runtime's copy
      expect(code, owner).not.toMatch(/from\s*["']@aws-sdk\//);
      if (!(owner === 'Reconcile' && placeholder)) expect(code, owner).toContain('@aws-sdk/');
      expect(existsSync(join(dir, 'index.mjs.map')), owner).toBe(true);
      const wasm = join(dir, 'sql-wasm.wasm');
      if (owner === 'Analyzer') expect(readFileSync(wasm).equals(readFileSync(join(PROJECT_ROOT, SQL_WASM)))).toBe(true);
      else expect(existsSync(wasm), owner).toBe(false);
      // the layer workers' entry point: a bundle of its own with the same banner, that serves only in a thread the pool starts
      const worker = join(dir, 'layer-worker.mjs');
      if (owner === 'Analyzer') {
        const text = readFileSync(worker, 'utf8');
        expect(text.startsWith(BANNER)).toBe(true);
        expect(text).toContain('drydock-layer-worker');
        expect(text).not.toMatch(/from\s*["']@aws-sdk\//);
        expect(existsSync(`${worker}.map`)).toBe(true);
      } else expect(existsSync(worker), owner).toBe(false);
    }
  });
});

// ---------------------------------------------------------------- IAM: every statement

/** The confused-deputy conditions on what CloudWatch may do with the alarm topic and the key. */
const FROM_OUR_ALARMS = JSON.stringify({
  StringEquals: { 'aws:SourceAccount': '111122223333' },
  ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:eu-west-1:111122223333:alarm:*']] } },
});

describe('IAM', () => {
  const LOGS = (owner: string) => `logs:CreateLogStream,logs:PutLogEvents on <${owner}/Logs.Arn>`;
  const CONSUME = (queue: string) => `sqs:ChangeMessageVisibility,sqs:DeleteMessage,sqs:GetQueueAttributes,sqs:GetQueueUrl,sqs:ReceiveMessage on <${queue}.Arn>`;
  const ECR_READ = 'ecr:BatchCheckLayerAvailability,ecr:BatchGetImage,ecr:DescribeImages,ecr:GetDownloadUrlForLayer';
  const REPO = (name: string) => `arn:<AWS::Partition>:ecr:eu-west-1:111122223333:repository/${name}`;
  const IDEMPOTENCY = 'dynamodb:DeleteItem,dynamodb:GetItem,dynamodb:PutItem,dynamodb:UpdateItem on <IdempotencyTable.Arn>';
  const PUBLISH = ['sns:Publish on <ResultsTopic>', 'kms:Decrypt,kms:GenerateDataKey on <Key.Arn>'];
  const LIST = 's3:ListBucket on <Bucket.Arn>';

  const expected = (s: Synth): Record<string, string[]> => ({
    Analyzer: [
      LOGS('Analyzer'),
      CONSUME('ScanQueue'),
      'ecr:GetAuthorizationToken on *',
      `${ECR_READ} on ${s.stack.settings.repositories.length ? s.stack.settings.repositories.map(REPO).sort().join(' ') : REPO('*')}`,
      'dynamodb:GetItem,dynamodb:UpdateItem on <ImagesTable.Arn>',
      'dynamodb:BatchWriteItem on <PackageIndexTable.Arn>',
      IDEMPOTENCY,
      's3:AbortMultipartUpload,s3:DeleteObject,s3:GetObject,s3:PutObject on <Bucket.Arn>/layers/*',
      's3:AbortMultipartUpload,s3:GetObject,s3:PutObject on <Bucket.Arn>/inventories/*',
      's3:AbortMultipartUpload,s3:PutObject on <Bucket.Arn>/sboms/*',
      LIST,
      'sqs:SendMessage on <EvaluateQueue.Arn> <ScanDeadLetters.Arn> <ScanQueue.Arn>',
      ...PUBLISH,
    ],
    Evaluator: [
      LOGS('Evaluator'),
      CONSUME('EvaluateQueue'),
      'dynamodb:GetItem,dynamodb:UpdateItem on <ImagesTable.Arn>',
      'dynamodb:PutItem on <ResultsTable.Arn>',
      'dynamodb:Query on <ResultsTable.Arn>/index/byTime',
      'dynamodb:Query on <AdvisoriesTable.Arn>',
      IDEMPOTENCY,
      's3:GetObject on <Bucket.Arn>/inventories/*',
      's3:GetObject on <Bucket.Arn>/feeds/*.summary.json',
      // KEV / EPSS as feed-sync leaves them (exploitFeeds, on by default): exactly these three objects
      ...(s.stack.settings.exploitFeeds ? ['s3:GetObject on <Bucket.Arn>/feeds/exploits/epss.json.gz <Bucket.Arn>/feeds/exploits/index.json <Bucket.Arn>/feeds/exploits/kev.json'] : []),
      ...(s.stack.settings.vexKeys.length ? [`s3:GetObject on ${s.stack.settings.vexKeys.map((k) => `<Bucket.Arn>/${k}`).join(' ')}`] : []),
      's3:PutObject on <Bucket.Arn>/reports/*',
      ...(s.stack.policyKey ? [`s3:GetObject on <Bucket.Arn>/${s.stack.policyKey}`] : []),
      // signatures (trustPolicyKey): the trust policy object, and the analyzer's image reads
      ...(s.stack.settings.trustPolicyKey
        ? [`s3:GetObject on <Bucket.Arn>/${s.stack.settings.trustPolicyKey}`, 'ecr:GetAuthorizationToken on *', `${ECR_READ} on ${s.stack.settings.repositories.length ? s.stack.settings.repositories.map(REPO).sort().join(' ') : REPO('*')}`]
        : []),
      LIST,
      'sqs:SendMessage on <EvaluateDeadLetters.Arn>',
      ...PUBLISH,
    ],
    FeedSync: [
      LOGS('FeedSync'),
      'sqs:SendMessage on <EventDeadLetters.Arn>',
      'dynamodb:BatchGetItem,dynamodb:BatchWriteItem on <AdvisoriesTable.Arn>',
      's3:GetObject,s3:PutObject on <Bucket.Arn>/feeds/*',
      LIST,
      'events:PutEvents on arn:<AWS::Partition>:events:eu-west-1:111122223333:event-bus/default if {"StringEquals":{"events:source":"drydock.feeds","events:detail-type":["Advisories Updated","Feed Sync Requested"]}}',
    ],
    Rescan: [
      LOGS('Rescan'),
      'sqs:SendMessage on <EventDeadLetters.Arn>',
      'dynamodb:Query on <PackageIndexTable.Arn>',
      'dynamodb:Query on <ImagesTable.Arn>/index/byUpdated',
      'sqs:SendMessage on <EvaluateQueue.Arn>',
    ],
    Reconcile: [
      LOGS('Reconcile'),
      'sqs:SendMessage on <EventDeadLetters.Arn>',
      // listing the registry is authorized against repository/*; images only of the watched repositories
      ...(s.stack.settings.repositories.length
        ? ['ecr:DescribeRepositories on ' + REPO('*'), `ecr:DescribeImages on ${s.stack.settings.repositories.map(REPO).sort().join(' ')}`]
        : [`ecr:DescribeImages,ecr:DescribeRepositories on ${REPO('*')}`]),
      'dynamodb:BatchGetItem on <ImagesTable.Arn>',
      'sqs:SendMessage on <ScanQueue.Arn>',
    ],
    ...(s.stack.slackNotifier
      ? {
          SlackNotifier: [
            LOGS('SlackNotifier'),
            CONSUME('SlackQueue'),
            'secretsmanager:GetSecretValue on <SlackWebhook>',
            's3:GetObject on <Bucket.Arn>/reports/*',
          ],
        }
      : {}),
  });

  it('each function role holds exactly the statements it needs (default, filtered, Slack off)', () => {
    for (const s of [d, f, n]) {
      const want = expected(s);
      expect(s.resources('AWS::IAM::Role').map(([id]) => s.owner.get(id)).filter((o) => o !== TRIGGER_PROVIDER).sort()).toEqual(Object.keys(want).sort());
      for (const [owner, statements] of Object.entries(want)) expect(roleStatements(s, owner), owner).toEqual([...statements].sort());
    }
  });

  it('retry backoff: the analyzer and evaluator may change message visibility on their own source queue only', () => {
    for (const s of [d, f, n]) {
      const visibility = (owner: string) => roleStatements(s, owner).filter((st) => st.includes('sqs:ChangeMessageVisibility'));
      expect(visibility('Analyzer')).toEqual([CONSUME('ScanQueue')]);
      expect(visibility('Evaluator')).toEqual([CONSUME('EvaluateQueue')]);
      for (const owner of ['FeedSync', 'Rescan', 'Reconcile']) expect(visibility(owner), owner).toEqual([]);
    }
  });

  it('the analyzer reads one ARN per configured repository, and the wildcard one only without a list', () => {
    const ecr = (s: Synth) => roleStatements(s, 'Analyzer').find((st) => st.startsWith(ECR_READ))!;
    expect(ecr(d)).toBe(`${ECR_READ} on ${REPO('*')}`);
    expect(ecr(f)).toBe(`${ECR_READ} on ${REPO('platform-*')} ${REPO('team/api')} ${REPO('team/web')}`);
  });

  it('the bucket prefixes granted are where shared/pipeline reads and writes', () => {
    const digest = 'sha256:514b8948c139ccc858b141dff6a95f0471154e494aec41aa9fb04b6569f42bca';
    expect(`${OBJECT_KEYS.layerPrefix}x`.startsWith(PREFIXES.layers)).toBe(true);
    expect(OBJECT_KEYS.inventory(digest).startsWith(PREFIXES.inventories)).toBe(true);
    expect(OBJECT_KEYS.sbom(digest).startsWith(PREFIXES.sboms)).toBe(true);
    expect(OBJECT_KEYS.report(digest, 'r1').startsWith(PREFIXES.reports)).toBe(true);
    expect(OBJECT_KEYS.htmlReport(OBJECT_KEYS.report(digest, 'r1')).startsWith(PREFIXES.reports)).toBe(true);
    expect(PREFIXES.feeds).toBe('feeds/'); // shared/pipeline/feed-sync.ts stateKey
    expect(readFileSync(join(PROJECT_ROOT, 'shared/pipeline/feed-sync.ts'), 'utf8')).toContain('`feeds/${encodeURIComponent(ecosystem)}.json.gz`');
  });

  it('no wildcard actions anywhere; a "*" resource only where AWS offers nothing narrower (ecr:GetAuthorizationToken)', () => {
    for (const s of [d, f, n]) {
      for (const [id, p] of s.resources('AWS::IAM::Policy')) {
        for (const st of p.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>) {
          const actions = ([] as unknown[]).concat(st.Action).map(String);
          const resources = ([] as unknown[]).concat(st.Resource);
          expect(st.Effect).toBe('Allow');
          for (const a of actions) expect(a, id).not.toContain('*');
          if (resources.includes('*')) expect(actions, id).toEqual(['ecr:GetAuthorizationToken']);
        }
      }
    }
  });

  it("the key policy: the account administers the key, CloudWatch may use it to publish this account's alarms, nothing else", () => {
    const k = props(d, 'Key', 'AWS::KMS::Key');
    expect(k.EnableKeyRotation).toBe(true);
    expect(k.KeyPolicy.Statement.map((st: Record<string, unknown>) => `${JSON.stringify(st.Principal)} ${describeStatement(d, st)}`)).toEqual([
      '{"AWS":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":iam::111122223333:root"]]}} kms:* on *',
      `{"Service":"cloudwatch.amazonaws.com"} kms:Decrypt,kms:GenerateDataKey on * if ${FROM_OUR_ALARMS}`,
    ]);
  });

  it('resource policies: EventBridge may send to the scan queue (that rule only), SNS to the Slack queue and its DLQ (that topic only)', () => {
    const allows = (owner: string) =>
      props(d, owner, 'AWS::SQS::QueuePolicy')
        .PolicyDocument.Statement.filter((st: Record<string, unknown>) => st.Effect === 'Allow')
        .map((st: Record<string, unknown>) => `${JSON.stringify(st.Principal)} ${describeStatement(d, st)}`);
    expect(allows('ScanQueue')).toEqual([`{"Service":"events.amazonaws.com"} sqs:GetQueueAttributes,sqs:GetQueueUrl,sqs:SendMessage on <ScanQueue.Arn> if {"ArnEquals":{"aws:SourceArn":{"Fn::GetAtt":["${d.logicalId('EcrImageActionRule', 'AWS::Events::Rule')}","Arn"]}}}`]);
    const eventDlq = allows('EventDeadLetters');
    expect(eventDlq).toHaveLength(6); // one per rule target
    for (const st of eventDlq) expect(st).toMatch(/^\{"Service":"events\.amazonaws\.com"\} sqs:SendMessage on <EventDeadLetters\.Arn> if \{"ArnEquals":\{"aws:SourceArn":/);
    const fromResults = (q: string) => `{"Service":"sns.amazonaws.com"} sqs:SendMessage on <${q}.Arn> if {"ArnEquals":{"aws:SourceArn":{"Ref":"${d.logicalId('ResultsTopic', 'AWS::SNS::Topic')}"}}}`;
    expect(allows('SlackQueue')).toEqual([fromResults('SlackQueue')]);
    expect(allows('SlackDeadLetters')).toEqual([fromResults('SlackDeadLetters')]);
    const closed = ['ScanDeadLetters', 'EvaluateQueue', 'EvaluateDeadLetters'];
    for (const q of closed) expect(allows(q), q).toEqual([]);
    // every queue policy of the stack is one of those above
    expect(d.resources('AWS::SQS::QueuePolicy').map(([id]) => d.owner.get(id)!).sort()).toEqual(['ScanQueue', 'EventDeadLetters', 'SlackQueue', 'SlackDeadLetters', ...closed].sort());
  });

  it('function invoke permissions: only from their rule (the notifier is polled from its queue, never invoked by SNS)', () => {
    for (const s of [d, n]) {
      const perms = s.resources('AWS::Lambda::Permission').map(([, p]) => `${s.name(p.Properties.FunctionName)} ← ${p.Properties.Principal} ${s.name(p.Properties.SourceArn)} ${p.Properties.Action}`);
      expect(perms.sort()).toEqual(
        [
          '<FeedSync/Function.Arn> ← events.amazonaws.com <FeedSyncSchedule.Arn> lambda:InvokeFunction',
          '<FeedSync/Function.Arn> ← events.amazonaws.com <FeedSyncRequestedRule.Arn> lambda:InvokeFunction',
          '<Rescan/Function.Arn> ← events.amazonaws.com <AdvisoriesUpdatedRule.Arn> lambda:InvokeFunction',
          '<Rescan/Function.Arn> ← events.amazonaws.com <FullRescanSchedule.Arn> lambda:InvokeFunction',
          '<Reconcile/Function.Arn> ← events.amazonaws.com <ReconcileSchedule.Arn> lambda:InvokeFunction',
        ].sort(),
      );
    }
  });
});

// ---------------------------------------------------------------- EventBridge

describe('EventBridge', () => {
  const pattern = (s: Synth, owner: string) => props(s, owner, 'AWS::Events::Rule').EventPattern as Record<string, unknown>;
  const push = event('ecr-push.json');
  const del = event('ecr-delete.json');
  const withDetail = (e: Record<string, any>, detail: Record<string, unknown>) => ({ ...e, detail: { ...e.detail, ...detail } });

  it('the matcher itself: literals, alternatives, nesting, wildcards, unknown operators refused', () => {
    expect(matchesPattern({ a: ['x', 'y'] }, { a: 'y' })).toBe(true);
    expect(matchesPattern({ a: ['x'] }, { a: 'y' })).toBe(false);
    expect(matchesPattern({ a: ['x'] }, {})).toBe(false);
    expect(matchesPattern({ a: { b: ['x'] } }, { a: { b: 'x' } })).toBe(true);
    expect(matchesPattern({ a: { b: ['x'] } }, { a: 'x' })).toBe(false);
    expect(matchesPattern({ a: ['x'] }, { a: ['z', 'x'] })).toBe(true);
    expect(matchesPattern({ a: [{ wildcard: 'team/*' }] }, { a: 'team/api' })).toBe(true);
    expect(matchesPattern({ a: [{ wildcard: 'team/*' }] }, { a: 'teams/api' })).toBe(false);
    expect(wildcard('a*c', 'a/b/c')).toBe(true);
    expect(wildcard('a.c', 'abc')).toBe(false);
    expect(() => matchesPattern({ a: [{ numeric: ['>', 1] }] }, { a: 2 })).toThrow(/not supported/);
  });

  it('the ECR rule matches the sample push and delete events (every repository by default)', () => {
    const p = pattern(d, 'EcrImageActionRule');
    expect(p).toEqual({ source: ['aws.ecr'], 'detail-type': ['ECR Image Action'], detail: { 'action-type': ['PUSH', 'DELETE'], result: ['SUCCESS'] } });
    expect(matchesPattern(p, push)).toBe(true);
    expect(matchesPattern(p, del)).toBe(true);
    expect(matchesPattern(p, withDetail(push, { 'repository-name': 'anything/else' }))).toBe(true);
  });

  it('the ECR rule does not match failed actions, other actions, other sources or detail types', () => {
    for (const s of [d, f]) {
      const p = pattern(s, 'EcrImageActionRule');
      expect(matchesPattern(p, withDetail(push, { result: 'FAILURE' }))).toBe(false);
      expect(matchesPattern(p, withDetail(del, { result: 'FAILURE' }))).toBe(false);
      expect(matchesPattern(p, withDetail(push, { 'action-type': 'REPLICATE' }))).toBe(false);
      expect(matchesPattern(p, { ...push, source: 'aws.s3' })).toBe(false);
      expect(matchesPattern(p, { ...push, 'detail-type': 'ECR Image Scan' })).toBe(false);
    }
  });

  it('with repositories named, it matches only those (the wildcard as the analyzer reads it)', () => {
    const p = pattern(f, 'EcrImageActionRule');
    expect((p.detail as Record<string, unknown>)['repository-name']).toEqual(['team/api', 'team/web', { wildcard: 'platform-*' }]);
    expect(matchesPattern(p, push)).toBe(true); // team/api
    expect(matchesPattern(p, del)).toBe(true);
    expect(matchesPattern(p, withDetail(push, { 'repository-name': 'team/billing' }))).toBe(false);
    expect(matchesPattern(p, withDetail(push, { 'repository-name': 'team/api-old' }))).toBe(false);
    expect(matchesPattern(p, withDetail(push, { 'repository-name': 'platform-tools' }))).toBe(true);
    // the rule, the analyzer's own filter and IAM's "*" agree
    for (const repo of ['team/api', 'team/web', 'team/billing', 'platform-tools', 'platform-', 'platform/x', 'x/platform-y', 'Team/api']) {
      expect(matchesPattern(p, withDetail(push, { 'repository-name': repo })), repo).toBe(repositoryWanted(repo, f.stack.settings.repositories));
    }
  });

  it('the ECR rule sends the event itself to the scan queue (no input transformer), failures to the event DLQ', () => {
    const targets = props(d, 'EcrImageActionRule', 'AWS::Events::Rule').Targets as Array<Record<string, unknown>>;
    expect(targets).toHaveLength(1);
    const t = targets[0]!;
    expect(Object.keys(t).sort()).toEqual(['Arn', 'DeadLetterConfig', 'Id']);
    expect(d.name(t.Arn)).toBe('<ScanQueue.Arn>');
    expect(d.name(t.DeadLetterConfig)).toBe(JSON.stringify({ Arn: { 'Fn::GetAtt': [d.logicalId('EventDeadLetters', 'AWS::SQS::Queue'), 'Arn'] } }));
  });

  it('feed updates: the rule matches events/feed-update.json and nothing from ECR, and runs rescan', () => {
    const p = pattern(d, 'AdvisoriesUpdatedRule');
    expect(p).toEqual({ source: ['drydock.feeds'], 'detail-type': ['Advisories Updated'] });
    expect(matchesPattern(p, event('feed-update.json'))).toBe(true);
    expect(matchesPattern(p, push)).toBe(false);
    expect(matchesPattern(p, { ...event('feed-update.json'), source: 'someone.else' })).toBe(false);
    const [t] = props(d, 'AdvisoriesUpdatedRule', 'AWS::Events::Rule').Targets;
    expect(d.name(t.Arn)).toBe('<Rescan/Function.Arn>');
    expect(t.Input ?? t.InputPath ?? t.InputTransformer).toBeUndefined();
  });

  it('feed-sync continuation: "Feed Sync Requested" from drydock.feeds runs feed-sync again (the scheduled event is not it)', () => {
    const p = pattern(d, 'FeedSyncRequestedRule');
    expect(p).toEqual({ source: ['drydock.feeds'], 'detail-type': [FEED_SYNC_REQUESTED_DETAIL_TYPE] });
    expect(FEED_SYNC_REQUESTED_DETAIL_TYPE).toBe('Feed Sync Requested');
    const requested = { version: '0', id: '6f1e7c55-3b3c-4c0e-9d54-2f0c1f7b8a10', 'detail-type': 'Feed Sync Requested', source: 'drydock.feeds', account: '111122223333', time: '2026-12-07T04:00:00Z', region: 'eu-west-1', resources: [], detail: {} };
    expect(matchesPattern(p, requested)).toBe(true);
    expect(matchesPattern(p, event('feed-update.json'))).toBe(false);
    expect(matchesPattern(pattern(d, 'AdvisoriesUpdatedRule'), requested)).toBe(false);
    expect(matchesPattern(p, { ...requested, source: 'someone.else' })).toBe(false);
    const targets = props(d, 'FeedSyncRequestedRule', 'AWS::Events::Rule').Targets;
    expect(targets).toHaveLength(1);
    expect(d.name(targets[0].Arn)).toBe('<FeedSync/Function.Arn>');
    expect(d.name(targets[0].DeadLetterConfig.Arn)).toBe('<EventDeadLetters.Arn>');
    expect(targets[0].Input ?? targets[0].InputPath ?? targets[0].InputTransformer).toBeUndefined();
  });

  it('reconciliation: every reconcileHours (6 by default), reconcile with the scheduled event, failures to the event DLQ', () => {
    const rate = (s: Synth) => props(s, 'ReconcileSchedule', 'AWS::Events::Rule').ScheduleExpression;
    expect(rate(d)).toBe('rate(6 hours)');
    expect(rate(f)).toBe('rate(12 hours)');
    const [t] = props(d, 'ReconcileSchedule', 'AWS::Events::Rule').Targets;
    expect(d.name(t.Arn)).toBe('<Reconcile/Function.Arn>');
    expect(d.name(t.DeadLetterConfig.Arn)).toBe('<EventDeadLetters.Arn>');
    expect(t.Input ?? t.InputPath ?? t.InputTransformer).toBeUndefined();
  });

  it('schedules: feed sync every 6 hours; a daily full re-evaluation whose event detail is {"full": true}', () => {
    const sync = props(d, 'FeedSyncSchedule', 'AWS::Events::Rule');
    expect(sync.ScheduleExpression).toBe('rate(6 hours)');
    expect(d.name(sync.Targets[0].Arn)).toBe('<FeedSync/Function.Arn>');
    const full = props(d, 'FullRescanSchedule', 'AWS::Events::Rule');
    expect(full.ScheduleExpression).toBe('rate(1 day)');
    expect(d.name(full.Targets[0].Arn)).toBe('<Rescan/Function.Arn>');
    // apply the input transformer to a scheduled event, as EventBridge does
    const scheduled = { version: '0', id: '89d1a02d-5ec7-412e-82f5-13505f849b41', 'detail-type': 'Scheduled Event', source: 'aws.events', account: '111122223333', time: '2026-11-24T00:00:00Z', region: 'eu-west-1', resources: ['arn:aws:events:eu-west-1:111122223333:rule/x'], detail: {} };
    const { InputPathsMap, InputTemplate } = full.Targets[0].InputTransformer as { InputPathsMap: Record<string, string>; InputTemplate: string };
    const delivered = JSON.parse(
      InputTemplate.replace(/<([\w-]+)>/g, (_m: string, k: string) => JSON.stringify((scheduled as Record<string, unknown>)[InputPathsMap[k]!.replace(/^\$\./, '')])),
    );
    expect(delivered).toEqual({ ...scheduled, detail: { full: true } });
  });
});

// ---------------------------------------------------------------- SNS, secret, encryption

describe('SNS and Slack', () => {
  it('both topics are KMS-encrypted with the stack key and refuse plain-HTTP publishers', () => {
    for (const owner of ['ResultsTopic', 'AlarmTopic']) {
      expect(d.name(props(d, owner, 'AWS::SNS::Topic').KmsMasterKeyId)).toBe('<Key.Arn>');
      const deny = props(d, owner, 'AWS::SNS::TopicPolicy').PolicyDocument.Statement.filter((st: Record<string, unknown>) => st.Effect === 'Deny');
      expect(deny).toHaveLength(1);
      expect(deny[0]).toMatchObject({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
    }
  });

  it("the alarm topic's policy lets CloudWatch publish this account's alarms (and nobody else anything); the results topic allows nothing", () => {
    for (const s of [d, f, n]) {
      const allows = (owner: string) =>
        props(s, owner, 'AWS::SNS::TopicPolicy')
          .PolicyDocument.Statement.filter((st: Record<string, unknown>) => st.Effect === 'Allow')
          .map((st: Record<string, unknown>) => `${JSON.stringify(st.Principal)} ${describeStatement(s, st)}`);
      expect(allows('AlarmTopic')).toEqual([`{"Service":"cloudwatch.amazonaws.com"} sns:Publish on <AlarmTopic> if ${FROM_OUR_ALARMS}`]);
      expect(allows('ResultsTopic')).toEqual([]);
    }
  });

  it("a dead-letter alarm's path is open end to end: AlarmActions → the topic → its policy allows CloudWatch for that alarm → the topic's key lets CloudWatch encrypt", () => {
    const pseudo: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': 'eu-west-1', 'AWS::AccountId': '111122223333' };
    const resolve = (v: unknown): unknown => {
      if (typeof v === 'string' || v === undefined) return v;
      const o = v as Record<string, unknown>;
      if (Array.isArray(v)) return v.map(resolve);
      if ('Fn::Join' in o) {
        const [sep, items] = o['Fn::Join'] as [string, unknown[]];
        return items.map((i) => String(resolve(i))).join(sep);
      }
      if ('Ref' in o && typeof o.Ref === 'string' && pseudo[o.Ref]) return pseudo[o.Ref];
      return JSON.stringify(v); // a reference to a stack resource: compared as written
    };
    const glob = (pattern: string, value: string) => new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(value);
    const list = (v: unknown) => (Array.isArray(v) ? v : [v]);
    interface Request {
      service: string;
      action: string;
      resource: unknown;
      context: Record<string, string>;
    }
    /** IAM's evaluation for one resource policy: an explicit deny wins, else an allow is needed. */
    const decide = (statements: Array<Record<string, any>>, req: Request): 'allowed' | 'denied' | 'not allowed' => {
      const applies = (st: Record<string, any>) => {
        const principal = st.Principal === '*' || list(st.Principal?.Service).includes(req.service);
        const action = list(st.Action).some((a: string) => glob(a, req.action));
        const resource = list(st.Resource).some((r) => r === '*' || resolve(r) === resolve(req.resource));
        const conditions = Object.entries((st.Condition ?? {}) as Record<string, Record<string, unknown>>).every(([op, kv]) =>
          Object.entries(kv).every(([key, want]) => {
            const got = req.context[key];
            if (got === undefined) return false;
            if (op === 'StringEquals') return list(want).map(resolve).includes(got);
            if (op === 'ArnLike') return list(want).some((w) => glob(String(resolve(w)), got));
            if (op === 'Bool') return String(want) === got;
            throw new Error(`condition operator ${op} not modelled`);
          }),
        );
        return principal && action && resource && conditions;
      };
      if (statements.some((st) => st.Effect === 'Deny' && applies(st))) return 'denied';
      return statements.some((st) => st.Effect === 'Allow' && applies(st)) ? 'allowed' : 'not allowed';
    };

    // 1. the alarm on the scan dead-letter queue, and the action it takes
    const [alarmId, alarm] = d.resources('AWS::CloudWatch::Alarm').find(([, a]) => d.name(a.Properties.Dimensions[0].Value) === '<ScanDeadLetters.QueueName>')!;
    expect(alarm.Properties.AlarmActions).toHaveLength(1);
    const topicRef = alarm.Properties.AlarmActions[0];
    // 2. the topic it names, and the one topic policy that governs it
    expect(d.name(topicRef)).toBe('<AlarmTopic>');
    const policies = d.resources('AWS::SNS::TopicPolicy').filter(([, p]) => (p.Properties.Topics as unknown[]).some((t) => JSON.stringify(t) === JSON.stringify(topicRef)));
    expect(policies).toHaveLength(1);
    const topicPolicy = policies[0]![1].Properties.PolicyDocument.Statement;
    // CloudFormation names the alarm <stack>-<logical id>-<suffix>; CloudWatch publishes with its ARN as aws:SourceArn
    const alarmArn = `arn:aws:cloudwatch:eu-west-1:111122223333:alarm:Drydock-${alarmId}-1A2B3C4D5E6F`;
    const publish = (context: Record<string, string>): Request => ({ service: 'cloudwatch.amazonaws.com', action: 'sns:Publish', resource: topicRef, context });
    const ours = { 'aws:SourceAccount': '111122223333', 'aws:SourceArn': alarmArn, 'aws:SecureTransport': 'true' };
    // 3. the topic policy allows it
    expect(decide(topicPolicy, publish(ours))).toBe('allowed');
    // 4. the topic is encrypted with the key, whose policy lets CloudWatch encrypt for that alarm
    const topic = d.json.Resources[(topicRef as { Ref: string }).Ref]!;
    expect(d.name(topic.Properties.KmsMasterKeyId)).toBe('<Key.Arn>');
    const keyPolicy = props(d, 'Key', 'AWS::KMS::Key').KeyPolicy.Statement;
    for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
      expect(decide(keyPolicy, { service: 'cloudwatch.amazonaws.com', action, resource: '*', context: ours }), action).toBe('allowed');
    }
    // and the path is closed to what it should not carry
    expect(decide(topicPolicy, publish({ ...ours, 'aws:SourceAccount': '444455556666', 'aws:SourceArn': alarmArn.replace('111122223333', '444455556666') }))).toBe('not allowed');
    expect(decide(topicPolicy, publish({ ...ours, 'aws:SourceArn': alarmArn.replace('eu-west-1', 'us-east-1') }))).toBe('not allowed');
    expect(decide(topicPolicy, publish({ ...ours, 'aws:SecureTransport': 'false' }))).toBe('denied');
    expect(decide(topicPolicy, { ...publish(ours), service: 'events.amazonaws.com' })).toBe('not allowed');
    expect(decide(keyPolicy, { service: 'cloudwatch.amazonaws.com', action: 'kms:GenerateDataKey', resource: '*', context: { ...ours, 'aws:SourceAccount': '444455556666' } })).toBe('not allowed');
    // every dead-letter alarm takes the same single action
    for (const [, a] of d.resources('AWS::CloudWatch::Alarm')) expect(a.Properties.AlarmActions).toEqual([topicRef]);
  });

  it('the Slack queue is subscribed to results with fail, warn and error only, undeliverable messages to its DLQ; the notifier polls the queue', () => {
    for (const s of [d, f]) {
      const subs = s.resources('AWS::SNS::Subscription');
      expect(subs).toHaveLength(1);
      expect(s.owner.get(subs[0]![0])).toBe('SlackQueue');
      const sub = subs[0]![1].Properties;
      expect(sub.Protocol).toBe('sqs');
      expect(s.name(sub.TopicArn)).toBe('<ResultsTopic>');
      expect(s.name(sub.Endpoint)).toBe('<SlackQueue.Arn>');
      expect(sub.FilterPolicy).toEqual({ status: ['fail', 'warn', 'error'] });
      expect(sub.FilterPolicyScope).toBeUndefined(); // message attributes, where the publishers put status
      expect(s.name(sub.RedrivePolicy.deadLetterTargetArn)).toBe('<SlackDeadLetters.Arn>');
      // the queue receives the SNS envelope (the handler reads Message from each record's body)
      expect(sub.RawMessageDelivery).toBeUndefined();
      const mappings = s.resources('AWS::Lambda::EventSourceMapping').filter(([, m]) => s.name(m.Properties.EventSourceArn) === '<SlackQueue.Arn>');
      expect(mappings.map(([, m]) => s.name(m.Properties.FunctionName))).toEqual(['<SlackNotifier/Function>']);
      expect(mappings[0]![1].Properties).toMatchObject({ BatchSize: 50, MaximumBatchingWindowInSeconds: 60 });
      expect(s.name(props(s, 'SlackQueue', 'AWS::SQS::Queue').RedrivePolicy.deadLetterTargetArn)).toBe('<SlackDeadLetters.Arn>');
    }
    expect(n.resources('AWS::SNS::Subscription')).toEqual([]);
  });

  it('the webhook is a Secrets Manager secret the deployer fills (generated placeholder, encrypted by Secrets Manager)', () => {
    const secret = props(d, 'SlackWebhook', 'AWS::SecretsManager::Secret');
    expect(secret.Description).toMatch(/put-secret-value/);
    expect(secret.GenerateSecretString).toEqual({});
    expect(secret.SecretString).toBeUndefined();
  });
});

// ---------------------------------------------------------------- settings

describe('settings', () => {
  it('defaults without context; context strings (as -c gives them) and JSON values (as cdk.json gives them) parse', () => {
    expect(settingsFromContext(() => undefined)).toEqual(DEFAULT_SETTINGS);
    const ctx: Record<string, unknown> = { repositories: 'a/b, c', slack: 'false', layerCacheDays: '7', ecosystems: ['npm'], reservedConcurrency: false, analyzerConcurrency: 3 };
    expect(settingsFromContext((k) => ctx[k])).toMatchObject({ repositories: ['a/b', 'c'], slack: false, layerCacheDays: 7, ecosystems: ['npm'], reservedConcurrency: false, analyzerConcurrency: 3 });
  });

  it('refuses bad values, every problem at once', () => {
    const ctx: Record<string, unknown> = { repositories: 'Team/API', slack: 'yes', layerCacheDays: '0', reconcileHours: '169', resultRetentionDays: 'forever', slackStatuses: 'fail,boom', policyKey: 'layers/x.json', publish: 'sometimes', osvUrl: 'http://plain' };
    let err: unknown;
    try {
      settingsFromContext((k) => ctx[k]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SettingsError);
    expect((err as SettingsError).problems.map((p) => p.split(':')[0])).toEqual(['slack', 'layerCacheDays', 'reconcileHours', 'resultRetentionDays', 'repositories', 'slackStatuses', 'policyKey', 'publish', 'osvUrl']);
    // 0 = keep results and reports forever; props given in code are range-checked too
    expect(settingsFromContext((k) => ({ resultRetentionDays: '0', reconcileHours: '1' })[k]).resultRetentionDays).toBe(0);
    expect(() => new DrydockStack(new App(), 'BadProps', { reconcileHours: 0, resultRetentionDays: -1 })).toThrow(/reconcileHours.*\n.*resultRetentionDays/s);
    expect(() => settingsFromContext((k) => ({ policyKey: 'policies/*' })[k])).toThrow(/not a plain S3 object key/);
  });

  it('a malformed policy bundle stops the synth with its problems, before anything is built', () => {
    const dir = mkdtempSync(join(tmpdir(), 'drydock-bundle-'));
    try {
      const bad = join(dir, 'bundle.json');
      writeFileSync(bad, JSON.stringify({ id: 'x', version: '1_0', policies: 'not a list' }));
      expect(() => new DrydockStack(new App(), 'Bad', { policyBundle: bad })).toThrow(/policyBundle: .*bundle\.json/s);
      expect(() => new DrydockStack(new App(), 'Missing', { policyBundle: join(dir, 'missing.json') })).toThrow(SettingsError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------- signatures (trustPolicyKey)

describe('trustPolicyKey: the evaluator verifies signatures', () => {
  type Statement = { Sid: string; Action: string | string[]; Resource: unknown };
  let trust: { env: Record<string, unknown>; statements: Statement[]; analyzer: Statement[] };
  const statementsOf = (json: Synth['json'], role: string): Statement[] =>
    Object.values(json.Resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes(`"${role}`))
      .flatMap((r) => r.Properties.PolicyDocument.Statement as Statement[]);
  const roleOf = (json: Synth['json'], owner: string) => Object.keys(json.Resources).find((id) => json.Resources[id]!.Type === 'AWS::IAM::Role' && id.startsWith(`${owner}Role`))!;
  const fnOf = (json: Synth['json'], owner: string) =>
    Object.entries(json.Resources).find(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(owner) && !id.includes('Trigger'))![1];

  beforeAll(() => {
    // the filtered configuration plus a trust policy, in the same assembly directory (its assets are built already)
    const { stack } = createApp({ context: { ...CONFIGS.filtered, trustPolicyKey: 'policies/trust.yaml' }, env: ENV, outdir: f.outdir });
    const json = Template.fromStack(stack).toJSON() as Synth['json'];
    trust = { env: fnOf(json, 'Evaluator').Properties.Environment.Variables, statements: statementsOf(json, roleOf(json, 'Evaluator')), analyzer: statementsOf(json, roleOf(json, 'Analyzer')) };
  }, SYNTH_TIMEOUT);

  it('DRYDOCK_TRUST_POLICY_KEY on the evaluator only, a variable the pipeline knows', () => {
    expect(trust.env.DRYDOCK_TRUST_POLICY_KEY).toBe('policies/trust.yaml');
    expect(Object.keys(ENVIRONMENT)).toContain('DRYDOCK_TRUST_POLICY_KEY');
    expect(loadConfig({ DRYDOCK_TRUST_POLICY_KEY: String(trust.env.DRYDOCK_TRUST_POLICY_KEY) }, []).config.trustPolicyKey).toBe('policies/trust.yaml');
    for (const s of [d, f, n]) expect(fn(s, 'Evaluator').Properties.Environment.Variables).not.toHaveProperty('DRYDOCK_TRUST_POLICY_KEY');
  });

  it("exactly three statements more than without it: that one object, and the analyzer's ECR reads of the configured repositories", () => {
    // the same construct paths, so the same logical ids: a statement of both stacks is the same JSON
    const without = new Set(statementsOf(f.json, roleOf(f.json, 'Evaluator')).map((st) => JSON.stringify(st)));
    expect(without.size).toBe(roleStatements(f, 'Evaluator').length);
    expect(trust.statements).toHaveLength(without.size + 3);
    const added = trust.statements.filter((st) => !without.has(JSON.stringify(st)));
    expect(added.map((st) => st.Sid).sort()).toEqual(['EcrAuthorizationToken', 'EcrReadImages', 'ReadTrustPolicy']);
    const bySid = (sts: Statement[], sid: string) => sts.find((st) => st.Sid === sid)!;
    expect(bySid(added, 'ReadTrustPolicy').Action).toBe('s3:GetObject');
    expect(JSON.stringify(bySid(added, 'ReadTrustPolicy').Resource)).toMatch(/"\/policies\/trust\.yaml"\]\]\}$/);
    for (const sid of ['EcrAuthorizationToken', 'EcrReadImages']) expect(bySid(added, sid), sid).toEqual(bySid(trust.analyzer, sid));
    expect(JSON.stringify(bySid(added, 'EcrReadImages').Resource)).toContain('repository/platform-*');
  });

  it('refuses a key outside policies/, with a wildcard, or the bundle\'s own', () => {
    for (const bad of ['trust.yaml', 'policies/*', 'policies/../x', 'vex/trust.json']) expect(() => settingsFromContext((k) => ({ trustPolicyKey: bad })[k]), bad).toThrow(/trustPolicyKey: .* is not a plain S3 key under policies\//);
    expect(() => settingsFromContext((k) => ({ trustPolicyKey: 'policies/bundle.json', policyBundle: 'shared/policy/default-bundle.json' })[k])).toThrow(/trustPolicyKey: policies\/bundle\.json is the policy bundle's key/);
  });
});

// ---------------------------------------------------------------- trusted base images (baseRepositories)

describe('baseRepositories: the evaluator identifies base images and announces patched ones', () => {
  type Statement = { Sid: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
  let base: { env: Record<string, unknown>; statements: Statement[] };
  const statementsOf = (json: Synth['json'], role: string): Statement[] =>
    Object.values(json.Resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes(`"${role}`))
      .flatMap((r) => r.Properties.PolicyDocument.Statement as Statement[]);
  const roleOf = (json: Synth['json'], owner: string) => Object.keys(json.Resources).find((id) => json.Resources[id]!.Type === 'AWS::IAM::Role' && id.startsWith(`${owner}Role`))!;
  const fnOf = (json: Synth['json'], owner: string) =>
    Object.entries(json.Resources).find(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(owner) && !id.includes('Trigger'))![1];

  beforeAll(() => {
    // the filtered configuration (repositories team/api, team/web, platform-*) plus two trusted bases: one in this registry, one elsewhere
    const { stack } = createApp({ context: { ...CONFIGS.filtered, baseRepositories: 'platform-base/debian:12,registry.example.com/library/python' }, env: ENV, outdir: f.outdir });
    const json = Template.fromStack(stack).toJSON() as Synth['json'];
    base = { env: fnOf(json, 'Evaluator').Properties.Environment.Variables, statements: statementsOf(json, roleOf(json, 'Evaluator')) };
  }, SYNTH_TIMEOUT);

  it('DRYDOCK_BASE_REPOSITORIES (a bare repository under this registry\'s host), the package index and the bus on the evaluator only', () => {
    expect(base.env.DRYDOCK_BASE_REPOSITORIES).toEqual({ 'Fn::Join': ['', ['111122223333.dkr.ecr.eu-west-1.', { Ref: 'AWS::URLSuffix' }, '/platform-base/debian:12,registry.example.com/library/python']] });
    expect(base.env.DRYDOCK_PACKAGE_INDEX_TABLE).toEqual({ Ref: expect.stringMatching(/^PackageIndexTable/) });
    expect(base.env.DRYDOCK_EVENT_BUS_NAME).toBe('default');
    expect(Object.keys(ENVIRONMENT)).toContain('DRYDOCK_BASE_REPOSITORIES');
    const { config } = loadConfig({ DRYDOCK_BASE_REPOSITORIES: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/platform-base/debian:12,registry.example.com/library/python' }, []);
    expect(config.baseRepositories).toEqual(['111122223333.dkr.ecr.eu-west-1.amazonaws.com/platform-base/debian:12', 'registry.example.com/library/python']);
    expect(() => loadConfig({ DRYDOCK_BASE_REPOSITORIES: 'base/debian:12' }, [])).toThrow(/DRYDOCK_BASE_REPOSITORIES: "base\/debian:12" has no registry/);
    for (const s of [d, f, n]) {
      expect(fn(s, 'Evaluator').Properties.Environment.Variables).not.toHaveProperty('DRYDOCK_BASE_REPOSITORIES');
      expect(fn(s, 'Evaluator').Properties.Environment.Variables).not.toHaveProperty('DRYDOCK_EVENT_BUS_NAME');
    }
  });

  it('exactly five statements more: the images by repository and by digest, the base entries of the package index only, the evaluate queue, its one event', () => {
    const without = new Set(statementsOf(f.json, roleOf(f.json, 'Evaluator')).map((st) => JSON.stringify(st)));
    expect(base.statements).toHaveLength(without.size + 5);
    const added = base.statements.filter((st) => !without.has(JSON.stringify(st)));
    const bySid = Object.fromEntries(added.map((st) => [st.Sid, st]));
    expect(Object.keys(bySid).sort()).toEqual(['AnnounceBasePatched', 'BaseCandidates', 'BaseIndexEntries', 'ImagesOnPatchedBase', 'SendBaseReevaluations']);
    expect(bySid.ImagesOnPatchedBase!.Action).toBe('dynamodb:BatchGetItem');
    expect(bySid.ImagesOnPatchedBase!.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^ImagesTable/), 'Arn'] });
    expect(bySid.BaseCandidates!.Action).toBe('dynamodb:Query');
    expect(JSON.stringify(bySid.BaseCandidates!.Resource)).toMatch(/"\/index\/byRepository"\]\]\}$/);
    expect(bySid.BaseIndexEntries!.Action).toEqual(['dynamodb:BatchWriteItem', 'dynamodb:Query']);
    expect(bySid.BaseIndexEntries!.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['drydock:base|*'] } });
    expect(JSON.stringify(bySid.BaseIndexEntries!.Resource)).toMatch(/PackageIndexTable/);
    expect(bySid.SendBaseReevaluations!.Action).toBe('sqs:SendMessage');
    expect(JSON.stringify(bySid.SendBaseReevaluations!.Resource)).toMatch(/EvaluateQueue[0-9A-F]+","Arn"/);
    expect(bySid.AnnounceBasePatched!.Action).toBe('events:PutEvents');
    expect(bySid.AnnounceBasePatched!.Condition).toEqual({ StringEquals: { 'events:source': 'drydock.images', 'events:detail-type': ['Drydock Base Image Updated'] } });
  });

  it('refuses globs, digests, malformed names, and a base in this registry the stack does not analyse', () => {
    const ctx = (v: Record<string, string>) => (k: string) => v[k];
    for (const [bad, why] of [['base/*', /has a "\*"/], ['base/debian@sha256:' + 'a'.repeat(64), /names a digest/], ['Base/Debian', /malformed repository/], ['base/debian:-x', /malformed tag/]] as const) {
      expect(() => settingsFromContext(ctx({ baseRepositories: bad })), bad).toThrow(why);
    }
    expect(() => settingsFromContext(ctx({ repositories: 'team/*', baseRepositories: 'base/debian:12' }))).toThrow(/baseRepositories: "base\/debian:12" is not among the repositories the stack analyses/);
    expect(settingsFromContext(ctx({ repositories: 'team/*,base/*', baseRepositories: 'base/debian:12,base/debian:12-slim' })).baseRepositories).toEqual(['base/debian:12', 'base/debian:12-slim']);
  });
});
