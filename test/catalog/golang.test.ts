/**
 * Real Go binaries built here with Debian's Go toolchain, offline: a dependency served by a
 * file-based module proxy (GOPROXY=file://…), another replaced by a local directory. What we
 * read from the stream must equal what `go version -m` prints for the same binary.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { DirLayerCache } from '../../shared/adapters/local/dir-layer-cache.js';
import { DirectoryView } from '../../shared/catalog/dir-view.js';
import { openSource } from '../../shared/image/open.js';
import { scanImage } from '../../shared/scan.js';
import { buildImage } from '../support/image-builder.js';
import { goBinaryCataloger, goBuildInfoProbe } from '../../shared/catalog/golang.js';

let work: string;
let root: string;
const env = () => ({
  ...process.env,
  HOME: work,
  GOPATH: join(work, 'gopath'),
  GOCACHE: join(work, 'gocache'),
  GOFLAGS: '-mod=mod',
  GOPROXY: `file://${join(work, 'proxy')}`,
  GOSUMDB: 'off',
  GONOSUMDB: '*',
  CGO_ENABLED: '0',
});

function write(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

/** A module version in the file proxy layout (list, .info, .mod, .zip). */
function publish(module: string, version: string, files: Record<string, string>): void {
  const dir = join(work, 'proxy', module, '@v');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'list'), `${version}\n`);
  writeFileSync(join(dir, `${version}.info`), JSON.stringify({ Version: version, Time: '2024-01-01T00:00:00Z' }));
  writeFileSync(join(dir, `${version}.mod`), files['go.mod']!);
  const zip: Record<string, Uint8Array> = {};
  for (const [name, text] of Object.entries(files)) zip[`${module}@${version}/${name}`] = Buffer.from(text);
  writeFileSync(join(dir, `${version}.zip`), zipSync(zip));
}

