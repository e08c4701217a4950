import { createHash } from 'node:crypto';
import { DrydockError, type ErrorContext } from '../errors.js';

const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Throws unless `digest` is a well-formed sha256/sha512 digest (it is used in paths). */
export function assertDigest(digest: string, context?: ErrorContext): void {
  if (!DIGEST.test(digest)) throw new DrydockError('INVALID_MANIFEST', `"${digest}" is not a valid sha256 or sha512 digest`, { context });
}

/** Throws DIGEST_MISMATCH unless `bytes` hash to `digest` (`what` names the content in the message). */
export function verifyDigest(bytes: Buffer, digest: string, context?: ErrorContext, what = 'content'): string {
  assertDigest(digest, context);
  const [alg] = digest.split(':');
  const actual = `${alg}:${createHash(alg!).update(bytes).digest('hex')}`;
  if (actual !== digest) {
    throw new DrydockError('DIGEST_MISMATCH', `${what}: content has digest ${actual}, expected ${digest}`, { context });
  }
  return digest;
}
