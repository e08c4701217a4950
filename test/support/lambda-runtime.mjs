/**
 * A stand-in for the Lambda Node.js runtime, run by test/support/template-stack.ts in a child
 * process (child_process.fork) whose working directory is a fresh copy of one function's bundle
 * (no node_modules above it) and whose environment is exactly the function's template
 * environment plus what the Lambda runtime and the local "network" provide.
 *
 * Init: imports the handler named by _HANDLER ("index.handler": index.mjs / index.js / index.cjs
 * in LAMBDA_TASK_ROOT, export "handler") at start, as Lambda's init phase does, and reports
 * {type: 'ready'} or {type: 'init-error', errorType, errorMessage, stack} to the parent.
 * Invoke: {type: 'invoke', id, event, deadline, requestId} → a Lambda context
 * (getRemainingTimeInMillis to the deadline) → {type: 'result', id, payload (JSON text)} or
 * {type: 'error', id, errorType, errorMessage, stack}.
 * An unhandled rejection or uncaught exception fails the current invocation
 * (Runtime.UnhandledPromiseRejection / the error's type) and ends the process, as in Lambda:
 * the next invocation is a cold start. The parent kills the process at the deadline.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const send = (msg) =>
  new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send(msg, (err) => resolve(err));
  });

const errorFields = (e) => ({
  errorType: e instanceof Error ? e.name : 'Error',
  errorMessage: e instanceof Error ? e.message : String(e),
  ...(e instanceof Error && e.stack ? { stack: e.stack } : {}),
});

let current; // the id of the invocation in progress
async function fatal(errorType, e) {
  const fields = errorFields(e);
  if (current !== undefined) await send({ type: 'error', id: current, ...fields, errorType });
  else await send({ type: 'init-error', ...fields, errorType });
  process.exit(128);
}
process.on('unhandledRejection', (reason) => {
  console.error('Unhandled Promise Rejection', reason);
  fatal('Runtime.UnhandledPromiseRejection', reason).catch(() => process.exit(128));
});
process.on('uncaughtException', (e) => {
  console.error('Uncaught Exception', e);
  fatal(errorFields(e).errorType, e).catch(() => process.exit(128));
});

const root = process.env.LAMBDA_TASK_ROOT ?? process.cwd();
const spec = process.env._HANDLER ?? '';
const dot = spec.lastIndexOf('.');
let handler;
try {
  if (dot <= 0) throw Object.assign(new Error(`Bad handler ${spec}`), { name: 'Runtime.MalformedHandlerName' });
  const base = spec.slice(0, dot);
  const name = spec.slice(dot + 1);
  const file = ['.mjs', '.js', '.cjs'].map((ext) => join(root, base + ext)).find((f) => existsSync(f));
  if (!file) throw Object.assign(new Error(`Cannot find module '${base}'`), { name: 'Runtime.ImportModuleError' });
  const mod = await import(pathToFileURL(file).href);
  handler = mod[name];
  if (typeof handler !== 'function') throw Object.assign(new Error(`${spec} is undefined or not exported`), { name: 'Runtime.HandlerNotFound' });
} catch (e) {
  console.error('INIT error', e);
  await send({ type: 'init-error', ...errorFields(e) });
  process.exit(129);
}

const fn = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'function';
const region = process.env.AWS_REGION ?? 'us-east-1';
process.on('message', (msg) => {
  if (!msg || msg.type !== 'invoke') return;
  current = msg.id;
  const context = {
    functionName: fn,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST',
    invokedFunctionArn: msg.functionArn ?? `arn:aws:lambda:${region}:000000000000:function:${fn}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '128',
    awsRequestId: msg.requestId,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME ?? `/aws/lambda/${fn}`,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, msg.deadline - Date.now()),
    done() {},
    fail() {},
    succeed() {},
  };
  Promise.resolve()
    .then(() => handler(msg.event, context))
    .then(
      (result) => send({ type: 'result', id: msg.id, payload: result === undefined ? 'null' : JSON.stringify(result) }),
      (e) => {
        console.error(`Invoke Error ${JSON.stringify(errorFields(e))}`);
        return send({ type: 'error', id: msg.id, ...errorFields(e) });
      },
    )
    .finally(() => {
      if (current === msg.id) current = undefined;
    })
    .catch((e) => fatal('Runtime.CallbackError', e).catch(() => process.exit(128)));
});
await send({ type: 'ready' });
