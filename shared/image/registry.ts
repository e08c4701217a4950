import { maxHeaderSize } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import { DrydockError, isAbort, type ErrorContext } from '../errors.js';
import type { ImageSource } from '../ports/image-source.js';
import { basicAuthorization, chainCredentials, parseTokenResponse, parseWwwAuthenticate, type Challenge, type CredentialProvider, type Credentials } from './auth.js';
import { ecrCredentials } from './ecr-auth.js';
import { blobFetch, nodeBodyOf, nodeFetch, type NodeBody } from './http-transport.js';
import { sha256Digest, verifyDigest } from './digest.js';
import { MANIFEST_ACCEPT, MediaType, SCHEMA1_TYPES } from './media-types.js';
import { apiHost, formatReference, isLoopbackHost, manifestReference, type RegistryReference } from './reference.js';
import {
  DEFAULT_RETRY,
  abortedError,
  isTransientNetworkError,
  parseRetryAfter,
  realSleep,
  withRetry,
  type Attempt,
  type RetryOptions,
  type Sleep,
} from './retry.js';
import type { Descriptor, FetchedManifest } from './types.js';

/**
 * A client for the pull side of the OCI distribution API (distribution-spec v1.1) on
 * Node's http and https (http-transport.ts; fetch's web streams cost twice the CPU per byte; a
 * blob over plain http is read straight off the socket, plain-http.ts): manifests and blobs, anonymous or token / Basic auth, retries, and a
 * strict transport policy (https, except plain http for loopback registries and hosts
 * listed as insecure). Blob downloads follow redirects to object storage by hand so that the
 * registry's Authorization header never leaves the registry's origin.
 */

/** What the client asks of a fetch: the global fetch, nodeFetch and the tests' fakes all are one. */
export type FetchLike = (url: URL, init: { method: string; headers: Record<string, string>; redirect: 'manual'; signal: AbortSignal }) => Promise<Response>;

export interface RegistryClientOptions {
  /** hosts ("host:port") that may be spoken to over plain http; loopback hosts always may */
  insecureRegistries?: string[];
  /** omitted: anonymous pulls only */
  credentials?: CredentialProvider;
  /** defaults to DEFAULT_RETRY (4 attempts) */
  retry?: Partial<RetryOptions>;
  /** the wait between retries; tests inject one that records and returns at once */
  sleep?: Sleep;
  userAgent?: string;
  /** defaults to nodeFetch (Node's http/https, see http-transport.ts); tests may pass the global fetch or a fake */
  fetch?: FetchLike;
  /** the clock for token lifetimes; defaults to Date.now */
  now?: () => number;
  /** how long the registry may keep us waiting (defaults: DEFAULT_REGISTRY_TIMEOUTS) */
  timeouts?: Partial<RegistryTimeouts>;
  /**
   * Token servers on other hosts that may receive this registry's credentials, by registry
   * host ("ghcr.io": ["auth.example.com"]); see KNOWN_TOKEN_HOSTS for the built-in pairs.
   */
  tokenHosts?: Record<string, string[]>;
}

/**
 * Time bounds on every request and transfer. Only time spent waiting for the registry
 * counts (a slow consumer of a blob stream is not the server's fault). A request fails
 * with a NETWORK error (retryable: the job is redelivered later, not retried inside the
 * call) that names the limit, when the server sends nothing for `idleMs` (no headers, or
 * no next bytes of the body), or when waiting adds up to more than `totalFloorMs` plus the
 * time the expected bytes take at `minBytesPerSecond` (a server trickling 1 byte/s).
 */
export interface RegistryTimeouts {
  idleMs: number;
  totalFloorMs: number;
  minBytesPerSecond: number;
}

export const DEFAULT_REGISTRY_TIMEOUTS: RegistryTimeouts = { idleMs: 30_000, totalFloorMs: 30_000, minBytesPerSecond: 64 * 1024 };

/**
 * Registries whose token server lives on another host, by the registry's API host: their
 * credentials may go to that host. Any other token realm off the registry's own host name
 * gets the token request without credentials.
 */
export const KNOWN_TOKEN_HOSTS: Readonly<Record<string, readonly string[]>> = {
  'registry-1.docker.io': ['auth.docker.io'],
  'docker.io': ['auth.docker.io'],
  'index.docker.io': ['auth.docker.io'],
};

/** What a HEAD on a manifest tells: enough to decide whether it changed. */
export interface ManifestHead {
  mediaType: string;
  digest: string;
  size: number;
}

/** Larger manifests are refused (LIMIT_EXCEEDED), as distribution registries refuse to store them. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** The largest blob `getBlobBytes` reads into memory (configs are a few KiB; layers are streamed). */
export const MAX_IN_MEMORY_BLOB_BYTES = 32 * 1024 * 1024;

export const DEFAULT_USER_AGENT = 'drydock (container-image scanner)';

const MAX_REDIRECTS = 5;
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;
/** A bearer token is dropped this long before the token server says it expires. */
const TOKEN_EXPIRY_MARGIN_MS = 10_000;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const RETRY_STATUSES = new Set([500, 502, 503, 504]);
/** Content-Type values that say nothing about which manifest type the body is. */
const GENERIC_CONTENT_TYPES = new Set(['', 'application/json', 'text/plain', 'application/octet-stream']);
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** One logical call: how to name it in errors, and its abort signal. */
interface Call {
  context: ErrorContext;
  /** e.g. "manifest 1.0 of app", "blob sha256:… of app" */
  what: string;
  signal: AbortSignal | undefined;
  /** the size the answer has (a blob's descriptor size; sets the total time bound); else its Content-Length, up to `maxBytes` */
  bytes?: number;
  maxBytes?: number;
}

