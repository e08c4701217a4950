/**
 * Loads advisory sources the user names (`--advisories <dir|zip|file>`, or the feeds already
 * synced) into the embedded store. What each file is, is told by its content, not its name:
 * an OSV record, an OSV all.zip, the Debian tracker's JSON export, the tracker's list entries
 * as vuln-list writes them, an Alpine secdb (JSON or YAML), Amazon Linux updateinfo XML (gzip or
 * plain, streamed) and vuln-list's ALAS JSON, Red Hat's CSAF VEX (size-bounded, csaf.ts), Oracle's ELSA OVAL (bzip2, gzip or plain, streamed), and for severity only NVD's CVE API
 * 2.0 JSON and CVE List V5 records (into a CvssStore), and for exploitation only CISA's KEV
 * catalog JSON and FIRST's EPSS CSV (gzip or plain, streamed; into an ExploitStore). A file
 * nothing recognises is an issue; the others still load.
 */
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { MemoryAdvisoryStore } from '../adapters/local/memory-advisory-store.js';
import { parse as parseYaml } from 'yaml';
import { DrydockError } from '../errors.js';
import { readAlpineSecdb } from './alpine-secdb.js';
import { isAlasVulnListJson, readAlasUpdateinfo, readAlasVulnListJson } from './alas.js';
import { elsaDefinitions, isElsaOval } from './elsa.js';
import { ELSA_FILE } from './elsa-feed.js';
import { readDebianTrackerJson, readDebianVulnList } from './debian-tracker.js';
import { isCsafVex, isCsafVexFile, readCsafVex, readCsafVexFile } from './csaf.js';
import { osvRecordsFromZip, parseOsvRecord } from './osv.js';
import { isNvdJson, readNvdJson } from './nvd.js';
import { isCve5Record, readCve5Record } from './cve5.js';
import { attachCvssStore, CvssStore } from './cvss-store.js';
import { attachExploitStore, ExploitStore } from './exploit-store.js';
import { isKevCatalog, readKevCatalog } from './kev.js';
import { isEpssFile, readEpssCsv } from './epss.js';
import { EPSS_FILE, KEV_FILE } from './feeds.js';
import type { PackageKey } from '../ports/advisory-store.js';
import type { Advisory, AdvisoryIssue, AdvisoryReadResult } from './types.js';

export type SourceKind = 'osv-zip' | 'osv' | 'debian-tracker-json' | 'debian-vuln-list' | 'alpine-secdb' | 'nvd-api2' | 'cve5' | 'alas-updateinfo' | 'alas-json' | 'elsa-oval' | 'redhat-csaf' | 'kev' | 'epss';

export interface LoadedSource {
  path: string;
  kind: SourceKind;
  /** advisories read (before the store's key filter) */
  advisories: number;
  /** advisories the store kept (they affect a package key the caller asked for) */
  kept: number;
  /** severity-only sources (NVD API 2.0, CVE 5): CVE score records read (they name no package, so `advisories` is 0 and they cover no ecosystem) */
  scores?: number;
  /** exploitation sources (KEV, EPSS): entries / scores read (enrichment: `advisories` is 0, they cover no ecosystem) */
  exploits?: number;
  /** every ecosystem key ("Debian:12", "npm") any record of this source names, before the store's filter */
  ecosystems: string[];
  /** the feed's own timestamp: the newest record date (OSV `modified`, else `published`), ISO; undefined when the records carry none */
  producedAt?: string;
}

export interface LoadSummary {
  sources: LoadedSource[];
  issues: AdvisoryIssue[];
  counts: Record<string, number>;
  /** per-CVE CVSS ratings read from NVD / CVE 5 files (also attached to the advisory store for the matcher) */
  cvss: CvssStore;
  /** per-CVE KEV entries and EPSS scores (also attached to the advisory store for the matcher) */
  exploits: ExploitStore;
}

export interface LoadOptions {
  /** records read so far, for a progress line */
  progress?: (records: number) => void;
  /** where NVD / CVE 5 ratings go (default: a new CvssStore, returned in the summary) */
  cvss?: CvssStore;
  /** where KEV / EPSS data goes (default: a new ExploitStore, returned in the summary) */
  exploits?: ExploitStore;
  /**
   * The keys the caller will ask for — the same predicate as the store's `keep` (a scan: its
   * images' keys). Streamed sources use it to skip records early: an ELSA definition for another
   * Oracle Linux release or other packages is not parsed, and a kept one is trimmed to the wanted
   * rows before the store holds it. Undefined: every record is read in full.
   */
  keep?: (key: PackageKey) => boolean;
}

