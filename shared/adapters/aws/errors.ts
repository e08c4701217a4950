import { DrydockError, isAbort } from '../../errors.js';
import { isTransientNetworkError } from '../../image/retry.js';

/**
 * Maps an AWS SDK v3 failure to the core's error taxonomy by the SDK's own classification
 * ($retryable, $fault, HTTP status), never by guessing from the message: throttling, 5xx and
 * network errors are retryable (SQS redelivers), other client faults are permanent, missing
 * credentials/region/endpoint are configuration errors.
 */
export function awsError(e: unknown, what: string): DrydockError {
  if (e instanceof DrydockError) return e;
  if (isAbort(e)) return new DrydockError('ABORTED', `${what}: aborted`, { cause: e });
  const sdk = e as { name?: string; message?: string; $fault?: 'client' | 'server'; $retryable?: { throttling?: boolean }; $metadata?: { httpStatusCode?: number } };
  const msg = `${what}: ${sdk?.name ?? 'Error'}: ${sdk?.message ?? String(e)}`;
  const status = sdk?.$metadata?.httpStatusCode;
  if (sdk?.$retryable?.throttling || status === 429 || THROTTLING.has(sdk?.name ?? '')) return new DrydockError('THROTTLED', msg, { cause: e });
  if (sdk?.$fault === 'server' || (status !== undefined && status >= 500)) return new DrydockError('SERVER_ERROR', msg, { cause: e });
  if (isTransientNetworkError(e)) return new DrydockError('NETWORK', msg, { cause: e });
  if (sdk?.$fault === 'client') return new DrydockError(status === 403 ? 'DENIED' : 'SOURCE_UNREADABLE', msg, { cause: e, kind: status === 403 ? 'fatal' : 'permanent' });
  return new DrydockError('CONFIG', msg, { cause: e });
}

const THROTTLING = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'SlowDown',
  'RequestThrottled',
]);
