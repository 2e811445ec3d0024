import { defineConfig } from 'vitest/config';

/**
 * Three projects: `unit` (pure functions, no database, no processes: `npm run test:unit` answers in
 * seconds); `integration` (a real PostgreSQL started once for the project, real Socket.IO and real
 * worker and web-server processes); and `timed`, the integration files
 * that measure time, memory or throughput, which run afterwards, one at a time, on a quiet machine.
 * Processes the tests start never read a developer's .env (lib/config.ts).
 */
const NO_DOTENV = { FINISH_LINE_DOTENV: '0' };

/** Files whose assertions are about time, memory or load (kept for when files run in parallel again). */
const TIMED = [
  'tests/integration/pool-drain.test.ts',
  'tests/integration/join-limits.test.ts',
  'tests/integration/cancel-large.test.ts',
  'tests/integration/replay.test.ts',
  'tests/integration/fan-out.test.ts',
  'tests/integration/many-viewers.test.ts',
  'tests/integration/listen-recovery.test.ts',
  'tests/integration/faults-postgres.test.ts',
  // These wait on timers (pg-boss's monitor, missed heartbeats, a whole `npm start`) that a loaded
  // machine lets slip.
  'tests/integration/dashboard.test.ts',
  'tests/integration/start-script.test.ts',
];

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
