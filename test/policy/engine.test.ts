/**
 * evaluatePolicy with a tiny fake gate (so these tests do not move with the real gates):
 * mapping precedence and globs, image allow / deny lists, allowlist suppression and expiry,
 * verdicts, fail-closed triggers; then the default bundle with the real gates.
 */
import { describe, expect, it } from 'vitest';
import { bundleDigest, parseBundle } from '../../shared/policy/bundle.js';
import { evaluatePolicy, globMatch } from '../../shared/policy/engine.js';
import { loadDefaultBundle } from '../../shared/policy/index.js';
import type { Gate, PolicyAction, PolicyBundle, PolicyContext } from '../../shared/policy/types.js';

/** fake/fire fires once per id of its `ids` param (trigger id = the id); fake/boom throws. */
const FAKE: Gate = {
  name: 'fake',
  aliases: ['old_fake'],
  description: 'test gate',
  triggers: [
    {
      name: 'fire',
      description: 'fires once per id',
      params: [{ name: 'ids', type: 'list', required: true, description: 'ids' }],
      evaluate: (_ctx, p) => (p.ids as string[]).map((id) => ({ triggerId: id, message: `fired ${id}` })),
    },
    {
      name: 'boom',
      description: 'throws',
      params: [],
      evaluate: () => {
        throw new Error('no data');
      },
    },
  ],
};
const GATES = [FAKE];
const NOW = new Date('2025-06-01T12:00:00Z');
const DIGEST = 'sha256:' + 'd'.repeat(64);
const ID = 'sha256:' + 'e'.repeat(64);

function ctx(image: Partial<PolicyContext['image']> = {}): PolicyContext {
  return {
    image: {
      reference: 'registry.example.com/team/web:1.2.3',
      registry: 'registry.example.com',
      repository: 'team/web',
      tag: '1.2.3',
      digest: DIGEST,
      id: ID,
      architecture: 'amd64',
      os: 'linux',
      size: 1000,
      layerCount: 1,
      ...image,
    },
    packages: [],
    now: NOW,
  };
}

const rule = (id: string, action: PolicyAction, ids: string, gate = 'fake') => ({ id, gate, trigger: 'fire', action, params: [{ name: 'ids', value: ids }] });

function mapping(name: string, registry: string, repository: string, image: { type: string; value: string }, policy: string, allowlists: string[] = []) {
  return { name, registry, repository, image, policy_ids: [policy], allowlist_ids: allowlists };
}

function make(over: Record<string, unknown> = {}): PolicyBundle {
  return parseBundle(
    {
      id: 'engine-test',
      version: '2',
      policies: [
        { id: 'stop', rules: [rule('s1', 'STOP', 'a,b'), rule('w1', 'WARN', 'c'), rule('g1', 'GO', 'd')] },
        { id: 'warn', rules: [rule('w2', 'WARN', 'x')] },
        { id: 'quiet', rules: [rule('g2', 'GO', 'y')] },
      ],
      allowlists: [],
      mappings: [mapping('all', '*', '*', { type: 'tag', value: '*' }, 'stop')],
      ...over,
    },
    'engine-test.json',
    { gates: GATES },
  );
}

const evaluate = (b: PolicyBundle, c = ctx()) => evaluatePolicy(b, c, { gates: GATES });

