/**
 * `drydock scan <image>`: packages, vulnerabilities, policy verdict; outputs and gates.
 *
 * Start-up: what only some scans use is imported where it is used (advisories and matching,
 * suppressions, the policy engine and its secret scanner, the table renderer), so a scan
 * without them does not load and compile a megabyte of YAML, JSON Schema, RE2 and version code;
 * nor does a scan of a local image load the registry client, its credential helpers (node:http,
 * node:tls, node:child_process; see image/open.ts and `credentials` below).
 */
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { DirLayerCache } from '../../adapters/local/dir-layer-cache.js';
import type { LoadedSource } from '../../advisories/load.js';
import type { Severity } from '../../advisories/types.js';
import { coverageOf, imageEcosystems } from '../../match/coverage.js';
import type { Coverage, Finding, MatchResult } from '../../match/index.js';
import type { Suppressions } from '../../match/suppress.js';
import { policyContext } from '../../policy/context.js';
import type { PolicyResult } from '../../policy/types.js';
import { packageKeyString } from '../../ports/advisory-store.js';
import { DrydockError } from '../../errors.js';
import type { CredentialProvider } from '../../image/auth.js';
import { openSource } from '../../image/open.js';
import { parsePlatform } from '../../image/platform.js';
import { parseReference } from '../../image/reference.js';
import { limitsFromEnv, parseLimits, type LayerLimits } from '../../layers/extract.js';
import { renderJson } from '../../report/json.js';
import { scanImage, type ImageInventory } from '../../scan.js';
import { TOOL } from '../../version.js';
import { bundleGatesVulnerabilities, DEFAULT_MAX_ADVISORY_AGE, formatAge, freshnessOf, groupByPath, parseAge, parseSeverity, parseSeverityList, scanNow, type SourceFreshness } from '../gate.js';
import { cacheDirOf, failure, positiveInt, readBundleFile } from '../common.js';
import { EXIT, UsageError, type CliIO } from '../io.js';
import { OUTPUT_FORMATS, type Parsed, type Values, SCAN_OPTIONS } from '../options.js';
import { usageLine } from '../args.js';
import { commandNamed } from '../options.js';
import { TerminalProgress } from '../progress.js';
import type { ImageSignatureResult } from '../../trust/index.js';
import type { BaseImageInfo, RebuildAdvice } from '../../base/types.js';

type Format = (typeof OUTPUT_FORMATS)[number];
export interface OutputTarget {
  format: Format;
  /** undefined: stdout */
  path?: string;
}

/** Advisory source kinds that hold advisories; a source of another kind (severity data) counts as content too. */
const ADVISORY_KINDS = new Set(['osv-zip', 'osv', 'debian-tracker-json', 'debian-vuln-list', 'alpine-secdb', 'alas-updateinfo', 'alas-json']);

/**
 * match/suppress.ts's DEFAULT_IGNORE_FILE, repeated here so that a scan with no ignore file and
 * no VEX document does not load that module (test/cli/startup-lazy.test.ts holds the two equal).
 */
export const DEFAULT_IGNORE_FILE = '.drydockignore.yaml';

/** The password read by --password-stdin is at most this long. */
export const MAX_PASSWORD_BYTES = 64 * 1024;

function usage(message: string): UsageError {
  return new UsageError(message, usageLine(commandNamed('scan')!));
}

/**
 * `-o table -o sarif=report.sarif -o json=out.json [--output-file <path>]`: every format once
 * per file, at most one to stdout; --output-file is where the one without a file goes.
 */
