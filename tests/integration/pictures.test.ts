import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelBatch } from '../../lib/batches/cancel-batch';
import { startBatch } from '../../lib/batches/start-batch';
import { randomUUID } from 'node:crypto';
import { endBatch, findBatch, insertBatch } from '../../lib/db/batches';
import { imageParts } from '../../lib/db/images';
import { escapeTime, meanColor, pictureParamsOf, pixelToComplex, renderTile, type PictureParams } from '../../lib/pictures/mandelbrot';
import { encodePng } from '../../lib/pictures/png';
import type { BatchInput } from '../../lib/types';
import { buildImage } from '../../workers/build-image';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/db';
import { decodePng } from '../../lib/pictures/png-decode';
import { startWorker, type WorkerProcess } from '../helpers/processes';
import { connectClient, drain, expectCompletedOnce, join, record, startRealtime, type TestClient } from '../helpers/realtime';

let db: TestDatabase;
let realtime: Awaited<ReturnType<typeof startRealtime>>;
let workers: WorkerProcess[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  realtime = await startRealtime(db.pool, db.url);
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await Promise.all(workers.map((w) => w.stop()));
  await realtime.close();
  await db.drop();
});

const deps = async () => ({ pool: db.pool, boss: await db.boss(), chunkSize: 1000, defaultDeadlineSeconds: 600 });
const start = async (input: BatchInput) => (await startBatch(await deps(), input)).batch;

/** A watcher joined to the batch that counts its `batch:image` events. */
async function watch(batchId: string) {
  const socket = await connectClient(realtime.url);
  clients.push(socket);
  const images: unknown[] = [];
  const tiles = new Map<string, Buffer>();
  socket.on('batch:image', (event) => {
    if (event.batchId === batchId) images.push(event);
  });
  socket.on('cells:colored', (event) => {
    if (event.batchId !== batchId || !event.tiles) return;
    const bytes = Buffer.from(event.tiles as Uint8Array);
    const size = bytes.length / event.cells.length;
    event.cells.forEach((c, k) => tiles.set(`${c.row}:${c.col}`, bytes.subarray(k * size, (k + 1) * size)));
  });
  // What a plain client hears of the batch: its cells, its completion, or its end in the join's snapshot.
  const heard = record(socket);
  const ack = await join(socket, batchId, heard);
  if (!ack.ok) throw new Error(`join failed for ${batchId}`);
  return { socket, images, tiles, heard };
}

async function storedImage(batchId: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of imageParts(db.pool, batchId)) parts.push(part);
  return Buffer.concat(parts);
}

const waitForImage = (batchId: string, timeoutMs = 60_000) =>
  waitFor(async () => (await findBatch(db.pool, batchId))?.image ?? null, `the image of ${batchId}`, timeoutMs);

/** The whole picture rendered in this process, tile by tile, as RGBA. */
function referenceImage(p: PictureParams): Uint8Array {
  const width = p.cols * p.tileSize;
  const rgba = new Uint8Array(width * p.rows * p.tileSize * 4);
  for (let row = 0; row < p.rows; row++) {
    for (let col = 0; col < p.cols; col++) {
      const tile = renderTile(p, row, col);
      for (let y = 0; y < p.tileSize; y++) {
        for (let x = 0; x < p.tileSize; x++) {
          const out = ((row * p.tileSize + y) * width + col * p.tileSize + x) * 4;
          const src = (y * p.tileSize + x) * 3;
          rgba.set([tile[src], tile[src + 1], tile[src + 2], 255], out);
        }
      }
    }
  }
  return rgba;
}

