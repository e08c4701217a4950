import { describe, expect, it } from 'vitest';
import { TerminalProgress } from '../../shared/cli/progress.js';

describe('TerminalProgress', () => {
  it('draws one status line with layers, bytes of the total and a rate, and clears it at the end', () => {
    let screen = '';
    const out = { write: (s: string) => ((screen += s), true) } as unknown as NodeJS.WriteStream;
    const p = new TerminalProgress(out);
    p.layerStart({ size: 4_000_000, cached: false });
    p.layerStart({ size: 1_000_000, cached: true });
    p.bytes(2_000_000);
    p.layerDone();
    const lines = screen.split('\r\x1b[K').filter(Boolean);
    expect(lines.at(-1)).toMatch(/^layers 1\/2, 1 cached {2}2\.0 MB\/4\.0 MB {2}[\d.]+ MB\/s$/);
    p.finish();
    expect(screen.endsWith('\r\x1b[K')).toBe(true);
  });
});
