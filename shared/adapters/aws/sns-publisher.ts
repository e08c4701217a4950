/**
 * Publisher on Amazon SNS (the scan-results topic). The message is JSON (a string is sent as
 * it is); every attribute is a String attribute, the type SNS subscription filter policies
 * match on (status, highestSeverity, repository, changed).
 *
 * The 256 KiB limit counts the message and the attributes (name, type and value), as SNS does.
 * It is checked here so that an oversized result fails with a clear, permanent error naming the
 * size, instead of SNS's generic InvalidParameter after a round trip.
 */
import { PublishCommand, type MessageAttributeValue, type SNSClient } from '@aws-sdk/client-sns';
import { DrydockError } from '../../errors.js';
import type { Publisher } from '../../ports/stores.js';
import { awsError } from './errors.js';

/** SNS's payload limit (message plus attributes), in bytes. */
export const SNS_MESSAGE_LIMIT = 256 * 1024;

export class SnsPublisher implements Publisher {
  constructor(
    private readonly client: SNSClient,
    readonly topicArn: string,
    private readonly maxBytes = SNS_MESSAGE_LIMIT,
  ) {}

  async publish(message: unknown, attributes: Record<string, string>): Promise<{ messageId: string }> {
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    if (typeof text !== 'string') throw new DrydockError('PARSE_ERROR', `a ${typeof message} cannot be published as a JSON message`, { kind: 'permanent' });
    let bytes = Buffer.byteLength(text);
    const attrs: Record<string, MessageAttributeValue> = {};
    for (const [k, v] of Object.entries(attributes)) {
      attrs[k] = { DataType: 'String', StringValue: v };
      bytes += Buffer.byteLength(k) + 'String'.length + Buffer.byteLength(v);
    }
    if (bytes > this.maxBytes) {
      throw new DrydockError('LIMIT_EXCEEDED', `message for SNS topic ${this.topicArn} is ${bytes} bytes with its attributes; the limit is ${this.maxBytes}: publish a summary and point to the full report in S3`);
    }
    let res;
    try {
      res = await this.client.send(new PublishCommand({ TopicArn: this.topicArn, Message: text, ...(Object.keys(attrs).length ? { MessageAttributes: attrs } : {}) }));
    } catch (e) {
      throw awsError(e, `SNS Publish to ${this.topicArn}`);
    }
    // SNS always names the message it accepted; an answer without an id is not an acceptance.
    if (!res.MessageId) throw new DrydockError('SERVER_ERROR', `SNS Publish to ${this.topicArn}: no MessageId in the answer`);
    return { messageId: res.MessageId };
  }
}
