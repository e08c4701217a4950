import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Order } from '../../shared/versions/index.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

/** −x without −0, which toBe tells apart from 0 */
export const neg = (x: number): number => (x === 0 ? 0 : -x);

/** The rows of a ../shared/fixtures/version-vectors TSV (left, right, expected), header lines dropped. */
export function versionVectors(file: string): Array<[string, string, Order]> {
  return readFileSync(join(SHARED_FIXTURES, 'version-vectors', file), 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('left\t'))
    .map((l) => {
      const [a, b, e] = l.split('\t');
      return [a as string, b as string, Number(e) as Order];
    });
}
