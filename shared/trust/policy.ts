import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import picomatch from 'picomatch';
import { parse as parseYaml } from 'yaml';
import { DrydockError } from '../errors.js';
import { X509Certificate, createPublicKey } from 'node:crypto';
import { parseCosignPublicKey, type CosignKey } from './cosign.js';
import type { KeylessIdentity, KeylessTrust } from './keyless.js';
import { identityProblem, parseTrustStore, type NotationTrust } from './notation.js';

/**
 * The trust policy: which signers an image must have, by registry/repository. A YAML or JSON
 * file:
 *
 *   version: 1
 *   policies:
 *     - name: production
 *       scopes: ["123456789012.dkr.ecr.eu-west-1.amazonaws.com/prod/*"]   # glob on "<registry>/<repository>"; "*" = every image
 *       cosign:
 *         keys:
 *           - { name: release, path: keys/release.pub }   # PEM public key; a path is relative to this file
 *           - { name: ci, pem: "-----BEGIN PUBLIC KEY-----\n..." }
 *         keyless:                                         # Fulcio certificates + Rekor bundles, verified offline
 *           - name: sigstore
 *             fulcioRoots: [{ name: fulcio, path: sigstore/fulcio.pem }]
 *             rekorKeys: [{ name: rekor, path: sigstore/rekor.pub }]
 *             identities: [{ subject: "release@example.com", issuer: "https://accounts.google.com" }]
 *       notation:
 *         trustStores: [{ name: acme-root, path: certs/acme-root.pem }]   # PEM CA certificates
 *         identities: ["x509.subject: C=US, ST=WA, O=acme"]                # or ["*"]
 *
 * The first policy whose scope matches an image applies; an image no scope matches has no
 * policy (its signatures are not required). A signature from any one listed identity signs it.
 * Errors name the file and the entry (`policies[1].cosign.keys[0]`).
 */

export const MAX_TRUST_POLICY_BYTES = 1024 * 1024;
export const MAX_TRUST_POLICIES = 256;
/** keys per policy, trust stores per policy, identities per policy, scopes per policy */
export const MAX_TRUST_POLICY_ITEMS = 64;

export interface TrustPolicyEntry {
  name: string;
  scopes: string[];
  cosignKeys: CosignKey[];
  /** cosign keyless: Fulcio roots, Rekor keys and certificate identities */
  cosignKeyless: KeylessTrust[];
  /** undefined when the policy accepts no Notary Project signatures */
  notation?: NotationTrust;
  matches(registry: string, repository: string): boolean;
}

export interface TrustPolicy {
  /** the file it came from (for messages) */
  source: string;
  policies: TrustPolicyEntry[];
}

/** Reads and validates a trust policy file; CONFIG errors name the file and the entry. */
export async function loadTrustPolicy(path: string): Promise<TrustPolicy> {
  const info = await stat(path).catch((e: unknown) => {
    throw new DrydockError('CONFIG', `trust policy ${path} cannot be read: ${(e as Error).message}`, { cause: e });
  });
  if (info.size > MAX_TRUST_POLICY_BYTES) {
    throw new DrydockError('CONFIG', `trust policy ${path} is ${info.size} bytes, more than ${MAX_TRUST_POLICY_BYTES} (limit MAX_TRUST_POLICY_BYTES)`);
  }
  const text = await readFile(path, 'utf8');
  const base = dirname(resolve(path));
  return parseTrustPolicy(text, path, async (rel) => {
    const file = isAbsolute(rel) ? rel : resolve(base, rel);
    const s = await stat(file).catch((e: unknown) => {
      throw new Error(`cannot read ${file}: ${(e as Error).message}`);
    });
    if (s.size > MAX_TRUST_POLICY_BYTES) throw new Error(`${file} is ${s.size} bytes, more than ${MAX_TRUST_POLICY_BYTES} (limit MAX_TRUST_POLICY_BYTES)`);
    return readFile(file, 'utf8');
  });
}

