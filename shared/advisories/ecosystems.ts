/**
 * OSV ecosystems ↔ Drydock: which version order an ecosystem uses, how its package names
 * compare, and the one key (ecosystem + release) an inventory package is looked up under.
 *
 * Keys are OSV's ecosystem strings with variants folded together where OSV writes one
 * release several ways:
 * - Ubuntu: "Ubuntu:22.04:LTS", "Ubuntu:22.04" and "Ubuntu:Pro:22.04:LTS" are all
 *   "Ubuntu:22.04". Pro (ESM) entries are fixes shipped to Pro subscribers for the same
 *   release; they are kept under the release key (the reader notes the original string),
 *   so a fix only Pro ships is still reported as a fix.
 * - Red Hat: "Red Hat:enterprise_linux:9::appstream" (and ::baseos, ::crb, …) are
 *   "Red Hat:9": an installed rpm does not say which repository it came from. Other
 *   product streams (rhel_eus:9.2, rhel_aus, openshift, …) keep their own key and are
 *   never looked up for a plain RHEL image.
 * - Debian unstable: OSV's "Debian:sid" is "Debian:unstable", the key the Debian tracker
 *   reader (debian-tracker.ts) gives sid.
 * - Debian, Alpine, Rocky Linux, AlmaLinux, Mageia, openSUSE, SUSE, Photon OS: otherwise OSV's string.
 *
 * An image's release → key: Debian by VERSION_ID major, else codename (trixie 13, forky 14,
 * …; sid → "Debian:unstable"); Alpine by major.minor ("3.19.1" →
 * "Alpine:v3.19"; edge, or a "_alpha"/"_pre" snapshot version → "Alpine:edge"); Ubuntu
 * "22.04"; Rocky/Alma/RHEL by major; openSUSE and SUSE by the os-release PRETTY_NAME (what
 * the spec says their release strings are), else built from ID and VERSION_ID. Distros
 * without an OSV feed (CentOS, Fedora) have no key. Amazon Linux (ALAS, not OSV) is
 * "Amazon Linux:<major>": "2023.6.20241010" → "Amazon Linux:2023", "2" → "Amazon Linux:2", and
 * the Amazon Linux AMI's dated releases ("2018.03", 2011–2018) → "Amazon Linux:1". Oracle Linux
 * (ELSA OVAL, not OSV) is "Oracle Linux:<major>" (VERSION_ID "8.10" → "Oracle Linux:8"): the key
 * exists whether or not ELSA data is loaded, so an Oracle image without it is uncovered (fail closed).
 */
import { PackageURL } from 'packageurl-js';
import type { Distro } from '../catalog/types.js';
import type { Scheme } from '../versions/types.js';

export interface EcosystemInfo {
  /** normalised ecosystem key ("Debian:12", "Alpine:v3.19", "Ubuntu:22.04", "PyPI") */
  key: string;
  /** the OSV ecosystem without its release ("Debian", "Red Hat", "PyPI") */
  base: string;
  /** the version order (undefined: none known, only enumerated versions can match) */
  scheme?: Scheme;
  /** a package name as it is compared in this ecosystem */
  normaliseName(name: string): string;
}

const asIs = (name: string) => name;
const lower = (name: string) => name.toLowerCase();
/** PEP 503: lowercase, runs of "-", "_", "." → "-". */
export const pep503 = (name: string) => name.toLowerCase().replace(/[-_.]+/g, '-');

interface Base {
  scheme?: Scheme;
  /** npm: the registry refuses names that differ only in case, and GHSA writes "Axios" for axios */
  normaliseName: (name: string) => string;
  /** the part after "<base>:" → the key's release part, or undefined when the base has no such release */
  release?: (rest: string) => string | undefined;
  /** the base alone is a valid key */
  bare?: boolean;
}

