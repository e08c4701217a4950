/**
 * Findings the user has judged: a project ignore file (`.drydockignore.yaml`, modelled on
 * Trivy's `.trivyignore.yaml`) and OpenVEX 0.2.0 documents. Both only ever mark a finding
 * `suppressed` (with its source and reason): it stays in every output, and gates do not count
 * it — the same mechanism as a policy bundle's allowlist. Pure: the caller reads the files.
 *
 * Ignore file:
 *   vulnerabilities:
 *     - id: CVE-2023-4911            # the finding's id or one of its aliases (CVE, GHSA, ALAS, DSA…)
 *       package: libc6               # optional: the package name as the findings show it (binary, not source)
 *       purl: pkg:deb/debian/libc6   # optional: exact purl, or without version/qualifiers = any
 *       reason: not reachable: no setuid binaries in the image   # required
 *       expires: 2025-01-31          # optional: stops applying at that date (00:00 UTC), and says so
 *
 * OpenVEX: a statement suppresses a finding when its vulnerability (name, @id or an alias)
 * names the finding (id or alias), one of its products or subcomponents names the finding's
 * package (purl: exact, or without version/qualifiers), the product around a subcomponent is
 * the scanned image or not an image (an oci purl with a digest must be the image's), and its
 * status is `not_affected` or `fixed`. Of several statements for one finding, the latest
 * (statement timestamp, else the document's) decides: a later `affected` or
 * `under_investigation` lifts the suppression.
 */
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { isMap, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { DrydockError } from '../errors.js';
import type { Finding } from './index.js';

/** Bounds on hostile input, named in the errors. */
export const SUPPRESS_LIMITS = { maxIgnoreFileBytes: 1 << 20, maxIgnoreEntries: 10_000, maxVexBytes: 16 << 20, maxVexStatements: 100_000 } as const;

export const DEFAULT_IGNORE_FILE = '.drydockignore.yaml';

export interface IgnoreEntry {
  id: string;
  package?: string;
  purl?: string;
  reason: string;
  /** ISO date or date-time */
  expires?: string;
  /** file:line, for messages */
  where: string;
}

export interface VexStatement {
  /** the document's @id */
  doc: string;
  /** the vulnerability's name, @id and aliases */
  ids: string[];
  /** package purls the statement names (subcomponents, or the product itself when it has none) with the product around them */
  products: Array<{ purl: string; within?: string }>;
  status: 'not_affected' | 'affected' | 'fixed' | 'under_investigation';
  justification?: string;
  impactStatement?: string;
  /** ms since the epoch (statement timestamp, else the document's) */
  time: number;
}

export interface Suppressions {
  ignore: IgnoreEntry[];
  vex: VexStatement[];
}

const ENTRY_KEYS = new Set(['id', 'package', 'purl', 'reason', 'expires']);

function realDay(ymd: string): boolean {
  const t = Date.parse(`${ymd}T00:00:00Z`);
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === ymd;
}

/** An ignore file's entries; `now` splits off the expired ones (each with a warning naming it). */
export function parseIgnoreFile(text: string, path: string, now: Date): { entries: IgnoreEntry[]; expired: IgnoreEntry[]; warnings: string[] } {
  if (Buffer.byteLength(text) > SUPPRESS_LIMITS.maxIgnoreFileBytes) throw new DrydockError('CONFIG', `ignore file ${path}: larger than maxIgnoreFileBytes (${SUPPRESS_LIMITS.maxIgnoreFileBytes} bytes)`);
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, schema: 'core', prettyErrors: false, uniqueKeys: true });
  const at = (n: Node | null | undefined) => (n?.range ? `${path}:${lc.linePos(n.range[0]).line}` : path);
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new DrydockError('CONFIG', `ignore file ${path}:${lc.linePos(e.pos[0]).line}: not valid YAML: ${e.message.split('\n')[0]}`);
  }
  const root = doc.contents;
  if (root === null) return { entries: [], expired: [], warnings: [] };
  if (!isMap(root)) throw new DrydockError('CONFIG', `ignore file ${at(root)}: expected a mapping with a "vulnerabilities" list`);
  for (const pair of root.items) {
    const k = String((pair.key as { value?: unknown } | null)?.value ?? pair.key);
    if (k !== 'vulnerabilities') throw new DrydockError('CONFIG', `ignore file ${at(pair.key as Node)}: unknown key "${k}" (expected "vulnerabilities")`);
  }
  const list = root.get('vulnerabilities', true) as Node | undefined;
  if (list === undefined || list === null || (list as { value?: unknown }).value === null) return { entries: [], expired: [], warnings: [] };
  if (!isSeq(list)) throw new DrydockError('CONFIG', `ignore file ${at(list)}: "vulnerabilities" must be a list of entries`);
  if (list.items.length > SUPPRESS_LIMITS.maxIgnoreEntries) throw new DrydockError('CONFIG', `ignore file ${path}: more than maxIgnoreEntries (${SUPPRESS_LIMITS.maxIgnoreEntries}) entries`);
  const entries: IgnoreEntry[] = [];
  const expired: IgnoreEntry[] = [];
  const warnings: string[] = [];
  for (const item of list.items as Node[]) {
    const where = at(item);
    if (!isMap(item)) throw new DrydockError('CONFIG', `ignore file ${where}: an entry must be a mapping (id, package, purl, reason, expires)`);
    const e: Record<string, string> = {};
    for (const pair of item.items) {
      const key = String((pair.key as { value?: unknown } | null)?.value ?? pair.key);
      const kw = at(pair.key as Node);
      if (!ENTRY_KEYS.has(key)) throw new DrydockError('CONFIG', `ignore file ${kw}: unknown key "${key}" (id, package, purl, reason, expires)`);
      const v = (pair.value as { value?: unknown } | null)?.value;
      if (typeof v !== 'string' && !(key === 'id' && typeof v === 'number')) throw new DrydockError('CONFIG', `ignore file ${kw}: "${key}" must be a string`);
      if (String(v).trim() === '') throw new DrydockError('CONFIG', `ignore file ${kw}: "${key}" is empty`);
      e[key] = String(v).trim();
    }
    if (!e.id) throw new DrydockError('CONFIG', `ignore file ${where}: an entry needs an "id" (a CVE, GHSA, ALAS… id)`);
    if (!e.reason) throw new DrydockError('CONFIG', `ignore file ${where}: entry ${e.id} needs a "reason" (suppressions are shown with theirs)`);
    if (e.purl && !/^pkg:[a-z0-9.+-]+\/.+/i.test(e.purl)) throw new DrydockError('CONFIG', `ignore file ${where}: entry ${e.id}: "purl" is not a package URL: "${e.purl}"`);
    if (e.expires !== undefined && !/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(e.expires)) throw new DrydockError('CONFIG', `ignore file ${where}: entry ${e.id}: "expires" must be a date (YYYY-MM-DD) or an ISO date-time, got "${e.expires}"`);
    if (e.expires !== undefined && (Number.isNaN(Date.parse(e.expires)) || !realDay(e.expires.slice(0, 10)))) throw new DrydockError('CONFIG', `ignore file ${where}: entry ${e.id}: "expires" is not a real date: "${e.expires}"`);
    const entry: IgnoreEntry = { id: e.id, reason: e.reason, where, ...(e.package ? { package: e.package } : {}), ...(e.purl ? { purl: e.purl } : {}), ...(e.expires ? { expires: e.expires } : {}) };
    if (entry.expires !== undefined && now.getTime() >= Date.parse(entry.expires)) {
      expired.push(entry);
      warnings.push(`ignore file ${where}: entry ${entry.id}${entry.package ? ` (${entry.package})` : entry.purl ? ` (${entry.purl})` : ''} expired ${entry.expires}: it no longer suppresses`);
    } else entries.push(entry);
  }
  return { entries, expired, warnings };
}

