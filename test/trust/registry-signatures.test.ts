/**
 * End to end against a real registry (Debian's docker-registry, Distribution 2.8): images pushed
 * with skopeo, signatures made with the test's own keys and pushed as OCI 1.1 referrers (with the
 * referrers tag index, since Distribution 2.8 has no referrers API) or as cosign's `.sig` tag;
 * then discovered with RegistryClient and verified under a trust policy.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrydockError } from '../../shared/errors.js';
import { RegistryClient } from '../../shared/image/registry.js';
import type { Descriptor } from '../../shared/image/types.js';
import { discoverSignatures, type SignatureRegistry } from '../../shared/trust/discover.js';
import { parseTrustPolicy, signatureLine, verifyImageSignatures, type TrustPolicy } from '../../shared/trust/index.js';
import { buildImage, pushToRegistry } from '../support/image-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { cosignPayload, cosignSign, fixture, fixtureText, testKey, type TestKey } from './helpers.js';
import { makeChain, signNotationCose, signNotationJws, type TestChain } from './pki.js';
import { pushCosignSigTag, pushReferrer, putBlob, putManifest, putReferrersTag, type Pushed } from './push.js';

let registry: TestRegistry;
let work: string;
let client: RegistryClient;
let chain: TestChain;
let otherChain: TestChain;
let key: TestKey;
let otherKey: TestKey;
/** signed with a notation referrer (+ referrers tag) */
let notarised: Pushed;
/** signed with cosign's .sig tag */
let cosigned: Pushed;
/** signed twice on its .sig tag: once for itself, once with a payload naming another image */
let mixed: Pushed;
let unsigned: Pushed;

const NOTATION_TYPE = 'application/vnd.cncf.notary.signature';

async function pushImage(repo: string, tag: string, content: string): Promise<Pushed> {
  const layout = join(work, `${repo.replace('/', '_')}-${tag}`);
  const built = await buildImage(layout, { tag, layers: [{ compression: 'gzip', files: [{ path: 'etc/app', content }] }] });
  const { digest } = await pushToRegistry(layout, tag, { host: registry.host }, `${repo}:${tag}`);
  expect(digest).toBe(built.manifestDigest);
  return { mediaType: built.manifestMediaType, digest, size: built.manifestSize };
}

function policyText(opts: { keyPem?: string; rootPem?: string; identities?: string[]; scope?: string } = {}): string {
  const p: Record<string, unknown> = { name: 'local', scopes: [opts.scope ?? `${registry.host}/team/*`] };
  if (opts.keyPem) p.cosign = { keys: [{ name: 'release-key', pem: opts.keyPem }] };
  if (opts.rootPem) p.notation = { trustStores: [{ name: 'test-root', pem: opts.rootPem }], identities: opts.identities ?? ['x509.subject: C=US, ST=WA, O=Drydock Test'] };
  return JSON.stringify({ version: 1, policies: [p] });
}
const policy = (opts: Parameters<typeof policyText>[0]): Promise<TrustPolicy> => parseTrustPolicy(policyText(opts), 'test-policy.json', () => Promise.reject(new Error('no files')));
const ref = (repository: string) => ({ registry: registry.host, repository });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-trust-it-'));
  [registry, chain, otherChain] = await Promise.all([startRegistry(), makeChain(), makeChain()]);
  key = testKey('p256');
  otherKey = testKey('p256');
  client = new RegistryClient(registry.host);
  [notarised, cosigned, mixed, unsigned] = await Promise.all([
    pushImage('team/notarised', 'v1', 'one'),
    pushImage('team/cosigned', 'v1', 'two'),
    pushImage('team/mixed', 'v1', 'three'),
    pushImage('team/unsigned', 'v1', 'four'),
  ]);

  const envelope = signNotationJws(chain, { digest: notarised.digest, mediaType: notarised.mediaType, size: notarised.size });
  const sig = await pushReferrer(registry.url, 'team/notarised', notarised, { artifactType: NOTATION_TYPE, layerMediaType: 'application/jose+json', layer: envelope });
  await putReferrersTag(registry.url, 'team/notarised', notarised.digest, [sig]);

  const payload = cosignPayload(cosigned.digest, `${registry.host}/team/cosigned`);
  await pushCosignSigTag(registry.url, 'team/cosigned', cosigned.digest, [{ payload, signature: cosignSign(key, payload) }]);

  const forOther = cosignPayload(cosigned.digest, `${registry.host}/team/cosigned`);
  const forMixed = cosignPayload(mixed.digest, `${registry.host}/team/mixed`);
  await pushCosignSigTag(registry.url, 'team/mixed', mixed.digest, [
    { payload: forOther, signature: cosignSign(key, forOther) },
    { payload: forMixed, signature: cosignSign(key, forMixed) },
  ]);
});

