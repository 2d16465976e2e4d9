// Test runner settings: unit tests live beside their code, integration tests in test/.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{hub,agent,shared,test}/**/*.test.{ts,tsx}'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/support/temp-root.ts'],
  },
});
