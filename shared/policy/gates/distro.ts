/**
 * Gate `distro` (Anchore's name). Reads ctx.distro (os-release).
 *
 * Trigger `deny` (Anchore's) — fires once when the image's distro is `distro` and its version
 * compares with `version` as `check` says. Trigger id "<distro>:<image version>".
 *   distro    (required) distribution id as os-release writes it (debian, ubuntu, alpine,
 *             rhel, rocky, almalinux, ...), case-insensitive
 *   version   (required) version to compare against ("9", "22.04", "3.18")
 *   check     (required) = != < <= > >=. Versions compare numerically by dotted parts, over
 *             as many parts as the rule's version has: "debian = 12" matches 12.5 and
 *             "alpine < 3.19" matches 3.18.4 but not 3.19.1. An image without a version
 *             (Debian sid) never matches.
 *
 * Trigger `eol` (Drydock's; Anchore Engine has no end-of-life trigger) — fires once when ctx.now
 * is past the end of the image's distro release's security support (or within `within_days`
 * of it). Trigger id "<distro>:<release>". Releases not in the table do not fire.
 *   within_days   optional integer: fire this many days ahead of the date (default 0)
 */
import type { Distro } from '../../catalog/types.js';
import type { Gate, Trigger } from '../types.js';

/**
 * The day after which each release gets no more security updates from its publisher, as
 * published by the projects and collected on https://endoflife.date (debian, ubuntu, alpine,
 * rhel, rocky-linux, almalinux, centos pages). Debian: end of Debian LTS (the security archive
 * keeps publishing fixes until then; paid ELTS not counted). Ubuntu: end of standard support
 * (paid ESM not counted). Alpine: end of the main repository's support. Red Hat family: end of
 * maintenance support (paid extended support not counted).
 */
export const END_OF_LIFE: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  debian: { '8': '2020-06-30', '9': '2022-06-30', '10': '2024-06-30', '11': '2026-08-31', '12': '2028-06-30' },
  ubuntu: { '14.04': '2019-04-25', '16.04': '2021-04-30', '18.04': '2023-05-31', '20.04': '2025-05-29', '22.04': '2027-06-01', '24.04': '2029-05-31' },
  alpine: {
    '3.12': '2022-05-01',
    '3.13': '2022-11-01',
    '3.14': '2023-05-01',
    '3.15': '2023-11-01',
    '3.16': '2024-05-23',
    '3.17': '2024-11-22',
    '3.18': '2025-05-09',
    '3.19': '2025-11-01',
    '3.20': '2026-04-01',
    '3.21': '2026-11-01',
    '3.22': '2027-05-01',
  },
  rhel: { '7': '2024-06-30', '8': '2029-05-31', '9': '2032-05-31' },
  centos: { '7': '2024-06-30', '8': '2021-12-31' },
  rocky: { '8': '2029-05-31', '9': '2032-05-31' },
  almalinux: { '8': '2029-03-01', '9': '2032-05-31' },
};

const DEBIAN_CODENAMES: Readonly<Record<string, string>> = { jessie: '8', stretch: '9', buster: '10', bullseye: '11', bookworm: '12' };

/** The release key of END_OF_LIFE[distro.id] the image is on. */
function releaseOf(d: Distro): string | undefined {
  const id = d.id.toLowerCase();
  const v = d.versionId?.trim();
  if (id === 'ubuntu') return v ? /^\d+\.\d+/.exec(v)?.[0] : undefined;
  if (id === 'alpine') return v ? /^\d+\.\d+/.exec(v)?.[0] : undefined;
  if (id === 'debian' && !v && d.codename) return DEBIAN_CODENAMES[d.codename.toLowerCase()];
  return v ? /^\d+/.exec(v)?.[0] : undefined;
}

/** Sign of image − rule over the rule's dotted parts (numeric where both parts are). */
function compareDotted(image: string, rule: string): number {
  const a = image.split('.');
  const b = rule.split('.');
  for (let i = 0; i < b.length; i++) {
    const x = a[i] ?? '0';
    const y = b[i] ?? '0';
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    const c = Number.isNaN(nx) || Number.isNaN(ny) ? x.localeCompare(y) : nx - ny;
    if (c !== 0) return Math.sign(c);
  }
  return 0;
}

function holds(check: string, c: number): boolean {
  switch (check) {
    case '=':
      return c === 0;
    case '!=':
      return c !== 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
    default:
      return false;
  }
}

const deny: Trigger = {
  name: 'deny',
  description: 'Triggers if the image distro and version match the criteria.',
  params: [
    { name: 'distro', type: 'string', required: true, description: 'Name of the distribution to match (os-release ID).' },
    { name: 'version', type: 'string', required: true, description: 'Version of distribution to compare against.' },
    { name: 'check', type: 'enum', values: ['=', '!=', '<', '<=', '>', '>='], required: true, description: 'The comparison to use in the evaluation.' },
  ],
  evaluate(ctx, p) {
    const d = ctx.distro;
    const want = (p.distro as string).toLowerCase();
    const version = p.version as string;
    const check = p.check as string;
    if (!d || d.id.toLowerCase() !== want || !d.versionId) return [];
    if (!holds(check, compareDotted(d.versionId.trim(), version.trim()))) return [];
    return [{ triggerId: `${d.id}:${d.versionId}`, message: `Image distro ${d.id} ${d.versionId} matches the denied distro rule: ${want} ${check} ${version}` }];
  },
};

const DAY_MS = 86_400_000;

const eol: Trigger = {
  name: 'eol',
  description: "Triggers if the image's distro release is past the end of its security support.",
  params: [{ name: 'within_days', type: 'integer', description: 'Also fire this many days before the end of support.' }],
  evaluate(ctx, p) {
    const d = ctx.distro;
    if (!d) return [];
    const id = d.id.toLowerCase();
    const release = releaseOf(d);
    const table = Object.hasOwn(END_OF_LIFE, id) ? END_OF_LIFE[id] : undefined;
    const date = release && table && Object.hasOwn(table, release) ? table[release] : undefined;
    if (!release || !date) return [];
    const within = (p.within_days as number | undefined) ?? 0;
    // support ends at the end of the listed day (UTC)
    const end = Date.parse(`${date}T00:00:00Z`) + DAY_MS;
    if (ctx.now.getTime() < end - within * DAY_MS) return [];
    const past = ctx.now.getTime() >= end;
    return [{ triggerId: `${id}:${release}`, message: `Distro ${id} ${release} ${past ? 'reached' : 'reaches'} the end of its security support on ${date}` }];
  },
};

export const distroGate: Gate = {
  name: 'distro',
  description: "Checks the image's operating system distribution and release.",
  triggers: [deny, eol],
};
