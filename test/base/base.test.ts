import { describe, expect, it } from 'vitest';
import {
  annotatedBase,
  baseImageGate,
  identifyBase,
  parseTrustedBaseList,
  rebuildAdvice,
  restrictContext,
  splitFindings,
  trustedBaseListOf,
  type BaseCandidate,
  type LayerId,
} from '../../shared/base/index.js';
import type { Package } from '../../shared/catalog/types.js';
import type { Finding } from '../../shared/match/index.js';
import { parseBundle } from '../../shared/policy/bundle.js';
import { evaluatePolicy } from '../../shared/policy/engine.js';
import type { PolicyContext } from '../../shared/policy/types.js';

const d = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const diff = (n: number) => `sha256:${(0xd1ff0000 + n).toString(16).padStart(64, '0')}`;
const layer = (n: number): LayerId => ({ digest: d(n), diffId: diff(n) });
const list = parseTrustedBaseList('bases:\n  - repository: reg.example/base/debian\n    tags: ["12"]\n  - repository: reg.example/base/python\n', 'bases.yaml');

const debianOld: BaseCandidate = { registry: 'reg.example', repository: 'base/debian', digest: d(100), tags: ['12'], layers: [layer(1)], pushedAt: '2026-01-01T00:00:00Z' };
const debianNew: BaseCandidate = { registry: 'reg.example', repository: 'base/debian', digest: d(101), tags: ['12'], layers: [layer(9)], pushedAt: '2026-03-01T00:00:00Z' };
const python: BaseCandidate = { registry: 'reg.example', repository: 'base/python', digest: d(200), tags: ['3.12'], layers: [layer(1), layer(2)], pushedAt: '2026-01-02T00:00:00Z' };
const rogue: BaseCandidate = { registry: 'reg.example', repository: 'someone/debian', digest: d(300), tags: ['12'], layers: [layer(1)] };

describe('trusted base list', () => {
  it('reads YAML, the stack setting, and names the entry in errors', () => {
    expect(list.bases).toEqual([{ repository: 'reg.example/base/debian', tags: ['12'] }, { repository: 'reg.example/base/python' }]);
    expect(trustedBaseListOf(['localhost:5000/base/debian:12', 'localhost:5000/base/python']).bases).toEqual([
      { repository: 'localhost:5000/base/debian', tags: ['12'] },
      { repository: 'localhost:5000/base/python' },
    ]);
    expect(() => parseTrustedBaseList('bases:\n  - repository: reg.example/base/debian:12\n', 'f.yaml')).toThrow(/f\.yaml: bases\[0\]\.repository: .*names a tag/);
    expect(() => parseTrustedBaseList('bases:\n  - repo: x/y\n', 'f.yaml')).toThrow(/bases\[0\]\.repo: unknown field/);
    expect(() => parseTrustedBaseList('bases: 3', 'f.yaml')).toThrow(/bases: must be a list/);
    expect(() => parseTrustedBaseList('x'.repeat(300 * 1024), 'f.yaml')).toThrow(/262144-byte limit/);
  });
});