/** An Authorization value the client holds for one repository scope. */
interface Grant {
  authorization: string;
  /** whether credentials were sent to obtain it (decides the wording of a 401) */
  withCredentials: boolean;
  expiresAt: number;
  /** the token server on another host the credentials were kept from */
  withheldFrom?: string;
}

export class RegistryClient {
  /**
   * the registry's origin, e.g. "https://ghcr.io", "http://127.0.0.1:5000". A loopback
   * registry starts as https and becomes http on its first request when it turns out not to
   * speak TLS (see schemeProbe).
   */
  get origin(): string {
    return this.currentOrigin;
  }
  private currentOrigin: string;
  private schemeProbe: Promise<void> | undefined;
  private readonly insecure: Set<string>;
  private readonly retry: RetryOptions;
  private readonly sleep: Sleep;
  private readonly userAgent: string;
  private readonly fetchImpl: FetchLike;
  /** for blobs (call.bytes set): the same as fetchImpl, but over plain http read off the socket (see blobFetch) */
  private readonly blobFetchImpl: FetchLike;
  private readonly now: () => number;
  private readonly timeouts: RegistryTimeouts;
  private readonly grants = new Map<string, Grant>();
  private readonly pendingGrants = new Map<string, Promise<Grant>>();

  /** `host` is "host[:port]" as API requests go to it (see apiHost), without a scheme. */
  constructor(
    readonly host: string,
    private readonly options: RegistryClientOptions = {},
  ) {
    if (!host || /[/\s@]/.test(host)) {
      throw new DrydockError('CONFIG', `"${host}" is not a registry host (expected host[:port] without a scheme)`);
    }
    this.insecure = new Set((options.insecureRegistries ?? []).map((h) => h.toLowerCase()));
    const plainHttp = this.insecure.has(host.toLowerCase());
    this.currentOrigin = new URL(`${plainHttp ? 'http' : 'https'}://${host}`).origin;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.sleep = options.sleep ?? realSleep;
    this.userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.fetchImpl = options.fetch ?? nodeFetch;
    this.blobFetchImpl = options.fetch ?? blobFetch;
    this.now = options.now ?? Date.now;
    this.timeouts = { ...DEFAULT_REGISTRY_TIMEOUTS, ...options.timeouts };
    for (const [k, v] of Object.entries(this.timeouts)) {
      if (!(typeof v === 'number' && v > 0)) throw new DrydockError('CONFIG', `registry timeout ${k} must be a positive number, got ${String(v)}`);
    }
  }

  /**
   * A manifest or index by tag or digest, exactly as stored. Its digest is computed here
   * (and must equal `reference` when that is a digest). Schema 1 manifests are refused.
   * `image` names the image in errors (default "host/repo:reference").
   */
  async getManifest(repo: string, reference: string, signal?: AbortSignal, image?: string): Promise<FetchedManifest> {
    const call = this.manifestCall(repo, reference, signal, image);
    const res = await this.registryRequest(repo, `manifests/${reference}`, 'GET', call, {
      accept: MANIFEST_ACCEPT.join(', '),
      notFound: () => this.manifestNotFound(repo, reference, call),
    });
    const bytes = await readBody(res, MAX_MANIFEST_BYTES, call, () => {
      return new DrydockError('LIMIT_EXCEEDED', `${call.what} is larger than ${MAX_MANIFEST_BYTES} bytes`, { context: call.context });
    });
    const mediaType = manifestMediaType(res.headers.get('content-type'), bytes, call);
    const digest = DIGEST.test(reference) ? verifyDigest(bytes, reference, call.context, call.what) : sha256Digest(bytes);
    return { bytes, mediaType, digest };
  }

