import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelBatch } from '../../lib/batches/cancel-batch';
import { startBatch } from '../../lib/batches/start-batch';
import { findBatch } from '../../lib/db/batches';
import { listCells } from '../../lib/db/cells';
import { withTransaction } from '../../lib/db/pool';
import { cellQueueOf } from '../../lib/queue/cell-job';
import { recordCells } from '../../lib/batches/record-cells';
import { createTestDatabase, jobStates, waitFor, type TestDatabase } from '../helpers/db';
import { connectClient, join, record, startRealtime, type TestClient } from '../helpers/realtime';

let db: TestDatabase;
let realtime: Awaited<ReturnType<typeof startRealtime>>;
let watcher: TestClient;

beforeAll(async () => {
  db = await createTestDatabase();
  realtime = await startRealtime(db.pool, db.url);
  watcher = await connectClient(realtime.url);
});
afterAll(async () => {
  watcher.disconnect();
  await realtime.close();
  await db.drop();
});

const deps = async () => ({ pool: db.pool, boss: await db.boss(), chunkSize: 1000, defaultDeadlineSeconds: 600 });
const cellJobs = (batchId: string, cells: [number, number][]) => cells.map(([row, col]) => ({ batchId, row, col, color: '#ABCDEF' }));

describe('cancel', () => {
  it('ends a running batch once, deletes its queue with its queued jobs, and lets no cell be coloured afterwards', async () => {
    const { batch } = await startBatch(await deps(), { rows: 10, cols: 10 });
    const heard = record(watcher);
    await join(watcher, batch.id, heard);
    await withTransaction(db.pool, async (tx) =>
      recordCells(
        tx,
        cellJobs(batch.id, [
          [0, 0],
          [0, 1],
        ]),
        { boss: await db.boss(), workerId: 'w-1' },
      ),
    );

    const { batch: cancelled, jobsCancelled } = await cancelBatch({ pool: db.pool, boss: await db.boss() }, batch.id);
    await jobsCancelled;
    expect(cancelled).toMatchObject({ status: 'cancelled', done: 2 });
    expect(cancelled.finishedAt).not.toBeNull();

    // A worker that took a job before the cancel records nothing after it.
    const late = await withTransaction(db.pool, async (tx) =>
      recordCells(tx, cellJobs(batch.id, [[5, 5]]), { boss: await db.boss(), workerId: 'w-2' }),
    );
    expect(late.colored.size).toBe(0);
    expect(await listCells(db.pool, batch.id)).toHaveLength(2);

    // Its queue is gone, and every job that was in it.
    expect(await jobStates(db.pool, batch.id)).toEqual({});
    expect(await (await db.boss()).getQueue(cellQueueOf(batch.id))).toBeNull();

    await expect.poll(() => heard.completions.length).toBe(1);
    expect(heard.completions[0]).toMatchObject({ batchId: batch.id, status: 'cancelled', done: 2, total: 100 });
    await expect(cancelBatch({ pool: db.pool, boss: await db.boss() }, batch.id)).rejects.toMatchObject({ code: 'already_finished' });
    expect(heard.completions).toHaveLength(1);
  });

  it('waits for a worker transaction in flight, then fences out the rest', async () => {
    const { batch } = await startBatch(await deps(), { rows: 2, cols: 2 });
    const client = await db.pool.connect();
    try {
      await client.query('begin');
      await recordCells(client, cellJobs(batch.id, [[0, 0]]), { boss: await db.boss(), workerId: 'w-1' });
      // The worker's transaction holds the batch row; the cancel has to wait for it.
      const cancelling = cancelBatch({ pool: db.pool, boss: await db.boss() }, batch.id);
      let settled = false;
      void cancelling.then(
        () => (settled = true),
        () => (settled = true),
      );
      await waitFor(async () => {
        const { rows } = await db.pool.query<{ waiting: number }>(
          `select count(*)::int as waiting from pg_stat_activity
            where wait_event_type = 'Lock' and datname = current_database() and query like 'update batches%'`,
        );
        return rows[0].waiting === 1;
      }, 'the cancel to wait on the batch row lock');
      expect(settled).toBe(false);
      await client.query('commit');
      const { batch: cancelled } = await cancelling;
      expect(cancelled).toMatchObject({ status: 'cancelled', done: 1 });
    } finally {
      client.release();
    }
    expect(await listCells(db.pool, batch.id)).toHaveLength(1);
  });

  it('answers not_found for an unknown batch', async () => {
    await expect(cancelBatch({ pool: db.pool, boss: await db.boss() }, '3f0c8a8e-8a55-4a8e-9f6e-1b1f8f0f2a61')).rejects.toMatchObject({
      code: 'not_found',
    });
  });
});

describe('idempotent creation', () => {
  it('creates one batch for ten concurrent requests with the same key', async () => {
    const key = `key-${Date.now()}`;
    const results = await Promise.all(Array.from({ length: 10 }, async () => startBatch(await deps(), { rows: 20, cols: 20 }, key)));
    const ids = new Set(results.map((r) => r.batch.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const [id] = ids;
    const { rows } = await db.pool.query<{ n: number }>(`select count(*)::int as n from pgboss.job where name = $1`, [cellQueueOf(id)]);
    expect(rows[0].n).toBe(400);
    const again = await startBatch(await deps(), { rows: 20, cols: 20 }, key);
    expect(again).toEqual({ batch: await findBatch(db.pool, id), created: false });
  });

  it('treats different keys as different batches', async () => {
    const a = await startBatch(await deps(), { rows: 1, cols: 1 }, `a-${Date.now()}`);
    const b = await startBatch(await deps(), { rows: 1, cols: 1 }, `b-${Date.now()}`);
    expect(a.batch.id).not.toBe(b.batch.id);
  });
});
