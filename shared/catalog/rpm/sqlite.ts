/**
 * rpm's SQLite database `rpmdb.sqlite` (rpm ≥ 4.16 "sqlite" backend: Fedora ≥ 33, RHEL/UBI 9,
 * Amazon Linux 2023, CBL-Mariner / Azure Linux, Rocky/Alma 9). Package headers are the rows
 * of `Packages(hnum INTEGER PRIMARY KEY, blob BLOB)`; the other tables are indexes.
 *
 * Read with sql.js (SQLite compiled to WebAssembly) from the bytes in memory. A corrupt page
 * makes SQLite answer SQLITE_CORRUPT rather than misread, so the rows are listed first and
 * then fetched one by one: a damaged row costs only itself, a damaged table b-tree the rows
 * that could not be listed. A `-wal` file beside the database is not read: rows written
 * since the last checkpoint are missing (rpm checkpoints when it closes the database, so
 * an image normally has none).
 *
 * sql.js can only be initialised asynchronously while catalogers are synchronous, so the
 * engine is loaded once, by loadSqliteEngine(), which the rpm cataloger's `prepare` calls
 * only when the image holds an rpmdb.sqlite: the WebAssembly module (sql-wasm.wasm,
 * ~0.7 MB) is compiled then, about 10–20 ms, and images without one never pay for it. It is looked for beside the
 * running module first (where a bundle must ship it: see wasmCandidates), then in
 * node_modules/sql.js/dist. If it cannot be loaded, every SQLite database becomes a
 * CatalogIssue saying why. Each database is copied into the
 * engine's memory while it is read; that memory grows to the largest database read and is
 * not given back to the system (WebAssembly memory only grows).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type initSqlJs from 'sql.js';
import { DatabaseReadBuilder, type DatabaseRead } from './records.js';

type SqlJs = Awaited<ReturnType<typeof initSqlJs>>;
type Database = InstanceType<SqlJs['Database']>;

const WASM_FILE = 'sql-wasm.wasm';
const SQLITE_MAGIC = 'SQLite format 3\0';

/** True when `content` starts with the SQLite file header. */
export function looksLikeSqlite(content: Uint8Array): boolean {
  return content.length >= 16 && Buffer.from(content.buffer, content.byteOffset, 16).toString('latin1') === SQLITE_MAGIC;
}

/**
 * Where sql-wasm.wasm may be: beside this module or in its parent directory (a bundle, or a
 * code-split chunk in a subdirectory of its bundle), then the installed sql.js package.
 */
function wasmCandidates(): string[] {
  const candidates = [fileURLToPath(new URL(WASM_FILE, import.meta.url)), fileURLToPath(new URL(`../${WASM_FILE}`, import.meta.url))];
  try {
    candidates.push(createRequire(import.meta.url).resolve(`sql.js/dist/${WASM_FILE}`));
  } catch {
    // not installed beside this module: only the first candidate remains
  }
  return candidates;
}