function goVersionM(binary: string): string[] {
  return execFileSync('go', ['version', '-m', binary], { env: env(), encoding: 'utf8' })
    .split('\n')
    .map((l) => l.trim().split('\t'))
    .filter((f) => f[0] === 'dep' || f[0] === 'mod' || f[0] === '=>')
    .map((f) => f.slice(0, 3).join(' '));
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'drydock-go-'));
  root = join(work, 'root');
  publish('example.com/greet', 'v1.4.2', {
    'go.mod': 'module example.com/greet\n\ngo 1.19\n',
    'greet.go': 'package greet\n\nfunc Hello() string { return "hello" }\n',
  });
  const app = join(work, 'app');
  write(join(app, 'go.mod'), 'module example.com/app\n\ngo 1.19\n\nrequire (\n\texample.com/greet v1.4.2\n\texample.com/local v0.3.0\n)\n\nreplace example.com/local => ./local\n');
  write(join(app, 'local', 'go.mod'), 'module example.com/local\n\ngo 1.19\n');
  write(join(app, 'local', 'local.go'), 'package local\n\nconst Name = "local"\n');
  write(join(app, 'main.go'), 'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/greet"\n\t"example.com/local"\n)\n\nfunc main() { fmt.Println(greet.Hello(), local.Name) }\n');
  execFileSync('go', ['mod', 'tidy'], { cwd: app, env: env() });
  mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
  execFileSync('go', ['build', '-trimpath', '-o', join(root, 'usr/local/bin/app'), '.'], { cwd: app, env: env() });
  // not Go: a shell script and a non-executable copy of the binary
  write(join(root, 'usr/local/bin/script.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(root, 'usr/local/bin/script.sh'), 0o755);
  execFileSync('cp', [join(root, 'usr/local/bin/app'), join(root, 'usr/local/bin/app.copy')]);
  chmodSync(join(root, 'usr/local/bin/app.copy'), 0o644);
}, 300_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('Go binaries', () => {
  it('reads stdlib, the main module and its dependencies as `go version -m` prints them', () => {
    const view = new DirectoryView(root);
    const { packages, issues } = goBinaryCataloger.catalog(view, {});
    expect(issues).toEqual([]);
    const bin = join(root, 'usr/local/bin/app');
    const reference = goVersionM(bin);
    expect(reference).toEqual(['mod example.com/app (devel)', 'dep example.com/greet v1.4.2', 'dep example.com/local v0.3.0', '=> ./local (devel)']);
    const goVersion = execFileSync('go', ['env', 'GOVERSION'], { env: env(), encoding: 'utf8' }).trim();
    expect(packages.map((p) => `${p.name} ${p.version}`)).toEqual([
      `stdlib ${goVersion.replace(/^go/, '')}`,
      'example.com/app (devel)',
      'example.com/greet v1.4.2',
      'example.com/local v0.3.0',
    ]);
    const greet = packages.find((p) => p.name === 'example.com/greet')!;
    expect(greet).toMatchObject({ type: 'golang', purl: 'pkg:golang/example.com/greet@v1.4.2', arch: 'amd64', locations: ['/usr/local/bin/app'] });
    expect(greet.metadata?.h1).toMatch(/^h1:/);
    expect(packages.find((p) => p.name === 'example.com/local')?.metadata).toMatchObject({ replacedBy: './local' });
    expect(packages.find((p) => p.name === 'example.com/app')?.metadata).toMatchObject({ mainModule: 'true' });
  });

  it('finds the build info across any chunking of the stream', () => {
    const bin = execFileSync('cat', [join(root, 'usr/local/bin/app')], { maxBuffer: 1 << 28 });
    const whole = goBuildInfoProbe.start('/bin/app');
    whole.push(bin);
    const expected = whole.result()!.toString();
    for (const size of [1, 7, 13, 14, 4096, 65_537]) {
      const r = goBuildInfoProbe.start('/bin/app');
      for (let i = 0; i < bin.length && r.push(bin.subarray(i, i + size)); i += size);
      expect(r.result()?.toString()).toBe(expected);
    }
  });

  it('ignores what is not a Go ELF binary, at once', () => {
    const r = goBuildInfoProbe.start('/bin/app');
    expect(r.push(Buffer.from('#!/bin/sh\n\xff Go buildinf:'))).toBe(false);
    expect(r.result()).toBeUndefined();
  });

  it('is found in an image layer by the walker, survives the layer cache, and is hidden when a later layer replaces it', async () => {
    const bin = readFileSync(join(root, 'usr/local/bin/app'));
    const layout = join(work, 'layout');
    await buildImage(layout, { tag: 'one', layers: [{ files: [{ path: 'usr/local/bin/app', content: bin, mode: 0o755 }, { path: 'usr/bin/tool', content: bin, mode: 0o755 }] }] });
    await buildImage(layout, {
      tag: 'two',
      layers: [
        { files: [{ path: 'usr/local/bin/app', content: bin, mode: 0o755 }, { path: 'usr/bin/tool', content: bin, mode: 0o755 }] },
        { files: [{ path: 'usr/local/bin/app', content: '#!/bin/sh\necho replaced\n', mode: 0o755 }] },
      ],
    });
    const cache = new DirLayerCache(join(work, 'cache'));
    const scan = async (tag: string) => {
      const ref = `oci:${layout}:${tag}`;
      const [inv] = await scanImage(await openSource(ref), ref, { catalogers: [goBinaryCataloger], cache });
      return inv!;
    };
    const one = await scan('one');
    expect(new Set(one.packages.map((p) => p.locations[0]))).toEqual(new Set(['/usr/local/bin/app', '/usr/bin/tool']));
    expect(one.packages.filter((p) => p.name === 'example.com/greet')).toHaveLength(2);
    const again = await scan('one');
    expect(again.image.layers[0]!.cached).toBe(true);
    expect(again.packages).toEqual(one.packages);
    const two = await scan('two');
    expect(new Set(two.packages.map((p) => p.locations[0]))).toEqual(new Set(['/usr/bin/tool']));
  });
});
