/**
 * What the stand-ins for AWS JSON 1.1 APIs share (fake-ecr, fake-eventbridge,
 * fake-secrets-manager): the answer's framing and a listener on a free loopback port.
 */
import { randomUUID } from 'node:crypto';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A JSON 1.1 answer with a request id, as AWS's services send it. */
export function answer(res: ServerResponse, status: number, doc: unknown): void {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() });
  res.end(JSON.stringify(doc));
}

/** Listens on 127.0.0.1 and a free port; returns "http://127.0.0.1:PORT". */
export async function listenLocal(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
