/**
 * Named content regexes (Anchore's `secret_search`: AWS keys, private keys, Docker registry
 * auth, API keys, plus the user's own "NAME=REGEX") run over the image's files while the
 * layers stream past. Only the names of the patterns a file matched are kept — never the
 * file, never the matched text — so a secret found is not copied into the cache or a report.
 *
 * Regexes are RE2 (re2js): linear time in the input whatever the pattern, so a user's
 * pattern cannot stall a scan on an adversarial file. They are compiled MULTILINE: `^` and
 * `$` match at line boundaries ("^root:::0:::::$" is a line of /etc/shadow), and `.` does not
 * cross a newline unless the pattern says `(?s)`.
 */
import { createHash } from 'node:crypto';
import { RE2JS, RE2JSException } from 're2js';
import type { ContentProbe, FileView, ProbeReader } from '../catalog/types.js';
import { DrydockError } from '../errors.js';
import type { ContentMatch } from './types.js';

export interface ContentPattern {
  /** "AWS_ACCESS_KEY", "ALPINE_NULL_ROOT": what gates and allowlists name */
  name: string;
  /** the regex as written */
  source: string;
  regex: RE2JS;
}

/** Anchore's default secret_search names, with our own regexes. */
const BUILTIN_SOURCES: ReadonlyArray<readonly [string, string]> = [
  // access key ids: AKIA (long-term) and ASIA (temporary), 16 more upper-case base32 characters
  ['AWS_ACCESS_KEY', String.raw`\b(?:AKIA|ASIA)[A-Z2-7]{16}\b`],
  // 40 base64 characters assigned to something named like the secret access key
  ['AWS_SECRET_KEY', String.raw`(?i)aws_?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?[A-Za-z0-9/+=]{40}\b`],
  // PEM: RSA, EC, DSA, OPENSSH, ENCRYPTED, PKCS#8 (no word), PGP ... PRIVATE KEY BLOCK
  ['PRIV_KEY', String.raw`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----`],
  // a Docker config.json with credentials: "auths" followed by an "auth" value
  ['DOCKER_AUTH', String.raw`(?s)"auths"\s*:\s*\{.*?"auth"\s*:\s*"[A-Za-z0-9+/]{4,}={0,2}"`],
  // api_key / api-key / apikey assigned a token-like value of 16+ characters
  ['API_KEY', String.raw`(?i)api[_-]?key["']?\s*[:=]\s*["']?[A-Za-z0-9_\-]{16,}`],
  // a root entry with an empty password field in /etc/shadow (CVE-2019-5021, Alpine's images):
  // built in so the default bundle catches it without the user adding the pattern
  ['ALPINE_NULL_ROOT', '^root:::0:::::$'],
];

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function compile(name: string, source: string, where: string): ContentPattern {
  if (!NAME.test(name)) {
    throw new DrydockError('CONFIG', `${where}: pattern name "${name}" must be letters, digits, "_", "." or "-" (starting with a letter or "_")`);
  }
  if (source === '') throw new DrydockError('CONFIG', `${where}: pattern ${name} has an empty regex`);
  try {
    return { name, source, regex: RE2JS.compile(source, RE2JS.MULTILINE) };
  } catch (e) {
    // RE2 has no backreferences or lookaround: say so, the usual reason a PCRE pattern fails
    const why = e instanceof RE2JSException ? e.message : String(e);
    throw new DrydockError('CONFIG', `${where}: pattern ${name}: ${why} (RE2 syntax: no backreferences or lookaround)`, { cause: e });
  }
}

/** The built-in secret patterns (Anchore's default names). */
export const BUILTIN_PATTERNS: readonly ContentPattern[] = BUILTIN_SOURCES.map(([n, s]) => compile(n, s, 'built-in pattern'));

/**
 * User patterns, each "NAME=REGEX" (split at the first "="; the regex may contain "=").
 * Errors name the entry by position and say what is wrong with it.
 */
export function parsePatterns(list: readonly string[]): ContentPattern[] {
  const out: ContentPattern[] = [];
  const seen = new Set<string>();
  list.forEach((entry, i) => {
    const where = `content pattern #${i + 1} ("${entry.length > 60 ? `${entry.slice(0, 57)}...` : entry}")`;
    const eq = entry.indexOf('=');
    if (eq < 0) throw new DrydockError('CONFIG', `${where}: expected NAME=REGEX`);
    const name = entry.slice(0, eq).trim();
    if (!name) throw new DrydockError('CONFIG', `${where}: missing NAME before "="`);
    if (seen.has(name)) throw new DrydockError('CONFIG', `${where}: pattern ${name} is given twice`);
    seen.add(name);
    out.push(compile(name, entry.slice(eq + 1), where));
  });
  return out;
}

/** The built-ins with the user's patterns; a user pattern replaces a built-in of the same name. */
export function contentPatterns(user: readonly string[] = [], opts: { builtins?: boolean } = {}): ContentPattern[] {
  const mine = parsePatterns(user);
  const names = new Set(mine.map((p) => p.name));
  const base = opts.builtins === false ? [] : BUILTIN_PATTERNS.filter((p) => !names.has(p.name));
  return [...base, ...mine];
}

/** Bytes of context kept between chunks, from a line start: a match may span lines up to this far back. */
const TAIL = 4096;
/** A line longer than this is tested in pieces (with TAIL bytes of overlap) rather than held whole. */
const MAX_LINE = 64 * 1024;
/** A NUL in the first bytes marks a binary file, which is not scanned (as grep -I). */
const BINARY_SNIFF = 8192;
/** Bump when the reader's behaviour changes: it is part of the probe version, hence the cache key. */
const READER_REVISION = 1;
/** Stands for the rest of a line cut off a piece: a character that is not a line end. */
const CUT = '\uffff';
const DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024;

