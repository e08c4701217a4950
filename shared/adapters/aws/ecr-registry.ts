/**
 * RegistryApi on Amazon ECR: tells "the image was deleted" apart from other not-found answers
 * the registry API gives (a manifest 404 can also mean a wrong reference or a missing
 * permission), so a deleted image is recorded as deleted instead of failed.
 *
 * DescribeImages for the one digest: an answer means it exists; ImageNotFoundException or
 * RepositoryNotFoundException mean it does not (a deleted repository deletes its images).
 * An answer without image details is "cannot tell" (undefined). Any other failure is thrown as the core's error (the caller decides; the pipeline treats a
 * throw as "cannot tell").
 *
 * Listing (the reconciliation): DescribeRepositories and DescribeImages (filter tagStatus
 * TAGGED), each paged through with nextToken; a page size is asked for, and a page limit bounds
 * a registry that would never stop answering with a next token.
 */
import { DescribeImagesCommand, DescribeRepositoriesCommand, type ECRClient } from '@aws-sdk/client-ecr';
import { DrydockError } from '../../errors.js';
import type { RegistryApi, RegistryImage, RegistryRepository } from '../../ports/stores.js';
import { awsError } from './errors.js';

const GONE = new Set(['ImageNotFoundException', 'RepositoryNotFoundException']);

/** DescribeRepositories and DescribeImages take at most 1,000 results per page. */
const PAGE_SIZE = 1000;
/** Pages read per listing before giving up: 10,000 pages of 1,000 is far past any real registry. */
const MAX_PAGES = 10_000;

export class EcrRegistryApi implements RegistryApi {
  constructor(
    private readonly client: ECRClient,
    /** the registry (account) whose repositories are listed; unset: the caller's own */
    private readonly registryId?: string,
  ) {}

  async *listRepositories(): AsyncIterable<RegistryRepository> {
    let nextToken: string | undefined;
    for (let page = 1; ; page++) {
      let res;
      try {
        res = await this.client.send(new DescribeRepositoriesCommand({ maxResults: PAGE_SIZE, ...(nextToken ? { nextToken } : {}), ...(this.registryId ? { registryId: this.registryId } : {}) }));
      } catch (e) {
        throw awsError(e, 'ECR DescribeRepositories');
      }
      for (const r of res.repositories ?? []) {
        if (r.repositoryName && r.registryId) yield { name: r.repositoryName, registryId: r.registryId };
      }
      nextToken = res.nextToken;
      if (!nextToken) return;
      if (page >= MAX_PAGES) throw new DrydockError('LIMIT_EXCEEDED', `ECR DescribeRepositories: more than ${MAX_PAGES} pages (limit MAX_PAGES)`);
    }
  }

  async *listImages(repository: string): AsyncIterable<RegistryImage> {
    let nextToken: string | undefined;
    for (let page = 1; ; page++) {
      let res;
      try {
        res = await this.client.send(
          new DescribeImagesCommand({
            repositoryName: repository,
            filter: { tagStatus: 'TAGGED' },
            maxResults: PAGE_SIZE,
            ...(nextToken ? { nextToken } : {}),
            ...(this.registryId ? { registryId: this.registryId } : {}),
          }),
        );
      } catch (e) {
        // deleted since it was listed: it has no images
        if ((e as { name?: string })?.name === 'RepositoryNotFoundException') return;
        throw awsError(e, `ECR DescribeImages ${repository}`);
      }
      for (const d of res.imageDetails ?? []) {
        if (!d.imageDigest || !d.registryId) continue;
        yield {
          repository: d.repositoryName ?? repository,
          registryId: d.registryId,
          digest: d.imageDigest,
          tags: d.imageTags ?? [],
          ...(d.imagePushedAt ? { pushedAt: new Date(d.imagePushedAt).toISOString() } : {}),
        };
      }
      nextToken = res.nextToken;
      if (!nextToken) return;
      if (page >= MAX_PAGES) throw new DrydockError('LIMIT_EXCEEDED', `ECR DescribeImages ${repository}: more than ${MAX_PAGES} pages (limit MAX_PAGES)`);
    }
  }

  async imageExists(repository: string, digest: string, registryId?: string): Promise<boolean | undefined> {
    try {
      const res = await this.client.send(
        new DescribeImagesCommand({ repositoryName: repository, imageIds: [{ imageDigest: digest }], ...(registryId ? { registryId } : {}) }),
      );
      // ECR answers a missing digest with ImageNotFoundException, never with an empty list: an
      // empty answer is something we do not understand, so "cannot tell".
      return res.imageDetails?.length ? true : undefined;
    } catch (e) {
      if (GONE.has((e as { name?: string })?.name ?? '')) return false;
      throw awsError(e, `ECR DescribeImages ${repository}@${digest}`);
    }
  }
}