  /**
   * A manifest's media type, digest and size without its body. Falls back to a GET when
   * the registry omits Docker-Content-Digest, Content-Length or a specific Content-Type.
   */
  async headManifest(repo: string, reference: string, signal?: AbortSignal, image?: string): Promise<ManifestHead> {
    const call = this.manifestCall(repo, reference, signal, image);
    const res = await this.registryRequest(repo, `manifests/${reference}`, 'HEAD', call, {
      accept: MANIFEST_ACCEPT.join(', '),
      notFound: () => this.manifestNotFound(repo, reference, call),
    });
    await discard(res);
    const mediaType = bareContentType(res.headers.get('content-type'));
    if (SCHEMA1_TYPES.includes(mediaType)) throw schema1Error(mediaType, call);
    const digest = res.headers.get('docker-content-digest')?.trim() ?? '';
    const size = Number(res.headers.get('content-length') ?? NaN);
    if (!DIGEST.test(digest) || !Number.isSafeInteger(size) || GENERIC_CONTENT_TYPES.has(mediaType)) {
      const m = await this.getManifest(repo, reference, signal, call.context.image);
      return { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
    }
    if (DIGEST.test(reference) && digest !== reference) {
      throw new DrydockError('DIGEST_MISMATCH', `${call.what}: the registry reports digest ${digest}`, { context: call.context });
    }
    return { mediaType, digest, size };
  }

  /**
   * A blob as a raw stream, exactly as stored (not verified: the reader hashes it while
   * it streams). Stream errors are DrydockErrors naming the image and the digest.
   */
  async getBlob(repo: string, descriptor: Descriptor, signal?: AbortSignal, image?: string): Promise<Readable> {
    const call = this.blobCall(repo, descriptor, signal, image);
    const res = await this.fetchBlob(repo, descriptor, call);
    return relay(res, call);
  }

  /** A small blob (an image config) read whole; its size and digest are verified. */
  async getBlobBytes(repo: string, descriptor: Descriptor, signal?: AbortSignal, image?: string): Promise<Buffer> {
    const call = this.blobCall(repo, descriptor, signal, image);
    if (descriptor.size > MAX_IN_MEMORY_BLOB_BYTES) {
      throw new DrydockError('LIMIT_EXCEEDED', `${call.what} is ${descriptor.size} bytes, more than the ${MAX_IN_MEMORY_BLOB_BYTES} read into memory`, {
        context: call.context,
      });
    }
    const res = await this.fetchBlob(repo, descriptor, call);
    const tooLong = () => sizeMismatch(call, descriptor.size, 'more');
    const bytes = await readBody(res, descriptor.size, call, tooLong);
    if (bytes.length !== descriptor.size) throw sizeMismatch(call, descriptor.size, String(bytes.length));
    verifyDigest(bytes, descriptor.digest, call.context, call.what);
    return bytes;
  }

  /**
   * The OCI referrers API (distribution-spec v1.1): descriptors of the manifests whose `subject`
   * is `digest`, filtered by `artifactType` (again here: a registry may ignore the filter).
   * Undefined when the registry has no referrers API (404): callers then use the referrers tag
   * schema. Only the first page is read (at most MAX_MANIFEST_BYTES).
   */
  async getReferrers(repo: string, digest: string, artifactType?: string, signal?: AbortSignal): Promise<Descriptor[] | undefined> {
    const call: Call = { context: { image: `${this.host}/${repo}@${digest}` }, what: `referrers of ${this.host}/${repo}@${digest}`, signal, maxBytes: MAX_MANIFEST_BYTES };
    if (!DIGEST.test(digest)) throw new DrydockError('BAD_REFERENCE', `"${digest}" is not a digest`, { context: call.context });
    const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
    let res: Response;
    try {
      res = await this.registryRequest(repo, `referrers/${digest}${query}`, 'GET', call, {
        accept: MediaType.OciIndex,
        notFound: () => new DrydockError('MANIFEST_NOT_FOUND', `${call.what}: no referrers API`, { context: call.context }),
      });
    } catch (e) {
      if (e instanceof DrydockError && e.code === 'MANIFEST_NOT_FOUND') return undefined;
      throw e;
    }
    const bytes = await readBody(res, MAX_MANIFEST_BYTES, call, () => new DrydockError('LIMIT_EXCEEDED', `${call.what} is larger than ${MAX_MANIFEST_BYTES} bytes (MAX_MANIFEST_BYTES)`, { context: call.context }));
    let doc: unknown;
    try {
      doc = JSON.parse(bytes.toString('utf8'));
    } catch {
      doc = undefined;
    }
    const manifests = (doc as { manifests?: unknown } | undefined)?.manifests;
    if (!Array.isArray(manifests)) throw new DrydockError('INVALID_MANIFEST', `${call.what}: the answer is not an OCI index`, { context: call.context });
    return (manifests as Descriptor[]).filter((d) => typeof d?.digest === 'string' && (artifactType === undefined || d.artifactType === artifactType));
  }

  private async fetchBlob(repo: string, descriptor: Descriptor, call: Call): Promise<Response> {
    if (!DIGEST.test(descriptor.digest)) {
      throw new DrydockError('INVALID_MANIFEST', `"${descriptor.digest}" is not a digest`, { context: call.context });
    }
    return this.registryRequest(repo, `blobs/${descriptor.digest}`, 'GET', call, {
      notFound: () =>
        new DrydockError('BLOB_NOT_FOUND', `blob ${descriptor.digest} not found in ${this.host}/${repo}`, { context: call.context }),
    });
  }

  private manifestCall(repo: string, reference: string, signal: AbortSignal | undefined, image: string | undefined): Call {
    const sep = DIGEST.test(reference) ? '@' : ':';
    const call: Call = {
      context: { image: image ?? `${this.host}/${repo}${sep}${reference}` },
      what: `manifest ${reference} of ${this.host}/${repo}`,
      signal,
      maxBytes: MAX_MANIFEST_BYTES,
    };
    if (!DIGEST.test(reference) && !TAG.test(reference)) {
      throw new DrydockError('BAD_REFERENCE', `"${reference}" is neither a tag nor a digest`, { context: call.context });
    }
    return call;
  }

  private blobCall(repo: string, descriptor: Descriptor, signal: AbortSignal | undefined, image: string | undefined): Call {
    return {
      context: { image: image ?? `${this.host}/${repo}`, layer: descriptor.digest },
      what: `blob ${descriptor.digest} of ${this.host}/${repo}`,
      signal,
      bytes: typeof descriptor.size === 'number' && descriptor.size > 0 ? descriptor.size : 0,
    };
  }

  private manifestNotFound(repo: string, reference: string, call: Call): DrydockError {
    return new DrydockError('MANIFEST_NOT_FOUND', `manifest ${reference} not found in ${this.host}/${repo}`, { context: call.context });
  }

  /**
   * One request to the registry API with authentication: anonymous (or with the grant
   * held for this repository) first; on a 401 obtain a grant from the challenge and try
   * once more. Returns a 2xx response; every other status becomes an error.
   */
  private async registryRequest(
    repo: string,
    path: string,
    method: 'GET' | 'HEAD',
    call: Call,
    opts: { accept?: string; notFound: () => DrydockError },
  ): Promise<Response> {
    await this.decideScheme(call);
    const url = new URL(`/v2/${repo}/${path}`, this.origin);
    const headers: Record<string, string> = opts.accept ? { accept: opts.accept } : {};
    const scope = `repository:${repo}:pull`;
    const held = this.heldGrant(scope);
    let { res, url: finalUrl } = await this.follow(url, method, headers, held?.authorization, this.origin, call);
    if (res.status === 401 && finalUrl.origin === this.origin) {
      const challenges = parseWwwAuthenticate(res.headers.get('www-authenticate') ?? '');
      await discard(res);
      const grant = await this.obtainGrant(scope, challenges, held, call);
      ({ res, url: finalUrl } = await this.follow(url, method, headers, grant.authorization, this.origin, call));
      if (res.status === 401 && finalUrl.origin === this.origin) {
        const refused = parseWwwAuthenticate(res.headers.get('www-authenticate') ?? '');
        await discard(res);
        // A token without the pull right: the credentials are fine, the user may not read this repository.
        if (refused.some((c) => c.params.error === 'insufficient_scope')) {
          throw new DrydockError('DENIED', `${call.what}: the credentials are valid but not allowed to pull ${repo} (insufficient_scope)`, { context: call.context });
        }
        throw this.unauthorized(grant.withCredentials, call, grant.withheldFrom);
      }
    }
    if (res.ok) return res;
    await discard(res);
    if (res.status === 404) throw opts.notFound();
    throw this.statusError(res, finalUrl, call);
  }

  /**
   * A loopback registry (not listed as insecure) is spoken to as Docker does: https first,
   * plain http only when the server does not speak TLS. Decided once per client by a TLS
   * handshake alone (no request is sent; the certificate is not judged here: the real
   * requests verify it, so an untrusted certificate is an error, never a downgrade).
   */
  private async decideScheme(call: Call): Promise<void> {
    if (!this.origin.startsWith('https:') || !isLoopbackHost(this.host)) return;
    if (call.signal?.aborted) throw abortedError(call.context, call.signal.reason);
    this.schemeProbe ??= speaksTls(new URL(this.origin), Math.min(this.timeouts.idleMs, PROBE_TIMEOUT_MS)).then((tls) => {
      if (!tls) this.currentOrigin = new URL(`http://${this.host}`).origin;
    });
    await this.schemeProbe;
  }

  /**
   * Sends a request and follows up to MAX_REDIRECTS redirects by hand. The Authorization
   * value goes only to `authOrigin`; every hop must pass the transport policy.
   */
  private async follow(
    start: URL,
    method: 'GET' | 'HEAD',
    headers: Record<string, string>,
    authorization: string | undefined,
    authOrigin: string,
    call: Call,
  ): Promise<{ res: Response; url: URL }> {
    let url = start;
    for (let hop = 0; ; hop++) {
      const hopHeaders: Record<string, string> = { ...headers, 'user-agent': this.userAgent };
      if (authorization && url.origin === authOrigin) hopHeaders.authorization = authorization;
      const res = await this.exchange(url, method, hopHeaders, call);
      const location = res.headers.get('location');
      if (!REDIRECT_STATUSES.has(res.status) || !location) return { res, url };
      await discard(res);
      if (hop >= MAX_REDIRECTS) {
        throw new DrydockError('SOURCE_UNREADABLE', `${call.what}: more than ${MAX_REDIRECTS} redirects`, { context: call.context });
      }
      url = new URL(location, url);
    }
  }

  /** One HTTP exchange, retried on 429, 5xx and dropped connections. Redirects are returned, not followed. */
  private async exchange(url: URL, method: string, headers: Record<string, string>, call: Call): Promise<Response> {
    this.checkTransport(url, call);
    const { context, signal } = call;
    return withRetry(
      async (attempt): Promise<Attempt<Response>> => {
        const tries = `attempt ${attempt} of ${this.retry.attempts}`;
        const watch = new Watchdog(call, url.host, this.timeouts);
        let res: Response;
        try {
          watch.wait('response headers');
          res = await (call.bytes === undefined ? this.fetchImpl : this.blobFetchImpl)(url, { method, headers, redirect: 'manual', signal: watch.signal });
        } catch (e) {
          watch.stop();
          // Our own time bound first: it aborts the request through the same signal.
          if (watch.fired) throw watch.fired;
          if (signal?.aborted || isAbort(e)) throw abortedError(context, e);
          if (isHeaderOverflow(e)) {
            throw new DrydockError(
              'LIMIT_EXCEEDED',
              `${call.what}: ${url.host} sent response headers larger than ${maxHeaderSize} bytes (header overflow; limit maxHeaderSize ${maxHeaderSize}, Node's --max-http-header-size); not retried`,
              { context, cause: e },
            );
          }
          const cert = certificateProblem(e);
          if (cert) {
            throw new DrydockError(
              'NETWORK',
              `${call.what}: the TLS certificate of ${url.host} is not trusted (${cert}); trust its CA with NODE_EXTRA_CA_CERTS=<ca.pem>; not retried`,
              { context, cause: e, kind: 'permanent' },
            );
          }
          // "attempt n of m" only for a failure that is retried (a reset, a refusal, EAI_AGAIN); a host
          // that does not resolve (ENOTFOUND) and other final failures say "not retried" instead
          if (isTransientNetworkError(e)) return { retry: new DrydockError('NETWORK', `${call.what}: cannot reach ${url.host} (${describe(e)}; ${tries})`, { context, cause: e }) };
          throw new DrydockError('NETWORK', `${call.what}: cannot reach ${url.host} (${describe(e)}; not retried)`, { context, cause: e });
        }
        watch.got();
        if (call.bytes === undefined) watch.expect(Math.min(Number(res.headers.get('content-length')) || 0, call.maxBytes ?? 0));
        watchdogs.set(res, watch);
        if (res.status !== 429 && !RETRY_STATUSES.has(res.status)) return { value: res };
        await discard(res);
        const afterMs = parseRetryAfter(res.headers.get('retry-after'), this.now());
        const status = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
        const err =
          res.status === 429
            ? new DrydockError('THROTTLED', `${call.what}: ${url.host} is throttling requests (${status}; ${tries})`, { context })
            : new DrydockError('SERVER_ERROR', `${call.what}: ${url.host} answered ${status} (${tries})`, { context });
        return afterMs === undefined ? { retry: err } : { retry: err, afterMs };
      },
      { retry: this.retry, sleep: this.sleep, signal, context },
    );
  }

  /**
   * Checked before every request: https always; plain http to hosts listed as insecure,
   * and to loopback hosts only when the registry itself is spoken to over http. A registry
   * on https cannot send us (by redirect or token realm) to plain http on this machine,
   * where local services such as the Lambda runtime API listen.
   */
  private checkTransport(url: URL, call: Call): void {
    if (url.protocol === 'https:') return;
    if (url.protocol !== 'http:') {
      throw new DrydockError('SOURCE_UNREADABLE', `${call.what}: refusing to fetch ${url.protocol} URL ${url.origin}`, { context: call.context });
    }
    if (this.insecure.has(url.host)) return;
    if (isLoopbackHost(url.host) && this.origin.startsWith('http:')) return;
    throw new DrydockError(
      'INSECURE_REGISTRY',
      `${call.what}: refusing plain http to ${url.host}; list it in insecureRegistries (--insecure-registry) to allow it`,
      { context: call.context },
    );
  }

  /** The grant held for `scope`, if it has not expired. */
  private heldGrant(scope: string): Grant | undefined {
    const grant = this.grants.get(scope);
    if (grant && grant.expiresAt > this.now()) return grant;
    this.grants.delete(scope);
    return undefined;
  }

  /**
   * A fresh grant for `scope` after the registry refused `refused` (or no grant). Callers
   * that were refused at the same time share one token request; a grant another caller
   * obtained meanwhile is reused.
   */
  private async obtainGrant(scope: string, challenges: Challenge[], refused: Grant | undefined, call: Call): Promise<Grant> {
    const held = this.heldGrant(scope);
    if (held && held !== refused) return held;
    let pending = this.pendingGrants.get(scope);
    if (!pending) {
      pending = this.requestGrant(scope, challenges, call).finally(() => this.pendingGrants.delete(scope));
      this.pendingGrants.set(scope, pending);
    }
    const grant = await pending;
    this.grants.set(scope, grant);
    return grant;
  }

  /** Answers a challenge: a Bearer token from the realm (with Basic credentials if any), else Basic credentials. */
  private async requestGrant(scope: string, challenges: Challenge[], call: Call): Promise<Grant> {
    const creds = await this.credentials(call);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (!bearer) {
      if (!creds) throw this.unauthorized(false, call);
      // Basic credentials do not expire on their own; a later 401 asks the provider again.
      return { authorization: basicAuthorization(creds), withCredentials: true, expiresAt: Infinity };
    }
    let tokenUrl: URL;
    try {
      tokenUrl = new URL(bearer.params.realm ?? '');
    } catch (e) {
      throw new DrydockError('UNAUTHORIZED', `${this.host} sent a Bearer challenge without a valid realm URL`, { context: call.context, cause: e });
    }
    if (bearer.params.service) tokenUrl.searchParams.set('service', bearer.params.service);
    tokenUrl.searchParams.set('scope', scope);
    const tokenCall: Call = { ...call, what: `token for ${scope} from ${tokenUrl.host}`, maxBytes: MAX_TOKEN_RESPONSE_BYTES };
    // Credentials given for this registry go to its own host's token server (or a known
    // pair), never to a realm elsewhere that any registry could name in its challenge.
    const mayReceive = creds !== undefined && this.tokenHostAllowed(tokenUrl);
    const withheldFrom = creds && !mayReceive ? tokenUrl.host : undefined;
    const { res } = await this.follow(
      tokenUrl,
      'GET',
      { accept: 'application/json' },
      mayReceive ? basicAuthorization(creds) : undefined,
      tokenUrl.origin,
      tokenCall,
    );
    if (!res.ok) {
      await discard(res);
      if (res.status === 401) throw this.unauthorized(mayReceive, call, withheldFrom);
      throw this.statusError(res, tokenUrl, tokenCall);
    }
    const body = await readBody(res, MAX_TOKEN_RESPONSE_BYTES, tokenCall, () => {
      return new DrydockError('UNAUTHORIZED', `${tokenCall.what}: the token response is too large`, { context: call.context });
    });
    const answer = parseTokenResponse(body.toString('utf8'));
    if (!answer) {
      throw new DrydockError('UNAUTHORIZED', `${tokenCall.what}: the token server answered without a token`, { context: call.context });
    }
    const grant: Grant = {
      authorization: `Bearer ${answer.token}`,
      withCredentials: mayReceive,
      expiresAt: this.now() + answer.expiresInSeconds * 1000 - TOKEN_EXPIRY_MARGIN_MS,
    };
    if (withheldFrom) grant.withheldFrom = withheldFrom;
    return grant;
  }

  /**
   * Whether this registry's credentials may go to the token server at `url`: its own host
   * and port (another port on the same name is another server), or a pair listed in
   * KNOWN_TOKEN_HOSTS or the `tokenHosts` option.
   */
  private tokenHostAllowed(url: URL): boolean {
    if (url.host === new URL(this.origin).host) return true;
    const allowed = [...(KNOWN_TOKEN_HOSTS[this.host.toLowerCase()] ?? []), ...(this.options.tokenHosts?.[this.host.toLowerCase()] ?? [])];
    return allowed.some((h) => h.toLowerCase() === url.host);
  }

  private async credentials(call: Call): Promise<Credentials | undefined> {
    const provider = this.options.credentials;
    if (!provider) return undefined;
    try {
      return await provider.get(this.host, call.signal);
    } catch (e) {
      if (e instanceof DrydockError) throw e.withContext(call.context);
      if (call.signal?.aborted || isAbort(e)) throw abortedError(call.context, e);
      throw new DrydockError('CONFIG', `cannot get credentials for ${this.host}: ${describe(e)}`, { context: call.context, cause: e });
    }
  }

  private unauthorized(withCredentials: boolean, call: Call, withheldFrom?: string): DrydockError {
    const message = withCredentials
      ? `wrong credentials for ${this.host}: the registry refused them for ${call.what}`
      : withheldFrom
        ? `${this.host} needs credentials for ${call.what}; the credentials for ${this.host} were not sent to its token server on another host, ${withheldFrom} (allow it with tokenHosts)`
        : `${this.host} needs credentials for ${call.what} and none were given (or the repository does not exist)`;
    return new DrydockError('UNAUTHORIZED', message, { context: call.context });
  }

  /** A non-2xx answer that is not retried and not a registry 404. */
  private statusError(res: Response, url: URL, call: Call): DrydockError {
    const status = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
    if (res.status === 403) {
      return new DrydockError('DENIED', `${call.what}: access denied by ${url.host} (${status})`, { context: call.context });
    }
    if (res.status === 401) {
      return new DrydockError('UNAUTHORIZED', `${call.what}: ${url.host} refused the request (${status})`, { context: call.context });
    }
    return new DrydockError('SOURCE_UNREADABLE', `${call.what}: unexpected ${status} from ${url.host}`, { context: call.context });
  }
}

/** An ImageSource over a registry, for one image reference. */
export class RegistrySource implements ImageSource {
  readonly name: string;
  readonly remote = true;
  readonly client: RegistryClient;

