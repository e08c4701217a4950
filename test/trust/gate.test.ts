/**
 * The image_signature gate through the real policy engine (parseBundle / evaluatePolicy with the
 * gate list plus this gate, as the one-line registration in shared/policy/gates/index.ts would do).
 */
import { describe, expect, it } from 'vitest';
import { parseBundle } from '../../shared/policy/bundle.js';
import { evaluatePolicy } from '../../shared/policy/engine.js';
import { gates } from '../../shared/policy/gates/index.js';
import type { PolicyContext } from '../../shared/policy/types.js';
import { imageSignatureGate, type SignatureContext } from '../../shared/trust/gate.js';
import type { ImageSignatureResult } from '../../shared/trust/index.js';

const GATES = [...gates, imageSignatureGate];
const DIGEST = `sha256:${'d'.repeat(64)}`;

const bundle = parseBundle(
  {
    id: 'signatures',
    version: '2',
    policies: [
      {
        id: 'signed-only',
        rules: [
          { id: 'r1', gate: 'image_signature', trigger: 'unsigned', action: 'STOP', params: [] },
          { id: 'r2', gate: 'image_signature', trigger: 'untrusted_signer', action: 'STOP', params: [] },
          { id: 'r3', gate: 'image_signature', trigger: 'invalid_signature', action: 'STOP', params: [] },
        ],
      },
    ],
    allowlists: [{ id: 'legacy', name: 'legacy', items: [{ id: 'i1', gate: 'image_signature', trigger_id: 'not_checked' }] }],
    mappings: [
      { name: 'legacy', registry: '*', repository: 'legacy/*', image: { type: 'tag', value: '*' }, policy_ids: ['signed-only'], allowlist_ids: ['legacy'] },
      { name: 'all', registry: '*', repository: '*', image: { type: 'tag', value: '*' }, policy_ids: ['signed-only'], allowlist_ids: [] },
    ],
  },
  'signatures.json',
  { gates: GATES },
);

function ctx(signatures?: ImageSignatureResult, repository = 'team/web'): PolicyContext {
  const c: SignatureContext = {
    image: { reference: `registry.example/${repository}:1`, registry: 'registry.example', repository, tag: '1', digest: DIGEST, id: DIGEST, architecture: 'amd64', os: 'linux', size: 1, layerCount: 1 },
    packages: [],
    now: new Date('2026-12-07T00:00:00Z'),
    ...(signatures && { signatures }),
  };
  return c;
}

const result = (over: Partial<ImageSignatureResult>): ImageSignatureResult => ({ status: 'signed', signers: [], verdicts: [], reason: 'r', notes: [], policy: 'p', ...over });
const run = (s?: ImageSignatureResult, repository?: string) => evaluatePolicy(bundle, ctx(s, repository), { gates: GATES });

describe('gate image_signature', () => {
  it('signed: nothing fires, the verdict passes', () => {
    const r = run(result({ status: 'signed', signers: ['release'], verdicts: [{ format: 'cosign', status: 'valid', code: 'valid', signer: 'release', reason: 'ok' }] }));
    expect([r.verdict, r.fired]).toEqual(['pass', []]);
  });

  it('unsigned fires "unsigned"', () => {
    const r = run(result({ status: 'unsigned', reason: 'no signature found' }));
    expect(r.verdict).toBe('fail');
    expect(r.fired.map((f) => [f.trigger, f.triggerId, f.message])).toEqual([['unsigned', 'unsigned', 'Image is not signed: no signature found']]);
  });

  it('not checked fails closed ("not_checked"), and an allowlist can name that id', () => {
    expect(run().fired.map((f) => f.triggerId)).toEqual(['not_checked']);
    const legacy = run(undefined, 'legacy/app');
    expect(legacy.verdict).toBe('pass');
    expect(legacy.fired[0]?.allowlistedBy).toEqual({ allowlistId: 'legacy', itemId: 'i1' });
  });

  it('no trust-policy scope: "no_trust_policy"', () => {
    expect(run(result({ status: 'no_policy' })).fired.map((f) => f.triggerId)).toEqual(['no_trust_policy']);
  });

  it('untrusted: one fire per signer', () => {
    const r = run(
      result({
        status: 'untrusted',
        reason: 'chain to an unknown root',
        verdicts: [{ format: 'notation', status: 'invalid', code: 'untrusted_signer', signer: 'CN=someone', reason: 'x' }],
      }),
    );
    expect(r.fired.map((f) => [f.trigger, f.triggerId])).toEqual([['untrusted_signer', 'CN=someone']]);
  });

  it('invalid: one fire per invalid signature, named by its manifest digest', () => {
    const r = run(
      result({
        status: 'invalid',
        verdicts: [
          { format: 'cosign', status: 'invalid', code: 'bad_signature', reason: 'altered', manifestDigest: `sha256:${'1'.repeat(64)}` },
          { format: 'notation', status: 'invalid', code: 'certificate_expired', reason: 'expired' },
          { format: 'notation', status: 'invalid', code: 'untrusted_signer', reason: 'other root' },
        ],
      }),
    );
    expect(r.fired.map((f) => [f.trigger, f.triggerId, f.message])).toEqual([
      ['invalid_signature', `sha256:${'1'.repeat(64)}`, 'Invalid cosign signature (bad_signature): altered'],
      ['invalid_signature', 'notation:certificate_expired', 'Invalid notation signature (certificate_expired): expired'],
    ]);
  });
});
