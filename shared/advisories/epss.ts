/**
 * FIRST's EPSS daily scores (epss_scores-YYYY-MM-DD.csv, gzip or plain): an optional comment
 * line `#model_version:v2023.03.01,score_date:2023-03-07T00:00:00+0000`, a header
 * `cve,epss,percentile` (the oldest files, 2021-04, have `cve,epss` only), then one row per CVE.
 * The score date is the comment's score_date, else the YYYY-MM-DD in the file name.
 *
 * Streamed and bounded: at most MAX_EPSS_BYTES of (decompressed) text, lines of at most
 * MAX_EPSS_LINE bytes, MAX_EPSS_CVES rows; past a bound the read stops with an issue naming it.
 * A row whose CVE id or numbers do not read (a score outside 0–1) is counted, not kept.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { constants, createGunzip, gunzipSync } from 'node:zlib';
import { bumpCount, isCveId } from './cvss-store.js';
import { MAX_EPSS_CVES, type EpssScore } from './exploit-store.js';

export const MAX_EPSS_BYTES = 512 * 1024 * 1024;
export const MAX_EPSS_LINE = 4096;

export interface EpssReadResult {
  scores: EpssScore[];
  modelVersion?: string;
  /** YYYY-MM-DD */
  scoreDate?: string;
  issues: Array<{ where: string; message: string }>;
  counts: Record<string, number>;
}

/** The first bytes of a file as text (gunzipped when it is gzip), for sniffing. */
async function headText(path: string, n = 4096): Promise<string> {
  const fh = await open(path, 'r');
  let b: Buffer;
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    b = buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) {
    try {
      b = gunzipSync(b, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: n * 64 });
    } catch {
      return '';
    }
  }
  return b.toString('utf8', 0, Math.min(b.length, n));
}

const HEADER = /^\uFEFF?cve,epss(,percentile)?\s*$/i;
const COMMENT = /^\uFEFF?#model_version:/i;

/** Whether a file (gzip or plain) is an EPSS scores CSV, by its first line(s). */
export async function isEpssFile(path: string): Promise<boolean> {
  const lines = (await headText(path)).split(/\r?\n/, 2);
  return COMMENT.test(lines[0] ?? '') || HEADER.test(lines[0] ?? '');
}

function dayOf(s: string | undefined): string | undefined {
  const m = s ? /(\d{4}-\d{2}-\d{2})/.exec(s) : null;
  return m && !Number.isNaN(Date.parse(`${m[1]}T00:00:00Z`)) ? m[1] : undefined;
}

function unit(s: string | undefined): number | undefined {
  if (s === undefined || !/^\s*\d*\.?\d+(e-?\d+)?\s*$/i.test(s)) return undefined;
  const n = Number(s);
  return Number.isFinite(n) && n >= 0 && n <= 1 ? n : undefined;
}

/** Reads an EPSS CSV (gzip or plain) at `path`, streamed. Never throws for the content; I/O errors propagate. */
export async function readEpssCsv(path: string): Promise<EpssReadResult> {
  const out: EpssReadResult = { scores: [], issues: [], counts: {} };
  const fh = await open(path, 'r');
  const magic = Buffer.alloc(2);
  try {
    await fh.read(magic, 0, 2, 0);
  } finally {
    await fh.close();
  }
  const file = createReadStream(path);
  const gz = magic[0] === 0x1f && magic[1] === 0x8b;
  const stream: AsyncIterable<Buffer> = gz ? file.pipe(createGunzip()) : file;
  let header: string[] | undefined;
  let lineNo = 0;
  let total = 0;
  let rest = '';
  let stop: string | undefined;
  const fromName = dayOf(basename(path));
  const onLine = (raw: string): void => {
    lineNo++;
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    if (!header) {
      if (COMMENT.test(line)) {
        const fields = Object.fromEntries(line.replace(/^\uFEFF?#/, '').split(',').map((kv) => [kv.slice(0, kv.indexOf(':')).trim(), kv.slice(kv.indexOf(':') + 1).trim()]));
        if (fields.model_version) out.modelVersion = String(fields.model_version).slice(0, 64);
        const d = dayOf(fields.score_date);
        if (d) out.scoreDate = d;
        return;
      }
      if (!HEADER.test(line)) {
        stop = `line ${lineNo}: not an EPSS header (cve,epss[,percentile])`;
        return;
      }
      header = line.replace(/^\uFEFF/, '').trim().toLowerCase().split(',');
      out.scoreDate ??= fromName;
      if (!out.scoreDate) stop = 'no score date (neither a #model_version…,score_date: line nor a YYYY-MM-DD in the file name)';
      return;
    }
    const cols = line.split(',');
    const cve = cols[0]?.trim();
    const score = unit(cols[1]);
    const percentile = header.length > 2 ? unit(cols[2]) : undefined;
    if (!isCveId(cve) || score === undefined || (header.length > 2 && percentile === undefined)) {
      bumpCount(out.counts, 'epss-row-invalid');
      return;
    }
    if (out.scores.length >= MAX_EPSS_CVES) {
      stop = `more than MAX_EPSS_CVES (${MAX_EPSS_CVES}) rows: the rest is not read`;
      return;
    }
    out.scores.push({ cve, score, ...(percentile !== undefined ? { percentile } : {}), date: out.scoreDate! });
  };
  try {
    for await (const chunk of stream) {
      total += chunk.length;
      if (total > MAX_EPSS_BYTES) {
        stop = `more than MAX_EPSS_BYTES (${MAX_EPSS_BYTES}) bytes of text: the rest is not read`;
        break;
      }
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop() ?? '';
      for (const p of parts) {
        if (p.length > MAX_EPSS_LINE) stop = `line ${lineNo + 1} longer than MAX_EPSS_LINE (${MAX_EPSS_LINE}) bytes`;
        else onLine(p);
        if (stop) break;
      }
      if (!stop && rest.length > MAX_EPSS_LINE) stop = `line ${lineNo + 1} longer than MAX_EPSS_LINE (${MAX_EPSS_LINE}) bytes`;
      if (stop) break;
    }
    if (!stop && rest) onLine(rest);
  } catch (e) {
    stop = `unreadable: ${(e as Error).message}`;
  } finally {
    file.destroy();
  }
  if (stop) out.issues.push({ where: path, message: `EPSS: ${stop}` });
  else if (!header) out.issues.push({ where: path, message: 'EPSS: no cve,epss header' });
  bumpCount(out.counts, 'epss-scores', out.scores.length);
  return out;
}
