/**
 * Issue 17, item 4: the CI recipes are validated, and the exact commands they run gate a real
 * image by exit code.
 *
 * Validation: action.yml with @action-validator/core (the GitHub Actions metadata schema, a wasm
 * build that runs offline); ci/codebuild/buildspec.yml and the GitLab job against JSON schemas
 * written here from AWS's buildspec reference (version 0.2) and GitLab's CI/CD YAML syntax
 * reference (only the keywords the recipes use, and no others); the Jenkinsfile with parse checks
 * (no declarative-pipeline linter runs without a Jenkins controller).
 *
 * Runs: three images pushed to a real Distribution registry (Debian's docker-registry, htpasswd
 * auth) on 127.0.0.1: `clean` (lodash 4.17.21, USER 1000), `vuln` (lodash 4.17.20: GHSA high,
 * USER 1000) and `warn` (lodash 4.17.21 running as root: the default policy's WARN). Each
 * recipe's feeds-sync and scan commands run as written (test/ci/recipe-runners.ts interprets the
 * CI system around them) with `drydock` on PATH a shim exec'ing bin/drydock.cjs (the bundle);
 * `feeds sync` downloads from a local HTTP server standing in for OSV's bucket
 * (DRYDOCK_OSV_URL and DRYDOCK_ECOSYSTEM=npm in the environment, as a CI project would set
 * them), serving the real GHSA records of ../shared/fixtures/advisories/npm with `modified`
 * set to now (the fixtures are years old, and a gate over stale data fails closed with exit 4).
 */
import { createServer, type Server } from 'node:http';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateAction, validateWorkflow } from '@action-validator/core';
import { Ajv } from 'ajv';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DRYDOCK_BIN, ensureBuiltCli, REPO_ROOT } from '../support/hostile-corpus.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { buildImage, pushToRegistry } from '../support/image-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import {
  CODEBUILD_PHASES,
  expandGitlab,
  jenkinsDecision,
  jenkinsSteps,
  runAction,
  runBuildspec,
  runGitlabJob,
  runJenkins,
  sh,
  type RecipeRun,
  type Verdict,
} from './recipe-runners.js';

const ACTION = join(REPO_ROOT, 'action.yml');
const BUILDSPEC = join(REPO_ROOT, 'ci/codebuild/buildspec.yml');
const GITLAB = join(REPO_ROOT, 'ci/gitlab/drydock.gitlab-ci.yml');
const JENKINSFILE = join(REPO_ROOT, 'ci/jenkins/Jenkinsfile');
const EXAMPLE_WORKFLOW = join(REPO_ROOT, 'ci/github/drydock-scan.yml');

// ───────────────────────────── schemas ─────────────────────────────

const stringList = { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 } as const;
const scalarMap = { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } } as const;

/** AWS CodeBuild buildspec, version 0.2 (the keys of the "Build specification reference"). */
const BUILDSPEC_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'phases'],
  properties: {
    version: { enum: [0.2, '0.2'] },
    'run-as': { type: 'string' },
    env: {
      type: 'object',
      additionalProperties: false,
      properties: {
        shell: { enum: ['bash', '/bin/sh', 'sh', 'powershell.exe', 'cmd.exe'] },
        variables: scalarMap,
        'parameter-store': scalarMap,
        'secrets-manager': scalarMap,
        'exported-variables': stringList,
        'git-credential-helper': { enum: ['yes', 'no'] },
      },
    },
    proxy: { type: 'object' },
    batch: { type: 'object' },
    phases: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      patternProperties: {
        '^(install|pre_build|build|post_build)$': {
          type: 'object',
          additionalProperties: false,
          properties: {
            'run-as': { type: 'string' },
            'on-failure': { enum: ['ABORT', 'CONTINUE', 'RETRY'] },
            'runtime-versions': scalarMap,
            commands: stringList,
            finally: stringList,
          },
        },
      },
    },
    reports: { type: 'object' },
    artifacts: {
      type: 'object',
      additionalProperties: false,
      required: ['files'],
      properties: {
        files: stringList,
        name: { type: 'string' },
        'discard-paths': { enum: ['yes', 'no'] },
        'base-directory': { type: 'string' },
        'exclude-paths': stringList,
        'enable-symlinks': { enum: ['yes', 'no'] },
        's3-prefix': { type: 'string' },
        'secondary-artifacts': { type: 'object' },
      },
    },
    cache: {
      type: 'object',
      additionalProperties: false,
      required: ['paths'],
      properties: { key: { type: 'string' }, 'fallback-keys': stringList, action: { enum: ['restore', 'save'] }, paths: stringList },
    },
  },
} as const;

