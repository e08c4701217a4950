/**
 * The Drydock pipeline on AWS (DESIGN.md §1):
 *
 *   ECR push ─EventBridge rule─▶ SQS scan queue ─▶ analyzer ─▶ SQS evaluate queue ─▶ evaluator ─▶ SNS results ─▶ SQS Slack queue ─▶ slack-notifier
 *   schedule ─▶ feed-sync ─"Advisories Updated"─▶ rescan ─▶ SQS evaluate queue;  daily schedule ─▶ rescan (full)
 *   feed-sync ─"Feed Sync Requested"─▶ feed-sync (a sync cut off at its deadline continues); the deploy ─▶ feed-sync (first sync)
 *   schedule ─▶ reconcile ─▶ SQS scan queue (images of the watched repositories never analysed: lost push events)
 *
 * with DynamoDB tables built from shared/adapters/aws/tables.ts (so the deployed shape is the
 * shape the adapters are tested against), one S3 bucket (layer cache, inventories, SBOMs,
 * reports, feed state, the policy bundle), a dead-letter queue with an alarm for every place a
 * message can fail for good, and one IAM role per function holding only what it uses.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Annotations, ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { InvocationType, Trigger } from 'aws-cdk-lib/triggers';
import type { Construct } from 'constructs';
import { IMAGES_BY_REPOSITORY, TABLES, type AttributeType, type KeyAttribute, type SecondaryIndex, type TableDefinition, type TableNames } from '../shared/adapters/aws/tables.js';
import { limitEnvName, parseLimits, type LayerLimits } from '../shared/layers/extract.js';
import { OBJECT_KEYS } from '../shared/pipeline/deps.js';
// FEED_SYNC_REQUESTED_DETAIL_TYPE: what feed-sync puts on the bus when it stops at its deadline with
// work left; the FeedSyncRequestedRule runs it again at once and it resumes from its checkpoint
import { FEED_EVENT_DETAIL_TYPE, FEED_EVENT_SOURCE, FEED_SYNC_REQUESTED_DETAIL_TYPE } from '../shared/pipeline/feed-sync.js';
import { EXPLOIT_KEYS } from '../shared/advisories/exploit-feed.js';
import { BASE_EVENT_SOURCE, BASE_INDEX_ECOSYSTEM, BASE_UPDATED_DETAIL_TYPE } from '../shared/pipeline/base-images.js';
import { splitBaseRepository } from '../shared/pipeline/config.js';
import { parseBundle } from '../shared/policy/bundle.js';
import { CONTEXT_KEYS, DEFAULT_POLICY_KEY, DEFAULT_SETTINGS, SettingsError, settingsProblems, type DrydockSettings } from './config.js';
import { PipelineFunction, RUNTIME } from './functions.js';
import { allow } from './nag.js';

export interface DrydockStackProps extends StackProps, Partial<DrydockSettings> {}

/** Bucket prefixes beside OBJECT_KEYS.layerPrefix (shared/pipeline/deps.ts, feed-sync's state). */
export const PREFIXES = {
  layers: OBJECT_KEYS.layerPrefix,
  inventories: 'inventories/',
  sboms: 'sboms/',
  reports: 'reports/',
  feeds: 'feeds/',
} as const;

/** How long each function may run, and from it each queue's visibility timeout. */
export const TIMEOUTS = {
  analyzer: Duration.minutes(15),
  evaluator: Duration.minutes(5),
  feedSync: Duration.minutes(15),
  rescan: Duration.minutes(5),
  reconcile: Duration.minutes(5),
  slackNotifier: Duration.minutes(1),
};

/**
 * AWS's advice for a queue that triggers a function: a visibility timeout of at least six times
 * the function's timeout, so that a message whose batch is retried by the poller is not
 * delivered again while a first invocation may still hold it.
 */
export const VISIBILITY_FACTOR = 6;

/** The notifier's reserved concurrency, and so its queue's maximum pollers (SQS's minimum is 2). */
const SLACK_CONCURRENCY = 2;

const CDK_ATTRIBUTE_TYPE: Record<AttributeType, dynamodb.AttributeType> = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
  B: dynamodb.AttributeType.BINARY,
};

const attribute = (a: KeyAttribute): dynamodb.Attribute => ({ name: a.name, type: CDK_ATTRIBUTE_TYPE[a.type] });

function projection(ix: SecondaryIndex): { projectionType: dynamodb.ProjectionType; nonKeyAttributes?: string[] } {
  switch (ix.projection.type) {
    case 'ALL':
      return { projectionType: dynamodb.ProjectionType.ALL };
    case 'KEYS_ONLY':
      return { projectionType: dynamodb.ProjectionType.KEYS_ONLY };
    case 'INCLUDE':
      return { projectionType: dynamodb.ProjectionType.INCLUDE, nonKeyAttributes: ix.projection.nonKeyAttributes };
  }
}

