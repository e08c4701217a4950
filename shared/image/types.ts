/** Content descriptor (OCI image spec, descriptor.md). */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    ExposedPorts?: Record<string, unknown>;
    Labels?: Record<string, string> | null;
    WorkingDir?: string;
  };
  rootfs?: { type: string; diff_ids: string[] };
  history?: Array<{ created?: string; created_by?: string; comment?: string; empty_layer?: boolean }>;
}

/** A manifest document as fetched: the exact bytes (their digest is the manifest digest). */
export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
  /** the names the source gives this image: an OCI layout's org.opencontainers.image.ref.name */
  names?: string[];
}

/** A layer as the reader needs it: where it sits in the image and how to check it. */
export interface LayerRef {
  index: number;
  descriptor: Descriptor;
  /** uncompressed digest from the config's rootfs.diff_ids, when known */
  diffId?: string;
}

/** One resolved single-platform image. */
export interface ResolvedImage {
  /** what the user asked for */
  reference: string;
  /** the names the source gave the image (its root document's FetchedManifest.names) */
  tags?: string[];
  /** digest of the manifest that was selected (per platform) */
  manifestDigest: string;
  /** digest of the index the manifest was selected from, if any */
  indexDigest?: string;
  manifest: ImageManifest;
  config: ImageConfig;
  configDigest: string;
  platform: Platform;
  layers: LayerRef[];
}