/** One GitLab CI job (the job keywords of GitLab's "CI/CD YAML syntax reference" the recipe may use). */
const GITLAB_JOB_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['script'],
  properties: {
    stage: { type: 'string' },
    image: { type: 'string' },
    variables: { type: 'object', additionalProperties: { type: ['string', 'number'] } },
    before_script: stringList,
    script: stringList,
    after_script: stringList,
    allow_failure: {
      oneOf: [
        { type: 'boolean' },
        {
          type: 'object',
          additionalProperties: false,
          required: ['exit_codes'],
          properties: { exit_codes: { oneOf: [{ type: 'integer', minimum: 1, maximum: 255 }, { type: 'array', items: { type: 'integer', minimum: 1, maximum: 255 }, minItems: 1 }] } },
        },
      ],
    },
    cache: {
      type: 'object',
      additionalProperties: false,
      required: ['paths'],
      properties: { key: { type: 'string' }, paths: stringList, policy: { enum: ['pull', 'push', 'pull-push'] }, when: { enum: ['on_success', 'on_failure', 'always'] } },
    },
    artifacts: {
      type: 'object',
      additionalProperties: false,
      properties: { when: { enum: ['on_success', 'on_failure', 'always'] }, paths: stringList, expire_in: { type: 'string' }, name: { type: 'string' } },
    },
    rules: { type: 'array' },
    tags: stringList,
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });

function schemaErrors(schema: object, doc: unknown): string {
  const validate = ajv.compile(schema);
  return validate(doc) ? '' : ajv.errorsText(validate.errors, { separator: '\n' });
}

// ───────────────────────────── Jenkinsfile parse checks ─────────────────────────────

/**
 * Brackets balanced outside strings and comments (Groovy '…', "…", // and /* *\/), every
 * string closed. Returns the problem, or '' when none.
 */
function groovyBalance(text: string): string {
  const stack: Array<{ c: string; line: number }> = [];
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') line++;
    else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      line++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) return `line ${line}: unclosed /* comment`;
      line += text.slice(i, end).split('\n').length - 1;
      i = end + 1;
    } else if (c === "'" || c === '"') {
      const start = line;
      for (i++; i < text.length && text[i] !== c; i++) {
        if (text[i] === '\\') i++;
        else if (text[i] === '\n') return `line ${start}: string not closed on its line`;
      }
      if (i >= text.length) return `line ${start}: unclosed string`;
    } else if ('([{'.includes(c)) stack.push({ c, line });
    else if (')]}'.includes(c)) {
      const open = stack.pop();
      if (!open || open.c !== pairs[c]) return `line ${line}: '${c}' closes ${open ? `'${open.c}' of line ${open.line}` : 'nothing'}`;
    }
  }
  return stack.length ? `line ${stack[stack.length - 1]!.line}: '${stack[stack.length - 1]!.c}' never closed` : '';
}

// ───────────────────────────── the images, the registry, the OSV stand-in ─────────────────────────────

let work: string;
let registry: TestRegistry;
let osv: Server;
let osvUrl: string;
let shimDir: string;
let dockerConfig: string;
const USER = 'ci';
const PASSWORD = 'ci-password';
const refs: Record<'clean' | 'vuln' | 'warn', string> = { clean: '', vuln: '', warn: '' };

