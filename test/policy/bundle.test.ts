/**
 * Bundle parsing and validation against a small fake gate registry shaped like Anchore's
 * (so these tests do not move with the real gates), then the shipped default bundle against
 * the real registry. Test bundles are written here in Anchore's documented format (version
 * "1_0" with whitelists / blacklisted_images, version "2", Anchore Enterprise's rule_sets).
 */
import { describe, expect, it } from 'vitest';
import { backtrackingRisk, bundleDigest, checkParams, parseBundle, PolicyBundleError } from '../../shared/policy/bundle.js';
import { loadDefaultBundle } from '../../shared/policy/index.js';
import type { Gate, PolicyBundle } from '../../shared/policy/types.js';

const none = () => [];

const GATES: readonly Gate[] = [
  { name: 'always', description: 'fires', triggers: [{ name: 'always', description: 'fires', params: [], evaluate: none }] },
  {
    name: 'vulnerabilities',
    aliases: ['anchoresec'],
    description: 'vulns',
    triggers: [
      {
        name: 'package',
        description: 'a vulnerable package',
        params: [
          { name: 'severity', type: 'enum', values: ['unknown', 'negligible', 'low', 'medium', 'high', 'critical'], default: 'unknown', description: 'severity' },
          { name: 'severity_comparison', type: 'enum', values: ['<', '<=', '>', '>=', '=', '!='], default: '>', description: 'comparison' },
          { name: 'fix_available', type: 'boolean', description: 'fix available' },
          { name: 'max_days_since_creation', type: 'integer', description: 'days' },
          { name: 'cvss_v3_base_score', type: 'number', description: 'score' },
          { name: 'package_path_exclude', type: 'regex', description: 'paths' },
        ],
        evaluate: none,
      },
      {
        name: 'stale_feed_data',
        description: 'stale',
        params: [{ name: 'max_days_since_sync', type: 'integer', required: true, description: 'days' }],
        evaluate: none,
      },
    ],
  },
  {
    name: 'dockerfile',
    description: 'config',
    triggers: [
      {
        name: 'exposed_ports',
        description: 'ports',
        params: [
          { name: 'ports', type: 'list', required: true, description: 'ports' },
          { name: 'type', type: 'enum', values: ['allowlist', 'denylist', 'whitelist', 'blacklist'], default: 'denylist', description: 'list type' },
        ],
        evaluate: none,
      },
    ],
  },
];

const opts = { gates: GATES };

/** A valid version-2 bundle; tests break one thing at a time. */
function bundle(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'b1',
    name: 'test bundle',
    version: '2',
    policies: [
      {
        id: 'default',
        name: 'Default',
        rules: [
          { id: 'r1', gate: 'vulnerabilities', trigger: 'package', action: 'stop', params: [{ name: 'severity', value: 'critical' }, { name: 'severity_comparison', value: '>=' }] },
          { id: 'r2', gate: 'dockerfile', trigger: 'exposed_ports', action: 'WARN', params: [{ name: 'ports', value: '22, 2375' }, { name: 'type', value: 'denylist' }] },
        ],
      },
    ],
    allowlists: [{ id: 'wl', name: 'known', items: [{ id: 'i1', gate: 'vulnerabilities', trigger_id: 'CVE-2023-0001+openssl', expires_on: '2030-01-01T00:00:00Z' }] }],
    mappings: [{ id: 'm1', name: 'all', registry: '*', repository: '*', image: { type: 'tag', value: '*' }, policy_ids: ['default'], allowlist_ids: ['wl'] }],
    allowlisted_images: [],
    denylisted_images: [],
    ...over,
  };
}

function withRule(rule: Record<string, unknown>): Record<string, unknown> {
  const b = bundle();
  (b.policies as Array<{ rules: unknown[] }>)[0]!.rules.push(rule);
  return b;
}

/** The errors parseBundle reports (fails the test when it accepts the bundle). */
function errorsOf(input: unknown): string[] {
  try {
    parseBundle(input, 'test.json', opts);
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyBundleError);
    expect((e as PolicyBundleError).code).toBe('CONFIG');
    return (e as PolicyBundleError).errors;
  }
  throw new Error('bundle was accepted');
}

