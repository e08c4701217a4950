/**
 * Red Hat's CSAF VEX files (one JSON document per CVE, `document.category` "csaf_vex"), as Red
 * Hat publishes them and as vuln-list-redhat re-serialises them (the same shape, other
 * whitespace and key order: one reader, told apart from other JSON by content).
 *
 * What a file says, and how it is read:
 * - `product_tree.branches` name products: platforms with a CPE (`cpe:/o:redhat:enterprise_linux:9::baseos`)
 *   and components with a purl (`pkg:rpm/redhat/curl@7.76.1-26.el9_3.2?arch=src`, `pkg:rpm/redhat/kernel`);
 *   `relationships` join them: "curl-0:7.76.1-26.el9_3.2.src as a component of Red Hat Enterprise
 *   Linux BaseOS (v. 9)" is the full product id `BaseOS-9.3.0.Z.MAIN:curl-0:7.76.1-26.el9_3.2.src`.
 * - `vulnerabilities[].product_status` lists full product ids by state: fixed → "fixed" with the
 *   fixed EVR of the component (epoch explicit, 0 when the purl has none, as ALAS writes it);
 *   known_affected → "wont-fix" when a remediation says "Will not fix" / "Out of support scope"
 *   (category no_fix_planned or none_available), "deferred" for "Fix deferred", else "not-fixed";
 *   known_not_affected → "not-affected"; under_investigation → "undetermined".
 * - `threats` (impact Low / Moderate / Important / Critical) give each entry its severity,
 *   `document.aggregate_severity` the advisory's; `scores[].cvss_v3` are scored by the CVSS library.
 *
 * Only RHEL platforms make advisories: the CPE `enterprise_linux:<major>[::<stream>]` gives the key
 * "Red Hat:<major>" (what ecosystems.ts gives an RHEL or UBI image, and what OSV's
 * "Red Hat:enterprise_linux:9::baseos" folds to), the stream is kept in the entry's notes (the
 * matcher scopes by the image's content sets, match/redhat.ts); EUS/AUS/E4S platforms
 * (`rhel_eus:9.0::baseos`) keep OSV's own key and are never looked up for a plain RHEL image.
 * Red Hat names source RPMs: a fixed entry is named by the `arch=src` row of its EVR, and its
 * binary rows only add their streams; an EVR that has binary rows and no source row is kept by
 * binary name (notes.binary). Unfixed components carry no arch or `arch=src` and are the source
 * package's name. Other products (Satellite, JBoss, Quarkus, containers) and non-rpm components
 * are counted, never matched; every statement read is returned in `statements` for evidence.
 *
 * Bounded: a file larger than CSAF_MAX_FILE_BYTES is not read; more than CSAF_MAX_PRODUCT_IDS
 * product nodes, relationships and status ids, CSAF_MAX_VULNERABILITIES vulnerabilities or a
 * product tree deeper than CSAF_MAX_BRANCH_DEPTH make the file an issue; anything malformed is
 * skipped with an issue and the rest read.
 */
import { open, readFile } from 'node:fs/promises';
import { PackageURL } from 'packageurl-js';
import { scoreCvss, severityFromLabel } from './cvss.js';
import { ecosystemInfo } from './ecosystems.js';
import { SEVERITIES, type Advisory, type AdvisoryReadResult, type AffectedPackage, type CvssScore, type FixState, type Severity } from './types.js';

/** Largest CSAF VEX file read (Red Hat's biggest, kernel CVEs, are tens of MB). */
export const CSAF_MAX_FILE_BYTES = 64 * 1024 * 1024;
/** Product tree nodes + relationships + product status ids, per file. */
export const CSAF_MAX_PRODUCT_IDS = 500_000;
/** vulnerabilities[] per file (Red Hat writes one). */
export const CSAF_MAX_VULNERABILITIES = 1_000;
/** product_tree branch nesting. */
export const CSAF_MAX_BRANCH_DEPTH = 32;
/** product ids kept per entry as evidence. */
const MAX_NOTED_PRODUCTS = 16;

export type CsafStatus = 'fixed' | 'known_affected' | 'known_not_affected' | 'under_investigation';