describe('verdicts', () => {
  it('STOP → fail; every fired rule is listed with gate, trigger, id, action and message', () => {
    const r = evaluate(make());
    expect(r.verdict).toBe('fail');
    expect(r.reason).toBe('STOP rule fired: fake/fire (2)');
    expect(r.fired).toEqual([
      { policyId: 'stop', ruleId: 's1', gate: 'fake', trigger: 'fire', triggerId: 'a', action: 'STOP', message: 'fired a' },
      { policyId: 'stop', ruleId: 's1', gate: 'fake', trigger: 'fire', triggerId: 'b', action: 'STOP', message: 'fired b' },
      { policyId: 'stop', ruleId: 'w1', gate: 'fake', trigger: 'fire', triggerId: 'c', action: 'WARN', message: 'fired c' },
      { policyId: 'stop', ruleId: 'g1', gate: 'fake', trigger: 'fire', triggerId: 'd', action: 'GO', message: 'fired d' },
    ]);
    expect(r.bundleId).toBe('engine-test');
    expect(r.bundleDigest).toBe(bundleDigest(make()));
    expect(r.policyIds).toEqual(['stop']);
    expect(r.mapping).toEqual({ name: 'all' });
    expect(r.evaluatedAt).toBe('2025-06-01T12:00:00.000Z');
    expect(r.evaluationMs).toBeGreaterThanOrEqual(0);
  });

  it('WARN → warn, GO or nothing fired → pass', () => {
    const warn = evaluate(make({ mappings: [mapping('all', '*', '*', { type: 'tag', value: '*' }, 'warn')] }));
    expect([warn.verdict, warn.reason]).toEqual(['warn', 'WARN rule fired: fake/fire (1)']);
    const go = evaluate(make({ mappings: [mapping('all', '*', '*', { type: 'tag', value: '*' }, 'quiet')] }));
    expect([go.verdict, go.fired.length]).toEqual(['pass', 1]);
    const empty = evaluate(make({ policies: [{ id: 'stop', rules: [] }] }));
    expect([empty.verdict, empty.reason, empty.fired]).toEqual(['pass', 'no STOP or WARN rule fired', []]);
  });

  it('a mapping with several policies evaluates each, in order', () => {
    const r = evaluate(make({ mappings: [{ ...mapping('all', '*', '*', { type: 'tag', value: '*' }, 'warn'), policy_ids: ['warn', 'quiet'] }] }));
    expect(r.fired.map((f) => `${f.policyId}:${f.triggerId}`)).toEqual(['warn:x', 'quiet:y']);
    expect(r.policyIds).toEqual(['warn', 'quiet']);
    expect(r.verdict).toBe('warn');
  });

  it('a trigger that throws fires "trigger failed" as STOP (fail closed), and is not allowlistable', () => {
    const b = make({
      policies: [{ id: 'stop', rules: [{ id: 'b1', gate: 'fake', trigger: 'boom', action: 'WARN', params: [] }] }],
      allowlists: [{ id: 'wl', items: [{ id: 'all', gate: 'fake', trigger_id: '*' }] }],
      mappings: [mapping('all', '*', '*', { type: 'tag', value: '*' }, 'stop', ['wl'])],
    });
    const r = evaluate(b);
    expect(r.verdict).toBe('fail');
    expect(r.fired).toEqual([{ policyId: 'stop', ruleId: 'b1', gate: 'fake', trigger: 'boom', triggerId: 'trigger_failed', action: 'STOP', message: 'trigger failed: no data' }]);
  });

  it('a rule whose gate is not in the registry given to evaluatePolicy fails closed', () => {
    const r = evaluatePolicy(make(), ctx(), { gates: [] });
    expect(r.verdict).toBe('fail');
    expect(r.fired[0]).toMatchObject({ triggerId: 'trigger_failed', action: 'STOP', message: 'trigger failed: unknown gate "fake"' });
  });
});

