/**
 * The rpm cataloger on damaged copies of the shared fixtures (made in memory, never
 * written): truncated at many lengths, whole pages overwritten, and hundreds of random
 * byte flips from a fixed seed. Whatever the damage, catalog() returns (no throw, no hang,
 * bounded time), every problem is an issue with the path and layer, truncation never
 * invents packages, and the records the damage did not reach are still read.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { rpmCataloger } from '../../shared/catalog/rpm/index.js';
import type { CatalogResult, FileView, ViewFile } from '../../shared/catalog/types.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { loadSqliteEngine } from '../../shared/catalog/rpm/sqlite.js';
import { prng } from '../support/prng.js';

// The rpm cataloger's prepare() loads the SQLite engine before a scan; tests calling catalog() directly load it here.
beforeAll(async () => {
  expect(await loadSqliteEngine()).toBe(true);
});

const FIXTURES = join(SHARED_FIXTURES, 'pkgdb/rpm');
const LAYER = 'sha256:badbad';

const FIXTURE_FILES: ReadonlyArray<readonly [dir: string, name: string]> = [
  ['bdb-rhel8-libuuid', 'Packages'],
  ['bdb-centos8-single-dive', 'Packages'],
  ['bdb-scalibr-epoch', 'Packages'],
  ['ndb-sle15-bci', 'Packages.db'],
  ['sqlite-amazonlinux2023', 'rpmdb.sqlite'],
  ['sqlite-cbl-mariner-2.0', 'rpmdb.sqlite'],
];

/** A hang shows as the test's own timeout; no test asserts on wall time. */
function catalog(name: string, content: Buffer, truncated = false): { result: CatalogResult } {
  const path = `/var/lib/rpm/${name}`;
  const file: ViewFile = { path, content, mode: 0o644, layer: LAYER, ...(truncated ? { truncated } : {}) };
  const view: FileView = { get: (p) => (p === path ? file : undefined), glob: () => [] };
  return { result: rpmCataloger.catalog(view, {}) };
}

const ids = (r: CatalogResult): string[] => r.packages.map((p) => `${p.name} ${p.version} ${p.arch ?? ''}`);

