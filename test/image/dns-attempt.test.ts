/**
 * Issue 17, item 6: "attempt 1 of 4" was printed for a DNS failure that is not retried.
 * A host under `.invalid` never resolves (RFC 6761), so no network is needed: Node's real
 * fetch fails with ENOTFOUND, which the client does not retry (it is not a dropped
 * connection). Before the fix the message read "cannot reach nonexistent.invalid (…; attempt
 * 1 of 4)" although no second attempt followed; now it says "not retried". A failure that
 * is retried still counts its attempts (pinned with a refused connection on loopback).
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { DrydockError } from '../../shared/errors.js';
import { RegistryClient } from '../../shared/image/registry.js';

async function caught(p: Promise<unknown>): Promise<DrydockError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DrydockError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

/** A fetch that counts its calls and hands each to Node's real fetch. */
function countingFetch(): { calls: () => number; fetch: typeof fetch } {
  let n = 0;
  return { calls: () => n, fetch: (input, init) => (n++, fetch(input, init)) };
}

/** The error code deepest in the cause chain (fetch wraps the resolver's error). */
function rootCode(e: unknown): string | undefined {
  let code: string | undefined;
  for (let err = e, depth = 0; err instanceof Error && depth < 8; err = err.cause, depth++) {
    const c = (err as { code?: unknown }).code;
    if (typeof c === 'string') code = c;
  }
  return code;
}

describe('a registry host that does not resolve', () => {
  it('fails once with ENOTFOUND and says "not retried", never "attempt 1 of 4"', async () => {
    const sleeps: number[] = [];
    const f = countingFetch();
    const client = new RegistryClient('nonexistent.invalid', { fetch: f.fetch, sleep: async (ms) => void sleeps.push(ms) });
    const err = await caught(client.getManifest('library/debian', 'bookworm'));
    expect(rootCode(err)).toBe('ENOTFOUND');
    expect(err.code).toBe('NETWORK');
    expect(err.message).toContain('cannot reach nonexistent.invalid');
    expect(err.message).toContain('not retried');
    expect(err.message).not.toMatch(/attempt \d+ of \d+/);
    // and it really was not retried: one request, no backoff
    expect(f.calls()).toBe(1);
    expect(sleeps).toEqual([]);
  });
});

describe('a failure that is retried', () => {
  it('still names the attempt it ended on (a refused connection on loopback, 2 attempts)', async () => {
    // a port that was just free: nothing listens there, so each connect is refused (ECONNREFUSED)
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const sleeps: number[] = [];
    const f = countingFetch();
    const client = new RegistryClient(`127.0.0.1:${port}`, { fetch: f.fetch, retry: { attempts: 2 }, sleep: async (ms) => void sleeps.push(ms) });
    const err = await caught(client.getManifest('library/debian', 'bookworm'));
    expect(err.code).toBe('NETWORK');
    expect(err.message).toMatch(/ECONNREFUSED.*attempt 2 of 2/);
    expect(f.calls()).toBe(2);
    expect(sleeps).toHaveLength(1);
  });
});
