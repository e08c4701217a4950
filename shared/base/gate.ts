/**
 * Gate `base_image`: the base the image was built on (shared/base/identify.ts), put in the
 * policy context as `base` when a trusted base list was configured. Triggers and their ids:
 *   not_trusted   the base is not in the trusted base list (id: its reference), or no trusted
 *                 base's layers lead the image (id "unknown"); fails closed with id
 *                 "not_checked" when no trusted base list was configured
 *   not_signed    the base's signature is not "signed" under the trust policy (id: its status),
 *                 or was not checked (id "not_checked")
 *   stale         a newer digest of the base's tag exists (id "<reference>→<newest digest>");
 *                 param grace_days: only when the newer digest is older than this many days
 * An identified, trusted, signed, current base fires nothing.
 */
import type { Gate, PolicyContext, TriggerFire } from '../policy/types.js';
import type { BaseImageInfo } from './types.js';

const baseOf = (ctx: PolicyContext): BaseImageInfo | undefined => ctx.base;
const NOT_CHECKED: TriggerFire = { triggerId: 'not_checked', message: 'The base image was not checked: no trusted base list is configured' };

export const baseImageGate: Gate = {
  name: 'base_image',
  description: 'Checks the base image the image was built on against the trusted base list: not trusted (or not identified), not signed, or older than the newest digest of its tag.',
  triggers: [
    {
      name: 'not_trusted',
      description: 'Fires when the base image is not in the trusted base list, or no trusted base image is the image\'s base (also when no trusted base list is configured).',
      params: [],
      evaluate: (ctx): TriggerFire[] => {
        const b = baseOf(ctx);
        if (!b) return [NOT_CHECKED];
        if (b.status === 'unknown') return [{ triggerId: 'unknown', message: `Base image not identified: ${b.reason}` }];
        if (!b.trusted) return [{ triggerId: b.reference ?? 'unknown', message: `Base image ${b.reference} is not trusted: ${b.reason}` }];
        return [];
      },
    },
    {
      name: 'not_signed',
      description: 'Fires when the identified base image\'s signature is not valid and trusted under the trust policy, or was not checked.',
      params: [],
      evaluate: (ctx): TriggerFire[] => {
        const b = baseOf(ctx);
        if (!b) return [NOT_CHECKED];
        if (b.status !== 'identified') return [];
        if (!b.signature) return [{ triggerId: 'not_checked', message: `The signature of base image ${b.reference} was not checked: no trust policy is configured` }];
        if (b.signature.status === 'signed') return [];
        return [{ triggerId: b.signature.status, message: `Base image ${b.reference} is not signed by a trusted identity (${b.signature.status})${b.signature.reason ? `: ${b.signature.reason}` : ''}` }];
      },
    },
    {
      name: 'stale',
      description: 'Fires when a newer digest of the base image\'s tag exists (a rebuild would take it).',
      params: [{ name: 'grace_days', description: 'Fire only when the newer digest was pushed more than this many days ago', type: 'integer', default: '0' }],
      evaluate: (ctx, params): TriggerFire[] => {
        const b = baseOf(ctx);
        if (!b?.newest) return [];
        const grace = Number(params.grace_days ?? 0);
        if (grace > 0 && b.newest.pushedAt) {
          const days = (ctx.now.getTime() - Date.parse(b.newest.pushedAt)) / 86_400_000;
          if (!(days > grace)) return [];
        }
        return [{ triggerId: `${b.reference}→${b.newest.digest}`, message: `Base image ${b.reference} is not the newest digest of tag ${b.newest.tag} (${b.newest.digest})${b.newest.pushedAt ? `, pushed ${b.newest.pushedAt}` : ''}: rebuild` }];
      },
    },
  ],
};