describe('mappings', () => {
  const b = make({
    mappings: [
      mapping('exact digest', '*', '*', { type: 'digest', value: DIGEST }, 'quiet'),
      mapping('web release tags', 'registry.example.com', 'team/web*', { type: 'tag', value: '1.*' }, 'warn'),
      mapping('team', 'registry.example.com', 'team/*', { type: 'tag', value: '*' }, 'stop'),
      mapping('all', '*', '*', { type: 'tag', value: '*' }, 'quiet'),
    ],
  });
  const picked = (c: PolicyContext) => evaluate(b, c).mapping?.name;

  it('the first matching mapping in bundle order wins', () => {
    expect(picked(ctx())).toBe('exact digest');
    const other = { digest: 'sha256:' + '1'.repeat(64) };
    expect(picked(ctx(other))).toBe('web release tags');
    expect(picked(ctx({ ...other, tag: '2.0' }))).toBe('team');
    expect(picked(ctx({ ...other, repository: 'team/api', tag: '1.0' }))).toBe('team');
    expect(picked(ctx({ ...other, registry: 'docker.io', repository: 'library/nginx', tag: 'latest' }))).toBe('all');
  });

  it('digest and id selectors match with or without the sha256: prefix', () => {
    const byId = make({ mappings: [mapping('id', '*', '*', { type: 'id', value: 'e'.repeat(64) }, 'warn')] });
    expect(evaluate(byId).mapping?.name).toBe('id');
    const byDigest = make({ mappings: [mapping('d', '*', '*', { type: 'digest', value: 'd'.repeat(64) }, 'warn')] });
    expect(evaluate(byDigest).mapping?.name).toBe('d');
  });

  it('an image without a tag matches only a "*" tag selector', () => {
    const c = ctx({ reference: 'registry.example.com/team/web@' + DIGEST, tag: undefined });
    const only = make({ mappings: [mapping('latest', '*', '*', { type: 'tag', value: 'latest' }, 'warn'), mapping('any', '*', '*', { type: 'tag', value: '*' }, 'quiet')] });
    expect(evaluate(only, c).mapping?.name).toBe('any');
  });

  it('registry and repository come from the reference when the context lacks them', () => {
    const c = ctx({ reference: 'nginx:1.27', registry: undefined, repository: undefined, tag: undefined });
    const hub = make({ mappings: [mapping('hub', 'docker.io', 'library/*', { type: 'tag', value: '1.*' }, 'warn')] });
    expect(evaluate(hub, c).mapping?.name).toBe('hub');
  });

  it('no mapping matches: fail (Drydock fails closed; documented)', () => {
    const none = make({ mappings: [mapping('prod', 'prod.example.com', '*', { type: 'tag', value: '*' }, 'quiet')] });
    const r = evaluate(none);
    expect(r.verdict).toBe('fail');
    expect(r.mapping).toBeUndefined();
    expect(r.policyIds).toEqual([]);
    expect(r.reason).toMatch(/^no mapping matches registry.example.com\/team\/web:1.2.3 \(registry "registry.example.com", repository "team\/web", tag "1.2.3"\)/);
  });

  it('globs: "*" matches any run, including "/" and nothing; everything else literally', () => {
    expect(globMatch('*', '')).toBe(true);
    expect(globMatch('team/*', 'team/a/b')).toBe(true);
    expect(globMatch('*web*', 'team/web-api')).toBe(true);
    expect(globMatch('1.*', '1.2.3')).toBe(true);
    expect(globMatch('1.*', '10')).toBe(false);
    expect(globMatch('a.c', 'abc')).toBe(false);
    expect(globMatch('a*b*c', 'aXbYbZc')).toBe(true);
    expect(globMatch('a*b*c', 'aXbYbZ')).toBe(false);
    expect(globMatch('Team/*', 'team/web')).toBe(false);
  });
});

describe('image allow and deny lists', () => {
  const sel = (registry: string, repository: string, type: string, value: string) => ({ registry, repository, image: { type, value } });

  it('a denylisted image fails even when no rule fires', () => {
    const r = evaluate(make({ policies: [{ id: 'stop', rules: [] }], denylisted_images: [sel('registry.example.com', 'team/*', 'tag', '*')] }));
    expect(r.verdict).toBe('fail');
    expect(r.reason).toBe('denylisted image (denylisted_images[0]: registry.example.com/team/*:*)');
  });

  it('an allowlisted image passes even when a STOP rule fires; the fired rules are still listed', () => {
    const r = evaluate(make({ allowlisted_images: [sel('*', '*', 'digest', DIGEST)] }));
    expect(r.verdict).toBe('pass');
    expect(r.reason).toBe(`allowlisted image (allowlisted_images[0]: */*@${DIGEST})`);
    expect(r.fired).toHaveLength(4);
  });

  it('on both lists, the denylist wins (Anchore documents this precedence)', () => {
    const r = evaluate(make({ allowlisted_images: [sel('*', '*', 'tag', '*')], denylisted_images: [sel('*', '*', 'id', ID)] }));
    expect(r.verdict).toBe('fail');
    expect(r.reason).toMatch(/denylist takes precedence/);
  });

  it('an allowlisted image passes even without a mapping', () => {
    expect(evaluate(make({ mappings: [], allowlisted_images: [sel('*', '*', 'tag', '1.2.3')] })).verdict).toBe('pass');
  });
});

