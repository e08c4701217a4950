/**
 * Every command and option of the CLI, declared once as data: the parser (args.ts), the
 * config file and DRYDOCK_* variables (config.ts), the help (help.ts) and shell completion
 * (commands/completion.ts) all read these tables. Loads nothing: a command's code is
 * imported only when that command runs.
 */
import type { CliIO } from './io.js';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  /** one-letter name, e.g. 'o' for -o */
  readonly short?: string;
  /** other names for the same option: long ('format') or one letter ('f') */
  readonly aliases?: readonly string[];
  readonly multiple?: boolean;
  readonly default?: string | boolean | readonly string[];
  /** the environment variable (default DRYDOCK_<NAME>, dashes as underscores); false: none */
  readonly env?: string | false;
  /** multiple values in one environment variable are split on this (default ',') */
  readonly envSplit?: string;
  /** settable in drydock.yaml (default true) */
  readonly config?: boolean;
  /** the value's placeholder in help, e.g. '<fmt>' */
  readonly arg?: string;
  readonly help: string;
  readonly group: string;
  /** the values completion offers */
  readonly values?: readonly string[];
  /** completion completes a path */
  readonly complete?: 'file' | 'dir';
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** What a command's code receives: each option's value, typed by its declaration. */
export type Values<T extends OptionTable> = {
  -readonly [K in keyof T]: T[K]['type'] extends 'boolean'
    ? boolean
    : T[K] extends { multiple: true }
      ? T[K] extends { default: readonly string[] }
        ? string[]
        : string[] | undefined
      : T[K] extends { default: string }
        ? string
        : string | undefined;
};

export interface Parsed<T extends OptionTable = OptionTable> {
  values: Values<T>;
  positionals: string[];
  /** where each option's value came from */
  from: Record<string, 'cli' | 'env' | 'config' | 'default'>;
}

export interface CommandModule {
  run(args: Parsed, io: CliIO): Promise<number>;
}

export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  /** usage line(s) without the leading "usage: " */
  readonly usage: readonly string[];
  readonly options: OptionTable;
  /** what completion offers for the first positional argument */
  readonly positional?: { readonly values?: readonly string[]; readonly complete?: 'file' | 'dir' };
  /** help text after the options */
  readonly notes?: string;
  readonly load: () => Promise<CommandModule>;
}

export const OUTPUT_FORMATS = ['table', 'json', 'cyclonedx', 'spdx', 'html', 'sarif'] as const;
export const SEVERITY_NAMES = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'] as const;

/** Options every command has. */
const COMMON = {
  config: { type: 'string', arg: '<path>', env: 'DRYDOCK_CONFIG', config: false, complete: 'file', group: 'General', help: 'read options from this YAML file (default ./drydock.yaml when present; keys are option names)' },
  help: { type: 'boolean', short: 'h', env: false, config: false, group: 'General', help: 'this text' },
} as const satisfies OptionTable;

const QUIET = { quiet: { type: 'boolean', short: 'q', group: 'General', help: 'no progress line' } } as const satisfies OptionTable;

const CACHE_DIR = {
  'cache-dir': { type: 'string', arg: '<dir>', complete: 'dir', group: 'General', help: 'layer cache and synced feeds (default $XDG_CACHE_HOME/drydock or ~/.cache/drydock)' },
} as const satisfies OptionTable;

const MAX_AGE = {
  'max-advisory-age': { type: 'string', arg: '<age>', group: 'Vulnerabilities', help: 'a gate over advisory data older than this fails (exit 4): 5d (default), 36h, 0 = no limit' },
} as const satisfies OptionTable;

const ADVISORIES = {
  advisories: {
    type: 'string', multiple: true, arg: '<path>', complete: 'file', group: 'Vulnerabilities',
    help: 'match against these advisories (repeatable): a directory of OSV JSON, an OSV all.zip, the Debian tracker JSON export, Alpine secdb files, Amazon Linux updateinfo or vuln-list ALAS JSON, Oracle ELSA OVAL, Red Hat CSAF VEX files, NVD API 2.0 and CVE List V5 records (severities), a CISA KEV catalog, EPSS scores. Default: the feeds `drydock feeds sync` downloaded, if any',
  },
} as const satisfies OptionTable;