/**
 * The OpenVEX 0.2.0 constraints Drydock relies on, as a JSON Schema (draft 2020-12) written
 * after the specification's published schema (test/cli/suppress.test.ts checks that both
 * agree on the real examples and on broken documents).
 */
const IRI = { type: 'string', minLength: 1 } as const;
const DATE_TIME = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$' } as const;
const SUBCOMPONENT = {
  type: 'object',
  properties: { '@id': IRI, identifiers: { type: 'object' }, hashes: { type: 'object' } },
  anyOf: [{ required: ['@id'] }, { required: ['identifiers'] }, { required: ['hashes'] }],
} as const;
const OPENVEX_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['@context', '@id', 'author', 'timestamp', 'version', 'statements'],
  properties: {
    '@context': { type: 'string', pattern: '^https://openvex\\.dev/ns' },
    '@id': IRI,
    author: { type: 'string', minLength: 1 },
    role: { type: 'string' },
    timestamp: DATE_TIME,
    last_updated: DATE_TIME,
    version: { type: 'integer', minimum: 1 },
    tooling: { type: 'string' },
    statements: {
      type: 'array',
      minItems: 1,
      maxItems: SUPPRESS_LIMITS.maxVexStatements,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['vulnerability', 'status'],
        properties: {
          '@id': IRI,
          version: { type: 'integer', minimum: 1 },
          vulnerability: {
            type: 'object',
            required: ['name'],
            properties: { '@id': IRI, name: { type: 'string', minLength: 1 }, description: { type: 'string' }, aliases: { type: 'array', items: { type: 'string' } } },
          },
          timestamp: DATE_TIME,
          last_updated: DATE_TIME,
          products: { type: 'array', items: { ...SUBCOMPONENT, properties: { ...SUBCOMPONENT.properties, subcomponents: { type: 'array', items: SUBCOMPONENT } } } },
          status: { enum: ['not_affected', 'affected', 'fixed', 'under_investigation'] },
          supplier: { type: 'string' },
          status_notes: { type: 'string' },
          justification: { enum: ['component_not_present', 'vulnerable_code_not_present', 'vulnerable_code_not_in_execute_path', 'vulnerable_code_cannot_be_controlled_by_adversary', 'inline_mitigations_already_exist'] },
          impact_statement: { type: 'string' },
          action_statement: { type: 'string' },
          action_statement_timestamp: DATE_TIME,
        },
        allOf: [
          { if: { properties: { status: { const: 'not_affected' } } }, then: { anyOf: [{ required: ['justification'] }, { required: ['impact_statement'] }] } },
          { if: { properties: { status: { const: 'affected' } } }, then: { required: ['action_statement'] } },
        ],
      },
    },
  },
} as const;

