/**
 * npm run bench:peers — Drydock next to peer scanners, on the same images, on this machine.
 *
 * Images (bench/peer-images.ts): a Debian bookworm minbase rootfs, and the same with
 * python3-requests and python3-yaml plus a layer holding the shared npm fixture at
 * /app/node_modules. Each scanner reads the image in the form it takes:
 *   Drydock             the OCI layout (`drydock scan oci:…`), and again the docker archive (`docker-archive:…`)
 *   trivy-cdxgen        the root filesystem directory (`trivy rootfs`)
 *   snyk-docker-plugin  the docker archive (`docker-archive:<tar>`)
 * (bench/peer-scanners.ts: how each is installed and invoked.)
 *
 * For each image and scanner: one untimed run (its packages are the ones compared; it also
 * warms the page cache), then BENCH_RUNS (default 3) timed runs: median wall time, highest
 * peak RSS, all as child processes under /usr/bin/time. Packages are compared by
 * (ecosystem, normalised name, version) (bench/peer-packages.ts) and printed: found by both,
 * only by Drydock, only by the peer, with the names of the differences by ecosystem.
 * Prints only; writes nothing into the repository.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { prepareImages, type BenchImage } from './peer-images.js';
import { comparePackages, otherVersions, type Comparison, type FoundPackage } from './peer-packages.js';
import { drydock, drydockArchive, hasGnuTime, measure, snyk, trivy, type Scanner } from './peer-scanners.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** which peers to run, e.g. BENCH_PEERS=trivy (default: all) */
const PEERS = (process.env.BENCH_PEERS ?? 'trivy,snyk').split(',').map((s) => s.trim());
const log = (s: string) => process.stderr.write(`bench:peers: ${s}\n`);

type Outcome = { packages: FoundPackage[]; wallMs: number[]; rssKiB: number[] } | { error: string };

async function scanWith(scanner: Scanner, image: BenchImage, scratch: string, tag: string): Promise<Outcome> {
  try {
    const out = join(scratch, `${tag}.out`);
    const once = async () => {
      const { cmd, args, env, stdoutToOut } = scanner.command(image, out, scratch);
      // every scanner's temporary files (trivy leaves a trivy-<n> directory per run) in this scan's scratch
      return measure(cmd, args, { env: { ...process.env, ...env, TMPDIR: scratch }, stdoutFile: stdoutToOut ? out : undefined, rssFile: join(scratch, `${tag}.rss`) });
    };
    await once();
    const packages = await scanner.parse(out);
    const wallMs: number[] = [];
    const rssKiB: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const m = await once();
      wallMs.push(m.ms);
      if (m.maxRssKiB !== undefined) rssKiB.push(m.maxRssKiB);
    }
    return { packages, wallMs, rssKiB };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

// ───────────────────────────── formatting ─────────────────────────────

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

/** Rows of cells as aligned columns: the first column left-aligned, the others right-aligned. */
function table(rows: string[][], sep = '  '): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(sep).trimEnd());
}

/** Items joined by ", " into lines of about `width` characters; the first line after `first`, the others after as many spaces. */
function wrap(items: string[], first: string, width = 112): string[] {
  const indent = ' '.repeat(first.length);
  const lines: string[] = [];
  let line = '';
  for (const item of items) {
    if (line && indent.length + line.length + 2 + item.length > width) {
      lines.push(`${lines.length ? indent : first}${line},`);
      line = item;
    } else line = line ? `${line}, ${item}` : item;
  }
  if (line) lines.push(`${lines.length ? indent : first}${line}`);
  return lines;
}

/** The packages of `list` by ecosystem, each with its notes and the versions `other` has of the same name. */
function listing(title: string, list: FoundPackage[], other: FoundPackage[], otherLabel: string): string[] {
  if (list.length === 0) return [`${title}: none`];
  const lines = [`${title} (${list.length}):`];
  const byEco = new Map<string, FoundPackage[]>();
  for (const p of list) byEco.set(p.ecosystem, [...(byEco.get(p.ecosystem) ?? []), p]);
  for (const [eco, ps] of byEco) {
    const items = ps.map((p) => {
      const notes = [p.note, ...otherVersions(p, other).map((v) => `${otherLabel} has ${v}`)].filter(Boolean);
      return `${p.name} ${p.version}${notes.length ? ` (${notes.join('; ')})` : ''}`;
    });
    lines.push(...wrap(items, `  ${`${eco} (${ps.length})`.padEnd(12)}  `));
  }
  return lines;
}

async function layoutBytes(layout: string): Promise<number> {
  let n = 0;
  for (const f of await readdir(join(layout, 'blobs', 'sha256'))) n += (await stat(join(layout, 'blobs', 'sha256', f))).size;
  return n;
}

