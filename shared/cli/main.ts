import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { DirLayerCache } from '../adapters/local/dir-layer-cache.js';
import { MemoryAdvisoryStore } from '../adapters/local/memory-advisory-store.js';
import { debianTrackerFeed, DEFAULT_OSV_ECOSYSTEMS, osvFeed, syncFeed } from '../advisories/feeds.js';
import { ALAS_STREAMS, alasSourcesAt, DEFAULT_ALAS_STREAMS, resolveAlasStreams, syncAlasStreamToCache, validateAlasStreamNames } from '../advisories/alas-feed.js';
import { loadAdvisories, syncedFeeds, type LoadedSource } from '../advisories/load.js';
import type { Severity } from '../advisories/types.js';
import { coverageOf, imageEcosystems, lookupsFor, matchInventory, severityRank, type Coverage, type MatchResult } from '../match/index.js';
import { policyContext } from '../policy/context.js';
import { policyCollector } from '../policy/collector.js';
import { bundleDigest, evaluatePolicy, loadDefaultBundle, parseBundle } from '../policy/index.js';
import type { PolicyResult } from '../policy/types.js';
import { packageKeyString } from '../ports/advisory-store.js';
import { DrydockError, isDrydockError } from '../errors.js';
import { chainCredentials, dockerConfigCredentials, envCredentials, type CredentialProvider } from '../image/auth.js';
import { openSource } from '../image/open.js';
import { parsePlatform } from '../image/platform.js';
import { limitsFromEnv, parseLimits, type LayerLimits } from '../layers/extract.js';
import { renderJson } from '../report/json.js';
import { renderPolicy, renderTable } from '../report/table.js';
import { scanImage, type ImageInventory } from '../scan.js';
import { TOOL } from '../version.js';
import { applyBundleAllowlists, bundleGatesVulnerabilities, DEFAULT_MAX_ADVISORY_AGE, formatAge, freshnessOf, groupByPath, parseAge, parseSeverity, parseSeverityList, scanNow, type SourceFreshness } from './gate.js';
import { TerminalProgress } from './progress.js';
import { DEFAULT_IGNORE_FILE, parseIgnoreFile, parseVex, SUPPRESS_LIMITS, type Suppressions } from '../match/suppress.js';
import type { Finding } from '../match/index.js';

/**
 * Exit codes. 1 (policy fail) and 2 (policy warn) are reserved for the policy engine; 4: a gate
 * (--fail-on, a --policy bundle with vulnerabilities rules) ran over advisory data that does not
 * cover an ecosystem of the image, or is older than --max-advisory-age: it cannot pass.
 */
export const EXIT = { ok: 0, fail: 1, warn: 2, scanError: 3, dataMissing: 4, usage: 64 } as const;

/** Advisory source kinds that hold advisories; a source of another kind (severity data) counts as content too. */
const ADVISORY_KINDS = new Set(['osv-zip', 'osv', 'debian-tracker-json', 'debian-vuln-list', 'alpine-secdb', 'alas-updateinfo', 'alas-json']);

export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