const BASES: Readonly<Record<string, Base>> = {
  npm: { scheme: 'semver', normaliseName: lower, bare: true },
  PyPI: { scheme: 'pep440', normaliseName: pep503, bare: true },
  Maven: { scheme: 'maven', normaliseName: asIs, bare: true, release: (r) => r },
  Go: { scheme: 'go', normaliseName: asIs, bare: true },
  RubyGems: { scheme: 'rubygems', normaliseName: asIs, bare: true },
  NuGet: { scheme: 'nuget', normaliseName: lower, bare: true },
  Packagist: { scheme: 'composer', normaliseName: lower, bare: true, release: (r) => r },
  'crates.io': { scheme: 'semver', normaliseName: asIs, bare: true },
  Debian: { scheme: 'dpkg', normaliseName: asIs, bare: true, release: (r) => (r === 'sid' ? 'unstable' : r) },
  Ubuntu: { scheme: 'dpkg', normaliseName: asIs, release: ubuntuRelease },
  Alpine: { scheme: 'apk', normaliseName: asIs, release: (r) => (/^v\d+\.\d+$|^edge$/.test(r) ? r : undefined) },
  Wolfi: { scheme: 'apk', normaliseName: asIs, bare: true },
  Chainguard: { scheme: 'apk', normaliseName: asIs, bare: true },
  'Red Hat': { scheme: 'rpm', normaliseName: asIs, release: redHatRelease },
  'Rocky Linux': { scheme: 'rpm', normaliseName: asIs, bare: true, release: (r) => r },
  AlmaLinux: { scheme: 'rpm', normaliseName: asIs, bare: true, release: (r) => r },
  openSUSE: { scheme: 'rpm', normaliseName: asIs, release: (r) => r },
  SUSE: { scheme: 'rpm', normaliseName: asIs, release: (r) => r },
  Mageia: { scheme: 'rpm', normaliseName: asIs, release: (r) => r },
  'Photon OS': { scheme: 'rpm', normaliseName: asIs, release: (r) => r },
  // ALAS (shared/advisories/alas.ts): binary package names, major release only
  'Amazon Linux': { scheme: 'rpm', normaliseName: asIs, release: (r) => (/^(1|2|2023|20\d\d)$/.test(r) ? r : undefined) },
  // ELSA (shared/advisories/elsa.ts): binary package names, major release only ("Oracle Linux:8")
  'Oracle Linux': { scheme: 'rpm', normaliseName: asIs, release: (r) => (/^\d+$/.test(r) ? r : undefined) },
};

/** "22.04:LTS", "Pro:22.04:LTS", "22.04" → "22.04"; "Pro:FIPS:…" and other shapes as written. */
function ubuntuRelease(rest: string): string {
  const m = /^(?:Pro:)?(\d+\.\d+)(?::LTS)?$/.exec(rest);
  return m ? m[1]! : rest;
}

/** "enterprise_linux:9::appstream" → "9"; other streams as written. */
function redHatRelease(rest: string): string {
  const m = /^enterprise_linux:(\d+)(?:::[A-Za-z0-9_.-]*)?$/.exec(rest);
  return m ? m[1]! : rest;
}

/**
 * What Drydock knows about an OSV ecosystem string ("Debian:12", "Ubuntu:22.04:LTS") or
 * a key made by this module; undefined for an ecosystem it does not read.
 */
export function ecosystemInfo(osvEcosystem: string): EcosystemInfo | undefined {
  if (typeof osvEcosystem !== 'string') return undefined;
  const colon = osvEcosystem.indexOf(':');
  const baseName = colon < 0 ? osvEcosystem : osvEcosystem.slice(0, colon);
  const base = Object.hasOwn(BASES, baseName) ? BASES[baseName] : undefined;
  if (!base) return undefined;
  let key: string;
  if (colon < 0) {
    if (!base.bare) return undefined;
    key = baseName;
  } else {
    const release = base.release?.(osvEcosystem.slice(colon + 1));
    if (!release) return undefined;
    key = `${baseName}:${release}`;
  }
  return { key, base: baseName, scheme: base.scheme, normaliseName: base.normaliseName };
}

/** Debian release numbers by codename (distro-info-data). */
const DEBIAN_RELEASES: Readonly<Record<string, string>> = {
  wheezy: '7',
  jessie: '8',
  stretch: '9',
  buster: '10',
  bullseye: '11',
  bookworm: '12',
  trixie: '13',
  forky: '14',
  duke: '15',
};

