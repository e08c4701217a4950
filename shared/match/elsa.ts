/**
 * Oracle Linux (ELSA) matching rules, on top of the generic matcher (shared/match/index.ts):
 *
 * - lookups by BINARY package name only (ELSA's OVAL names the binary rpms), in rpm EVR order
 *   with the epoch explicit on the fixed side (shared/advisories/elsa.ts writes it always).
 * - per-arch fixes: an entry whose `notes.arches` is not empty applies only to a package of one
 *   of those arches. OVAL's arch criterion is the MACHINE's arch ("Oracle Linux arch is x86_64"),
 *   so a multilib i686 package on x86_64 is judged by the x86_64 rows too; a noarch package (or
 *   one whose arch is not known) runs on every arch and is judged by every row.
 * - variants: an entry of the ksplice variant (fixed release `…ksplice…`, or "is ksplice-based")
 *   judges only ksplice packages, a fips one only fips packages (`_fips` release), a plain one only
 *   plain packages. Ksplice user-space packages carry their own release line
 *   (1.1.1g-15.ksplice1.el8_3): judged against the plain fix 1.1.1k-… they would look old when
 *   they are patched, and the other way round (what Trivy's "flavor" and vunnel's ksplice filter
 *   prevent too).
 */
import type { AffectedPackage } from '../advisories/types.js';
import { rpmVariant } from '../advisories/elsa.js';

export function isElsaEcosystem(ecosystem: string): boolean {
  return ecosystem.startsWith('Oracle Linux:');
}

const X86 = new Set(['x86_64', 'i386', 'i486', 'i586', 'i686', 'athlon', 'amd64']);
const ARM64 = new Set(['aarch64', 'arm64']);

/** The machine arches a package of `arch` can be installed on (undefined: any). */
function machineArches(arch: string | undefined): Set<string> | undefined {
  if (!arch || arch === 'noarch') return undefined;
  if (X86.has(arch)) return X86;
  if (ARM64.has(arch)) return ARM64;
  return new Set([arch]);
}

/** "[epoch:]version-release" → its release part. */
function releasePart(evr: string): string {
  const dash = evr.lastIndexOf('-');
  return dash < 0 ? '' : evr.slice(dash + 1);
}

/**
 * Whether an ELSA entry may judge an installed package at all (false: another arch's row, or
 * another variant's fix). Entries of other sources always may.
 */
export function elsaEntryApplies(entry: AffectedPackage, installed: { version: string; arch?: string; release?: string }): boolean {
  if (!isElsaEcosystem(entry.ecosystem)) return true;
  const variant = typeof entry.notes?.variant === 'string' ? entry.notes.variant : 'plain';
  if (rpmVariant(installed.release ?? releasePart(installed.version)) !== variant) return false;
  const arches = Array.isArray(entry.notes?.arches) ? (entry.notes.arches as unknown[]).filter((a): a is string => typeof a === 'string') : [];
  if (arches.length === 0) return true;
  const machines = machineArches(installed.arch);
  if (!machines) return true;
  return arches.some((a) => machines.has(a));
}