describe('identifyBase', () => {
  const app = { digest: d(500), layers: [layer(1), layer(2), layer(3)] };

  it('picks the longest trusted base whose layers lead the image, and knows a newer digest of its tag', () => {
    const b = identifyBase(app, [debianOld, debianNew, python], list);
    expect(b).toMatchObject({ status: 'identified', source: 'layers', repository: 'base/python', layerCount: 2, trusted: true });
    const onDebian = identifyBase({ digest: d(501), layers: [layer(1), layer(7)] }, [debianOld, debianNew, python], list);
    expect(onDebian).toMatchObject({ repository: 'base/debian', tag: '12', digest: d(100), layerCount: 1, trusted: true, newest: { digest: d(101), tag: '12' } });
  });

  it('matches on diffIds when both sides have them (a recompressed base layer still matches)', () => {
    const recompressed = { digest: d(502), layers: [{ digest: d(77), diffId: diff(1) }, layer(5)] };
    expect(identifyBase(recompressed, [debianOld], list)).toMatchObject({ status: 'identified', layerCount: 1 });
  });

  it('never trusts a base for its name: an untrusted repository with the same layers is identified, not trusted', () => {
    const b = identifyBase({ digest: d(503), layers: [layer(1), layer(4)] }, [rogue], list);
    expect(b).toMatchObject({ status: 'identified', trusted: false, repository: 'someone/debian' });
    expect(b.reason).toMatch(/not in the trusted base list \(bases\.yaml\)/);
  });

  it('believes the annotations only when the named digest\'s layers lead the image', () => {
    const annotations = { 'org.opencontainers.image.base.name': 'reg.example/base/debian:12', 'org.opencontainers.image.base.digest': d(100) };
    expect(identifyBase({ digest: d(504), layers: [layer(1), layer(4)], annotations }, [debianOld, debianNew], list)).toMatchObject({ source: 'annotation', digest: d(100), tag: '12' });
    const lying = { ...annotations, 'org.opencontainers.image.base.digest': d(101) };
    const b = identifyBase({ digest: d(505), layers: [layer(1), layer(4)], annotations: lying }, [debianOld, debianNew], list);
    expect(b).toMatchObject({ source: 'layers', digest: d(100) });
    expect(b.reason).toMatch(/whose layers are not this image's leading layers/);
    expect(annotatedBase({ 'org.opencontainers.image.base.name': 'debian:12' })).toMatchObject({ registry: 'docker.io', repository: 'library/debian', tag: '12' });
  });

  it('is unknown when no candidate leads the image, and a base is never its own base', () => {
    expect(identifyBase({ digest: d(506), layers: [layer(8)] }, [debianOld, python], list)).toMatchObject({ status: 'unknown', layerCount: 0, trusted: false });
    expect(identifyBase({ digest: d(100), layers: [layer(1)] }, [debianOld], list).status).toBe('unknown');
  });
});

function pkg(name: string, version: string, l: LayerId): Package {
  return { type: 'deb', name, version, layer: l.diffId!, locations: ['/var/lib/dpkg/status'], purl: `pkg:deb/debian/${name}@${version}`, licenses: [] } as unknown as Package;
}
function finding(id: string, p: Package, severity = 'high'): Finding {
  return { id, aliases: [], severity, fixState: 'fixed', fixedIn: '9', package: { type: p.type, name: p.name, version: p.version, purl: p.purl }, layer: p.layer, evidence: [] } as unknown as Finding;
}

describe('split, per-group policies, rebuild advice', () => {
  const layers = [layer(1), layer(3)];
  const openssl = pkg('openssl', '3.0.1', layer(1));
  const zlib = pkg('zlib1g', '1.2', layer(1));
  const app = pkg('myapp-lib', '1.0', layer(3));
  const findings = [finding('CVE-2026-0001', openssl), finding('CVE-2026-0002', zlib), finding('CVE-2026-0003', app, 'critical')];
  const base = identifyBase({ digest: d(600), layers }, [debianOld, debianNew], list);
  const ctx: PolicyContext = {
    image: { reference: 'reg.example/team/app:1', registry: 'reg.example', repository: 'team/app', tag: '1', digest: d(600), id: d(601), architecture: 'amd64', os: 'linux', size: 1, layerCount: 2 },
    packages: [openssl, zlib, app],
    vulnerabilities: { findings, judgedThroughOwner: [], unmatchable: [], issues: [], counts: {} as never },
    layerIds: layers,
    base,
    now: new Date('2026-04-01T00:00:00Z'),
  };

  it('restricts packages and findings to a group; with no identified base everything is the application\'s', () => {
    expect(restrictContext(ctx, 'base').packages.map((p) => p.name)).toEqual(['openssl', 'zlib1g']);
    expect(restrictContext(ctx, 'application').vulnerabilities!.findings.map((f) => f.id)).toEqual(['CVE-2026-0003']);
    const { base: _dropped, ...noBase } = ctx;
    expect(restrictContext(noBase, 'application').packages).toHaveLength(3);
    expect(restrictContext(noBase, 'base').packages).toHaveLength(0);
    expect(splitFindings(findings, layers, base).map((f) => f.layerGroup)).toEqual(['base', 'base', 'application']);
  });

  it('applies base_policy_ids to the base layers and application_policy_ids to the rest', () => {
    const bundle = parseBundle({
      id: 'b', version: '2',
      policies: [
        { id: 'whole', rules: [] },
        { id: 'base-rules', rules: [{ gate: 'vulnerabilities', trigger: 'package', action: 'WARN', params: [{ name: 'package_type', value: 'all' }, { name: 'severity_comparison', value: '>=' }, { name: 'severity', value: 'high' }] }] },
        { id: 'app-rules', rules: [{ gate: 'vulnerabilities', trigger: 'package', action: 'STOP', params: [{ name: 'package_type', value: 'all' }, { name: 'severity_comparison', value: '>=' }, { name: 'severity', value: 'critical' }] }] },
      ],
      allowlists: [],
      mappings: [{ registry: '*', repository: '*', image: { type: 'tag', value: '*' }, policy_ids: ['whole'], base_policy_ids: ['base-rules'], application_policy_ids: ['app-rules'] }],
    });
    const r = evaluatePolicy(bundle, ctx);
    expect(r.fired.map((f) => [f.layerGroup, f.action, f.triggerId.split('+')[0]])).toEqual([
      ['base', 'WARN', 'CVE-2026-0001'],
      ['base', 'WARN', 'CVE-2026-0002'],
      ['application', 'STOP', 'CVE-2026-0003'],
    ]);
    expect(r.verdict).toBe('fail');
    expect(r.policyIds).toEqual(['whole', 'base-rules', 'app-rules']);
    expect(() => parseBundle({ id: 'b', version: '2', policies: [{ id: 'p', rules: [] }], allowlists: [], mappings: [{ registry: '*', repository: '*', image: { type: 'tag', value: '*' }, policy_ids: ['p'], base_policy_ids: ['nope'] }] })).toThrow(/base_policy_ids: policy id "nope"/);
  });

  it('base_image gate: not_trusted, not_signed, stale; fails closed without a list', () => {
    const fire = (trigger: string, c: PolicyContext, params: Record<string, unknown> = {}) => baseImageGate.triggers.find((t) => t.name === trigger)!.evaluate(c, params).map((f) => f.triggerId);
    expect(fire('not_trusted', ctx)).toEqual([]);
    expect(fire('stale', ctx)).toEqual([`reg.example/base/debian:12@${d(100)}→${d(101)}`]);
    expect(fire('stale', ctx, { grace_days: 60 })).toEqual([]);
    expect(fire('not_signed', ctx)).toEqual(['not_checked']);
    expect(fire('not_signed', { ...ctx, base: { ...base, signature: { status: 'signed', signers: ['k'] } } })).toEqual([]);
    const { base: _b, ...none } = ctx;
    expect(fire('not_trusted', none)).toEqual(['not_checked']);
    expect(fire('not_trusted', { ...ctx, base: { ...base, status: 'unknown', layerCount: 0 } })).toEqual(['unknown']);
  });

  it('rebuild advice lists exactly the base-layer findings the newest base no longer has', () => {
    const newest = [{ id: 'CVE-2026-0002', package: { name: 'zlib1g' } }];
    const advice = rebuildAdvice(findings, layers, base, newest)!;
    expect(advice.clears.map((c) => `${c.id} ${c.package}`)).toEqual(['CVE-2026-0001 openssl']);
    expect(advice).toMatchObject({ from: d(100), to: d(101), remains: 1 });
    expect(advice.summary).toMatch(/clears 1 finding in the base layers; 1 remains/);
    expect(rebuildAdvice(findings, layers, base, undefined)).toBeUndefined();
    expect(rebuildAdvice(findings, layers, { ...base, newest: undefined } as never, newest)).toBeUndefined();
  });
});
