import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { findBatch } from '../db/batches';
import { endQueuedJobsOfBatch } from '../db/jobs';
import type { Sql } from '../db/sql';
import { PublicError } from '../errors';
import { cellQueueOf } from '../queue/cell-job';
import type { Batch } from '../types';
import { endRunningBatch } from './end-batch';

// Jobs ended per statement: each is its own short transaction, so workers fetching beside it skip
// only the rows it holds, and never for long.
const CANCEL_CHUNK = 10_000;

/**
 * Cancels a running batch. The status flip waits for any worker transaction recording this batch's
 * cells (they hold its row lock) and then fences out every later one, so no cell is coloured after
 * this returns; it costs the same for a million cells as for one. From then on workers do no work
 * for the batch's cells (they check that a batch runs before working on its cells, and a slow fetch
 * in hand drops them), and its queued jobs are cancelled in the background (`jobsCancelled`), found
 * by the batch's key, oldest first. See docs/architecture.md, "Cancel".
 */
export async function cancelBatch(
  deps: { pool: pg.Pool; boss: PgBoss },
  batchId: string,
): Promise<{ batch: Batch; jobsCancelled: Promise<number> }> {
  const batch = await endRunningBatch(deps, batchId, 'cancelled');
  if (!batch) {
    const existing = await findBatch(deps.pool, batchId);
    if (!existing) throw new PublicError('not_found', 'No batch has this id.');
    throw new PublicError('already_finished', `This batch already ended as ${existing.status}; there is nothing to cancel.`);
  }
  return { batch, jobsCancelled: cancelQueuedJobs(deps.boss, batch) };
}

/**
 * Ends the batch's jobs that no worker has taken yet, a chunk at a time, on pg-boss's own
 * connections, and returns how many. The first chunk is marked cancelled, as pg-boss marks them (so
 * a small batch's jobs all show as cancelled until pg-boss deletes them); past it, they are deleted
 * outright, at a quarter of the cost: the sooner they are gone, the sooner newer batches' jobs come
 * up (a fetch takes the oldest first). Jobs queued without the batch's key (by a version before
 * keys) are not found here; workers complete them without work.
 */
export async function cancelQueuedJobs(boss: PgBoss, batch: Pick<Batch, 'id' | 'kind' | 'workMs'>): Promise<number> {
  const queue = cellQueueOf(batch);
  const db = boss.getDb();
  const sql: Sql = { query: async (text, values) => db.executeSql(text, values) as never };
  let ended = 0;
  for (;;) {
    const n = await endQueuedJobsOfBatch(sql, queue, batch.id, CANCEL_CHUNK, ended === 0 ? 'cancel' : 'delete');
    ended += n;
    if (n === 0) return ended;
  }
}
