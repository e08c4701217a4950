/**
 * Oracle Linux Security Advisories (ELSA) read from Oracle's OVAL (`com.oracle.elsa-all.xml`,
 * published as `.xml.bz2`; bzip2, gzip or plain are told by their magic bytes, not the name).
 *
 * STREAMED: the document is read one `<definition>` element at a time, so memory is bounded by
 * the largest single definition (ELSA_MAX_DEFINITION_BYTES) and the whole read by
 * ELSA_MAX_TOTAL_BYTES uncompressed. Reading stops at `</definitions>`: the `<tests>`,
 * `<objects>` and `<states>` that follow are not needed (see "criteria" below) and are never
 * decompressed. Elements are cut from the bytes and decoded one by one, so what an Advisory
 * keeps never pins a decompressed chunk; with ElsaOptions.keep (a scan's keys) a definition for
 * another release or other packages is skipped before it is parsed.
 *
 * Meaning (one Advisory per `<definition class="patch">`):
 * - id: the `<reference source="elsa" ref_id>` (else the title's leading ELSA-YYYY-NNNN);
 *   CVE aliases from `<reference source="CVE">` and `<advisory><cve>`;
 * - severity from `<advisory><severity>`: LOW, MODERATE, IMPORTANT, CRITICAL → low, medium,
 *   high, critical (anything else → unknown, counted); `<issued date>` → published/modified;
 * - the criteria tree gives the rows: a criterion "Oracle Linux N is installed" sets the release
 *   (ecosystem "Oracle Linux:N"; the `<platform>` when no criterion says it), "Oracle Linux arch
 *   is X" the arch of every row below it, "<name> is earlier than <epoch:version-release>" a
 *   row, "<name> is ksplice-based" marks the rows of its group as ksplice; "… is signed with the
 *   Oracle Linux N key" is a signature check, not a fix, and is skipped.
 *   Why the comments and not the rpminfo_test → object/state chain: in elsa-all.xml every
 *   test, object and state comes AFTER every definition, so resolving them would mean holding
 *   the whole definitions section (hundreds of MB). Oracle writes each comment from the same
 *   object name and state evr (test/advisories/elsa.test.ts checks that they agree on the one
 *   complete document we have), and vunnel, vuln-list-update and Trivy read them the same way.
 * - one AffectedPackage per (binary name, variant, fixed EVR), with `notes.arches` = the OVAL
 *   arch criteria that carry that EVR ([] = no arch criterion: every arch). When the arches of
 *   one package disagree (ELSA-2022-4803: rsyslog 57.0.1 on x86_64, 57.0.4 on aarch64) there are
 *   several entries, and shared/match/elsa.ts applies each only to packages of its arch.
 * - variant (`notes.variant`): "ksplice" when the fixed release carries `ksplice` or the group
 *   says "is ksplice-based", "fips" when the release carries `_fips`, else "plain". A variant's
 *   fix never judges a package of another variant (shared/match/elsa.ts).
 * - the fixed version is the full EVR with the epoch ALWAYS written ("2:1.1.1g-15.el8_3").
 */
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { PassThrough, Readable, pipeline } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import bz2 from 'unbzip2-stream';
import type { Advisory, AdvisoryIssue, AdvisoryReadResult, AffectedPackage, Severity } from './types.js';
import { attrs, decode, text } from './xml-text.js';

/** Largest single `<definition>` element accepted (bytes of XML). */
export const ELSA_MAX_DEFINITION_BYTES = 16 * 1024 * 1024;
/** Largest OVAL document accepted (bytes, uncompressed; elsa-all.xml is a few hundred MB). */
export const ELSA_MAX_TOTAL_BYTES = 4 * 1024 * 1024 * 1024;
/** Most package rows one definition may carry. */
export const ELSA_MAX_ROWS = 50_000;
/** Deepest criteria nesting accepted (Oracle's is 5–6 levels). */
export const ELSA_MAX_CRITERIA_DEPTH = 64;

export interface ElsaOptions {
  /** name used in issues */
  where?: string;
  /** override ELSA_MAX_DEFINITION_BYTES / ELSA_MAX_TOTAL_BYTES (tests) */
  maxDefinitionBytes?: number;
  maxTotalBytes?: number;
  /**
   * The keys the caller will ask for (a scan: its image's "Oracle Linux:N" and rpm names). A
   * definition naming none of them is skipped unparsed (see elsaDefinitions); undefined = all.
   */
  keep?: (key: { ecosystem: string; name: string }) => boolean;
}