describe('allowlists', () => {
  const withItems = (items: unknown[]) =>
    make({ allowlists: [{ id: 'wl', items }], mappings: [mapping('all', '*', '*', { type: 'tag', value: '*' }, 'stop', ['wl'])] });

  it('items suppress matching fired rules; suppressed STOPs do not count', () => {
    const r = evaluate(withItems([{ id: 'i-a', gate: 'fake', trigger_id: 'a' }, { id: 'i-b', gate: 'FAKE', trigger_id: 'b' }]));
    expect(r.fired.filter((f) => f.allowlistedBy).map((f) => [f.triggerId, f.allowlistedBy])).toEqual([
      ['a', { allowlistId: 'wl', itemId: 'i-a' }],
      ['b', { allowlistId: 'wl', itemId: 'i-b' }],
    ]);
    expect(r.verdict).toBe('warn');
    expect(r.reason).toBe('WARN rule fired: fake/fire (1)');
  });

  it('gate aliases, "*" and trailing-"*" trigger ids match; other gates and ids do not', () => {
    const r = evaluate(withItems([{ id: 'alias-star', gate: 'old_fake', trigger_id: '*' }]));
    expect(r.fired.every((f) => f.allowlistedBy?.itemId === 'alias-star')).toBe(true);
    expect([r.verdict, r.reason]).toEqual(['pass', 'no STOP or WARN rule fired that is not allowlisted (4 allowlisted)']);

    const cve = parseBundle(
      {
        id: 'cve',
        version: '2',
        policies: [{ id: 'p', rules: [rule('r', 'STOP', 'CVE-2024-0001+openssl,CVE-2024-0001+libssl3,CVE-2024-0002+openssl')] }],
        allowlists: [{ id: 'wl', items: [{ id: 'cve1', gate: 'fake', trigger_id: 'CVE-2024-0001+*' }, { id: 'other-gate', gate: 'always', trigger_id: '*' }] }],
        mappings: [mapping('all', '*', '*', { type: 'tag', value: '*' }, 'p', ['wl'])],
      },
      'cve.json',
      { gates: [...GATES, { name: 'always', description: '', triggers: [] }] },
    );
    const rc = evaluate(cve);
    expect(rc.fired.map((f) => [f.triggerId, f.allowlistedBy?.itemId])).toEqual([
      ['CVE-2024-0001+openssl', 'cve1'],
      ['CVE-2024-0001+libssl3', 'cve1'],
      ['CVE-2024-0002+openssl', undefined],
    ]);
    expect(rc.verdict).toBe('fail');
  });

  it('allowlists not named by the selected mapping do not apply', () => {
    const b = make({ allowlists: [{ id: 'wl', items: [{ id: 'all', gate: 'fake', trigger_id: '*' }] }] });
    expect(evaluate(b).fired.some((f) => f.allowlistedBy)).toBe(false);
  });

  it('an expired item no longer suppresses, and the fired rule names it', () => {
    const r = evaluate(
      withItems([
        { id: 'old', gate: 'fake', trigger_id: 'a', expires_on: '2025-05-31T00:00:00Z' },
        { id: 'current', gate: 'fake', trigger_id: 'b', expires_on: '2025-06-02' },
      ]),
    );
    const a = r.fired.find((f) => f.triggerId === 'a')!;
    expect(a.allowlistedBy).toBeUndefined();
    expect(a.expiredAllowlist).toEqual({ allowlistId: 'wl', itemId: 'old', expiredOn: '2025-05-31T00:00:00.000Z' });
    expect(r.fired.find((f) => f.triggerId === 'b')!.allowlistedBy).toEqual({ allowlistId: 'wl', itemId: 'current' });
    expect(r.verdict).toBe('fail');
  });

  it('an item expiring exactly now has expired (Anchore: now >= expires_on)', () => {
    const r = evaluate(withItems([{ id: 'edge', gate: 'fake', trigger_id: 'a', expires_on: NOW.toISOString() }]));
    expect(r.fired[0]!.expiredAllowlist?.itemId).toBe('edge');
  });

  it('a live item wins over an expired one for the same trigger', () => {
    const r = evaluate(withItems([{ id: 'old', gate: 'fake', trigger_id: 'a', expires_on: '2020-01-01' }, { id: 'new', gate: 'fake', trigger_id: 'a' }]));
    expect(r.fired[0]!.allowlistedBy?.itemId).toBe('new');
    expect(r.fired[0]!.expiredAllowlist).toBeUndefined();
  });
});

describe('bundle digest in results', () => {
  it('does not depend on key order', () => {
    const a = make();
    const b = parseBundle(JSON.parse(JSON.stringify(a), (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v)), 'x', { gates: GATES });
    expect(evaluate(b).bundleDigest).toBe(evaluate(a).bundleDigest);
  });
});

