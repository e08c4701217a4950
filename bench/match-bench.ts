/**
 * npm run bench (second part) — matching speed and memory, measured in one run:
 *   fixtures   load every advisory under ../shared/fixtures/advisories, match an inventory of
 *              2,000 packages (Debian 12 debs, npm, PyPI; real vulnerable versions among them)
 *   synthetic  200,000 generated advisories over 20,000 package names (Debian:12, npm, PyPI,
 *              realistic ranges), loaded into the embedded store, then the same 2,000 packages
 * Baseline, in the same run: the store lookups alone (no version comparison), so the ratio
 * says what version order and merging cost on top of reaching the advisories at all.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MemoryAdvisoryStore } from '../shared/adapters/local/memory-advisory-store.js';
import { loadAdvisories } from '../shared/advisories/load.js';
import type { Package } from '../shared/catalog/types.js';
import { lookupsFor, matchInventory } from '../shared/match/index.js';
import { SHARED_FIXTURES } from '../test/support/fixtures.js';
import { bookworm, inventory, synthetic } from './synthetic.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const out = (s: string) => process.stdout.write(`${s}\n`);
const mib = (n: number) => `${(n / 1048576).toFixed(0)} MiB`;

async function time<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await f();
  return { ms: performance.now() - t, value };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Matching and the lookup-only baseline, `RUNS` times each; medians. */
async function measure(label: string, store: MemoryAdvisoryStore, packages: Package[]): Promise<void> {
  const base: number[] = [];
  const full: number[] = [];
  let findings = 0;
  for (let i = 0; i < RUNS; i++) {
    base.push(
      (
        await time(async () => {
          let n = 0;
          for (const p of packages) for (const l of lookupsFor(p, bookworm).lookups) n += (await store.forPackage(l.key)).length;
          return n;
        })
      ).ms,
    );
    const m = await time(() => matchInventory({ packages, distro: bookworm }, store));
    full.push(m.ms);
    findings = m.value.findings.length;
  }
  const b = median(base);
  const f = median(full);
  out(`${label}: match ${packages.length} packages ${f.toFixed(1)} ms (${((f / packages.length) * 1000).toFixed(1)} µs/package), ${findings} findings; lookups alone ${b.toFixed(1)} ms; ratio ${(f / Math.max(b, 0.001)).toFixed(1)}×`);
}

async function main(): Promise<void> {
  const packages = inventory();
  out(`match bench: ${RUNS} runs, medians; inventory ${packages.length} packages (Debian 12 debs, npm, PyPI)`);

  const rss0 = process.memoryUsage().rss;
  const fixtures = new MemoryAdvisoryStore();
  const loaded = await time(() => loadAdvisories([join(SHARED_FIXTURES, 'advisories')], fixtures));
  const sum = loaded.value.sources.reduce((n, s) => n + s.advisories, 0);
  out(`fixtures: loaded ${sum} advisories from ${loaded.value.sources.length} sources in ${loaded.ms.toFixed(0)} ms (${loaded.value.issues.length} unreadable records), ${fixtures.size.keys} package keys`);
  await measure('fixtures', fixtures, packages);

  global.gc?.();
  const before = process.memoryUsage();
  const big = new MemoryAdvisoryStore();
  const gen = await time(async () => {
    for (const a of synthetic(200_000)) big.add(a);
  });
  const after = process.memoryUsage();
  out(`synthetic: 200000 advisories into the store in ${gen.ms.toFixed(0)} ms, ${big.size.keys} package keys; heap +${mib(after.heapUsed - before.heapUsed)}, RSS ${mib(after.rss)} (start ${mib(rss0)})`);
  await measure('synthetic', big, packages);

  // The CLI keeps only the keys its inventory has: the same 200,000 through that filter.
  const keys = new Set(packages.flatMap((p) => lookupsFor(p, bookworm).lookups.map((l) => `${l.key.ecosystem}\u0000${l.key.name}`)));
  const filtered = new MemoryAdvisoryStore((k) => keys.has(`${k.ecosystem}\u0000${k.name}`));
  const fgen = await time(async () => {
    for (const a of synthetic(200_000)) filtered.add(a);
  });
  out(`synthetic, filtered to the inventory's keys (what drydock scan does): ${filtered.size.advisories} kept in ${fgen.ms.toFixed(0)} ms`);
  await measure('synthetic filtered', filtered, packages);
  out(`peak RSS ${mib(process.resourceUsage().maxRSS * 1024)}`);
}

await main();
