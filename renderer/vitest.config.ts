import { defineConfig } from 'vitest/config';

/** Stores and components run in happy-dom; the real-browser tests live with the web host in app/. */
export const config = defineConfig({
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.test.{ts,tsx}'],
    testTimeout: 10_000,
  },
  esbuild: { jsx: 'automatic' },
});

export { config as default };