describe('parseBundle: valid bundles', () => {
  it('normalises a version 2 bundle: actions uppercase, mappings, allowlists', () => {
    const b = parseBundle(JSON.stringify(bundle()), 'x', opts);
    expect(b.version).toBe('2');
    expect(b.policies[0]!.rules.map((r) => r.action)).toEqual(['STOP', 'WARN']);
    expect(b.mappings[0]).toEqual({ id: 'm1', name: 'all', registry: '*', repository: '*', image: { type: 'tag', value: '*' }, policy_ids: ['default'], allowlist_ids: ['wl'] });
    expect(b.allowlists[0]!.items[0]!.expires_on).toBe('2030-01-01T00:00:00.000Z');
  });

  it('normalises a version 1_0 bundle: whitelists, whitelist_ids, policy_id, whitelisted / blacklisted images', () => {
    const v1 = {
      id: 'legacy-bundle',
      version: '1_0',
      name: 'Legacy',
      comment: 'an Anchore Engine 0.x bundle',
      policies: [
        {
          id: 'p-legacy',
          version: '1_0',
          name: 'LegacyPolicy',
          rules: [{ id: 'x1', gate: 'ANCHORESEC', trigger: 'PACKAGE', action: 'Warn', params: [{ name: 'SEVERITY', value: 'High' }] }],
        },
      ],
      whitelists: [{ id: 'wl-legacy', version: '1_0', name: 'Legacy WL', items: [{ id: 'w1', gate: 'ANCHORESEC', trigger_id: 'CVE-2019-5021+*' }] }],
      mappings: [{ name: 'everything', registry: 'docker.io', repository: 'library/*', image: { type: 'tag', value: 'latest' }, policy_id: 'p-legacy', whitelist_ids: ['wl-legacy'] }],
      whitelisted_images: [{ name: 'trusted', registry: 'docker.io', repository: 'library/alpine', image: { type: 'tag', value: '3.*' } }],
      blacklisted_images: [{ name: 'banned', registry: '*', repository: '*', image: { type: 'digest', value: 'sha256:' + 'a'.repeat(64) } }],
    };
    const b = parseBundle(v1, 'legacy.json', opts);
    expect(b).toEqual<PolicyBundle>({
      id: 'legacy-bundle',
      name: 'Legacy',
      comment: 'an Anchore Engine 0.x bundle',
      version: '1_0',
      policies: [{ id: 'p-legacy', version: '1_0', name: 'LegacyPolicy', rules: [{ id: 'x1', gate: 'ANCHORESEC', trigger: 'PACKAGE', action: 'WARN', params: [{ name: 'SEVERITY', value: 'High' }] }] }],
      allowlists: [{ id: 'wl-legacy', version: '1_0', name: 'Legacy WL', items: [{ id: 'w1', gate: 'ANCHORESEC', trigger_id: 'CVE-2019-5021+*' }] }],
      mappings: [{ name: 'everything', registry: 'docker.io', repository: 'library/*', image: { type: 'tag', value: 'latest' }, policy_ids: ['p-legacy'], allowlist_ids: ['wl-legacy'] }],
      allowlisted_images: [{ registry: 'docker.io', repository: 'library/alpine', image: { type: 'tag', value: '3.*' } }],
      denylisted_images: [{ registry: '*', repository: '*', image: { type: 'digest', value: 'sha256:' + 'a'.repeat(64) } }],
    });
  });

  it("accepts Anchore Enterprise's rule_sets / rule_set_ids spelling", () => {
    const b = bundle();
    const enterprise = { ...b, rule_sets: b.policies, policies: undefined, mappings: [{ name: 'all', registry: '*', repository: '*', image: { type: 'tag', value: '*' }, rule_set_ids: ['default'], allowlist_ids: [] }] };
    expect(parseBundle(enterprise, 'x', opts).mappings[0]!.policy_ids).toEqual(['default']);
  });

  it('accepts a Buffer with a byte-order mark', () => {
    expect(parseBundle(Buffer.from('\uFEFF' + JSON.stringify(bundle())), 'x', opts).id).toBe('b1');
  });
});

