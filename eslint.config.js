// Lint for src/, test/, bench/, scripts/ and ui/ (the dashboard's browser modules): ESLint's and typescript-eslint's
// recommended rules, formatting left to prettier, and lines kept readable (≤ 120 characters; long strings and URLs
// may run on).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'bench/.build/',
      'bench/results/',
      '.runtime/',
      'node_modules/',
      'test/limbo/data/',
      // AWS's example authorizer, kept as AWS wrote it.
      'test/gateway/lambda/aws-request-authorizer.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { globals: { ...globals.node } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Sanitizers and parsers match control characters on purpose (log fields, curl lines, PEM armour).
      'no-control-regex': 'off',
      // A user error replaces what failed underneath with one line that names the thing; chaining the cause would
      // bring the library's message back into logs and output.
      'preserve-caught-error': 'off',
      'max-len': [
        'error',
        { code: 120, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      // See src/node-http.ts: ESM's import of these loads Node's bundled undici in every isolate.
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: ['node:http', 'http', 'node:http2', 'http2'].map((name) => ({
            name,
            message: "use { http } from src/node-http.ts (ESM's import loads Node's bundled undici)",
            allowTypeImports: true,
          })),
        },
      ],
    },
  },
  {
    files: ['ui/**/*.js'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      // Text from certificates reaches the page only as text nodes (ui/view.js): no markup sinks at all.
      'no-restricted-properties': [
        'error',
        { property: 'innerHTML', message: 'use el()/textContent: certificate text may hold markup' },
        { property: 'outerHTML', message: 'use el()/textContent: certificate text may hold markup' },
        { property: 'insertAdjacentHTML', message: 'use el()/textContent: certificate text may hold markup' },
      ],
    },
  },
);
