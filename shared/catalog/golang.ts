/**
 * Go binaries: the module build info the Go linker embeds (`go version -m` prints it).
 * Found by content, not path: a content probe streams every executable past and keeps
 * only the build info block, so a 50 MB binary costs a scan of its bytes and a few KiB
 * of memory. Go ≥ 1.18 writes the strings inline after the "\xff Go buildinf:" header;
 * older binaries keep pointers into the data segment, which a stream cannot follow —
 * they are reported as an issue (those Go releases are long out of support).
 */
import { PackageURL } from 'packageurl-js';
import type { CatalogResult, Cataloger, ContentProbe, FileView, Package, ProbeReader, ViewFile } from './types.js';
import { parseJsonBounded } from './json.js';

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const ELF = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const HEADER = 32;
/** Build info larger than this is not Go's (the module list of a big program is a few tens of KiB). */
const MAX_INFO = 1024 * 1024;
/** modinfo is framed by these 16-byte sentinels (cmd/go/internal/modload). */
const SENTINEL = 16;

interface BuildInfo {
  goVersion?: string;
  modinfo?: string;
  /** set for Go < 1.18 binaries, whose build info a stream cannot read */
  oldFormat?: boolean;
}

class GoBuildInfoReader implements ProbeReader {
  private head = Buffer.alloc(0);
  private tail = Buffer.alloc(0);
  private found: Buffer[] | undefined;
  private foundBytes = 0;
  private info: BuildInfo | undefined;

  push(chunk: Buffer): boolean {
    if (this.found) return this.collect(chunk);
    if (this.head.length < ELF.length) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, ELF.length)]);
      if (this.head.length >= ELF.length && !this.head.subarray(0, ELF.length).equals(ELF)) return false;
    }
    // the magic may straddle two chunks
    const joined = Buffer.concat([this.tail, chunk.subarray(0, MAGIC.length - 1)]);
    let at = joined.indexOf(MAGIC);
    if (at >= 0) return this.collect(Buffer.concat([joined.subarray(at), chunk.subarray(MAGIC.length - 1)]), true);
    at = chunk.indexOf(MAGIC);
    if (at >= 0) return this.collect(chunk.subarray(at), true);
    const keep = MAGIC.length - 1;
    this.tail = Buffer.from(chunk.length >= keep ? chunk.subarray(chunk.length - keep) : Buffer.concat([this.tail, chunk]).subarray(-keep));
    return true;
  }

  private collect(bytes: Buffer, first = false): boolean {
    if (first) this.found = [];
    this.found!.push(Buffer.from(bytes));
    this.foundBytes += bytes.length;
    const all = Buffer.concat(this.found!);
    const parsed = parse(all);
    if (parsed === 'more' && this.foundBytes < MAX_INFO) return true;
    this.info = parsed === 'more' ? undefined : parsed;
    return false;
  }

  result(): Buffer | undefined {
    return this.info ? Buffer.from(JSON.stringify(this.info)) : undefined;
  }
}

/** The build info at the start of `b` (which begins with the magic), or 'more' when `b` is too short. */
function parse(b: Buffer): BuildInfo | 'more' | undefined {
  if (b.length < HEADER) return 'more';
  const flags = b[15]!;
  if ((flags & 2) === 0) return { oldFormat: true };
  let pos = HEADER;
  const fields: Buffer[] = [];
  for (let i = 0; i < 2; i++) {
    const v = uvarint(b, pos);
    if (v === 'more') return 'more';
    if (v === undefined || v.value > MAX_INFO) return undefined;
    if (v.next + v.value > b.length) return 'more';
    fields.push(b.subarray(v.next, v.next + v.value));
    pos = v.next + v.value;
  }
  const goVersion = fields[0]!.toString('utf8');
  let modinfo = fields[1]!;
  if (modinfo.length >= 2 * SENTINEL + 1 && modinfo[modinfo.length - SENTINEL - 1] === 0x0a) {
    modinfo = modinfo.subarray(SENTINEL, modinfo.length - SENTINEL);
  }
  if (!goVersion.startsWith('go') && !goVersion.startsWith('devel')) return undefined;
  return { goVersion, modinfo: modinfo.toString('utf8') };
}

