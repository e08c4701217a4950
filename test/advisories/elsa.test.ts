/**
 * ELSA reader and matching on the real Oracle OVAL samples in ../shared/fixtures/advisories/oracle:
 * every definition read with its packages, dates, severity and CVEs (ELSA-2007-0057 against
 * vuln-list-update's expected output, and its criterion comments against the document's own
 * rpminfo tests/objects/states); the per-arch sample against vunnel's normalised expectation;
 * ksplice rows never judging plain packages (and the naive rule shown to get it wrong); bzip2,
 * gzip and plain read alike, streamed and bounded; --advisories loading and coverage.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryAdvisoryStore } from '../../shared/adapters/local/memory-advisory-store.js';
import { distroEcosystem } from '../../shared/advisories/ecosystems.js';
import { compressionOf, elsaDefinitions, elsaSeverity, isElsaOval, readElsaOval, rpmVariant } from '../../shared/advisories/elsa.js';
import { loadAdvisories } from '../../shared/advisories/load.js';
import { distroDetector } from '../../shared/catalog/distro.js';
import type { Distro, FileView, Package, ViewFile } from '../../shared/catalog/types.js';
import { coverageOf, imageEcosystems } from '../../shared/match/coverage.js';
import { elsaEntryApplies } from '../../shared/match/elsa.js';
import { matchInventory } from '../../shared/match/index.js';
import { rangeContains } from '../../shared/versions/index.js';
import { rpmComparator } from '../../shared/versions/rpm.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const ORACLE = join(SHARED_FIXTURES, 'advisories/oracle');
const OVAL = join(ORACLE, 'oval');
const BIND = join(OVAL, 'ELSA-2007-0057.ol5.complete-definition.vuln-list-update.xml');
const KSPLICE = join(OVAL, 'ELSA-2021-9151.ol8.ksplice.vunnel.xml');
const PER_ARCH = join(OVAL, 'elsa-all.ol7-ol8-ol10.per-arch-subset.vunnel.xml');
const LAYER = 'sha256:0e1a';

const scratch = mkdtempSync(join(tmpdir(), 'drydock-elsa-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function oracleDistro(): Distro {
  const content = readFileSync(join(SHARED_FIXTURES, 'pkgdb/os-release/oracle.os-release'));
  const f: ViewFile = { path: '/etc/os-release', content, mode: 0o644, layer: LAYER };
  const view: FileView = { get: (p) => (p === f.path ? f : undefined), glob: () => [] };
  return distroDetector.detect(view)!;
}
const OL8 = oracleDistro();
const OL7: Distro = { id: 'ol', versionId: '7.9', prettyName: 'Oracle Linux Server 7.9', source: '/etc/os-release' };

/** An installed rpm as the rpm cataloger records it (version = [epoch:]version-release). */
function rpm(name: string, version: string, arch: string): Package {
  const release = version.slice(version.lastIndexOf('-') + 1);
  return { type: 'rpm', name, version, release, arch, purl: `pkg:rpm/oracle/${name}@${version}?arch=${arch}`, layer: LAYER } as Package;
}

async function storeOf(...files: string[]): Promise<MemoryAdvisoryStore> {
  const store = new MemoryAdvisoryStore();
  for (const f of files) for (const a of (await readElsaOval(f)).advisories) store.add(a);
  return store;
}