  /**
   * An ECR reference also gets ECR credentials for its region (the default AWS credential
   * chain), asked when `options.credentials` has none for the host; every other registry
   * is pulled with `options.credentials`, or anonymously.
   */
  constructor(
    readonly ref: RegistryReference,
    options: RegistryClientOptions = {},
  ) {
    this.name = `registry ${formatReference(ref)}`;
    const ecr = ref.ecr ? ecrCredentials({ region: ref.ecr.region, fips: ref.ecr.fips }) : undefined;
    const credentials = options.credentials && ecr ? chainCredentials(options.credentials, ecr) : (options.credentials ?? ecr);
    this.client = new RegistryClient(apiHost(ref), { ...options, credentials });
  }

  rootManifest(signal?: AbortSignal): Promise<FetchedManifest> {
    return this.client.getManifest(this.ref.repository, manifestReference(this.ref), signal, this.ref.original);
  }

  async manifest(descriptor: Descriptor, signal?: AbortSignal): Promise<FetchedManifest> {
    const m = await this.client.getManifest(this.ref.repository, descriptor.digest, signal, this.ref.original);
    if (m.bytes.length !== descriptor.size) {
      const what = `manifest ${descriptor.digest} of ${this.client.host}/${this.ref.repository}`;
      throw new DrydockError('SIZE_MISMATCH', `${what} is ${m.bytes.length} bytes, its descriptor says ${descriptor.size}`, {
        context: { image: this.ref.original },
      });
    }
    return m;
  }