describe('the default bundle with the real gates', () => {
  it('an image with nothing wrong passes; a root user and port 22 warn; a private key fails', () => {
    const base: PolicyContext = {
      ...ctx(),
      image: { ...ctx().image, config: { user: 'app', exposedPorts: ['8080/tcp'], env: [], labels: {}, history: [] } },
      vulnerabilities: { findings: [] } as unknown as NonNullable<PolicyContext['vulnerabilities']>,
      advisoriesUpdatedAt: new Date('2025-06-01T00:00:00Z'),
      contentMatches: [],
    };
    const bundle = loadDefaultBundle();
    const ok = evaluatePolicy(bundle, base);
    expect([ok.verdict, ok.fired]).toEqual(['pass', []]);

    const rooted = evaluatePolicy(bundle, { ...base, image: { ...base.image, config: { ...base.image.config!, user: '', exposedPorts: ['22/tcp'] } } });
    expect(rooted.verdict).toBe('warn');
    expect(rooted.fired.map((f) => `${f.gate}/${f.trigger}`).sort()).toEqual(['dockerfile/effective_user', 'dockerfile/exposed_ports']);

    const keyed = evaluatePolicy(bundle, { ...base, contentMatches: [{ name: 'PRIV_KEY', path: '/root/.ssh/id_rsa', layer: 'sha256:1' }] });
    expect(keyed.verdict).toBe('fail');
    expect(keyed.fired).toMatchObject([{ gate: 'secret_scans', trigger: 'content_regex_checks', triggerId: 'PRIV_KEY+/root/.ssh/id_rsa', action: 'STOP' }]);

    const nullRoot = evaluatePolicy(bundle, { ...base, contentMatches: [{ name: 'ALPINE_NULL_ROOT', path: '/etc/shadow', layer: 'sha256:1' }] });
    expect(nullRoot.verdict).toBe('fail');

    const noData = evaluatePolicy(bundle, { ...base, vulnerabilities: undefined, advisoriesUpdatedAt: new Date('2025-05-01T00:00:00Z') });
    expect(noData.verdict).toBe('warn');
    expect(noData.fired.map((f) => f.trigger).sort()).toEqual(['stale_feed_data', 'vulnerability_data_unavailable']);
  });
});

describe('allowlist lookup (indexed by gate and trigger id)', () => {
  const bundle = (items: object[]) =>
    parseBundle(
      {
        id: 'allow-index',
        version: '2',
        policies: [{ id: 'p', rules: [rule('r', 'STOP', 'CVE-1+openssl,CVE-1+libssl3,CVE-2+zlib,plain')] }],
        allowlists: [{ id: 'w', items }],
        mappings: [mapping('all', '*', '*', { type: 'tag', value: '*' }, 'p', ['w'])],
      },
      'test',
      { gates: GATES },
    );
  const by = (b: PolicyBundle) => Object.fromEntries(evaluatePolicy(b, ctx(), { gates: GATES }).fired.map((f) => [f.triggerId, f.allowlistedBy?.itemId ?? f.expiredAllowlist?.itemId ?? null]));

  it('exact ids, "CVE+*" heads and bare globs all match, the first item in bundle order wins', () => {
    const b = bundle([
      { id: 'expired', gate: 'fake', trigger_id: 'CVE-1+openssl', expires_on: '2020-01-01T00:00:00Z' },
      { id: 'head', gate: 'fake', trigger_id: 'CVE-1+*' },
      { id: 'exact', gate: 'fake', trigger_id: 'CVE-1+openssl' },
      { id: 'glob', gate: 'old_fake', trigger_id: 'CVE-2*' },
    ]);
    expect(by(b)).toEqual({ 'CVE-1+openssl': 'head', 'CVE-1+libssl3': 'head', 'CVE-2+zlib': 'glob', plain: null });
    const r = evaluatePolicy(b, ctx(), { gates: GATES }).fired.find((f) => f.triggerId === 'CVE-1+openssl')!;
    expect(r.expiredAllowlist).toBeUndefined();
  });

  it('an item for another package does not match (unknown gates in allowlists are rejected at parse time)', () => {
    expect(by(bundle([{ id: 'y', gate: 'fake', trigger_id: 'CVE-1+zlib' }, { id: 'z', gate: 'fake', trigger_id: 'CVE-3+*' }]))).toEqual({
      'CVE-1+openssl': null,
      'CVE-1+libssl3': null,
      'CVE-2+zlib': null,
      plain: null,
    });
  });
});
