import { copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { pixelToComplex, type PictureParams } from '../../lib/pictures/mandelbrot';
import type { Batch } from '../../lib/types';
import { decodePng, type DecodedPng } from '../../lib/pictures/png-decode';

// Pictures as a person meets them: started from the page, painted tile by tile, finished with a
// PNG to download, and a click that zooms in. The app runs with two worker processes
// (playwright.config.ts).

/** The picture this test renders: "A minibrot in the spirals", 1024 × 768 in 3,072 tiles. */
const VIEW_LABEL = 'A minibrot in the spirals';
const ROWS = 48;
const COLS = 64;
const TILE = 16;
const TOTAL = ROWS * COLS;
/** The waiting grey of tiles not painted yet (picture-painter.ts, like the grid's). */
const WAITING = 0xe5e7eb;
/** How far a canvas pixel may be from the picture's own average under it (float rounding). */
const TOLERANCE = 2;
const TINT_ALPHA = 0.55;

test.use({ viewport: { width: 1280, height: 1040 } });

interface CanvasSample {
  width: number;
  height: number;
  /** 0xRRGGBB at each asked canvas pixel. */
  pixels: number[];
}

/** Reads the picture canvas's own pixels (not the overlay) at the given canvas coordinates. */
async function readPicture(page: Page, points: [number, number][]): Promise<CanvasSample> {
  return page.getByTestId('picture').evaluate((element, points: [number, number][]) => {
    const canvas = element as HTMLCanvasElement;
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('The picture canvas has no 2D context.');
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const pixels = points.map(([x, y]) => {
      const i = (y * canvas.width + x) * 4;
      return (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    });
    return { width: canvas.width, height: canvas.height, pixels };
  }, points);
}

async function canvasSize(page: Page): Promise<{ width: number; height: number }> {
  return page
    .getByTestId('picture')
    .evaluate((el) => ({ width: (el as HTMLCanvasElement).width, height: (el as HTMLCanvasElement).height }));
}

/** The canvas pixel at the centre of each tile, row by row. */
function tileCentres(size: { width: number; height: number }, rows: number, cols: number): [number, number][] {
  const points: [number, number][] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) points.push([Math.floor(((c + 0.5) * size.width) / cols), Math.floor(((r + 0.5) * size.height) / rows)]);
  }
  return points;
}

/**
 * What canvas pixel (dx, dy) must show when the picture is drawn into a canvas of the given size:
 * the area average of the image's pixels under it (exactly the pixel itself at scale 1).
 */
function expectedPixel(png: DecodedPng, size: { width: number; height: number }, dx: number, dy: number): [number, number, number] {
  const sx = png.width / size.width;
  const sy = png.height / size.height;
  const x0 = dx * sx,
    x1 = Math.min(png.width, (dx + 1) * sx);
  const y0 = dy * sy,
    y1 = Math.min(png.height, (dy + 1) * sy);
  let r = 0,
    g = 0,
    b = 0,
    total = 0;
  for (let py = Math.floor(y0); py < Math.ceil(y1); py++) {
    const wy = Math.min(py + 1, y1) - Math.max(py, y0);
    for (let px = Math.floor(x0); px < Math.ceil(x1); px++) {
      const w = wy * (Math.min(px + 1, x1) - Math.max(px, x0));
      const i = (py * png.width + px) * 4;
      r += w * png.rgba[i];
      g += w * png.rgba[i + 1];
      b += w * png.rgba[i + 2];
      total += w;
    }
  }
  return [r / total, g / total, b / total];
}

function mismatches(
  png: DecodedPng,
  sample: CanvasSample,
  points: [number, number][],
  expected = (x: number, y: number) => expectedPixel(png, sample, x, y),
): string[] {
  return points.flatMap(([x, y], k) => {
    const want = expected(x, y);
    const got = [(sample.pixels[k] >> 16) & 255, (sample.pixels[k] >> 8) & 255, sample.pixels[k] & 255];
    return got.every((v, ch) => Math.abs(v - want[ch]) <= TOLERANCE)
      ? []
      : [`(${x}, ${y}) ${got.join(',')} != ${want.map(Math.round).join(',')}`];
  });
}

