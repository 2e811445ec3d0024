import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBatch } from '../../lib/db/batches';
import { listCells } from '../../lib/db/cells';
import { meanColor, pictureParamsOf, renderTile } from '../../lib/pictures/mandelbrot';
import { encodePng } from '../../lib/pictures/png';
import type { Batch } from '../../lib/types';
import { freePort } from '../../scripts/ports';
import { expectBatchSettled } from '../helpers/batch-checks';
import { createTestDatabase, jobStates, waitFor, type TestDatabase } from '../helpers/db';
import { send, type Answer } from '../helpers/http';
import { GENEROUS_CLIENT_LIMITS, startWebServer, type WorkerProcess } from '../helpers/processes';
import { connectClient, record, startAndJoin, type TestClient } from '../helpers/realtime';

// The lease API (CONTRACT.md "Leases"): a real web server and no built-in worker, so every cell is
// painted by what these tests send over HTTP, as a worker in another language would.

const TOKEN = 'lease-test-token';
let db: TestDatabase;
let base: string;
let server: WorkerProcess;
let socket: TestClient;
let heard: ReturnType<typeof record>;

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // One retry after a cell's own work fails, then it fails for good. The tests follow one another
  // within a second, all on one token: the per-token rate limit is tested alone, at the end.
  server = await startWebServer(db.url, port, {
    WORKER_TOKEN: TOKEN,
    CELL_RETRY_LIMIT: '1',
    LEASE_REQUESTS_PER_SECOND: '100000',
    ...GENEROUS_CLIENT_LIMITS,
  });
  socket = await connectClient(base);
  heard = record(socket);
});

afterAll(async () => {
  socket?.disconnect();
  await server?.stop('SIGKILL');
  await db?.drop();
});

interface LeasedCell {
  batchId: string;
  row: number;
  col: number;
  attempt: number;
  kind: string;
  view?: { x: number; y: number; width: number };
  maxIterations?: number;
  tileSize?: number;
  rows?: number;
  cols?: number;
}

function call(path: string, body: unknown, token: string | null = TOKEN): Promise<Answer> {
  return send(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
  });
}

async function lease(body: Record<string, unknown>): Promise<{ leaseId: string; expiresAt: string; cells: LeasedCell[] }> {
  const answer = await call('/api/leases', body);
  expect(answer.status, `${answer.text}\n${server.output().slice(-3000)}`).toBe(200);
  return answer.body;
}

async function start(body: Record<string, unknown>): Promise<Batch> {
  const batch = await startAndJoin(base, socket, heard, body);
  // The fan-out answers once its first chunk is in; small batches are whole by then.
  await waitFor(async () => (await jobStates(db.pool, batch.id)).created === batch.total, `the jobs of ${batch.id}`);
  return batch;
}

const colorOf = (c: { row: number; col: number }) =>
  `#${((c.row * 37 + c.col * 11) % 256).toString(16).padStart(2, '0').toUpperCase()}1234`;

