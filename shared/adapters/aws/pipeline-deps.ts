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
import { DrydockError } from '../../errors.js';
import { resourceVariable, type PipelineConfig, type PipelineResources } from '../../pipeline/config.js';
import { noMetrics, silentLog, type PipelineDeps, type PipelineLog, type PipelineMetrics } from '../../pipeline/deps.js';
import { imageReference, type ImageName } from '../../pipeline/messages.js';
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

/**
 * The pipeline's ports from the resources this function was given. Each port is built on first
 * use, and only from its own resource: a function given two of the ten variables builds two
 * ports. A port whose variable the function was not given throws CONFIG naming the variable
 * when the code reaches for it (never an adapter built on `undefined`); the variables a
 * function must have are checked at its cold start by loadConfig's `need` (FUNCTION_NEEDS).
 */
export function awsPipelineDeps(opts: AwsDepsOptions): PipelineDeps {
  const { config, resources } = opts;
  const c = opts.clients ?? awsClients();
  const ecrByRegion = new Map<string, CredentialProvider>();
  const deps = {
    ...(config.registryOverride ? {} : { registryApi: new EcrRegistryApi(new ECRClient({})) }),
    async openImage(image: ImageName) {
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
  } as PipelineDeps;
  port(deps, 'images', resources, 'imagesTable', (t) => new DynamoImageStore(c.documents, t));
  port(deps, 'packageIndex', resources, 'packageIndexTable', (t) => new DynamoPackageIndex(c.documents, t));
  port(deps, 'results', resources, 'resultsTable', (t) => new DynamoResultStore(c.documents, t, { retentionDays: config.resultRetentionDays }));
  port(deps, 'advisories', resources, 'advisoriesTable', (t) => new DynamoAdvisoryStore(c.documents, t));
  port(deps, 'objects', resources, 'bucket', (b) => new S3ObjectStore(c.s3, b));
  port(deps, 'scanQueue', resources, 'scanQueueUrl', (u) => new SqsJobQueue(c.sqs, u));
  port(deps, 'evaluateQueue', resources, 'evaluateQueueUrl', (u) => new SqsJobQueue(c.sqs, u));
  port(deps, 'publisher', resources, 'resultsTopicArn', (a) => new SnsPublisher(c.sns, a));
  // optional: absent (not a throwing getter), so `deps.deadLetters ? … : log` keeps working
  if (resources.deadLetterQueueUrl) port(deps, 'deadLetters', resources, 'deadLetterQueueUrl', (u) => new SqsJobQueue(c.sqs, u));
  return deps;
}

type PortName = 'images' | 'packageIndex' | 'results' | 'advisories' | 'objects' | 'scanQueue' | 'evaluateQueue' | 'publisher' | 'deadLetters';

/** Defines `deps[name]` as a getter that builds the adapter once, or throws CONFIG naming the missing variable. */
function port<K extends PortName>(deps: PipelineDeps, name: K, resources: PipelineResources, field: keyof PipelineResources, build: (value: string) => NonNullable<PipelineDeps[K]>): void {
  let built: NonNullable<PipelineDeps[K]> | undefined;
  Object.defineProperty(deps, name, {
    enumerable: true,
    configurable: true,
    get() {
      if (built) return built;
      const value = resources[field];
      if (!value) {
        throw new DrydockError('CONFIG', `${resourceVariable(field)} is not set: this function was not given the ${field}, so it has no ${name} port (add the variable to the function's environment)`);
      }
      return (built = build(value));
    },
  });
}
