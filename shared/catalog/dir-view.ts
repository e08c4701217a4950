/**
 * A FileView over a directory on disk treated as the root of an image filesystem: an
 * unpacked rootfs, a debootstrap tree, or a test fixture. Symlinks are resolved the way a
 * process chrooted into the directory would see them, so no path ever leads outside it.
 */
import { closeSync, constants, lstatSync, openSync, readdirSync, readlinkSync, readSync, realpathSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import picomatch from 'picomatch';
import type { ErrorCode } from '../errors.js';
import { MAX_SYMLINK_HOPS, resolveInRoot } from '../layers/paths.js';
import { probeReads, type ContentProbe, type FileView, type ViewFile } from './types.js';

/** Symlinks followed while resolving one path before it counts as a loop (Linux MAXSYMLINKS). */

export interface DirectoryViewOptions {
  /** value of every ViewFile's `layer`; default "dir:<root>" */
  layer?: string;
  /** files larger than this are returned truncated (`truncated: true`); default 64 MiB */
  maxFileBytes?: number;
}

const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;

/** A path the view could not read; the view answers as if it were absent. */
export interface ViewIssue {
  code: Extract<ErrorCode, 'SYMLINK_LOOP' | 'SOURCE_UNREADABLE'>;
  message: string;
  path: string;
  layer: string;
}

type Resolved = { kind: 'found'; parts: string[]; stats: Stats } | { kind: 'missing' } | { kind: 'loop' };

export class DirectoryView implements FileView {
  /** absolute, symlink-free path of the root directory on disk */
  readonly root: string;
  readonly layer: string;
  /** Problems met while reading (symlink loops, unreadable files or directories), once per path. */
  readonly issues: ViewIssue[] = [];

  private readonly maxFileBytes: number;
  private readonly reported = new Set<string>();

  constructor(root: string, options: DirectoryViewOptions = {}) {
    this.root = realpathSync(root);
    this.layer = options.layer ?? `dir:${this.root}`;
    this.maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  }

  /** The regular file `path` names; its `path` is the real path, after symlinks. */
  get(path: string): ViewFile | undefined {
    const resolved = this.resolve(path);
    if (resolved.kind === 'loop') {
      this.report('SYMLINK_LOOP', path, `more than ${MAX_SYMLINK_HOPS} symlinks while resolving ${path}`);
      return undefined;
    }
    if (resolved.kind === 'missing' || !resolved.stats.isFile()) return undefined;
    return this.read(toViewPath(resolved.parts), resolved.stats);
  }

  /** Regular files whose real path matches `pattern` (picomatch, dot files included), sorted by path. */
  glob(pattern: string): ViewFile[] {
    const isMatch = picomatch(pattern, { dot: true });
    const files: ViewFile[] = [];
    for (const [path, stats] of this.walk(walkBase(pattern))) {
      if (!isMatch(path)) continue;
      const file = this.read(path, stats);
      if (file) files.push(file);
    }
    return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Every regular file the probe selects, streamed through it in 256 KiB reads. */
  probed(probe: ContentProbe): ViewFile[] {
    const out: ViewFile[] = [];
    const chunk = Buffer.alloc(256 * 1024);
    for (const [path, stats] of this.walk('/')) {
      if (!probeReads(probe, path, stats.mode, stats.size)) continue;
      const reader = probe.start(path);
      let fd: number | undefined;
      try {
        fd = openSync(join(this.root, path), constants.O_RDONLY | constants.O_NOFOLLOW);
        for (let pos = 0, n = 0; (n = readSync(fd, chunk, 0, chunk.length, pos)) > 0; pos += n) {
          if (!reader.push(Buffer.from(chunk.subarray(0, n)))) break;
        }
      } catch (e) {
        this.report('SOURCE_UNREADABLE', path, `cannot read ${path}: ${(e as Error).message}`);
        continue;
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
      const content = reader.result();
      if (content) out.push({ path, content, mode: stats.mode & 0o7777, layer: this.layer });
    }
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  realPath(path: string): string | undefined {
    const r = this.resolve(path);
    return r.kind === 'loop' ? undefined : r.kind === 'found' ? toViewPath(r.parts) : resolvedPath(this.root, path);
  }

  /** `path` resolved inside the root (see resolveInRoot), with the lstat of what it names. */
  private resolve(path: string): Resolved {
    const r = resolveInRoot(path, (p) => {
      const onDisk = join(this.root, p);
      return lstatOrUndefined(onDisk)?.isSymbolicLink() ? readlinkSync(onDisk) : undefined;
    });
    if (!('path' in r)) return { kind: 'loop' };
    const parts = splitPath(r.path);
    const stats = lstatOrUndefined(join(this.root, ...parts));
    return stats ? { kind: 'found', parts, stats } : { kind: 'missing' };
  }

  /** Every regular file under `base` (a view path), by real path; symlinks are not followed. */
  private *walk(base: string): Generator<[string, Stats]> {
    const start = this.lstatReal(base);
    if (!start) return;
    if (start.isFile()) {
      yield [base, start];
      return;
    }
    if (!start.isDirectory()) return;
    const dirs = [base];
    while (dirs.length > 0) {
      const dir = dirs.pop() as string;
      let names: string[];
      try {
        names = readdirSync(join(this.root, dir));
      } catch (e) {
        this.report('SOURCE_UNREADABLE', dir, `cannot list directory ${dir}: ${(e as Error).message}`);
        continue;
      }
      for (const name of names) {
        const path = dir === '/' ? `/${name}` : `${dir}/${name}`;
        const stats = lstatOrUndefined(join(this.root, path));
        if (stats?.isDirectory()) dirs.push(path);
        else if (stats?.isFile()) yield [path, stats];
      }
    }
  }

  /**
   * lstat of a view path whose parent components must all be real directories: a symlink
   * on the way means the path is not a real path (and must not be followed on the host).
   */
  private lstatReal(path: string): Stats | undefined {
    const parts = splitPath(path);
    for (let i = 1; i < parts.length; i++) {
      if (!lstatOrUndefined(join(this.root, ...parts.slice(0, i)))?.isDirectory()) return undefined;
    }
    return lstatOrUndefined(join(this.root, ...parts));
  }

  /** Read a regular file (at most maxFileBytes of it); unreadable files are recorded and skipped. */
  private read(path: string, stats: Stats): ViewFile | undefined {
    const size = Math.min(stats.size, this.maxFileBytes);
    let fd: number | undefined;
    try {
      // O_NOFOLLOW: a file swapped for a symlink since it was looked at is not followed out of the root
      fd = openSync(join(this.root, path), constants.O_RDONLY | constants.O_NOFOLLOW);
      const content = Buffer.alloc(size);
      let filled = 0;
      while (filled < size) {
        const n = readSync(fd, content, filled, size - filled, filled);
        if (n === 0) break;
        filled += n;
      }
      const file: ViewFile = { path, content: content.subarray(0, filled), mode: stats.mode & 0o7777, layer: this.layer };
      if (stats.size > this.maxFileBytes) file.truncated = true;
      return file;
    } catch (e) {
      this.report('SOURCE_UNREADABLE', path, `cannot read ${path}: ${(e as Error).message}`);
      return undefined;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  private report(code: ViewIssue['code'], path: string, message: string): void {
    const key = `${code} ${path}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.issues.push({ code, message, path, layer: this.layer });
  }
}

/** The deepest directory that every match of `pattern` lies under ("/" when unsure). */
function walkBase(pattern: string): string {
  const { base, negated } = picomatch.scan(pattern);
  if (negated || !base.startsWith('/') || base.includes('\\') || base.split('/').includes('..')) return '/';
  return toViewPath(splitPath(base));
}

/** The resolved path of something that does not exist (its parents' symlinks still resolved). */
function resolvedPath(root: string, path: string): string | undefined {
  const r = resolveInRoot(path, (p) => {
    const onDisk = join(root, p);
    return lstatOrUndefined(onDisk)?.isSymbolicLink() ? readlinkSync(onDisk) : undefined;
  });
  return 'path' in r ? r.path : undefined;
}

function splitPath(path: string): string[] {
  return path.split('/').filter((part) => part !== '' && part !== '.');
}

function toViewPath(parts: string[]): string {
  return `/${parts.join('/')}`;
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