export type ElsaVariant = 'plain' | 'ksplice' | 'fips';

const SEVERITY: Readonly<Record<string, Severity>> = { low: 'low', moderate: 'medium', medium: 'medium', important: 'high', high: 'high', critical: 'critical' };

/** Oracle's severity words (IMPORTANT, Moderate, …) → the model's. */
export function elsaSeverity(s: string | undefined): Severity {
  const k = (s ?? '').trim().toLowerCase();
  return Object.hasOwn(SEVERITY, k) ? SEVERITY[k]! : 'unknown';
}

/** The variant an rpm release string belongs to ("15.ksplice1.el8_3" → ksplice, "8.0.1.el8_fips" → fips). */
export function rpmVariant(release: string): ElsaVariant {
  if (/ksplice/i.test(release)) return 'ksplice';
  if (/_fips\b|\.fips\b/i.test(release)) return 'fips';
  return 'plain';
}

/** One package row of a definition's criteria. */
export interface ElsaRow {
  name: string;
  /** epoch:version-release as the criterion writes it */
  evr: string;
  /** "7", "8", … */
  release?: string;
  /** the OVAL arch criterion above the row, if any */
  arch?: string;
  ksplice: boolean;
}

interface Criterion {
  comment: string;
}
interface CriteriaNode {
  criteria: CriteriaNode[];
  criterions: Criterion[];
}

/** The criteria tree of one definition (criteria / criterion elements only; bounded depth). */
function criteriaTree(xml: string, where: string): CriteriaNode | undefined {
  const root: CriteriaNode = { criteria: [], criterions: [] };
  const stack: CriteriaNode[] = [root];
  for (const m of xml.matchAll(/<(\/?)(criteria|criterion)\b([^>]*?)(\/?)>/g)) {
    const [, close, tag, body, selfClose] = m as unknown as [string, string, string, string, string];
    const top = stack[stack.length - 1]!;
    if (tag === 'criterion') {
      if (!close) top.criterions.push({ comment: attrs(body).comment ?? '' });
      continue;
    }
    if (close) {
      if (stack.length <= 1) throw new RangeError(`${where}: unbalanced </criteria>`);
      stack.pop();
      continue;
    }
    const node: CriteriaNode = { criteria: [], criterions: [] };
    top.criteria.push(node);
    if (!selfClose) {
      stack.push(node);
      if (stack.length > ELSA_MAX_CRITERIA_DEPTH) throw new RangeError(`${where}: criteria nested deeper than ${ELSA_MAX_CRITERIA_DEPTH} (ELSA_MAX_CRITERIA_DEPTH)`);
    }
  }
  if (stack.length !== 1) throw new RangeError(`${where}: unclosed <criteria>`);
  return root.criteria[0];
}

const RELEASE_RE = /^Oracle Linux (\d+) is installed$/;
const ARCH_RE = /^Oracle Linux arch is ([A-Za-z0-9_]+)$/;
const EARLIER_RE = /^(\S+) is earlier than (\d+:[A-Za-z0-9._+~^]+-[A-Za-z0-9._+~^]+)$/;
const SIGNED_RE = /^\S+ is signed with the Oracle Linux \d+ key$/;
const KSPLICE_RE = /^\S+ is ksplice-based$/;

/** The package rows of a criteria tree, each with the release and arch of the criteria above it. */
export function criteriaRows(root: CriteriaNode | undefined, counts: Record<string, number>, fallbackRelease?: string): ElsaRow[] {
  const rows: ElsaRow[] = [];
  const bump = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  const walk = (node: CriteriaNode, release: string | undefined, arch: string | undefined) => {
    let r = release;
    let a = arch;
    let ksplice = false;
    const here: Array<{ name: string; evr: string }> = [];
    for (const { comment } of node.criterions) {
      const c = comment.trim();
      let m: RegExpExecArray | null;
      if ((m = RELEASE_RE.exec(c))) r = m[1];
      else if ((m = ARCH_RE.exec(c))) a = m[1];
      else if ((m = EARLIER_RE.exec(c))) here.push({ name: m[1]!, evr: m[2]! });
      else if (KSPLICE_RE.test(c)) ksplice = true;
      else if (SIGNED_RE.test(c)) continue;
      else bump('elsa-criterion-unread');
    }
    for (const p of here) {
      if (rows.length >= ELSA_MAX_ROWS) throw new RangeError(`definition has more than ${ELSA_MAX_ROWS} package rows (ELSA_MAX_ROWS)`);
      rows.push({ name: p.name, evr: p.evr, ...(r ? { release: r } : {}), ...(a ? { arch: a } : {}), ksplice });
    }
    for (const child of node.criteria) walk(child, r, a);
  };
  if (root) walk(root, fallbackRelease, undefined);
  return rows;
}

