/**
 * Language runtimes installed outside any package manager: the Node.js and CPython that AWS
 * Lambda's base images (public.ecr.aws/lambda/nodejs, /python, all on Amazon Linux 2023
 * minimal) install under /var/lang, and that the official node and python Docker images
 * install under /usr/local. Neither is an rpm or deb, so without this an image's own
 * interpreter, the thing most runtime CVEs are about, is missing from its inventory.
 *
 * Each runtime is reported once per installation prefix as a package of type "binary" with
 * a generic purl (pkg:generic/node@22.11.0, pkg:generic/python@3.12.7, as Syft names them)
 * and its NVD CPE in metadata.cpe (cpe:2.3:a:nodejs:node.js, cpe:2.3:a:python:python, as
 * Grype matches them). No advisory feed Drydock reads has an ecosystem for these (OSV has
 * none for runtime binaries), so the matcher lists them as unmatchable; they still appear in
 * every inventory and SBOM.
 *
 * Where the version comes from, best first:
 * - Node.js: the binary itself, read as a stream by a content probe: the string
 *   "node.js/v<major>.<minor>.<patch>" (process.release's header URL, the pattern Syft's
 *   nodejs-binary classifier uses); else <prefix>/include/node/node_version.h
 *   (NODE_MAJOR_VERSION, NODE_MINOR_VERSION, NODE_PATCH_VERSION) next to a node binary.
 * - CPython: the shared library <prefix>/lib/libpythonX.Y.so* or the executable
 *   <prefix>/bin/pythonX.Y, whichever holds the version (a Lambda or --enable-shared build keeps
 *   it in the library): "X.Y.<micro>[a|b|rc<n>][+]" ending in NUL and not preceded by a digit
 *   or a dot (PY_VERSION; compilers may tail-merge it into "Python-X.Y.Z"); else
 *   <prefix>/include/pythonX.Y/patchlevel.h (PY_VERSION).
 * The binary wins over a header that disagrees with it (it is what runs), and the
 * disagreement is reported as an issue. Headers without a runtime binary are not a runtime
 * (node-gyp keeps node's headers in a home directory) and report nothing.
 *
 * Bounds: a binary is read only when it is at most RUNTIME_MAX_BINARY_BYTES (probe maxBytes),
 * a chunk at a time, keeping the last RUNTIME_CARRY_BYTES bytes between chunks, and reading
 * stops at the first version found; headers are parsed in their first RUNTIME_MAX_HEADER_BYTES.
 */
import { posix } from 'node:path';
import { PackageURL } from 'packageurl-js';
import type { CatalogIssue, CatalogResult, Cataloger, ContentProbe, FileView, Package, ProbeReader, ViewFile } from './types.js';

/** Installation prefixes searched: AWS Lambda base images, then official Docker images' /usr/local. */
export const RUNTIME_PREFIXES = ['/var/lang', '/usr/local'] as const;
/** Largest runtime binary or library read (node is ~100 MiB, libpython ~25 MiB). */
export const RUNTIME_MAX_BINARY_BYTES = 512 * 1024 * 1024;
/** Bytes kept from one chunk to the next, so a version string split by a chunk boundary is still seen. */
export const RUNTIME_CARRY_BYTES = 64;
/** Bytes of a version header (node_version.h, patchlevel.h) read. */
export const RUNTIME_MAX_HEADER_BYTES = 64 * 1024;

const NODE_MARK = Buffer.from('node.js/v', 'latin1');
const PREFIX_RE = `(?:${RUNTIME_PREFIXES.map((p) => p.replace(/\//g, '\\/')).join('|')})`;
const NODE_BIN = new RegExp(`^(${PREFIX_RE})\\/bin\\/node$`);
const PYTHON_BIN = new RegExp(`^(${PREFIX_RE})\\/bin\\/python(\\d+\\.\\d+)$`);
const PYTHON_LIB = new RegExp(`^(${PREFIX_RE})\\/lib(?:64)?\\/libpython(\\d+\\.\\d+)\\.so(?:\\.[\\d.]+)?$`);

type Kind = 'node' | 'python';

