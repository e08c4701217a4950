/**
 * Language runtimes outside the package managers (issue 16 item 5): the Node.js and CPython
 * that AWS Lambda's base images install under /var/lang (and official Docker images under
 * /usr/local), with the function's own packages under /var/task and the runtime's under
 * /var/runtime. Real data throughout: the node binary running this test (process.execPath)
 * with its own node_version.h, this machine's CPython installations (a `make install` prefix,
 * the same layout as Lambda's /var/lang, and Debian's libpython), the npm and Python package
 * records of ../shared/fixtures/pkgdb and a Debian-built jar; the expected versions are what
 * those runtimes say of themselves.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryView } from '../../shared/catalog/dir-view.js';
import { catalogers, runCatalogers } from '../../shared/catalog/index.js';
import { RUNTIME_CARRY_BYTES, runtimeCataloger, runtimeProbe } from '../../shared/catalog/runtime.js';
import type { Package } from '../../shared/catalog/types.js';
import { openSource } from '../../shared/image/open.js';
import { imageEcosystems, lookupsFor } from '../../shared/match/index.js';
import { scanImage, type ImageInventory } from '../../shared/scan.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { buildImage, ociRef } from '../support/image-builder.js';

const NODE_VERSION = process.versions.node;
const NODE_HEADER = join(dirname(dirname(process.execPath)), 'include', 'node', 'node_version.h');
const JAR = '/usr/share/java/commons-io-2.11.0.jar';
const NPM = join(SHARED_FIXTURES, 'pkgdb/npm/node_modules');
const PY = join(SHARED_FIXTURES, 'pkgdb/python/debian-bookworm/usr/lib/python3/dist-packages');

/** A CPython installation of this machine, as its own interpreter describes it. */
interface CPython {
  version: string;
  series: string;
  executable: string;
  library?: string;
  header?: string;
}

function describeCPython(python: string): CPython {
  const script = [
    'import sys, sysconfig, os, platform, json',
    'lib = os.path.join(sysconfig.get_config_var("LIBDIR") or "", sysconfig.get_config_var("INSTSONAME") or "")',
    'inc = os.path.join(sysconfig.get_paths()["include"], "patchlevel.h")',
    'print(json.dumps({"version": platform.python_version(), "series": "%d.%d" % sys.version_info[:2], "executable": os.path.realpath(sys.executable), "library": lib if os.path.isfile(lib) else None, "header": inc if os.path.isfile(inc) else None}))',
  ].join('\n');
  const out = JSON.parse(execFileSync(python, ['-c', script], { encoding: 'utf8' })) as CPython & { library: string | null; header: string | null };
  return { version: out.version, series: out.series, executable: out.executable, ...(out.library ? { library: out.library } : {}), ...(out.header ? { header: out.header } : {}) };
}

let work: string;
/** a `make install` CPython (pyenv's, on this kind of machine: built --enable-shared like Lambda's) */
let cpython: CPython;
/** Debian's python3.11 and its libpython (the distribution's build of the same kind of library) */
let debianPython: CPython;

/**
 * Hard-links a real file into the tree (a copy where it crosses file systems). The source is
 * resolved first: Debian's /usr/share/java/commons-io-2.11.0.jar is a relative symlink, and a
 * hard link to the symlink itself would dangle inside the tree.
 */
function place(root: string, path: string, from: string): void {
  const to = join(root, path);
  const real = realpathSync(from);
  mkdirSync(dirname(to), { recursive: true });
  try {
    linkSync(real, to);
  } catch {
    copyFileSync(real, to);
  }
}

function put(root: string, path: string, content: string | Buffer): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
}

