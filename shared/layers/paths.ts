import { posix } from 'node:path';
import picomatch from 'picomatch';
import type { PathNeeds } from '../catalog/types.js';

/**
 * Tar entry names ("./var/lib/x", "var/lib/x/", "/var/lib/x") as absolute, normalised
 * image paths ("/var/lib/x"). ".." never climbs above the root.
 */
export function normalizeEntryPath(name: string): string {
  const p = posix.normalize(`/${name}`);
  // posix.normalize keeps leading "/.." segments: clamp them to the root.
  const clamped = p.replace(/^(\/\.\.)+(?=\/|$)/, '');
  const out = clamped === '' ? '/' : clamped;
  return out.length > 1 && out.endsWith('/') ? out.slice(0, -1) : out;
}

/** The kind of a whiteout file (OCI image spec, layer.md), or undefined for an ordinary file. */
export function whiteoutOf(path: string): { opaqueDir: string } | { removed: string } | { ignore: true } | undefined {
  const base = posix.basename(path);
  if (!base.startsWith('.wh.')) return undefined;
  const dir = posix.dirname(path);
  if (base === '.wh..wh..opq') return { opaqueDir: dir };
  // Other ".wh..wh." names are aufs bookkeeping (hard-link stores), not deletions.
  if (base.startsWith('.wh..wh.')) return { ignore: true };
  return { removed: posix.join(dir, base.slice(4)) };
}

/** A fast test for "does a cataloger need this path?" built from the merged needs. */
export function pathMatcher(needs: PathNeeds): (path: string) => boolean {
  const exact = new Set((needs.exact ?? []).map(normalizeEntryPath));
  const basenames = new Set(needs.basenames ?? []);
  const globs = needs.globs ?? [];
  const glob = globs.length ? picomatch(globs, { dot: true }) : undefined;
  return (path) => exact.has(path) || basenames.has(posix.basename(path)) || (glob !== undefined && glob(path));
}

/** Symlink hops allowed while resolving one path (Linux's own limit is 40). */
export const MAX_SYMLINK_HOPS = 40;

/**
 * The real path of `path` inside an image root, resolving symlinks component by component:
 * absolute targets start again at the root and ".." never climbs above it, so no path
 * escapes the root. `readlink(p)` gives the target when `p` (absolute, real) is a symlink.
 * A loop — more than MAX_SYMLINK_HOPS symlinks — yields `{ loopAt }`, the link where it gave up.
 */
export function resolveInRoot(path: string, readlink: (p: string) => string | undefined): { path: string } | { loopAt: string; target: string } {
  const pending = path.split('/').filter(Boolean).reverse();
  const done: string[] = [];
  let hops = 0;
  while (pending.length) {
    const part = pending.pop()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const here = `/${[...done, part].join('/')}`;
    const target = readlink(here);
    if (target === undefined) {
      done.push(part);
      continue;
    }
    if (++hops > MAX_SYMLINK_HOPS) return { loopAt: here, target };
    if (target.startsWith('/')) done.length = 0;
    pending.push(...target.split('/').filter(Boolean).reverse());
  }
  return { path: `/${done.join('/')}` };
}
