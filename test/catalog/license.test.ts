import { describe, expect, it } from 'vitest';
import { normalizeLicense, normalizeLicenses } from '../../shared/catalog/license.js';

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
