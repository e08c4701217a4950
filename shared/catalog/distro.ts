/**
 * Which Linux distribution an image is, read from its release files. The answer feeds the
 * catalogers (purl namespace and `distro` qualifier) and, later, the choice of advisories.
 *
 * Order: /etc/os-release, then /usr/lib/os-release (os-release(5)); without either, the
 * older per-distribution files: /etc/alpine-release, /etc/redhat-release,
 * /etc/centos-release, /etc/lsb-release, and /etc/debian_version last, because Debian
 * derivatives (Ubuntu) ship a debian_version too. An image with none of these but with
 * /var/lib/dpkg/status.d entries is a distroless Debian image.
 */
import type { Distro, FileView, PathNeeds } from './types.js';

export interface DistroDetector {
  readonly name: string;
  /** bump when the answer for the same files changes: it is part of the layer cache key */
  readonly version: number;
  readonly needs: PathNeeds;
  detect(view: FileView): Distro | undefined;
}

const OS_RELEASE_PATHS = ['/etc/os-release', '/usr/lib/os-release'];
const DPKG_STATUS_D = '/var/lib/dpkg/status.d/*';
/** Red Hat-built layers' content manifests (atomic-reactor's content_manifest.json: `content_sets`). */
const CONTENT_MANIFESTS = '/root/buildinfo/content_manifests/*.json';
/** Bounds on what an image's content manifests may make us keep. */
export const CONTENT_MANIFEST_LIMITS = { files: 64, bytesPerFile: 1024 * 1024, contentSets: 256 } as const;

/** Release files of a kind older than os-release, most specific first. */
const LEGACY_FILES: ReadonlyArray<readonly [path: string, parse: (text: string, path: string) => Distro | undefined]> = [
  ['/etc/alpine-release', parseAlpineRelease],
  ['/etc/redhat-release', parseRedhatRelease],
  ['/etc/centos-release', parseRedhatRelease],
  // Amazon Linux (all versions) and Oracle Linux write it; AL2 and the Amazon Linux AMI have no redhat-release
  ['/etc/system-release', parseRedhatRelease],
  ['/etc/lsb-release', parseLsbRelease],
  ['/etc/debian_version', parseDebianVersion],
];

/** Debian release codenames by major version, for /etc/debian_version. */
const DEBIAN_CODENAMES: Readonly<Record<string, string>> = {
  '7': 'wheezy',
  '8': 'jessie',
  '9': 'stretch',
  '10': 'buster',
  '11': 'bullseye',
  '12': 'bookworm',
  '13': 'trixie',
  '14': 'forky',
};

export const distroDetector: DistroDetector = {
  name: 'distro',
  version: 3,
  needs: {
    exact: [...OS_RELEASE_PATHS, ...LEGACY_FILES.map(([path]) => path)],
    globs: [DPKG_STATUS_D, CONTENT_MANIFESTS],
  },
  detect(view: FileView): Distro | undefined {
    const distro = detectRelease(view);
    if (!distro) return undefined;
    const contentSets = readContentSets(view);
    return contentSets.length > 0 ? { ...distro, contentSets } : distro;
  },
};

/**
 * The content sets (Red Hat repository ids) of every content manifest in the image, sorted and
 * each once. A manifest that is too large, truncated, not JSON or without `content_sets` adds
 * nothing; names that are not plain repository ids are ignored. Bounded by CONTENT_MANIFEST_LIMITS.
 */
export function readContentSets(view: FileView): string[] {
  const out = new Set<string>();
  for (const file of view.glob(CONTENT_MANIFESTS).slice(0, CONTENT_MANIFEST_LIMITS.files)) {
    if (file.truncated || file.content.length > CONTENT_MANIFEST_LIMITS.bytesPerFile) continue;
    let json: unknown;
    try {
      json = JSON.parse(file.content.toString('utf8'));
    } catch {
      continue;
    }
    const sets = json && typeof json === 'object' ? (json as Record<string, unknown>).content_sets : undefined;
    if (!Array.isArray(sets)) continue;
    for (const s of sets) {
      if (out.size >= CONTENT_MANIFEST_LIMITS.contentSets) break;
      if (typeof s === 'string' && /^[A-Za-z0-9_.-]{1,128}$/.test(s)) out.add(s);
    }
  }
  return [...out].sort();
}

function detectRelease(view: FileView): Distro | undefined {
  let idLess: Distro | undefined;
  for (const path of OS_RELEASE_PATHS) {
    const file = view.get(path);
    if (!file) continue;
    const distro = distroFromOsRelease(parseShellAssignments(file.content.toString('utf8')), file.path);
    if (distro.id) return distro;
    idLess ??= distro;
  }
  for (const [path, parse] of LEGACY_FILES) {
    const file = view.get(path);
    const distro = file && parse(file.content.toString('utf8'), file.path);
    if (distro) return distro;
  }
  if (view.glob(DPKG_STATUS_D).length > 0) {
    // Distroless: dpkg records in status.d and no (usable) release file.
    return withoutUndefined({ ...idLess, id: 'debian', source: idLess?.source ?? DPKG_STATUS_D.replace(/\/\*$/, '') });
  }
  return undefined;
}

/**
 * Parse shell-style `KEY=value` lines (os-release(5), lsb-release): values may be
 * unquoted, "double-quoted" or 'single-quoted', with backslash escapes outside single
 * quotes. Lines that are not assignments are ignored.
 */
export function parseShellAssignments(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    out[m[1] as string] = unquoteShellValue(m[2] as string);
  }
  return out;
}

