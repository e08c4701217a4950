/**
 * Runs the CI recipes (action.yml, ci/codebuild/buildspec.yml, ci/gitlab/drydock.gitlab-ci.yml,
 * ci/jenkins/Jenkinsfile) the way their CI system would, as far as this machine allows: the
 * shell commands are taken from the files as written and run with the shell and flags that CI
 * system uses; the CI system's own parts (expressions, `if:`, phases, allow_failure, the
 * Jenkinsfile's if/else on the exit status) are interpreted here, and anything this interpreter
 * does not know is an error (so a recipe cannot drift into something the tests skip silently).
 *
 * Not run (nothing here can): `uses:` actions (setup-node, cache, upload-sarif) and the
 * `npm install -g drydock-scan` steps: `drydock` on PATH is a shim exec'ing this repo's
 * bin/drydock.cjs instead.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

export type Verdict = 'pass' | 'warn' | 'fail';

export interface Shell {
  code: number;
  out: string;
  err: string;
}

/** A command run to completion (bounded: killed after `timeoutMs`), its status and output. */
export function sh(cmd: string, args: readonly string[], opts: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs?: number }): Promise<Shell> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      res({ code: code ?? (signal ? 128 : 1), out, err });
    });
  });
}

/** What one recipe run did: the CI system's verdict, each command's log, the commands run and skipped. */
export interface RecipeRun {
  verdict: Verdict;
  /** drydock scan's own exit status, as the recipe saw it */
  scanExit?: number;
  log: string;
  ran: string[];
  skipped: string[];
}

const isInstall = (cmd: string) => /^npm install -g "drydock-scan@\$\{[A-Z_]+\}"$/.test(cmd.trim());

// ───────────────────────────── GitHub Actions (composite action) ─────────────────────────────

interface ActionStep {
  name?: string;
  id?: string;
  if?: string;
  uses?: string;
  run?: string;
  shell?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
}

export interface ActionMeta {
  inputs: Record<string, { default?: string; required?: boolean }>;
  outputs: Record<string, { value: string }>;
  runs: { using: string; steps: ActionStep[] };
}

export async function loadYaml<T>(path: string): Promise<T> {
  return parse(await readFile(path, 'utf8')) as T;
}

interface ActionContext {
  inputs: Record<string, string>;
  runner: { temp: string; os: string };
  steps: Record<string, Record<string, string>>;
}

/** `${{ … }}` in a value: inputs.<id>, runner.temp / runner.os, steps.<id>.outputs.<name>; nothing else. */
function substitute(text: string, ctx: ActionContext): string {
  return text.replace(/\$\{\{\s*(.*?)\s*\}\}/g, (_, expr: string) => evaluate(expr, ctx));
}

function evaluate(expr: string, ctx: ActionContext): string {
  let m: RegExpMatchArray | null;
  if ((m = expr.match(/^inputs\.([\w-]+)$/))) {
    if (!(m[1]! in ctx.inputs)) throw new Error(`action.yml: \${{ ${expr} }} names an undeclared input`);
    return ctx.inputs[m[1]!]!;
  }
  if ((m = expr.match(/^runner\.(temp|os)$/))) return ctx.runner[m[1] as 'temp' | 'os'];
  if ((m = expr.match(/^steps\.([\w-]+)\.outputs\.([\w-]+)$/))) return ctx.steps[m[1]!]?.[m[2]!] ?? '';
  throw new Error(`action.yml: this runner does not know the expression \${{ ${expr} }}`);
}

