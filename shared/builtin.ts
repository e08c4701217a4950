import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

/**
 * A Node built-in loaded when a caller first needs it, not when the importing module loads
 * (start-up, issue 18: a scan served from the layer cache loads no zlib, worker_threads, v8 or vm;
 * test/cli/startup-lazy.test.ts). A built-in resolves the same from any bundle chunk, the sources
 * or a Lambda bundle, and Node caches it: every call after the first is a lookup.
 */
export function builtin<T>(name: `node:${string}`): T {
  return load(name) as T;
}
