/**
 * The pipeline's AWS cost per 1,000 images (issue 18 item 4), printed by `npm run bench` through
 * scan-bench.ts, which passes what it measured (the analyzer's seconds per image, the image's
 * layers and packages). Lambda is billed in arm64 GB-seconds at the memory sizes the stack gives
 * the analyzer and the evaluator (read from infra/stack.ts, the single place that sets them);
 * DynamoDB, S3, SQS and SNS by request, counted per image from what the handlers do (see
 * REQUESTS below: the counts are read from shared/pipeline/analyze.ts and evaluate.ts and the
 * adapters, not measured against AWS). Prices are the published us-east-1 list prices, as
 * constants with the date they were taken; free tiers, storage, data transfer and CloudWatch
 * logs are left out. Next to it: Amazon Inspector's published price per image.
 *
 * Run alone: node --import tsx bench/cost.ts [analyzer-seconds] [layers] [packages]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** us-east-1 list prices (USD), as published on the AWS pricing pages; taken 2025-06 (DynamoDB after its 2024-11-01 on-demand cut). */
export const PRICES = {
  date: '2025-06',
  /** Lambda, arm64, first 7.5 billion GB-s of a month */
  lambdaArmGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  /** DynamoDB on-demand: per write / read request unit */
  dynamoWru: 0.625 / 1e6,
  dynamoRru: 0.125 / 1e6,
  /** S3 Standard: PUT, COPY, POST, LIST / GET, SELECT and others */
  s3Put: 0.005 / 1000,
  s3Get: 0.0004 / 1000,
  /** SQS standard queue, per request (64 KB chunk) */
  sqsRequest: 0.4 / 1e6,
  /** SNS standard topic, per publish */
  snsPublish: 0.5 / 1e6,
} as const;

/**
 * Amazon Inspector, ECR enhanced scanning, as published on its pricing page: the first scan of
 * an image pushed, and each automated re-scan (when new vulnerability data touches the image).
 * Taken from the pricing page as of 2025-06; not re-read by this bench (no network here).
 */
export const INSPECTOR = { date: '2025-06', initialScan: 0.09, rescan: 0.01 } as const;

export interface CostInput {
  /** analyzer seconds per image (the bench's cold in-process scan: no Node start-up, no bundle load) */
  analyzerSeconds: number;
  /** evaluator seconds per image; undefined: EVALUATOR_SECONDS_ASSUMED */
  evaluatorSeconds?: number;
  layers: number;
  /** packages in the image's inventory: the package index rows and the advisory queries scale with them */
  packages: number;
}

/** What the evaluator takes per image when nothing measured is given (match + policy + report of one image). */
export const EVALUATOR_SECONDS_ASSUMED = 1;

/** The memory (MB) of each pipeline function, as infra/stack.ts sets it. */
export function stackMemory(stackSource = readFileSync(fileURLToPath(new URL('../infra/stack.ts', import.meta.url)), 'utf8')): Record<string, number> {
  const out: Record<string, number> = {};
  const re = /new PipelineFunction\(this, '(\w+)', \{([\s\S]*?)\n {4}\}\);/g;
  for (const m of stackSource.matchAll(re)) {
    const mem = /\bmemorySize: (\d+)\b/.exec(m[2]!);
    if (mem) out[m[1]!] = Number(mem[1]);
  }
  for (const name of ['Analyzer', 'Evaluator']) {
    if (!out[name]) throw new Error(`cost: no memorySize for ${name} in infra/stack.ts (the bench reads it from there)`);
  }
  return out;
}

export interface Requests {
  lambdaInvocations: number;
  /** Lambda GB-s, per function */
  gbSeconds: Record<string, number>;
  wru: number;
  rru: number;
  s3Put: number;
  s3Get: number;
  sqs: number;
  sns: number;
}

/**
 * Requests per image, as the handlers make them (one image per invocation; items ≤ 1 KB write
 * 1 WRU, reads ≤ 4 KB 1 RRU; Powertools idempotency: one put and one update per record):
 * first scan  analyzer: claim, 2 status updates, final update (4 WRU), idempotency (2 WRU), one
 *             package-index row per package (WRU); a layer-cache GET (miss) and PUT per layer,
 *             the inventory and SBOM PUTs (no previous inventory to read); scan-queue send,
 *             receive, delete and evaluate-queue send (4 SQS).
 *             evaluator: image get and result history (2 RRU), one advisory query per package
 *             (RRU), result append, image update (2 WRU), idempotency (2 WRU); inventory and
 *             feed-summary GETs, report JSON and HTML PUTs; receive, delete (2 SQS); 1 SNS publish.
 * daily       the rescan function's pass over the images table (≈ 1 RRU per image, one SQS send
 *             per 10 images) and the evaluator as above.
 */
