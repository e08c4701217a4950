/** The images, advisories and bundle of the base-image pipeline tests (base-images.test.ts, base-images-stack.test.ts). */
import { parseOsvRecord } from '../../shared/advisories/osv.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';
import type { LayerSpec } from '../support/image-builder.js';

const high = (name: string, threshold: string, action: string) => ({
  id: name, gate: 'vulnerabilities', trigger: 'package', action,
  params: [{ name: 'package_type', value: 'all' }, { name: 'severity_comparison', value: '>=' }, { name: 'severity', value: threshold }],
});
export const BUNDLE = {
  id: 'base-split',
  version: '2',
  policies: [
    { id: 'none', rules: [] },
    { id: 'base-image', rules: [{ id: 'untrusted', gate: 'base_image', trigger: 'not_trusted', action: 'STOP', params: [] }, { id: 'stale', gate: 'base_image', trigger: 'stale', action: 'WARN', params: [] }] },
    { id: 'base-layers', rules: [high('base-vulns', 'high', 'WARN')] },
    { id: 'app-layers', rules: [high('app-vulns', 'high', 'STOP')] },
  ],
  allowlists: [],
  mappings: [
    { name: 'bases', registry: '*', repository: 'base/*', image: { type: 'tag', value: '*' }, policy_ids: ['none'], allowlist_ids: [] },
    { name: 'apps', registry: '*', repository: '*', image: { type: 'tag', value: '*' }, policy_ids: ['base-image'], base_policy_ids: ['base-layers'], application_policy_ids: ['app-layers'], allowlist_ids: [] },
  ],
};

export function advisory(id: string, pkg: string, fixed: string) {
  const { advisory: a } = parseOsvRecord(
    {
      schema_version: '1.6.0', id, aliases: [id.replace(/^DEBIAN-/, '')], modified: '2026-11-20T00:00:00Z', published: '2026-11-01T00:00:00Z', summary: `${pkg}: a test vulnerability`,
      affected: [{ package: { ecosystem: 'Debian:12', name: pkg }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }], ecosystem_specific: { urgency: 'high' } }],
      database_specific: { severity: 'high' },
    },
    `${id}.json`,
  );
  if (!a) throw new Error('test advisory did not parse');
  return a;
}

// findings are named by the CVE the Debian advisories alias
export const ZLIB = 'CVE-2099-0001';
export const OPENSSL = 'CVE-2099-0002';
export const CURL = 'CVE-2099-0003';

export const osLayer: LayerSpec = { files: [{ path: 'etc/os-release', content: OS_RELEASE_12 }, { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n' }] };
export const dpkgLayer = (zlib: string): LayerSpec => ({
  files: [{ path: 'var/lib/dpkg/status', content: statusFile(stanza('zlib1g', zlib, { Source: 'zlib' }), stanza('libssl3', '3.0.11-1~deb12u2', { Source: 'openssl' }), stanza('tzdata', '2024a-0+deb12u1')) }],
});
export const baseV1 = [osLayer, dpkgLayer('1:1.2.13.dfsg-1')];
export const baseV2 = [osLayer, dpkgLayer('1:1.2.13.dfsg-1+deb12u1')];
// the application's own layer: a Debian package installed distroless-style (status.d), with its own vulnerability
export const appLayer: LayerSpec = { files: [{ path: 'var/lib/dpkg/status.d/curl', content: stanza('curl', '7.88.1-10+deb12u4') }, { path: 'app/README', content: 'the application\n' }] };