/** Load every path into `store`. A path that does not exist is an error; a bad record is an issue. */
export async function loadAdvisories(paths: readonly string[], store: MemoryAdvisoryStore, opts: LoadOptions = {}): Promise<LoadSummary> {
  const summary: LoadSummary = { sources: [], issues: [], counts: {}, cvss: opts.cvss ?? new CvssStore(), exploits: opts.exploits ?? new ExploitStore() };
  attachCvssStore(store, summary.cvss);
  attachExploitStore(store, summary.exploits);
  let records = 0;
  const tick = (n: number) => {
    records += n;
    opts.progress?.(records);
  };
  const take = (path: string, kind: SourceKind, r: AdvisoryReadResult) => {
    let kept = 0;
    const src: LoadedSource = { path, kind, advisories: r.advisories.length, kept: 0, ecosystems: [] };
    const ecos = new Set<string>();
    for (const a of r.advisories) {
      if (store.add(a)) kept++;
      describeSource(src, ecos, a);
    }
    src.kept = kept;
    src.ecosystems = [...ecos].sort();
    summary.sources.push(src);
    summary.issues.push(...r.issues);
    for (const [k, v] of Object.entries(r.counts)) summary.counts[k] = (summary.counts[k] ?? 0) + v;
    tick(r.advisories.length);
  };

  const loadFile = async (path: string): Promise<void> => {
    if (/\.zip$/i.test(path)) {
      const src: LoadedSource = { path, kind: 'osv-zip', advisories: 0, kept: 0, ecosystems: [] };
      const ecos = new Set<string>();
      for await (const r of osvRecordsFromZip(path)) {
        summary.issues.push(...r.issues);
        for (const [k, v] of Object.entries(r.counts)) summary.counts[k] = (summary.counts[k] ?? 0) + v;
        if (!r.advisory) continue;
        src.advisories++;
        describeSource(src, ecos, r.advisory);
        if (store.add(r.advisory)) src.kept++;
        if (src.advisories % 1000 === 0) tick(1000);
      }
      src.ecosystems = [...ecos].sort();
      summary.sources.push(src);
      return;
    }
    if (await isEpssFile(path)) {
      // FIRST EPSS scores (gzip or plain CSV), streamed: enrichment only
      const r = await readEpssCsv(path);
      let kept = 0;
      for (const sc of r.scores) if (summary.exploits.addEpss(sc)) kept++;
      if (summary.exploits.epssFull) summary.issues.push({ where: path, message: 'exploit store full (limit MAX_EPSS_CVES scores): further EPSS scores are not kept' });
      summary.sources.push({ path, kind: 'epss', advisories: 0, kept, exploits: r.scores.length, ecosystems: [], ...(r.scoreDate ? { producedAt: `${r.scoreDate}T00:00:00.000Z` } : {}) });
      summary.issues.push(...r.issues);
      for (const [k, v] of Object.entries(r.counts)) summary.counts[k] = (summary.counts[k] ?? 0) + v;
      return;
    }
    if (await isElsaOval(path)) {
      // Oracle Linux ELSA OVAL (bzip2, gzip or plain XML), streamed into the store a definition at a time
      const src: LoadedSource = { path, kind: 'elsa-oval', advisories: 0, kept: 0, ecosystems: [] };
      const ecos = new Set<string>();
      try {
        const keep = opts.keep;
        for await (const r of elsaDefinitions(path, keep ? { keep } : {})) {
          summary.issues.push(...r.issues);
          for (const [k, v] of Object.entries(r.counts)) summary.counts[k] = (summary.counts[k] ?? 0) + v;
          if (r.skipped) {
            // read, for a release or packages the caller does not ask for: counted and covered, not kept
            src.advisories++;
            for (const e of r.skipped.ecosystems) ecos.add(e);
            const at = r.skipped.issued;
            if (at && (!src.producedAt || Date.parse(at) > Date.parse(src.producedAt))) src.producedAt = new Date(Date.parse(at)).toISOString();
          } else if (r.advisory) {
            src.advisories++;
            describeSource(src, ecos, r.advisory);
            const a = keep ? { ...r.advisory, affected: r.advisory.affected.filter((p) => keep({ ecosystem: p.ecosystem, name: p.name })) } : r.advisory;
            // (added even when no row is left: it replaces an earlier copy of the same id). One the
            // store keeps is put again as a structuredClone: the strings it holds then stop being
            // slices of the whole definition element (~half the heap of an unfiltered load).
            if (store.add(a)) {
              store.add(structuredClone(a));
              src.kept++;
            }
          } else continue;
          if (src.advisories % 1000 === 0) tick(1000);
        }
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
        // a document cut short covers nothing: its releases stay uncovered (fail closed)
        summary.issues.push({ where: path, message: e.message });
        return;
      }
      src.ecosystems = [...ecos].sort();
      summary.sources.push(src);
      return;
    }
    if (await isXmlOrGzip(path)) {
      // Amazon Linux updateinfo (gzip or plain XML), streamed
      try {
        return take(path, 'alas-updateinfo', await readAlasUpdateinfo(path));
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
        summary.issues.push({ where: path, message: e.message });
        return;
      }
    }
    // Red Hat CSAF VEX (Red Hat's files and vuln-list-redhat's copies), size-bounded before it is read
    if (/\.json$/i.test(path) && (await isCsafVexFile(path))) return take(path, 'redhat-csaf', await readCsafVexFile(path));
    const buf = await readFile(path);
    const yaml = /\.ya?ml$/i.test(path);
    let json: unknown;
    try {
      // YAML with the failsafe schema: every scalar stays a string ("1.10" is a version, not 1.1).
      json = yaml ? parseYaml(buf.toString('utf8'), { schema: 'failsafe' }) : JSON.parse(buf.toString('utf8'));
    } catch (e) {
      summary.issues.push({ where: path, message: `not ${yaml ? 'YAML' : 'JSON'}: ${(e as Error).message}` });
      return;
    }
    const kind = sniff(json);
    if (kind === 'kev') {
      // CISA KEV catalog: enrichment only (known exploited, with the due date)
      const r = readKevCatalog(json, path);
      let kept = 0;
      for (const e of r.entries) if (summary.exploits.addKev(e)) kept++;
      if (summary.exploits.kevFull) summary.issues.push({ where: path, message: 'exploit store full (limit MAX_KEV_ENTRIES entries): further KEV entries are not kept' });
      summary.sources.push({ path, kind, advisories: 0, kept, exploits: r.entries.length, ecosystems: [], ...(r.dateReleased ? { producedAt: r.dateReleased } : {}) });
      summary.issues.push(...r.issues);
      for (const [k, v] of Object.entries(r.counts)) summary.counts[k] = (summary.counts[k] ?? 0) + v;
      return;
    }
    if (kind === 'nvd-api2' || kind === 'cve5') {
      // Severity only: per-CVE CVSS ratings into the CvssStore (the newest revision of a record wins).
      const r = kind === 'cve5' ? readCve5Record(json, path) : readNvdJson(json, path);
      let kept = 0;
      for (const rec of r.records) if (summary.cvss.add(rec)) kept++;
      if (summary.cvss.full) summary.issues.push({ where: path, message: 'CVSS store full (limit MAX_CVSS_CVES CVEs): further CVE score records are not kept' });
      summary.sources.push({ path, kind, advisories: 0, kept, scores: r.records.length, ecosystems: [] });
      summary.issues.push(...r.issues);
      for (const [k, v] of Object.entries(r.counts)) summary.counts[k] = (summary.counts[k] ?? 0) + v;
      return;
    }
    if (kind === 'osv') {
      const r = parseOsvRecord(json, path);
      return take(path, 'osv', { advisories: r.advisory ? [r.advisory] : [], issues: r.issues, counts: r.counts });
    }
    if (kind === 'alpine-secdb') return take(path, kind, await readAlpineSecdb(buf, { where: path }));
    if (kind === 'alas-json') return take(path, kind, readAlasVulnListJson(json, { where: path }));
    if (kind === 'redhat-csaf') return take(path, kind, readCsafVex(json, { where: path }));
    if (kind === 'debian-tracker-json') return take(path, kind, await readDebianTrackerJson(buf));
    summary.issues.push({ where: path, message: 'not an advisory file Drydock reads (OSV record, OSV all.zip, Debian tracker JSON, Debian tracker list entries, Alpine secdb, NVD API 2.0 JSON, CVE 5 record, CISA KEV catalog)' });
  };

  const loadDir = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    // The tracker's list entries (vuln-list layout: CVE/, DSA/, DLA/ of Header+Annotations files) are one source.
    const vulnList = await isVulnListDir(dir, entries.map((e) => e.name));
    if (vulnList) take(dir, 'debian-vuln-list', await readDebianVulnList(dir));
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (vulnList && /^(CVE|DSA|DLA)$/.test(e.name)) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) await loadDir(p);
      else if (e.isFile() && /\.(json|zip|ya?ml|xml|xml\.gz|xml\.bz2|csv|csv\.gz)$/i.test(e.name)) await loadFile(p);
    }
  };

  for (const path of paths) {
    let st;
    try {
      st = await stat(path);
    } catch {
      throw new DrydockError('CONFIG', `advisories: ${path} does not exist`);
    }
    if (st.isDirectory()) await loadDir(path);
    else await loadFile(path);
  }
  return summary;
}

