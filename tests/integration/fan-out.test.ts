import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBatch } from '../../lib/batches/start-batch';
import { createTestDatabase, jobStates, type TestDatabase } from '../helpers/db';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

describe('fan-out', () => {
  it('creates the batch row and exactly one job per cell, in one transaction', async () => {
    const { batch } = await startBatch({ pool: db.pool, boss: await db.boss(), chunkSize: 500, defaultDeadlineSeconds: 600 }, { rows: 30, cols: 70 });
    expect(batch).toMatchObject({ rows: 30, cols: 70, total: 2100, done: 0, failed: 0, status: 'running', finishedAt: null });

    const { rows } = await db.pool.query<{ n: number; distinct_cells: number; max_row: number; max_col: number }>(
      `select count(*)::int as n,
              count(distinct ((data->>'row')::int, (data->>'col')::int))::int as distinct_cells,
              max((data->>'row')::int) as max_row, max((data->>'col')::int) as max_col
         from pgboss.job where name = 'cell' and data->>'batchId' = $1`,
      [batch.id],
    );
    expect(rows[0]).toEqual({ n: 2100, distinct_cells: 2100, max_row: 29, max_col: 69 });
    expect(await jobStates(db.pool, batch.id)).toEqual({ created: 2100 });
  });

  it('leaves nothing behind when the insert fails half way', async () => {
    const before = await db.pool.query<{ batches: number; jobs: number }>(
      `select (select count(*)::int from batches) as batches, (select count(*)::int from pgboss.job where name = 'cell') as jobs`,
    );
    const failing = startBatch(
      {
        pool: db.pool,
        boss: await db.boss(),
        chunkSize: 100, defaultDeadlineSeconds: 600,
        afterChunk: (index) => {
          if (index === 3) throw new Error('injected failure after 400 of 1000 jobs');
        },
      },
      { rows: 10, cols: 100 },
    );
    await expect(failing).rejects.toThrow(/injected failure/);

    const after = await db.pool.query<{ batches: number; jobs: number }>(
      `select (select count(*)::int from batches) as batches, (select count(*)::int from pgboss.job where name = 'cell') as jobs`,
    );
    expect(after.rows[0]).toEqual(before.rows[0]);
  });

  it('fans out a million cells holding one chunk at a time', { timeout: 240_000 }, async () => {
    const heapBefore = process.memoryUsage().heapUsed;
    let peakHeap = heapBefore;
    const { batch } = await startBatch(
      {
        pool: db.pool,
        boss: await db.boss(),
        chunkSize: 5000, defaultDeadlineSeconds: 600,
        afterChunk: () => {
          peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
        },
      },
      { rows: 1000, cols: 1000 },
    );
    expect(batch.total).toBe(1_000_000);
    expect(await jobStates(db.pool, batch.id)).toEqual({ created: 1_000_000 });
    // A million job objects would take hundreds of MB; one chunk of 5,000 takes a few.
    expect(peakHeap - heapBefore).toBeLessThan(150 * 1024 * 1024);
  });
});
