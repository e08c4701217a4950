/**
 * Hostile package files (issue 14): each built small, scaled so that the bound trips in
 * milliseconds rather than the machine, read through the real squashed view and the real
 * catalogers as a scan runs them (runCatalogers). Each case checks the packages still
 * found and the issue naming the file and the limit. No assertion is on wall time (a loaded
 * machine makes those flaky): where the bound is "before parsing" the parser's calls are
 * watched; otherwise the sizes are such that the unbounded code (quadratic, or recursing)
 * would fail outright or run far past vitest's per-test timeout (60 s), which is the hang
 * guard. Speed targets are the bench's (`npm run bench`).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { catalogers, runCatalogers } from '../../shared/catalog/index.js';
import { jsonDepth, JsonDepthError, MAX_JSON_DEPTH, parseJsonBounded } from '../../shared/catalog/json.js';
import { MAX_FAILED_FILES, MAX_LOCK_TREE_DEPTH, MAX_NODE_MODULES_DEPTH, MAX_PATH_LENGTH } from '../../shared/catalog/limits.js';
import type { CatalogRun } from '../../shared/catalog/index.js';
import type { Cataloger } from '../../shared/catalog/types.js';
import type { LayerExtract } from '../../shared/layers/extract.js';
import { SquashedView } from '../../shared/layers/squash.js';

const LAYER = `sha256:${'a'.repeat(64)}`;

/** A one-layer image holding `files` (path → content), read as a scan reads it. */
function viewOf(files: Record<string, string | Buffer>): SquashedView {
  const entries = Object.entries(files).map(([path, text]) => {
    const content = typeof text === 'string' ? Buffer.from(text) : text;
    return { type: 'file' as const, path, mode: 0o644, size: content.length, content };
  });
  const layer: LayerExtract = { digest: LAYER, entries, whiteouts: [], opaqueDirs: [], issues: [], stats: { entries: entries.length, uncompressedBytes: 0, compressedBytes: 0 } };
  return new SquashedView([layer]);
}

afterEach(() => {
  vi.restoreAllMocks();
});

/** Watches JSON.parse (still parsing): the lengths of the texts it was given. */
function parsedLengths(): number[] {
  const lengths: number[] = [];
  const parse = JSON.parse;
  vi.spyOn(JSON, 'parse').mockImplementation((text: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
    lengths.push(String(text).length);
    return parse(text, reviver);
  });
  return lengths;
}

const names = (run: CatalogRun, type: string) => run.packages.filter((p) => p.type === type).map((p) => p.name);
const issuesOf = (run: CatalogRun, cataloger: string) => run.issues.filter((i) => i.cataloger === cataloger);

const ALPINE_RELEASE = 'ID=alpine\nVERSION_ID=3.20.0\n';
const manifest = (name: string, version = '1.0.0') => JSON.stringify({ name, version });

describe('JSON nesting bound', () => {
  it('measures depth in one pass, ignoring brackets in strings, and refuses a document over the limit before parsing', () => {
    expect(jsonDepth('{"a":[1,{"b":"[[[{{{"}]}')).toBe(3);
    expect(jsonDepth('"\\"[["')).toBe(0);
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const parsed = parsedLengths();
    let err: unknown;
    try {
      parseJsonBounded(deep);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JsonDepthError);
    expect((err as Error).message).toBe(`JSON nested more than ${MAX_JSON_DEPTH} levels deep (limit maxJsonDepth ${MAX_JSON_DEPTH})`);
    // refused before parsing: JSON.parse never saw it
    expect(parsed).toEqual([]);
    expect(parseJsonBounded('[[1]]')).toEqual([[1]]);
    expect(parsed).toEqual([5]);
  });
});

