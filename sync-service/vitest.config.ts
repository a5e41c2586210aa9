import { defineConfig } from 'vitest/config';

// The workspace's own suite: every database-backed file runs against SQLite and PostgreSQL (see src/test/databases.ts).
// eslint-disable-next-line no-restricted-syntax -- vitest loads its config through a default export.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
