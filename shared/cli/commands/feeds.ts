/** `drydock feeds sync` and `drydock feeds status`. */
import { join } from 'node:path';
import { MemoryAdvisoryStore } from '../../adapters/local/memory-advisory-store.js';
import { debianTrackerFeed, DEFAULT_OSV_ECOSYSTEMS, epssFeed, kevFeed, osvFeed, syncFeed } from '../../advisories/feeds.js';
import { ALAS_STREAMS, alasSourcesAt, DEFAULT_ALAS_STREAMS, resolveAlasStreams, syncAlasStreamToCache, validateAlasStreamNames } from '../../advisories/alas-feed.js';
import { loadAdvisories, syncedFeeds } from '../../advisories/load.js';
import { isDrydockError } from '../../errors.js';
import { usageLine } from '../args.js';
import { cacheDirOf, failure } from '../common.js';
import { DEFAULT_MAX_ADVISORY_AGE, formatAge, freshnessOf, groupByPath, parseAge, scanNow } from '../gate.js';
import { EXIT, type CliIO } from '../io.js';
import { commandNamed, FEEDS_OPTIONS, type Parsed, type Values } from '../options.js';

type FeedsValues = Values<typeof FEEDS_OPTIONS>;

function usageText(why: string): string {
  const cmd = commandNamed('feeds')!;
  return `drydock: ${why}\n${usageLine(cmd)}\n       ${cmd.usage[1]}\n`;
}

export async function run(args: Parsed, io: CliIO): Promise<number> {
  const o = args.values as FeedsValues;
  if (args.positionals.length !== 1 || !['sync', 'status'].includes(args.positionals[0]!)) {
    io.stderr.write(usageText('feeds takes one subcommand: sync or status'));
    return EXIT.usage;
  }
  if (args.positionals[0] === 'status') return feedsStatus(o, io);
  return feedsSync(o, io);
}

/**
 * `drydock feeds status`: every source (the synced feeds, or the --advisories paths) with its
 * kind, the ecosystems it covers, its advisory count, when it was produced and synced, and its
 * age against --max-advisory-age (default 5d). Reads every record (nothing is kept in memory
 * beyond the counts).
 */