let validateVex: ReturnType<Ajv2020['compile']> | undefined;

function formatAjvError(e: ErrorObject): string {
  return `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params && 'allowedValues' in e.params ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : ''}`;
}

/** One OpenVEX document's statements, validated first; errors name the file and the JSON path. */
export function parseVex(text: string, path: string): VexStatement[] {
  if (Buffer.byteLength(text) > SUPPRESS_LIMITS.maxVexBytes) throw new DrydockError('CONFIG', `VEX document ${path}: larger than maxVexBytes (${SUPPRESS_LIMITS.maxVexBytes} bytes)`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new DrydockError('CONFIG', `VEX document ${path}: not JSON: ${(e as Error).message}`);
  }
  validateVex ??= new Ajv2020({ allErrors: false, strict: true, strictTypes: false, strictRequired: false }).compile(OPENVEX_SCHEMA);
  if (!validateVex(doc)) throw new DrydockError('CONFIG', `VEX document ${path}: not an OpenVEX 0.2.0 document: ${(validateVex.errors ?? []).map(formatAjvError).join('; ')}`);
  const d = doc as { '@id': string; timestamp: string; statements: Array<Record<string, unknown>> };
  const docTime = Date.parse(d.timestamp);
  return d.statements.map((s) => {
    const v = s.vulnerability as { name: string; '@id'?: string; aliases?: string[] };
    const products: VexStatement['products'] = [];
    for (const p of (s.products ?? []) as Array<{ '@id'?: string; identifiers?: { purl?: string }; subcomponents?: Array<{ '@id'?: string; identifiers?: { purl?: string } }> }>) {
      const pid = p.identifiers?.purl ?? p['@id'];
      const subs = (p.subcomponents ?? []).map((c) => c.identifiers?.purl ?? c['@id']).filter((x): x is string => typeof x === 'string' && x.startsWith('pkg:'));
      if (subs.length > 0) for (const purl of subs) products.push({ purl, ...(pid ? { within: pid } : {}) });
      else if (pid?.startsWith('pkg:')) products.push({ purl: pid });
    }
    return {
      doc: d['@id'],
      ids: [...new Set([v.name, ...(v['@id'] ? [v['@id']] : []), ...(v.aliases ?? [])])],
      products,
      status: s.status as VexStatement['status'],
      ...(typeof s.justification === 'string' ? { justification: s.justification } : {}),
      ...(typeof s.impact_statement === 'string' ? { impactStatement: s.impact_statement } : {}),
      time: typeof s.timestamp === 'string' ? Date.parse(s.timestamp) : docTime,
    };
  });
}

