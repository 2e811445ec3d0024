import { mkdir } from 'node:fs/promises';
import { expect, test, type Page } from '@playwright/test';
import pg from 'pg';
import { freePort } from '../../scripts/ports';
import { startWebServer } from '../helpers/processes';
import { e2eDatabaseUrl } from './database-url';

// The operator dashboard against the app as `npm start` runs it (two workers, w-1 and w-2).

const SCREENSHOT = 'test-results/e2e/dashboard.png';

const workerStatus = (page: Page, id: string) => page.getByTestId(`worker-${id}`).getByTestId('worker-status');
const done = async (db: pg.Client, batchId: string) =>
  (await db.query<{ done: number }>('select done from batches where id = $1', [batchId])).rows[0].done;
const count = async (page: Page, gauge: string) => Number(await page.getByTestId(`queue-${gauge}`).getAttribute('data-count'));

// Whatever happens in a test, intake is on again afterwards.
test.afterEach(async ({ page }) => {
  await page.goto('/dashboard');
  const resume = page.getByRole('button', { name: 'Resume intake' });
  await expect(page.getByTestId('intake-state')).toHaveText(/paused|running/);
  if (await resume.isVisible()) {
    await resume.click();
    await expect(page.getByTestId('intake-state')).toHaveText('running');
  }
});

test('the dashboard follows a 100×100 batch live: queue, workers, progress and chart; pause and resume from the page', async ({
  page,
  request,
}, testInfo) => {
  await page.goto('/');
  await page.getByRole('link', { name: 'Dashboard' }).click();
  await page.waitForURL(/\/dashboard$/);
  await expect(page.getByTestId('connection')).toHaveText('Connected');
  await expect(page.getByTestId('intake-state')).toHaveText('running');
  for (const id of ['w-1', 'w-2']) await expect(workerStatus(page, id)).toHaveText('alive');
  for (const gauge of ['queued', 'active', 'retrying', 'failed', 'deadLettered'])
    await expect(page.getByTestId(`queue-${gauge}`)).toHaveText(/^[≈\d]/);

  // Paused, every worker stops taking cell jobs, and the new batch waits in the queue.
  await page.getByRole('button', { name: 'Pause intake' }).click();
  await expect(page.getByTestId('intake-state')).toHaveText('paused');
  for (const id of ['w-1', 'w-2']) await expect(workerStatus(page, id)).toHaveText('paused');
  await expect(page.getByTestId('intake-summary')).toContainText('All 2 workers have stopped taking cell jobs');

  // A millisecond of simulated work per cell (the workMs extension) spreads the batch over a few
  // seconds of small recordings, so the test below can catch it part-way on any machine.
  const created = await request.post('/api/batches', { data: { rows: 100, cols: 100, workMs: 1 } });
  expect(created.status()).toBe(201);
  const batch = (await created.json()) as { id: string };
  const row = page.getByTestId(`batch-${batch.id}`);
  await expect(row.getByTestId('batch-status')).toHaveText('running');
  await expect(row.getByTestId('batch-progress')).toHaveText('0 / 10,000');
  await expect.poll(() => count(page, 'queued')).toBeGreaterThanOrEqual(10_000);
  await expect(row).toHaveAttribute('data-finished', '0');
  // The batch's own page says why nothing moves.
  const batchPage = await page.context().newPage();
  await batchPage.goto(`/batches/${batch.id}`);
  await expect(batchPage.getByTestId('intake-paused')).toContainText('An operator has paused intake');

  // Resumed, the workers paint it. They do that in a few seconds, and the page hears once a
  // second, so to be sure of a picture of the batch part-way, the test holds the batch's row lock
  // (as each worker's commit takes it) once the first cells are in: the workers go on painting and
  // queue their commits behind it until the screenshot is taken.
  const db = new pg.Client({ connectionString: await e2eDatabaseUrl() });
  await db.connect();
  try {
    await page.getByRole('button', { name: 'Resume intake' }).click();
    await expect(page.getByTestId('intake-state')).toHaveText('running');
    await expect.poll(() => done(db, batch.id), { intervals: [10] }).toBeGreaterThan(0);
    await db.query('begin');
    await db.query('select 1 from batches where id = $1 for update', [batch.id]);
    const held = await done(db, batch.id);
    expect(held, 'the lock taken while the batch was part-way').toBeLessThan(10_000);
    await expect(row).toHaveAttribute('data-finished', String(held));
    await expect(row).toHaveAttribute('data-status', 'running');
    await expect.poll(() => count(page, 'active')).toBeGreaterThan(0);
    await mkdir('test-results/e2e', { recursive: true });
    const screenshot = await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await testInfo.attach('dashboard-during-100x100', { body: screenshot, contentType: 'image/png' });
    console.log(`dashboard screenshot during the batch: ${held} of 10,000 cells finished`);
  } finally {
    await db.query('commit').catch(() => undefined);
    await db.end();
  }

  await expect(row.getByTestId('batch-status')).toHaveText('completed');
  await expect(row.getByTestId('batch-progress')).toHaveText('10,000 / 10,000');
  await expect(batchPage.getByTestId('banner')).toContainText('All 10,000 cells finished');
  await expect(batchPage.getByTestId('intake-paused')).toHaveCount(0);
  await batchPage.close();
  for (const id of ['w-1', 'w-2']) await expect(workerStatus(page, id)).toHaveText('alive');
  // The chart's samples come from the workers through Postgres.
  await expect(page.getByTestId('throughput-summary')).toContainText(/[1-9][\d,]* cells in 5 min/);
});

