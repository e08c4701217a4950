/**
 * The Debian Security Tracker, in its two public forms, read into the normalised model:
 *
 * - `readDebianTrackerJson`: the tracker's own export (security-tracker.debian.org/tracker/data/json),
 *   { <source package>: { <CVE or TEMP- id>: { description, scope, debianbug, releases: { <codename>:
 *   { status, repositories, fixed_version?, urgency, nodsa?, nodsa_reason? } } } } }. The tracker
 *   has already combined the CVE list, the DSA/DLA lists and the archive here: every release's
 *   status is final.
 * - `readDebianVulnList`: the tracker's data/CVE/list, data/DSA/list and data/DLA/list entries as
 *   aquasecurity/vuln-list writes them (one JSON file per entry, Header + Annotations). These are
 *   the hand-written annotations only, without the archive: see readDebianVulnList for what that
 *   leaves unknown.
 *
 * Keys: one AffectedPackage per (source package, release), ecosystem "Debian:<N>" as OSV spells it
 * (bookworm → "Debian:12"); unstable has no number, so sid is keyed "Debian:unstable" (an image that
 * reports sid/testing must be looked up under that key explicitly). Names are source packages.
 *
 * Every affected-but-unsettled state (not-fixed, deferred, wont-fix, undetermined) carries the
 * interval { introduced: "0" }: the tracker does not record where a flaw was introduced, so every
 * version of that release is concerned and fixState says how. not-affected carries no interval.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dpkgComparator } from '../versions/dpkg.js';
import { SEVERITIES, type Advisory, type AdvisoryReadResult, type AffectedPackage, type FixState, type Severity } from './types.js';

/** Debian codename → release number as OSV writes the ecosystem ("Debian:12"); sid → "unstable". */
export const DEBIAN_RELEASES: Readonly<Record<string, string>> = {
  woody: '3.0',
  sarge: '3.1',
  etch: '4.0',
  lenny: '5.0',
  squeeze: '6.0',
  wheezy: '7',
  jessie: '8',
  stretch: '9',
  buster: '10',
  bullseye: '11',
  bookworm: '12',
  trixie: '13',
  forky: '14',
  duke: '15',
  sid: 'unstable',
};

/** "Debian:12" for "bookworm", "Debian:unstable" for "sid", undefined for a codename not known here. */
export function debianEcosystem(codename: string): string | undefined {
  const n = Object.hasOwn(DEBIAN_RELEASES, codename) ? DEBIAN_RELEASES[codename] : undefined;
  return n === undefined ? undefined : `Debian:${n}`;
}

/**
 * A tracker urgency (with its "*" / "**" markers: * = not yet reviewed, ** = taken from NVD) as
 * a Severity. `unimportant` is negligible: the security team holds it is no security problem worth
 * fixing in a stable release (other scanners report it as Negligible); `not yet assigned` and
 * `end-of-life` are no severity.
 */
export function debianUrgencySeverity(urgency: string | undefined): Severity | undefined {
  switch (urgency?.replace(/\*+$/, '').trim().toLowerCase()) {
    case 'unimportant':
      return 'negligible';
    case 'low':
      return 'low';
    case 'medium':
      return 'medium';
    case 'high':
      return 'high';
    default:
      return undefined;
  }
}

