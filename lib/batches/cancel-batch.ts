import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { findBatch } from '../db/batches';
import { PublicError } from '../errors';
import type { Batch } from '../types';
import { deleteBatchQueue } from './batch-queues';
import { endRunningBatch } from './end-batch';

/**
 * Cancels a running batch. The status flip waits for any worker transaction recording this batch's
 * cells (they hold its row lock) and then fences out every later one, so no cell is coloured after
 * this returns; it costs the same for a million cells as for one. From then on workers fetch nothing
 * more from the batch's queue (they fetch from running batches' queues only, and see the change
 * within a quarter of a second), drop the cells of it they hold, and the queue is deleted in the
 * background (`jobsCancelled`: how many jobs it still held queued). Nothing of it stands in the way
 * of another batch meanwhile: each batch has its own queue. See docs/architecture.md, "Cancel".
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
  return { batch, jobsCancelled: deleteBatchQueue(deps, batch.id) };
}
