/**
 * Ruby gems from their installed specifications: the `<name>-<version>[-<platform>].gemspec`
 * files RubyGems writes into `<GEM_HOME>/specifications/` when it installs a gem (and
 * Debian's gem2deb into /usr/share/rubygems-integration/…/specifications/), and the
 * default gems Ruby itself ships, under `specifications/default/`.
 *
 * Those files are Ruby source (`Gem::Specification#to_ruby`):
 *
 *     # stub: rack 2.2.22 ruby lib
 *     Gem::Specification.new do |s|
 *       s.name = "rack".freeze
 *       s.version = "2.2.22"
 *       s.licenses = ["MIT".freeze]
 *
 * They are read without evaluating Ruby: only assignments of literals to the gem's
 * attributes (`<block variable>.<attribute> = <literal>` at the start of a line) are
 * understood. Literals are the forms RubyGems has written over the years and that hand-written
 * specifications use: double- and single-quoted strings (with Ruby's escapes), `%q{}` /
 * `%Q{}` / `%{}` with any delimiter, `%w[]` word arrays, arrays of these, an optional
 * `.freeze`, and `Gem::Version.new("…")` / `Gem::Version.create("…")`. A value that is any
 * other expression (a constant, an interpolation, a method call, `"1.0" + x`) is not a
 * literal: for name, version and platform the `# stub:` line RubyGems writes first is used
 * instead (RubyGems itself reads only that line to list gems); a gem whose name or version
 * cannot be read either way becomes a CatalogIssue, and so does a non-literal licence list
 * (the gem is still reported, without licences). As in Ruby, the last assignment wins and
 * `license =` / `licenses =` set the same list.
 *
 * Package URL: pkg:gem/<name>@<version>, with `?platform=<platform>` for a gem built for a
 * platform other than "ruby" (the purl default), e.g. nokogiri's x86_64-linux builds.
 */
import { PackageURL } from 'packageurl-js';
import { normalizeLicenses } from './license.js';
import type { CatalogIssue, CatalogResult, Cataloger, FileView, Package, ViewFile } from './types.js';

/** Installed specifications, at any GEM_HOME / GEM_PATH entry. */
const INSTALLED_GLOB = '**/specifications/*.gemspec';
/** Default gems: the libraries Ruby ships as gems (json, bundler, openssl, …). */
const DEFAULT_GLOB = '**/specifications/default/*.gemspec';

/** Platform of a gem with no native code, the purl default. */
const RUBY_PLATFORM = 'ruby';

