/**
 * npm run bench (second part) — matching speed and memory, measured in one run:
 *   fixtures   load every advisory under ../shared/fixtures/advisories, match an inventory of
 *              2,000 packages (Debian 12 debs, npm, PyPI; real vulnerable versions among them)
 *   ALAS       an AL2023 updateinfo.xml.gz of BENCH_ALAS_MB (40) MB uncompressed, made of the real
 *              AL2023 <update> elements replicated with distinct ids (package names cycled over the
 *              real AL2023 rpmdb's), loaded streamed; the real AL2023 rpmdb (102 packages) matched
 *   ELSA       an elsa-all.xml.bz2 of BENCH_ELSA_MB (150) MB uncompressed, made of the real ELSA
 *              definitions replicated the same way (bzip2 by the bzip2 tool, gzip without it),
 *              loaded streamed twice: with the keys of an OL7 inventory of 600 rpms (LoadOptions.keep:
 *              other releases and packages skipped unparsed) and with every key; that
 *              inventory matched against both. BENCH_ONLY=elsa runs these rows alone,
 *              BENCH_ELSA_FILE=<path> keeps the generated document for later runs. Heap is sampled every
 *              20 ms during each load: its peak, beside the process's peak RSS, shows the memory
 *              bound (one element at a time), whatever the file's size.
 *   synthetic  200,000 generated advisories over 20,000 package names (Debian:12, npm, PyPI,
 *              realistic ranges), loaded into the embedded store, then the same 2,000 packages
 * Baseline, in the same run: the store lookups alone (no version comparison), so the ratio
 * says what version order and merging cost on top of reaching the advisories at all.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gunzipSync } from 'node:zlib';
import { rpmCataloger } from '../shared/catalog/rpm/index.js';
import { loadSqliteEngine } from '../shared/catalog/rpm/sqlite.js';
import type { Distro, FileView, ViewFile } from '../shared/catalog/types.js';
import { MemoryAdvisoryStore } from '../shared/adapters/local/memory-advisory-store.js';
import { loadAdvisories, type LoadOptions } from '../shared/advisories/load.js';
import type { Package } from '../shared/catalog/types.js';
import { lookupsFor, matchInventory } from '../shared/match/index.js';
import { SHARED_FIXTURES } from '../test/support/fixtures.js';
import { bookworm, inventory, synthetic } from './synthetic.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** BENCH_ONLY=elsa runs only the ELSA rows (elsa-filtered: only the filtered load, as drydock scan loads) */
const ONLY = process.env.BENCH_ONLY;
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

/** Writes `parts` to `path` compressed (gzip in-process, bzip2 through the bzip2 tool), never holding the whole document. */
async function writeCompressed(path: string, parts: Iterable<string>, kind: 'gzip' | 'bzip2'): Promise<void> {
  if (kind === 'gzip') {
    await pipeline(Readable.from(parts), createGzip({ level: 6 }), createWriteStream(path));
    return;
  }
  const child = spawn('bzip2', ['-c', '-9'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  await Promise.all([pipeline(Readable.from(parts), child.stdin), pipeline(child.stdout, createWriteStream(path))]);
  const code = await exited;
  if (code !== 0) throw new Error(`bzip2 exited ${code}`);
}

function hasBzip2(): Promise<boolean> {
  return new Promise((resolve) => {
    const c = spawn('bzip2', ['--help'], { stdio: 'ignore' });
    c.on('error', () => resolve(false));
    c.on('close', (code) => resolve(code === 0));
  });
}

/** Loads `path` into `store` with the heap sampled every 20 ms; time, peak heap above the start, RSS. */
async function loadMeasured(label: string, path: string, store: MemoryAdvisoryStore, bytesUncompressed: number, opts: LoadOptions = {}): Promise<void> {
  global.gc?.();
  const start = process.memoryUsage().heapUsed;
  let peak = start;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 20);
  const cpu0 = process.cpuUsage();
  const r = await time(() => loadAdvisories([path], store, opts));
  const cpu = process.cpuUsage(cpu0);
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().heapUsed);
  const src = r.value.sources[0];
  out(
    `${label}: ${src?.kind ?? 'nothing'} ${mib(statSync(path).size)} on disk, ${mib(bytesUncompressed)} uncompressed: ${src?.advisories ?? 0} advisories read, ${src?.kept ?? 0} kept, in ${(r.ms / 1000).toFixed(1)} s (${(bytesUncompressed / 1048576 / (r.ms / 1000)).toFixed(1)} MiB/s; this process's CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s, a decompressor child's not counted); heap peak +${mib(peak - start)} over the start, RSS ${mib(process.memoryUsage().rss)}, peak RSS so far ${mib(process.resourceUsage().maxRSS * 1024)}; ${r.value.issues.length} issues`,
  );
}

