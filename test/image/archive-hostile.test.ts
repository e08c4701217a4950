/**
 * Hostile archives and layouts (issue 14): the archive index of oci-archive / docker-archive
 * tars bounds its headers and refuses impossible sizes naming the member; an OCI layout's
 * files are read only inside its directory.
 */
import { mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrydockError } from '../../shared/errors.js';
import { openSource } from '../../shared/image/open.js';
import { TarIndex } from '../../shared/image/tar-index.js';
import { scanImage } from '../../shared/scan.js';
import { gnuLong, hostileImage, paxHeader, tarEnd, tarFile, tarHeader, writeRawTar } from '../support/hostile-layers.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'drydock-archive-hostile-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<DrydockError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(DrydockError);
  return e as DrydockError;
}

describe('archive tar index', () => {
  it('a member with a negative size is refused naming it (no endless loop)', async () => {
    const path = join(work, 'neg.tar');
    await writeRawTar(path, [tarFile('oci-layout', '{}'), tarHeader({ name: 'index.json', size: Buffer.alloc(12, 0xff) }), Buffer.alloc(1024, 1), tarEnd()]);
    const e = await rejection(openSource(`oci-archive:${path}`));
    expect(e.code).toBe('SOURCE_UNREADABLE');
    expect(e.message).toContain('"index.json"');
    expect(e.message).toContain('negative');
  });

  it('a member with a garbage size field is refused naming it', async () => {
    const path = join(work, 'junk.tar');
    await writeRawTar(path, [tarHeader({ name: 'manifest.json', size: Buffer.from('9z9z9z9z9z9\0') }), tarEnd()]);
    const e = await rejection(TarIndex.open(path));
    expect(e.message).toContain('"manifest.json"');
  });

  it('a 2 MiB GNU long name is refused before it is read, and so is a 2 MiB PAX header', async () => {
    const long = join(work, 'long.tar');
    await writeRawTar(long, [gnuLong('L', 'n'.repeat(2 * 1024 * 1024)), tarFile('x', 'y'), tarEnd()]);
    const e = await rejection(TarIndex.open(long));
    expect(e.code).toBe('LIMIT_EXCEEDED');
    expect(e.message).toContain('MAX_ARCHIVE_HEADER_BYTES');
    const pax = join(work, 'pax.tar');
    await writeRawTar(pax, [paxHeader([['comment', 'c'.repeat(2 * 1024 * 1024)]]), tarFile('x', 'y'), tarEnd()]);
    expect((await rejection(TarIndex.open(pax))).message).toContain('MAX_ARCHIVE_HEADER_BYTES');
  });

  it('a directory member with a non-zero size is header-only: the next member is still indexed', async () => {
    const path = join(work, 'dir.tar');
    await writeRawTar(path, [tarHeader({ name: 'blobs/', type: '5', size: 4096 }), tarFile('oci-layout', '{"imageLayoutVersion":"1.0.0"}'), tarEnd()]);
    const index = await TarIndex.open(path);
    expect(index.names()).toEqual(['oci-layout']);
  });
});

describe('OCI layout directory', () => {
  it('index.json linked to a host file is refused without reading or echoing it', async () => {
    const dir = join(work, 'layout');
    await hostileImage(dir, [{ blob: Buffer.alloc(0), compression: 'none' }]);
    await unlink(join(dir, 'index.json'));
    const secret = join(work, 'secret.json');
    await writeFile(secret, 'root:x:0:0:TOPSECRET\n');
    await symlink(secret, join(dir, 'index.json'));
    const ref = `oci:${dir}`;
    const e = await rejection(openSource(ref).then((s) => scanImage(s, ref)));
    expect(e.code).toBe('SOURCE_UNREADABLE');
    expect(e.message).toContain('outside the layout directory');
    expect(e.message).not.toContain('TOPSECRET');
    expect(e.message).not.toContain('root:x');
  });

  it('a blob linked out of the layout is refused too', async () => {
    const dir = join(work, 'layout2');
    const built = await hostileImage(dir, [{ blob: Buffer.alloc(0), compression: 'none' }]);
    const [, hex] = built.configDigest.split(':');
    const blob = join(dir, 'blobs', 'sha256', hex!);
    await unlink(blob);
    await symlink('/etc/passwd', blob);
    const ref = `oci:${dir}:hostile`;
    const e = await rejection(openSource(ref).then((s) => scanImage(s, ref)));
    expect(e.message).toContain('outside the layout directory');
    expect(e.message).not.toContain('root:');
  });
});
