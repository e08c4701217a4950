/**
 * What each scanner of `npm run bench:peers` found, as comparable package keys
 * (ecosystem, name, version), and the comparison of two such sets.
 *
 * The ecosystem is Drydock's Package.type (the purl type: deb, apk, rpm, npm, pypi, maven,
 * golang, gem, cargo, composer, nuget). Each peer names its package kinds its own way; the
 * tables below map them explicitly, and a kind not in a table keeps the purl type of the
 * package (or the peer's own name, prefixed, when there is no purl) so it shows up unmatched
 * rather than being silently merged.
 *
 * Names are normalised per ecosystem the same way on both sides (normaliseName); versions are
 * compared as written, with a dpkg/rpm epoch folded in ("1:4.13-1") where a peer keeps it apart.
 */
import { PackageURL } from 'packageurl-js';

export interface FoundPackage {
  ecosystem: string;
  name: string;
  version: string;
  /** shown beside the name in listings, e.g. "owned by deb python3-yaml" */
  note?: string;
}

/** trivy's package type (CycloneDX property aquasecurity:trivy:PkgType) → Drydock's type. */
export const TRIVY_TYPES: Readonly<Record<string, string>> = {
  // OS packages carry the OS family
  debian: 'deb',
  ubuntu: 'deb',
  alpine: 'apk',
  wolfi: 'apk',
  chainguard: 'apk',
  redhat: 'rpm',
  centos: 'rpm',
  rocky: 'rpm',
  alma: 'rpm',
  amazon: 'rpm',
  fedora: 'rpm',
  oracle: 'rpm',
  photon: 'rpm',
  'cbl-mariner': 'rpm',
  azurelinux: 'rpm',
  opensuse: 'rpm',
  'opensuse.leap': 'rpm',
  'opensuse.tumbleweed': 'rpm',
  sles: 'rpm',
  slem: 'rpm',
  // language packages carry the analyser that found them
  'node-pkg': 'npm',
  npm: 'npm',
  yarn: 'npm',
  pnpm: 'npm',
  bun: 'npm',
  'python-pkg': 'pypi',
  pip: 'pypi',
  pipenv: 'pypi',
  poetry: 'pypi',
  uv: 'pypi',
  jar: 'maven',
  pom: 'maven',
  gradle: 'maven',
  sbt: 'maven',
  gobinary: 'golang',
  gomod: 'golang',
  gemspec: 'gem',
  bundler: 'gem',
  cargo: 'cargo',
  'rust-binary': 'cargo',
  composer: 'composer',
  'composer-vendor': 'composer',
  nuget: 'nuget',
  'dotnet-core': 'nuget',
  'packages-props': 'nuget',
};

/** snyk-docker-plugin's dep-graph package manager name → Drydock's type. */
export const SNYK_TYPES: Readonly<Record<string, string>> = {
  deb: 'deb',
  apk: 'apk',
  rpm: 'rpm',
  npm: 'npm',
  yarn: 'npm',
  pnpm: 'npm',
  pip: 'pypi',
  poetry: 'pypi',
  pipenv: 'pypi',
  maven: 'maven',
  gradle: 'maven',
  sbt: 'maven',
  gomodules: 'golang',
  golang: 'golang',
  rubygems: 'gem',
  cargo: 'cargo',
  composer: 'composer',
  nuget: 'nuget',
};

const OS_TYPES = new Set(['deb', 'apk', 'rpm']);

/**
 * The name as compared:
 *   pypi      PEP 503 (lower case, runs of "-", "_", "." → "-"): "PyYAML" = "pyyaml", "charset_normalizer" = "charset-normalizer"
 *   nuget     lower case (NuGet ids are case-insensitive)
 *   composer  lower case (Packagist names are)
 *   others    as written (deb, apk, rpm, npm, gem, cargo and Go module paths are case-sensitive)
 */