/** Coverage and freshness: the ecosystems a record names, and the newest record date. */
function describeSource(src: LoadedSource, ecos: Set<string>, a: Advisory): void {
  for (const e of a.affected) ecos.add(e.ecosystem);
  const at = a.modified ?? a.published;
  if (at && !Number.isNaN(Date.parse(at)) && (!src.producedAt || Date.parse(at) > Date.parse(src.producedAt))) src.producedAt = new Date(Date.parse(at)).toISOString();
}

/** What a parsed JSON document is, by its shape. */
export function sniff(json: unknown): SourceKind | 'debian-vuln-list-entry' | undefined {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const o = json as Record<string, unknown>;
  if (isAlasVulnListJson(o)) return 'alas-json';
  if (isCsafVex(o)) return 'redhat-csaf';
  if (isKevCatalog(o)) return 'kev';
  if (isCve5Record(o)) return 'cve5';
  if (isNvdJson(o)) return 'nvd-api2'; // before OSV: a bare NVD cve object has `id` and `affected` too
  if (typeof o.id === 'string' && (Array.isArray(o.affected) || typeof o.modified === 'string')) return 'osv';
  if ('secfixes' in o || (Array.isArray(o.packages) && ('distroversion' in o || 'reponame' in o))) return 'alpine-secdb';
  if ('Header' in o && 'Annotations' in o) return 'debian-vuln-list-entry';
  const first = Object.values(o)[0];
  if (first && typeof first === 'object') {
    const cve = Object.values(first as Record<string, unknown>)[0];
    if (cve && typeof cve === 'object' && 'releases' in (cve as object)) return 'debian-tracker-json';
  }
  return undefined;
}

