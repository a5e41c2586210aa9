// Layering rules from docs/STYLE: imports flow one way, and each native library has one home.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const restrict = (patterns, message) => ({ group: patterns, message });

const NATIVE = [
  restrict(['better-sqlite3'], 'better-sqlite3 lives in app/catalog only.'),
  restrict(['sharp', 'fluent-ffmpeg'], 'sharp and ffmpeg live in app/media only.'),
  restrict(['flexsearch'], 'flexsearch lives in app/search only.'),
  restrict(['chokidar'], 'chokidar lives in app/watch only.'),
  restrict(['@aws-sdk/*'], 'The AWS SDK lives in app/cloud only.'),
];
const NOT_ELECTRON = restrict(['electron', 'electron/*'], 'app/ is plain Node: it never imports electron.');
const NOT_UPPER = restrict(
  ['**/main/**', '**/preload/**', '**/renderer/**', '**/sync-service/**', '../main/*', '../preload/*', '../renderer/*'],
  'app/ never imports main/, preload/, renderer/ or sync-service/.',
);

/** Native-library rules for everything except the one module allowed to use that library. */
function nativeExcept(allowed) {
  return NATIVE.filter((rule) => !rule.group.some((name) => allowed.includes(name)));
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.bench/**', '**/node_modules/**', 'sync-service/dist/**', 'renderer/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Named exports only.' },
      ],
    },
  },
  {
    files: ['app/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NOT_ELECTRON, NOT_UPPER, ...NATIVE] }] },
  },
  {
    files: ['app/catalog/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NOT_ELECTRON, NOT_UPPER, ...nativeExcept(['better-sqlite3'])] }] },
  },
  {
    files: ['app/media/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NOT_ELECTRON, NOT_UPPER, ...nativeExcept(['sharp', 'fluent-ffmpeg'])] }] },
  },
  {
    files: ['app/search/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NOT_ELECTRON, NOT_UPPER, ...nativeExcept(['flexsearch'])] }] },
  },
  {
    files: ['app/watch/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NOT_ELECTRON, NOT_UPPER, ...nativeExcept(['chokidar'])] }] },
  },
  {
    files: ['app/cloud/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NOT_ELECTRON, NOT_UPPER, ...nativeExcept(['@aws-sdk/*'])] }] },
  },
  {
    // Fixtures and benchmarks build real media and real catalogs: they may use any native library.
    files: ['app/test/**/*.ts', 'app/**/*.test.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NOT_ELECTRON, NOT_UPPER] }], 'no-console': 'off' },
  },
  {
    files: ['app/cli/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['renderer/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            restrict(['node:*', 'fs', 'path', 'child_process', 'os', 'electron', 'better-sqlite3', 'sharp'], 'The renderer is a web app: reach the engine through window.keepsake.'),
            restrict(['**/app/!(ipc|shared)/**'], 'The renderer may import app/ipc (contract types) and app/shared (pure) only.'),
            // A regex too: gitignore-style groups never match specifiers that start with "../".
            { regex: '(^|/)app/(?!(ipc|shared)/)', message: 'The renderer may import app/ipc (contract types) and app/shared (pure) only.' },
          ],
        },
      ],
    },
  },
  {
    // The renderer's build and test configuration run in Node, not in the window.
    files: ['renderer/build.ts', 'renderer/vitest.config.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['preload/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            restrict(['**/app/!(ipc|shared)/**'], 'The preload sees only the contract in app/ipc.'),
            { regex: '(^|/)app/(?!(ipc|shared)/)', message: 'The preload sees only the contract in app/ipc.' },
            restrict(['node:*', 'fs', 'path', 'child_process', 'os', 'zod', ...NATIVE.flatMap((rule) => rule.group)], 'A sandboxed preload has no Node and bundles no library: it imports electron and contract types only.'),
          ],
        },
      ],
    },
  },
  {
    // The engine runs in its utility process; main talks to it through app/ipc/engine-channel.ts and never loads it.
    files: ['main/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...NATIVE,
            {
              // A regex, because gitignore-style groups never match specifiers that start with "../".
              regex: '(^|/)app/(engine\\.ts$|(catalog|media|ingest|jobs|search|watch|cloud|web-host|cli)/|ipc/(dispatcher|engine-process|library-holder|media)\\.ts$)',
              message: 'main/ talks to the engine process; it never loads the engine itself.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['main/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[object.name='ipcMain'][property.name=/^(handle|on|once)$/]", message: 'Register IPC handlers through the contract wrapper only.' },
      ],
    },
  },
  {
    files: ['bin/**/*.mjs', 'scripts/**/*.{js,mjs}'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    files: ['*.config.{js,ts}', 'eslint.config.js'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
