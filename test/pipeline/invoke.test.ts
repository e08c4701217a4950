/**
 * `npm run invoke` without AWS: the real handler chain (middy + Powertools) on in-memory
 * adapters, fed a sample event from events/. The Lambda context is a stand-in.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DRYDOCK_') && !k.startsWith('AWS_')));

async function invoke(fn: string, event: string) {
  const { stdout } = await run('node', ['--import', 'tsx', 'scripts/invoke.ts', fn, event], { env: { ...env, POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' }, timeout: 60_000 });
  return JSON.parse(stdout.slice(stdout.indexOf('{'))) as { response: { batchItemFailures: Array<{ itemIdentifier: string }> }; queued: { deadLetters: unknown[] }; published: unknown[] };
}

describe('npm run invoke (in-memory adapters; the Lambda runtime is a stand-in)', () => {
  it('the evaluator sample: no such image here, a permanent failure, acknowledged (not retried)', async () => {
    const out = await invoke('evaluator', 'events/evaluator-sqs-evaluate-job.json');
    expect(out.response).toEqual({ batchItemFailures: [] });
  }, 60_000);

  it('a poison body goes to the dead-letter queue and is acknowledged', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drydock-invoke-'));
    try {
      const sample = JSON.parse(await readFile('events/analyzer-sqs-scan-job.json', 'utf8'));
      sample.Records[0].body = '{"schema":"drydock.scan-job/1"}';
      const file = join(dir, 'event.json');
      await writeFile(file, JSON.stringify(sample));
      const out = await invoke('analyzer', file);
      expect(out.response).toEqual({ batchItemFailures: [] });
      expect(out.queued.deadLetters).toEqual([expect.objectContaining({ schema: 'drydock.dead-letter/1', reason: expect.stringMatching(/^invalid drydock.scan-job\/1 message/) })]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses an unknown function with its usage', async () => {
    await expect(run('node', ['--import', 'tsx', 'scripts/invoke.ts', 'nope', 'x.json'], { env })).rejects.toMatchObject({ code: 64, stderr: expect.stringMatching(/usage: npm run invoke -- <analyzer\|evaluator\|reconcile> <event.json>/) });
  }, 60_000);
});