/** The real AL2023 rpmdb fixture, cataloged (102 packages). */
async function al2023Inventory(distro: Distro): Promise<Package[]> {
  if (!(await loadSqliteEngine())) throw new Error('no SQLite engine for the rpm cataloger');
  const content = readFileSync(join(SHARED_FIXTURES, 'pkgdb/rpm/sqlite-amazonlinux2023/rpmdb.sqlite'));
  const file = { path: '/var/lib/rpm/rpmdb.sqlite', content, mode: 0o644, layer: 'sha256:l' } as ViewFile;
  const view: FileView = { get: (p) => (p === file.path ? file : undefined), glob: () => [] };
  return rpmCataloger.catalog(view, { distro }).packages;
}

async function distroFeeds(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'drydock-match-bench-'));
  try {
    if (ONLY !== 'elsa') await alasFeed(dir);
    await elsaFeed(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function alasFeed(dir: string): Promise<void> {
  {
    // ---- ALAS: the real AL2023 <update> elements (core, livepatch, nvidia), replicated
    const al2023: Distro = { id: 'amzn', versionId: '2023', prettyName: 'Amazon Linux 2023.6.20241010', source: '/etc/os-release' };
    const alInventory = await al2023Inventory(al2023);
    const alNames = [...new Set(alInventory.map((p) => p.name))];
    const ui = join(SHARED_FIXTURES, 'advisories/amazon/updateinfo');
    const updates = ['al2023-core.ALAS2023-2023-001.vuln-list-update.xml.gz', 'al2023-kernel-livepatch.ALAS2023LIVEPATCH-2023-001.vuls-data-update.xml.gz', 'al2023-nvidia.ALAS2023NVIDIA-2025-001.vuls-data-update.xml.gz'].flatMap((f) =>
      [...gunzipSync(readFileSync(join(ui, f))).toString('utf8').matchAll(/<update\b[\s\S]*?<\/update>/g)].map((m) => m[0]),
    );
    const alasTarget = Number(process.env.BENCH_ALAS_MB ?? 40) * 1048576;
    let alasBytes = 0;
    const alasParts = function* (): Generator<string> {
      const head = '<?xml version="1.0" ?>\n<updates>';
      alasBytes = head.length;
      yield head;
      for (let i = 0; alasBytes < alasTarget; i++) {
        const u = updates[i % updates.length]!;
        // a distinct id per copy; the core update's rsyslog* packages renamed after a real AL2023 package (a real name every 4th copy)
        let el = u.replace(/<id>(ALAS2023[A-Z]*)-\d{4}-\d+<\/id>/, (_, p: string) => `<id>${p}-2099-${i}</id>`);
        if (i % updates.length === 0) el = el.replace(/name="rsyslog/g, `name="${i % 4 === 0 ? alNames[(i / 3) % alNames.length] : `bench-${i % 5000}`}`);
        alasBytes += Buffer.byteLength(el);
        yield el;
      }
      yield '</updates>\n';
      alasBytes += 11;
    };
    const alasPath = join(dir, 'updateinfo.xml.gz');
    await writeCompressed(alasPath, alasParts(), 'gzip');
    const alasStore = new MemoryAdvisoryStore();
    await loadMeasured('ALAS (AL2023 updateinfo)', alasPath, alasStore, alasBytes);
    const keys = new Set(alInventory.flatMap((p) => lookupsFor(p, al2023).lookups.map((l) => `${l.key.ecosystem}\u0000${l.key.name}`)));
    const alasFiltered = new MemoryAdvisoryStore((k) => keys.has(`${k.ecosystem}\u0000${k.name}`));
    await loadMeasured('ALAS, filtered to the inventory keys', alasPath, alasFiltered, alasBytes);
    await measureDistro('ALAS match (real AL2023 rpmdb)', alasStore, alInventory, al2023);
  }
}

async function elsaFeed(dir: string): Promise<void> {
  {
    // ---- ELSA: the real definitions (OL5 bind, OL8 ksplice openssl, OL7/OL8/OL10 per-arch), replicated
    const ov = join(SHARED_FIXTURES, 'advisories/oracle/oval');
    const defs = ['ELSA-2007-0057.ol5.complete-definition.vuln-list-update.xml', 'ELSA-2021-9151.ol8.ksplice.vunnel.xml', 'elsa-all.ol7-ol8-ol10.per-arch-subset.vunnel.xml'].flatMap((f) =>
      [...readFileSync(join(ov, f), 'utf8').matchAll(/<definition\b[\s\S]*?<\/definition>/g)].map((m) => m[0]),
    );
    const olNames = Array.from({ length: 300 }, (_, i) => `olpkg${i}`);
    const elsaTarget = Number(process.env.BENCH_ELSA_MB ?? 150) * 1048576;
    let elsaBytes = 0;
    const elsaParts = function* (): Generator<string> {
      const head = '<?xml version="1.0" encoding="UTF-8"?>\n<oval_definitions xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5"><definitions>\n';
      elsaBytes = head.length;
      yield head;
      for (let i = 0; elsaBytes < elsaTarget; i++) {
        const base = olNames[i % olNames.length]!;
        // a distinct id per copy; package names (bind*, openssl*, rsyslog*, osbuild*, firefox) renamed after one of 300 names
        const el = defs[i % defs.length]!
          .replace(/ELSA-\d{4}-\d+/g, `ELSA-2099-${String(i).padStart(5, '0')}`)
          .replace(/comment="(bind|openssl|rsyslog|osbuild|python3-osbuild|firefox|caching-nameserver)/g, `comment="${base}`);
        elsaBytes += Buffer.byteLength(el) + 1;
        yield `${el}\n`;
      }
      const tail = '</definitions>\n<tests></tests><objects></objects><states></states>\n</oval_definitions>\n';
      elsaBytes += tail.length;
      yield tail;
    };
    const bz = await hasBzip2();
    // BENCH_ELSA_FILE: generate the document there once and reuse it on later runs (generating it takes longer than loading it)
    const elsaPath = process.env.BENCH_ELSA_FILE ?? join(dir, bz ? 'com.oracle.elsa-all.xml.bz2' : 'com.oracle.elsa-all.xml.gz');
    if (process.env.BENCH_ELSA_FILE && existsSync(elsaPath)) for (const part of elsaParts()) void part; // only counts elsaBytes
    else await writeCompressed(elsaPath, elsaParts(), bz ? 'bzip2' : 'gzip');
    const ol: Distro = { id: 'ol', versionId: '7.9', prettyName: 'Oracle Linux Server 7.9', source: '/etc/os-release' };
    const olInventory: Package[] = olNames.flatMap((n, i) => [
      { type: 'rpm', name: n, version: '8.24.0-50.el7', release: '50.el7', arch: i % 2 ? 'x86_64' : 'aarch64', purl: `pkg:rpm/oracle/${n}@8.24.0-50.el7`, layer: 'sha256:l', locations: [] },
      { type: 'rpm', name: `${n}-doc`, version: '8.24.0-57.0.1.el7_9.3', release: '57.0.1.el7_9.3', arch: 'noarch', purl: `pkg:rpm/oracle/${n}-doc@8.24.0-57.0.1.el7_9.3`, layer: 'sha256:l', locations: [] },
    ]);
    const label = `ELSA (elsa-all OVAL, ${bz ? 'bzip2' : 'gzip: no bzip2 tool here'})`;
    // as a scan loads: the store and LoadOptions.keep take only the image's keys (Oracle Linux:7 and its package names)
    const keys = new Set(olInventory.flatMap((p) => lookupsFor(p, ol).lookups.map((l) => `${l.key.ecosystem}\u0000${l.key.name}`)));
    const keep = (k: { ecosystem: string; name: string }) => keys.has(`${k.ecosystem}\u0000${k.name}`);
    const elsaFiltered = new MemoryAdvisoryStore(keep);
    await loadMeasured(`${label}, filtered to the OL7 inventory keys`, elsaPath, elsaFiltered, elsaBytes, { keep });
    if (ONLY !== 'elsa-filtered') {
      const elsaStore = new MemoryAdvisoryStore();
      await loadMeasured(`${label}, every key`, elsaPath, elsaStore, elsaBytes);
      await measureDistro('ELSA match (600 OL7 rpms)', elsaStore, olInventory, ol);
    }
    await measureDistro('ELSA match, filtered store (600 OL7 rpms)', elsaFiltered, olInventory, ol);
  }
}

async function measureDistro(label: string, store: MemoryAdvisoryStore, packages: Package[], distro: Distro): Promise<void> {
  const full: number[] = [];
  let findings = 0;
  for (let i = 0; i < RUNS; i++) {
    const m = await time(() => matchInventory({ packages, distro }, store));
    full.push(m.ms);
    findings = m.value.findings.length;
  }
  const f = median(full);
  out(`${label}: match ${packages.length} packages ${f.toFixed(1)} ms (${((f / packages.length) * 1000).toFixed(1)} µs/package), ${findings} findings`);
}

async function main(): Promise<void> {
  if (ONLY === 'elsa' || ONLY === 'elsa-filtered') {
    // BENCH_ONLY=elsa: the ELSA rows alone (the ALAS, fixtures and synthetic parts skipped)
    await distroFeeds();
    out(`peak RSS ${mib(process.resourceUsage().maxRSS * 1024)}`);
    return;
  }
  const packages = inventory();
  out(`match bench: ${RUNS} runs, medians; inventory ${packages.length} packages (Debian 12 debs, npm, PyPI)`);

  const rss0 = process.memoryUsage().rss;
  const fixtures = new MemoryAdvisoryStore();
  const loaded = await time(() => loadAdvisories([join(SHARED_FIXTURES, 'advisories')], fixtures));
  const sum = loaded.value.sources.reduce((n, s) => n + s.advisories, 0);
  out(`fixtures: loaded ${sum} advisories from ${loaded.value.sources.length} sources in ${loaded.ms.toFixed(0)} ms (${loaded.value.issues.length} unreadable records), ${fixtures.size.keys} package keys`);
  await measure('fixtures', fixtures, packages);

  // Amazon Linux and Oracle Linux feeds at their real sizes (real elements replicated), streamed.
  await distroFeeds();

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