export class DrydockStack extends Stack {
  readonly settings: DrydockSettings;
  readonly key: kms.Key;
  readonly tables: Record<keyof TableNames, dynamodb.Table>;
  readonly bucket: s3.Bucket;
  readonly accessLogs: s3.Bucket;
  readonly scanQueue: sqs.Queue;
  readonly scanDeadLetters: sqs.Queue;
  readonly evaluateQueue: sqs.Queue;
  readonly evaluateDeadLetters: sqs.Queue;
  readonly eventDeadLetters: sqs.Queue;
  readonly slackDeadLetters?: sqs.Queue;
  /** results for Slack, gathered for up to a minute so that a feed update's many results become one summary */
  readonly slackQueue?: sqs.Queue;
  readonly resultsTopic: sns.Topic;
  readonly alarmTopic: sns.Topic;
  readonly analyzer: PipelineFunction;
  readonly evaluator: PipelineFunction;
  readonly feedSync: PipelineFunction;
  readonly rescan: PipelineFunction;
  readonly reconcile: PipelineFunction;
  readonly slackNotifier?: PipelineFunction;
  readonly slackWebhook?: secretsmanager.Secret;
  readonly ecrRule: events.Rule;
  readonly feedSyncSchedule: events.Rule;
  readonly advisoriesUpdatedRule: events.Rule;
  readonly rescanSchedule: events.Rule;
  readonly feedSyncRequestedRule: events.Rule;
  readonly reconcileSchedule: events.Rule;
  /** feed-sync, invoked asynchronously once when the stack is created: the first advisories do not wait for the schedule */
  readonly firstFeedSync: Trigger;
  readonly alarms: cloudwatch.Alarm[] = [];
  /** the S3 key of the policy bundle the evaluator reads, if any */
  readonly policyKey?: string;

