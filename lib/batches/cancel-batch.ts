import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { findBatch } from '../db/batches';
import { deleteNewestQueuedJobsOfBatch, endQueuedJobsOfBatch, isLockTimeout } from '../db/jobs';
import { withTransaction } from '../db/pool';
import { PublicError } from '../errors';
import { cellQueueOf } from '../queue/cell-job';
import type { Batch } from '../types';
import { endRunningBatch } from './end-batch';

/**
 * A batch this small has its queued jobs marked cancelled, as pg-boss's cancel marks them, in one
 * statement: they show as cancelled until pg-boss deletes them a minute later.
 */
const MARK_CANCELLED_UP_TO = 10_000;
/**
 * Larger ones are deleted, newest first, this many per transaction (a fraction of a second each),
 * without locking them first; their oldest `NEAR_WORKERS`, which workers may be taking as we go, are
 * deleted last, locking each first so as never to wait for a worker (see deleteNewestQueuedJobsOfBatch).
 */
const DELETE_CHUNK = 50_000;
const NEAR_WORKERS = 20_000;
const LOCKED_CHUNK = 10_000;
/** A chunk waits this long at most for a row another transaction holds, then gives way. */
const LOCK_WAIT_MS = 500;
const CHUNK_TRIES = 3;

/**
 * Cancels a running batch. The status flip waits for any worker transaction recording this batch's
 * cells (they hold its row lock) and then fences out every later one, so no cell is coloured after
 * this returns; it costs the same for a million cells as for one. From then on workers do no work
 * for the batch's cells (they check that a batch runs before working on its cells, and a slow fetch
 * in hand drops them), and its queued jobs are ended in the background (`jobsCancelled`), found by
 * the batch's key (`cancelQueuedJobs`). See docs/architecture.md, "Cancel".
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
  return { batch, jobsCancelled: cancelQueuedJobs(deps.pool, batch) };
}

/**
 * Ends the batch's jobs that no worker has taken yet and returns how many, on `pool`'s connections.
 * A small batch's are marked cancelled; a large one's are deleted by the batch's key, a chunk at a
 * time, newest first and without locking them first (a third of the cost), then the oldest, which
 * workers may be taking meanwhile, locking each first. That cost is the whole of what a batch
 * started right after waits for: a fetch takes the oldest first, so it reaches the new batch's jobs
 * only once these are gone (docs/architecture.md, "Cancel"). Jobs queued without the
 * batch's key (by a version before keys) are not found here; workers complete them without work.
 */
export async function cancelQueuedJobs(pool: pg.Pool, batch: Pick<Batch, 'id' | 'kind' | 'workMs' | 'total'>): Promise<number> {
  const queue = cellQueueOf(batch);
  if (batch.total <= MARK_CANCELLED_UP_TO) return endQueuedJobsOfBatch(pool, queue, batch.id, MARK_CANCELLED_UP_TO, 'cancel');
  let ended = 0;
  let before: string | null = null;
  for (;;) {
    const chunk = await deleteNewestChunk(pool, queue, batch.id, before);
    if (chunk.ended === 0) break;
    ended += chunk.ended;
    before = chunk.from;
  }
  for (;;) {
    const n = await endQueuedJobsOfBatch(pool, queue, batch.id, LOCKED_CHUNK, 'delete');
    if (n === 0) return ended;
    ended += n;
  }
}

/**
 * A chunk of the newest jobs; 0 once only the oldest are left, or when it kept waiting too long for
 * rows held elsewhere (the rest then go the locking way).
 */
async function deleteNewestChunk(
  pool: pg.Pool,
  queue: string,
  batchId: string,
  before: string | null,
): Promise<{ ended: number; from: string | null }> {
  for (let tries = 1; ; tries++) {
    try {
      return await withTransaction(pool, (tx) =>
        deleteNewestQueuedJobsOfBatch(tx, queue, batchId, {
          limit: DELETE_CHUNK,
          behind: NEAR_WORKERS,
          before,
          lockTimeoutMs: LOCK_WAIT_MS,
        }),
      );
    } catch (err) {
      if (!isLockTimeout(err)) throw err;
      if (tries === CHUNK_TRIES) return { ended: 0, from: null };
    }
  }
}
