/**
 * The Composer cataloger: installed.json in the Composer 1 form (an array) and the Composer 2
 * form ({packages, dev, dev-package-names}) written for this test following what Composer
 * writes (the commit references are stand-ins: sha1 of the package name and version), and
 * malformed files; then files the real Composer 2 wrote, installing from local path
 * repositories without network, compared with what `composer show` and `composer licenses`
 * read from the same vendor directory. Needs Debian's `composer` and `php-cli`
 * (apt-get install composer php-cli).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import picomatch from 'picomatch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryView } from '../../shared/catalog/dir-view.js';
import { normalizeLicenses } from '../../shared/catalog/license.js';
import { phpCataloger } from '../../shared/catalog/php.js';
import type { FileView, Package, ViewFile } from '../../shared/catalog/types.js';
import { pathMatcher } from '../../shared/layers/paths.js';

const LAYER = 'sha256:5555';
const INSTALLED = '/var/www/html/vendor/composer/installed.json';

function viewOf(files: Record<string, string | Partial<ViewFile>>): FileView {
  const all: ViewFile[] = Object.entries(files).map(([path, c]) =>
    typeof c === 'string' ? { path, content: Buffer.from(c), mode: 0o644, layer: LAYER } : { path, content: Buffer.alloc(0), mode: 0o644, layer: LAYER, ...c },
  );
  return {
    get: (path) => all.find((f) => f.path === path),
    glob: (pattern) => all.filter((f) => picomatch(pattern, { dot: true })(f.path)).sort((a, b) => (a.path < b.path ? -1 : 1)),
  };
}

function catalog(files: Record<string, string | Partial<ViewFile>>) {
  return phpCataloger.catalog(viewOf(files), {});
}

const ref = (name: string, version: string) => createHash('sha1').update(`${name}@${version}`).digest('hex');

/** One installed package as Composer records it (Composer 2 adds install-path). */
function entry(name: string, version: string, normalized: string, license: string[] | string | undefined, extra: Record<string, unknown> = {}, composer2 = true) {
  const [vendor, pkg] = name.split('/') as [string, string];
  const r = ref(name, version);
  const e: Record<string, unknown> = {
    name,
    version,
    version_normalized: normalized,
    source: { type: 'git', url: `https://github.com/${vendor}/${pkg}.git`, reference: r },
    dist: { type: 'zip', url: `https://api.github.com/repos/${vendor}/${pkg}/zipball/${r}`, reference: r, shasum: '' },
    time: '2024-01-23T14:51:35+00:00',
    type: 'library',
    'installation-source': 'dist',
    autoload: { 'psr-4': { [`${vendor[0]?.toUpperCase()}${vendor.slice(1)}\\`]: 'src/' } },
    'notification-url': 'https://packagist.org/downloads/',
    ...(license === undefined ? {} : { license }),
    description: `The ${pkg} package`,
    ...extra,
  };
  if (composer2) e['install-path'] = `../${name}`;
  return e;
}

const json = (v: unknown) => `${JSON.stringify(v, null, 4)}\n`;

/** Composer 1.10 (an array; no record of which packages are dev-only). */
const COMPOSER_1 = json([
  entry('guzzlehttp/guzzle', '6.5.2', '6.5.2.0', ['MIT'], { require: { php: '>=5.5', 'guzzlehttp/psr7': '^1.6.1' } }, false),
  entry('guzzlehttp/psr7', '1.6.1', '1.6.1.0', ['MIT'], {}, false),
  entry('monolog/monolog', '1.25.1', '1.25.1.0', ['MIT'], {}, false),
  entry('psr/log', '1.1.0', '1.1.0.0', ['MIT'], {}, false),
  entry('symfony/polyfill-mbstring', 'v1.13.1', '1.13.1.0', ['MIT'], {}, false),
  entry('phpunit/phpunit', '8.5.2', '8.5.2.0', ['BSD-3-Clause'], { 'require-dev': { 'ext-pdo': '*' } }, false),
]);

