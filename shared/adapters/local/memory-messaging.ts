/**
 * In-process JobQueue, Publisher, EventBus and ObjectStore for the CLI, the local pipeline
 * (shared/pipeline/local.ts) and tests, plus an ObjectStore in a directory for the CLI's local
 * mode. They behave like the AWS adapters where it matters to callers:
 *
 * - What is sent is what a consumer would parse: bodies go through JSON (a string is kept as the
 *   serialised message it is), so a Date arrives as a string and a later change to the sent
 *   object changes nothing, as with SQS or SNS.
 * - A queue message over 256 KiB is refused with LIMIT_EXCEEDED, as the SQS adapter refuses it,
 *   so a local run finds an oversized job before AWS does.
 * - Objects are copied in and out; a missing key reads as undefined.
 *
 * Nothing here is shared between processes, and the queue delivers nothing by itself: the
 * local pipeline drains it in a loop (receive counts and redelivery live there).
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DrydockError } from '../../errors.js';
import type { BusEvent, EventBus, JobQueue, ObjectStore, Publisher, SendOptions } from '../../ports/stores.js';

/** The SQS message limit the SQS adapter applies by default. */
const QUEUE_MESSAGE_LIMIT = 256 * 1024;

/** A JSON copy of what was sent (strings stay strings: already-serialised messages). */
function asSent(body: unknown, what: string): unknown {
  if (typeof body === 'string') return body;
  const text = JSON.stringify(body);
  if (typeof text !== 'string') throw new DrydockError('PARSE_ERROR', `a ${typeof body} cannot be sent as a JSON ${what}`, { kind: 'permanent' });
  return JSON.parse(text) as unknown;
}

function messageBytes(body: unknown, attributes: Record<string, string> | undefined): number {
  let bytes = Buffer.byteLength(typeof body === 'string' ? body : JSON.stringify(body));
  for (const [k, v] of Object.entries(attributes ?? {})) bytes += Buffer.byteLength(k) + 'String'.length + Buffer.byteLength(v);
  return bytes;
}

// ---------------------------------------------------------------- queue

export class MemoryQueue implements JobQueue {
  /** every message sent, with its options, in order (never cleared: what the queue carried) */
  readonly log: Array<{ body: unknown; opts: SendOptions | undefined }> = [];
  private pending: unknown[] = [];

  constructor(readonly maxMessageBytes = QUEUE_MESSAGE_LIMIT) {}

  /** The bodies of every message sent so far. */
  get sent(): unknown[] {
    return this.log.map((m) => m.body);
  }

  async send(body: unknown, opts?: SendOptions): Promise<void> {
    this.accept([body], opts);
  }

  async sendBatch(bodies: readonly unknown[], opts?: SendOptions): Promise<void> {
    this.accept(bodies, opts);
  }

  /** The messages sent since the last drain, oldest first; they leave the queue. */
  drain(): unknown[] {
    const out = this.pending;
    this.pending = [];
    return out;
  }

  private accept(bodies: readonly unknown[], opts: SendOptions | undefined): void {
    // All checked first: like the SQS adapter, a refusal sends none of the batch.
    const copies = bodies.map((b, i) => {
      const copy = asSent(b, 'message');
      const bytes = messageBytes(copy, opts?.attributes);
      if (bytes > this.maxMessageBytes) throw new DrydockError('LIMIT_EXCEEDED', `message ${i} is ${bytes} bytes with its attributes; the queue limit is ${this.maxMessageBytes}`);
      return copy;
    });
    for (const body of copies) {
      this.log.push({ body, opts: opts ? { ...opts, ...(opts.attributes ? { attributes: { ...opts.attributes } } : {}) } : undefined });
      this.pending.push(body);
    }
  }
}

// ---------------------------------------------------------------- publisher

export class MemoryPublisher implements Publisher {
  readonly messages: Array<{ message: unknown; attributes: Record<string, string>; messageId: string }> = [];

  async publish(message: unknown, attributes: Record<string, string>): Promise<{ messageId: string }> {
    const messageId = `local-${this.messages.length + 1}`;
    this.messages.push({ message: asSent(message, 'message'), attributes: { ...attributes }, messageId });
    return { messageId };
  }
}

// ---------------------------------------------------------------- event bus

export class MemoryBus implements EventBus {
  readonly events: BusEvent[] = [];