function bump(counts: Record<string, number>, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function str(x: unknown): string | undefined {
  return typeof x === 'string' ? x : undefined;
}

/** The most severe of the per-package severities, "unknown" when none has one. */
function overallSeverity(affected: readonly AffectedPackage[]): Severity {
  let best = SEVERITIES.indexOf('unknown');
  for (const p of affected) if (p.severity) best = Math.min(best, SEVERITIES.indexOf(p.severity));
  return SEVERITIES[best]!;
}

function withoutUndefined(o: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

async function textOf(input: string | Uint8Array): Promise<{ text: string; where: string }> {
  if (typeof input === 'string') return { text: await readFile(input, 'utf8'), where: input };
  return { text: Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8'), where: 'debian tracker JSON' };
}

// ---------------------------------------------------------------------------------------------
// The JSON export
// ---------------------------------------------------------------------------------------------

/**
 * The fix state of one release entry of the JSON export, exactly as the tracker means it:
 * - resolved, fixed_version "0": the release never had the flaw → not-affected;
 * - resolved, fixed_version X: fixed in X → fixed, interval [0, X);
 * - open: affected, no fix in the release → not-fixed, unless
 *   - urgency end-of-life: the package is not security-supported in that release any more → wont-fix;
 *   - nodsa_reason "ignored": the team decided not to fix it there (`<ignored>`) → wont-fix;
 *   - nodsa_reason "postponed": fix held back for a later update (`<postponed>`) → deferred;
 *   - nodsa set with no reason (`<no-dsa>`): no DSA will be issued, the fix may come through a
 *     stable point release → deferred (affected, a fix is expected but not as a security update);
 * - undetermined: not yet decided whether the release is affected → undetermined (end-of-life
 *   still wins: an unsupported release will never be decided).
 * The urgency gives the severity in every case (`unimportant` → negligible), never the state.
 */
export function trackerReleaseState(rel: { status?: string; fixed_version?: string; urgency?: string; nodsa?: string; nodsa_reason?: string }):
  | { fixState: FixState; fixed?: string }
  | { error: string } {
  const eol = rel.urgency?.replace(/\*+$/, '').trim() === 'end-of-life';
  switch (rel.status) {
    case 'resolved': {
      const v = rel.fixed_version?.trim();
      if (!v) return { error: 'status "resolved" without a fixed_version' };
      if (v === '0') return { fixState: 'not-affected' };
      return { fixState: 'fixed', fixed: v };
    }
    case 'open':
      if (eol) return { fixState: 'wont-fix' };
      if (rel.nodsa_reason === 'ignored') return { fixState: 'wont-fix' };
      if (rel.nodsa_reason === 'postponed') return { fixState: 'deferred' };
      if (rel.nodsa !== undefined) return { fixState: 'deferred' };
      return { fixState: 'not-fixed' };
    case 'undetermined':
      return { fixState: eol ? 'wont-fix' : 'undetermined' };
    default:
      return { error: `unknown status ${JSON.stringify(rel.status)}` };
  }
}

/**
 * The tracker's JSON export (a path or its bytes) → one Advisory per CVE (or TEMP-) id, with one
 * AffectedPackage per (source package, release) under that id. The whole document is parsed at
 * once (the live export is ~80 MB); what is kept per entry is small.
 */
export async function readDebianTrackerJson(input: string | Uint8Array): Promise<AdvisoryReadResult> {
  const result: AdvisoryReadResult = { advisories: [], issues: [], counts: {} };
  let where = typeof input === 'string' ? input : 'debian tracker JSON';
  let doc: unknown;
  try {
    const t = await textOf(input);
    where = t.where;
    doc = JSON.parse(t.text);
  } catch (e) {
    result.issues.push({ where, message: `not readable as JSON: ${(e as Error).message}` });
    return result;
  }
  if (!isObject(doc)) {
    result.issues.push({ where, message: 'not the tracker JSON export: the top level is not an object of source packages' });
    return result;
  }
  const byId = new Map<string, Advisory>();
  for (const [pkg, issuesOfPkg] of Object.entries(doc)) {
    if (!isObject(issuesOfPkg)) {
      result.issues.push({ where: `${where}: ${pkg}`, message: 'source package entry is not an object' });
      continue;
    }
    for (const [id, entry] of Object.entries(issuesOfPkg)) {
      const at = `${where}: ${pkg} ${id}`;
      if (!isObject(entry)) {
        result.issues.push({ where: at, message: 'entry is not an object' });
        continue;
      }
      const releases = entry.releases;
      // The export writes an empty list, not an object, when no release has the package.
      if (Array.isArray(releases) && releases.length === 0) {
        bump(result.counts, 'no-releases');
        continue;
      }
      if (!isObject(releases)) {
        result.issues.push({ where: at, message: 'releases is not an object' });
        continue;
      }
      let advisory = byId.get(id);
      for (const [codename, rel] of Object.entries(releases)) {
        const ecosystem = debianEcosystem(codename);
        if (!ecosystem) {
          bump(result.counts, 'unknown-release');
          continue;
        }
        if (!isObject(rel)) {
          result.issues.push({ where: `${at} ${codename}`, message: 'release entry is not an object' });
          continue;
        }
        const raw = {
          status: str(rel.status),
          fixed_version: str(rel.fixed_version),
          urgency: str(rel.urgency),
          nodsa: str(rel.nodsa),
          nodsa_reason: str(rel.nodsa_reason),
        };
        const state = trackerReleaseState(raw);
        if ('error' in state) {
          result.issues.push({ where: `${at} ${codename}`, message: state.error });
          continue;
        }
        if (raw.urgency?.replace(/\*+$/, '').trim() === 'end-of-life') bump(result.counts, 'end-of-life');
        const severity = debianUrgencySeverity(raw.urgency);
        const affected: AffectedPackage = {
          ecosystem,
          name: pkg,
          scheme: 'dpkg',
          intervals: state.fixState === 'not-affected' ? [] : [{ introduced: '0', ...(state.fixed !== undefined ? { fixed: state.fixed } : {}) }],
          versions: [],
          fixState: state.fixState,
          ...(severity ? { severity } : {}),
          notes: withoutUndefined({
            release: codename,
            status: raw.status,
            urgency: raw.urgency,
            nodsa: raw.nodsa,
            nodsa_reason: raw.nodsa_reason,
            // an open release may still name the version that fixed unstable
            fixed_version: state.fixState === 'fixed' || state.fixState === 'not-affected' ? undefined : raw.fixed_version,
          }),
        };
        if (!advisory) {
          advisory = { id, source: 'debian-tracker', aliases: [], related: [], severity: 'unknown', cvss: [], affected: [] };
          const description = str(entry.description);
          if (description) advisory.summary = description;
          const scope = str(entry.scope);
          const bug = typeof entry.debianbug === 'number' || typeof entry.debianbug === 'string' ? entry.debianbug : undefined;
          if (scope !== undefined || bug !== undefined) advisory.databaseSpecific = withoutUndefined({ scope, debianbug: bug });
          byId.set(id, advisory);
        }
        advisory.affected.push(affected);
      }
    }
  }
  for (const a of byId.values()) {
    if (a.affected.length === 0) continue;
    a.severity = overallSeverity(a.affected);
    if (a.id.startsWith('TEMP-')) bump(result.counts, 'temp-ids');
    result.advisories.push(a);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// The list entries (vuln-list layout)
// ---------------------------------------------------------------------------------------------

interface Annotation {
  Original?: string;
  Type?: string;
  Release?: string;
  Package?: string;
  Kind?: string;
  Version?: string;
  Severity?: string;
  Description?: string;
  Bugs?: unknown;
}

/** What one "- pkg …" / "[release] - pkg …" line says, in the list format's own terms. */
export function listLineState(kind: string | undefined, version: string | undefined): { fixState: FixState; fixed?: string } | { skip: 'removed' | 'itp' } | { error: string } {
  switch (kind) {
    case 'fixed': {
      const v = version?.trim();
      if (!v) return { error: 'fixed without a version' };
      // "- pkg 0" is an old spelling of <not-affected>
      if (v === '0') return { fixState: 'not-affected' };
      if (!dpkgComparator.isValid(v)) return { error: `fixed version ${JSON.stringify(v)} is not a dpkg version` };
      return { fixState: 'fixed', fixed: v };
    }
    case 'unfixed':
      return { fixState: 'not-fixed' };
    case 'no-dsa':
    case 'postponed':
      return { fixState: 'deferred' };
    case 'ignored':
    case 'end-of-life':
      return { fixState: 'wont-fix' };
    case 'not-affected':
      return { fixState: 'not-affected' };
    case 'undetermined':
      return { fixState: 'undetermined' };
    case 'removed':
      return { skip: 'removed' };
    case 'itp':
      return { skip: 'itp' };
    default:
      return { error: `unknown kind ${JSON.stringify(kind)}` };
  }
}

interface ParsedEntry {
  advisory: Advisory;
  /** "ecosystem\0name" of the entries the file's own lines gave */
  own: Set<string>;
}

const keyOf = (p: { ecosystem: string; name: string }) => `${p.ecosystem}\u0000${p.name}`;

/** "[03 Oct 2023] DSA-5514-1 …" → "2023-10-03T00:00:00.000Z" */
function listDate(original: string | undefined): string | undefined {
  const m = /^\[(\d{1,2}) ([A-Za-z]{3}) (\d{4})\]/.exec(original ?? '');
  if (!m) return undefined;
  const t = Date.parse(`${m[1]} ${m[2]} ${m[3]} 00:00:00 UTC`);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/** One vuln-list file → an advisory (or nothing, with the reason counted). */
function parseListEntry(json: unknown, where: string, result: AdvisoryReadResult): ParsedEntry | undefined {
  if (!isObject(json) || !isObject(json.Header) || !Array.isArray(json.Annotations)) {
    result.issues.push({ where, message: 'not a tracker list entry (Header + Annotations)' });
    return undefined;
  }
  const id = str(json.Header.ID)?.trim();
  if (!id) {
    result.issues.push({ where, message: 'Header.ID missing' });
    return undefined;
  }
  const at = `${where} (${id})`;
  const annotations = json.Annotations.filter(isObject) as Annotation[];
  const aliases: string[] = [];
  let todo: string | undefined;
  for (const a of annotations) {
    if (a.Type === 'xref' && Array.isArray(a.Bugs)) for (const b of a.Bugs) if (typeof b === 'string' && b !== id && !aliases.includes(b)) aliases.push(b);
    if (a.Type === 'TODO') todo = a.Description ?? 'check';
  }
  const lines = annotations.filter((a) => a.Type === 'package');
  // The list puts the urgency on the unstable line ("- apt <unfixed> (unimportant; …)"); release lines
  // carry a reason instead ("(Minor issue)"), so they take the unstable line's urgency unless they have one.
  const sidSeverity = new Map<string, string>();
  for (const a of lines) if (!a.Release && a.Package && a.Severity) sidSeverity.set(a.Package, a.Severity);

  const affected: AffectedPackage[] = [];
  const own = new Set<string>();
  for (const a of lines) {
    const name = a.Package?.trim();
    if (!name) {
      result.issues.push({ where: at, message: `package line without a package: ${a.Original ?? ''}` });
      continue;
    }
    const codename = a.Release?.trim() || 'sid';
    if (codename === 'experimental') {
      bump(result.counts, 'experimental');
      continue;
    }
    const ecosystem = debianEcosystem(codename);
    if (!ecosystem) {
      bump(result.counts, 'unknown-release');
      continue;
    }
    const state = listLineState(a.Kind, a.Version);
    if ('error' in state) {
      result.issues.push({ where: at, message: `${state.error}: ${a.Original ?? `${a.Release ? `[${a.Release}] ` : ''}- ${name} <${a.Kind}>`}` });
      continue;
    }
    if ('skip' in state) {
      bump(result.counts, state.skip);
      continue;
    }
    const k = keyOf({ ecosystem, name });
    if (own.has(k)) {
      bump(result.counts, 'duplicate-line');
      continue;
    }
    own.add(k);
    const urgency = a.Severity ?? sidSeverity.get(name);
    const severity = debianUrgencySeverity(urgency);
    affected.push({
      ecosystem,
      name,
      scheme: 'dpkg',
      intervals: state.fixState === 'not-affected' ? [] : [{ introduced: '0', ...(state.fixed !== undefined ? { fixed: state.fixed } : {}) }],
      versions: [],
      fixState: state.fixState,
      ...(severity ? { severity } : {}),
      notes: withoutUndefined({ release: codename, kind: a.Kind, urgency, reason: a.Description, line: a.Original, todo }),
    });
  }
  if (affected.length === 0) {
    bump(result.counts, todo !== undefined ? 'todo-without-package' : 'no-package-lines');
    return undefined;
  }
  // Aliases name the same vulnerability. A CVE entry's xrefs are notices (DSA/DLA), which may fix
  // several CVEs at once: related, not aliases. A notice that fixes one CVE is that CVE's alias; one
  // that fixes several has them as upstream ids (so two CVEs are never merged through their DSA).
  const isNotice = /^(DSA|DLA|DTSA)-/.test(id);
  const advisory: Advisory = isNotice
    ? { id, source: 'debian-tracker', aliases: aliases.length === 1 ? aliases : [], ...(aliases.length > 1 ? { upstream: aliases } : {}), related: [], severity: overallSeverity(affected), cvss: [], affected }
    : { id, source: 'debian-tracker', aliases: aliases.filter((a) => !/^(DSA|DLA|DTSA)-/.test(a)), related: aliases.filter((a) => /^(DSA|DLA|DTSA)-/.test(a)), severity: overallSeverity(affected), cvss: [], affected };
  const summary = str(json.Header.Description)
    ?.trim()
    .replace(/^[([](.*)[)\]]$/s, '$1')
    .trim();
  if (summary) advisory.summary = summary;
  const published = listDate(str(json.Header.Original));
  if (published) advisory.published = published;
  return { advisory, own };
}

/**
 * The tracker's list entries in vuln-list's layout: `dir`/CVE, `dir`/DSA, `dir`/DLA, one
 * Header + Annotations JSON file per entry. What the lines mean (the tracker's list format):
 *
 * - an annotation without Release is about unstable (sid, key "Debian:unstable"); with Release
 *   ("bookworm") it is about that release ("Debian:12"); `experimental` is skipped (counted);
 * - `- pkg X`: fixed in X; `<unfixed>`: not-fixed; `<no-dsa>` (a minor issue, fixed through a point
 *   release if at all) and `<postponed>`: deferred; `<ignored>` and `<end-of-life>`: wont-fix;
 *   `<not-affected>`: not-affected; `<undetermined>`: undetermined; `<removed>` (the package left
 *   the archive) and `<itp>` (not yet packaged): no entry, counted;
 * - severity from the urgency in parentheses (`unimportant` → negligible), which release lines
 *   inherit from the unstable line; the state always comes from the kind;
 * - a CVE entry with only `TODO: check` names no package: no advisory (counted as todo-without-package).
 *
 * A release without a line of its own follows the unstable line (see inheritFromSid): fixed only
 * in sid means affected below the sid version, with no fix for that release. A DSA/DLA is the other way the
 * tracker marks a release fixed: its `[release] - pkg X` lines apply to every CVE it lists, so they
 * are copied into those CVEs' advisories for any (release, package) the CVE entry has no line of its
 * own for (notes.via names the DSA; the lowest fix wins when several DSAs fix the same release).
 * DSA/DLA entries are also advisories of their own: id "DSA-5514-1", alias the CVE when it fixes
 * one, upstream ids when it fixes several (then the CVEs list it as related, not as an alias).
 */
export async function readDebianVulnList(dir: string): Promise<AdvisoryReadResult> {
  const result: AdvisoryReadResult = { advisories: [], issues: [], counts: {} };
  const cves = new Map<string, ParsedEntry>();
  const notices: Advisory[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    result.issues.push({ where: dir, message: `cannot list: ${(e as Error).message}` });
    return result;
  }
  const subdirs = entries.filter((e) => e.isDirectory() && /^(CVE|DSA|DLA)$/.test(e.name)).map((e) => e.name).sort();
  if (subdirs.length === 0) result.issues.push({ where: dir, message: 'no CVE/, DSA/ or DLA/ directory of tracker list entries' });
  for (const sub of subdirs) {
    const files = (await readdir(join(dir, sub))).filter((f) => f.endsWith('.json')).sort();
    for (const f of files) {
      const path = join(dir, sub, f);
      let json: unknown;
      try {
        json = JSON.parse(await readFile(path, 'utf8'));
      } catch (e) {
        result.issues.push({ where: path, message: `not readable as JSON: ${(e as Error).message}` });
        continue;
      }
      const parsed = parseListEntry(json, path, result);
      if (!parsed) continue;
      if (sub === 'CVE') {
        if (cves.has(parsed.advisory.id)) result.issues.push({ where: path, message: `${parsed.advisory.id} read twice; the first is kept` });
        else cves.set(parsed.advisory.id, parsed);
      } else notices.push(parsed.advisory);
    }
  }
  linkNotices(notices, cves, result);
  for (const { advisory } of cves.values()) inheritFromSid(advisory, result);
  for (const { advisory } of cves.values()) result.advisories.push(advisory);
  result.advisories.push(...notices);
  return result;
}

/** Releases a CVE's unstable line speaks for when they have no line of their own (buster to trixie). */
export const INHERITING_RELEASES = ['buster', 'bullseye', 'bookworm', 'trixie'] as const;

/**
 * What the tracker does for a release without a line of its own: the unstable line decides.
 * `- pkg <unfixed>` leaves every release unfixed; `- pkg X` (fixed only in sid) makes a release
 * affected while its version is below X — but X is not a fix that release can install, so the
 * entry is not-fixed with X as the bound (a release whose version already is ≥ X is outside the
 * interval: not affected, as the tracker shows it); `<not-affected>` holds for every release.
 */
function inheritFromSid(advisory: Advisory, result: AdvisoryReadResult): void {
  const sid = advisory.affected.filter((p) => p.ecosystem === 'Debian:unstable');
  for (const p of sid) {
    for (const codename of INHERITING_RELEASES) {
      const ecosystem = debianEcosystem(codename)!;
      if (advisory.affected.some((q) => q.ecosystem === ecosystem && q.name === p.name)) continue;
      const fixedInSid = p.fixState === 'fixed' ? p.intervals[0]?.fixed : undefined;
      advisory.affected.push({
        ...p,
        ecosystem,
        intervals: p.intervals.map((i) => ({ ...i })),
        fixState: p.fixState === 'fixed' ? 'not-fixed' : p.fixState,
        notes: { ...p.notes, release: codename, inheritedFrom: 'sid', ...(fixedInSid !== undefined ? { fixedOnlyInSid: fixedInSid } : {}) },
      });
      bump(result.counts, fixedInSid !== undefined ? 'fixed-only-in-sid' : 'inherited-from-sid');
    }
  }
}

/** DSA/DLA fixes → the CVEs they list (see readDebianVulnList). */
function linkNotices(notices: readonly Advisory[], cves: Map<string, ParsedEntry>, result: AdvisoryReadResult): void {
  for (const notice of notices) {
    for (const cveId of [...notice.aliases, ...(notice.upstream ?? [])]) {
      const cve = cves.get(cveId);
      if (!cve) continue;
      const list = notice.aliases.length === 1 ? cve.advisory.aliases : cve.advisory.related;
      if (!list.includes(notice.id)) list.push(notice.id);
      if (list === cve.advisory.aliases) cve.advisory.related = cve.advisory.related.filter((r) => r !== notice.id);
      for (const fix of notice.affected) {
        const fixed = fix.intervals[0]?.fixed;
        if (fix.fixState !== 'fixed' || fixed === undefined) continue;
        const k = keyOf(fix);
        if (cve.own.has(k)) continue;
        const existing = cve.advisory.affected.find((p) => keyOf(p) === k);
        if (existing) {
          const before = existing.intervals[0]?.fixed;
          if (before !== undefined && dpkgComparator.compare(fixed, before) < 0) {
            existing.intervals = [{ introduced: '0', fixed }];
            existing.notes = { ...existing.notes, via: notice.id };
          }
          continue;
        }
        const sidSeverity = cve.advisory.affected.find((p) => p.name === fix.name && p.ecosystem === 'Debian:unstable')?.severity;
        cve.advisory.affected.push({
          ...fix,
          intervals: [{ introduced: '0', fixed }],
          ...(sidSeverity ? { severity: sidSeverity } : {}),
          notes: { ...fix.notes, via: notice.id },
        });
        bump(result.counts, 'fixes-from-notices');
      }
      cve.advisory.severity = overallSeverity(cve.advisory.affected);
    }
  }
}