describe('parseBundle: each malformed bundle gets a precise error', () => {
  it('bad JSON: line and column', () => {
    const text = '{\n  "id": "b1",\n  "version": "2",\n}';
    const errs = errorsOf(text);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/^bad JSON at line 4, column 1: /);
    const truncated = errorsOf('{"id": "b1", "policies": [');
    expect(truncated[0]).toMatch(/^bad JSON at line 1, column 27: Unexpected end of JSON input/);
  });

  it('the message lists every problem, one a line, and names the file', () => {
    try {
      parseBundle(bundle({ version: '3', mappings: 'all' }), 'policy.json', opts);
      expect.unreachable();
    } catch (e) {
      const msg = (e as Error).message.split('\n');
      expect(msg[0]).toBe('invalid policy bundle policy.json: 2 problems');
      expect(msg.slice(1)).toEqual(['  - bundle: "version" "3" is not supported; expected "1_0" or "2"', '  - mappings: must be an array, not a string ("all")']);
    }
  });

  it('wrong top-level types', () => {
    expect(errorsOf('[]')).toEqual(['the bundle must be a JSON object, not an array']);
    expect(errorsOf(bundle({ id: 5, policies: {} }))).toEqual(['bundle: "id" must be a string, not a number (5)', 'policies: must be an array, not an object']);
  });

  it('unknown gate, with a suggestion', () => {
    expect(errorsOf(withRule({ gate: 'vulnerabilitys', trigger: 'package', action: 'STOP', params: [] }))).toEqual([
      'policies[0] ("default") rules[2] (gate "vulnerabilitys"): unknown gate (did you mean "vulnerabilities"?); known: always, dockerfile, vulnerabilities',
    ]);
  });

  it('gate aliases and case-insensitive names are accepted', () => {
    expect(() => parseBundle(withRule({ gate: 'AnchoreSec', trigger: 'Package', action: 'go', params: [] }), 'x', opts)).not.toThrow();
  });

  it('unknown trigger', () => {
    expect(errorsOf(withRule({ gate: 'dockerfile', trigger: 'exposed_port', action: 'STOP', params: [{ name: 'ports', value: '22' }] }))).toEqual([
      'policies[0] ("default") rules[2] (gate "dockerfile", trigger "exposed_port"): unknown trigger (did you mean "exposed_ports"?); known for dockerfile: exposed_ports',
    ]);
  });

  it('unknown param', () => {
    expect(errorsOf(withRule({ gate: 'vulnerabilities', trigger: 'package', action: 'STOP', params: [{ name: 'sevrity', value: 'high' }] }))).toEqual([
      'policies[0] ("default") rules[2] (vulnerabilities/package) param "sevrity": unknown param (did you mean "severity"?); known: severity, severity_comparison, fix_available, max_days_since_creation, cvss_v3_base_score, package_path_exclude',
    ]);
  });

  it('missing required param', () => {
    expect(errorsOf(withRule({ gate: 'vulnerabilities', trigger: 'stale_feed_data', action: 'WARN', params: [] }))).toEqual([
      'policies[0] ("default") rules[2] (vulnerabilities/stale_feed_data) param "max_days_since_sync": required but missing (days)',
    ]);
  });

  it('bad enum value', () => {
    expect(errorsOf(withRule({ gate: 'vulnerabilities', trigger: 'package', action: 'STOP', params: [{ name: 'severity', value: 'hgih' }] }))).toEqual([
      'policies[0] ("default") rules[2] (vulnerabilities/package) param "severity": "hgih" is not one of unknown, negligible, low, medium, high, critical (did you mean "high"?)',
    ]);
  });

  it('wrong param types: integer, number, boolean, list', () => {
    const errs = errorsOf(
      withRule({
        gate: 'vulnerabilities',
        trigger: 'package',
        action: 'STOP',
        params: [
          { name: 'max_days_since_creation', value: '15.5' },
          { name: 'cvss_v3_base_score', value: 'seven' },
          { name: 'fix_available', value: 'yes' },
        ],
      }),
    );
    expect(errs).toEqual([
      'policies[0] ("default") rules[2] (vulnerabilities/package) param "max_days_since_creation": "15.5" is not an integer',
      'policies[0] ("default") rules[2] (vulnerabilities/package) param "cvss_v3_base_score": "seven" is not a number',
      'policies[0] ("default") rules[2] (vulnerabilities/package) param "fix_available": "yes" is not a boolean (true or false)',
    ]);
    expect(errorsOf(withRule({ gate: 'dockerfile', trigger: 'exposed_ports', action: 'STOP', params: [{ name: 'ports', value: '22,,80' }] }))).toEqual([
      'policies[0] ("default") rules[2] (dockerfile/exposed_ports) param "ports": "22,,80": item 2 of the comma-separated list is empty',
    ]);
  });

  it('a JSON number as a param value: asks to quote it', () => {
    expect(errorsOf(withRule({ gate: 'vulnerabilities', trigger: 'stale_feed_data', action: 'WARN', params: [{ name: 'max_days_since_sync', value: 2 }] }))).toEqual([
      'policies[0] ("default") rules[2] (vulnerabilities/stale_feed_data) param "max_days_since_sync": value must be a string: write "2" (quoted), as Anchore\'s bundles do',
      // the param is then missing as well
      'policies[0] ("default") rules[2] (vulnerabilities/stale_feed_data) param "max_days_since_sync": required but missing (days)',
    ]);
  });

  it('catastrophic-backtracking regexes are refused with the reason', () => {
    const rule = (re: string) => withRule({ gate: 'vulnerabilities', trigger: 'package', action: 'STOP', params: [{ name: 'package_path_exclude', value: re }] });
    const [nested] = errorsOf(rule('^/opt/(a+)+$'));
    expect(nested).toBe(
      'policies[0] ("default") rules[2] (vulnerabilities/package) param "package_path_exclude": regex "^/opt/(a+)+$": "(a+)+" repeats a group that itself contains an unbounded quantifier (nested quantifiers): a backtracking engine takes exponential time on a near-miss input, so the same bundle would hang Anchore\'s Python engine. Drydock runs RE2 (linear time) anyway; rewrite it without the nested repetition',
    );
    expect(errorsOf(rule('(.*a){20}'))[0]).toContain('"(.*a){20}" repeats 20 times a group that contains an unbounded quantifier: a backtracking engine takes time of the order of n^20');
    expect(errorsOf(rule('(x|x)*y'))[0]).toContain('"(x|x)*" repeats an alternation with identical alternatives');
  });

  it('the backtracking check: flagged and accepted patterns', () => {
    for (const p of ['(a+)+', '(a*)*', '(?:\\w+\\s?)*$', '((ab)*c)+', '(?P<n>[a-z]+)*', '(.*a){20}', '(a+){10,}'])
      expect(backtrackingRisk(p), p).toBeDefined();
    for (const p of ['^/usr/lib/node_modules/.*', '(\\d+\\.){3}\\d+', '[(a+)+]', '\\(a+\\)+', 'a+b+c*', '(ab)+', '(a|b)*', '^root:::0:::::$', '(a{2})+', '(?i)secret'])
      expect(backtrackingRisk(p), p).toBeUndefined();
  });

  it('a backreference: RE2 does not support it', () => {
    expect(errorsOf(withRule({ gate: 'vulnerabilities', trigger: 'package', action: 'STOP', params: [{ name: 'package_path_exclude', value: '(node_modules)/.*/\\1' }] }))).toEqual([
      'policies[0] ("default") rules[2] (vulnerabilities/package) param "package_path_exclude": regex "(node_modules)/.*/\\\\1": backreference "\\1" is not supported: RE2 (linear-time matching) has no backreferences (invalid escape sequence: `\\1`)',
    ]);
  });

  it('an invalid regex', () => {
    expect(errorsOf(withRule({ gate: 'vulnerabilities', trigger: 'package', action: 'STOP', params: [{ name: 'package_path_exclude', value: '/opt/(unclosed' }] }))[0]).toMatch(
      /param "package_path_exclude": regex "\/opt\/\(unclosed": not a valid RE2 regular expression: missing closing \)/,
    );
  });

  it('bad action', () => {
    expect(errorsOf(withRule({ gate: 'always', trigger: 'always', action: 'BLOCK', params: [] }))).toEqual(['policies[0] ("default") rules[2] (always/always): action "BLOCK" is not one of STOP, WARN, GO']);
    expect(errorsOf(withRule({ gate: 'always', trigger: 'always', params: [] }))).toEqual(['policies[0] ("default") rules[2] (always/always): "action" is required (one of STOP, WARN, GO)']);
  });

  it('mapping naming an unknown policy or allowlist', () => {
    const b = bundle({ mappings: [{ name: 'web', registry: '*', repository: 'web/*', image: { type: 'tag', value: '*' }, policy_ids: ['defualt'], allowlist_ids: ['nope'] }] });
    expect(errorsOf(b)).toEqual([
      'mappings[0] ("web"): policy id "defualt" is not a policy of this bundle (did you mean "default"?); policies: default',
      'mappings[0] ("web"): allowlist id "nope" is not an allowlist of this bundle; allowlists: wl',
    ]);
  });

  it('mapping with both policy_id and policy_ids, or neither', () => {
    const both = bundle({ mappings: [{ name: 'x', registry: '*', repository: '*', image: { type: 'tag', value: '*' }, policy_id: 'default', policy_ids: ['default'] }] });
    expect(errorsOf(both)).toEqual(['mappings[0] ("x"): both "policy_id" and "policy_ids" are given; use one']);
    const neither = bundle({ mappings: [{ name: 'x', registry: '*', repository: '*', image: { type: 'tag', value: '*' } }] });
    expect(errorsOf(neither)).toEqual(['mappings[0] ("x"): "policy_ids" is required (the policies this mapping applies)']);
  });

  it('bad image selector type', () => {
    expect(errorsOf(bundle({ denylisted_images: [{ registry: '*', repository: '*', image: { type: 'name', value: 'x' } }] }))).toEqual([
      'denylisted_images[0]: image type "name" is not one of tag, digest, id',
    ]);
  });

  it('duplicate ids: policies, allowlists, rules, allowlist items', () => {
    const b = bundle();
    const policies = b.policies as unknown[];
    const allowlists = b.allowlists as Array<{ id?: string; items: unknown[] }>;
    policies.push({ id: 'default', rules: [] });
    allowlists[0]!.items.push({ id: 'i1', gate: 'vulnerabilities', trigger_id: 'x' });
    allowlists.push({ id: 'wl', items: [] });
    expect(errorsOf(b)).toEqual([
      'policies[1] ("default"): duplicate policy id "default" (also policies[0] ("default"))',
      'allowlists[0] ("wl") items[1]: duplicate allowlist item id "i1" (also allowlists[0] ("wl") items[0])',
      'allowlists[1] ("wl"): duplicate allowlist id "wl" (also allowlists[0] ("wl"))',
    ]);
    expect(errorsOf(withRule({ id: 'r1', gate: 'always', trigger: 'always', action: 'GO', params: [] }))).toEqual([
      'policies[0] ("default") rules[2]: duplicate rule id "r1" (also policies[0] ("default") rules[0])',
    ]);
  });

  it('bad allowlist dates', () => {
    const item = (expires_on: string) => bundle({ allowlists: [{ id: 'wl', items: [{ id: 'i1', gate: 'vulnerabilities', trigger_id: 'CVE-1+x', expires_on }] }] });
    for (const bad of ['2024-02-30T00:00:00Z', 'next tuesday', '2024-13-01', '2024-01-01T25:00:00Z'])
      expect(errorsOf(item(bad))).toEqual([
        `allowlists[0] ("wl") items[0]: expires_on ${JSON.stringify(bad)} is not a valid RFC 3339 date-time (e.g. "2025-01-31T00:00:00Z") or date ("2025-01-31")`,
      ]);
    expect(parseBundle(item('2024-06-01'), 'x', opts).allowlists[0]!.items[0]!.expires_on).toBe('2024-06-01T00:00:00.000Z');
    expect(parseBundle(item('2024-06-01T12:00:00+02:00'), 'x', opts).allowlists[0]!.items[0]!.expires_on).toBe('2024-06-01T10:00:00.000Z');
  });

  it('an allowlist item naming an unknown gate', () => {
    expect(errorsOf(bundle({ allowlists: [{ id: 'wl', items: [{ id: 'i1', gate: 'vulns', trigger_id: 'x' }] }] }))[0]).toMatch(/^allowlists\[0\] \("wl"\) items\[0\] \(gate "vulns"\): unknown gate/);
  });

  it('collects every error of a bundle, not just the first', () => {
    const b = bundle({ version: '1', mappings: [{ registry: '*', repository: '*', image: { type: 'tag', value: '*' }, policy_ids: ['x'] }] });
    (b.policies as Array<{ rules: unknown[] }>)[0]!.rules.push({ gate: 'nope', trigger: 'x', action: 'STOP' }, { gate: 'always', trigger: 'always', action: 'MAYBE' });
    expect(errorsOf(b)).toHaveLength(4);
  });
});

