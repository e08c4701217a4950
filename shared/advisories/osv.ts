/**
 * OSV records (https://ossf.github.io/osv-schema/) → Advisory: one JSON file, a directory
 * of them, or an OSV all.zip read as a stream (an npm all.zip is hundreds of MB: it is
 * never held in memory, only one member at a time).
 *
 * What is kept, and how:
 * - affected[] per package: the ecosystem key and name from ecosystems.ts (an ecosystem it
 *   does not know is counted as "unknown-ecosystem:<ecosystem>" and that entry skipped);
 *   ECOSYSTEM and SEMVER ranges become intervals (below); GIT ranges need the repository's
 *   commit graph and are counted ("git-ranges-ignored"), the entry's `versions` list still
 *   matches; fixState is "fixed" when some interval has a fixed version, else "not-fixed".
 * - Intervals: a range's events sorted in the ecosystem's order (SEMVER ranges in SemVer
 *   order; "0" first, a "*" limit last; events it cannot sort stay as written, counted
 *   "events-unsorted"), then walked as the spec's evaluation does: an introduced opens an
 *   interval (a second one while open changes nothing), fixed or last_affected closes it
 *   (with none open it changes nothing), one still open at the end has no upper bound.
 *   A range's limits (v < any limit) bound every interval of the range by the highest one.
 * - severity[] (top level and per package): CVSS vectors scored by cvss.ts, a malformed one
 *   counted ("cvss-invalid"); Ubuntu priorities read as labels. Advisory.severity is the
 *   highest CVSS severity, else the label (Ubuntu, or GitHub's database_specific.severity),
 *   else "unknown". A package's own severity: its CVSS, else its Ubuntu priority, else
 *   ecosystem_specific urgency/priority/severity (Debian's urgency).
 * - Kept as evidence in AffectedPackage.notes: ecosystem_specific, the entry's
 *   database_specific, and the ecosystem as OSV wrote it when the key differs.
 * A record that is not OSV (bad JSON, no id, affected not an array) is an AdvisoryIssue
 * naming the file; the read goes on.
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { inflateSync, Unzip, UnzipInflate, type AsyncFlateStreamHandler, type FlateError, type UnzipDecoder } from 'fflate';
import { comparatorFor, type Comparator } from '../versions/index.js';
import { scoreCvss, severityFromLabel, type CvssType } from './cvss.js';
import { ecosystemInfo } from './ecosystems.js';
import { SEVERITIES, type Advisory, type AdvisoryIssue, type AdvisoryReadResult, type AffectedInterval, type AffectedPackage, type CvssScore, type Severity } from './types.js';

/** One record read: the advisory (absent when the record was not usable), its issues and counts. */
export interface OsvRecordResult {
  advisory?: Advisory;
  issues: AdvisoryIssue[];
  counts: Record<string, number>;
}

/** A single OSV record is never this large; a zip member that is, is refused rather than held in memory. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : []);

function bump(counts: Record<string, number>, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}

/** The most severe of `list` (undefined for an empty list). */
function highest(list: Iterable<Severity | undefined>): Severity | undefined {
  let best: Severity | undefined;
  for (const s of list) if (s && (best === undefined || SEVERITIES.indexOf(s) < SEVERITIES.indexOf(best))) best = s;
  return best;
}

/** OSV JSON text (or bytes) → one record result; text that is not JSON is an issue. */
export function parseOsvText(text: string | Uint8Array, where: string): OsvRecordResult {
  let json: unknown;
  try {
    const s = typeof text === 'string' ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('utf8');
    json = JSON.parse(s.charCodeAt(0) === 0xfeff ? s.slice(1) : s);
  } catch (e) {
    return { issues: [{ where, message: `not valid JSON: ${(e as Error).message}` }], counts: {} };
  }
  return parseOsvRecord(json, where);
}