function printImage(image: BenchImage, sizes: { layout: number; archive: number }, scanners: Scanner[], outcomes: Outcome[]): void {
  console.log(`\n━━ ${image.name}: ${image.description}`);
  console.log(`   ${image.layers} layer(s); OCI layout ${mb(sizes.layout)} (gzip), docker archive ${mb(sizes.archive)}; rootfs directory: ${image.rootfsOrigin}`);
  const ok = (o: Outcome): o is Extract<Outcome, { packages: FoundPackage[] }> => !('error' in o);
  const head = ['', ...scanners.map((s) => s.label)];
  const rows = [
    head,
    ['reads', ...scanners.map((s) => s.reads)],
    ['packages (distinct)', ...outcomes.map((o) => (ok(o) ? String(new Set(o.packages.map((p) => `${p.ecosystem} ${p.name} ${p.version}`)).size) : 'failed'))],
    [`wall time, median of ${RUNS}`, ...outcomes.map((o) => (ok(o) && o.wallMs.length ? secs(median(o.wallMs)) : '–'))],
    [`peak RSS, highest of ${RUNS}`, ...outcomes.map((o) => (ok(o) && o.rssKiB.length ? mib(Math.max(...o.rssKiB)) : '–'))],
  ];
  console.log('');
  for (const l of table(rows, '   ')) console.log(`   ${l}`);

  const ours = outcomes[0]!;
  for (let i = 1; i < scanners.length; i++) {
    const peer = scanners[i]!;
    const theirs = outcomes[i]!;
    console.log(`\n   Drydock vs ${peer.label}`);
    if (!ok(ours) || !ok(theirs)) {
      for (const [s, o] of [[scanners[0]!, ours], [peer, theirs]] as const) {
        if (!ok(o)) console.log(`     ${s.label} failed: ${o.error.split('\n').join('\n       ')}`);
      }
      continue;
    }
    const c: Comparison = comparePackages(ours.packages, theirs.packages);
    const ecoRows = [['ecosystem', 'Drydock', 'peer', 'both', 'only Drydock', 'only peer']];
    for (const [eco, n] of [...c.byEcosystem].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      ecoRows.push([eco, String(n.ours), String(n.theirs), String(n.both), String(n.ours - n.both), String(n.theirs - n.both)]);
    }
    ecoRows.push(['all', String(c.ours), String(c.theirs), String(c.both), String(c.onlyOurs.length), String(c.onlyTheirs.length)]);
    for (const l of table(ecoRows, '  ')) console.log(`     ${l}`);
    for (const l of listing('only Drydock', c.onlyOurs, theirs.packages, peer.label.split(' ')[0]!)) console.log(`     ${l}`);
    for (const l of listing(`only ${peer.label}`, c.onlyTheirs, ours.packages, 'Drydock')) console.log(`     ${l}`);
  }
}

// ───────────────────────────── main ─────────────────────────────

const scanners: Scanner[] = [];
const unavailable: string[] = [];
const peers = [['trivy', trivy] as const, ['snyk', snyk] as const].filter(([n]) => PEERS.includes(n)).map(([, s]) => s);
for (const s of [drydock, drydockArchive, ...peers]) {
  try {
    await s.setup(log);
    scanners.push(s);
  } catch (e) {
    if (s === drydock || s === drydockArchive) throw e;
    unavailable.push(`${s.label}: not run — ${e instanceof Error ? e.message : String(e)}`);
    log(unavailable.at(-1)!);
  }
}

const { images, scratch: runDir, cleanup } = await prepareImages(log);
try {
  const results: Array<{ image: BenchImage; sizes: { layout: number; archive: number }; outcomes: Outcome[] }> = [];
  for (const image of images) {
    const outcomes: Outcome[] = [];
    for (const [i, s] of scanners.entries()) {
      log(`${image.name}: ${s.label} (1 + ${RUNS} runs)…`);
      const scratch = await mkdtemp(join(runDir, 'scan-'));
      try {
        outcomes.push(await scanWith(s, image, scratch, `s${i}`));
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    }
    results.push({ image, sizes: { layout: await layoutBytes(image.layout), archive: (await stat(image.dockerArchive)).size }, outcomes });
  }

  console.log(`\nDrydock and peer scanners — same images, each scanner as a child process; ${cpus().length} CPUs, Node ${process.version}`);
  console.log(`Packages compared by (ecosystem, name, version); pypi names PEP 503-normalised, trivy/snyk package kinds mapped to purl types.`);
  if (!hasGnuTime()) console.log('Peak RSS: n/a — /usr/bin/time is not installed (apt-get install time).');
  console.log('');
  for (const s of scanners) {
    console.log(`  ${s.label.padEnd(28)} ${s.invocation}`);
    if (s.note) console.log(`  ${''.padEnd(28)} note: ${s.note}`);
  }
  for (const u of unavailable) console.log(`  ${u.trim().split('\n').join('\n      ')}`);
  for (const r of results) printImage(r.image, r.sizes, scanners, r.outcomes);
  console.log('');
} finally {
  await cleanup();
}