/** "2:1.1.1g-15.ksplice1.el8_3" → its release part. */
function releaseOfEvr(evr: string): string {
  return evr.slice(evr.lastIndexOf('-') + 1);
}

/** One `<definition …>…</definition>` element → an Advisory (or issues). */
export function parseDefinition(xml: string, where: string, issues: AdvisoryIssue[], counts: Record<string, number>): Advisory | undefined {
  const bump = (k: string, n = 1) => (counts[k] = (counts[k] ?? 0) + n);
  const open = /^<definition\b([^>]*)>/.exec(xml);
  const top = open ? attrs(open[1]!) : {};
  if (top.class && top.class !== 'patch') {
    bump('elsa-not-patch');
    return undefined;
  }
  // free text first out of the way: nothing in a description is mistaken for a tag
  const body = xml.replace(/<description\b[^>]*>[\s\S]*?<\/description>|<description\b[^>]*\/>/, '');
  const title = text(body, 'title')?.replace(/\s+/g, ' ').trim();
  const refs: Array<Record<string, string>> = [];
  for (const m of body.matchAll(/<reference\b([^>]*?)\/?>/g)) refs.push(attrs(m[1]!));
  const id = (refs.find((r) => r.source?.toLowerCase() === 'elsa')?.ref_id ?? /\bELSA-\d{4}-\d+\b/.exec(title ?? '')?.[0] ?? '').trim();
  const label = `${where}${id ? ` ${id}` : top.id ? ` ${top.id}` : ''}`;
  if (!/^ELSA-\d{4}-\d{4,}$/.test(id)) {
    issues.push({ where: label, message: `not an ELSA id: "${id.slice(0, 80)}"` });
    return undefined;
  }
  const advisoryXml = text(body, 'advisory') ?? '';
  const sevText = text(advisoryXml, 'severity') ?? /\((LOW|MODERATE|IMPORTANT|CRITICAL)\)\s*$/i.exec(title ?? '')?.[1];
  const severity = elsaSeverity(sevText);
  if (severity === 'unknown') bump('elsa-severity-unknown');
  const issuedRaw = /<issued\b([^>]*)\/?>/.exec(body);
  const issuedDate = issuedRaw ? attrs(issuedRaw[1]!).date : undefined;
  const issued = issuedDate && /^\d{4}-\d{2}-\d{2}$/.test(issuedDate.trim()) && !Number.isNaN(Date.parse(issuedDate)) ? `${issuedDate.trim()}T00:00:00Z` : undefined;
  const cves = new Set<string>();
  for (const r of refs) if (r.source?.toUpperCase() === 'CVE' && r.ref_id) cves.add(r.ref_id.trim());
  for (const m of body.matchAll(/<cve\b[^>]*>([^<]*)<\/cve>/g)) cves.add(decode(m[1]!).trim());
  const aliases = [...cves].filter((c) => /^CVE-\d{4}-\d{4,}$/.test(c)).sort();

  const platforms = [...body.matchAll(/<platform>\s*Oracle Linux (\d+)\s*<\/platform>/g)].map((m) => m[1]!);
  const fallbackRelease = platforms.length === 1 ? platforms[0] : undefined;
  const rows = criteriaRows(criteriaTree(body, label), counts, fallbackRelease);

  // (ecosystem, name, variant, evr) → arches
  const groups = new Map<string, { release: string; name: string; variant: ElsaVariant; evr: string; arches: Set<string>; anyArch: boolean }>();
  for (const row of rows) {
    if (!row.release) {
      bump('elsa-row-without-release');
      continue;
    }
    const variant: ElsaVariant = row.ksplice ? 'ksplice' : rpmVariant(releaseOfEvr(row.evr));
    const k = `${row.release}\u0000${row.name}\u0000${variant}\u0000${row.evr}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { release: row.release, name: row.name, variant, evr: row.evr, arches: new Set(), anyArch: false }));
    if (row.arch) g.arches.add(row.arch);
    else g.anyArch = true;
  }
  const affected: AffectedPackage[] = [];
  // per name and variant: the arch sets of its EVRs (one set per EVR); differing sets = a per-arch fix
  const archSets = new Map<string, Set<string>>();
  for (const g of groups.values()) {
    const nk = `${g.release}\u0000${g.name}\u0000${g.variant}`;
    let s = archSets.get(nk);
    if (!s) archSets.set(nk, (s = new Set()));
    s.add(g.anyArch ? '*' : [...g.arches].sort().join(','));
  }
  for (const g of [...groups.values()].sort((a, b) => a.release.localeCompare(b.release) || a.name.localeCompare(b.name) || a.variant.localeCompare(b.variant) || a.evr.localeCompare(b.evr))) {
    // ELSA-2022-4803: rsyslog 57.0.1 on x86_64, 57.0.4 on aarch64. (Several EVRs on the SAME arches,
    // ELSA-2024-2961's Oracle rebuild and upstream build, are OVAL "or": below either is affected.)
    const perArch = (archSets.get(`${g.release}\u0000${g.name}\u0000${g.variant}`)?.size ?? 1) > 1;
    if (perArch) bump('elsa-per-arch-fix');
    affected.push({
      ecosystem: `Oracle Linux:${g.release}`,
      name: g.name,
      purl: `pkg:rpm/oracle/${encodeURIComponent(g.name)}`,
      scheme: 'rpm',
      intervals: [{ introduced: '0', fixed: g.evr }],
      versions: [],
      fixState: 'fixed',
      severity,
      notes: {
        // [] = the definition names no arch for this row: it applies to every arch
        arches: g.anyArch ? [] : [...g.arches].sort(),
        variant: g.variant,
        ...(perArch ? { perArch: true } : {}),
        ...(issued ? { issued } : {}),
      },
    });
  }
  if (affected.length === 0) {
    issues.push({ where: label, message: 'no usable package rows ("<name> is earlier than <evr>" under an "Oracle Linux N is installed" criterion): skipped' });
    return undefined;
  }
  const releases = [...new Set(affected.map((a) => a.ecosystem.slice('Oracle Linux:'.length)))].sort();
  return {
    id,
    source: 'elsa',
    aliases,
    related: [],
    ...(title ? { summary: title } : {}),
    ...(issued ? { published: issued, modified: issued } : {}),
    severity,
    cvss: [],
    affected,
    references: [...new Set(refs.map((r) => r.ref_url).filter((u): u is string => !!u))],
    databaseSpecific: { releases, ...(top.id ? { ovalId: top.id } : {}) },
  };
}

// ---------------------------------------------------------------------------------------------
// bytes

export type Compression = 'bzip2' | 'gzip' | 'none';

/** The compression a document's first bytes show ("BZh" + level digit, gzip's 1f 8b). */
export function compressionOf(head: Uint8Array): Compression {
  if (head.length >= 4 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68 && head[3]! >= 0x31 && head[3]! <= 0x39) return 'bzip2';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  return 'none';
}

let bzip2ToolPresent: boolean | undefined;
/** Whether this machine has the bzip2 tool (checked once; DRYDOCK_BZIP2=js forces the pure-JS decoder). */
function bzip2Tool(): boolean {
  if (process.env.DRYDOCK_BZIP2 === 'js') return false;
  bzip2ToolPresent ??= spawnSync('bzip2', ['--help'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
  return bzip2ToolPresent;
}

/** bzip2 data through the bzip2 tool (`bzip2 -dc`, native: ~20× the pure-JS decoder), streamed both ways. */
async function* viaBzip2Tool(rest: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  const child = spawn('bzip2', ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    if (stderr.length < 4096) stderr += c.toString('utf8');
  });
  let spawnError: Error | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', (e) => {
      spawnError = e;
      resolve(null);
    });
    child.on('close', (code) => resolve(code));
  });
  let feedError: unknown;
  // the feeder's failure (a source error, or bzip2 closing its input early) is kept and re-thrown below
  const fed = pipelineAsync(Readable.from(rest), child.stdin).catch((e: unknown) => {
    feedError = e;
    child.kill();
  });
  try {
    for await (const c of child.stdout) yield c as Buffer;
    const code = await exited;
    await fed;
    if (spawnError) throw spawnError;
    if (code !== 0) throw new RangeError(`bzip2 data is corrupt (bzip2 -dc exited ${code}: ${stderr.replace(/\s+/g, " ").trim().slice(0, 200)})`);
    if (feedError) throw feedError;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill();
    await fed;
  }
}

/**
 * Bytes → decompressed chunks (bzip2 with the bzip2 tool when this machine has it, else the
 * pure-JS unbzip2-stream; gzip with zlib; or as they are). Ending the iteration early (a
 * `break`, or an error) ends the decompressor and the source.
 */
export async function* decompressed(input: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  const it = input[Symbol.asyncIterator]();
  let first: IteratorResult<Uint8Array>;
  try {
    first = await it.next();
  } catch (e) {
    await it.return?.();
    throw e;
  }
  if (first.done) return;
  const head = first.value;
  const kind = compressionOf(head);
  const rest = (async function* () {
    try {
      yield head;
      for (;;) {
        const n = await it.next();
        if (n.done) return;
        yield n.value;
      }
    } finally {
      await it.return?.();
    }
  })();
  if (kind === 'none') {
    for await (const c of rest) yield Buffer.from(c);
    return;
  }
  if (kind === 'bzip2' && bzip2Tool()) {
    yield* viaBzip2Tool(rest);
    return;
  }
  const out = new PassThrough();
  // pipeline forwards any stage's error to `out` (and destroys the others); destroying `out` (an early return) ends them all
  pipeline(Readable.from(rest), kind === 'gzip' ? createGunzip() : bz2(), out, (err) => {
    if (err && !out.destroyed) out.destroy(err);
  });
  try {
    for await (const c of out) yield c as Buffer;
  } catch (e) {
    if (kind === 'bzip2' && !(e instanceof RangeError)) throw new RangeError(`bzip2 data is corrupt: ${(e as Error).message}`);
    if (kind === 'gzip' && !(e instanceof RangeError)) throw new RangeError(`gzip data is corrupt: ${(e as Error).message}`);
    throw e;
  } finally {
    out.destroy();
  }
}

/**
 * Whether a definition element can name a key `keep` wants, told without parsing it: the releases
 * its criteria and `<platform>` name × the package names of its "is earlier than" criteria.
 * A superset of what parseDefinition reads (undefined when the element names no release or no
 * package: the full parse then reports it), so a skipped definition never held a wanted row.
 */
function wantedBy(element: string, keep: (key: { ecosystem: string; name: string }) => boolean): { wanted: boolean; ecosystems: string[]; issued?: string } | undefined {
  const releases = new Set<string>();
  for (const m of element.matchAll(/Oracle Linux (\d+) is installed|<platform>\s*Oracle Linux (\d+)\s*<\/platform>/g)) releases.add(m[1] ?? m[2]!);
  const names = new Set<string>();
  for (const m of element.matchAll(/comment\s*=\s*["']\s*([^\s"']+) is earlier than /g)) names.add(m[1]!);
  if (releases.size === 0 || names.size === 0) return undefined;
  const ecosystems = [...releases].sort().map((r) => `Oracle Linux:${r}`);
  for (const ecosystem of ecosystems) for (const name of names) if (keep({ ecosystem, name })) return { wanted: true, ecosystems };
  const date = /<issued\b[^>]*\bdate\s*=\s*["'](\d{4}-\d{2}-\d{2})["']/.exec(element)?.[1];
  return { wanted: false, ecosystems, ...(date && !Number.isNaN(Date.parse(date)) ? { issued: `${date}T00:00:00Z` } : {}) };
}

const DEF_OPEN = Buffer.from('<definition');
const DEFS_CLOSE = Buffer.from('</definitions>');
const DEF_CLOSE = Buffer.from('</definition>');

/** The first `<definition` (followed by white space or `>`) or `</definitions>` in `b` from `from`: its offset and which. */
function nextDefinition(b: Buffer, from: number): { at: number; end: boolean } | undefined {
  let searched = from;
  for (let i = b.indexOf(DEF_OPEN, from); i >= 0; i = b.indexOf(DEF_OPEN, i + 1)) {
    // `</definitions>` before it ends the section (searched only up to it: each byte once)
    const close = b.subarray(searched, i).indexOf(DEFS_CLOSE);
    if (close >= 0) return { at: searched + close, end: true };
    searched = Math.max(searched, i - DEFS_CLOSE.length + 1);
    const next = b[i + DEF_OPEN.length];
    if (next === undefined) return undefined; // the next chunk tells
    if (next === 0x3e || next === 0x20 || next === 0x09 || next === 0x0a || next === 0x0d) return { at: i, end: false };
  }
  const close = b.indexOf(DEFS_CLOSE, searched);
  return close >= 0 ? { at: close, end: true } : undefined;
}

/**
 * Stream an ELSA OVAL document (a path, bytes, or a byte stream; bzip2, gzip or plain) and yield
 * each definition as an Advisory (or issues). Memory: one definition element at a time.
 * The document is cut into elements as bytes (the markers are ASCII, so never inside a UTF-8
 * sequence) and each element decoded on its own: the strings an Advisory keeps are slices of
 * its own element, never of a decompressed chunk (V8 substrings keep their parent alive, so a
 * store of 20,000 advisories would otherwise hold every chunk of the document).
 * With `keep`, a definition that names no wanted key (release × package name) is not parsed:
 * it is yielded as `skipped` with the ecosystems it names (coverage) and its issued date, and no advisory.
 */
export async function* elsaDefinitions(
  input: string | Uint8Array | AsyncIterable<Uint8Array>,
  opts: ElsaOptions = {},
): AsyncGenerator<{ advisory?: Advisory; skipped?: { ecosystems: string[]; issued?: string }; issues: AdvisoryIssue[]; counts: Record<string, number> }> {
  const where = opts.where ?? (typeof input === 'string' ? input : 'ELSA OVAL');
  const maxDef = opts.maxDefinitionBytes ?? ELSA_MAX_DEFINITION_BYTES;
  const maxTotal = opts.maxTotalBytes ?? ELSA_MAX_TOTAL_BYTES;
  const source: AsyncIterable<Uint8Array> =
    typeof input === 'string' ? createReadStream(input, { highWaterMark: 1 << 20 }) : input instanceof Uint8Array ? (async function* () { yield input; })() : input;
  let buf: Buffer = Buffer.alloc(0);
  // where the search for `</definition>` resumes in buf (bytes before it were searched)
  let scanFrom = 0;
  let total = 0;
  let sawRoot = false;
  let done = false;
  const tooBig = () => new RangeError(`${where}: one <definition> is larger than ${maxDef} bytes (ELSA_MAX_DEFINITION_BYTES)`);
  for await (const chunk of decompressed(source)) {
    total += chunk.length;
    if (total > maxTotal) throw new RangeError(`${where}: OVAL document larger than ${maxTotal} bytes uncompressed (ELSA_MAX_TOTAL_BYTES)`);
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    if (!sawRoot) {
      const m = /<oval_definitions\b/.exec(buf.toString('latin1', 0, Math.min(buf.length, 64 * 1024 + 64)));
      if (m) {
        sawRoot = true;
        buf = buf.subarray(m.index);
      } else if (buf.length > 64 * 1024) throw new RangeError(`${where}: not an OVAL document (no <oval_definitions> in the first 64 KiB)`);
      else continue;
    }
    let pos = 0;
    for (;;) {
      const next = nextDefinition(buf, pos);
      if (!next) {
        // keep a tail that may hold the start of a marker
        pos = Math.max(pos, buf.length - DEFS_CLOSE.length);
        scanFrom = 0;
        break;
      }
      if (next.end) {
        done = true;
        break;
      }
      const end = buf.indexOf(DEF_CLOSE, Math.max(next.at, scanFrom));
      if (end < 0) {
        pos = next.at;
        scanFrom = Math.max(0, buf.length - DEF_CLOSE.length + 1 - pos);
        if (buf.length - pos > maxDef) throw tooBig();
        break;
      }
      const stop = end + DEF_CLOSE.length;
      pos = stop;
      scanFrom = 0;
      if (stop - next.at > maxDef) throw tooBig();
      // its own string (toString copies): see the header
      const element = buf.toString('utf8', next.at, stop);
      const issues: AdvisoryIssue[] = [];
      const counts: Record<string, number> = {};
      const want = opts.keep ? wantedBy(element, opts.keep) : undefined;
      if (want && !want.wanted) {
        counts['elsa-not-wanted'] = 1;
        yield { skipped: { ecosystems: want.ecosystems, ...(want.issued ? { issued: want.issued } : {}) }, issues, counts };
        continue;
      }
      let advisory: Advisory | undefined;
      try {
        advisory = parseDefinition(element, where, issues, counts);
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
        issues.push({ where, message: e.message });
      }
      yield { ...(advisory ? { advisory } : {}), issues, counts };
    }
    // the tests, objects and states after </definitions> are not read (see the header)
    if (done) break;
    // the unread rest, copied so the chunk it came from is not kept alive
    buf = Buffer.from(buf.subarray(pos));
    if (scanFrom > buf.length) scanFrom = 0;
  }
  if (!sawRoot) throw new RangeError(`${where}: not an OVAL document (no <oval_definitions>)`);
  // a download cut short between two bzip2 blocks decodes without error: the missing end tag tells
  if (!done) throw new RangeError(`${where}: the OVAL document ends before </definitions> (truncated)`);
}

/** Read a whole ELSA OVAL document (streamed) into a result. */
export async function readElsaOval(input: string | Uint8Array | AsyncIterable<Uint8Array>, opts: ElsaOptions = {}): Promise<AdvisoryReadResult> {
  const out: AdvisoryReadResult = { advisories: [], issues: [], counts: {} };
  for await (const r of elsaDefinitions(input, opts)) {
    if (r.advisory) out.advisories.push(r.advisory);
    out.issues.push(...r.issues);
    for (const [k, v] of Object.entries(r.counts)) out.counts[k] = (out.counts[k] ?? 0) + v;
  }
  return out;
}

/**
 * Whether a file is an OVAL document (bzip2, gzip or plain), told by its content: the first
 * 64 KiB decompressed hold `<oval_definitions`. Used by load.ts before any other XML reader.
 */
export async function isElsaOval(path: string): Promise<boolean> {
  let head = '';
  const decoder = new TextDecoder('utf-8');
  try {
    for await (const c of decompressed(createReadStream(path, { highWaterMark: 64 * 1024 }))) {
      head += decoder.decode(c, { stream: true });
      if (head.length >= 64 * 1024) break;
    }
  } catch (e) {
    // unreadable compressed data is not OVAL to this check; the file's real reader reports it
    if (e instanceof RangeError) return false;
    throw e;
  }
  return /^(\uFEFF)?\s*(<\?xml[^>]*\?>\s*)?(<!--[\s\S]*?-->\s*)*<oval_definitions\b/.test(head);
}

/**
 * The definitions section of an OVAL document (bzip2, gzip or plain), as bytes: everything up to
 * and including `</definitions>`, then `</oval_definitions>`. The tests, objects and states after
 * it (the larger half of elsa-all.xml) are never decompressed. Bounded by ELSA_MAX_TOTAL_BYTES;
 * a document that ends before `</definitions>` is an error (truncated).
 */
export async function* ovalDefinitionsSection(input: AsyncIterable<Uint8Array>, opts: Pick<ElsaOptions, 'maxTotalBytes' | 'where'> = {}): AsyncGenerator<Buffer> {
  const where = opts.where ?? 'ELSA OVAL';
  const max = opts.maxTotalBytes ?? ELSA_MAX_TOTAL_BYTES;
  const marker = Buffer.from('</definitions>');
  const keep = marker.length - 1;
  let carry: Buffer = Buffer.alloc(0);
  let total = 0;
  for await (const c of decompressed(input)) {
    total += c.length;
    if (total > max) throw new RangeError(`${where}: OVAL document larger than ${max} bytes uncompressed (ELSA_MAX_TOTAL_BYTES)`);
    const b = carry.length ? Buffer.concat([carry, c]) : c;
    const i = b.indexOf(marker);
    if (i >= 0) {
      yield b.subarray(0, i + marker.length);
      yield Buffer.from('\n</oval_definitions>\n');
      return;
    }
    if (b.length > keep) yield b.subarray(0, b.length - keep);
    carry = Buffer.from(b.subarray(Math.max(0, b.length - keep)));
  }
  throw new RangeError(`${where}: the OVAL document ends before </definitions> (truncated)`);
}
