/**
 * Amazon Linux Security Advisories (ALAS) read into the normalised model, from the two shapes
 * they are published in:
 *
 * - the distribution's own `updateinfo` XML (what each repository's repomd.xml names; gzip or
 *   plain): `<updates><update>` with `<id>`, `<issued date>`, `<updated date>`, `<severity>`,
 *   `<references><reference type="cve" id>`, `<pkglist><collection short><package name epoch
 *   version release arch>`. AL2023's is tens of MB uncompressed: it is STREAMED, one `<update>`
 *   element at a time, so memory is bounded by the largest single update (ALAS_MAX_UPDATE_BYTES),
 *   and the whole read by ALAS_MAX_TOTAL_BYTES uncompressed.
 * - vuln-list's JSON, one file per ALAS: { id, title, issued: {date}, updated: {date}, severity,
 *   packages: [{ name, epoch, version, release, arch }], references: [{ id, type }], cveids }.
 *
 * Meaning (one Advisory per ALAS):
 * - ecosystem "Amazon Linux:<1|2|2023>", from the id (ALAS2023-…, ALAS2-…, ALAS2KERNEL-5.15-…),
 *   else the collection (`amazon-linux-ami`, `amazon-linux-2`, `amazon-linux-2023…`), else the
 *   title, else the `amznN` tag in the package release; page/RSS ids (`ALAS-2024-606`,
 *   `ALASKERNEL-5.15-2022-001`) are recognised the same way and need one of the others (or
 *   `opts.release`) to place them, since AL1, AL2 and AL2023 pages all use `ALAS-`.
 * - one AffectedPackage per BINARY package name: the arch rows of one update are one fix
 *   (their EVRs agree in practice; if they do not, the lowest is kept, noted, and counted).
 * - the fixed version is the full EVR with the epoch ALWAYS written ("10:1.5.3-141.amzn2.5.3",
 *   "0:8.5.0-1.amzn2023.0.2"): rpm compares epochs first, and an EVR that drops a non-zero
 *   epoch would make every epoch-10 package look newer than its own fix.
 * - severity: low, medium, important → high, critical (AL2's lower-case and AL2023's
 *   capitalised spellings); anything else → unknown (counted).
 * - the CVEs (references of type cve, and vuln-list's cveids) are the aliases.
 * - notes per package: `topic` (AL2 extras topic "kernel-5.15", "golang1.19"; AL2023
 *   "livepatch", "nvidia"), `line` (the version line an extras topic carries, "5.15"),
 *   `issued` and `arches`; shared/match/alas.ts uses them to scope the fix.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Advisory, AdvisoryIssue, AdvisoryReadResult, AffectedPackage, Severity } from './types.js';
import { attrs, text } from './xml-text.js';

/** Largest single `<update>` element accepted (bytes of XML). */
export const ALAS_MAX_UPDATE_BYTES = 8 * 1024 * 1024;
/** Largest updateinfo document accepted (bytes, uncompressed). */
export const ALAS_MAX_TOTAL_BYTES = 1024 * 1024 * 1024;
/** Most packages one update may list. */
export const ALAS_MAX_PACKAGES = 20_000;

export type AlasRelease = '1' | '2' | '2023';

export interface AlasOptions {
  /** the release when neither id, collection, title nor package releases say it */
  release?: AlasRelease;
  /** name used in issues */
  where?: string;
  /** override ALAS_MAX_UPDATE_BYTES / ALAS_MAX_TOTAL_BYTES (tests) */
  maxUpdateBytes?: number;
  maxTotalBytes?: number;
}

export interface AlasId {
  /** the release the id's prefix names, if it names one (ALAS- names none) */
  release?: AlasRelease;
  /** extras / livepatch / nvidia topic as written in the id ("KERNEL-5.15", "GOLANG1.19", "LIVEPATCH") */
  topic?: string;
  year: string;
  number: string;
}

/**
 * "ALAS2023-2024-606", "ALAS2-2018-939", "ALAS2KERNEL-5.15-2022-001", "ALAS2023LIVEPATCH-2023-001",
 * "ALAS-2011-1", "ALASKERNEL-5.15-2022-001" (page form) → its parts; undefined for anything else.
 */
