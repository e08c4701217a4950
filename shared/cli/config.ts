/**
 * drydock.yaml: option values by option name (e.g. `fail-on: high`, `advisories: [a, b]`), and
 * sections named after a command (`scan:`, `feeds:`) that apply to that command alone. Read
 * from --config <path> (or DRYDOCK_CONFIG), else ./drydock.yaml when present. An unknown key,
 * or an option that cannot be set from a file, is an error naming the key.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { closest } from './args.js';
import { UsageError } from './io.js';
import { COMMANDS } from './options.js';

/** A config file larger than this is refused. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
export const DEFAULT_CONFIG_FILE = 'drydock.yaml';

export interface ConfigFile {
  path: string;
  common: Record<string, unknown>;
  sections: Record<string, Record<string, unknown>>;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The options a config file may set: every command's, except those marked config: false. */
function settable(command?: string): string[] {
  const out = new Set<string>();
  for (const c of COMMANDS) {
    if (command && c.name !== command) continue;
    for (const [name, spec] of Object.entries(c.options)) if (spec.config !== false) out.add(name);
  }
  return [...out];
}

function checkKeys(map: Record<string, unknown>, allowed: readonly string[], path: string, prefix: string): void {
  for (const key of Object.keys(map)) {
    if (allowed.includes(key)) continue;
    const guess = closest(key, allowed);
    throw new UsageError(`${path}: unknown key "${prefix}${key}"${guess ? ` (did you mean ${guess}?)` : ''}: keys are option names (drydock <command> --help)`);
  }
}

/** The config file named (explicitly: it must exist), else ./drydock.yaml if there is one. */
export async function loadConfigFile(named: string | undefined, cwd: string): Promise<ConfigFile | undefined> {
  const path = named ?? join(cwd, DEFAULT_CONFIG_FILE);
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    if (named === undefined && e.code === 'ENOENT') return undefined;
    throw new UsageError(`config file ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
  if (!st) return undefined;
  if (!st.isFile()) throw new UsageError(`config file ${path}: not a file`);
  if (st.size > MAX_CONFIG_BYTES) throw new UsageError(`config file ${path}: ${st.size} bytes, larger than the limit of ${MAX_CONFIG_BYTES} bytes (MAX_CONFIG_BYTES)`);
  const text = await readFile(path, 'utf8');
  // YAML is loaded only when there is a file to read (through a module that imports it statically:
  // esbuild's bundle of a dynamic import('yaml') has no named `parse`, the CommonJS exports sit on default)
  const { parse } = await import('./yaml.js');
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 50, uniqueKeys: true });
  } catch (e) {
    throw new UsageError(`config file ${path}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return { path, common: {}, sections: {} };
  if (!isMapping(doc)) throw new UsageError(`config file ${path}: must be a mapping of option names to values`);
  const commands = COMMANDS.map((c) => c.name);
  const common: Record<string, unknown> = {};
  const sections: Record<string, Record<string, unknown>> = {};
  for (const [key, value] of Object.entries(doc)) {
    if (commands.includes(key) && isMapping(value)) {
      checkKeys(value, settable(key), path, `${key}.`);
      sections[key] = value;
    } else common[key] = value;
  }
  checkKeys(common, [...settable(), ...commands], path, '');
  for (const key of Object.keys(common)) if (commands.includes(key)) throw new UsageError(`${path}: "${key}" must be a mapping of that command's options`);
  return { path, common, sections };
}