/** One parsed OSV record → Advisory. Never throws: what is wrong with the record is an issue. */
export function parseOsvRecord(json: unknown, where: string): OsvRecordResult {
  const counts: Record<string, number> = {};
  if (!isObject(json)) return { issues: [{ where, message: 'not an OSV record: not a JSON object' }], counts };
  const id = str(json.id);
  if (!id) return { issues: [{ where, message: 'not an OSV record: no "id" string' }], counts };
  const here = `${where} (${id})`;
  if (json.affected !== undefined && !Array.isArray(json.affected)) {
    return { issues: [{ where: here, message: '"affected" is not an array' }], counts };
  }

  const top = readSeverities(json.severity, counts);
  const cvss: CvssScore[] = [...top.cvss];
  const affected: AffectedPackage[] = [];
  for (const entry of (json.affected as unknown[] | undefined) ?? []) {
    const pkg = readAffected(entry, counts);
    if (!pkg) continue;
    affected.push(pkg.affected);
    for (const c of pkg.cvss) if (!cvss.some((x) => x.vector === c.vector)) cvss.push(c);
  }

  const databaseSpecific = isObject(json.database_specific) ? json.database_specific : undefined;
  const label = top.label ?? (typeof databaseSpecific?.severity === 'string' ? severityFromLabel(databaseSpecific.severity) : undefined);
  const advisory: Advisory = {
    id,
    source: 'osv',
    aliases: strings(json.aliases),
    related: strings(json.related),
    severity: highest(cvss.map((c) => c.severity)) ?? label ?? 'unknown',
    cvss,
    affected,
  };
  const upstream = strings(json.upstream);
  if (upstream.length > 0) advisory.upstream = upstream;
  const summary = str(json.summary)?.trim() || firstLine(json.details);
  if (summary) advisory.summary = summary;
  const published = str(json.published);
  if (published) advisory.published = published;
  const modified = str(json.modified);
  if (modified) advisory.modified = modified;
  const withdrawn = str(json.withdrawn);
  if (withdrawn) {
    advisory.withdrawn = withdrawn;
    bump(counts, 'withdrawn');
  }
  const references = Array.isArray(json.references) ? json.references.flatMap((r) => (isObject(r) && str(r.url) ? [r.url as string] : [])) : [];
  if (references.length > 0) advisory.references = references;
  if (databaseSpecific) advisory.databaseSpecific = databaseSpecific;
  return { advisory, issues: [], counts };
}

function firstLine(details: unknown): string | undefined {
  if (typeof details !== 'string') return undefined;
  return details.split('\n').map((l) => l.trim()).find((l) => l !== '');
}

/** severity[]: CVSS vectors scored, Ubuntu priorities as a label. */
function readSeverities(list: unknown, counts: Record<string, number>): { cvss: CvssScore[]; label?: Severity } {
  const cvss: CvssScore[] = [];
  const labels: Severity[] = [];
  if (!Array.isArray(list)) return { cvss };
  for (const item of list) {
    if (!isObject(item)) continue;
    const type = str(item.type);
    const score = typeof item.score === 'string' ? item.score : '';
    if (type === 'CVSS_V2' || type === 'CVSS_V3' || type === 'CVSS_V4') {
      const scored = scoreCvss(type as CvssType, score);
      if (!scored) bump(counts, 'cvss-invalid');
      else if (!cvss.some((c) => c.vector === scored.vector)) cvss.push(scored);
    } else if (type === 'Ubuntu') {
      const s = severityFromLabel(score);
      if (s && s !== 'unknown') labels.push(s);
    } else {
      bump(counts, `severity-type-ignored:${type ?? '(none)'}`);
    }
  }
  return { cvss, label: highest(labels) };
}