  blob(descriptor: Descriptor, signal?: AbortSignal): Promise<Buffer> {
    return this.client.getBlobBytes(this.ref.repository, descriptor, signal, this.ref.original);
  }

  openBlob(descriptor: Descriptor, signal?: AbortSignal): Promise<Readable> {
    return this.client.getBlob(this.ref.repository, descriptor, signal, this.ref.original);
  }
}

/**
 * The manifest's media type: the Content-Type when it names one, else the document's
 * mediaType field, else its shape (OCI allows both to be absent). Schema 1 is refused.
 */
function manifestMediaType(contentType: string | null, bytes: Buffer, call: Call): string {
  const header = bareContentType(contentType);
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new DrydockError('INVALID_MANIFEST', `${call.what} is not valid JSON`, { context: call.context, cause: e });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new DrydockError('INVALID_MANIFEST', `${call.what} is not a JSON object`, { context: call.context });
  }
  const fields = doc as { mediaType?: unknown; schemaVersion?: unknown; manifests?: unknown; config?: unknown; layers?: unknown };
  const field = typeof fields.mediaType === 'string' ? fields.mediaType : undefined;
  if (SCHEMA1_TYPES.includes(header)) throw schema1Error(header, call);
  if (field && SCHEMA1_TYPES.includes(field)) throw schema1Error(field, call);
  if (fields.schemaVersion === 1) throw schema1Error('schemaVersion 1', call);
  if (!GENERIC_CONTENT_TYPES.has(header)) return header;
  if (field) return field;
  if (Array.isArray(fields.manifests)) return MediaType.OciIndex;
  if (fields.config && Array.isArray(fields.layers)) return MediaType.OciManifest;
  throw new DrydockError('UNSUPPORTED_MEDIA_TYPE', `${call.what} has no media type and is neither a manifest nor an index`, {
    context: call.context,
  });
}