/** Gem::Version's own syntax (RubyGems' ANCHORED_VERSION_PATTERN), after stripping spaces. */
const GEM_VERSION = /^[0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

export const rubyCataloger: Cataloger = {
  name: 'ruby',
  kind: 'language',
  version: 1,
  needs: { globs: [INSTALLED_GLOB, DEFAULT_GLOB] },
  catalog(view: FileView): CatalogResult {
    const result: CatalogResult = { packages: [], issues: [] };
    const seen = new Set<string>();
    for (const [glob, isDefault] of [
      [INSTALLED_GLOB, false],
      [DEFAULT_GLOB, true],
    ] as const) {
      for (const file of view.glob(glob)) {
        if (seen.has(file.path)) continue;
        seen.add(file.path);
        readSpecFile(file, isDefault, result);
      }
    }
    return result;
  },
};

/** What a gem specification says about the gem, as far as it can be read without Ruby. */
export interface Gemspec {
  name?: string;
  version?: string;
  /** absent for "ruby" (no native code) */
  platform?: string;
  /** as declared; undefined when the file assigns none */
  licenses?: string[];
  homepage?: string;
  /** what could not be read (non-literal values, a missing Gem::Specification.new, …) */
  problems: string[];
}

/**
 * Read the gem's name, version, platform, licences and homepage from a specification's
 * Ruby source (see the module comment for the forms understood). Never throws.
 */
export function parseGemspec(text: string): Gemspec {
  const spec: Gemspec = { problems: [] };
  const stub = stubLine(text);
  const block = /Gem::Specification\.new\b[^\n]*?(?:\bdo|\{)\s*\|\s*([A-Za-z_]\w*)\s*\|/.exec(text);
  if (!block) {
    if (!stub) {
      spec.problems.push('not a gem specification: no "Gem::Specification.new do |s|" block and no "# stub:" line');
      return spec;
    }
    spec.problems.push('no "Gem::Specification.new do |s|" block: read from the "# stub:" line only');
  }

  const values = new Map<Attribute, RubyValue>();
  if (block) {
    const receiver = block[1] as string;
    const assignment = /^[ \t]*([A-Za-z_]\w*)\.(name|version|platform|licenses?|homepage)[ \t]*=(?![=~>])[ \t]*/gm;
    assignment.lastIndex = block.index + block[0].length;
    for (let m = assignment.exec(text); m; m = assignment.exec(text)) {
      if (m[1] !== receiver) continue;
      const attr = (m[2] === 'license' ? 'licenses' : m[2]) as Attribute;
      values.set(attr, statementValue(text, m.index + m[0].length));
    }
  }

  // Name, version and platform: the literal assigned, else the stub line RubyGems wrote.
  spec.name = literalString(values, 'name') ?? stub?.name;
  if (spec.name === undefined && values.has('name')) spec.problems.push('name is not a literal string');
  spec.version = literalString(values, 'version')?.trim() ?? stub?.version;
  if (spec.version === undefined && values.has('version')) spec.problems.push('version is not a literal string or Gem::Version');
  let platform = values.has('platform') ? literalString(values, 'platform') : (stub?.platform ?? RUBY_PLATFORM);
  if (platform === undefined) {
    platform = stub?.platform ?? RUBY_PLATFORM;
    if (!stub) spec.problems.push('platform is not a literal string: taken as "ruby"');
  }
  if (platform !== RUBY_PLATFORM && platform !== '') spec.platform = platform;

  if (values.has('licenses')) {
    const v = values.get('licenses');
    const list = typeof v === 'string' ? [v] : Array.isArray(v) && v.every((x): x is string => typeof x === 'string') ? v : undefined;
    if (list) spec.licenses = list;
    else spec.problems.push('licenses is not a literal string or array of strings');
  }
  const homepage = values.get('homepage');
  if (typeof homepage === 'string' && homepage) spec.homepage = homepage;
  return spec;
}

type Attribute = 'name' | 'version' | 'platform' | 'licenses' | 'homepage';

/** A Ruby literal as read; UNSUPPORTED for anything else. */
type RubyValue = string | RubyValue[] | typeof UNSUPPORTED;
const UNSUPPORTED = Symbol('unsupported');

function literalString(values: Map<Attribute, RubyValue>, attr: Attribute): string | undefined {
  const v = values.get(attr);
  return typeof v === 'string' ? v : undefined;
}

interface Stub {
  name: string;
  version: string;
  platform: string;
}

/** `# stub: <name> <version> <platform> <require paths>`, in the first lines of the file. */
function stubLine(text: string): Stub | undefined {
  const head = text.slice(0, 4096).split('\n', 4);
  for (const line of head) {
    const m = /^# stub: (\S+) (\S+) (\S+)/.exec(line);
    if (m) return { name: m[1] as string, version: m[2] as string, platform: m[3] as string };
  }
  return undefined;
}

/**
 * The literal assigned at `start`, if the statement is only that literal: after it may come
 * only the end of the line, `;`, a comment, or an `if`/`unless` modifier (RubyGems writes
 * `… if s.respond_to? :metadata=`).
 */
function statementValue(text: string, start: number): RubyValue {
  const r = new RubyLiteralReader(text, start).value();
  if (!r) return UNSUPPORTED;
  const rest = text.slice(r.end, r.end + 200);
  return /^[ \t]*(?:\r?\n|$|;|#|(?:if|unless)\b)/.test(rest) ? r.value : UNSUPPORTED;
}

const OPEN_TO_CLOSE: Record<string, string> = { '(': ')', '[': ']', '{': '}', '<': '>' };

/** Reads one Ruby literal (see the module comment) starting at a position. */
class RubyLiteralReader {
  private i: number;

  constructor(
    private readonly s: string,
    start: number,
  ) {
    this.i = start;
  }

  /** The literal and the position just after it (and its `.freeze`), or undefined. */
  value(): { value: RubyValue; end: number } | undefined {
    const v = this.literal();
    return v === undefined ? undefined : { value: v, end: this.i };
  }

  private literal(): RubyValue | undefined {
    const s = this.s;
    const c = s[this.i];
    let v: RubyValue | undefined;
    if (c === '"') {
      this.i++;
      v = this.quoted('"', undefined, true);
    } else if (c === "'") {
      this.i++;
      v = this.quoted("'", undefined, false);
    } else if (c === '[') {
      this.i++;
      v = this.array();
    } else if (c === '%') {
      v = this.percent();
    } else if (s.startsWith('Gem::Version.new(', this.i) || s.startsWith('Gem::Version.create(', this.i)) {
      this.i = s.indexOf('(', this.i) + 1;
      this.skipSpace(false);
      const inner = this.literal();
      this.skipSpace(false);
      if (typeof inner !== 'string' || s[this.i] !== ')') return undefined;
      this.i++;
      v = inner;
    } else if (s.startsWith('Gem::Platform::RUBY', this.i) && !/\w/.test(s[this.i + 19] ?? '')) {
      this.i += 19;
      v = RUBY_PLATFORM;
    } else {
      return undefined;
    }
    if (v === undefined) return undefined;
    // Harmless calls on the literal: RubyGems writes "x".freeze.
    for (let m = /^\.(?:freeze|dup|to_s|strip)\b/.exec(s.slice(this.i, this.i + 8)); m; m = /^\.(?:freeze|dup|to_s|strip)\b/.exec(s.slice(this.i, this.i + 8))) {
      if (m[0] === '.strip' && typeof v === 'string') v = v.trim();
      this.i += m[0].length;
    }
    return v;
  }

  /** `[a, b, …]` after the "[": strings or nested arrays, newlines and comments allowed. */
  private array(): RubyValue[] | undefined {
    const out: RubyValue[] = [];
    for (;;) {
      this.skipSpace(true);
      if (this.s[this.i] === ']') {
        this.i++;
        return out;
      }
      const v = this.literal();
      if (v === undefined) return undefined;
      out.push(v);
      this.skipSpace(true);
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== ']') return undefined;
    }
  }

  /** `%q{…}`, `%Q{…}`, `%{…}`, `%w[…]`, `%W[…]`, with any non-alphanumeric delimiter. */
  private percent(): RubyValue | undefined {
    const s = this.s;
    let kind = s[this.i + 1] ?? '';
    let at = this.i + 2;
    if (!/[qQwW]/.test(kind)) {
      kind = 'Q';
      at = this.i + 1;
    }
    const open = s[at] ?? '';
    if (!open || /[\w\s]/.test(open)) return undefined;
    this.i = at + 1;
    const close = OPEN_TO_CLOSE[open] ?? open;
    const nested = close !== open ? open : undefined;
    if (kind === 'q') return this.quoted(close, nested, false);
    if (kind === 'Q') return this.quoted(close, nested, true);
    const words = this.quoted(close, nested, kind === 'W');
    return words === undefined ? undefined : words.split(/\s+/).filter(Boolean);
  }

  /**
   * The body of a string up to `close` (not nested inside `nested`…`close` pairs). With
   * `escapes` it is double-quoted (Ruby's backslash escapes; an interpolation makes the
   * string unreadable); without, only `\\` and a backslashed delimiter are escapes.
   */
  private quoted(close: string, nested: string | undefined, escapes: boolean): string | undefined {
    const s = this.s;
    let out = '';
    let depth = 0;
    while (this.i < s.length) {
      const c = s[this.i] as string;
      if (c === '\\') {
        const next = s[this.i + 1];
        if (next === undefined) return undefined;
        if (!escapes) {
          out += next === '\\' || next === close || next === nested ? next : `\\${next}`;
          this.i += 2;
          continue;
        }
        const e = this.escape();
        if (e === undefined) return undefined;
        out += e;
        continue;
      }
      if (escapes && c === '#' && /[{@$]/.test(s[this.i + 1] ?? '')) return undefined;
      if (nested !== undefined && c === nested) depth++;
      else if (c === close) {
        if (depth === 0) {
          this.i++;
          return out;
        }
        depth--;
      }
      out += c;
      this.i++;
    }
    return undefined;
  }

  /** One double-quoted escape at `\`; advances past it. */
  private escape(): string | undefined {
    const s = this.s;
    const next = s[this.i + 1] as string;
    this.i += 2;
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', f: '\f', v: '\v', a: '\x07', b: '\b', e: '\x1b', s: ' ', '\n': '' };
    if (next in simple) return simple[next];
    if (/[0-7]/.test(next)) {
      const m = /^[0-7]{1,3}/.exec(s.slice(this.i - 1, this.i + 2)) as RegExpExecArray;
      this.i += m[0].length - 1;
      return String.fromCharCode(parseInt(m[0], 8));
    }
    if (next === 'x') {
      const m = /^[0-9a-fA-F]{1,2}/.exec(s.slice(this.i, this.i + 2));
      if (!m) return undefined;
      this.i += m[0].length;
      return String.fromCharCode(parseInt(m[0], 16));
    }
    if (next === 'u') {
      if (s[this.i] === '{') {
        const end = s.indexOf('}', this.i);
        if (end === -1) return undefined;
        const points = s.slice(this.i + 1, end).trim().split(/\s+/);
        if (!points.every((p) => /^[0-9a-fA-F]{1,6}$/.test(p))) return undefined;
        this.i = end + 1;
        return codePoints(points);
      }
      const m = /^[0-9a-fA-F]{4}/.exec(s.slice(this.i, this.i + 4));
      if (!m) return undefined;
      this.i += 4;
      return codePoints([m[0]]);
    }
    // Control and meta escapes (\cx, \C-x, \M-x) never occur in gem metadata: give up.
    if (next === 'c' || next === 'C' || next === 'M') return undefined;
    return next;
  }

  /** Spaces and tabs; with `lines`, also newlines and `#` comments (inside arrays). */
  private skipSpace(lines: boolean): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === ' ' || c === '\t' || (lines && (c === '\n' || c === '\r'))) this.i++;
      else if (lines && c === '#') {
        const nl = s.indexOf('\n', this.i);
        this.i = nl === -1 ? s.length : nl;
      } else return;
    }
  }
}

