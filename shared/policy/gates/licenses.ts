/**
 * Gate `licenses` (Anchore's names; the older `blacklist_*` trigger names are accepted as
 * second entries). Reads each package's `licenses` (SPDX ids or expressions where they
 * normalise, else the declared text). Fires once per package and denied licence; trigger id
 * "<licence>+<package name>".
 *
 * Trigger `denylist_exact_match` (alias `blacklist_exact_match`):
 *   licenses       (required) list of licence names denied exactly (case-sensitive); a
 *                  licence expression also matches through its single ids
 *                  ("GPL-2.0-only OR MIT" matches "GPL-2.0-only")
 *   package_type   all (default) | os (deb, apk, rpm) | non-os
 *
 * Trigger `denylist_partial_match` (alias `blacklist_partial_match`):
 *   licenses       (required) list of strings; a package licence containing one fires
 *   package_type   as above
 */
import type { Package } from '../../catalog/types.js';
import type { Gate, ParamSpec, Trigger, TriggerFire } from '../types.js';

const OS_TYPES = new Set(['deb', 'apk', 'rpm']);

const packageTypeParam: ParamSpec = {
  name: 'package_type',
  type: 'enum',
  values: ['all', 'os', 'non-os'],
  default: 'all',
  description: 'Only check packages of this class (os = deb, apk, rpm).',
};

function ofClass(pkg: Package, cls: string): boolean {
  if (cls === 'all') return true;
  return (cls === 'os') === OS_TYPES.has(pkg.type);
}

/** The single ids of an SPDX expression (operators and parentheses dropped). */
function expressionIds(license: string): string[] {
  return license
    .split(/[()\s]+/)
    .filter((t) => t && !/^(AND|OR|WITH)$/i.test(t));
}

function licenseTrigger(name: string, exact: boolean): Trigger {
  return {
    name,
    description: exact
      ? 'Triggers if the image has a package installed with software distributed under the specified (exact match) license(s).'
      : 'Triggers if the image has a package installed with software distributed under a license containing one of the specified strings.',
    params: [
      { name: 'licenses', type: 'list', required: true, description: exact ? 'List of license names to deny exactly.' : 'List of strings to do substring match for denial.' },
      packageTypeParam,
    ],
    evaluate(ctx, p) {
      const denied = p.licenses as string[];
      const cls = (p.package_type as string | undefined) ?? 'all';
      const out: TriggerFire[] = [];
      for (const pkg of ctx.packages) {
        if (!pkg.licenses?.length || !ofClass(pkg, cls)) continue;
        const hits = new Set<string>();
        for (const lic of pkg.licenses) {
          for (const d of denied) {
            if (exact ? lic === d || expressionIds(lic).includes(d) : lic.includes(d)) hits.add(exact ? d : lic);
          }
        }
        for (const h of hits) {
          out.push({ triggerId: `${h}+${pkg.name}`, message: `Package ${pkg.name} ${pkg.version} (${pkg.type}) is distributed under a denied license: ${h}${exact ? '' : ` (matches ${denied.filter((d) => h.includes(d)).join(', ')})`}` });
        }
      }
      return out;
    },
  };
}

export const licensesGate: Gate = {
  name: 'licenses',
  description: 'License checks against the software licenses of the packages in the image.',
  triggers: [
    licenseTrigger('denylist_exact_match', true),
    licenseTrigger('denylist_partial_match', false),
    licenseTrigger('blacklist_exact_match', true),
    licenseTrigger('blacklist_partial_match', false),
  ],
};
