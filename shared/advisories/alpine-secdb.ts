/**
 * Alpine's security database (secdb) read into the normalised model. Three layouts, told apart by
 * their content:
 * - the official secdb: { distroversion: "v3.20", reponame: "main", packages: [ { pkg: { name,
 *   secfixes: { "<fixed version>": ["CVE-… [comment]", …] } } } ] }, as JSON (secdb.alpinelinux.org)
 *   or in its older YAML form (alpinelinux/alpine-secdb, up to v3.11). Wolfi publishes the same JSON
 *   layout without distroversion (urlprefix packages.wolfi.dev): ecosystem "Wolfi".
 * - one package per file as vuln-list re-shapes it: { name, secfixes, distroversion?, reponame?, … }.
 *
 * Meaning: a secfixes key is the first version of the branch's package (the origin, i.e. source
 * package, which is what secdb names) that carries the fix → interval [0, key), fixed; the key "0"
 * lists ids Alpine records as not affecting the branch's package → not-affected. One Advisory per id
 * within one read, one AffectedPackage per (package, branch).
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { apkComparator } from '../versions/apk.js';
import type { Advisory, AdvisoryReadResult, AffectedPackage } from './types.js';

export interface AlpineSecdbOptions {
  /** the branch ("v3.20") when the file does not say (a per-package file without header fields) */
  branch?: string;
  /** the ecosystem key, overriding "Alpine:<branch>" (e.g. "Wolfi") */
  ecosystem?: string;
  /** name used in issues when the input is bytes */
  where?: string;
}

const CVE = /^CVE-\d{4}-\d{4,}$/;
const ALPINE = /^ALPINE-\d+$/;
const GHSA = /^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$/;
/** An id with a part number Alpine adds when a CVE was fixed in steps ("CVE-2017-17434-1"). */
const CVE_PART = /^(CVE-\d{4}-\d{4,})-\d+$/;
/** Other advisory ids seen beside CVEs on a secfixes line (XSA-182, TALOS-2017-0488, …). */
const OTHER_ID = /^[A-Z][A-Z0-9]*(-[A-Za-z0-9]+)+$/;

function bump(counts: Record<string, number>, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * One secfixes line → the ids it fixes, the other ids it names beside them, and any comment.
 * "CVE-2016-6258 XSA-182" → ids [CVE-2016-6258], others [XSA-182]; "CVE-2018-14468 (FrameRelay)"
 * → comment "FrameRelay"; "CVE-2019-1234 CVE-2019-5678" → two ids.
 */
export function parseSecfixLine(line: string): { ids: string[]; others: string[]; comment?: string; partNumbers: number } {
  const comments: string[] = [];
  const bare = line.replace(/\(([^)]*)\)/g, (_, c: string) => {
    comments.push(c.trim());
    return ' ';
  });
  const ids: string[] = [];
  const others: string[] = [];
  let partNumbers = 0;
  for (const raw of bare.split(/[\s,;]+/)) {
    const token = raw.trim();
    if (!token) continue;
    const upper = token.toUpperCase();
    let id: string | undefined;
    if (CVE.test(upper) || ALPINE.test(upper)) id = upper;
    else if (GHSA.test(token.replace(/^ghsa/i, 'GHSA'))) id = token.replace(/^ghsa/i, 'GHSA');
    else {
      const part = CVE_PART.exec(upper);
      if (part) {
        id = part[1]!;
        partNumbers++;
      }
    }
    if (id !== undefined) {
      if (!ids.includes(id)) ids.push(id);
    } else if (OTHER_ID.test(token)) others.push(token);
    else comments.push(token);
  }
  const comment = comments.filter(Boolean).join(' ');
  return { ids, others, ...(comment ? { comment } : {}), partNumbers };
}

/** "v3.20" / "3.20" → "v3.20"; "edge" stays. */
function normaliseBranch(branch: string): string {
  const b = branch.trim();
  return /^\d/.test(b) ? `v${b}` : b;
}

interface Collected {
  advisory: Advisory;
  /** name → entry, to merge a second listing of the same id for the same package */
  byPackage: Map<string, AffectedPackage>;
}

/**
 * A secdb document (path or bytes; JSON or YAML) → advisories. A malformed document or package is an
 * issue, never an exception. The same id listed twice for one package (a fix completed in a later
 * release, or "0" beside a version) keeps the highest fixed version: the package counts as fixed only
 * once every listed fix is in (counted as duplicate-id).
 */
