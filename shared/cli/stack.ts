/**
 * `drydock submit`, `drydock results`, `drydock images`: the CLI against a deployed stack, with
 * the user's own AWS credentials (the SDK's default chain and region). The stack's resources are
 * named by the same DRYDOCK_* variables the functions read (the CDK app prints them as outputs).
 */
import { gunzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { DrydockError, isDrydockError } from '../errors.js';
import { parseReference, type RegistryReference } from '../image/reference.js';
import type { Finding } from '../match/index.js';
import { loadConfig, type PipelineResources } from '../pipeline/config.js';
import type { PipelineDeps } from '../pipeline/deps.js';
import { checkOutgoing, newJobId, type ScanJob } from '../pipeline/messages.js';
import type { ImageRecord } from '../ports/stores.js';
import type { CliIO } from './main.js';

export const STACK_USAGE = `usage: drydock submit <registry/repo:tag|@digest> [--wait] [--timeout <seconds>]
  Queues a scan job on the deployed stack's scan queue. --wait polls until the verdict is in
  and exits with it (0 pass, 1 fail, 2 warn, 3 error or timeout).

usage: drydock results <registry/repo@digest|sha256:…|registry/repo:tag> [-o table|json]
  The image's latest verdict and its worst findings (the full report is read from the bucket).

usage: drydock images [--repository <name>] [--limit <n>] [-o table|json]
  Recently analysed images with their status and verdict.

usage: drydock rescan --package <ecosystem>/<name>... | --all
  Re-evaluates (no re-analysis) the images holding these packages (a Query of the package
  index each), or every image, as the rescan function does after a feed update.

The stack is found through DRYDOCK_SCAN_QUEUE_URL, DRYDOCK_IMAGES_TABLE, DRYDOCK_RESULTS_TABLE and
DRYDOCK_BUCKET (the CDK app's outputs); AWS credentials and region come from your environment.`;

type DepsFactory = (need: ReadonlyArray<keyof PipelineResources>) => Promise<PipelineDeps>;

/** The AWS adapters are loaded only when a stack command runs: `drydock scan` never pays for them. */
async function awsDeps(env: NodeJS.ProcessEnv, need: ReadonlyArray<keyof PipelineResources>): Promise<PipelineDeps> {
  const { config, resources } = loadConfig(env, need);
  const { awsPipelineDeps, awsClients } = await import('../adapters/aws/pipeline-deps.js');
  const local = env.DRYDOCK_S3_FORCE_PATH_STYLE === '1';
  const clients = awsClients(local ? { s3: { forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } } : {});
  return awsPipelineDeps({ config, resources, clients });
}

export async function stackCommand(command: 'submit' | 'results' | 'images' | 'rescan', argv: string[], io: CliIO, depsFor?: DepsFactory): Promise<number> {
  const deps: DepsFactory = depsFor ?? ((need) => awsDeps(io.env, need));
  if (argv.includes('-h') || argv.includes('--help')) {
    io.stdout.write(`${STACK_USAGE}\n`);
    return 0;
  }
  try {
    if (command === 'submit') return await submit(argv, io, deps);
    if (command === 'results') return await results(argv, io, deps);
    if (command === 'rescan') return await rescan(argv, io, deps);
    return await images(argv, io, deps);
  } catch (e) {
    if (isDrydockError(e)) {
      io.stderr.write(`drydock: ${e.code}: ${e.message}\n`);
      return e.code === 'CONFIG' || e.code === 'BAD_REFERENCE' ? 64 : 3;
    }
    if (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`drydock: ${e.message}\n\n${STACK_USAGE}\n`);
      return 64;
    }
    throw e;
  }
}

function registryRef(input: string): RegistryReference {
  const ref = parseReference(input);
  if (ref.kind !== 'registry') throw new DrydockError('BAD_REFERENCE', `${input} is not a registry image: the stack reads images from ECR`);
  return ref;
}

