/**
 * The pipeline's ports on AWS: real SDK v3 clients, one per service, shared by every adapter.
 * Endpoints follow the SDK's own settings (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_DYNAMODB, ...),
 * so the same code reaches DynamoDB Local and the other local servers in tests and local runs;
 * `clients` lets a caller pass extra client options (path-style S3, checksum settings).
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { ECRClient } from '@aws-sdk/client-ecr';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { SNSClient, type SNSClientConfig } from '@aws-sdk/client-sns';
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ecrCredentials } from '../../image/ecr-auth.js';
import { openSource } from '../../image/open.js';
import { parseReference } from '../../image/reference.js';
import type { CredentialProvider } from '../../image/auth.js';
import type { PipelineConfig, PipelineResources } from '../../pipeline/config.js';
import { noMetrics, silentLog, type PipelineDeps, type PipelineLog, type PipelineMetrics } from '../../pipeline/deps.js';
import { imageReference } from '../../pipeline/messages.js';
import { DynamoAdvisoryStore } from './dynamodb/advisory-store.js';
import { DynamoImageStore } from './dynamodb/image-store.js';
import { DynamoPackageIndex } from './dynamodb/package-index.js';
import { DynamoResultStore } from './dynamodb/result-store.js';
import { EcrRegistryApi } from './ecr-registry.js';
import { S3ObjectStore } from './s3-object-store.js';
import { SnsPublisher } from './sns-publisher.js';
import { SqsJobQueue } from './sqs-queue.js';

export interface AwsClientOptions {
  dynamodb?: DynamoDBClientConfig;
  s3?: S3ClientConfig;
  sqs?: SQSClientConfig;
  sns?: SNSClientConfig;
}

export interface AwsClients {
  dynamodb: DynamoDBClient;
  documents: DynamoDBDocumentClient;
  s3: S3Client;
  sqs: SQSClient;
  sns: SNSClient;
}

export function awsClients(opts: AwsClientOptions = {}): AwsClients {
  const dynamodb = new DynamoDBClient({ ...opts.dynamodb });
  return {
    dynamodb,
    // undefined fields are left out rather than rejected: patches use them to remove attributes
    documents: DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } }),
    s3: new S3Client({ ...opts.s3 }),
    sqs: new SQSClient({ ...opts.sqs }),
    sns: new SNSClient({ ...opts.sns }),
  };
}

export interface AwsDepsOptions {
  config: PipelineConfig;
  resources: PipelineResources;
  clients?: AwsClients;
  log?: PipelineLog;
  metrics?: PipelineMetrics;
  now?: () => Date;
}

export function awsPipelineDeps(opts: AwsDepsOptions): PipelineDeps {
  const { config, resources } = opts;
  const c = opts.clients ?? awsClients();
  const objects = new S3ObjectStore(c.s3, resources.bucket);
  const ecrByRegion = new Map<string, CredentialProvider>();
  return {
    images: new DynamoImageStore(c.documents, resources.imagesTable),
    packageIndex: new DynamoPackageIndex(c.documents, resources.packageIndexTable),
    results: new DynamoResultStore(c.documents, resources.resultsTable),
    advisories: new DynamoAdvisoryStore(c.documents, resources.advisoriesTable),
    objects,
    scanQueue: new SqsJobQueue(c.sqs, resources.scanQueueUrl),
    evaluateQueue: new SqsJobQueue(c.sqs, resources.evaluateQueueUrl),
    ...(resources.deadLetterQueueUrl ? { deadLetters: new SqsJobQueue(c.sqs, resources.deadLetterQueueUrl) } : {}),
    publisher: new SnsPublisher(c.sns, resources.resultsTopicArn),
    ...(config.registryOverride ? {} : { registryApi: new EcrRegistryApi(new ECRClient({})) }),
    async openImage(image) {
      const ref = parseReference(imageReference(image));
      if (ref.kind !== 'registry') throw new Error(`not a registry image: ${imageReference(image)}`);
      let credentials: CredentialProvider | undefined;
      if (ref.ecr) {
        const key = `${ref.ecr.region}/${ref.ecr.fips}`;
        credentials = ecrByRegion.get(key);
        if (!credentials) ecrByRegion.set(key, (credentials = ecrCredentials({ region: ref.ecr.region, fips: ref.ecr.fips })));
      }
      return openSource(ref, { insecureRegistries: config.insecureRegistries, ...(credentials ? { credentials } : {}) });
    },
    config,
    now: opts.now ?? (() => new Date()),
    log: opts.log ?? silentLog,
    metrics: opts.metrics ?? noMetrics,
  };
}