/** One (CVE, full product id) pair as the file states it. */
export interface CsafStatement {
  cve: string;
  productId: string;
  status: CsafStatus;
  fixState: FixState;
  /** the platform (RHEL 9 BaseOS, Red Hat build of Quarkus) and its CPE */
  platform?: { id: string; name?: string; cpe?: string };
  /** the component (an rpm, a Maven artifact) and its purl; absent for a product-level statement */
  component?: { id: string; name?: string; purl?: string };
  /** the remediation's category and details ("no_fix_planned", "Will not fix"), and the RHSA for a vendor fix */
  remediation?: { category: string; details?: string; advisory?: string };
  severity?: Severity;
  /** "Red Hat:9" for an RHEL platform */
  ecosystem?: string;
  /** the CPE's stream: "baseos", "appstream", "crb", … */
  stream?: string;
}

export interface CsafReadResult extends AdvisoryReadResult {
  statements: CsafStatement[];
}

export interface CsafOptions {
  where?: string;
  /** override CSAF_MAX_FILE_BYTES (tests) */
  maxFileBytes?: number;
}

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => !!x && typeof x === 'object' && !Array.isArray(x);
const str = (x: unknown): string | undefined => (typeof x === 'string' && x.length > 0 ? x : undefined);
const strings = (x: unknown): string[] => (Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : []);

/** A CSAF VEX document, by shape. */
export function isCsafVex(json: unknown): boolean {
  if (!isObj(json) || !isObj(json.document)) return false;
  return json.document.category === 'csaf_vex' && Array.isArray(json.vulnerabilities) && isObj(json.product_tree);
}

/** Whether a file starts like a CSAF VEX document (its `document.category` within the first 4 KiB). */
export async function isCsafVexFile(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const text = head.subarray(0, bytesRead).toString('utf8');
    return /^\uFEFF?\s*\{/.test(text) && /"category"\s*:\s*"csaf_vex"/.test(text);
  } finally {
    await fh.close();
  }
}

/** Reads one CSAF VEX file, bounded by CSAF_MAX_FILE_BYTES (a larger file is an issue, not read). */
export async function readCsafVexFile(path: string, opts: CsafOptions = {}): Promise<CsafReadResult> {
  const where = opts.where ?? path;
  const max = opts.maxFileBytes ?? CSAF_MAX_FILE_BYTES;
  const empty = (message: string): CsafReadResult => ({ advisories: [], statements: [], issues: [{ where, message }], counts: { 'csaf-files-skipped': 1 } });
  const fh = await open(path, 'r');
  let buf: Buffer;
  try {
    const { size } = await fh.stat();
    if (size > max) return empty(`CSAF VEX file of ${size} bytes is larger than ${max} bytes (CSAF_MAX_FILE_BYTES): not read`);
    buf = await readFile(fh);
    if (buf.length > max) return empty(`CSAF VEX file grew past ${max} bytes while read (CSAF_MAX_FILE_BYTES): not read`);
  } finally {
    await fh.close();
  }
  let json: unknown;
  try {
    json = JSON.parse(buf.toString('utf8'));
  } catch (e) {
    return empty(`not JSON: ${(e as Error).message}`);
  }
  return readCsafVex(json, { where });
}

interface ProductNode {
  id: string;
  name?: string;
  cpe?: string;
  purl?: string;
}

interface Relationship {
  component: string;
  platform: string;
}

const STATUSES: ReadonlyArray<[key: string, status: CsafStatus]> = [
  ['fixed', 'fixed'],
  ['first_fixed', 'fixed'],
  ['known_affected', 'known_affected'],
  ['first_affected', 'known_affected'],
  ['last_affected', 'known_affected'],
  ['known_not_affected', 'known_not_affected'],
  ['under_investigation', 'under_investigation'],
];