async function isVulnListDir(dir: string, names: string[]): Promise<boolean> {
  const sub = names.find((n) => /^(CVE|DSA|DLA)$/.test(n));
  if (!sub) return false;
  try {
    const files = (await readdir(join(dir, sub))).filter((f) => f.endsWith('.json'));
    if (files.length === 0) return false;
    return sniff(JSON.parse(await readFile(join(dir, sub, files[0]!), 'utf8'))) === 'debian-vuln-list-entry';
  } catch {
    return false;
  }
}

/** The feeds `drydock feeds sync` left in `dir` (…/feeds), newest layout first. */
export async function syncedFeeds(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      // updateinfo.xml.gz: Amazon Linux (alas-feed.ts); the ELSA OVAL: Oracle Linux (elsa-feed.ts); KEV and EPSS: exploitation enrichment (feeds.ts kevFeed/epssFeed)
      else if (['all.zip', 'tracker.json', 'updateinfo.xml.gz', ELSA_FILE, KEV_FILE, EPSS_FILE].includes(e.name)) out.push(p);
    }
  };
  await walk(dir);
  return out.sort();
}

/** Whether a file starts like XML or gzip (Amazon Linux updateinfo), by its first bytes. */
async function isXmlOrGzip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(64);
    const { bytesRead } = await fh.read(head, 0, 64, 0);
    const b = head.subarray(0, bytesRead);
    if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return true;
    return /^(\uFEFF)?\s*<(\?xml|updates\b)/.test(b.toString('utf8'));
  } finally {
    await fh.close();
  }
}
