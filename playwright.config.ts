import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, findChromium } from './tests/e2e/chromium';
import { E2E_PG_DATA_DIR } from './tests/e2e/database-url';
import { E2E_WORKER_TOKEN } from './tests/e2e/worker-token';

const executablePath = findChromium();
const port = Number(process.env.E2E_PORT ?? 3100);

export default defineConfig({
  testDir: 'tests/e2e',
  outputDir: 'test-results/e2e',
  timeout: 120_000,
  expect: { timeout: 30_000 },
  // Two files at a time against the one app: most of a test is waiting for cells to land. The
  // dashboard's tests pause every worker and read the queue's counts, so they run alone, last.
  fullyParallel: false,
  workers: 2,
  projects: [
    { name: 'pages', testIgnore: /dashboard\.spec\.ts$/ },
    { name: 'dashboard', testMatch: /dashboard\.spec\.ts$/, dependencies: ['pages'] },
  ],
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'test-results/e2e-report' }]],
  use: {
    baseURL: `http://localhost:${port}`,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath,
      args: CHROMIUM_ARGS,
    },
  },
  // The whole app as `npm start` runs it: embedded PostgreSQL (its own data folder and port), the
  // web server and two worker processes.
  webServer: {
    command: 'node --import tsx scripts/start.ts',
    url: `http://localhost:${port}/healthz`,
    timeout: 240_000,
    reuseExistingServer: false,
    stdout: 'ignore',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 30_000 },
    env: {
      PORT: String(port),
      FINISH_LINE_DOTENV: '0',
      WORKERS: '2',
      LOG_LEVEL: 'warn',
      PG_DATA_DIR: E2E_PG_DATA_DIR,
      // Below Linux's ephemeral range (32768–60999): no outgoing connection can be sitting on it.
      PG_PORT: process.env.E2E_PG_PORT ?? '25439',
      // Every test starts batches from 127.0.0.1; the limits themselves are tested in integration.
      BATCHES_PER_MINUTE: '1000000',
      RUNNING_BATCHES_PER_CLIENT: '1000000',
      // The lease API, for the worker in another language (lease-worker.spec.ts).
      WORKER_TOKEN: E2E_WORKER_TOKEN,
      ...(process.env.E2E_DATABASE_URL ? { DATABASE_URL: process.env.E2E_DATABASE_URL } : {}),
    },
  },
});
