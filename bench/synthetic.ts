/** Seeded synthetic data for the benches: a 2,000-package Debian 12 inventory and generated advisories. */
import type { Advisory } from '../shared/advisories/types.js';
import type { Distro, Package } from '../shared/catalog/types.js';
import { prng as rng } from '../test/support/prng.js';

export const bookworm: Distro = { id: 'debian', versionId: '12', codename: 'bookworm', source: '/etc/os-release' };

export function inventory(): Package[] {
  const r = rng(7);
  const pkgs: Package[] = [];
  const deb = (name: string, version: string, source = name): Package => ({ type: 'deb', name, version, sourceName: source, sourceVersion: version, purl: `pkg:deb/debian/${name}@${version}`, layer: 'sha256:l', locations: [] });
  const lang = (type: string, name: string, version: string): Package => ({ type, name, version, purl: `pkg:${type}/${name}@${version}`, layer: 'sha256:l', locations: [] });
  // real packages at versions the fixtures hold advisories for
  pkgs.push(deb('libc6', '2.36-9+deb12u2', 'glibc'), deb('libssl3', '3.0.11-1~deb12u1', 'openssl'), deb('apt', '2.6.1'), deb('tar', '1.34+dfsg-1.2'), deb('libkrb5-3', '1.20.1-2+deb12u1', 'krb5'));
  pkgs.push(lang('npm', 'lodash', '4.17.20'), lang('npm', 'minimist', '1.2.5'), lang('npm', 'express', '4.18.2'), lang('pypi', 'requests', '2.28.1'), lang('pypi', 'urllib3', '1.26.12'), lang('pypi', 'django', '4.2.1'));
  for (let i = 0; pkgs.length < 1200; i++) pkgs.push(deb(`lib${name(i)}`, `${1 + Math.floor(r() * 5)}.${Math.floor(r() * 20)}-${1 + Math.floor(r() * 4)}`, `src-${name(i % 700)}`));
  for (let i = 0; pkgs.length < 1700; i++) pkgs.push(lang('npm', `pkg-${name(i)}`, `${Math.floor(r() * 5)}.${Math.floor(r() * 20)}.${Math.floor(r() * 10)}`));
  for (let i = 0; pkgs.length < 2000; i++) pkgs.push(lang('pypi', `py-${name(i)}`, `${Math.floor(r() * 5)}.${Math.floor(r() * 20)}.${Math.floor(r() * 10)}`));
  return pkgs;
}

function name(i: number): string {
  return `n${i.toString(36)}`;
}

/** 200,000 advisories over 20,000 names per ecosystem mix; the inventory's names are among them. */
export function* synthetic(count: number): Generator<Advisory> {
  const r = rng(11);
  for (let i = 0; i < count; i++) {
    const kind = i % 3;
    const n = Math.floor(r() * 20_000);
    const major = Math.floor(r() * 5);
    const minor = Math.floor(r() * 20);
    const [ecosystem, pkg, fixed] =
      kind === 0
        ? ['Debian:12', `src-${name(n)}`, `${1 + major}.${minor}-${1 + Math.floor(r() * 4)}+deb12u1`]
        : kind === 1
          ? ['npm', `pkg-${name(n)}`, `${major}.${minor}.${Math.floor(r() * 10)}`]
          : ['PyPI', `py-${name(n)}`, `${major}.${minor}.${Math.floor(r() * 10)}`];
    const scheme = kind === 0 ? 'dpkg' : kind === 1 ? 'semver' : 'pep440';
    yield {
      id: `SYN-${i}`,
      source: 'osv',
      aliases: [`CVE-2099-${100000 + Math.floor(i / 2)}`],
      related: [],
      severity: (['critical', 'high', 'medium', 'low'] as const)[i % 4]!,
      cvss: [],
      affected: [{ ecosystem, name: pkg, scheme, intervals: [{ introduced: '0', fixed }], versions: [], fixState: 'fixed' }],
    };
  }
}

