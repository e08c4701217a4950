// Build-time rewrites of dependency code that costs every start of a bundle (issue 18), for
// scripts/bundle.mjs. Each names the exact text it replaces: when a dependency upgrade changes
// that text the build fails with the reason, instead of quietly shipping the slow code again.
import { readFile } from 'node:fs/promises';

/**
 * packageurl-js's strings.js makes an Intl.Collator when the module is evaluated (7–13 ms of
 * ICU collation set-up on every start), whose compare() its only user, purl-component.js's
 * componentComparator, calls at load time on the sort ranks of the purl components (the numbers
 * 0–7). The rewrite keeps `localeCompare` a function of the same results: two whole numbers
 * from 0 to 9 (one ASCII digit each once turned into strings, the only keys it is given) are
 * ordered as their digits, which every collation orders as the digits' values; anything else
 * goes to the same `new Intl.Collator()`, made on first use.
 */
export const PACKAGEURL_COLLATOR = {
  name: 'packageurl-js: the Intl.Collator made on first use',
  /** the package the patched file belongs to: a bundle holding any of it must have had the patch */
  pkg: /[\\/]node_modules[\\/]packageurl-js[\\/]/,
  file: /[\\/]node_modules[\\/]packageurl-js[\\/]src[\\/]strings\.js$/,
  edits: [
    {
      expected: 'const { compare: localeCompare } = new Intl.Collator()',
      replacement: [
        'let drydockCollator',
        'const drydockDigit = (x) => typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= 9',
        'const localeCompare = (a, b) => drydockDigit(a) && drydockDigit(b) ? (a < b ? -1 : a > b ? 1 : 0) : (drydockCollator ??= new Intl.Collator()).compare(a, b)',
      ].join('; '),
    },
  ],
};

/**
 * fflate's Node ESM build requires node:worker_threads when it is evaluated, for its
 * asynchronous (worker) API alone: every scan loads it with the Java cataloger (fflate's
 * synchronous Inflate reads jars), even one served from the layer cache that starts no thread.
 * The rewrite requires it on the first call of `wk`, the function that starts fflate's
 * workers, and picks the same branch the load-time test picked (a Node without worker_threads
 * gets the same "async operations unsupported" answer). Nothing else reads `Worker` or
 * `isMarkedAsUntransferable`.
 */
export const FFLATE_WORKER_THREADS = {
  name: 'fflate: node:worker_threads required on first use',
  pkg: /[\\/]node_modules[\\/]fflate[\\/]/,
  file: /[\\/]node_modules[\\/]fflate[\\/]esm[\\/]index\.mjs$/,
  edits: [
    {
      expected: [
        'try {',
        "    (_a = require('worker_threads'), Worker = _a.Worker, isMarkedAsUntransferable = _a.isMarkedAsUntransferable);",
        '}',
        'catch (e) {',
        '}',
        'var wk = Worker ? function (c, _, msg, transfer, cb) {',
      ].join('\n'),
      replacement: [
        // (its own flag: the module's `_a` is a scratch variable, reassigned further down at load)
        'var drydockTried = false;',
        'var drydockThreads = function () {',
        '    if (!drydockTried) {',
        '        drydockTried = true;',
        '        try {',
        "            var drydockModule = require('worker_threads');",
        '            Worker = drydockModule.Worker, isMarkedAsUntransferable = drydockModule.isMarkedAsUntransferable;',
        '        }',
        '        catch (e) {',
        '        }',
        '    }',
        '    return Worker;',
        '};',
        'var wk = function (c, _, msg, transfer, cb) { return (drydockThreads() ? wkThreads : wkNone)(c, _, msg, transfer, cb); };',
        'var wkThreads = function (c, _, msg, transfer, cb) {',
      ].join('\n'),
    },
    { expected: '} : function (_, __, ___, ____, cb) {', replacement: '};\nvar wkNone = function (_, __, ___, ____, cb) {' },
  ],
};

/**
 * spdx-correct sorts its two tables when it is loaded, breaking ties of length with
 * String#localeCompare: the first collation of the process, which sets up ICU's collator (some
 * 8–10 ms of every scan that reads a licence, i.e. every Debian image, even from the layer cache).
 * The rewrite compares the upper-cased keys by code unit. For the tables of this version that is
 * the same order (their keys are ASCII letters, digits, space and ` +-./`);
 * test/cli/bundle-patches.test.ts loads the module both ways and requires both tables to come out
 * identical, so a new version whose tables would sort differently fails the tests, and one whose
 * comparator text changed fails the build.
 */