const lodash = (version: string) => JSON.stringify({ name: 'lodash', version, license: 'MIT', main: 'lodash.js' });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-ci-recipes-'));
  const [reg] = await Promise.all([startRegistry({ users: { [USER]: PASSWORD } }), ensureBuiltCli()]);
  registry = reg;

  const vulnLodash = await readFile(join(SHARED_FIXTURES, 'pkgdb/npm/node_modules/lodash/package.json'));
  const images = {
    clean: { pkg: lodash('4.17.21'), user: '1000' },
    vuln: { pkg: vulnLodash, user: '1000' },
    warn: { pkg: lodash('4.17.21'), user: undefined },
  };
  for (const [name, img] of Object.entries(images) as Array<[keyof typeof images, (typeof images)['clean']]>) {
    const layout = join(work, `layout-${name}`);
    await buildImage(layout, {
      tag: name,
      layers: [{ files: [{ path: 'app/node_modules/lodash/package.json', content: img.pkg }, { path: 'app/server.js', content: 'require("lodash")\n' }] }],
      config: { config: { ...(img.user ? { User: img.user } : {}), Cmd: ['node', '/app/server.js'] } },
    });
    refs[name] = (await pushToRegistry(layout, name, { host: registry.host, username: USER, password: PASSWORD }, `app:${name}`)).reference;
  }

  // OSV's bucket, locally: /npm/all.zip of the real GHSA records, modified now
  const dir = join(SHARED_FIXTURES, 'advisories/npm');
  const now = new Date().toISOString();
  const files: Record<string, Uint8Array> = {};
  for (const f of (await readdir(dir)).filter((f) => f.endsWith('.json'))) {
    const rec = JSON.parse(await readFile(join(dir, f), 'utf8')) as { modified: string };
    rec.modified = now;
    files[f] = Buffer.from(JSON.stringify(rec));
  }
  const zip = Buffer.from(zipSync(files));
  osv = createServer((req, res) => {
    if (req.url !== '/npm/all.zip') return void res.writeHead(404).end();
    res.writeHead(200, { etag: '"npm-1"', 'content-length': zip.length }).end(zip);
  });
  await new Promise<void>((r) => osv.listen(0, '127.0.0.1', r));
  osvUrl = `http://127.0.0.1:${(osv.address() as AddressInfo).port}`;

  // `drydock` on PATH: this repo's launcher (the bundle), not an installed package
  shimDir = join(work, 'bin');
  await mkdir(shimDir);
  await writeFile(join(shimDir, 'drydock'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(DRYDOCK_BIN)} "$@"\n`);
  await chmod(join(shimDir, 'drydock'), 0o755);

  // what `docker login` (docker/login-action) leaves behind, for the recipes that rely on it
  dockerConfig = join(work, 'docker');
  await mkdir(dockerConfig);
  const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
  await writeFile(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth } } }));
}, 300_000);

afterAll(async () => {
  osv?.close();
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

let runs = 0;
/** A fresh workspace and environment: no DRYDOCK_* of the test process, a home of its own. */
async function workspace(opts: { dockerLogin: boolean }): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  const dir = join(work, `ws-${++runs}`);
  await mkdir(join(dir, 'home'), { recursive: true });
  const env: NodeJS.ProcessEnv = {
    PATH: `${shimDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: join(dir, 'home'),
    TMPDIR: tmpdir(),
    LANG: 'C.UTF-8',
    XDG_CACHE_HOME: join(dir, 'home/.cache'),
    DOCKER_CONFIG: opts.dockerLogin ? dockerConfig : join(dir, 'home/.docker'),
    // the feeds sync of every recipe goes to the local OSV stand-in, npm only
    DRYDOCK_OSV_URL: osvUrl,
    DRYDOCK_ECOSYSTEM: 'npm',
  };
  return { dir, env };
}

