/**
 * scripts/esbuild-patches.mjs (issue 18): the bundles' rewrite of packageurl-js's load-time
 * Intl.Collator keeps `localeCompare`'s answers and makes no collator until one is needed;
 * fflate's rewritten module loads no node:worker_threads until its asynchronous API starts a
 * worker, which still works; the build fails, naming the patch, when a dependency no longer
 * holds the text a patch rewrites; and each output file keeps only the banner names it uses.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire, Module } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPatch, BANNER, FFLATE_WORKER_THREADS, PACKAGEURL_COLLATOR, patchPlugin, SPDX_CORRECT_SORT, trimBanner } from '../../scripts/esbuild-patches.mjs';
import { REPO_ROOT } from '../support/hostile-corpus.js';

const STRINGS_JS = join(REPO_ROOT, 'node_modules', 'packageurl-js', 'src', 'strings.js');
const FFLATE_ESM = join(REPO_ROOT, 'node_modules', 'fflate', 'esm', 'index.mjs');
const COLLATOR_TEXT = PACKAGEURL_COLLATOR.edits[0]!.expected;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-patches-'));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Loads a CommonJS module from source text (written under the test's directory), counting the Intl.Collator objects made while it loads and runs `use`. */
async function loadCounting<T>(name: string, source: string, use: (mod: Record<string, unknown>) => T): Promise<{ made: number; result: T }> {
  const path = join(work, name);
  await writeFile(path, source);
  const real = Intl.Collator;
  let made = 0;
  Intl.Collator = new Proxy(real, {
    construct(target, args, newTarget) {
      made++;
      return Reflect.construct(target, args, newTarget) as object;
    },
  });
  try {
    const mod = createRequire(path)(path) as Record<string, unknown>;
    const result = use(mod);
    return { made, result };
  } finally {
    Intl.Collator = real;
  }
}

/** A small packageurl-js look-alike under node_modules in `dir`, for builds through the plugin. */
async function fakePackage(dir: string, files: Record<string, string>): Promise<string> {
  const pkg = join(dir, 'node_modules', 'packageurl-js');
  await mkdir(join(pkg, 'src'), { recursive: true });
  await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: 'packageurl-js', main: 'index.js' }));
  for (const [name, text] of Object.entries(files)) await writeFile(join(pkg, name), text);
  await writeFile(join(dir, 'entry.js'), "module.exports = require('packageurl-js');\n");
  return join(dir, 'entry.js');
}

describe("packageurl-js's collator, made on first use", () => {
  it('the patched strings.js makes no collator on load and compares as the unpatched one does', async () => {
    const original = await readFile(STRINGS_JS, 'utf8');
    const samples: unknown[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -0, -1, 10, 11, 1.5, NaN, '0', '1', '10', '9', 'a', 'B', 'b', 'ä', 'qualifiers', 'name', '', 'Z'];
    const pairs = samples.flatMap((a) => samples.map((b) => [a, b] as const));
    const answers = (mod: Record<string, unknown>) => {
      const compare = mod.localeCompare as (a: unknown, b: unknown) => number;
      return pairs.map(([a, b]) => Math.sign(compare(a, b)));
    };
    const before = await loadCounting('strings-original.cjs', original, () => undefined);
    expect(before.made).toBe(1); // the control: the unpatched module makes its collator on load
    const onLoad = await loadCounting('strings-patched-load.cjs', applyPatch(PACKAGEURL_COLLATOR, original, STRINGS_JS), () => undefined);
    expect(onLoad.made).toBe(0);
    // component ranks (whole numbers 0 to 9) are compared without one; anything else makes it once
    const ranks = await loadCounting('strings-patched-ranks.cjs', applyPatch(PACKAGEURL_COLLATOR, original, STRINGS_JS), (mod) =>
      [3, 0, 7, 1, 5].sort(mod.localeCompare as (a: number, b: number) => number),
    );
    expect(ranks).toEqual({ made: 0, result: [0, 1, 3, 5, 7] });
    const patched = await loadCounting('strings-patched.cjs', applyPatch(PACKAGEURL_COLLATOR, original, STRINGS_JS), answers);
    const unpatched = await loadCounting('strings-unpatched.cjs', original, answers);
    expect(patched.result).toEqual(unpatched.result);
    expect(patched.made).toBe(1);
  });

  it('the bundle of packageurl-js holds the rewrite, and its purls are the same', async () => {
    const outputs = await Promise.all(
      [[patchPlugin()], []].map(async (plugins) => {
        const r = await build({ stdin: { contents: "module.exports = require('packageurl-js');", resolveDir: REPO_ROOT }, bundle: true, platform: 'node', format: 'cjs', write: false, logLevel: 'silent', plugins });
        return r.outputFiles[0]!.text;
      }),
    );
    const [patched, unpatched] = outputs as [string, string];
    // (esbuild prints the declaration with var)
    expect(patched).toContain('drydockCollator ??= new Intl.Collator()');
    expect(patched).not.toContain('localeCompare } = new Intl.Collator()');
    expect(unpatched).toContain('localeCompare } = new Intl.Collator()');
    const purls = ['pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64&distro=debian-12', 'pkg:npm/%40scope/name@1.0.0?b=2&a=1#sub/path', 'pkg:maven/org.example/lib@1.2?type=jar&classifier=sources'];
    const render = (mod: Record<string, unknown>) => {
      const PackageURL = mod.PackageURL as { fromString(s: string): { toString(): string } };
      return purls.map((p) => PackageURL.fromString(p).toString());
    };
    const a = await loadCounting('purl-patched.cjs', patched, render);
    const b = await loadCounting('purl-unpatched.cjs', unpatched, render);
    expect(a.result).toEqual(b.result);
    expect(a.made).toBe(0);
    expect(b.made).toBe(1);
  });
});

