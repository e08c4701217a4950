import type { FileSpec } from '../support/image-builder.js';
import type { ImageInventory } from '../../shared/scan.js';

/** A dpkg status stanza, as dpkg writes it. */
export function stanza(name: string, version: string, extra: Record<string, string> = {}): string {
  const fields: Record<string, string> = {
    Package: name,
    Status: 'install ok installed',
    Priority: 'optional',
    Architecture: 'amd64',
    Version: version,
    Maintainer: 'Drydock Tests <tests@example.invalid>',
    Description: `test package ${name}`,
    ...extra,
  };
  return `${Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('\n')}\n`;
}

export const statusFile = (...stanzas: string[]): string => stanzas.join('\n');

export const OS_RELEASE_12 = [
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"',
  'NAME="Debian GNU/Linux"',
  'VERSION_ID="12"',
  'VERSION="12 (bookworm)"',
  'VERSION_CODENAME=bookworm',
  'ID=debian',
].join('\n');

export const dir = (path: string): FileSpec => ({ path, type: 'dir' });

/** What must be equal whatever source an image was read from. */
export function comparable(inv: ImageInventory) {
  return {
    distro: inv.distro && { id: inv.distro.id, versionId: inv.distro.versionId, codename: inv.distro.codename },
    packages: inv.packages.map((p) => ({
      name: p.name,
      version: p.version,
      arch: p.arch,
      source: `${p.sourceName ?? ''} ${p.sourceVersion ?? ''}`,
      purl: p.purl,
      layer: p.layer,
      locations: p.locations,
    })),
    warnings: inv.warnings.map((w) => w.code).sort(),
    diffIds: inv.image.layers.map((l) => l.diffId),
  };
}

/** The AL2023 release of the fixture rpmdb (pkgdb/rpm/sqlite-amazonlinux2023: system-release-2023.1.20230825). */
export const AL2023_RELEASE = '2023.1.20230825';

/** /etc/os-release of an AL2023 image of this release, as the amazonlinux:2023 image ships it. */
export function osReleaseAl2023(release = AL2023_RELEASE): string {
  return `NAME="Amazon Linux"
VERSION="2023"
ID="amzn"
ID_LIKE="fedora"
VERSION_ID="2023"
PLATFORM_ID="platform:al2023"
PRETTY_NAME="Amazon Linux ${release}"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2023"
HOME_URL="https://aws.amazon.com/linux/amazon-linux-2023/"
SUPPORT_END="2028-03-15"
`;
}

/** CentOS Stream 9's /etc/os-release, field for field (no advisory source covers it). */
export const OS_RELEASE_CENTOS_STREAM_9 = `NAME="CentOS Stream"
VERSION="9"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="9"
PLATFORM_ID="platform:el9"
PRETTY_NAME="CentOS Stream 9"
ANSI_COLOR="0;31"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:centos:centos:9"
HOME_URL="https://centos.org/"
BUG_REPORT_URL="https://issues.redhat.com/"
REDHAT_SUPPORT_PRODUCT="Red Hat Enterprise Linux 9"
REDHAT_SUPPORT_PRODUCT_VERSION="CentOS Stream"
`;