async function submit(argv: string[], io: CliIO, depsFor: DepsFactory): Promise<number> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { wait: { type: 'boolean', default: false }, timeout: { type: 'string', default: '900' } } });
  if (positionals.length !== 1) throw new DrydockError('CONFIG', `submit takes one image, got ${positionals.length}\n\n${STACK_USAGE}`);
  const ref = registryRef(positionals[0]!);
  const deps = await depsFor(values.wait ? ['scanQueueUrl', 'imagesTable'] : ['scanQueueUrl']);
  let digest = ref.digest;
  if (!digest && values.wait) {
    // To wait for the verdict the record's key must be known: ask the registry what the tag is now.
    const source = await deps.openImage({ registry: ref.registry, repository: ref.repository, tag: ref.tag ?? 'latest' });
    try {
      digest = (await source.rootManifest()).digest;
    } finally {
      await source.close?.();
    }
  }
  const job = checkOutgoing<ScanJob>({
    schema: 'drydock.scan-job/1',
    jobId: newJobId('manual'),
    image: { registry: ref.registry, repository: ref.repository, ...(digest ? { digest } : {}), ...(ref.tag ? { tag: ref.tag } : digest ? {} : { tag: 'latest' }) },
    reason: 'manual',
    requestedAt: new Date().toISOString(),
    ...(io.env.USER ? { requestedBy: io.env.USER } : {}),
  });
  const before = digest ? await deps.images.get(digest) : undefined;
  await deps.scanQueue.send(job);
  io.stdout.write(`queued ${job.jobId} for ${ref.registry}/${ref.repository}${digest ? `@${digest}` : `:${ref.tag ?? 'latest'}`}\n`);
  if (!values.wait || !digest) return 0;

  const timeoutS = Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new DrydockError('CONFIG', `--timeout needs a positive number of seconds, got "${values.timeout}"`);
  const deadline = Date.now() + timeoutS * 1000;
  const known = before?.lastVerdict?.resultId;
  let last = '';
  while (Date.now() < deadline) {
    const rec = await deps.images.get(digest);
    const state = rec ? `${rec.status}${rec.layersPending ? ` (${rec.layersDone?.length ?? 0}/${rec.layersPending} layers)` : ''}` : 'queued';
    if (state !== last && io.stderr.isTTY) io.stderr.write(`\r\x1b[K${state}`);
    last = state;
    if (rec?.status === 'failed' || rec?.status === 'deleted') {
      io.stderr.write(`\ndrydock: analysis ${rec.status}: ${rec.error?.code}: ${rec.error?.message}\n`);
      return 3;
    }
    // A digest analysed before is not analysed again: its existing verdict is the answer.
    if (rec?.lastVerdict && (rec.lastVerdict.resultId !== known || rec.status === 'evaluated')) {
      if (io.stderr.isTTY) io.stderr.write('\r\x1b[K');
      io.stdout.write(`${rec.lastVerdict.status.toUpperCase()}  ${rec.repository}@${rec.digest}  findings ${rec.lastVerdict.findings}${rec.lastVerdict.highestSeverity ? ` (worst ${rec.lastVerdict.highestSeverity})` : ''}\n`);
      return { pass: 0, fail: 1, warn: 2, error: 3 }[rec.lastVerdict.status];
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  io.stderr.write(`\ndrydock: no verdict after ${timeoutS} s (last state: ${last})\n`);
  return 3;
}

async function resolveDigest(input: string, deps: PipelineDeps): Promise<string> {
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

async function results(argv: string[], io: CliIO, depsFor: DepsFactory): Promise<number> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { output: { type: 'string', short: 'o', default: 'table' } } });
  if (positionals.length !== 1) throw new DrydockError('CONFIG', `results takes one image, got ${positionals.length}\n\n${STACK_USAGE}`);
  const deps = await depsFor(['imagesTable', 'resultsTable', 'bucket']);
  const digest = await resolveDigest(positionals[0]!, deps);
  const record = await deps.images.get(digest);
  if (!record) {
    io.stderr.write(`drydock: no record of ${digest}: it was never pushed to a watched repository or submitted\n`);
    return 3;
  }
  const latest = await deps.results.latest(digest);
  let findings: Finding[] = [];
  if (latest?.reportKey) {
    const bytes = await deps.objects.get(latest.reportKey);
    if (bytes) findings = (JSON.parse(gunzipSync(bytes).toString('utf8')) as { vulnerabilities?: { findings?: Finding[] } }).vulnerabilities?.findings ?? [];
  }
  if (values.output === 'json') {
    io.stdout.write(`${JSON.stringify({ image: record, result: latest ?? null, findings }, null, 2)}\n`);
  } else {
    io.stdout.write(describeRecord(record));
    if (latest) {
      io.stdout.write(`verdict   ${latest.status.toUpperCase()} (${latest.reason}; policy ${latest.policyId ?? '-'}; ${latest.rulesFired} rule(s) fired) at ${latest.evaluatedAt}\n`);
      io.stdout.write(`findings  ${Object.entries(latest.counts).filter(([, n]) => n > 0).map(([s, n]) => `${s} ${n}`).join(', ') || 'none'}\n`);
    }
    if (findings.length) {
      const rows = findings.slice(0, 25).map((f) => [f.id, f.package.name, f.package.version, f.fixedIn ?? '', f.severity]);
      io.stdout.write(`\n${table(['ID', 'PACKAGE', 'INSTALLED', 'FIXED-IN', 'SEVERITY'], rows)}`);
      if (findings.length > 25) io.stdout.write(`… and ${findings.length - 25} more (-o json for all)\n`);
    }
  }
  const status = latest?.status ?? (record.status === 'failed' || record.status === 'deleted' ? 'error' : undefined);
  return status ? { pass: 0, fail: 1, warn: 2, error: 3 }[status] : 0;
}

