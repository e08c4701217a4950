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
