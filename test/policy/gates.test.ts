/**
 * The gates one by one: every trigger fires on a hand-built PolicyContext and stays quiet on
 * another. Params are written as a bundle writes them (strings) and converted by a small local
 * stand-in for the engine's conversion (defaults applied, lists split, regexes compiled).
 */
import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import type { Package } from '../../shared/catalog/types.js';
import type { Finding, MatchResult } from '../../shared/match/index.js';
import { alwaysGate } from '../../shared/policy/gates/always.js';
import { distroGate } from '../../shared/policy/gates/distro.js';
import { dockerfileGate, parseHistoryLine } from '../../shared/policy/gates/dockerfile.js';
import { licensesGate } from '../../shared/policy/gates/licenses.js';
import { metadataGate, parseSize } from '../../shared/policy/gates/metadata.js';
import { packagesGate } from '../../shared/policy/gates/packages.js';
import { vulnerabilitiesGate } from '../../shared/policy/gates/vulnerabilities.js';
import type { Gate, ImageConfigSummary, ParamValues, PolicyContext, TriggerFire } from '../../shared/policy/types.js';

const NOW = new Date('2024-06-30T12:00:00Z');
const DAY = 86_400_000;
const daysBefore = (n: number) => new Date(NOW.getTime() - n * DAY).toISOString();

/** The engine's conversion, in small: string params → typed values, defaults applied. */
function convert(gate: Gate, trigger: string, raw: Record<string, string>): ParamValues {
  const t = gate.triggers.find((x) => x.name === trigger);
  if (!t) throw new Error(`no trigger ${gate.name}/${trigger}`);
  const out: ParamValues = {};
  for (const spec of t.params) {
    const v = raw[spec.name] ?? spec.default;
    if (v === undefined) continue;
    switch (spec.type) {
      case 'integer':
      case 'number':
        out[spec.name] = Number(v);
        break;
      case 'boolean':
        out[spec.name] = v.toLowerCase() === 'true';
        break;
      case 'list':
        out[spec.name] = v.split(',').map((s) => s.trim()).filter(Boolean);
        break;
      case 'regex':
        out[spec.name] = RE2JS.compile(v);
        break;
      case 'enum':
        if (!spec.values?.includes(v)) throw new Error(`${spec.name}: ${v} not one of ${spec.values?.join(' ')}`);
        out[spec.name] = v;
        break;
      default:
        out[spec.name] = v;
    }
  }
  for (const k of Object.keys(raw)) if (!t.params.some((p) => p.name === k)) throw new Error(`unknown param ${k}`);
  return out;
}

function run(gate: Gate, trigger: string, ctx: PolicyContext, raw: Record<string, string> = {}): TriggerFire[] {
  const t = gate.triggers.find((x) => x.name === trigger)!;
  return t.evaluate(ctx, convert(gate, trigger, raw));
}

function pkg(p: Partial<Package> & { name: string; version: string }): Package {
  const type = p.type ?? 'deb';
  return { purl: `pkg:${type}/${p.name}@${p.version}`, layer: 'sha256:aaaa', locations: ['/var/lib/dpkg/status'], ...p, type };
}

function finding(f: Partial<Finding> & { id: string }): Finding {
  return {
    aliases: [],
    severity: 'high',
    fixState: 'fixed',
    fixedIn: '3.0.13-1',
    package: { type: 'deb', name: 'openssl', version: '3.0.11-1', purl: 'pkg:deb/debian/openssl@3.0.11-1' },
    layer: 'sha256:aaaa',
    evidence: [],
    ...f,
  };
}

function matchResult(findings: Finding[]): MatchResult {
  return {
    findings,
    judgedThroughOwner: [],
    unmatchable: [],
    counts: { packages: 0, packagesLookedUp: 0, keysLookedUp: 0, advisoryEntriesChecked: 0, findings: findings.length, ownedByOsPackage: 0, notAffected: 0, withdrawn: 0, invalidVersions: 0 },
    issues: [],
  };
}

