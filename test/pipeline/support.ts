/**
 * What the pipeline tests share: a small Debian 12 image in three layers pushed to the real
 * local registry, the ECR push event of events/ecr-push.json rewritten to name it, and an OSV
 * advisory that affects one of its packages.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseOsvRecord } from '../../shared/advisories/osv.js';
import type { Advisory } from '../../shared/advisories/types.js';
import { OS_RELEASE_12, stanza, statusFile } from '../integration/helpers.js';
import { buildImage, pushToRegistry, type LayerSpec } from '../support/image-builder.js';

export const REPOSITORY = 'team/api';

export function debianLayers(extra: LayerSpec[] = []): LayerSpec[] {
  return [
    { files: [{ path: 'etc/os-release', content: OS_RELEASE_12 }, { path: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n' }] },
    {
      files: [
        {
          path: 'var/lib/dpkg/status',
          content: statusFile(
            stanza('zlib1g', '1:1.2.13.dfsg-1', { Source: 'zlib' }),
            stanza('libssl3', '3.0.11-1~deb12u2', { Source: 'openssl' }),
            stanza('tzdata', '2024a-0+deb12u1'),
          ),
        },
      ],
    },
    { files: [{ path: 'app/README', content: 'the application layer\n' }] },
    ...extra,
  ];
}

/** Builds and pushes `repository:tag`; returns the pushed manifest digest. */
export async function pushImage(work: string, host: string, tag: string, layers: LayerSpec[] = debianLayers(), repository = REPOSITORY): Promise<string> {
  const layout = join(work, `layout-${tag}`);
  await buildImage(layout, { tag, layers });
  const pushed = await pushToRegistry(layout, tag, { host }, `${repository}:${tag}`);
  return pushed.digest;
}

export function pushEvent(digest: string, tag: string, repository = REPOSITORY, id = `evt-${digest.slice(7, 19)}-${tag}`): Record<string, unknown> & { id: string; detail: Record<string, string> } {
  const event = JSON.parse(readFileSync(new URL('../../events/ecr-push.json', import.meta.url), 'utf8'));
  event.id = id;
  event.detail['repository-name'] = repository;
  event.detail['image-digest'] = digest;
  event.detail['image-tag'] = tag;
  return event;
}

/** A Debian:12 OSV advisory for zlib, fixed in 1:1.2.13.dfsg-1+deb12u1 (so the image is affected). */
export function zlibAdvisory(id = 'DEBIAN-CVE-2099-0001', fixed = '1:1.2.13.dfsg-1+deb12u1', severity?: string): Advisory {
  const { advisory } = parseOsvRecord(
    {
      schema_version: '1.6.0',
      id,
      aliases: [id.replace(/^DEBIAN-/, '')],
      modified: '2026-11-20T00:00:00Z',
      published: '2026-11-01T00:00:00Z',
      summary: 'zlib: a test vulnerability',
      affected: [{ package: { ecosystem: 'Debian:12', name: 'zlib' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }], ...(severity ? { ecosystem_specific: { urgency: severity } } : {}) }],
      ...(severity ? { database_specific: { severity } } : {}),
    },
    `${id}.json`,
  );
  if (!advisory) throw new Error('test advisory did not parse');
  return advisory;
}