/** What the probe keeps of one runtime file: which runtime, its prefix, and the version if the bytes hold one. */
interface Found {
  kind: Kind;
  prefix: string;
  /** python: "3.12" from the file name */
  series?: string;
  version?: string;
}

function classify(path: string): Found | undefined {
  let m = NODE_BIN.exec(path);
  if (m) return { kind: 'node', prefix: m[1]! };
  m = PYTHON_BIN.exec(path) ?? PYTHON_LIB.exec(path);
  if (m) return { kind: 'python', prefix: m[1]!, series: m[2]! };
  return undefined;
}

/** Streams a runtime file, looking for its version; keeps at most one chunk plus RUNTIME_CARRY_BYTES. */
class RuntimeReader implements ProbeReader {
  private carry = Buffer.alloc(0);
  private readonly pythonMark: Buffer | undefined;

  constructor(private readonly found: Found) {
    if (found.kind === 'python') this.pythonMark = Buffer.from(`${found.series}.`, 'latin1');
  }

  push(chunk: Buffer): boolean {
    const window = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    const version = this.found.kind === 'node' ? nodeVersionIn(window) : pythonVersionIn(window, this.pythonMark!);
    if (version) {
      this.found.version = version;
      return false;
    }
    this.carry = Buffer.from(window.subarray(Math.max(0, window.length - RUNTIME_CARRY_BYTES)));
    return true;
  }

  result(): Buffer {
    // kept even without a version: a binary that is there but unreadable falls back to its header
    return Buffer.from(JSON.stringify(this.found));
  }
}

const isDigit = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39;

/** "22.11.0" from "node.js/v22.11.0" (a complete match only: the digits must end inside the window). */
function nodeVersionIn(b: Buffer): string | undefined {
  for (let at = b.indexOf(NODE_MARK); at >= 0; at = b.indexOf(NODE_MARK, at + 1)) {
    const m = /^(\d{1,4}\.\d{1,4}\.\d{1,4})(?=[^\d.])/.exec(b.toString('latin1', at + NODE_MARK.length, at + NODE_MARK.length + 20));
    if (m) return m[1];
  }
  return undefined;
}

/** "3.12.7" from "…\0003.12.7\0" or "Python-3.12.7\0" (PY_VERSION is NUL-terminated; the rpath "…/3.12.7/lib" is not). */
function pythonVersionIn(b: Buffer, mark: Buffer): string | undefined {
  for (let at = b.indexOf(mark); at >= 0; at = b.indexOf(mark, at + 1)) {
    const before = at > 0 ? b[at - 1] : undefined;
    if (isDigit(before) || before === 0x2e) continue;
    const m = /^(\d{1,3}(?:(?:a|b|rc)\d{1,3})?\+?)\0/.exec(b.toString('latin1', at + mark.length, at + mark.length + 12));
    if (m) return `${mark.toString('latin1')}${m[1]}`;
  }
  return undefined;
}

export const runtimeProbe: ContentProbe = {
  name: 'runtime-version',
  version: 1,
  maxBytes: RUNTIME_MAX_BINARY_BYTES,
  // a library may lack the execute bit; any non-empty regular file at a runtime's path is read
  select: (path, _mode, size) => size > 0 && classify(path) !== undefined,
  start: (path) => new RuntimeReader(classify(path) ?? { kind: 'node', prefix: '' }),
};

const NODE_HEADERS = RUNTIME_PREFIXES.map((p) => `${p}/include/node/node_version.h`);
const PYTHON_HEADERS = RUNTIME_PREFIXES.map((p) => `${p}/include/python*/patchlevel.h`);

