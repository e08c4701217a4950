/**
 * Named content regexes: parsing, the streaming probe (chunk boundaries, binary files, line
 * anchors) and the same check on kept files, on hand-made views.
 */
import { describe, expect, it } from 'vitest';
import type { ContentProbe, FileView, ViewFile } from '../../shared/catalog/types.js';
import { probeReads } from '../../shared/catalog/types.js';
import { DrydockError } from '../../shared/errors.js';
import { BUILTIN_PATTERNS, contentMatchesFrom, contentPatterns, contentScanProbe, parsePatterns, scanContent } from '../../shared/policy/content-scan.js';
import { fileMetaFrom, fileMetaProbe } from '../../shared/policy/file-meta.js';

const AWS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const SHADOW = ['daemon:*:19000:0:99999:7:::', 'root:::0:::::', 'bin:*:19000:0:99999:7:::', ''].join('\n');

/** Streams `content` through a fresh reader of `probe` in chunks of `size` bytes, as the walker does. */
function feed(probe: ContentProbe, content: Buffer, size: number): string[] | undefined {
  const reader = probe.start('/f');
  for (let i = 0; i < content.length; i += size) if (!reader.push(content.subarray(i, i + size))) break;
  const r = reader.result();
  return r ? (JSON.parse(r.toString()) as string[]) : undefined;
}

function thrown(f: () => unknown): DrydockError {
  try {
    f();
  } catch (e) {
    return e as DrydockError;
  }
  throw new Error('did not throw');
}

describe('parsePatterns', () => {
  it('parses NAME=REGEX, splitting at the first "="', () => {
    const [p] = parsePatterns(['ALPINE_NULL_ROOT=^root:::0:::::$']);
    expect(p!.name).toBe('ALPINE_NULL_ROOT');
    expect(p!.source).toBe('^root:::0:::::$');
    expect(parsePatterns(['EQ=a=b'])[0]!.source).toBe('a=b');
  });

  it('names the entry and the problem when the entry is malformed', () => {
    expect(thrown(() => parsePatterns(['A=x', 'no-equals-sign'])).message).toMatch(/content pattern #2 \("no-equals-sign"\): expected NAME=REGEX/);
    expect(thrown(() => parsePatterns(['=abc'])).message).toMatch(/missing NAME/);
    expect(thrown(() => parsePatterns(['BAD NAME=abc'])).message).toMatch(/pattern name "BAD NAME"/);
    expect(thrown(() => parsePatterns(['EMPTY='])).message).toMatch(/EMPTY has an empty regex/);
    expect(thrown(() => parsePatterns(['A=x', 'A=y'])).message).toMatch(/A is given twice/);
  });

  it('rejects what RE2 cannot run (backreferences, lookaround) with the parser message', () => {
    const e = thrown(() => parsePatterns(['BACKREF=(a)\\1']));
    expect(e).toBeInstanceOf(DrydockError);
    expect(e.code).toBe('CONFIG');
    expect(e.message).toMatch(/pattern BACKREF: .*invalid escape sequence.*RE2 syntax/);
    expect(thrown(() => parsePatterns(['LOOK=(?=x)y'])).message).toMatch(/LOOK: .*unsupported Perl syntax/);
    expect(thrown(() => parsePatterns(['OPEN=[a-'])).message).toMatch(/OPEN: .*missing closing \]/);
  });

  it('has the Anchore default names built in; a user pattern replaces a built-in of its name', () => {
    expect(BUILTIN_PATTERNS.map((p) => p.name)).toEqual(['AWS_ACCESS_KEY', 'AWS_SECRET_KEY', 'PRIV_KEY', 'DOCKER_AUTH', 'API_KEY', 'ALPINE_NULL_ROOT']);
    const all = contentPatterns(['API_KEY=mine', 'X=y']);
    expect(all.map((p) => p.name)).toEqual(['AWS_ACCESS_KEY', 'AWS_SECRET_KEY', 'PRIV_KEY', 'DOCKER_AUTH', 'ALPINE_NULL_ROOT', 'API_KEY', 'X']);
    expect(all.find((p) => p.name === 'API_KEY')!.source).toBe('mine');
    expect(contentPatterns(['X=y'], { builtins: false }).map((p) => p.name)).toEqual(['X']);
  });
});

