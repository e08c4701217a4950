import { formatPlatform } from '../image/platform.js';
import type { ImageInventory } from '../scan.js';

/** A layer as people read it in a table: "#2 a1b2c3d4e5f6" (its diff id when known). */
export function shortLayer(inv: ImageInventory, layerId: string): string {
  const layer = inv.image.layers.find((l) => l.diffId === layerId || l.digest === layerId);
  const hex = layerId.split(':')[1]?.slice(0, 12) ?? layerId;
  return layer ? `#${layer.index} ${hex}` : hex;
}

/** The human table: a heading per image, then NAME VERSION SOURCE ARCH LAYER. */
export function renderTable(results: ImageInventory[]): string {
  const out: string[] = [];
  for (const inv of results) {
    const d = inv.distro;
    const distro = d ? `${d.prettyName ?? [d.id, d.versionId].filter(Boolean).join(' ')}` : 'unknown distro';
    out.push(`${inv.image.reference}  ${formatPlatform(inv.image.platform)}  ${inv.image.manifestDigest}`);
    out.push(`${distro}, ${inv.image.layers.length} layers, ${inv.packages.length} packages`);
    out.push('');
    const rows = inv.packages.map((p) => [
      p.name,
      p.version,
      p.sourceName && (p.sourceName !== p.name || p.sourceVersion !== p.version)
        ? `${p.sourceName}${p.sourceVersion && p.sourceVersion !== p.version ? ` ${p.sourceVersion}` : ''}`
        : '',
      p.arch ?? '',
      shortLayer(inv, p.layer),
    ]);
    out.push(...columns([['NAME', 'VERSION', 'SOURCE', 'ARCH', 'LAYER'], ...rows]));
    out.push('');
  }
  return out.join('\n');
}

function columns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}