describe('checkParams', () => {
  const trigger = GATES[1]!.triggers[0]!;
  it('converts values and applies defaults', () => {
    const { values, errors } = checkParams(trigger, [
      { name: 'Severity', value: 'HIGH' },
      { name: 'fix_available', value: 'True' },
      { name: 'max_days_since_creation', value: '15' },
      { name: 'cvss_v3_base_score', value: '7.5' },
      { name: 'package_path_exclude', value: '^/opt/.*' },
    ]);
    expect(errors).toEqual([]);
    expect(values).toMatchObject({ severity: 'high', severity_comparison: '>', fix_available: true, max_days_since_creation: 15, cvss_v3_base_score: 7.5 });
    expect((values.package_path_exclude as { matcher(s: string): { find(): boolean } }).matcher('/opt/app').find()).toBe(true);
    const list = checkParams(GATES[2]!.triggers[0]!, [{ name: 'ports', value: ' 22 , 80' }]);
    expect(list.values).toEqual({ ports: ['22', '80'], type: 'denylist' });
  });
  it('reports a param given twice', () => {
    expect(checkParams(trigger, [{ name: 'severity', value: 'high' }, { name: 'SEVERITY', value: 'low' }]).errors).toEqual(['param "SEVERITY": given more than once']);
  });
});

