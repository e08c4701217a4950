import { describe, expect, it } from 'vitest';
import { DrydockError } from '../../shared/errors.js';
import { apiHost, formatReference, isLoopbackHost, manifestReference, parseReference } from '../../shared/image/reference.js';
import { fullRepoTag } from '../../shared/image/docker-archive.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference: registry references', () => {
  it.each([
    ['nginx', 'docker.io', 'library/nginx', 'latest', undefined],
    ['nginx:1.27-alpine', 'docker.io', 'library/nginx', '1.27-alpine', undefined],
    ['bitnami/redis:7', 'docker.io', 'bitnami/redis', '7', undefined],
    ['docker.io/nginx', 'docker.io', 'library/nginx', 'latest', undefined],
    ['index.docker.io/library/nginx:1', 'docker.io', 'library/nginx', '1', undefined],
    [`nginx@${D}`, 'docker.io', 'library/nginx', undefined, D],
    [`nginx:1.27@${D}`, 'docker.io', 'library/nginx', '1.27', D],
    ['ghcr.io/org/team/app:v1.2.3', 'ghcr.io', 'org/team/app', 'v1.2.3', undefined],
    ['localhost/app', 'localhost', 'app', 'latest', undefined],
    ['localhost:5000/app:dev', 'localhost:5000', 'app', 'dev', undefined],
    ['127.0.0.1:5000/a/b_c/d-e.f:x', '127.0.0.1:5000', 'a/b_c/d-e.f', 'x', undefined],
    ['[::1]:5000/app:1', '[::1]:5000', 'app', '1', undefined],
  ])('%s', (input, registry, repository, tag, digest) => {
    const r = parseReference(input);
    expect(r).toMatchObject({ kind: 'registry', registry, repository, original: input });
    if (r.kind !== 'registry') throw new Error('registry expected');
    expect(r.tag).toBe(tag);
    expect(r.digest).toBe(digest);
  });

  it('recognises ECR private registries, FIPS and China regions', () => {
    expect(parseReference('123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:1.4')).toMatchObject({
      registry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
      repository: 'team/app',
      ecr: { accountId: '123456789012', region: 'eu-west-1', fips: false },
    });
    expect(parseReference('123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/app')).toMatchObject({ ecr: { region: 'us-gov-west-1', fips: true } });
    expect(parseReference('123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app')).toMatchObject({ ecr: { region: 'cn-north-1' } });
    expect(parseReference('public.ecr.aws/nginx/nginx:1')).not.toHaveProperty('ecr');
  });

  it('asks for the digest when there is one, and talks to registry-1.docker.io for Docker Hub', () => {
    const r = parseReference(`nginx:1@${D}`);
    if (r.kind !== 'registry') throw new Error('registry expected');
    expect(manifestReference(r)).toBe(D);
    expect(apiHost(r)).toBe('registry-1.docker.io');
    expect(formatReference(r)).toBe(`docker.io/library/nginx:1@${D}`);
  });

  it.each([
    ['', 'empty'],
    ['Nginx/App', 'repository name component'],
    ['nginx:', 'not a valid tag'],
    ['nginx:bad tag', 'not a valid tag'],
    ['nginx@sha256:abc', 'not a digest'],
    [`nginx@sha256:${'A'.repeat(64)}`, 'sha256 digest'],
    ['ghcr.io/', 'repository name is empty'],
    ['ghcr.io/a//b', 'repository name component'],
  ])('refuses %j with a message saying why', (input, why) => {
    let err: unknown;
    try {
      parseReference(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DrydockError);
    expect((err as DrydockError).code).toBe('BAD_REFERENCE');
    expect((err as DrydockError).message).toContain(why);
  });
});

describe('parseReference: local sources', () => {
  it.each([
    ['oci:/tmp/layout', 'oci', '/tmp/layout', undefined],
    ['oci:/tmp/layout:v1', 'oci', '/tmp/layout', 'v1'],
    ['oci:relative/dir:latest', 'oci', 'relative/dir', 'latest'],
    ['oci:/tmp/with:colon/layout:v2', 'oci', '/tmp/with:colon/layout', 'v2'],
    ['oci-archive:/tmp/image.tar', 'oci-archive', '/tmp/image.tar', undefined],
    ['oci-archive:/tmp/image.tar:v1', 'oci-archive', '/tmp/image.tar', 'v1'],
    ['docker-archive:/tmp/save.tar', 'docker-archive', '/tmp/save.tar', undefined],
    ['docker-archive:/tmp/save.tar:app:1.0', 'docker-archive', '/tmp/save.tar', 'app:1.0'],
    // the RepoTag is a whole docker reference, with "/" and ":" of its own
    ['docker-archive:/tmp/save.tar:docker.io/library/debian:bookworm', 'docker-archive', '/tmp/save.tar', 'docker.io/library/debian:bookworm'],
    ['docker-archive:save.tar:localhost:5000/team/app:1.0', 'docker-archive', 'save.tar', 'localhost:5000/team/app:1.0'],
  ])('%s', (input, kind, path, tag) => {
    const r = parseReference(input);
    expect(r).toMatchObject({ kind, path });
    expect('tag' in r ? r.tag : undefined).toBe(tag);
  });

  it('needs a path', () => {
    expect(() => parseReference('oci:')).toThrow(/needs a path/);
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['localhost:5000', true],
    ['127.0.0.1', true],
    ['127.8.9.10:443', true],
    ['[::1]:5000', true],
    ['10.0.0.1:5000', false],
    ['registry.example.com', false],
    ['localhost.example.com', false],
  ])('%s → %s', (host, loop) => {
    expect(isLoopbackHost(host)).toBe(loop);
  });
});

describe('docker-archive RepoTags in their full form (docker save writes familiar names, skopeo full ones)', () => {
  it.each([
    ['debian:bookworm', 'docker.io/library/debian:bookworm'],
    ['docker.io/library/debian:bookworm', 'docker.io/library/debian:bookworm'],
    ['docker.io/debian:bookworm', 'docker.io/library/debian:bookworm'],
    ['team/app', 'docker.io/team/app:latest'],
    ['localhost:5000/team/app:1.0', 'localhost:5000/team/app:1.0'],
    ['localhost/app:2', 'localhost/app:2'],
    ['ghcr.io/org/app:1', 'ghcr.io/org/app:1'],
  ])('%s → %s', (tag, full) => {
    expect(fullRepoTag(tag)).toBe(full);
  });
});
