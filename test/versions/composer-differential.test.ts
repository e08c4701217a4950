/**
 * composerComparator against Composer itself: php (spawned once, every pair on stdin as a
 * JSON line) runs composer/semver's VersionParser::normalize and Comparator::compare when
 * Debian's php-composer-semver is installed, and falls back to normalize-free
 * version_compare on our normalised strings otherwise (then only the comparison is checked).
 * Validity must agree too: normalize throws, or returns a "dev-" branch name, exactly when
 * isValid is false.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { composerComparator, composerNormalize } from '../../shared/versions/composer.js';
import { run } from '../support/exec.js';
import { prng } from '../support/prng.js';

const SEED = 0xc0_4d05e;
const PAIRS = 6000;
const SEMVER_AUTOLOAD = '/usr/share/php/Composer/Semver/autoload.php';

function phpVersion(): string | undefined {
  try {
    return execFileSync('php', ['-r', 'echo "php ", PHP_VERSION;'], { encoding: 'utf8' });
  } catch {
    return undefined;
  }
}
const PHP = phpVersion();
const SEMVER = existsSync(SEMVER_AUTOLOAD);

let rand = prng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
const chance = (p: number): boolean => rand() < p;

const NUMBERS = ['0', '0', '1', '1', '2', '3', '9', '10', '00', '01', '123', '99999', '123456', '9223372036854775807', '9223372036854775808', '99999999999999999999'];
const STABILITIES = ['alpha', 'a', 'beta', 'b', 'RC', 'rc', 'Rc', 'patch', 'pl', 'p', 'stable', 'STABLE', 'dev', 'DEV', 'Beta', 'pre', 'x'];
const SEPARATORS = ['-', '-', '.', '_', '', '+'];
const SUFFIXES = ['-dev', '.dev', 'dev', '-DEV', '+build.1', '+001', '@dev', '@stable', '@beta', ' as 2.0.x-dev', '.x-dev', '.*-dev', '.X-dev', '-dev+x', ''];
const ODD = [' ', '\t', '..', '-', 'é', '~', ',', ':', 'v', 'x', '*', '#'];

function numbers(): string {
  let v = pick(NUMBERS);
  const n = chance(0.95) ? Math.floor(rand() * 4) : 4;
  for (let i = 0; i < n; i++) v += '.' + pick(NUMBERS);
  return v;
}

function date(): string {
  const sep = pick(['', '.', '-', ':', '.']);
  let v = pick(['2010', '2023', '1999', '20100102', '2024']);
  const n = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) v += (chance(0.8) ? sep : pick(['', '.', '-', ':'])) + pick(['01', '12', '31', '00', '5', '123', '1234']);
  return v;
}

function version(): string {
  const r = rand();
  if (r < 0.03) return pick(['master', 'trunk', 'default', 'dev-master', 'DEV-feature', 'dev-1.0', 'dev']);
  let v = (chance(0.15) ? pick(['v', 'V']) : '') + (r < 0.15 ? date() : numbers());
  if (chance(0.45)) {
    v += pick(SEPARATORS) + pick(STABILITIES);
    if (chance(0.6)) v += pick(['', '.', '-']) + pick(NUMBERS) + (chance(0.2) ? pick(['.', '-']) + pick(NUMBERS) : '');
  }
  if (chance(0.25)) v += pick(SUFFIXES);
  if (chance(0.04)) v = pick([' ', '\t', '\n', '\f']) + v;
  if (chance(0.04)) v += pick([' ', '\n', '\0', '\f']);
  return v;
}

/** A close neighbour of `v`: one to three small edits. */
function neighbour(v: string): string {
  let w = v;
  const edits = 1 + Math.floor(rand() * 3);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * (w.length + 1));
    const r = rand();
    if (r < 0.2) w = w + pick(['.0', '-dev', '-alpha1', '-p1', '-RC2', '.1', 'beta', '-stable', '+meta']);
    else if (r < 0.35) w = w.replace(/[0-9]+/, pick(['0', '1', '9', '00', '10']));
    else if (r < 0.5) w = w.replace(/[a-z]+/i, pick(STABILITIES));
    else if (r < 0.6) w = w.replace(/(\.0)+(?=[^.0-9]|$)/, '');
    else if (r < 0.7 && w.length > 1) w = w.slice(0, at) + w.slice(at + 1);
    else if (r < 0.8) w = w.slice(0, at) + pick(ODD) + w.slice(at);
    else if (r < 0.9) w = w.replace(/^v/i, '') || w;
    else w = w.slice(0, at);
  }
  return w;
}

/** The same pairs on every call: the generator restarts from the seed. */
function pairs(): Array<[string, string]> {
  rand = prng(SEED);
  const out: Array<[string, string]> = [];
  while (out.length < PAIRS) {
    const a = version();
    const b = chance(0.85) ? neighbour(a) : version();
    out.push(chance(0.5) ? [a, b] : [b, a]);
  }
  return out;
}

