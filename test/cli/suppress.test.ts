/**
 * Ignore file and OpenVEX (issue 15 item 4): `drydock scan` run in-process on an image this
 * test builds (Debian 12, libssl3 and openssl from source openssl: each carries CVE-2023-5363
 * and CVE-2024-6119 in the real Debian tracker sample). No mocks; DRYDOCK_NOW sets the scan's
 * clock (tests only) so that expiry dates are judged at a fixed time. The two real OpenVEX
 * examples in ../shared/fixtures/schemas are read and checked against the official schema.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../shared/cli/main.js';
import type { Finding } from '../../shared/match/index.js';
import { applySuppressions, parseIgnoreFile, parseVex, purlMatches } from '../../shared/match/suppress.js';
import { runCli } from '../support/cli.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';
import { buildImage } from '../support/image-builder.js';

const TRACKER = join(SHARED_FIXTURES, 'advisories', 'debian', 'security-tracker');
const SCHEMAS = join(SHARED_FIXTURES, 'schemas');
const NOW = '2024-09-10T00:00:00Z';
let work: string;
let ref: string;

const scan = (now: string, ...argv: string[]) => runCli(['scan', ref, '--advisories', TRACKER, '--max-advisory-age', '0', '-q', ...argv], { DRYDOCK_CACHE_DIR: join(work, 'cache'), DRYDOCK_NOW: now });
const findingsOf = (out: string): Finding[] => JSON.parse(out).results[0].vulnerabilities.findings;
const of = (fs: Finding[], id: string, pkg: string) => fs.find((f) => f.id === id && f.package.name === pkg)!;

async function file(name: string, text: string): Promise<string> {
  const p = join(work, name);
  await writeFile(p, text);
  return p;
}

const vexDoc = (id: string, statements: object[]) =>
  JSON.stringify({ '@context': 'https://openvex.dev/ns/v0.2.0', '@id': id, author: 'Drydock tests', timestamp: '2024-09-01T00:00:00Z', version: 1, statements });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-suppress-'));
  await buildImage(join(work, 'layout'), {
    tag: 'v1',
    layers: [
      {
        files: [
          { path: 'etc/os-release', content: OS_RELEASE_12 },
          { path: 'var/lib/dpkg/status', content: statusFile(stanza('libssl3', '3.0.11-1~deb12u1', { Source: 'openssl' }), stanza('openssl', '3.0.11-1~deb12u1')) },
        ],
      },
    ],
  });
  ref = `oci:${join(work, 'layout')}:v1`;
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('ignore file', () => {
  const IGNORE = [
    'vulnerabilities:',
    '  - id: CVE-2023-5363',
    '    reason: only TLS 1.3 with fixed key lengths is configured',
    '    expires: 2030-01-01',
    '  - id: DSA-5764-1            # an alias of CVE-2024-6119',
    '    package: openssl',
    '    reason: accepted until the next base image',
    '    expires: 2024-06-30',
    '',
  ].join('\n');

  it('suppresses by id or alias (package-scoped when asked) until the expiry; an expired entry stops and is named', async () => {
    const path = await file('ignore.yaml', IGNORE);
    // Before 2024-06-30 all four findings but libssl3's CVE-2024-6119 are suppressed.
    const before = await scan('2024-06-01T00:00:00Z', '--ignore-file', path, '-o', 'json');
    expect(before.code).toBe(EXIT.ok);
    const fb = findingsOf(before.out);
    expect(fb).toHaveLength(4);
    expect(of(fb, 'CVE-2023-5363', 'libssl3').suppressed).toEqual({ by: 'ignore-file', reason: `only TLS 1.3 with fixed key lengths is configured (until 2030-01-01) [CVE-2023-5363 at ${path}:2]` });
    expect(of(fb, 'CVE-2023-5363', 'openssl').suppressed?.by).toBe('ignore-file');
    expect(of(fb, 'CVE-2024-6119', 'openssl').suppressed?.reason).toMatch(/^accepted until the next base image \(until 2024-06-30\)/);
    expect(of(fb, 'CVE-2024-6119', 'libssl3').suppressed).toBeUndefined();
    const gateBefore = await scan('2024-06-01T00:00:00Z', '--ignore-file', path, '--fail-on', 'unknown');
    expect(gateBefore.code).toBe(EXIT.fail);
    expect(gateBefore.err).toMatch(/1 finding\(s\) at or above unknown \(--fail-on unknown\); 3 more suppressed/);

    // After it, the openssl entry stops applying and says so (file:line, id, package, date).
    const after = await scan(NOW, '--ignore-file', path, '--fail-on', 'unknown');
    expect(after.code).toBe(EXIT.fail);
    expect(after.err).toContain(`warning: ignore file ${path}:5: entry DSA-5764-1 (openssl) expired 2024-06-30: it no longer suppresses`);
    expect(after.err).toMatch(/2 finding\(s\) at or above unknown \(--fail-on unknown\); 2 more suppressed/);
    // The table shows every finding, the suppressed ones with source and reason.
    expect(after.out).toMatch(/^CVE-2023-5363\s+DSA-5532-1\s+libssl3\s.*suppressed \(ignore-file: only TLS 1\.3/m);
    expect(after.out).toMatch(/^CVE-2024-6119\s+DSA-5764-1\s+openssl\s+\S+\s+\S+\s+unknown\s+#0 \w+$/m);
  });

  it('HTML and JSON carry the suppression; a --policy gate does not count suppressed findings', async () => {
    const path = await file('ignore-all.yaml', 'vulnerabilities:\n  - id: CVE-2023-5363\n    reason: r1\n  - id: CVE-2024-6119\n    reason: r2\n');
    const html = await scan(NOW, '--ignore-file', path, '-o', 'html');
    expect(html.out).toContain('suppressed: ignore-file: r1');
    const bundle = await file(
      'bundle.json',
      JSON.stringify({
        id: 'b',
        version: '2',
        policies: [{ id: 'p1', name: 'gate', version: '2', rules: [{ id: 'r0', gate: 'vulnerabilities', trigger: 'package', action: 'STOP', params: [{ name: 'severity_comparison', value: '>=' }, { name: 'severity', value: 'unknown' }] }] }],
        allowlists: [],
        mappings: [{ id: 'm1', name: 'all', registry: '*', repository: '*', image: { type: 'tag', value: '*' }, policy_ids: ['p1'], allowlist_ids: [] }],
        allowlisted_images: [],
        denylisted_images: [],
      }),
    );
    expect((await scan(NOW, '--policy', bundle)).code).toBe(EXIT.fail);
    const suppressed = await scan(NOW, '--policy', bundle, '--ignore-file', path, '--fail-on', 'unknown');
    expect(suppressed.code).toBe(EXIT.ok);
    expect(suppressed.out).toMatch(/→ PASS/);
  });

  it('shape errors name the file and line (exit 64)', async () => {
    const cases: Array<[string, RegExp]> = [
      ['vulnerabilities:\n  - id: CVE-1\n    reson: typo\n', /:3: unknown key "reson"/],
      ['vulnerabilities:\n  - id: CVE-1\n', /:2: entry CVE-1 needs a "reason"/],
      ['vulnerabilities:\n  - reason: x\n    expires: 2024-01-01\n', /:2: an entry needs an "id"/],
      ['vulnerabilities:\n  - id: CVE-1\n    reason: x\n    expires: next week\n', /:2: entry CVE-1: "expires" must be a date/],
      ['vulnerabilities:\n  - id: CVE-1\n    reason: x\n    expires: 2024-02-31\n', /"expires" is not a real date|must be a date/],
      ['ignore:\n  - id: CVE-1\n', /:1: unknown key "ignore"/],
      ['vulnerabilities: [\n', /:\d+: not valid YAML/],
      ['vulnerabilities:\n  - id: CVE-1\n    purl: libc6\n    reason: x\n', /"purl" is not a package URL/],
    ];
    for (const [text, want] of cases) {
      const p = await file('bad.yaml', text);
      const r = await scan(NOW, '--ignore-file', p);
      expect(r.code, text).toBe(EXIT.usage);
      expect(r.err, text).toMatch(want);
      expect(r.err).toContain(p);
    }
    const missing = await scan(NOW, '--ignore-file', join(work, 'nope.yaml'));
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.err).toMatch(/ignore file .*nope\.yaml: no such file/);
  });

  it('parses with a bounded size (limit named)', () => {
    expect(() => parseIgnoreFile(`# ${'x'.repeat(1 << 20)}\n`, 'big.yaml', new Date())).toThrow(/maxIgnoreFileBytes/);
    expect(parseIgnoreFile('', 'empty.yaml', new Date()).entries).toEqual([]);
  });
});

describe('OpenVEX', () => {
  it('a not_affected statement suppresses exactly its product: the other package with the same CVE still counts', async () => {
    const path = await file(
      'vex.json',
      vexDoc('https://example.test/vex/1', [
        { vulnerability: { name: 'CVE-2023-5363' }, products: [{ '@id': 'pkg:deb/debian/libssl3' }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' },
        { vulnerability: { name: 'CVE-2024-6119' }, products: [{ '@id': 'pkg:deb/debian/libssl3@3.0.11-1~deb12u1' }], status: 'affected', action_statement: 'upgrade' },
        // a product inside another image (by digest) does not apply to this one
        { vulnerability: { name: 'CVE-2024-6119' }, products: [{ '@id': `pkg:oci/other@sha256%3A${'0'.repeat(64)}`, subcomponents: [{ '@id': 'pkg:deb/debian/openssl' }] }], status: 'fixed' },
      ]),
    );
    const r = await scan(NOW, '--vex', path, '-o', 'json', '--fail-on', 'unknown');
    expect(r.code).toBe(EXIT.fail);
    expect(r.err).toMatch(/3 finding\(s\) at or above unknown \(--fail-on unknown\); 1 more suppressed/);
    const fs = findingsOf(r.out);
    expect(of(fs, 'CVE-2023-5363', 'libssl3').suppressed).toEqual({ by: 'vex', reason: 'not_affected (vulnerable_code_not_in_execute_path) from https://example.test/vex/1' });
    expect(of(fs, 'CVE-2023-5363', 'openssl').suppressed).toBeUndefined();
    expect(of(fs, 'CVE-2024-6119', 'libssl3').suppressed).toBeUndefined();
    expect(of(fs, 'CVE-2024-6119', 'openssl').suppressed).toBeUndefined();

    // A later statement decides: a second document marks openssl's CVE-2024-6119 fixed (by alias).
    const later = await file(
      'vex2.json',
      JSON.stringify({ ...JSON.parse(vexDoc('https://example.test/vex/2', [{ vulnerability: { name: 'DSA-5764-1' }, products: [{ '@id': 'pkg:deb/debian/openssl?arch=amd64' }], status: 'fixed' }])), timestamp: '2024-09-05T00:00:00Z' }),
    );
    const two = await scan(NOW, '--vex', path, '--vex', later, '-o', 'json');
    expect(of(findingsOf(two.out), 'CVE-2024-6119', 'openssl').suppressed).toEqual({ by: 'vex', reason: 'fixed from https://example.test/vex/2' });
  });

  it('rejects documents that are not OpenVEX 0.2.0, naming the file and the JSON path (exit 64)', async () => {
    const bad = await file('bad-vex.json', vexDoc('x', [{ vulnerability: { name: 'CVE-1' }, products: [{ '@id': 'pkg:deb/debian/a' }], status: 'not_affected' }]));
    const r = await scan(NOW, '--vex', bad);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/VEX document .*bad-vex\.json: not an OpenVEX 0\.2\.0 document: \/statements\/0 must have required property 'justification'/);
  });

  describe('the real examples and the official schema', () => {
    const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (a: Ajv2020) => Ajv2020;
    let official: (doc: unknown) => boolean;
    beforeAll(async () => {
      const ajv = new Ajv2020({ strict: false, allErrors: true });
      addFormats(ajv);
      ajv.addFormat('iri', true);
      official = ajv.compile(JSON.parse(await readFile(join(SCHEMAS, 'openvex_json_schema-0.2.0.json'), 'utf8')));
    });
    const example = (name: string) => readFile(join(SCHEMAS, 'openvex-examples', name), 'utf8');

    it('go-vex alpine example: valid for both; statements read; products inside the image by digest', async () => {
      const text = await example('alpine-image.v0.2.0.go-vex.openvex.json');
      expect(official(JSON.parse(text))).toBe(true);
      const st = parseVex(text, 'alpine.json');
      expect(st.map((s) => [s.ids[0], s.status])).toEqual([
        ['CVE-2023-1255', 'fixed'],
        ['CVE-2023-2650', 'fixed'],
        ['CVE-2023-2975', 'fixed'],
        ['CVE-2023-3446', 'not_affected'],
        ['CVE-2023-3817', 'not_affected'],
      ]);
      const digest = 'sha256:124c7d2707904eea7431fffe91522a01e5a861a624ee31d03372cc1d138a3126';
      const f = (id: string, name: string, version: string) => finding(id, `pkg:apk/alpine/${name}@${version}?arch=x86_64&distro=3.18.2`);
      const fs = [f('CVE-2023-3446', 'libssl3', '3.0.8-r3'), f('CVE-2023-1255', 'libcrypto3', '3.0.8-r3'), f('CVE-2023-3446', 'libssl3', '3.0.9-r0'), f('CVE-2023-9999', 'libssl3', '3.0.8-r3')];
      expect(applySuppressions(fs, { ignore: [], vex: st }, { imageDigests: [digest] })).toBe(2);
      expect(fs[0]!.suppressed).toEqual({ by: 'vex', reason: `not_affected (vulnerable_code_not_present: affected functions were removed before packaging) from ${JSON.parse(text)['@id']}` });
      expect(fs[1]!.suppressed?.reason).toMatch(/^fixed from /);
      expect(fs[2]!.suppressed).toBeUndefined(); // another version
      expect(fs[3]!.suppressed).toBeUndefined(); // another CVE
      const other = [f('CVE-2023-3446', 'libssl3', '3.0.8-r3')];
      expect(applySuppressions(other, { ignore: [], vex: st }, { imageDigests: [`sha256:${'f'.repeat(64)}`] })).toBe(0);
    });

    it('Aqua Trivy example: valid for both; versionless subcomponents match any version', async () => {
      const text = await example('trivy-image.aquasecurity.openvex.json');
      expect(official(JSON.parse(text))).toBe(true);
      const st = parseVex(text, 'trivy.json');
      expect(st.length).toBe(JSON.parse(text).statements.length);
      expect(st.every((s) => s.products.every((p) => p.within?.startsWith('pkg:oci/trivy')))).toBe(true);
      const fs = [finding('CVE-2023-42363', 'pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64'), finding('CVE-2023-42363', 'pkg:apk/alpine/busybox-extras@1.36.1-r29')];
      applySuppressions(fs, { ignore: [], vex: st }, { imageDigests: [] });
      expect(fs[0]!.suppressed?.reason).toMatch(/^not_affected \(vulnerable_code_cannot_be_controlled_by_adversary: awk is not used\) from https:\/\/openvex\.dev/);
      expect(fs[1]!.suppressed).toBeUndefined();
    });

    it('broken documents: the official schema and Drydock both reject them', () => {
      const base = JSON.parse(vexDoc('x', [{ vulnerability: { name: 'CVE-1' }, products: [{ '@id': 'pkg:npm/a' }], status: 'fixed' }]));
      const broken: object[] = [
        { ...base, statements: [{ ...base.statements[0], status: 'not_affected' }] },
        { ...base, statements: [{ ...base.statements[0], status: 'affected' }] },
        { ...base, statements: [{ ...base.statements[0], status: 'unknown' }] },
        { ...base, statements: [{ ...base.statements[0], justification: 'because' , status: 'not_affected' }] },
        { ...base, statements: [{ ...base.statements[0], extra: 1 }] },
        { ...base, statements: [] },
        (({ author: _a, ...rest }) => rest)(base),
        { ...base, statements: [{ products: base.statements[0].products, status: 'fixed' }] },
      ];
      expect(official(base)).toBe(true);
      expect(parseVex(JSON.stringify(base), 'ok.json')).toHaveLength(1);
      for (const doc of broken) {
        expect(official(doc), JSON.stringify(doc)).toBe(false);
        expect(() => parseVex(JSON.stringify(doc), 'b.json'), JSON.stringify(doc)).toThrow(/not an OpenVEX 0\.2\.0 document/);
      }
      expect(() => parseVex('{', 'b.json')).toThrow(/not JSON/);
    });
  });

  it('purl matching: exact, or without version / qualifiers', () => {
    const p = 'pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12';
    expect(purlMatches('pkg:deb/debian/libc6', p)).toBe(true);
    expect(purlMatches('pkg:deb/debian/libc6@2.36-9+deb12u4', p)).toBe(true);
    expect(purlMatches('pkg:deb/debian/libc6?arch=amd64', p)).toBe(true);
    expect(purlMatches('pkg:deb/debian/libc6?arch=arm64', p)).toBe(false);
    expect(purlMatches('pkg:deb/debian/libc6@2.36-9', p)).toBe(false);
    expect(purlMatches('pkg:deb/debian/libc', p)).toBe(false);
    expect(purlMatches('pkg:deb/ubuntu/libc6', p)).toBe(false);
  });
});

function finding(id: string, purl: string): Finding {
  const name = /\/([^/@?]+)(@|\?|$)/.exec(purl)![1]!;
  return { id, aliases: [], severity: 'high', fixState: 'fixed', package: { type: 'apk', name, version: '', purl }, layer: 'sha256:0', evidence: [] };
}
