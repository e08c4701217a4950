/**
 * npm run invoke -- <analyzer|evaluator|reconcile> <event.json>
 *
 * Runs a function's handler (middy + Powertools, as on Lambda) on a sample event. With the
 * stack's DRYDOCK_* variables set (and AWS_ENDPOINT_URL_* for local servers) it is the real
 * handler module on the AWS adapters; without them, the same handler chain on in-memory
 * adapters, printing what it queued and published. The Lambda context is a stand-in.
 * DRYDOCK_REGISTRY_OVERRIDE=127.0.0.1:5000 reads ECR images from a local registry instead.
 * reconcile (a scheduled function: the event is any EventBridge event) runs only against the
 * stack (DRYDOCK_IMAGES_TABLE, DRYDOCK_SCAN_QUEUE_URL and ECR through the SDK's settings).
 */
import { readFile } from 'node:fs/promises';
import type { Context, SQSEvent } from 'aws-lambda';
import { loadConfig } from '../shared/pipeline/config.js';
import { localPipeline } from '../shared/pipeline/local.js';
import { prepareAnalyzerMessage, prepareEvaluatorMessage } from '../shared/pipeline/run.js';
import { sqsLambda } from '../functions/lib/sqs-lambda.js';

const FUNCTIONS = { analyzer: prepareAnalyzerMessage, evaluator: prepareEvaluatorMessage } as const;

/** Functions driven by EventBridge (not SQS): only their real handler module, against the stack. */
const SCHEDULED = ['reconcile'] as const;

const [fn, file] = process.argv.slice(2);
if (!fn || !file || !(fn in FUNCTIONS || (SCHEDULED as readonly string[]).includes(fn))) {
  console.error(`usage: npm run invoke -- <${[...Object.keys(FUNCTIONS), ...SCHEDULED].join('|')}> <event.json>`);
  process.exit(64);
}
const event = JSON.parse(await readFile(file, 'utf8')) as SQSEvent;
const context = {
  functionName: `drydock-${fn}`,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:drydock-${fn}`,
  memoryLimitInMB: '2048',
  awsRequestId: `local-${Date.now()}`,
  logGroupName: `/aws/lambda/drydock-${fn}`,
  logStreamName: 'local',
  callbackWaitsForEmptyEventLoop: false,
  getRemainingTimeInMillis: () => 900_000,
  done() {},
  fail() {},
  succeed() {},
} as unknown as Context;

const aws = Boolean(process.env.DRYDOCK_IMAGES_TABLE);
if (!aws && !(fn in FUNCTIONS)) {
  console.error(`${fn} runs only against the stack: set its DRYDOCK_* variables (DRYDOCK_IMAGES_TABLE, DRYDOCK_SCAN_QUEUE_URL)`);
  process.exit(64);
}
if (aws) {
  const mod = (await import(`../functions/${fn}/handler.js`)) as { handler: (e: SQSEvent, c: Context) => Promise<unknown> };
  console.log(JSON.stringify(await mod.handler(event, context), null, 2));
} else {
  const { config } = loadConfig(process.env, []);
  const local = localPipeline({ config });
  // the handler's own Powertools logger and metrics replace the local pipeline's silent ones
  const { handler } = sqsLambda({ service: fn, prepare: FUNCTIONS[fn as keyof typeof FUNCTIONS], deps: (tools) => Object.assign(local.deps, tools), processInParallel: false });
  const response = await handler(event, context);
  console.log(JSON.stringify({ response, queued: { scan: local.scanQueue.sent.length, evaluate: local.evaluateQueue.sent.length, deadLetters: local.deadLetters.sent }, published: local.publisher.messages }, null, 2));
}