function codePoints(hex: string[]): string | undefined {
  try {
    let out = '';
    for (const h of hex) out += String.fromCodePoint(parseInt(h, 16)); // no spreading: the list is the file's to choose
    return out;
  } catch {
    return undefined;
  }
}

function readSpecFile(file: ViewFile, isDefault: boolean, out: CatalogResult): void {
  const issue = (message: string): void => {
    const entry: CatalogIssue = { cataloger: 'ruby', path: file.path, layer: file.layer, message };
    out.issues.push(entry);
  };
  if (file.truncated) issue(`file truncated after ${file.content.length} bytes: read as far as it goes`);
  const spec = parseGemspec(file.content.toString('utf8').replace(/^\uFEFF/, ''));
  const { name, version } = spec;
  // A gem not reported is one issue: why, then what could not be read.
  const skip = (reason: string): void => issue([reason, ...spec.problems].join('; '));
  if (!name || /[\s/]/.test(name)) return skip(name ? `invalid gem name "${truncate(name)}"` : 'no gem name');
  if (!version || !GEM_VERSION.test(version)) return skip(version ? `gem "${name}": invalid version "${truncate(version)}"` : `gem "${name}": no version`);
  for (const p of spec.problems) issue(`gem "${name}": ${p}`);
  let purl: string;
  try {
    purl = new PackageURL('gem', undefined, name, version, spec.platform ? { platform: spec.platform } : undefined, undefined).toString();
  } catch (e) {
    issue(`gem "${name}": cannot build its package URL: ${(e as Error).message}`);
    return;
  }
  const pkg: Package = { type: 'gem', name, version, purl, layer: file.layer, locations: [file.path] };
  const licenses = normalizeLicenses(spec.licenses ?? []);
  if (licenses.length > 0) pkg.licenses = licenses;
  const metadata: Record<string, string> = {};
  if (spec.platform) metadata.platform = spec.platform;
  if (isDefault) metadata.defaultGem = 'true';
  if (spec.homepage) metadata.homepage = spec.homepage;
  if (Object.keys(metadata).length > 0) pkg.metadata = metadata;
  out.packages.push(pkg);
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