function config(c: Partial<ImageConfigSummary> = {}): ImageConfigSummary {
  return { exposedPorts: [], env: [], labels: {}, history: [], ...c };
}

function context(c: Partial<PolicyContext> = {}): PolicyContext {
  return {
    image: { reference: 'example/app:1', digest: 'sha256:d1', id: 'sha256:c1', architecture: 'amd64', os: 'linux', size: 50_000_000, layerCount: 3 },
    distro: { id: 'debian', versionId: '12', codename: 'bookworm', source: '/etc/os-release' },
    packages: [],
    vulnerabilities: matchResult([]),
    now: NOW,
    ...c,
  };
}

describe('always', () => {
  it('fires once, with no params', () => {
    expect(run(alwaysGate, 'always', context())).toEqual([{ triggerId: 'always', message: expect.any(String) }]);
  });
});

describe('vulnerabilities / package', () => {
  const critical16 = finding({ id: 'CVE-2024-0016', severity: 'critical', published: daysBefore(16) });
  const critical14 = finding({ id: 'CVE-2024-0014', severity: 'critical', published: daysBefore(14), package: { type: 'deb', name: 'zlib', version: '1.2.13', purl: 'pkg:deb/debian/zlib@1.2.13' } });
  const medium = finding({ id: 'CVE-2024-1000', severity: 'medium', fixState: 'not-fixed', fixedIn: undefined });
  const npmHigh = finding({ id: 'GHSA-aaaa-bbbb-cccc', severity: 'high', package: { type: 'npm', name: 'lodash', version: '4.17.20', purl: 'pkg:npm/lodash@4.17.20' } });
  const ctx = context({ vulnerabilities: matchResult([critical16, critical14, medium, npmHigh]) });
  const ids = (fires: TriggerFire[]) => fires.map((f) => f.triggerId).sort();

  it('BOD 19-02: a critical published 16 days ago fires max_days_since_creation=15, one published 14 days ago does not', () => {
    const fires = run(vulnerabilitiesGate, 'package', ctx, { package_type: 'all', severity_comparison: '=', severity: 'critical', max_days_since_creation: '15' });
    expect(ids(fires)).toEqual(['CVE-2024-0016+openssl']);
    expect(fires[0]!.message).toMatch(/CRITICAL.*openssl 3\.0\.11-1.*fixed in 3\.0\.13-1.*16 days ago/);
    // the WARN rule without the age fires for both
    expect(ids(run(vulnerabilitiesGate, 'package', ctx, { severity_comparison: '=', severity: 'critical' }))).toEqual(['CVE-2024-0014+zlib', 'CVE-2024-0016+openssl']);
  });

  it('a finding with no publication date is never old enough', () => {
    const c = context({ vulnerabilities: matchResult([finding({ id: 'CVE-X', severity: 'critical' })]) });
    expect(run(vulnerabilitiesGate, 'package', c, { severity: 'high', severity_comparison: '>=', max_days_since_creation: '1' })).toEqual([]);
  });

  it('compares severity in Anchore order; defaults to "> unknown"', () => {
    expect(ids(run(vulnerabilitiesGate, 'package', ctx, { severity_comparison: '<', severity: 'high' }))).toEqual(['CVE-2024-1000+openssl']);
    expect(ids(run(vulnerabilitiesGate, 'package', ctx, { severity_comparison: '>', severity: 'critical' }))).toEqual([]);
    expect(run(vulnerabilitiesGate, 'package', ctx)).toHaveLength(4);
    const unknown = context({ vulnerabilities: matchResult([finding({ id: 'CVE-U', severity: 'unknown' })]) });
    expect(run(vulnerabilitiesGate, 'package', unknown)).toEqual([]);
  });

  it('filters by package_type (os = deb/apk/rpm)', () => {
    expect(ids(run(vulnerabilitiesGate, 'package', ctx, { package_type: 'non-os' }))).toEqual(['GHSA-aaaa-bbbb-cccc+lodash']);
    expect(run(vulnerabilitiesGate, 'package', ctx, { package_type: 'os' })).toHaveLength(3);
  });

  it('fix_available matches fixState "fixed"', () => {
    expect(ids(run(vulnerabilitiesGate, 'package', ctx, { fix_available: 'false' }))).toEqual(['CVE-2024-1000+openssl']);
    expect(run(vulnerabilitiesGate, 'package', ctx, { fix_available: 'true' })).toHaveLength(3);
  });

  it('vendor_only (default true) drops won\'t-fix findings', () => {
    const c = context({ vulnerabilities: matchResult([finding({ id: 'CVE-W', fixState: 'wont-fix', fixedIn: undefined })]) });
    expect(run(vulnerabilitiesGate, 'package', c)).toEqual([]);
    expect(run(vulnerabilitiesGate, 'package', c, { vendor_only: 'false' })).toHaveLength(1);
  });

  it('compares the CVSS v3 base score (none or v2 = -1)', () => {
    const v3 = finding({ id: 'CVE-V3', cvss: { version: '3.1', vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', score: 9.8, severity: 'critical' } });
    const v2 = finding({ id: 'CVE-V2', cvss: { version: '2.0', vector: 'AV:N/AC:L/Au:N/C:C/I:C/A:C', score: 10, severity: 'high' } });
    const c = context({ vulnerabilities: matchResult([v3, v2, finding({ id: 'CVE-NONE' })]) });
    const fires = run(vulnerabilitiesGate, 'package', c, { cvss_v3_base_score: '9.0' });
    expect(ids(fires)).toEqual(['CVE-V3+openssl']);
    expect(fires[0]!.message).toContain('cvss_v3_base_score=9.8');
    expect(ids(run(vulnerabilitiesGate, 'package', c, { cvss_v3_base_score_comparison: '<', cvss_v3_base_score: '5' }))).toEqual(['CVE-NONE+openssl', 'CVE-V2+openssl']);
  });

  it('max_days_since_fix: only with fix_available=true; a fix cannot predate the advisory', () => {
    const recent = finding({ id: 'CVE-R', published: daysBefore(10) });
    const old = finding({ id: 'CVE-O', published: daysBefore(60) });
    const undated = finding({ id: 'CVE-N' });
    const c = context({ vulnerabilities: matchResult([recent, old, undated]) });
    expect(ids(run(vulnerabilitiesGate, 'package', c, { fix_available: 'true', max_days_since_fix: '30' }))).toEqual(['CVE-N+openssl', 'CVE-O+openssl']);
    expect(run(vulnerabilitiesGate, 'package', c, { max_days_since_fix: '30' })).toHaveLength(3);
  });

  it('package_path_exclude drops non-OS packages by location (anchored)', () => {
    const lodash = pkg({ type: 'npm', name: 'lodash', version: '4.17.20', purl: 'pkg:npm/lodash@4.17.20', locations: ['/usr/lib/node_modules/npm/node_modules/lodash/package.json'] });
    const c = context({ packages: [lodash], vulnerabilities: matchResult([npmHigh]) });
    expect(run(vulnerabilitiesGate, 'package', c, { package_path_exclude: '/usr/lib/node_modules/npm/' })).toEqual([]);
    expect(run(vulnerabilitiesGate, 'package', c, { package_path_exclude: 'node_modules/npm/' })).toHaveLength(1);
  });

  it('does nothing without vulnerability data', () => {
    expect(run(vulnerabilitiesGate, 'package', context({ vulnerabilities: undefined }))).toEqual([]);
  });
});

describe('vulnerabilities / other triggers', () => {
  it('stale_feed_data fires when the last sync is older than max_days_since_sync', () => {
    expect(run(vulnerabilitiesGate, 'stale_feed_data', context({ advisoriesUpdatedAt: new Date(daysBefore(3)) }), { max_days_since_sync: '2' })).toEqual([{ triggerId: 'stale_feed_data', message: expect.stringMatching(/3 days ago/) }]);
    expect(run(vulnerabilitiesGate, 'stale_feed_data', context({ advisoriesUpdatedAt: new Date(daysBefore(1)) }), { max_days_since_sync: '2' })).toEqual([]);
    expect(run(vulnerabilitiesGate, 'stale_feed_data', context(), { max_days_since_sync: '2' })).toEqual([]);
  });

  it('vulnerability_data_unavailable fires without data, or for a distro no feed covers', () => {
    expect(run(vulnerabilitiesGate, 'vulnerability_data_unavailable', context({ vulnerabilities: undefined }))).toHaveLength(1);
    expect(run(vulnerabilitiesGate, 'vulnerability_data_unavailable', context())).toEqual([]);
    const unknownDistro = context({ distro: { id: 'plan9', versionId: '4', source: '/etc/os-release' }, packages: [pkg({ name: 'libc', version: '1', type: 'rpm' })] });
    expect(run(vulnerabilitiesGate, 'vulnerability_data_unavailable', unknownDistro)[0]!.message).toContain('plan9 4');
  });

  for (const name of ['denylist', 'blacklist']) {
    it(`${name} fires per listed id found (ids and aliases), skipping won't-fix by default`, () => {
      const c = context({
        vulnerabilities: matchResult([
          finding({ id: 'CVE-2023-1', aliases: ['DSA-1-1'] }),
          finding({ id: 'CVE-2023-2', fixState: 'wont-fix' }),
        ]),
      });
      expect(run(vulnerabilitiesGate, name, c, { vulnerability_ids: 'DSA-1-1, CVE-2023-2, CVE-2099-9' }).map((f) => f.triggerId)).toEqual(['DSA-1-1']);
      expect(run(vulnerabilitiesGate, name, c, { vulnerability_ids: 'CVE-2023-2', vendor_only: 'false' }).map((f) => f.triggerId)).toEqual(['CVE-2023-2']);
      expect(run(vulnerabilitiesGate, name, c, { vulnerability_ids: 'CVE-2099-9' })).toEqual([]);
    });
  }
});

describe('packages', () => {
  const ctx = context({
    packages: [pkg({ name: 'openssl', version: '3.0.11-1~deb12u2' }), pkg({ name: 'openssh-server', version: '1:9.2p1-2' }), pkg({ type: 'npm', name: 'express', version: '4.18.2' }), pkg({ type: 'npm', name: 'weird', version: 'not-a-version' })],
  });

  it('required_package: fires when missing, not when present', () => {
    expect(run(packagesGate, 'required_package', ctx, { name: 'ca-certificates' })).toEqual([{ triggerId: 'ca-certificates', message: expect.stringMatching(/not present/) }]);
    expect(run(packagesGate, 'required_package', ctx, { name: 'openssl' })).toEqual([]);
  });

  it('required_package exact: the version string must be equal', () => {
    expect(run(packagesGate, 'required_package', ctx, { name: 'openssl', version: '3.0.11-1~deb12u2' })).toEqual([]);
    expect(run(packagesGate, 'required_package', ctx, { name: 'openssl', version: '3.0.11-1' })[0]!.message).toMatch(/present at 3\.0\.11-1~deb12u2, not at version 3\.0\.11-1/);
  });

  it("required_package minimum: compared in the package's own scheme", () => {
    // dpkg: ~ sorts before the empty string, so 3.0.11-1~deb12u2 < 3.0.11-1
    expect(run(packagesGate, 'required_package', ctx, { name: 'openssl', version: '3.0.11-1', version_match_type: 'minimum' })).toHaveLength(1);
    expect(run(packagesGate, 'required_package', ctx, { name: 'openssl', version: '3.0.11-1~deb12u1', version_match_type: 'minimum' })).toEqual([]);
    expect(run(packagesGate, 'required_package', ctx, { name: 'express', version: '4.9.0', version_match_type: 'minimum' })).toEqual([]);
    expect(run(packagesGate, 'required_package', ctx, { name: 'express', version: '4.19.0', version_match_type: 'minimum' })).toHaveLength(1);
  });

  it('required_package minimum: an invalid version does not satisfy, and says so', () => {
    const fires = run(packagesGate, 'required_package', ctx, { name: 'weird', version: '1.0.0', version_match_type: 'minimum' });
    expect(fires).toHaveLength(1);
    expect(fires[0]!.message).toMatch(/cannot compare.*not-a-version/);
  });

  for (const name of ['denylist', 'blacklist']) {
    it(`${name}: by name, optionally exact version`, () => {
      expect(run(packagesGate, name, ctx, { name: 'openssh-server' })).toEqual([{ triggerId: 'openssh-server-1:9.2p1-2', message: expect.stringMatching(/denylisted/) }]);
      expect(run(packagesGate, name, ctx, { name: 'openssh-server', version: '1:9.2p1-2' })).toHaveLength(1);
      expect(run(packagesGate, name, ctx, { name: 'openssh-server', version: '9.2p1-2' })).toEqual([]);
      expect(run(packagesGate, name, ctx, { name: 'telnetd' })).toEqual([]);
    });
  }

  it('metadata: type, name and version globs', () => {
    expect(run(packagesGate, 'metadata', ctx, { type: 'npm', name: 'ex*' }).map((f) => f.triggerId)).toEqual(['npm:express-4.18.2']);
    expect(run(packagesGate, 'metadata', ctx, { name: 'open*', version: '*9.2*' }).map((f) => f.triggerId)).toEqual(['deb:openssh-server-1:9.2p1-2']);
    expect(run(packagesGate, 'metadata', ctx, { type: 'rpm' })).toEqual([]);
  });
});

describe('licenses', () => {
  const ctx = context({
    packages: [
      pkg({ name: 'bash', version: '5.2', licenses: ['GPL-3.0-or-later'] }),
      pkg({ name: 'libfoo', version: '1', licenses: ['LGPL-2.1-only OR MIT'] }),
      pkg({ type: 'npm', name: 'left-pad', version: '1.3.0', licenses: ['WTFPL'] }),
    ],
  });

  for (const [exactName, partialName] of [
    ['denylist_exact_match', 'denylist_partial_match'],
    ['blacklist_exact_match', 'blacklist_partial_match'],
  ] as const) {
    it(`${exactName}: whole licence or one id of an expression`, () => {
      expect(run(licensesGate, exactName, ctx, { licenses: 'GPL-3.0-or-later,MIT' }).map((f) => f.triggerId)).toEqual(['GPL-3.0-or-later+bash', 'MIT+libfoo']);
      expect(run(licensesGate, exactName, ctx, { licenses: 'GPL-3.0' })).toEqual([]);
      expect(run(licensesGate, exactName, ctx, { licenses: 'WTFPL', package_type: 'os' })).toEqual([]);
      expect(run(licensesGate, exactName, ctx, { licenses: 'WTFPL', package_type: 'non-os' })).toHaveLength(1);
    });

    it(`${partialName}: substring`, () => {
      expect(run(licensesGate, partialName, ctx, { licenses: 'GPL' }).map((f) => f.triggerId)).toEqual(['GPL-3.0-or-later+bash', 'LGPL-2.1-only OR MIT+libfoo']);
      expect(run(licensesGate, partialName, ctx, { licenses: 'GPL', package_type: 'non-os' })).toEqual([]);
      expect(run(licensesGate, partialName, ctx, { licenses: 'Apache' })).toEqual([]);
    });
  }
});

describe('distro', () => {
  const alpine = (v: string) => context({ distro: { id: 'alpine', versionId: v, source: '/etc/os-release' } });

  it('deny compares dotted versions over the rule parts', () => {
    expect(run(distroGate, 'deny', context(), { distro: 'debian', version: '9', check: '<' })).toEqual([]);
    expect(run(distroGate, 'deny', context({ distro: { id: 'debian', versionId: '8', source: '' } }), { distro: 'debian', version: '9', check: '<' })).toEqual([{ triggerId: 'debian:8', message: expect.any(String) }]);
    expect(run(distroGate, 'deny', alpine('3.18.4'), { distro: 'alpine', version: '3.19', check: '<' })).toHaveLength(1);
    expect(run(distroGate, 'deny', alpine('3.19.1'), { distro: 'alpine', version: '3.19', check: '<' })).toEqual([]);
    expect(run(distroGate, 'deny', alpine('3.19.1'), { distro: 'alpine', version: '3.19', check: '=' })).toHaveLength(1);
    expect(run(distroGate, 'deny', alpine('3.9.1'), { distro: 'alpine', version: '3.10', check: '<' })).toHaveLength(1);
    expect(run(distroGate, 'deny', alpine('3.9.1'), { distro: 'debian', version: '3.10', check: '<' })).toEqual([]);
  });

  it('eol fires past the end of security support, or within within_days of it', () => {
    expect(run(distroGate, 'eol', context({ distro: { id: 'debian', versionId: '9.13', source: '' } }))).toEqual([{ triggerId: 'debian:9', message: expect.stringMatching(/reached .* 2022-06-30/) }]);
    // support ends at the end of the listed day: NOW is on Debian 10's last day
    expect(run(distroGate, 'eol', context({ distro: { id: 'debian', versionId: '10', source: '' } }))).toEqual([]);
    expect(run(distroGate, 'eol', alpine('3.15.11'))).toHaveLength(1);
    expect(run(distroGate, 'eol', context())).toEqual([]);
    expect(run(distroGate, 'eol', alpine('3.20.1'))).toEqual([]);
    expect(run(distroGate, 'eol', context({ distro: { id: 'ubuntu', versionId: '24.04', source: '' } }))).toEqual([]);
    expect(run(distroGate, 'eol', context({ distro: { id: 'debian', versionId: '11', source: '' } }), { within_days: '800' })).toHaveLength(1);
    expect(run(distroGate, 'eol', context({ distro: { id: 'debian', codename: 'stretch', source: '' } }))).toHaveLength(1);
  });
});

describe('metadata', () => {
  const ctx = context({ distro: { id: 'ubuntu', versionId: '22.04', idLike: ['debian'], source: '' } });

  it('numbers: size (with units) and layer_count', () => {
    expect(run(metadataGate, 'attribute', ctx, { attribute: 'size', check: '>', value: '10MB' })).toEqual([{ triggerId: 'size', message: expect.stringMatching(/matched image value: '50000000'/) }]);
    expect(run(metadataGate, 'attribute', ctx, { attribute: 'size', check: '>', value: '1GiB' })).toEqual([]);
    expect(run(metadataGate, 'attribute', ctx, { attribute: 'layer_count', check: '>=', value: '3' })).toHaveLength(1);
    expect(run(metadataGate, 'attribute', ctx, { attribute: 'layer_count', check: '>', value: '3' })).toEqual([]);
    expect(parseSize('1.5 GiB')).toBe(1.5 * 1024 ** 3);
  });

  it('strings, distro_version by dotted parts, like, in, exists', () => {
    expect(run(metadataGate, 'attribute', ctx, { attribute: 'architecture', check: '=', value: 'amd64' })).toHaveLength(1);
    expect(run(metadataGate, 'attribute', ctx, { attribute: 'architecture', check: '!=', value: 'amd64' })).toEqual([]);
    expect(run(metadataGate, 'attribute', ctx, { attribute: 'distro_version', check: '<', value: '22.10' })).toHaveLength(1);
    expect(run(metadataGate, 'attribute', ctx, { attribute: 'distro_version', check: '<', value: '20.04' })).toEqual([]);
    expect(run(metadataGate, 'attribute', ctx, { attribute: 'os_type', check: 'like', value: 'lin' })).toHaveLength(1);
    expect(run(metadataGate, 'attribute', ctx, { attribute: 'os_type', check: 'like', value: 'nux' })).toEqual([]);
    expect(run(metadataGate, 'attribute', ctx, { attribute: 'os_type', check: 'not_like', value: 'win' })).toHaveLength(1);
    expect(run(metadataGate, 'attribute', ctx, { attribute: 'distro', check: 'in', value: 'debian, ubuntu' })).toHaveLength(1);
    expect(run(metadataGate, 'attribute', ctx, { attribute: 'distro', check: 'not_in', value: 'debian, ubuntu' })).toEqual([]);
    expect(run(metadataGate, 'attribute', ctx, { attribute: 'like_distro', check: 'exists' })).toHaveLength(1);
    expect(run(metadataGate, 'attribute', context(), { attribute: 'like_distro', check: 'exists' })).toEqual([]);
    expect(run(metadataGate, 'attribute', context(), { attribute: 'like_distro', check: 'not_exists' })).toHaveLength(1);
    expect(run(metadataGate, 'attribute', ctx, { attribute: 'distro', check: '=' })).toEqual([]);
  });

  it('rejects a bad regex or a non-number value at evaluation', () => {
    expect(() => run(metadataGate, 'attribute', ctx, { attribute: 'os_type', check: 'like', value: '(' })).toThrow(/invalid regex/);
    expect(() => run(metadataGate, 'attribute', ctx, { attribute: 'layer_count', check: '>', value: 'many' })).toThrow(/not a number/);
  });
});

describe('dockerfile', () => {
  const history = [
    '/bin/sh -c #(nop) ADD file:1234abcd in / ',
    '/bin/sh -c #(nop)  CMD ["bash"]',
    '/bin/sh -c apt-get update && apt-get install -y openssh-server',
    '|1 VERSION=1.2 /bin/sh -c make install',
    '/bin/sh -c #(nop)  EXPOSE 22/tcp',
    'EXPOSE map[80/tcp:{} 443/tcp:{}]',
    'RUN /bin/sh -c useradd app # buildkit',
    'COPY . /app # buildkit',
    'ENV PATH=/usr/local/bin:/usr/bin',
    'USER app',
  ].map((createdBy) => ({ createdBy, emptyLayer: false }));
  const ctx = context({ image: { ...context().image, config: config({ user: '', exposedPorts: ['22/tcp', '80/tcp', '53/udp'], history }) } });
  const withUser = (user: string) => context({ image: { ...context().image, config: config({ user }) } });

  it('parses classic and BuildKit history lines', () => {
    expect(history.map((h) => parseHistoryLine(h.createdBy))).toEqual([
      { instruction: 'ADD', args: 'file:1234abcd in /' },
      { instruction: 'CMD', args: '["bash"]' },
      { instruction: 'RUN', args: 'apt-get update && apt-get install -y openssh-server' },
      { instruction: 'RUN', args: 'make install' },
      { instruction: 'EXPOSE', args: '22/tcp' },
      { instruction: 'EXPOSE', args: '80/tcp 443/tcp' },
      { instruction: 'RUN', args: 'useradd app' },
      { instruction: 'COPY', args: '. /app' },
      { instruction: 'ENV', args: 'PATH=/usr/local/bin:/usr/bin' },
      { instruction: 'USER', args: 'app' },
    ]);
    expect(parseHistoryLine('bazel build')).toBeUndefined();
  });

  it('effective_user: empty user is root; 0 and root are the same user', () => {
    expect(run(dockerfileGate, 'effective_user', ctx, { users: 'root', type: 'denylist' })).toEqual([{ triggerId: 'root', message: expect.any(String) }]);
    expect(run(dockerfileGate, 'effective_user', withUser('0:0'), { users: 'root', type: 'blacklist' })).toHaveLength(1);
    expect(run(dockerfileGate, 'effective_user', withUser('app'), { users: 'root', type: 'denylist' })).toEqual([]);
    expect(run(dockerfileGate, 'effective_user', withUser('app'), { users: 'app,www', type: 'allowlist' })).toEqual([]);
    expect(run(dockerfileGate, 'effective_user', withUser('nobody'), { users: 'app,www', type: 'whitelist' })).toEqual([{ triggerId: 'nobody', message: expect.stringMatching(/not on the allowed list/) }]);
    expect(run(dockerfileGate, 'effective_user', context(), { users: 'root', type: 'denylist' })).toEqual([]);
  });

  it('exposed_ports: denylist and allowlist, trigger id the port', () => {
    expect(run(dockerfileGate, 'exposed_ports', ctx, { ports: '22,53', type: 'denylist' }).map((f) => f.triggerId)).toEqual(['22', '53']);
    expect(run(dockerfileGate, 'exposed_ports', ctx, { ports: '8080', type: 'denylist' })).toEqual([]);
    expect(run(dockerfileGate, 'exposed_ports', ctx, { ports: '80,53', type: 'allowlist' }).map((f) => f.triggerId)).toEqual(['22']);
    expect(run(dockerfileGate, 'exposed_ports', ctx, { ports: '22,80,53', type: 'allowlist' })).toEqual([]);
    expect(run(dockerfileGate, 'exposed_ports', ctx, { ports: '0', type: 'denylist' })).toHaveLength(3);
    expect(run(dockerfileGate, 'exposed_ports', ctx, { ports: '22', type: 'denylist', actual_dockerfile_only: 'true' })).toEqual([]);
  });

  it('instruction: =, !=, exists, not_exists, like, not_like, in, not_in', () => {
    const ids = (raw: Record<string, string>) => run(dockerfileGate, 'instruction', ctx, raw).map((f) => f.triggerId);
    expect(ids({ instruction: 'USER', check: '=', value: 'app' })).toEqual(['USER app']);
    expect(ids({ instruction: 'USER', check: '!=', value: 'app' })).toEqual([]);
    expect(ids({ instruction: 'RUN', check: 'like', value: '.*openssh-server' })).toEqual(['RUN apt-get update && apt-get install -y openssh-server']);
    expect(ids({ instruction: 'RUN', check: 'like', value: 'curl' })).toEqual([]);
    expect(ids({ instruction: 'RUN', check: 'not_like', value: 'apt-get' })).toEqual(['RUN make install', 'RUN useradd app']);
    expect(ids({ instruction: 'expose', check: 'exists' })).toEqual(['EXPOSE 22/tcp', 'EXPOSE 80/tcp 443/tcp']);
    expect(ids({ instruction: 'HEALTHCHECK', check: 'exists' })).toEqual([]);
    expect(ids({ instruction: 'HEALTHCHECK', check: 'not_exists' })).toEqual(['HEALTHCHECK']);
    expect(ids({ instruction: 'USER', check: 'not_exists' })).toEqual([]);
    expect(ids({ instruction: 'USER', check: 'in', value: 'root, app' })).toEqual(['USER app']);
    expect(ids({ instruction: 'USER', check: 'not_in', value: 'root, app' })).toEqual([]);
    expect(ids({ instruction: 'USER', check: '=' })).toEqual([]);
  });

  it('no_dockerfile_provided: fires when there is no history to infer one from', () => {
    expect(run(dockerfileGate, 'no_dockerfile_provided', ctx)).toEqual([]);
    expect(run(dockerfileGate, 'no_dockerfile_provided', withUser('app'))).toEqual([{ triggerId: 'no_dockerfile_provided', message: expect.stringMatching(/no build history/) }]);
    expect(run(dockerfileGate, 'no_dockerfile_provided', context())).toHaveLength(1);
  });
});

describe('param specs', () => {
  it('every trigger has a description and every param a description; defaults are valid', () => {
    for (const gate of [alwaysGate, vulnerabilitiesGate, packagesGate, licensesGate, distroGate, metadataGate, dockerfileGate]) {
      for (const t of gate.triggers) {
        expect(t.description, `${gate.name}/${t.name}`).not.toBe('');
        for (const p of t.params) {
          expect(p.description, `${gate.name}/${t.name}/${p.name}`).not.toBe('');
          if (p.type === 'enum') expect(p.values?.length).toBeGreaterThan(0);
          if (p.default !== undefined && p.type === 'enum') expect(p.values).toContain(p.default);
        }
      }
    }
  });
});
