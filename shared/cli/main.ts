import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DirLayerCache } from '../adapters/local/dir-layer-cache.js';
import { DrydockError, isDrydockError } from '../errors.js';
import { chainCredentials, dockerConfigCredentials, staticCredentials, type CredentialProvider } from '../image/auth.js';
import { openSource } from '../image/open.js';
import { parsePlatform } from '../image/platform.js';
import type { LayerLimits } from '../layers/extract.js';
import { renderJson } from '../report/json.js';
import { renderTable } from '../report/table.js';
import { scanImage, type ImageInventory } from '../scan.js';
import { TOOL } from '../version.js';
import { TerminalProgress } from './progress.js';

/** Exit codes. 1 (policy fail) and 2 (policy warn) are reserved for the policy engine. */
export const EXIT = { ok: 0, fail: 1, warn: 2, scanError: 3, usage: 64 } as const;

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
  -o, --output <fmt>          table (default), json, cyclonedx (CycloneDX 1.6), spdx (SPDX 2.3 JSON)
      --platform <os/arch[/variant]>   platform to pick from an index (default linux/amd64)
      --all-platforms         scan every platform of an index
      --insecure-registry <host>       allow plain http to this registry (repeatable)
      --cache-dir <dir>       layer cache (default $DRYDOCK_CACHE_DIR or ~/.cache/drydock)
      --no-cache              read every layer, keep nothing
      --concurrency <n>       layers read at once (default 2)
      --max-layer-bytes <n>   uncompressed bytes per layer (default 32 GiB)
      --max-entries <n>       tar entries per layer (default 2000000)
      --max-file-bytes <n>    bytes read of one needed file (default 64 MiB)
      --max-layers <n>        layers per image (default 256)
  -q, --quiet                 no progress line
  -h, --help                  this text
  -v, --version               the version

Credentials: DRYDOCK_REGISTRY_USERNAME and DRYDOCK_REGISTRY_PASSWORD, else ~/.docker/config.json;
ECR registries use your AWS credentials (ecr:GetAuthorizationToken).

Exit codes: 0 success, 3 scan error, 64 usage error (1 fail and 2 warn come with policies).`;

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
        'cache-dir': { type: 'string' },
        'no-cache': { type: 'boolean', default: false },
        concurrency: { type: 'string' },
        'max-layer-bytes': { type: 'string' },
        'max-entries': { type: 'string' },
        'max-file-bytes': { type: 'string' },
        'max-layers': { type: 'string' },
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
  if (!['table', 'json', 'cyclonedx', 'spdx'].includes(o.output)) return usage(io, `unknown output "${o.output}" (table, json, cyclonedx, spdx)`);
  if (o.platform && o['all-platforms']) return usage(io, '--platform and --all-platforms exclude each other');

  let progress: TerminalProgress | undefined;
  try {
    const limits: Partial<LayerLimits> = {};
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

    const source = await openSource(image, { insecureRegistries: o['insecure-registry'] ?? [], credentials: credentials(io.env) });
    const cacheDir = o['cache-dir'] ?? io.env.DRYDOCK_CACHE_DIR ?? join(io.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'drydock');
    const cache = o['no-cache'] ? undefined : new DirLayerCache(join(cacheDir, 'layers'));
    progress = !o.quiet && io.stderr.isTTY ? new TerminalProgress(io.stderr) : undefined;
    let results: ImageInventory[];
    try {
      results = await scanImage(source, image, { platform, limits, cache, concurrency, progress });
    } finally {
      progress?.finish();
      await source.close?.();
    }
    for (const r of results) {
      for (const w of r.warnings) io.stderr.write(`warning: ${w.code}: ${w.message}${w.path ? ` [path ${w.path}]` : ''}${w.layer ? ` [layer ${w.layer}]` : ''}\n`);
    }
    if (o.output === 'json') io.stdout.write(renderJson(results, TOOL));
    else if (o.output === 'cyclonedx' || o.output === 'spdx') {
      if (results.length !== 1) throw new DrydockError('CONFIG', 'an SBOM describes one image: pick one platform with --platform instead of --all-platforms');
      // Loaded on demand: the SBOM libraries cost every other run their start-up time.
      if (o.output === 'cyclonedx') io.stdout.write((await import('../report/cyclonedx.js')).renderCycloneDx(results[0]!, TOOL));
      else io.stdout.write((await import('../report/spdx.js')).renderSpdx(results[0]!, TOOL));
    } else io.stdout.write(renderTable(results));
    return EXIT.ok;
  } catch (e) {
    if (isDrydockError(e)) {
      io.stderr.write(`drydock: ${e.code}: ${e.message}\n`);
      return e.code === 'CONFIG' ? EXIT.usage : EXIT.scanError;
    }
    io.stderr.write(`drydock: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`);
    return EXIT.scanError;
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
  const user = env.DRYDOCK_REGISTRY_USERNAME;
  const pass = env.DRYDOCK_REGISTRY_PASSWORD;
  const docker = dockerConfigCredentials();
  return user && pass ? chainCredentials(staticCredentials(user, pass), docker) : docker;
}