describe('a dependency upgrade that changes the patched text fails the build', () => {
  it('applyPatch refuses source without the expected text, or with it twice', () => {
    expect(() => applyPatch(PACKAGEURL_COLLATOR, "const { compare: localeCompare } = new Intl.Collator('en')\n", 'x/strings.js')).toThrow(/packageurl-js.*no longer holds .* exactly once/);
    const twice = `${COLLATOR_TEXT}\n${COLLATOR_TEXT}\n`;
    expect(() => applyPatch(PACKAGEURL_COLLATOR, twice, 'x/strings.js')).toThrow(/exactly once/);
    // every edit of a patch must find its text: fflate's second one missing fails it
    const fflateFirstOnly = `${FFLATE_WORKER_THREADS.edits[0]!.expected}\n}\n`;
    expect(() => applyPatch(FFLATE_WORKER_THREADS, fflateFirstOnly, 'x/index.mjs')).toThrow(/fflate.*no longer holds/);
  });

  it('the plugin fails a bundle whose strings.js changed, and one whose package no longer has it', async () => {
    const changed = await fakePackage(join(work, 'changed'), {
      'index.js': "module.exports = require('./src/strings.js');\n",
      'src/strings.js': "const { compare: localeCompare } = new Intl.Collator(undefined, { numeric: true })\nmodule.exports = { localeCompare }\n",
    });
    await expect(build({ entryPoints: [changed], bundle: true, platform: 'node', write: false, logLevel: 'silent', plugins: [patchPlugin()] })).rejects.toThrow(/esbuild-patches\.mjs \(packageurl-js.*\): .*no longer holds/);
    const moved = await fakePackage(join(work, 'moved'), {
      'index.js': "module.exports = require('./src/text.js');\n",
      'src/text.js': `${COLLATOR_TEXT}\nmodule.exports = { localeCompare }\n`,
    });
    await expect(build({ entryPoints: [moved], bundle: true, platform: 'node', write: false, logLevel: 'silent', plugins: [patchPlugin()] })).rejects.toThrow(/holds .*packageurl-js.* but not the file the patch rewrites/);
    // the control: the same package with the expected strings.js builds
    const good = await fakePackage(join(work, 'good'), {
      'index.js': "module.exports = require('./src/strings.js');\n",
      'src/strings.js': `${COLLATOR_TEXT}\nmodule.exports = { localeCompare }\n`,
    });
    const r = await build({ entryPoints: [good], bundle: true, platform: 'node', write: false, logLevel: 'silent', plugins: [patchPlugin()] });
    expect(r.outputFiles[0]!.text).toContain('drydockCollator');
  });
});

