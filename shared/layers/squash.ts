import picomatch from 'picomatch';
import type { ContentProbe, FileView, ViewFile } from '../catalog/types.js';
import type { LayerExtract, LayerIssue } from './extract.js';
import { MAX_RESOLVE_STEPS, MAX_SYMLINK_HOPS, normalizeEntryPath } from './paths.js';

type Leaf =
  | { type: 'file'; content: Buffer; mode: number; layer: string }
  | { type: 'symlink'; target: string; layer: string }
  | { type: 'hardlink'; target: string; mode: number; layer: string }
  /** present in the image but not read (over the per-file limit, or probed and not recognised): hides lower copies */
  | { type: 'skipped'; layer: string }
  | { type: 'probed'; results: Record<string, Buffer>; mode: number; layer: string };

interface Dir {
  type: 'dir';
  children: Map<string, Node>;
}
type Node = Leaf | Dir;

const newDir = (): Dir => ({ type: 'dir', children: new Map() });

/**
 * The final view of an image's kept files: layers replayed in order (lowest first), each
 * applying its opaque directories and whiteouts to the layers below before adding its own
 * entries. Every file carries the layer that last wrote it (its diff id when the config
 * gave one: the same for a gzip, zstd or uncompressed copy of the layer).
 *
 * The files are a tree indexed by directory, so a whiteout or an opaque directory is one
 * lookup (not a scan of every path), and resolving a path costs one lookup per component
 * (symlinks followed inside the root, as Linux would) whatever its depth.
 */
export class SquashedView implements FileView {
  private readonly root: Dir = newDir();
  /** problems met while resolving paths (symlink loops, dangling hard links) */
  readonly issues: LayerIssue[] = [];
  /** every leaf with its path, listed once (the tree does not change after the constructor) */
  private everyLeaf: [string, Leaf][] | undefined;

  constructor(layers: readonly LayerExtract[]) {
    for (const layer of layers) this.apply(layer);
  }

  private apply(layer: LayerExtract): void {
    const id = layer.diffId ?? layer.digest;
    for (const dir of layer.opaqueDirs) {
      const node = this.lookup(dir);
      if (node?.type === 'dir') node.children.clear();
    }
    for (const path of layer.whiteouts) this.remove(path);
    for (const e of layer.entries) {
      // A file or link where a directory was hides that directory's content.
      const leaf: Leaf =
        e.type === 'file' ? { type: 'file', content: e.content, mode: e.mode, layer: id }
        : e.type === 'symlink' ? { type: 'symlink', target: e.target, layer: id }
        : e.type === 'hardlink' ? { type: 'hardlink', target: e.target, mode: e.mode, layer: id }
        : e.type === 'probed' ? { type: 'probed', results: e.results, mode: e.mode, layer: id }
        : { type: 'skipped', layer: id };
      this.set(e.path, leaf);
    }
  }

  /** The node at exactly `path` (no symlinks followed). */
  private lookup(path: string): Node | undefined {
    let node: Node = this.root;
    for (const part of splitPath(path)) {
      if (node.type !== 'dir') return undefined;
      const next: Node | undefined = node.children.get(part);
      if (!next) return undefined;
      node = next;
    }
    return node;
  }

  private remove(path: string): void {
    const parts = splitPath(path);
    const name = parts.pop();
    if (name === undefined) {
      this.root.children.clear();
      return;
    }
    const parent = this.lookup(`/${parts.join('/')}`);
    if (parent?.type === 'dir') parent.children.delete(name);
  }

  private set(path: string, leaf: Leaf): void {
    const parts = splitPath(path);
    const name = parts.pop();
    if (name === undefined) return;
    let dir = this.root;
    for (const part of parts) {
      let next = dir.children.get(part);
      // Entries below a path make it a directory in this layer (a lower layer's file or link there is replaced).
      if (!next || next.type !== 'dir') {
        next = newDir();
        dir.children.set(part, next);
      }
      dir = next;
    }
    dir.children.set(name, leaf);
  }

  /**
   * `path` resolved inside the root: the real path and the node there (undefined when
   * nothing is kept there; the path still resolves through the symlinks that are known).
   */
  private resolve(path: string, followLast = true): { path: string; node: Node | undefined } | { loopAt: string; target: string; layer: string } {
    let parts = splitPath(path);
    let i = 0;
    const names: string[] = [];
    const nodes: (Node | undefined)[] = [this.root];
    let hops = 0;
    let steps = 0;
    while (i < parts.length) {
      const part = parts[i++]!;
      const here = nodes[nodes.length - 1];
      if (++steps > MAX_RESOLVE_STEPS) return { loopAt: `/${names.join('/')}`, target: part, layer: '' };
      if (part === '..') {
        if (names.length) {
          names.pop();
          nodes.pop();
        }
        continue;
      }
      const child = here?.type === 'dir' ? here.children.get(part) : undefined;
      if (child?.type === 'symlink' && (followLast || i < parts.length)) {
        if (++hops > MAX_SYMLINK_HOPS) return { loopAt: `/${[...names, part].join('/')}`, target: child.target, layer: child.layer };
        if (child.target.startsWith('/')) {
          names.length = 0;
          nodes.length = 1;
        }
        // at most MAX_SYMLINK_HOPS times: the rest of the path after the link's target
        parts = [...splitPath(child.target), ...parts.slice(i)];
        i = 0;
        continue;
      }
      names.push(part);
      nodes.push(child);
    }
    return { path: `/${names.join('/')}`, node: nodes[nodes.length - 1] };
  }

