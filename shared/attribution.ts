import { runCatalogers } from './catalog/index.js';
import type { Cataloger, Package } from './catalog/types.js';
import type { LayerExtract } from './layers/extract.js';
import { SquashedView } from './layers/squash.js';

/**
 * The layer that introduced each package, not merely the one that last rewrote its record:
 * `apt-get install` in layer 3 rewrites /var/lib/dpkg/status, but bash has been there since
 * layer 0. The catalogers run again on the image as it stood after each layer that changed a
 * kept file; a package is attributed to the earliest layer from which it is present, with the
 * same version and record location, in every later state of the image.
 */
export function attributeLayers(extracts: readonly LayerExtract[], packages: Package[], list: readonly Cataloger[]): void {
  const changing = extracts.map((x, i) => (changes(x) ? i : -1)).filter((i) => i >= 0);
  const changed = changing.filter((i) => i < extracts.length - 1);
  if (!changed.length) return;
  // presence[i]: the package keys of the image after layer changed[i]; the final state is `packages`,
  // and so is the state after the last layer that changes anything (the catalogers are not run again for it)
  const final = new Set(packages.map(key));
  const last = changing[changing.length - 1]!;
  const presence = changed.map((i) => (i === last ? final : new Set(runCatalogers(new SquashedView(extracts.slice(0, i + 1)), list).packages.map(key))));
  for (const p of packages) {
    let since = -1;
    for (let j = presence.length - 1; j >= 0 && presence[j]!.has(key(p)); j--) since = j;
    if (since < 0) continue;
    const x = extracts[changed[since]!]!;
    p.layer = x.diffId ?? x.digest;
  }
}

/** Whether a layer changes what catalogers can see (probe tombstones alone do not count). */
function changes(x: LayerExtract): boolean {
  return x.whiteouts.length > 0 || x.opaqueDirs.length > 0 || x.entries.some((e) => e.type !== 'symlink' && e.type !== 'skipped');
}

function key(p: Package): string {
  return [p.type, p.name, p.version, p.arch ?? '', p.locations[0] ?? ''].join('\0');
}
