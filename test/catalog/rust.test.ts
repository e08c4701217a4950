/**
 * cargo-auditable data in real ELF binaries: a C program built with gcc, given a `.dep-v0`
 * section by objcopy as cargo-auditable's linker section would hold it (zlib-compressed
 * JSON). The reference is binutils itself: `objcopy --dump-section` reads the section
 * through the ELF section table, which the streaming probe never sees.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryView } from '../../shared/catalog/dir-view.js';
import { cargoAuditableProbe, rustBinaryCataloger } from '../../shared/catalog/rust.js';

let work: string;
let root: string;
const AUDIT = {
  packages: [
    { name: 'itoa', version: '1.0.11', source: 'crates.io' },
    { name: 'memchr', version: '2.7.4', source: 'crates.io' },
    { name: 'cc', version: '1.1.30', source: 'crates.io', kind: 'build' },
    { name: 'serde', version: '1.0.210', source: 'crates.io', dependencies: [0] },
    { name: 'webapp', version: '0.3.1', source: 'local', dependencies: [0, 1, 2, 3], root: true },
  ],
};

function elfWith(name: string, section?: Buffer, extra?: Buffer): string {
  const src = join(work, `${name}.c`);
  writeFileSync(src, `#include <stdio.h>\nint main(void) { puts("${name}"); return 0; }\n`);
  const bin = join(root, 'usr/local/bin', name);
  execFileSync('gcc', ['-O1', '-o', bin, src]);
  if (extra) {
    writeFileSync(join(work, `${name}.noise`), extra);
    execFileSync('objcopy', ['--add-section', `.noise=${join(work, `${name}.noise`)}`, bin]);
  }
  if (section) {
    writeFileSync(join(work, `${name}.dep`), section);
    execFileSync('objcopy', ['--add-section', `.dep-v0=${join(work, `${name}.dep`)}`, bin]);
  }
  chmodSync(bin, 0o755);
  return bin;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'drydock-rust-'));
  root = join(work, 'root');
  mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
  // zlib noise before the real section: streams that inflate, but not to cargo-auditable JSON
  const noise = Buffer.concat([deflateSync(Buffer.from('{"package":"not it"}')), deflateSync(Buffer.alloc(4096, 7)), Buffer.from([0x78, 0x9c, 0xff, 0xff])]);
  elfWith('webapp', deflateSync(Buffer.from(JSON.stringify(AUDIT)), { level: 7 }), noise);
  elfWith('plain');
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('Rust binaries (cargo-auditable)', () => {
  it('reads the embedded dependency list as binutils reads the .dep-v0 section', () => {
    const bin = join(root, 'usr/local/bin/webapp');
    const dumped = join(work, 'dumped');
    execFileSync('objcopy', [`--dump-section`, `.dep-v0=${dumped}`, bin, join(work, 'scratch')]);
    const reference = JSON.parse(inflateSync(readFileSync(dumped)).toString()) as typeof AUDIT;

    const { packages, issues } = rustBinaryCataloger.catalog(new DirectoryView(root), {});
    expect(issues).toEqual([]);
    expect(packages.map((p) => `${p.name} ${p.version}`)).toEqual(reference.packages.map((p) => `${p.name} ${p.version}`));
    expect(packages.find((p) => p.name === 'serde')).toMatchObject({ type: 'cargo', purl: 'pkg:cargo/serde@1.0.210', locations: ['/usr/local/bin/webapp'], metadata: { source: 'crates.io' } });
    expect(packages.find((p) => p.name === 'cc')?.metadata).toEqual({ source: 'crates.io', kind: 'build' });
    expect(packages.find((p) => p.name === 'webapp')?.metadata).toEqual({ source: 'local', root: 'true' });
  });

  it('finds the document across any chunking of the stream, and nothing in a plain binary', () => {
    const bin = readFileSync(join(root, 'usr/local/bin/webapp'));
    for (const size of [1, 63, 64, 65, 4096, 65_536]) {
      const r = cargoAuditableProbe.start('/x');
      for (let i = 0; i < bin.length && r.push(bin.subarray(i, i + size)); i += size);
      expect(JSON.parse(r.result()!.toString())).toEqual(AUDIT);
    }
    const plain = cargoAuditableProbe.start('/y');
    plain.push(readFileSync(join(root, 'usr/local/bin/plain')));
    expect(plain.result()).toBeUndefined();
  });
});