export function parseAlasId(id: string): AlasId | undefined {
  const m = /^ALAS(2023|2)?([A-Z][A-Z0-9._-]*?)?-(\d{4})-(\d+)$/.exec(id);
  if (!m) return undefined;
  return { ...(m[1] ? { release: m[1] as AlasRelease } : {}), ...(m[2] ? { topic: m[2] } : {}), year: m[3]!, number: m[4]! };
}

const SEVERITY: Readonly<Record<string, Severity>> = { low: 'low', medium: 'medium', moderate: 'medium', important: 'high', high: 'high', critical: 'critical' };

/** ALAS severity words (AL2 "important", AL2023 "Important") → the model's. */
export function alasSeverity(s: string | undefined): Severity {
  const k = (s ?? '').trim().toLowerCase();
  return Object.hasOwn(SEVERITY, k) ? SEVERITY[k]! : 'unknown';
}

/** "2023-02-17 20:41" / "2024-03-27 22:12:00" / ISO → ISO (UTC, as ALAS dates are); undefined when unreadable. */
export function alasDate(s: string | undefined): string | undefined {
  if (!s) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2})(?::(\d{2}))?)?/.exec(s.trim());
  if (!m) return undefined;
  const iso = `${m[1]}T${m[2] ?? '00:00'}:${m[3] ?? '00'}Z`;
  return Number.isNaN(Date.parse(iso)) ? undefined : iso;
}

/** Extras topic as a lower-case name and the version line it carries ("KERNEL-5.15" → kernel-5.15, 5.15). */
export function alasTopic(topic: string | undefined): { topic?: string; line?: string } {
  if (!topic) return {};
  const t = topic.toLowerCase();
  const line = /(\d+(?:\.\d+)*)$/.exec(t)?.[1];
  return { topic: t, ...(line && !/livepatch|nvidia/.test(t) ? { line } : {}) };
}

interface RawPackage {
  name?: string;
  epoch?: string;
  version?: string;
  release?: string;
  arch?: string;
}

interface RawUpdate {
  id?: string;
  title?: string;
  issued?: string;
  updated?: string;
  severity?: string;
  type?: string;
  collection?: string;
  cves: string[];
  refs: string[];
  packages: RawPackage[];
}

function releaseOf(u: RawUpdate, parsed: AlasId, fallback?: AlasRelease): AlasRelease | undefined {
  if (parsed.release) return parsed.release;
  const c = u.collection?.toLowerCase() ?? '';
  if (c.startsWith('amazon-linux-2023')) return '2023';
  if (c.startsWith('amazon-linux-2')) return '2';
  if (c.startsWith('amazon-linux-ami')) return '1';
  const t = u.title ?? '';
  if (/^Amazon Linux 2023\b/.test(t)) return '2023';
  if (/^Amazon Linux 2\b/.test(t)) return '2';
  if (/^Amazon Linux AMI\b/.test(t)) return '1';
  for (const p of u.packages) {
    const m = /\.amzn(2023|2|1)\b/.exec(p.release ?? '');
    if (m) return m[1] as AlasRelease;
  }
  return fallback;
}

const RPM_PART = /^[A-Za-z0-9._+~^]+$/;

