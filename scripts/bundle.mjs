// One esbuild bundle per Lambda function (functions/<name>/handler.ts → dist/functions/<name>/index.mjs)
// and one for the CLI (dist/cli/drydock.mjs). ESM, Node 20+; Lambda runs them on nodejs22.x.
// Beside every bundle that scans layers (the CLI, and each function whose bundle holds the layer
// worker pool: the analyzer) goes layer-worker.mjs, the entry point of the threads that walk an
// image's layers on every core (shared/layers/worker-pool.ts finds it there; without it a scan
// walks its layers on the main thread).
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build as esbuild } from 'esbuild';
import { BANNER, patchPlugin, trimBanner } from './esbuild-patches.mjs';

// Outputs are written only when their bytes change, each through a temporary file renamed over
// the old one: a CLI started while the tests rebuild (each vitest worker bundles once) never
// reads a half-written bundle or chunk.
const written = new Set();
async function build(options) {
  const result = await esbuild({ ...options, write: false });
  for (const file of result.outputFiles) {
    written.add(file.path);
    // each file declares only the banner names it uses (scripts/esbuild-patches.mjs, trimBanner)
    const contents = file.path.endsWith('.mjs') ? Buffer.from(trimBanner(file.text)) : file.contents;
    if (existsSync(file.path) && readFileSync(file.path).equals(contents)) continue;
    mkdirSync(dirname(file.path), { recursive: true });
    const tmp = `${file.path}.${process.pid}.tmp`;
    writeFileSync(tmp, contents);
    renameSync(tmp, file.path);
  }
  return result;
}

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
  // Optional plug-ins of @cyclonedx/cyclonedx-library (XML, schema validation), loaded only if installed.
  external: ['ajv-formats-draft2019', 'xmlbuilder2', 'libxmljs2'],
  // Dependency code that costs every start, rewritten (scripts/esbuild-patches.mjs; the build fails if the text changed).
  plugins: [patchPlugin()],
  // CommonJS dependencies inside an ESM bundle still call require() and read __dirname
  // (each output file keeps the part of this line it uses: trimBanner in build above).
  banner: { js: BANNER },
};

const functions = readdirSync('functions', { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(`functions/${d.name}/handler.ts`))
  .map((d) => d.name);

const WORKER_POOL = 'shared/layers/worker-pool.ts';
const [functionResults] = await Promise.all([
  Promise.all(
    functions.map((name) =>
      build({ ...common, entryPoints: [`functions/${name}/handler.ts`], outfile: `dist/functions/${name}/index.mjs`, metafile: true }),
    ),
  ),
  // The CLI is split so that what one run does not use (CycloneDX, the AWS SDK) is not loaded.
  build({
    ...common,
    entryPoints: { drydock: 'shared/cli/drydock.ts' },
    outdir: 'dist/cli',
    splitting: true,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
  }),
]);
/** The functions whose bundle holds the layer worker pool: they get the worker beside them. */
const scanning = functions.filter((name, i) => Object.keys(functionResults[i].metafile.inputs).includes(WORKER_POOL));
// The worker is a bundle of its own (no chunks shared with the CLI): a thread loads only what a layer walk uses.
await Promise.all(
  ['dist/cli', ...scanning.map((name) => `dist/functions/${name}`)].map((dir) =>
    build({ ...common, entryPoints: ['shared/layers/layer-worker.ts'], outfile: `${dir}/layer-worker.mjs` }),
  ),
);
// Chunks of earlier builds (other sources) go once they are an hour old: a CLI started before
// this build may still import the ones it was built with.
const chunks = 'dist/cli/chunks';
for (const name of existsSync(chunks) ? readdirSync(chunks) : []) {
  const path = join(chunks, name);
  if (!written.has(join(process.cwd(), path)) && Date.now() - statSync(path).mtimeMs > 3_600_000) unlinkSync(path);
}
// sql.js's WebAssembly engine (rpmdb.sqlite) is loaded from beside the bundle that uses it.
const wasm = 'node_modules/sql.js/dist/sql-wasm.wasm';
for (const dir of ['dist/cli', ...functions.map((name) => `dist/functions/${name}`)]) copyFileSync(wasm, `${dir}/sql-wasm.wasm`);
console.log(
  `bundled ${functions.length} function(s) (${functions.join(', ')}) and the CLI into dist/; the layer worker beside the CLI${scanning.length ? ` and ${scanning.join(', ')}` : ''}`,
);