describe('bundleDigest', () => {
  it('is stable under key order and whitespace, and changes with content', () => {
    const a = parseBundle(JSON.stringify(bundle()), 'a', opts);
    const reordered = JSON.parse(JSON.stringify(bundle()), function (this: unknown, _k, v: unknown) {
      if (v && typeof v === 'object' && !Array.isArray(v)) return Object.fromEntries(Object.entries(v).reverse());
      return v;
    });
    const b = parseBundle(JSON.stringify(reordered, null, 2), 'b', opts);
    expect(bundleDigest(b)).toBe(bundleDigest(a));
    expect(bundleDigest(a)).toMatch(/^sha256:[0-9a-f]{64}$/);
    const changed = bundle();
    (changed.policies as Array<{ rules: Array<{ action: string }> }>)[0]!.rules[1]!.action = 'STOP';
    expect(bundleDigest(parseBundle(changed, 'c', opts))).not.toBe(bundleDigest(a));
  });
});

describe('the default bundle', () => {
  it('parses with the real gates', () => {
    const b = loadDefaultBundle();
    expect(b.version).toBe('2');
    expect(b.mappings).toHaveLength(1);
    expect(b.mappings[0]).toMatchObject({ registry: '*', repository: '*', image: { type: 'tag', value: '*' } });
    expect(b.allowlists.every((a) => a.items.length === 0)).toBe(true);
    expect(b.policies[0]!.rules.length).toBeGreaterThan(5);
  });
});