/** Tile centres plus a spread of other canvas pixels, edges and tile borders included. */
function samplePoints(size: { width: number; height: number }): [number, number][] {
  const points = tileCentres(size, ROWS, COLS);
  for (let k = 0; k < 2000; k++) points.push([(k * 7919) % size.width, (k * 104729) % size.height]);
  points.push([0, 0], [size.width - 1, size.height - 1], [size.width - 1, 0], [0, size.height - 1]);
  return points;
}

async function getBatch(page: Page, id: string): Promise<Batch> {
  const response = await page.request.get(`/api/batches/${id}`);
  expect(response.status()).toBe(200);
  return (await response.json()) as Batch;
}

async function imageOf(page: Page, batch: Batch): Promise<{ bytes: Buffer; png: DecodedPng }> {
  expect(batch.image).not.toBeNull();
  const response = await page.request.get(batch.image!.url);
  expect(response.status()).toBe(200);
  expect(response.headers()['content-type']).toBe('image/png');
  const bytes = await response.body();
  return { bytes, png: decodePng(bytes) };
}

const batchIdOf = (page: Page) => new URL(page.url()).pathname.split('/').pop()!;

test('a Mandelbrot picture from the page: tiles land, the banner offers the PNG, the canvas is that PNG, a click zooms in', async ({
  page,
}, testInfo) => {
  const outDir = testInfo.project.outputDir;
  await mkdir(outDir, { recursive: true });

  // A newcomer is offered a picture first.
  await page.goto('/');
  await expect(page.getByLabel('Mandelbrot')).toBeChecked();
  await page.getByLabel('View').selectOption({ label: VIEW_LABEL });
  await page.getByLabel('Tile size (px)').fill(String(TILE));
  await page.getByLabel('Rows').fill(String(ROWS));
  await page.getByLabel('Cols').fill(String(COLS));
  await expect(page.locator('#start-hint')).toContainText(`1,024 × 768 pixels in ${TOTAL.toLocaleString('en-US')} tiles of ${TILE} px`);
  const clicked = Date.now();
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL(/\/batches\/[0-9a-f-]{36}$/);
  const batchId = batchIdOf(page);
  const started = await getBatch(page, batchId);
  expect(started).toMatchObject({ kind: 'mandelbrot', rows: ROWS, cols: COLS, tileSize: TILE, maxIterations: 3000 });
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Mandelbrot 1024 × 768');

  // Half-way: read straight off the canvas, frame by frame, until a fifth to four fifths of the
  // tiles show; each tile is sampled at its centre and four points around it.
  const seen = await page.waitForFunction(
    ({ rows, cols, waiting }) => {
      const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="picture"]');
      const ctx = canvas?.getContext('2d');
      if (!canvas || !ctx) return null;
      const { data, width, height } = ctx.getImageData(0, 0, canvas.width, canvas.height);
      const q = Math.floor(width / cols / 4);
      const painted: { points: [number, number][]; pixels: number[] }[] = [];
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const x = Math.floor(((c + 0.5) * width) / cols);
          const y = Math.floor(((r + 0.5) * height) / rows);
          const points: [number, number][] = [
            [x, y],
            [x - q, y - q],
            [x + q, y - q],
            [x - q, y + q],
            [x + q, y + q],
          ];
          const pixels = points.map(([px, py]) => {
            const i = (py * width + px) * 4;
            return (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
          });
          if (pixels[0] !== waiting) painted.push({ points, pixels });
        }
      }
      const total = rows * cols;
      return painted.length > total * 0.2 && painted.length < total * 0.8 ? { width, height, painted } : null;
    },
    { rows: ROWS, cols: COLS, waiting: WAITING },
    { polling: 'raf', timeout: 90_000 },
  );
  await page.screenshot({ path: path.join(outDir, 'picture-halfway.png') });
  const halfway = (await seen.jsonValue())!;
  expect(halfway.painted.length).toBeGreaterThan(0);
  expect(halfway.painted.length).toBeLessThan(TOTAL);
  const size = await canvasSize(page);

  // The activity panel follows the fan-out while it runs.
  await expect(page.getByTestId('activity')).toContainText('What you are seeing');

  // The finish line, then the image.
  const banner = page.getByTestId('banner');
  await expect(banner).toContainText(`All ${TOTAL.toLocaleString('en-US')} cells finished`, { timeout: 90_000 });
  const bannerSeenMs = Date.now() - clicked;
  const download = page.getByRole('link', { name: /Download the picture/ });
  await expect(download).toBeVisible({ timeout: 30_000 });
  const finished = await getBatch(page, batchId);
  expect(finished).toMatchObject({
    status: 'completed',
    done: TOTAL,
    image: { url: `/api/batches/${batchId}/image.png`, width: COLS * TILE, height: ROWS * TILE },
  });
  // How long the default first picture takes, for the README and the closing notes (not a timed assertion).
  const timing = `click → banner seen ${bannerSeenMs} ms (an upper bound: the half-way checks ran in between); createdAt → finishedAt ${Date.parse(finished.finishedAt!) - Date.parse(finished.createdAt)} ms`;
  testInfo.annotations.push({ type: 'timing', description: timing });
  console.log(`default picture: ${timing}`);
  await expect(download).toHaveAttribute('href', finished.image!.url);
  await expect(page.getByTestId('activity-done')).toHaveAttribute('data-count', String(TOTAL));
  await expect(page.getByTestId('activity-last')).toContainText(
    `tile (${finished.lastCell!.row}, ${finished.lastCell!.col}) by ${finished.lastWorker}`,
  );

  // Every sampled canvas pixel is the picture image.png holds (area-averaged where the canvas is smaller).
  const { bytes, png } = await imageOf(page, finished);
  expect([png.width, png.height]).toEqual([COLS * TILE, ROWS * TILE]);
  // Half-way, the painted tiles already showed their real pixels, not one flat mean colour each
  // (a tile whose pixels were still on their way over HTTP may have; a few at most).
  const early = halfway.painted.filter((t) => mismatches(png, { ...halfway, pixels: t.pixels }, t.points).length > 0);
  expect(early.length).toBeLessThanOrEqual(halfway.painted.length * 0.05);
  const points = samplePoints(size);
  await expect.poll(async () => mismatches(png, await readPicture(page, points), points).slice(0, 10)).toEqual([]);
  await page.mouse.move(0, 0);
  await page.screenshot({ path: path.join(outDir, 'picture-finished.png') });
  // The README opens with this picture, made by the app.
  await mkdir('docs', { recursive: true });
  await copyFile(path.join(outDir, 'picture-finished.png'), 'docs/picture.png');

  // The link downloads that very PNG.
  const [file] = await Promise.all([page.waitForEvent('download'), download.click()]);
  expect(file.suggestedFilename()).toMatch(/\.png$/);
  const downloaded = await readFile(await file.path());
  expect(downloaded.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const decoded = decodePng(downloaded);
  expect([decoded.width, decoded.height]).toEqual([COLS * TILE, ROWS * TILE]);
  expect(downloaded.equals(bytes)).toBe(true);

  // A reload reads every tile over HTTP: the same picture again.
  await page.reload();
  await expect(banner).toContainText(`All ${TOTAL.toLocaleString('en-US')} cells finished`);
  await expect.poll(async () => mismatches(png, await readPicture(page, points), points).slice(0, 10)).toEqual([]);

  // Colour by worker tints each tile with its worker's colour; the picture still shows through.
  const stored = (await (await page.request.get(`/api/batches/${batchId}/cells`)).json()) as {
    cells: { row: number; col: number }[];
    workers: string[];
    cellWorkers: number[];
  };
  await page.getByLabel('Colour by worker').check();
  const legend = await page
    .getByTestId('worker-legend')
    .locator('li')
    .evaluateAll((items) => items.map((li) => [(li as HTMLElement).dataset.worker ?? '', (li as HTMLElement).dataset.color ?? '']));
  const colorOf = new Map(legend.map(([worker, color]) => [worker, Number.parseInt(color.slice(1), 16)]));
  const workerAt = new Map(stored.cells.map((c, k) => [c.row * COLS + c.col, stored.workers[stored.cellWorkers[k]]]));
  const centres = tileCentres(size, ROWS, COLS);
  const tinted = (x: number, y: number): [number, number, number] => {
    const tile = Math.floor((y * ROWS) / size.height) * COLS + Math.floor((x * COLS) / size.width);
    const c = colorOf.get(workerAt.get(tile) ?? '') ?? 0;
    const base = expectedPixel(png, size, x, y);
    return [(c >> 16) & 255, (c >> 8) & 255, c & 255].map((w, ch) => base[ch] * (1 - TINT_ALPHA) + w * TINT_ALPHA) as [
      number,
      number,
      number,
    ];
  };
  await expect.poll(async () => mismatches(png, await readPicture(page, centres), centres, tinted).slice(0, 10)).toEqual([]);
  await page.getByLabel('Colour by worker').uncheck();

  // A finished picture zooms: the cursor and the hint say so, and a click starts the zoomed picture.
  const picture = page.getByTestId('picture');
  await expect(picture).toHaveCSS('cursor', 'zoom-in');
  await expect(page.getByTestId('zoom-hint')).toContainText('Click to zoom in ×4');
  const box = (await picture.boundingBox())!;
  const click = { x: Math.round(box.width * 0.3), y: Math.round(box.height * 0.62) };
  await picture.click({ position: click });
  await page.waitForURL(new RegExp(`/batches/[0-9a-f-]{36}\\?from=${batchId}$`));
  const zoomedId = batchIdOf(page);
  expect(zoomedId).not.toBe(batchId);
  const zoomed = await getBatch(page, zoomedId);
  const params: PictureParams = { view: finished.view!, maxIterations: finished.maxIterations!, tileSize: TILE, rows: ROWS, cols: COLS };
  const centre = pixelToComplex(params, Math.floor((click.x / box.width) * COLS * TILE), Math.floor((click.y / box.height) * ROWS * TILE));
  // Where the click landed, give or take a pixel of the old picture for sub-pixel layout.
  const pixelWidth = finished.view!.width / (COLS * TILE);
  expect(zoomed).toMatchObject({ kind: 'mandelbrot', rows: ROWS, cols: COLS, tileSize: TILE, maxIterations: 4500 });
  expect(zoomed.view!.width).toBe(finished.view!.width / 4);
  expect(Math.abs(zoomed.view!.x - centre.re)).toBeLessThanOrEqual(1.5 * pixelWidth);
  expect(Math.abs(zoomed.view!.y - centre.im)).toBeLessThanOrEqual(1.5 * pixelWidth);
  await expect(page.getByTestId('zoomed-from').getByRole('link')).toHaveAttribute('href', `/batches/${batchId}`);

  // The zoomed picture paints; a reload half-way through still ends with its whole image.
  await expect(page.getByTestId('progress')).toContainText(/^[1-9][\d,]* \//, { timeout: 60_000 });
  await page.reload();
  await expect(banner).toContainText(`All ${TOTAL.toLocaleString('en-US')} cells finished`, { timeout: 90_000 });
  await expect(page.getByRole('link', { name: /Download the picture/ })).toBeVisible({ timeout: 30_000 });
  const zoomedImage = await imageOf(page, await getBatch(page, zoomedId));
  await expect.poll(async () => mismatches(zoomedImage.png, await readPicture(page, points), points).slice(0, 10)).toEqual([]);
  await testInfo.attach('picture-finished', { path: path.join(outDir, 'picture-finished.png'), contentType: 'image/png' });
});