/** `readRef` reads a `path:` entry (relative paths are resolved by the caller). */
export async function parseTrustPolicy(text: string, source: string, readRef: (path: string) => Promise<string>): Promise<TrustPolicy> {
  const err = (where: string, msg: string, cause?: unknown) =>
    new DrydockError('CONFIG', `trust policy ${source}: ${where ? `${where}: ` : ''}${msg}`, cause === undefined ? {} : { cause });
  if (Buffer.byteLength(text) > MAX_TRUST_POLICY_BYTES) throw err('', `larger than ${MAX_TRUST_POLICY_BYTES} bytes (limit MAX_TRUST_POLICY_BYTES)`);
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    throw err('', `not YAML/JSON: ${(e as Error).message}`, e);
  }
  if (!isObject(doc)) throw err('', 'expected a mapping with "version" and "policies"');
  only(doc, ['version', 'policies'], '', err);
  if (doc.version !== 1) throw err('version', `must be 1, got ${JSON.stringify(doc.version)}`);
  const list = doc.policies;
  if (!Array.isArray(list) || list.length === 0) throw err('policies', 'must be a non-empty list');
  if (list.length > MAX_TRUST_POLICIES) throw err('policies', `${list.length} entries, more than ${MAX_TRUST_POLICIES} (limit MAX_TRUST_POLICIES)`);

  const names = new Set<string>();
  const policies: TrustPolicyEntry[] = [];
  for (const [i, p] of list.entries()) {
    const at = `policies[${i}]`;
    if (!isObject(p)) throw err(at, 'must be a mapping');
    only(p, ['name', 'scopes', 'cosign', 'notation'], at, err);
    const name = p.name;
    if (typeof name !== 'string' || !/^[\w.-]{1,64}$/.test(name)) throw err(`${at}.name`, 'required: 1-64 letters, digits, "_", "-" or "."');
    if (names.has(name)) throw err(`${at}.name`, `"${name}" is used twice`);
    names.add(name);
    const scopes = stringList(p.scopes, `${at}.scopes`, err);
    for (const [j, s] of scopes.entries()) {
      if (s !== '*' && !/^[^/\s]+\/\S+$/.test(s)) throw err(`${at}.scopes[${j}]`, `"${s}" is not "*" nor "<registry>/<repository glob>"`);
    }
    if (p.cosign === undefined && p.notation === undefined) throw err(at, 'names no identity: give "cosign" keys and/or a "notation" trust store');

    const cosignKeys: CosignKey[] = [];
    const cosignKeyless: KeylessTrust[] = [];
    if (p.cosign !== undefined) {
      if (!isObject(p.cosign)) throw err(`${at}.cosign`, 'must be a mapping with "keys" and/or "keyless"');
      only(p.cosign, ['keys', 'keyless'], `${at}.cosign`, err);
      if (p.cosign.keys === undefined && p.cosign.keyless === undefined) throw err(`${at}.cosign`, 'give "keys" and/or "keyless"');
      if (p.cosign.keyless !== undefined) cosignKeyless.push(...(await keylessTrusts(p.cosign.keyless, `${at}.cosign.keyless`, readRef, err)));
    }
    if (isObject(p.cosign) && p.cosign.keys !== undefined) {
      const keys = p.cosign.keys;
      if (!Array.isArray(keys) || keys.length === 0) throw err(`${at}.cosign.keys`, 'must be a non-empty list');
      if (keys.length > MAX_TRUST_POLICY_ITEMS) throw err(`${at}.cosign.keys`, `more than ${MAX_TRUST_POLICY_ITEMS} entries (limit MAX_TRUST_POLICY_ITEMS)`);
      for (const [j, k] of keys.entries()) {
        const kat = `${at}.cosign.keys[${j}]`;
        const { name: kname, text: pem } = await namedMaterial(k, kat, readRef, err);
        try {
          cosignKeys.push(parseCosignPublicKey(kname, pem));
        } catch (e) {
          throw err(kat, (e as Error).message, e);
        }
      }
    }

    let notation: NotationTrust | undefined;
    if (p.notation !== undefined) {
      const n = p.notation;
      if (!isObject(n)) throw err(`${at}.notation`, 'must be a mapping with "trustStores" and "identities"');
      only(n, ['trustStores', 'identities'], `${at}.notation`, err);
      const stores = n.trustStores;
      if (!Array.isArray(stores) || stores.length === 0) throw err(`${at}.notation.trustStores`, 'must be a non-empty list');
      if (stores.length > MAX_TRUST_POLICY_ITEMS) throw err(`${at}.notation.trustStores`, `more than ${MAX_TRUST_POLICY_ITEMS} entries (limit MAX_TRUST_POLICY_ITEMS)`);
      const roots: NotationTrust['roots'][number][] = [];
      for (const [j, s] of stores.entries()) {
        const sat = `${at}.notation.trustStores[${j}]`;
        const { name: sname, text: pem } = await namedMaterial(s, sat, readRef, err);
        try {
          roots.push(...parseTrustStore(sname, pem));
        } catch (e) {
          throw err(sat, (e as Error).message, e);
        }
      }
      const identities = stringList(n.identities, `${at}.notation.identities`, err);
      for (const [j, id] of identities.entries()) {
        const problem = identityProblem(id);
        if (problem) throw err(`${at}.notation.identities[${j}]`, problem);
      }
      notation = { roots, identities };
    }

    const matchers = scopes.map((s) => (s === '*' ? () => true : picomatch(s.toLowerCase(), { dot: true })));
    policies.push({
      name,
      scopes,
      cosignKeys,
      cosignKeyless,
      ...(notation && { notation }),
      matches: (registry, repository) => {
        const target = `${registry}/${repository}`.toLowerCase();
        return matchers.some((m) => m(target));
      },
    });
  }
  return { source, policies };
}

/** The policy for an image: the first whose scope matches, or undefined ("no policy"). */
export function policyFor(policy: TrustPolicy, registry: string, repository: string): TrustPolicyEntry | undefined {
  return policy.policies.find((p) => p.matches(registry, repository));
}

type ErrFn = (where: string, msg: string, cause?: unknown) => DrydockError;

