/**
 * `drydock version`: the tool's version, Node's, and the age of each synced advisory feed from
 * its sync record alone (no advisory is read: `drydock feeds status` reads them all).
 * `drydock --version` prints the version alone and loads nothing (main.ts).
 */
import { join, relative } from 'node:path';
import { readFeedMeta } from '../../advisories/feeds.js';
import { syncedFeeds } from '../../advisories/load.js';
import { DEFAULT_MAX_ADVISORY_AGE, formatAge, parseAge } from '../../match/coverage.js';
import { TOOL } from '../../version.js';
import { cacheDirOf, failure } from '../common.js';
import { scanNow } from '../gate.js';
import { EXIT, type CliIO } from '../io.js';
import { VERSION_OPTIONS, type Parsed, type Values } from '../options.js';

export async function run(args: Parsed, io: CliIO): Promise<number> {
  const o = args.values as Values<typeof VERSION_OPTIONS>;
  try {
    const now = scanNow(io.env);
    const maxAgeMs = parseAge('--max-advisory-age', o['max-advisory-age'] ?? DEFAULT_MAX_ADVISORY_AGE);
    const dir = join(cacheDirOf(o['cache-dir'], io.env), 'feeds');
    io.stdout.write(`${TOOL.name} ${TOOL.version} (node ${process.versions.node})\n`);
    const paths = await syncedFeeds(dir);
    if (paths.length === 0) {
      io.stdout.write(`advisory data: none synced in ${dir} (drydock feeds sync)\n`);
      return EXIT.ok;
    }
    io.stdout.write(`advisory data (${dir}):\n`);
    const rows: string[][] = [];
    for (const p of paths) {
      const meta = await readFeedMeta(p);
      const name = relative(dir, p).split(/[\\/]/).slice(0, -1).join('/') || relative(dir, p);
      const produced = meta?.lastModified && !Number.isNaN(Date.parse(meta.lastModified)) ? new Date(meta.lastModified).toISOString() : meta?.updatedAt;
      const ref = produced ?? meta?.checkedAt;
      const ageMs = ref ? Math.max(0, now.getTime() - Date.parse(ref)) : undefined;
      rows.push([
        name,
        meta?.checkedAt ? `synced ${meta.checkedAt.slice(0, 16).replace('T', ' ')}` : 'synced ?',
        ageMs === undefined ? 'age unknown' : `${formatAge(ageMs)} old${maxAgeMs > 0 && ageMs > maxAgeMs ? ' STALE' : ''}`,
      ]);
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) io.stdout.write(`  ${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
    return EXIT.ok;
  } catch (e) {
    return failure(e, io);
  }
}