async function loadSqlJs(): Promise<SqlJs | Error> {
  try {
    const path = wasmCandidates().find((p) => existsSync(p));
    if (!path) return new Error(`${WASM_FILE} not found beside the module nor in node_modules/sql.js/dist`);
    const wasm = readFileSync(path);
    const wasmBinary = wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer;
    // sql.js (80 KB of JavaScript) is imported only when an image holds an rpmdb.sqlite.
    // print/printErr: sql.js would otherwise write its own diagnostics to the console.
    const { default: init } = await import('sql.js');
    return await init({ wasmBinary, print: () => {}, printErr: () => {} });
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

let engine: SqlJs | Error | undefined;
let loading: Promise<SqlJs | Error> | undefined;

/** Loads the SQLite engine once per process; says whether SQLite databases can be read. */
export async function loadSqliteEngine(): Promise<true | string> {
  engine ??= await (loading ??= loadSqlJs());
  return sqliteAvailable();
}

/** Whether SQLite databases can be read in this process (and why not). */
export function sqliteAvailable(): true | string {
  if (engine === undefined) return 'SQLite engine (sql.js) not loaded: loadSqliteEngine() was not awaited before reading';
  return engine instanceof Error ? `SQLite engine (sql.js) unavailable: ${engine.message}` : true;
}

export function readSqlite(content: Uint8Array): DatabaseRead {
  const out = new DatabaseReadBuilder();
  if (engine === undefined || engine instanceof Error) {
    out.problem(sqliteAvailable() as string);
    return out.result();
  }
  const short = shortBy(content);
  if (short) out.problem(short);
  let db: Database | undefined;
  try {
    db = new engine.Database(content);
    // A file shorter than its header says (cut by the view's size limit) is otherwise refused
    // whole as corrupt; with this, SQLite reads the pages that are there. Nothing is written.
    db.run('PRAGMA writable_schema = ON');
    const rows = listRows(db, out);
    if (rows === undefined) return out.result();
    // Sound rows are stored once each, so together they hold at most the file's bytes; a
    // corrupt length (or overflow chain) claiming more is not fetched: SQLite would allocate it.
    let budget = content.length;
    const fetch = db.prepare('SELECT blob FROM Packages WHERE hnum = ?');
    try {
      for (const { hnum, length } of rows) {
        const where = `record ${hnum}`;
        if (length > budget) {
          out.problem(`${where}: a blob of ${length} bytes, more than the file has left`);
          continue;
        }
        budget -= length;
        try {
          fetch.bind([hnum]);
          if (!fetch.step()) {
            out.problem(`${where}: listed but not found`);
          } else {
            const blob = fetch.get()[0];
            if (blob instanceof Uint8Array) out.record(where, blob);
            else out.problem(`${where}: blob column is ${blob === null ? 'NULL' : typeof blob}, not a BLOB`);
          }
        } catch (e) {
          out.problem(`${where}: ${message(e)}`);
        } finally {
          fetch.reset();
        }
      }
    } finally {
      fetch.free();
    }
  } catch (e) {
    out.problem(`cannot read the SQLite database: ${message(e)}`);
  } finally {
    try {
      db?.close();
    } catch {
      // closing a database SQLite found corrupt can fail too; nothing is left to release
    }
  }
  return out.result();
}

/**
 * Whether the file is shorter than its header says: the in-header page count (bytes 28–31)
 * times the page size (bytes 16–17, 1 meaning 65536), trusted as SQLite trusts it — when the
 * "version valid for" number (bytes 92–95) equals the change counter (bytes 24–27).
 */
function shortBy(content: Uint8Array): string | undefined {
  if (content.length < 100) return undefined;
  const view = new DataView(content.buffer, content.byteOffset, 100);
  const rawPageSize = view.getUint16(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  const pages = view.getUint32(28);
  if (view.getUint32(92) !== view.getUint32(24) || pages === 0 || pageSize < 512) return undefined;
  const expected = pages * pageSize;
  return expected > content.length ? `file is ${content.length} bytes, its header says ${expected}: rows stored past the end are lost` : undefined;
}

/**
 * The hnum and blob length of every row of Packages, in order; undefined (with a problem) when
 * the table is missing. length() reads a blob's size from its record header, not the blob.
 */
function listRows(db: Database, out: DatabaseReadBuilder): Array<{ hnum: number; length: number }> | undefined {
  const rows: Array<{ hnum: number; length: number }> = [];
  let list;
  try {
    list = db.prepare('SELECT hnum, length(blob) FROM Packages ORDER BY hnum');
  } catch (e) {
    out.problem(`no readable Packages table: ${message(e)}`);
    return undefined;
  }
  try {
    while (list.step()) {
      const [hnum, length] = list.get();
      if (typeof hnum === 'number') rows.push({ hnum, length: typeof length === 'number' ? length : 0 });
    }
  } catch (e) {
    out.problem(`listing the Packages table stopped after ${rows.length} rows: ${message(e)}`);
  } finally {
    list.free();
  }
  return rows;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