/** A Lambda base image's tree: the runtimes in /var/lang, the function in /var/task, the runtime's own modules in /var/runtime. */
function lambdaTree(root: string): void {
  place(root, 'var/lang/bin/node', process.execPath);
  place(root, 'var/lang/include/node/node_version.h', NODE_HEADER);
  place(root, `var/lang/bin/python${cpython.series}`, cpython.executable);
  if (cpython.library) place(root, `var/lang/lib/${cpython.library.split('/').pop()}`, cpython.library);
  if (cpython.header) place(root, `var/lang/include/python${cpython.series}/patchlevel.h`, cpython.header);
  place(root, 'var/task/node_modules/lodash/package.json', join(NPM, 'lodash/package.json'));
  place(root, 'var/runtime/node_modules/minimist/package.json', join(NPM, 'minimist/package.json'));
  for (const f of ['METADATA', 'RECORD', 'WHEEL', 'top_level.txt']) place(root, `var/lang/lib/python${cpython.series}/site-packages/PyYAML-6.0.dist-info/${f}`, join(PY, 'PyYAML-6.0.dist-info', f));
  place(root, 'var/task/requests-2.28.1.egg-info/PKG-INFO', join(PY, 'requests-2.28.1.egg-info/PKG-INFO'));
  place(root, 'var/task/lib/commons-io-2.11.0.jar', JAR);
}

