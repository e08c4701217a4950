/**
 * RegistryApi in memory (the twin of adapters/aws/ecr-registry.ts) for the CLI and tests: the
 * repositories and images it is given, listed in pages the way ECR pages them (the page size
 * is settable so callers' paging is exercised), tagged images only.
 */
import type { RegistryApi, RegistryImage, RegistryRepository } from '../../ports/stores.js';

export class MemoryRegistryApi implements RegistryApi {
  private readonly repos = new Map<string, { registryId: string; images: Map<string, RegistryImage> }>();
  /** the pages read by the listings, for tests */
  pagesRead = 0;

  constructor(
    private readonly registryId = '123456789012',
    private readonly pageSize = 1000,
  ) {}

  /** Adds (or replaces) an image; its repository is created when new. Untagged images are kept but never listed. */
  push(repository: string, digest: string, tags: string[] = []): this {
    let r = this.repos.get(repository);
    if (!r) this.repos.set(repository, (r = { registryId: this.registryId, images: new Map() }));
    r.images.set(digest, { repository, registryId: r.registryId, digest, tags: [...tags] });
    return this;
  }

  createRepository(repository: string): this {
    if (!this.repos.has(repository)) this.repos.set(repository, { registryId: this.registryId, images: new Map() });
    return this;
  }

  delete(repository: string, digest: string): void {
    this.repos.get(repository)?.images.delete(digest);
  }

  async imageExists(repository: string, digest: string): Promise<boolean | undefined> {
    return this.repos.get(repository)?.images.has(digest) ?? false;
  }

  async *listRepositories(): AsyncIterable<RegistryRepository> {
    const all = [...this.repos.entries()].map(([name, r]) => ({ name, registryId: r.registryId }));
    yield* this.paged(all);
  }

  async *listImages(repository: string): AsyncIterable<RegistryImage> {
    const r = this.repos.get(repository);
    if (!r) throw Object.assign(new Error(`repository ${repository} not found`), { name: 'RepositoryNotFoundException' });
    yield* this.paged([...r.images.values()].filter((i) => i.tags.length > 0).map((i) => structuredClone(i)));
  }

  private async *paged<T>(all: T[]): AsyncIterable<T> {
    let i = 0;
    do {
      this.pagesRead++;
      // a page boundary is an await, as a real next-token request is
      await Promise.resolve();
      yield* all.slice(i, i + this.pageSize);
      i += this.pageSize;
    } while (i < all.length);
  }
}