describe("fflate's node:worker_threads, required by its first worker", () => {
  /** Runs `code` (an ES module) in a new node; its stdout. */
  const node = async (code: string) => (await promisify(execFile)(process.execPath, ['--input-type=module', '-e', code], { timeout: 60_000 })).stdout;

  it('the patched module loads no worker_threads until its asynchronous inflate starts a worker, which answers as the unpatched one does', async () => {
    const patched = join(work, 'fflate-patched.mjs');
    await writeFile(patched, applyPatch(FFLATE_WORKER_THREADS, await readFile(FFLATE_ESM, 'utf8'), FFLATE_ESM));
    const script = (file: string) =>
      [
        `const f = await import(${JSON.stringify(file)});`,
        "const threads = () => process.moduleLoadList.includes('NativeModule worker_threads');",
        'const atLoad = threads();',
        "const data = f.deflateSync(new TextEncoder().encode('drydock '.repeat(1000)));",
        'const sync = Buffer.from(f.inflateSync(data)).toString();',
        'const afterSync = threads();',
        // (fflate 0.8.3's worker code fails in its ESM build on Node 20 — "u8 is not defined" —
        // patched or not: what counts is that the answer, error or bytes, is the same)
        'const viaWorker = await new Promise((resolve) => f.inflate(data, (e, out) => resolve(e ? `error: ${e.message}` : Buffer.from(out).toString() === sync)));',
        'console.log(JSON.stringify({ atLoad, afterSync, afterAsync: threads(), viaWorker, length: sync.length }));',
      ].join('\n');
    const patchedRun = JSON.parse(await node(script(patched))) as Record<string, unknown>;
    const publishedRun = JSON.parse(await node(script(FFLATE_ESM))) as Record<string, unknown>;
    expect(patchedRun).toMatchObject({ atLoad: false, afterSync: false, afterAsync: true, length: 8000 });
    // the control: the module as published loads worker_threads at once
    expect(publishedRun).toMatchObject({ atLoad: true, afterAsync: true, length: 8000 });
    expect(patchedRun.viaWorker).toEqual(publishedRun.viaWorker);
  });
});

describe("spdx-correct's load-time sort, by code unit", () => {
  const SPDX_CORRECT = join(REPO_ROOT, 'node_modules', 'spdx-correct', 'index.js');

  it('the patched module sorts both of its tables exactly as the unpatched one, corrects the same, and collates nothing', async () => {
    const original = await readFile(SPDX_CORRECT, 'utf8');
    // the tables are module-private: exported here, in both copies alike, to compare them whole
    const exposed = (text: string) => `${text}\nmodule.exports.drydockTables = { transpositions: transpositions, lastResorts: lastResorts };\n`;
    const samples = ['GPL-2', 'gplv3+', 'Apache 2', 'BSD 3 clause', 'MIT/X11', 'LGPL 2.1 or later', 'mpl', 'Artistic', 'public domain', 'GNU GPL v2', 'Zlib license', 'CC-BY-SA 4.0'];
    type Correct = ((s: string) => string | null) & { drydockTables: unknown };
    const use = (mod: Record<string, unknown>) => ({ tables: JSON.stringify((mod as unknown as Correct).drydockTables), corrected: samples.map((x) => (mod as unknown as Correct)(x)) });
    // compiled as if it were the installed file, so that its own requires resolve as they do there
    const asInstalled = (text: string) => {
      const m = new Module(SPDX_CORRECT);
      m.filename = SPDX_CORRECT;
      m.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(join(REPO_ROOT, 'node_modules', 'spdx-correct'));
      (m as unknown as { _compile(source: string, file: string): void })._compile(text, SPDX_CORRECT);
      return m.exports as Record<string, unknown>;
    };
    const real = Intl.Collator;
    let made = 0;
    const counting = new Proxy(real, {
      construct(target, args, newTarget) {
        made++;
        return Reflect.construct(target, args, newTarget) as object;
      },
    });
    const before = use(asInstalled(exposed(original)));
    Intl.Collator = counting;
    const realCompare = String.prototype.localeCompare;
    let compared = 0;
    String.prototype.localeCompare = function (this: string, ...args: Parameters<typeof realCompare>) {
      compared++;
      return realCompare.apply(this, args);
    };
    let after: ReturnType<typeof use>;
    try {
      after = use(asInstalled(exposed(applyPatch(SPDX_CORRECT_SORT, original, SPDX_CORRECT))));
    } finally {
      Intl.Collator = real;
      String.prototype.localeCompare = realCompare;
    }
    expect(after.tables).toBe(before.tables);
    expect(after.corrected).toEqual(before.corrected);
    expect(after.corrected.filter((x) => x !== null).length).toBeGreaterThan(6);
    // loading and using the patched module collates nothing
    expect({ made, compared }).toEqual({ made: 0, compared: 0 });
    // what the patch is for: the unpatched sort is a collation (String#localeCompare), the patched one is not
    expect(original).toContain(SPDX_CORRECT_SORT.edits[0]!.expected);
    expect(applyPatch(SPDX_CORRECT_SORT, original, SPDX_CORRECT)).not.toContain('localeCompare');
  });

  it('a table whose keys a collation orders differently from their code units fails the comparison', async () => {
    // '+' (U+002B) sorts before '-' (U+002D) by code unit; a collation puts punctuation ('-') before symbols ('+')
    const table = "var t = [['A+B', 1], ['A-B', 2]].sort(function sortTranspositions(a, b) {\n  var length = b[0].length - a[0].length\n  if (length !== 0) return length\n  return a[0].toUpperCase().localeCompare(b[0].toUpperCase())\n}); module.exports = t;";
    const byCollation = createRequire(join(work, 'x.js'));
    await writeFile(join(work, 'sort-before.js'), table);
    await writeFile(join(work, 'sort-after.js'), applyPatch(SPDX_CORRECT_SORT, table, 'sort.js'));
    expect(JSON.stringify(byCollation(join(work, 'sort-after.js')))).not.toBe(JSON.stringify(byCollation(join(work, 'sort-before.js'))));
  });
});

