import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { findBatch } from '../db/batches';
import { PublicError } from '../errors';
import { cellQueueOf } from '../queue/cell-job';
import type { Batch } from '../types';
import { endRunningBatch } from './end-batch';

// Each lookup scans the queue's jobs for this batch's payloads, so take many per round.
const CANCEL_CHUNK = 20_000;

/**
 * Cancels a running batch. The status flip waits for any worker transaction recording this batch's
 * cells (they hold its row lock) and then fences out every later one, so no cell is coloured after
 * this returns. The queued jobs are cancelled afterwards (`jobsCancelled`), which takes a while on a
 * large batch and is only housekeeping: a job a worker takes first completes without painting.
 */
export async function cancelBatch(deps: { pool: pg.Pool; boss: PgBoss }, batchId: string): Promise<{ batch: Batch; jobsCancelled: Promise<number> }> {
  const batch = await endRunningBatch(deps, batchId, 'cancelled');
  if (!batch) {
    const existing = await findBatch(deps.pool, batchId);
    if (!existing) throw new PublicError('not_found', 'No batch has this id.');
    throw new PublicError('already_finished', `This batch already ended as ${existing.status}; there is nothing to cancel.`);
  }
  return { batch, jobsCancelled: cancelQueuedJobs(deps.boss, batch) };
}

/** Cancels the batch's jobs that no worker has taken yet, a chunk at a time. */
export async function cancelQueuedJobs(boss: PgBoss, batch: Pick<Batch, 'id' | 'kind' | 'workMs'>): Promise<number> {
  const queue = cellQueueOf(batch);
  let cancelled = 0;
  for (;;) {
    const jobs = await boss.findJobs(queue, { data: { batchId: batch.id }, queued: true, limit: CANCEL_CHUNK });
    if (jobs.length === 0) return cancelled;
    await boss.cancel(queue, jobs.map((job) => job.id));
    cancelled += jobs.length;
  }
}
