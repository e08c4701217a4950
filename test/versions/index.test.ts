import { describe, expect, it } from 'vitest';
import { comparators, compareVersions, inRange, InvalidVersionError, isValidVersion, type Scheme } from '../../shared/versions/index.js';

const SCHEMES: Scheme[] = ['dpkg', 'apk', 'rpm', 'semver', 'pep440', 'maven', 'go', 'rubygems', 'nuget', 'composer'];

describe('the version entry point', () => {
  it('registers exactly one comparator per scheme', () => {
    expect(comparators.map((c) => c.scheme).sort()).toEqual([...SCHEMES].sort());
  });

  it.each([
    ['dpkg', '1:1.0-1', '2.0-1', 1],
    ['apk', '1.2.3-r1', '1.2.3_rc1-r9', 1],
    ['rpm', '1.0~rc1-1', '1.0-1', -1],
    ['semver', '1.0.0-alpha', '1.0.0', -1],
    ['pep440', '1.0.post1', '1.0', 1],
    ['maven', '1.0-SNAPSHOT', '1.0', -1],
    ['go', 'v0.0.0-20230101000000-abcdefabcdef', 'v0.1.0', -1],
    ['rubygems', '1.0.a', '1.0', -1],
    ['nuget', '1.0.0.0', '1.0', 0],
    ['composer', '1.0.0-RC1', '1.0.0', -1],
  ] as const)('%s: %s vs %s → %i', (scheme, a, b, expected) => {
    expect(compareVersions(scheme, a, b)).toBe(expected);
    expect(compareVersions(scheme, b, a)).toBe(-expected || 0);
  });

  it('an invalid version is an error the caller sees, never "equal"', () => {
    for (const scheme of SCHEMES) {
      expect(isValidVersion(scheme, '')).toBe(false);
      expect(() => compareVersions(scheme, '', '1.0'), scheme).toThrow(InvalidVersionError);
    }
  });

  it('range checks follow OSV: introduced inclusive, fixed exclusive, last_affected inclusive', () => {
    expect(inRange('semver', '1.2.3', { introduced: '0', fixed: '1.2.4' })).toBe(true);
    expect(inRange('semver', '1.2.4', { introduced: '0', fixed: '1.2.4' })).toBe(false);
    expect(inRange('semver', '1.1.0', { introduced: '1.2.0', fixed: '1.2.4' })).toBe(false);
    expect(inRange('semver', '1.3.0', { introduced: '1.2.0', lastAffected: '1.3.0' })).toBe(true);
    expect(inRange('semver', '1.3.1', { introduced: '1.2.0', lastAffected: '1.3.0' })).toBe(false);
    expect(() => compareVersions('nope' as Scheme, '1', '2')).toThrow(/no comparator/);
  });
});