export const runtimeCataloger: Cataloger = {
  name: 'runtime',
  kind: 'binary',
  version: 1,
  needs: { exact: NODE_HEADERS, globs: PYTHON_HEADERS, probes: [runtimeProbe] },
  catalog(view: FileView): CatalogResult {
    const result: CatalogResult = { packages: [], issues: [] };
    /** "<kind> <prefix> <series>" → the runtime files found there (executable first, then library) */
    const installs = new Map<string, Array<{ file: ViewFile; found: Found }>>();
    for (const file of view.probed?.(runtimeProbe) ?? []) {
      const found = JSON.parse(file.content.toString('utf8')) as Found;
      if (found.kind !== 'node' && found.kind !== 'python') continue;
      const key = `${found.kind} ${found.prefix} ${found.series ?? ''}`;
      const list = installs.get(key) ?? [];
      list.push({ file, found });
      installs.set(key, list);
    }
    // in key order, so packages and issues come out the same whatever order the view probed the files in
    for (const [, files] of [...installs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      files.sort((a, b) => rank(a.file.path) - rank(b.file.path) || (a.file.path < b.file.path ? -1 : 1));
      const p = runtimePackage(view, files, result.issues);
      if (p) result.packages.push(p);
    }
    return result;
  },
};

/** The executable before the library: its layer and path lead the package. */
function rank(path: string): number {
  return posix.basename(posix.dirname(path)) === 'bin' ? 0 : 1;
}

function runtimePackage(view: FileView, files: Array<{ file: ViewFile; found: Found }>, issues: CatalogIssue[]): Package | undefined {
  const { kind, prefix, series } = files[0]!.found;
  const header = kind === 'node' ? view.get(`${prefix}/include/node/node_version.h`) : view.get(`${prefix}/include/python${series}/patchlevel.h`);
  const fromHeader = header ? (kind === 'node' ? nodeHeaderVersion(header) : pythonHeaderVersion(header, series!)) : undefined;
  const fromBinary = files.find((f) => f.found.version);
  const name = kind === 'node' ? 'node' : 'python';
  const lead = files[0]!.file;
  let version: string;
  let source: string;
  if (fromBinary) {
    version = fromBinary.found.version!;
    source = fromBinary.file.path;
    if (fromHeader && fromHeader !== version) {
      issues.push({ cataloger: 'runtime', path: header!.path, layer: header!.layer, message: `${name} ${version} in ${source} but ${fromHeader} in this header: the binary's version is reported` });
    }
  } else if (fromHeader) {
    version = fromHeader;
    source = header!.path;
  } else {
    issues.push({ cataloger: 'runtime', path: lead.path, layer: lead.layer, message: `${name} runtime found but no version in its binary (first ${RUNTIME_MAX_BINARY_BYTES} bytes, limit RUNTIME_MAX_BINARY_BYTES) nor a version header under ${prefix}/include: not inventoried` });
    return undefined;
  }
  const locations = files.map((f) => f.file.path);
  if (header && fromHeader) locations.push(header.path);
  const cpe = kind === 'node' ? `cpe:2.3:a:nodejs:node.js:${version}:*:*:*:*:*:*:*` : `cpe:2.3:a:python:python:${version}:*:*:*:*:*:*:*`;
  return {
    type: 'binary',
    name,
    version,
    purl: new PackageURL('generic', undefined, name, version, undefined, undefined).toString(),
    layer: lead.layer,
    locations,
    metadata: { cpe, prefix, versionFrom: source },
  };
}

function headerText(file: ViewFile): string {
  return file.content.toString('latin1', 0, Math.min(file.content.length, RUNTIME_MAX_HEADER_BYTES));
}

/** NODE_MAJOR_VERSION / NODE_MINOR_VERSION / NODE_PATCH_VERSION of node_version.h. */
function nodeHeaderVersion(file: ViewFile): string | undefined {
  const text = headerText(file);
  const part = (n: string) => new RegExp(`^\\s*#\\s*define\\s+NODE_${n}_VERSION\\s+(\\d{1,4})\\s*$`, 'm').exec(text)?.[1];
  const [major, minor, patch] = [part('MAJOR'), part('MINOR'), part('PATCH')];
  return major && minor && patch ? `${major}.${minor}.${patch}` : undefined;
}

/** PY_VERSION of patchlevel.h, when it is of the series the directory names. */
function pythonHeaderVersion(file: ViewFile, series: string): string | undefined {
  const v = /^\s*#\s*define\s+PY_VERSION\s+"([0-9][0-9a-z.+]{0,31})"/m.exec(headerText(file))?.[1];
  return v && v.startsWith(`${series}.`) ? v : undefined;
}