/** A parsed CSAF VEX document → statements and, for RHEL rpm components, advisories. */
export function readCsafVex(json: unknown, opts: CsafOptions = {}): CsafReadResult {
  const where = opts.where ?? 'CSAF VEX';
  const out: CsafReadResult = { advisories: [], statements: [], issues: [], counts: {} };
  const count = (k: string, n = 1) => (out.counts[k] = (out.counts[k] ?? 0) + n);
  if (!isCsafVex(json)) {
    out.issues.push({ where, message: 'not a CSAF VEX document (document.category "csaf_vex", product_tree, vulnerabilities[])' });
    return out;
  }
  const doc = json as Obj;
  const document = doc.document as Obj;
  let budget = CSAF_MAX_PRODUCT_IDS;
  const spend = (n: number) => (budget -= n) >= 0;

  // product tree: iterative walk, depth-bounded
  const products = new Map<string, ProductNode>();
  const tree = doc.product_tree as Obj;
  const stack: Array<{ b: unknown; depth: number }> = (Array.isArray(tree.branches) ? tree.branches : []).map((b) => ({ b, depth: 1 }));
  while (stack.length > 0) {
    const { b, depth } = stack.pop()!;
    if (!isObj(b)) continue;
    if (!spend(1)) return tooBig(out, where);
    if (depth > CSAF_MAX_BRANCH_DEPTH) {
      out.issues.push({ where, message: `product tree deeper than ${CSAF_MAX_BRANCH_DEPTH} branches (CSAF_MAX_BRANCH_DEPTH): the file was not read` });
      out.advisories = [];
      return out;
    }
    addProduct(products, b.product);
    if (Array.isArray(b.branches)) for (const c of b.branches) stack.push({ b: c, depth: depth + 1 });
  }
  for (const p of Array.isArray(tree.full_product_names) ? tree.full_product_names : []) addProduct(products, p);
  const relationships = new Map<string, Relationship>();
  for (const r of Array.isArray(tree.relationships) ? tree.relationships : []) {
    if (!spend(1)) return tooBig(out, where);
    if (!isObj(r) || !isObj(r.full_product_name)) continue;
    const id = str(r.full_product_name.product_id);
    const component = str(r.product_reference);
    const platform = str(r.relates_to_product_reference);
    if (!id || !component || !platform) {
      count('csaf-relationships-malformed');
      continue;
    }
    relationships.set(id, { component, platform });
  }

  const tracking = isObj(document.tracking) ? document.tracking : {};
  const modified = isoDate(tracking.current_release_date);
  const docSeverity = isObj(document.aggregate_severity) ? severityOf(document.aggregate_severity.text) : undefined;
  const selfUrl = (Array.isArray(document.references) ? document.references : []).find((r): r is Obj => isObj(r) && r.category === 'self');

  const vulns = doc.vulnerabilities as unknown[];
  if (vulns.length > CSAF_MAX_VULNERABILITIES) {
    out.issues.push({ where, message: `${vulns.length} vulnerabilities, more than ${CSAF_MAX_VULNERABILITIES} (CSAF_MAX_VULNERABILITIES): the file was not read` });
    return out;
  }
  for (const [i, v] of vulns.entries()) {
    const vw = `${where}#vulnerabilities[${i}]`;
    if (!isObj(v) || !isObj(v.product_status)) {
      out.issues.push({ where: vw, message: 'not a vulnerability with product_status: skipped' });
      continue;
    }
    const cve = str(v.cve);
    if (!cve || !/^CVE-\d{4}-\d{4,}$/.test(cve)) {
      out.issues.push({ where: vw, message: `no CVE id (got ${JSON.stringify(v.cve)?.slice(0, 40)}): skipped` });
      continue;
    }
    // remediations and threats by product id
    const remediations = new Map<string, Array<{ category: string; details?: string; advisory?: string }>>();
    for (const r of Array.isArray(v.remediations) ? v.remediations : []) {
      if (!isObj(r) || !str(r.category)) continue;
      const ids = strings(r.product_ids);
      if (!spend(ids.length)) return tooBig(out, where);
      const advisory = str(r.url) ? /\b(RH[SBE]A-\d{4}:\d+)\b/.exec(r.url as string)?.[1] : undefined;
      const rem = { category: r.category as string, ...(str(r.details) ? { details: (r.details as string).trim() } : {}), ...(advisory ? { advisory } : {}) };
      for (const id of ids) {
        let list = remediations.get(id);
        if (!list) remediations.set(id, (list = []));
        list.push(rem);
      }
    }
    const impact = new Map<string, Severity>();
    for (const t of Array.isArray(v.threats) ? v.threats : []) {
      if (!isObj(t) || t.category !== 'impact') continue;
      const s = severityOf(t.details);
      if (!s) continue;
      const ids = strings(t.product_ids);
      if (!spend(ids.length)) return tooBig(out, where);
      for (const id of ids) impact.set(id, maxSeverity(impact.get(id), s));
    }
    const statements: CsafStatement[] = [];
    const status = v.product_status;
    for (const [key, st] of STATUSES) {
      const ids = strings(status[key]);
      if (!spend(ids.length)) return tooBig(out, where);
      for (const productId of ids) statements.push(statement(cve, productId, st, products, relationships, remediations.get(productId) ?? [], impact.get(productId)));
    }
    for (const s of statements) out.statements.push(s);
    const affected = entriesOf(statements, count);
    if (affected.length === 0) continue;
    const cvss: CvssScore[] = [];
    for (const sc of Array.isArray(v.scores) ? v.scores : []) {
      if (!isObj(sc)) continue;
      for (const [field, type] of [['cvss_v3', 'CVSS_V3'], ['cvss_v2', 'CVSS_V2']] as const) {
        const vector = isObj(sc[field]) ? str((sc[field] as Obj).vectorString) : undefined;
        const scored = vector ? scoreCvss(type, vector) : undefined;
        if (scored && !cvss.some((c) => c.vector === scored.vector) && cvss.length < 8) cvss.push(scored);
      }
    }
    const entrySeverities = affected.map((a) => a.severity).filter((s): s is Severity => !!s);
    const severity = docSeverity ?? entrySeverities.reduce<Severity | undefined>((m, s) => maxSeverity(m, s), undefined) ?? 'unknown';
    const rhsas = [...new Set(statements.map((s) => s.remediation?.advisory).filter((a): a is string => !!a))].sort();
    const published = isoDate(v.release_date);
    const a: Advisory = {
      id: cve,
      source: 'redhat-csaf',
      aliases: [],
      related: [],
      ...(str(v.title) || str(document.title) ? { summary: (str(v.title) ?? str(document.title))! } : {}),
      ...(published ? { published } : {}),
      ...(modified ? { modified } : {}),
      severity,
      cvss,
      affected,
      references: [...(selfUrl && str(selfUrl.url) ? [selfUrl.url as string] : []), ...rhsas.slice(0, 32).map((r) => `https://access.redhat.com/errata/${r}`)],
    };
    out.advisories.push(a);
  }
  count('csaf-statements', out.statements.length);
  return out;
}