describe('npm', () => {
  it(`node_modules nested ${MAX_NODE_MODULES_DEPTH * 3} deep: the first ${MAX_NODE_MODULES_DEPTH} levels read, the rest named by the maxNodeModulesDepth issue`, () => {
    const depth = MAX_NODE_MODULES_DEPTH * 3;
    const files: Record<string, string> = {};
    let dir = '/app';
    for (let i = 1; i <= depth; i++) {
      dir += `/node_modules/p${i}`;
      files[`${dir}/package.json`] = manifest(`p${i}`);
    }
    files['/app/node_modules/.package-lock.json'] = '{}';
    const view = viewOf(files);
    const run = runCatalogers(view, catalogers.filter((c) => c.name === 'npm'));
    const found = names(run, 'npm');
    expect(found).toHaveLength(MAX_NODE_MODULES_DEPTH);
    expect(found).toContain(`p${MAX_NODE_MODULES_DEPTH}`);
    expect(found).not.toContain(`p${MAX_NODE_MODULES_DEPTH + 1}`);
    const [issue] = issuesOf(run, 'npm');
    expect(issue?.message).toContain(`${depth - MAX_NODE_MODULES_DEPTH} package manifest(s) nested in more than ${MAX_NODE_MODULES_DEPTH} node_modules directories not read (limit maxNodeModulesDepth ${MAX_NODE_MODULES_DEPTH})`);
    expect(issue?.path).toMatch(/\/node_modules\/p\d+\/package\.json$/);
  });

  it(`package-lock v1 nested ${MAX_LOCK_TREE_DEPTH * 3} deep: read down to maxLockTreeDepth, deeper levels one named issue, no recursion`, () => {
    // (its JSON nesting, 2 levels per tree level, stays under maxJsonDepth)
    const depth = MAX_LOCK_TREE_DEPTH * 3;
    // built inside out, as text: the document is the hostile input
    let tree = '{}';
    for (let i = depth; i >= 1; i--) tree = `{"d${i}":{"version":"1.0.${i}","dependencies":${tree}}}`;
    const lock = `{"name":"app","lockfileVersion":1,"requires":true,"dependencies":${tree}}`;
    const view = viewOf({ '/srv/app/package-lock.json': lock, '/srv/other/package-lock.json': JSON.stringify({ lockfileVersion: 1, dependencies: { ok: { version: '2.0.0' } } }) });
    const run = runCatalogers(view, catalogers.filter((c) => c.name === 'npm'));
    const found = names(run, 'npm');
    expect(found).toContain('ok');
    expect(found).toContain('d1');
    expect(found).toContain(`d${MAX_LOCK_TREE_DEPTH}`);
    expect(found).not.toContain(`d${MAX_LOCK_TREE_DEPTH + 1}`);
    const issues = issuesOf(run, 'npm');
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('/srv/app/package-lock.json');
    expect(issues[0]!.message).toContain(`nested more than ${MAX_LOCK_TREE_DEPTH} levels deep (limit maxLockTreeDepth ${MAX_LOCK_TREE_DEPTH}): not read`);
  });

  it('package-lock v1 nested 100,000 deep: refused by maxJsonDepth before parsing; the lockfile beside it still read', () => {
    const depth = 100_000;
    const lock = `{"lockfileVersion":1,"dependencies":${'{"x":{"version":"1.0.0","dependencies":'.repeat(depth)}{}${'}}'.repeat(depth)}}`;
    const view = viewOf({ '/a/package-lock.json': lock, '/b/package-lock.json': JSON.stringify({ lockfileVersion: 1, dependencies: { fine: { version: '1.2.3' } } }) });
    const parsed = parsedLengths();
    const run = runCatalogers(view, catalogers.filter((c) => c.name === 'npm'));
    expect(names(run, 'npm')).toEqual(['fine']);
    expect(issuesOf(run, 'npm')).toEqual([
      { cataloger: 'npm', path: '/a/package-lock.json', layer: LAYER, message: `JSON nested more than ${MAX_JSON_DEPTH} levels deep (limit maxJsonDepth ${MAX_JSON_DEPTH}): not read` },
    ]);
    // the hostile lockfile never reached JSON.parse; the one beside it did
    expect(parsed).not.toContain(lock.length);
    expect(parsed.length).toBeGreaterThan(0);
  });

  it('a lockfile entry whose install path would pass maxPathLength is an issue, not a megabyte string per child', () => {
    const long = 'n'.repeat(MAX_PATH_LENGTH);
    const children = Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`c${i}`, { version: '1.0.0' }]));
    const lock = JSON.stringify({ lockfileVersion: 1, dependencies: { [long]: { version: '1.0.0', dependencies: children }, short: { version: '1.0.0' } } });
    const run = runCatalogers(viewOf({ '/p/package-lock.json': lock }), catalogers.filter((c) => c.name === 'npm'));
    expect(names(run, 'npm')).toEqual(['short']);
    expect(issuesOf(run, 'npm')[0]!.message).toContain(`install path longer than ${MAX_PATH_LENGTH} characters (limit maxPathLength ${MAX_PATH_LENGTH})`);
  });
});