export function normaliseName(ecosystem: string, name: string): string {
  switch (ecosystem) {
    case 'pypi':
      return name.toLowerCase().replace(/[-_.]+/g, '-');
    case 'nuget':
    case 'composer':
      return name.toLowerCase();
    default:
      return name;
  }
}

/**
 * Name and version from a purl, written the way Drydock writes Package.name / version:
 * npm, golang and composer names include the namespace ("@scope/x", "github.com/a/b", "vendor/x");
 * maven is the artifactId alone (Drydock's name); deb/apk/rpm drop the vendor namespace and get
 * the epoch qualifier back into the version.
 */
export function fromPurl(purl: string): { type: string; name: string; version: string } | undefined {
  let p: PackageURL;
  try {
    p = PackageURL.fromString(purl);
  } catch {
    return undefined;
  }
  const withNamespace = p.type === 'npm' || p.type === 'golang' || p.type === 'composer';
  const name = withNamespace && p.namespace ? `${p.namespace}/${p.name}` : p.name;
  let version = p.version ?? '';
  const epoch = p.qualifiers?.['epoch'];
  if (OS_TYPES.has(p.type) && epoch && epoch !== '0' && !version.includes(':')) version = `${epoch}:${version}`;
  return { type: p.type, name, version };
}

function found(ecosystem: string, name: string, version: string, note?: string): FoundPackage {
  const f: FoundPackage = { ecosystem, name: normaliseName(ecosystem, name), version };
  if (note) f.note = note;
  return f;
}

// ───────────────────────────── Drydock ─────────────────────────────

interface DrydockJson {
  schema: string;
  results: Array<{ packages: Array<{ type: string; name: string; version: string; ownedBy?: { type: string; name: string } }> }>;
}

/** `drydock scan -o json` (drydock.scan/v1): every package of every result. */
export function fromDrydock(json: unknown): FoundPackage[] {
  const doc = json as DrydockJson;
  if (doc?.schema !== 'drydock.scan/v1' || !Array.isArray(doc.results)) throw new Error('not a drydock.scan/v1 document');
  return doc.results.flatMap((r) =>
    r.packages.map((p) => found(p.type, p.name, p.version, p.ownedBy ? `owned by ${p.ownedBy.type} ${p.ownedBy.name}` : undefined)),
  );
}

// ───────────────────────────── trivy (CycloneDX) ─────────────────────────────

interface CdxComponent {
  type: string;
  name: string;
  version?: string;
  purl?: string;
  properties?: Array<{ name: string; value: string }>;
  components?: CdxComponent[];
}

/**
 * trivy-cdxgen writes CycloneDX whatever --format says: every component with a purl is a
 * package (the operating-system component has none). The ecosystem comes from trivy's
 * PkgType property through TRIVY_TYPES, else from the purl type.
 */
export function fromTrivyCycloneDx(json: unknown): FoundPackage[] {
  const doc = json as { bomFormat?: string; components?: CdxComponent[] };
  if (doc?.bomFormat !== 'CycloneDX') throw new Error('trivy output is not a CycloneDX document');
  const out: FoundPackage[] = [];
  const visit = (c: CdxComponent) => {
    if (c.purl) {
      const fromP = fromPurl(c.purl);
      const pkgType = c.properties?.find((p) => p.name === 'aquasecurity:trivy:PkgType')?.value;
      const ecosystem = (pkgType && TRIVY_TYPES[pkgType]) ?? fromP?.type ?? `trivy:${pkgType ?? c.type}`;
      out.push(found(ecosystem, fromP?.name ?? c.name, fromP?.version ?? c.version ?? ''));
    }
    for (const sub of c.components ?? []) visit(sub);
  };
  for (const c of doc.components ?? []) visit(c);
  return out;
}

// ───────────────────────────── snyk-docker-plugin ─────────────────────────────

