/**
 * Gate `image_signature`: the image's signature status under the trust policy
 * (shared/trust/index.ts, verifyImageSignatures), put in the policy context as `signatures`.
 * No params. Triggers and their ids (for allowlists):
 *   unsigned           the trust policy requires a signature and the registry holds none
 *                      (id "unsigned"); also fires, failing closed, when signatures were not
 *                      checked at all (id "not_checked": no trust policy configured) or when no
 *                      trust-policy scope covers the image (id "no_trust_policy")
 *   untrusted_signer   signatures exist and are intact, none by a trusted identity (id: the signer)
 *   invalid_signature  no valid signature, and at least one is tampered, expired, malformed or
 *                      for another image: one fire per such signature (id: its manifest digest,
 *                      else "<format>:<code>")
 * A signed image fires nothing.
 */
import type { Gate, PolicyContext, TriggerFire } from '../policy/types.js';
import type { ImageSignatureResult } from './index.js';

/** The policy context with the signature result (see the field proposed for PolicyContext). */
export type SignatureContext = PolicyContext & { signatures?: ImageSignatureResult };

const signaturesOf = (ctx: PolicyContext): ImageSignatureResult | undefined => (ctx as SignatureContext).signatures;

export const imageSignatureGate: Gate = {
  name: 'image_signature',
  description: 'Checks the image\'s signatures (cosign, Notary Project) against the trust policy: unsigned, signed by an untrusted identity, or invalid.',
  triggers: [
    {
      name: 'unsigned',
      description: 'Fires when the trust policy requires a signature and the image has none (also when signatures were not checked, or no trust-policy scope covers the image).',
      params: [],
      evaluate: (ctx): TriggerFire[] => {
        const s = signaturesOf(ctx);
        if (!s) return [{ triggerId: 'not_checked', message: 'Image signatures were not checked: no trust policy is configured' }];
        if (s.status === 'no_policy') return [{ triggerId: 'no_trust_policy', message: `Image signatures not required by any trust policy: ${s.reason}` }];
        if (s.status === 'unsigned') return [{ triggerId: 'unsigned', message: `Image is not signed: ${s.reason}` }];
        return [];
      },
    },
    {
      name: 'untrusted_signer',
      description: 'Fires when the image is signed, but by no identity the trust policy trusts.',
      params: [],
      evaluate: (ctx): TriggerFire[] => {
        const s = signaturesOf(ctx);
        if (s?.status !== 'untrusted') return [];
        const signers = [...new Set(s.verdicts.map((v) => v.signer ?? 'unknown signer'))];
        return signers.map((signer) => ({ triggerId: signer, message: `Image signed by an untrusted signer (${signer}): ${s.reason}` }));
      },
    },
    {
      name: 'invalid_signature',
      description: 'Fires for each invalid signature (tampered, expired, malformed, for another image) when the image has no valid one.',
      params: [],
      evaluate: (ctx): TriggerFire[] => {
        const s = signaturesOf(ctx);
        if (s?.status !== 'invalid') return [];
        return s.verdicts
          .filter((v) => v.status === 'invalid' && v.code !== 'untrusted_signer')
          .map((v) => ({ triggerId: v.manifestDigest ?? `${v.format}:${v.code}`, message: `Invalid ${v.format} signature (${v.code}): ${v.reason}` }));
      },
    },
  ],
};
