/**
 * The normalised advisory model every feed reader produces (OSV, Debian Security Tracker,
 * Alpine secdb) and the matcher consumes. One Advisory = one record of one source; it may
 * affect several packages (keys). The advisory store is keyed by (ecosystem, package name).
 */
import type { Scheme } from '../versions/types.js';

/** Where an advisory came from. */
export type AdvisorySource = 'osv' | 'debian-tracker' | 'alpine-secdb' | 'alas' | 'elsa' | 'redhat-csaf';

/** Severity levels, most severe first. "negligible" = Debian's `unimportant`. */
export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** A CVSS vector scored by a library (never by hand). */
export interface CvssScore {
  version: '2.0' | '3.0' | '3.1' | '4.0';
  vector: string;
  /** base score 0.0–10.0 */
  score: number;
  severity: Severity;
}

/**
 * One OSV-style event list: introduced (inclusive, "0" = from the beginning), then fixed
 * (exclusive) or last_affected (inclusive); `limit` bounds the search (ignored for matching
 * but kept). The events of one OSV range are split into these intervals by the reader.
 */
export interface AffectedInterval {
  introduced?: string;
  fixed?: string;
  lastAffected?: string;
  limit?: string;
}

/**
 * What the source says about the package's fix:
 * - fixed:        a fixed version exists (in `intervals[].fixed`)
 * - not-fixed:    affected, no fix yet (Debian `<unfixed>` / open, OSV range with no fixed event)
 * - wont-fix:     affected, the distro decided not to fix (Debian `ignored`, `<end-of-life>`)
 * - deferred:     affected, fix postponed to a later point release (Debian `postponed`, `no-dsa`)
 * - not-affected: the source says this release is not affected (Debian `not-affected`, fixed_version "0", Alpine secfixes "0")
 * - undetermined: the source has not decided (Debian `undetermined`, `TODO: check`)
 */
export type FixState = 'fixed' | 'not-fixed' | 'wont-fix' | 'deferred' | 'not-affected' | 'undetermined';

/** One package an advisory affects, in one ecosystem. */
export interface AffectedPackage {
  /**
   * Normalised ecosystem key: OSV ecosystem names ("npm", "PyPI", "Go", "Maven", "RubyGems",
   * "NuGet", "Packagist", "crates.io") and distro releases as OSV writes them ("Debian:12",
   * "Alpine:v3.19", "Ubuntu:22.04", "Red Hat:...", "Rocky Linux:9", "AlmaLinux:9").
   */
  ecosystem: string;
  /** package name, normalised per ecosystem (PyPI: PEP 503; distro: source package) */
  name: string;
  purl?: string;
  /** the version scheme of this ecosystem (undefined = no comparator: only `versions` can match) */
  scheme?: Scheme;
  /** affected intervals (from ECOSYSTEM / SEMVER ranges, tracker fixed_version, secfixes) */
  intervals: AffectedInterval[];
  /** explicitly enumerated affected versions (OSV `versions[]`) */
  versions: string[];
  fixState: FixState;
  /** severity this source gives for this package (Debian urgency per release), if any */
  severity?: Severity;
  /** source-specific notes kept for evidence (Debian urgency text, nodsa reason, OSV ecosystem_specific) */
  notes?: Record<string, unknown>;
}

export interface Advisory {
  /** e.g. "CVE-2023-4911", "DSA-5514-1", "GHSA-j8r2-6x86-q33q", "PYSEC-2023-74" */
  id: string;
  source: AdvisorySource;
  /** other ids for the same vulnerability (OSV aliases; tracker DSA/DLA ↔ CVE) */
  aliases: string[];
  /** ids of the upstream records this one was derived from (OSV `upstream`: a distro record of a CVE); merged like aliases */
  upstream?: string[];
  /** ids of related but different vulnerabilities (OSV related) */
  related: string[];
  summary?: string;
  /** ISO timestamps */
  published?: string;
  modified?: string;
  /** set when the record was withdrawn: it never matches */
  withdrawn?: string;
  /** overall severity (highest CVSS, else the source's label), "unknown" when none */
  severity: Severity;
  cvss: CvssScore[];
  affected: AffectedPackage[];
  references?: string[];
  /** OSV database_specific, kept as is */
  databaseSpecific?: Record<string, unknown>;
}

/** A problem a reader had with one record: the record is skipped, the read goes on. */
export interface AdvisoryIssue {
  /** file (or zip member) and, when known, the record id */
  where: string;
  message: string;
}

/** What a reader returns: advisories, problems, and counted things it ignored on purpose. */
export interface AdvisoryReadResult {
  advisories: Advisory[];
  issues: AdvisoryIssue[];
  /** counters such as "git-ranges-ignored", "withdrawn", "unknown-ecosystem" */
  counts: Record<string, number>;
}