test('cancelling a running batch from the dashboard', async ({ page, request }) => {
  await page.goto('/dashboard');
  await page.getByRole('button', { name: 'Pause intake' }).click();
  for (const id of ['w-1', 'w-2']) await expect(workerStatus(page, id)).toHaveText('paused');
  const batch = (await (await request.post('/api/batches', { data: { rows: 50, cols: 50 } })).json()) as { id: string };
  const row = page.getByTestId(`batch-${batch.id}`);
  await row.getByRole('button', { name: /^Cancel batch/ }).click();
  await expect(row.getByTestId('batch-status')).toHaveText('cancelled');
  await expect(row.getByRole('button', { name: /^Cancel batch/ })).toHaveCount(0);
  expect((await (await request.get(`/api/batches/${batch.id}`)).json()).status).toBe('cancelled');
});

test('with DASHBOARD_TOKEN set, the page asks for the token, says when it is wrong, and opens with the right one', async ({ page }) => {
  // A second web server on the same database, started with a token (the app under test has none).
  const port = await freePort();
  const server = await startWebServer(await e2eDatabaseUrl(), port, { DASHBOARD_TOKEN: 'open-sesame' });
  try {
    await page.goto(`http://127.0.0.1:${port}/dashboard`);
    await expect(page.getByRole('heading', { name: 'This dashboard needs a token' })).toBeVisible();
    await page.getByRole('textbox', { name: 'Token' }).fill('open-sesame-not');
    await page.getByRole('button', { name: 'Open dashboard' }).click();
    await expect(page.getByTestId('token-error')).toContainText('That is not the dashboard token');
    await page.getByRole('textbox', { name: 'Token' }).fill('open-sesame');
    await page.getByRole('button', { name: 'Open dashboard' }).click();
    await expect(page.getByTestId('intake-state')).toHaveText('running');
    await expect(workerStatus(page, 'w-1')).toHaveText('alive');
    // Kept for this tab: a reload opens straight away.
    await page.reload();
    await expect(page.getByTestId('intake-state')).toHaveText('running');
  } finally {
    await server.stop();
  }
});

// Last in the run: the drained worker stays stopped (the start script does not restart it).
test('one worker paused, resumed and drained from the dashboard: drained mid-batch, it finishes its cells and leaves for good', async ({
  page,
  request,
}) => {
  await page.goto('/dashboard');
  const row = (id: string) => page.getByTestId(`worker-${id}`);
  for (const id of ['w-1', 'w-2']) await expect(workerStatus(page, id)).toHaveText('alive');

  await row('w-1').getByRole('button', { name: 'Pause w-1' }).click();
  await expect(workerStatus(page, 'w-1')).toHaveText('paused');
  await expect(workerStatus(page, 'w-2')).toHaveText('alive');
  await expect(page.getByTestId('intake-state')).toHaveText('running');
  await expect(page.getByTestId('intake-summary')).toContainText('1 of 2 workers are taking cell jobs. 1 is paused on its own');
  await row('w-1').getByRole('button', { name: 'Resume w-1' }).click();
  await expect(workerStatus(page, 'w-1')).toHaveText('alive');

  // Simulated work (the workMs extension) keeps the batch going for a while; w-2 is drained once it has painted.
  const batch = (await (await request.post('/api/batches', { data: { rows: 60, cols: 60, workMs: 2 } })).json()) as { id: string };
  const db = new pg.Client({ connectionString: await e2eDatabaseUrl() });
  await db.connect();
  try {
    const paintedBy = async (worker: string) =>
      (await db.query<{ n: number }>('select count(*)::int as n from cells where batch_id = $1 and worker_id = $2', [batch.id, worker]))
        .rows[0].n;
    await expect.poll(() => paintedBy('w-2'), { timeout: 60_000 }).toBeGreaterThan(0);

    // Draining asks first; confirmed, the worker shows draining until it has exited.
    await row('w-2').getByRole('button', { name: 'Drain w-2' }).click();
    await row('w-2').getByRole('button', { name: 'Confirm drain w-2' }).click();
    await expect(workerStatus(page, 'w-2')).toHaveText(/draining|stopped/);
    await expect(workerStatus(page, 'w-2')).toHaveText('stopped');
    await expect(row('w-2').getByRole('button')).toHaveCount(0);

    const batchRow = page.getByTestId(`batch-${batch.id}`);
    await expect(batchRow.getByTestId('batch-status')).toHaveText('completed', { timeout: 90_000 });
    await expect(batchRow.getByTestId('batch-progress')).toHaveText('3,600 / 3,600');
    expect(await paintedBy('w-1')).toBeGreaterThan(0);

    // Another batch, all w-1's: the drained worker did not come back.
    const next = (await (await request.post('/api/batches', { data: { rows: 10, cols: 10 } })).json()) as { id: string };
    await expect(page.getByTestId(`batch-${next.id}`).getByTestId('batch-status')).toHaveText('completed');
    const { workers } = (await (await request.get('/api/workers')).json()) as { workers: { id: string; status: string }[] };
    expect(workers.find((w) => w.id === 'w-2')?.status).toBe('stopped');
    await expect(workerStatus(page, 'w-1')).toHaveText('alive');
  } finally {
    await db.end();
  }
});
