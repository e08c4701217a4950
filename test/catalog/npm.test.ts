/**
 * The npm cataloger: installed package manifests (the published package.json files of
 * shared/fixtures/pkgdb/npm/node_modules, placed under /app/node_modules of a scratch root
 * at test time), the real npm lockfiles of pkgdb/npm/lockfiles (npm 6, 8 and 10 for the
 * same package.json) and small manifests and lockfiles written here for the edge cases.
 * References outside our code: `npm ls --all --json --package-lock-only` on a copy of each
 * lockfile fixture, and `npm ls --all --json` on the npm installation of this machine,
 * a real installed tree (scoped and nested packages) read the way an image would hold it.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import picomatch from 'picomatch';
import { afterAll, describe, expect, it } from 'vitest';
import { DirectoryView } from '../../shared/catalog/dir-view.js';
import { npmCataloger } from '../../shared/catalog/npm.js';
import type { CatalogResult, FileView, Package, ViewFile } from '../../shared/catalog/types.js';
import { pathMatcher } from '../../shared/layers/paths.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const NPM_FIXTURES = join(SHARED_FIXTURES, 'pkgdb/npm');
const LAYER = 'sha256:2222';
const INSTALLED = ['axios', 'express', 'jsonwebtoken', 'lodash', 'minimist', 'semver'];
const LOCKFILES = ['npm-v6.14.18', 'npm-v8.19.4', 'npm-v10.9.0'] as const;

const scratch = mkdtempSync(join(tmpdir(), 'drydock-npm-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A file of a scratch root: text written here, or a fixture file copied from shared/fixtures/pkgdb/npm. */
type Content = string | { fixture: string };

let roots = 0;
/** A fresh image root in the scratch directory holding `files` (image path → content). */
function rootWith(files: Record<string, Content>): string {
  const root = join(scratch, `root-${++roots}`);
  mkdirSync(root, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    const at = join(root, path);
    mkdirSync(dirname(at), { recursive: true });
    if (typeof content === 'string') writeFileSync(at, content);
    else copyFileSync(join(NPM_FIXTURES, content.fixture), at);
  }
  return root;
}

function catalogFiles(files: Record<string, Content>): CatalogResult {
  return npmCataloger.catalog(new DirectoryView(rootWith(files), { layer: LAYER }), {});
}

/** The fixture node_modules, installed in `project`. */
function installedFixtures(project = '/app'): Record<string, Content> {
  return Object.fromEntries(INSTALLED.map((n) => [`${project}/node_modules/${n}/package.json`, { fixture: `node_modules/${n}/package.json` }]));
}

const lockfileFixture = (version: (typeof LOCKFILES)[number]): Content => ({ fixture: `lockfiles/${version}/package-lock.json` });
const json = (value: unknown): string => JSON.stringify(value, null, 2);

/** name@version installPath, one string per package. */
const brief = (r: CatalogResult): string[] => r.packages.map((p) => `${p.name}@${p.version} ${p.metadata?.installPath}`);
const nameVersions = (packages: Package[]): Set<string> => new Set(packages.map((p) => `${p.name}@${p.version}`));

