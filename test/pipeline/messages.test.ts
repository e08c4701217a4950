/**
 * The message schemas and the sample events: every sample in events/ has the shape AWS's own
 * examples have (../shared/fixtures/events), parses into the job it stands for, and every
 * kind of bad body is a poison message with a reason naming the problem.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/pipeline/config.js';
import { checkOutgoing, ecrRegistryHost, parseAnalyzerBody, parseEvaluateBody, PoisonMessageError, schemaErrors, SCHEMAS } from '../../shared/pipeline/messages.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const events = (f: string) => JSON.parse(readFileSync(new URL(`../../events/${f}`, import.meta.url), 'utf8'));
const fixture = (f: string) => JSON.parse(readFileSync(join(SHARED_FIXTURES, 'events', f), 'utf8'));

function shape(o: unknown): unknown {
  if (Array.isArray(o)) return o.length ? [shape(o[0])] : [];
  if (o && typeof o === 'object') return Object.fromEntries(Object.keys(o).sort().map((k) => [k, shape((o as Record<string, unknown>)[k])]));
  return typeof o;
}

describe('sample events have AWS shapes', () => {
  it('ecr-push.json and ecr-delete.json have the keys and types of the AWS ECR Image Action examples', () => {
    expect(shape(events('ecr-push.json'))).toEqual(shape(fixture('ecr-image-action-push.aws-lambda-go.json')));
    expect(shape(events('ecr-delete.json'))).toEqual(shape(fixture('ecr-image-action-delete.awsdocs-ecr-guide.json')));
  });

  it('each SQS sample record has the keys of the aws-lambda-go SQS example', () => {
    const want = Object.keys(fixture('sqs-event.aws-lambda-go.json').Records[0]).sort();
    for (const f of ['analyzer-sqs-ecr-push.json', 'analyzer-sqs-scan-job.json', 'analyzer-sqs-layer-job.json', 'evaluator-sqs-evaluate-job.json']) {
      const rec = events(f).Records[0];
      expect(Object.keys(rec).filter((k) => k !== 'md5OfMessageAttributes').sort(), f).toEqual(want.filter((k) => k !== 'md5OfMessageAttributes'));
      expect(Object.keys(rec.attributes).sort(), f).toEqual(Object.keys(fixture('sqs-event.aws-lambda-go.json').Records[0].attributes).sort());
    }
  });

  it('the analyzer reads the push event from its SQS body as a scan job keyed by the event id', () => {
    const body = events('analyzer-sqs-ecr-push.json').Records[0].body;
    const push = events('ecr-push.json');
    expect(JSON.parse(body)).toEqual(push);
    const got = parseAnalyzerBody(body);
    expect(got).toEqual({
      kind: 'scan',
      job: {
        schema: 'drydock.scan-job/1',
        jobId: `ecr-event:${push.id}`,
        image: { registry: '111122223333.dkr.ecr.eu-west-1.amazonaws.com', repository: 'team/api', digest: push.detail['image-digest'], tag: '1.4.2' },
        reason: 'push',
        requestedAt: '2026-11-23T09:15:02.000Z',
      },
    });
  });

  it('scan, layer and evaluate samples validate against their schemas', () => {
    expect(parseAnalyzerBody(events('analyzer-sqs-scan-job.json').Records[0].body).kind).toBe('scan');
    expect(parseAnalyzerBody(events('analyzer-sqs-layer-job.json').Records[0].body).kind).toBe('layer');
    expect(parseEvaluateBody(events('evaluator-sqs-evaluate-job.json').Records[0].body).reason).toBe('analysis');
  });

  it('a DELETE event is read as such, not as a scan', () => {
    const got = parseAnalyzerBody(JSON.stringify(events('ecr-delete.json')));
    expect(got).toMatchObject({ kind: 'ecr-event', action: 'DELETE', succeeded: true });
  });
});

describe('poison messages', () => {
  const poison = (body: string, re: RegExp) => {
    let err: unknown;
    try {
      parseAnalyzerBody(body);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PoisonMessageError);
    expect((err as Error).message).toMatch(re);
  };

  it('names what is wrong', () => {
    poison('not json{', /not JSON/);
    poison('[1,2]', /not a JSON object/);
    poison('{"schema":"drydock.scan-job/9"}', /not a message the analyzer reads .*drydock\.scan-job\/9/);
    poison(JSON.stringify({ ...events('analyzer-sqs-ecr-push.json'), x: 1 }), /not a message the analyzer reads/);
    const job = JSON.parse(events('analyzer-sqs-scan-job.json').Records[0].body);
    poison(JSON.stringify({ ...job, reason: 'because' }), /\/reason: must be one of "push", "manual", "rescan"/);
    poison(JSON.stringify({ ...job, image: { registry: 'r.example', repository: 'Upper/Case', tag: 'x' } }), /\/image\/repository: must match pattern/);
    poison(JSON.stringify({ ...job, extra: true }), /unknown property "extra"/);
  });

  it("AWS's own documentation example, whose digest has 60 hex digits, is refused rather than analysed under a wrong key", () => {
    poison(JSON.stringify(fixture('ecr-image-action-push.aws-lambda-go.json')), /image-digest: not a sha256 digest/);
  });

  it('the evaluator refuses analyzer messages', () => {
    expect(() => parseEvaluateBody(events('analyzer-sqs-scan-job.json').Records[0].body)).toThrow(/not a message the evaluator reads/);
  });
});

describe('schemas', () => {
  it('each schema has a versioned $id and rejects an empty object', () => {
    for (const [name, schema] of Object.entries(SCHEMAS)) {
      expect(schema.$id).toMatch(/\/v1$/);
      expect(schemaErrors(name as keyof typeof SCHEMAS, {}).length, name).toBeGreaterThan(0);
    }
  });

  it('an invalid outgoing message is refused before it is sent', () => {
    expect(() => checkOutgoing({ schema: 'drydock.evaluate-job/1', jobId: 'x', digest: 'sha256:abc', reason: 'analysis', trigger: 't', requestedAt: new Date().toISOString() } as never)).toThrow(/refusing to send an invalid drydock.evaluate-job\/1 message: \/digest/);
  });

  it('ECR hosts for regions, China included', () => {
    expect(ecrRegistryHost('1', 'us-east-1')).toBe('1.dkr.ecr.us-east-1.amazonaws.com');
    expect(ecrRegistryHost('1', 'cn-north-1')).toBe('1.dkr.ecr.cn-north-1.amazonaws.com.cn');
  });
});

describe('configuration', () => {
  const base = {
    DRYDOCK_IMAGES_TABLE: 'i', DRYDOCK_PACKAGE_INDEX_TABLE: 'p', DRYDOCK_RESULTS_TABLE: 'r', DRYDOCK_ADVISORIES_TABLE: 'a',
    DRYDOCK_BUCKET: 'b', DRYDOCK_SCAN_QUEUE_URL: 'q1', DRYDOCK_EVALUATE_QUEUE_URL: 'q2', DRYDOCK_RESULTS_TOPIC_ARN: 't',
  };

  it('reads every setting', () => {
    const { config, resources } = loadConfig({ ...base, DRYDOCK_REPOSITORIES: 'team/*, web', DRYDOCK_PLATFORM: 'linux/arm64/v8', DRYDOCK_FANOUT_MIN_LAYERS: '0', DRYDOCK_PUBLISH: 'change', DRYDOCK_REGISTRY_OVERRIDE: '127.0.0.1:5000' });
    expect(resources.bucket).toBe('b');
    expect(config).toMatchObject({ repositories: ['team/*', 'web'], platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, fanoutMinLayers: 0, publishMode: 'change', registryOverride: '127.0.0.1:5000' });
  });

  it('lists every problem at once', () => {
    const env = { ...base, DRYDOCK_BUCKET: '', DRYDOCK_FANOUT_MIN_LAYERS: 'many', DRYDOCK_PUBLISH: 'sometimes', DRYDOCK_PLATFORM: 'solaris' };
    expect(() => loadConfig(env)).toThrow(/DRYDOCK_BUCKET is not set[\s\S]*DRYDOCK_FANOUT_MIN_LAYERS="many"[\s\S]*DRYDOCK_PLATFORM[\s\S]*DRYDOCK_PUBLISH="sometimes"/);
  });

  it('reads the scan budget from DRYDOCK_LIMIT_<NAME> (K/M/G suffixes), and names a bad value with the other problems', () => {
    expect(loadConfig({ ...base, DRYDOCK_LIMIT_MAX_KEPT_BYTES: '512M', DRYDOCK_LIMIT_MAX_EXPANSION_RATIO: '1000' }).config.limits).toEqual({ maxKeptBytes: 512 * 1024 ** 2, maxExpansionRatio: 1000 });
    expect(loadConfig(base).config.limits).toEqual({});
    expect(() => loadConfig({ ...base, DRYDOCK_LIMIT_MAX_ENTRIES: 'lots', DRYDOCK_PUBLISH: 'sometimes' })).toThrow(/DRYDOCK_LIMIT_MAX_ENTRIES must be a positive integer[\s\S]*DRYDOCK_PUBLISH="sometimes"/);
  });

  it('asks only for the resources a function uses', () => {
    expect(() => loadConfig({ DRYDOCK_IMAGES_TABLE: 'i' }, ['imagesTable'])).not.toThrow();
  });
});