describe('built-in patterns', () => {
  const hits = (text: string) => scanContent(BUILTIN_PATTERNS, '/f', Buffer.from(text));

  it('find each kind of secret', () => {
    expect(hits(`aws_access_key_id = ${AWS_KEY}\n`)).toEqual(['AWS_ACCESS_KEY']);
    expect(hits('AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n')).toEqual(['AWS_SECRET_KEY']);
    expect(hits('-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n')).toEqual(['PRIV_KEY']);
    expect(hits('-----BEGIN OPENSSH PRIVATE KEY-----\n')).toEqual(['PRIV_KEY']);
    expect(hits('-----BEGIN PRIVATE KEY-----\n')).toEqual(['PRIV_KEY']);
    expect(hits('{\n  "auths": {\n    "registry.example.com": {\n      "auth": "dXNlcjpwYXNz"\n    }\n  }\n}\n')).toEqual(['DOCKER_AUTH']);
    expect(hits('api_key: "0123456789abcdef0123"\n')).toEqual(['API_KEY']);
  });

  it('leave look-alikes alone', () => {
    expect(hits('-----BEGIN PUBLIC KEY-----\n-----BEGIN CERTIFICATE-----\n')).toEqual([]);
    expect(hits('XAKIAIOSFODNN7EXAMPLE1 and AKIA1234 short\n')).toEqual([]);
    expect(hits('{"auths": {}}\n')).toEqual([]);
    expect(hits('api_key = short\n')).toEqual([]);
  });
});

describe('contentScanProbe', () => {
  const patterns = contentPatterns(['ALPINE_NULL_ROOT=^root:::0:::::$']);
  const probe = contentScanProbe(patterns);

  it('is named content-scan, reads any regular file up to 10 MiB whatever its mode', () => {
    expect(probe.name).toBe('content-scan');
    expect(probe.maxBytes).toBe(10 * 1024 * 1024);
    expect(probeReads(probe, '/etc/app.conf', 0o644, 100)).toBe(true);
    expect(probeReads(probe, '/big', 0o644, 10 * 1024 * 1024 + 1)).toBe(false);
    expect(contentScanProbe(patterns, { maxFileBytes: 5 }).maxBytes).toBe(5);
  });

  it('has a version that follows the pattern set, so new patterns miss the layer cache', () => {
    expect(contentScanProbe(contentPatterns(['ALPINE_NULL_ROOT=^root:::0:::::$'])).version).toBe(probe.version);
    expect(contentScanProbe(contentPatterns(['ALPINE_NULL_ROOT=^root::0:::::$'])).version).not.toBe(probe.version);
    expect(contentScanProbe(contentPatterns(['OTHER=^root:::0:::::$'])).version).not.toBe(probe.version);
    expect(Number.isSafeInteger(probe.version)).toBe(true);
  });

  it('finds a pattern that spans a chunk boundary, whatever the chunk size', () => {
    const text = Buffer.from(`${'x'.repeat(10_000)}\nkey=${AWS_KEY}\n${'y'.repeat(5000)}`);
    for (const size of [1, 3, 7, 13, 4096, 10_007, 10_010, 1 << 20]) expect(feed(probe, text, size), `chunks of ${size}`).toEqual(['AWS_ACCESS_KEY']);
  });

  it('reads a line longer than the 64 KiB line limit in pieces, finding what is inside and no false ^/$ at the cuts', () => {
    const line = (n: number) => 'm'.repeat(n);
    const minified = Buffer.from(`${line(100_000)};k="${AWS_KEY}";${line(100_000)}\n`);
    for (const size of [65_536, 1000, 70_001]) expect(feed(probe, minified, size)).toEqual(['AWS_ACCESS_KEY']);
    const anchored = contentScanProbe(parsePatterns(['ALL_M=^m+$']));
    expect(feed(anchored, Buffer.from(`${line(200_000)}x\n`), 65_536)).toBeUndefined();
    expect(feed(anchored, Buffer.from(`x${line(200_000)}\n`), 65_536)).toBeUndefined();
    // nor at the real ends: such a line is never seen whole
    expect(feed(anchored, Buffer.from(`${line(200_000)}\n`), 65_536)).toBeUndefined();
    expect(feed(anchored, Buffer.from(`${line(60_000)}\n`), 65_536)).toEqual(['ALL_M']);
  });

  it('matches ^...$ per line: the NULL root password line of /etc/shadow, not a locked one', () => {
    for (const size of [1, 5, 64]) expect(feed(probe, Buffer.from(SHADOW), size)).toEqual(['ALPINE_NULL_ROOT']);
    expect(feed(probe, Buffer.from(SHADOW.replace('root:::0', 'root:!::0')), 5)).toBeUndefined();
    // a chunk that ends right after the text is not an end of line
    expect(feed(probe, Buffer.from('root:::0:::::x\n'), 13)).toBeUndefined();
    expect(feed(probe, Buffer.from('xroot:::0:::::\n'), 1)).toBeUndefined();
    // the last line needs no newline
    expect(feed(probe, Buffer.from('a\nroot:::0:::::'), 4)).toEqual(['ALPINE_NULL_ROOT']);
  });

  it('reports every pattern a file matches, sorted, and nothing for a clean file', () => {
    const text = Buffer.from(`-----BEGIN EC PRIVATE KEY-----\n${AWS_KEY}\nroot:::0:::::\n`);
    expect(feed(probe, text, 7)).toEqual(['ALPINE_NULL_ROOT', 'AWS_ACCESS_KEY', 'PRIV_KEY']);
    expect(feed(probe, Buffer.from('nothing to see\n'), 4)).toBeUndefined();
    expect(feed(probe, Buffer.alloc(0), 4)).toBeUndefined();
  });

  it('skips binary files: a NUL in the first 8 KiB stops the reader at once', () => {
    const binary = Buffer.concat([Buffer.from('\x7fELF\x00\x00'), Buffer.from(`\n${AWS_KEY}\n`)]);
    const reader = probe.start('/bin/x');
    expect(reader.push(binary)).toBe(false);
    expect(reader.result()).toBeUndefined();
    expect(feed(probe, binary, 1)).toBeUndefined();
    // a NUL after the first 8 KiB does not make a text file binary
    const late = Buffer.concat([Buffer.from(`${'a'.repeat(9000)}\n`), Buffer.from([0]), Buffer.from(`\n${AWS_KEY}\n`)]);
    expect(feed(probe, late, 1000)).toEqual(['AWS_ACCESS_KEY']);
    expect(scanContent(patterns, '/bin/x', binary)).toEqual([]);
  });

  it('stays linear on adversarial input: a nested-quantifier pattern over 1 MB', () => {
    const evil = contentScanProbe(parsePatterns(['EVIL=^(a+)+$', 'EVIL2=(x+x+)+y', 'TAIL_B=a{100}b']));
    const input = Buffer.from(`${'a'.repeat(1_000_000)}!\n${'x'.repeat(200_000)}\n`);
    expect(feed(evil, input, 65_536)).toBeUndefined();
    expect(feed(evil, Buffer.concat([input, Buffer.from(`${'a'.repeat(150)}b\n`)]), 65_536)).toEqual(['TAIL_B']);
  });
});

