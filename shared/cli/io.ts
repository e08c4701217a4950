/** What every command is given, and the exit codes they answer with. Loads nothing. */

export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  /** standard input, for --password-stdin (defaults to process.stdin) */
  stdin?: NodeJS.ReadableStream;
  /** the directory ./drydock.yaml is looked for in (defaults to process.cwd()) */
  cwd?: string;
}

/**
 * Exit codes. 1 (policy fail) and 2 (policy warn) are reserved for the policy engine; 4: a gate
 * (--fail-on, --exit-code, a --policy bundle with vulnerabilities rules) ran over advisory data
 * that does not cover an ecosystem of the image, or is older than --max-advisory-age: it cannot pass.
 */
export const EXIT = { ok: 0, fail: 1, warn: 2, scanError: 3, dataMissing: 4, usage: 64 } as const;

/** A usage error: said in one line with one usage line after it, exit 64. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usageLine?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}