export const SCAN_OPTIONS = {
  output: {
    type: 'string', short: 'o', aliases: ['format', 'f'], multiple: true, default: ['table'], arg: '<fmt>[=<file>]', values: OUTPUT_FORMATS, group: 'Output',
    help: `table (default), json, cyclonedx (CycloneDX 1.6), spdx (SPDX 2.3 JSON), html (one self-contained page), sarif (SARIF 2.1.0, for code scanning). Repeatable: -o table -o sarif=report.sarif -o json=out.json (at most one without =<file>: to stdout, or to --output-file)`,
  },
  'output-file': { type: 'string', arg: '<path>', complete: 'file', group: 'Output', help: 'write the one -o output without =<file> here instead of stdout' },
  'exit-code': {
    type: 'string', arg: '<n>', group: 'Output',
    help: 'as Trivy: exit <n> when a finding remains after --severity, --ignore-unfixed and suppressions; with --fail-on, exit <n> (instead of 1) when that gate trips. Policy verdicts keep 1 and 2',
  },
  platform: { type: 'string', arg: '<os/arch[/variant]>', values: ['linux/amd64', 'linux/arm64', 'linux/arm/v7'], group: 'Image', help: 'platform to pick from an index (default linux/amd64)' },
  'all-platforms': { type: 'boolean', group: 'Image', help: 'scan every platform of an index' },
  username: { type: 'string', arg: '<name>', env: false, group: 'Image', help: "registry user name, with --password-stdin: sent only to the image's own registry host" },
  'password-stdin': { type: 'boolean', env: false, config: false, group: 'Image', help: 'read the registry password (or token) from standard input (needs --username)' },
  'insecure-registry': { type: 'string', multiple: true, arg: '<host>', group: 'Image', help: 'allow plain http to this registry (repeatable)' },
  'registry-timeout': { type: 'string', arg: '<s>', group: 'Image', help: 'fail a registry request after <s> seconds without an answer or a byte (default 30; each transfer also has a total bound: 30 s + 1 s per 64 KiB)' },
  ...CACHE_DIR,
  'no-cache': { type: 'boolean', group: 'Image', help: 'read every layer, keep nothing' },
  concurrency: { type: 'string', arg: '<n>', group: 'Image', help: 'layers read at once (default 2)' },
  'max-layer-bytes': { type: 'string', arg: '<n>', group: 'Limits', help: 'uncompressed bytes per layer (default 32 GiB)' },
  'max-entries': { type: 'string', arg: '<n>', group: 'Limits', help: 'tar entries per layer (default 2000000)' },
  'max-file-bytes': { type: 'string', arg: '<n>', group: 'Limits', help: 'bytes read of one needed file (default 64 MiB)' },
  'max-layers': { type: 'string', arg: '<n>', group: 'Limits', help: 'layers per image (default 256)' },
  limit: {
    type: 'string', multiple: true, arg: '<name=value>', env: false, group: 'Limits',
    help: 'any scan limit, e.g. maxKeptBytes=256M, maxExpansionRatio=200 (repeatable; also DRYDOCK_LIMIT_<NAME>, e.g. DRYDOCK_LIMIT_MAX_KEPT_BYTES)',
  },
  ...ADVISORIES,
  'fail-on': {
    type: 'string', arg: '<severity>', values: SEVERITY_NAMES, group: 'Vulnerabilities',
    help: 'exit 1 (or --exit-code) when a finding is at least this severe (any capitalisation). Findings a --policy allowlist, the ignore file or VEX suppress do not count',
  },
  'fail-on-kev': { type: 'boolean', group: 'Vulnerabilities', help: "exit 1 when a finding is in CISA's Known Exploited Vulnerabilities catalog (a KEV catalog must be among the advisories, else exit 4)" },
  severity: { type: 'string', multiple: true, arg: '<list>', values: SEVERITY_NAMES, group: 'Vulnerabilities', help: 'show only findings of these severities (e.g. low,high); output and --exit-code only: --fail-on and policies see every finding' },
  'ignore-unfixed': { type: 'boolean', group: 'Vulnerabilities', help: 'leave out findings that have no fixed version yet' },
  'ignore-file': { type: 'string', arg: '<path>', complete: 'file', group: 'Vulnerabilities', help: 'suppress findings the file names (YAML: id, package, purl, reason, expires; default ./.drydockignore.yaml when present)' },
  vex: { type: 'string', multiple: true, arg: '<path>', complete: 'file', group: 'Vulnerabilities', help: 'an OpenVEX 0.2.0 document (repeatable): not_affected / fixed statements suppress the finding for exactly the products they name' },
  ...MAX_AGE,
  'allow-missing-advisories': { type: 'boolean', group: 'Vulnerabilities', help: 'let gates run over advisory data that misses an ecosystem of the image or is too old (warned about, not exit 4)' },
  policy: { type: 'string', arg: '<bundle.json|default>', complete: 'file', group: 'Policy', help: 'evaluate an Anchore Engine bundle (1_0 or 2; default: the one Drydock ships); exit 1 on fail, 2 on warn' },
  'trust-policy': {
    type: 'string',
    arg: '<trust.yaml>',
    complete: 'file',
    group: 'Policy',
    help: "verify the image's cosign / Notary Project signatures in its registry against this trust policy (docs/signatures.md); the line is printed with the table and in the JSON, and a bundle's image_signature gate decides",
  },
  'base-images': {
    type: 'string',
    arg: '<bases.yaml>',
    complete: 'file',
    group: 'Policy',
    help: "the trusted base list (docs/base-images.md): each listed repository:tag is resolved in its registry, the image's base identified, findings split into base and application, a bundle's base_image gate and base_policy_ids / application_policy_ids apply, and a newer digest of the base's tag is scanned for rebuild advice",
  },
  'warn-exit-zero': { type: 'boolean', group: 'Policy', help: 'a warn verdict exits 0 (for CI systems that fail on any non-zero)' },
  'secret-pattern': { type: 'string', multiple: true, envSplit: '\n', arg: '<NAME=REGEX>', group: 'Policy', help: 'a content pattern for secret_scans / files gates, on top of the built-in ones (repeatable; RE2 syntax; one per line in DRYDOCK_SECRET_PATTERN)' },
  ...QUIET,
  ...COMMON,
} as const satisfies OptionTable;