function readAffected(entry: unknown, counts: Record<string, number>): { affected: AffectedPackage; cvss: CvssScore[] } | undefined {
  const pkg = isObject(entry) && isObject(entry.package) ? entry.package : undefined;
  const osvEcosystem = str(pkg?.ecosystem);
  const rawName = str(pkg?.name);
  if (!isObject(entry) || !osvEcosystem || !rawName) {
    bump(counts, 'affected-without-package');
    return undefined;
  }
  const info = ecosystemInfo(osvEcosystem);
  if (!info) {
    bump(counts, `unknown-ecosystem:${osvEcosystem}`);
    return undefined;
  }
  const intervals: AffectedInterval[] = [];
  for (const range of Array.isArray(entry.ranges) ? entry.ranges : []) {
    const type = isObject(range) ? str(range.type) : undefined;
    if (!isObject(range) || !Array.isArray(range.events)) {
      bump(counts, 'invalid-range');
    } else if (type === 'GIT') {
      bump(counts, 'git-ranges-ignored');
    } else if (type === 'ECOSYSTEM' || type === 'SEMVER') {
      const order = type === 'SEMVER' ? comparatorOrUndefined('semver') : info.scheme && comparatorOrUndefined(info.scheme);
      intervals.push(...rangeIntervals(range.events, order, counts));
    } else {
      bump(counts, `range-type-ignored:${type ?? '(none)'}`);
    }
  }
  const severities = readSeverities(entry.severity, counts);
  const ecosystemSpecific = isObject(entry.ecosystem_specific) ? entry.ecosystem_specific : undefined;
  const affected: AffectedPackage = {
    ecosystem: info.key,
    name: info.normaliseName(rawName),
    intervals,
    versions: strings(entry.versions),
    fixState: intervals.some((i) => i.fixed !== undefined) ? 'fixed' : 'not-fixed',
  };
  const purl = str(pkg?.purl);
  if (purl) affected.purl = purl;
  if (info.scheme) affected.scheme = info.scheme;
  const severity = highest(severities.cvss.map((c) => c.severity)) ?? severities.label ?? ecosystemLabel(ecosystemSpecific);
  if (severity) affected.severity = severity;
  const notes: Record<string, unknown> = {};
  if (osvEcosystem !== info.key) notes.osvEcosystem = osvEcosystem;
  if (rawName !== affected.name) notes.osvName = rawName;
  if (ecosystemSpecific && Object.keys(ecosystemSpecific).length > 0) notes.ecosystemSpecific = ecosystemSpecific;
  if (isObject(entry.database_specific) && Object.keys(entry.database_specific).length > 0) notes.databaseSpecific = entry.database_specific;
  if (Object.keys(notes).length > 0) affected.notes = notes;
  return { affected, cvss: severities.cvss };
}

/** Debian urgency, or a priority/severity another ecosystem writes there; "not yet assigned" is no severity. */
function ecosystemLabel(specific: Json | undefined): Severity | undefined {
  for (const key of ['urgency', 'priority', 'severity']) {
    const v = specific?.[key];
    const s = typeof v === 'string' ? severityFromLabel(v) : undefined;
    if (s && s !== 'unknown') return s;
  }
  return undefined;
}

function comparatorOrUndefined(scheme: Parameters<typeof comparatorFor>[0]): Comparator | undefined {
  try {
    return comparatorFor(scheme);
  } catch {
    return undefined;
  }
}

type EventKind = 'introduced' | 'fixed' | 'last_affected' | 'limit';
const EVENT_KINDS: readonly EventKind[] = ['introduced', 'fixed', 'last_affected', 'limit'];

/** One range's events → intervals, per the OSV evaluation algorithm (see the module comment). */
export function rangeIntervals(events: readonly unknown[], order: Comparator | undefined, counts: Record<string, number> = {}): AffectedInterval[] {
  const list: Array<{ kind: EventKind; version: string }> = [];
  for (const e of events) {
    const keys = isObject(e) ? Object.keys(e).filter((k) => (EVENT_KINDS as readonly string[]).includes(k)) : [];
    const kind = keys[0] as EventKind | undefined;
    const version = kind && isObject(e) ? str(e[kind]) : undefined;
    if (keys.length !== 1 || !kind || !version) {
      bump(counts, 'invalid-event');
      continue;
    }
    list.push({ kind, version });
  }
  const sorted = sortEvents(list, order);
  if (!sorted) bump(counts, 'events-unsorted');
  const events2 = sorted ?? list;

  let limit: string | undefined;
  let unlimited = false;
  const out: AffectedInterval[] = [];
  let open: string | undefined;
  for (const { kind, version } of events2) {
    if (kind === 'introduced') {
      open ??= version;
    } else if (kind === 'limit') {
      if (version.includes('*')) unlimited = true;
      else limit = version;
    } else if (open !== undefined) {
      out.push(kind === 'fixed' ? { introduced: open, fixed: version } : { introduced: open, lastAffected: version });
      open = undefined;
    }
  }
  if (open !== undefined) out.push({ introduced: open });
  if (list.length > 0 && !list.some((e) => e.kind === 'introduced')) bump(counts, 'range-without-introduced');
  if (limit !== undefined && !unlimited) for (const i of out) i.limit = limit;
  return out;
}

