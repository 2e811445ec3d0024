import { expect, test, type Page } from '@playwright/test';
import { colorMismatches, readGridPixels } from '../helpers/canvas-pixels';

// The app runs with two worker processes (playwright.config.ts): the toggle shows which cells each
// one painted, and the legend says how many.

interface StoredCells {
  cells: { row: number; col: number; color: string }[];
  workers: string[];
  cellWorkers: number[];
}

interface LegendEntry {
  worker: string;
  color: string;
  count: number;
}

// Large enough to still be painting when the toggle is switched on (a few seconds on 2 cores).
const ROWS = 200;
const COLS = 200;
const TOTAL = ROWS * COLS;

async function storedCells(page: Page, batchId: string): Promise<StoredCells> {
  const response = await page.request.get(`/api/batches/${batchId}/cells`);
  expect(response.status()).toBe(200);
  return (await response.json()) as StoredCells;
}

async function readLegend(page: Page): Promise<LegendEntry[]> {
  return page
    .getByTestId('worker-legend')
    .locator('li')
    .evaluateAll((items) =>
      items.map((li) => {
        const el = li as HTMLElement;
        return { worker: el.dataset.worker ?? '', color: el.dataset.color ?? '', count: Number(el.dataset.count) };
      }),
    );
}

/** Cells whose centre pixel on the canvas is not the colour given for it, at most ten of them. */
async function pixelMismatches(page: Page, cells: { row: number; col: number; color: string }[]) {
  const wrong = colorMismatches(cells, (await readGridPixels(page, cells)).colors);
  return wrong.slice(0, 10).concat(wrong.length > 10 ? [`… ${wrong.length} in all`] : []);
}

/**
 * With the legend complete (its counts add up to every cell), checks it against the stored cells
 * and the canvas against it: each cell in the colour the legend gives its worker.
 */
async function expectColouredByWorker(page: Page, stored: StoredCells) {
  await expect.poll(async () => (await readLegend(page)).reduce((sum, e) => sum + e.count, 0)).toBe(TOTAL);
  const legend = await readLegend(page);
  const storedCounts = new Map<string, number>();
  for (const w of stored.cellWorkers) storedCounts.set(stored.workers[w], (storedCounts.get(stored.workers[w]) ?? 0) + 1);
  expect(new Map(legend.map((e) => [e.worker, e.count]))).toEqual(storedCounts);
  expect(new Set(legend.map((e) => e.color)).size).toBe(legend.length);

  const colorOf = new Map(legend.map((e) => [e.worker, e.color]));
  const expected = stored.cells.map((c, k) => ({ row: c.row, col: c.col, color: colorOf.get(stored.workers[stored.cellWorkers[k]])! }));
  await expect.poll(() => pixelMismatches(page, expected)).toEqual([]);
}

test('colour by worker: the grid shows which worker painted each cell, the legend counts them, and toggling back restores the colours', async ({
  page,
}, testInfo) => {
  await page.goto('/');
  await page.getByLabel('Random colours').check();
  await page.getByLabel('Rows').fill(String(ROWS));
  await page.getByLabel('Cols').fill(String(COLS));
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL(/\/batches\/[0-9a-f-]{36}$/);
  const batchId = new URL(page.url()).pathname.split('/').pop()!;

  // Switched on while the batch paints: cells that arrive live take their worker's colour.
  const toggle = page.getByLabel('Colour by worker');
  await toggle.check();
  const paintedAtToggle = Number((await page.getByTestId('progress').textContent())?.split(' / ')[0].replace(/\D/g, ''));
  expect(paintedAtToggle).toBeLessThan(TOTAL);
  await expect(page).toHaveURL(/[?&]colorBy=worker/);
  await expect(page.getByTestId('grid')).toHaveAttribute('data-color-by', 'worker');
  await expect(page.getByTestId('banner')).toContainText(`All ${TOTAL.toLocaleString('en-US')} cells finished`, { timeout: 90_000 });

  const stored = await storedCells(page, batchId);
  expect(stored.cells).toHaveLength(TOTAL);
  expect(stored.cellWorkers).toHaveLength(TOTAL);
  // Two worker processes, and the fan-out reached both.
  expect(new Set(stored.workers)).toEqual(new Set(['w-1', 'w-2']));
  await expectColouredByWorker(page, stored);
  const screenshot = await page.screenshot({ path: testInfo.outputPath('colour-by-worker.png'), fullPage: true });
  await testInfo.attach('colour-by-worker', { body: screenshot, contentType: 'image/png' });

  // A reload keeps the mode, and the join snapshot alone tells every cell's worker.
  await page.reload();
  await expect(page.getByTestId('banner')).toContainText(`All ${TOTAL.toLocaleString('en-US')} cells finished`);
  await expect(toggle).toBeChecked();
  await expectColouredByWorker(page, stored);

  // Back to the cells' own colours.
  await toggle.uncheck();
  await expect(page).not.toHaveURL(/colorBy=/);
  await expect(page.getByTestId('worker-legend')).toHaveCount(0);
  await expect.poll(() => pixelMismatches(page, stored.cells)).toEqual([]);
});