export const FEEDS_OPTIONS = {
  ecosystem: { type: 'string', multiple: true, arg: '<OSV ecosystem>', values: ['Debian', 'Alpine', 'Ubuntu', 'Rocky Linux', 'AlmaLinux', 'npm', 'PyPI', 'Go', 'Maven', 'RubyGems', 'NuGet', 'Packagist', 'crates.io'], group: 'sync', help: 'an OSV ecosystem to sync (repeatable)' },
  'osv-url': { type: 'string', arg: '<base>', group: 'sync', help: 'a mirror of the OSV bucket' },
  'debian-tracker': { type: 'boolean', group: 'sync', help: "also fetch the Debian Security Tracker's JSON export (most precise for Debian)" },
  'debian-tracker-url': { type: 'string', arg: '<url>', group: 'sync', help: 'the Debian tracker export from elsewhere' },
  amazon: { type: 'boolean', group: 'sync', help: 'fetch the Amazon Linux advisories (ALAS) of the default streams' },
  alas: { type: 'string', multiple: true, arg: '<stream>', values: ['al1', 'al2-core', 'al2-extras', 'al2023-core', 'al2023-kernel-livepatch', 'al2023-nvidia'], group: 'sync', help: 'an Amazon Linux stream (repeatable; al2-extras = every extras topic, al2-extras/<topic> one)' },
  'alas-url': { type: 'string', arg: '<base>', group: 'sync', help: 'a mirror holding <base>/<stream>/mirror.list' },
  kev: { type: 'boolean', group: 'sync', help: "CISA's Known Exploited Vulnerabilities catalog (enrichment: findings marked known exploited; --fail-on-kev)" },
  'kev-url': { type: 'string', arg: '<url>', group: 'sync', help: 'the KEV catalog from a mirror' },
  epss: { type: 'boolean', group: 'sync', help: "FIRST's EPSS scores (enrichment: the likelihood of exploitation, used to order findings)" },
  'epss-url': { type: 'string', arg: '<url>', group: 'sync', help: 'the EPSS scores from a mirror' },
  oracle: { type: 'boolean', group: 'sync', help: 'the Oracle Linux advisories (ELSA OVAL)' },
  'oracle-url': { type: 'string', arg: '<url>', group: 'sync', help: 'the ELSA OVAL from a mirror' },
  stack: { type: 'boolean', env: false, config: false, group: 'sync', help: "run the deployed stack's feed-sync from here (advisories table, events)" },
  ...ADVISORIES,
  ...MAX_AGE,
  ...CACHE_DIR,
  ...QUIET,
  ...COMMON,
} as const satisfies OptionTable;