/** Events in version order ("0" first, "*" limits last), stable for equal versions; undefined when a version is not valid in `order`. */
function sortEvents<T extends { kind: EventKind; version: string }>(list: readonly T[], order: Comparator | undefined): T[] | undefined {
  if (!order) return undefined;
  const rank = (e: T) => (e.kind === 'introduced' && e.version === '0' ? -1 : e.kind === 'limit' && e.version.includes('*') ? 1 : 0);
  try {
    return [...list].sort((a, b) => {
      const ra = rank(a);
      const rb = rank(b);
      if (ra !== 0 || rb !== 0) return ra - rb;
      return order.compare(a.version, b.version);
    });
  } catch {
    return undefined;
  }
}

/** Every *.json under `dir` (recursively, in name order), one OSV record each. */
export async function readOsvDirectory(dir: string): Promise<AdvisoryReadResult> {
  const result: AdvisoryReadResult = { advisories: [], issues: [], counts: {} };
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && /\.json$/i.test(e.name)) {
        let text: Buffer;
        try {
          text = await readFile(p);
        } catch (err) {
          result.issues.push({ where: p, message: `cannot read: ${(err as Error).message}` });
          continue;
        }
        collect(result, parseOsvText(text, p));
      }
    }
  };
  await walk(dir);
  return result;
}

function collect(into: AdvisoryReadResult, r: OsvRecordResult): void {
  if (r.advisory) into.advisories.push(r.advisory);
  into.issues.push(...r.issues);
  for (const [k, v] of Object.entries(r.counts)) bump(into.counts, k, v);
}

/** An OSV zip (path or byte stream) read whole into one result. */
export async function readOsvZip(source: string | Readable | AsyncIterable<Uint8Array>, label?: string): Promise<AdvisoryReadResult> {
  const result: AdvisoryReadResult = { advisories: [], issues: [], counts: {} };
  for await (const r of osvRecordsFromZip(source, label)) collect(result, r);
  return result;
}

/**
 * The records of an OSV zip, one at a time, as the zip streams in (fflate's streaming
 * Unzip): each *.json member is parsed when its last byte arrives, other members are
 * skipped. A member that cannot be inflated or parsed is an issue named "<zip>!<member>";
 * a zip whose structure breaks ends the read with an issue.
 */
export async function* osvRecordsFromZip(source: string | Readable | AsyncIterable<Uint8Array>, label?: string): AsyncGenerator<OsvRecordResult> {
  const zipName = label ?? (typeof source === 'string' ? source : 'OSV zip stream');
  const input: AsyncIterable<Uint8Array> = typeof source === 'string' ? createReadStream(source, { highWaterMark: 1 << 20 }) : source;
  const ready: OsvRecordResult[] = [];
  let members = 0;

  const unzip = new Unzip((file) => {
    members++;
    // fflate keeps a list with one entry per member seen (unshifted: quadratic over an
    // all.zip's 100 000s of members); only the first two are ever read again.
    const seen = (unzip as unknown as { k?: unknown }).k;
    if (Array.isArray(seen) && seen.length > 2) seen.length = 2;

    const where = `${zipName}!${file.name}`;
    const wanted = /\.json$/i.test(file.name) && !file.name.endsWith('/');
    const tooBig = wanted && file.originalSize !== undefined && file.originalSize > MAX_RECORD_BYTES;
    if (tooBig) ready.push({ issues: [{ where, message: `member of ${file.originalSize} bytes is larger than ${MAX_RECORD_BYTES}: skipped` }], counts: {} });
    const chunks: Uint8Array[] = [];
    let size = 0;
    let failed = false;
    file.ondata = (err, data, final) => {
      if (!wanted || tooBig || failed) return;
      if (err) {
        failed = true;
        ready.push({ issues: [{ where, message: `cannot inflate: ${err.message}` }], counts: {} });
        return;
      }
      if (data && data.length > 0) {
        size += data.length;
        if (size > MAX_RECORD_BYTES) {
          failed = true;
          chunks.length = 0;
          ready.push({ issues: [{ where, message: `member is larger than ${MAX_RECORD_BYTES} bytes: skipped` }], counts: {} });
          return;
        }
        chunks.push(data);
      }
      if (final) ready.push(parseOsvText(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), where));
    };
    try {
      // started even when skipped: a member never started keeps its bytes in fflate's buffers
      file.start();
    } catch (e) {
      if (wanted && !failed) ready.push({ issues: [{ where, message: `cannot read member: ${(e as Error).message}` }], counts: {} });
      failed = true;
    }
  });
  unzip.register(WholeMemberInflate);

  const tail = new ZipTail();
  try {
    for await (const chunk of input) {
      const bytes = chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk as ArrayBuffer);
      tail.push(bytes);
      // fflate recurses once per member found in one push: bounded slices keep the stack shallow
      for (let o = 0; o < bytes.length; o += PUSH_BYTES) {
        unzip.push(bytes.subarray(o, o + PUSH_BYTES));
        while (ready.length > 0) yield ready.shift()!;
      }
    }
    unzip.push(new Uint8Array(0), true);
  } catch (e) {
    while (ready.length > 0) yield ready.shift()!;
    yield { issues: [{ where: zipName, message: `not a readable zip: ${(e as Error).message}` }], counts: {} };
    return;
  }
  while (ready.length > 0) yield ready.shift()!;
  if (members === 0) yield { issues: [{ where: zipName, message: 'not a zip archive: no members found' }], counts: {} };
  else if (!tail.hasEndRecord()) yield { issues: [{ where: zipName, message: 'truncated zip: no end of central directory record (the records before the cut were read)' }], counts: {} };
}

