import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRetention } from '../../lib/batches/retention';
import { endBatch, findBatch, insertBatch } from '../../lib/db/batches';
import { listCells } from '../../lib/db/cells';
import { withTransaction } from '../../lib/db/pool';
import { addThroughputSamples } from '../../lib/db/throughput';
import { markWorkerStopped, registerWorker } from '../../lib/db/workers';
import { recordCells } from '../../lib/batches/record-cells';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

/** A 2×2 batch with every cell recorded (so completed), or with one cell left (still running). */
async function batchWithCells(finish: boolean) {
  const batch = (await insertBatch(db.pool, { id: randomUUID(), rows: 2, cols: 2, deadlineSeconds: 600 }))!;
  const cells = [
    [0, 0],
    [0, 1],
    [1, 0],
    [1, 1],
  ]
    .slice(0, finish ? 4 : 3)
    .map(([row, col]) => ({ batchId: batch.id, row, col, color: '#123456' }));
  await withTransaction(db.pool, async (tx) => recordCells(tx, cells, { boss: await db.boss(), workerId: 'w-1' }));
  return batch.id;
}

const age = (id: string, days: number) =>
  db.pool.query(
    `update batches set created_at = now() - make_interval(days => $2), finished_at = now() - make_interval(days => $2) where id = $1`,
    [id, days],
  );

const count = async (table: string, batchId: string) =>
  (await db.pool.query<{ n: number }>(`select count(*)::int as n from ${table} where batch_id = $1`, [batchId])).rows[0].n;

describe('retention', () => {
  it('deletes finished batches older than the retention, with their cells and events, and keeps the rest', async () => {
    const old = await batchWithCells(true);
    await age(old, 10);
    const oldCancelled = await batchWithCells(false);
    await endBatch(db.pool, oldCancelled, 'cancelled');
    await age(oldCancelled, 8);
    const recent = await batchWithCells(true);
    await age(recent, 2);
    const running = await batchWithCells(false);
    await db.pool.query(`update batches set created_at = now() - interval '30 days' where id = $1`, [running]);

    const result = await applyRetention(db.pool, 7);
    expect(result).toMatchObject({ batches: 2, cells: 7 });

    for (const id of [old, oldCancelled]) {
      expect(await findBatch(db.pool, id)).toBeNull();
      expect(await count('cells', id)).toBe(0);
      expect(await count('cell_events', id)).toBe(0);
    }
    expect(await listCells(db.pool, recent)).toHaveLength(4);
    expect(await count('cell_events', recent)).toBeGreaterThan(0);
    // A running batch is never deleted, however old: it ends by its deadline first.
    expect(await findBatch(db.pool, running)).toMatchObject({ status: 'running', done: 3 });

    // Nothing more to do the second time.
    expect(await applyRetention(db.pool, 7)).toMatchObject({ batches: 0, cells: 0 });
  });

  it('forgets workers that stopped before the retention', async () => {
    await registerWorker(db.pool, { id: 'w-old', host: 'h', pid: 1 });
    await markWorkerStopped(db.pool, 'w-old');
    await db.pool.query(`update workers set stopped_at = now() - interval '9 days' where id = 'w-old'`);
    await registerWorker(db.pool, { id: 'w-live', host: 'h', pid: 2 });
    expect(await applyRetention(db.pool, 7)).toMatchObject({ workers: 1 });
    const { rows } = await db.pool.query<{ id: string }>('select id from workers order by id');
    expect(rows.map((r) => r.id)).toContain('w-live');
    expect(rows.map((r) => r.id)).not.toContain('w-old');
  });

  it('deletes throughput samples older than an hour and keeps the recent ones', async () => {
    const now = Math.floor(Date.now() / 1000);
    await addThroughputSamples(db.pool, 'w-1', [
      { second: now - 2 * 3600, cells: 5 },
      { second: now - 61 * 60, cells: 6 },
      { second: now - 30, cells: 7 },
    ]);
    expect(await applyRetention(db.pool, 7)).toMatchObject({ samples: 2 });
    const { rows } = await db.pool.query<{ cells: number }>(`select cells from throughput_samples where worker_id = 'w-1'`);
    expect(rows).toEqual([{ cells: 7 }]);
  });
});
