/** `drydock rescan --package <ecosystem>/<name>... | --all`: re-evaluations queued on the deployed stack. */
import { DrydockError } from '../../errors.js';
import { usageLine } from '../args.js';
import type { CliIO } from '../io.js';
import { commandNamed, RESCAN_OPTIONS, type Parsed, type Values } from '../options.js';
import { withStack, type DepsFactory } from '../stack.js';

export function run(args: Parsed, io: CliIO, depsFor?: DepsFactory): Promise<number> {
  return withStack(io, (deps) => rescan(args, io, deps), depsFor);
}

async function rescan(args: Parsed, io: CliIO, depsFor: DepsFactory): Promise<number> {
  const values = args.values as Values<typeof RESCAN_OPTIONS>;
  const packages = values.package ?? [];
  if (!values.all && packages.length === 0) throw new DrydockError('CONFIG', `rescan needs --package <ecosystem>/<name> or --all\n${usageLine(commandNamed('rescan')!)}`);
  const keys = packages.map((p) => {
    const i = p.indexOf('/');
    if (i <= 0 || i === p.length - 1) throw new DrydockError('CONFIG', `--package takes <ecosystem>/<name> (e.g. Debian:12/openssl, npm/lodash), got "${p}"`);
    return { ecosystem: p.slice(0, i), name: p.slice(i + 1) };
  });
  const deps = await depsFor(['packageIndexTable', 'imagesTable', 'evaluateQueueUrl']);
  const { rescanKeys, reevaluateAll } = await import('../../pipeline/rescan.js');
  const rdeps = { packageIndex: deps.packageIndex, images: deps.images, evaluateQueue: deps.evaluateQueue, log: deps.log, metrics: deps.metrics, now: () => new Date() };
  const runId = `cli:${new Date().toISOString()}`;
  const r = values.all ? await reevaluateAll(rdeps, runId) : await rescanKeys(rdeps, keys, runId);
  io.stdout.write(`queued ${r.jobs} evaluation(s) for ${r.images} image(s)${values.all ? '' : ` holding ${r.keys} package key(s) (${r.itemsRead} index items read)`}\n`);
  return 0;
}
