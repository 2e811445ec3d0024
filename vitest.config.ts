import { defineConfig } from 'vitest/config';

/**
 * Three projects:
 * - `unit`: pure functions, no database, no processes (`npm run test:unit` answers in seconds);
 * - `integration`: a real PostgreSQL started once per project, real Socket.IO, real worker and
 *   web-server processes; files in parallel (each has its own database and its own ports), since most
 *   of their time is spent waiting on processes, heartbeats and timers;
 * - `heavy`: the files that load the machine (a million cells, 200,000-cell cancels, stalled
 *   readers) or time it; one at a time, after the others (`sequence.groupOrder`), so that neither
 *   slows the other past a bound.
 * Processes the tests start never read a developer's .env (lib/config.ts).
 */
const NO_DOTENV = { FINISH_LINE_DOTENV: '0' };

const HEAVY = [
  'tests/integration/fan-out.test.ts',
  'tests/integration/join-limits.test.ts',
  'tests/integration/replay.test.ts',
  'tests/integration/slow-reader.test.ts',
  'tests/integration/pool-drain.test.ts',
  'tests/integration/cancel-large.test.ts',
  'tests/integration/many-viewers.test.ts',
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
    maxWorkers: 4,
    projects: [
      {
        test: {
          name: 'unit',
          env: NO_DOTENV,
          include: ['tests/unit/**/*.test.ts'],
          testTimeout: 30_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          ...integration,
          include: ['tests/integration/**/*.test.ts'],
          exclude: HEAVY,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'heavy',
          ...integration,
          include: HEAVY,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
