import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` (pure functions, no database, no processes: `npm run test:unit` answers in
 * seconds); `integration` (a real PostgreSQL started once for the project, real Socket.IO and real
 * worker and web-server processes), one file at a time.
 * Processes the tests start never read a developer's .env (lib/config.ts).
 */
const NO_DOTENV = { FINISH_LINE_DOTENV: '0' };

const integration = {
  env: NO_DOTENV,
  globalSetup: ['tests/setup/postgres.ts'],
  testTimeout: 90_000,
  hookTimeout: 90_000,
};

export default defineConfig({
  test: {
    reporters: ['default'],
    maxWorkers: 3,
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
          ...integration,
          include: ['tests/integration/**/*.test.ts'],
          // One file at a time: on 2 cores, files in parallel raced for ports and slipped timers.
          fileParallelism: false,
        },
      },
    ],
  },
});