interface SnykDepGraph {
  pkgManager: { name: string };
  pkgs: Array<{ id: string; info: { name: string; version?: string; purl?: string } }>;
  graph: { rootNodeId: string; nodes: Array<{ nodeId: string; pkgId: string }> };
}

/**
 * snyk-docker-plugin's PluginResponse: one scan result for the OS packages, one per application
 * (node_modules tree, lock file, jar …), each with a depGraph fact. The graph's root is the
 * image or the project itself, not a package. OS package names are "source/binary" when the
 * two differ: the binary package name is what is installed.
 */
export function fromSnyk(json: unknown): FoundPackage[] {
  const doc = json as { scanResults?: Array<{ facts: Array<{ type: string; data: unknown }> }> };
  if (!Array.isArray(doc?.scanResults)) throw new Error('not a snyk-docker-plugin response (no scanResults)');
  const out: FoundPackage[] = [];
  for (const result of doc.scanResults) {
    for (const fact of result.facts) {
      if (fact.type !== 'depGraph') continue;
      const g = fact.data as SnykDepGraph;
      const manager = g.pkgManager.name;
      const ecosystem = SNYK_TYPES[manager] ?? `snyk:${manager}`;
      const rootPkg = g.graph.nodes.find((n) => n.nodeId === g.graph.rootNodeId)?.pkgId;
      for (const pkg of g.pkgs) {
        if (pkg.id === rootPkg) continue;
        const { name, version = '' } = pkg.info;
        out.push(found(ecosystem, OS_TYPES.has(ecosystem) ? name.slice(name.lastIndexOf('/') + 1) : name, version));
      }
    }
  }
  return out;
}

// ───────────────────────────── comparison ─────────────────────────────

export interface Comparison {
  /** distinct (ecosystem, name, version) each side found */
  ours: number;
  theirs: number;
  both: number;
  onlyOurs: FoundPackage[];
  onlyTheirs: FoundPackage[];
  /** distinct packages per ecosystem: found by us, by the peer, by both */
  byEcosystem: Map<string, { ours: number; theirs: number; both: number }>;
}

const keyOf = (p: FoundPackage) => `${p.ecosystem}\u0000${p.name}\u0000${p.version}`;

function distinct(list: FoundPackage[]): Map<string, FoundPackage> {
  const m = new Map<string, FoundPackage>();
  for (const p of list) if (!m.has(keyOf(p))) m.set(keyOf(p), p);
  return m;
}

export function comparePackages(oursList: FoundPackage[], theirsList: FoundPackage[]): Comparison {
  const ours = distinct(oursList);
  const theirs = distinct(theirsList);
  const byEcosystem = new Map<string, { ours: number; theirs: number; both: number }>();
  const eco = (e: string) => {
    let c = byEcosystem.get(e);
    if (!c) byEcosystem.set(e, (c = { ours: 0, theirs: 0, both: 0 }));
    return c;
  };
  const onlyOurs: FoundPackage[] = [];
  const onlyTheirs: FoundPackage[] = [];
  let both = 0;
  for (const [k, p] of ours) {
    eco(p.ecosystem).ours++;
    if (theirs.has(k)) {
      both++;
      eco(p.ecosystem).both++;
    } else onlyOurs.push(p);
  }
  for (const [k, p] of theirs) {
    eco(p.ecosystem).theirs++;
    if (!ours.has(k)) onlyTheirs.push(p);
  }
  const order = (a: FoundPackage, b: FoundPackage) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0);
  return { ours: ours.size, theirs: theirs.size, both, onlyOurs: onlyOurs.sort(order), onlyTheirs: onlyTheirs.sort(order), byEcosystem };
}

/** The versions the other side has of the same (ecosystem, name), for "only" listings. */
export function otherVersions(p: FoundPackage, other: FoundPackage[]): string[] {
  return [...new Set(other.filter((o) => o.ecosystem === p.ecosystem && o.name === p.name && o.version !== p.version).map((o) => o.version))];
}
