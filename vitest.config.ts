import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` (pure functions, no database, no processes: `npm run test:unit` answers in
 * seconds) and `integration` (a real PostgreSQL started once for the run, real Socket.IO and real
 * worker and web-server processes). Processes the tests start never read a developer's .env
 * (lib/config.ts).
 */
const NO_DOTENV = { FINISH_LINE_DOTENV: '0' };

export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          env: NO_DOTENV,
          include: ['tests/unit/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          env: NO_DOTENV,
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