afterAll(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('verifyImageSignatures against a Distribution registry', () => {
  it('a Notary Project referrer signature made by the test\'s CA verifies end to end', async () => {
    const r = await verifyImageSignatures(client, ref('team/notarised'), notarised.digest, await policy({ rootPem: chain.rootPem }), { subject: notarised });
    expect(r).toMatchObject({ status: 'signed', policy: 'local', signers: ['C=US, ST=WA, O=Drydock Test, CN=release signer'] });
    expect(r.verdicts).toHaveLength(1);
    expect(r.verdicts[0]).toMatchObject({ format: 'notation', source: 'referrers-tag', status: 'valid' });
    expect(r.notes.join('\n')).toContain('referrers read from the tag');
    expect(signatureLine(r)).toBe('Signature: signed by C=US, ST=WA, O=Drydock Test, CN=release signer (notation) [policy local]');
  });

  it('a cosign .sig tag signature made by the test\'s key verifies end to end', async () => {
    const r = await verifyImageSignatures(client, ref('team/cosigned'), cosigned.digest, await policy({ keyPem: key.publicPem }));
    expect(r.status).toBe('signed');
    expect(r.signers[0]).toMatch(/^release-key \(SHA256:[0-9a-f]{16}\)$/);
    expect(r.verdicts[0]).toMatchObject({ format: 'cosign', source: 'cosign-tag' });
  });

  it('the same signatures under a policy with other identities: invalid (cosign) and untrusted (notation)', async () => {
    const c = await verifyImageSignatures(client, ref('team/cosigned'), cosigned.digest, await policy({ keyPem: otherKey.publicPem }));
    expect(c).toMatchObject({ status: 'invalid' });
    expect(c.reason).toContain('does not verify with any of the 1 trusted cosign key(s) (release-key)');
    const n = await verifyImageSignatures(client, ref('team/notarised'), notarised.digest, await policy({ rootPem: otherChain.rootPem }));
    expect(n).toMatchObject({ status: 'untrusted' });
    expect(signatureLine(n)).toMatch(/^Signature: UNTRUSTED: notation signature by an untrusted signer: the certificate chain/);
  });

  it('a notation signature where the policy only names cosign keys: untrusted', async () => {
    const r = await verifyImageSignatures(client, ref('team/notarised'), notarised.digest, await policy({ keyPem: key.publicPem }));
    expect(r.status).toBe('untrusted');
    expect(r.reason).toContain('names no Notary Project trust store');
  });

  it('an image with no signature: unsigned', async () => {
    const r = await verifyImageSignatures(client, ref('team/unsigned'), unsigned.digest, await policy({ keyPem: key.publicPem, rootPem: chain.rootPem }));
    expect(r).toMatchObject({ status: 'unsigned', verdicts: [] });
    expect(signatureLine(r)).toBe('Signature: UNSIGNED: no signature found; trust policy "local" requires one [policy local]');
  });

  it('an image no scope matches: no policy, and the registry is not asked', async () => {
    const r = await verifyImageSignatures(client, ref('other/app'), unsigned.digest, await policy({ keyPem: key.publicPem }));
    expect(r.status).toBe('no_policy');
  });

  it('a .sig tag holding a valid signature and one for another image: signed, the other listed as a digest mismatch', async () => {
    const r = await verifyImageSignatures(client, ref('team/mixed'), mixed.digest, await policy({ keyPem: key.publicPem }));
    expect(r.status).toBe('signed');
    expect(r.verdicts.map((v) => v.code).sort()).toEqual(['digest_mismatch', 'valid']);
  });

  it('a signature copied onto another image (only the other image\'s payload there): invalid', async () => {
    const payload = cosignPayload(cosigned.digest);
    const copy = await pushImage('team/copy', 'v1', 'five');
    await pushCosignSigTag(registry.url, 'team/copy', copy.digest, [{ payload, signature: cosignSign(key, payload) }]);
    const r = await verifyImageSignatures(client, ref('team/copy'), copy.digest, await policy({ keyPem: key.publicPem }));
    expect(r).toMatchObject({ status: 'invalid' });
    expect(r.reason).toContain(`names ${cosigned.digest}, not this image's ${copy.digest}`);
  });
});

describe('discoverSignatures: bounds and the referrers API', () => {
  it('maxSignatures: signatures beyond it are not read, and the note names the limit', async () => {
    const d = await discoverSignatures(client, 'team/mixed', mixed.digest, { limits: { maxSignatures: 1 } });
    expect(d.signatures).toHaveLength(1);
    expect(d.notes).toContain('2 cosign signatures found, only 1 read (limit maxSignatures 1)');
  });

  it('maxEnvelopeBytes: a larger envelope is rejected unread, naming the limit', async () => {
    const d = await discoverSignatures(client, 'team/notarised', notarised.digest, { limits: { maxEnvelopeBytes: 100 } });
    expect(d.signatures).toHaveLength(0);
    expect(d.rejected[0]?.reason).toMatch(/bytes, more than 100 \(limit maxEnvelopeBytes\)/);
  });

  it('a referrers tag listing a signature of another image is rejected as a digest mismatch', async () => {
    const img = await pushImage('team/wrong-subject', 'v1', 'six');
    const envelope = signNotationJws(chain, { digest: notarised.digest, mediaType: notarised.mediaType, size: notarised.size });
    const sig = await pushReferrer(registry.url, 'team/wrong-subject', notarised, { artifactType: NOTATION_TYPE, layerMediaType: 'application/jose+json', layer: envelope });
    await putReferrersTag(registry.url, 'team/wrong-subject', img.digest, [sig]);
    const r = await verifyImageSignatures(client, ref('team/wrong-subject'), img.digest, await policy({ rootPem: chain.rootPem }));
    expect(r.status).toBe('invalid');
    expect(r.reason).toContain(`has subject ${notarised.digest}, not ${img.digest}`);
  });

  it('a COSE envelope referrer verifies end to end; an unknown envelope type is reported, not skipped', async () => {
    const img = await pushImage('team/cose', 'v1', 'seven');
    const cose = signNotationCose(chain, { digest: img.digest, mediaType: img.mediaType, size: img.size });
    const good = await pushReferrer(registry.url, 'team/cose', img, { artifactType: NOTATION_TYPE, layerMediaType: 'application/cose', layer: cose });
    const odd = await pushReferrer(registry.url, 'team/cose', img, { artifactType: NOTATION_TYPE, layerMediaType: 'application/x-unknown', layer: Buffer.from('x') });
    await putReferrersTag(registry.url, 'team/cose', img.digest, [good, odd]);
    const r = await verifyImageSignatures(client, ref('team/cose'), img.digest, await policy({ rootPem: chain.rootPem }));
    expect(r.status).toBe('signed');
    expect(r.verdicts.map((v) => v.code).sort()).toEqual(['unsupported', 'valid']);
  });

  it('a signature whose blob is gone is that signature\'s problem: the other one still signs the image', async () => {
    const img = await pushImage('team/gone', 'v1', 'eight');
    const keep = cosignPayload(img.digest, 'keep');
    const lose = cosignPayload(img.digest, 'lose');
    await pushCosignSigTag(registry.url, 'team/gone', img.digest, [
      { payload: lose, signature: cosignSign(key, lose) },
      { payload: keep, signature: cosignSign(key, keep) },
    ]);
    const del = await fetch(`${registry.url}/v2/team/gone/blobs/sha256:${createHash('sha256').update(lose).digest('hex')}`, { method: 'DELETE' });
    expect(del.status).toBe(202);
    const r = await verifyImageSignatures(client, ref('team/gone'), img.digest, await policy({ keyPem: key.publicPem }));
    expect(r.status).toBe('signed');
    expect(r.verdicts.find((v) => v.status === 'invalid')?.reason).toMatch(/cannot be used: BLOB_NOT_FOUND/);
  });

  it('a keyless signature (the published sigstore-rs one) travels through the .sig tag with its certificate and bundle', async () => {
    const img = await pushImage('team/keyless', 'v1', 'nine');
    const F = (f: string) => fixtureText(`cosign-keyless/${f}`);
    const payload = fixture('cosign-keyless/payload.json');
    const config = await putBlob(registry.url, 'team/keyless', Buffer.from('{}'), 'application/vnd.oci.image.config.v1+json');
    const layer = await putBlob(registry.url, 'team/keyless', payload, 'application/vnd.dev.cosign.simplesigning.v1+json');
    const annotations = {
      'dev.cosignproject.cosign/signature': F('signature.b64'),
      'dev.sigstore.cosign/certificate': F('certificate.pem'),
      'dev.sigstore.cosign/bundle': F('bundle.json'),
    };
    await putManifest(registry.url, 'team/keyless', `sha256-${img.digest.slice(7)}.sig`, 'application/vnd.oci.image.manifest.v1+json', {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config,
      layers: [{ ...layer, annotations }],
    });
    const text = JSON.stringify({
      version: 1,
      policies: [{ name: 'local', scopes: ['*'], cosign: { keyless: [{ name: 'sigstore-2021', fulcioRoots: [{ name: 'f', pem: F('fulcio-root.pem') }], rekorKeys: [{ name: 'r', pem: F('rekor.pub') }], identities: [{ subject: 'flavio@castelli.me' }] }] } }],
    });
    const r = await verifyImageSignatures(client, ref('team/keyless'), img.digest, await parseTrustPolicy(text, 'k.json', () => Promise.reject(new Error('no files'))));
    // the signature is genuine and trusted, but signs the upstream policy image, not this one
    expect(r.status).toBe('invalid');
    expect(r.verdicts[0]).toMatchObject({ code: 'digest_mismatch', signer: 'flavio@castelli.me (keyless)' });
  });

  it('registry errors other than a missing tag are thrown, never read as unsigned', async () => {
    const broken: SignatureRegistry = {
      getManifest: () => Promise.reject(new DrydockError('UNAUTHORIZED', 'no')),
      getBlobBytes: () => Promise.reject(new Error('unused')),
    };
    await expect(verifyImageSignatures(broken, ref('team/unsigned'), unsigned.digest, await policy({ keyPem: key.publicPem }))).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  // Mocked referrers API: Distribution 2.8 has none, so getReferrers answers from the referrers
  // tag of the real registry, filtered by artifactType as the API does; the rest is real.
  it('with a referrers API (mocked over the real registry: Distribution 2.8 has none) the tag schema is not read', async () => {
    const asked: Array<string | undefined> = [];
    const withApi: SignatureRegistry = {
      getManifest: (repo, reference, signal, image) => {
        if (reference.startsWith('sha256-') && !reference.endsWith('.sig')) throw new Error('the referrers tag must not be read when the API answers');
        return client.getManifest(repo, reference, signal, image);
      },
      getBlobBytes: (repo, d, signal, image) => client.getBlobBytes(repo, d, signal, image),
      getReferrers: async (repo, digest, artifactType, signal) => {
        asked.push(artifactType);
        const index = JSON.parse((await client.getManifest(repo, `sha256-${digest.slice(7)}`, signal)).bytes.toString()) as { manifests: Descriptor[] };
        return index.manifests.filter((m) => artifactType === undefined || m.artifactType === artifactType);
      },
    };
    const r = await verifyImageSignatures(withApi, ref('team/notarised'), notarised.digest, await policy({ rootPem: chain.rootPem }));
    expect(r.status).toBe('signed');
    expect(r.verdicts[0]?.source).toBe('referrers');
    expect(asked.sort()).toEqual(['application/vnd.cncf.notary.signature', 'application/vnd.dev.cosign.artifact.sig.v1+json']);
  });
});