interface Purl {
  type: string;
  namespace: string;
  name: string;
  version?: string;
  qualifiers: Map<string, string>;
}

function parsePurl(s: string): Purl | undefined {
  const m = /^pkg:([^/]+)\/([^@?#]+)(?:@([^?#]*))?(?:\?([^#]*))?/.exec(s.trim());
  if (!m) return undefined;
  const dec = (x: string) => {
    try {
      return decodeURIComponent(x);
    } catch {
      return x;
    }
  };
  const parts = m[2]!.split('/').filter(Boolean).map(dec);
  const qualifiers = new Map<string, string>();
  for (const kv of (m[4] ?? '').split('&')) {
    if (!kv) continue;
    const i = kv.indexOf('=');
    if (i > 0) qualifiers.set(kv.slice(0, i).toLowerCase(), dec(kv.slice(i + 1)));
  }
  return { type: m[1]!.toLowerCase(), namespace: parts.slice(0, -1).join('/').toLowerCase(), name: parts.at(-1) ?? '', ...(m[3] !== undefined ? { version: dec(m[3]) } : {}), qualifiers };
}

/** `pattern` names `purl`: same type/namespace/name; its version and each of its qualifiers, when given, equal. */
export function purlMatches(pattern: string, purl: string): boolean {
  const p = parsePurl(pattern);
  const f = parsePurl(purl);
  if (!p || !f) return false;
  if (p.type !== f.type || p.namespace !== f.namespace || p.name !== f.name) return false;
  if (p.version !== undefined && p.version !== f.version) return false;
  for (const [k, v] of p.qualifiers) if (f.qualifiers.get(k) !== v) return false;
  return true;
}

/** A product around subcomponents applies to this image: not an image purl, or an image purl without a digest, or with the image's digest. */
function productIsImage(within: string | undefined, imageDigests: readonly string[]): boolean {
  if (!within) return true;
  const p = parsePurl(within);
  if (!p || (p.type !== 'oci' && p.type !== 'docker')) return true;
  if (p.version === undefined || !p.version.startsWith('sha256:')) return true;
  return imageDigests.includes(p.version);
}

export interface ApplyOptions {
  /** the scanned image's manifest (and index) digests: an OpenVEX product naming an image by digest applies only to it */
  imageDigests?: readonly string[];
}

/** Marks the findings the ignore entries and VEX statements suppress; returns how many. Already suppressed findings are left as they are. */
export function applySuppressions(findings: Finding[], s: Suppressions, opts: ApplyOptions = {}): number {
  let n = 0;
  for (const f of findings) {
    if (f.suppressed) continue;
    const ids = new Set([f.id, ...f.aliases]);
    const entry = s.ignore.find(
      (e) =>
        ids.has(e.id) &&
        (e.package === undefined || e.package === f.package.name) &&
        (e.purl === undefined || purlMatches(e.purl, f.package.purl)),
    );
    if (entry) {
      f.suppressed = { by: 'ignore-file', reason: `${entry.reason}${entry.expires ? ` (until ${entry.expires})` : ''} [${entry.id} at ${entry.where}]` };
      n++;
      continue;
    }
    let latest: VexStatement | undefined;
    for (const st of s.vex) {
      if (!st.ids.some((id) => ids.has(id))) continue;
      if (!st.products.some((p) => purlMatches(p.purl, f.package.purl) && productIsImage(p.within, opts.imageDigests ?? []))) continue;
      if (!latest || st.time >= latest.time) latest = st;
    }
    if (latest && (latest.status === 'not_affected' || latest.status === 'fixed')) {
      const why = latest.status === 'not_affected' ? [latest.justification, latest.impactStatement].filter(Boolean).join(': ') : '';
      f.suppressed = { by: 'vex', reason: `${latest.status}${why ? ` (${why})` : ''} from ${latest.doc}` };
      n++;
    }
  }
  return n;
}
