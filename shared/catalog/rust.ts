/**
 * Rust binaries built with cargo-auditable: the dependency tree the build embeds as a
 * zlib-compressed JSON document ({"packages":[…]}) in the `.dep-v0` section. The section
 * table sits at the end of an ELF file, after the section itself, so a stream cannot look the
 * section up; instead the probe tries each zlib header it passes (0x78 followed by a valid
 * second byte) and keeps the one stream whose first inflated bytes are `{"packages":[`.
 * A few dozen candidates per megabyte, each a 64-byte trial inflate.
 */
import { PackageURL } from 'packageurl-js';
import type { CatalogResult, Cataloger, ContentProbe, FileView, Package, ProbeReader, ViewFile } from './types.js';
import { parseJsonBounded } from './json.js';
import { builtin } from '../builtin.js';

const ELF = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const JSON_START = Buffer.from('{"packages":[');
/** compressed bytes tried per candidate: enough to inflate the start of the document */
const TRIAL = 64;
/** the whole compressed document may not exceed this */
const MAX_COMPRESSED = 8 * 1024 * 1024;
const ZLIB_FLG = new Set([0x01, 0x5e, 0x9c, 0xda]);

/** node:zlib, loaded when a probe first inflates (a layer walk), not with the catalogers: a scan from the layer cache walks nothing. */
const loadZlib = () => builtin<typeof import('node:zlib')>('node:zlib');

class AuditableReader implements ProbeReader {
  private head = Buffer.alloc(0);
  /** bytes not yet tried as a candidate start (fewer than TRIAL) */
  private carry = Buffer.alloc(0);
  private found: Buffer[] | undefined;
  private foundBytes = 0;
  private json: Buffer | undefined;

  push(chunk: Buffer): boolean {
    if (this.found) return this.collect(chunk);
    if (this.head.length < ELF.length) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, ELF.length)]);
      if (this.head.length >= ELF.length && !this.head.subarray(0, ELF.length).equals(ELF)) return false;
    }
    const window = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    const last = window.length - TRIAL;
    for (let i = window.indexOf(0x78); i >= 0 && i <= last; i = window.indexOf(0x78, i + 1)) {
      if (!ZLIB_FLG.has(window[i + 1]!) || !startsDocument(window.subarray(i, i + TRIAL))) continue;
      this.found = [];
      return this.collect(window.subarray(i));
    }
    this.carry = Buffer.from(window.subarray(Math.max(0, last + 1)));
    return true;
  }

  /** Gathers the compressed stream until it inflates whole. */
  private collect(bytes: Buffer): boolean {
    this.found!.push(Buffer.from(bytes));
    this.foundBytes += bytes.length;
    const all = Buffer.concat(this.found!);
    try {
      this.json = loadZlib().inflateSync(all, { maxOutputLength: 64 * MAX_COMPRESSED });
      return false;
    } catch {
      // not whole yet (or not inflatable at all: then the limit ends it)
      if (this.foundBytes < MAX_COMPRESSED) return true;
      this.found = undefined;
      return false;
    }
  }

  result(): Buffer | undefined {
    return this.json;
  }
}

function startsDocument(trial: Buffer): boolean {
  // A deflate block type of 3 is invalid: no need to ask zlib (a quarter of the candidates).
  if (((trial[2] ?? 0) & 0b110) === 0b110) return false;
  // Most candidates are not zlib at all and zlib throws; without stack traces that costs little.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    const { inflateSync, constants } = loadZlib();
    const out = inflateSync(trial, { finishFlush: constants.Z_SYNC_FLUSH });
    return out.subarray(0, JSON_START.length).equals(JSON_START);
  } catch {
    return false;
  } finally {
    Error.stackTraceLimit = limit;
  }
}

export const cargoAuditableProbe: ContentProbe = {
  name: 'cargo-auditable',
  version: 1,
  maxBytes: 512 * 1024 * 1024,
  start: () => new AuditableReader(),
};

interface AuditPackage {
  name?: unknown;
  version?: unknown;
  source?: unknown;
  kind?: unknown;
  root?: unknown;
}

export const rustBinaryCataloger: Cataloger = {
  name: 'rust-binary',
  kind: 'binary',
  version: 1,
  needs: { probes: [cargoAuditableProbe] },
  catalog(view: FileView): CatalogResult {
    const result: CatalogResult = { packages: [], issues: [] };
    for (const file of view.probed?.(cargoAuditableProbe) ?? []) {
      let doc: { packages?: unknown };
      try {
        doc = (parseJsonBounded(file.content.toString('utf8')) ?? {}) as { packages?: unknown };
      } catch (e) {
        result.issues.push({ cataloger: 'rust-binary', path: file.path, layer: file.layer, message: `cargo-auditable data is not JSON: ${(e as Error).message}` });
        continue;
      }
      if (!Array.isArray(doc.packages)) {
        result.issues.push({ cataloger: 'rust-binary', path: file.path, layer: file.layer, message: 'cargo-auditable data has no packages array' });
        continue;
      }
      for (const p of doc.packages as AuditPackage[]) {
        const pkg = typeof p === 'object' && p !== null ? toPackage(p, file) : undefined;
        if (pkg) result.packages.push(pkg);
        else result.issues.push({ cataloger: 'rust-binary', path: file.path, layer: file.layer, message: `cargo-auditable entry without a name and version: ${String(JSON.stringify(p)).slice(0, 200)}` });
      }
    }
    return result;
  },
};

/** Every crate compiled in (build-time-only crates included, marked by metadata.kind). */
function toPackage(p: AuditPackage, file: ViewFile): Package | undefined {
  if (typeof p.name !== 'string' || typeof p.version !== 'string' || !p.name || !p.version) return undefined;
  const metadata: Record<string, string> = {};
  if (typeof p.source === 'string') metadata.source = p.source;
  if (typeof p.kind === 'string') metadata.kind = p.kind;
  if (p.root === true) metadata.root = 'true';
  return {
    type: 'cargo',
    name: p.name,
    version: p.version,
    purl: new PackageURL('cargo', undefined, p.name, p.version, undefined, undefined).toString(),
    layer: file.layer,
    locations: [file.path],
    metadata,
  };
}