  constructor(scope: Construct, id: string, props: DrydockStackProps = {}) {
    super(scope, id, props);
    const settings: DrydockSettings = { ...DEFAULT_SETTINGS };
    for (const k of Object.keys(CONTEXT_KEYS) as Array<keyof DrydockSettings>) if (props[k] !== undefined) (settings as unknown as Record<string, unknown>)[k] = props[k];
    const problems = settingsProblems(settings);
    // A malformed policy bundle fails the synth with its precise problems, not the first evaluation.
    if (settings.policyBundle) {
      try {
        parseBundle(readFileSync(resolve(settings.policyBundle)), settings.policyBundle);
      } catch (e) {
        problems.push(`policyBundle: ${(e as Error).message}`);
      }
    }
    if (problems.length) throw new SettingsError(problems);
    this.settings = settings;
    this.policyKey = settings.policyKey ?? (settings.policyBundle ? DEFAULT_POLICY_KEY : undefined);
    const reserved = (n: number) => (settings.reservedConcurrency ? n : undefined);

    // ------------------------------------------------------------ encryption key (SNS)
    this.key = new kms.Key(this, 'Key', {
      description: 'Drydock: encrypts the results and alarm topics',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // CloudWatch alarms publish to the (encrypted) alarm topic: the service must be able to use the
    // key, for this account's alarms in this region only (the confused-deputy conditions). The
    // alarms' own ARNs cannot be named here: key → topic → alarm would be a circular dependency.
    const fromOurAlarms = {
      StringEquals: { 'aws:SourceAccount': this.account },
      ArnLike: { 'aws:SourceArn': this.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
    };
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublishToEncryptedTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: fromOurAlarms,
      }),
    );

    // ------------------------------------------------------------ DynamoDB, from the shared definitions
    const tables = {} as Record<keyof TableNames, dynamodb.Table>;
    for (const def of TABLES) tables[def.id] = this.table(def);
    this.tables = tables;

    // ------------------------------------------------------------ S3
    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED, // the only encryption S3 server access logging can write to
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'drydock/',
      lifecycleRules: [
        { id: 'expire-layer-cache', prefix: PREFIXES.layers, expiration: Duration.days(settings.layerCacheDays) },
        // the reports of results older than the results table's TTL (0: both kept forever)
        ...(settings.resultRetentionDays > 0 ? [{ id: 'expire-reports', prefix: PREFIXES.reports, expiration: Duration.days(settings.resultRetentionDays) }] : []),
        // streamed uploads are aborted by the adapter; this catches those a crash left behind
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // ------------------------------------------------------------ SQS
    const queue = (qid: string, visibilityTimeout: Duration | undefined, deadLetters?: sqs.IQueue) =>
      new sqs.Queue(this, qid, {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        ...(visibilityTimeout ? { visibilityTimeout } : {}),
        // sources keep 4 days (SQS's default); dead-letter queues 14 (SQS's maximum), so a dead
        // letter (whose age counts from its first enqueue) outlives its source's retention
        retentionPeriod: deadLetters ? Duration.days(4) : Duration.days(14),
        ...(deadLetters ? { deadLetterQueue: { queue: deadLetters, maxReceiveCount: settings.maxReceiveCount } } : {}),
      });
    this.scanDeadLetters = queue('ScanDeadLetters', undefined);
    this.scanQueue = queue('ScanQueue', Duration.seconds(TIMEOUTS.analyzer.toSeconds() * VISIBILITY_FACTOR), this.scanDeadLetters);
    this.evaluateDeadLetters = queue('EvaluateDeadLetters', undefined);
    this.evaluateQueue = queue('EvaluateQueue', Duration.seconds(TIMEOUTS.evaluator.toSeconds() * VISIBILITY_FACTOR), this.evaluateDeadLetters);
    // events EventBridge could not deliver, and scheduled/event invocations that failed after Lambda's retries
    this.eventDeadLetters = queue('EventDeadLetters', undefined);

    // ------------------------------------------------------------ SNS
    this.resultsTopic = new sns.Topic(this, 'ResultsTopic', { displayName: 'Drydock scan results', masterKey: this.key, enforceSSL: true });
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', { displayName: 'Drydock alarms', masterKey: this.key, enforceSSL: true });
    // enforceSSL gave the topic a policy that only denies: without this, no alarm is ever delivered
    this.alarmTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alarmTopic.topicArn],
        conditions: fromOurAlarms,
      }),
    );

    // ------------------------------------------------------------ functions
    const maxReceiveCount = String(settings.maxReceiveCount);
    this.analyzer = new PipelineFunction(this, 'Analyzer', {
      name: 'analyzer',
      description: 'Drydock analyzer: ECR push events, scan and layer jobs → inventory, SBOM, package index',
      timeout: TIMEOUTS.analyzer,
      memorySize: 3008,
      reservedConcurrency: reserved(settings.analyzerConcurrency),
      sqlWasm: true,
      // layer-worker.mjs beside the bundle: used with more than 2 vCPUs (more memory) or DRYDOCK_LAYER_WORKERS; at 3008 MB (2 vCPU) the layers are walked in the main thread, zlib inflating on libuv's pool (see workerCount)
      layerWorker: true,
      environment: {
        DRYDOCK_IMAGES_TABLE: tables.images.tableName,
        DRYDOCK_PACKAGE_INDEX_TABLE: tables.packageIndex.tableName,
        DRYDOCK_IDEMPOTENCY_TABLE: tables.idempotency.tableName,
        DRYDOCK_BUCKET: this.bucket.bucketName,
        DRYDOCK_SCAN_QUEUE_URL: this.scanQueue.queueUrl,
        DRYDOCK_EVALUATE_QUEUE_URL: this.evaluateQueue.queueUrl,
        DRYDOCK_DEAD_LETTER_QUEUE_URL: this.scanDeadLetters.queueUrl,
        DRYDOCK_RESULTS_TOPIC_ARN: this.resultsTopic.topicArn,
        DRYDOCK_MAX_RECEIVE_COUNT: maxReceiveCount,
        // a claim is stale once the job holding it cannot be running any more
        DRYDOCK_STALE_CLAIM_SECONDS: String(TIMEOUTS.analyzer.toSeconds() + 300),
        ...(settings.repositories.length ? { DRYDOCK_REPOSITORIES: settings.repositories.join(',') } : {}),
        ...(settings.platform ? { DRYDOCK_PLATFORM: settings.platform } : {}),
        ...Object.fromEntries(Object.entries(parseLimits(settings.limits ?? [])).map(([name, value]) => [limitEnvName(name as keyof LayerLimits), String(value)])),
      },
    });
    this.evaluator = new PipelineFunction(this, 'Evaluator', {
      name: 'evaluator',
      description: 'Drydock evaluator: inventory × advisories → findings → policy verdict → result history, SNS',
      timeout: TIMEOUTS.evaluator,
      memorySize: 1024,
      reservedConcurrency: reserved(settings.evaluatorConcurrency),
      environment: {
        DRYDOCK_IMAGES_TABLE: tables.images.tableName,
        DRYDOCK_RESULTS_TABLE: tables.results.tableName,
        DRYDOCK_ADVISORIES_TABLE: tables.advisories.tableName,
        DRYDOCK_IDEMPOTENCY_TABLE: tables.idempotency.tableName,
        DRYDOCK_BUCKET: this.bucket.bucketName,
        DRYDOCK_RESULTS_TOPIC_ARN: this.resultsTopic.topicArn,
        // its own source queue: a failed message's visibility is changed there (retry backoff)
        DRYDOCK_EVALUATE_QUEUE_URL: this.evaluateQueue.queueUrl,
        DRYDOCK_DEAD_LETTER_QUEUE_URL: this.evaluateDeadLetters.queueUrl,
        DRYDOCK_MAX_RECEIVE_COUNT: maxReceiveCount,
        DRYDOCK_RESULT_RETENTION_DAYS: String(settings.resultRetentionDays),
        ...(this.policyKey ? { DRYDOCK_POLICY_KEY: this.policyKey } : {}),
        ...(settings.publish ? { DRYDOCK_PUBLISH: settings.publish } : {}),
        ...(settings.allowMissingAdvisories ? { DRYDOCK_ALLOW_MISSING_ADVISORIES: '1' } : {}),
        ...(settings.maxAdvisoryAge !== undefined ? { DRYDOCK_MAX_ADVISORY_AGE: settings.maxAdvisoryAge } : {}),
        ...(settings.exploitFeeds ? { DRYDOCK_EXPLOIT_FEEDS: '1' } : {}),
        ...(settings.vexKeys.length ? { DRYDOCK_VEX_KEYS: settings.vexKeys.join(',') } : {}),
        ...(settings.trustPolicyKey ? { DRYDOCK_TRUST_POLICY_KEY: settings.trustPolicyKey } : {}),
        // trusted base images (issue 19): full names (this registry's host before a bare repository),
        // the package index (base entries) and the bus (the "base patched" event)
        ...(settings.baseRepositories.length
          ? {
              DRYDOCK_BASE_REPOSITORIES: settings.baseRepositories.map((b) => (splitBaseRepository(b).registry ? b : `${this.account}.dkr.ecr.${this.region}.${this.urlSuffix}/${b}`)).join(','),
              DRYDOCK_PACKAGE_INDEX_TABLE: tables.packageIndex.tableName,
              DRYDOCK_EVENT_BUS_NAME: 'default',
            }
          : {}),
      },
    });
    this.feedSync = new PipelineFunction(this, 'FeedSync', {
      name: 'feed-sync',
      description: 'Drydock feed sync: OSV feeds → advisories table, "Advisories Updated" events; continues itself with "Feed Sync Requested"',
      timeout: TIMEOUTS.feedSync,
      memorySize: 3008,
      reservedConcurrency: reserved(1),
      deadLetterQueue: this.eventDeadLetters,
      // the first-sync trigger invokes a version of it
      replaceVersions: true,
      environment: {
        DRYDOCK_ADVISORIES_TABLE: tables.advisories.tableName,
        DRYDOCK_BUCKET: this.bucket.bucketName,
        DRYDOCK_EVENT_BUS_NAME: 'default',
        DRYDOCK_OSV_ECOSYSTEMS: settings.ecosystems.join(','),
        DRYDOCK_ALAS_STREAMS: settings.alasStreams.join(','),
        ...(settings.osvUrl ? { DRYDOCK_OSV_URL: settings.osvUrl } : {}),
        ...(settings.alasUrl ? { DRYDOCK_ALAS_URL: settings.alasUrl } : {}),
        ...(settings.exploitFeeds ? { DRYDOCK_EXPLOIT_FEEDS: '1', ...(settings.kevUrl ? { DRYDOCK_KEV_URL: settings.kevUrl } : {}), ...(settings.epssUrl ? { DRYDOCK_EPSS_URL: settings.epssUrl } : {}) } : {}),
      },
    });
    this.rescan = new PipelineFunction(this, 'Rescan', {
      name: 'rescan',
      description: 'Drydock rescan: changed package keys (or everything, daily) → evaluate jobs',
      timeout: TIMEOUTS.rescan,
      memorySize: 1024,
      reservedConcurrency: reserved(1),
      deadLetterQueue: this.eventDeadLetters,
      environment: {
        DRYDOCK_PACKAGE_INDEX_TABLE: tables.packageIndex.tableName,
        DRYDOCK_IMAGES_TABLE: tables.images.tableName,
        DRYDOCK_EVALUATE_QUEUE_URL: this.evaluateQueue.queueUrl,
      },
    });
    this.reconcile = new PipelineFunction(this, 'Reconcile', {
      name: 'reconcile',
      description: 'Drydock reconcile: images of the watched ECR repositories never analysed → scan jobs (lost push events)',
      timeout: TIMEOUTS.reconcile,
      memorySize: 512,
      reservedConcurrency: reserved(1),
      deadLetterQueue: this.eventDeadLetters,
      environment: {
        DRYDOCK_IMAGES_TABLE: tables.images.tableName,
        DRYDOCK_SCAN_QUEUE_URL: this.scanQueue.queueUrl,
        ...(settings.repositories.length ? { DRYDOCK_REPOSITORIES: settings.repositories.join(',') } : {}),
      },
    });

    // ------------------------------------------------------------ triggers
    // SQS pollers: with reserved concurrency, no more than the function may run (a throttled
    // message still counts a receive towards the DLQ); without, the same numbers bound the
    // pollers (SQS's maximumConcurrency is 2..1000, so 1 becomes 2).
    const pollers = (n: number): number | undefined => (settings.reservedConcurrency ? (n >= 2 ? n : undefined) : Math.max(2, n));
    this.analyzer.fn.addEventSource(
      new SqsEventSource(this.scanQueue, {
        batchSize: settings.analyzerBatchSize,
        reportBatchItemFailures: true,
        ...(pollers(settings.analyzerConcurrency) ? { maxConcurrency: pollers(settings.analyzerConcurrency)! } : {}),
      }),
    );
    this.evaluator.fn.addEventSource(
      new SqsEventSource(this.evaluateQueue, {
        batchSize: 10,
        reportBatchItemFailures: true,
        ...(pollers(settings.evaluatorConcurrency) ? { maxConcurrency: pollers(settings.evaluatorConcurrency)! } : {}),
      }),
    );

    this.ecrRule = new events.Rule(this, 'EcrImageActionRule', {
      description: 'Drydock: ECR pushes and deletes → scan queue (the event is the message body)',
      eventPattern: ecrEventPattern(settings.repositories),
    });
    this.ecrRule.addTarget(new targets.SqsQueue(this.scanQueue, { deadLetterQueue: this.eventDeadLetters }));

    this.feedSyncSchedule = new events.Rule(this, 'FeedSyncSchedule', {
      description: `Drydock: advisory feed sync every ${settings.feedSyncHours} hour(s)`,
      schedule: events.Schedule.rate(Duration.hours(settings.feedSyncHours)),
    });
    this.feedSyncSchedule.addTarget(new targets.LambdaFunction(this.feedSync.fn, { deadLetterQueue: this.eventDeadLetters }));

    // a sync that reaches its deadline checkpoints and asks for the next run with this event
    this.feedSyncRequestedRule = new events.Rule(this, 'FeedSyncRequestedRule', {
      description: 'Drydock: continue a feed sync that stopped at its deadline (or run one on request)',
      eventPattern: { source: [FEED_EVENT_SOURCE], detailType: [FEED_SYNC_REQUESTED_DETAIL_TYPE] },
    });
    this.feedSyncRequestedRule.addTarget(new targets.LambdaFunction(this.feedSync.fn, { deadLetterQueue: this.eventDeadLetters }));

    this.advisoriesUpdatedRule = new events.Rule(this, 'AdvisoriesUpdatedRule', {
      description: 'Drydock: re-evaluate the images holding packages whose advisories changed',
      eventPattern: { source: [FEED_EVENT_SOURCE], detailType: [FEED_EVENT_DETAIL_TYPE] },
    });
    this.advisoriesUpdatedRule.addTarget(new targets.LambdaFunction(this.rescan.fn, { deadLetterQueue: this.eventDeadLetters }));

    this.rescanSchedule = new events.Rule(this, 'FullRescanSchedule', {
      description: `Drydock: re-evaluate every image every ${settings.rescanDays} day(s)`,
      schedule: events.Schedule.rate(Duration.days(settings.rescanDays)),
    });
    // the scheduled event as it is, with detail {"full": true}: "re-evaluate everything"
    this.rescanSchedule.addTarget(
      new targets.LambdaFunction(this.rescan.fn, {
        deadLetterQueue: this.eventDeadLetters,
        event: events.RuleTargetInput.fromObject({
          version: events.EventField.fromPath('$.version'),
          id: events.EventField.eventId,
          'detail-type': events.EventField.detailType,
          source: events.EventField.source,
          account: events.EventField.account,
          time: events.EventField.time,
          region: events.EventField.region,
          resources: events.EventField.fromPath('$.resources'),
          detail: { full: true },
        }),
      }),
    );

    this.reconcileSchedule = new events.Rule(this, 'ReconcileSchedule', {
      description: `Drydock: queue the images of the watched repositories that were never analysed, every ${settings.reconcileHours} hour(s)`,
      schedule: events.Schedule.rate(Duration.hours(settings.reconcileHours)),
    });
    this.reconcileSchedule.addTarget(new targets.LambdaFunction(this.reconcile.fn, { deadLetterQueue: this.eventDeadLetters }));

    // The first sync runs at deploy time, not feedSyncHours later: the stack's creation invokes
    // feed-sync once, asynchronously (the deploy does not wait for it; a failure goes to
    // EventDeadLetters like a scheduled run's), after everything it and its continuation use.
    // Not again on later deploys: the schedule keeps the advisories fresh from then on.
    this.firstFeedSync = new Trigger(this, 'FirstFeedSync', {
      handler: this.feedSync.fn,
      invocationType: InvocationType.EVENT,
      executeOnHandlerChange: false,
      executeAfter: [this.feedSync, this.rescan, this.feedSyncRequestedRule, this.advisoriesUpdatedRule, tables.advisories, this.bucket, this.eventDeadLetters],
    });
    Annotations.of(this.feedSync.fn).acknowledgeWarning(
      '@aws-cdk/aws-lambda:addPermissionsToVersionOrAlias',
      "The rules invoke feed-sync unqualified, through the function's resource policy; only the trigger provider invokes the version, through its own role's identity policy (lambda:InvokeFunction on <function ARN>:*), in the same account.",
    );

    // ------------------------------------------------------------ Slack
    if (settings.slack) {
      this.slackDeadLetters = queue('SlackDeadLetters', undefined);
      this.slackQueue = queue('SlackQueue', Duration.seconds(TIMEOUTS.slackNotifier.toSeconds() * VISIBILITY_FACTOR), this.slackDeadLetters);
      this.slackWebhook = new secretsmanager.Secret(this, 'SlackWebhook', {
        description: 'Drydock: the Slack incoming-webhook URL (https://hooks.slack.com/services/...). Put it with aws secretsmanager put-secret-value after deploying.',
        removalPolicy: RemovalPolicy.DESTROY,
      });
      Validations.of(this.slackWebhook).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: 'A Slack incoming-webhook URL cannot be rotated by a Lambda: Slack issues it. It is replaced by regenerating it in Slack and running put-secret-value (infra/README.md).',
      });
      this.slackNotifier = new PipelineFunction(this, 'SlackNotifier', {
        name: 'slack-notifier',
        description: 'Drydock Slack notifier: scan results → Slack incoming webhook',
        timeout: TIMEOUTS.slackNotifier,
        memorySize: 256,
        reservedConcurrency: reserved(SLACK_CONCURRENCY),
        environment: {
          DRYDOCK_SLACK_WEBHOOK_SECRET_ARN: this.slackWebhook.secretArn,
          DRYDOCK_BUCKET: this.bucket.bucketName,
          DRYDOCK_REPORT_URL_TTL_SECONDS: String(settings.reportUrlTtlSeconds),
        },
      });
      // SNS → queue → notifier: results that arrive within a minute come as one batch, and more
      // than DRYDOCK_SLACK_SUMMARY_THRESHOLD of them become one summary message (never a flood).
      // A batch that cannot be posted is retried, then lands in SlackDeadLetters.
      this.resultsTopic.addSubscription(
        new subscriptions.SqsSubscription(this.slackQueue, {
          deadLetterQueue: this.slackDeadLetters,
          filterPolicy: { status: sns.SubscriptionFilter.stringFilter({ allowlist: settings.slackStatuses }) },
        }),
      );
      this.slackNotifier.fn.addEventSource(
        new SqsEventSource(this.slackQueue, {
          batchSize: 50,
          maxBatchingWindow: Duration.seconds(60),
          // as for the analyzer and evaluator: no more pollers than the function may run (reserved or not)
          maxConcurrency: SLACK_CONCURRENCY,
        }),
      );
    }

    // ------------------------------------------------------------ IAM: each function, only what it uses
    this.grantAnalyzer();
    this.grantEvaluator();
    this.grantFeedSync();
    this.grantRescan();
    this.grantReconcile();
    if (this.slackNotifier && this.slackWebhook) this.grantSlackNotifier(this.slackNotifier, this.slackWebhook);

    // nodejs22.x is the runtime the bundles target (esbuild target node22) and the handlers are tested on
    for (const f of this.functions()) {
      Validations.of(f.fn).acknowledge({
        id: 'AwsSolutions-L1',
        reason: `${RUNTIME.name} is deliberate: the bundles are built for it (esbuild target node22) and the handlers are tested on Node 20/22; moving to a newer runtime is its own tested change, not a silent upgrade.`,
      });
    }

    // ------------------------------------------------------------ alarms: anything in a dead-letter queue
    const deadLetters: Array<[string, sqs.Queue, string]> = [
      ['ScanDeadLetters', this.scanDeadLetters, 'scan jobs or ECR events the analyzer gave up on (poison messages, retries exhausted)'],
      ['EvaluateDeadLetters', this.evaluateDeadLetters, 'evaluate jobs the evaluator gave up on'],
      ['EventDeadLetters', this.eventDeadLetters, 'events EventBridge could not deliver, or feed-sync/rescan/reconcile invocations that failed after retries'],
    ];
    if (this.slackDeadLetters) deadLetters.push(['SlackDeadLetters', this.slackDeadLetters, 'results that could not be posted to Slack']);
    for (const [name, q, what] of deadLetters) {
      const alarm = new cloudwatch.Alarm(this, `${name}Alarm`, {
        alarmDescription: `Drydock: messages in the ${name} queue: ${what}. Inspect them, fix the cause, then redrive (infra/README.md).`,
        metric: q.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: cloudwatch.Stats.MAXIMUM }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(new cwActions.SnsAction(this.alarmTopic));
      this.alarms.push(alarm);
    }

    // ------------------------------------------------------------ outputs: the CLI's DRYDOCK_* variables and what to fill in
    const output = (oid: string, value: string, description: string) => new CfnOutput(this, oid, { value, description });
    output('ImagesTableName', tables.images.tableName, 'DRYDOCK_IMAGES_TABLE');
    output('PackageIndexTableName', tables.packageIndex.tableName, 'DRYDOCK_PACKAGE_INDEX_TABLE');
    output('ResultsTableName', tables.results.tableName, 'DRYDOCK_RESULTS_TABLE');
    output('AdvisoriesTableName', tables.advisories.tableName, 'DRYDOCK_ADVISORIES_TABLE');
    output('BucketName', this.bucket.bucketName, 'DRYDOCK_BUCKET');
    output('ScanQueueUrl', this.scanQueue.queueUrl, 'DRYDOCK_SCAN_QUEUE_URL');
    output('EvaluateQueueUrl', this.evaluateQueue.queueUrl, 'DRYDOCK_EVALUATE_QUEUE_URL');
    output('ResultsTopicArn', this.resultsTopic.topicArn, 'DRYDOCK_RESULTS_TOPIC_ARN');
    output('AlarmTopicArn', this.alarmTopic.topicArn, 'subscribe to it (email, chat) to hear of dead-lettered messages');
    if (this.policyKey) output('PolicyUpload', `aws s3 cp ${settings.policyBundle ?? '<bundle.json>'} s3://${this.bucket.bucketName}/${this.policyKey}`, 'upload the policy bundle (the evaluator re-reads it within a minute)');
    if (this.slackWebhook) output('SlackWebhookSecretArn', this.slackWebhook.secretArn, 'put the Slack incoming-webhook URL here: aws secretsmanager put-secret-value --secret-id <arn> --secret-string https://hooks.slack.com/services/...');
  }

  /** The functions this stack deploys (slack-notifier only with Slack on). */
  functions(): PipelineFunction[] {
    return [this.analyzer, this.evaluator, this.feedSync, this.rescan, this.reconcile, ...(this.slackNotifier ? [this.slackNotifier] : [])];
  }

  private table(def: TableDefinition): dynamodb.Table {
    const table = new dynamodb.Table(this, tableConstructId(def), {
      partitionKey: attribute(def.partitionKey),
      ...(def.sortKey ? { sortKey: attribute(def.sortKey) } : {}),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      ...(def.timeToLiveAttribute ? { timeToLiveAttribute: def.timeToLiveAttribute } : {}),
      // idempotency records live an hour; everything else is the scanner's state and history
      removalPolicy: def.id === 'idempotency' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
    for (const ix of def.globalSecondaryIndexes) {
      table.addGlobalSecondaryIndex({
        indexName: ix.indexName,
        partitionKey: attribute(ix.partitionKey),
        ...(ix.sortKey ? { sortKey: attribute(ix.sortKey) } : {}),
        ...projection(ix),
      });
    }
    for (const ix of def.localSecondaryIndexes) {
      if (ix.partitionKey.name !== def.partitionKey.name) throw new Error(`table ${def.id}: LSI ${ix.indexName} must share the table's partition key`);
      if (!ix.sortKey) throw new Error(`table ${def.id}: LSI ${ix.indexName} needs a sort key`);
      table.addLocalSecondaryIndex({ indexName: ix.indexName, sortKey: attribute(ix.sortKey), ...projection(ix) });
    }
    return table;
  }

  private indexArn(table: keyof TableNames, indexName: string): string {
    const def = TABLES.find((t) => t.id === table)!;
    if (![...def.globalSecondaryIndexes, ...def.localSecondaryIndexes].some((ix) => ix.indexName === indexName)) throw new Error(`table ${table} has no index ${indexName}`);
    return `${this.tables[table].tableArn}/index/${indexName}`;
  }

  private objects(prefix: string): string {
    return `${this.bucket.bucketArn}/${prefix}*`;
  }

  /** Objects are keyed by image digest, result id or ecosystem under a fixed prefix: the prefix is the narrowest ARN S3 offers. */
  private static readonly PREFIX_REASON = 'S3 object ARNs cannot name objects that do not exist yet: these are keyed by image digest, result id or ecosystem under one fixed prefix of the Drydock bucket, and the prefix is the narrowest resource IAM can express.';

  /** Every data-plane action of the Powertools idempotency persistence layer, on its table only. */
  private grantIdempotency(f: PipelineFunction): void {
    allow(f.role, 'IdempotencyRecords', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], [this.tables.idempotency.tableArn]);
  }

  private grantPublishResults(f: PipelineFunction): void {
    allow(f.role, 'PublishResults', ['sns:Publish'], [this.resultsTopic.topicArn]);
    allow(f.role, 'EncryptForResultsTopic', ['kms:GenerateDataKey', 'kms:Decrypt'], [this.key.keyArn]);
  }

  /**
   * HeadObject/GetObject of a missing key answers 404 only to a caller allowed to list the
   * bucket, 403 otherwise — and a cache miss, a first feed sync or a missing policy bundle must
   * read as "not there", not as "denied". Listing shows keys (digests), never contents.
   */
  private grantListBucket(f: PipelineFunction): void {
    allow(f.role, 'TellMissingObjectsApart', ['s3:ListBucket'], [this.bucket.bucketArn]);
  }

  /**
   * Reading images from ECR: the analyzer, and the evaluator when it verifies signatures (they are
   * OCI artifacts beside the image in its repository). The configured repositories only.
   */
  private grantReadImages(f: PipelineFunction, who: string): void {
    const repositories = this.settings.repositories.length ? this.settings.repositories : ['*'];
    allow(f.role, 'EcrAuthorizationToken', ['ecr:GetAuthorizationToken'], ['*'], {
      wildcardReason: 'ecr:GetAuthorizationToken has no resource-level permissions (AWS offers only "*"); the token grants nothing by itself, image reads are limited to the configured repositories below.',
    });
    allow(
      f.role,
      'EcrReadImages',
      ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:DescribeImages', 'ecr:GetDownloadUrlForLayer'],
      repositories.map((r) => this.formatArn({ service: 'ecr', resource: 'repository', resourceName: r })),
      {
        wildcardReason: this.settings.repositories.length
          ? `The deployment names repository patterns with "*" (the repositories setting); the ${who} may read images of the matching repositories of this account and region only.`
          : 'No repositories configured: the scanner covers every repository of this account and region, by design (set the repositories context to narrow the rule and this ARN). Read-only actions.',
      },
    );
  }

  private grantAnalyzer(): void {
    const f = this.analyzer;
    this.grantReadImages(f, 'analyzer');
    allow(f.role, 'ImageRecords', ['dynamodb:GetItem', 'dynamodb:UpdateItem'], [this.tables.images.tableArn]);
    allow(f.role, 'WritePackageIndex', ['dynamodb:BatchWriteItem'], [this.tables.packageIndex.tableArn]);
    this.grantIdempotency(f);
    const reason = { wildcardReason: DrydockStack.PREFIX_REASON };
    allow(f.role, 'LayerCache', ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'], [this.objects(PREFIXES.layers)], reason);
    allow(f.role, 'Inventories', ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'], [this.objects(PREFIXES.inventories)], reason);
    allow(f.role, 'Sboms', ['s3:PutObject', 's3:AbortMultipartUpload'], [this.objects(PREFIXES.sboms)], reason);
    this.grantListBucket(f);
    // layer jobs (fan-out) go through the scan queue; poison messages straight to its dead-letter queue
    allow(f.role, 'SendJobs', ['sqs:SendMessage'], [this.scanQueue.queueArn, this.evaluateQueue.queueArn, this.scanDeadLetters.queueArn]);
    this.grantPublishResults(f);
  }

  private grantEvaluator(): void {
    const f = this.evaluator;
    allow(f.role, 'ImageRecords', ['dynamodb:GetItem', 'dynamodb:UpdateItem'], [this.tables.images.tableArn]);
    allow(f.role, 'AppendResults', ['dynamodb:PutItem'], [this.tables.results.tableArn]);
    allow(f.role, 'ResultHistory', ['dynamodb:Query'], [this.indexArn('results', 'byTime')]);
    allow(f.role, 'ReadAdvisories', ['dynamodb:Query'], [this.tables.advisories.tableArn]);
    this.grantIdempotency(f);
    const reason = { wildcardReason: DrydockStack.PREFIX_REASON };
    allow(f.role, 'ReadInventories', ['s3:GetObject'], [this.objects(PREFIXES.inventories)], reason);
    // the synced feeds' summaries (ecosystems, age): a verdict over missing or stale data fails closed
    allow(f.role, 'ReadFeedSummaries', ['s3:GetObject'], [`${this.bucket.bucketArn}/${PREFIXES.feeds}*.summary.json`], reason);
    allow(f.role, 'WriteReports', ['s3:PutObject'], [this.objects(PREFIXES.reports)], reason);
    if (this.policyKey) allow(f.role, 'ReadPolicyBundle', ['s3:GetObject'], [`${this.bucket.bucketArn}/${this.policyKey}`]);
    // KEV / EPSS as feed-sync leaves them (shared/advisories/exploit-feed.ts EXPLOIT_KEYS): exactly these objects
    if (this.settings.exploitFeeds) allow(f.role, 'ReadExploitData', ['s3:GetObject'], Object.values(EXPLOIT_KEYS).map((k) => `${this.bucket.bucketArn}/${k}`));
    if (this.settings.vexKeys.length) allow(f.role, 'ReadVexDocuments', ['s3:GetObject'], this.settings.vexKeys.map((k) => `${this.bucket.bucketArn}/${k}`));
    // signatures (issue 19): the trust policy object, and the images' registries, where the signatures are
    if (this.settings.trustPolicyKey) {
      allow(f.role, 'ReadTrustPolicy', ['s3:GetObject'], [`${this.bucket.bucketArn}/${this.settings.trustPolicyKey}`]);
      this.grantReadImages(f, 'evaluator');
    }
    // trusted base images (issue 19): their analysed digests by repository, the package index's base
    // entries only (their partition keys), the re-evaluations a patched base asks for, and its event
    if (this.settings.baseRepositories.length) {
      allow(f.role, 'BaseCandidates', ['dynamodb:Query'], [this.indexArn('images', IMAGES_BY_REPOSITORY)]);
      allow(f.role, 'ImagesOnPatchedBase', ['dynamodb:BatchGetItem'], [this.tables.images.tableArn]);
      allow(f.role, 'BaseIndexEntries', ['dynamodb:BatchWriteItem', 'dynamodb:Query'], [this.tables.packageIndex.tableArn], {
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${BASE_INDEX_ECOSYSTEM}|*`] } },
      });
      allow(f.role, 'SendBaseReevaluations', ['sqs:SendMessage'], [this.evaluateQueue.queueArn]);
      allow(f.role, 'AnnounceBasePatched', ['events:PutEvents'], [this.formatArn({ service: 'events', resource: 'event-bus', resourceName: 'default' })], {
        conditions: { StringEquals: { 'events:source': BASE_EVENT_SOURCE, 'events:detail-type': [BASE_UPDATED_DETAIL_TYPE] } },
      });
    }
    this.grantListBucket(f);
    allow(f.role, 'SendPoisonMessages', ['sqs:SendMessage'], [this.evaluateDeadLetters.queueArn]);
    this.grantPublishResults(f);
  }

  private grantFeedSync(): void {
    const f = this.feedSync;
    // the advisory store's put(): the stored key lists (BatchGet, consistent), then slices and lists (BatchWrite)
    allow(f.role, 'WriteAdvisories', ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'], [this.tables.advisories.tableArn]);
    allow(f.role, 'FeedState', ['s3:GetObject', 's3:PutObject'], [this.objects(PREFIXES.feeds)], { wildcardReason: DrydockStack.PREFIX_REASON });
    this.grantListBucket(f);
    allow(f.role, 'AnnounceAdvisoryUpdates', ['events:PutEvents'], [this.formatArn({ service: 'events', resource: 'event-bus', resourceName: 'default' })], {
      // its announcements, and the request that continues a sync cut off at its deadline
      conditions: { StringEquals: { 'events:source': FEED_EVENT_SOURCE, 'events:detail-type': [FEED_EVENT_DETAIL_TYPE, FEED_SYNC_REQUESTED_DETAIL_TYPE] } },
    });
  }

  private grantRescan(): void {
    const f = this.rescan;
    allow(f.role, 'ImagesByPackage', ['dynamodb:Query'], [this.tables.packageIndex.tableArn]);
    allow(f.role, 'ImagesByUpdate', ['dynamodb:Query'], [this.indexArn('images', 'byUpdated')]);
    allow(f.role, 'SendEvaluateJobs', ['sqs:SendMessage'], [this.evaluateQueue.queueArn]);
  }

  private repositoryArn(name: string): string {
    return this.formatArn({ service: 'ecr', resource: 'repository', resourceName: name });
  }

  private grantReconcile(): void {
    const f = this.reconcile;
    const listing = 'ecr:DescribeRepositories without repository names (the paginated list of the registry, then filtered by DRYDOCK_REPOSITORIES) is authorized against repository/* of this account and region; it returns repository names and settings, no image content.';
    if (this.settings.repositories.length) {
      allow(f.role, 'ListRepositories', ['ecr:DescribeRepositories'], [this.repositoryArn('*')], { wildcardReason: listing });
      allow(f.role, 'ListImages', ['ecr:DescribeImages'], this.settings.repositories.map((r) => this.repositoryArn(r)), {
        wildcardReason: 'The deployment names repository patterns with "*" (the repositories setting); reconcile may list the images of the matching repositories of this account and region only.',
      });
    } else {
      allow(f.role, 'ListRepositoriesAndImages', ['ecr:DescribeImages', 'ecr:DescribeRepositories'], [this.repositoryArn('*')], {
        wildcardReason: `No repositories configured: every repository of this account and region is watched, by design. ${listing}`,
      });
    }
    // "analysed before?" for a page of digests at a time
    allow(f.role, 'KnownImages', ['dynamodb:BatchGetItem'], [this.tables.images.tableArn]);
    allow(f.role, 'SendScanJobs', ['sqs:SendMessage'], [this.scanQueue.queueArn]);
  }

  private grantSlackNotifier(f: PipelineFunction, secret: secretsmanager.Secret): void {
    allow(f.role, 'ReadWebhook', ['secretsmanager:GetSecretValue'], [secret.secretArn]);
    // the report links are pre-signed with the function's credentials: it may read reports, nothing else
    allow(f.role, 'PresignReports', ['s3:GetObject'], [this.objects(PREFIXES.reports)], { wildcardReason: DrydockStack.PREFIX_REASON });
  }
}

/** The construct id of a table: `images` → `ImagesTable` (also its node in infra/architecture.mmd). */
export function tableConstructId(def: Pick<TableDefinition, 'id'>): string {
  return `${def.id[0]!.toUpperCase()}${def.id.slice(1)}Table`;
}

/**
 * The rule's pattern: ECR "ECR Image Action" events that succeeded, pushes and deletes (the
 * analyzer handles both), optionally only for some repositories (`*` → a wildcard match).
 */
export function ecrEventPattern(repositories: readonly string[]): events.EventPattern {
  const detail: Record<string, unknown> = { 'action-type': ['PUSH', 'DELETE'], result: ['SUCCESS'] };
  if (repositories.length) detail['repository-name'] = repositories.map((r) => (r.includes('*') ? { wildcard: r } : r));
  return { source: ['aws.ecr'], detailType: ['ECR Image Action'], detail };
}