/** Language package types (purl types) → OSV ecosystem. */
const LANGUAGE_ECOSYSTEMS: Readonly<Record<string, string>> = {
  npm: 'npm',
  pypi: 'PyPI',
  maven: 'Maven',
  golang: 'Go',
  gem: 'RubyGems',
  nuget: 'NuGet',
  composer: 'Packagist',
  cargo: 'crates.io',
};

/**
 * The ecosystem key an inventory package's advisories live under, or undefined when no
 * feed Drydock reads covers it. OS packages need the image's distro: `distro` when given,
 * else the package's own `distro` qualifier ("debian-12", "alpine-3.19.1").
 */
export function ecosystemForPackage(pkg: { type: string; distro?: string }, distro?: Distro): string | undefined {
  const language = Object.hasOwn(LANGUAGE_ECOSYSTEMS, pkg.type) ? LANGUAGE_ECOSYSTEMS[pkg.type] : undefined;
  if (language) return language;
  const d = distro ?? (pkg.distro ? distroFromQualifier(pkg.distro) : undefined);
  if (!d) return undefined;
  const key = distroEcosystem(d);
  if (!key) return undefined;
  const scheme = ecosystemInfo(key)?.scheme;
  // a deb on an apk distro (or the like) has no advisories under that distro's key
  const wanted: Record<string, Scheme> = { deb: 'dpkg', apk: 'apk', rpm: 'rpm' };
  return wanted[pkg.type] === scheme ? key : undefined;
}

/** The ecosystem key of a distro release, or undefined when OSV has no feed for it. */
export function distroEcosystem(distro: Pick<Distro, 'id' | 'versionId' | 'codename' | 'prettyName' | 'idLike'>): string | undefined {
  const id = distro.id.toLowerCase();
  const version = distro.versionId?.trim() || undefined;
  const major = version ? /^(\d+)/.exec(version)?.[1] : undefined;
  switch (id) {
    case 'debian': {
      if (major) return `Debian:${major}`;
      const codename = distro.codename?.toLowerCase();
      if (codename === 'sid') return 'Debian:unstable';
      const n = codename && Object.hasOwn(DEBIAN_RELEASES, codename) ? DEBIAN_RELEASES[codename] : undefined;
      return n ? `Debian:${n}` : undefined;
    }
    case 'ubuntu': {
      const m = version && /^(\d+\.\d+)/.exec(version);
      return m ? `Ubuntu:${m[1]}` : undefined;
    }
    case 'alpine': {
      if (!version) return undefined;
      if (version === 'edge' || /_(alpha|pre|git)/.test(version)) return 'Alpine:edge';
      const m = /^(\d+)\.(\d+)/.exec(version);
      return m ? `Alpine:v${m[1]}.${m[2]}` : undefined;
    }
    case 'wolfi':
      return 'Wolfi';
    case 'chainguard':
      return 'Chainguard';
    case 'rhel':
      return major ? `Red Hat:${major}` : undefined;
    case 'rocky':
      return major ? `Rocky Linux:${major}` : undefined;
    case 'almalinux':
      return major ? `AlmaLinux:${major}` : undefined;
    case 'ol':
      // os-release ID=ol, VERSION_ID="8.10": ELSA's OVAL keys by major release
      return major ? `Oracle Linux:${major}` : undefined;
    case 'amzn':
      return amazonLinuxKey(version, distro.prettyName);
    case 'mageia':
      return major ? `Mageia:${major}` : undefined;
    case 'photon':
      return version ? `Photon OS:${/^\d+\.\d+/.exec(version)?.[0] ?? version}` : undefined;
    case 'opensuse-leap':
    case 'opensuse-leap-micro':
    case 'opensuse-tumbleweed':
    case 'opensuse-microos': {
      const pretty = distro.prettyName?.trim();
      if (pretty?.startsWith('openSUSE ')) return `openSUSE:${pretty.slice('openSUSE '.length)}`;
      if (id === 'opensuse-tumbleweed') return 'openSUSE:Tumbleweed';
      if (id === 'opensuse-microos') return 'openSUSE:MicroOS';
      if (!version) return undefined;
      return `openSUSE:${id === 'opensuse-leap' ? 'Leap' : 'Leap Micro'} ${version}`;
    }
    case 'sles':
    case 'sled':
    case 'sle-micro': {
      const pretty = distro.prettyName?.trim();
      if (pretty?.startsWith('SUSE ')) return `SUSE:${pretty.slice('SUSE '.length)}`;
      const m = version && /^(\d+)(?:\.(\d+))?/.exec(version);
      if (!m) return undefined;
      const product = id === 'sles' ? 'Linux Enterprise Server' : id === 'sled' ? 'Linux Enterprise Desktop' : 'Linux Enterprise Micro';
      if (id === 'sle-micro') return `SUSE:${product} ${version}`;
      return `SUSE:${product} ${m[1]}${m[2] && m[2] !== '0' ? ` SP${m[2]}` : ''}`;
    }
    default:
      return undefined;
  }
}

