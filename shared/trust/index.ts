import { verifyCosign } from './cosign.js';
import { verifyNotationCose } from './cose.js';
import { verifyCosignKeyless } from './keyless.js';
import { discoverSignatures, type DiscoveryLimits, type SignatureRegistry } from './discover.js';
import { COSE_ENVELOPE_MEDIA_TYPE, verifyNotationJws } from './notation.js';
import { policyFor, type TrustPolicy } from './policy.js';
import type { SignatureVerdict } from './types.js';

export type { SignatureVerdict } from './types.js';
export { loadTrustPolicy, parseTrustPolicy, type TrustPolicy } from './policy.js';

/**
 * An image's signature status under a trust policy:
 *   signed     at least one signature verifies and was made by an identity the policy trusts
 *   unsigned   the policy applies, and the registry holds no signature for the image
 *   untrusted  signatures exist and are intact, but none by a trusted identity
 *   invalid    no valid signature, and at least one is tampered, expired, malformed or for another image
 *   no_policy  no policy scope matches the image: nothing is required
 */
export type ImageSignatureStatus = 'signed' | 'unsigned' | 'untrusted' | 'invalid' | 'no_policy';

export interface ImageSignatureResult {
  status: ImageSignatureStatus;
  /** the trust-policy entry that applied */
  policy?: string;
  /** who signed, for `signed` */
  signers: string[];
  /** every signature looked at, valid or not */
  verdicts: SignatureVerdict[];
  /** one line: why this status */
  reason: string;
  /** discovery notes (limits reached, where referrers were read from) */
  notes: string[];
}

export interface VerifyImageOptions {
  signal?: AbortSignal;
  /** verification time (tests set it) */
  now?: Date;
  limits?: Partial<DiscoveryLimits>;
  /** the subject manifest's media type and size, when known: Notary Project payloads must match them too */
  subject?: { mediaType?: string; size?: number };
}

/**
 * Finds and verifies the signatures of `registry/repository@digest` against `policy`.
 * Registry errors other than "no such tag" are thrown: an unreadable registry is never "unsigned".
 */
export async function verifyImageSignatures(
  client: SignatureRegistry,
  ref: { registry: string; repository: string },
  digest: string,
  policy: TrustPolicy,
  opts: VerifyImageOptions = {},
): Promise<ImageSignatureResult> {
  const entry = policyFor(policy, ref.registry, ref.repository);
  const image = `${ref.registry}/${ref.repository}@${digest}`;
  if (!entry) {
    return { status: 'no_policy', signers: [], verdicts: [], notes: [], reason: `no scope of trust policy ${policy.source} matches ${ref.registry}/${ref.repository}` };
  }
  const found = await discoverSignatures(client, ref.repository, digest, { signal: opts.signal, limits: opts.limits, image });
  const now = opts.now ?? new Date();
  const verdicts: SignatureVerdict[] = [...found.rejected];
  for (const s of found.signatures) {
    const where = { source: s.source, manifestDigest: s.manifestDigest };
    if (s.format === 'cosign' && s.certificate !== undefined) {
      // a certificate-bearing signature may still be made by a configured key; else it is keyless
      const byKey = entry.cosignKeys.length > 0 ? verifyCosign({ payload: s.payload, signature: s.signature, subjectDigest: digest }, entry.cosignKeys) : undefined;
      const input = { payload: s.payload, signature: s.signature, certificate: s.certificate, chain: s.chain, bundle: s.bundle, subjectDigest: digest };
      verdicts.push({ ...(byKey?.status === 'valid' ? byKey : verifyCosignKeyless(input, entry.cosignKeyless)), ...where });
    } else if (s.format === 'cosign') {
      verdicts.push({ ...verifyCosign({ payload: s.payload, signature: s.signature, subjectDigest: digest }, entry.cosignKeys), ...where });
    } else if (!entry.notation) {
      verdicts.push({ format: 'notation', status: 'invalid', code: 'untrusted_signer', reason: `trust policy "${entry.name}" names no Notary Project trust store`, ...where });
    } else {
      const verify = s.envelopeMediaType === COSE_ENVELOPE_MEDIA_TYPE ? verifyNotationCose : verifyNotationJws;
      verdicts.push({ ...verify(s.envelope, { digest, ...opts.subject }, entry.notation, now), ...where });
    }
  }
  return summarise(entry.name, verdicts, found.notes);
}

function summarise(policy: string, verdicts: SignatureVerdict[], notes: string[]): ImageSignatureResult {
  const valid = verdicts.filter((v) => v.status === 'valid');
  const base = { policy, verdicts, notes };
  if (valid.length > 0) {
    const signers = [...new Set(valid.map((v) => v.signer ?? 'unknown'))];
    return { ...base, status: 'signed', signers, reason: `signed by ${signers.join(', ')} (${[...new Set(valid.map((v) => v.format))].join(', ')})` };
  }
  if (verdicts.length === 0) return { ...base, status: 'unsigned', signers: [], reason: `no signature found; trust policy "${policy}" requires one` };
  const broken = verdicts.find((v) => v.code !== 'untrusted_signer');
  if (broken) return { ...base, status: 'invalid', signers: [], reason: `${broken.format} signature invalid: ${broken.reason}` };
  return { ...base, status: 'untrusted', signers: [], reason: `${verdicts[0]!.format} signature by an untrusted signer: ${verdicts[0]!.reason}` };
}

/** The `drydock scan` line for a result, e.g. "Signature: signed by release (SHA256:…) (cosign) [policy production]". */
export function signatureLine(r: ImageSignatureResult): string {
  const policy = r.policy ? ` [policy ${r.policy}]` : '';
  switch (r.status) {
    case 'signed':
      return `Signature: ${r.reason}${policy}`;
    case 'no_policy':
      return `Signature: not checked (${r.reason})`;
    default:
      return `Signature: ${r.status.toUpperCase()}: ${r.reason}${policy}`;
  }
}
