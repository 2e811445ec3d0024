import { expect, test, type Page } from '@playwright/test';
import { colorMismatches, readGridPixels } from '../helpers/canvas-pixels';

interface Cell {
  row: number;
  col: number;
  color: string;
}

/** Reads the canvas at every cell's centre and counts cells whose pixel differs from the API's colour. */
async function compareGridWithApi(page: Page, batchId: string) {
  const response = await page.request.get(`/api/batches/${batchId}/cells`);
  expect(response.status()).toBe(200);
  const { cells } = (await response.json()) as { cells: Cell[] };
  const { rows, cols, colors } = await readGridPixels(page, cells);
  const all = colorMismatches(cells, colors);
  const result = { rows, cols, mismatches: all.slice(0, 10), mismatchCount: all.length };
  return { cells, ...result };
}

async function startFromPage(page: Page, rows: number, cols: number) {
  await page.goto('/');
  await page.getByLabel('Random colours').check();
  await page.getByLabel('Rows').fill(String(rows));
  await page.getByLabel('Cols').fill(String(cols));
  const clickedAt = Date.now();
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL(/\/batches\/[0-9a-f-]{36}$/);
  const batchId = page.url().split('/').pop()!;
  return { batchId, clickedAt };
}

for (const size of [20, 100]) {
  const total = size * size;
  test(`start a ${size}×${size} batch from the page: cells fill in, the banner names the last cell, every cell as stored`, async ({
    page,
  }, testInfo) => {
    const { batchId, clickedAt } = await startFromPage(page, size, size);
    const banner = page.getByTestId('banner');
    await expect(banner).toContainText(`All ${total.toLocaleString('en-US')} cells finished`);
    const bannerAt = Date.now();
    await expect(banner).toContainText(/last across the finish line: cell \(\d+, \d+\) by worker w-\d+/);
    await expect(page.getByTestId('progress')).toContainText(`${total.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}`);

    const batch = await (await page.request.get(`/api/batches/${batchId}`)).json();
    expect(batch).toMatchObject({ status: 'completed', done: total, total });
    await expect(banner).toContainText(`cell (${batch.lastCell.row}, ${batch.lastCell.col}) by worker ${batch.lastWorker}`);

    const grid = await compareGridWithApi(page, batchId);
    expect(grid.cells).toHaveLength(total);
    expect(grid.mismatches).toEqual([]);

    const name = `batch-${size}x${size}`;
    const screenshot = await page.screenshot({ path: testInfo.outputPath(`${name}.png`), fullPage: true });
    await testInfo.attach(name, { body: screenshot, contentType: 'image/png' });
    testInfo.annotations.push({ type: `click-to-banner ${size}x${size} (ms)`, description: String(bannerAt - clickedAt) });
    console.log(`click-to-banner ${size}x${size}: ${bannerAt - clickedAt} ms`);
  });
}

test('opening a finished batch too large for one join answer: its cells come over HTTP, every one painted', async ({ page }) => {
  const total = 250 * 250;
  const created = await page.request.post('/api/batches', { data: { rows: 250, cols: 250 } });
  expect(created.status()).toBe(201);
  const { id } = await created.json();
  await expect
    .poll(async () => (await (await page.request.get(`/api/batches/${id}`)).json()).status, { timeout: 90_000 })
    .toBe('completed');

  // The join answer, as the page receives it over its WebSocket.
  const joinAnswers: string[] = [];
  page.on('websocket', (ws) =>
    ws.on('framereceived', ({ payload }) => typeof payload === 'string' && payload.includes('"cellsOmitted"') && joinAnswers.push(payload)),
  );
  await page.goto(`/batches/${id}`);
  await expect(page.getByTestId('banner')).toContainText(`All ${total.toLocaleString('en-US')} cells finished`);
  expect(joinAnswers).toHaveLength(1);
  expect(joinAnswers[0]).toContain('"cellsOmitted":true');
  await expect(page.getByTestId('loading-cells')).toHaveCount(0);

  const grid = await compareGridWithApi(page, id);
  expect(grid.cells).toHaveLength(total);
  expect(grid.mismatches).toEqual([]);
});

test('an unknown batch says so', async ({ page }) => {
  await page.goto('/batches/3f0c8a8e-8a55-4a8e-9f6e-1b1f8f0f2a61');
  await expect(page.getByText(/no batch/i)).toBeVisible();
});

test('reload at the start, mid-batch and at the end, and a second tab opened mid-batch: each ends with the stored grid', async ({
  page,
  context,
}) => {
  const { batchId } = await startFromPage(page, 300, 300);
  // At the start: before (or just as) the first cells land.
  await page.reload();
  // Mid-batch, once some cells have landed: the page takes the cells so far while new ones arrive.
  await expect(page.getByTestId('progress')).toContainText(/^[1-9][\d,]* \/ 90,000/);
  await page.reload();
  const second = await context.newPage();
  await second.goto(`/batches/${batchId}`);
  for (const tab of [page, second]) {
    await expect(tab.getByTestId('banner')).toContainText('All 90,000 cells finished', { timeout: 90_000 });
    const grid = await compareGridWithApi(tab, batchId);
    expect(grid.cells).toHaveLength(90_000);
    expect(grid.mismatches).toEqual([]);
  }
  // At the end: the snapshot alone paints everything and the banner comes back.
  await page.reload();
  await expect(page.getByTestId('banner')).toContainText('All 90,000 cells finished');
  expect((await compareGridWithApi(page, batchId)).mismatches).toEqual([]);
  await second.close();
});
