import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOldestEndedBatches } from '../../lib/db/stored-cells';
import type { BatchStartedEvent } from '../../lib/realtime/events';
import type { Batch } from '../../lib/types';
import { freePort } from '../../scripts/ports';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/db';
import { expectConverged, follow } from '../helpers/follower';
import { createdCounts, postBatch, send, sessionCookieOf } from '../helpers/http';
import { startWebServer, startWorker, type WorkerProcess } from '../helpers/processes';
import { connectClient, join, record, type TestClient } from '../helpers/realtime';

// Batches that start later (startAt / startInSeconds), through a real web server and a real worker.

let db: TestDatabase;
let base: string;
let server: WorkerProcess;
let worker: WorkerProcess;
let socket: TestClient;
const started: BatchStartedEvent[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // A small global cap, so the capacity test can reach it with small batches.
  server = await startWebServer(db.url, port, { MAX_CELLS: '2000', MAX_ACTIVE_CELLS: '2000' });
  worker = startWorker(db.url, 'w-1');
  socket = await connectClient(base, (s) => s.on('batch:started', (event) => started.push(event)));
});

afterAll(async () => {
  if (process.env.H3_DEBUG) console.log(server.output());
  socket?.disconnect();
  await Promise.all([worker, server].filter(Boolean).map((p) => p.stop()));
  await db.drop();
});

async function getBatch(id: string): Promise<Batch> {
  const answer = await send(`${base}/api/batches/${id}`);
  expect(answer.status).toBe(200);
  return answer.body as Batch;
}

/** Every job queued for the batch's cells (whatever queue they are in), and its finished cells. */
async function cellWork(id: string): Promise<{ jobs: number; cells: number }> {
  const { rows } = await db.pool.query<{ jobs: number; cells: number }>(
    `select (select count(*)::int from pgboss.job
              where (data->>'batchId' = $1::text or position($1::text in name) > 0) and name not in ('batch-start', 'image')) as jobs,
            (select count(*)::int from cells where batch_id = $1::uuid) as cells`,
    [id],
  );
  return rows[0];
}

/** The state of the batch's start job in pg-boss. */
async function startJobState(id: string): Promise<string | undefined> {
  const { rows } = await db.pool.query<{ state: string }>(
    `select state from pgboss.job where name = 'batch-start' and data->>'batchId' = $1`,
    [id],
  );
  return rows[0]?.state;
}

