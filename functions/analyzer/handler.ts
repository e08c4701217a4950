/**
 * Analyzer Lambda (SQS batch of scan jobs). Thin: parse each job, run the core scan, map
 * errors — retryable ones go back to SQS as batch item failures, permanent ones are
 * reported and not retried (DESIGN.md §4). The AWS stores, middy and Powertools wiring
 * come with the pipeline issue; until then the inventory is logged as the outcome.
 */
import { DirLayerCache } from '../../shared/adapters/local/dir-layer-cache.js';
import { isDrydockError } from '../../shared/errors.js';
import { openSource } from '../../shared/image/open.js';
import { parseReference } from '../../shared/image/reference.js';
import { scanImage } from '../../shared/scan.js';

interface SqsRecord {
  messageId: string;
  body: string;
}

interface ScanJob {
  image: string;
}

const cache = new DirLayerCache('/tmp/drydock/layers');

export async function handler(event: { Records: SqsRecord[] }): Promise<{ batchItemFailures: { itemIdentifier: string }[] }> {
  const failures: { itemIdentifier: string }[] = [];
  for (const record of event.Records) {
    try {
      const job = parseJob(record.body);
      const ref = parseReference(job.image);
      if (ref.kind !== 'registry') throw new Error(`the analyzer reads registry images only, not ${ref.kind}`);
      const results = await scanImage(await openSource(ref), job.image, { cache });
      for (const r of results) {
        console.log(JSON.stringify({ image: job.image, digest: r.image.manifestDigest, packages: r.packages.length, warnings: r.warnings.length }));
      }
    } catch (e) {
      const retry = isDrydockError(e) && e.retryable;
      console.error(JSON.stringify({ messageId: record.messageId, retry, error: isDrydockError(e) ? e.toJSON() : String(e) }));
      if (retry) failures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures: failures };
}

function parseJob(body: string): ScanJob {
  const job = JSON.parse(body) as Partial<ScanJob>;
  if (typeof job.image !== 'string' || !job.image) throw new Error('scan job needs an "image" string');
  return { image: job.image };
}
