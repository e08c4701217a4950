/** `drydock submit <image> [--wait]`: queues a scan job on the deployed stack's scan queue. */
import { DrydockError } from '../../errors.js';
import { checkOutgoing, newJobId, type ScanJob } from '../../pipeline/messages.js';
import { usageLine } from '../args.js';
import type { CliIO } from '../io.js';
import { commandNamed, SUBMIT_OPTIONS, type Parsed, type Values } from '../options.js';
import { registryRef, withStack, type DepsFactory } from '../stack.js';

export function run(args: Parsed, io: CliIO, depsFor?: DepsFactory): Promise<number> {
  return withStack(io, (deps) => submit(args, io, deps), depsFor);
}

async function submit(args: Parsed, io: CliIO, depsFor: DepsFactory): Promise<number> {
  const values = args.values as Values<typeof SUBMIT_OPTIONS>;
  const { positionals } = args;
  if (positionals.length !== 1) throw new DrydockError('CONFIG', `submit takes one image, got ${positionals.length}\n${usageLine(commandNamed('submit')!)}`);
  const ref = registryRef(positionals[0]!);
  const timeoutS = Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new DrydockError('CONFIG', `--timeout needs a positive number of seconds, got "${values.timeout}"`);
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