describe('picture batches', () => {
  it('renders a picture with two worker processes, pixel-exact against an in-process render, and builds its image once', async () => {
    workers = ['w-p1', 'w-p2'].map((id) => startWorker(db.url, id, { TILE_FETCH_SIZE: '4' }));
    const batch = await start({
      rows: 6,
      cols: 8,
      kind: 'mandelbrot',
      view: { x: -0.75, y: 0.1, width: 3 },
      maxIterations: 300,
      tileSize: 16,
    });
    expect(batch).toMatchObject({
      kind: 'mandelbrot',
      view: { x: -0.75, y: 0.1, width: 3 },
      maxIterations: 300,
      tileSize: 16,
      image: null,
    });
    const { socket, images, tiles: heard } = await watch(batch.id);

    const image = await waitForImage(batch.id);
    expect(image).toEqual({ url: `/api/batches/${batch.id}/image.png`, width: 128, height: 96 });
    const done = (await findBatch(db.pool, batch.id))!;
    expect(done).toMatchObject({ status: 'completed', done: 48, failed: 0 });

    // Every cell: its tile is the reference tile, its colour the tile's mean colour.
    const p = pictureParamsOf(batch);
    const { rows: cells } = await db.pool.query<{ row: number; col: number; color: string; tile: Buffer }>(
      'select row_no as "row", col_no as "col", color, tile from cells where batch_id = $1',
      [batch.id],
    );
    expect(cells).toHaveLength(48);
    for (const c of cells) {
      const tile = renderTile(p, c.row, c.col);
      expect(Buffer.compare(c.tile, Buffer.from(tile))).toBe(0);
      expect(c.color).toBe(meanColor(tile));
    }

    // The stored PNG decodes to the reference render, and inside pixels are exactly #000000.
    const png = await storedImage(batch.id);
    const decoded = decodePng(png);
    expect(decoded.width).toBe(128);
    expect(decoded.height).toBe(96);
    const reference = referenceImage(p);
    expect(Buffer.compare(Buffer.from(decoded.rgba), Buffer.from(reference))).toBe(0);
    let inside = 0;
    for (let py = 0; py < 96; py++) {
      for (let px = 0; px < 128; px++) {
        const { re, im } = pixelToComplex(p, px, py);
        const at = (py * 128 + px) * 4;
        const black = decoded.rgba[at] === 0 && decoded.rgba[at + 1] === 0 && decoded.rgba[at + 2] === 0;
        expect(black).toBe(escapeTime(re, im, 300) === -1);
        if (black) inside++;
      }
    }
    expect(inside).toBeGreaterThan(1000);
    // The encoding is deterministic: the same pixels give the same bytes.
    expect(Buffer.compare(png, await encodePng(128, 96, reference))).toBe(0);

    await drain(db.pool, socket, batch.id);
    expect(images).toEqual([{ batchId: batch.id, image }]);
    // The events carried every tile's pixels, as one binary attachment per event.
    expect(heard.size).toBe(48);
    for (const c of cells) expect(Buffer.compare(heard.get(`${c.row}:${c.col}`)!, c.tile)).toBe(0);
    // One image job, queued with the completion.
    const { rows: jobs } = await db.pool.query(`select state from pgboss.job where name = 'image' and data->>'batchId' = $1`, [batch.id]);
    expect(jobs).toHaveLength(1);
  });

  it("gives a colour batch an image of one pixel per cell, in each cell's colour", async () => {
    const batch = await start({ rows: 7, cols: 11 });
    await waitForImage(batch.id);
    const decoded = decodePng(await storedImage(batch.id));
    expect([decoded.width, decoded.height]).toEqual([11, 7]);
    const { rows: cells } = await db.pool.query<{ row: number; col: number; color: string }>(
      'select row_no as "row", col_no as "col", color from cells where batch_id = $1',
      [batch.id],
    );
    expect(cells).toHaveLength(77);
    for (const c of cells) {
      const at = (c.row * 11 + c.col) * 4;
      const hex = `#${[0, 1, 2]
        .map((k) => decoded.rgba[at + k].toString(16).padStart(2, '0'))
        .join('')
        .toUpperCase()}`;
      expect(hex).toBe(c.color);
      expect(decoded.rgba[at + 3]).toBe(255);
    }
  });

  it("builds a cancelled batch's image once, transparent where no colour landed", async () => {
    // No worker runs this batch's slow cells quickly: simulated work keeps most of them waiting.
    const batch = await start({ rows: 10, cols: 10, workMs: 400 });
    expect(batch.workMs).toBe(400);
    await waitFor(async () => ((await findBatch(db.pool, batch.id))?.done ?? 0) > 0, 'a first cell');
    const { batch: cancelled } = await cancelBatch(await deps(), batch.id);
    await waitForImage(batch.id);
    const decoded = decodePng(await storedImage(batch.id));
    const { rows: cells } = await db.pool.query<{ row: number; col: number }>(
      'select row_no as "row", col_no as "col" from cells where batch_id = $1 and color is not null',
      [batch.id],
    );
    const colored = new Set(cells.map((c) => c.row * 10 + c.col));
    expect(colored.size).toBe(cancelled.done);
    expect(colored.size).toBeLessThan(100);
    for (let i = 0; i < 100; i++) expect(decoded.rgba[i * 4 + 3]).toBe(colored.has(i) ? 255 : 0);
  });

  it('stitches once when many callers race: one builds and announces, the rest find it built', async () => {
    // A batch that ended without the stage's job (as if it were still queued): the racers are alone.
    const batch = (await insertBatch(db.pool, {
      id: randomUUID(),
      rows: 3,
      cols: 3,
      kind: 'mandelbrot',
      view: { x: -0.75, y: 0, width: 3.5 },
      maxIterations: 50,
      tileSize: 8,
      deadlineSeconds: 600,
    }))!;
    const { socket, images } = await watch(batch.id);
    expect(await buildImage(db.pool, batch.id)).toEqual({ skipped: 'running' });
    await endBatch(db.pool, batch.id, 'cancelled');
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => buildImage(db.pool, batch.id)));
    const built = outcomes.filter((o) => 'built' in o);
    expect(built).toHaveLength(1);
    expect(outcomes.filter((o) => 'skipped' in o && o.skipped === 'built already')).toHaveLength(5);
    await drain(db.pool, socket, batch.id);
    expect(images).toEqual([{ batchId: batch.id, image: { url: `/api/batches/${batch.id}/image.png`, width: 24, height: 24 } }]);
    // Nothing landed: every pixel is transparent.
    const decoded = decodePng(await storedImage(batch.id));
    expect(decoded.rgba.every((v) => v === 0)).toBe(true);
  });
});

