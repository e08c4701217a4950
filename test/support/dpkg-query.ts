/**
 * The real dpkg as the oracle for the dpkg cataloger: dpkg-query run against an admin
 * directory (a directory holding a `status` file).
 *
 * dpkg-query stops at the first stanza it refuses; `queryStatusText` then asks it about
 * each stanza alone, so that one refused stanza does not hide the others and the refused
 * ones can be counted.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One line of dpkg-query output. */
export interface DpkgRow {
  /** ${db:Status-Status}: installed, config-files, not-installed, ... */
  state: string;
  name: string;
  version: string;
  arch: string;
  sourceName: string;
  sourceVersion: string;
}

export interface StatusQuery {
  rows: DpkgRow[];
  /** stanzas dpkg-query refused to parse, with its error message */
  refused: { stanza: string; error: string }[];
}

const FORMAT = '${db:Status-Status}\t${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n';

/** States whose package files are on disk: what the cataloger reports. */
export const ON_DISK_STATES: ReadonlySet<string> = new Set(['installed', 'half-installed', 'unpacked', 'half-configured', 'triggers-awaited', 'triggers-pending']);

/**
 * Every package dpkg-query lists for `admindir`, not-installed ones included (the "*"
 * pattern). Throws with dpkg-query's message when it cannot parse the database.
 */
export function dpkgQuery(admindir: string): DpkgRow[] {
  const run = spawnSync('dpkg-query', [`--admindir=${admindir}`, '-W', '-f', FORMAT, '*'], { encoding: 'utf8' });
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(`dpkg-query --admindir=${admindir} failed (${run.status}): ${run.stderr.trim()}`);
  return run.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [state = '', name = '', version = '', arch = '', sourceName = '', sourceVersion = ''] = line.split('\t');
      return { state, name, version, arch, sourceName, sourceVersion };
    });
}

/**
 * dpkg-query's view of status-file text, through a temporary admin directory.
 * `impliedStatus` is added to stanzas that have no Status field: distroless status.d files
 * omit it because every package recorded there is installed.
 */
export function queryStatusText(text: string, opts: { impliedStatus?: string } = {}): StatusQuery {
  const stanzas = splitStanzas(text).map((s) => (opts.impliedStatus && !/^status:/im.test(s) ? `${s}\nStatus: ${opts.impliedStatus}` : s));
  try {
    return { rows: queryText(stanzas.map((s) => `${s}\n`).join('\n')), refused: [] };
  } catch {
    const result: StatusQuery = { rows: [], refused: [] };
    for (const stanza of stanzas) {
      try {
        result.rows.push(...queryText(`${stanza}\n`));
      } catch (e) {
        result.refused.push({ stanza, error: (e as Error).message });
      }
    }
    return result;
  }
}

function queryText(status: string): DpkgRow[] {
  const admindir = mkdtempSync(join(tmpdir(), 'drydock-dpkg-admin-'));
  try {
    writeFileSync(join(admindir, 'status'), status);
    return dpkgQuery(admindir);
  } finally {
    rmSync(admindir, { recursive: true, force: true });
  }
}

/** Stanzas of a deb822 text, split at empty lines (CRLF kept as is: dpkg reads it). */
function splitStanzas(text: string): string[] {
  return text
    .split(/\r?\n(?:\r?\n)+/)
    .map((s) => s.replace(/(?:\r?\n)+$/, ''))
    .filter((s) => s.trim() !== '');
}