const USAGE = `usage: drydock scan <image> [options]

Images:
  registry/repo:tag, repo@sha256:…, nginx (Docker Hub), <account>.dkr.ecr.<region>.amazonaws.com/repo:tag
  oci:<dir>[:tag]   oci-archive:<tar>[:tag]   docker-archive:<tar>[:repo:tag]

Options:
  -o, --output <fmt>          table (default), json, cyclonedx (CycloneDX 1.6), spdx (SPDX 2.3 JSON),
                              html (one self-contained page: verdict, findings, layers)
      --platform <os/arch[/variant]>   platform to pick from an index (default linux/amd64)
      --all-platforms         scan every platform of an index
      --insecure-registry <host>       allow plain http to this registry (repeatable)
      --registry-timeout <s>  fail a registry request after <s> seconds without an answer or a byte
                              (default 30; each transfer also has a total bound: 30 s + 1 s per 64 KiB)
      --cache-dir <dir>       layer cache (default $DRYDOCK_CACHE_DIR or ~/.cache/drydock)
      --no-cache              read every layer, keep nothing
      --concurrency <n>       layers read at once (default 2)
      --max-layer-bytes <n>   uncompressed bytes per layer (default 32 GiB)
      --max-entries <n>       tar entries per layer (default 2000000)
      --max-file-bytes <n>    bytes read of one needed file (default 64 MiB)
      --max-layers <n>        layers per image (default 256)
      --limit <name=value>    any scan limit, e.g. maxKeptBytes=256M, maxExpansionRatio=200 (repeatable;
                              also DRYDOCK_LIMIT_<NAME>, e.g. DRYDOCK_LIMIT_MAX_KEPT_BYTES)

Vulnerabilities:
      --advisories <path>     match against these advisories (repeatable): a directory of OSV JSON,
                              an OSV all.zip, the Debian tracker JSON export, Alpine secdb files.
                              Default: the feeds \`drydock feeds sync\` downloaded, if any.
      --fail-on <severity>    exit 1 when a finding is at least this severe (critical, high, medium,
                              low, negligible, unknown; any capitalisation). Findings a --policy
                              bundle's allowlist names are shown as suppressed and do not count.
      --fail-on-kev           exit 1 when a finding is in CISA's Known Exploited Vulnerabilities catalog
                              (a KEV catalog must be among the advisories, else exit 4; suppressed ones do not count)
      --severity <list>       show only findings of these severities (e.g. low,high); output only,
                              gates still see every finding
      --ignore-unfixed        leave out findings that have no fixed version yet
      --ignore-file <path>    suppress findings the file names (YAML: id, package, purl, reason, expires;
                              default ./.drydockignore.yaml when present); expired entries stop applying
      --vex <path>            an OpenVEX 0.2.0 document (repeatable): not_affected / fixed statements
                              suppress the finding for exactly the products they name. Suppressed
                              findings stay in every output with their reason; gates do not count them.
      --max-advisory-age <age>  a gate over advisory data older than this fails (exit 4): 5d (default,
                              or $DRYDOCK_MAX_ADVISORY_AGE), 36h, 0 = no limit
      --allow-missing-advisories  let gates run over advisory data that misses an ecosystem of the
                              image or is too old (warned about, not exit 4)

Policy (Anchore Engine bundles, version 1_0 and 2):
      --policy <bundle.json|default>   evaluate the bundle (default: the one Drydock ships);
                              exit 1 on fail, 2 on warn
      --warn-exit-zero        a warn verdict exits 0 (for CI systems that fail on any non-zero)
      --secret-pattern <NAME=REGEX>    a content pattern for secret_scans / files gates, on top of
                              the built-in ones (repeatable; RE2 syntax, ^ and $ per line)
  -q, --quiet                 no progress line
  -h, --help                  this text
  -v, --version               the version

usage: drydock policy validate <bundle.json>
  Checks a bundle (gates, triggers, params, regexes, mappings, allowlists); exit 0 valid, 1 not.

usage: drydock feeds sync [--ecosystem <OSV ecosystem>]... [--debian-tracker] [--osv-url <base>]
  Downloads OSV all.zip feeds (default: ${DEFAULT_OSV_ECOSYSTEMS.join(', ')})
  into <cache-dir>/feeds, with conditional requests: an unchanged feed costs one request.
  --debian-tracker also fetches the Debian Security Tracker's JSON export (most precise for Debian).
  --amazon fetches the Amazon Linux advisories (ALAS) of ${DEFAULT_ALAS_STREAMS.join(', ')}; --alas <stream>
  names streams (${ALAS_STREAMS.map((x) => x.name).join(', ')}; al2-extras = every topic of extras-catalog.json,
  al2-extras/<topic> one), via mirror.list → repomd.xml → updateinfo (sha256-checked), into <cache-dir>/feeds/alas.
  With no feed named, both defaults. --alas-url <base> ($DRYDOCK_ALAS_URL): a mirror holding <base>/<stream>/mirror.list.

usage: drydock submit | results | images | rescan  (against a deployed stack; drydock submit --help)
       drydock feeds sync --stack   runs the stack's feed-sync from here (advisories table, events)

Credentials: DRYDOCK_REGISTRY_USERNAME and DRYDOCK_REGISTRY_PASSWORD for the registry host(s) in
DRYDOCK_REGISTRY_HOST (never sent to any other), else ~/.docker/config.json;
ECR registries use your AWS credentials (ecr:GetAuthorizationToken).

usage: drydock feeds status [--cache-dir <dir>] [--advisories <path>]...
  Lists advisory sources: kind, ecosystems, advisories, when produced and synced, age.

Exit codes: 0 success / policy pass, 1 policy fail or a finding at or above --fail-on (or in KEV, --fail-on-kev),
2 policy warn, 3 scan error, 4 advisory data missing or stale under a gate,
64 usage error (also: an --advisories path that holds no advisory).`;

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '-v' || command === '--version') {
    io.stdout.write(`${TOOL.name} ${TOOL.version}\n`);
    return EXIT.ok;
  }
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return command ? EXIT.ok : EXIT.usage;
  }
  if (command === 'feeds') return feedsCommand(rest, io);
  if (command === 'policy') return policyCommand(rest, io);
  if (command === 'submit' || command === 'results' || command === 'images' || command === 'rescan') {
    const { stackCommand } = await import('./stack.js');
    return stackCommand(command, rest, io);
  }
  if (command !== 'scan') return usage(io, `unknown command "${command}"`);
  let args;
  try {
    args = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        output: { type: 'string', short: 'o', default: 'table' },
        platform: { type: 'string' },
        'all-platforms': { type: 'boolean', default: false },
        'insecure-registry': { type: 'string', multiple: true },
        'registry-timeout': { type: 'string' },
        'cache-dir': { type: 'string' },
        'no-cache': { type: 'boolean', default: false },
        concurrency: { type: 'string' },
        'max-layer-bytes': { type: 'string' },
        'max-entries': { type: 'string' },
        'max-file-bytes': { type: 'string' },
        'max-layers': { type: 'string' },
        limit: { type: 'string', multiple: true },
        advisories: { type: 'string', multiple: true },
        'fail-on': { type: 'string' },
        'fail-on-kev': { type: 'boolean', default: false },
        severity: { type: 'string', multiple: true },
        'max-advisory-age': { type: 'string' },
        'allow-missing-advisories': { type: 'boolean', default: false },
        'ignore-unfixed': { type: 'boolean', default: false },
        'ignore-file': { type: 'string' },
        vex: { type: 'string', multiple: true },
        policy: { type: 'string' },
        'warn-exit-zero': { type: 'boolean', default: false },
        'secret-pattern': { type: 'string', multiple: true },
        quiet: { type: 'boolean', short: 'q', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    return usage(io, (e as Error).message);
  }
  const o = args.values;
  if (o.help) {
    io.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  if (args.positionals.length !== 1) return usage(io, 'scan takes exactly one image reference');
  const image = args.positionals[0]!;
  if (!['table', 'json', 'cyclonedx', 'spdx', 'html'].includes(o.output)) return usage(io, `unknown output "${o.output}" (table, json, cyclonedx, spdx, html)`);
  if (o.platform && o['all-platforms']) return usage(io, '--platform and --all-platforms exclude each other');
  let failOn: Severity | undefined;
  let shownSeverities: Set<Severity> | undefined;
  let maxAgeMs: number;
  let now: Date;
  try {
    failOn = o['fail-on'] === undefined ? undefined : parseSeverity('--fail-on', o['fail-on']);
    shownSeverities = o.severity ? parseSeverityList('--severity', o.severity) : undefined;
    maxAgeMs = parseAge('--max-advisory-age', o['max-advisory-age'] ?? io.env.DRYDOCK_MAX_ADVISORY_AGE ?? DEFAULT_MAX_ADVISORY_AGE);
    now = scanNow(io.env);
  } catch (e) {
    return usage(io, (e as Error).message);
  }
  const allowMissing = o['allow-missing-advisories'] || io.env.DRYDOCK_ALLOW_MISSING_ADVISORIES === '1';

  let progress: TerminalProgress | undefined;
  try {
    const limits: Partial<LayerLimits> = { ...limitsFromEnv(io.env), ...parseLimits(o.limit ?? []) };
    const num = (name: string, v: string | undefined) => (v === undefined ? undefined : positiveInt(name, v));
    const setLimit = (k: keyof LayerLimits, flag: string, v: string | undefined) => {
      const n = num(flag, v);
      if (n !== undefined) limits[k] = n;
    };
    setLimit('maxUncompressedBytes', '--max-layer-bytes', o['max-layer-bytes']);
    setLimit('maxEntries', '--max-entries', o['max-entries']);
    setLimit('maxFileBytes', '--max-file-bytes', o['max-file-bytes']);
    setLimit('maxLayers', '--max-layers', o['max-layers']);
    const concurrency = num('--concurrency', o.concurrency) ?? 2;
    const platform = o['all-platforms'] ? ('all' as const) : o.platform ? parsePlatform(o.platform) : undefined;

    // The bundle is read before the image: a bad bundle fails fast, and nothing is downloaded for nothing.
    const bundle = o.policy === undefined ? undefined : o.policy === 'default' ? loadDefaultBundle() : parseBundle(await readBundleFile(o.policy), o.policy);
    // So are the ignore file and VEX documents.
    const suppressions = await loadSuppressions(o['ignore-file'], o.vex ?? [], now, io, o.quiet);
    const collector = bundle ? policyCollector(o['secret-pattern'] ?? []) : undefined;
    const registryTimeout = num('--registry-timeout', o['registry-timeout']);
    const source = await openSource(image, {
      insecureRegistries: o['insecure-registry'] ?? [],
      credentials: credentials(io.env),
      ...(registryTimeout !== undefined ? { registryTimeouts: { idleMs: registryTimeout * 1000 } } : {}),
    });
    const cacheDir = cacheDirOf(o['cache-dir'], io.env);
    const cache = o['no-cache'] ? undefined : new DirLayerCache(join(cacheDir, 'layers'));
    progress = !o.quiet && io.stderr.isTTY ? new TerminalProgress(io.stderr) : undefined;
    let results: ImageInventory[];
    try {
      results = await scanImage(source, image, { platform, limits, cache, concurrency, progress, ...(collector ? { collector } : {}) });
    } finally {
      progress?.finish();
      await source.close?.();
    }
    for (const r of results) {
      for (const w of r.warnings) io.stderr.write(`warning: ${w.code}: ${w.message}${w.path ? ` [path ${w.path}]` : ''}${w.layer ? ` [layer ${w.layer}]` : ''}\n`);
    }
    const advisoryPaths = o.advisories ?? (await syncedFeeds(join(cacheDir, 'feeds')));
    let matches: Array<MatchResult | undefined> = [];
    let sources: LoadedSource[] = [];
    if (advisoryPaths.length === 0) {
      if (!o.quiet) io.stderr.write(`note: no advisories (run \`drydock feeds sync\`, or pass --advisories <dir|zip>): ${bundle || failOn ? 'vulnerability gates see no data' : 'packages only'}\n`);
    } else {
      ({ matches, sources } = await matchAll(results, advisoryPaths, io, { quiet: o.quiet, ignoreUnfixed: o['ignore-unfixed'], suppressions }));
    }
    // Coverage: every ecosystem of the image must be covered by some loaded source.
    const sourceEcosystems = new Set(sources.flatMap((s) => s.ecosystems));
    const coverages: Coverage[] = results.map((r) => coverageOf(imageEcosystems(r), sourceEcosystems));
    for (const [i, m] of matches.entries()) if (m) m.coverage = coverages[i];
    const freshness = await freshnessOf(groupByPath(advisoryPaths, sources), now);
    const advisoriesUpdatedAt = advisoryPaths.length > 0 ? await oldestUpdate(advisoryPaths) : undefined;
    // The policy engine applies its own allowlists; findings the ignore file or a VEX document suppress never reach its gates.
    const gateView = matches.map((m) => m && { ...m, findings: m.findings.filter((f) => !isExternalSuppression(f)) });
    const contexts = results.map((r, i) => policyContext(r, { now, ...(gateView[i] ? { vulnerabilities: gateView[i] } : {}), ...(advisoriesUpdatedAt ? { advisoriesUpdatedAt } : {}) }));
    // The bundle's allowlists apply to --fail-on too: the findings are marked suppressed, never dropped.
    if (bundle) for (const [i, m] of matches.entries()) if (m) applyBundleAllowlists(bundle, contexts[i]!, m.findings);
    const verdicts: PolicyResult[] = bundle ? contexts.map((ctx) => evaluatePolicy(bundle, ctx)) : [];
    const failOnKev = o['fail-on-kev'];
    const gated = failOn !== undefined || failOnKev || (bundle !== undefined && bundleGatesVulnerabilities(bundle));
    const uncovered = [...new Set(coverages.flatMap((c) => c.uncovered))].sort();
    const stale = maxAgeMs > 0 ? freshness.filter((f) => f.ageMs !== undefined && f.ageMs > maxAgeMs) : [];
    const maxAgeText = o['max-advisory-age'] ?? io.env.DRYDOCK_MAX_ADVISORY_AGE ?? DEFAULT_MAX_ADVISORY_AGE;
    const problems = [
      ...(uncovered.length > 0 ? [`advisory data missing for ${uncovered.join(', ')}: no loaded source covers ${uncovered.length === 1 ? 'it' : 'them'}`] : []),
      ...(failOnKev && !sources.some((s) => s.kind === 'kev') ? ['known-exploited data missing: --fail-on-kev needs a CISA KEV catalog among the advisories (known_exploited_vulnerabilities.json)'] : []),
      ...stale.map((f) => `advisory data stale: ${f.path} (${f.kind}) is ${formatAge(f.ageMs!)} old (${f.producedAt ? `produced ${f.producedAt}` : `synced ${f.syncedAt}`}), older than --max-advisory-age ${maxAgeText}`),
    ];
    // Output filter only: gates below still see every finding.
    const shown = shownSeverities ? matches.map((m) => m && { ...m, findings: m.findings.filter((f) => shownSeverities.has(f.severity)) }) : matches;
    if (o.output === 'json')
      io.stdout.write(
        renderJson(
          results.map((r, i) => ({ ...r, coverage: coverages[i]!, ...(shown[i] ? { vulnerabilities: shown[i] } : {}), ...(verdicts[i] ? { policy: verdicts[i] } : {}) })),
          TOOL,
          { advisorySources: freshness.map(jsonFreshness), ...(problems.length > 0 ? { advisoryProblems: problems } : {}) },
        ),
      );
    else if (o.output === 'cyclonedx' || o.output === 'spdx') {
      if (results.length !== 1) throw new DrydockError('CONFIG', 'an SBOM describes one image: pick one platform with --platform instead of --all-platforms');
      // Loaded on demand: the SBOM libraries cost every other run their start-up time.
      if (o.output === 'cyclonedx') io.stdout.write((await import('../report/cyclonedx.js')).renderCycloneDx(results[0]!, TOOL, shown[0]));
      else io.stdout.write((await import('../report/spdx.js')).renderSpdx(results[0]!, TOOL));
    } else if (o.output === 'html') {
      if (results.length !== 1) throw new DrydockError('CONFIG', 'an HTML report describes one image: pick one platform with --platform instead of --all-platforms');
      const { renderHtmlReport } = await import('../report/html.js');
      io.stdout.write(
        renderHtmlReport({ inventory: results[0]!, coverage: coverages[0]!, ...(shown[0] ? { match: shown[0] } : {}), ...(verdicts[0] ? { policy: verdicts[0] } : {}), ...(problems.length > 0 ? { problems } : {}), tool: TOOL }),
      );
    } else {
      io.stdout.write(renderTable(results, shown, { coverages }));
      for (const v of verdicts) io.stdout.write(renderPolicy(v));
    }
    // Fail closed: a gate over data that misses an ecosystem, or is too old, cannot pass.
    if (problems.length > 0) {
      if (gated && !allowMissing) {
        for (const p of problems) io.stderr.write(`drydock: ${p}\n`);
        io.stderr.write(`drydock: the gate cannot pass on this data (exit ${EXIT.dataMissing}); sync or pass the missing advisories, or accept the gap with --allow-missing-advisories${stale.length > 0 ? ' (or --max-advisory-age 0 for age alone)' : ''}\n`);
        return EXIT.dataMissing;
      }
      // (with no advisories at all and no gate, the note above said it already)
      if ((!o.quiet || gated) && (advisoryPaths.length > 0 || gated)) for (const p of problems) io.stderr.write(`warning: ${p}${allowMissing ? ' (accepted: --allow-missing-advisories)' : ''}\n`);
    }
    const verdictCode = verdicts.some((v) => v.verdict === 'fail') ? EXIT.fail : verdicts.some((v) => v.verdict === 'warn') && !o['warn-exit-zero'] ? EXIT.warn : EXIT.ok;
    if (verdictCode === EXIT.fail) return EXIT.fail;
    if (failOnKev) {
      const kev = matches.flatMap((m) => m?.findings ?? []).filter((f) => f.kev && !f.suppressed);
      if (kev.length > 0) {
        io.stderr.write(`drydock: ${kev.length} known exploited finding(s) (CISA KEV: ${[...new Set(kev.map((f) => f.id))].slice(0, 5).join(', ')}${kev.length > 5 ? ', …' : ''}) (--fail-on-kev)\n`);
        return EXIT.fail;
      }
    }
    if (failOn) {
      const bar = severityRank(failOn);
      const hits = matches.flatMap((m) => m?.findings ?? []).filter((f) => severityRank(f.severity) >= bar);
      const worst = hits.filter((f) => !f.suppressed);
      const suppressed = hits.length - worst.length;
      if (worst.length > 0) {
        io.stderr.write(`drydock: ${worst.length} finding(s) at or above ${failOn} (--fail-on ${failOn})${suppressed > 0 ? `; ${suppressed} more suppressed by the policy allowlist, ignore file or VEX` : ''}\n`);
        return EXIT.fail;
      }
      if (suppressed > 0 && !o.quiet) io.stderr.write(`note: ${suppressed} finding(s) at or above ${failOn} suppressed by the policy allowlist, ignore file or VEX (--fail-on ${failOn} passes)\n`);
    }
    return verdictCode;
  } catch (e) {
    if (isDrydockError(e)) {
      io.stderr.write(`drydock: ${e.code}: ${e.message}\n`);
      return e.code === 'CONFIG' ? EXIT.usage : EXIT.scanError;
    }
    // A bug, not the image's fault: named in one line; the stack only when asked for.
    const err = e instanceof Error ? e : new Error(String(e));
    io.stderr.write(io.env.DRYDOCK_DEBUG ? `drydock: unexpected error: ${err.stack ?? err.message}\n` : `drydock: unexpected error: ${err.name}: ${err.message} (DRYDOCK_DEBUG=1 shows where)\n`);
    return EXIT.scanError;
  }
}

/** Suppressed by the ignore file or a VEX document (not by a policy allowlist, which the policy engine applies itself). */
function isExternalSuppression(f: Finding): boolean {
  return f.suppressed?.by === 'ignore-file' || f.suppressed?.by === 'vex';
}

/** The ignore file (named, else ./.drydockignore.yaml when present) and the VEX documents; expired entries warned about. */
async function loadSuppressions(ignoreFile: string | undefined, vexPaths: readonly string[], now: Date, io: CliIO, quiet: boolean): Promise<Suppressions | undefined> {
  const read = async (path: string, what: string, max: number, optional: boolean): Promise<string | undefined> => {
    const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
      if (optional && e.code === 'ENOENT') return undefined;
      throw new DrydockError('CONFIG', `${what} ${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
    });
    if (!st) return undefined;
    if (!st.isFile()) throw new DrydockError('CONFIG', `${what} ${path}: not a file`);
    if (st.size > max) throw new DrydockError('CONFIG', `${what} ${path}: ${st.size} bytes, larger than the limit of ${max} bytes`);
    return readFile(path, 'utf8');
  };
  const path = ignoreFile ?? DEFAULT_IGNORE_FILE;
  const text = await read(path, 'ignore file', SUPPRESS_LIMITS.maxIgnoreFileBytes, ignoreFile === undefined);
  const out: Suppressions = { ignore: [], vex: [] };
  if (text !== undefined) {
    const parsed = parseIgnoreFile(text, path, now);
    out.ignore = parsed.entries;
    for (const w of parsed.warnings) io.stderr.write(`warning: ${w}\n`);
    if (!quiet && ignoreFile === undefined) io.stderr.write(`note: ignore file ${path}: ${parsed.entries.length} entr${parsed.entries.length === 1 ? 'y' : 'ies'} in force\n`);
  }
  for (const p of vexPaths) out.vex.push(...parseVex((await read(p, 'VEX document', SUPPRESS_LIMITS.maxVexBytes, false))!, p));
  return out.ignore.length > 0 || out.vex.length > 0 ? out : undefined;
}

function cacheDirOf(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag ?? env.DRYDOCK_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'drydock');
}

/** Loads the advisories once for the keys of every scanned image, then matches each image. */
async function matchAll(
  results: ImageInventory[],
  paths: string[],
  io: CliIO,
  opts: { quiet: boolean; ignoreUnfixed: boolean; suppressions?: Suppressions },
): Promise<{ matches: MatchResult[]; sources: LoadedSource[] }> {
  const keys = new Set<string>();
  for (const r of results) for (const p of r.packages) for (const l of lookupsFor(p, r.distro).lookups) keys.add(packageKeyString(l.key));
  const store = new MemoryAdvisoryStore((k) => keys.has(packageKeyString(k)));
  const tty = !opts.quiet && io.stderr.isTTY;
  const summary = await loadAdvisories(paths, store, { progress: tty ? (n) => io.stderr.write(`\rloading advisories: ${n} records`) : undefined });
  if (tty) io.stderr.write('\r\x1b[K');
  // A path that holds no advisory (README.md, an empty directory, a JSON of another kind) is
  // the user naming the wrong thing, not data that says "no vulnerabilities": a usage error.
  for (const p of paths) {
    const under = summary.sources.filter((s) => s.path === p || s.path.startsWith(p.endsWith(sep) ? p : `${p}${sep}`));
    if (under.some((s) => s.advisories > 0 || !ADVISORY_KINDS.has(s.kind))) continue;
    const why = summary.issues.find((i) => i.where === p || i.where.startsWith(`${p}${sep}`));
    throw new DrydockError('CONFIG', `advisories: ${p} holds no advisory Drydock reads (OSV records or all.zip, Debian tracker JSON or list entries, Alpine secdb, Amazon Linux updateinfo or ALAS JSON)${why ? `: ${why.where}: ${why.message}` : under.length > 0 ? ': no records' : ': no advisory files'}`);
  }
  if (summary.issues.length > 0) {
    io.stderr.write(`warning: ${summary.issues.length} advisory record(s) could not be read, e.g. ${summary.issues[0]!.where}: ${summary.issues[0]!.message}\n`);
  }
  const out: MatchResult[] = [];
  for (const r of results) {
    const m = await matchInventory(r, store, opts.suppressions ? { suppressions: opts.suppressions, imageDigests: [r.image.manifestDigest, ...(r.image.indexDigest ? [r.image.indexDigest] : [])] } : {});
    if (opts.ignoreUnfixed) m.findings = m.findings.filter((f) => f.fixState === 'fixed');
    m.counts.findings = m.findings.length;
    for (const i of m.issues) io.stderr.write(`warning: ${i.message}\n`);
    out.push(m);
  }
  return { matches: out, sources: summary.sources };
}

function jsonFreshness(f: SourceFreshness) {
  return { ...f, ...(f.ageMs !== undefined ? { ageDays: Math.floor(f.ageMs / 86_400_000) } : {}) };
}

const FEEDS_USAGE =
  'usage: drydock feeds sync [--ecosystem <OSV ecosystem>]... [--debian-tracker] [--osv-url <base>] [--amazon] [--alas <stream>]... [--alas-url <base>] [--cache-dir <dir>] [--stack]\n       drydock feeds status [--cache-dir <dir>] [--advisories <path>]...';

/**
 * `drydock feeds status`: every source (the synced feeds, or the --advisories paths) with its
 * kind, the ecosystems it covers, its advisory count, when it was produced and synced, and its
 * age against --max-advisory-age ($DRYDOCK_MAX_ADVISORY_AGE, default 5d). Reads every record
 * (nothing is kept in memory beyond the counts).
 */
async function feedsStatus(cacheDirFlag: string | undefined, advisories: string[] | undefined, io: CliIO): Promise<number> {
  try {
    const now = scanNow(io.env);
    const maxAgeMs = parseAge('DRYDOCK_MAX_ADVISORY_AGE', io.env.DRYDOCK_MAX_ADVISORY_AGE ?? DEFAULT_MAX_ADVISORY_AGE);
    const paths = advisories ?? (await syncedFeeds(join(cacheDirOf(cacheDirFlag, io.env), 'feeds')));
    if (paths.length === 0) {
      io.stdout.write('no advisory sources: run `drydock feeds sync`, or name them with --advisories <path>\n');
      return EXIT.ok;
    }
    const summary = await loadAdvisories(paths, new MemoryAdvisoryStore(() => false));
    const fresh = await freshnessOf(groupByPath(paths, summary.sources), now);
    const day = (iso: string | undefined) => (iso ? iso.slice(0, 16).replace('T', ' ') : '-');
    const rows = fresh.map((f) => [
      f.path,
      f.kind,
      f.ecosystems.length > 4 ? `${f.ecosystems.slice(0, 4).join(' ')} +${f.ecosystems.length - 4}` : f.ecosystems.join(' ') || '-',
      String(f.advisories),
      day(f.producedAt),
      day(f.syncedAt),
      f.ageMs === undefined ? '-' : `${formatAge(f.ageMs)}${maxAgeMs > 0 && f.ageMs > maxAgeMs ? ' STALE' : ''}`,
    ]);
    const all = [['SOURCE', 'KIND', 'ECOSYSTEMS', 'ADVISORIES', 'PRODUCED', 'SYNCED', 'AGE'], ...rows];
    const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
    for (const r of all) io.stdout.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()}\n`);
    return EXIT.ok;
  } catch (e) {
    io.stderr.write(`drydock: ${isDrydockError(e) ? `${e.code}: ${e.message}` : (e as Error).message}\n`);
    return isDrydockError(e) && e.code === 'CONFIG' ? EXIT.usage : EXIT.scanError;
  }
}

async function feedsCommand(argv: string[], io: CliIO): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ecosystem: { type: 'string', multiple: true },
        'debian-tracker': { type: 'boolean', default: false },
        'osv-url': { type: 'string' },
        'debian-tracker-url': { type: 'string' },
        alas: { type: 'string', multiple: true },
        amazon: { type: 'boolean', default: false },
        'alas-url': { type: 'string' },
        'cache-dir': { type: 'string' },
        advisories: { type: 'string', multiple: true },
        stack: { type: 'boolean', default: false },
        quiet: { type: 'boolean', short: 'q', default: false },
      },
    });
  } catch (e) {
    io.stderr.write(`drydock: ${(e as Error).message}\n${FEEDS_USAGE}\n`);
    return EXIT.usage;
  }
  if (args.positionals.length !== 1 || !['sync', 'status'].includes(args.positionals[0]!)) {
    io.stderr.write(`drydock: feeds takes one subcommand: sync or status\n${FEEDS_USAGE}\n`);
    return EXIT.usage;
  }
  const o = args.values;
  if (args.positionals[0] === 'status') return feedsStatus(o['cache-dir'], o.advisories, io);
  if (o.stack) {
    // the deployed stack's feed-sync, run from here: advisories table, feed state in the bucket, events on the bus
    const { feedsSyncStack } = await import('./stack.js');
    const alasStack = [...new Set([...(o.amazon ? DEFAULT_ALAS_STREAMS : []), ...(o.alas ?? [])])];
    try {
      validateAlasStreamNames(alasStack);
    } catch (e) {
      io.stderr.write(`drydock: ${(e as Error).message}\n`);
      return EXIT.usage;
    }
    const alasUrl = o['alas-url'] ?? io.env.DRYDOCK_ALAS_URL;
    return feedsSyncStack(o.ecosystem ?? DEFAULT_OSV_ECOSYSTEMS, o['osv-url'] ?? io.env.DRYDOCK_OSV_URL, io, { streams: alasStack, ...(alasUrl ? { baseUrl: alasUrl } : {}) });
  }
  const dir = join(cacheDirOf(o['cache-dir'], io.env), 'feeds');
  // Amazon Linux streams: --alas <stream>... and/or --amazon (the default streams); with no feed named at all, the defaults of both
  const alasOnly = !o.ecosystem && !o['debian-tracker'] && !o['debian-tracker-url'] && (o.amazon || Boolean(o.alas));
  const nothingNamed = !o.ecosystem && !o['debian-tracker'] && !o['debian-tracker-url'] && !o.amazon && !o.alas;
  const alasNames = [...new Set([...(o.amazon || nothingNamed ? DEFAULT_ALAS_STREAMS : []), ...(o.alas ?? [])])];
  try {
    validateAlasStreamNames(alasNames);
  } catch (e) {
    io.stderr.write(`drydock: ${(e as Error).message}\n${FEEDS_USAGE}\n`);
    return EXIT.usage;
  }
  const feeds = alasOnly ? [] : (o.ecosystem ?? DEFAULT_OSV_ECOSYSTEMS).map((e) => osvFeed(e, o['osv-url'] ?? io.env.DRYDOCK_OSV_URL));
  if (o['debian-tracker'] || o['debian-tracker-url']) feeds.push(debianTrackerFeed(o['debian-tracker-url']));
  const tty = !o.quiet && io.stderr.isTTY;
  let failed = 0;
  let offline = false;
  for (const feed of feeds) {
    try {
      const r = await syncFeed(feed, {
        dir,
        progress: tty ? (name, bytes, total) => io.stderr.write(`\r${name}: ${(bytes / 1048576).toFixed(1)}${total ? ` of ${(total / 1048576).toFixed(1)}` : ''} MiB`) : undefined,
      });
      if (tty) io.stderr.write('\r\x1b[K');
      io.stdout.write(`${r.feed}: ${r.status} (${r.bytes} bytes) ${r.path}\n`);
    } catch (e) {
      if (tty) io.stderr.write('\r\x1b[K');
      failed++;
      io.stderr.write(`drydock: ${feed.name}: ${isDrydockError(e) ? `${e.code}: ${e.message}` : (e as Error).message}\n`);
      // Offline, every other feed fails the same way: say it once.
      if (isDrydockError(e) && e.code === 'NETWORK' && /cannot reach/.test(e.message)) {
        offline = true;
        break;
      }
    }
  }
  if (alasNames.length > 0 && !offline) failed += await syncAlas(alasNames, dir, o['alas-url'] ?? io.env.DRYDOCK_ALAS_URL, io);
  return failed > 0 ? EXIT.scanError : EXIT.ok;
}