export async function readAlpineSecdb(input: string | Uint8Array, opts: AlpineSecdbOptions = {}): Promise<AdvisoryReadResult> {
  const result: AdvisoryReadResult = { advisories: [], issues: [], counts: {} };
  const where = opts.where ?? (typeof input === 'string' ? input : 'alpine secdb');
  let text: string;
  try {
    text = typeof input === 'string' ? await readFile(input, 'utf8') : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8');
  } catch (e) {
    result.issues.push({ where, message: `cannot read: ${(e as Error).message}` });
    return result;
  }
  const doc = parseText(text, where, result);
  if (doc === undefined) return result;
  if (!isObject(doc)) {
    result.issues.push({ where, message: 'not an Alpine secdb: the document is not a mapping' });
    return result;
  }

  // Which packages: the official layout's list, or a single per-package document.
  let packages: unknown[];
  if (Array.isArray(doc.packages)) packages = doc.packages.map((p) => (isObject(p) && 'pkg' in p ? p.pkg : p));
  else if ('secfixes' in doc) packages = [doc];
  else {
    result.issues.push({ where, message: 'not an Alpine secdb: no packages list and no secfixes' });
    return result;
  }

  const ecosystem = ecosystemOf(doc, opts);
  if (!ecosystem) {
    result.issues.push({ where, message: 'no branch: the file has no distroversion; pass opts.branch (e.g. "v3.20") or opts.ecosystem' });
    return result;
  }
  const reponame = typeof doc.reponame === 'string' ? doc.reponame : undefined;

  const byId = new Map<string, Collected>();
  packages.forEach((pkg, i) => {
    const at = `${where}: packages[${i}]`;
    if (!isObject(pkg) || typeof pkg.name !== 'string' || !pkg.name.trim()) {
      result.issues.push({ where: at, message: 'package without a name' });
      return;
    }
    const name = pkg.name.trim();
    const secfixes = pkg.secfixes;
    // A package with no fixes yet is written with an empty or null secfixes.
    if (secfixes === null || secfixes === undefined) {
      bump(result.counts, 'packages-without-secfixes');
      return;
    }
    if (!isObject(secfixes)) {
      result.issues.push({ where: `${at} (${name})`, message: 'secfixes is not a mapping of version → ids' });
      return;
    }
    bump(result.counts, 'packages');
    for (const [version, lines] of Object.entries(secfixes)) {
      const v = version.trim();
      const fixState = v === '0' ? 'not-affected' : 'fixed';
      if (fixState === 'fixed' && !apkComparator.isValid(v)) {
        result.issues.push({ where: `${at} (${name})`, message: `secfixes key ${JSON.stringify(version)} is not an apk version` });
        continue;
      }
      if (!Array.isArray(lines)) {
        result.issues.push({ where: `${at} (${name} ${v})`, message: 'secfixes entry is not a list of ids' });
        continue;
      }
      for (const line of lines) {
        if (typeof line !== 'string') {
          result.issues.push({ where: `${at} (${name} ${v})`, message: `id is not a string: ${JSON.stringify(line)}` });
          continue;
        }
        const parsed = parseSecfixLine(line);
        if (parsed.partNumbers) bump(result.counts, 'id-part-numbers', parsed.partNumbers);
        if (parsed.others.length) bump(result.counts, 'other-ids', parsed.others.length);
        if (parsed.ids.length === 0) {
          bump(result.counts, parsed.others.length ? 'lines-with-other-ids-only' : 'lines-without-id');
          continue;
        }
        for (const id of parsed.ids) {
          bump(result.counts, 'ids');
          add(byId, id, parsed.others, { ecosystem, name, v, fixState, line, reponame }, result);
        }
      }
    }
  });
  for (const { advisory } of byId.values()) result.advisories.push(advisory);
  return result;
}

function parseText(text: string, where: string, result: AdvisoryReadResult): unknown {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(text);
    } catch (e) {
      result.issues.push({ where, message: `not readable as JSON: ${(e as Error).message}` });
      return undefined;
    }
  }
  // failsafe: every scalar stays a string (a key "1.10" must not become the number 1.1).
  let doc = parseDocument(text, { schema: 'failsafe' });
  if (doc.errors.length && doc.errors.every((e) => e.code === 'DUPLICATE_KEY')) {
    // A key written twice is kept (the later one) rather than losing the whole branch.
    result.issues.push({ where, message: `${doc.errors.length} duplicate YAML key(s), the later kept: ${doc.errors[0]!.message.split('\n')[0]}` });
    doc = parseDocument(text, { schema: 'failsafe', uniqueKeys: false });
  }
  if (doc.errors.length) {
    result.issues.push({ where, message: `not readable as YAML: ${doc.errors[0]!.message.split('\n')[0]}` });
    return undefined;
  }
  return doc.toJS({ maxAliasCount: 100 });
}

function ecosystemOf(doc: Record<string, unknown>, opts: AlpineSecdbOptions): string | undefined {
  if (opts.ecosystem) return opts.ecosystem;
  const branch = typeof doc.distroversion === 'string' && doc.distroversion.trim() ? doc.distroversion : opts.branch;
  if (branch) return `Alpine:${normaliseBranch(branch)}`;
  if (typeof doc.urlprefix === 'string' && /(^|\/\/|\.)wolfi\.dev\b/.test(doc.urlprefix)) return 'Wolfi';
  return undefined;
}

function add(
  byId: Map<string, Collected>,
  id: string,
  others: string[],
  e: { ecosystem: string; name: string; v: string; fixState: 'fixed' | 'not-affected'; line: string; reponame: string | undefined },
  result: AdvisoryReadResult,
): void {
  let c = byId.get(id);
  if (!c) {
    c = { advisory: { id, source: 'alpine-secdb', aliases: [], related: [], severity: 'unknown', cvss: [], affected: [] }, byPackage: new Map() };
    byId.set(id, c);
  }
  for (const o of others) if (!c.advisory.aliases.includes(o)) c.advisory.aliases.push(o);
  const entry: AffectedPackage = {
    ecosystem: e.ecosystem,
    name: e.name,
    scheme: 'apk',
    intervals: e.fixState === 'fixed' ? [{ introduced: '0', fixed: e.v }] : [],
    versions: [],
    fixState: e.fixState,
    notes: { secfix: e.v, ...(e.line.trim() !== id ? { line: e.line } : {}), ...(e.reponame ? { repo: e.reponame } : {}) },
  };
  const prior = c.byPackage.get(e.name);
  if (!prior) {
    c.byPackage.set(e.name, entry);
    c.advisory.affected.push(entry);
    return;
  }
  bump(result.counts, 'duplicate-id');
  if (entry.fixState === 'not-affected') return;
  const before = prior.intervals[0]?.fixed;
  if (prior.fixState === 'not-affected' || (before !== undefined && apkComparator.compare(e.v, before) > 0)) {
    prior.fixState = 'fixed';
    prior.intervals = entry.intervals;
    prior.notes = { ...entry.notes, alsoListedIn: prior.notes?.secfix };
  }
}