describe('scanContent and contentMatchesFrom', () => {
  const patterns = contentPatterns(['ALPINE_NULL_ROOT=^root:::0:::::$']);
  const probe = contentScanProbe(patterns, { maxFileBytes: 1000 });

  it('checks kept files the same way as streamed ones', () => {
    expect(scanContent(patterns, '/etc/shadow', Buffer.from(SHADOW))).toEqual(['ALPINE_NULL_ROOT']);
    expect(scanContent(patterns, '/etc/shadow', Buffer.from(SHADOW.replace('root:::', 'root:*::')))).toEqual([]);
  });

  it('merges the probe results with the kept files, sorted by path then name', () => {
    const file = (path: string, content: string, layer = 'sha256:l1'): ViewFile => ({ path, content: Buffer.from(content), mode: 0o644, layer });
    const view: FileView = {
      get: () => undefined,
      glob: (pattern) => (pattern === '**' ? [file('/etc/shadow', SHADOW), file('/etc/os-release', 'ID=alpine\n'), file('/big', `${AWS_KEY}\n${'z'.repeat(2000)}`)] : []),
      probed: (p) => (p.name === 'content-scan' ? [file('/app/.env', JSON.stringify(['AWS_ACCESS_KEY', 'API_KEY']), 'sha256:l2')] : []),
    };
    expect(contentMatchesFrom(view, probe)).toEqual([
      { name: 'API_KEY', path: '/app/.env', layer: 'sha256:l2' },
      { name: 'AWS_ACCESS_KEY', path: '/app/.env', layer: 'sha256:l2' },
      { name: 'ALPINE_NULL_ROOT', path: '/etc/shadow', layer: 'sha256:l1' },
    ]);
  });
});

describe('fileMetaProbe', () => {
  it('reads every regular file, any size or mode, and keeps only its size', () => {
    const probe = fileMetaProbe();
    expect(probeReads(probe, '/huge', 0o644, 2 ** 40)).toBe(true);
    expect(probeReads(probe, '/empty', 0, 0)).toBe(true);
    const reader = probe.start('/x');
    expect(reader.push(Buffer.alloc(10))).toBe(true);
    reader.push(Buffer.alloc(5));
    expect(reader.result()!.toString()).toBe('15');
    expect(probe.start('/empty').result()!.toString()).toBe('0');
  });

  it('lists probed and kept files with mode, size and layer', () => {
    const view: FileView = {
      get: () => undefined,
      glob: () => [{ path: '/var/lib/dpkg/status', content: Buffer.from('abc'), mode: 0o644, layer: 'sha256:a' }],
      probed: () => [{ path: '/usr/bin/su', content: Buffer.from('52000'), mode: 0o4755, layer: 'sha256:b' }],
    };
    expect(fileMetaFrom(view)).toEqual([
      { path: '/usr/bin/su', mode: 0o104755, size: 52000, type: 'file', layer: 'sha256:b' },
      { path: '/var/lib/dpkg/status', mode: 0o100644, size: 3, type: 'file', layer: 'sha256:a' },
    ]);
  });
});
