/**
 * Everything the pipeline core reaches, as ports: the Lambda handlers build it from AWS
 * adapters, the CLI and tests from local ones (or from AWS adapters pointed at local servers).
 */
import type { ImageSource } from '../ports/image-source.js';
import type { AdvisoryStore } from '../ports/advisory-store.js';
import type { ImageStore, JobQueue, ObjectStore, PackageIndex, Publisher, RegistryApi, ResultStore } from '../ports/stores.js';
import type { PipelineConfig } from './config.js';
import type { ImageName } from './messages.js';

/** Structured log lines (Powertools Logger on Lambda; silent or console elsewhere). */
export interface PipelineLog {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export type MetricUnit = 'Count' | 'Bytes' | 'Milliseconds';

/** Metrics (Powertools Metrics → CloudWatch EMF on Lambda). */
export interface PipelineMetrics {
  add(name: string, unit: MetricUnit, value: number): void;
}

export interface PipelineDeps {
  images: ImageStore;
  packageIndex: PackageIndex;
  results: ResultStore;
  objects: ObjectStore;
  advisories: AdvisoryStore;
  scanQueue: JobQueue;
  evaluateQueue: JobQueue;
  /** where poison messages go at once; without it they are logged and dropped */
  deadLetters?: JobQueue;
  publisher: Publisher;
  /** tells "image deleted" from other not-found answers (ECR DescribeImages) */
  registryApi?: RegistryApi;
  /** an ImageSource for an image (registry client with ECR credentials on AWS) */
  openImage(image: ImageName): Promise<ImageSource>;
  config: PipelineConfig;
  now(): Date;
  log: PipelineLog;
  metrics: PipelineMetrics;
}

export const silentLog: PipelineLog = { info() {}, warn() {}, error() {} };
export const noMetrics: PipelineMetrics = { add() {} };

/** Object keys in the bucket, in one place (the CDK app's lifecycle rules use the prefixes). */
export const OBJECT_KEYS = {
  layerPrefix: 'layers/',
  inventory: (digest: string) => `inventories/${digest.replace(':', '/')}.json.gz`,
  sbom: (digest: string) => `sboms/${digest.replace(':', '/')}.cdx.json`,
  report: (digest: string, resultId: string) => `reports/${digest.replace(':', '/')}/${resultId}.json.gz`,
  /** the HTML page beside a JSON report */
  htmlReport: (reportKey: string) => htmlReportKey(reportKey),
  deadLetter: (id: string) => `dead-letters/${id}.json`,
} as const;

/** "…/<resultId>.json.gz" → "…/<resultId>.html": the page a person opens, beside the JSON report. */
export function htmlReportKey(reportKey: string): string {
  return reportKey.replace(/\.json(\.gz)?$/, '') + '.html';
}
