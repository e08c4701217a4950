/**
 * npm run pipeline:local -- <registry/repo:tag> [--advisories <path>]... [--policy <bundle.json>]
 *
 * The whole serverless flow in one process on in-memory adapters: an ECR push event (the shape
 * of events/ecr-push.json) for an image in a local registry → analyzer → evaluate job →
 * evaluator → the published result message and its attributes, printed as JSON.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { MemoryAdvisoryStore } from '../shared/adapters/local/memory-advisory-store.js';
import { loadAdvisories } from '../shared/advisories/load.js';
import { openSource } from '../shared/image/open.js';
import { parseReference } from '../shared/image/reference.js';
import { drainLocal, localPipeline } from '../shared/pipeline/local.js';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { advisories: { type: 'string', multiple: true }, policy: { type: 'string' } } });
const ref = positionals[0] ? parseReference(positionals[0]) : undefined;
if (!ref || ref.kind !== 'registry') {
  console.error('usage: npm run pipeline:local -- <registry/repo:tag> [--advisories <path>]... [--policy <bundle.json>]');
  process.exit(64);
}
const source = await openSource(ref);
const digest = ref.digest ?? (await source.rootManifest()).digest;
await source.close?.();

const advisories = new MemoryAdvisoryStore();
if (values.advisories?.length) await loadAdvisories(values.advisories, advisories);
const local = localPipeline({ advisories, config: { registryOverride: ref.registry, ...(values.policy ? { policyKey: 'policy/bundle.json' } : {}) } });
if (values.policy) await local.deps.objects.put('policy/bundle.json', await readFile(values.policy));

const event = JSON.parse(await readFile(new URL('../events/ecr-push.json', import.meta.url), 'utf8')) as { id: string; detail: Record<string, string> };
event.detail['repository-name'] = ref.repository;
event.detail['image-digest'] = digest;
event.detail['image-tag'] = ref.tag ?? 'latest';
event.id = `local-${Date.now()}`;

const started = performance.now();
const report = await drainLocal(local, [event]);
const ms = Math.round(performance.now() - started);
const record = await local.deps.images.get(digest);
console.log(JSON.stringify({ ms, outcomes: report.outcomes, retried: report.retried, published: local.publisher.messages, image: record }, null, 2));
