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

/**
 * A fast test for "does a cataloger need this path?" built from the merged needs. The globs are
 * compiled on the first path that gets to them: a warm scan makes the matchers (they are part
 * of its plan) but walks no layer, and compiling the catalogers' globs (picomatch's parser, cold)
 * was several ms of its start (issue 18).
 */
export function pathMatcher(needs: PathNeeds): (path: string) => boolean {
  const exact = new Set((needs.exact ?? []).map(normalizeEntryPath));
  const basenames = new Set(needs.basenames ?? []);
  const globs = [...(needs.globs ?? [])];
  const glob = lazyGlob(() => globs);
  return (path) => exact.has(path) || basenames.has(posix.basename(path)) || glob(path);
}

/** A test of picomatch(globs(), { dot: true }), the globs made and compiled on its first call (false for none). */
function lazyGlob(globs: () => string[]): (path: string) => boolean {
  let compiled: ((path: string) => boolean) | undefined;
  return (path) => {
    if (!compiled) {
      const list = globs();
      compiled = list.length ? picomatch(list, { dot: true }) : () => false;
    }
    return compiled(path);
  };
}

/**
 * Files worth keeping although no need names their path: a needed path reached through a
 * symlinked directory (`/var/lib/dpkg -> ../../opt/db`, or `-> /`) names a file stored
 * elsewhere, and the symlink may come in a later layer than the file. So besides the exact
 * paths, files whose name is a needed exact path's name are kept wherever they are, and for a
 * glob under a fixed directory (`/var/lib/dpkg/status.d/*`) files matching it under any
 * directory of that name (`**\/status.d/*`). The squashed view then resolves the needed path
 * through the symlinks as Linux would and finds them; they count against the kept-bytes
 * limits like any kept file.
 */
export function candidateMatcher(needs: PathNeeds): (path: string) => boolean {
  const names = new Set((needs.exact ?? []).map((p) => posix.basename(normalizeEntryPath(p))).filter((n) => n && n !== '/'));
  // the relaxed globs, made and compiled on the first path that gets to them (see pathMatcher)
  const globs = [...(needs.globs ?? [])];
  const glob = lazyGlob(() => {
    const relaxed: string[] = [];
    for (const g of globs) {
      const { base, glob } = picomatch.scan(g);
      if (!base.startsWith('/') || !glob) continue;
      const last = posix.basename(base);
      if (last) relaxed.push(`**/${last}/${glob}`);
    }
    return relaxed;
  });
  return (path) => names.has(posix.basename(path)) || glob(path);
}

/** Symlink hops allowed while resolving one path (Linux's own limit is 40). */
export const MAX_SYMLINK_HOPS = 40;
/** Path components looked at while resolving one path (hops times target lengths stay bounded). */
export const MAX_RESOLVE_STEPS = 100_000;

/**
 * The real path of `path` inside an image root, resolving symlinks component by component:
 * absolute targets start again at the root and ".." never climbs above it, so no path
 * escapes the root. `readlink(p)` gives the target when `p` (absolute, real) is a symlink.
 * A loop — more than MAX_SYMLINK_HOPS symlinks, or MAX_RESOLVE_STEPS components — yields
 * `{ loopAt }`, the link where it gave up. Each prefix is built once from the one before it.
 */
export function resolveInRoot(path: string, readlink: (p: string) => string | undefined): { path: string } | { loopAt: string; target: string } {
  const pending = path.split('/').filter(Boolean).reverse();
  /** done[i] = the real path of the first i+1 components */
  const done: string[] = [];
  let hops = 0;
  let steps = 0;
  while (pending.length) {
    const part = pending.pop()!;
    if (++steps > MAX_RESOLVE_STEPS) return { loopAt: done[done.length - 1] ?? '/', target: part };
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const here = `${done[done.length - 1] ?? ''}/${part}`;
    const target = readlink(here);
    if (target === undefined) {
      done.push(here);
      continue;
    }
    if (++hops > MAX_SYMLINK_HOPS) return { loopAt: here, target };
    if (target.startsWith('/')) done.length = 0;
    const parts = target.split('/').filter(Boolean);
    for (let k = parts.length - 1; k >= 0; k--) pending.push(parts[k]!);
  }
  return { path: done[done.length - 1] ?? '/' };
}
