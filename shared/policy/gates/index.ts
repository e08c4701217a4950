/**
 * The gate registry: every gate Drydock evaluates. Bundles name gates by `name` or one of its
 * `aliases` (case-insensitively); parseBundle and evaluatePolicy use this list unless given
 * another.
 */
import type { Gate } from '../types.js';
import { alwaysGate } from './always.js';
import { distroGate } from './distro.js';
import { dockerfileGate } from './dockerfile.js';
import { filesGate } from './files.js';
import { licensesGate } from './licenses.js';
import { metadataGate } from './metadata.js';
import { packagesGate } from './packages.js';
import { passwdFileGate } from './passwd-file.js';
import { imageSignatureGate } from '../../trust/gate.js';
import { baseImageGate } from '../../base/gate.js';
import { secretScansGate } from './secret-scans.js';
import { vulnerabilitiesGate } from './vulnerabilities.js';

export const gates: readonly Gate[] = [
  alwaysGate,
  vulnerabilitiesGate,
  packagesGate,
  licensesGate,
  distroGate,
  dockerfileGate,
  metadataGate,
  filesGate,
  secretScansGate,
  passwdFileGate,
  imageSignatureGate,
  baseImageGate,
];