export function requestsPerImage(input: CostInput, memory: Record<string, number>, kind: 'first' | 'daily'): Requests {
  const evalSeconds = input.evaluatorSeconds ?? EVALUATOR_SECONDS_ASSUMED;
  const evaluator = { wru: 4, rru: 2 + input.packages, s3Put: 2, s3Get: 2, sqs: 2, sns: 1 };
  const gb = (name: string, s: number) => (memory[name]! / 1024) * s;
  if (kind === 'first') {
    return {
      lambdaInvocations: 2,
      gbSeconds: { analyzer: gb('Analyzer', input.analyzerSeconds), evaluator: gb('Evaluator', evalSeconds) },
      wru: 6 + input.packages + evaluator.wru,
      rru: evaluator.rru,
      s3Put: input.layers + 2 + evaluator.s3Put,
      s3Get: input.layers + evaluator.s3Get,
      sqs: 4 + evaluator.sqs,
      sns: evaluator.sns,
    };
  }
  return {
    lambdaInvocations: 1,
    gbSeconds: { evaluator: gb('Evaluator', evalSeconds) },
    wru: evaluator.wru,
    rru: 1 + evaluator.rru,
    s3Put: evaluator.s3Put,
    s3Get: evaluator.s3Get,
    sqs: 0.1 + evaluator.sqs,
    sns: evaluator.sns,
  };
}

export interface CostLine {
  lambda: number;
  dynamodb: number;
  s3: number;
  messaging: number;
  total: number;
}

/** USD for `images` images of these requests. */
export function cost(r: Requests, images = 1000): CostLine {
  const gbs = Object.values(r.gbSeconds).reduce((a, b) => a + b, 0);
  const lambda = images * (gbs * PRICES.lambdaArmGbSecond + r.lambdaInvocations * PRICES.lambdaRequest);
  const dynamodb = images * (r.wru * PRICES.dynamoWru + r.rru * PRICES.dynamoRru);
  const s3 = images * (r.s3Put * PRICES.s3Put + r.s3Get * PRICES.s3Get);
  const messaging = images * (r.sqs * PRICES.sqsRequest + r.sns * PRICES.snsPublish);
  return { lambda, dynamodb, s3, messaging, total: lambda + dynamodb + s3 + messaging };
}

/** The cost table as `npm run bench` prints it. */
export function costReport(input: CostInput, memory = stackMemory()): string {
  const usd = (x: number) => `$${x < 0.1 ? x.toFixed(4) : x.toFixed(2)}`;
  const first = requestsPerImage(input, memory, 'first');
  const daily = requestsPerImage(input, memory, 'daily');
  const rows: [string, CostLine, number][] = [
    ['first scan (push → result)', cost(first), 1000 * INSPECTOR.initialScan],
    ['daily re-evaluation', cost(daily), 1000 * INSPECTOR.rescan],
  ];
  const evalNote = input.evaluatorSeconds === undefined ? `${EVALUATOR_SECONDS_ASSUMED} s assumed` : `${input.evaluatorSeconds.toFixed(2)} s measured`;
  const lines = [
    `Cost per 1,000 images, us-east-1 list prices of ${PRICES.date} (arm64 Lambda: analyzer ${memory['Analyzer']} MB × ${input.analyzerSeconds.toFixed(2)} s measured here, evaluator ${memory['Evaluator']} MB × ${evalNote}; ${input.layers} layers, ${input.packages} packages per image)`,
    `${''.padEnd(28)}  ${'Lambda'.padStart(8)}  ${'DynamoDB'.padStart(8)}  ${'S3'.padStart(8)}  ${'SQS+SNS'.padStart(8)}  ${'total'.padStart(8)}   Amazon Inspector (${INSPECTOR.date})`,
  ];
  for (const [name, c, inspector] of rows) {
    lines.push(
      `${name.padEnd(28)}  ${usd(c.lambda).padStart(8)}  ${usd(c.dynamodb).padStart(8)}  ${usd(c.s3).padStart(8)}  ${usd(c.messaging).padStart(8)}  ${usd(c.total).padStart(8)}   ${usd(inspector)} (${(inspector / c.total).toFixed(0)}×)`,
    );
  }
  lines.push(
    `requests per image, first scan: ${first.wru} WRU, ${first.rru} RRU, ${first.s3Put} S3 PUT, ${first.s3Get} S3 GET, ${first.sqs} SQS, ${first.sns} SNS; daily: ${daily.wru} WRU, ${daily.rru} RRU (counted from the handlers, see bench/cost.ts)`,
    `Inspector re-scans when new vulnerability data touches an image, not daily; Drydock's daily figure is the every-image re-evaluation (package-key rescans cost the same per image). Not counted: free tiers, S3 storage, CloudWatch logs, ECR data transfer.`,
  );
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [s, layers, packages] = process.argv.slice(2).map(Number);
  console.log(costReport({ analyzerSeconds: s || 2, layers: layers || 3, packages: packages || 150 }));
}
