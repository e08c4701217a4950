/**
 * The Debian Security Tracker readers on the real fixtures of shared/fixtures/advisories/debian:
 * the list entries as vuln-list writes them (security-tracker/CVE, DSA) and the trimmed JSON
 * export (tracker-json-subset.vunnel.json). Every tracker status found in those files is checked
 * by the CVE and package it appears with. The states the fixtures do not hold (open with nodsa,
 * undetermined; <postponed>, <end-of-life>, <undetermined> lines) are checked on small documents
 * written in the export's / the list's own shape.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { debianEcosystem, debianUrgencySeverity, listLineState, readDebianTrackerJson, readDebianVulnList, trackerReleaseState } from '../../shared/advisories/debian-tracker.js';
import type { Advisory, AdvisoryReadResult, AffectedPackage } from '../../shared/advisories/types.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const TRACKER = join(SHARED_FIXTURES, 'advisories/debian/security-tracker');
const JSON_SUBSET = join(TRACKER, 'tracker-json-subset.vunnel.json');

function advisory(r: AdvisoryReadResult, id: string): Advisory {
  const a = r.advisories.find((x) => x.id === id);
  if (!a) throw new Error(`${id} not read`);
  return a;
}

function entry(a: Advisory, ecosystem: string, name: string): AffectedPackage | undefined {
  return a.affected.find((p) => p.ecosystem === ecosystem && p.name === name);
}

describe('release keys and urgencies', () => {
  it('maps codenames to OSV-style ecosystems, sid to Debian:unstable', () => {
    expect(debianEcosystem('bookworm')).toBe('Debian:12');
    expect(debianEcosystem('trixie')).toBe('Debian:13');
    expect(debianEcosystem('forky')).toBe('Debian:14');
    expect(debianEcosystem('jessie')).toBe('Debian:8');
    expect(debianEcosystem('sid')).toBe('Debian:unstable');
    expect(debianEcosystem('experimental')).toBeUndefined();
    expect(debianEcosystem('toString')).toBeUndefined();
  });

  it('reads urgencies with their * markers; unimportant is negligible', () => {
    expect(debianUrgencySeverity('high**')).toBe('high');
    expect(debianUrgencySeverity('low*')).toBe('low');
    expect(debianUrgencySeverity('medium')).toBe('medium');
    expect(debianUrgencySeverity('unimportant')).toBe('negligible');
    expect(debianUrgencySeverity('not yet assigned')).toBeUndefined();
    expect(debianUrgencySeverity('end-of-life')).toBeUndefined();
  });
});

describe('readDebianVulnList on security-tracker/{CVE,DSA}', () => {
  let r: AdvisoryReadResult;
  beforeAll(async () => {
    r = await readDebianVulnList(TRACKER);
  });

  it('reads every entry without issues: 14 CVEs with packages + 9 DSAs', () => {
    expect(r.issues).toEqual([]);
    expect(r.advisories).toHaveLength(23);
    for (const a of r.advisories) {
      expect(a.source).toBe('debian-tracker');
      for (const p of a.affected) expect(p.scheme).toBe('dpkg');
    }
  });

  it('CVE-2011-3374 apt <unfixed> (unimportant): not-fixed and negligible in sid and, by inheritance, in every release', () => {
    const a = advisory(r, 'CVE-2011-3374');
    expect(a.affected.map((p) => p.ecosystem)).toEqual(['Debian:unstable', 'Debian:10', 'Debian:11', 'Debian:12', 'Debian:13']);
    expect(entry(a, 'Debian:12', 'apt')).toMatchObject({ fixState: 'not-fixed', severity: 'negligible', intervals: [{ introduced: '0' }], notes: { inheritedFrom: 'sid' } });
    const sid = entry(a, 'Debian:unstable', 'apt')!;
    expect(sid.fixState).toBe('not-fixed');
    expect(sid.intervals).toEqual([{ introduced: '0' }]);
    expect(sid.severity).toBe('negligible');
    expect(sid.notes).toMatchObject({ release: 'sid', kind: 'unfixed', urgency: 'unimportant' });
    expect(a.severity).toBe('negligible');
  });

  it('CVE-2022-3715 bash: sid fixed 5.2-1, [bullseye] <no-dsa> deferred, [buster] <not-affected>, bookworm unknown', () => {
    const a = advisory(r, 'CVE-2022-3715');
    expect(entry(a, 'Debian:unstable', 'bash')).toMatchObject({ fixState: 'fixed', intervals: [{ introduced: '0', fixed: '5.2-1' }] });
    const bullseye = entry(a, 'Debian:11', 'bash')!;
    expect(bullseye.fixState).toBe('deferred');
    expect(bullseye.intervals).toEqual([{ introduced: '0' }]);
    expect(bullseye.notes).toMatchObject({ kind: 'no-dsa', reason: 'Minor issue' });
    expect(entry(a, 'Debian:10', 'bash')).toMatchObject({ fixState: 'not-affected', intervals: [] });
    // No [bookworm] line and no DSA: the sid line decides: affected below 5.2-1, no bookworm fix
    // (bookworm's bash 5.2.15 is above it, so it is not affected, as the tracker shows).
    expect(entry(a, 'Debian:12', 'bash')).toMatchObject({ fixState: 'not-fixed', intervals: [{ introduced: '0', fixed: '5.2-1' }], notes: { fixedOnlyInSid: '5.2-1' } });
  });

  it('CVE-2023-39804 tar and CVE-2023-50495 ncurses: <no-dsa> in bookworm, bullseye, buster → deferred', () => {
    for (const [id, pkg] of [
      ['CVE-2023-39804', 'tar'],
      ['CVE-2023-50495', 'ncurses'],
    ] as const) {
      const a = advisory(r, id);
      for (const eco of ['Debian:12', 'Debian:11', 'Debian:10']) expect(entry(a, eco, pkg)?.fixState, `${id} ${eco}`).toBe('deferred');
      expect(entry(a, 'Debian:unstable', pkg)?.fixState).toBe('fixed');
    }
  });

  it('CVE-2023-31484 perl: [bookworm] fixed 5.36.0-7+deb12u3, [buster] <no-dsa>, [experimental] skipped, DLA xref as alias', () => {
    const a = advisory(r, 'CVE-2023-31484');
    expect(entry(a, 'Debian:12', 'perl')).toMatchObject({ fixState: 'fixed', intervals: [{ introduced: '0', fixed: '5.36.0-7+deb12u3' }] });
    expect(entry(a, 'Debian:unstable', 'perl')?.intervals).toEqual([{ introduced: '0', fixed: '5.38.2-2' }]);
    expect(entry(a, 'Debian:10', 'perl')?.fixState).toBe('deferred');
    expect(a.affected.some((p) => p.notes?.release === 'experimental')).toBe(false);
    expect(a.related).toEqual(['DLA-3926-1']); // a notice, which may fix several CVEs: related, not an alias
    expect(r.counts.experimental).toBe(2); // perl and libxml2 (CVE-2024-25062)
  });

  it('CVE-2023-52425: expat [bookworm] fixed, libxmltok <removed> in sid but [bookworm] <ignored> → wont-fix', () => {
    const a = advisory(r, 'CVE-2023-52425');
    expect(entry(a, 'Debian:12', 'expat')?.intervals).toEqual([{ introduced: '0', fixed: '2.5.0-1+deb12u2' }]);
    expect(entry(a, 'Debian:unstable', 'libxmltok')).toBeUndefined();
    const ignored = entry(a, 'Debian:12', 'libxmltok')!;
    expect(ignored.fixState).toBe('wont-fix');
    expect(ignored.intervals).toEqual([{ introduced: '0' }]);
    expect(ignored.notes).toMatchObject({ kind: 'ignored', reason: 'Minor issue, no runtime dependencies left' });
    expect(a.related).toEqual(['DLA-3893-1', 'DLA-3783-1']);
  });

  it('CVE-2023-45853: minizip <removed> gives no entry (counted); zlib fixed only in sid: releases affected below it, not fixed there', () => {
    const a = advisory(r, 'CVE-2023-45853');
    expect(a.affected.map((p) => `${p.ecosystem} ${p.name}`)).toEqual(['Debian:unstable zlib', 'Debian:10 zlib', 'Debian:11 zlib', 'Debian:12 zlib', 'Debian:13 zlib']);
    expect(a.affected[0]!.intervals).toEqual([{ introduced: '0', fixed: '1:1.3.dfsg-2' }]);
    expect(entry(a, 'Debian:12', 'zlib')).toMatchObject({ fixState: 'not-fixed', intervals: [{ introduced: '0', fixed: '1:1.3.dfsg-2' }] });
    expect(r.counts.removed).toBe(2); // minizip, libxmltok
  });

  it('CVE-2023-7104 (only "TODO: check", no package line) gives no advisory', () => {
    expect(r.advisories.find((a) => a.id === 'CVE-2023-7104')).toBeUndefined();
    expect(r.counts['todo-without-package']).toBe(1);
  });

  it('CVE-2024-2236 libgcrypt20 and CVE-2024-28085 util-linux: <unfixed> in sid, so in every release too', () => {
    for (const [id, pkg] of [
      ['CVE-2024-2236', 'libgcrypt20'],
      ['CVE-2024-28085', 'util-linux'],
    ] as const) {
      const a = advisory(r, id);
      expect(a.affected).toHaveLength(5);
      expect(entry(a, 'Debian:unstable', pkg)).toMatchObject({ fixState: 'not-fixed', intervals: [{ introduced: '0' }] });
      expect(entry(a, 'Debian:12', pkg)).toMatchObject({ fixState: 'not-fixed', intervals: [{ introduced: '0' }] });
    }
  });

  it('CVE-2024-25062 libxml2: <unfixed> in sid, <no-dsa> in three releases', () => {
    const a = advisory(r, 'CVE-2024-25062');
    expect(entry(a, 'Debian:unstable', 'libxml2')?.fixState).toBe('not-fixed');
    expect(a.affected.filter((p) => p.fixState === 'deferred').map((p) => p.ecosystem)).toEqual(['Debian:12', 'Debian:11', 'Debian:10']);
  });

  it('CVE-2024-0553 gnutls28: [bookworm] fixed 3.7.9-2+deb12u2', () => {
    expect(entry(advisory(r, 'CVE-2024-0553'), 'Debian:12', 'gnutls28')?.intervals).toEqual([{ introduced: '0', fixed: '3.7.9-2+deb12u2' }]);
  });

  it('DSA-5514-1 glibc: an advisory of its own, bookworm fixed 2.36-9+deb12u3, aliases the CVE it lists', () => {
    const a = advisory(r, 'DSA-5514-1');
    expect(a.aliases).toEqual(['CVE-2023-4911']);
    expect(a.summary).toBe('glibc - security update');
    expect(a.published).toBe('2023-10-03T00:00:00.000Z');
    expect(entry(a, 'Debian:12', 'glibc')).toMatchObject({ fixState: 'fixed', intervals: [{ introduced: '0', fixed: '2.36-9+deb12u3' }] });
    expect(entry(a, 'Debian:11', 'glibc')?.intervals).toEqual([{ introduced: '0', fixed: '2.31-13+deb11u7' }]);
    expect(advisory(r, 'DSA-5678-1').upstream).toEqual(['CVE-2024-33599', 'CVE-2024-33600', 'CVE-2024-33601', 'CVE-2024-33602']);
  });

  it('CVE-2023-4911: the CVE entry lags (glibc <unfixed>, no bookworm line); DSA-5514-1 supplies the bookworm fix', () => {
    const a = advisory(r, 'CVE-2023-4911');
    expect(entry(a, 'Debian:unstable', 'glibc')?.fixState).toBe('not-fixed');
    expect(entry(a, 'Debian:10', 'glibc')?.fixState).toBe('not-affected');
    const bookworm = entry(a, 'Debian:12', 'glibc')!;
    expect(bookworm).toMatchObject({ fixState: 'fixed', intervals: [{ introduced: '0', fixed: '2.36-9+deb12u3' }] });
    expect(bookworm.notes?.via).toBe('DSA-5514-1');
    expect(a.aliases).toContain('DSA-5514-1');
  });

  it('CVE-2023-5363 openssl: [bullseye]/[buster] <not-affected> stay; bookworm from DSA-5532-1', () => {
    const a = advisory(r, 'CVE-2023-5363');
    expect(entry(a, 'Debian:11', 'openssl')?.fixState).toBe('not-affected');
    expect(entry(a, 'Debian:10', 'openssl')?.fixState).toBe('not-affected');
    expect(entry(a, 'Debian:12', 'openssl')?.intervals).toEqual([{ introduced: '0', fixed: '3.0.11-1~deb12u2' }]);
  });

  it('CVE-2024-37371 krb5: xref {DSA-5726-1}, fixed 1.21.3-1 in sid, bookworm 1.20.1-2+deb12u2 from the DSA', () => {
    const a = advisory(r, 'CVE-2024-37371');
    expect(entry(a, 'Debian:unstable', 'krb5')?.intervals).toEqual([{ introduced: '0', fixed: '1.21.3-1' }]);
    expect(entry(a, 'Debian:12', 'krb5')?.intervals).toEqual([{ introduced: '0', fixed: '1.20.1-2+deb12u2' }]);
    expect(a.related).toEqual(['DSA-5726-1']); // DSA-5726-1 fixes two CVEs
  });
});

describe('list line kinds the fixtures do not hold', () => {
  it('maps every kind of the list format', () => {
    expect(listLineState('postponed', undefined)).toEqual({ fixState: 'deferred' });
    expect(listLineState('end-of-life', undefined)).toEqual({ fixState: 'wont-fix' });
    expect(listLineState('undetermined', undefined)).toEqual({ fixState: 'undetermined' });
    expect(listLineState('itp', undefined)).toEqual({ skip: 'itp' });
    expect(listLineState('fixed', '0')).toEqual({ fixState: 'not-affected' });
    expect(listLineState('fixed', undefined)).toHaveProperty('error');
    expect(listLineState('fixed', 'not a version!')).toHaveProperty('error');
    expect(listLineState('something-new', undefined)).toHaveProperty('error');
  });
});

describe('readDebianVulnList on bad input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'drydock-vulnlist-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a broken file, a non-entry and an unknown kind are issues; the good entry is read', async () => {
    mkdirSync(join(dir, 'CVE'));
    writeFileSync(join(dir, 'CVE', 'broken.json'), '{"Header": ');
    writeFileSync(join(dir, 'CVE', 'other.json'), '{"id": "x"}');
    const good = readFileSync(join(TRACKER, 'CVE', 'CVE-2011-3374.json'), 'utf8');
    writeFileSync(join(dir, 'CVE', 'CVE-2011-3374.json'), good);
    writeFileSync(
      join(dir, 'CVE', 'CVE-2099-0001.json'),
      JSON.stringify({
        Header: { ID: 'CVE-2099-0001', Description: '[x]' },
        Annotations: [
          { Type: 'package', Package: 'foo', Kind: 'weird' },
          { Type: 'package', Release: 'bookworm', Package: 'foo', Kind: 'postponed', Description: 'Fix along in next update' },
        ],
      }),
    );
    const r = await readDebianVulnList(dir);
    expect(r.issues.map((i) => i.message).sort()).toEqual([expect.stringMatching(/^not a tracker list entry/), expect.stringMatching(/^not readable as JSON/), 'unknown kind "weird": - foo <weird>']);
    expect(r.advisories.map((a) => a.id).sort()).toEqual(['CVE-2011-3374', 'CVE-2099-0001']);
    expect(entry(advisory(r, 'CVE-2099-0001'), 'Debian:12', 'foo')?.fixState).toBe('deferred');
  });

  it('a directory that is not there is an issue, not a throw', async () => {
    const r = await readDebianVulnList(join(dir, 'nope'));
    expect(r.advisories).toEqual([]);
    expect(r.issues).toHaveLength(1);
  });
});

describe('readDebianTrackerJson on tracker-json-subset.vunnel.json', () => {
  let r: AdvisoryReadResult;
  beforeAll(async () => {
    r = await readDebianTrackerJson(JSON_SUBSET);
  });

  it('reads 6 CVEs, one advisory per id; an entry with releases [] is counted, not an issue', () => {
    expect(r.issues).toEqual([]);
    expect(r.advisories.map((a) => a.id).sort()).toEqual(['CVE-2005-3111', 'CVE-2007-2383', 'CVE-2008-7220', 'CVE-2013-1444', 'CVE-2022-0456', 'CVE-2025-53603']);
    expect(r.counts['no-releases']).toBe(1); // chromium-browser CVE-2022-0358
  });

  it('CVE-2008-7220 prototypejs: resolved 1.6.0.2-1 in jessie, stretch, buster, sid; urgency high** → high', () => {
    const a = advisory(r, 'CVE-2008-7220');
    expect(a.affected.map((p) => p.ecosystem).sort()).toEqual(['Debian:10', 'Debian:8', 'Debian:9', 'Debian:unstable']);
    for (const p of a.affected) {
      expect(p).toMatchObject({ name: 'prototypejs', scheme: 'dpkg', fixState: 'fixed', severity: 'high', intervals: [{ introduced: '0', fixed: '1.6.0.2-1' }] });
      expect(p.notes).toMatchObject({ status: 'resolved', urgency: 'high**' });
    }
    expect(a.severity).toBe('high');
    expect(a.summary).toMatch(/^Unspecified vulnerability in Prototype/);
    expect(a.databaseSpecific).toEqual({ scope: 'remote', debianbug: 555217 });
  });

  it('CVE-2007-2383 prototypejs: resolved with fixed_version "0" → not-affected, unimportant → negligible', () => {
    const a = advisory(r, 'CVE-2007-2383');
    for (const p of a.affected) expect(p).toMatchObject({ fixState: 'not-affected', intervals: [], severity: 'negligible' });
  });

  it('CVE-2013-1444 txt2man low** and CVE-2005-3111 backupninja medium', () => {
    expect(entry(advisory(r, 'CVE-2013-1444'), 'Debian:9', 'txt2man')).toMatchObject({ fixState: 'fixed', severity: 'low' });
    expect(entry(advisory(r, 'CVE-2005-3111'), 'Debian:10', 'backupninja')).toMatchObject({ fixState: 'fixed', severity: 'medium', intervals: [{ introduced: '0', fixed: '0.8-2' }] });
  });

  it('CVE-2022-0456 chromium: open + end-of-life in buster and stretch → wont-fix; not yet assigned → no severity', () => {
    const a = advisory(r, 'CVE-2022-0456');
    for (const eco of ['Debian:10', 'Debian:9']) {
      const p = entry(a, eco, 'chromium')!;
      expect(p.fixState).toBe('wont-fix');
      expect(p.intervals).toEqual([{ introduced: '0' }]);
      expect(p.severity).toBeUndefined();
      expect(p.notes).toMatchObject({ status: 'open', urgency: 'end-of-life' });
    }
    expect(entry(a, 'Debian:12', 'chromium')).toMatchObject({ fixState: 'fixed', intervals: [{ introduced: '0', fixed: '98.0.4758.80-1' }] });
    expect(entry(a, 'Debian:12', 'chromium')?.severity).toBeUndefined();
    expect(entry(a, 'Debian:11', 'chromium')?.intervals).toEqual([{ introduced: '0', fixed: '98.0.4758.80-1~deb11u1' }]);
    expect(a.severity).toBe('unknown');
    expect(r.counts['end-of-life']).toBe(2);
  });

  it('CVE-2025-53603 sope: trixie → Debian:13, sid → Debian:unstable, bookworm 5.8.0-1+deb12u1', () => {
    const a = advisory(r, 'CVE-2025-53603');
    expect(entry(a, 'Debian:13', 'sope')?.intervals).toEqual([{ introduced: '0', fixed: '5.12.1-2' }]);
    expect(entry(a, 'Debian:unstable', 'sope')?.intervals).toEqual([{ introduced: '0', fixed: '5.12.1-2' }]);
    expect(entry(a, 'Debian:12', 'sope')?.intervals).toEqual([{ introduced: '0', fixed: '5.8.0-1+deb12u1' }]);
  });

  it('reads the same from the bytes as from the path', async () => {
    const fromBytes = await readDebianTrackerJson(readFileSync(JSON_SUBSET));
    expect(fromBytes.advisories).toEqual(r.advisories);
  });
});

describe('tracker JSON states the subset does not hold', () => {
  it('open with nodsa / nodsa_reason, undetermined', () => {
    expect(trackerReleaseState({ status: 'open', urgency: 'not yet assigned' })).toEqual({ fixState: 'not-fixed' });
    expect(trackerReleaseState({ status: 'open', nodsa: 'Minor issue', nodsa_reason: '' })).toEqual({ fixState: 'deferred' });
    expect(trackerReleaseState({ status: 'open', nodsa: 'Minor issue', nodsa_reason: 'postponed' })).toEqual({ fixState: 'deferred' });
    expect(trackerReleaseState({ status: 'open', nodsa: 'Minor issue', nodsa_reason: 'ignored' })).toEqual({ fixState: 'wont-fix' });
    expect(trackerReleaseState({ status: 'undetermined', urgency: 'not yet assigned' })).toEqual({ fixState: 'undetermined' });
    expect(trackerReleaseState({ status: 'resolved' })).toHaveProperty('error');
    expect(trackerReleaseState({ status: 'weird' })).toHaveProperty('error');
  });

  it('one advisory per CVE across source packages; unimportant keeps the state from the status', async () => {
    const doc = {
      zlib: {
        'CVE-2023-45853': {
          description: 'MiniZip in zlib through 1.3 has an integer overflow',
          scope: 'local',
          releases: {
            bookworm: { status: 'open', repositories: { bookworm: '1:1.2.13.dfsg-1' }, urgency: 'not yet assigned', nodsa: 'contrib/minizip not built', nodsa_reason: 'ignored' },
            trixie: { status: 'resolved', repositories: { trixie: '1:1.3.dfsg+really1.3.1-1' }, fixed_version: '1:1.3.dfsg-2', urgency: 'not yet assigned' },
          },
        },
      },
      minizip: { 'CVE-2023-45853': { releases: { bullseye: { status: 'open', repositories: {}, urgency: 'unimportant' } } } },
      foo: { 'TEMP-0000000-ABCDEF': { releases: { sid: { status: 'undetermined', repositories: {}, urgency: 'low*' }, bar: { status: 'open' }, bookworm: { status: 'nonsense' } } } },
    };
    const r = await readDebianTrackerJson(Buffer.from(JSON.stringify(doc)));
    expect(r.advisories.map((a) => a.id)).toEqual(['CVE-2023-45853', 'TEMP-0000000-ABCDEF']);
    const a = advisory(r, 'CVE-2023-45853');
    expect(a.affected.map((p) => `${p.ecosystem} ${p.name} ${p.fixState} ${p.severity ?? '-'}`)).toEqual([
      'Debian:12 zlib wont-fix -',
      'Debian:13 zlib fixed -',
      'Debian:11 minizip not-fixed negligible',
    ]);
    expect(entry(a, 'Debian:12', 'zlib')?.notes).toMatchObject({ nodsa: 'contrib/minizip not built', nodsa_reason: 'ignored' });
    expect(a.severity).toBe('negligible');
    expect(entry(advisory(r, 'TEMP-0000000-ABCDEF'), 'Debian:unstable', 'foo')).toMatchObject({ fixState: 'undetermined', severity: 'low' });
    expect(r.counts['unknown-release']).toBe(1);
    expect(r.counts['temp-ids']).toBe(1);
    expect(r.issues).toEqual([{ where: 'debian tracker JSON: foo TEMP-0000000-ABCDEF bookworm', message: 'unknown status "nonsense"' }]);
  });

  it('bad JSON and a document of another shape are issues, never throws', async () => {
    const bad = await readDebianTrackerJson(Buffer.from('{"zlib": {'));
    expect(bad.advisories).toEqual([]);
    expect(bad.issues[0]!.message).toMatch(/^not readable as JSON/);
    const arr = await readDebianTrackerJson(Buffer.from('[1, 2]'));
    expect(arr.issues[0]!.message).toMatch(/top level is not an object/);
    const odd = await readDebianTrackerJson(Buffer.from('{"zlib": 3, "bash": {"CVE-1": 4, "CVE-2": {"releases": 5}}}'));
    expect(odd.issues).toHaveLength(3);
  });
});
