import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` (pure functions, no database, no processes: `npm run test:unit` answers in
 * seconds) and `integration` (a real PostgreSQL started once for the run, real Socket.IO and real
 * worker and web-server processes).
 */
export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          globalSetup: ['tests/setup/postgres.ts'],
          // Integration tests start real worker and web-server processes; on a 2-core machine one
          // file at a time keeps them from starving each other.
          fileParallelism: false,
          testTimeout: 90_000,
          hookTimeout: 90_000,
        },
      },
    ],
  },
});