const PUSH_BYTES = 32 * 1024;

/**
 * The last bytes of a zip, to tell a complete archive from a cut one: fflate's Unzip reads
 * members as they come and says nothing when the stream stops between two of them. The
 * end-of-central-directory record sits in the last 22 + 65535 (comment) bytes.
 */
class ZipTail {
  private static readonly KEEP = 22 + 0xffff;
  private buf = new Uint8Array(0);

  push(chunk: Uint8Array): void {
    if (chunk.length >= ZipTail.KEEP) {
      this.buf = chunk.slice(chunk.length - ZipTail.KEEP);
      return;
    }
    const keep = Math.min(this.buf.length, ZipTail.KEEP - chunk.length);
    const next = new Uint8Array(keep + chunk.length);
    next.set(this.buf.subarray(this.buf.length - keep));
    next.set(chunk, keep);
    this.buf = next;
  }

  hasEndRecord(): boolean {
    const b = this.buf;
    for (let i = b.length - 22; i >= 0; i--) {
      if (b[i] === 0x50 && b[i + 1] === 0x4b && b[i + 2] === 0x05 && b[i + 3] === 0x06) return true;
    }
    return false;
  }
}

/**
 * DEFLATE for zip members: a member whose sizes the local header gives (OSV's zips,
 * zipSync) is gathered and inflated in one call into a buffer of its exact size, which is
 * several times faster than fflate's UnzipInflate for the small members of an all.zip;
 * a member written in streaming mode (sizes unknown) goes through UnzipInflate.
 */
class WholeMemberInflate implements UnzipDecoder {
  static compression = 8;
  ondata!: AsyncFlateStreamHandler;
  private readonly parts: Uint8Array[] = [];
  private length = 0;
  private readonly streaming?: UnzipInflate;

  constructor(
    _name: string,
    compressedSize?: number,
    private readonly originalSize?: number,
  ) {
    if (compressedSize === undefined || originalSize === undefined) {
      this.streaming = new UnzipInflate();
      this.streaming.ondata = (err, data, final) => this.ondata(err, data, final);
    }
  }

  push(chunk: Uint8Array, final: boolean): void {
    if (this.streaming) return this.streaming.push(chunk, final);
    if (this.originalSize !== undefined && this.originalSize > MAX_RECORD_BYTES) return;
    if (chunk.length > 0) {
      this.parts.push(chunk);
      this.length += chunk.length;
    }
    if (!final) return;
    const all = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.length);
    this.parts.length = 0;
    let out: Uint8Array<ArrayBuffer>;
    try {
      out = inflateSync(all, { out: new Uint8Array(this.originalSize!) }) as Uint8Array<ArrayBuffer>;
    } catch (e) {
      this.ondata(e as FlateError, new Uint8Array(0), true);
      return;
    }
    this.ondata(null, out, true);
  }
}