describe('apk', () => {
  const stanza = (name: string, extra = '') => `P:${name}\nV:1.0-r0\nA:x86_64\n${extra}`;

  it('one 256 KiB F: line with 16k R: lines: no path built over maxPathLength, every package still found', () => {
    const dir = 'd'.repeat(256 * 1024);
    const rLines = Array.from({ length: 16_000 }, (_, i) => `R:f${i}`).join('\n');
    const db = [stanza('hostile', `F:${dir}\n${rLines}\n`), stanza('musl', 'F:lib\nR:ld-musl-x86_64.so.1\n')].join('\n');
    const view = viewOf({ '/etc/os-release': ALPINE_RELEASE, '/lib/apk/db/installed': db });
    const run = runCatalogers(view, catalogers.filter((c) => c.name === 'apk'));
    expect(names(run, 'apk')).toEqual(['hostile', 'musl']);
    const [issue] = issuesOf(run, 'apk');
    expect(issue?.path).toBe('/lib/apk/db/installed');
    // every one of the 16k R: lines was counted, not joined to the 256 KiB directory (4 GiB of paths)
    expect(issue?.message).toContain(`16000 file(s) with a path longer than ${MAX_PATH_LENGTH} characters not listed as its files (limit maxPathLength ${MAX_PATH_LENGTH})`);
  });

  it('400k R: lines in one stanza are read (no work quadratic in the lines: that would run for minutes)', () => {
    // Linear reading takes a second or two here; a reading quadratic in the lines (each new
    // file checked against every earlier one) is ~8·10^10 steps at this size, far past the
    // 60 s per-test timeout, which is what fails it. No clock is read.
    const n = 400_000;
    const rLines = Array.from({ length: n }, (_, i) => `R:file${i}`).join('\n');
    const view = viewOf({ '/etc/os-release': ALPINE_RELEASE, '/lib/apk/db/installed': stanza('big', `F:usr/share/big\n${rLines}\n`) });
    const run = runCatalogers(view, catalogers.filter((c) => c.name === 'apk'));
    expect(names(run, 'apk')).toEqual(['big']);
    expect(issuesOf(run, 'apk')).toEqual([]);
  }, 60_000);
});

describe('python', () => {
  it('METADATA with 300k continuation lines: read (no argument spreading), and the well-formed package beside it too', () => {
    const hostile = `Metadata-Version: 2.1\nName: hostile\nVersion: 1.0\nDescription: start\n${'  more\n'.repeat(300_000)}\nbody\n`;
    const view = viewOf({
      '/usr/lib/python3/site-packages/hostile-1.0.dist-info/METADATA': hostile,
      '/usr/lib/python3/site-packages/requests-2.31.0.dist-info/METADATA': 'Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n\n',
    });
    const run = runCatalogers(view, catalogers.filter((c) => c.name === 'python'));
    expect(names(run, 'pypi')).toEqual(['hostile', 'requests']);
    expect(issuesOf(run, 'python')).toEqual([]);
  });
});

describe('php and .NET JSON files nested 100,000 deep', () => {
  it('each is refused by maxJsonDepth, named by path; the well-formed files beside them are still read', () => {
    const deep = `{"packages":[${'['.repeat(100_000)}${']'.repeat(100_000)}]}`;
    const view = viewOf({
      '/bad/vendor/composer/installed.json': deep,
      '/good/vendor/composer/installed.json': JSON.stringify({ packages: [{ name: 'monolog/monolog', version: '3.5.0' }] }),
      '/app/bad.deps.json': `{"libraries":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`,
      '/app/good.deps.json': JSON.stringify({ libraries: { 'Newtonsoft.Json/13.0.3': { type: 'package' } } }),
    });
    const run = runCatalogers(view, catalogers.filter((c) => c.name === 'php' || c.name === 'dotnet'));
    expect(names(run, 'composer')).toEqual(['monolog/monolog']);
    expect(names(run, 'nuget')).toEqual(['Newtonsoft.Json']);
    const limit = `JSON nested more than ${MAX_JSON_DEPTH} levels deep (limit maxJsonDepth ${MAX_JSON_DEPTH}): not read`;
    expect(run.issues.filter((i) => i.message === limit).map((i) => i.path).sort()).toEqual(['/app/bad.deps.json', '/bad/vendor/composer/installed.json']);
  });
});

