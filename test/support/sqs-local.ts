/**
 * An SQS server (the `local-aws-sqs` devDependency) in-process for one test file, on 127.0.0.1
 * and a free port, with helpers to create a work queue and its dead-letter queue the way the
 * CDK app does (RedrivePolicy with maxReceiveCount).
 *
 * Behaviour worth knowing when writing tests against it (see /work/shared/LOCAL-SERVERS.md):
 * - It speaks both the JSON protocol (what SDK v3 clients use now) and the old Query protocol.
 * - System attributes (ApproximateReceiveCount, ...) come back only with the old
 *   `AttributeNames: ['All']`; message attributes only with `MessageAttributeNames: ['All']`.
 * - Its MaximumMessageSize default is SQS's current 1 MiB, not the classic 256 KiB: a limit
 *   test must not rely on the server refusing a 300 KiB message.
 * - Its ChangeMessageVisibility counts as a receive (ApproximateReceiveCount + 1), which real SQS
 *   never does: the functions change a failing message's visibility (retry backoff), so with
 *   that bug a message would reach the dead-letter queue receives early. `createSqsServer` is
 *   therefore loaded from the package with that one expression corrected (below); if the
 *   package changes so that the expression is not found, loading fails loudly.
 * - Redrive happens when the visibility of the maxReceiveCount-th receive ends (SQS: on the next
 *   receive) — the same observable order.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient, type Message, type SQSClientConfig } from '@aws-sdk/client-sqs';
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';

export const SQS_LOCAL_REGION = 'us-east-1';

/** The receive-count update in local-aws-sqs's visibility routine, and the same counting only receives. */
const RECEIVE_COUNT_BUG = 'let n=Number(t.record.attributes.ApproximateReceiveCount)+1;';
const RECEIVE_COUNT_FIX = 'let n=Number(t.record.attributes.ApproximateReceiveCount)+(i?0:1);';

type CreateSqsServer = (opts: { port: number; hostname: string }) => Promise<Server>;
let loaded: CreateSqsServer | undefined;

/** local-aws-sqs with ChangeMessageVisibility no longer counted as a receive (see the module comment). */
function createSqsServer(opts: { port: number; hostname: string }): Promise<Server> {
  if (!loaded) {
    const file = createRequire(import.meta.url).resolve('local-aws-sqs');
    const source = readFileSync(file, 'utf8');
    if (source.split(RECEIVE_COUNT_BUG).length !== 2) {
      throw new Error(`local-aws-sqs changed: ${file} no longer holds its receive-count expression once; re-check whether ChangeMessageVisibility still counts as a receive`);
    }
    const mod = new Module(file) as Module & { _compile(code: string, filename: string): void; paths: string[] };
    mod.filename = file;
    mod.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(file));
    mod._compile(source.replace(RECEIVE_COUNT_BUG, RECEIVE_COUNT_FIX), file);
    loaded = (mod.exports as { createSqsServer: CreateSqsServer }).createSqsServer;
  }
  return loaded(opts);
}

export interface SqsLocal {
  /** "http://127.0.0.1:PORT" */
  endpoint: string;
  clientConfig: SQSClientConfig & { endpoint: string; region: string };
  /** a client for the test's own setup and assertions */
  admin: SQSClient;
  /** creates a queue (FIFO when the name ends in .fifo) and returns its URL and ARN */
  createQueue(name: string, attributes?: Record<string, string>): Promise<{ url: string; arn: string }>;
  /** a queue with a dead-letter queue after `maxReceiveCount` receives */
  createQueueWithDlq(name: string, maxReceiveCount: number): Promise<{ url: string; dlqUrl: string; dlqArn: string }>;
  /** receives until `count` messages arrived or `timeoutMs` passed (deleting them unless told not to) */
  receiveAll(url: string, count: number, opts?: { timeoutMs?: number; keep?: boolean }): Promise<Message[]>;
  stop(): Promise<void>;
}

export async function startSqsLocal(): Promise<SqsLocal> {
  const server: Server = await createSqsServer({ port: 0, hostname: '127.0.0.1' });
  const port = (server.address() as AddressInfo).port;
  const endpoint = `http://127.0.0.1:${port}`;
  const clientConfig = { endpoint, region: SQS_LOCAL_REGION, credentials: { accessKeyId: 'drydock', secretAccessKey: 'drydock' } };
  const admin = new SQSClient(clientConfig);

  async function createQueue(name: string, attributes: Record<string, string> = {}): Promise<{ url: string; arn: string }> {
    const fifo = name.endsWith('.fifo') ? { FifoQueue: 'true' } : {};
    const res = await admin.send(new CreateQueueCommand({ QueueName: name, Attributes: { ...fifo, ...attributes } }));
    const url = res.QueueUrl!;
    const attrs = await admin.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
    return { url, arn: attrs.Attributes!.QueueArn! };
  }

  let stopped = false;
  return {
    endpoint,
    clientConfig,
    admin,
    createQueue,
    async createQueueWithDlq(name, maxReceiveCount) {
      const dlq = await createQueue(`${name}-dlq`);
      const q = await createQueue(name, { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount }) });
      return { url: q.url, dlqUrl: dlq.url, dlqArn: dlq.arn };
    },
    async receiveAll(url, count, opts = {}) {
      const out: Message[] = [];
      const deadline = Date.now() + (opts.timeoutMs ?? 5000);
      while (out.length < count && Date.now() < deadline) {
        // Short polls: this server holds a long poll open for its whole wait time unless it can
        // fill MaxNumberOfMessages, where SQS returns as soon as it has anything.
        const res = await admin.send(
          new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'], AttributeNames: ['All'] }),
        );
        if (!res.Messages?.length) await new Promise((r) => setTimeout(r, 50));
        for (const m of res.Messages ?? []) {
          out.push(m);
          if (!opts.keep) await admin.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle! }));
        }
      }
      return out;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      admin.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
