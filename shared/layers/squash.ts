import { posix } from 'node:path';
import picomatch from 'picomatch';
import type { ContentProbe, FileView, ViewFile } from '../catalog/types.js';
import type { LayerExtract, LayerIssue } from './extract.js';
import { MAX_SYMLINK_HOPS, resolveInRoot } from './paths.js';

type Node =
  | { type: 'file'; content: Buffer; mode: number; layer: string }
  | { type: 'symlink'; target: string; layer: string }
  | { type: 'hardlink'; target: string; mode: number; layer: string }
  /** present in the image but not read (over the per-file limit, or probed and not recognised): hides lower copies */
  | { type: 'skipped'; layer: string }
  | { type: 'probed'; results: Record<string, Buffer>; mode: number; layer: string };

/**
 * The final view of an image's kept files: layers replayed in order (lowest first), each
 * applying its opaque directories and whiteouts to the layers below before adding its own
 * entries. Every file carries the layer that last wrote it (its diff id when the config
 * gave one: the same for a gzip, zstd or uncompressed copy of the layer).
 */
export class SquashedView implements FileView {
  private readonly nodes = new Map<string, Node>();
  /** every directory that has (or had) a node below it: lets removeUnder skip most scans */
  private readonly parents = new Set<string>();
  /** problems met while resolving paths (symlink loops, dangling hard links) */
  readonly issues: LayerIssue[] = [];

  constructor(layers: readonly LayerExtract[]) {
    for (const layer of layers) this.apply(layer);
  }

  private apply(layer: LayerExtract): void {
    const id = layer.diffId ?? layer.digest;
    for (const dir of layer.opaqueDirs) this.removeUnder(dir);
    for (const path of layer.whiteouts) {
      this.nodes.delete(path);
      this.removeUnder(path);
    }
    for (const e of layer.entries) {
      // A file or link where a directory was hides that directory's content.
      this.removeUnder(e.path);
      if (e.type === 'file') this.set(e.path, { type: 'file', content: e.content, mode: e.mode, layer: id });
      else if (e.type === 'symlink') this.set(e.path, { type: 'symlink', target: e.target, layer: id });
      else if (e.type === 'hardlink') this.set(e.path, { type: 'hardlink', target: e.target, mode: e.mode, layer: id });
      else if (e.type === 'probed') this.set(e.path, { type: 'probed', results: e.results, mode: e.mode, layer: id });
      else this.set(e.path, { type: 'skipped', layer: id });
    }
  }

  private set(path: string, node: Node): void {
    this.nodes.set(path, node);
    for (let dir = posix.dirname(path); !this.parents.has(dir); dir = posix.dirname(dir)) {
      this.parents.add(dir);
      if (dir === '/') break;
    }
  }

  private removeUnder(dir: string): void {
    if (!this.parents.has(dir)) return;
    const prefix = dir === '/' ? '/' : `${dir}/`;
    for (const key of this.nodes.keys()) if (key.startsWith(prefix)) this.nodes.delete(key);
  }

  /** The real path of `path` (symlinks resolved inside the root), or undefined on a loop (recorded). */
  realPath(path: string): string | undefined {
    const r = resolveInRoot(path, (p) => {
      const node = this.nodes.get(p);
      return node?.type === 'symlink' ? node.target : undefined;
    });
    if ('path' in r) return r.path;
    const layer = this.nodes.get(r.loopAt)?.layer ?? '';
    this.issues.push({ code: 'SYMLINK_LOOP', path, layer, message: `symlink loop while resolving ${path} (more than ${MAX_SYMLINK_HOPS} links; at ${r.loopAt} -> ${r.target})` });
    return undefined;
  }

  get(path: string): ViewFile | undefined {
    const real = this.realPath(path);
    if (real === undefined) return undefined;
    const node = this.nodes.get(real);
    if (node?.type === 'file') return { path: real, content: node.content, mode: node.mode, layer: node.layer };
    if (node?.type === 'hardlink') {
      const target = this.nodes.get(node.target);
      if (target?.type === 'file') return { path: real, content: target.content, mode: node.mode, layer: node.layer };
      this.issues.push({ code: 'UNRESOLVED_LINK', path: real, layer: node.layer, message: `hard link ${real} -> ${node.target}: the target was not kept` });
    }
    return undefined;
  }

  glob(pattern: string): ViewFile[] {
    const isMatch = picomatch(pattern, { dot: true });
    const out: ViewFile[] = [];
    for (const [path, node] of this.nodes) {
      if ((node.type !== 'file' && node.type !== 'hardlink') || !isMatch(path)) continue;
      const file = this.get(path);
      if (file) out.push(file);
    }
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  probed(probe: ContentProbe): ViewFile[] {
    const out: ViewFile[] = [];
    for (const [path, node] of this.nodes) {
      const content = node.type === 'probed' ? node.results[probe.name] : undefined;
      if (node.type === 'probed' && content) out.push({ path, content, mode: node.mode, layer: node.layer });
    }
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Paths of the kept files (for tests and debugging). */
  files(): string[] {
    return [...this.nodes].filter(([, n]) => n.type !== 'symlink').map(([p]) => p).sort();
  }

  /** The symlink target at exactly `path` (not resolved), if `path` is a symlink. */
  readlink(path: string): string | undefined {
    const node = this.nodes.get(posix.normalize(path));
    return node?.type === 'symlink' ? node.target : undefined;
  }
}