export function parseOutputs(values: readonly string[], outputFile: string | undefined): OutputTarget[] {
  const targets: OutputTarget[] = values.map((v) => {
    const eq = v.indexOf('=');
    const format = (eq < 0 ? v : v.slice(0, eq)).trim().toLowerCase();
    if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) throw usage(`unknown output "${eq < 0 ? v : v.slice(0, eq)}" (${OUTPUT_FORMATS.join(', ')})`);
    const path = eq < 0 ? undefined : v.slice(eq + 1);
    if (path === '') throw usage(`-o ${format}= needs a file name after "="`);
    return { format: format as Format, ...(path !== undefined ? { path } : {}) };
  });
  const toStdout = targets.filter((t) => t.path === undefined);
  if (toStdout.length > 1) throw usage(`at most one output goes to stdout, got ${toStdout.map((t) => t.format).join(' and ')}: give the others a file (-o ${toStdout[1]!.format}=<file>)`);
  if (outputFile !== undefined) {
    if (toStdout.length === 0) throw usage('--output-file is the file of the one -o without "=<file>", and every -o names its own');
    toStdout[0]!.path = outputFile;
  }
  const seen = new Set<string>();
  for (const t of targets) {
    if (t.path === undefined) continue;
    const key = resolve(t.path);
    if (seen.has(key)) throw usage(`two outputs would be written to ${t.path}`);
    seen.add(key);
  }
  return targets;
}

/** --exit-code <n>: 0 to 255. */
function exitCodeOf(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 255 || v.trim() === '') throw usage(`--exit-code needs a whole number from 0 to 255, got "${v}"`);
  return n;
}

/** Reads the registry password from standard input (bounded, one trailing newline dropped). */
async function readPassword(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += b.length;
    if (size > MAX_PASSWORD_BYTES) throw usage(`--password-stdin: more than ${MAX_PASSWORD_BYTES} bytes on standard input (MAX_PASSWORD_BYTES)`);
    chunks.push(b);
  }
  const text = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (!text) throw usage('--password-stdin: standard input is empty');
  return text;
}

/**
 * Explicit credentials first (--username/--password-stdin for the image's own registry host;
 * DRYDOCK_REGISTRY_* for DRYDOCK_REGISTRY_HOST), then Docker's config file (ECR hosts fall back
 * to ECR tokens), after the containers auth file of podman and skopeo when there is one.
 */
async function credentials(image: string, o: Values<typeof SCAN_OPTIONS>, io: CliIO): Promise<CredentialProvider> {
  // Only the local files are left (nothing given, nothing to check): they are read, and auth.ts
  // with its credential helpers loaded, when a registry first asks (never, for a local image).
  if (o.username === undefined && !o['password-stdin'] && !(io.env.DRYDOCK_REGISTRY_USERNAME && io.env.DRYDOCK_REGISTRY_PASSWORD)) {
    let local: Promise<CredentialProvider> | undefined;
    return { get: async (registry, signal) => (await (local ??= import('../../image/auth.js').then((a) => a.localCredentials(io.env)))).get(registry, signal) };
  }
  const { chainCredentials, envCredentials, hostCredentials, localCredentials } = await import('../../image/auth.js');
  const providers: CredentialProvider[] = [];
  if (o.username !== undefined || o['password-stdin']) {
    if (o.username === undefined) throw usage('--password-stdin needs --username');
    if (!o['password-stdin']) throw usage('--username needs --password-stdin (the password is never taken from the command line)');
    const ref = parseReference(image);
    if (ref.kind !== 'registry') throw usage(`--username and --password-stdin are for registry images; ${image} is read from ${ref.kind}:`);
    providers.push(hostCredentials([ref.registry], o.username, await readPassword(io.stdin ?? process.stdin)));
  }
  const fromEnv = envCredentials(io.env); // bound to DRYDOCK_REGISTRY_HOST
  if (fromEnv) providers.push(fromEnv);
  providers.push(localCredentials(io.env)); // containers auth.json (podman, skopeo), then Docker's config and its credential helpers
  return providers.length === 1 ? providers[0]! : chainCredentials(...providers);
}