/** One JSON pair a line in; out: "<", "=", ">" or "E" (normalize threw or gave a branch). */
const SEMVER_SCRIPT = `
require '${SEMVER_AUTOLOAD}';
use Composer\\Semver\\Comparator;
use Composer\\Semver\\VersionParser;
$parser = new VersionParser();
$norm = function ($v) use ($parser) {
  try { $n = $parser->normalize($v); } catch (UnexpectedValueException $e) { return null; }
  return strpos($n, 'dev-') === 0 ? null : $n;
};
$out = '';
while (($line = fgets(STDIN)) !== false) {
  [$a, $b] = json_decode($line, true, 512, JSON_THROW_ON_ERROR);
  $na = $norm($a); $nb = $norm($b);
  if ($na === null || $nb === null) { $out .= "E\\n"; continue; }
  $lt = Comparator::compare($na, '<', $nb);
  $eq = Comparator::compare($na, '==', $nb);
  $gt = Comparator::compare($na, '>', $nb);
  if ((int) $lt + (int) $eq + (int) $gt !== 1) { $out .= "?\\n"; continue; }
  $out .= $lt ? "<\\n" : ($eq ? "=\\n" : ">\\n");
}
echo $out;
`;

/** Without composer/semver: version_compare on our normalised strings (pairs we find invalid are not sent). */
const PLAIN_SCRIPT = `
$out = '';
while (($line = fgets(STDIN)) !== false) {
  [$a, $b] = json_decode($line, true, 512, JSON_THROW_ON_ERROR);
  $out .= ['<', '=', '>'][version_compare($a, $b) + 1] . "\\n";
}
echo $out;
`;

function ours(a: string, b: string): string {
  if (!composerComparator.isValid(a) || !composerComparator.isValid(b)) return 'E';
  return ['<', '=', '>'][composerComparator.compare(a, b) + 1] as string;
}

function tally(verdicts: string[]): Record<string, number> {
  const counts: Record<string, number> = { '<': 0, '=': 0, '>': 0, E: 0 };
  for (const t of verdicts) counts[t] = (counts[t] ?? 0) + 1;
  return counts;
}

describe.skipIf(!PHP)(`Composer differential (${PHP ?? 'php not installed'}${SEMVER ? ', composer/semver' : ''})`, () => {
  it.skipIf(!SEMVER)(`agrees with VersionParser::normalize + Comparator::compare on ${PAIRS} seeded close pairs (seed ${SEED.toString(16)})`, { timeout: 120_000 }, async () => {
    const all = pairs();
    const input = all.map((p) => JSON.stringify(p)).join('\n') + '\n';
    const { stdout } = await run('php', ['-r', SEMVER_SCRIPT], { input, timeoutMs: 100_000 });
    const theirs = stdout.toString('utf8').split('\n').filter((l) => l !== '');
    expect(theirs).toHaveLength(all.length);
    const disagreements = all
      .map(([a, b], i) => ({ a, b, composer: theirs[i], ours: ours(a, b) }))
      .filter((d) => d.composer !== d.ours);
    expect(disagreements.slice(0, 20)).toEqual([]);
    const counts = tally(theirs);
    expect(counts['<']! + counts['=']! + counts['>']!).toBeGreaterThanOrEqual(2000);
    expect(counts['=']).toBeGreaterThan(100);
    expect(counts['<']).toBeGreaterThan(300);
    expect(counts['>']).toBeGreaterThan(300);
    expect(counts['E']).toBeGreaterThan(100);
  });

  it(`version_compare agrees on the normalised forms of ${PAIRS} seeded pairs`, { timeout: 120_000 }, async () => {
    const all = pairs()
      .filter(([a, b]) => composerComparator.isValid(a) && composerComparator.isValid(b))
      .map(([a, b]): [string, string] => [composerNormalize(a), composerNormalize(b)]);
    const input = all.map((p) => JSON.stringify(p)).join('\n') + '\n';
    const { stdout } = await run('php', ['-r', PLAIN_SCRIPT], { input, timeoutMs: 100_000 });
    const theirs = stdout.toString('utf8').split('\n').filter((l) => l !== '');
    expect(theirs).toHaveLength(all.length);
    expect(all.length).toBeGreaterThanOrEqual(2000);
    const { phpVersionCompare } = await import('../../shared/versions/composer.js');
    const disagreements = all
      .map(([a, b], i) => ({ a, b, php: theirs[i], ours: ['<', '=', '>'][phpVersionCompare(a, b) + 1] }))
      .filter((d) => d.php !== d.ours);
    expect(disagreements.slice(0, 20)).toEqual([]);
  });
});

if (!PHP) {
  describe('Composer differential', () => {
    it.skip('skipped: php is not installed (CI has it)', () => {});
  });
}
