/**
 * ELSA loading for a scan that knows its image's keys (issue 16 follow-up): definitions for other
 * Oracle Linux releases or other packages are skipped unparsed, kept ones trimmed to the wanted
 * rows, and what the store answers for the wanted keys is exactly what the full read gives.
 * Also: elements cut from bytes read alike whatever the chunking (UTF-8 split anywhere).
 * Real samples from ../shared/fixtures/advisories/oracle/oval (see SOURCES.md there).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryAdvisoryStore } from '../../shared/adapters/local/memory-advisory-store.js';
import { elsaDefinitions, readElsaOval } from '../../shared/advisories/elsa.js';
import { loadAdvisories } from '../../shared/advisories/load.js';
import type { Advisory } from '../../shared/advisories/types.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const OVAL = join(SHARED_FIXTURES, 'advisories/oracle/oval');
// three definitions, one release each: ELSA-2022-4803 (OL7), ELSA-2025-10073 (OL10), ELSA-2024-2961 (OL8)
const PER_ARCH = join(OVAL, 'elsa-all.ol7-ol8-ol10.per-arch-subset.vunnel.xml');

const wantKeys = (...keys: string[]) => {
  const set = new Set(keys);
  return (k: { ecosystem: string; name: string }) => set.has(`${k.ecosystem}/${k.name}`);
};

describe('ELSA with the keys a scan asks for', () => {
  it('skips definitions that name no wanted key (another release, or other packages), unparsed but with their ecosystems', async () => {
    const all = (await readElsaOval(PER_ARCH)).advisories;
    const rsyslog = all.find((a) => a.affected.some((p) => p.name === 'rsyslog'))!;
    const eco = rsyslog.affected.find((p) => p.name === 'rsyslog')!.ecosystem;
    const seen: string[] = [];
    const skipped: string[][] = [];
    let notWanted = 0;
    for await (const r of elsaDefinitions(PER_ARCH, { keep: wantKeys(`${eco}/rsyslog`) })) {
      if (r.advisory) seen.push(r.advisory.id);
      if (r.skipped) skipped.push(r.skipped.ecosystems);
      notWanted += r.counts['elsa-not-wanted'] ?? 0;
    }
    expect(seen).toEqual([rsyslog.id]);
    expect(notWanted).toBe(all.length - 1);
    // the skipped ones still say which releases they cover
    expect(skipped.flat().sort()).toEqual([...new Set(all.filter((a) => a.id !== rsyslog.id).flatMap((a) => a.affected.map((p) => p.ecosystem)))].sort());
    // the same package name under another release is not wanted
    const other = eco === 'Oracle Linux:8' ? 'Oracle Linux:7' : 'Oracle Linux:8';
    const ids: string[] = [];
    for await (const r of elsaDefinitions(PER_ARCH, { keep: wantKeys(`${other}/rsyslog`) })) if (r.advisory) ids.push(r.advisory.id);
    expect(ids).toEqual([]);
  });

  it('loadAdvisories with keep: same answers for the wanted keys as the full read, the rest not held, counts and coverage unchanged', async () => {
    const all = (await readElsaOval(PER_ARCH)).advisories;
    const keys = [...new Set(all.flatMap((a) => a.affected.map((p) => `${p.ecosystem}/${p.name}`)))].sort();
    expect(keys.length).toBeGreaterThan(4);
    // the image's keys: one package of each of two definitions, and a name no definition has
    const wanted = [keys.find((k) => k.endsWith('/rsyslog'))!, keys.find((k) => k.endsWith('/osbuild'))!, 'Oracle Linux:8/not-in-any-elsa'];
    const keep = wantKeys(...wanted);
    const full = new MemoryAdvisoryStore(keep);
    const fullSummary = await loadAdvisories([PER_ARCH], full);
    const fast = new MemoryAdvisoryStore(keep);
    const fastSummary = await loadAdvisories([PER_ARCH], fast, { keep });
    for (const k of wanted) {
      const [ecosystem, name] = k.split('/') as [string, string];
      const strip = (as: Advisory[]) => as.map((a) => ({ id: a.id, aliases: a.aliases, severity: a.severity, affected: a.affected })).sort((x, y) => x.id.localeCompare(y.id));
      expect(strip(await fast.forPackage({ ecosystem, name })), k).toEqual(strip(await full.forPackage({ ecosystem, name })));
    }
    expect((await fast.forPackage({ ecosystem: wanted[0]!.split('/')[0]!, name: 'rsyslog' })).length).toBe(1);
    expect(fast.size).toEqual(full.size);
    const [f, s] = [fullSummary.sources[0]!, fastSummary.sources[0]!];
    expect(s.kind).toBe('elsa-oval');
    expect(s.advisories).toBe(f.advisories);
    expect(s.kept).toBe(f.kept);
    expect(s.ecosystems).toEqual(f.ecosystems);
    expect(s.producedAt).toBe(f.producedAt);
    expect(fastSummary.counts['elsa-not-wanted']).toBe(all.length - 2);
  });

  it('a kept definition is held trimmed to the wanted rows (not every package of it)', async () => {
    const all = (await readElsaOval(PER_ARCH)).advisories;
    const osbuild = all.find((a) => a.affected.some((p) => p.name === 'osbuild'))!;
    expect(osbuild.affected.length).toBeGreaterThan(1);
    const eco = osbuild.affected.find((p) => p.name === 'osbuild')!.ecosystem;
    const keep = wantKeys(`${eco}/osbuild`);
    // a store without its own filter shows what load.ts handed it
    const store = new MemoryAdvisoryStore();
    await loadAdvisories([PER_ARCH], store, { keep });
    expect(store.size.advisories).toBe(1);
    expect(store.size.keys).toBe(1);
    const held = await store.forPackage({ ecosystem: eco, name: 'osbuild' });
    expect(held.map((a) => a.id)).toEqual([osbuild.id]);
    expect(held[0]!.affected.every((p) => p.name === 'osbuild' && p.ecosystem === eco)).toBe(true);
  });
});

describe('elements cut from bytes', () => {
  it('read alike fed 1 to 13 bytes at a time, with UTF-8 split across chunks', async () => {
    // invented: a non-ASCII title (2-, 3- and 4-byte UTF-8) in the real per-arch sample
    const xml = readFileSync(PER_ARCH, 'utf8').replace('ELSA-2022-4803:  rsyslog', 'ELSA-2022-4803: Ünïcode — 𝔯𝔰𝔶𝔰𝔩𝔬𝔤 · rsyslog');
    expect(xml).toContain('𝔯𝔰𝔶𝔰𝔩𝔬𝔤');
    const bytes = Buffer.from(xml);
    const whole = (await readElsaOval(bytes)).advisories;
    expect(whole.find((a) => a.id === 'ELSA-2022-4803')!.summary).toContain('Ünïcode — 𝔯𝔰𝔶𝔰𝔩𝔬𝔤');
    for (const size of [1, 2, 3, 13]) {
      const chunks = (async function* () {
        for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
      })();
      expect((await readElsaOval(chunks)).advisories, `chunks of ${size}`).toEqual(whole);
    }
  });
});
