import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBatch } from '../../lib/db/batches';
import { imageParts } from '../../lib/db/images';
import { renderTile } from '../../lib/pictures/mandelbrot';
import type { BatchActivityEvent } from '../../lib/realtime/events';
import type { Batch } from '../../lib/types';
import { freePort } from '../../scripts/ports';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/db';
import { createdCounts, LEAK, postBatch, send } from '../helpers/http';
import { decodePng } from '../../lib/pictures/png-decode';
import { startWebServer, startWorker, type WorkerProcess } from '../helpers/processes';
import { connectClient, join, type TestClient } from '../helpers/realtime';

// Pictures through the public contract on a real web server: POST, the image and tile endpoints,
// and the batch page's activity feed.

let db: TestDatabase;
let server: WorkerProcess;
let base: string;
let workers: WorkerProcess[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = await startWebServer(db.url, port);
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await Promise.all(workers.map((w) => w.stop()));
  await server?.stop();
  await db?.drop();
});

/** Splits a `GET …/tiles` body into its records. */
function readTiles(body: Buffer, tileSize: number): Map<string, Buffer> {
  const record = 4 + tileSize * tileSize * 3;
  expect(body.length % record).toBe(0);
  const tiles = new Map<string, Buffer>();
  for (let at = 0; at < body.length; at += record)
    tiles.set(`${body.readUInt16BE(at)}:${body.readUInt16BE(at + 2)}`, body.subarray(at + 4, at + record));
  return tiles;
}

const bytes = async (url: string) => {
  const response = await fetch(url);
  return { status: response.status, type: response.headers.get('content-type'), body: Buffer.from(await response.arrayBuffer()) };
};

