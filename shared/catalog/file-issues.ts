import type { CatalogResult, ViewFile } from './types.js';

/** Per file, this many problems are listed one by one; the rest are counted in one closing issue. */
export const MAX_ISSUES_PER_FILE = 10;

/**
 * The issues a cataloger has with one file: each names the file and its layer; after the
 * first MAX_ISSUES_PER_FILE, `close()` adds one line counting the rest, so a damaged file
 * cannot flood a report.
 */
export class FileIssues {
  private count = 0;

  constructor(
    private readonly cataloger: string,
    private readonly file: ViewFile,
    private readonly out: CatalogResult,
    /** what the overflow line counts, e.g. "malformed stanzas" */
    private readonly what: string,
  ) {}

  add(message: string): void {
    if (++this.count <= MAX_ISSUES_PER_FILE) this.push(message);
  }

  get total(): number {
    return this.count;
  }

  close(): void {
    if (this.count > MAX_ISSUES_PER_FILE) this.push(`${this.count - MAX_ISSUES_PER_FILE} more ${this.what} not listed`);
  }

  private push(message: string): void {
    this.out.issues.push({ cataloger: this.cataloger, path: this.file.path, layer: this.file.layer, message });
  }
}

/** A file's text as UTF-8, without a byte-order mark. */
export function textOf(file: ViewFile): string {
  return file.content.toString('utf8').replace(/^\uFEFF/, '');
}