/** Composer 2.6 after `composer install` (with dev packages). */
const COMPOSER_2 = json({
  packages: [
    entry('laravel/framework', 'v10.43.0', '10.43.0.0', ['MIT'], { require: { php: '^8.1', 'symfony/console': '^6.2' } }),
    entry('mockery/mockery', '1.6.7', '1.6.7.0', ['BSD-3-Clause']),
    entry('nesbot/carbon', '2.72.3', '2.72.3.0', ['MIT']),
    entry('phpunit/phpunit', '10.5.10', '10.5.10.0', ['BSD-3-Clause']),
    entry('symfony/console', 'v6.4.3', '6.4.3.0', ['MIT']),
    entry('acme/internal-sdk', 'dev-main', 'dev-main', ['proprietary'], { 'default-branch': true, dist: undefined }),
    entry('symfony/polyfill-php83', 'v1.29.0', '1.29.0.0', ['MIT'], { type: 'library' }),
    entry('laravel/pint', 'v1.13.10', '1.13.10.0', ['MIT'], { type: 'project' }),
  ],
  dev: true,
  'dev-package-names': ['laravel/pint', 'mockery/mockery', 'phpunit/phpunit'],
});

describe('phpCataloger', () => {
  it('declares vendor/composer/installed.json anywhere', () => {
    expect(phpCataloger).toMatchObject({ name: 'php', kind: 'language', version: 1, needs: { globs: ['**/vendor/composer/installed.json'] } });
    const needed = pathMatcher(phpCataloger.needs);
    expect(needed(INSTALLED)).toBe(true);
    expect(needed('/app/vendor/composer/installed.json')).toBe(true);
    expect(needed('/app/vendor/composer/installed.php')).toBe(false);
    expect(needed('/app/composer.lock')).toBe(false);
    expect(needed('/app/installed.json')).toBe(false);
  });

  it('builds the whole package value (Composer 2)', () => {
    const { packages, issues } = catalog({ [INSTALLED]: COMPOSER_2 });
    expect(issues).toEqual([]);
    expect(packages.find((p) => p.name === 'symfony/console')).toEqual({
      type: 'composer',
      name: 'symfony/console',
      version: 'v6.4.3',
      licenses: ['MIT'],
      purl: 'pkg:composer/symfony/console@v6.4.3',
      layer: LAYER,
      locations: [INSTALLED],
      metadata: { dev: 'false', versionNormalized: '6.4.3.0', packageType: 'library', reference: ref('symfony/console', 'v6.4.3') },
    });
  });

  it('flags the require-dev packages of Composer 2 and keeps them', () => {
    const { packages } = catalog({ [INSTALLED]: COMPOSER_2 });
    expect(packages.map((p) => `${p.purl} dev=${p.metadata?.dev}`)).toEqual([
      'pkg:composer/laravel/framework@v10.43.0 dev=false',
      'pkg:composer/mockery/mockery@1.6.7 dev=true',
      'pkg:composer/nesbot/carbon@2.72.3 dev=false',
      'pkg:composer/phpunit/phpunit@10.5.10 dev=true',
      'pkg:composer/symfony/console@v6.4.3 dev=false',
      'pkg:composer/acme/internal-sdk@dev-main dev=false',
      'pkg:composer/symfony/polyfill-php83@v1.29.0 dev=false',
      'pkg:composer/laravel/pint@v1.13.10 dev=true',
    ]);
  });

  it('keeps a branch version with its commit, and the package type', () => {
    const { packages } = catalog({ [INSTALLED]: COMPOSER_2 });
    expect(packages.find((p) => p.name === 'acme/internal-sdk')).toMatchObject({
      version: 'dev-main',
      licenses: ['proprietary'],
      metadata: { dev: 'false', versionNormalized: 'dev-main', packageType: 'library', reference: ref('acme/internal-sdk', 'dev-main') },
    });
    expect(packages.find((p) => p.name === 'laravel/pint')?.metadata?.packageType).toBe('project');
  });

  it('reads the Composer 1 form, without a dev flag', () => {
    const { packages, issues } = catalog({ [INSTALLED]: COMPOSER_1 });
    expect(issues).toEqual([]);
    expect(packages.map((p) => [p.purl, p.licenses, p.metadata?.dev])).toEqual([
      ['pkg:composer/guzzlehttp/guzzle@6.5.2', ['MIT'], undefined],
      ['pkg:composer/guzzlehttp/psr7@1.6.1', ['MIT'], undefined],
      ['pkg:composer/monolog/monolog@1.25.1', ['MIT'], undefined],
      ['pkg:composer/psr/log@1.1.0', ['MIT'], undefined],
      ['pkg:composer/symfony/polyfill-mbstring@v1.13.1', ['MIT'], undefined],
      ['pkg:composer/phpunit/phpunit@8.5.2', ['BSD-3-Clause'], undefined],
    ]);
  });

  it('reads "composer install --no-dev": no dev packages, none flagged', () => {
    const text = json({ packages: [entry('psr/log', '3.0.0', '3.0.0.0', ['MIT'])], dev: false, 'dev-package-names': [] });
    expect(catalog({ [INSTALLED]: text }).packages.map((p) => p.metadata?.dev)).toEqual(['false']);
  });

  it('lower-cases vendor and name in the package URL only, and reads a licence string', () => {
    const text = json([{ name: 'Acme/Widget-Kit', version: '2.0.0-RC1', license: 'Apache 2.0' }, { name: 'acme/none', version: '1.0.0', license: [] }]);
    expect(catalog({ [INSTALLED]: text }).packages).toEqual([
      { type: 'composer', name: 'Acme/Widget-Kit', version: '2.0.0-RC1', licenses: ['Apache-2.0'], purl: 'pkg:composer/acme/widget-kit@2.0.0-RC1', layer: LAYER, locations: [INSTALLED] },
      { type: 'composer', name: 'acme/none', version: '1.0.0', purl: 'pkg:composer/acme/none@1.0.0', layer: LAYER, locations: [INSTALLED] },
    ]);
  });

  it('reports malformed files and entries with their path and layer, and reads the rest', () => {
    const a = '/srv/a/vendor/composer/installed.json';
    const b = '/srv/b/vendor/composer/installed.json';
    const c = '/srv/c/vendor/composer/installed.json';
    const d = '/srv/d/vendor/composer/installed.json';
    const e = '/srv/e/vendor/composer/installed.json';
    const { packages, issues } = catalog({
      [a]: json({
        packages: [
          { name: 'good/one', version: '1.0.0' },
          'psr/log',
          { version: '1.0.0' },
          { name: 'novendor', version: '1.0.0' },
          { name: 'a/b/c', version: '1.0.0' },
          { name: 'no/version' },
          { name: 'blank/version', version: ' ' },
          { name: 'spaced/version', version: '1.0 beta' },
        ],
        dev: true,
        'dev-package-names': 'good/one',
      }),
      [b]: '{"packages": [',
      [c]: json({ installed: [] }),
      [d]: COMPOSER_1,
      [e]: json({ packages: [{ name: 'x/y', version: '1.0.0' }] }),
    });
    expect(packages.map((p) => `${p.locations[0]} ${p.name} ${p.metadata?.dev}`)).toEqual([
      `${a} good/one undefined`,
      ...['guzzlehttp/guzzle', 'guzzlehttp/psr7', 'monolog/monolog', 'psr/log', 'symfony/polyfill-mbstring', 'phpunit/phpunit'].map((n) => `${d} ${n} undefined`),
      // Composer 2 always writes dev-package-names; a file without it says nothing about dev.
      `${e} x/y undefined`,
    ]);
    const at = (path: string, message: string) => ({ cataloger: 'php', path, layer: LAYER, message });
    expect(issues).toEqual([
      at(a, '"dev-package-names" is not an array of names: packages are reported without a dev flag'),
      at(a, 'package 2: not an object'),
      at(a, 'package 3: no name'),
      at(a, 'package 4: name "novendor" is not "vendor/package"'),
      at(a, 'package 5: name "a/b/c" is not "vendor/package"'),
      at(a, 'package "no/version": no version'),
      at(a, 'package "blank/version": no version'),
      at(a, 'package "spaced/version": invalid version "1.0 beta"'),
      expect.objectContaining({ path: b, layer: LAYER, message: expect.stringMatching(/^not valid JSON: /) }),
      at(c, 'not a Composer installed.json: neither an array of packages nor an object with "packages"'),
    ]);
  });

  it('lists at most ten unreadable entries of one file, then counts the rest', () => {
    const { issues } = catalog({ [INSTALLED]: json(Array.from({ length: 12 }, () => ({ name: 'x' }))) });
    expect(issues).toHaveLength(11);
    expect(issues[10]).toEqual({ cataloger: 'php', path: INSTALLED, layer: LAYER, message: '2 more unreadable packages not listed' });
  });

  it('does not read a truncated file', () => {
    const { packages, issues } = catalog({ [INSTALLED]: { content: Buffer.from(COMPOSER_2.slice(0, 500)), truncated: true } });
    expect(packages).toEqual([]);
    expect(issues).toEqual([{ cataloger: 'php', path: INSTALLED, layer: LAYER, message: 'file truncated after 500 bytes: not read' }]);
  });
});

