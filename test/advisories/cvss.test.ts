import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scoreCvss, severityFromLabel, severityFromScore } from '../../shared/advisories/cvss.js';
import { SHARED_FIXTURES } from '../support/fixtures.js';

const NVD = join(SHARED_FIXTURES, 'advisories', 'nvd');

interface NvdMetric {
  version: string;
  vector: string;
  baseScore: number;
  severity: string;
  file: string;
}

/** Every cvssData object of an NVD API 2.0 file, with the severity NVD printed beside it. */
function nvdMetrics(file: string): NvdMetric[] {
  const out: NvdMetric[] = [];
  const walk = (o: unknown): void => {
    if (Array.isArray(o)) return o.forEach(walk);
    if (!o || typeof o !== 'object') return;
    const rec = o as Record<string, unknown>;
    const data = rec.cvssData as Record<string, unknown> | undefined;
    if (data) {
      out.push({
        version: data.version as string,
        vector: data.vectorString as string,
        baseScore: data.baseScore as number,
        // v3 keeps baseSeverity in cvssData, v2 beside it
        severity: ((data.baseSeverity ?? rec.baseSeverity) as string).toLowerCase(),
        file,
      });
    }
    Object.values(rec).forEach(walk);
  };
  walk(JSON.parse(readFileSync(file, 'utf8')));
  return out;
}

const nvdFiles = [...readdirSync(join(NVD, 'nvd-api2')).map((f) => join(NVD, 'nvd-api2', f)), join(NVD, 'nvd-api2-single-entry.vunnel.json')];
const metrics = nvdFiles.flatMap(nvdMetrics);

describe('scoreCvss agrees with every score NVD printed in the fixtures', () => {
  it('finds v2, v3.0 and v3.1 metrics', () => {
    expect(metrics.length).toBe(16);
    expect(new Set(metrics.map((m) => m.version))).toEqual(new Set(['2.0', '3.0', '3.1']));
  });

  it.each(metrics.map((m) => [`${m.file.split('/').pop()} ${m.vector}`, m] as const))('%s', (_, m) => {
    const scored = scoreCvss(m.version === '2.0' ? 'CVSS_V2' : 'CVSS_V3', m.vector);
    expect(scored).toEqual({ version: m.version, vector: m.vector, score: m.baseScore, severity: m.severity });
  });
});

describe('scoreCvss on known vectors', () => {
  it('scores the canonical 9.8', () => {
    expect(scoreCvss('CVSS_V3', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H')).toEqual({ version: '3.1', vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', score: 9.8, severity: 'critical' });
  });

  it('scores 3.0 vectors as 3.0', () => {
    expect(scoreCvss('CVSS_V3', 'CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H')?.version).toBe('3.0');
  });

  it('scores the fixture GHSA vectors (lodash GHSA-p6mc 7.4 high, ansi-html 7.5 high)', () => {
    expect(scoreCvss('CVSS_V3', 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H')).toMatchObject({ score: 7.4, severity: 'high' });
    expect(scoreCvss('CVSS_V3', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H')).toMatchObject({ score: 7.5, severity: 'high' });
  });

  it('scores CVSS 4.0 base metrics (FIRST: AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N = 9.3)', () => {
    expect(scoreCvss('CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N')).toMatchObject({ version: '4.0', score: 9.3, severity: 'critical' });
    // the base score ignores threat metrics (E:U would make it CVSS-BT)
    expect(scoreCvss('CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U')?.score).toBe(9.3);
  });

  it('scores a v3 vector with temporal metrics by its base metrics', () => {
    expect(scoreCvss('CVSS_V3', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:C')?.score).toBe(9.8);
  });

  it('accepts a v2 vector in parentheses and surrounding blanks', () => {
    expect(scoreCvss('CVSS_V2', '(AV:N/AC:L/Au:N/C:P/I:P/A:P)')?.score).toBe(7.5);
    expect(scoreCvss('CVSS_V3', ' CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H ')?.vector).toBe('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H');
  });

  it('gives 0.0 the lowest severity', () => {
    expect(scoreCvss('CVSS_V3', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N')).toMatchObject({ score: 0, severity: 'negligible' });
  });
});

describe('scoreCvss on malformed vectors: undefined, never a throw', () => {
  const bad: Array<[type: 'CVSS_V2' | 'CVSS_V3' | 'CVSS_V4', vector: string]> = [
    ['CVSS_V3', ''],
    ['CVSS_V3', 'garbage'],
    ['CVSS_V3', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H'], // A missing
    ['CVSS_V3', 'CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'], // unknown value
    ['CVSS_V3', 'CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'], // base metric "not defined"
    ['CVSS_V3', 'CVSS:3.1/AV:/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'], // empty value
    ['CVSS_V3', 'CVSS:3.1/AVN/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'], // no colon
    ['CVSS_V3', 'CVSS:3.1/AV:N/AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'], // metric twice
    ['CVSS_V3', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:Q'], // unknown metric
    ['CVSS_V3', 'AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'], // prefix missing
    ['CVSS_V3', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N'], // wrong type
    ['CVSS_V4', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'],
    ['CVSS_V4', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H'], // subsequent-system metrics missing
    ['CVSS_V2', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'],
    ['CVSS_V2', 'AV:N/AC:L/Au:N/C:P/I:P'],
  ];
  it.each(bad)('%s %s', (type, vector) => {
    expect(scoreCvss(type, vector)).toBeUndefined();
  });

  it('refuses a non-string vector', () => {
    expect(scoreCvss('CVSS_V3', 42 as unknown as string)).toBeUndefined();
  });
});

describe('severityFromScore uses FIRST ranges', () => {
  it.each([
    [0, 'negligible'],
    [0.1, 'low'],
    [3.9, 'low'],
    [4, 'medium'],
    [6.9, 'medium'],
    [7, 'high'],
    [8.9, 'high'],
    [9, 'critical'],
    [10, 'critical'],
  ] as const)('v3 %s → %s', (score, severity) => {
    expect(severityFromScore('3.1', score)).toBe(severity);
    expect(severityFromScore('4.0', score)).toBe(severity);
  });

  it.each([
    [0, 'low'],
    [3.9, 'low'],
    [4, 'medium'],
    [6.9, 'medium'],
    [7, 'high'],
    [10, 'high'],
  ] as const)('v2 %s → %s', (score, severity) => {
    expect(severityFromScore('2.0', score)).toBe(severity);
  });
});

describe('severityFromLabel', () => {
  it.each([
    ['CRITICAL', 'critical'],
    ['HIGH', 'high'],
    ['MODERATE', 'medium'],
    ['LOW', 'low'],
    ['medium', 'medium'],
    ['negligible', 'negligible'],
    ['unimportant', 'negligible'],
    ['low**', 'low'],
    ['not yet assigned', 'unknown'],
  ] as const)('%s → %s', (label, severity) => {
    expect(severityFromLabel(label)).toBe(severity);
  });

  it('does not guess unknown labels', () => {
    expect(severityFromLabel('bogus')).toBeUndefined();
    expect(severityFromLabel('')).toBeUndefined();
  });
});