describe('a cataloger failure is confined to its file', () => {
  /** A stand-in cataloger (not one that ships) that throws on any file whose content says so. */
  const fragile: Cataloger = {
    name: 'fragile',
    kind: 'language',
    version: 1,
    needs: { globs: ['**/*.pkg'] },
    catalog(view) {
      const result = { packages: [] as CatalogRun['packages'], issues: [] as CatalogRun['issues'] };
      for (const file of view.glob('**/*.pkg')) {
        const text = file.content.toString('utf8');
        if (text.startsWith('boom')) throw new RangeError(`Maximum call stack size exceeded (${text})`);
        result.packages.push({ type: 'generic', name: text, version: '1', purl: `pkg:generic/${text}@1`, layer: file.layer, locations: [file.path] });
      }
      return result;
    },
  };

  it('the file it threw on is left out and named (path and layer); every other file is still cataloged', () => {
    const view = viewOf({ '/a.pkg': 'alpha', '/b.pkg': 'boom-b', '/c.pkg': 'gamma', '/d.pkg': 'boom-d', '/e.pkg': 'epsilon' });
    const run = runCatalogers(view, [fragile]);
    expect(names(run, 'generic')).toEqual(['alpha', 'epsilon', 'gamma']);
    expect(run.issues).toEqual([
      { cataloger: 'fragile', path: '/b.pkg', layer: LAYER, message: 'fragile failed on this file, which was left out: Maximum call stack size exceeded (boom-b)' },
      { cataloger: 'fragile', path: '/d.pkg', layer: LAYER, message: 'fragile failed on this file, which was left out: Maximum call stack size exceeded (boom-d)' },
    ]);
  });

  it('a failure of the view itself (stand-in view) is not blamed on the file read before it: one issue for the cataloger', () => {
    const real = viewOf({ '/a.pkg': 'alpha' });
    const failing = { ...real, glob: (p: string) => real.glob(p), get: (): never => { throw new Error('view broke'); } };
    const reader: Cataloger = { ...fragile, name: 'reader', catalog(view) {
      for (const f of view.glob('**/*.pkg')) void f.content;
      view.get('/anything');
      return { packages: [], issues: [] };
    } };
    const run = runCatalogers(failing, [reader]);
    expect(issuesOf(run, 'reader')).toEqual([{ cataloger: 'reader', path: '/', message: 'reader failed: view broke' }]);
  });

  it(`after ${MAX_FAILED_FILES} failed files the cataloger gives up on the view, an issue naming maxFailedFiles; other catalogers are unaffected`, () => {
    const files: Record<string, string> = { '/usr/lib/python3/site-packages/six-1.16.0.dist-info/METADATA': 'Name: six\nVersion: 1.16.0\n\n' };
    for (let i = 0; i <= MAX_FAILED_FILES; i++) files[`/x${i}.pkg`] = `boom${i}`;
    const run = runCatalogers(viewOf(files), [fragile, ...catalogers.filter((c) => c.name === 'python')]);
    expect(names(run, 'pypi')).toEqual(['six']);
    expect(names(run, 'generic')).toEqual([]);
    const fragileIssues = issuesOf(run, 'fragile');
    expect(fragileIssues).toHaveLength(MAX_FAILED_FILES + 1);
    expect(fragileIssues.slice(0, MAX_FAILED_FILES).every((i) => /^\/x\d\.pkg$/.test(i.path))).toBe(true);
    expect(fragileIssues[MAX_FAILED_FILES]).toMatchObject({ path: '/', message: expect.stringContaining(`after ${MAX_FAILED_FILES} files failed (limit maxFailedFiles ${MAX_FAILED_FILES}), no packages from it`) });
  });
});
