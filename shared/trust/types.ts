/**
 * What verifying one signature says. `status` is the verdict; `code` says why, in a form
 * the `image_signature` gate maps to its triggers:
 *   valid             the signature verifies, its signer is trusted and it names the subject
 *   untrusted_signer  well formed, but no trusted identity made it (chain to an unknown root,
 *                     subject not in the policy's identities, no key configured for the format)
 *   everything else   invalid: tampered, malformed, expired, for another image, ...
 */
export type SignatureFormat = 'cosign' | 'notation';

export type VerdictCode =
  | 'valid'
  | 'untrusted_signer'
  | 'bad_signature'
  | 'digest_mismatch'
  | 'malformed'
  | 'unsupported'
  | 'certificate_invalid'
  | 'certificate_expired'
  | 'signature_expired';

export interface SignatureVerdict {
  format: SignatureFormat;
  status: 'valid' | 'invalid';
  code: VerdictCode;
  /** who signed: a key's name and fingerprint, or the leaf certificate's subject */
  signer?: string;
  /** one sentence a person can act on; for a valid signature, what was checked */
  reason: string;
  /** where it was found: "referrers", "referrers-tag", "cosign-tag" */
  source?: string;
  /** the signature manifest's digest, when it came from a registry */
  manifestDigest?: string;
  /** Notary Project: the signing time the envelope claims (RFC 3339) */
  signingTime?: string;
}

export function invalid(format: SignatureFormat, code: Exclude<VerdictCode, 'valid'>, reason: string, signer?: string): SignatureVerdict {
  return { format, status: 'invalid', code, reason, ...(signer !== undefined && { signer }) };
}
