import type { GetAuthorizationTokenCommand, GetAuthorizationTokenCommandOutput } from '@aws-sdk/client-ecr';
import { DrydockError, isAbort } from '../errors.js';
import type { CredentialProvider, Credentials } from './auth.js';
import { isTransientNetworkError } from './retry.js';

/** The one ECR call the provider makes; an ECRClient fits, and tests pass a fake. */
export interface EcrTokenApi {
  send(command: GetAuthorizationTokenCommand, options?: { abortSignal?: AbortSignal }): Promise<GetAuthorizationTokenCommandOutput>;
}

export interface EcrCredentialsOptions {
  /** the region of the registry (tokens are regional) */
  region: string;
  /** use the FIPS endpoint of the ECR API (for *.dkr.ecr-fips.* registries) */
  fips?: boolean;
  /** defaults to a new ECRClient for `region` with the default AWS credential chain */
  client?: EcrTokenApi;
  /** for tests */
  now?: () => number;
}

/** A token is renewed this long before ECR says it expires. */
const RENEW_BEFORE_MS = 5 * 60_000;
/** Assumed lifetime when ECR omits expiresAt (it normally says 12 hours). */
const FALLBACK_LIFETIME_MS = 60 * 60_000;

/**
 * Credentials for Amazon ECR private registries: GetAuthorizationToken returns base64
 * "AWS:<password>", usable as Basic credentials on any registry the IAM principal may
 * read in that region. The token is cached until 5 minutes before it expires, and
 * concurrent callers share one API call. It answers for whichever registry it is asked
 * about, so give it only to clients for ECR hosts.
 */
export function ecrCredentials(options: EcrCredentialsOptions): CredentialProvider {
  const now = options.now ?? Date.now;
  let client = options.client;
  let cached: { creds: Credentials; renewAt: number } | undefined;
  let pending: Promise<Credentials> | undefined;

  async function fetchToken(signal: AbortSignal | undefined): Promise<Credentials> {
    // The SDK is loaded on first use: scans of non-ECR images never pay its start-up time.
    const sdk = await import('@aws-sdk/client-ecr');
    client ??= new sdk.ECRClient({ region: options.region, useFipsEndpoint: options.fips ?? false });
    let out: GetAuthorizationTokenCommandOutput;
    try {
      out = await client.send(new sdk.GetAuthorizationTokenCommand({}), signal ? { abortSignal: signal } : undefined);
    } catch (e) {
      throw ecrError(e, options.region, signal);
    }
    const data = out.authorizationData?.[0];
    const decoded = Buffer.from(data?.authorizationToken ?? '', 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) {
      throw new DrydockError('UNAUTHORIZED', `ECR GetAuthorizationToken in ${options.region} returned no usable token`);
    }
    const creds = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    const expiresAt = data?.expiresAt?.getTime() ?? now() + FALLBACK_LIFETIME_MS;
    cached = { creds, renewAt: expiresAt - RENEW_BEFORE_MS };
    return creds;
  }

  return {
    async get(_registry, signal) {
      if (cached && now() < cached.renewAt) return cached.creds;
      pending ??= fetchToken(signal).finally(() => {
        pending = undefined;
      });
      return pending;
    },
  };
}

/** Maps an ECR API failure by the SDK's own fault classification (never by error name). */
function ecrError(e: unknown, region: string, signal: AbortSignal | undefined): DrydockError {
  if (e instanceof DrydockError) return e;
  if (signal?.aborted || isAbort(e)) return new DrydockError('ABORTED', 'ECR GetAuthorizationToken aborted', { cause: e });
  const what = `ECR GetAuthorizationToken in ${region} failed: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
  const sdk = e as { $fault?: 'client' | 'server'; $retryable?: { throttling?: boolean } };
  if (sdk.$retryable?.throttling) return new DrydockError('THROTTLED', what, { cause: e });
  if (sdk.$fault === 'server') return new DrydockError('SERVER_ERROR', what, { cause: e });
  if (sdk.$fault === 'client') return new DrydockError('DENIED', what, { cause: e });
  if (isTransientNetworkError(e)) return new DrydockError('NETWORK', what, { cause: e });
  // no AWS credentials, no region, an unknown endpoint: nothing works until configuration is fixed
  return new DrydockError('CONFIG', what, { cause: e });
}
