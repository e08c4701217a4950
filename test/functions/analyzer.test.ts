/**
 * The analyzer handler on a real registry (no auth) with the sample SQS event's shape:
 * a good image is analysed, a missing one is a permanent failure (not retried), an
 * unreachable registry is retryable (returned as a batch item failure for SQS to redeliver).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler } from '../../functions/analyzer/handler.js';
import { buildImage, pushToRegistry } from '../support/image-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { OS_RELEASE_12, stanza } from '../integration/helpers.js';

const sample = JSON.parse(readFileSync(new URL('../../events/analyzer-sqs-scan-job.json', import.meta.url), 'utf8'));
let registry: TestRegistry;
let work: string;

function event(...images: string[]) {
  return { Records: images.map((image, i) => ({ ...sample.Records[0], messageId: `m${i}`, body: JSON.stringify({ image }) })) };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-analyzer-'));
  registry = await startRegistry();
  const layout = join(work, 'layout');
  await buildImage(layout, { tag: 'v1', layers: [{ files: [{ path: 'etc/os-release', content: OS_RELEASE_12 }, { path: 'var/lib/dpkg/status', content: stanza('zlib1g', '1:1.2.13.dfsg-1') }] }] });
  await pushToRegistry(layout, 'v1', { host: registry.host }, 'app:v1');
});

afterAll(async () => {
  await registry?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('analyzer handler', () => {
  it('accepts the sample event as it is shaped', () => {
    expect(JSON.parse(sample.Records[0].body).image).toMatch(/\.dkr\.ecr\./);
  });

  it('analyses good images, drops permanent failures, returns retryable ones to SQS', async () => {
    const logs: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((s: string) => void logs.push(s));
    vi.spyOn(console, 'error').mockImplementation((s: string) => void logs.push(s));
    const res = await handler(event(`${registry.host}/app:v1`, `${registry.host}/app:missing`, '127.0.0.1:9/app:v1', 'not a ref'));
    vi.restoreAllMocks();
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'm2' }]);
    const out = logs.map((l) => JSON.parse(l));
    expect(out[0]).toMatchObject({ image: `${registry.host}/app:v1`, packages: 1, warnings: 0 });
    expect(out.find((o) => o.messageId === 'm1')).toMatchObject({ retry: false, error: { code: 'MANIFEST_NOT_FOUND' } });
    expect(out.find((o) => o.messageId === 'm2')).toMatchObject({ retry: true, error: { code: 'NETWORK' } });
    expect(out.find((o) => o.messageId === 'm3')).toMatchObject({ retry: false });
  });
});
