/**
 * Gate `metadata` (Anchore's names). Trigger `attribute` fires once when the named image
 * attribute satisfies the check; trigger id: the attribute name.
 *   attribute   (required) size (compressed size of all layers, bytes) | architecture |
 *               os_type | distro (os-release ID) | distro_version (VERSION_ID) |
 *               like_distro (ID_LIKE, space-separated as os-release writes it) | layer_count
 *   check       (required) = != < <= > >= exists not_exists like not_like in not_in
 *               (Anchore's list). like / not_like: RE2 regex anchored at the start (Anchore's
 *               re.match); in / not_in: `value` is a comma-separated list. exists is true for
 *               a non-empty, non-zero value, as in Anchore.
 *   value       the value to compare with (all checks but exists / not_exists need one; without
 *               it the rule does not fire, as in Anchore). size takes bytes, or a number with a
 *               unit: KB/MB/GB/TB (powers of 1000) or KiB/MiB/GiB/TiB (powers of 1024).
 *               size and layer_count compare as numbers, distro_version by dotted numeric
 *               parts, the rest as strings.
 */
import { RE2JS } from 're2js';
import { DrydockError } from '../../errors.js';
import type { Gate, PolicyContext, Trigger } from '../types.js';

const ATTRIBUTES = ['size', 'architecture', 'os_type', 'distro', 'distro_version', 'like_distro', 'layer_count'] as const;
type Attribute = (typeof ATTRIBUTES)[number];
const CHECKS = ['=', '!=', '<', '<=', '>', '>=', 'exists', 'not_exists', 'like', 'not_like', 'in', 'not_in'] as const;

function imageValue(ctx: PolicyContext, attr: Attribute): string | number | undefined {
  switch (attr) {
    case 'size':
      return ctx.image.size;
    case 'architecture':
      return ctx.image.architecture;
    case 'os_type':
      return ctx.image.os;
    case 'distro':
      return ctx.distro?.id;
    case 'distro_version':
      return ctx.distro?.versionId;
    case 'like_distro':
      return ctx.distro?.idLike?.join(' ');
    case 'layer_count':
      return ctx.image.layerCount;
  }
}

const UNITS: Readonly<Record<string, number>> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/** "1073741824", "1GB", "1.5 GiB" → bytes; undefined when not a size. */
export function parseSize(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?$/i.exec(s.trim());
  if (!m) return undefined;
  return Number(m[1]) * (UNITS[(m[2] ?? 'b').toLowerCase()] ?? 1);
}

/** Sign of a − b over dotted parts, numeric where both parts are digits. */
function compareDotted(a: string, b: string): number {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i] ?? '0';
    const q = y[i] ?? '0';
    const c = /^\d+$/.test(p) && /^\d+$/.test(q) ? Number(p) - Number(q) : p.localeCompare(q);
    if (c !== 0) return Math.sign(c);
  }
  return 0;
}

/** Python's re.match: a match that starts at the beginning of `s`. */
function likeMatches(pattern: string, s: string): boolean {
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    throw new DrydockError('CONFIG', `metadata attribute: invalid regex in value "${pattern}": ${e instanceof Error ? e.message : String(e)}`);
  }
  return re.matcher(s).lookingAt();
}

const attribute: Trigger = {
  name: 'attribute',
  description: 'Triggers if a named image metadata value matches the given condition.',
  params: [
    { name: 'attribute', type: 'enum', values: ATTRIBUTES, required: true, description: 'Attribute name to be checked.' },
    { name: 'check', type: 'enum', values: CHECKS, required: true, description: 'The operation to perform the evaluation.' },
    { name: 'value', type: 'string', description: 'Value used in comparison.' },
  ],
  evaluate(ctx, p) {
    const attr = p.attribute as Attribute;
    const check = p.check as string;
    const value = p.value as string | undefined;
    const img = imageValue(ctx, attr);
    let hit: boolean;
    if (check === 'exists' || check === 'not_exists') {
      hit = Boolean(img) === (check === 'exists');
    } else {
      if (value === undefined || value === '') return [];
      if (check === 'in' || check === 'not_in') {
        const list = value.split(',').map((v) => v.trim());
        hit = img !== undefined && list.includes(String(img)) === (check === 'in');
      } else if (check === 'like' || check === 'not_like') {
        hit = img !== undefined && likeMatches(value, String(img)) === (check === 'like');
      } else {
        if (img === undefined) return [];
        let c: number;
        if (typeof img === 'number') {
          const v = attr === 'size' ? parseSize(value) : /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : undefined;
          if (v === undefined) throw new DrydockError('CONFIG', `metadata attribute ${attr}: value "${value}" is not a number`);
          c = Math.sign(img - v);
        } else {
          c = attr === 'distro_version' ? compareDotted(img, value) : img === value ? 0 : img < value ? -1 : 1;
        }
        hit = check === '=' ? c === 0 : check === '!=' ? c !== 0 : check === '<' ? c < 0 : check === '<=' ? c <= 0 : check === '>' ? c > 0 : c >= 0;
      }
    }
    if (!hit) return [];
    return [{ triggerId: attr, message: `Attribute check for attribute: '${attr}' check: '${check}' check_value: '${value ?? ''}' matched image value: '${img ?? ''}'` }];
  },
};

export const metadataGate: Gate = {
  name: 'metadata',
  description: 'Checks against image metadata, such as size, OS, distro, architecture and layer count.',
  triggers: [attribute],
};
