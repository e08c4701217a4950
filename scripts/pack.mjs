// The npm package `drydock-scan` (the name `drydock` is taken on the registry; the command is
// still `drydock`): `npm run pack` → drydock-scan-<version>.tgz, holding the built CLI bundle and
// nothing else (no dependencies: esbuild bundled them). The repo's package.json keeps its
// dependencies for the Lambda bundles, so the package's own manifest is generated into
// dist/npm/ and packed from there.
//
//   node scripts/pack.mjs [--no-build] [--out <dir>]     (default out: the repo root)
//
// dist/npm/
//   package.json     name, version, description, license, type, bin, engines, files; no deps/scripts
//   bin/drydock.cjs  the same launcher as the repo's
//   dist/cli/        drydock.mjs, the chunks it imports (followed from its import statements, so
//                    stale chunks of earlier builds are left out), sql-wasm.wasm beside it
//   README.md, LICENSE, docs/ (the README links to its pages)
//   dist/cli/layer-worker.mjs   the layer worker thread's bundle, when the build made one (found
//                               at run time beside the CLI, not imported)
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const build = !args.includes('--no-build');
const outIdx = args.indexOf('--out');
const outDir = resolve(outIdx >= 0 ? args[outIdx + 1] ?? '.' : root);

if (build) execFileSync(process.execPath, [join(root, 'scripts/bundle.mjs')], { cwd: root, stdio: 'inherit' });

const cli = join(root, 'dist/cli');
const entry = join(cli, 'drydock.mjs');
if (!existsSync(entry)) {
  console.error('pack: dist/cli/drydock.mjs is missing; run without --no-build');
  process.exit(1);
}

/** The entry and every chunk it reaches through static or dynamic relative imports. */
function reachable(start) {
  const seen = new Set();
  const todo = [start];
  const spec = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s*)["'](\.\.?\/[^"']+\.mjs)["']/g;
  while (todo.length) {
    const file = todo.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(spec)) {
      const target = resolve(dirname(file), m[1]);
      if (!target.startsWith(cli + '/')) throw new Error(`pack: ${relative(root, file)} imports ${m[1]}, outside dist/cli`);
      if (!existsSync(target)) throw new Error(`pack: ${relative(root, file)} imports ${m[1]}, which is missing (rebuild)`);
      todo.push(target);
    }
  }
  return [...seen].sort();
}

const repoManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const stage = join(root, 'dist/npm');
rmSync(stage, { recursive: true, force: true });
const worker = join(cli, 'layer-worker.mjs');
const files = [...new Set([...reachable(entry), ...(existsSync(worker) ? reachable(worker) : []), join(cli, 'sql-wasm.wasm')])];
for (const file of files) {
  const to = join(stage, 'dist/cli', relative(cli, file));
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(file, to);
}
mkdirSync(join(stage, 'bin'), { recursive: true });
copyFileSync(join(root, 'bin/drydock.cjs'), join(stage, 'bin/drydock.cjs'));
copyFileSync(join(root, 'README.md'), join(stage, 'README.md'));
copyFileSync(join(root, 'LICENSE'), join(stage, 'LICENSE'));
mkdirSync(join(stage, 'docs'), { recursive: true });
for (const f of readdirSync(join(root, 'docs'))) if (f.endsWith('.md')) copyFileSync(join(root, 'docs', f), join(stage, 'docs', f));

const manifest = {
  name: 'drydock-scan',
  version: repoManifest.version,
  description: repoManifest.description,
  license: repoManifest.license,
  type: 'module',
  bin: { drydock: 'bin/drydock.cjs' },
  engines: repoManifest.engines,
  files: ['bin/', 'dist/cli/', 'docs/', 'README.md', 'LICENSE'],
  keywords: ['container', 'image', 'scanner', 'vulnerability', 'sbom', 'oci', 'ecr'],
};
writeFileSync(join(stage, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');

mkdirSync(outDir, { recursive: true });
const packed = JSON.parse(
  execFileSync('npm', ['pack', stage, '--json', '--pack-destination', outDir], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
)[0];
const tgz = join(outDir, packed.filename);
console.log(`packed ${relative(process.cwd(), tgz) || tgz}: ${packed.entryCount} files, ${packed.size} bytes (unpacked ${packed.unpackedSize})`);