async function images(argv: string[], io: CliIO, depsFor: DepsFactory): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { repository: { type: 'string' }, limit: { type: 'string', default: '25' }, output: { type: 'string', short: 'o', default: 'table' } } });
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new DrydockError('CONFIG', `--limit needs a whole number from 1 to 1000, got "${values.limit}"`);
  const deps = await depsFor(['imagesTable']);
  const list = await deps.images.list({ limit, ...(values.repository ? { repository: values.repository } : {}) });
  if (values.output === 'json') {
    io.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    return 0;
  }
  const rows = list.map((r) => [r.repository, (r.tags ?? []).join(',') || '-', r.digest.slice(0, 19), r.status, r.lastVerdict?.status ?? '-', String(r.lastVerdict?.findings ?? '-'), r.updatedAt]);
  io.stdout.write(rows.length ? table(['REPOSITORY', 'TAGS', 'DIGEST', 'STATUS', 'VERDICT', 'FINDINGS', 'UPDATED'], rows) : 'no images yet\n');
  return 0;
}

async function rescan(argv: string[], io: CliIO, depsFor: DepsFactory): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { package: { type: 'string', multiple: true }, all: { type: 'boolean', default: false } } });
  const packages = values.package ?? [];
  if (!values.all && packages.length === 0) throw new DrydockError('CONFIG', `rescan needs --package <ecosystem>/<name> or --all\n\n${STACK_USAGE}`);
  const keys = packages.map((p) => {
    const i = p.indexOf('/');
    if (i <= 0 || i === p.length - 1) throw new DrydockError('CONFIG', `--package takes <ecosystem>/<name> (e.g. Debian:12/openssl, npm/lodash), got "${p}"`);
    return { ecosystem: p.slice(0, i), name: p.slice(i + 1) };
  });
  const deps = await depsFor(['packageIndexTable', 'imagesTable', 'evaluateQueueUrl']);
  const { rescanKeys, reevaluateAll } = await import('../pipeline/rescan.js');
  const rdeps = { packageIndex: deps.packageIndex, images: deps.images, evaluateQueue: deps.evaluateQueue, log: deps.log, metrics: deps.metrics, now: () => new Date() };
  const runId = `cli:${new Date().toISOString()}`;
  const r = values.all ? await reevaluateAll(rdeps, runId) : await rescanKeys(rdeps, keys, runId);
  io.stdout.write(`queued ${r.jobs} evaluation(s) for ${r.images} image(s)${values.all ? '' : ` holding ${r.keys} package key(s) (${r.itemsRead} index items read)`}\n`);
  return 0;
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
    return e.code === 'CONFIG' ? 64 : 3;
  }
}

function describeRecord(r: ImageRecord): string {
  const lines = [
    `image     ${r.registry}/${r.repository}@${r.digest}${r.tags?.length ? ` (${r.tags.join(', ')})` : ''}`,
    `status    ${r.status}${r.analyzedAt ? ` (analysed ${r.analyzedAt})` : ''}`,
  ];
  if (r.distro || r.platform) lines.push(`platform  ${[r.platform, r.distro].filter(Boolean).join(', ')}`);
  if (r.packageCount !== undefined) lines.push(`packages  ${r.packageCount}`);
  if (r.error) lines.push(`error     ${r.error.code} (${r.error.kind}${r.attempts ? `, attempt ${r.attempts}` : ''}): ${r.error.message}`);
  return `${lines.join('\n')}\n`;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}
