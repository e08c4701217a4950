/**
 * What the commands against a deployed stack share (submit, results, images, rescan, feeds sync
 * --stack): the AWS adapters, loaded only when such a command runs (`drydock scan` never pays
 * for them), with the user's own AWS credentials (the SDK's default chain and region). The
 * stack's resources are named by the same DRYDOCK_* variables the functions read (the CDK app
 * prints them as outputs).
 */
import { DrydockError, isDrydockError } from '../errors.js';
import { parseReference, type RegistryReference } from '../image/reference.js';
import { loadConfig, type PipelineResources } from '../pipeline/config.js';
import type { PipelineDeps } from '../pipeline/deps.js';
import type { ImageRecord } from '../ports/stores.js';
import { failure } from './common.js';
import { EXIT, type CliIO } from './io.js';

export type DepsFactory = (need: ReadonlyArray<keyof PipelineResources>) => Promise<PipelineDeps>;

async function awsDeps(env: NodeJS.ProcessEnv, need: ReadonlyArray<keyof PipelineResources>): Promise<PipelineDeps> {
  const { config, resources } = loadConfig(env, need);
  const { awsPipelineDeps, awsClients } = await import('../adapters/aws/pipeline-deps.js');
  const local = env.DRYDOCK_S3_FORCE_PATH_STYLE === '1';
  const clients = awsClients(local ? { s3: { forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } } : {});
  return awsPipelineDeps({ config, resources, clients });
}

/** Runs a stack command body with the stack's adapters (or the ones a test gives), failures said in one line. */
export async function withStack(io: CliIO, body: (deps: DepsFactory) => Promise<number>, depsFor?: DepsFactory): Promise<number> {
  try {
    return await body(depsFor ?? ((need) => awsDeps(io.env, need)));
  } catch (e) {
    return failure(e, io, ['CONFIG', 'BAD_REFERENCE']);
  }
}

export function registryRef(input: string): RegistryReference {
  const ref = parseReference(input);
  if (ref.kind !== 'registry') throw new DrydockError('BAD_REFERENCE', `${input} is not a registry image: the stack reads images from ECR`);
  return ref;
}

export async function resolveDigest(input: string, deps: PipelineDeps): Promise<string> {
  if (/^sha256:[a-f0-9]{64}$/.test(input)) return input;
  const ref = registryRef(input);
  if (ref.digest) return ref.digest;
  const source = await deps.openImage({ registry: ref.registry, repository: ref.repository, tag: ref.tag ?? 'latest' });
  try {
    return (await source.rootManifest()).digest;
  } finally {
    await source.close?.();
  }
}

/** `drydock feeds sync --stack`: the feed-sync function's code, run from here against the stack. */
export async function feedsSyncStack(ecosystems: readonly string[], baseUrl: string | undefined, io: CliIO, alas: { streams: readonly string[]; baseUrl?: string } = { streams: [] }): Promise<number> {
  try {
    const deps = await awsDeps(io.env, ['advisoriesTable', 'bucket']);
    const { EventBridgeClient } = await import('@aws-sdk/client-eventbridge');
    const { EventBridgeBus } = await import('../adapters/aws/eventbridge-bus.js');
    const { syncFeeds } = await import('../pipeline/feed-sync.js');
    const bus = new EventBridgeBus(new EventBridgeClient({}), io.env.DRYDOCK_EVENT_BUS_NAME?.trim() || 'default');
    const out = await syncFeeds({ advisories: deps.advisories, objects: deps.objects, bus, log: deps.log, metrics: deps.metrics, now: () => new Date() }, {
      ecosystems,
      ...(baseUrl ? { baseUrl } : {}),
      alasStreams: alas.streams,
      ...(alas.baseUrl ? { alasSources: (await import('../advisories/alas-feed.js')).alasSourcesAt(alas.baseUrl) } : {}),
    });
    for (const r of out) io.stdout.write(`${r.ecosystem}: ${r.status}${r.status === 'updated' ? `, ${r.records} records, ${r.changedAdvisories} changed, ${r.changedKeys} package keys announced in ${r.events} event(s)` : ''}\n`);
    return 0;
  } catch (e) {
    if (!isDrydockError(e)) throw e;
    io.stderr.write(`drydock: ${e.code}: ${e.message}\n`);
    return e.code === 'CONFIG' ? EXIT.usage : EXIT.scanError;
  }
}

export function describeRecord(r: ImageRecord): string {
  const lines = [
    `image     ${r.registry}/${r.repository}@${r.digest}${r.tags?.length ? ` (${r.tags.join(', ')})` : ''}`,
    `status    ${r.status}${r.analyzedAt ? ` (analysed ${r.analyzedAt})` : ''}`,
  ];
  if (r.distro || r.platform) lines.push(`platform  ${[r.platform, r.distro].filter(Boolean).join(', ')}`);
  if (r.packageCount !== undefined) lines.push(`packages  ${r.packageCount}`);
  if (r.error) lines.push(`error     ${r.error.code} (${r.error.kind}${r.attempts ? `, attempt ${r.attempts}` : ''}): ${r.error.message}`);
  return `${lines.join('\n')}\n`;
}

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}