describe('slow cells under faults', () => {
  it('retries a slow cell that throws once, dead-letters a poisoned one, and completes the batch once', async () => {
    await Promise.all(workers.map((w) => w.stop()));
    workers = [
      startWorker(db.url, 'w-faulty', {
        NODE_ENV: 'test',
        CELL_RETRY_LIMIT: '1',
        FINISH_LINE_FAULTS: JSON.stringify({ throwOnce: ['0,1'], throwAlways: ['1,1'] }),
      }),
    ];
    const batch = await start({ rows: 3, cols: 4, workMs: 5 });
    const { socket, heard } = await watch(batch.id);
    const ended = await waitFor(
      async () => {
        const b = await findBatch(db.pool, batch.id);
        return b?.status === 'completed' ? b : null;
      },
      'the batch to complete',
      60_000,
    );
    expect(ended).toMatchObject({ done: 11, failed: 1 });
    const { rows } = await db.pool.query<{ row: number; col: number; error: string | null }>(
      'select row_no as "row", col_no as "col", error from cells where batch_id = $1 and (row_no, col_no) in ((0, 1), (1, 1)) order by row_no',
      [batch.id],
    );
    expect(rows).toEqual([
      { row: 0, col: 1, error: null },
      { row: 1, col: 1, error: expect.stringMatching(/poisoned/) },
    ]);
    await waitForImage(batch.id);
    await drain(db.pool, socket, batch.id);
    expectCompletedOnce(heard, batch.id);
  }, 90_000);
});

describe('the image stage under a worker kill', () => {
  it('is retried after its worker is SIGKILLed mid-stitch, and the image is identical', async () => {
    await Promise.all(workers.map((w) => w.stop()));
    // This worker stitches slowly: 400 ms per grid row of tiles.
    const slow = startWorker(db.url, 'w-slow-stitch', {
      NODE_ENV: 'test',
      CELL_HEARTBEAT_SECONDS: '10',
      FINISH_LINE_FAULTS: JSON.stringify({ stitchRowDelayMs: 400 }),
    });
    workers = [slow];
    const batch = await start({ rows: 8, cols: 8, kind: 'mandelbrot', tileSize: 16, maxIterations: 200 });
    // The stitch is under way once its job is active and the batch has ended.
    await waitFor(
      async () => {
        const { rows } = await db.pool.query(
          `select 1 from pgboss.job where name = 'image' and state = 'active' and data->>'batchId' = $1`,
          [batch.id],
        );
        return rows.length > 0;
      },
      'the stitch to start',
      60_000,
    );
    await slow.stop('SIGKILL');
    expect((await findBatch(db.pool, batch.id))?.image).toBeNull();
    const { rows: leftovers } = await db.pool.query('select 1 from batch_images where batch_id = $1', [batch.id]);
    expect(leftovers).toHaveLength(0);

    workers = [startWorker(db.url, 'w-rescuer', { CELL_HEARTBEAT_SECONDS: '10' })];
    await waitForImage(batch.id, 90_000);
    const png = await storedImage(batch.id);
    const reference = referenceImage(pictureParamsOf(batch));
    expect(Buffer.compare(png, await encodePng(128, 128, reference))).toBe(0);
    const { rows: jobs } = await db.pool.query<{ retry_count: number; state: string }>(
      `select retry_count, state from pgboss.job where name = 'image' and data->>'batchId' = $1`,
      [batch.id],
    );
    expect(jobs).toHaveLength(1);
    expect(jobs[0].state).toBe('completed');
    expect(jobs[0].retry_count).toBeGreaterThanOrEqual(1);
  }, 150_000);
});
