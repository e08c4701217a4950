import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryView } from '../../shared/catalog/dir-view.js';
import { MAX_SYMLINK_HOPS } from '../../shared/layers/paths.js';

/**
 * A scratch directory holding `root/` (the image root) and, beside it, `outside/`, whose
 * files must never be reachable through the view.
 */
let scratch: string;
let root: string;

function file(path: string, content: string, mode = 0o644): void {
  const onDisk = join(root, path);
  mkdirSync(dirname(onDisk), { recursive: true });
  writeFileSync(onDisk, content);
  chmodSync(onDisk, mode);
}

function link(path: string, target: string): void {
  const onDisk = join(root, path);
  mkdirSync(dirname(onDisk), { recursive: true });
  symlinkSync(target, onDisk);
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'drydock-dirview-'));
  root = join(scratch, 'root');
  mkdirSync(join(scratch, 'outside'), { recursive: true });
  writeFileSync(join(scratch, 'outside', 'secret'), 'host file');

  file('/usr/lib/os-release', 'ID=debian\n');
  file('/usr/bin/tool', '#!/bin/sh\n', 0o4755);
  link('/etc/os-release', '../usr/lib/os-release');
  link('/etc/os-release-abs', '/usr/lib/os-release');
  link('/lib', 'usr/lib');
  file('/var/lib/dpkg/status', 'Package: a\n');
  file('/var/lib/dpkg/status.d/a', 'Package: a\n');
  file('/var/lib/dpkg/status.d/.hidden', 'Package: h\n');
  link('/var/lib/dpkg/status.d/b', 'a');
  // Attempts to leave the root.
  link('/escape/dotdot', '../../../../../../outside/secret');
  link('/escape/absolute', join(scratch, 'outside', 'secret'));
  link('/escape/dir', '../../outside');
  // Loops.
  link('/loop/a', 'b');
  link('/loop/b', 'a');
  link('/loop/self', 'self');
  for (let i = 0; i < MAX_SYMLINK_HOPS + 1; i++) link(`/chain/${i}`, `${i + 1}`);
  file(`/chain/${MAX_SYMLINK_HOPS + 1}`, 'end of chain');
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('DirectoryView.get', () => {
  it('reads a regular file with its mode and the layer given to the constructor', () => {
    const view = new DirectoryView(root, { layer: 'dir:test' });
    expect(view.get('/usr/bin/tool')).toEqual({ path: '/usr/bin/tool', content: Buffer.from('#!/bin/sh\n'), mode: 0o4755, layer: 'dir:test' });
  });

  it('defaults the layer to "dir:<root>"', () => {
    expect(new DirectoryView(root).get('/var/lib/dpkg/status')?.layer).toBe(`dir:${root}`);
  });

  it('follows relative and absolute symlinks inside the root and returns the real path', () => {
    const view = new DirectoryView(root);
    expect(view.get('/etc/os-release')).toMatchObject({ path: '/usr/lib/os-release', content: Buffer.from('ID=debian\n') });
    expect(view.get('/etc/os-release-abs')?.path).toBe('/usr/lib/os-release');
    expect(view.get('/lib/os-release')?.path).toBe('/usr/lib/os-release');
  });

  it('normalises ".", ".." and repeated slashes, clamping ".." at the root', () => {
    const view = new DirectoryView(root);
    expect(view.get('//usr/./bin/../lib//os-release')?.path).toBe('/usr/lib/os-release');
    expect(view.get('/../../../usr/lib/os-release')?.path).toBe('/usr/lib/os-release');
    expect(view.get('usr/lib/os-release')?.path).toBe('/usr/lib/os-release');
  });

  it('never leaves the root', () => {
    const view = new DirectoryView(root);
    expect(view.get('/escape/dotdot')).toBeUndefined();
    expect(view.get('/escape/absolute')).toBeUndefined();
    expect(view.get('/escape/dir/secret')).toBeUndefined();
    expect(view.get('/../outside/secret')).toBeUndefined();
    expect(view.issues).toEqual([]);
  });

  it('answers undefined for directories, missing files and paths through a file', () => {
    const view = new DirectoryView(root);
    expect(view.get('/usr/lib')).toBeUndefined();
    expect(view.get('/')).toBeUndefined();
    expect(view.get('/nope')).toBeUndefined();
    expect(view.get('/usr/lib/os-release/x')).toBeUndefined();
  });

  it('detects symlink loops, records each once and goes on', () => {
    const view = new DirectoryView(root, { layer: 'dir:test' });
    expect(view.get('/loop/a')).toBeUndefined();
    expect(view.get('/loop/a')).toBeUndefined();
    expect(view.get('/loop/self')).toBeUndefined();
    expect(view.get('/usr/lib/os-release')).toBeDefined();
    expect(view.issues).toEqual([
      { code: 'SYMLINK_LOOP', path: '/loop/a', layer: 'dir:test', message: expect.stringContaining('more than 40 symlinks') },
      { code: 'SYMLINK_LOOP', path: '/loop/self', layer: 'dir:test', message: expect.stringContaining('/loop/self') },
    ]);
  });

  it('follows 40 symlinks but not 41', () => {
    const view = new DirectoryView(root);
    expect(view.get('/chain/1')?.content.toString()).toBe('end of chain');
    expect(view.get('/chain/0')).toBeUndefined();
    expect(view.issues.map((i) => i.path)).toEqual(['/chain/0']);
  });

  it('truncates files over maxFileBytes and says so', () => {
    const view = new DirectoryView(root, { maxFileBytes: 4 });
    expect(view.get('/usr/lib/os-release')).toMatchObject({ content: Buffer.from('ID=d'), truncated: true });
    expect(new DirectoryView(root).get('/usr/lib/os-release')?.truncated).toBeUndefined();
  });
});

describe('DirectoryView.glob', () => {
  it('matches regular files by real path, dot files included, sorted; symlinks are not listed', () => {
    const view = new DirectoryView(root);
    expect(view.glob('/var/lib/dpkg/status.d/*').map((f) => f.path)).toEqual(['/var/lib/dpkg/status.d/.hidden', '/var/lib/dpkg/status.d/a']);
  });

  it('does not descend through symlinked directories', () => {
    const view = new DirectoryView(root);
    expect(view.glob('/lib/*')).toEqual([]);
    expect(view.glob('/escape/**')).toEqual([]);
    expect(view.glob('**/os-release').map((f) => f.path)).toEqual(['/usr/lib/os-release']);
  });

  it('accepts exact paths, braces and globstars', () => {
    const view = new DirectoryView(root);
    expect(view.glob('/var/lib/dpkg/status').map((f) => f.path)).toEqual(['/var/lib/dpkg/status']);
    expect(view.glob('/usr/{bin,lib}/*').map((f) => f.path)).toEqual(['/usr/bin/tool', '/usr/lib/os-release']);
    expect(view.glob('/var/**/a').map((f) => f.path)).toEqual(['/var/lib/dpkg/status.d/a']);
  });
});
