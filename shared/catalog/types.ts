/**
 * What catalogers see and produce. A cataloger never knows about tar, registries or
 * storage: it declares the paths it needs and reads them from a FileView (the squashed
 * image, one layer, or a directory on disk).
 */

/** Paths a cataloger needs the walker to keep. Paths are absolute, "/"-separated. */
export interface PathNeeds {
  /** exact paths, e.g. "/var/lib/dpkg/status" */
  exact?: string[];
  /** globs over the whole path (picomatch syntax, dot files included), e.g. "/var/lib/dpkg/status.d/*" */
  globs?: string[];
  /** file names anywhere in the tree, e.g. "METADATA" */
  basenames?: string[];
  /** files found by their content rather than their path (Go binaries): see ContentProbe */
  probes?: ContentProbe[];
}

/**
 * Reads files as they stream past and keeps only what it finds (a Go binary's build info,
 * the package records inside a Java archive), never the file. Every regular file that no
 * path need asks for, that `select` accepts (default: any file with an execute bit) and is at
 * most `maxBytes` long is fed to a fresh reader, chunk by chunk.
 */
export interface ContentProbe {
  /** stable name (part of the layer cache key with `version`) */
  readonly name: string;
  readonly version: number;
  readonly maxBytes: number;
  /** which files to read (default: executables); must be cheap, it sees every file entry */
  select?(path: string, mode: number, size: number): boolean;
  start(path: string): ProbeReader;
}

/** Whether `probe` reads the file at `path`. */
export function probeReads(probe: ContentProbe, path: string, mode: number, size: number): boolean {
  if (size > probe.maxBytes) return false;
  return probe.select ? probe.select(path, mode, size) : size > 0 && (mode & 0o111) !== 0;
}

export interface ProbeReader {
  /** the next bytes of the file; false when nothing more is needed (found it, or not this kind of file) */
  push(chunk: Buffer): boolean;
  /** what to keep for this file, or undefined when it is not one */
  result(): Buffer | undefined;
}

/** One regular file of the final (squashed) image view. */
export interface ViewFile {
  /** absolute path, "/"-separated, no trailing slash */
  path: string;
  content: Buffer;
  /** file mode bits (permissions + setuid/setgid/sticky) */
  mode: number;
  /** digest of the layer that last wrote this file */
  layer: string;
  /** true when the file was larger than the per-file read limit and content holds only its start */
  truncated?: boolean;
}

export interface FileView {
  /** The file at `path`, following symlinks inside the image root. */
  get(path: string): ViewFile | undefined;
  /** Every kept file whose real path matches the glob (picomatch syntax). */
  glob(pattern: string): ViewFile[];
  /** What `probe` kept of each file it recognised (content = the probe's result), by real path. */
  probed?(probe: ContentProbe): ViewFile[];
  /** `path` with symlinks resolved inside the image root (undefined on a loop) */
  realPath?(path: string): string | undefined;
}

export interface Distro {
  /** os-release ID, e.g. "debian", "ubuntu", "alpine" */
  id: string;
  /** os-release VERSION_ID, e.g. "12", "22.04", "3.19.1"; absent for testing/sid */
  versionId?: string;
  /** os-release VERSION_CODENAME, e.g. "bookworm" */
  codename?: string;
  prettyName?: string;
  idLike?: string[];
  /** the file it was read from */
  source: string;
  /**
   * Red Hat repository ids the image's content came from ("rhel-9-for-x86_64-baseos-rpms"), from
   * the content manifests Red Hat-built layers carry (/root/buildinfo/content_manifests/*.json);
   * absent when there are none. The Red Hat matcher scopes product streams by them (match/redhat.ts).
   */
  contentSets?: string[];
}

/** A package named from elsewhere (the OS package that owns a language package's files). */
export interface PackageRef {
  type: string;
  name: string;
  version: string;
  purl: string;
}

export interface Package {
  /** package type, as in purl: "deb", "apk", "rpm", "npm", "pypi", "maven", "golang", "gem", "nuget", "composer", "cargo" */
  type: string;
  name: string;
  /** the full version as the ecosystem writes and compares it (dpkg "1:2.3-4", rpm "1:2.3-4.el9", npm "1.2.3") */
  version: string;
  /** the parts kept apart where the format has them: rpm and dpkg epoch, rpm release */
  epoch?: number;
  release?: string;
  /** source package (dpkg Source:, rpm SOURCERPM, apk origin) */
  sourceName?: string;
  sourceVersion?: string;
  arch?: string;
  /** licences: SPDX identifiers or expressions where they normalise, else the text as declared */
  licenses?: string[];
  /** package URL (packageurl-js) */
  purl: string;
  /** the image's distro as a purl qualifier value ("debian-12", "alpine-3.19"), for OS packages */
  distro?: string;
  /** digest of the layer that introduced this package's record */
  layer: string;
  /** files the record was read from */
  locations: string[];
  /** the cataloger that found it (set by runCatalogers) */
  foundBy?: string;
  /** the OS package whose files include this package's record (Debian's python3-requests owns requests' METADATA) */
  ownedBy?: PackageRef;
  /** format-specific extras (dpkg status, maintainer, ...) */
  metadata?: Record<string, string>;
}

/** A problem one cataloger had with one file: kept with its path and layer; the scan goes on. */
export interface CatalogIssue {
  cataloger: string;
  path: string;
  layer?: string;
  message: string;
}

export interface CatalogContext {
  distro?: Distro;
}

export interface CatalogResult {
  packages: Package[];
  issues: CatalogIssue[];
  /**
   * OS catalogers: the files each package installed (dpkg info/<pkg>.list, apk R: lines,
   * rpm file lists), so language packages under them are marked ownedBy that package.
   */
  ownership?: Array<{ owner: Package; paths: string[] }>;
}

export interface Cataloger {
  /** stable name, e.g. "dpkg" */
  readonly name: string;
  /** OS catalogers run first: their file ownership marks the language packages found after */
  readonly kind: 'os' | 'language' | 'binary';
  /** bump when the output for the same input changes: it is part of the layer cache key */
  readonly version: number;
  readonly needs: PathNeeds;
  /** async set-up the cataloger needs for this view (loading a parser engine), awaited before catalog() */
  prepare?(view: FileView): Promise<void>;
  catalog(view: FileView, ctx: CatalogContext): CatalogResult;
}