function schema1Error(what: string, call: Call): DrydockError {
  return new DrydockError(
    'SCHEMA1_UNSUPPORTED',
    `${call.what} is a Docker schema 1 manifest (${what}); schema 1 images are deprecated and cannot be scanned: ` +
      're-push the image with a current Docker or buildx so that it is stored as schema 2 / OCI',
    { context: call.context },
  );
}

function bareContentType(value: string | null): string {
  return (value ?? '').split(';')[0]!.trim().toLowerCase();
}

function sizeMismatch(call: Call, expected: number, actual: string): DrydockError {
  return new DrydockError('SIZE_MISMATCH', `${call.what}: expected ${expected} bytes, got ${actual}`, { context: call.context });
}

/** Reads a body whole, refusing more than `limit` bytes (by Content-Length up front, else while reading). */
async function readBody(res: Response, limit: number, call: Call, tooLarge: () => DrydockError): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > limit) {
    await discard(res);
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of timedChunks(res)) {
      total += chunk.length;
      if (total > limit) throw tooLarge(); // leaving the loop cancels the body
      chunks.push(chunk);
    }
  } catch (e) {
    throw streamError(e, call, res);
  }
  return Buffer.concat(chunks, total);
}

/** A response body as a Node stream whose errors are DrydockErrors naming the image and blob. */
function relay(res: Response, call: Call): Readable {
  const node = nodeBodyOf(res);
  if (node) return relayNode(node, res, call);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      yield* timedChunks(res);
    } catch (e) {
      throw streamError(e, call, res);
    }
  }
  // Destroying the returned stream ends the generator, which cancels the download.
  return Readable.from(chunks(), { objectMode: false });
}

