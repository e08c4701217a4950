/**
 * RegistryApi on Amazon ECR: tells "the image was deleted" apart from other not-found answers
 * the registry API gives (a manifest 404 can also mean a wrong reference or a missing
 * permission), so a deleted image is recorded as deleted instead of failed.
 *
 * DescribeImages for the one digest: an answer means it exists; ImageNotFoundException or
 * RepositoryNotFoundException mean it does not (a deleted repository deletes its images).
 * An answer without image details is "cannot tell" (undefined). Any other failure is thrown as the core's error (the caller decides; the pipeline treats a
 * throw as "cannot tell").
 */
import { DescribeImagesCommand, type ECRClient } from '@aws-sdk/client-ecr';
import type { RegistryApi } from '../../ports/stores.js';
import { awsError } from './errors.js';

const GONE = new Set(['ImageNotFoundException', 'RepositoryNotFoundException']);

export class EcrRegistryApi implements RegistryApi {
  constructor(private readonly client: ECRClient) {}

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