export const POLICY_OPTIONS = { ...COMMON } as const satisfies OptionTable;

export const SUBMIT_OPTIONS = {
  wait: { type: 'boolean', env: false, config: false, group: 'Stack', help: 'poll until the verdict is in and exit with it (0 pass, 1 fail, 2 warn, 3 error or timeout)' },
  timeout: { type: 'string', default: '900', arg: '<seconds>', env: 'DRYDOCK_SUBMIT_TIMEOUT', config: false, group: 'Stack', help: 'how long --wait waits (default 900)' },
  ...COMMON,
} as const satisfies OptionTable;

const STACK_OUTPUT = {
  output: { type: 'string', short: 'o', aliases: ['format', 'f'], default: 'table', env: false, config: false, arg: '<fmt>', values: ['table', 'json'], group: 'Output', help: 'table (default) or json' },
} as const satisfies OptionTable;

export const RESULTS_OPTIONS = { ...STACK_OUTPUT, ...COMMON } as const satisfies OptionTable;

export const IMAGES_OPTIONS = {
  repository: { type: 'string', arg: '<name>', env: false, config: false, group: 'Stack', help: 'only this repository' },
  limit: { type: 'string', default: '25', arg: '<n>', env: false, config: false, group: 'Stack', help: 'at most this many (1 to 1000, default 25)' },
  ...STACK_OUTPUT,
  ...COMMON,
} as const satisfies OptionTable;

export const RESCAN_OPTIONS = {
  package: { type: 'string', multiple: true, arg: '<ecosystem>/<name>', env: false, config: false, group: 'Stack', help: 're-evaluate the images holding this package (repeatable), e.g. Debian:12/openssl' },
  all: { type: 'boolean', env: false, config: false, group: 'Stack', help: 're-evaluate every image' },
  ...COMMON,
} as const satisfies OptionTable;

export const VERSION_OPTIONS = {
  ...CACHE_DIR,
  ...MAX_AGE,
  ...COMMON,
} as const satisfies OptionTable;

export const COMPLETION_OPTIONS = { ...COMMON } as const satisfies OptionTable;

const STACK_NOTE = `The stack is found through DRYDOCK_SCAN_QUEUE_URL, DRYDOCK_IMAGES_TABLE, DRYDOCK_RESULTS_TABLE and
DRYDOCK_BUCKET (the CDK app's outputs); AWS credentials and region come from your environment.`;

export const EXIT_NOTE = `Exit codes: 0 success / policy pass, 1 policy fail or a finding at or above --fail-on (or in KEV, --fail-on-kev),
2 policy warn, 3 scan error, 4 advisory data missing or stale under a gate, <n> --exit-code,
64 usage error (also: an --advisories path that holds no advisory).`;