function expectWellFormed(result: CatalogResult, name: string): void {
  for (const issue of result.issues) {
    expect(issue).toEqual({ cataloger: 'rpm', path: `/var/lib/rpm/${name}`, layer: LAYER, message: expect.any(String) });
  }
  // at most 10 issues one by one, plus the "N more" line
  expect(result.issues.length).toBeLessThanOrEqual(11);
  for (const p of result.packages) expect(p).toMatchObject({ type: 'rpm', name: expect.any(String), version: expect.any(String), purl: expect.stringMatching(/^pkg:rpm\//) });
}

describe.each(FIXTURE_FILES)('rpm cataloger on damaged %s', (dir, name) => {
  const original = readFileSync(join(FIXTURES, dir, name));
  let intact: ReturnType<typeof catalog>['result'];
  beforeAll(() => {
    intact = catalog(name, original).result;
  });

  it('reads the intact fixture without issues', () => {
    expect(intact.issues).toEqual([]);
    expect(intact.packages.length).toBeGreaterThan(0);
  });

  it('truncated anywhere: issues, never a package that is not in the whole file', () => {
    const lengths = [0, 1, 15, 16, 31, 32, 100, 511, 512, 4095, 4096, 4097, 8192, ...[0.1, 0.25, 0.5, 0.75, 0.9, 0.99].map((f) => Math.floor(original.length * f)), original.length - 1];
    const all = new Set(ids(intact));
    for (const length of lengths.filter((l) => l < original.length)) {
      const { result } = catalog(name, Buffer.from(original.subarray(0, length)));
      expectWellFormed(result, name);
      expect(result.issues.length, `truncated to ${length} bytes`).toBeGreaterThan(0);
      for (const id of ids(result)) expect(all.has(id), `${id} after truncation to ${length}`).toBe(true);
    }
  });

  it('a whole page overwritten: issues, no throw, bounded time', () => {
    const pageSize = 4096;
    for (let page = 0; page * pageSize < original.length; page += Math.max(1, Math.floor(original.length / pageSize / 40))) {
      for (const fill of [0x00, 0xff]) {
        const damaged = Buffer.from(original);
        damaged.fill(fill, page * pageSize, (page + 1) * pageSize);
        const { result } = catalog(name, damaged);
        expectWellFormed(result, name);
      }
    }
  });

  it('random byte flips (fixed seed): no throw, bounded time', () => {
    const random = prng(0x5eed + original.length);
    const mutants = original.length > 1_000_000 ? 60 : 300;
    let withIssues = 0;
    for (let i = 0; i < mutants; i++) {
      const damaged = Buffer.from(original);
      const flips = 1 + Math.floor(random() * 16);
      for (let f = 0; f < flips; f++) {
        // half of the flips land in the first 8 KiB, where the metadata and slot/index pages are
        const at = random() < 0.5 ? Math.floor(random() * Math.min(8192, damaged.length)) : Math.floor(random() * damaged.length);
        damaged[at] = (damaged[at] as number) ^ (1 + Math.floor(random() * 255));
      }
      const { result } = catalog(name, damaged);
      expectWellFormed(result, name);
      if (result.issues.length > 0) withIssues++;
    }
    expect(withIssues).toBeGreaterThan(0);
  });
});

describe('damage that must cost only the records it reaches', () => {
  it('Berkeley DB: an overflow page of the wrong type', () => {
    const original = readFileSync(join(FIXTURES, 'bdb-rhel8-libuuid/Packages'));
    const damaged = Buffer.from(original);
    damaged[4 * 4096 + 25] = 0; // page 4: the second page of libuuid's overflow chain
    const { result } = catalog('Packages', damaged);
    expect(result.packages).toEqual([]);
    expect(result.issues.map((i) => i.message)).toEqual([expect.stringMatching(/^record \d+: overflow chain reaches page 4 of type 0$/)]);
  });

  it('Berkeley DB: magic gone', () => {
    const damaged = Buffer.from(readFileSync(join(FIXTURES, 'bdb-rhel8-libuuid/Packages')));
    damaged.fill(0, 12, 16);
    expect(catalog('Packages', damaged).result.issues.map((i) => i.message)).toEqual(['not an rpm database: neither SQLite, NDB nor Berkeley DB']);
  });

  it('NDB: one damaged blob among 36', () => {
    const original = readFileSync(join(FIXTURES, 'ndb-sle15-bci/Packages.db'));
    const damaged = Buffer.from(original);
    // package index 2's blob starts at block 516 (byte 8256); damage a byte inside its header
    const at = 516 * 16 + 16 + 200;
    damaged[at] = (damaged[at] as number) ^ 0x55;
    const { result } = catalog('Packages.db', damaged);
    expect(result.packages).toHaveLength(35);
    expect(result.issues.map((i) => i.message)).toEqual(['package index 2: blob checksum mismatch']);
  });

  it('SQLite: one overwritten page costs the rows stored on it', () => {
    const original = readFileSync(join(FIXTURES, 'sqlite-cbl-mariner-2.0/rpmdb.sqlite'));
    const damaged = Buffer.from(original);
    damaged.fill(0xff, 264 * 4096, 265 * 4096);
    const { result } = catalog('rpmdb.sqlite', damaged);
    expect(result.packages.length).toBe(128);
    expect(result.issues.map((i) => i.message)).toEqual([expect.stringMatching(/^record \d+: database disk image is malformed$/)]);
  });

  it('SQLite: cut by the view, the rows before the cut are still read', () => {
    const original = readFileSync(join(FIXTURES, 'sqlite-cbl-mariner-2.0/rpmdb.sqlite'));
    const { result } = catalog('rpmdb.sqlite', Buffer.from(original.subarray(0, 2_000_000)), true);
    expect(result.packages.length).toBeGreaterThan(50);
    expect(result.packages.length).toBeLessThan(129);
    expect(result.issues[0]?.message).toBe('file truncated after 2000000 bytes: the packages stored after that were not read');
  });
});
