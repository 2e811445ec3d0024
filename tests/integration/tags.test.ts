import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeadlineSweeper } from '../../lib/batches/expire-batches';
import { startBatch } from '../../lib/batches/start-batch';
import { findBatch } from '../../lib/db/batches';
import { CELL_QUEUE } from '../../lib/queue/cell-job';
import type { BatchInput, BatchStatus } from '../../lib/types';
import { createTestDatabase, quietLog, waitFor, type TestDatabase } from '../helpers/db';
import { startWorker, type WorkerProcess } from '../helpers/processes';

// Routing by tag (CONTRACT.md "Routing by tag"): a batch's cells are taken only by workers serving
// its tag (WORKER_TAGS). Two real workers, one serving `default`, one `gpu`; the deadline sweep of a
// web server runs in the test process.

let db: TestDatabase;
let stopSweeper: () => Promise<void>;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  stopSweeper = startDeadlineSweeper({ pool: db.pool, boss: await db.boss() }, quietLog, 200);
  workers.push(startWorker(db.url, 'w-default'), startWorker(db.url, 'w-gpu', { WORKER_TAGS: 'gpu' }));
  await waitFor(async () => {
    const { rows } = await db.pool.query<{ n: number }>('select count(*)::int as n from workers where stopped_at is null');
    return rows[0].n === 2;
  }, 'both workers to register');
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await stopSweeper();
  await db.drop();
});

async function start(input: BatchInput) {
  const { batch } = await startBatch({ pool: db.pool, boss: await db.boss(), chunkSize: 1000, defaultDeadlineSeconds: 600 }, input);
  return batch;
}

async function ended(batchId: string, status: BatchStatus) {
  return waitFor(
    async () => {
      const b = await findBatch(db.pool, batchId);
      return b?.status === status ? b : null;
    },
    `batch ${batchId} to be ${status}`,
    60_000,
  );
}

/** How many of the batch's cells each worker recorded. */
async function paintedBy(batchId: string): Promise<Record<string, number>> {
  const { rows } = await db.pool.query<{ worker_id: string; n: number }>(
    'select worker_id, count(*)::int as n from cells where batch_id = $1 group by worker_id',
    [batchId],
  );
  return Object.fromEntries(rows.map((r) => [r.worker_id, r.n]));
}

describe('routing by tag', () => {
  it('gives a tagged batch only to the worker serving its tag, and an untagged one only to the default worker', async () => {
    const gpu = await start({ rows: 20, cols: 20, tag: 'gpu' });
    const plain = await start({ rows: 20, cols: 20 });
    expect(gpu.tag).toBe('gpu');
    expect(plain.tag).toBe('default');
    await ended(gpu.id, 'completed');
    await ended(plain.id, 'completed');
    expect(await paintedBy(gpu.id)).toEqual({ 'w-gpu': 400 });
    expect(await paintedBy(plain.id)).toEqual({ 'w-default': 400 });
    // Each worker says which tags it serves.
    const { rows } = await db.pool.query<{ id: string; tags: string[] }>('select id, tags from workers order by id');
    expect(rows).toEqual([
      { id: 'w-default', tags: ['default'] },
      { id: 'w-gpu', tags: ['gpu'] },
    ]);
  });

  it('leaves a batch whose tag no worker serves unpainted, and it expires at its deadline', async () => {
    const nobody = await start({ rows: 5, cols: 5, tag: 'nobody', deadlineSeconds: 2 });
    const batch = await ended(nobody.id, 'expired');
    expect(batch).toMatchObject({ done: 0, failed: 0, tag: 'nobody' });
    expect(Date.parse(batch.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(batch.deadlineAt));
    expect(await paintedBy(nobody.id)).toEqual({});
  });

  it('still takes the jobs a version before queues per batch left on the shared queue (a batch running across the upgrade finishes)', async () => {
    // Its own queue's jobs are for no worker (its tag), so only the shared queue's can paint it.
    const old = await start({ rows: 2, cols: 2, tag: 'nobody' });
    const cells = [0, 1].flatMap((row) => [0, 1].map((col) => ({ data: { batchId: old.id, row, col } })));
    await (await db.boss()).insert(CELL_QUEUE, cells);
    await ended(old.id, 'completed');
    expect(await paintedBy(old.id)).toEqual({ 'w-default': 4 });
  });
});