/** A step's `if:`: terms joined by &&, each always(), <ref> == '<literal>', or hashFiles(<ref>) != ''. */
function condition(text: string | undefined, ctx: ActionContext, failed: boolean, workspace: string): boolean {
  if (text === undefined) return !failed;
  const inner = text.trim().replace(/^\$\{\{\s*([\s\S]*?)\s*\}\}$/, '$1');
  let always = false;
  let all = true;
  for (const term of inner.split('&&').map((t) => t.trim())) {
    let m: RegExpMatchArray | null;
    if (term === 'always()') always = true;
    else if ((m = term.match(/^([\w.-]+)\s*==\s*'([^']*)'$/))) all &&= evaluate(m[1]!, ctx) === m[2];
    else if ((m = term.match(/^hashFiles\(([\w.-]+)\)\s*!=\s*''$/))) all &&= existsSync(resolve(workspace, evaluate(m[1]!, ctx)));
    else throw new Error(`action.yml: this runner does not know the condition term "${term}"`);
  }
  return (always || !failed) && all;
}

/** GITHUB_OUTPUT's `name=value` lines (the heredoc form is not used by the recipe). */
function outputsOf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/**
 * The composite action's steps in order, as the runner does: `${{ }}` substituted, `shell: bash`
 * as `bash --noprofile --norc -eo pipefail`, GITHUB_OUTPUT per step, a failed step skipping the
 * later ones unless their `if:` has always(). The job's verdict: failure if a step failed, else
 * warn if a ::warning annotation was printed, else pass. `uploads` tells whether the
 * upload-sarif step's condition held (the step itself cannot run here).
 */
export async function runAction(
  actionFile: string,
  given: Record<string, string>,
  env: NodeJS.ProcessEnv,
  workspace: string,
): Promise<RecipeRun & { uploads: boolean; outputs: Record<string, string> }> {
  const meta = await loadYaml<ActionMeta>(actionFile);
  const inputs: Record<string, string> = {};
  for (const [id, spec] of Object.entries(meta.inputs)) inputs[id] = given[id] ?? spec.default ?? '';
  for (const id of Object.keys(given)) if (!(id in meta.inputs)) throw new Error(`no input ${id} in action.yml`);
  const runnerTemp = await mkdtemp(join(workspace, '.runner-temp-'));
  const ctx: ActionContext = { inputs, runner: { temp: runnerTemp, os: 'Linux' }, steps: {} };
  const res = { log: '', ran: [] as string[], skipped: [] as string[], uploads: false };
  let failed = false;
  for (const step of meta.runs.steps) {
    const label = step.name ?? step.uses ?? step.id ?? '?';
    const runs = condition(step.if, ctx, failed, workspace);
    if (step.uses) {
      if (/^github\/codeql-action\/upload-sarif@/.test(step.uses)) res.uploads = runs;
      res.skipped.push(`${label} (uses: ${step.uses}: an action, not run here)`);
      continue;
    }
    if (!runs) {
      res.skipped.push(`${label} (if: false)`);
      continue;
    }
    const script = substitute(step.run ?? '', ctx);
    if (isInstall(script)) {
      res.skipped.push(`${label} (npm install -g drydock-scan: not published to a registry reachable here)`);
      continue;
    }
    if (step.shell !== 'bash') throw new Error(`action.yml: step "${label}" has shell ${step.shell ?? '(none)'}; this runner runs bash steps`);
    const outFile = join(runnerTemp, `output-${res.ran.length}`);
    await writeFile(outFile, '');
    const stepEnv: NodeJS.ProcessEnv = { ...env, RUNNER_TEMP: runnerTemp, RUNNER_OS: 'Linux', GITHUB_WORKSPACE: workspace, GITHUB_OUTPUT: outFile };
    for (const [k, v] of Object.entries(step.env ?? {})) stepEnv[k] = substitute(String(v), ctx);
    const r = await sh('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], { env: stepEnv, cwd: workspace });
    res.ran.push(label);
    res.log += `--- ${label} (exit ${r.code})\n${r.out}${r.err}`;
    if (step.id) ctx.steps[step.id] = outputsOf(await readFile(outFile, 'utf8'));
    if (r.code !== 0) failed = true;
  }
  await rm(runnerTemp, { recursive: true, force: true });
  const outputs: Record<string, string> = {};
  for (const [name, spec] of Object.entries(meta.outputs)) outputs[name] = substitute(spec.value, ctx);
  const verdict: Verdict = failed ? 'fail' : /^::warning\b/m.test(res.log) ? 'warn' : 'pass';
  const scanExit = outputs['exit-code'] ? Number(outputs['exit-code']) : undefined;
  return { ...res, verdict, outputs, ...(scanExit !== undefined ? { scanExit } : {}) };
}

// ───────────────────────────── AWS CodeBuild ─────────────────────────────

export interface Buildspec {
  version: number | string;
  env?: { shell?: string; variables?: Record<string, string | number> };
  phases: Record<string, { commands?: string[]; 'runtime-versions'?: Record<string, string | number> }>;
  artifacts?: { files: string[] };
  cache?: { paths: string[] };
}

export const CODEBUILD_PHASES = ['install', 'pre_build', 'build', 'post_build'] as const;

/**
 * The buildspec's phases in order, each command run by `env.shell` (bash) with the variables
 * (`overrides` as start-build --environment-variables-override sets them); the first failing
 * command fails its phase and the build (post_build would still run: the recipe has none).
 * CodeBuild has no "unstable": the verdict is warn when the build succeeded and the log says WARNING.
 */
export async function runBuildspec(file: string, overrides: Record<string, string>, env: NodeJS.ProcessEnv, cwd: string): Promise<RecipeRun> {
  const spec = await loadYaml<Buildspec>(file);
  const shell = spec.env?.shell ?? 'sh';
  const vars: NodeJS.ProcessEnv = { ...env };
  for (const [k, v] of Object.entries(spec.env?.variables ?? {})) vars[k] = String(v);
  Object.assign(vars, overrides);
  const res: RecipeRun = { verdict: 'pass', log: '', ran: [], skipped: [] };
  let failed = false;
  for (const phase of CODEBUILD_PHASES) {
    if (failed && phase !== 'post_build') continue;
    for (const cmd of spec.phases[phase]?.commands ?? []) {
      if (isInstall(cmd)) {
        res.skipped.push(`${phase}: ${cmd} (not published to a registry reachable here)`);
        continue;
      }
      const r = await sh(shell, ['-c', cmd], { env: vars, cwd });
      res.ran.push(`${phase}: ${cmd.split('\n')[0]}`);
      res.log += `--- ${phase} (exit ${r.code})\n${r.out}${r.err}`;
      const m = cmd.match(/^\s*drydock scan\b/m) ? r.out.match(/Drydock: (pass|WARNING|gate failed \(exit (\d+))/) : null;
      if (m) res.scanExit = m[1] === 'pass' ? 0 : m[1] === 'WARNING' ? 2 : Number(m[2]);
      if (r.code !== 0) {
        failed = true;
        break;
      }
    }
  }
  res.verdict = failed ? 'fail' : /WARNING/.test(res.log) ? 'warn' : 'pass';
  return res;
}

// ───────────────────────────── GitLab CI ─────────────────────────────

export interface GitlabJob {
  stage?: string;
  image?: string;
  variables?: Record<string, string | number>;
  before_script?: string[];
  script: string[];
  allow_failure?: boolean | { exit_codes: number | number[] };
  cache?: { key?: string; paths: string[] };
  artifacts?: { when?: string; paths: string[] };
}

/** $VAR and ${VAR} as GitLab expands them in `variables:` (unknown ones become empty). */
export function expandGitlab(value: string, vars: NodeJS.ProcessEnv): string {
  return value.replace(/\$(?:\{(\w+)\}|(\w+))/g, (_, a: string | undefined, b: string | undefined) => vars[(a ?? b)!] ?? '');
}

/**
 * The job as a shell runner runs it: `variables:` expanded over the predefined CI_* variables
 * (`predefined`), before_script and script in one `bash -eo pipefail` (a failing line ends the
 * job with its status); the verdict: pass on 0, warn when allow_failure.exit_codes lists the
 * status (GitLab's "passed with warnings"), fail otherwise.
 */
export async function runGitlabJob(file: string, jobName: string, predefined: Record<string, string>, env: NodeJS.ProcessEnv, cwd: string): Promise<RecipeRun> {
  const doc = await loadYaml<Record<string, GitlabJob>>(file);
  const job = doc[jobName];
  if (!job) throw new Error(`${file}: no job ${jobName}`);
  const vars: NodeJS.ProcessEnv = { ...env, ...predefined };
  for (const [k, v] of Object.entries(job.variables ?? {})) vars[k] = expandGitlab(String(v), vars);
  const res: RecipeRun = { verdict: 'pass', log: '', ran: [], skipped: [] };
  const lines: string[] = [];
  for (const line of [...(job.before_script ?? []), ...job.script]) {
    if (isInstall(line)) res.skipped.push(`${line} (not published to a registry reachable here)`);
    else lines.push(line);
  }
  res.ran.push(...lines);
  const r = await sh('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', lines.join('\n')], { env: vars, cwd });
  res.log = `${r.out}${r.err}`;
  const allowed = typeof job.allow_failure === 'object' ? [job.allow_failure.exit_codes].flat() : [];
  res.verdict = r.code === 0 ? 'pass' : allowed.includes(r.code) || job.allow_failure === true ? 'warn' : 'fail';
  res.scanExit = r.code;
  return res;
}

// ───────────────────────────── Jenkins (declarative pipeline) ─────────────────────────────

/** Groovy single-quoted strings as written in the file (no escapes are used by the recipe). */
const SQ = String.raw`'((?:[^'\\]|\\.)*)'`;

export interface JenkinsSteps {
  /** `sh '…'` steps, in order (a non-zero status fails the build) */
  plain: string[];
  /** the `sh(returnStatus: true, script: '…')` command */
  gated: string;
  /** environment { NAME = '…' } */
  environment: Record<string, string>;
  /** parameters { string(name: '…', defaultValue: '…') } */
  parameters: Record<string, string>;
}

export function jenkinsSteps(text: string): JenkinsSteps {
  const plain = [...text.matchAll(new RegExp(String.raw`^\s*sh ${SQ}\s*$`, 'gm'))].map((m) => m[1]!);
  const gated = [...text.matchAll(new RegExp(String.raw`sh\(returnStatus: true, script: ${SQ}\)`, 'g'))].map((m) => m[1]!);
  if (gated.length !== 1) throw new Error(`Jenkinsfile: expected one sh(returnStatus: true, script: '…'), found ${gated.length}`);
  const envBlock = text.match(/^\s*environment \{\n([\s\S]*?)^\s*\}/m)?.[1] ?? '';
  const environment: Record<string, string> = {};
  for (const m of envBlock.matchAll(new RegExp(String.raw`^\s*(\w+) = ${SQ}\s*$`, 'gm'))) environment[m[1]!] = m[2]!;
  const parameters: Record<string, string> = {};
  for (const m of text.matchAll(new RegExp(String.raw`string\(name: ${SQ}, defaultValue: ${SQ}`, 'g'))) parameters[m[1]!] = m[2]!;
  return { plain, gated: gated[0]!, environment, parameters };
}

/**
 * The Jenkinsfile's decision on the returned status, read from its if/else chain (Groovy is not
 * run here: the chain must be exactly `if (code == 2) { unstable(…) } else if (code != 0) { error(…) }`).
 */
export function jenkinsDecision(text: string): (code: number) => Verdict {
  const chain = /if \(code == 2\) \{\s*unstable\('[^'\n]*'\)\s*\} else if \(code != 0\) \{\s*error\("[^"\n]*"\)\s*\}/;
  if (!chain.test(text)) throw new Error('Jenkinsfile: the exit-status chain is not `if (code == 2) { unstable(…) } else if (code != 0) { error(…) }`');
  return (code) => (code === 2 ? 'warn' : code !== 0 ? 'fail' : 'pass');
}

/**
 * The stage as an agent runs it: environment and parameters as environment variables (Jenkins
 * exports both), each `sh` as `sh -xe -c` (Jenkins' default flags); a failing plain `sh` fails
 * the build; the gated command's status goes through the if/else chain.
 */
export async function runJenkins(file: string, params: Record<string, string>, env: NodeJS.ProcessEnv, cwd: string): Promise<RecipeRun> {
  const text = await readFile(file, 'utf8');
  const steps = jenkinsSteps(text);
  const decide = jenkinsDecision(text);
  const vars: NodeJS.ProcessEnv = { ...env, ...steps.parameters, ...params, ...steps.environment };
  const res: RecipeRun = { verdict: 'pass', log: '', ran: [], skipped: [] };
  for (const cmd of steps.plain) {
    const r = await sh('sh', ['-xe', '-c', cmd], { env: vars, cwd });
    res.ran.push(cmd);
    res.log += `--- sh (exit ${r.code})\n${r.out}${r.err}`;
    if (r.code !== 0) return { ...res, verdict: 'fail' };
  }
  const r = await sh('sh', ['-xe', '-c', steps.gated], { env: vars, cwd });
  res.ran.push(steps.gated);
  res.log += `--- sh returnStatus (exit ${r.code})\n${r.out}${r.err}`;
  return { ...res, verdict: decide(r.code), scanExit: r.code };
}
