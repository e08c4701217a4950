import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    pool: 'forks',
    reporters: ['default'],
    // The default, stated: an unhandled rejection or uncaught exception during a test file's run
    // is reported under "Unhandled Errors" with its cause and fails the run (exit 1), even when
    // every test passed (see the Development table of docs/internals.md).
    dangerouslyIgnoreUnhandledErrors: false,
  },
});