// --- against Composer itself ----------------------------------------------------------------

interface ShowEntry {
  name: string;
  version: string;
}

describe('phpCataloger against Composer', () => {
  let scratch: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    try {
      execFileSync('composer', ['--version'], { stdio: 'ignore', env: { ...process.env, COMPOSER_ALLOW_SUPERUSER: '1' } });
    } catch {
      throw new Error('composer is not installed: run `apt-get install composer php-cli` (as root) for the Composer cataloger tests');
    }
    scratch = mkdtempSync(join(tmpdir(), 'drydock-php-'));
    // No network, no user configuration, no questions; root is fine in a container.
    env = { ...process.env, COMPOSER_HOME: join(scratch, '.composer'), COMPOSER_CACHE_DIR: join(scratch, '.cache'), COMPOSER_DISABLE_NETWORK: '1', COMPOSER_NO_INTERACTION: '1', COMPOSER_ALLOW_SUPERUSER: '1' };
  });
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  function write(path: string, content: unknown): void {
    mkdirSync(dirname(join(scratch, path)), { recursive: true });
    writeFileSync(join(scratch, path), typeof content === 'string' ? content : json(content));
  }

  function composer(project: string, args: string[]): string {
    return execFileSync('composer', args, { cwd: join(scratch, project), env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** What `composer show` lists as installed: name → version. */
  function show(project: string, noDev = false): ShowEntry[] {
    const out = JSON.parse(composer(project, ['show', '--format=json', ...(noDev ? ['--no-dev'] : [])])) as { installed?: ShowEntry[] };
    return (out.installed ?? []).map(({ name, version }) => ({ name, version }));
  }

  /** What `composer licenses` reads: name → licences. */
  function licenses(project: string): Record<string, string[]> {
    const out = JSON.parse(composer(project, ['licenses', '--format=json'])) as { dependencies: Record<string, { license: string[] }> | [] };
    return Object.fromEntries(Object.entries(out.dependencies).map(([n, d]) => [n, (d as { license: string[] }).license]));
  }

  function ours(project: string): Package[] {
    const view = new DirectoryView(join(scratch, project), { layer: LAYER });
    const result = phpCataloger.catalog(view, {});
    expect(result.issues).toEqual([]);
    expect(view.issues).toEqual([]);
    return result.packages;
  }

  const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : 1);

  /** Local packages Composer installs from path repositories: versions, licences and a dev-only one. */
  function makePackages(): void {
    write('pkgs/log/composer.json', { name: 'acme/log', version: 'v2.1.0', type: 'library', license: 'MIT', description: 'Logging' });
    write('pkgs/http/composer.json', { name: 'acme/http', version: '1.4.2', license: ['Apache-2.0', 'MIT'], require: { 'acme/log': '^2.0' } });
    write('pkgs/plugin-api/composer.json', { name: 'acme/plugin-api', version: '3.0.0-beta.2', license: 'LGPL-2.1-or-later' });
    write('pkgs/unlicensed/composer.json', { name: 'acme/unlicensed', version: '0.1.0' });
    write('pkgs/testkit/composer.json', { name: 'acme/testkit', version: '0.9.0-beta1', license: 'BSD-3-Clause', require: { 'acme/log': '^2.0' } });
    write('pkgs/fixtures/composer.json', { name: 'acme/fixtures', version: '5.0.1', license: 'MIT' });
    for (const p of ['log', 'http', 'plugin-api', 'unlicensed', 'testkit', 'fixtures']) write(`pkgs/${p}/src/.keep`, '');
  }

  function makeApp(project: string): void {
    write(`${project}/composer.json`, {
      name: 'acme/app',
      require: { 'acme/http': '^1.4', 'acme/plugin-api': '^3.0@beta', 'acme/unlicensed': '^0.1' },
      'require-dev': { 'acme/testkit': '0.9.0-beta1', 'acme/fixtures': '^5.0' },
      repositories: [{ 'packagist.org': false }, { type: 'path', url: '../pkgs/*', options: { symlink: false } }],
    });
  }

  it('reads the installed.json Composer 2 writes, as composer show and composer licenses do', () => {
    makePackages();
    makeApp('app');
    composer('app', ['install', '--no-progress']);
    const written = JSON.parse(readFileSync(join(scratch, 'app/vendor/composer/installed.json'), 'utf8')) as { dev: boolean; 'dev-package-names': string[] };
    expect(written).toMatchObject({ dev: true, 'dev-package-names': ['acme/fixtures', 'acme/testkit'] });

    const packages = ours('app');
    expect(packages.map(({ name, version }) => ({ name, version })).sort(byName)).toEqual(show('app').sort(byName));
    expect(packages.every((p) => p.locations[0] === '/vendor/composer/installed.json' && p.purl === `pkg:composer/${p.name}@${p.version}`)).toBe(true);
    const nonDev = show('app', true).map((e) => e.name);
    expect(packages.filter((p) => p.metadata?.dev === 'false').map((p) => p.name).sort()).toEqual(nonDev.sort());
    expect(packages.filter((p) => p.metadata?.dev === 'true').map((p) => p.name).sort()).toEqual(['acme/fixtures', 'acme/testkit']);
    const declared = licenses('app');
    expect(Object.fromEntries(packages.map((p) => [p.name, p.licenses ?? []]))).toEqual(Object.fromEntries(Object.entries(declared).map(([n, l]) => [n, normalizeLicenses(l)])));
    expect(packages.find((p) => p.name === 'acme/log')).toMatchObject({ version: 'v2.1.0', purl: 'pkg:composer/acme/log@v2.1.0', metadata: { versionNormalized: '2.1.0.0' } });
  });

  it('reads the installed.json of composer install --no-dev', () => {
    makePackages();
    makeApp('app-nodev');
    composer('app-nodev', ['install', '--no-dev', '--no-progress']);
    const packages = ours('app-nodev');
    expect(packages.map(({ name, version }) => ({ name, version })).sort(byName)).toEqual(show('app-nodev').sort(byName));
    expect(packages.map((p) => p.metadata?.dev)).toEqual(packages.map(() => 'false'));
    expect(packages.map((p) => p.name)).not.toContain('acme/testkit');
  });

  it('reads a Composer 1 installed.json as Composer 2 reads it', () => {
    // Composer only lists packages the root requires and whose directory exists.
    const names = (JSON.parse(COMPOSER_1) as Array<{ name: string }>).map((p) => p.name);
    write('legacy/composer.json', { name: 'acme/legacy', require: Object.fromEntries(names.map((n) => [n, '*'])) });
    write('legacy/vendor/composer/installed.json', COMPOSER_1);
    for (const n of names) write(`legacy/vendor/${n}/composer.json`, { name: n });
    const packages = ours('legacy');
    expect(packages.map(({ name, version }) => ({ name, version })).sort(byName)).toEqual(show('legacy').sort(byName));
    expect(Object.fromEntries(packages.map((p) => [p.name, p.licenses ?? []]))).toEqual(licenses('legacy'));
  });
});
