/**
 * The store contract against the in-memory adapters (used by the CLI and unit tests), plus
 * the one thing only they promise: what a caller gets is a copy.
 */
import { describe, expect, it } from 'vitest';
import { MemoryImageStore, MemoryPackageIndex, MemoryResultStore } from '../../shared/adapters/local/memory-stores.js';
import { claimReq, digestOf, storesContract } from './stores-contract.js';

describe('memory stores', () => {
  storesContract({
    name: 'memory',
    make: async () => ({ images: new MemoryImageStore(), packageIndex: new MemoryPackageIndex(), results: new MemoryResultStore() }),
  });

  it('records handed out are copies: mutating them does not change the store', async () => {
    const images = new MemoryImageStore();
    const { record } = await images.claim(claimReq());
    record.tags.push('mutated');
    record.status = 'failed';
    const again = (await images.get(digestOf(1)))!;
    expect(again.tags).toEqual(['v1']);
    expect(again.status).toBe('analyzing');
  });
});