/** One raw update → an Advisory (or an issue). */
function toAdvisory(u: RawUpdate, where: string, opts: AlasOptions, issues: AdvisoryIssue[], counts: Record<string, number>): Advisory | undefined {
  const bump = (k: string, n = 1) => (counts[k] = (counts[k] ?? 0) + n);
  const id = u.id?.trim() ?? '';
  const parsed = parseAlasId(id);
  if (!parsed) {
    issues.push({ where: `${where}${id ? ` ${id}` : ''}`, message: `not an ALAS id: "${id.slice(0, 80)}"` });
    return undefined;
  }
  if (u.type && u.type !== 'security') {
    bump('alas-not-security');
    return undefined;
  }
  const release = releaseOf(u, parsed, opts.release);
  if (!release) {
    issues.push({ where: `${where} ${id}`, message: 'the Amazon Linux release is not known (page id without collection, title or amzn release tag): skipped' });
    return undefined;
  }
  const ecosystem = `Amazon Linux:${release}`;
  const { topic, line } = alasTopic(parsed.topic);
  const livepatch = /livepatch/i.test(parsed.topic ?? '');
  const issued = alasDate(u.issued);
  const updated = alasDate(u.updated);
  const severity = alasSeverity(u.severity);
  if (severity === 'unknown') bump('alas-severity-unknown');

  const byName = new Map<string, { fixed: string; arches: Set<string>; evrs: Set<string> }>();
  for (const p of u.packages) {
    const name = p.name?.trim();
    const version = p.version?.trim();
    const rel = p.release?.trim();
    const epoch = p.epoch?.trim() || '0';
    if (!name || !version || !rel || !RPM_PART.test(version) || !RPM_PART.test(rel) || !/^\d+$/.test(epoch)) {
      issues.push({ where: `${where} ${id}`, message: `package row without a valid name/epoch/version/release (${JSON.stringify(p).slice(0, 200)}): row skipped` });
      continue;
    }
    // livepatch advisories fix only their livepatch packages
    if (livepatch && !name.startsWith('kernel-livepatch')) {
      bump('alas-livepatch-other-package');
      continue;
    }
    const evr = `${epoch}:${version}-${rel}`;
    let e = byName.get(name);
    if (!e) byName.set(name, (e = { fixed: evr, arches: new Set(), evrs: new Set() }));
    if (p.arch) e.arches.add(p.arch);
    e.evrs.add(evr);
  }
  const affected: AffectedPackage[] = [];
  for (const [name, e] of [...byName].sort(([a], [b]) => a.localeCompare(b))) {
    let fixed = e.fixed;
    if (e.evrs.size > 1) {
      bump('alas-arch-evrs-differ');
      // rare: arches disagree; the lowest is the one every arch has reached
      fixed = [...e.evrs].sort(compareEvrLoose)[0]!;
    }
    affected.push({
      ecosystem,
      name,
      purl: `pkg:rpm/amazon/${encodeURIComponent(name)}`,
      scheme: 'rpm',
      intervals: [{ introduced: '0', fixed }],
      versions: [],
      fixState: 'fixed',
      severity,
      notes: {
        ...(topic ? { topic } : {}),
        ...(line ? { line } : {}),
        ...(issued ? { issued } : {}),
        arches: [...e.arches].sort(),
        ...(e.evrs.size > 1 ? { archFixes: [...e.evrs].sort() } : {}),
      },
    });
  }
  if (affected.length === 0) {
    issues.push({ where: `${where} ${id}`, message: 'no usable package rows: skipped' });
    return undefined;
  }
  const aliases = [...new Set(u.cves.map((c) => c.trim()).filter((c) => /^CVE-\d{4}-\d{4,}$/.test(c)))].sort();
  return {
    id,
    source: 'alas',
    aliases,
    related: [],
    ...(u.title ? { summary: u.title.trim() } : {}),
    ...(issued ? { published: issued } : {}),
    ...(updated ?? issued ? { modified: updated ?? issued } : {}),
    severity,
    cvss: [],
    affected,
    ...(u.refs.length ? { references: [...new Set(u.refs)] } : {}),
    databaseSpecific: { release, ...(topic ? { topic } : {}), ...(u.collection ? { collection: u.collection } : {}) },
  };
}

