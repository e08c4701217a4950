/**
 * Pushes signature artifacts to a test registry with the distribution API itself (monolithic
 * blob upload, manifest PUT), the way notation, oras and cosign do: skopeo copies images, not
 * artifacts that refer to another manifest.
 */
import { createHash } from 'node:crypto';

export interface Pushed {
  mediaType: string;
  digest: string;
  size: number;
}

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export async function putBlob(registryUrl: string, repo: string, data: Buffer, mediaType: string): Promise<Pushed> {
  const digest = digestOf(data);
  const start = await fetch(`${registryUrl}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await start.arrayBuffer();
  if (start.status !== 202) throw new Error(`blob upload start: HTTP ${start.status}`);
  const location = new URL(start.headers.get('location') ?? '', registryUrl);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: data, headers: { 'content-type': 'application/octet-stream' } });
  const text = await put.text();
  if (put.status !== 201) throw new Error(`blob upload ${digest}: HTTP ${put.status} ${text}`);
  return { mediaType, digest, size: data.length };
}

export async function putManifest(registryUrl: string, repo: string, reference: string, mediaType: string, doc: unknown): Promise<Pushed> {
  const body = Buffer.from(JSON.stringify(doc));
  const res = await fetch(`${registryUrl}/v2/${repo}/manifests/${reference}`, { method: 'PUT', body, headers: { 'content-type': mediaType } });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`manifest PUT ${repo}:${reference}: HTTP ${res.status} ${text}`);
  return { mediaType, digest: digestOf(body), size: body.length };
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const EMPTY_CONFIG = 'application/vnd.oci.empty.v1+json';

/**
 * An OCI 1.1 artifact referring to `subject` (one layer), pushed by digest; then the referrers
 * tag `sha256-<hex>` is (re)written to list `referrers`, as clients do for registries without
 * the referrers API. Returns the artifact's descriptor with its artifactType.
 */
export async function pushReferrer(
  registryUrl: string,
  repo: string,
  subject: Pushed,
  artifact: { artifactType: string; layerMediaType: string; layer: Buffer; configMediaType?: string; layerAnnotations?: Record<string, string> },
): Promise<Pushed & { artifactType: string }> {
  const config = artifact.configMediaType
    ? await putBlob(registryUrl, repo, Buffer.from('{}'), artifact.configMediaType)
    : await putBlob(registryUrl, repo, Buffer.from('{}'), EMPTY_CONFIG);
  const layer = await putBlob(registryUrl, repo, artifact.layer, artifact.layerMediaType);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: artifact.artifactType,
    config,
    layers: [{ ...layer, ...(artifact.layerAnnotations && { annotations: artifact.layerAnnotations }) }],
    subject,
  };
  const pushed = await putManifest(registryUrl, repo, digestOfDoc(manifest), OCI_MANIFEST, manifest);
  return { ...pushed, artifactType: artifact.artifactType };
}

export async function putReferrersTag(registryUrl: string, repo: string, subjectDigest: string, referrers: Array<Pushed & { artifactType: string }>): Promise<void> {
  await putManifest(registryUrl, repo, `sha256-${subjectDigest.slice(7)}`, OCI_INDEX, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: referrers });
}

/** cosign's `sha256-<hex>.sig` manifest: one simple-signing layer per signature. */
export async function pushCosignSigTag(
  registryUrl: string,
  repo: string,
  subjectDigest: string,
  signatures: Array<{ payload: Buffer; signature: string }>,
): Promise<Pushed> {
  const config = await putBlob(registryUrl, repo, Buffer.from('{"architecture":"","config":{},"os":"","rootfs":{"type":"layers","diff_ids":[]}}'), 'application/vnd.oci.image.config.v1+json');
  const layers = [];
  for (const s of signatures) {
    const l = await putBlob(registryUrl, repo, s.payload, 'application/vnd.dev.cosign.simplesigning.v1+json');
    layers.push({ ...l, annotations: { 'dev.cosignproject.cosign/signature': s.signature } });
  }
  return putManifest(registryUrl, repo, `sha256-${subjectDigest.slice(7)}.sig`, OCI_MANIFEST, { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers });
}

function digestOfDoc(doc: unknown): string {
  return digestOf(Buffer.from(JSON.stringify(doc)));
}