test('a colour batch offers its image too: one pixel per cell, in the cells’ colours', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('Random colours').check();
  await page.getByLabel('Rows').fill('10');
  await page.getByLabel('Cols').fill('12');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForURL(/\/batches\/[0-9a-f-]{36}$/);
  const batchId = batchIdOf(page);
  await expect(page.getByTestId('banner')).toContainText('All 120 cells finished');
  await expect(page.getByRole('link', { name: /Download the picture/ })).toBeVisible({ timeout: 30_000 });
  const { png } = await imageOf(page, await getBatch(page, batchId));
  expect([png.width, png.height]).toEqual([12, 10]);
  const { cells } = (await (await page.request.get(`/api/batches/${batchId}/cells`)).json()) as {
    cells: { row: number; col: number; color: string }[];
  };
  const wrong = cells.filter(({ row, col, color }) => {
    const i = (row * 12 + col) * 4;
    return (
      `#${[png.rgba[i], png.rgba[i + 1], png.rgba[i + 2]].map((v) => v.toString(16).toUpperCase().padStart(2, '0')).join('')}` !== color
    );
  });
  expect(wrong).toEqual([]);
  // The grid keeps its look: no picture canvas, the same grid.
  await expect(page.getByTestId('picture')).toHaveCount(0);
  await expect(page.getByTestId('grid')).toBeVisible();
});