describe('the banner, cut to what each output file uses', () => {
  it('keeps the declarations a file names and the imports they need, on one line', () => {
    const cut = (body: string) => trimBanner(`${BANNER}\n${body}`);
    expect(cut('export const x = 1;\n')).toBe('\nexport const x = 1;\n');
    expect(cut('var __require = typeof require !== "undefined" ? require : 0;\n')).toBe(
      "import { createRequire as __drydockRequire } from 'node:module'; const require = __drydockRequire(import.meta.url);\nvar __require = typeof require !== \"undefined\" ? require : 0;\n",
    );
    expect(cut('locate(__dirname);\n')).toBe("import { fileURLToPath as __drydockPath } from 'node:url'; const __dirname = __drydockPath(new URL('.', import.meta.url));\nlocate(__dirname);\n");
    // a name inside a longer one is not a use; any other appearance (even in a comment) is
    expect(cut('var require2 = 1; var __require = 2; var $require = 3;\n').split('\n')[0]).toBe('');
    expect(cut('// require() here\n').split('\n')[0]).toContain('const require =');
    expect(cut('f(__filename, require);\n').split('\n')[0]).toBe(
      "import { createRequire as __drydockRequire } from 'node:module'; import { fileURLToPath as __drydockPath } from 'node:url'; const require = __drydockRequire(import.meta.url); const __filename = __drydockPath(import.meta.url);",
    );
    // text without the banner is left alone
    expect(trimBanner('export const x = 1;\n')).toBe('export const x = 1;\n');
  });

  it('the built CLI: every file that names require, __filename or __dirname declares it (and, once cut, only those)', async () => {
    const { readdir } = await import('node:fs/promises');
    const dir = join(REPO_ROOT, 'dist', 'cli');
    const files = [join(dir, 'drydock.mjs'), join(dir, 'layer-worker.mjs'), ...(await readdir(join(dir, 'chunks'))).filter((f) => f.endsWith('.mjs')).map((f) => join(dir, 'chunks', f))];
    let cut = 0;
    let declared = 0;
    for (const f of files) {
      const text = await readFile(f, 'utf8');
      const [first, ...rest] = text.split('\n');
      const body = rest.join('\n');
      // (chunks of an earlier build, kept for an hour, may still have the whole banner)
      const whole = first === BANNER;
      if (!whole) cut++;
      for (const name of ['require', '__filename', '__dirname']) {
        const named = new RegExp(`(?<![\\w$])${name}(?![\\w$])`).test(body);
        const declares = first!.includes(`const ${name} =`);
        if (declares && !whole) declared++;
        if (named) expect(declares, `${f} uses ${name}`).toBe(true);
        else if (!whole) expect(declares, `${f} does not use ${name}`).toBe(false);
      }
    }
    expect(cut).toBeGreaterThan(0);
    expect(declared).toBeGreaterThan(0);
  });
});