/**
 * relay() for a body that arrived on a Node stream (nodeFetch): its chunks passed on as they
 * come, with no async generator per chunk. The exchange's time bounds count only the time spent
 * waiting for the server: not while this stream's reader holds it back (the body is paused).
 */
function relayNode(body: NodeBody, res: Response, call: Call): Readable {
  const watch = watchdogs.get(res);
  let paused = false;
  const out = new Readable({
    read() {
      if (!paused) return;
      paused = false;
      watch?.wait('bytes');
      body.resume();
    },
    destroy(error, callback) {
      watch?.stop();
      // a reader that gave up (a limit, another layer's failure) cancels the download
      body.off('data', onData);
      if (!body.destroyed) body.destroy();
      callback(error);
    },
  });
  // The body can fail before this stream's reader comes (it is handed out through several
  // awaits): the failure then waits in `errored`, which a for-await or pipeline reports, instead
  // of being an 'error' event nobody listens to yet (an uncaught exception).
  out.on('error', () => undefined);
  const onData = (chunk: Buffer) => {
    watch?.got();
    if (out.push(chunk)) {
      watch?.wait('bytes');
    } else {
      paused = true;
      body.pause();
    }
  };
  // the body failed or was cut off before this reader came: its error is the stream's at once
  if (body.errored || (body.destroyed && !body.complete)) {
    out.destroy(streamError(body.errored ?? new Error('the connection closed before the end of the body'), call, res));
    return out;
  }
  body.on('data', onData);
  body.once('end', () => {
    watch?.stop();
    out.push(null);
  });
  body.once('error', (e) => out.destroy(streamError(e, call, res)));
  // a connection closed before the body's end, without an error of its own
  body.once('close', () => {
    if (!body.complete && !out.destroyed) out.destroy(streamError(new Error('the connection closed before the end of the body'), call, res));
  });
  watch?.wait('bytes');
  return out;
}

function streamError(e: unknown, call: Call, res?: Response): DrydockError {
  const fired = res && watchdogs.get(res)?.fired;
  if (fired) return fired;
  if (e instanceof DrydockError) return e;
  if (call.signal?.aborted || isAbort(e)) return abortedError(call.context, e);
  return new DrydockError('NETWORK', `${call.what}: the download failed (${describe(e)})`, { context: call.context, cause: e });
}

/** Drops a body we will not read, so the connection can be reused or closed. */
async function discard(res: Response): Promise<void> {
  watchdogs.get(res)?.stop();
  const node = nodeBodyOf(res);
  if (node) {
    // a finished or short body (a redirect's, a 401's, a HEAD's) is drained so its connection
    // is reused; anything else is cut off: a server is not read on for an answer we dropped
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (node.complete || declared <= DRAIN_BYTES) node.resume();
    else node.destroy();
    return;
  }
  try {
    await res.body?.cancel();
  } catch {
    // the body already failed or was consumed: nothing to release
  }
}

function describe(e: unknown): string {
  const parts: string[] = [];
  for (let err = e, depth = 0; depth < 4 && err !== undefined; depth++) {
    if (err instanceof Error) {
      const code = (err as { code?: unknown }).code;
      parts.push(typeof code === 'string' ? `${err.message} [${code}]` : err.message);
      err = err.cause;
    } else {
      parts.push(String(err));
      break;
    }
  }
  return parts.join(': ');
}

