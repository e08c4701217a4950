// @ts-check
/**
 * The lint gate (`npm run lint`, part of `npm test`): no promise may go unobserved. An unhandled
 * rejection fails a whole Lambda batch (and a test run), so every promise is awaited, returned,
 * or given a `.catch` that handles its error on purpose — `void` alone is not enough where a
 * rejection is possible. Only these promise rules run: type-aware, through the TypeScript
 * project service (tsconfig.json for the .ts files, a default project for the few .mjs).
 */
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['**/node_modules/**', 'dist/**', 'cdk.out/**', 'coverage/**', '.drydock/**', '.scratch*/**', 'test/fixtures/**'],
  },
  {
    files: ['{shared,functions,infra,scripts,bin,bench,test}/**/*.{ts,mts,js,mjs}', '*.config.{ts,js}'],
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: {
        // The .mjs files (and this one) are outside tsconfig.json: a default project types them
        // (no '**' allowed there; the count limit is raised from 8 for these few).
        projectService: {
          allowDefaultProject: ['scripts/*.mjs', 'bin/*.mjs', 'bench/*.mjs', 'test/*.mjs', 'test/*/*.mjs', 'eslint.config.js'],
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 24,
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      // A promise-valued statement must be awaited, returned, or handled with .catch/.then(_, f).
      // `void p` is accepted only as a statement of intent on a promise that cannot reject:
      // everything else gets a .catch that says what happens to the error.
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: false, ignoreIIFE: false }],
      // No promise where a boolean or a void callback is expected (an `async` listener's
      // rejection is nobody's: EventEmitter, setTimeout, Array.forEach do not await it).
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: true, attributes: false, properties: true, returns: true, variables: true } }],
      // `await` of a non-promise, usually a missing call or a wrong type: cheap and precise.
      '@typescript-eslint/await-thenable': 'error',
    },
  },
);
