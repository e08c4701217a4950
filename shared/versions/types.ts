import { DrydockError } from '../errors.js';

/** Version schemes, one comparator each (shared/versions/<scheme>.ts). */
export type Scheme = 'dpkg' | 'apk' | 'rpm' | 'semver' | 'pep440' | 'maven' | 'go' | 'rubygems' | 'nuget' | 'composer';

export type Order = -1 | 0 | 1;

/**
 * One version scheme's order. `compare` is a total order on valid versions; an invalid version
 * throws InvalidVersionError — never a silent "equal".
 */
export interface Comparator {
  readonly scheme: Scheme;
  /** true when `version` is valid in this scheme */
  isValid(version: string): boolean;
  /** sign of a − b; throws InvalidVersionError when either is invalid */
  compare(a: string, b: string): Order;
}

export class InvalidVersionError extends DrydockError {
  constructor(
    readonly scheme: Scheme,
    readonly version: string,
    why: string,
  ) {
    super('INVALID_VERSION', `"${version}" is not a valid ${scheme} version: ${why}`);
    this.name = 'InvalidVersionError';
  }
}
