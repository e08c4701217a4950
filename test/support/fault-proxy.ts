/**
 * A loopback HTTP proxy in front of a real local server that injects faults: it forwards each
 * request unless `decide` says to answer with an error status or to reset the connection.
 * Used to give the registry, S3 or DynamoDB Local 500s, throttling and resets on demand.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault = 'pass' | 'reset' | { status: number; body?: string; headers?: Record<string, string> };

export interface FaultProxy {
  /** "127.0.0.1:PORT" */
  host: string;
  url: string;
  /** requests seen, with what was done to each */
  log: Array<{ method: string; url: string; fault: string }>;
  /** replace the decision function */
  setDecide(decide: (req: IncomingMessage, n: number) => Fault): void;
  stop(): Promise<void>;
}

export async function startFaultProxy(target: string, decide: (req: IncomingMessage, n: number) => Fault = () => 'pass'): Promise<FaultProxy> {
  const to = new URL(target);
  let n = 0;
  const log: FaultProxy['log'] = [];
  const server: Server = createServer((req, res) => {
    const fault = decide(req, n++);
    log.push({ method: req.method ?? '', url: req.url ?? '', fault: typeof fault === 'string' ? fault : String(fault.status) });
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault !== 'pass') {
      req.resume();
      res.writeHead(fault.status, { 'content-type': 'text/plain', ...fault.headers });
      res.end(fault.body ?? `injected ${fault.status}`);
      return;
    }
    const upstream = request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    log,
    setDecide(d) {
      decide = d;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