async function feedsStatus(o: FeedsValues, io: CliIO): Promise<number> {
  try {
    const now = scanNow(io.env);
    const maxAgeMs = parseAge('--max-advisory-age', o['max-advisory-age'] ?? DEFAULT_MAX_ADVISORY_AGE);
    const paths = o.advisories ?? (await syncedFeeds(join(cacheDirOf(o['cache-dir'], io.env), 'feeds')));
    if (paths.length === 0) {
      io.stdout.write('no advisory sources: run `drydock feeds sync`, or name them with --advisories <path>\n');
      return EXIT.ok;
    }
    const summary = await loadAdvisories(paths, new MemoryAdvisoryStore(() => false));
    const fresh = await freshnessOf(groupByPath(paths, summary.sources), now);
    const day = (iso: string | undefined) => (iso ? iso.slice(0, 16).replace('T', ' ') : '-');
    const rows = fresh.map((f) => [
      f.path,
      f.kind,
      f.ecosystems.length > 4 ? `${f.ecosystems.slice(0, 4).join(' ')} +${f.ecosystems.length - 4}` : f.ecosystems.join(' ') || '-',
      String(f.advisories),
      day(f.producedAt),
      day(f.syncedAt),
      f.ageMs === undefined ? '-' : `${formatAge(f.ageMs)}${maxAgeMs > 0 && f.ageMs > maxAgeMs ? ' STALE' : ''}`,
    ]);
    const all = [['SOURCE', 'KIND', 'ECOSYSTEMS', 'ADVISORIES', 'PRODUCED', 'SYNCED', 'AGE'], ...rows];
    const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
    for (const r of all) io.stdout.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()}\n`);
    return EXIT.ok;
  } catch (e) {
    io.stderr.write(`drydock: ${isDrydockError(e) ? `${e.code}: ${e.message}` : (e as Error).message}\n`);
    return isDrydockError(e) && e.code === 'CONFIG' ? EXIT.usage : EXIT.scanError;
  }
}

async function feedsSync(o: FeedsValues, io: CliIO): Promise<number> {
  if (o.stack) {
    // the deployed stack's feed-sync, run from here: advisories table, feed state in the bucket, events on the bus
    const alasStack = [...new Set([...(o.amazon ? DEFAULT_ALAS_STREAMS : []), ...(o.alas ?? [])])];
    try {
      validateAlasStreamNames(alasStack);
    } catch (e) {
      io.stderr.write(`drydock: ${(e as Error).message}\n`);
      return EXIT.usage;
    }
    const { feedsSyncStack } = await import('../stack.js');
    const alasUrl = o['alas-url'];
    return feedsSyncStack(o.ecosystem ?? DEFAULT_OSV_ECOSYSTEMS, o['osv-url'], io, { streams: alasStack, ...(alasUrl ? { baseUrl: alasUrl } : {}) });
  }
  const dir = join(cacheDirOf(o['cache-dir'], io.env), 'feeds');
  // OSV: --ecosystem, else the defaults when nothing else is named or --debian-tracker is (which adds to them);
  // Amazon Linux: --alas <stream>... and/or --amazon (the default streams), the defaults too when nothing is named.
  const debian = o['debian-tracker'] || o['debian-tracker-url'] !== undefined;
  const nothingNamed = !o.ecosystem && !debian && !o.amazon && !o.alas && !o.kev && !o.epss && !o.oracle;
  const alasNames = [...new Set([...(o.amazon || nothingNamed ? DEFAULT_ALAS_STREAMS : []), ...(o.alas ?? [])])];
  try {
    validateAlasStreamNames(alasNames);
  } catch (e) {
    io.stderr.write(usageText((e as Error).message));
    return EXIT.usage;
  }
  const feeds = (o.ecosystem ?? (nothingNamed || debian ? DEFAULT_OSV_ECOSYSTEMS : [])).map((e) => osvFeed(e, o['osv-url']));
  if (debian) feeds.push(debianTrackerFeed(o['debian-tracker-url']));
  if (o.kev || o['kev-url']) feeds.push(kevFeed(o['kev-url']));
  if (o.epss || o['epss-url']) feeds.push(epssFeed(o['epss-url']));
  const tty = !o.quiet && io.stderr.isTTY;
  let failed = 0;
  let offline = false;
  try {
    for (const feed of feeds) {
      try {
        const r = await syncFeed(feed, {
          dir,
          progress: tty ? (name, bytes, total) => io.stderr.write(`\r${name}: ${(bytes / 1048576).toFixed(1)}${total ? ` of ${(total / 1048576).toFixed(1)}` : ''} MiB`) : undefined,
        });
        if (tty) io.stderr.write('\r\x1b[K');
        io.stdout.write(`${r.feed}: ${r.status} (${r.bytes} bytes) ${r.path}\n`);
      } catch (e) {
        if (tty) io.stderr.write('\r\x1b[K');
        failed++;
        io.stderr.write(`drydock: ${feed.name}: ${isDrydockError(e) ? `${e.code}: ${e.message}` : (e as Error).message}\n`);
        // Offline, every other feed fails the same way: say it once.
        if (isDrydockError(e) && e.code === 'NETWORK' && /cannot reach/.test(e.message)) {
          offline = true;
          break;
        }
      }
    }
    if (alasNames.length > 0 && !offline) failed += await syncAlas(alasNames, dir, o['alas-url'], io);
    if ((o.oracle || o['oracle-url']) && !offline) failed += await syncOracle(dir, o['oracle-url'], io);
  } catch (e) {
    return failure(e, io);
  }
  return failed > 0 ? EXIT.scanError : EXIT.ok;
}

/** `feeds sync` for Amazon Linux streams (shared/advisories/alas-feed.ts): the number that failed. */
async function syncAlas(names: string[], dir: string, baseUrl: string | undefined, io: CliIO): Promise<number> {
  const opts = { streams: baseUrl ? alasSourcesAt(baseUrl) : ALAS_STREAMS };
  const say = (name: string, e: unknown) => io.stderr.write(`drydock: ${name}: ${isDrydockError(e) ? `${e.code}: ${e.message}` : (e as Error).message}\n`);
  const isOffline = (e: unknown) => isDrydockError(e) && e.code === 'NETWORK' && /cannot reach/.test(e.message);
  let streams;
  try {
    streams = await resolveAlasStreams(names, opts);
  } catch (e) {
    say('alas', e);
    return 1;
  }
  let failed = 0;
  for (const stream of streams) {
    try {
      const r = await syncAlasStreamToCache(stream, dir, opts);
      io.stdout.write(r.status === 'none' ? `${r.feed}: no updateinfo published\n` : `${r.feed}: ${r.status} (${r.bytes} bytes) ${r.path}\n`);
    } catch (e) {
      failed++;
      say(`alas/${stream.name}`, e);
      if (isOffline(e)) break;
    }
  }
  return failed;
}

/** `feeds sync --oracle`: the ELSA OVAL (shared/advisories/elsa-feed.ts), loaded only when asked for. */
async function syncOracle(dir: string, url: string | undefined, io: CliIO): Promise<number> {
  const { syncElsaToCache } = await import('../../advisories/elsa-feed.js');
  try {
    const r = await syncElsaToCache(dir, url ? { url } : {});
    io.stdout.write(`${r.feed}: ${r.status} (${r.bytes} bytes, ${r.advisories} advisories) ${r.path}\n`);
    return 0;
  } catch (e) {
    io.stderr.write(`drydock: elsa: ${isDrydockError(e) ? `${e.code}: ${e.message}` : (e as Error).message}\n`);
    return 1;
  }
}
