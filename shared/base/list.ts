import { readFile, stat } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { DrydockError } from '../errors.js';
import { globMatch } from '../policy/engine.js';

/**
 * The trusted base list: the repositories (and tags) application images may be built on.
 * A YAML or JSON file, or the stack's `baseRepositories` setting:
 *
 *   version: 1
 *   bases:
 *     - repository: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/base/debian   # "<registry>/<repository>", "*" globs
 *       tags: ["12", "12-slim"]                                             # optional: only these tags (globs)
 *
 * The CLI resolves each listed tag (globs are not listed there: a tag must be literal for it)
 * to its current digest; the pipeline tracks every digest pushed to a listed repository.
 */
export interface TrustedBase {
  /** "<registry>/<repository>", "*" matching any run of characters */
  repository: string;
  /** tags (globs); undefined = any tag */
  tags?: string[];
}

export interface TrustedBaseList {
  source: string;
  bases: TrustedBase[];
}

export const MAX_BASE_LIST_BYTES = 256 * 1024;
export const MAX_BASES = 256;
export const MAX_BASE_TAGS = 64;

export async function loadTrustedBaseList(path: string): Promise<TrustedBaseList> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    throw new DrydockError('CONFIG', `trusted base list ${path}: ${(e as Error).message}`);
  }
  if (size > MAX_BASE_LIST_BYTES) throw new DrydockError('CONFIG', `trusted base list ${path}: ${size} bytes, over the ${MAX_BASE_LIST_BYTES}-byte limit`);
  return parseTrustedBaseList(await readFile(path, 'utf8'), path);
}

/** Validates a list (text or parsed); CONFIG errors name the source and the entry. */
export function parseTrustedBaseList(input: string | unknown, source = 'trusted base list'): TrustedBaseList {
  let raw: unknown = input;
  if (typeof input === 'string') {
    if (Buffer.byteLength(input) > MAX_BASE_LIST_BYTES) throw new DrydockError('CONFIG', `${source}: over the ${MAX_BASE_LIST_BYTES}-byte limit`);
    try {
      raw = parseYaml(input, { maxAliasCount: 100 });
    } catch (e) {
      throw new DrydockError('CONFIG', `${source}: not YAML or JSON: ${(e as Error).message}`);
    }
  }
  const fail = (at: string, why: string): never => {
    throw new DrydockError('CONFIG', `${source}: ${at}: ${why}`);
  };
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail('top level', 'must be a mapping with "bases"');
  const o = raw as Record<string, unknown>;
  if (o.version !== undefined && o.version !== 1 && o.version !== '1') fail('version', `unsupported version ${JSON.stringify(o.version)} (this Drydock reads 1)`);
  for (const k of Object.keys(o)) if (k !== 'version' && k !== 'bases') fail(k, 'unknown field (known: version, bases)');
  if (!Array.isArray(o.bases)) fail('bases', 'must be a list');
  const list = o.bases as unknown[];
  if (list.length > MAX_BASES) fail('bases', `${list.length} entries, over the limit of ${MAX_BASES}`);
  const bases = list.map((b, i): TrustedBase => {
    const at = `bases[${i}]`;
    const entry = typeof b === 'string' ? { repository: b } : b;
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) return fail(at, 'must be a mapping with "repository" (or a string)');
    const e = entry as Record<string, unknown>;
    for (const k of Object.keys(e)) if (k !== 'repository' && k !== 'tags') fail(`${at}.${k}`, 'unknown field (known: repository, tags)');
    if (typeof e.repository !== 'string' || !e.repository.includes('/')) fail(`${at}.repository`, 'must be "<registry>/<repository>"');
    const repo = e.repository as string;
    if (repo.includes('@') || /:[^/]*$/.test(repo.slice(repo.indexOf('/') + 1))) fail(`${at}.repository`, `"${repo}" names a tag or digest; put tags under "tags"`);
    const out: TrustedBase = { repository: repo };
    if (e.tags !== undefined) {
      if (!Array.isArray(e.tags) || e.tags.some((t) => typeof t !== 'string' || !t)) fail(`${at}.tags`, 'must be a list of tags');
      if ((e.tags as string[]).length > MAX_BASE_TAGS) fail(`${at}.tags`, `over the limit of ${MAX_BASE_TAGS}`);
      out.tags = e.tags as string[];
    }
    return out;
  });
  return { source, bases };
}

/** The stack's `baseRepositories` setting ("<registry>/<repository>[:tag]" strings) as a list. */
export function trustedBaseListOf(entries: readonly string[], source = 'baseRepositories'): TrustedBaseList {
  return parseTrustedBaseList({
    version: 1,
    bases: entries.map((s) => {
      const slash = s.indexOf('/');
      const colon = s.lastIndexOf(':');
      return colon > slash && slash >= 0 ? { repository: s.slice(0, colon), tags: [s.slice(colon + 1)] } : { repository: s };
    }),
  }, source);
}

/** Whether the list trusts this repository (and tag, when given and the entry names tags). */
export function isTrusted(list: TrustedBaseList, registry: string, repository: string, tag?: string): boolean {
  const name = `${registry}/${repository}`;
  return list.bases.some((b) => globMatch(b.repository, name) && (!b.tags || (tag !== undefined && b.tags.some((t) => globMatch(t, tag)))));
}