function tooBig(out: CsafReadResult, where: string): CsafReadResult {
  out.issues.push({ where, message: `more than ${CSAF_MAX_PRODUCT_IDS} product nodes, relationships and status ids (CSAF_MAX_PRODUCT_IDS): the file was not read` });
  out.advisories = [];
  out.statements = [];
  return out;
}

function addProduct(products: Map<string, ProductNode>, p: unknown): void {
  if (!isObj(p)) return;
  const id = str(p.product_id);
  if (!id) return;
  const helper = isObj(p.product_identification_helper) ? p.product_identification_helper : {};
  const node: ProductNode = { id };
  if (str(p.name)) node.name = p.name as string;
  if (str(helper.cpe)) node.cpe = helper.cpe as string;
  if (str(helper.purl)) node.purl = helper.purl as string;
  products.set(id, node);
}

function severityOf(label: unknown): Severity | undefined {
  const s = typeof label === 'string' ? severityFromLabel(label) : undefined;
  return s === 'unknown' ? undefined : s;
}

function maxSeverity(a: Severity | undefined, b: Severity): Severity {
  return a === undefined || SEVERITIES.indexOf(b) < SEVERITIES.indexOf(a) ? b : a;
}

function isoDate(x: unknown): string | undefined {
  const s = str(x);
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/** "cpe:/o:redhat:enterprise_linux:9::baseos" → key "Red Hat:9", stream "baseos"; other Red Hat CPEs → OSV's key for them, if any. */
export function redHatPlatform(cpe: string | undefined): { ecosystem: string; stream?: string } | undefined {
  const m = cpe ? /^cpe:\/[aoh]:redhat:((?:enterprise_linux|rhel_[a-z0-9]+):[^:]+(?:::([A-Za-z0-9_.-]+))?)$/.exec(cpe) : null;
  if (!m) return undefined;
  const info = ecosystemInfo(`Red Hat:${m[1]}`);
  if (!info) return undefined;
  return { ecosystem: info.key, ...(m[2] ? { stream: m[2].toLowerCase() } : {}) };
}

function fixStateOf(status: CsafStatus, rems: ReadonlyArray<{ category: string; details?: string }>): FixState {
  if (status === 'fixed') return 'fixed';
  if (status === 'known_not_affected') return 'not-affected';
  if (status === 'under_investigation') return 'undetermined';
  // a workaround's free text says nothing about the fix
  const text = rems
    .filter((r) => r.category !== 'workaround' && r.category !== 'mitigation')
    .map((r) => `${r.category} ${r.details ?? ''}`)
    .join('\n');
  if (/will not fix|out of support scope|no_fix_planned/i.test(text)) return 'wont-fix';
  if (/fix deferred|\bdeferred\b/i.test(text)) return 'deferred';
  return 'not-fixed';
}

function statement(
  cve: string,
  productId: string,
  status: CsafStatus,
  products: ReadonlyMap<string, ProductNode>,
  relationships: ReadonlyMap<string, Relationship>,
  rems: ReadonlyArray<{ category: string; details?: string; advisory?: string }>,
  severity: Severity | undefined,
): CsafStatement {
  const rel = relationships.get(productId);
  const platformNode = products.get(rel ? rel.platform : productId);
  const componentNode = rel ? (products.get(rel.component) ?? { id: rel.component }) : undefined;
  // the remediation that decides: a vendor fix for a fixed product, the one that says why there is none for an affected one
  const rem =
    status === 'fixed' ? rems.find((r) => r.category === 'vendor_fix') : status === 'known_affected' ? rems.find((r) => r.category !== 'workaround' && r.category !== 'mitigation' && r.category !== 'vendor_fix') : undefined;
  const platform = redHatPlatform(platformNode?.cpe);
  return {
    cve,
    productId,
    status,
    fixState: fixStateOf(status, rems),
    ...(platformNode || rel ? { platform: { id: rel?.platform ?? productId, ...(platformNode?.name ? { name: platformNode.name } : {}), ...(platformNode?.cpe ? { cpe: platformNode.cpe } : {}) } } : {}),
    ...(componentNode ? { component: { id: componentNode.id, ...(componentNode.name ? { name: componentNode.name } : {}), ...(componentNode.purl ? { purl: componentNode.purl } : {}) } } : {}),
    ...(rem ? { remediation: rem } : {}),
    ...(severity ? { severity } : {}),
    ...(platform ? { ecosystem: platform.ecosystem, ...(platform.stream ? { stream: platform.stream } : {}) } : {}),
  };
}

interface Rpm {
  name: string;
  /** "E:V-R", epoch explicit; undefined for an unversioned component */
  evr?: string;
  arch?: string;
}

/** An rpm component from its purl (`pkg:rpm/redhat/curl@7.76.1-26.el9_3.2?arch=src&epoch=1`), else from an id "name-E:V-R.arch". */
export function rpmOf(component: { id: string; purl?: string }): Rpm | undefined {
  if (component.purl) {
    let p: PackageURL;
    try {
      p = PackageURL.fromString(component.purl);
    } catch {
      return undefined;
    }
    if (p.type !== 'rpm' || !p.name) return undefined;
    const q = (p.qualifiers ?? {}) as Record<string, string>;
    const epoch = q.epoch && /^\d+$/.test(q.epoch) ? q.epoch : '0';
    return { name: p.name, ...(p.version ? { evr: `${epoch}:${p.version}` } : {}), ...(q.arch ? { arch: q.arch } : {}) };
  }
  // Red Hat's 2023 layout names components without a purl: "kernel", "tar.src", "curl-0:7.76.1-26.el9_3.2.x86_64"
  const m = /^(.+)-(\d+):([^-:]+)-([^-:]+)\.([A-Za-z0-9_]+)$/.exec(component.id);
  if (m) return { name: m[1]!, evr: `${m[2]}:${m[3]}-${m[4]}`, arch: m[5]! };
  const bare = /^([A-Za-z0-9][A-Za-z0-9_.+-]*?)(\.src)?$/.exec(component.id);
  return bare ? { name: bare[1]!, ...(bare[2] ? { arch: 'src' } : {}) } : undefined;
}

/** The RHEL rpm statements of one CVE → affected entries, one per (key, name, state, fixed EVR). */
function entriesOf(statements: readonly CsafStatement[], count: (k: string, n?: number) => void): AffectedPackage[] {
  interface Acc {
    entry: AffectedPackage;
    streams: Set<string>;
    products: string[];
    remediations: Set<string>;
    advisories: Set<string>;
  }
  const acc = new Map<string, Acc>();
  const put = (s: CsafStatement, name: string, fixed: string | undefined, binary: boolean) => {
    const k = `${s.ecosystem}\u0000${name}\u0000${s.fixState}\u0000${fixed ?? ''}\u0000${binary ? 'b' : 's'}`;
    let a = acc.get(k);
    if (!a) {
      const info = ecosystemInfo(s.ecosystem!);
      a = {
        entry: {
          ecosystem: s.ecosystem!,
          name,
          purl: `pkg:rpm/redhat/${encodeURIComponent(name)}`,
          ...(info?.scheme ? { scheme: info.scheme } : {}),
          intervals: [fixed ? { introduced: '0', fixed } : { introduced: '0' }],
          versions: [],
          fixState: s.fixState,
        },
        streams: new Set(),
        products: [],
        remediations: new Set(),
        advisories: new Set(),
      };
      acc.set(k, a);
    }
    if (s.severity) a.entry.severity = maxSeverity(a.entry.severity, s.severity);
    return a;
  };
  const note = (a: Acc, s: CsafStatement) => {
    if (s.stream) a.streams.add(s.stream);
    else a.streams.add('*');
    if (a.products.length < MAX_NOTED_PRODUCTS && !a.products.includes(s.productId)) a.products.push(s.productId);
    if (s.remediation?.details && s.remediation.category !== 'vendor_fix') a.remediations.add(s.remediation.details);
    if (s.remediation?.advisory) a.advisories.add(s.remediation.advisory);
  };

  // fixed rows: source rows by (key, EVR) name the entry; binary rows of that EVR add their streams
  const fixedRows: Array<{ s: CsafStatement; rpm: Rpm & { evr: string } }> = [];
  for (const s of statements) {
    if (!s.ecosystem) {
      count(s.platform?.cpe ? 'csaf-non-rhel-product' : 'csaf-product-unknown');
      continue;
    }
    if (!s.component) {
      count('csaf-product-level');
      continue;
    }
    const rpm = rpmOf(s.component);
    if (!rpm) {
      count('csaf-non-rpm-component');
      continue;
    }
    if (s.fixState === 'fixed') {
      if (!rpm.evr) {
        count('csaf-fixed-without-version');
        continue;
      }
      fixedRows.push({ s, rpm: rpm as Rpm & { evr: string } });
      continue;
    }
    // unfixed components are named by their source package ("kernel", "tar.src")
    note(put(s, rpm.name, undefined, false), s);
  }
  const sources = new Map<string, Set<string>>();
  for (const { s, rpm } of fixedRows) {
    if (rpm.arch !== 'src') continue;
    const k = `${s.ecosystem}\u0000${rpm.evr}`;
    let set = sources.get(k);
    if (!set) sources.set(k, (set = new Set()));
    set.add(rpm.name);
  }
  for (const { s, rpm } of fixedRows) if (rpm.arch === 'src') note(put(s, rpm.name, rpm.evr, false), s);
  for (const { s, rpm } of fixedRows) {
    if (rpm.arch === 'src') continue;
    const names = sources.get(`${s.ecosystem}\u0000${rpm.evr}`);
    if (names) {
      // a binary row of a source row's EVR: its stream ships that source's fix
      for (const n of names) {
        const a = acc.get(`${s.ecosystem}\u0000${n}\u0000fixed\u0000${rpm.evr}\u0000s`);
        if (a && s.stream) a.streams.add(s.stream);
      }
      count('csaf-binary-rows');
    } else {
      count('csaf-fixed-without-source-rpm');
      note(put(s, rpm.name, rpm.evr, true), s);
    }
  }
  const out: AffectedPackage[] = [];
  for (const [k, a] of acc) {
    const binary = k.endsWith('\u0000b');
    const streams = a.streams.has('*') ? [] : [...a.streams].sort();
    a.entry.notes = {
      csaf: true,
      ...(binary ? { binary: true } : {}),
      ...(streams.length > 0 ? { streams } : {}),
      products: a.products,
      ...(a.remediations.size > 0 ? { remediation: [...a.remediations].join('; ') } : {}),
      ...(a.advisories.size > 0 ? { advisories: [...a.advisories].sort() } : {}),
    };
    out.push(a.entry);
  }
  return out;
}
