/**
 * npm run bench:rescan — rescan fan-out on DynamoDB Local: 10,000 indexed images, each holding a
 * package every image has, one of 200 libraries (50 images each) and one of its own. A feed
 * update for one library must read 50 index items and queue 50 jobs, not touch 10,000 images;
 * the key every image holds is the worst case, for comparison in the same run.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoPackageIndex } from '../shared/adapters/aws/dynamodb/package-index.js';
import { createTables, tableNames } from '../shared/adapters/aws/tables.js';
import { MemoryImageStore } from '../shared/adapters/local/memory-stores.js';
import { MemoryQueue } from '../shared/adapters/local/memory-messaging.js';
import { noMetrics, silentLog } from '../shared/pipeline/deps.js';
import { rescanKeys } from '../shared/pipeline/rescan.js';
import type { PackageIndexEntry } from '../shared/ports/stores.js';
import { startDynamoDbLocal } from '../test/support/dynamodb-local.js';

const IMAGES = Number(process.env.BENCH_IMAGES ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const dynamo = await startDynamoDbLocal();
try {
  const client = new DynamoDBClient(dynamo.clientConfig);
  const docs = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const names = tableNames('rescan-');
  await createTables(client, names);
  const index = new DynamoPackageIndex(docs, names.packageIndex);
  let calls = 0;
  client.middlewareStack.add((next) => async (args) => ((calls++), next(args)), { step: 'initialize', name: 'count' });
  const t0 = performance.now();
  const digests: string[] = [];
  for (let i = 0; i < IMAGES; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, IMAGES - i) }, (_, j) => {
        const n = i + j;
        const digest = `sha256:${n.toString(16).padStart(64, '0')}`;
        digests.push(digest);
        const entries: PackageIndexEntry[] = [
          { key: { ecosystem: 'Debian:12', name: 'base-files' }, digest, repository: 'bench', versions: ['12.4'] },
          { key: { ecosystem: 'npm', name: `lib${n % 200}` }, digest, repository: 'bench', versions: ['1.0.0'] },
          { key: { ecosystem: 'PyPI', name: `app${n}` }, digest, repository: 'bench', versions: ['0.1'] },
        ];
        return index.replaceForImage(digest, entries);
      }),
    );
  }
  process.stderr.write(`bench: indexed ${IMAGES} images (${IMAGES * 3} items) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

  const deps = (queue: MemoryQueue) => ({ packageIndex: index, images: new MemoryImageStore(), evaluateQueue: queue, log: silentLog, metrics: noMetrics, now: () => new Date() });
  async function run(keys: Array<{ ecosystem: string; name: string }>) {
    const times: number[] = [];
    let report;
    let dynamoCalls = 0;
    for (let r = 0; r < RUNS; r++) {
      const queue = new MemoryQueue();
      const before = calls;
      const t = performance.now();
      report = await rescanKeys(deps(queue), keys, `bench#${r}`);
      times.push(performance.now() - t);
      dynamoCalls = calls - before;
    }
    return { ms: median(times), ...report!, dynamoCalls };
  }
  const one = await run([{ ecosystem: 'npm', name: 'lib7' }]);
  const ten = await run(Array.from({ length: 10 }, (_, i) => ({ ecosystem: 'npm', name: `lib${i * 3}` })));
  const all = await run([{ ecosystem: 'Debian:12', name: 'base-files' }]);
  const none = await run([{ ecosystem: 'npm', name: 'not-indexed' }]);
  const line = (what: string, r: typeof one) =>
    `${what.padEnd(44)} ${String(r.images).padStart(6)} images  ${String(r.itemsRead).padStart(6)} items read  ${String(r.dynamoCalls).padStart(4)} Query calls  ${r.ms.toFixed(1).padStart(8)} ms`;
  console.log(`rescan bench: ${IMAGES} indexed images, DynamoDB Local, ${RUNS} runs (median)`);
  console.log(line('1 changed key, 50 affected images', one));
  console.log(line('10 changed keys, 500 affected images', ten));
  console.log(line('a key no image holds', none));
  console.log(line('a key every image holds (worst case)', all));
  console.log(`time per affected image: ${(one.ms / Math.max(1, one.images)).toFixed(2)} ms (50) vs ${(all.ms / Math.max(1, all.images)).toFixed(3)} ms (all); 50 affected cost ${((one.ms / all.ms) * 100).toFixed(1)} % of the worst case`);
} finally {
  await dynamo.stop();
}
