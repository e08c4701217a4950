import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TarError, TarReader, type TarEntry } from '../../shared/layers/tar-reader.js';
import { gnuLong, paxHeader, sparseEntry, tarEnd, tarFile, tarHeader } from '../support/hostile-layers.js';

const LIMITS = { maxHeaderBytes: 1024 * 1024, maxPathBytes: 64 * 1024, maxLinkBytes: 64 * 1024 };

/** Reads `tar` fed in pieces of `step` bytes: each entry with its content. */
function read(tar: Buffer, step = tar.length): { entries: Array<TarEntry & { content: string }>; ended: boolean } {
  const entries: Array<TarEntry & { content: string }> = [];
  const reader = new TarReader(LIMITS, (e) => {
    const chunks: Buffer[] = [];
    return { data: (c) => chunks.push(Buffer.from(c)), end: () => entries.push({ ...e, content: Buffer.concat(chunks).toString('latin1') }) };
  });
  for (let i = 0; i < tar.length && !reader.ended; i += step) reader.push(tar.subarray(i, i + step));
  reader.finish();
  return { entries, ended: reader.ended };
}

describe('TarReader', () => {
  const sample = Buffer.concat([
    tarFile('a.txt', 'hello'),
    paxHeader([['path', 'long/'.repeat(50) + 'b.txt'], ['linkpath', 'x'.repeat(300)]]),
    tarHeader({ name: 'ignored', type: '2' }),
    gnuLong('L', 'gnu/'.repeat(40) + 'c.txt'),
    tarFile('short', 'world'),
    sparseEntry('pax-1.0', 'd.bin', [[2, Buffer.from('xy')], [600, Buffer.from('z')]], 700),
    tarEnd(),
    Buffer.from('garbage after the end marker is never looked at'),
  ]);

  it('reads the same whatever the chunking (1 byte, 7 bytes, whole)', () => {
    const whole = read(sample);
    expect(whole.ended).toBe(true);
    expect(whole.entries.map((e) => [e.type, e.name.length, e.content.length])).toEqual([
      ['file', 5, 5],
      ['symlink', 255, 0],
      ['file', 165, 5],
      ['file', 5, 700],
    ]);
    expect(whole.entries[1]!.linkname).toBe('x'.repeat(300));
    const sparse = whole.entries[3]!.content;
    expect(sparse.slice(0, 4)).toBe('\0\0xy');
    expect(sparse[600]).toBe('z');
    expect(read(sample, 1)).toEqual(whole);
    expect(read(sample, 7)).toEqual(whole);
  });

  it('reads what GNU tar writes: long names, PAX, and --sparse files (old GNU, PAX 0.0, 0.1, 1.0)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'drydock-tar-'));
    try {
      const deep = join(dir, 'src', 'd'.repeat(120), 'e'.repeat(120));
      mkdirSync(deep, { recursive: true });
      writeFileSync(join(deep, 'status'), 'Package: a\n');
      symlinkSync('t'.repeat(150), join(dir, 'src', 'link'));
      execFileSync('truncate', ['-s', '2M', join(dir, 'src', 'sparse')]);
      writeFileSync(join(dir, 'src', 'sparse'), 'head', { flag: 'r+' });
      for (const [format, version] of [['gnu'], ['posix', '0.0'], ['posix', '0.1'], ['posix', '1.0']]) {
        const sparseArgs = version ? ['--sparse', `--sparse-version=${version}`] : ['--sparse'];
        const tar = execFileSync('tar', ['-C', join(dir, 'src'), `--format=${format}`, ...sparseArgs, '-cf', '-', '.']);
        const { entries } = read(tar, 4096);
        const byName = new Map(entries.map((e) => [e.name.replace(/^\.\//, ''), e]));
        expect(byName.get(`${'d'.repeat(120)}/${'e'.repeat(120)}/status`)?.content).toBe('Package: a\n');
        expect(byName.get('link')?.linkname).toBe('t'.repeat(150));
        const sparse = byName.get('sparse')!;
        expect(sparse.size).toBe(2 * 1024 * 1024);
        expect(sparse.content.slice(0, 4)).toBe('head');
        expect(sparse.content.length).toBe(2 * 1024 * 1024);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a tar cut inside a PAX header, a long name or a body is a TarError; one cut at a header boundary is not', () => {
    const pax = paxHeader([['path', 'p'.repeat(600)]]);
    expect(() => read(pax.subarray(0, 512))).toThrow(TarError);
    expect(() => read(gnuLong('L', 'n'.repeat(700)).subarray(0, 600))).toThrow(TarError);
    expect(() => read(tarFile('x', 'y'.repeat(1000)).subarray(0, 700))).toThrow(/truncated/);
    expect(read(tarFile('x', 'y')).entries).toHaveLength(1);
  });
});