interface Sarif {
  version: string;
  runs: Array<{ tool: { driver: { name: string; rules?: Array<{ id: string }> } }; results: Array<{ ruleId: string }> }>;
}

async function sarifAt(path: string): Promise<Sarif> {
  return JSON.parse(await readFile(path, 'utf8')) as Sarif;
}

/** The checks every run makes: the verdict, drydock's status behind it, a SARIF report written even on failure. */
async function expectRun(r: RecipeRun, want: Verdict, scanExit: number, sarifPath: string): Promise<void> {
  const why = `${r.log}\nran: ${r.ran.join(' | ')}`;
  expect(r.verdict, why).toBe(want);
  expect(r.scanExit, why).toBe(scanExit);
  const sarif = await sarifAt(sarifPath);
  expect(sarif.version).toBe('2.1.0');
  const ruleIds = sarif.runs.flatMap((run) => run.results.map((x) => x.ruleId)).join(' ');
  if (want === 'fail') expect(ruleIds, why).toMatch(/CVE-2021-23337|GHSA-35jh-r3h4-6jhm/);
  else expect(ruleIds).not.toMatch(/CVE-2021-23337|GHSA-35jh-r3h4-6jhm/);
}

const CASES = [
  ['clean', 'pass', 0],
  ['vuln', 'fail', 1],
  ['warn', 'warn', 2],
] as const;

// ───────────────────────────── validation ─────────────────────────────

