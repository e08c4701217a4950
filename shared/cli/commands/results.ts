/** `drydock results <image>`: the image's latest verdict and its worst findings, from the deployed stack. */
import { gunzipSync } from 'node:zlib';
import { DrydockError } from '../../errors.js';
import type { Finding } from '../../match/index.js';
import { usageLine } from '../args.js';
import type { CliIO } from '../io.js';
import { commandNamed, RESULTS_OPTIONS, type Parsed, type Values } from '../options.js';
import { describeRecord, resolveDigest, table, withStack, type DepsFactory } from '../stack.js';

export function run(args: Parsed, io: CliIO, depsFor?: DepsFactory): Promise<number> {
  return withStack(io, (deps) => results(args, io, deps), depsFor);
}

async function results(args: Parsed, io: CliIO, depsFor: DepsFactory): Promise<number> {
  const values = args.values as Values<typeof RESULTS_OPTIONS>;
  const { positionals } = args;
  if (positionals.length !== 1) throw new DrydockError('CONFIG', `results takes one image, got ${positionals.length}\n${usageLine(commandNamed('results')!)}`);
  if (values.output !== 'table' && values.output !== 'json') throw new DrydockError('CONFIG', `unknown output "${values.output}" (table, json)`);
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
