import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { findEndedBatchIds } from '../db/batches';
import { deleteSharedQueue, emptyOwnTable } from '../db/jobs';
import { withTransaction } from '../db/pool';
import { isLockRace, retryLockRace } from '../queue/boss';
import { batchOfCellQueue, cellQueueOf } from '../queue/cell-job';

/**
 * A batch's queue is deleted once the batch has ended (completed, cancelled, expired): the cells
 * table is the record, so nothing in it is kept. A queue whose batch does not exist (its batch's
 * first transaction rolled back after the queue was made, or the batch was deleted) goes once it is
 * this old, so a batch being created right now keeps its queue.
 */
const ORPHAN_QUEUE_MS = 60_000;

/**
 * Deletes a batch's queue and every job still in it; returns how many were queued (waiting, or
 * waiting to retry) as pg-boss last counted (its workers count every few seconds; an exact count
 * would read a million index entries for a number nobody needs). Workers have stopped fetching from
 * it by then (they fetch from running batches' queues only), and the jobs some of them still hold
 * complete or fail into nothing. A queue in the shared table goes in one statement
 * (`deleteSharedQueue`); one with a table of its own (from OWN_TABLE_FROM_CELLS cells,
 * lib/queue/boss.ts) is dropped, tried `tries` times (see DELETE_TRIES). No-op for a queue already gone.
 */
export async function deleteBatchQueue(deps: { pool: pg.Pool; boss: PgBoss }, batchId: string, tries = DELETE_TRIES): Promise<number> {
  const queue = cellQueueOf(batchId);
  const held = await deps.boss.getQueue(queue);
  if (!held) return 0;
  if (!held.partition) {
    await deleteSharedQueue(deps.pool, queue);
    return held.queuedCount;
  }
  // Emptied first (waiting for its own table only), so that pg-boss's drop finds the job tables free.
  await withTransaction(deps.pool, (tx) => emptyOwnTable(tx, queue, EMPTY_LOCK_WAIT_MS)).catch((err: unknown) => {
    if (!isLockRace(err)) throw err;
  });
  await retryLockRace(
    tries,
    () => DELETE_RETRY_MS,
    () => deps.boss.deleteQueue(queue),
  );
  return held.queuedCount;
}

/**
 * A queue with its own table is dropped under an ACCESS EXCLUSIVE lock on pg-boss's job tables that
 * pg-boss takes without waiting, trying for about 3 s (so it never stalls workers behind it); under
 * a steady load (pg-boss's own statistics pass reads every job table for seconds when a million jobs
 * are queued) that can fail. Nothing waits on the drop (no worker fetches from the queue any more),
 * so it tries again a while later; past that the sweep does.
 */
const DELETE_TRIES = 10;
/** How long emptying a queue's own table waits for it (see emptyOwnTable). */
const EMPTY_LOCK_WAIT_MS = 10_000;
const DELETE_RETRY_MS = 2000;

/**
 * Deletes the queues of the batches that have ended, and of batches that no longer exist: the one
 * place that makes sure no queue outlives its batch, whoever ended it (a worker's last recording, a
 * cancel whose process died before deleting, the deadline sweep). Reads pg-boss's queue list (a row
 * per queue, no jobs) and the batches it names. Safe in any number of processes at once. Returns the
 * batches whose queue it deleted.
 */
export async function sweepBatchQueues(deps: { pool: pg.Pool; boss: PgBoss }, orphanAfterMs = ORPHAN_QUEUE_MS): Promise<string[]> {
  const queues = new Map<string, Date>();
  for (const q of await deps.boss.getQueues()) {
    const batchId = batchOfCellQueue(q.name);
    if (batchId) queues.set(batchId, new Date(q.createdOn));
  }
  if (queues.size === 0) return [];
  const { ended, missing } = await findEndedBatchIds(deps.pool, [...queues.keys()]);
  const now = Date.now();
  const gone = [...ended, ...[...missing].filter((id) => now - queues.get(id)!.getTime() >= orphanAfterMs)];
  const deleted: string[] = [];
  for (const batchId of gone) {
    // One try each: the loop that runs this also expires batches, and must not wait on a busy drop.
    try {
      await deleteBatchQueue(deps, batchId, 1);
      deleted.push(batchId);
    } catch (err) {
      if (!isLockRace(err)) throw err;
    }
  }
  return deleted;
}