/** The name@version set `npm ls --json` prints (missing dependencies left out), and its exit status. */
function npmLs(cwd: string, args: string[]): { set: Set<string>; status: number | null } {
  const r = spawnSync('npm', ['ls', '--all', '--json', '--offline', ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  if (r.error) throw r.error;
  const set = new Set<string>();
  interface Node {
    name?: string;
    version?: string;
    missing?: boolean;
    dependencies?: Record<string, Node>;
  }
  const walk = (deps: Record<string, Node> | undefined): void => {
    for (const [key, node] of Object.entries(deps ?? {})) {
      if (node.missing || !node.version) continue;
      set.add(`${node.name ?? key}@${node.version}`);
      walk(node.dependencies);
    }
  };
  walk((JSON.parse(r.stdout) as Node).dependencies);
  return { set, status: r.status };
}

describe('npmCataloger', () => {
  it('is a language cataloger whose needs are one cheap glob and three basenames', () => {
    expect(npmCataloger).toMatchObject({ name: 'npm', kind: 'language', version: 1 });
    expect(npmCataloger.needs).toEqual({
      globs: ['**/node_modules/{*,@*/*}/package.json'],
      basenames: ['package-lock.json', 'npm-shrinkwrap.json', '.package-lock.json'],
    });
  });

  it('asks the walker for package manifests and lockfiles, not for the other package.json files', () => {
    const wanted = pathMatcher(npmCataloger.needs);
    const kept = [
      '/app/node_modules/lodash/package.json',
      '/app/node_modules/@types/node/package.json',
      '/app/node_modules/a/node_modules/b/package.json',
      '/app/node_modules/a/node_modules/@s/c/node_modules/d/package.json',
      '/usr/local/lib/node_modules/npm/package.json',
      '/usr/local/lib/node_modules/npm/node_modules/@npmcli/arborist/package.json',
      '/node_modules/x/package.json',
      '/app/node_modules/.pnpm/lodash@4.17.20/node_modules/lodash/package.json',
      '/app/package-lock.json',
      '/app/npm-shrinkwrap.json',
      '/app/node_modules/.package-lock.json',
    ];
    const skipped = [
      '/app/package.json',
      '/app/node_modules/x/lib/package.json',
      '/app/node_modules/x/dist/esm/package.json',
      '/app/node_modules/@s/c/lib/package.json',
      '/app/node_modules/package.json',
      '/app/yarn.lock',
      '/app/pnpm-lock.yaml',
    ];
    expect(kept.filter((p) => !wanted(p))).toEqual([]);
    expect(skipped.filter((p) => wanted(p))).toEqual([]);
  });

  describe('installed packages', () => {
    it('reads the fixture node_modules as whole package values', () => {
      const result = catalogFiles(installedFixtures());
      expect(result.issues).toEqual([]);
      expect(result.packages.map((p) => `${p.name}@${p.version} ${p.purl} ${p.licenses}`)).toEqual([
        'axios@1.7.2 pkg:npm/axios@1.7.2 MIT',
        'express@4.18.2 pkg:npm/express@4.18.2 MIT',
        'jsonwebtoken@8.5.1 pkg:npm/jsonwebtoken@8.5.1 MIT',
        'lodash@4.17.20 pkg:npm/lodash@4.17.20 MIT',
        'minimist@1.2.5 pkg:npm/minimist@1.2.5 MIT',
        'semver@7.5.1 pkg:npm/semver@7.5.1 ISC',
      ]);
      expect(result.packages.find((p) => p.name === 'lodash')).toEqual({
        type: 'npm',
        name: 'lodash',
        version: '4.17.20',
        licenses: ['MIT'],
        purl: 'pkg:npm/lodash@4.17.20',
        layer: LAYER,
        locations: ['/app/node_modules/lodash/package.json'],
        metadata: { installPath: '/app/node_modules/lodash' },
      });
    });

    it('finds scoped and nested packages at any depth, and only packages’ own manifests', () => {
      const result = catalogFiles({
        '/app/node_modules/@types/node/package.json': json({ name: '@types/node', version: '20.1.0', license: 'MIT' }),
        '/app/node_modules/a/package.json': json({ name: 'a', version: '1.0.0' }),
        '/app/node_modules/a/node_modules/b/package.json': json({ name: 'b', version: '2.0.0' }),
        '/app/node_modules/a/node_modules/@s/c/node_modules/d/package.json': json({ name: 'd', version: '4.0.0' }),
        '/app/node_modules/a/node_modules/@s/c/package.json': json({ name: '@s/c', version: '3.0.0' }),
        // not manifests: never read, so their content does not matter
        '/app/node_modules/a/lib/package.json': '{ "type": "module" ',
        '/app/node_modules/a/dist/esm/package.json': json({ type: 'module' }),
        '/app/node_modules/@types/package.json': 'broken',
        '/app/node_modules/.cache/package.json': 'broken',
        '/app/package.json': json({ name: 'app', version: '9.9.9' }),
        // a global install
        '/usr/local/lib/node_modules/npm/package.json': json({ name: 'npm', version: '10.9.0', license: 'Artistic-2.0' }),
        '/usr/local/lib/node_modules/npm/node_modules/@npmcli/arborist/package.json': json({ name: '@npmcli/arborist', version: '8.0.0' }),
        // pnpm's store: node_modules/<name> are symlinks into it, and a view lists real paths
        '/web/node_modules/.pnpm/left-pad@1.3.0/node_modules/left-pad/package.json': json({ name: 'left-pad', version: '1.3.0' }),
        '/web/node_modules/.pnpm/lock.yaml': 'not read',
      });
      expect(result.issues).toEqual([]);
      expect(brief(result)).toEqual([
        // in path order, as the view lists the files
        '@types/node@20.1.0 /app/node_modules/@types/node',
        'd@4.0.0 /app/node_modules/a/node_modules/@s/c/node_modules/d',
        '@s/c@3.0.0 /app/node_modules/a/node_modules/@s/c',
        'b@2.0.0 /app/node_modules/a/node_modules/b',
        'a@1.0.0 /app/node_modules/a',
        '@npmcli/arborist@8.0.0 /usr/local/lib/node_modules/npm/node_modules/@npmcli/arborist',
        'npm@10.9.0 /usr/local/lib/node_modules/npm',
        'left-pad@1.3.0 /web/node_modules/.pnpm/left-pad@1.3.0/node_modules/left-pad',
      ]);
      const types = result.packages.find((p) => p.name === '@types/node');
      expect(types?.purl).toBe('pkg:npm/%40types/node@20.1.0');
      expect(result.packages.find((p) => p.name === '@npmcli/arborist')?.purl).toBe('pkg:npm/%40npmcli/arborist@8.0.0');
    });

    it('names a package by its manifest, not by the directory an alias installed it in', () => {
      const result = catalogFiles({ '/app/node_modules/old-name/package.json': json({ name: 'JSONStream', version: '1.3.5' }) });
      expect(result.packages.map((p) => [p.name, p.purl, p.metadata?.installPath])).toEqual([
        // packageurl-js lower-cases npm names
        ['JSONStream', 'pkg:npm/jsonstream@1.3.5', '/app/node_modules/old-name'],
      ]);
    });

    it('turns a manifest without name or version, broken JSON or a non-object into an issue and reads the others', () => {
      const result = catalogFiles({
        ...installedFixtures(),
        '/app/node_modules/no-version/package.json': json({ name: 'no-version' }),
        '/app/node_modules/no-name/package.json': json({ version: '1.0.0' }),
        '/app/node_modules/broken/package.json': '{ "name": "broken", "version": ',
        '/app/node_modules/array/package.json': '[]',
        '/app/node_modules/bad-name/package.json': json({ name: '@scope', version: '1.0.0' }),
        '/app/node_modules/numeric/package.json': json({ name: 'numeric', version: 1 }),
      });
      expect(result.packages.map((p) => p.name)).toEqual(INSTALLED);
      expect(result.issues.map((i) => [i.path, i.message.replace(/: .*/s, '')])).toEqual([
        ['/app/node_modules/array/package.json', 'not a JSON object'],
        ['/app/node_modules/bad-name/package.json', 'invalid package name "@scope"'],
        ['/app/node_modules/broken/package.json', 'invalid JSON'],
        ['/app/node_modules/no-name/package.json', 'package.json has no "name"'],
        ['/app/node_modules/no-version/package.json', 'package.json of "no-version" has no "version"'],
        ['/app/node_modules/numeric/package.json', 'package.json of "numeric" has no "version"'],
      ]);
      expect(result.issues.every((i) => i.cataloger === 'npm' && i.layer === LAYER)).toBe(true);
    });

    it('skips private manifests (workspace members, local packages) without an issue', () => {
      const result = catalogFiles({
        '/app/node_modules/lodash/package.json': { fixture: 'node_modules/lodash/package.json' },
        '/app/node_modules/my-workspace/package.json': json({ name: 'my-workspace', private: true }),
        '/app/node_modules/@corp/tool/package.json': json({ name: '@corp/tool', version: '1.0.0', private: true }),
      });
      expect(result).toMatchObject({ issues: [] });
      expect(brief(result)).toEqual(['lodash@4.17.20 /app/node_modules/lodash']);
    });

    it('reads licences from license, a legacy {type} and the legacy licenses array', () => {
      const result = catalogFiles({
        '/a/node_modules/string/package.json': json({ name: 'string', version: '1.0.0', license: 'Apache 2.0' }),
        '/a/node_modules/expr/package.json': json({ name: 'expr', version: '1.0.0', license: '(MIT OR Apache-2.0)' }),
        '/a/node_modules/object/package.json': json({ name: 'object', version: '1.0.0', license: { type: 'MIT', url: 'https://example.invalid' } }),
        '/a/node_modules/legacy/package.json': json({ name: 'legacy', version: '1.0.0', licenses: [{ type: 'MIT' }, { type: 'GPL-2.0' }, { type: 'MIT' }] }),
        '/a/node_modules/both/package.json': json({ name: 'both', version: '1.0.0', license: 'ISC', licenses: [{ type: 'MIT' }] }),
        '/a/node_modules/unlicensed/package.json': json({ name: 'unlicensed', version: '1.0.0', license: 'UNLICENSED' }),
        '/a/node_modules/see/package.json': json({ name: 'see', version: '1.0.0', license: 'SEE LICENSE IN LICENSE.md' }),
        '/a/node_modules/none/package.json': json({ name: 'none', version: '1.0.0', license: '' }),
      });
      expect(Object.fromEntries(result.packages.map((p) => [p.name, p.licenses]))).toEqual({
        string: ['Apache-2.0'],
        expr: ['(MIT OR Apache-2.0)'],
        object: ['MIT'],
        legacy: ['MIT', 'GPL-2.0'],
        both: ['ISC'],
        // npm's "no licence granted": not spdx-correct's guess, the Unlicense
        unlicensed: ['UNLICENSED'],
        see: ['SEE LICENSE IN LICENSE.md'],
        none: undefined,
      });
    });

    it('reports a truncated manifest as an issue', () => {
      const file: ViewFile = { path: '/app/node_modules/big/package.json', content: Buffer.from('{"name":"big",'), mode: 0o644, layer: LAYER, truncated: true };
      const result = npmCataloger.catalog(memoryView([file]), {});
      expect(result).toEqual({
        packages: [],
        issues: [{ cataloger: 'npm', path: file.path, layer: LAYER, message: 'file truncated after 14 bytes: not read' }],
      });
    });

    it('matches `npm ls --all` on the real npm installation of this machine', () => {
      const globalRoot = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' }).stdout.trim();
      const npmDir = join(globalRoot, 'npm');
      expect(existsSync(join(npmDir, 'node_modules')), `no npm installation at ${npmDir}`).toBe(true);
      // npm's own directory as an image root: its dependencies are at /node_modules/...
      const result = npmCataloger.catalog(new DirectoryView(npmDir), {});
      // npm's package.json lists devDependencies that are not installed: npm ls exits 1 for them
      const reference = npmLs(npmDir, []);
      expect(result.issues).toEqual([]);
      expect(result.packages.length).toBeGreaterThan(50);
      expect(result.packages.some((p) => p.name.startsWith('@'))).toBe(true);
      expect(result.packages.some((p) => (p.metadata?.installPath ?? '').split('/node_modules/').length > 2)).toBe(true);
      expect([...nameVersions(result.packages)].sort()).toEqual([...reference.set].sort());
    });
  });

  describe('lockfiles', () => {
    const fromLockfile = (version: (typeof LOCKFILES)[number]): CatalogResult => catalogFiles({ '/app/package-lock.json': lockfileFixture(version) });

    it('reads lockfileVersion 1, 2 and 3 without issues', () => {
      for (const version of LOCKFILES) {
        const result = fromLockfile(version);
        expect(result.issues, version).toEqual([]);
        expect(result.packages.every((p) => p.locations[0] === '/app/package-lock.json' && p.type === 'npm'), version).toBe(true);
      }
      expect(LOCKFILES.map((v) => fromLockfile(v).packages.length)).toEqual([51, 146, 146]);
    });

    it('builds whole package values, with the dev flag and (lockfile v3) the licence', () => {
      const debug = (version: (typeof LOCKFILES)[number]) => fromLockfile(version).packages.find((p) => p.name === 'debug' && p.version === '2.5.2');
      const expected: Package = {
        type: 'npm',
        name: 'debug',
        version: '2.5.2',
        purl: 'pkg:npm/debug@2.5.2',
        layer: LAYER,
        locations: ['/app/package-lock.json'],
        metadata: { installPath: '/app/node_modules/debug', dev: 'true' },
      };
      expect(debug('npm-v6.14.18')).toEqual(expected);
      expect(debug('npm-v8.19.4')).toEqual(expected);
      expect(debug('npm-v10.9.0')).toEqual({ ...expected, licenses: ['MIT'] });
      const scoped = fromLockfile('npm-v10.9.0').packages.find((p) => p.name === '@typescript-eslint/eslint-plugin');
      expect(scoped).toMatchObject({ version: '5.62.0', purl: 'pkg:npm/%40typescript-eslint/eslint-plugin@5.62.0', metadata: { installPath: '/app/node_modules/@typescript-eslint/eslint-plugin' } });
    });

    /**
     * The three lockfiles were written for the same package.json, but by npm 6, 8 and 10:
     * npm 7 and later install peer dependencies (flagged "peer": true: eslint and its
     * dependencies, 93 entries here), npm 6 does not, and hoists differently. So the v2 and
     * v3 trees are the same, and npm 6's set of name@version is exactly theirs without
     * the peer-only packages.
     */
    it('gives the same packages for the same package.json across lockfile versions', () => {
      const shape = (p: Package): string => {
        const { installPath, ...flags } = p.metadata ?? {};
        return `${installPath} ${p.name}@${p.version} ${Object.keys(flags).sort().join(',')}`;
      };
      const [v1, v2, v3] = LOCKFILES.map((v) => fromLockfile(v).packages) as [Package[], Package[], Package[]];
      expect(v2.map(shape).sort()).toEqual(v3.map(shape).sort());
      expect(v3.filter((p) => p.metadata?.peer).length).toBe(93);
      expect([...nameVersions(v1)].sort()).toEqual([...nameVersions(v3.filter((p) => !p.metadata?.peer))].sort());
      const dev = (ps: Package[]) => ps.filter((p) => p.metadata?.dev).map((p) => `${p.name}@${p.version}`).sort();
      expect(dev(v1)).toEqual(['debug@2.5.2', 'ms@0.7.2']);
      expect(dev(v3)).toEqual(['debug@2.5.2', 'ms@0.7.2']);
      // nested installs: npm 6 nests ms@0.7.2 under debug, npm 8 and 10 nest ms@2.1.3 in seven places
      expect(v1.find((p) => p.name === 'ms' && p.version === '0.7.2')?.metadata?.installPath).toBe('/app/node_modules/debug/node_modules/ms');
      expect(v3.filter((p) => p.name === 'ms' && p.version === '2.1.3').length).toBe(7);
    });

    it.each(LOCKFILES)('matches `npm ls --all --package-lock-only` on %s', (version) => {
      const dir = join(scratch, `npm-ls-${version}`);
      mkdirSync(dir, { recursive: true });
      for (const name of ['package.json', 'package-lock.json']) copyFileSync(join(NPM_FIXTURES, 'lockfiles', version, name), join(dir, name));
      const reference = npmLs(dir, ['--package-lock-only']);
      expect(reference.status).toBe(0);
      const ours = fromLockfile(version).packages;
      expect([...nameVersions(ours)].sort()).toEqual([...reference.set].sort());
    });

    it('ignores the lockfile of a project that has node_modules', () => {
      for (const version of LOCKFILES) {
        const result = catalogFiles({ ...installedFixtures(), '/app/package-lock.json': lockfileFixture(version) });
        expect(result.packages.map((p) => p.locations[0])).toEqual(INSTALLED.map((n) => `/app/node_modules/${n}/package.json`));
      }
      // npm >= 7's hidden lockfile says node_modules was installed, even with nothing in it (npm ci --omit=dev)
      const empty = catalogFiles({ '/app/package-lock.json': lockfileFixture('npm-v10.9.0'), '/app/node_modules/.package-lock.json': json({ lockfileVersion: 3, packages: {} }) });
      expect(empty).toEqual({ packages: [], issues: [] });
      // another project's node_modules does not count
      const other = catalogFiles({ ...installedFixtures('/other'), '/app/package-lock.json': lockfileFixture('npm-v10.9.0') });
      expect(other.packages.filter((p) => p.locations[0] === '/app/package-lock.json').length).toBe(146);
      expect(other.packages.length).toBe(146 + INSTALLED.length);
    });

    it('prefers npm-shrinkwrap.json and ignores lockfiles inside node_modules', () => {
      const result = catalogFiles({
        '/app/package-lock.json': lockfileFixture('npm-v10.9.0'),
        '/app/npm-shrinkwrap.json': lockfileFixture('npm-v6.14.18'),
        '/srv/node_modules/x/package.json': json({ name: 'x', version: '1.0.0' }),
        '/srv/node_modules/x/package-lock.json': 'not read',
        '/srv/node_modules/x/npm-shrinkwrap.json': 'not read',
      });
      expect(result.issues).toEqual([]);
      expect(new Set(result.packages.map((p) => p.locations[0]))).toEqual(new Set(['/app/npm-shrinkwrap.json', '/srv/node_modules/x/package.json']));
      expect(result.packages.length).toBe(51 + 1);
    });

    it('skips the root, workspace folders and links, and reads aliases and workspace dependencies (v2/v3)', () => {
      const lock = {
        name: 'proj',
        lockfileVersion: 3,
        requires: true,
        packages: {
          '': { name: 'proj', version: '1.0.0', workspaces: ['packages/*'] },
          'node_modules/a': { version: '1.0.0', license: 'MIT' },
          'node_modules/@s/b': { version: '2.0.0', dev: true, optional: true, devOptional: true },
          'node_modules/alias': { name: 'real', version: '3.0.0' },
          'node_modules/bundler/node_modules/inner': { version: '0.1.0', inBundle: true, peer: true },
          'node_modules/bundler': { version: '5.0.0' },
          'node_modules/ws-a': { resolved: 'packages/ws-a', link: true },
          'packages/ws-a': { name: 'ws-a', version: '0.0.1' },
          'packages/ws-a/node_modules/c': { version: '4.0.0' },
        },
      };
      const result = catalogFiles({ '/p/package-lock.json': json(lock) });
      expect(result.issues).toEqual([]);
      expect(result.packages.map((p) => [p.name, p.version, p.metadata, p.licenses])).toEqual([
        ['a', '1.0.0', { installPath: '/p/node_modules/a' }, ['MIT']],
        ['@s/b', '2.0.0', { installPath: '/p/node_modules/@s/b', dev: 'true', optional: 'true', devOptional: 'true' }, undefined],
        ['real', '3.0.0', { installPath: '/p/node_modules/alias' }, undefined],
        ['inner', '0.1.0', { installPath: '/p/node_modules/bundler/node_modules/inner', peer: 'true', inBundle: 'true' }, undefined],
        ['bundler', '5.0.0', { installPath: '/p/node_modules/bundler' }, undefined],
        ['c', '4.0.0', { installPath: '/p/packages/ws-a/node_modules/c' }, undefined],
      ]);
    });

    it('reads aliases and bundled dependencies and skips file: dependencies (v1)', () => {
      const lock = {
        name: 'proj',
        version: '1.0.0',
        lockfileVersion: 1,
        requires: true,
        dependencies: {
          a: { version: '1.0.0', dependencies: { b: { version: '2.0.0', bundled: true, optional: true } } },
          alias: { version: 'npm:@s/real@3.0.0' },
          local: { version: 'file:../local', dependencies: { d: { version: '4.0.0' } } },
          e: { version: '5.0.0', dev: true },
        },
      };
      const result = catalogFiles({ '/package-lock.json': json(lock) });
      expect(result.issues).toEqual([]);
      expect(result.packages.map((p) => [p.name, p.version, p.purl, p.metadata])).toEqual([
        ['a', '1.0.0', 'pkg:npm/a@1.0.0', { installPath: '/node_modules/a' }],
        ['@s/real', '3.0.0', 'pkg:npm/%40s/real@3.0.0', { installPath: '/node_modules/alias' }],
        ['e', '5.0.0', 'pkg:npm/e@5.0.0', { installPath: '/node_modules/e', dev: 'true' }],
        ['b', '2.0.0', 'pkg:npm/b@2.0.0', { installPath: '/node_modules/a/node_modules/b', optional: 'true', inBundle: 'true' }],
        ['d', '4.0.0', 'pkg:npm/d@4.0.0', { installPath: '/node_modules/local/node_modules/d' }],
      ]);
    });

    it('turns bad entries and files into issues, at most ten per file, and reads the rest', () => {
      const bad = Object.fromEntries(Array.from({ length: 14 }, (_, i) => [`node_modules/bad${i}`, { resolved: 'x' }]));
      const result = catalogFiles({
        '/a/package-lock.json': json({ lockfileVersion: 3, packages: { 'node_modules/ok': { version: '1.0.0' }, 'node_modules/str': 'x', ...bad } }),
        '/b/package-lock.json': '{ "lockfileVersion": 3, "packages": {',
        '/c/package-lock.json': json({ lockfileVersion: 1, dependencies: { ok: { version: '1.0.0' }, nover: {}, alias: { version: 'npm:x' } } }),
        '/d/package-lock.json': json({ lockfileVersion: 4, packages: { 'node_modules/ok': { version: '1.0.0' } } }),
        '/e/package-lock.json': json({ name: 'not-a-lockfile' }),
        '/f/package-lock.json': json({ name: 'no-deps', lockfileVersion: 1 }),
      });
      expect(result.packages.map((p) => `${p.locations[0]} ${p.name}@${p.version}`)).toEqual([
        '/a/package-lock.json ok@1.0.0',
        '/c/package-lock.json ok@1.0.0',
        '/d/package-lock.json ok@1.0.0',
      ]);
      const messages = (path: string) => result.issues.filter((i) => i.path === path).map((i) => i.message);
      expect(messages('/a/package-lock.json')).toEqual([
        'entry "node_modules/str" is not an object',
        ...Array.from({ length: 9 }, (_, i) => `entry "node_modules/bad${i}" has no "version"`),
        '5 more bad entries not listed',
      ]);
      expect(messages('/b/package-lock.json')).toEqual([expect.stringMatching(/^invalid JSON: /)]);
      expect(messages('/c/package-lock.json')).toEqual(['entry "node_modules/nover" has no "version"', 'entry "node_modules/alias": alias "npm:x" has no version']);
      expect(messages('/d/package-lock.json')).toEqual(['lockfileVersion 4 is newer than this reader (3): read as version 3']);
      expect(messages('/e/package-lock.json')).toEqual(['neither "packages" nor "dependencies" nor "lockfileVersion": not an npm lockfile']);
      expect(messages('/f/package-lock.json')).toEqual([]);
    });
  });

  describe('speed', () => {
    /**
     * An image with many projects: 200 installed trees (60 packages each, a third of them
     * scoped, with nested node_modules and non-manifest package.json files inside packages)
     * and 100 lockfile-only projects (60 entries each).
     */
    function bigImage(): ViewFile[] {
      const files: ViewFile[] = [];
      const add = (path: string, content: unknown): void => {
        files.push({ path, content: Buffer.from(typeof content === 'string' ? content : JSON.stringify(content)), mode: 0o644, layer: LAYER });
      };
      for (let t = 0; t < 200; t++) {
        const nm = `/srv/app${t}/node_modules`;
        add(`/srv/app${t}/package-lock.json`, 'not read: node_modules is there');
        add(`/srv/app${t}/package.json`, { name: `app${t}`, version: '1.0.0' });
        for (let i = 0; i < 60; i++) {
          const name = i % 3 === 0 ? `@scope${i}/pkg${i}` : `pkg${i}`;
          add(`${nm}/${name}/package.json`, { name, version: `1.${t}.${i}`, license: 'MIT' });
          add(`${nm}/${name}/lib/package.json`, { type: 'module' });
          if (i % 10 === 0) add(`${nm}/${name}/node_modules/dep${i}/package.json`, { name: `dep${i}`, version: '0.0.1' });
        }
      }
      for (let t = 0; t < 100; t++) {
        const packages: Record<string, unknown> = { '': { name: `lockonly${t}` } };
        for (let i = 0; i < 60; i++) packages[`node_modules/l${i}`] = { version: `2.${t}.${i}`, license: 'ISC' };
        add(`/opt/lockonly${t}/package-lock.json`, { lockfileVersion: 3, packages });
      }
      return files;
    }

    it('reads hundreds of trees in one pass over the view, and needs keep everything it reads', () => {
      const files = bigImage();
      const calls = { glob: 0, get: 0 };
      const result = npmCataloger.catalog(memoryView(files, calls), {});
      expect(result.issues).toEqual([]);
      expect(result.packages.length).toBe(200 * (60 + 6) + 100 * 60);
      expect(calls.glob).toBe(1);
      // one get per lockfile whose directory has no node_modules (the hidden-lockfile check)
      expect(calls.get).toBe(100);
      // what the walker keeps for these needs is enough: the result is the same
      const wanted = pathMatcher(npmCataloger.needs);
      const kept = files.filter((f) => wanted(f.path));
      expect(kept.length).toBeLessThan(files.length);
      expect(npmCataloger.catalog(memoryView(kept), {})).toEqual(result);
    });
  });
});

/** An in-memory view over `files`, counting its calls. */
function memoryView(files: ViewFile[], calls = { glob: 0, get: 0 }): FileView {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const byPath = new Map(sorted.map((f) => [f.path, f]));
  return {
    get(path) {
      calls.get++;
      return byPath.get(path);
    },
    glob(pattern) {
      calls.glob++;
      const isMatch = picomatch(pattern, { dot: true });
      return sorted.filter((f) => isMatch(f.path));
    },
  };
}
