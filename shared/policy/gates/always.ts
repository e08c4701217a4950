/**
 * Gate `always` (Anchore Engine): one trigger, `always`, no params. It fires once whenever
 * its rule is evaluated — for testing mappings and allowlists, or denying every image a
 * mapping selects. Trigger id: "always".
 */
import type { Gate } from '../types.js';

export const alwaysGate: Gate = {
  name: 'always',
  description: 'Triggers that fire unconditionally if present in a policy: for testing mappings and allowlists, or denying every image a mapping selects.',
  triggers: [
    {
      name: 'always',
      description: 'Fires if present in a policy being evaluated.',
      params: [],
      evaluate: () => [{ triggerId: 'always', message: 'Always trigger fired: the rule is present in the evaluated policy' }],
    },
  ],
};
