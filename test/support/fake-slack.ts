/**
 * A stand-in for a Slack incoming webhook: a real node:http server on 127.0.0.1 answering as
 * Slack documents it — POST JSON to the webhook's path; 200 "ok"; 400 "invalid_payload" for a
 * body that is not JSON, "no_text" for one with neither text nor blocks, "invalid_blocks" for
 * blocks over Block Kit's limits; 404 "no_service" for any other path. It records every
 * request (time, path, headers, body) and can be told to misbehave for the next requests:
 * answer 429 with Retry-After, 5xx, a 4xx with Slack's text, or close the socket unanswered.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface SlackRequest {
  /** Date.now() when the request arrived */
  at: number;
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** the parsed body, when it was JSON */
  json?: unknown;
  /** what the fake answered (0: closed the socket) */
  answered: number;
}

export type SlackFault =
  | { status: number; body?: string; retryAfter?: string; contentType?: string }
  | { close: true }
  /** answer this one as Slack would (to queue a fault for a later request) */
  | { pass: true };

export interface FakeSlack {
  /** the webhook URL: http://127.0.0.1:<port>/services/T…/B…/<secret> */
  url: string;
  /** the secret part of the path (tests check it never leaks) */
  secret: string;
  requests: SlackRequest[];
  /** the payloads that Slack accepted (200), parsed */
  accepted: unknown[];
  /** misbehave for the next `times` requests (after the faults already queued) */
  fail(fault: SlackFault, times?: number): void;
  /** misbehave on every request until `heal()` */
  failAlways(fault: SlackFault): void;
  heal(): void;
  /** heal, and forget the requests seen (between tests) */
  reset(): void;
  stop(): Promise<void>;
}

/** Block Kit limits Slack enforces on a message (it answers 400 invalid_blocks). */
export function blockKitProblems(payload: unknown): string[] {
  const p = payload as { blocks?: unknown };
  const problems: string[] = [];
  if (p.blocks === undefined) return problems;
  if (!Array.isArray(p.blocks)) return ['blocks is not an array'];
  if (p.blocks.length > 50) problems.push(`${p.blocks.length} blocks (max 50)`);
  p.blocks.forEach((b: Record<string, any>, i: number) => {
    const where = `blocks[${i}] (${b?.type})`;
    const text = (t: any, max: number, what: string) => {
      if (t === undefined) return;
      if (typeof t?.text !== 'string' || !['plain_text', 'mrkdwn'].includes(t.type)) problems.push(`${where}: ${what} is not a text object`);
      else if (t.text.length === 0) problems.push(`${where}: ${what} is empty`);
      else if (t.text.length > max) problems.push(`${where}: ${what} has ${t.text.length} characters (max ${max})`);
    };
    switch (b?.type) {
      case 'header':
        if (b.text?.type !== 'plain_text') problems.push(`${where}: header text must be plain_text`);
        text(b.text, 150, 'text');
        break;
      case 'section':
        if (b.text === undefined && b.fields === undefined) problems.push(`${where}: neither text nor fields`);
        text(b.text, 3000, 'text');
        if (b.fields !== undefined) {
          if (!Array.isArray(b.fields) || b.fields.length > 10) problems.push(`${where}: more than 10 fields`);
          else b.fields.forEach((f: unknown, j: number) => text(f, 2000, `fields[${j}]`));
        }
        break;
      case 'context':
        if (!Array.isArray(b.elements) || b.elements.length === 0 || b.elements.length > 10) problems.push(`${where}: 1 to 10 elements`);
        else b.elements.forEach((e: unknown, j: number) => text(e, 3000, `elements[${j}]`));
        break;
      case 'actions':
        if (!Array.isArray(b.elements) || b.elements.length === 0 || b.elements.length > 25) problems.push(`${where}: 1 to 25 elements`);
        else
          b.elements.forEach((e: Record<string, any>, j: number) => {
            text(e.text, 75, `elements[${j}].text`);
            if (e.url !== undefined && (typeof e.url !== 'string' || e.url.length > 3000)) problems.push(`${where}: elements[${j}].url over 3000 characters`);
          });
        break;
      case 'divider':
        break;
      default:
        problems.push(`${where}: unknown block type`);
    }
  });
  return problems;
}

export async function startFakeSlack(): Promise<FakeSlack> {
  const secret = randomBytes(12).toString('hex');
  const path = `/services/T0FAKE000/B0FAKE000/${secret}`;
  const requests: SlackRequest[] = [];
  const accepted: unknown[] = [];
  const queue: SlackFault[] = [];
  let always: SlackFault | undefined;
  const sockets = new Set<Socket>();

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const rec: SlackRequest = { at: Date.now(), method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, answered: 0 };
    try {
      rec.json = JSON.parse(body);
    } catch {
      /* recorded as text */
    }
    requests.push(rec);
    const answer = (status: number, text: string, headers: Record<string, string> = {}) => {
      rec.answered = status;
      res.writeHead(status, { 'content-type': 'text/html', ...headers });
      res.end(text);
    };
    const next = queue.shift() ?? always;
    const fault = next && 'pass' in next ? undefined : next;
    if (fault) {
      if ('close' in fault) {
        // Gone without an answer, as a reset connection looks to the client.
        req.socket.destroy();
        return;
      }
      return answer(fault.status, fault.body ?? (fault.status === 429 ? 'rate_limited' : fault.status >= 500 ? 'internal_error' : 'invalid_payload'), {
        ...(fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {}),
        ...(fault.contentType ? { 'content-type': fault.contentType } : {}),
      });
    }
    if (req.method !== 'POST' || req.url !== path) return answer(404, 'no_service');
    if (rec.json === undefined || typeof rec.json !== 'object' || rec.json === null) return answer(400, 'invalid_payload');
    const payload = rec.json as { text?: unknown; blocks?: unknown };
    if ((typeof payload.text !== 'string' || !payload.text) && !Array.isArray(payload.blocks)) return answer(400, 'no_text');
    if (blockKitProblems(payload).length > 0) return answer(400, 'invalid_blocks');
    accepted.push(rec.json);
    return answer(200, 'ok');
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    secret,
    requests,
    accepted,
    fail(fault, times = 1) {
      for (let i = 0; i < times; i++) queue.push(fault);
    },
    failAlways(fault) {
      always = fault;
    },
    heal() {
      always = undefined;
      queue.length = 0;
    },
    reset() {
      always = undefined;
      queue.length = 0;
      requests.length = 0;
      accepted.length = 0;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
