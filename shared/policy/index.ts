/**
 * The policy engine's entry points: parse and validate an Anchore policy bundle, evaluate it
 * against an image's PolicyContext, and the bundle shipped with Drydock.
 */
import defaultBundleJson from './default-bundle.json' with { type: 'json' };
import { parseBundle } from './bundle.js';
import type { PolicyBundle } from './types.js';

export { bundleDigest, checkParams, parseBundle, PolicyBundleError } from './bundle.js';
export { evaluatePolicy } from './engine.js';
export { gates } from './gates/index.js';

let defaultBundle: PolicyBundle | undefined;

/**
 * The default bundle (default-bundle.json), validated against the gate registry. Imported as
 * JSON so that esbuild inlines it into the CLI and Lambda bundles (no file to ship beside
 * them). Parsed once; callers get the same object, so treat it as read-only.
 */
export function loadDefaultBundle(): PolicyBundle {
  defaultBundle ??= parseBundle(defaultBundleJson, 'default-bundle.json');
  return defaultBundle;
}