describe('starting later', () => {
  it('a batch starting in 2 s is scheduled (no jobs), then running, then completed; its page hears the start', async () => {
    const answer = await postBatch(base, { rows: 4, cols: 5, startInSeconds: 2 });
    expect(answer.status).toBe(201);
    const batch = answer.body as Batch;
    expect(batch.status).toBe('scheduled');
    expect(batch.enqueued).toBe(0);
    const planned = Date.parse(batch.startAt!);
    expect(planned - Date.parse(batch.createdAt)).toBeGreaterThanOrEqual(1990);
    expect(planned - Date.parse(batch.createdAt)).toBeLessThanOrEqual(2010);
    expect(await cellWork(batch.id)).toEqual({ jobs: 0, cells: 0 });
    // The start job is there, held back until the start.
    expect(await startJobState(batch.id)).toBe('created');
    // A page joined while it waits: the snapshot says scheduled, then the start arrives as an event.
    const heard = record(socket);
    const ack = await join(socket, batch.id, heard);
    expect(ack.ok && ack.batch.status).toBe('scheduled');
    // GET /api/batches lists it.
    const list = await send(`${base}/api/batches?limit=5`);
    expect((list.body.batches as Batch[]).find((b) => b.id === batch.id)?.status).toBe('scheduled');

    const running = await waitFor(async () => {
      const b = await getBatch(batch.id);
      return b.status !== 'scheduled' ? b : null;
    }, 'the batch to start');
    expect(['running', 'completed']).toContain(running.status);
    expect(Date.parse(running.startAt!)).toBeGreaterThanOrEqual(planned);
    console.log(`scheduled start: ${Date.parse(running.startAt!) - planned} ms after its startAt`);
    const event = await waitFor(() => started.find((e) => e.batchId === batch.id), 'batch:started on the page');
    expect(event.batch.status).toBe('running');
    expect(event.batch.startAt).toBe(running.startAt);

    const done = await waitFor(async () => {
      const b = await getBatch(batch.id);
      return b.status === 'completed' ? b : null;
    }, 'the batch to complete');
    expect(done.done).toBe(20);
    expect(await cellWork(batch.id)).toMatchObject({ cells: 20 });
    await waitFor(() => heard.completions.some((c) => c.batchId === batch.id && c.status === 'completed'), 'batch:completed on the page');
    const completion = heard.completions.find((c) => c.batchId === batch.id)!;
    // Elapsed counts from the start, not from the creation two seconds before it.
    expect(completion.elapsedMs).toBeLessThanOrEqual(Date.parse(done.finishedAt!) - Date.parse(done.startAt!) + 1);
  });

  it("the page's follower shows a scheduled batch without an end, then turns live on batch:started, with no second join", async () => {
    const answer = await postBatch(base, { rows: 6, cols: 7, startInSeconds: 2 });
    const batch = answer.body as Batch;
    const page = follow(base, batch.id, { apiBase: base });
    let joins = 0;
    const emit = page.socket.emit.bind(page.socket);
    page.socket.emit = ((event: string, ...args: unknown[]) => {
      if (event === 'batch:join') joins++;
      return (emit as (e: string, ...a: unknown[]) => unknown)(event, ...args);
    }) as typeof page.socket.emit;
    try {
      await waitFor(() => page.follower.view().state === 'ready', 'the first join');
      expect(page.follower.view().batch?.status).toBe('scheduled');
      expect(page.follower.view().completion).toBeNull();
      const joinsBefore = joins;
      await waitFor(() => page.follower.view().batch?.status === 'running' || page.follower.view().completion, 'the page to see the start');
      // The event turned it, not a catch-up join.
      expect(joins).toBe(joinsBefore);
      await expectConverged(db, page.follower, batch.id, page.completions);
      expect(page.follower.view().completion?.status).toBe('completed');
    } finally {
      page.close();
    }
  });

  it('the deadline counts from the start: a 2 s deadline on a batch that waits 4 s first still completes', async () => {
    const answer = await postBatch(base, { rows: 2, cols: 2, startInSeconds: 4, deadlineSeconds: 2 });
    expect(answer.status).toBe(201);
    const batch = answer.body as Batch;
    expect(Date.parse(batch.deadlineAt) - Date.parse(batch.startAt!)).toBe(2000);
    const running = await waitFor(async () => {
      const b = await getBatch(batch.id);
      return b.status !== 'scheduled' ? b : null;
    }, 'the batch to start');
    // Moved with the actual start.
    expect(Date.parse(running.deadlineAt) - Date.parse(running.startAt!)).toBe(2000);
    expect(Date.parse(running.deadlineAt)).toBeGreaterThanOrEqual(Date.parse(batch.createdAt) + 6000);
    const ended = await waitFor(async () => {
      const b = await getBatch(batch.id);
      return b.status !== 'running' ? b : null;
    }, 'the batch to end');
    // Counted from the creation it would have been overdue before it started, and expired at once.
    expect(ended.status).toBe('completed');
    expect(Date.parse(ended.finishedAt!)).toBeGreaterThan(Date.parse(batch.createdAt) + 2000);
  });

  it('cancel while scheduled: 200 cancelled; the start comes and goes and the batch never fans out', async () => {
    const answer = await postBatch(base, { rows: 10, cols: 10, startInSeconds: 2 });
    expect(answer.status).toBe(201);
    const batch = answer.body as Batch;
    const cookie = sessionCookieOf(answer)!;
    const cancel = await send(`${base}/api/batches/${batch.id}/cancel`, { method: 'POST', headers: { cookie } });
    expect(cancel.status).toBe(200);
    expect(cancel.body.status).toBe('cancelled');
    // Cancelling twice is as for a running batch.
    expect((await send(`${base}/api/batches/${batch.id}/cancel`, { method: 'POST', headers: { cookie } })).status).toBe(409);
    // Its start job ran (after the start time) and found nothing to do.
    await waitFor(async () => (await startJobState(batch.id)) === 'completed', 'the start job to run');
    const after = await getBatch(batch.id);
    expect(after.status).toBe('cancelled');
    expect(after.enqueued).toBe(0);
    expect(await cellWork(batch.id)).toEqual({ jobs: 0, cells: 0 });
    expect(started.some((e) => e.batchId === batch.id)).toBe(false);
  });

  it('a start job that is lost (deleted here) does not strand the batch: a web server starts it late', async () => {
    const answer = await postBatch(base, { rows: 2, cols: 3, startInSeconds: 2 });
    const batch = answer.body as Batch;
    const { rowCount } = await db.pool.query(`delete from pgboss.job where name = 'batch-start' and data->>'batchId' = $1`, [batch.id]);
    expect(rowCount).toBe(1);
    const started = await waitFor(
      async () => {
        const b = await getBatch(batch.id);
        return b.status !== 'scheduled' ? b : null;
      },
      'the late start',
      60_000,
    );
    // Started by the safety net: at least its 15 s of grace after the planned start.
    expect(Date.parse(started.startAt!) - Date.parse(batch.startAt!)).toBeGreaterThanOrEqual(15_000);
    await waitFor(async () => (await getBatch(batch.id)).status === 'completed', 'the batch to complete');
  });

  it("retention's size guard never takes a scheduled batch for an ended one (it would try it first, forever)", async () => {
    const answer = await postBatch(base, { rows: 2, cols: 2, startInSeconds: 600 });
    const batch = answer.body as Batch;
    try {
      const oldest = await findOldestEndedBatches(db.pool, 100);
      expect(oldest.map((b) => b.id)).not.toContain(batch.id);
    } finally {
      const cookie = sessionCookieOf(answer)!;
      await send(`${base}/api/batches/${batch.id}/cancel`, { method: 'POST', headers: { cookie } });
    }
  });

  it('scheduled batches hold their cells against MAX_ACTIVE_CELLS from the moment they are accepted', async () => {
    const later = await postBatch(base, { rows: 30, cols: 50, startInSeconds: 600 });
    expect(later.status).toBe(201);
    const now = await postBatch(base, { rows: 20, cols: 30 });
    expect(now.status).toBe(503);
    expect(now.body.error.code).toBe('busy');
    const cookie = sessionCookieOf(later)!;
    expect((await send(`${base}/api/batches/${later.body.id}/cancel`, { method: 'POST', headers: { cookie } })).status).toBe(200);
    const again = await postBatch(base, { rows: 20, cols: 30 });
    expect(again.status).toBe(201);
  });

  it.each([
    ['both', { startAt: new Date(Date.now() + 60_000).toISOString(), startInSeconds: 60 }],
    ['startInSeconds out of range', { startInSeconds: 604_801 }],
    ['startInSeconds negative', { startInSeconds: -5 }],
    ['startInSeconds a string', { startInSeconds: '5' }],
    ['startAt unparseable', { startAt: 'soon' }],
    ['startAt more than 7 days ahead', { startAt: new Date(Date.now() + 8 * 24 * 3600_000).toISOString() }],
  ])('refuses %s with 400 invalid_input and creates nothing', async (_name, extra) => {
    const before = await createdCounts(db.pool);
    const answer = await postBatch(base, { rows: 2, cols: 2, ...extra });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('invalid_input');
    expect(await createdCounts(db.pool)).toEqual(before);
  });

  it('a startAt already past starts the batch at once, as a v1 batch', async () => {
    const answer = await postBatch(base, { rows: 2, cols: 2, startAt: new Date(Date.now() - 5000).toISOString() });
    expect(answer.status).toBe(201);
    expect(answer.body.status).toBe('running');
    expect(answer.body.startAt).toBeUndefined();
  });
});