export const CONFIG_NOTE = `Every option can also come from DRYDOCK_<NAME> (e.g. DRYDOCK_FAIL_ON=high; booleans 1/0/true/false;
lists comma-separated) or from drydock.yaml (./drydock.yaml, or --config <path>; keys are option names,
a section named after a command applies to it alone). The command line wins over the environment,
which wins over the file.`;

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'scan',
    summary: 'scan an image: packages, vulnerabilities, policy verdict',
    usage: ['drydock scan <image> [options]'],
    options: SCAN_OPTIONS,
    notes: `Images:
  registry/repo:tag, repo@sha256:…, nginx (Docker Hub), <account>.dkr.ecr.<region>.amazonaws.com/repo:tag
  oci:<dir>[:tag]   oci-archive:<tar>[:tag]   docker-archive:<tar>[:repo:tag]
  docker:<name>     podman:<name>   (the local Docker Engine / Podman API socket; a bare name too when the daemon has it)
  ./image.tar, ./layout-dir        (a path is read as the archive or layout it is)

Credentials: --username with --password-stdin (for the image's registry only); DRYDOCK_REGISTRY_USERNAME
and DRYDOCK_REGISTRY_PASSWORD for the registry host(s) in DRYDOCK_REGISTRY_HOST (never sent to any
other); else the containers auth files (REGISTRY_AUTH_FILE, else \${XDG_RUNTIME_DIR}/containers/auth.json and \${XDG_CONFIG_HOME:-~/.config}/containers/auth.json), then
~/.docker/config.json with its credential helpers (credsStore, credHelpers); ECR registries use your AWS credentials (ecr:GetAuthorizationToken).`,
    load: () => import('./commands/scan.js'),
  },
  {
    name: 'policy',
    summary: 'check a policy bundle',
    usage: ['drydock policy validate <bundle.json|default>'],
    options: POLICY_OPTIONS,
    positional: { values: ['validate'] },
    notes: 'Checks a bundle (gates, triggers, params, regexes, mappings, allowlists); exit 0 valid, 1 not.',
    load: () => import('./commands/policy.js'),
  },
  {
    name: 'feeds',
    summary: 'download advisory feeds, or list the advisory sources and their age',
    usage: ['drydock feeds sync [--ecosystem <OSV ecosystem>]... [--debian-tracker] [--amazon] [--alas <stream>]... [--kev] [--epss] [--oracle] [--stack]', 'drydock feeds status [--cache-dir <dir>] [--advisories <path>]...'],
    options: FEEDS_OPTIONS,
    positional: { values: ['sync', 'status'] },
    notes: `feeds sync downloads OSV all.zip feeds (default: every ecosystem Drydock reads) into <cache-dir>/feeds with
conditional requests (an unchanged feed costs one request), and with no feed named the default Amazon
Linux streams too (mirror.list → repomd.xml → updateinfo, sha256-checked). --debian-tracker adds to the OSV
feeds; --amazon, --alas, --kev, --epss and --oracle named without --ecosystem sync only what they name.
feeds status lists advisory sources: kind, ecosystems, advisories, when produced and synced, age.`,
    load: () => import('./commands/feeds.js'),
  },
  {
    name: 'submit',
    summary: "queue a scan on the deployed stack",
    usage: ['drydock submit <registry/repo:tag|@digest> [--wait] [--timeout <seconds>]'],
    options: SUBMIT_OPTIONS,
    notes: STACK_NOTE,
    load: () => import('./commands/submit.js'),
  },
  {
    name: 'results',
    summary: "an image's latest verdict on the deployed stack",
    usage: ['drydock results <registry/repo@digest|sha256:…|registry/repo:tag> [-o table|json]'],
    options: RESULTS_OPTIONS,
    notes: STACK_NOTE,
    load: () => import('./commands/results.js'),
  },
  {
    name: 'images',
    summary: 'recently analysed images on the deployed stack',
    usage: ['drydock images [--repository <name>] [--limit <n>] [-o table|json]'],
    options: IMAGES_OPTIONS,
    notes: STACK_NOTE,
    load: () => import('./commands/images.js'),
  },
  {
    name: 'rescan',
    summary: 're-evaluate images on the deployed stack',
    usage: ['drydock rescan --package <ecosystem>/<name>... | --all'],
    options: RESCAN_OPTIONS,
    notes: `Re-evaluates (no re-analysis) the images holding these packages (a Query of the package index each),
or every image, as the rescan function does after a feed update.\n\n${STACK_NOTE}`,
    load: () => import('./commands/rescan.js'),
  },
  {
    name: 'version',
    summary: "the version and the age of the synced advisory data",
    usage: ['drydock version [--cache-dir <dir>]'],
    options: VERSION_OPTIONS,
    notes: '`drydock --version` prints the version alone (and loads nothing else).',
    load: () => import('./commands/version.js'),
  },
  {
    name: 'completion',
    summary: 'a shell completion script',
    usage: ['drydock completion bash|zsh|fish'],
    options: COMPLETION_OPTIONS,
    positional: { values: ['bash', 'zsh', 'fish'] },
    notes: `bash: source <(drydock completion bash)    zsh: drydock completion zsh > "\${fpath[1]}/_drydock"
fish: drydock completion fish > ~/.config/fish/completions/drydock.fish`,
    load: () => import('./commands/completion.js'),
  },
];

export function commandNamed(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** The environment variable of an option, or undefined when it has none. */
export function envName(name: string, spec: OptionSpec): string | undefined {
  if (spec.env === false) return undefined;
  return spec.env ?? `DRYDOCK_${name.toUpperCase().replace(/-/g, '_')}`;
}
