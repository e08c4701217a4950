/**
 * Gate `packages` (Anchore's names). Reads ctx.packages; names match exactly.
 *
 * Trigger `required_package` — fires once when the package is missing, or present only at
 * other versions. Trigger id: the required name.
 *   name                 (required) package name that must be installed
 *   version              optional version
 *   version_match_type   exact (default; the version string as the catalog reports it) |
 *                        minimum (installed ≥ version, compared in the package's own scheme:
 *                        deb→dpkg, apk→apk, rpm→rpm, npm→semver, pypi→pep440, gem→rubygems,
 *                        maven→maven, golang→go, nuget→nuget, composer→composer). A version
 *                        that scheme cannot parse, or a type with no scheme, does not
 *                        satisfy the rule, and the message says why.
 *
 * Trigger `denylist` (Anchore's older `blacklist` accepted as a second entry) — fires for each
 * installed package with the name (and, when given, exactly the version). Trigger id
 * "<name>-<version>" of the installed package.
 *   name      (required) package name
 *   version   optional exact version
 *
 * Trigger `metadata` (Anchore Enterprise) — fires for each package whose type, name and
 * version all match the globs given ("*" = any run of characters, otherwise exact). Trigger id
 * "<type>:<name>-<version>".
 *   type, name, version   optional globs; an absent one matches anything
 */
import type { Package } from '../../catalog/types.js';
import { compareVersions, type Scheme } from '../../versions/index.js';
import type { Gate, Trigger, TriggerFire } from '../types.js';

/** The version scheme each package type compares in. */
export const SCHEME_BY_TYPE: Readonly<Record<string, Scheme>> = {
  deb: 'dpkg',
  apk: 'apk',
  rpm: 'rpm',
  npm: 'semver',
  pypi: 'pep440',
  gem: 'rubygems',
  maven: 'maven',
  golang: 'go',
  nuget: 'nuget',
  composer: 'composer',
};

/** installed ≥ wanted in the package's own scheme, or why it cannot be told. */
function atLeast(pkg: Package, wanted: string): { ok: boolean; why?: string } {
  const scheme = Object.hasOwn(SCHEME_BY_TYPE, pkg.type) ? SCHEME_BY_TYPE[pkg.type] : undefined;
  if (!scheme) return { ok: false, why: `no version order for ${pkg.type} packages` };
  try {
    return { ok: compareVersions(scheme, pkg.version, wanted) >= 0 };
  } catch (e) {
    return { ok: false, why: e instanceof Error ? e.message : String(e) };
  }
}

const requiredPackage: Trigger = {
  name: 'required_package',
  description: 'Triggers if the specified package and optionally a specific version is not found in the image.',
  params: [
    { name: 'name', type: 'string', required: true, description: 'Name of package that must be found installed in image.' },
    { name: 'version', type: 'string', description: 'Optional version of the package.' },
    { name: 'version_match_type', type: 'enum', values: ['exact', 'minimum'], default: 'exact', description: 'The type of comparison to use for version if a version is provided.' },
  ],
  evaluate(ctx, p) {
    const name = p.name as string;
    const version = p.version as string | undefined;
    const minimum = p.version_match_type === 'minimum';
    const present = ctx.packages.filter((x) => x.name === name);
    if (!present.length) {
      return [{ triggerId: name, message: `Required package ${name}${version ? ` (${minimum ? '>= ' : ''}${version})` : ''} is not present in the image` }];
    }
    if (version === undefined) return [];
    const problems: string[] = [];
    for (const pkg of present) {
      if (!minimum) {
        if (pkg.version === version) return [];
        problems.push(`${pkg.version}`);
        continue;
      }
      const r = atLeast(pkg, version);
      if (r.ok) return [];
      problems.push(r.why ? `${pkg.version} (cannot compare: ${r.why})` : `${pkg.version} (lower)`);
    }
    const want = minimum ? `at least version ${version}` : `version ${version}`;
    return [{ triggerId: name, message: `Required package ${name} is present at ${problems.join(', ')}, not at ${want} as the policy requires` }];
  },
};

function denylist(triggerName: string): Trigger {
  return {
    name: triggerName,
    description: 'Triggers if the image has a package installed with the given name, optionally at exactly the given version.',
    params: [
      { name: 'name', type: 'string', required: true, description: 'Package name to deny.' },
      { name: 'version', type: 'string', description: 'Specific version of package to deny.' },
    ],
    evaluate(ctx, p) {
      const name = p.name as string;
      const version = p.version as string | undefined;
      return ctx.packages
        .filter((x) => x.name === name && (version === undefined || x.version === version))
        .map((x) => ({ triggerId: `${x.name}-${x.version}`, message: `Package is denylisted: ${x.name} ${x.version} (${x.type})` }));
    },
  };
}

/** "*" = any run of characters, everything else literal; whole-string match. */
function globMatches(glob: string, s: string): boolean {
  const parts = glob.split('*');
  if (parts.length === 1) return glob === s;
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (!s.startsWith(first) || s.length < first.length + last.length || !s.endsWith(last)) return false;
  let at = first.length;
  const end = s.length - last.length;
  for (const mid of parts.slice(1, -1)) {
    const i = s.indexOf(mid, at);
    if (i < 0 || i + mid.length > end) return false;
    at = i + mid.length;
  }
  return true;
}

const metadata: Trigger = {
  name: 'metadata',
  description: 'Triggers for each package whose type, name and version match the given globs ("*" wildcards).',
  params: [
    { name: 'type', type: 'string', description: 'Package type glob (deb, apk, rpm, npm, pypi, ...).' },
    { name: 'name', type: 'string', description: 'Package name glob.' },
    { name: 'version', type: 'string', description: 'Package version glob.' },
  ],
  evaluate(ctx, p) {
    const want = { type: p.type as string | undefined, name: p.name as string | undefined, version: p.version as string | undefined };
    const out: TriggerFire[] = [];
    for (const x of ctx.packages) {
      if (want.type !== undefined && !globMatches(want.type, x.type)) continue;
      if (want.name !== undefined && !globMatches(want.name, x.name)) continue;
      if (want.version !== undefined && !globMatches(want.version, x.version)) continue;
      out.push({ triggerId: `${x.type}:${x.name}-${x.version}`, message: `Package ${x.name} ${x.version} (${x.type}) matches the policy's package metadata` });
    }
    return out;
  },
};

export const packagesGate: Gate = {
  name: 'packages',
  description: 'Package checks: required packages, denied packages, package metadata.',
  triggers: [requiredPackage, denylist('denylist'), denylist('blacklist'), metadata],
};