/**
 * Amazon Linux's release key: the major version only. os-release VERSION_ID is "2023" (AL2023),
 * "2" (AL2), "2018.03" (the Amazon Linux AMI, i.e. AL1, dated 2011.09–2018.03); a release file
 * may give "2023.6.20241010". Without a version, the PRETTY_NAME ("Amazon Linux 2023.6.20241010",
 * "Amazon Linux 2", "Amazon Linux AMI 2018.03") decides.
 */
export function amazonLinuxKey(version: string | undefined, prettyName?: string): string | undefined {
  let v = version;
  if (!v) {
    const p = prettyName?.trim() ?? '';
    if (/^Amazon Linux AMI\b/.test(p)) return 'Amazon Linux:1';
    v = /^Amazon Linux (?:release )?(\d[\d.]*)/.exec(p)?.[1];
  }
  const m = v ? /^(\d+)(?:\.(\d+))?/.exec(v) : undefined;
  if (!m) return undefined;
  const major = Number(m[1]);
  if (major === 1 || (major >= 2011 && major <= 2018 && m[2] !== undefined && Number(m[2]) <= 12)) return 'Amazon Linux:1';
  if (major === 2) return 'Amazon Linux:2';
  if (major >= 2022) return `Amazon Linux:${major}`;
  return undefined;
}

/** A purl `distro` qualifier ("debian-12", "alpine-3.19.1", "opensuse-leap-15.5", "debian-trixie") as a Distro. */
export function distroFromQualifier(qualifier: string): Distro | undefined {
  const m = /^(.+?)-(\d[^-]*|[a-z]+)$/.exec(qualifier);
  if (!m) return qualifier ? { id: qualifier, source: 'purl distro qualifier' } : undefined;
  const [, id, release] = m as unknown as [string, string, string];
  // "opensuse-leap" has no release part, "debian-trixie" has a codename
  if (!/^\d/.test(release)) {
    if (id === 'debian' || id === 'ubuntu') return { id, codename: release, source: 'purl distro qualifier' };
    return { id: qualifier, source: 'purl distro qualifier' };
  }
  return { id, versionId: release, source: 'purl distro qualifier' };
}

/**
 * The name a package's advisories use, before the ecosystem's normaliseName: Maven's
 * "groupId:artifactId" (the catalog keeps artifactId as name and the group in metadata, or
 * in the purl for a package without metadata), the name otherwise.
 */
export function advisoryNameFor(pkg: { type: string; name: string; purl?: string; metadata?: Record<string, string> }): string {
  if (pkg.type !== 'maven' || pkg.name.includes(':')) return pkg.name;
  // with metadata but no groupId the cataloger did not know the group (its purl namespace is then the artifactId)
  const group = pkg.metadata ? pkg.metadata.groupId : groupFromPurl(pkg.purl);
  return group ? `${group}:${pkg.name}` : pkg.name;
}

function groupFromPurl(purl: string | undefined): string | undefined {
  if (!purl) return undefined;
  try {
    return PackageURL.fromString(purl).namespace ?? undefined;
  } catch {
    return undefined;
  }
}