/** `feeds sync` for Amazon Linux streams (shared/advisories/alas-feed.ts): the number that failed. */
async function syncAlas(names: string[], dir: string, baseUrl: string | undefined, io: CliIO): Promise<number> {
  const opts = { streams: baseUrl ? alasSourcesAt(baseUrl) : ALAS_STREAMS };
  const say = (name: string, e: unknown) => io.stderr.write(`drydock: ${name}: ${isDrydockError(e) ? `${e.code}: ${e.message}` : (e as Error).message}\n`);
  const isOffline = (e: unknown) => isDrydockError(e) && e.code === 'NETWORK' && /cannot reach/.test(e.message);
  let streams;
  try {
    streams = await resolveAlasStreams(names, opts);
  } catch (e) {
    say('alas', e);
    return 1;
  }
  let failed = 0;
  for (const stream of streams) {
    try {
      const r = await syncAlasStreamToCache(stream, dir, opts);
      io.stdout.write(r.status === 'none' ? `${r.feed}: no updateinfo published\n` : `${r.feed}: ${r.status} (${r.bytes} bytes) ${r.path}\n`);
    } catch (e) {
      failed++;
      say(`alas/${stream.name}`, e);
      if (isOffline(e)) break;
    }
  }
  return failed;
}

async function readBundleFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new DrydockError('CONFIG', `policy bundle ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

/** When the advisory data was last refreshed: the oldest of the sources (a synced feed's last check). */
async function oldestUpdate(paths: string[]): Promise<Date | undefined> {
  let oldest: Date | undefined;
  for (const p of paths) {
    const st = await stat(`${p}.meta.json`).catch(() => stat(p).catch(() => undefined));
    if (st && (!oldest || st.mtime < oldest)) oldest = st.mtime;
  }
  return oldest;
}

async function policyCommand(argv: string[], io: CliIO): Promise<number> {
  const [sub, path, ...extra] = argv;
  if (sub !== 'validate' || !path || extra.length > 0) {
    io.stderr.write('drydock: usage: drydock policy validate <bundle.json>\n');
    return EXIT.usage;
  }
  try {
    const bundle = path === 'default' ? loadDefaultBundle() : parseBundle(await readBundleFile(path), path);
    const rules = bundle.policies.reduce((n, p) => n + p.rules.length, 0);
    io.stdout.write(
      `${path}: valid (version ${bundle.version}): ${bundle.policies.length} policies, ${rules} rules, ${bundle.allowlists.length} allowlists, ${bundle.mappings.length} mappings; ${bundleDigest(bundle)}\n`,
    );
    return EXIT.ok;
  } catch (e) {
    if (!isDrydockError(e)) throw e;
    io.stderr.write(`drydock: ${e.message}\n`);
    return EXIT.fail;
  }
}

function usage(io: CliIO, why: string): number {
  io.stderr.write(`drydock: ${why}\n\n${USAGE}\n`);
  return EXIT.usage;
}

function positiveInt(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new DrydockError('CONFIG', `${flag} needs a positive whole number, got "${v}"`);
  return n;
}

/** Explicit credentials from the environment first, then Docker's config file (ECR hosts fall back to ECR tokens). */
function credentials(env: NodeJS.ProcessEnv): CredentialProvider {
  const fromEnv = envCredentials(env); // bound to DRYDOCK_REGISTRY_HOST
  const docker = dockerConfigCredentials();
  return fromEnv ? chainCredentials(fromEnv, docker) : docker;
}