/** The value of one shell word: quotes removed, escapes applied; an unclosed quote runs to the end. */
function unquoteShellValue(raw: string): string {
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const c = raw[i] as string;
    if (c === "'") {
      const end = raw.indexOf("'", i + 1);
      out += raw.slice(i + 1, end === -1 ? raw.length : end);
      i = end === -1 ? raw.length : end + 1;
    } else if (c === '"') {
      i++;
      while (i < raw.length && raw[i] !== '"') {
        // inside double quotes a backslash escapes only $ ` " \
        if (raw[i] === '\\' && i + 1 < raw.length && '$`"\\'.includes(raw[i + 1] as string)) i++;
        out += raw[i];
        i++;
      }
      i++;
    } else if (c === '\\' && i + 1 < raw.length) {
      out += raw[i + 1];
      i += 2;
    } else if (/\s/.test(c)) {
      break; // an unquoted blank ends the word; what follows is a comment or junk
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** A Distro from os-release fields; `id` is empty when the file has no ID. */
function distroFromOsRelease(fields: Record<string, string>, source: string): Distro {
  const idLike = fields.ID_LIKE?.split(/\s+/).filter(Boolean).map((s) => s.toLowerCase());
  return withoutUndefined({
    id: (fields.ID ?? '').toLowerCase(),
    versionId: fields.VERSION_ID || undefined,
    codename: fields.VERSION_CODENAME || fields.UBUNTU_CODENAME || undefined,
    prettyName: fields.PRETTY_NAME || undefined,
    idLike: idLike?.length ? idLike : undefined,
    source,
  });
}

/** /etc/alpine-release: the version alone, e.g. "3.18.1". */
function parseAlpineRelease(text: string, source: string): Distro | undefined {
  const version = firstLine(text);
  return /^\d+(\.\d+)*/.test(version) ? { id: 'alpine', versionId: version, source } : undefined;
}

/** Release-file product names and their os-release IDs. */
const REDHAT_FAMILY: ReadonlyArray<readonly [prefix: string, id: string]> = [
  ['CentOS', 'centos'],
  ['Red Hat Enterprise Linux', 'rhel'],
  ['Fedora', 'fedora'],
  ['Rocky Linux', 'rocky'],
  ['AlmaLinux', 'almalinux'],
  ['Oracle Linux', 'ol'],
  ['Amazon Linux', 'amzn'],
];

/**
 * /etc/redhat-release or /etc/centos-release: "CentOS Linux release 7.6.1810 (Core)".
 * CentOS numbers its os-release VERSION_ID by major release only, so "7.6.1810" gives "7".
 */
function parseRedhatRelease(text: string, source: string): Distro | undefined {
  const line = firstLine(text);
  const m = /^(.+?)\s+release\s+(\d+(?:\.\d+)*)/.exec(line);
  if (!m) return undefined;
  const product = m[1] as string;
  const id = REDHAT_FAMILY.find(([prefix]) => product.startsWith(prefix))?.[1];
  if (!id) return undefined;
  const version = m[2] as string;
  return { id, versionId: releaseVersionId(id, version), prettyName: line, source };
}

/**
 * The os-release VERSION_ID a release file's version stands for: CentOS numbers it by major
 * release ("7.6.1810" → "7"); Amazon Linux 2022 and later too ("2023.6.20241010" → "2023"),
 * while AL2 is "2" and the Amazon Linux AMI "2018.03" as written.
 */
function releaseVersionId(id: string, version: string): string {
  const major = version.split('.')[0] as string;
  if (id === 'centos') return major;
  if (id === 'amzn' && Number(major) >= 2022) return major;
  return version;
}

/** /etc/lsb-release: DISTRIB_ID, DISTRIB_RELEASE, DISTRIB_CODENAME, DISTRIB_DESCRIPTION. */
function parseLsbRelease(text: string, source: string): Distro | undefined {
  const fields = parseShellAssignments(text);
  if (!fields.DISTRIB_ID) return undefined;
  return withoutUndefined({
    id: fields.DISTRIB_ID.toLowerCase(),
    versionId: fields.DISTRIB_RELEASE || undefined,
    codename: fields.DISTRIB_CODENAME || undefined,
    prettyName: fields.DISTRIB_DESCRIPTION || undefined,
    source,
  });
}

/**
 * /etc/debian_version: a point release ("12.8" → VERSION_ID "12", as os-release says) or,
 * on testing and unstable, "<codename>/sid" (no VERSION_ID).
 */
function parseDebianVersion(text: string, source: string): Distro | undefined {
  const value = firstLine(text);
  const release = /^(\d+)(?:\.\d+)*$/.exec(value);
  if (release) {
    const major = release[1] as string;
    return withoutUndefined({ id: 'debian', versionId: major, codename: DEBIAN_CODENAMES[major], source });
  }
  const testing = /^([a-z]+)\/sid$/.exec(value);
  if (testing) return { id: 'debian', codename: testing[1] as string, source };
  return undefined;
}

function firstLine(text: string): string {
  return (text.split(/\r?\n/, 1)[0] ?? '').trim();
}

type MaybeDistro = { [K in keyof Distro]?: Distro[K] | undefined } & Pick<Distro, 'id' | 'source'>;

/** Drop undefined members so that results compare and serialise cleanly. */
function withoutUndefined(distro: MaybeDistro): Distro {
  return Object.fromEntries(Object.entries(distro).filter(([, v]) => v !== undefined)) as unknown as Distro;
}

/** The distro as purl qualifiers and package records name it: "debian-12", "alpine-3.19.1", "debian-trixie", "debian". */
export function distroQualifier(distro: Distro): string {
  const release = distro.versionId ?? distro.codename;
  return release ? `${distro.id}-${release}` : distro.id;
}
