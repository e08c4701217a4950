import { describe, expect, it } from 'vitest';
import { signatureArtifactOf } from '../../shared/trust/artifact.js';
import { fixture } from './helpers.js';

const HEX = 'ab'.repeat(32);
const manifest = (doc: unknown) => Buffer.from(JSON.stringify(doc));
const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${HEX}`, size: 10 };

describe('signatureArtifactOf: a pushed signature names the image to re-evaluate', () => {
  it.each([
    ['cosign .sig tag', { tag: `sha256-${HEX}.sig` }, { kind: 'cosign-tag', subjectDigest: `sha256:${HEX}` }],
    ['referrers tag index', { tag: `sha256-${HEX}`, mediaType: 'application/vnd.oci.image.index.v1+json' }, { kind: 'referrers-index', subjectDigest: `sha256:${HEX}` }],
    ['referrers tag index known by its content', { tag: `sha256-${HEX}`, manifest: manifest({ schemaVersion: 2, manifests: [] }) }, { kind: 'referrers-index', subjectDigest: `sha256:${HEX}` }],
    [
      'Notary Project referrer (artifactType)',
      { tag: undefined, manifest: manifest({ schemaVersion: 2, artifactType: 'application/vnd.cncf.notary.signature', config: { mediaType: 'application/vnd.oci.empty.v1+json' }, layers: [], subject }) },
      { kind: 'notation', subjectDigest: `sha256:${HEX}` },
    ],
    [
      'Notary Project referrer (config media type, OCI 1.0 style)',
      { manifest: manifest({ schemaVersion: 2, config: { mediaType: 'application/vnd.cncf.notary.signature' }, layers: [], subject }) },
      { kind: 'notation', subjectDigest: `sha256:${HEX}` },
    ],
    [
      'cosign referrer',
      { manifest: manifest({ schemaVersion: 2, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json', layers: [], subject }) },
      { kind: 'cosign', subjectDigest: `sha256:${HEX}` },
    ],
  ])('%s', (_name, pushed, expected) => {
    expect(signatureArtifactOf(pushed)).toEqual(expected);
  });

  it.each([
    ['an image', { tag: 'v1', manifest: fixture('notation/subject-manifest-19dbd2e4.json') }],
    ['an SBOM referrer', { manifest: manifest({ schemaVersion: 2, artifactType: 'application/spdx+json', layers: [], subject }) }],
    ['a signature type without subject', { manifest: manifest({ schemaVersion: 2, artifactType: 'application/vnd.cncf.notary.signature', layers: [] }) }],
    ['a subject that is no digest', { manifest: manifest({ schemaVersion: 2, artifactType: 'application/vnd.cncf.notary.signature', layers: [], subject: { digest: 'latest' } }) }],
    ['a tag shaped like the referrers tag on an image manifest', { tag: `sha256-${HEX}`, mediaType: 'application/vnd.oci.image.manifest.v1+json' }],
    ['not JSON', { manifest: Buffer.from('nope') }],
    ['a referrers-shaped tag with nothing known about the manifest', { tag: `sha256-${HEX}` }],
  ])('%s is not a signature', (_name, pushed) => {
    expect(signatureArtifactOf(pushed)).toBeUndefined();
  });
});
