import { DrydockError } from '../errors.js';
import type { ImageSource } from '../ports/image-source.js';
import type { CredentialProvider } from './auth.js';
import { DockerArchiveSource } from './docker-archive.js';
import { OciLayoutSource } from './oci-layout.js';
import { parseReference, type ImageReference } from './reference.js';
import { RegistrySource, type RegistryTimeouts } from './registry.js';

export interface OpenOptions {
  /** registries spoken to over plain http (loopback always may be) */
  insecureRegistries?: string[];
  credentials?: CredentialProvider;
  /** time bounds on registry requests (defaults: DEFAULT_REGISTRY_TIMEOUTS) */
  registryTimeouts?: Partial<RegistryTimeouts>;
}

/** The ImageSource for a reference string: a registry, an OCI layout or archive, a docker archive. */
export async function openSource(input: string | ImageReference, opts: OpenOptions = {}): Promise<ImageSource> {
  const ref = typeof input === 'string' ? parseReference(input) : input;
  switch (ref.kind) {
    case 'oci':
      return OciLayoutSource.fromDir(ref.path, ref.tag, ref.original);
    case 'oci-archive':
      return OciLayoutSource.fromArchive(ref.path, ref.tag, ref.original);
    case 'docker-archive':
      return DockerArchiveSource.open(ref.path, ref.tag, ref.original);
    case 'registry':
      return new RegistrySource(ref, {
        ...(opts.insecureRegistries ? { insecureRegistries: opts.insecureRegistries } : {}),
        ...(opts.credentials ? { credentials: opts.credentials } : {}),
        ...(opts.registryTimeouts ? { timeouts: opts.registryTimeouts } : {}),
      });
    default:
      throw new DrydockError('BAD_REFERENCE', `unknown reference kind in ${JSON.stringify(ref)}`);
  }
}