describe('recipe files are valid for their CI system', () => {
  it('action.yml passes @action-validator/core (GitHub Actions metadata schema; wasm, offline)', async () => {
    const text = await readFile(ACTION, 'utf8');
    expect(validateAction(text).errors).toEqual([]);
    // the validator does catch a composite run step without a shell
    expect(validateAction(text.replace(/^( +)shell: bash\n/m, '')).errors.length).toBeGreaterThan(0);
  });

  it('action.yml: composite; bash run steps; SARIF upload with github/codeql-action/upload-sarif in if: always(); outputs from the scan step', async () => {
    const meta = parse(await readFile(ACTION, 'utf8')) as { runs: { using: string; steps: Array<Record<string, string>> }; inputs: Record<string, { required?: boolean }> };
    expect(meta.runs.using).toBe('composite');
    expect(meta.inputs.image?.required).toBe(true);
    const steps = meta.runs.steps;
    for (const s of steps.filter((s) => s.run)) expect(s.shell, s.name).toBe('bash');
    const upload = steps.find((s) => s.uses?.startsWith('github/codeql-action/upload-sarif@'));
    expect(upload?.if).toMatch(/always\(\)/);
    // the upload comes before the gate step can fail the job, and after the scan
    const at = (pred: (s: Record<string, string>) => boolean) => steps.findIndex(pred);
    expect(at((s) => s.id === 'scan')).toBeLessThan(at((s) => s === upload));
    expect(at((s) => s === upload)).toBeLessThan(at((s) => s.name === 'Gate'));
    // the feeds are cached between runs, under the directory the sync step uses
    const cache = steps.find((s) => s.uses?.startsWith('actions/cache@')) as unknown as { with: { path: string } } | undefined;
    expect(cache?.with.path).toBe('${{ steps.prep.outputs.cache-dir }}/feeds');
  });

  it('the example workflow ci/github/drydock-scan.yml passes @action-validator/core and uses the action with security-events: write', async () => {
    const text = await readFile(EXAMPLE_WORKFLOW, 'utf8');
    expect(validateWorkflow(text).errors).toEqual([]);
    expect(text).toMatch(/security-events: write/);
    expect(text).toMatch(/uses: [\w./-]+@v\d/);
  });

  it('buildspec.yml matches a buildspec 0.2 schema (written from the CodeBuild buildspec reference): phases, string commands, artifacts, cache of the feeds', async () => {
    const spec = parse(await readFile(BUILDSPEC, 'utf8')) as { version: number; env: { variables: Record<string, string> }; phases: Record<string, unknown>; cache: { paths: string[] } };
    expect(schemaErrors(BUILDSPEC_SCHEMA, spec)).toBe('');
    expect(spec.version).toBe(0.2);
    expect(Object.keys(spec.phases).every((p) => (CODEBUILD_PHASES as readonly string[]).includes(p))).toBe(true);
    // the cached path is the feeds directory of the cache drydock uses
    expect(spec.cache.paths).toEqual([`${spec.env.variables.DRYDOCK_CACHE_DIR}/feeds/**/*`]);
    // the schema rejects what CodeBuild would: a non-string command, an unknown phase
    expect(schemaErrors(BUILDSPEC_SCHEMA, { ...spec, phases: { build: { commands: [['drydock']] } } })).not.toBe('');
    expect(schemaErrors(BUILDSPEC_SCHEMA, { ...spec, phases: { compile: { commands: ['make'] } } })).not.toBe('');
  });

  it('the GitLab job matches a job schema (written from GitLab CI/CD YAML syntax): string scripts, allow_failure.exit_codes [2], the feeds cached where DRYDOCK_CACHE_DIR points', async () => {
    const doc = parse(await readFile(GITLAB, 'utf8')) as Record<string, { variables: Record<string, string>; allow_failure: unknown; cache: { paths: string[] } }>;
    expect(Object.keys(doc)).toEqual(['drydock-scan']);
    const job = doc['drydock-scan']!;
    expect(schemaErrors(GITLAB_JOB_SCHEMA, job)).toBe('');
    expect(job.allow_failure).toEqual({ exit_codes: [2] });
    expect(`$CI_PROJECT_DIR/${job.cache.paths[0]}`).toBe(`${job.variables.DRYDOCK_CACHE_DIR}/feeds`);
    expect(schemaErrors(GITLAB_JOB_SCHEMA, { ...job, script: 'drydock scan x' })).not.toBe('');
    expect(schemaErrors(GITLAB_JOB_SCHEMA, { ...job, allow_failure: { exit_codes: ['2'] } })).not.toBe('');
  });

  it('the Jenkinsfile parses (no declarative-pipeline linter runs without a Jenkins controller): balanced brackets and strings, pipeline/agent/stages/steps, sh(returnStatus: true…) and its exit-status chain', async () => {
    const text = await readFile(JENKINSFILE, 'utf8');
    expect(groovyBalance(text)).toBe('');
    expect(groovyBalance(text.replace('stages {', 'stages ('))).not.toBe('');
    expect(groovyBalance(text.replace("sh 'drydock feeds sync --quiet'", "sh 'drydock feeds sync --quiet"))).not.toBe('');
    const code = text.replace(/^\s*\/\/.*$/gm, '');
    expect(code).toMatch(/^pipeline \{\n\s+agent any\n/m);
    expect(code).toMatch(/\n\s+stages \{\n\s+stage\('Drydock scan'\) \{\n\s+steps \{/);
    const steps = jenkinsSteps(text);
    expect(steps.plain).toEqual(['drydock feeds sync --quiet']);
    expect(steps.gated).toMatch(/^drydock scan "\$IMAGE" /);
    expect(steps.environment).toMatchObject({ DRYDOCK_FAIL_ON: 'high', DRYDOCK_POLICY: 'default' });
    const decide = jenkinsDecision(text);
    expect([0, 1, 2, 3, 4, 64].map(decide)).toEqual(['pass', 'fail', 'warn', 'fail', 'fail', 'fail']);
  });
});

describe('docs/ci.md', () => {
  it('shows the example workflow and the Jenkins scan step as the files have them', async () => {
    const doc = await readFile(join(REPO_ROOT, 'docs/ci.md'), 'utf8');
    const blocks = [...doc.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, body: m[2]! }));
    const workflow = blocks.find((b) => b.lang === 'yaml' && b.body.includes('uses: OWNER/drydock@v0'));
    const file = parse(await readFile(EXAMPLE_WORKFLOW, 'utf8')) as unknown;
    expect(parse(workflow?.body ?? '')).toEqual(file);
    const groovy = blocks.find((b) => b.lang === 'groovy')?.body ?? '';
    expect(jenkinsSteps(groovy.replace(/^/, "sh 'drydock feeds sync --quiet'\n")).gated).toBe(jenkinsSteps(await readFile(JENKINSFILE, 'utf8')).gated);
    expect(() => jenkinsDecision(groovy)).not.toThrow();
  });
});

// ───────────────────────────── runs ─────────────────────────────

describe('action.yml run steps, run as the runner runs them (uses: steps and `npm i -g drydock-scan` not run: no Actions runner or published package here)', () => {
  for (const [image, want, code] of CASES) {
    it(`${image} image → ${want} (drydock exit ${code}); the SARIF report is there for the always() upload`, async () => {
      const { dir, env } = await workspace({ dockerLogin: true });
      const r = await runAction(ACTION, { image: refs[image], policy: 'default' }, env, dir);
      expect(r.skipped.some((s) => s.startsWith('Install Drydock'))).toBe(true);
      expect(r.ran).toEqual(['Prepare', 'Sync advisory feeds', 'Scan', 'Gate']);
      expect(r.outputs['sarif-file']).toBe('drydock.sarif');
      expect(r.uploads).toBe(true);
      await expectRun(r, want, code, join(dir, 'drydock.sarif'));
      if (want === 'warn') expect(r.log).toMatch(/^::warning title=Drydock::policy verdict WARN$/m);
      if (want === 'fail') expect(r.log).toMatch(/^::error title=Drydock::/m);
    });
  }

  it('fail-on-warn: true makes a WARN fail the job; an unreachable image is a scan error that fails it too', async () => {
    const { dir, env } = await workspace({ dockerLogin: true });
    const warn = await runAction(ACTION, { image: refs.warn, policy: 'default', 'fail-on-warn': 'true' }, env, dir);
    expect(warn.verdict, warn.log).toBe('fail');
    expect(warn.scanExit).toBe(2);
    const missing = await runAction(ACTION, { image: `${registry.host}/app:no-such-tag`, 'upload-sarif': 'false' }, env, dir);
    expect(missing.verdict, missing.log).toBe('fail');
    expect(missing.scanExit).toBe(3);
    expect(missing.uploads).toBe(false);
  });
});

describe("docs/ci.md's plain-steps variant (run: steps by bash -eo pipefail; setup-node, upload-sarif and the npm install not run)", () => {
  it('the scan step fails on the vuln image, and the if: always() upload has its SARIF file; on the clean image every step passes', async () => {
    const doc = await readFile(join(REPO_ROOT, 'docs/ci.md'), 'utf8');
    const block = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => /^\s+- run: drydock scan/m.test(b));
    const steps = parse(block ?? '') as Array<{ run?: string; uses?: string; if?: string; with?: { sarif_file?: string } }>;
    expect(steps.find((s) => s.uses?.startsWith('github/codeql-action/upload-sarif@'))?.if).toBe('always()');
    for (const [image, failedAt] of [['vuln', 'drydock scan'], ['clean', undefined]] as const) {
      const { dir, env } = await workspace({ dockerLogin: true });
      let failed: string | undefined;
      for (const s of steps) {
        if (!s.run || /^npm install -g drydock-scan$/.test(s.run)) continue;
        const r = await sh('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', s.run], { env: { ...env, IMAGE: refs[image] }, cwd: dir });
        if (r.code !== 0) {
          failed = s.run.split(' ').slice(0, 2).join(' ');
          expect(r.code, r.err).toBe(1);
          break;
        }
      }
      expect(failed).toBe(failedAt);
      const upload = steps.find((s) => s.if === 'always()')!;
      expect((await sarifAt(join(dir, upload.with!.sarif_file!))).version).toBe('2.1.0');
    }
  });
});