export const SPDX_CORRECT_SORT = {
  name: 'spdx-correct: load-time tables sorted by code unit',
  pkg: /[\\/]node_modules[\\/]spdx-correct[\\/]/,
  file: /[\\/]node_modules[\\/]spdx-correct[\\/]index\.js$/,
  edits: [
    {
      expected: 'return a[0].toUpperCase().localeCompare(b[0].toUpperCase())',
      replacement: 'var drydockA = a[0].toUpperCase(), drydockB = b[0].toUpperCase(); return drydockA < drydockB ? -1 : drydockA > drydockB ? 1 : 0',
    },
  ],
};

/** The patches every bundle gets. */
export const PATCHES = [PACKAGEURL_COLLATOR, FFLATE_WORKER_THREADS, SPDX_CORRECT_SORT];

/** Applies one patch to a module's source: each text it replaces must occur exactly once. */
export function applyPatch(patch, source, path) {
  let out = source;
  for (const { expected, replacement } of patch.edits) {
    const at = out.indexOf(expected);
    if (at < 0 || out.indexOf(expected, at + 1) >= 0) {
      throw new Error(
        `scripts/esbuild-patches.mjs (${patch.name}): ${path} no longer holds ${JSON.stringify(expected)} exactly once (the dependency changed): ` +
          'check what the new version does at load time, then update or drop this patch',
      );
    }
    out = out.slice(0, at) + replacement + out.slice(at + expected.length);
  }
  return out;
}

/**
 * The esbuild plugin: rewrites the patched files as they are loaded, and fails the build when
 * a bundle holds some of a patched package but not the patched file (moved or renamed).
 */
export function patchPlugin(patches = PATCHES) {
  return {
    name: 'drydock-patches',
    setup(build) {
      const seen = new Set();
      const applied = new Set();
      build.onStart(() => {
        seen.clear();
        applied.clear();
      });
      for (const patch of patches) {
        build.onLoad({ filter: patch.pkg }, async (args) => {
          seen.add(patch);
          if (!patch.file.test(args.path)) return undefined;
          applied.add(patch);
          return { contents: applyPatch(patch, await readFile(args.path, 'utf8'), args.path), loader: 'js' };
        });
      }
      build.onEnd(() => {
        for (const patch of seen) {
          if (!applied.has(patch)) throw new Error(`scripts/esbuild-patches.mjs (${patch.name}): the bundle holds ${patch.pkg} but not the file the patch rewrites (${patch.file}): the dependency changed; update or drop the patch`);
        }
      });
    },
  };
}

/**
 * The banner every bundle and chunk starts with (ESM output of CommonJS dependencies: they call
 * require() and read __filename / __dirname), as its parts: the names it declares, each with
 * the import it needs. infra/functions.ts repeats the whole line for the Lambda bundles.
 */
export const BANNER_IMPORTS = {
  __drydockRequire: "import { createRequire as __drydockRequire } from 'node:module';",
  __drydockPath: "import { fileURLToPath as __drydockPath } from 'node:url';",
};
export const BANNER_DECLARATIONS = [
  { name: 'require', uses: '__drydockRequire', text: 'const require = __drydockRequire(import.meta.url);' },
  { name: '__filename', uses: '__drydockPath', text: 'const __filename = __drydockPath(import.meta.url);' },
  { name: '__dirname', uses: '__drydockPath', text: "const __dirname = __drydockPath(new URL('.', import.meta.url));" },
];
export const BANNER = [...Object.values(BANNER_IMPORTS), ...BANNER_DECLARATIONS.map((d) => d.text)].join(' ');

/**
 * One output file's banner cut to what the file uses (issue 18): a warm scan loads some 25
 * chunks, and making a require function and two paths in each that names none of them was a few
 * ms of its start. A name counts as used wherever it appears as a word in the file (code,
 * string or comment alike), so a doubtful case keeps its declaration. The banner stays one
 * line (what is left of it, or nothing), so the source map's lines still match. Text that does
 * not start with the banner is returned as it is.
 */
export function trimBanner(text) {
  const eol = text.indexOf('\n');
  if (eol < 0 || text.slice(0, eol) !== BANNER) return text;
  const body = text.slice(eol);
  const used = (name) => new RegExp(`(?<![\\w$])${name.replace(/\$/g, '\\$')}(?![\\w$])`).test(body);
  const kept = BANNER_DECLARATIONS.filter((d) => used(d.name));
  const imports = Object.entries(BANNER_IMPORTS)
    .filter(([binding]) => kept.some((d) => d.uses === binding))
    .map(([, line]) => line);
  return [...imports, ...kept.map((d) => d.text)].join(' ') + body;
}