describe('pictures over HTTP', () => {
  it('creates a picture, answers 409 not_ready until its image is built, then serves the PNG and every tile', async () => {
    const created = await postBatch(base, {
      rows: 4,
      cols: 5,
      kind: 'mandelbrot',
      view: { x: -0.5, y: 0, width: 3 },
      maxIterations: 100,
      tileSize: 8,
    });
    expect(created.status).toBe(201);
    const batch = created.body as Batch;
    expect(batch).toMatchObject({
      rows: 4,
      cols: 5,
      total: 20,
      status: 'running',
      kind: 'mandelbrot',
      view: { x: -0.5, y: 0, width: 3 },
      maxIterations: 100,
      tileSize: 8,
      image: null,
    });

    const early = await send(`${base}/api/batches/${batch.id}/image.png`);
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('not_ready');

    workers = [startWorker(db.url, 'w-http-1')];
    await waitFor(async () => (await findBatch(db.pool, batch.id))?.image ?? null, 'the image', 60_000);
    const after = (await send(`${base}/api/batches/${batch.id}`)).body as Batch;
    expect(after.image).toEqual({ url: `/api/batches/${batch.id}/image.png`, width: 40, height: 32 });

    const png = await bytes(`${base}${after.image!.url}`);
    expect(png.status).toBe(200);
    expect(png.type).toBe('image/png');
    const stored: Buffer[] = [];
    for await (const part of imageParts(db.pool, batch.id)) stored.push(part);
    expect(Buffer.compare(png.body, Buffer.concat(stored))).toBe(0);
    expect(decodePng(png.body)).toMatchObject({ width: 40, height: 32 });

    const tiles = await bytes(`${base}/api/batches/${batch.id}/tiles`);
    expect(tiles.status).toBe(200);
    expect(tiles.type).toBe('application/octet-stream');
    const all = readTiles(tiles.body, 8);
    expect(all.size).toBe(20);
    const params = { view: batch.view!, maxIterations: 100, tileSize: 8, rows: 4, cols: 5 };
    for (const [key, tile] of all) {
      const [row, col] = key.split(':').map(Number);
      expect(Buffer.compare(tile, Buffer.from(renderTile(params, row, col)))).toBe(0);
    }
    // After the last event, nothing; after none, everything.
    expect((await bytes(`${base}/api/batches/${batch.id}/tiles?afterSeq=${after.seq}`)).body.length).toBe(0);
    expect(readTiles((await bytes(`${base}/api/batches/${batch.id}/tiles?afterSeq=0`)).body, 8).size).toBe(20);
  });

  it('answers bad picture requests with clear errors and creates nothing', async () => {
    const before = await createdCounts(db.pool);
    const cases: [unknown, number, string][] = [
      [{ rows: 129, cols: 128, kind: 'mandelbrot' }, 400, 'too_many_pixels'],
      [{ rows: 2, cols: 2, kind: 'mandelbrot', view: { x: 0, y: 0, width: 0 } }, 400, 'invalid_input'],
      [{ rows: 2, cols: 2, kind: 'mandelbrot', maxIterations: 1e9 }, 400, 'invalid_input'],
      [{ rows: 2, cols: 2, kind: 'mandelbrot', tileSize: 'big' }, 400, 'invalid_input'],
      [{ rows: 2, cols: 2, kind: 'fractal' }, 400, 'invalid_input'],
      [{ rows: 2, cols: 2, tileSize: 8 }, 400, 'invalid_input'],
      [{ rows: 2, cols: 2, workMs: 5001 }, 400, 'invalid_input'],
    ];
    for (const [body, status, code] of cases) {
      const answer = await postBatch(base, body);
      expect(answer.status, JSON.stringify(body)).toBe(status);
      expect(answer.body.error.code).toBe(code);
      expect(answer.text).not.toMatch(LEAK);
    }
    for (const path of ['image.png', 'tiles']) {
      expect((await send(`${base}/api/batches/3f0c8a8e-8a55-4a8e-9f6e-1b1f8f0f2a61/${path}`)).body.error.code).toBe('not_found');
      expect((await send(`${base}/api/batches/not-a-batch/${path}`)).body.error.code).toBe('not_found');
    }
    for (const query of ['afterSeq=-1', 'afterSeq=abc', 'afterSeq=1e3', 'afterSeq=1&afterSeq=2', 'after=1']) {
      const answer = await send(`${base}/api/batches/3f0c8a8e-8a55-4a8e-9f6e-1b1f8f0f2a61/tiles?${query}`);
      expect(answer.status, query).toBe(400);
      expect(answer.body.error.code).toBe('invalid_input');
    }
    expect(await createdCounts(db.pool)).toEqual(before);
    expect((await send(`${base}/healthz`)).status).toBe(200);
  });

  it('tells a page what the fan-out is doing: queued, in flight per worker, done', async () => {
    await Promise.all(workers.map((w) => w.stop()));
    workers = [startWorker(db.url, 'w-activity')];
    // Simulated work keeps cells in flight long enough to be seen.
    const batch = (await postBatch(base, { rows: 4, cols: 10, workMs: 300 })).body as Batch;
    const socket = await connectClient(base);
    clients.push(socket);
    const heard: BatchActivityEvent[] = [];
    socket.on('batch:activity', (event) => heard.push(event));
    expect((await join(socket, batch.id)).ok).toBe(true);
    await waitFor(
      () => heard.some((e) => e.inFlight.some((w) => w.worker === 'w-activity' && w.cells > 0)),
      'a worker holding cells',
      30_000,
    );
    await waitFor(() => heard.some((e) => e.done > 0), 'progress in the activity feed', 30_000);
    for (const e of heard) {
      expect(e).toMatchObject({ batchId: batch.id, total: 40 });
      const held = e.inFlight.reduce((n, w) => n + w.cells, 0);
      expect(e.queued).toBe(Math.max(0, e.enqueued - e.done - e.failed - held));
      expect(e.enqueued).toBeLessThanOrEqual(40);
      expect(e.done + e.failed).toBeLessThanOrEqual(40);
    }
  }, 60_000);
});
