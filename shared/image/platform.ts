import { DrydockError } from '../errors.js';
import type { Descriptor, Platform } from './types.js';

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

/** "linux/arm64/v8" → { os, architecture, variant }. */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/i.test(p))) {
    throw new DrydockError('CONFIG', `"${s}" is not a platform: use os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8`);
  }
  const [os, architecture, variant] = parts as [string, string, string?];
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** Variants implied when none is given (the containerd platform normalisation). */
function normalVariant(p: Platform): string | undefined {
  if (p.variant) return p.variant;
  if (p.architecture === 'arm64') return 'v8';
  if (p.architecture === 'arm') return 'v7';
  return undefined;
}

/** True for BuildKit attestation manifests and other non-image entries of an index. */
export function isAttestation(d: Descriptor): boolean {
  return (
    d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
    (d.platform?.os === 'unknown' && d.platform.architecture === 'unknown')
  );
}

/**
 * The index entries to analyse: every image entry for `all`, else the one matching `want`
 * (os and architecture equal; the variant equal once both are normalised).
 */
export function selectPlatforms(entries: Descriptor[], want: Platform | 'all', image: string): Descriptor[] {
  const images = entries.filter((d) => !isAttestation(d));
  if (want === 'all') {
    if (!images.length) throw new DrydockError('PLATFORM_NOT_FOUND', 'the index lists no image manifests', { context: { image } });
    return images;
  }
  const hit = images.find((d) => {
    const p = d.platform;
    if (!p) return images.length === 1;
    return p.os === want.os && p.architecture === want.architecture && normalVariant(p) === normalVariant(want);
  });
  if (!hit) {
    const have = images.map((d) => (d.platform ? formatPlatform(d.platform) : 'unknown')).join(', ');
    throw new DrydockError('PLATFORM_NOT_FOUND', `no manifest for platform ${formatPlatform(want)} (available: ${have}); choose one with --platform or use --all-platforms`, { context: { image } });
  }
  return [hit];
}
