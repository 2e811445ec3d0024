import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { E2E_WORKER_TOKEN } from './worker-token';

// A worker in another language beside the built-in TypeScript workers: examples/python/worker.py,
// unchanged, leases cells over HTTP while the app's own two workers fetch theirs, and the page's
// "Colour by worker" shows who painted what (the screenshot is kept).

const SCRIPT = fileURLToPath(new URL('../../examples/python/worker.py', import.meta.url));
const hasPython = spawnSync('python3', ['--version']).status === 0;
const ROWS = 24;
const COLS = 32;

test.skip(!hasPython, 'python3 is not installed');

test('a Python worker and the TypeScript workers paint one batch together, coloured by worker', async ({ page, baseURL }, testInfo) => {
  const python = spawn('python3', [SCRIPT], {
    env: { ...process.env, FINISH_LINE_URL: baseURL!, WORKER_TOKEN: E2E_WORKER_TOKEN, WORKER_NAME: 'python', MAX: '8' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let said = '';
  python.stdout.on('data', (chunk) => (said += chunk));
  python.stderr.on('data', (chunk) => (said += chunk));
  try {
    // Simulated work (50 ms a cell) keeps the built-in workers busy for seconds; the Python worker
    // leases alongside them (it paints a colour at once: workMs is the built-in workers' demo knob).
    const created = await page.request.post('/api/batches', { data: { rows: ROWS, cols: COLS, workMs: 50 } });
    expect(created.status()).toBe(201);
    const { id } = (await created.json()) as { id: string };
    await page.goto(`/batches/${id}`);
    await page.getByLabel('Colour by worker').check();
    await expect(page.getByTestId('banner')).toContainText(`All ${(ROWS * COLS).toLocaleString('en-US')} cells finished`, {
      timeout: 90_000,
    });

    const workers = await page
      .getByTestId('worker-legend')
      .locator('li')
      .evaluateAll((items) =>
        items.map((li) => ({ worker: (li as HTMLElement).dataset.worker ?? '', count: Number((li as HTMLElement).dataset.count) })),
      );
    expect(workers.find((w) => w.worker === 'lease-python')?.count ?? 0, `the Python worker said:\n${said}`).toBeGreaterThan(0);
    expect(workers.filter((w) => w.worker !== 'lease-python').reduce((n, w) => n + w.count, 0)).toBeGreaterThan(0);
    expect(workers.reduce((n, w) => n + w.count, 0)).toBe(ROWS * COLS);

    const screenshot = await page.screenshot({ path: testInfo.outputPath('python-and-typescript-workers.png'), fullPage: true });
    await testInfo.attach('python-and-typescript-workers', { body: screenshot, contentType: 'image/png' });
  } finally {
    python.kill('SIGTERM');
  }
});
