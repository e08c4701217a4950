/**
 * A MOCK of Amazon SNS's Publish action: a tiny node:http server speaking the SNS Query
 * protocol (form-encoded request, XML answer) well enough for the real SDK v3 SNSClient to
 * send to it and parse its answers. It records what was published. It delivers nothing by itself;
 * a delivery layer (test/support/template-stack.ts: the template's subscriptions, filter
 * policies and SQS envelope) can be plugged in with `onPublish`, called after the message is
 * accepted, before the answer (so a test sees the delivery once Publish returned). A delivery
 * failure never fails the Publish (SNS delivers after accepting), it is recorded in
 * `deliveryErrors`.
 *
 * The answer shapes are SNS's documented ones: a PublishResponse wrapping PublishResult/MessageId
 * (the SDK's AwsQueryProtocol drops the root element and reads `<Operation>Result`), and for
 * errors an ErrorResponse with Error/Type, Code, Message (read by its loadQueryErrorCode).
 * Like SNS it refuses a payload (message + attributes) over 256 KiB with InvalidParameter.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PublishedMessage {
  topicArn: string;
  message: string;
  /** String attributes as name → value; other types recorded as "<DataType>:<value>" */
  attributes: Record<string, string>;
  messageId: string;
  /** every attribute with its SNS data type (String, Number, String.Array, Binary) */
  typedAttributes: Record<string, { type: string; value: string }>;
  subject?: string;
  /** when SNS accepted it (ISO 8601) */
  timestamp: string;
}

export interface SnsFault {
  status: number;
  code: string;
  message?: string;
  type?: 'Sender' | 'Receiver';
}

export interface FakeSns {
  endpoint: string;
  published: PublishedMessage[];
  /** every request's Action, in order (Publish or anything else the client tried) */
  actions: string[];
  /** answer the next `times` requests with this error instead */
  failNext(fault: SnsFault, times?: number): void;
  /** plug in delivery to subscriptions (undefined: none) */
  onPublish(deliver: ((message: PublishedMessage) => Promise<void>) | undefined): void;
  /** deliveries that failed, with their cause */
  deliveryErrors: Array<{ messageId: string; error: string }>;
  stop(): Promise<void>;
}

const NS = 'http://sns.amazonaws.com/doc/2010-03-31/';
const SNS_LIMIT = 256 * 1024;

export async function startFakeSns(): Promise<FakeSns> {
  const published: PublishedMessage[] = [];
  const actions: string[] = [];
  const faults: SnsFault[] = [];
  const deliveryErrors: FakeSns['deliveryErrors'] = [];
  let deliver: ((message: PublishedMessage) => Promise<void>) | undefined;

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((e: unknown) => error(res, { status: 500, code: 'InternalError', message: String(e), type: 'Receiver' }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const action = form.get('Action') ?? '';
    actions.push(action);
    const fault = faults.shift();
    if (fault) return error(res, fault);
    if (action !== 'Publish') return error(res, { status: 400, code: 'InvalidAction', message: `the mock knows only Publish, not ${action}` });
    const topicArn = form.get('TopicArn');
    const message = form.get('Message');
    if (!topicArn || message === null) return error(res, { status: 400, code: 'InvalidParameter', message: 'TopicArn and Message are required' });
    // MessageAttributes.entry.N.Name / .Value.DataType / .Value.StringValue
    const attributes: Record<string, string> = {};
    const typedAttributes: Record<string, { type: string; value: string }> = {};
    let size = Buffer.byteLength(message);
    for (let n = 1; form.has(`MessageAttributes.entry.${n}.Name`); n++) {
      const name = form.get(`MessageAttributes.entry.${n}.Name`)!;
      const type = form.get(`MessageAttributes.entry.${n}.Value.DataType`) ?? '';
      const value = form.get(`MessageAttributes.entry.${n}.Value.StringValue`) ?? '';
      attributes[name] = type === 'String' ? value : `${type}:${value}`;
      typedAttributes[name] = { type, value };
      size += Buffer.byteLength(name) + Buffer.byteLength(type) + Buffer.byteLength(value);
    }
    if (size > SNS_LIMIT) return error(res, { status: 400, code: 'InvalidParameter', message: 'Invalid parameter: Message too long' });
    const messageId = randomUUID();
    const subject = form.get('Subject') ?? undefined;
    const record: PublishedMessage = { topicArn, message, attributes, messageId, typedAttributes, ...(subject !== undefined ? { subject } : {}), timestamp: new Date().toISOString() };
    published.push(record);
    if (deliver) {
      try {
        await deliver(record);
      } catch (e) {
        deliveryErrors.push({ messageId, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
      }
    }
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(
      `<PublishResponse xmlns="${NS}"><PublishResult><MessageId>${messageId}</MessageId></PublishResult>` +
        `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`,
    );
  }

  function error(res: ServerResponse, f: SnsFault): void {
    res.writeHead(f.status, { 'content-type': 'text/xml' });
    res.end(
      `<ErrorResponse xmlns="${NS}"><Error><Type>${f.type ?? (f.status >= 500 ? 'Receiver' : 'Sender')}</Type><Code>${f.code}</Code>` +
        `<Message>${escapeXml(f.message ?? f.code)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
    );
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    published,
    actions,
    failNext(fault, times = 1) {
      for (let i = 0; i < times; i++) faults.push(fault);
    },
    onPublish(d) {
      deliver = d;
    },
    deliveryErrors,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
