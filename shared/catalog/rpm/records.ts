/** What every rpm database reader hands back: the header blobs it found, and its problems. */

/** One package record: its header blob and where in the database it was. */
export interface HeaderRecord {
  /** e.g. "record 42" (the rpm header instance number), for messages */
  where: string;
  blob: Uint8Array;
}

export interface DatabaseRead {
  records: HeaderRecord[];
  /** problems met, each with enough context to find the place; the records read are still good */
  problems: string[];
}

/** Most problems one database file contributes one by one; the rest are only counted. */
export const MAX_PROBLEMS = 10;

/** Collects records and problems, keeping at most MAX_PROBLEMS messages. */
export class DatabaseReadBuilder {
  readonly records: HeaderRecord[] = [];
  private readonly problems: string[] = [];
  private dropped = 0;

  record(where: string, blob: Uint8Array): void {
    this.records.push({ where, blob });
  }

  problem(message: string): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(message);
    else this.dropped++;
  }

  result(): DatabaseRead {
    const problems = [...this.problems];
    if (this.dropped > 0) problems.push(`${this.dropped} more problems not listed`);
    return { records: this.records, problems };
  }
}
