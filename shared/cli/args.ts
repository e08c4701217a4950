/**
 * The command line, DRYDOCK_* variables and drydock.yaml read against a command's option
 * table (options.ts): the command line wins over the environment, which wins over the file,
 * which wins over the default. An unknown option is a usage error with a suggestion.
 */
import { UsageError } from './io.js';
import { envName, type CommandSpec, type OptionSpec, type Parsed } from './options.js';
import type { ConfigFile } from './config.js';

type Value = string | boolean | string[];

/** The Damerau-free edit distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The closest of `names` to `word`, if close enough to be a typo (or a prefix of exactly one). */
export function closest(word: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const n of names) {
    const d = editDistance(word, n);
    if (d < bestD) [best, bestD] = [n, d];
  }
  if (best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3))) return best;
  const prefixed = names.filter((n) => n.startsWith(word));
  return word.length >= 3 && prefixed.length === 1 ? prefixed[0] : undefined;
}

/** "usage: drydock scan <image> [options]  (drydock scan --help shows every option)" */
export function usageLine(cmd: CommandSpec): string {
  return `usage: ${cmd.usage[0]}  (drydock ${cmd.name} --help shows every option)`;
}

interface Lookup {
  long: Map<string, string>;
  short: Map<string, string>;
}

function lookup(cmd: CommandSpec): Lookup {
  const long = new Map<string, string>();
  const short = new Map<string, string>();
  for (const [name, spec] of Object.entries(cmd.options)) {
    long.set(name, name);
    if (spec.short) short.set(spec.short, name);
    for (const a of spec.aliases ?? []) (a.length === 1 ? short : long).set(a, name);
  }
  return { long, short };
}

/** The option named by the command line (--config) before anything else is read: where the config file is. */
export function configFlag(argv: readonly string[]): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a === '--config') found = argv[i + 1];
    else if (a.startsWith('--config=')) found = a.slice('--config='.length);
  }
  return found;
}

/** The command line alone: options given (as strings, booleans, lists) and positionals. */
export function parseCommandLine(cmd: CommandSpec, argv: readonly string[]): { given: Map<string, Value>; positionals: string[] } {
  const { long, short } = lookup(cmd);
  const given = new Map<string, Value>();
  const positionals: string[] = [];
  const set = (name: string, v: string | boolean) => {
    const spec = cmd.options[name]!;
    if (spec.multiple && typeof v === 'string') {
      const prev = given.get(name);
      given.set(name, [...(Array.isArray(prev) ? prev : []), v]);
    } else given.set(name, v);
  };
  const unknown = (flag: string, isLong: boolean): never => {
    const names = isLong ? [...long.keys()].filter((n) => n.length > 1) : [...short.keys()];
    const guess = closest(isLong ? flag.slice(2) : flag.slice(1), names);
    throw new UsageError(`unknown option '${flag}'${guess ? ` (did you mean ${isLong ? '--' : '-'}${guess}?)` : ''}`, usageLine(cmd));
  };
  const valueFor = (flag: string, i: number): string => {
    const v = argv[i];
    // "--fail-on --quiet": the next word is an option, not this one's value
    if (v === undefined || (v.startsWith('-') && v.length > 1 && isOption(v, long, short))) {
      const spec = cmd.options[(flag.startsWith('--') ? long.get(flag.slice(2)) : short.get(flag.slice(1)))!]!;
      throw new UsageError(`option '${flag}${spec.arg ? ` ${spec.arg}` : ''}' needs a value`, usageLine(cmd));
    }
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const flag = eq < 0 ? a : a.slice(0, eq);
      const name = long.get(flag.slice(2));
      if (!name) unknown(flag, true);
      const spec = cmd.options[name!]!;
      if (spec.type === 'boolean') {
        if (eq >= 0) throw new UsageError(`option '${flag}' takes no value`, usageLine(cmd));
        set(name!, true);
      } else set(name!, eq >= 0 ? a.slice(eq + 1) : valueFor(flag, ++i));
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const flag = `-${a[j]}`;
        const name = short.get(a[j]!);
        if (!name) unknown(flag, false);
        const spec = cmd.options[name!]!;
        if (spec.type === 'boolean') {
          set(name!, true);
          continue;
        }
        // -ojson, -o json
        set(name!, j + 1 < a.length ? a.slice(j + 1) : valueFor(flag, ++i));
        break;
      }
      continue;
    }
    positionals.push(a);
  }
  return { given, positionals };
}

function isOption(word: string, long: Map<string, string>, short: Map<string, string>): boolean {
  if (word.startsWith('--')) return long.has(word.slice(2).split('=')[0]!);
  return short.has(word[1]!);
}

/** A boolean from an environment variable or the config file: 1/0, true/false, yes/no, on/off. */
function parseBool(v: string, where: string): boolean {
  if (/^(1|true|yes|on)$/i.test(v.trim())) return true;
  if (/^(0|false|no|off|)$/i.test(v.trim())) return false;
  throw new UsageError(`${where} must be true or false (1/0, yes/no), got "${v}"`);
}

function fromEnv(name: string, spec: OptionSpec, env: NodeJS.ProcessEnv): Value | undefined {
  const key = envName(name, spec);
  const raw = key ? env[key] : undefined;
  if (raw === undefined || raw === '') return undefined;
  if (spec.type === 'boolean') return parseBool(raw, key!);
  if (spec.multiple) return raw.split(spec.envSplit ?? ',').map((s) => s.trim()).filter(Boolean);
  return raw;
}

function fromConfig(name: string, spec: OptionSpec, raw: unknown, file: string): Value {
  const where = `${file}: ${name}`;
  if (spec.type === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    if (typeof raw === 'string' || typeof raw === 'number') return parseBool(String(raw), where);
    throw new UsageError(`${where} must be true or false`);
  }
  const scalar = (v: unknown): string => {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new UsageError(`${where} must be ${spec.multiple ? 'a value or a list of values' : 'a single value'}, got ${v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v}`);
  };
  if (spec.multiple) return Array.isArray(raw) ? raw.map(scalar) : [scalar(raw)];
  return scalar(raw);
}

/** A command's options from the command line, the environment, the config file and the defaults. */
export function resolveOptions(cmd: CommandSpec, argv: readonly string[], env: NodeJS.ProcessEnv, config?: ConfigFile): Parsed {
  const { given, positionals } = parseCommandLine(cmd, argv);
  const values: Record<string, Value | undefined> = {};
  const from: Parsed['from'] = {};
  const fileValues = config ? { ...config.common, ...(config.sections[cmd.name] ?? {}) } : {};
  for (const [name, spec] of Object.entries(cmd.options)) {
    let v: Value | undefined = given.get(name);
    let src: Parsed['from'][string] = 'cli';
    if (v === undefined) {
      v = fromEnv(name, spec, env);
      src = 'env';
    }
    if (v === undefined && spec.config !== false && name in fileValues) {
      v = fromConfig(name, spec, fileValues[name], config!.path);
      src = 'config';
    }
    if (v === undefined) {
      v = spec.default === undefined ? (spec.type === 'boolean' ? false : undefined) : Array.isArray(spec.default) ? [...(spec.default as readonly string[])] : (spec.default as string | boolean);
      src = 'default';
    }
    values[name] = v;
    from[name] = src;
  }
  return { values: values as Parsed['values'], positionals, from };
}