describe('ELSA-2007-0057 (a complete OVAL document, OL5)', () => {
  it('reads as vuln-list-update expects: title, platform, CVEs, every package and its fixed EVR', async () => {
    const expected = JSON.parse(readFileSync(join(OVAL, 'ELSA-2007-0057.expected.vuln-list-update.json'), 'utf8')) as {
      Title: string;
      Platform: string[];
      References: Array<{ Source: string; ID: string }>;
      Criteria: unknown;
    };
    const r = await readElsaOval(BIND);
    expect(r.issues).toEqual([]);
    expect(r.advisories).toHaveLength(1);
    const a = r.advisories[0]!;
    expect(a).toMatchObject({ id: 'ELSA-2007-0057', source: 'elsa', severity: 'medium', published: '2007-06-26T00:00:00Z', modified: '2007-06-26T00:00:00Z' });
    expect(a.summary).toBe(expected.Title.replace(/\s+/g, ' ').trim());
    expect(a.aliases).toEqual(expected.References.filter((x) => x.Source === 'CVE').map((x) => x.ID).sort());
    // every "<name> is earlier than <evr>" criterion of vuln-list's criteria tree is one package row
    const comments: string[] = [];
    const walk = (c: unknown) => {
      if (!c || typeof c !== 'object') return;
      const o = c as { Criterions?: Array<{ Comment: string }>; Criterias?: unknown[] };
      for (const x of o.Criterions ?? []) comments.push(x.Comment);
      for (const x of o.Criterias ?? []) walk(x);
    };
    walk(expected.Criteria);
    const rows = comments.map((c) => /^(\S+) is earlier than (\S+)$/.exec(c)).filter((m) => m !== null).map((m) => [m[1]!, m[2]!]);
    expect(rows).toHaveLength(8);
    expect(a.affected.map((p) => [p.name, p.intervals[0]!.fixed]).sort()).toEqual(rows.sort());
    expect(new Set(a.affected.map((p) => p.ecosystem))).toEqual(new Set([`Oracle Linux:${/\d+/.exec(expected.Platform[0]!)![0]}`]));
    // no arch criterion in OL5's definition: every row applies to every arch; the epoch is kept (30:)
    for (const p of a.affected) expect(p.notes).toMatchObject({ arches: [], variant: 'plain' });
  });

  it("the criterion comments the reader uses agree with the document's rpminfo test → object name / state evr", () => {
    // The reader does not resolve test_ref (elsa-all.xml puts every test after every definition; see
    // elsa.ts). This checks, on the one complete document we have, that the comments say what the
    // tests do: same package name (object) and same "less than" EVR (state).
    const xml = readFileSync(BIND, 'utf8');
    const tests = new Map([...xml.matchAll(/<rpminfo_test\b[^>]*\bid="([^"]+)"[^>]*\bcomment="([^"]+)"[^>]*>\s*<object object_ref="([^"]+)"\s*\/>\s*<state state_ref="([^"]+)"\s*\/>/g)].map((m) => [m[1]!, { comment: m[2]!, object: m[3]!, state: m[4]! }]));
    const objects = new Map([...xml.matchAll(/<rpminfo_object\b[^>]*\bid="([^"]+)"[^>]*>\s*<name>([^<]+)<\/name>/g)].map((m) => [m[1]!, m[2]!]));
    const states = new Map([...xml.matchAll(/<rpminfo_state\b[^>]*\bid="([^"]+)"[^>]*>\s*<evr datatype="evr_string" operation="less than">([^<]+)<\/evr>/g)].map((m) => [m[1]!, m[2]!]));
    let checked = 0;
    for (const m of xml.matchAll(/<criterion test_ref="([^"]+)" comment="([^"]+) is earlier than ([^"]+)"\/>/g)) {
      const t = tests.get(m[1]!)!;
      expect(t.comment).toBe(`${m[2]} is earlier than ${m[3]}`);
      expect(objects.get(t.object)).toBe(m[2]);
      expect(states.get(t.state)).toBe(m[3]);
      checked++;
    }
    expect(checked).toBe(8);
  });
});

describe('the per-arch sample (real definitions from elsa-all.xml: OL7, OL8, OL10)', () => {
  it('each definition is read with its release, packages, dates, severity and CVEs', async () => {
    const r = await readElsaOval(PER_ARCH);
    expect(r.issues).toEqual([]);
    const byId = new Map(r.advisories.map((a) => [a.id, a]));
    expect([...byId.keys()].sort()).toEqual(['ELSA-2022-4803', 'ELSA-2024-2961', 'ELSA-2025-10073']);
    expect(byId.get('ELSA-2022-4803')).toMatchObject({ severity: 'high', published: '2022-05-31T00:00:00Z', aliases: ['CVE-2022-24903'] });
    expect(byId.get('ELSA-2025-10073')).toMatchObject({ severity: 'high', published: '2025-07-01T00:00:00Z', aliases: ['CVE-2025-6424', 'CVE-2025-6425', 'CVE-2025-6429', 'CVE-2025-6430'] });
    expect(byId.get('ELSA-2024-2961')).toMatchObject({ severity: 'medium', published: '2024-05-24T00:00:00Z', aliases: ['CVE-2024-2307'] });
    expect(new Set(byId.get('ELSA-2022-4803')!.affected.map((p) => p.ecosystem))).toEqual(new Set(['Oracle Linux:7']));
    expect(new Set(byId.get('ELSA-2024-2961')!.affected.map((p) => p.ecosystem))).toEqual(new Set(['Oracle Linux:8']));
    // one fix shared by every arch: one entry, both arches
    expect(byId.get('ELSA-2025-10073')!.affected.map((p) => [p.ecosystem, p.name, p.intervals[0]!.fixed, p.notes?.arches])).toEqual([['Oracle Linux:10', 'firefox', '0:128.12.0-1.0.1.el10_0', ['aarch64', 'x86_64']]]);
  });

  it("ELSA-2022-4803 yields the arch-specific fixes vunnel/grype expect (x86_64 57.0.1, aarch64 57.0.4)", async () => {
    const grype = JSON.parse(readFileSync(join(ORACLE, 'vunnel-normalised/ol-7.elsa-2022-4803.per-arch.grype.json'), 'utf8')) as {
      item: { Vulnerability: { Name: string; NamespaceName: string; Severity: string; FixedIn: Array<{ Name: string; Version: string; Arch: string }>; Metadata: { Issued: string; CVE: Array<{ Name: string }> } } };
    };
    const v = grype.item.Vulnerability;
    const a = (await readElsaOval(PER_ARCH)).advisories.find((x) => x.id === v.Name)!;
    expect(a.aliases).toEqual(v.Metadata.CVE.map((c) => c.Name));
    expect(a.published?.slice(0, 10)).toBe(v.Metadata.Issued);
    expect(a.severity).toBe(elsaSeverity(v.Severity));
    expect(v.NamespaceName).toBe('ol:7');
    for (const f of v.FixedIn) {
      const entries = a.affected.filter((p) => p.name === f.Name && (p.notes?.arches as string[]).includes(f.Arch));
      expect(entries.map((p) => p.intervals[0]!.fixed), `${f.Name} ${f.Arch}`).toEqual([f.Version]);
      expect(entries[0]!.ecosystem).toBe('Oracle Linux:7');
    }
  });

  it('the matcher applies each arch its own fix (the naive arch-less rule flags a fixed x86_64 rsyslog)', async () => {
    const store = await storeOf(PER_ARCH);
    const installed = '8.24.0-57.0.1.el7_9.3'; // the x86_64 fix, older than the aarch64 fix
    const x86 = (await matchInventory({ packages: [rpm('rsyslog', installed, 'x86_64')], distro: OL7 }, store)).findings;
    expect(x86).toEqual([]);
    const arm = (await matchInventory({ packages: [rpm('rsyslog', installed, 'aarch64')], distro: OL7 }, store)).findings;
    expect(arm.map((f) => [f.id, f.fixedIn, f.evidence[0]!.source, f.evidence[0]!.advisory])).toEqual([['CVE-2022-24903', '0:8.24.0-57.0.4.el7_9.3', 'elsa', 'ELSA-2022-4803']]);
    // an older x86_64 build is affected, fixed in the x86_64 EVR
    const old = (await matchInventory({ packages: [rpm('rsyslog', '8.24.0-57.el7_9.2', 'x86_64')], distro: OL7 }, store)).findings;
    expect(old.map((f) => f.fixedIn)).toEqual(['0:8.24.0-57.0.1.el7_9.3']);
    // naive: judge the x86_64 package by every row of its name → the aarch64 row calls it affected
    const a = (await store.forPackage({ ecosystem: 'Oracle Linux:7', name: 'rsyslog' }))[0]!;
    const aarchRow = a.affected.find((p) => p.name === 'rsyslog' && (p.notes?.arches as string[]).includes('aarch64'))!;
    expect(rangeContains(rpmComparator, installed, aarchRow.intervals[0]!)).toBe(true);
    expect(elsaEntryApplies(aarchRow, { version: installed, arch: 'x86_64' })).toBe(false);
    // machine arch, not package arch: multilib i686 on x86_64 takes the x86_64 row; noarch takes every row
    expect(elsaEntryApplies(aarchRow, { version: installed, arch: 'i686' })).toBe(false);
    expect(elsaEntryApplies(aarchRow, { version: installed, arch: 'noarch' })).toBe(true);
  });

  it('several EVRs on the same arches (ELSA-2024-2961: Oracle rebuild and upstream build) are OVAL "or": below either is affected', async () => {
    const store = await storeOf(PER_ARCH);
    const run = async (v: string) => (await matchInventory({ packages: [rpm('osbuild', v, 'x86_64')], distro: OL8 }, store)).findings.map((f) => f.fixedIn);
    expect(await run('109-1.el8')).toEqual(['0:110-1.0.1.el8']);
    expect(await run('110-1.el8')).toEqual(['0:110-1.0.1.el8']);
    expect(await run('110-1.0.1.el8')).toEqual([]);
  });
});

describe('ksplice (ELSA-2021-9151, OL8 openssl ksplice builds)', () => {
  it('is read with its ksplice variant, CVEs and per-arch package lists', async () => {
    const r = await readElsaOval(KSPLICE);
    expect(r.issues).toEqual([]);
    const a = r.advisories[0]!;
    expect(a).toMatchObject({ id: 'ELSA-2021-9151', severity: 'high', published: '2021-04-01T00:00:00Z', aliases: ['CVE-2021-3449', 'CVE-2021-3450'] });
    expect(a.affected.map((p) => [p.name, p.intervals[0]!.fixed, p.notes?.variant, p.notes?.arches])).toEqual([
      ['openssl', '2:1.1.1g-15.ksplice1.el8_3', 'ksplice', ['aarch64', 'x86_64']],
      ['openssl-debugsource', '2:1.1.1g-15.ksplice1.el8_3', 'ksplice', ['aarch64']],
      ['openssl-devel', '2:1.1.1g-15.ksplice1.el8_3', 'ksplice', ['aarch64', 'x86_64']],
      ['openssl-libs', '2:1.1.1g-15.ksplice1.el8_3', 'ksplice', ['aarch64', 'x86_64']],
      ['openssl-perl', '2:1.1.1g-15.ksplice1.el8_3', 'ksplice', ['aarch64', 'x86_64']],
      ['openssl-static', '2:1.1.1g-15.ksplice1.el8_3', 'ksplice', ['aarch64']],
    ]);
  });

  it('never judges a plain openssl (the naive rule flags every plain OL8 openssl: epoch 1 < 2)', async () => {
    const store = await storeOf(KSPLICE);
    // OL8's plain openssl-libs has epoch 1 (1:1.1.1k-12.el8_9 on OL 8.10): the ksplice EVR's epoch 2 is above every one of them
    const plain = rpm('openssl-libs', '1:1.1.1k-12.el8_9', 'x86_64');
    expect((await matchInventory({ packages: [plain], distro: OL8 }, store)).findings).toEqual([]);
    const row = (await store.forPackage({ ecosystem: 'Oracle Linux:8', name: 'openssl-libs' }))[0]!.affected[0]!;
    expect(rangeContains(rpmComparator, plain.version, row.intervals[0]!)).toBe(true); // what a naive matcher would report
    expect(elsaEntryApplies(row, plain)).toBe(false);
    // a ksplice build below the fix is affected; at the fix it is not
    const ks = (await matchInventory({ packages: [rpm('openssl-libs', '2:1.1.1g-14.ksplice1.el8_3', 'x86_64')], distro: OL8 }, store)).findings;
    expect(ks.map((f) => [f.id, f.fixedIn])).toEqual([['CVE-2021-3449', '2:1.1.1g-15.ksplice1.el8_3']]);
    expect((await matchInventory({ packages: [rpm('openssl-libs', '2:1.1.1g-15.ksplice1.el8_3', 'x86_64')], distro: OL8 }, store)).findings).toEqual([]);
  });

  it('a plain fix never judges a ksplice-patched package', async () => {
    const store = await storeOf(PER_ARCH);
    // Invented installed version (no ksplice rsyslog exists): a ksplice-flavoured release below the plain fix must not be
    // judged by it, whatever the order says.
    const ks = rpm('rsyslog', '8.24.0-57.ksplice1.el7_9', 'x86_64');
    expect((await matchInventory({ packages: [ks], distro: OL7 }, store)).findings).toEqual([]);
    expect((await matchInventory({ packages: [rpm('rsyslog', '8.24.0-57.el7_9', 'x86_64')], distro: OL7 }, store)).findings).toHaveLength(1);
  });

  it('variants from release strings', () => {
    expect(rpmVariant('15.ksplice1.el8_3')).toBe('ksplice');
    expect(rpmVariant('8.0.1.el8_fips')).toBe('fips');
    expect(rpmVariant('12.el8_9')).toBe('plain');
  });
});

describe('reading: compression, streaming, bounds', () => {
  const plainIds = async (input: string | Uint8Array) => (await readElsaOval(input)).advisories.map((a) => a.id);

  it('gzip and plain read alike; the compression is told by content', async () => {
    const xml = readFileSync(PER_ARCH);
    const gz = gzipSync(xml);
    expect(compressionOf(gz)).toBe('gzip');
    expect(compressionOf(xml)).toBe('none');
    expect(await plainIds(gz)).toEqual(await plainIds(PER_ARCH));
    const gzPath = join(scratch, 'elsa.xml.gz');
    writeFileSync(gzPath, gz);
    expect(await isElsaOval(gzPath)).toBe(true);
  });

  const bzip2 = spawnSync('bzip2', ['--version'], { encoding: 'utf8' });
  it.skipIf(bzip2.error !== undefined)('bzip2 (the published form, made here with the bzip2 tool) reads alike, in small chunks', async () => {
    const bz = spawnSync('bzip2', ['-c', PER_ARCH], { maxBuffer: 1 << 24 }).stdout;
    expect(compressionOf(bz)).toBe('bzip2');
    const bzPath = join(scratch, 'com.oracle.elsa-all.xml.bz2');
    writeFileSync(bzPath, bz);
    expect(await isElsaOval(bzPath)).toBe(true);
    const expected = await plainIds(PER_ARCH);
    // both decoders: the bzip2 tool where the machine has it, and the pure-JS one (DRYDOCK_BZIP2=js; what Lambda has)
    for (const decoder of ['tool', 'js']) {
      if (decoder === 'js') process.env.DRYDOCK_BZIP2 = 'js';
      try {
        expect(await plainIds(bzPath), decoder).toEqual(expected);
        // the same bytes fed 7 at a time (element and block boundaries anywhere)
        const chunks = (async function* () {
          for (let i = 0; i < bz.length; i += 7) yield bz.subarray(i, i + 7);
        })();
        expect((await readElsaOval(chunks)).advisories.map((a) => a.id), decoder).toEqual(expected);
        // corrupt bzip2 data is an error that says so
        const bad = Buffer.from(bz);
        bad.fill(0x55, 40, 400);
        await expect(readElsaOval(bad), decoder).rejects.toThrow(/bzip2/);
      } finally {
        delete process.env.DRYDOCK_BZIP2;
      }
    }
  });

  it('stops at </definitions>: nothing after it is read (the tests, objects and states)', async () => {
    // Invented tail: garbage after </definitions> would be an error if it were parsed, and a bound if it were buffered.
    const xml = readFileSync(BIND, 'utf8');
    const cut = xml.indexOf('</definitions>') + '</definitions>'.length;
    const doc = Buffer.from(xml.slice(0, cut) + '<tests>' + '<definition '.repeat(200_000));
    const r = await readElsaOval(doc, { maxDefinitionBytes: 64 * 1024 });
    expect(r.advisories.map((a) => a.id)).toEqual(['ELSA-2007-0057']);
  });

  it('bounds are named: one definition, the whole document, not OVAL at all', async () => {
    await expect(readElsaOval(PER_ARCH, { maxDefinitionBytes: 4096 })).rejects.toThrow(/ELSA_MAX_DEFINITION_BYTES/);
    await expect(readElsaOval(PER_ARCH, { maxTotalBytes: 10_000 })).rejects.toThrow(/ELSA_MAX_TOTAL_BYTES/);
    await expect(readElsaOval(Buffer.from('<updates><update/></updates>'))).rejects.toThrow(/not an OVAL document/);
    expect(await isElsaOval(join(SHARED_FIXTURES, 'advisories/amazon/updateinfo/al2023-core.ALAS2023-2023-001.vuln-list-update.xml.gz'))).toBe(false);
  });

  it('a definition that is not a patch, or has no ELSA id, is counted or reported, the rest read', async () => {
    const xml = readFileSync(BIND, 'utf8');
    const def = xml.slice(xml.indexOf('<definition '), xml.indexOf('</definition>') + '</definition>'.length);
    // invented: the same definition as class="inventory", and with its ELSA reference and title id removed
    const inventory = def.replace('class="patch"', 'class="inventory"');
    const noId = def.replace(/ref_id="ELSA-2007-0057"/, 'ref_id="X"').replace(/ELSA-2007-0057:/, 'X:');
    const doc = xml.replace(def, `${inventory}${noId}${def}`);
    const seen: string[] = [];
    const issues: string[] = [];
    const counts: Record<string, number> = {};
    for await (const r of elsaDefinitions(Buffer.from(doc))) {
      if (r.advisory) seen.push(r.advisory.id);
      issues.push(...r.issues.map((i) => i.message));
      for (const [k, v] of Object.entries(r.counts)) counts[k] = (counts[k] ?? 0) + v;
    }
    expect(seen).toEqual(['ELSA-2007-0057']);
    expect(counts['elsa-not-patch']).toBe(1);
    expect(issues).toEqual(['not an ELSA id: "X"']);
  });
});

describe('loading and coverage', () => {
  it('--advisories finds the OVAL by content; an Oracle image is uncovered without ELSA data and covered with it', async () => {
    const store = new MemoryAdvisoryStore();
    const summary = await loadAdvisories([OVAL], store);
    const oval = summary.sources.filter((s) => s.kind === 'elsa-oval');
    expect(oval.map((s) => [s.path.split('/').pop(), s.advisories, s.ecosystems])).toEqual([
      ['ELSA-2007-0057.ol5.complete-definition.vuln-list-update.xml', 1, ['Oracle Linux:5']],
      ['ELSA-2021-9151.ol8.ksplice.vunnel.xml', 1, ['Oracle Linux:8']],
      ['elsa-all.ol7-ol8-ol10.per-arch-subset.vunnel.xml', 3, ['Oracle Linux:10', 'Oracle Linux:7', 'Oracle Linux:8']],
    ]);
    // the real os-release of Oracle Linux 8.10 → "Oracle Linux:8"
    expect(distroEcosystem(OL8)).toBe('Oracle Linux:8');
    const image = { packages: [rpm('openssl-libs', '1:1.1.1k-12.el8_9', 'x86_64')], distro: OL8 };
    const ecos = imageEcosystems(image);
    expect(ecos).toEqual(['Oracle Linux:8']);
    expect(coverageOf(ecos, [])).toEqual({ covered: [], uncovered: ['Oracle Linux:8'] });
    expect(coverageOf(ecos, oval.flatMap((s) => s.ecosystems))).toEqual({ covered: ['Oracle Linux:8'], uncovered: [] });
    // the same store matches: the ksplice ELSA does not judge this plain openssl
    expect((await matchInventory(image, store)).findings).toEqual([]);
  });

  it('ELSA names binary packages: no lookup by source name', async () => {
    // invented: a binary whose source rpm is named like an ELSA package must not be judged by that package's row
    const store = await storeOf(PER_ARCH);
    const p = { ...rpm('rsyslog-compat', '8.24.0-1.el7', 'x86_64'), sourceName: 'rsyslog' } as Package;
    expect((await matchInventory({ packages: [p], distro: OL7 }, store)).findings).toEqual([]);
  });
});


describe('truncation', () => {
  it('a document that ends before </definitions> is an error, even when every definition so far is whole', async () => {
    // invented cut: what a download cut short between two bzip2 blocks decodes to
    const xml = readFileSync(PER_ARCH, 'utf8');
    const cut = xml.lastIndexOf('</definition>') + '</definition>'.length;
    await expect(readElsaOval(Buffer.from(xml.slice(0, cut)))).rejects.toThrow(/ends before <\/definitions> \(truncated\)/);
  });
});
