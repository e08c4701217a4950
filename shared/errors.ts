/**
 * One error type for the whole core, with a kind that says what the caller may do
 * (DESIGN.md §4): retry it, record it and stop, record it and go on, or give up on
 * configuration. Every error names the image (and the layer / path when it has one)
 * so that a message read alone in a log or on the image record is enough.
 */
export type ErrorKind =
  /** throttling, 5xx, resets, timeouts: the same call may succeed later */
  | 'retryable'
  /** bad input or a refusal that will not change on retry: record it, do not retry */
  | 'permanent'
  /** one part could not be read (one corrupt package DB): record it and go on */
  | 'partial'
  /** missing or invalid configuration: nothing will work until a person fixes it */
  | 'fatal';

export type ErrorCode =
  | 'BAD_REFERENCE'
  | 'MANIFEST_NOT_FOUND'
  | 'BLOB_NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'THROTTLED'
  | 'SERVER_ERROR'
  | 'NETWORK'
  | 'INSECURE_REGISTRY'
  | 'SCHEMA1_UNSUPPORTED'
  | 'INVALID_MANIFEST'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PLATFORM_NOT_FOUND'
  | 'DIGEST_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'CORRUPT_LAYER'
  | 'LIMIT_EXCEEDED'
  | 'SYMLINK_LOOP'
  | 'SOURCE_UNREADABLE'
  | 'PARSE_ERROR'
  | 'CACHE_ERROR'
  | 'INVALID_VERSION'
  | 'ABORTED'
  | 'CONFIG';

export interface ErrorContext {
  /** the image reference or digest as the user gave it */
  image?: string;
  /** the layer digest the error happened in */
  layer?: string;
  /** a path inside the image or on disk */
  path?: string;
}

const DEFAULT_KIND: Record<ErrorCode, ErrorKind> = {
  BAD_REFERENCE: 'permanent',
  MANIFEST_NOT_FOUND: 'permanent',
  BLOB_NOT_FOUND: 'permanent',
  UNAUTHORIZED: 'permanent',
  DENIED: 'permanent',
  THROTTLED: 'retryable',
  SERVER_ERROR: 'retryable',
  NETWORK: 'retryable',
  INSECURE_REGISTRY: 'fatal',
  SCHEMA1_UNSUPPORTED: 'permanent',
  INVALID_MANIFEST: 'permanent',
  UNSUPPORTED_MEDIA_TYPE: 'permanent',
  PLATFORM_NOT_FOUND: 'permanent',
  DIGEST_MISMATCH: 'permanent',
  SIZE_MISMATCH: 'permanent',
  CORRUPT_LAYER: 'permanent',
  LIMIT_EXCEEDED: 'permanent',
  SYMLINK_LOOP: 'partial',
  SOURCE_UNREADABLE: 'permanent',
  PARSE_ERROR: 'partial',
  CACHE_ERROR: 'retryable',
  INVALID_VERSION: 'partial',
  ABORTED: 'retryable',
  CONFIG: 'fatal',
};

export class DrydockError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, opts: { context?: ErrorContext; cause?: unknown; kind?: ErrorKind } = {}) {
    super(withContext(message, opts.context), opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DrydockError';
    this.code = code;
    this.kind = opts.kind ?? DEFAULT_KIND[code];
    this.context = { ...opts.context };
  }

  get retryable(): boolean {
    return this.kind === 'retryable';
  }

  /** The same error with more context (fields already set are kept). */
  withContext(ctx: ErrorContext): DrydockError {
    const merged = { ...ctx, ...this.context };
    const e = new DrydockError(this.code, this.bareMessage(), { context: merged, cause: this.cause, kind: this.kind });
    e.stack = this.stack;
    return e;
  }

  /** Plain data for records and JSON output (never the stack). */
  toJSON(): { code: ErrorCode; kind: ErrorKind; message: string } & ErrorContext {
    return { code: this.code, kind: this.kind, message: this.message, ...this.context };
  }

  private bareMessage(): string {
    return this.message.replace(/ \[(image|layer|path) [^\]]*\]/g, '');
  }
}

function withContext(message: string, ctx: ErrorContext | undefined): string {
  if (!ctx) return message;
  const parts: string[] = [];
  if (ctx.image) parts.push(`[image ${ctx.image}]`);
  if (ctx.layer) parts.push(`[layer ${ctx.layer}]`);
  if (ctx.path) parts.push(`[path ${ctx.path}]`);
  return parts.length ? `${message} ${parts.join(' ')}` : message;
}

export function isDrydockError(e: unknown): e is DrydockError {
  return e instanceof DrydockError;
}

/** Wrap anything thrown into a DrydockError, keeping it as the cause. */
export function toDrydockError(e: unknown, fallback: ErrorCode, context?: ErrorContext): DrydockError {
  if (e instanceof DrydockError) return context ? e.withContext(context) : e;
  if (isAbort(e)) return new DrydockError('ABORTED', 'operation aborted', { context, cause: e });
  const msg = e instanceof Error ? e.message : String(e);
  return new DrydockError(fallback, msg, { context, cause: e });
}

export function isAbort(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || (e as { code?: string }).code === 'ABORT_ERR');
}
