/**
 * A young-generation collection on demand, for the threads that stream a layer's bytes.
 *
 * V8 frees dead ArrayBuffers (a blob's chunks, zlib's output) when its JS heap fills or their
 * external memory has grown by some 64 MB; a thread that streams bytes but allocates next to
 * nothing on its JS heap (a layer worker, or the main thread pumping a registry's response to
 * one) so sits on up to that much dead memory, and with two workers a scan ends far above its
 * memory goal (issue 18, bench image: 170 MB peak RSS from an OCI layout and 257 MB from a
 * registry without these collections; see bench/scan-bench.ts). `gc` is taken as
 * jest-leak-detector takes it: the flag is set for one new context and cleared again, so no
 * other code sees a `gc` global. Where that fails, nothing changes but memory.
 */
import { builtin } from '../builtin.js';


/** Bytes streamed between two collections. */
export const GC_EVERY_BYTES = 1024 * 1024;

let taken: (() => void) | null | undefined;

function minorGc(): (() => void) | null {
  try {
    // node:v8 and node:vm are loaded when the first collector is made, by a scan that streams a layer
    const { setFlagsFromString } = builtin<typeof import('node:v8')>('node:v8');
    const { runInNewContext } = builtin<typeof import('node:vm')>('node:vm');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    setFlagsFromString('--no-expose-gc');
    if (typeof gc === 'function') return () => (gc as (o: { type: 'minor' }) => void)({ type: 'minor' });
  } catch {
    // no collector to call
  }
  return null;
}

/** Counts bytes as they stream; every GC_EVERY_BYTES, a young-generation collection in this thread. */
export function youngGcEvery(bytes = GC_EVERY_BYTES): (n: number) => void {
  taken ??= minorGc();
  const collect = taken;
  let since = 0;
  return (n) => {
    if ((since += n) < bytes) return;
    since = 0;
    collect?.();
  };
}
