import type { Readable } from 'node:stream';
import type { Descriptor, FetchedManifest } from '../image/types.js';

/**
 * Where an image's manifests and blobs come from: a registry, an OCI layout directory,
 * an OCI archive or a docker archive. Sources only fetch bytes; they never parse layers.
 * Every method takes an AbortSignal so a Lambda near its deadline stops cleanly.
 */
export interface ImageSource {
  /** For messages: "registry 127.0.0.1:5000/app:1.0", "oci-archive /tmp/x.tar", ... */
  readonly name: string;
  /**
   * The bytes come over a network (a registry): the scan then starts a layer worker while the
   * manifests and config are fetched, instead of after (see EarlyWorker in layers/worker-pool.ts).
   */
  readonly remote?: boolean;
  /** The manifest or index the user's reference points at. */
  rootManifest(signal?: AbortSignal): Promise<FetchedManifest>;
  /** A child manifest of an index, by digest (the source verifies the digest). */
  manifest(descriptor: Descriptor, signal?: AbortSignal): Promise<FetchedManifest>;
  /** A small blob (image config) read whole; the source verifies its digest. */
  blob(descriptor: Descriptor, signal?: AbortSignal): Promise<Buffer>;
  /**
   * A blob as a raw byte stream, exactly as stored (still compressed). Not verified:
   * the layer reader hashes and counts it while it streams.
   */
  openBlob(descriptor: Descriptor, signal?: AbortSignal): Promise<Readable>;
  /** Release file handles, temp dirs, sockets. */
  close?(): Promise<void>;
}