async function keylessTrusts(v: unknown, at: string, readRef: (p: string) => Promise<string>, err: ErrFn): Promise<KeylessTrust[]> {
  if (!Array.isArray(v) || v.length === 0) throw err(at, 'must be a non-empty list');
  if (v.length > MAX_TRUST_POLICY_ITEMS) throw err(at, `more than ${MAX_TRUST_POLICY_ITEMS} entries (limit MAX_TRUST_POLICY_ITEMS)`);
  const out: KeylessTrust[] = [];
  for (const [i, k] of v.entries()) {
    const kat = `${at}[${i}]`;
    if (!isObject(k)) throw err(kat, 'must be a mapping with name, fulcioRoots, rekorKeys and identities');
    only(k, ['name', 'fulcioRoots', 'rekorKeys', 'identities'], kat, err);
    if (typeof k.name !== 'string' || !/^[\w.@-]{1,64}$/.test(k.name)) throw err(`${kat}.name`, 'required: 1-64 letters, digits, "_", "-", "." or "@"');
    const material = async (list: unknown, field: string): Promise<Array<{ name: string; text: string }>> => {
      if (!Array.isArray(list) || list.length === 0) throw err(`${kat}.${field}`, 'must be a non-empty list');
      if (list.length > MAX_TRUST_POLICY_ITEMS) throw err(`${kat}.${field}`, `more than ${MAX_TRUST_POLICY_ITEMS} entries (limit MAX_TRUST_POLICY_ITEMS)`);
      const items: Array<{ name: string; text: string }> = [];
      for (const [j, m] of list.entries()) items.push(await namedMaterial(m, `${kat}.${field}[${j}]`, readRef, err));
      return items;
    };
    const roots: X509Certificate[] = [];
    for (const [j, m] of (await material(k.fulcioRoots, 'fulcioRoots')).entries()) {
      const blocks = m.text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
      if (blocks.length === 0) throw err(`${kat}.fulcioRoots[${j}]`, `"${m.name}" holds no PEM certificate`);
      try {
        roots.push(...blocks.map((b) => new X509Certificate(b)));
      } catch (e) {
        throw err(`${kat}.fulcioRoots[${j}]`, `"${m.name}" cannot be read: ${(e as Error).message}`, e);
      }
    }
    const rekorKeys = (await material(k.rekorKeys, 'rekorKeys')).map((m, j) => {
      try {
        return createPublicKey({ key: m.text, format: 'pem' });
      } catch (e) {
        throw err(`${kat}.rekorKeys[${j}]`, `"${m.name}" is not a PEM public key: ${(e as Error).message}`, e);
      }
    });
    const ids = k.identities;
    if (!Array.isArray(ids) || ids.length === 0) throw err(`${kat}.identities`, 'must be a non-empty list of { subject, issuer? }');
    const identities: KeylessIdentity[] = ids.map((id, j) => {
      if (!isObject(id) || typeof id.subject !== 'string' || id.subject === '' || (id.issuer !== undefined && typeof id.issuer !== 'string')) {
        throw err(`${kat}.identities[${j}]`, 'must be { subject: <email or URI>, issuer?: <OIDC issuer URL> }');
      }
      only(id, ['subject', 'issuer'], `${kat}.identities[${j}]`, err);
      return { subject: id.subject, ...(typeof id.issuer === 'string' && { issuer: id.issuer }) };
    });
    out.push({ name: k.name, roots, rekorKeys, identities });
  }
  return out;
}

async function namedMaterial(v: unknown, at: string, readRef: (p: string) => Promise<string>, err: ErrFn): Promise<{ name: string; text: string }> {
  if (!isObject(v)) throw err(at, 'must be a mapping with "name" and "pem" or "path"');
  only(v, ['name', 'pem', 'path'], at, err);
  if (typeof v.name !== 'string' || !/^[\w.@-]{1,64}$/.test(v.name)) throw err(`${at}.name`, 'required: 1-64 letters, digits, "_", "-", "." or "@"');
  const hasPem = typeof v.pem === 'string';
  const hasPath = typeof v.path === 'string';
  if (hasPem === hasPath) throw err(at, 'give exactly one of "pem" (the PEM text) or "path" (a PEM file)');
  if (hasPem) return { name: v.name, text: v.pem as string };
  try {
    return { name: v.name, text: await readRef(v.path as string) };
  } catch (e) {
    throw err(`${at}.path`, (e as Error).message, e);
  }
}

function stringList(v: unknown, at: string, err: ErrFn): string[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((s): s is string => typeof s === 'string' && s.length > 0)) {
    throw err(at, 'must be a non-empty list of strings');
  }
  if (v.length > MAX_TRUST_POLICY_ITEMS) throw err(at, `more than ${MAX_TRUST_POLICY_ITEMS} entries (limit MAX_TRUST_POLICY_ITEMS)`);
  return v;
}

function only(o: Record<string, unknown>, allowed: readonly string[], at: string, err: ErrFn): void {
  const extra = Object.keys(o).filter((k) => !allowed.includes(k));
  if (extra.length) throw err(at, `unknown field(s) ${extra.map((k) => `"${k}"`).join(', ')} (allowed: ${allowed.join(', ')})`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
