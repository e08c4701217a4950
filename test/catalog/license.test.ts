import spdxCorrect from 'spdx-correct';
import { describe, expect, it, vi } from 'vitest';
import { normalizeLicense, normalizeLicenses } from '../../shared/catalog/license.js';

// A pass-through spy around the real spdx-correct (not a mock: every answer is the real one),
// so the memo test can count how often licence.ts calls it.
vi.mock('spdx-correct', async (importOriginal) => {
  const real = await importOriginal<{ default: (text: string) => string | null }>();
  return { default: vi.fn(real.default) };
});

describe('normalizeLicense', () => {
  it.each([
    ['MIT', 'MIT'],
    ['Apache-2.0', 'Apache-2.0'],
    ['MIT AND BSD-2-Clause', 'MIT AND BSD-2-Clause'],
    ['(MIT OR Apache-2.0)', '(MIT OR Apache-2.0)'],
    ['GPL-2.0-or-later WITH Classpath-exception-2.0', 'GPL-2.0-or-later WITH Classpath-exception-2.0'],
    ['Apache 2.0', 'Apache-2.0'],
    ['GPLv2+', 'GPL-2.0-or-later'],
    ['GPLv2+ and LGPLv2+', 'GPL-2.0-or-later AND LGPL-2.0-or-later'],
    ['mit or apache-2.0', 'MIT OR Apache-2.0'],
    ['BSD', undefined],
    ['UNLICENSED', undefined],
    ['SEE LICENSE IN LICENSE.md', undefined],
    ['Unlicense', 'Unlicense'],
    ['LGPL', undefined],
    ['GPL', undefined],
    ['Apache License, Version 2.0', 'Apache-2.0'],
    ['ASL 2.0', 'Apache-2.0'],
    ['ASL 2.0 and MIT', 'Apache-2.0 AND MIT'],
    ['BSD or GPLv2', undefined],
    ['GPLv2 or ASL 2.0', 'GPL-2.0-only OR Apache-2.0'],
  ])('%j → %j', (text, spdx) => {
    expect(normalizeLicense(text)).toBe(spdx);
  });

  it('keeps what does not normalise as declared, once', () => {
    expect(normalizeLicense('Proprietary, see LICENSE.txt')).toBeUndefined();
    expect(normalizeLicenses(['MIT', 'Expat-like custom terms', 'MIT', ' '])).toEqual(['MIT', 'Expat-like custom terms']);
  });
});

describe('normalizeLicense memo', () => {
  it('corrects the same licence string once, with the same answer every time', () => {
    const spy = vi.mocked(spdxCorrect);
    // a spelling only spdx-correct knows, used nowhere else in this file
    const text = 'Mozilla Public License 2.0';
    spy.mockClear();
    const first = normalizeLicense(text);
    expect(first).toBe('MPL-2.0');
    const calls = spy.mock.calls.filter(([t]) => t === text).length;
    expect(calls).toBe(1);
    for (let i = 0; i < 50; i++) expect(normalizeLicense(`  ${text} `)).toBe(first);
    expect(spy.mock.calls.filter(([t]) => t === text).length).toBe(calls);
  });

  it('stays bounded: after 10,000 other licences the first is corrected again', () => {
    const spy = vi.mocked(spdxCorrect);
    const text = 'The MIT License';
    expect(normalizeLicense(text)).toBe('MIT');
    spy.mockClear();
    for (let i = 0; i < 10_000; i++) normalizeLicense(`custom licence ${i}`);
    expect(normalizeLicense(text)).toBe('MIT');
    expect(spy.mock.calls.filter(([t]) => t === text)).toHaveLength(1);
  });
});