  async put(events: readonly BusEvent[]): Promise<{ failed: number }> {
    for (const e of events) this.events.push({ source: e.source, detailType: e.detailType, detail: asSent(e.detail ?? {}, 'event detail') });
    return { failed: 0 };
  }
}

// ---------------------------------------------------------------- objects

type PutOpts = { contentType?: string; contentEncoding?: string };

async function bodyBytes(body: Buffer | string | Readable): Promise<Buffer> {
  if (typeof body === 'string') return Buffer.from(body);
  if (Buffer.isBuffer(body)) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

export class MemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, { bytes: Buffer } & PutOpts>();

  async put(key: string, body: Buffer | string | Readable, opts: PutOpts = {}): Promise<void> {
    this.objects.set(key, { bytes: await bodyBytes(body), ...opts });
  }

  async get(key: string): Promise<Buffer | undefined> {
    const o = this.objects.get(key);
    return o ? Buffer.from(o.bytes) : undefined;
  }

  async open(key: string): Promise<Readable | undefined> {
    const o = this.objects.get(key);
    return o ? Readable.from([Buffer.from(o.bytes)]) : undefined;
  }

  async exists(key: string): Promise<boolean> {
    return this.objects.has(key);
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }

  /** The keys held, sorted (for tests and the CLI). */
  keys(): string[] {
    return [...this.objects.keys()].sort();
  }
}

/**
 * Objects as files under a directory (the key's "/"-separated parts become directories), for
 * the CLI's local mode. Writes go to a temporary file beside the target and are renamed into
 * place, so a reader (or a crash) never sees half an object. Content type and encoding are not
 * kept: nothing here reads them back.
 *
 * A key may not escape the directory (no empty, "." or ".." parts, no backslashes). Unlike S3,
 * "a" and "a/b" cannot both exist; the store's own key layout never needs both.
 */
export class DirObjectStore implements ObjectStore {
  constructor(readonly dir: string) {}

  private file(key: string): string {
    const parts = key.split('/');
    if (!key || parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\\') || p.includes('\0')) || key.endsWith('.tmp')) {
      throw new DrydockError('CONFIG', `object key not usable as a path under ${this.dir}: ${JSON.stringify(key)}`);
    }
    return join(this.dir, ...parts);
  }

  async put(key: string, body: Buffer | string | Readable, _opts?: PutOpts): Promise<void> {
    const file = this.file(key);
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await mkdir(dirname(file), { recursive: true });
      if (typeof body === 'string' || Buffer.isBuffer(body)) await writeFile(tmp, body);
      else await pipeline(body, createWriteStream(tmp));
      await rename(tmp, file);
    } catch (e) {
      await rm(tmp, { force: true });
      throw new DrydockError('CACHE_ERROR', `cannot write ${key} under ${this.dir}: ${(e as Error).message}`, { cause: e, context: { path: file } });
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    const stream = await this.open(key);
    return stream ? bodyBytes(stream) : undefined;
  }

  async open(key: string): Promise<Readable | undefined> {
    const file = this.file(key);
    // Opened first, so a missing file is an undefined here rather than an error on the stream.
    let handle: FileHandle | undefined;
    try {
      handle = await open(file, 'r');
      if (!(await handle.stat()).isFile()) {
        await handle.close();
        return undefined;
      }
    } catch (e) {
      await handle?.close().catch(() => {});
      if (isMissing(e)) return undefined;
      throw new DrydockError('CACHE_ERROR', `cannot read ${key} under ${this.dir}: ${(e as Error).message}`, { cause: e, context: { path: file } });
    }
    return handle.createReadStream();
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.file(key))).isFile();
    } catch (e) {
      if (isMissing(e)) return false;
      throw new DrydockError('CACHE_ERROR', `cannot stat ${key} under ${this.dir}: ${(e as Error).message}`, { cause: e });
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.file(key);
    try {
      // a directory at the key is not an object: nothing to delete, as S3 would say
      if (!(await stat(file)).isFile()) return;
      await rm(file, { force: true });
    } catch (e) {
      if (isMissing(e)) return;
      throw new DrydockError('CACHE_ERROR', `cannot delete ${key} under ${this.dir}: ${(e as Error).message}`, { cause: e });
    }
  }
}

/** No such file, a path through a file (ENOTDIR), or a directory where the object would be. */
function isMissing(e: unknown): boolean {
  const code = (e as { code?: string })?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}