  /** The real path of `path` (symlinks resolved inside the root), or undefined on a loop (recorded). */
  realPath(path: string): string | undefined {
    const r = this.resolve(path);
    if ('path' in r) return r.path;
    this.issues.push({ code: 'SYMLINK_LOOP', path, layer: r.layer, message: `symlink loop while resolving ${truncate(path)} (more than ${MAX_SYMLINK_HOPS} links; at ${truncate(r.loopAt)} -> ${truncate(r.target)})` });
    return undefined;
  }

  get(path: string): ViewFile | undefined {
    const r = this.resolve(path);
    if (!('path' in r)) {
      this.realPath(path);
      return undefined;
    }
    return this.fileOf(r.path, r.node);
  }

  private fileOf(real: string, node: Node | undefined): ViewFile | undefined {
    if (node?.type === 'file') return { path: real, content: node.content, mode: node.mode, layer: node.layer };
    if (node?.type === 'hardlink') {
      const target = this.lookup(node.target);
      if (target?.type === 'file') return { path: real, content: target.content, mode: node.mode, layer: node.layer };
      this.issues.push({ code: 'UNRESOLVED_LINK', path: real, layer: node.layer, message: `hard link ${real} -> ${node.target}: the target was not kept` });
    }
    return undefined;
  }

  /**
   * Regular files whose real path matches `pattern`, sorted by path. A pattern under a fixed
   * directory that is (or runs through) a symlink is matched under the directory it resolves to.
   */
  glob(pattern: string): ViewFile[] {
    const { base, glob } = picomatch.scan(pattern);
    let start: Node | undefined = this.root;
    let startPath = '/';
    let effective = pattern;
    if (base.startsWith('/') && base !== '/') {
      const r = this.resolve(base);
      if (!('path' in r)) return [];
      start = r.node;
      startPath = r.path;
      if (r.path !== normalizeEntryPath(base)) effective = glob ? `${r.path === '/' ? '' : r.path}/${glob}` : r.path;
    }
    const isMatch = picomatch(effective, { dot: true });
    const out: ViewFile[] = [];
    for (const [path, node] of start === this.root ? this.allLeaves() : this.leaves(start, startPath)) {
      if ((node.type !== 'file' && node.type !== 'hardlink') || !isMatch(path)) continue;
      const file = this.fileOf(path, node);
      if (file) out.push(file);
    }
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Every leaf under `start` with its path, iteratively (no recursion on input-controlled depth). */
  private *leaves(start: Node | undefined, startPath: string): Generator<[string, Leaf]> {
    if (!start) return;
    if (start.type !== 'dir') {
      yield [startPath, start];
      return;
    }
    const stack: [string, Dir][] = [[startPath === '/' ? '' : startPath, start]];
    while (stack.length) {
      const [prefix, dir] = stack.pop()!;
      for (const [name, node] of dir.children) {
        const path = `${prefix}/${name}`;
        if (node.type === 'dir') stack.push([path, node]);
        else yield [path, node];
      }
    }
  }

  /** Every leaf of the tree with its path (listed on the first call, then reused: globs over the whole tree and probes ask for it again and again). */
  private allLeaves(): [string, Leaf][] {
    return (this.everyLeaf ??= [...this.leaves(this.root, '/')]);
  }

  probed(probe: ContentProbe): ViewFile[] {
    const out: ViewFile[] = [];
    for (const [path, node] of this.allLeaves()) {
      const content = node.type === 'probed' ? node.results[probe.name] : undefined;
      if (node.type === 'probed' && content) out.push({ path, content, mode: node.mode, layer: node.layer });
    }
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Paths of the kept files (for tests and debugging). */
  files(): string[] {
    return [...this.leaves(this.root, '/')].filter(([, n]) => n.type !== 'symlink').map(([p]) => p).sort();
  }

  /** The symlink target at exactly `path` (not resolved), if `path` is a symlink. */
  readlink(path: string): string | undefined {
    const node = this.lookup(normalizeEntryPath(path));
    return node?.type === 'symlink' ? node.target : undefined;
  }
}

function splitPath(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}

function truncate(s: string): string {
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}