const byName = (packages: Package[], type: string, name: string) => packages.filter((p) => p.type === type && p.name.toLowerCase() === name.toLowerCase());

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'drydock-runtime-'));
  expect(existsSync(NODE_HEADER), `${NODE_HEADER}: the running node's headers (node's own install ships them)`).toBe(true);
  expect(existsSync(JAR), `${JAR}: Debian's libcommons-io-java (installed with Maven)`).toBe(true);
  cpython = describeCPython('python3');
  expect(cpython.library, 'python3 here is a --enable-shared build with libpythonX.Y.so, like Lambda’s').toBeDefined();
  debianPython = describeCPython('/usr/bin/python3');
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('runtime cataloger on a directory', () => {
  it('reports the real node binary in /var/lang with the version it runs as, from the binary, and its CPE', () => {
    const root = join(work, 'node-only');
    place(root, 'var/lang/bin/node', process.execPath);
    place(root, 'var/lang/include/node/node_version.h', NODE_HEADER);
    const { packages, issues } = runtimeCataloger.catalog(new DirectoryView(root), {});
    expect(issues).toEqual([]);
    expect(packages).toEqual([
      expect.objectContaining({
        type: 'binary',
        name: 'node',
        version: NODE_VERSION,
        purl: `pkg:generic/node@${NODE_VERSION}`,
        locations: ['/var/lang/bin/node', '/var/lang/include/node/node_version.h'],
        metadata: { cpe: `cpe:2.3:a:nodejs:node.js:${NODE_VERSION}:*:*:*:*:*:*:*`, prefix: '/var/lang', versionFrom: '/var/lang/bin/node' },
      }),
    ]);
  });

  it('reports a make-install CPython and Debian’s libpython with the versions their interpreters print', () => {
    const root = join(work, 'python');
    place(root, `var/lang/bin/python${cpython.series}`, cpython.executable);
    place(root, `var/lang/lib/${cpython.library!.split('/').pop()}`, cpython.library!);
    // Debian's build keeps PY_VERSION as its own NUL-terminated string; no header here, so the library alone must give it
    expect(debianPython.library).toBeDefined();
    place(root, `usr/local/lib/${debianPython.library!.split('/').pop()}`, debianPython.library!);
    const { packages, issues } = runtimeCataloger.catalog(new DirectoryView(root), {});
    expect(issues).toEqual([]);
    expect(packages.map((p) => [p.name, p.version, p.purl, p.metadata?.prefix])).toEqual(
      expect.arrayContaining([
        ['python', cpython.version, `pkg:generic/python@${cpython.version}`, '/var/lang'],
        ['python', debianPython.version, `pkg:generic/python@${debianPython.version}`, '/usr/local'],
      ]),
    );
    expect(packages).toHaveLength(2);
    const lambda = packages.find((p) => p.metadata?.prefix === '/var/lang')!;
    // the executable leads; the version came from whichever file holds PY_VERSION
    expect(lambda.locations[0]).toBe(`/var/lang/bin/python${cpython.series}`);
    expect(lambda.metadata?.cpe).toBe(`cpe:2.3:a:python:python:${cpython.version}:*:*:*:*:*:*:*`);
  });

  it('falls back to the header when the binary holds no version string, and a header alone is no runtime', () => {
    // invented: an ELF header and no version string, as a stripped or unusual build would be; the header is the real one
    const root = join(work, 'fallback');
    put(root, 'usr/local/bin/node', Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(4096)]));
    place(root, 'usr/local/include/node/node_version.h', NODE_HEADER);
    place(root, 'var/lang/include/node/node_version.h', NODE_HEADER); // headers without a binary
    if (cpython.header) place(root, `var/lang/include/python${cpython.series}/patchlevel.h`, cpython.header);
    const { packages, issues } = runtimeCataloger.catalog(new DirectoryView(root), {});
    expect(issues).toEqual([]);
    expect(packages.map((p) => [p.name, p.version, p.metadata?.prefix, p.metadata?.versionFrom])).toEqual([['node', NODE_VERSION, '/usr/local', '/usr/local/include/node/node_version.h']]);
  });

  it('a binary and a header that disagree: the binary wins and the disagreement is an issue; no version at all is an issue', () => {
    // invented: the real header edited to another patch level, as a layer replacing only the binary would leave it
    const root = join(work, 'disagree');
    place(root, 'var/lang/bin/node', process.execPath);
    put(root, 'var/lang/include/node/node_version.h', readFileSync(NODE_HEADER, 'utf8').replace(/(#define NODE_PATCH_VERSION )\d+/, '$1999'));
    put(root, 'usr/local/bin/node', Buffer.from('#!/bin/sh\nexec nodejs "$@"\n')); // a wrapper script: no version anywhere
    const { packages, issues } = runtimeCataloger.catalog(new DirectoryView(root), {});
    expect(packages.map((p) => [p.version, p.metadata?.prefix])).toEqual([[NODE_VERSION, '/var/lang']]);
    // issues in install order (prefix order: /usr/local before /var/lang), whatever order the files were read in
    expect(issues).toEqual([
      expect.objectContaining({ path: '/usr/local/bin/node', message: expect.stringMatching(/no version .*RUNTIME_MAX_BINARY_BYTES.*not inventoried/) }),
      expect.objectContaining({ path: '/var/lang/include/node/node_version.h', message: expect.stringMatching(/node .* in \/var\/lang\/bin\/node but .*\.999 in this header: the binary's version is reported/) }),
    ]);
  });

  it('reads only runtime paths under /var/lang and /usr/local (a distro’s /usr/bin/node is its package’s)', () => {
    expect(runtimeProbe.select!('/usr/bin/node', 0o755, 100)).toBe(false);
    expect(runtimeProbe.select!('/var/task/node_modules/.bin/node', 0o755, 100)).toBe(false);
    expect(runtimeProbe.select!('/var/lang/bin/node', 0o755, 100)).toBe(true);
    expect(runtimeProbe.select!('/var/lang/lib/libpython3.12.so.1.0', 0o644, 100)).toBe(true);
    expect(runtimeProbe.select!('/usr/local/bin/python3.12', 0o755, 100)).toBe(true);
    expect(runtimeProbe.select!('/usr/local/bin/python3', 0o755, 100)).toBe(false); // a symlink or copy of python3.12
    expect(runtimeProbe.select!('/var/lang/lib/libpython3.so', 0o755, 100)).toBe(false); // the stable-ABI stub has no version
    expect(runtimeProbe.select!('/var/lang/bin/node', 0o755, 0)).toBe(false);
  });

  it('finds a version split across two chunks at every position, keeping no more than a chunk and the carry', () => {
    // invented bytes around the real marker: the stream boundary is what is under test
    const text = Buffer.concat([Buffer.alloc(300, 0x41), Buffer.from(`\0node.js/v${NODE_VERSION}\0`), Buffer.alloc(300, 0x42)]);
    for (let cut = 1; cut < text.length; cut += 7) {
      const reader = runtimeProbe.start('/var/lang/bin/node');
      const more = reader.push(text.subarray(0, cut)) && reader.push(text.subarray(cut));
      expect(more, `cut at ${cut}`).toBe(false);
      expect(JSON.parse(reader.result()!.toString()).version, `cut at ${cut}`).toBe(NODE_VERSION);
    }
    const py = runtimeProbe.start('/usr/local/lib/libpython3.12.so.1.0');
    const bytes = Buffer.from('\0/opt/3.12.7/lib\0Python-3.12.7\0');
    py.push(bytes.subarray(0, 20));
    py.push(bytes.subarray(20));
    expect(JSON.parse(py.result()!.toString()).version).toBe('3.12.7');
    expect(RUNTIME_CARRY_BYTES).toBeGreaterThan(`node.js/v${NODE_VERSION}`.length);
  });
});

describe('an AWS Lambda base image layout, scanned as an image (every cataloger)', () => {
  let inv: ImageInventory;

  beforeAll(async () => {
    const root = join(work, 'lambda');
    lambdaTree(root);
    put(root, 'etc/os-release', 'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\nPLATFORM_ID="platform:al2023"\nPRETTY_NAME="Amazon Linux 2023.6.20241010"\n');
    const layout = join(work, 'layout');
    await buildImage(layout, { tag: 'lambda', layers: [{ fromDirectory: root, compression: 'none' }] });
    const ref = ociRef(layout, 'lambda');
    [inv] = (await scanImage(await openSource(ref), ref, { catalogers })) as [ImageInventory];
  }, 240_000);

  it('reports node and python from /var/lang beside the npm, PyPI and Maven packages of /var/task and /var/runtime', () => {
    const p = inv.packages;
    expect(byName(p, 'binary', 'node').map((x) => [x.version, x.locations[0]])).toEqual([[NODE_VERSION, '/var/lang/bin/node']]);
    expect(byName(p, 'binary', 'python').map((x) => [x.version, x.locations[0]])).toEqual([[cpython.version, `/var/lang/bin/python${cpython.series}`]]);
    expect(byName(p, 'npm', 'lodash').map((x) => [x.version, x.locations[0]])).toEqual([['4.17.20', '/var/task/node_modules/lodash/package.json']]);
    expect(byName(p, 'npm', 'minimist').map((x) => [x.version, x.locations[0]])).toEqual([['1.2.5', '/var/runtime/node_modules/minimist/package.json']]);
    expect(byName(p, 'pypi', 'pyyaml').map((x) => x.version)).toEqual(['6.0']);
    expect(byName(p, 'pypi', 'pyyaml')[0]!.locations[0]).toMatch(/^\/var\/lang\/lib\/python3\.\d+\/site-packages\/PyYAML-6\.0\.dist-info\//);
    expect(byName(p, 'pypi', 'requests').map((x) => [x.version, x.locations[0]])).toEqual([['2.28.1', '/var/task/requests-2.28.1.egg-info/PKG-INFO']]);
    // the java cataloger names a Maven package by its artifactId; the group is in the purl
    expect(byName(p, 'maven', 'commons-io').map((x) => [x.purl, x.version, x.locations[0]])).toEqual([['pkg:maven/commons-io/commons-io@2.11.0', '2.11.0', '/var/task/lib/commons-io-2.11.0.jar']]);
    expect(byName(p, 'binary', 'node')[0]!.foundBy).toBe('runtime');
    expect(inv.distro).toMatchObject({ id: 'amzn', versionId: '2023' });
  });

  it('the runtimes need no advisory ecosystem (no gate fails for them) and are listed as unmatchable with the reason', () => {
    const runtimes = inv.packages.filter((x) => x.type === 'binary');
    expect(runtimes.length).toBe(2);
    expect(imageEcosystems({ packages: runtimes, distro: inv.distro })).toEqual([]);
    for (const r of runtimes) expect(lookupsFor(r, inv.distro)).toEqual({ lookups: [], why: 'no advisory ecosystem for binary packages' });
  });

  it('every cataloger runs on the same view without issues from the runtime files', () => {
    const view = new DirectoryView(join(work, 'lambda'));
    const run = runCatalogers(view);
    expect(run.issues.filter((i) => i.cataloger === 'runtime')).toEqual([]);
    expect(run.packages.filter((x) => x.type === 'binary').map((x) => x.name)).toEqual(['node', 'python']);
  });
});