/**
 * Tests whole lines only: the bytes after the last newline wait for the next chunk, so `$`
 * never matches at a chunk's end and `^` never matches mid-line. What stays exact: patterns
 * within lines of up to MAX_LINE bytes, and patterns spanning lines within TAIL bytes.
 * A longer line (minified code) is tested in MAX_LINE pieces overlapping by TAIL; a cut end
 * gets a sentinel character (U+FFFF) so that `^` / `$` do not match there. So a `^...$`
 * pattern never matches such a line, and a pattern that can match the sentinel itself (`.`,
 * a negated class) may match across a cut.
 */
class ContentScanReader implements ProbeReader {
  private pending = Buffer.alloc(0);
  private seen = 0;
  private binary = false;
  /** `pending` begins in the middle of a line (a long line was cut) */
  private midLine = false;
  private finished: string[] | undefined;
  private readonly found = new Set<string>();

  constructor(private readonly patterns: readonly ContentPattern[]) {}

  push(chunk: Buffer): boolean {
    if (this.seen < BINARY_SNIFF && chunk.subarray(0, BINARY_SNIFF - this.seen).includes(0)) {
      this.binary = true;
      return false;
    }
    this.seen += chunk.length;
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const nl = buf.lastIndexOf(0x0a);
    const end = buf.length - (nl + 1) > MAX_LINE ? buf.length : nl + 1;
    if (end === 0) {
      this.pending = Buffer.from(buf);
      return true;
    }
    this.test(buf.subarray(0, end), this.midLine, buf[end - 1] !== 0x0a);
    if (this.found.size === this.patterns.length) return false;
    let keep = Math.max(0, end - TAIL);
    if (keep > 0) {
      const i = buf.indexOf(0x0a, keep - 1);
      if (i >= 0 && i < end) keep = i + 1;
    }
    if (keep > 0) this.midLine = buf[keep - 1] !== 0x0a;
    this.pending = Buffer.from(buf.subarray(keep));
    return true;
  }

  /** The names matched (sorted), or undefined for a binary file. */
  names(): string[] | undefined {
    if (this.binary) return undefined;
    if (!this.finished) {
      if (this.pending.length && this.found.size < this.patterns.length) this.test(this.pending, this.midLine, false);
      this.pending = Buffer.alloc(0);
      this.finished = [...this.found].sort();
    }
    return this.finished;
  }

  result(): Buffer | undefined {
    const names = this.names();
    return names?.length ? Buffer.from(JSON.stringify(names)) : undefined;
  }

  private test(bytes: Buffer, cutStart: boolean, cutEnd: boolean): void {
    const text = `${cutStart ? CUT : ''}${bytes.toString('utf8')}${cutEnd ? CUT : ''}`;
    for (const p of this.patterns) if (!this.found.has(p.name) && p.regex.test(text)) this.found.add(p.name);
  }
}

export interface ContentScanProbe extends ContentProbe {
  readonly patterns: readonly ContentPattern[];
}

/** A number from the pattern set (names and regexes) and the reader revision: new patterns, new cache key. */
function patternsVersion(patterns: readonly ContentPattern[]): number {
  const h = createHash('sha256').update(JSON.stringify([READER_REVISION, patterns.map((p) => [p.name, p.source])])).digest();
  return h.readUIntBE(0, 6);
}

/**
 * A probe that runs `patterns` over every regular file of at most `maxFileBytes` (10 MiB),
 * whatever its mode, that no cataloger keeps by path. Binary files (a NUL in the first 8 KiB)
 * are skipped. Its result for a file is the JSON list of the pattern names it matched.
 *
 * Run it with fileMetaProbe(): a file too large for this probe, written over a lower layer's
 * matching file, only hides that match when some probe records it.
 */
export function contentScanProbe(patterns: readonly ContentPattern[], opts: { maxFileBytes?: number } = {}): ContentScanProbe {
  const maxBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  return {
    name: 'content-scan',
    version: patternsVersion(patterns),
    maxBytes,
    patterns,
    select: () => true,
    start: () => new ContentScanReader(patterns),
  };
}

/**
 * The same check on a file already in memory (the files catalogers keep by path, which the
 * walker does not feed to probes): the names of the patterns `content` matches, sorted;
 * none for a binary file.
 */
export function scanContent(patterns: readonly ContentPattern[], _path: string, content: Buffer): string[] {
  const reader = new ContentScanReader(patterns);
  if (content.length) reader.push(content);
  return reader.names() ?? [];
}

/**
 * Every (pattern name, file) match in the squashed view: the probe's results for streamed
 * files, and `scanContent` over the files catalogers kept (up to the probe's size limit).
 * Sorted by path, then name.
 */
export function contentMatchesFrom(view: FileView, probe: ContentScanProbe): ContentMatch[] {
  const out: ContentMatch[] = [];
  const probed = new Set<string>();
  for (const f of view.probed?.(probe) ?? []) {
    probed.add(f.path);
    let names: unknown;
    try {
      names = JSON.parse(f.content.toString('utf8'));
    } catch {
      continue;
    }
    if (!Array.isArray(names)) continue;
    for (const name of names) if (typeof name === 'string') out.push({ name, path: f.path, layer: f.layer });
  }
  for (const f of view.glob('**')) {
    if (probed.has(f.path) || f.truncated || f.content.length > probe.maxBytes) continue;
    for (const name of scanContent(probe.patterns, f.path, f.content)) out.push({ name, path: f.path, layer: f.layer });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
