/**
 * Amazon Linux (ALAS) matching rules, on top of the generic matcher (shared/match/index.ts):
 *
 * - lookups by BINARY package name only: ALAS lists the binary rpms it fixes (curl-minimal,
 *   libcurl-minimal), and a source-name lookup would judge curl-minimal against the rows of the
 *   binary that happens to share the source's name.
 * - the fixed EVR carries its epoch explicitly (shared/advisories/alas.ts); the installed EVR
 *   carries the rpmdb's EPOCH tag when it exists. rpm (rpmverCmp, rpm ≥ 4.x) reads a missing
 *   epoch as 0 and compares epochs first, and so does shared/versions/rpm: a fix "10:1.5.3-141"
 *   flags "10:1.5.3-140" and not "10:2.0-1", and a fix "0:2.5.0-1" does not flag "1:2.0-1".
 * - an AL2 extras topic (ALAS2KERNEL-5.15, ALAS2GOLANG1.19, …) applies only to packages of that
 *   topic's version line: the installed version's leading components (as many as the topic's
 *   line has: "5.15" → two) must equal the fixed version's. A core 4.14 kernel is never judged
 *   against a 5.15 fix (Grype's false positive). A topic without a line applies to all.
 * - livepatch advisories name only kernel-livepatch-* packages (the reader drops other rows).
 * - AL2023 releases are frozen (the repositories an image uses are pinned to its release): the
 *   remediation says which release ships the fix and, when the image's release predates the
 *   ALAS, that `dnf upgrade --releasever=…` is needed. AL2023's updateinfo does not name the
 *   release a fix first shipped in, so what is known is said: the first release dated on or
 *   after the ALAS's issue date carries it.
 */
import type { AffectedPackage } from '../advisories/types.js';
import type { Distro } from '../catalog/types.js';

export function isAlasEcosystem(ecosystem: string): boolean {
  return ecosystem.startsWith('Amazon Linux:');
}

/** "[epoch:]version-release" → its version part. */
function versionPart(evr: string): string {
  const noEpoch = evr.replace(/^\d+:/, '');
  const dash = noEpoch.lastIndexOf('-');
  return dash < 0 ? noEpoch : noEpoch.slice(0, dash);
}

function leading(version: string, depth: number): string[] {
  return version.split(/[^0-9A-Za-z]+/).slice(0, depth);
}

/**
 * Whether an ALAS entry may judge an installed version at all (false: the entry is about
 * another version line, e.g. an extras topic's kernel 5.15 vs a core 4.14 kernel). Entries of
 * other sources always may.
 */
export function alasEntryApplies(entry: AffectedPackage, installed: string): boolean {
  if (!isAlasEcosystem(entry.ecosystem)) return true;
  const line = typeof entry.notes?.line === 'string' ? entry.notes.line : undefined;
  if (!line) return true;
  const depth = line.split('.').length;
  const fixed = entry.intervals.find((i) => i.fixed !== undefined)?.fixed;
  if (!fixed) return true;
  const a = leading(versionPart(installed), depth);
  const b = leading(versionPart(fixed), depth);
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** AL2023's full release ("2023.6.20241010") from os-release / system-release fields, if given. */
export function al2023Release(distro: Pick<Distro, 'versionId' | 'prettyName'> | undefined): { release: string; date: string } | undefined {
  for (const s of [distro?.versionId, distro?.prettyName]) {
    const m = s ? /\b(2023\.\d+\.(\d{8}))\b/.exec(s) : null;
    if (m) return { release: m[1]!, date: `${m[2]!.slice(0, 4)}-${m[2]!.slice(4, 6)}-${m[2]!.slice(6, 8)}` };
  }
  return undefined;
}

interface FindingLike {
  fixState: string;
  fixedIn?: string;
  package: { name: string };
  evidence: ReadonlyArray<{ source: string; advisory: string; key: { ecosystem: string } }>;
  remediation?: string;
}

/**
 * Sets `remediation` on the ALAS findings of an Amazon Linux image. `issuedOf` gives an
 * advisory id's issue date (ISO) when known.
 */
export function annotateAlasFindings(findings: FindingLike[], distro: Distro | undefined, issuedOf: (advisoryId: string) => string | undefined): void {
  for (const f of findings) {
    const ev = f.evidence.find((e) => e.source === 'alas');
    if (!ev || f.fixState !== 'fixed' || !f.fixedIn) continue;
    const upgrade = `dnf upgrade ${f.package.name}`;
    if (ev.key.ecosystem !== 'Amazon Linux:2023') {
      f.remediation = `${ev.advisory}: upgrade ${f.package.name} to ${f.fixedIn} or later (\`yum update ${f.package.name}\`)`;
      continue;
    }
    const issued = issuedOf(ev.advisory)?.slice(0, 10);
    const image = al2023Release(distro);
    const ships = issued ? `the first AL2023 release dated ${issued} or later ships it` : 'the AL2023 release that ships it is not named by the advisory';
    if (image && issued && image.date < issued) {
      f.remediation = `${ev.advisory}: fixed in ${f.fixedIn}; ${ships}. The image's release ${image.release} predates it and AL2023 releases are frozen: run \`dnf upgrade --releasever=latest\` (or a release dated ${issued} or later), then \`${upgrade}\``;
    } else if (image) {
      f.remediation = `${ev.advisory}: fixed in ${f.fixedIn}; ${ships}, and the image's release ${image.release} already has it: \`${upgrade}\``;
    } else {
      f.remediation = `${ev.advisory}: fixed in ${f.fixedIn}; ${ships}. The image's AL2023 release is not known: if it predates the fix, \`dnf upgrade --releasever=latest\`, else \`${upgrade}\``;
    }
  }
}