function uvarint(b: Buffer, pos: number): { value: number; next: number } | 'more' | undefined {
  let value = 0;
  for (let shift = 0, i = pos; shift < 35; shift += 7, i++) {
    if (i >= b.length) return 'more';
    const byte = b[i]!;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return { value, next: i + 1 };
  }
  return undefined;
}

export const goBuildInfoProbe: ContentProbe = {
  name: 'go-buildinfo',
  version: 1,
  maxBytes: 512 * 1024 * 1024,
  start: () => new GoBuildInfoReader(),
};

export const goBinaryCataloger: Cataloger = {
  name: 'go-binary',
  kind: 'binary',
  version: 1,
  needs: { probes: [goBuildInfoProbe] },
  catalog(view: FileView): CatalogResult {
    const result: CatalogResult = { packages: [], issues: [] };
    for (const file of view.probed?.(goBuildInfoProbe) ?? []) {
      let info: BuildInfo;
      try {
        info = parseJsonBounded(file.content.toString('utf8')) as BuildInfo;
        if (typeof info !== 'object' || info === null) throw new Error('not an object');
      } catch {
        result.issues.push({ cataloger: 'go-binary', path: file.path, layer: file.layer, message: 'unreadable Go build info' });
        continue;
      }
      if (info.oldFormat) {
        result.issues.push({ cataloger: 'go-binary', path: file.path, layer: file.layer, message: 'Go binary built before Go 1.18: its module list cannot be read from a stream; not inventoried' });
        continue;
      }
      for (const p of packagesOf(info, file)) result.packages.push(p);
    }
    return result;
  },
};

/** stdlib (the toolchain), the main module, and every dependency (replacements applied). */
function packagesOf(info: BuildInfo, file: ViewFile): Package[] {
  const out: Package[] = [];
  const settings = new Map<string, string>();
  const lines = (info.modinfo ?? '').split('\n').map((l) => l.split('\t'));
  for (const [kind, kv] of lines) if (kind === 'build' && kv) settings.set(kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1));
  const arch = settings.get('GOARCH');
  const base = (name: string, version: string, metadata: Record<string, string>): Package => {
    const slash = name.lastIndexOf('/');
    const purl = new PackageURL('golang', slash > 0 ? name.slice(0, slash) : undefined, slash > 0 ? name.slice(slash + 1) : name, version, undefined, undefined).toString();
    const p: Package = { type: 'golang', name, version, purl, layer: file.layer, locations: [file.path], metadata };
    if (arch) p.arch = arch;
    return p;
  };
  const go = info.goVersion ?? '';
  const toolchain = /^go(\d+(?:\.\d+){0,2}(?:(?:rc|beta)\d+)?)/.exec(go)?.[1];
  if (toolchain) out.push(base('stdlib', toolchain, { goVersion: go }));
  for (let i = 0; i < lines.length; i++) {
    const [kind, path, version = '', sum = ''] = lines[i]!;
    if ((kind !== 'mod' && kind !== 'dep') || !path) continue;
    const metadata: Record<string, string> = { goVersion: go, ...(kind === 'mod' ? { mainModule: 'true' } : {}), ...(sum ? { h1: sum } : {}) };
    const next = lines[i + 1];
    if (next?.[0] === '=>' && next[1]) {
      i++;
      // A replacement by a local directory has no version: the required version is what was asked for.
      metadata.replaces = `${path} ${version}`.trim();
      const [, rpath, rversion = ''] = next as [string, string, string?];
      const local = rpath.startsWith('.') || rpath.startsWith('/');
      const replacedBy = local ? rpath : `${rpath} ${rversion}`.trim();
      out.push(local ? base(path, version, { ...metadata, replacedBy }) : base(rpath, rversion || version, { ...metadata, replacedBy }));
      continue;
    }
    out.push(base(path, version, metadata));
  }
  return out;
}
