/**
 * CVSS vectors scored by ae-cvss-calculator (never by hand), and severity labels read as
 * Drydock severities.
 *
 * The library is lenient: it scores a 3.0 vector with the 3.1 class, accepts a vector
 * without its "CVSS:x.y/" prefix, lets a repeated metric overwrite the first and takes "X"
 * (not defined) for a base metric. A feed's vector is checked here first, so that what is
 * scored is exactly what the feed wrote: the prefix must match the OSV type (CVSS_V2 has
 * none), every part is "Metric:Value", no metric twice, and every base metric defined.
 * Anything else is undefined (the reader counts it), never an exception.
 *
 * Severity from score, FIRST's ranges: v3/v4 0.1–3.9 low, 4.0–6.9 medium, 7.0–8.9 high,
 * 9.0–10.0 critical, and 0.0 (FIRST's "None") → "negligible", the lowest level the model
 * has; v2 (NVD's ranges) 0.0–3.9 low, 4.0–6.9 medium, 7.0–10.0 high.
 */
import * as cvssModule from 'ae-cvss-calculator';
import type { CvssScore, Severity } from './types.js';

// A CommonJS bundle: Node's ESM loader puts its exports under `default`, bundlers and CJS loaders do not.
const cvssLib = (cvssModule as typeof cvssModule & { default?: typeof cvssModule }).default ?? cvssModule;
const { Cvss2, Cvss3P0, Cvss3P1, Cvss4P0 } = cvssLib;

export type CvssType = 'CVSS_V2' | 'CVSS_V3' | 'CVSS_V4';

/** The vector's base score and severity, or undefined when it is not a well-formed vector of `type`. */
export function scoreCvss(type: CvssType, vector: string): CvssScore | undefined {
  if (typeof vector !== 'string') return undefined;
  const text = vector.trim();
  const parsed = splitVector(type, text);
  if (!parsed) return undefined;
  try {
    switch (parsed.version) {
      case '2.0': {
        const v = new Cvss2(parsed.metrics);
        if (!v.isBaseFullyDefined()) return undefined;
        return result('2.0', text, v.calculateScores().base);
      }
      case '3.0':
      case '3.1': {
        const v = parsed.version === '3.0' ? new Cvss3P0(`CVSS:3.0/${parsed.metrics}`) : new Cvss3P1(`CVSS:3.1/${parsed.metrics}`);
        if (!v.isBaseFullyDefined()) return undefined;
        return result(parsed.version, text, v.calculateScores().base);
      }
      case '4.0': {
        const v = new Cvss4P0(`CVSS:4.0/${parsed.metrics}`);
        if (!v.isBaseFullyDefined()) return undefined;
        // CVSS-B: the score of the base metrics alone (threat/environmental parts would make it CVSS-BT/BTE).
        return result('4.0', text, v.calculateScores().baseMetricsOnly);
      }
    }
  } catch {
    // unknown metric or value: the library throws
    return undefined;
  }
}

/** FIRST severity ranges for a score of `version`. */
export function severityFromScore(version: CvssScore['version'], score: number): Severity {
  if (version === '2.0') return score >= 7 ? 'high' : score >= 4 ? 'medium' : 'low';
  if (score >= 9) return 'critical';
  if (score >= 7) return 'high';
  if (score >= 4) return 'medium';
  if (score > 0) return 'low';
  return 'negligible';
}

/**
 * A severity label as feeds write it (GitHub's database_specific.severity "CRITICAL", "HIGH",
 * "MODERATE", "LOW"; Ubuntu priorities; Debian urgencies; CVSS qualitative names), or
 * undefined for a label it does not know.
 */
export function severityFromLabel(label: string): Severity | undefined {
  if (typeof label !== 'string') return undefined;
  // Debian urgencies may carry a "**" (not yet assigned) marker: "low**".
  const key = label.trim().toLowerCase().replace(/\*+$/, '');
  return LABELS[key];
}

const LABELS: Readonly<Record<string, Severity>> = {
  critical: 'critical',
  high: 'high',
  important: 'high',
  moderate: 'medium',
  medium: 'medium',
  low: 'low',
  none: 'negligible',
  negligible: 'negligible',
  unimportant: 'negligible',
  'end-of-life': 'negligible',
  untriaged: 'unknown',
  'not yet assigned': 'unknown',
  unknown: 'unknown',
};

function result(version: CvssScore['version'], vector: string, base: number | undefined): CvssScore | undefined {
  if (base === undefined || !Number.isFinite(base) || base < 0 || base > 10) return undefined;
  const score = Math.round(base * 10) / 10;
  return { version, vector, score, severity: severityFromScore(version, score) };
}

const PREFIX = /^CVSS:(\d+\.\d+)\//;
const METRIC = /^[A-Za-z]+:[A-Za-z]+$/;

/** The version and the metric part ("AV:N/AC:L/..."), checked for shape and repeats. */
function splitVector(type: CvssType, text: string): { version: CvssScore['version']; metrics: string } | undefined {
  let version: CvssScore['version'];
  let metrics: string;
  const prefix = PREFIX.exec(text);
  if (type === 'CVSS_V2') {
    // v2 vectors have no prefix; NVD sometimes wraps them in parentheses
    if (prefix) return undefined;
    version = '2.0';
    metrics = text.startsWith('(') && text.endsWith(')') ? text.slice(1, -1) : text;
  } else {
    if (!prefix) return undefined;
    const v = prefix[1];
    if (type === 'CVSS_V3' && (v === '3.0' || v === '3.1')) version = v;
    else if (type === 'CVSS_V4' && v === '4.0') version = v;
    else return undefined;
    metrics = text.slice(prefix[0].length);
  }
  const parts = metrics.split('/');
  const seen = new Set<string>();
  for (const part of parts) {
    if (!METRIC.test(part)) return undefined;
    const name = part.slice(0, part.indexOf(':'));
    if (seen.has(name)) return undefined;
    seen.add(name);
  }
  return { version, metrics };
}