export async function run(args: Parsed, io: CliIO): Promise<number> {
  const o = args.values as Values<typeof SCAN_OPTIONS>;
  let outputs: OutputTarget[];
  let failOn: Severity | undefined;
  let shownSeverities: Set<Severity> | undefined;
  let maxAgeMs: number;
  let now: Date;
  let exitCode: number | undefined;
  try {
    if (args.positionals.length !== 1) throw usage(`scan takes exactly one image reference${args.positionals.length > 1 ? `, got ${args.positionals.length}` : ''}`);
    if (o.platform && o['all-platforms']) throw usage('--platform and --all-platforms exclude each other');
    outputs = parseOutputs(o.output, o['output-file']);
    exitCode = exitCodeOf(o['exit-code']);
    failOn = o['fail-on'] === undefined ? undefined : parseSeverity('--fail-on', o['fail-on']);
    shownSeverities = o.severity ? parseSeverityList('--severity', o.severity) : undefined;
    maxAgeMs = parseAge('--max-advisory-age', o['max-advisory-age'] ?? DEFAULT_MAX_ADVISORY_AGE);
    now = scanNow(io.env);
  } catch (e) {
    if (e instanceof DrydockError && e.code === 'CONFIG') return failure(usage(e.message), io);
    return failure(e, io);
  }
  const image = args.positionals[0]!;
  const allowMissing = o['allow-missing-advisories'];

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
    const policy = o.policy === undefined ? undefined : await import('../../policy/index.js');
    const bundle = policy === undefined || o.policy === undefined ? undefined : o.policy === 'default' ? policy.loadDefaultBundle() : policy.parseBundle(await readBundleFile(o.policy), o.policy);
    // and the trust policy (signatures are read from the image's registry)
    const trust = o['trust-policy'] === undefined ? undefined : await import('../../trust/index.js');
    const trustPolicy = trust && o['trust-policy'] !== undefined ? await trust.loadTrustPolicy(o['trust-policy']) : undefined;
    if (trustPolicy && parseReference(image).kind !== 'registry') throw usage(`--trust-policy: signatures are read from a registry; ${image} is not a registry image`);
    // and the trusted base list (its repository:tag entries are resolved after the scan, for the image's platform)
    const baseImages = o['base-images'] === undefined ? undefined : await import('../base-images.js');
    const baseList = baseImages && o['base-images'] !== undefined ? await baseImages.loadTrustedBaseList(o['base-images']) : undefined;
    const baseTargets = baseImages && baseList ? baseImages.baseTargets(baseList) : [];
    // So are the ignore file and VEX documents, and the password.
    const suppressions = await loadSuppressions(o['ignore-file'], o.vex ?? [], now, io, o.quiet);
    const collector = bundle ? (await import('../../policy/collector.js')).policyCollector(o['secret-pattern'] ?? []) : undefined;
    const registryTimeout = num('--registry-timeout', o['registry-timeout']);
    const creds = await credentials(image, o, io);
    const source = await openSource(image, {
      insecureRegistries: o['insecure-registry'] ?? [],
      credentials: creds,
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
    // Signatures of what was scanned (cosign signs what the tag names: an index's digest when there is one)
    const signatures: ImageSignatureResult[] = [];
    const RegistrySource = trustPolicy ? (await import('../../image/registry.js')).RegistrySource : undefined;
    if (trustPolicy && !(RegistrySource && source instanceof RegistrySource)) throw usage(`--trust-policy: ${image} was read from ${source.name}, not a registry: its signatures cannot be checked`);
    if (trust && trustPolicy && RegistrySource && source instanceof RegistrySource) {
      const ref = parseReference(image);
      if (ref.kind === 'registry') {
        for (const r of results) {
          let result = await trust.verifyImageSignatures(source.client, { registry: ref.registry, repository: ref.repository }, r.image.manifestDigest, trustPolicy);
          if (result.status === 'unsigned' && r.image.indexDigest) result = await trust.verifyImageSignatures(source.client, { registry: ref.registry, repository: ref.repository }, r.image.indexDigest, trustPolicy);
          signatures.push(result);
        }
      }
    }
    for (const r of results) {
      for (const w of r.warnings) io.stderr.write(`warning: ${w.code}: ${w.message}${w.path ? ` [path ${w.path}]` : ''}${w.layer ? ` [layer ${w.layer}]` : ''}\n`);
    }
    // The base of each image under the trusted base list (a base that cannot be resolved is a warning, and identifyBase says unknown)
    const baseRegistry = {
      insecureRegistries: o['insecure-registry'] ?? [],
      credentials: creds,
      ...(registryTimeout !== undefined ? { registryTimeouts: { idleMs: registryTimeout * 1000 } } : {}),
      ...(limits.maxLayers !== undefined ? { maxLayers: limits.maxLayers } : {}),
      now,
    };
    const bases: Array<BaseImageInfo | undefined> = [];
    if (baseImages && baseList) {
      for (const r of results) {
        const found = await baseImages.resolveBase(r, baseList, baseTargets, baseRegistry);
        for (const w of found.warnings) io.stderr.write(`warning: ${w}\n`);
        if (trust && trustPolicy && found.base.status === 'identified') found.base.signature = await baseImages.verifyBaseSignature(found.base, trust, trustPolicy, baseRegistry);
        bases.push(found.base);
      }
    }
    const feedsDir = join(cacheDir, 'feeds');
    const advisoryPaths = o.advisories ?? (existsSync(feedsDir) ? await (await import('../../advisories/load.js')).syncedFeeds(feedsDir) : []);
    let matches: Array<MatchResult | undefined> = [];
    let sources: LoadedSource[] = [];
    // with --base-images: per image, the index (among results + newer bases) of its newest base's match
    const newestOf: number[] = [];
    let newestMatches: Array<MatchResult | undefined> = [];
    const anyGate = bundle !== undefined || failOn !== undefined || o['fail-on-kev'] || exitCode !== undefined;
    if (advisoryPaths.length === 0) {
      if (!o.quiet) io.stderr.write(`note: no advisories (run \`drydock feeds sync\`, or pass --advisories <dir|zip>): ${anyGate ? 'vulnerability gates see no data' : 'packages only'}\n`);
    } else {
      // a newer digest of a base's tag is scanned too (same cache and advisories): its findings are what a rebuild keeps
      const newer: ImageInventory[] = [];
      if (baseImages) {
        for (const [i, b] of bases.entries()) {
          if (!b?.newest) continue;
          if (!o.quiet) io.stderr.write(`scanning newer base ${b.registry}/${b.repository}:${b.newest.tag}@${b.newest.digest} for rebuild advice ...\n`);
          const inv = await baseImages.scanNewestBase(b, results[i]!, baseRegistry, { limits, ...(cache ? { cache } : {}), concurrency }, (w) => io.stderr.write(`warning: ${w}\n`));
          if (inv) {
            newestOf[i] = results.length + newer.length;
            newer.push(inv);
          }
        }
      }
      ({ matches, sources } = await matchAll([...results, ...newer], advisoryPaths, io, { quiet: o.quiet, ignoreUnfixed: o['ignore-unfixed'], ...(suppressions ? { suppressions } : {}) }));
      newestMatches = matches.splice(results.length);
    }
    // Coverage: every ecosystem of the image must be covered by some loaded source.
    const sourceEcosystems = new Set(sources.flatMap((s) => s.ecosystems));
    const coverages: Coverage[] = results.map((r) => coverageOf(imageEcosystems(r), sourceEcosystems));
    for (const [i, m] of matches.entries()) if (m) m.coverage = coverages[i];
    const freshness = await freshnessOf(groupByPath(advisoryPaths, sources), now);
    const advisoriesUpdatedAt = advisoryPaths.length > 0 ? await oldestUpdate(advisoryPaths) : undefined;
    // The policy engine applies its own allowlists; findings the ignore file or a VEX document suppress never reach its gates.
    const gateView = matches.map((m) => m && { ...m, findings: m.findings.filter((f) => !isExternalSuppression(f)) });
    const contexts = results.map((r, i) => ({
      ...policyContext(r, { now, ...(gateView[i] ? { vulnerabilities: gateView[i] } : {}), ...(advisoriesUpdatedAt ? { advisoriesUpdatedAt } : {}), ...(bases[i] ? { base: bases[i] } : {}) }),
      ...(signatures[i] ? { signatures: signatures[i] } : {}),
    }));
    // The bundle's allowlists apply to --fail-on too: the findings are marked suppressed, never dropped.
    if (bundle) {
      const { applyBundleAllowlists } = await import('../allowlists.js');
      for (const [i, m] of matches.entries()) if (m) applyBundleAllowlists(bundle, contexts[i]!, m.findings);
    }
    const verdicts: PolicyResult[] = policy && bundle ? contexts.map((ctx) => policy.evaluatePolicy(bundle, ctx)) : [];
    const failOnKev = o['fail-on-kev'];
    const gated = failOn !== undefined || failOnKev || exitCode !== undefined || (bundle !== undefined && bundleGatesVulnerabilities(bundle));
    const uncovered = [...new Set(coverages.flatMap((c) => c.uncovered))].sort();
    const stale = maxAgeMs > 0 ? freshness.filter((f) => f.ageMs !== undefined && f.ageMs > maxAgeMs) : [];
    const maxAgeText = o['max-advisory-age'] ?? DEFAULT_MAX_ADVISORY_AGE;
    const problems = [
      ...(uncovered.length > 0 ? [`advisory data missing for ${uncovered.join(', ')}: no loaded source covers ${uncovered.length === 1 ? 'it' : 'them'}`] : []),
      ...(failOnKev && !sources.some((s) => s.kind === 'kev') ? ['known-exploited data missing: --fail-on-kev needs a CISA KEV catalog among the advisories (known_exploited_vulnerabilities.json)'] : []),
      ...stale.map((f) => `advisory data stale: ${f.path} (${f.kind}) is ${formatAge(f.ageMs!)} old (${f.producedAt ? `produced ${f.producedAt}` : `synced ${f.syncedAt}`}), older than --max-advisory-age ${maxAgeText}`),
    ];
    // Output filter only: --fail-on and policies still see every finding.
    const filtered = shownSeverities ? matches.map((m) => m && { ...m, findings: m.findings.filter((f) => shownSeverities.has(f.severity)) }) : matches;
    // with --base-images every finding shown says its layer group (base or application)
    const shown = baseImages ? filtered.map((m, i) => (m && bases[i] ? { ...m, findings: baseImages.splitFindings(m.findings, contexts[i]!.layerIds ?? [], bases[i]) } : m)) : filtered;
    // Rebuild advice: the base-layer findings (after every suppression) the newest digest of the base's tag no longer has
    const rebuild: Array<RebuildAdvice | undefined> = baseImages
      ? results.map((r, i) => {
          const b = bases[i];
          const at = newestOf[i];
          const newest = at === undefined ? undefined : newestMatches[at - results.length];
          return b && matches[i] ? baseImages.rebuildAdvice(matches[i].findings, contexts[i]!.layerIds ?? [], b, newest?.findings) : undefined;
        })
      : [];
    // ... and every package too (the JSON's packages[].layerGroup)
    const grouped = baseImages
      ? results.map((x, i) => {
          const b = bases[i];
          if (!b) return x;
          const of = baseImages.layerGroups(contexts[i]!.layerIds ?? [], b);
          return { ...x, packages: x.packages.map((p) => ({ ...p, layerGroup: of(p.layer) })) };
        })
      : results;
    const report: Report = { results: grouped, shown, coverages, verdicts, freshness, problems, allowMissing, signatures, signatureLine: trust?.signatureLine, bases, rebuild };
    for (const target of outputs) {
      // a table fits the terminal it is printed on; one written to a file, $COLUMNS or the default width
      const text = await render(target.format, report, target.path === undefined ? (io.stdout as { columns?: number }) : {}, io.env);
      if (target.path === undefined) io.stdout.write(text);
      else {
        await writeFile(target.path, text).catch((e: NodeJS.ErrnoException) => {
          throw new DrydockError('CACHE_ERROR', `cannot write the ${target.format} output to ${target.path}: ${e.code ?? e.message}`);
        });
      }
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
      const { severityRank } = await import('../../match/index.js');
      const bar = severityRank(failOn);
      const hits = matches.flatMap((m) => m?.findings ?? []).filter((f) => severityRank(f.severity) >= bar);
      const worst = hits.filter((f) => !f.suppressed);
      const suppressed = hits.length - worst.length;
      if (worst.length > 0) {
        io.stderr.write(`drydock: ${worst.length} finding(s) at or above ${failOn} (--fail-on ${failOn})${suppressed > 0 ? `; ${suppressed} more suppressed by the policy allowlist, ignore file or VEX` : ''}${exitCode !== undefined ? ` (--exit-code ${exitCode})` : ''}\n`);
        return exitCode ?? EXIT.fail;
      }
      if (suppressed > 0 && !o.quiet) io.stderr.write(`note: ${suppressed} finding(s) at or above ${failOn} suppressed by the policy allowlist, ignore file or VEX (--fail-on ${failOn} passes)\n`);
    } else if (exitCode !== undefined) {
      // Trivy's --exit-code: any finding left after --severity, --ignore-unfixed and suppressions
      const left = shown.flatMap((m) => m?.findings ?? []).filter((f) => !f.suppressed);
      if (left.length > 0) {
        io.stderr.write(`drydock: ${left.length} finding(s)${shownSeverities ? ` of severity ${[...shownSeverities].join(',')}` : ''} (--exit-code ${exitCode})\n`);
        return exitCode;
      }
    }
    return verdictCode;
  } catch (e) {
    progress?.finish();
    return failure(e, io);
  }
}

interface Report {
  results: ImageInventory[];
  shown: Array<MatchResult | undefined>;
  coverages: Coverage[];
  verdicts: PolicyResult[];
  freshness: SourceFreshness[];
  problems: string[];
  allowMissing: boolean;
  /** per image, with --trust-policy */
  signatures: ImageSignatureResult[];
  signatureLine: ((r: ImageSignatureResult) => string) | undefined;
  /** per image, with --base-images: its base, and what a rebuild on the newest digest of its tag would clear */
  bases: Array<BaseImageInfo | undefined>;
  rebuild: Array<RebuildAdvice | undefined>;
}

/** The report's renderers are loaded on demand: the SBOM libraries cost every other run their start-up time. */
async function render(format: Format, r: Report, terminal: { columns?: number }, env: NodeJS.ProcessEnv): Promise<string> {
  const { results, shown, coverages, verdicts, freshness, problems } = r;
  const one = (what: string) => {
    if (results.length !== 1) throw new DrydockError('CONFIG', `${what} describes one image: pick one platform with --platform instead of --all-platforms`);
    return results[0]!;
  };
  switch (format) {
    case 'json':
      return renderJson(
        results.map((x, i) => ({
          ...x,
          coverage: coverages[i]!,
          ...(shown[i] ? { vulnerabilities: shown[i] } : {}),
          ...(verdicts[i] ? { policy: verdicts[i] } : {}),
          ...(r.signatures[i] ? { signatures: r.signatures[i] } : {}),
          ...(r.bases[i] ? { base: r.bases[i] } : {}),
          ...(r.rebuild[i] ? { rebuild: r.rebuild[i] } : {}),
        })),
        TOOL,
        { advisorySources: freshness.map(jsonFreshness), ...(problems.length > 0 ? { advisoryProblems: problems } : {}) },
      );
    case 'cyclonedx':
      return (await import('../../report/cyclonedx.js')).renderCycloneDx(one('an SBOM'), TOOL, shown[0]);
    case 'spdx':
      return (await import('../../report/spdx.js')).renderSpdx(one('an SBOM'), TOOL);
    case 'html': {
      const { renderHtmlReport } = await import('../../report/html.js');
      return renderHtmlReport({
        inventory: one('an HTML report'),
        coverage: coverages[0]!,
        ...(shown[0] ? { match: shown[0] } : {}),
        ...(verdicts[0] ? { policy: verdicts[0] } : {}),
        ...(problems.length > 0 ? { problems } : {}),
        ...(r.bases[0] ? { base: r.bases[0] } : {}),
        ...(r.rebuild[0] ? { rebuild: r.rebuild[0] } : {}),
        tool: TOOL,
      });
    }
    case 'sarif':
      return (await import('../../report/sarif.js')).renderSarif({ results, matches: shown, coverages, policies: verdicts, tool: TOOL, problems, allowMissingAdvisories: r.allowMissing, bases: r.bases, rebuild: r.rebuild });
    case 'table': {
      const { renderPolicy, renderTable, terminalWidth } = await import('../../report/table.js');
      const width = terminalWidth(terminal, env);
      return (
        renderTable(results, shown, { coverages, bases: r.bases, rebuild: r.rebuild }) +
        verdicts.map((v) => renderPolicy(v, { width })).join('') +
        (r.signatureLine ? r.signatures.map((x) => `${r.signatureLine!(x)}\n`).join('') : '')
      );
    }
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
  // nothing to read (the usual case): the suppression module (YAML, a JSON Schema validator) stays unloaded
  if (ignoreFile === undefined && vexPaths.length === 0 && !(await stat(path).then(() => true, (e: NodeJS.ErrnoException) => e.code !== 'ENOENT'))) return undefined;
  const { parseIgnoreFile, parseVex, SUPPRESS_LIMITS } = await import('../../match/suppress.js');
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

/** Loads the advisories once for the keys of every scanned image, then matches each image. */
async function matchAll(
  results: ImageInventory[],
  paths: string[],
  io: CliIO,
  opts: { quiet: boolean; ignoreUnfixed: boolean; suppressions?: Suppressions },
): Promise<{ matches: MatchResult[]; sources: LoadedSource[] }> {
  const [{ MemoryAdvisoryStore }, { loadAdvisories }, { lookupsFor, matchInventory }] = await Promise.all([
    import('../../adapters/local/memory-advisory-store.js'),
    import('../../advisories/load.js'),
    import('../../match/index.js'),
  ]);
  const keys = new Set<string>();
  for (const r of results) for (const p of r.packages) for (const l of lookupsFor(p, r.distro).lookups) keys.add(packageKeyString(l.key));
  const store = new MemoryAdvisoryStore((k) => keys.has(packageKeyString(k)));
  const tty = !opts.quiet && io.stderr.isTTY;
  // keep: the loaders that can (Oracle's ELSA OVAL) skip the definitions of no package of these images unparsed
  const summary = await loadAdvisories(paths, store, { keep: (k) => keys.has(packageKeyString(k)), progress: tty ? (n) => io.stderr.write(`\rloading advisories: ${n} records`) : undefined });
  if (tty) io.stderr.write('\r\x1b[K');
  // A path that holds no advisory (README.md, an empty directory, a JSON of another kind) is
  // the user naming the wrong thing, not data that says "no vulnerabilities": a usage error.
  for (const p of paths) {
    const under = summary.sources.filter((s) => s.path === p || s.path.startsWith(p.endsWith(sep) ? p : `${p}${sep}`));
    if (under.some((s) => s.advisories > 0 || !ADVISORY_KINDS.has(s.kind))) continue;
    const why = summary.issues.find((i) => i.where === p || i.where.startsWith(`${p}${sep}`));
    throw new DrydockError('CONFIG', `advisories: ${p} holds no advisory Drydock reads (OSV records or all.zip, Debian tracker JSON or list entries, Alpine secdb, Amazon Linux updateinfo or ALAS JSON, Oracle ELSA OVAL, Red Hat CSAF VEX)${why ? `: ${why.where}: ${why.message}` : under.length > 0 ? ': no records' : ': no advisory files'}`);
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

/** When the advisory data was last refreshed: the oldest of the sources (a synced feed's last check). */
async function oldestUpdate(paths: string[]): Promise<Date | undefined> {
  let oldest: Date | undefined;
  for (const p of paths) {
    const st = await stat(`${p}.meta.json`).catch(() => stat(p).catch(() => undefined));
    if (st && (!oldest || st.mtime < oldest)) oldest = st.mtime;
  }
  return oldest;
}