/** Only for choosing between disagreeing arch rows; the matcher uses shared/versions/rpm. */
function compareEvrLoose(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

// ---------------------------------------------------------------------------------------------
// updateinfo XML

/** One `<update …>…</update>` element → its raw fields (a fixed shape: no general XML needed). */
export function parseUpdateElement(xml: string): RawUpdate {
  const open = /^<update\b([^>]*)>/.exec(xml);
  const top = open ? attrs(open[1]!) : {};
  // the description is free text: drop it before looking for tags so nothing in it is mistaken for one
  const body = xml.replace(/<description\b[^>]*>[\s\S]*?<\/description>|<description\b[^>]*\/>/, '');
  const u: RawUpdate = { cves: [], refs: [], packages: [] };
  u.id = text(body, 'id')?.trim();
  u.title = text(body, 'title')?.trim();
  u.severity = text(body, 'severity')?.trim();
  if (top.type) u.type = top.type;
  const issued = /<issued\b([^>]*)\/?>/.exec(body);
  if (issued) u.issued = attrs(issued[1]!).date;
  const updated = /<updated\b([^>]*)\/?>/.exec(body);
  if (updated) u.updated = attrs(updated[1]!).date;
  for (const m of body.matchAll(/<reference\b([^>]*?)\/?>/g)) {
    const a = attrs(m[1]!);
    if (a.type === 'cve' && a.id) u.cves.push(a.id);
    if (a.href) u.refs.push(a.href);
  }
  const coll = /<collection\b([^>]*)>/.exec(body);
  if (coll) u.collection = attrs(coll[1]!).short;
  for (const m of body.matchAll(/<package\b([^>]*?)\/?>/g)) {
    if (u.packages.length >= ALAS_MAX_PACKAGES) throw new RangeError(`update lists more than ${ALAS_MAX_PACKAGES} packages (ALAS_MAX_PACKAGES)`);
    const a = attrs(m[1]!);
    u.packages.push({ name: a.name, epoch: a.epoch, version: a.version, release: a.release, arch: a.arch });
  }
  return u;
}

function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** Bytes → chunks, gunzipped when the content is gzip (told by its magic, not its name). */
async function* maybeGunzip(input: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  const it = input[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  const rest = (async function* () {
    yield first.value;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield n.value;
    }
  })();
  if (!isGzip(first.value)) {
    for await (const c of rest) yield Buffer.from(c);
    return;
  }
  const gunzip = Readable.from(rest).pipe(createGunzip());
  for await (const c of gunzip) yield c as Buffer;
}

/**
 * Stream an updateinfo document (a path, bytes, or a byte stream; gzip or plain) and yield each
 * `<update>` as an Advisory (or issues). Memory: one update element at a time.
 */
export async function* alasUpdates(
  input: string | Uint8Array | AsyncIterable<Uint8Array>,
  opts: AlasOptions = {},
): AsyncGenerator<{ advisory?: Advisory; issues: AdvisoryIssue[]; counts: Record<string, number> }> {
  const where = opts.where ?? (typeof input === 'string' ? input : 'updateinfo');
  const maxUpdate = opts.maxUpdateBytes ?? ALAS_MAX_UPDATE_BYTES;
  const maxTotal = opts.maxTotalBytes ?? ALAS_MAX_TOTAL_BYTES;
  const source: AsyncIterable<Uint8Array> =
    typeof input === 'string' ? createReadStream(input, { highWaterMark: 1 << 20 }) : input instanceof Uint8Array ? (async function* () { yield input; })() : input;
  let buf = '';
  // where to resume looking for '</update>' in buf (an open element is not rescanned from its start)
  let scanFrom = 0;
  let total = 0;
  let sawUpdates = false;
  const decoder = new TextDecoder('utf-8');
  const tail = (s: string) => s.slice(-16);
  for await (const chunk of maybeGunzip(source)) {
    total += chunk.length;
    if (total > maxTotal) throw new RangeError(`${where}: updateinfo larger than ${maxTotal} bytes uncompressed (ALAS_MAX_TOTAL_BYTES)`);
    buf += decoder.decode(chunk, { stream: true });
    if (!sawUpdates) {
      if (/<updates\b/.test(buf)) sawUpdates = true;
      else if (buf.length > 64 * 1024) throw new RangeError(`${where}: not an updateinfo document (no <updates> in the first 64 KiB)`);
    }
    for (;;) {
      const start = buf.search(/<update\b[\s>]/);
      if (start < 0) {
        buf = tail(buf);
        break;
      }
      const end = buf.indexOf('</update>', Math.max(start, scanFrom));
      if (end < 0) {
        buf = buf.slice(start);
        scanFrom = Math.max(0, buf.length - '</update>'.length);
        if (buf.length > maxUpdate) throw new RangeError(`${where}: one <update> is larger than ${maxUpdate} bytes (ALAS_MAX_UPDATE_BYTES)`);
        break;
      }
      const element = buf.slice(start, end + '</update>'.length);
      buf = buf.slice(end + '</update>'.length);
      scanFrom = 0;
      if (element.length > maxUpdate) throw new RangeError(`${where}: one <update> is larger than ${maxUpdate} bytes (ALAS_MAX_UPDATE_BYTES)`);
      const issues: AdvisoryIssue[] = [];
      const counts: Record<string, number> = {};
      let advisory: Advisory | undefined;
      try {
        advisory = toAdvisory(parseUpdateElement(element), where, opts, issues, counts);
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
        issues.push({ where, message: e.message });
      }
      yield { ...(advisory ? { advisory } : {}), issues, counts };
    }
  }
  if (!sawUpdates) throw new RangeError(`${where}: not an updateinfo document (no <updates>)`);
}

/** Read a whole updateinfo document (streamed) into a result. */
export async function readAlasUpdateinfo(input: string | Uint8Array | AsyncIterable<Uint8Array>, opts: AlasOptions = {}): Promise<AdvisoryReadResult> {
  const out: AdvisoryReadResult = { advisories: [], issues: [], counts: {} };
  for await (const r of alasUpdates(input, opts)) {
    if (r.advisory) out.advisories.push(r.advisory);
    out.issues.push(...r.issues);
    for (const [k, v] of Object.entries(r.counts)) out.counts[k] = (out.counts[k] ?? 0) + v;
  }
  return out;
}

/** Whether a parsed JSON document is vuln-list's one-ALAS-per-file shape. */
export function isAlasVulnListJson(json: unknown): boolean {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return false;
  const o = json as Record<string, unknown>;
  return typeof o.id === 'string' && /^ALAS/.test(o.id) && Array.isArray(o.packages) && !('affected' in o);
}

/** vuln-list's JSON for one ALAS → the normalised model. */
export function readAlasVulnListJson(json: unknown, opts: AlasOptions = {}): AdvisoryReadResult {
  const where = opts.where ?? 'ALAS JSON';
  const out: AdvisoryReadResult = { advisories: [], issues: [], counts: {} };
  if (!isAlasVulnListJson(json)) {
    out.issues.push({ where, message: 'not an ALAS record (id ALAS…, packages[])' });
    return out;
  }
  const o = json as Record<string, unknown>;
  const str = (x: unknown) => (typeof x === 'string' ? x : typeof x === 'number' ? String(x) : undefined);
  const date = (x: unknown) => (x && typeof x === 'object' ? str((x as Record<string, unknown>).date) : str(x));
  const refs = Array.isArray(o.references) ? (o.references as unknown[]).filter((r): r is Record<string, unknown> => !!r && typeof r === 'object') : [];
  const u: RawUpdate = {
    id: str(o.id),
    title: str(o.title),
    issued: date(o.issued),
    updated: date(o.updated),
    severity: str(o.severity),
    cves: [...refs.filter((r) => r.type === 'cve').map((r) => str(r.id) ?? ''), ...(Array.isArray(o.cveids) ? (o.cveids as unknown[]).map((c) => str(c) ?? '') : [])],
    refs: refs.map((r) => str(r.href)).filter((h): h is string => !!h),
    packages: (o.packages as unknown[]).slice(0, ALAS_MAX_PACKAGES).map((p) => {
      const r = p && typeof p === 'object' ? (p as Record<string, unknown>) : {};
      return { name: str(r.name), epoch: str(r.epoch), version: str(r.version), release: str(r.release), arch: str(r.arch) };
    }),
  };
  const a = toAdvisory(u, where, opts, out.issues, out.counts);
  if (a) out.advisories.push(a);
  return out;
}
