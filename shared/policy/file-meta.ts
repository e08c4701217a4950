/**
 * The file list the `files` gate reads (name_match, suid_or_guid_set): path, mode, size and
 * layer of every regular file of the squashed image, collected by a probe so that no
 * content is kept. The walker feeds probes only the regular files no cataloger keeps by
 * path; fileMetaFrom adds the kept ones from the view.
 *
 * Limits: the walker records neither directories nor devices, and symlinks only as path
 * resolution data, so every FileMeta is a regular file (`type: 'file'`); a hard link is
 * listed only when its target was kept by path. Mode is the tar header's permission bits
 * (setuid / setgid / sticky included) with S_IFREG added. A file kept by path but over the
 * walker's per-file limit is not listed (the walker records it as skipped, without a mode).
 *
 * Cost: every regular file becomes an entry of the layer extract (path, mode, size), so the
 * cached extract of a layer with 100k files grows by a few MB.
 */
import type { ContentProbe, FileView, ProbeReader } from '../catalog/types.js';
import type { FileMeta } from './types.js';

const S_IFREG = 0o100000;

/** Counts the bytes: start() gets only the path, and the walker streams the file past anyway. */
class SizeReader implements ProbeReader {
  private size = 0;

  push(chunk: Buffer): boolean {
    this.size += chunk.length;
    return true;
  }

  result(): Buffer {
    return Buffer.from(String(this.size));
  }
}

export const FILE_META_PROBE_NAME = 'file-meta';

/** A probe that records every regular file (any size, any mode); its result is the size in decimal. */
export function fileMetaProbe(): ContentProbe {
  return {
    name: FILE_META_PROBE_NAME,
    version: 1,
    maxBytes: Number.MAX_SAFE_INTEGER,
    select: () => true,
    start: () => new SizeReader(),
  };
}

/**
 * Every regular file of the view: those the probe recorded and those catalogers kept,
 * sorted by path. `probe` must be the (or an equal) fileMetaProbe() the scan ran.
 */
export function fileMetaFrom(view: FileView, probe: ContentProbe = fileMetaProbe()): FileMeta[] {
  const byPath = new Map<string, FileMeta>();
  for (const f of view.probed?.(probe) ?? []) {
    const size = Number(f.content.toString('latin1'));
    byPath.set(f.path, { path: f.path, mode: f.mode | S_IFREG, size: Number.isFinite(size) ? size : 0, type: 'file', layer: f.layer });
  }
  for (const f of view.glob('**')) {
    if (byPath.has(f.path)) continue;
    byPath.set(f.path, { path: f.path, mode: f.mode | S_IFREG, size: f.content.length, type: 'file', layer: f.layer });
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