/** The longest unread body discard() drains (by its Content-Length) to keep the connection. */
const DRAIN_BYTES = 64 * 1024;

/** The time bounds of the exchange each response came from. */
const watchdogs = new WeakMap<Response, Watchdog>();

/**
 * One exchange's time bounds (see RegistryTimeouts): armed while waiting for the server
 * (`wait`), disarmed when something arrives (`got`). When one trips it records the error
 * naming the limit and aborts the request through `signal`.
 */
class Watchdog {
  readonly signal: AbortSignal;
  fired: DrydockError | undefined;
  private readonly controller = new AbortController();
  private totalMs: number;
  private expected: number;
  private spent = 0;
  private since = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerIsIdle = false;
  private waiting = false;
  private what = '';
  private stopped = false;

  constructor(
    private readonly call: Call,
    private readonly host: string,
    private readonly t: RegistryTimeouts,
  ) {
    this.signal = call.signal ? AbortSignal.any([call.signal, this.controller.signal]) : this.controller.signal;
    this.expected = call.bytes ?? 0;
    this.totalMs = this.totalFor(this.expected);
  }

  private totalFor(bytes: number): number {
    return Math.ceil(this.t.totalFloorMs + (bytes / this.t.minBytesPerSecond) * 1000);
  }

  /** The body's size once the headers tell it (a manifest's, a token's): the total bound grows with it. */
  expect(bytes: number): void {
    this.expected = bytes;
    this.totalMs = this.totalFor(bytes);
  }

  wait(what: string): void {
    if (this.stopped || this.fired) return;
    this.since = Date.now();
    this.waiting = true;
    this.what = what;
    const left = Math.max(0, this.totalMs - this.spent);
    const idle = this.t.idleMs <= left;
    // Once per chunk of a body: the idle timer is re-armed in place (refresh), not made anew.
    if (idle && this.timer !== undefined && this.timerIsIdle) {
      this.timer.refresh();
      return;
    }
    clearTimeout(this.timer);
    this.timerIsIdle = idle;
    this.timer = setTimeout(() => this.fire(idle), idle ? this.t.idleMs : left);
    // never keeps a process alive on its own; the request it guards does that
    this.timer.unref?.();
  }

  got(): void {
    if (!this.waiting) return;
    // the timer stays armed (its callback sees that nothing is awaited); the next wait() refreshes it
    this.waiting = false;
    this.spent += Date.now() - this.since;
  }

  stop(): void {
    this.stopped = true;
    this.waiting = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fire(idle: boolean): void {
    // fired while nothing was awaited (the reader held the body back): not the server's delay
    if (!this.waiting || this.stopped) return;
    const what = this.what;
    this.timer = undefined;
    const { context } = this.call;
    const message = idle
      ? `${this.call.what}: no ${what} from ${this.host} for ${this.t.idleMs} ms (limit registryIdleTimeout ${this.t.idleMs} ms)`
      : `${this.call.what}: ${this.host} took more than ${this.totalMs} ms (limit registryTotalTimeout: ${this.t.totalFloorMs} ms + the expected ${this.expected} bytes at ${this.t.minBytesPerSecond} bytes/s)`;
    this.fired = new DrydockError('NETWORK', message, { context });
    this.controller.abort(this.fired);
  }
}

/** A response body's chunks, each wait for the next one under the exchange's time bounds. */
async function* timedChunks(res: Response): AsyncGenerator<Uint8Array> {
  const watch = watchdogs.get(res);
  const body = (nodeBodyOf(res) as AsyncIterable<Uint8Array> | undefined) ?? (res.body as ReadableStream<Uint8Array> | null);
  if (!body) {
    watch?.stop();
    return;
  }
  const it = body[Symbol.asyncIterator]();
  let done = false;
  try {
    for (;;) {
      watch?.wait('bytes');
      let next: IteratorResult<Uint8Array>;
      try {
        next = await it.next();
      } finally {
        watch?.got();
      }
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    watch?.stop();
    // left early (a limit, an error, the consumer gave up): cancel the download
    if (!done) await it.return?.().catch(() => undefined);
  }
}

/** The longest a loopback registry may take to answer a TLS handshake before it is taken for plain http. */
const PROBE_TIMEOUT_MS = 5_000;

/**
 * Whether the server at `url` completes a TLS handshake (any certificate: this decides
 * the scheme only). No handshake, a non-TLS answer, a closed or refused connection, or
 * silence for `timeoutMs` all mean "not TLS": the http request that follows then reports
 * the real problem in the usual words.
 */
function speaksTls(url: URL, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const socket = tlsConnect({ host, port: Number(url.port || 443), rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    const done = (tls: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(tls);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    timer.unref?.();
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

/** The certificate-verification failure behind a fetch error, if that is what it was. */
function certificateProblem(e: unknown): string | undefined {
  for (let err = e, depth = 0; err instanceof Error && depth < 8; err = err.cause, depth++) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME/.test(code)) return `${code}: ${err.message}`;
  }
  return undefined;
}

/** Headers larger than Node's limit (a 1 MiB WWW-Authenticate): a refusal, not an unreachable host. */
function isHeaderOverflow(e: unknown): boolean {
  for (let err = e, depth = 0; err instanceof Error && depth < 8; err = err.cause, depth++) {
    const code = (err as { code?: unknown }).code;
    if (code === 'UND_ERR_HEADERS_OVERFLOW' || code === 'HPE_HEADER_OVERFLOW') return true;
  }
  return false;
}
