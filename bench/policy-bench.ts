/**
 * npm run bench (third part) — policy evaluation time: a 2,000-package image (with the
 * findings of 200,000 synthetic advisories) against a generated 200-rule bundle covering every
 * gate, with a 500-item allowlist. Baseline in the same run: the `always` gate alone over the
 * same rule count, i.e. what the engine itself costs per rule before any gate does work.
 */
import { performance } from 'node:perf_hooks';
import { MemoryAdvisoryStore } from '../shared/adapters/local/memory-advisory-store.js';
import { matchInventory } from '../shared/match/index.js';
import { evaluatePolicy, parseBundle } from '../shared/policy/index.js';
import type { PolicyContext } from '../shared/policy/types.js';
import { bookworm, inventory, synthetic } from './synthetic.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const out = (s: string) => process.stdout.write(`${s}\n`);

const TEMPLATES: Array<[string, string, Record<string, string>]> = [
  ['vulnerabilities', 'package', { package_type: 'all', severity_comparison: '>=', severity: 'high' }],
  ['vulnerabilities', 'package', { package_type: 'os', severity_comparison: '=', severity: 'critical', fix_available: 'true', max_days_since_creation: '15' }],
  ['vulnerabilities', 'denylist', { vulnerability_ids: 'CVE-2099-100001,CVE-2099-100002' }],
  ['vulnerabilities', 'stale_feed_data', { max_days_since_sync: '2' }],
  ['packages', 'denylist', { name: 'libn1' }],
  ['packages', 'required_package', { name: 'libn2', version: '1.0', version_match_type: 'minimum' }],
  ['licenses', 'denylist_partial_match', { licenses: 'GPL-3' }],
  ['dockerfile', 'effective_user', { users: 'root', type: 'denylist' }],
  ['dockerfile', 'exposed_ports', { ports: '22,23', type: 'denylist' }],
  ['files', 'name_match', { regex: '.*\\.pem$' }],
  ['secret_scans', 'content_regex_checks', { content_regex_name: 'AWS_ACCESS_KEY' }],
  ['distro', 'deny', { distro: 'debian', version: '9', check: '<=' }],
  ['metadata', 'attribute', { attribute: 'layer_count', check: '>', value: '50' }],
  ['passwd_file', 'denylist_usernames', { user_names: 'games' }],
  ['always', 'always', {}],
];

function bundle(rules: number, gateFilter?: string) {
  const list = [];
  for (let i = 0; i < rules; i++) {
    const [gate, trigger, params] = gateFilter ? ['always', 'always', {}] : TEMPLATES[i % TEMPLATES.length]!;
    list.push({ id: `r${i}`, gate, trigger, action: i % 3 === 0 ? 'STOP' : 'WARN', params: Object.entries(params).map(([name, value]) => ({ name, value })) });
  }
  const items = Array.from({ length: 500 }, (_, i) => ({ id: `i${i}`, gate: 'vulnerabilities', trigger_id: `CVE-2099-${100000 + i}+*` }));
  return parseBundle(
    JSON.stringify({
      id: 'bench',
      version: '2',
      policies: [{ id: 'p', rules: list }],
      allowlists: [{ id: 'w', items }],
      mappings: [{ registry: '*', repository: '*', image: { type: 'tag', value: '*' }, policy_ids: ['p'], allowlist_ids: ['w'] }],
    }),
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const packages = inventory();
  const store = new MemoryAdvisoryStore();
  await store.put(synthetic(200_000));
  const vulnerabilities = await matchInventory({ packages, distro: bookworm }, store);
  const files = Array.from({ length: 20_000 }, (_, i) => ({ path: `/usr/lib/f${i}.so`, mode: 0o100644, size: 1000, type: 'file' as const, layer: 'sha256:l' }));
  const ctx: PolicyContext = {
    image: { reference: 'bench:1', registry: 'docker.io', repository: 'library/bench', tag: '1', digest: 'sha256:d', id: 'sha256:c', architecture: 'amd64', os: 'linux', size: 1e8, layerCount: 5, config: { user: 'root', exposedPorts: ['22/tcp'], env: [], labels: {}, history: [] } },
    distro: bookworm,
    packages,
    vulnerabilities,
    advisoriesUpdatedAt: new Date(),
    files,
    contentMatches: [],
    passwd: 'root:x:0:0:root:/root:/bin/bash\ngames:x:5:60:games:/usr/games:/usr/sbin/nologin\n',
    now: new Date(),
  };
  const full = bundle(200);
  const base = bundle(200, 'always');
  const t: number[] = [];
  const b: number[] = [];
  let fired = 0;
  for (let i = 0; i < RUNS; i++) {
    let s = performance.now();
    const r = evaluatePolicy(full, ctx);
    t.push(performance.now() - s);
    fired = r.fired.length;
    s = performance.now();
    evaluatePolicy(base, ctx);
    b.push(performance.now() - s);
  }
  out(`policy bench: ${RUNS} runs, medians; ${packages.length} packages, ${vulnerabilities.findings.length} findings, ${files.length} files`);
  out(`200-rule bundle (every gate, 500 allowlist items): ${median(t).toFixed(1)} ms, ${fired} rules fired; 200 × always: ${median(b).toFixed(1)} ms; ratio ${(median(t) / Math.max(median(b), 0.001)).toFixed(1)}×`);
  out(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
}

await main();
