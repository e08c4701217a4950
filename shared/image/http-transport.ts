import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { plainGet } from './plain-http.js';

/**
 * The registry client's HTTP transport: Node's http/https modules behind the part of fetch's
 * interface the client uses (GET and HEAD, request headers, a signal, redirects returned, not
 * followed). The answer has the Response fields the client reads (status, statusText, ok and
 * headers.get), and its body is kept as the IncomingMessage it arrived on (nodeBodyOf), read
 * without a web stream: fetch's web-stream body costs about twice the CPU per byte of a layer
 * (0.7–0.9 s against 0.35 s for the bench image's 125 MB here), on the thread that also hands
 * the bytes to the layer workers.
 *
 * What differs from fetch, on purpose: no Accept-Encoding is sent and no body is decoded (a
 * registry's blob is stored bytes; an encoded answer fails its digest or its JSON parse, never
 * passes), and there is no request body. Connections are kept alive and reused per origin; an
 * idle one never holds the process open (Node's agent unrefs free sockets).
 */
const bodies = new WeakMap<Response, NodeBody>();

/** A body as the registry client reads it: an IncomingMessage, or a PlainBody (plain-http.ts). */
export type NodeBody = Readable & { readonly complete: boolean };

/**
 * The part of fetch's Headers the client reads (get, has), over the answer's raw header list:
 * a name's values joined by ", " as fetch joins them. Not the global Headers, whose first use
 * loads and compiles Node's bundled undici (~25 ms of a registry scan's start here).
 */
class RawHeaders {
  constructor(private readonly raw: readonly string[]) {}

  get(name: string): string | null {
    const wanted = name.toLowerCase();
    let value: string | null = null;
    for (let i = 0; i + 1 < this.raw.length; i += 2) {
      if (this.raw[i]!.toLowerCase() !== wanted) continue;
      value = value === null ? this.raw[i + 1]! : `${value}, ${this.raw[i + 1]!}`;
    }
    return value;
  }

  has(name: string): boolean {
    return this.get(name) !== null;
  }
}

/**
 * The answer nodeFetch resolves to: the Response fields the registry client reads (status,
 * statusText, ok, headers.get, a null body: the body is the IncomingMessage, see nodeBodyOf).
 */
class NodeResponse {
  readonly ok: boolean;
  readonly body = null;

  constructor(
    readonly status: number,
    readonly statusText: string,
    readonly headers: RawHeaders,
  ) {
    this.ok = status >= 200 && status <= 299;
  }
}

/** The Node stream behind a Response that nodeFetch made (undefined for any other Response). */
export function nodeBodyOf(res: Response): NodeBody | undefined {
  return bodies.get(res);
}

const httpAgent = new HttpAgent({ keepAlive: true });
const httpsAgent = new HttpsAgent({ keepAlive: true });

export interface NodeFetchInit {
  method?: string;
  headers?: Record<string, string>;
  redirect?: 'manual';
  signal?: AbortSignal | null;
}

export function nodeFetch(input: URL | string, init: NodeFetchInit = {}): Promise<Response> {
  const url = typeof input === 'string' ? new URL(input) : input;
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:') return Promise.reject(new TypeError(`cannot fetch a ${url.protocol} URL`));
  if (init.redirect !== undefined && init.redirect !== 'manual') return Promise.reject(new TypeError('nodeFetch returns redirects; it does not follow them'));
  const method = init.method ?? 'GET';
  return new Promise<Response>((resolve, reject) => {
    const options = { method, headers: init.headers ?? {}, agent: secure ? httpsAgent : httpAgent, ...(init.signal ? { signal: init.signal } : {}) };
    const req = (secure ? httpsRequest : httpRequest)(url, options, (msg) => {
      // An error before anyone reads the body (a reset while the client is between requests):
      // Node's IncomingMessage drops it when nobody listens; with this listener it is kept as the
      // stream's `errored`, so the reader that comes later gets the real cause (relay and the
      // async iterator both check it) instead of a bare premature close.
      msg.on('error', () => undefined);
      try {
        resolve(responseOf(url, msg.statusCode, msg.statusMessage ?? '', msg.rawHeaders, msg));
      } catch (e) {
        reject(e);
      }
    });
    // after the answer, errors come through the body (IncomingMessage) instead; this listener only keeps them from being uncaught
    req.on('error', reject);
    req.end();
  });
}

/**
 * nodeFetch for a blob's GET: over plain http, read straight off the socket (plainGet, about a
 * quarter of the CPU of Node's http client per byte, on the thread that also walks the layers);
 * over https, nodeFetch itself (its connections are kept alive, a TLS handshake per blob is not).
 */
export function blobFetch(input: URL | string, init: NodeFetchInit = {}): Promise<Response> {
  const url = typeof input === 'string' ? new URL(input) : input;
  // anything but a plain GET (and an unsupported redirect mode, which nodeFetch refuses) is nodeFetch's
  if (url.protocol !== 'http:' || (init.method ?? 'GET') !== 'GET' || (init.redirect !== undefined && init.redirect !== 'manual')) return nodeFetch(url, init);
  return plainGet(url, init.headers ?? {}, init.signal).then((a) => responseOf(url, a.status, a.statusText, a.rawHeaders, a.body));
}

/** The answer as nodeFetch and blobFetch resolve to it, its body kept for nodeBodyOf; a status fetch would refuse is an error (the body is dropped). */
function responseOf(url: URL, status: number | undefined, statusText: string, rawHeaders: string[], body: NodeBody): Response {
  // fetch's Response allows 200–599 only; anything else (a 1xx that is not informational, a 6xx) is not HTTP we speak
  if (status === undefined || !Number.isInteger(status) || status < 200 || status > 599) {
    body.destroy();
    throw new TypeError(`${url.host} sent an answer that is not valid HTTP (status ${String(status)}: not in the range 200 to 599)`);
  }
  const res = new NodeResponse(status, statusText, new RawHeaders(rawHeaders)) as unknown as Response;
  bodies.set(res, body);
  return res;
}