describe('ci/codebuild/buildspec.yml phases, run by bash (install phase not run: `npm i -g drydock-scan` needs the published package)', () => {
  for (const [image, want, code] of CASES) {
    it(`${image} image → ${want === 'warn' ? 'SUCCEEDED with a WARNING line' : want === 'pass' ? 'SUCCEEDED' : 'FAILED'} (drydock exit ${code})`, async () => {
      const { dir, env } = await workspace({ dockerLogin: true });
      // IMAGE_URI and the cache directory set as start-build --environment-variables-override would
      const r = await runBuildspec(BUILDSPEC, { IMAGE_URI: refs[image], DRYDOCK_CACHE_DIR: join(dir, 'cache') }, env, dir);
      expect(r.skipped).toEqual(['install: npm install -g "drydock-scan@${DRYDOCK_VERSION}" (not published to a registry reachable here)']);
      expect(r.ran.map((c) => c.split(':')[0])).toEqual(['pre_build', 'build']);
      await expectRun(r, want, code, join(dir, 'drydock.sarif'));
      // the other artifact is written too
      expect(JSON.parse(await readFile(join(dir, 'drydock.cdx.json'), 'utf8'))).toMatchObject({ bomFormat: 'CycloneDX' });
    });
  }
});

describe('ci/gitlab/drydock.gitlab-ci.yml before_script + script in one bash -eo pipefail, as a shell runner (the npm install line not run: needs the published package)', () => {
  for (const [image, want, code] of CASES) {
    it(`${image} image → ${want === 'warn' ? 'passed with warnings (allow_failure exit 2)' : want === 'pass' ? 'passed' : 'failed'}; registry credentials from the CI_REGISTRY_* variables only`, async () => {
      const { dir, env } = await workspace({ dockerLogin: false });
      const predefined = {
        CI_REGISTRY: registry.host,
        CI_REGISTRY_IMAGE: `${registry.host}/app`,
        CI_COMMIT_SHA: image,
        CI_REGISTRY_USER: USER,
        CI_REGISTRY_PASSWORD: PASSWORD,
        CI_PROJECT_DIR: dir,
      };
      const r = await runGitlabJob(GITLAB, 'drydock-scan', predefined, env, dir);
      expect(r.skipped).toHaveLength(1);
      await expectRun(r, want, code, join(dir, 'drydock.sarif'));
      // the feeds went where the job cache keeps them
      expect((await readdir(join(dir, '.drydock-cache/feeds'))).length).toBeGreaterThan(0);
    });
  }

  it('without the registry variables the same job cannot read the image (the credentials above were the ones used)', async () => {
    const { dir, env } = await workspace({ dockerLogin: false });
    const r = await runGitlabJob(GITLAB, 'drydock-scan', { CI_REGISTRY_IMAGE: `${registry.host}/app`, CI_COMMIT_SHA: 'clean', CI_PROJECT_DIR: dir }, env, dir);
    expect(r.verdict, r.log).toBe('fail');
    expect(r.scanExit).toBe(3);
    expect(expandGitlab('$CI_REGISTRY_IMAGE:${CI_COMMIT_SHA}', { CI_REGISTRY_IMAGE: 'r/app', CI_COMMIT_SHA: 'abc' })).toBe('r/app:abc');
  });
});

describe('ci/jenkins/Jenkinsfile sh steps, run as `sh -xe` with its environment and IMAGE parameter (Groovy not run: its if/else on the status is read by pattern)', () => {
  for (const [image, want, code] of CASES) {
    it(`${image} image → ${want === 'warn' ? 'UNSTABLE' : want === 'pass' ? 'SUCCESS' : 'FAILURE'} (drydock exit ${code})`, async () => {
      const { dir, env } = await workspace({ dockerLogin: true });
      const r = await runJenkins(JENKINSFILE, { IMAGE: refs[image] }, env, dir);
      await expectRun(r, want, code, join(dir, 'drydock.sarif'));
    });
  }
});