describe('the lease API', () => {
  it('leases cells, and their colours are recorded as a built-in worker’s: events, first write wins, completion once', async () => {
    const batch = await start({ rows: 4, cols: 5 });
    const first = await lease({ max: 12, leaseSeconds: 60, worker: 'ts-test' });
    expect(first.cells).toHaveLength(12);
    expect(first.cells.every((c) => c.batchId === batch.id && c.attempt === 1 && c.kind === 'colors')).toBe(true);
    expect(Date.parse(first.expiresAt) - Date.now()).toBeGreaterThan(50_000);
    const second = await lease({ max: 100, leaseSeconds: 60, worker: 'ts-test' });
    expect(second.cells).toHaveLength(8);
    // Nothing is leased twice while both leases run.
    const keys = new Set([...first.cells, ...second.cells].map((c) => `${c.row},${c.col}`));
    expect(keys.size).toBe(20);
    expect((await lease({ max: 5 })).cells).toEqual([]);
    // Its current leases show as its holding, as a worker process's fetch does.
    const holding = async () =>
      (await db.pool.query<{ holding: Record<string, number> }>(`select holding from workers where id = 'lease-ts-test'`)).rows[0]!.holding;
    expect(await holding()).toEqual({ [batch.id]: 20 });

    const answer = await call(`/api/leases/${first.leaseId}/complete`, {
      results: [
        ...first.cells.map((c) => ({ batchId: c.batchId, row: c.row, col: c.col, color: colorOf(c) })),
        // Not in this lease: ignored, and it changes nothing.
        { batchId: batch.id, row: second.cells[0]!.row, col: second.cells[0]!.col, color: '#FFFFFF' },
      ],
    });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body).toEqual({ recorded: 12, ignored: 1 });
    expect((await findBatch(db.pool, batch.id))!.done).toBe(12);

    const rest = await call(`/api/leases/${second.leaseId}/complete`, {
      results: second.cells.map((c) => ({ batchId: c.batchId, row: c.row, col: c.col, color: colorOf(c) })),
    });
    expect(rest.body).toEqual({ recorded: 8, ignored: 0 });
    expect(await holding()).toEqual({});
    const ended = await expectBatchSettled(db, batch.id, { socket, heard }, { status: 'completed', done: 20, failed: 0 });
    expect(ended.lastWorker).toBe('lease-ts-test');
    const cells = await listCells(db.pool, batch.id);
    expect(cells.every((c) => c.color === colorOf(c))).toBe(true);
    // A completed lease cannot be completed again.
    const again = await call(`/api/leases/${first.leaseId}/complete`, { results: [] });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('lease_expired');

    // The lease client shows as a worker, without a process of ours.
    const workers = await send(`${base}/api/workers`);
    expect(workers.body.workers).toContainEqual(expect.objectContaining({ id: 'lease-ts-test', pid: null, cellsServed: 20 }));
  });

  it('extends a lease; one left to expire comes back with attempt + 1, and its late completion is refused and changes nothing', async () => {
    const batch = await start({ rows: 2, cols: 2 });
    const kept = await lease({ max: 2, leaseSeconds: 2 });
    const lost = await lease({ max: 2, leaseSeconds: 2 });
    expect(kept.cells).toHaveLength(2);
    expect(lost.cells).toHaveLength(2);
    const extended = await call(`/api/leases/${kept.leaseId}/extend`, { leaseSeconds: 120 });
    expect(extended.status, extended.text).toBe(200);
    expect(Date.parse(extended.body.expiresAt)).toBeGreaterThan(Date.now() + 100_000);

    // The expired lease's cells are leased again (the web server's sweeper returns them), as attempt 2
    // (each after pg-boss's retry delay, so maybe over several leases).
    const again: { leaseId: string; cells: LeasedCell[] }[] = [];
    await waitFor(async () => {
      const l = await lease({ max: 10, leaseSeconds: 60 });
      if (l.cells.length > 0) again.push(l);
      return again.flatMap((a) => a.cells).length >= lost.cells.length;
    }, 'the expired lease’s cells to come back');
    const back = again.flatMap((a) => a.cells);
    expect(back.map((c) => `${c.row},${c.col}`).sort()).toEqual(lost.cells.map((c) => `${c.row},${c.col}`).sort());
    expect(back.every((c) => c.attempt === 2)).toBe(true);

    const late = await call(`/api/leases/${lost.leaseId}/complete`, {
      results: lost.cells.map((c) => ({ batchId: c.batchId, row: c.row, col: c.col, color: '#000001' })),
    });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('lease_expired');
    expect((await call(`/api/leases/${lost.leaseId}/extend`, { leaseSeconds: 10 })).status).toBe(409);
    expect((await findBatch(db.pool, batch.id))!.done).toBe(0);

    for (const l of [kept, ...again]) {
      const done = await call(`/api/leases/${l.leaseId}/complete`, {
        results: l.cells.map((c) => ({ batchId: c.batchId, row: c.row, col: c.col, color: colorOf(c) })),
      });
      expect(done.status, done.text).toBe(200);
    }
    await expectBatchSettled(db, batch.id, { socket, heard }, { status: 'completed', done: 4 });
    expect((await listCells(db.pool, batch.id)).some((c) => c.color === '#000001')).toBe(false);
  });

  it('an error result is a failed attempt of the cell’s own work: retried, then the cell fails', async () => {
    const batch = await start({ rows: 1, cols: 2 });
    const first = await lease({ max: 2 });
    const [bad, good] = first.cells as [LeasedCell, LeasedCell];
    await call(`/api/leases/${first.leaseId}/complete`, {
      results: [
        { batchId: bad.batchId, row: bad.row, col: bad.col, error: 'my renderer ran out of memory' },
        { batchId: good.batchId, row: good.row, col: good.col, color: '#123456' },
      ],
    });
    // CELL_RETRY_LIMIT=1: one retry (after pg-boss's backoff), then failed for good.
    const retry = await waitFor(async () => {
      const l = await lease({ max: 2 });
      return l.cells.length > 0 ? l : null;
    }, 'the failed cell to be retried');
    expect(retry.cells).toEqual([expect.objectContaining({ row: bad.row, col: bad.col, attempt: 2 })]);
    await call(`/api/leases/${retry.leaseId}/complete`, {
      results: [{ batchId: bad.batchId, row: bad.row, col: bad.col, error: 'again' }],
    });
    await expectBatchSettled(db, batch.id, { socket, heard }, { status: 'completed', done: 1, failed: 1 });
  });

  it('paints a picture from tiles a client rendered, checked against the batch’s tile size', async () => {
    const batch = await start({ rows: 2, cols: 2, kind: 'mandelbrot', tileSize: 8, maxIterations: 50 });
    const l = await lease({ max: 10 });
    expect(l.cells).toHaveLength(4);
    const cell = l.cells[0]!;
    expect(cell).toMatchObject({ kind: 'mandelbrot', tileSize: 8, maxIterations: 50, rows: 2, cols: 2, view: batch.view });

    const wrongSize = await call(`/api/leases/${l.leaseId}/complete`, {
      results: [
        { batchId: cell.batchId, row: cell.row, col: cell.col, tile: (await tilePng(batch, cell.row, cell.col, 16)).toString('base64') },
      ],
    });
    expect(wrongSize.status).toBe(400);
    expect(wrongSize.body.error.message).toMatch(/8 × 8/);
    const colourForTile = await call(`/api/leases/${l.leaseId}/complete`, {
      results: [{ batchId: cell.batchId, row: cell.row, col: cell.col, color: '#123456' }],
    });
    expect(colourForTile.status).toBe(400);
    expect((await findBatch(db.pool, batch.id))!.done).toBe(0);

    const results = [];
    for (const c of l.cells)
      results.push({ batchId: c.batchId, row: c.row, col: c.col, tile: (await tilePng(batch, c.row, c.col)).toString('base64') });
    const answer = await call(`/api/leases/${l.leaseId}/complete`, { results });
    expect(answer.body).toEqual({ recorded: 4, ignored: 0 });
    await expectBatchSettled(db, batch.id, { socket, heard }, { status: 'completed', done: 4 });
    for (const c of await listCells(db.pool, batch.id)) expect(c.color).toBe(meanColor(renderTile(pictureParamsOf(batch), c.row, c.col)));
  });

  it('refuses bad input with 400 and changes nothing', async () => {
    const batch = await start({ rows: 1, cols: 1 });
    expect((await call('/api/leases', { max: 0 })).status).toBe(400);
    expect((await call('/api/leases', { tag: 'Not A Tag' })).status).toBe(400);
    const l = await lease({ max: 1 });
    const bad = await call(`/api/leases/${l.leaseId}/complete`, { results: [{ batchId: batch.id, row: 0, col: 0, color: 'red' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_input');
    expect((await call(`/api/leases/${l.leaseId}/extend`, { leaseSeconds: 601 })).status).toBe(400);
    expect((await call('/api/leases/not-a-lease/complete', { results: [] })).status).toBe(404);
    expect((await call('/api/leases/3f0c8a8e-8a55-4a8e-9f6e-1b1f8f0f2a61/complete', { results: [] })).status).toBe(404);
    expect((await findBatch(db.pool, batch.id))!.done).toBe(0);
    await call(`/api/leases/${l.leaseId}/complete`, { results: [{ batchId: batch.id, row: 0, col: 0, color: '#ABCDEF' }] });
  });

  it('needs the worker token: 401 without it or with a wrong one', async () => {
    for (const token of [null, 'wrong-token']) {
      const answer = await call('/api/leases', { max: 1 }, token);
      expect(answer.status).toBe(401);
      expect(answer.body.error.code).toBe('unauthorized');
    }
  });
});

describe('the lease API, as configured', () => {
  it('is not there without WORKER_TOKEN (404), and past LEASE_REQUESTS_PER_SECOND a token gets 429 with Retry-After', async () => {
    const port = await freePort();
    const closed = await startWebServer(db.url, port);
    try {
      const answer = await send(`http://127.0.0.1:${port}/api/leases`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: '{}',
      });
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe('not_found');
    } finally {
      await closed.stop('SIGKILL');
    }

    const limitedPort = await freePort();
    const limited = await startWebServer(db.url, limitedPort, { WORKER_TOKEN: TOKEN, LEASE_REQUESTS_PER_SECOND: '3' });
    try {
      const answers = await Promise.all(
        Array.from({ length: 12 }, () =>
          send(`http://127.0.0.1:${limitedPort}/api/leases`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
            body: '{"max": 1, "tag": "nobody-serves-this"}',
          }),
        ),
      );
      const refused = answers.filter((a) => a.status === 429);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused[0]!.headers.get('retry-after')).toBe('1');
      expect(refused[0]!.body.error.code).toBe('rate_limited');
      expect(answers.every((a) => a.status === 200 || a.status === 429)).toBe(true);
    } finally {
      await limited.stop('SIGKILL');
    }
  });
});

/** A tile as a client would send it: our own render, as an RGBA PNG of `size` pixels a side. */
async function tilePng(batch: Batch, row: number, col: number, size = batch.tileSize!): Promise<Buffer> {
  const rgb = renderTile(pictureParamsOf(batch), row, col);
  const rgba = new Uint8Array(size * size * 4);
  for (let p = 0; p < size * size; p++) {
    const q = Math.min(p, batch.tileSize! * batch.tileSize! - 1);
    rgba.set(rgb.subarray(q * 3, q * 3 + 3), p * 4);
    rgba[p * 4 + 3] = 255;
  }
  return encodePng(size, size, rgba);
}
