import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { findOverdueBatches } from '../db/batches';
import { every } from '../lifecycle';
import type { Logger } from '../log';
import { deleteBatchQueue, sweepBatchQueues } from './batch-queues';
import { endRunningBatch } from './end-batch';

/**
 * Ends every running batch past its deadline as expired: the guarded status change (which also
 * fences out workers still holding its jobs) and its one `batch:completed` commit together, then
 * its queue is deleted with the cells no worker took. Safe to run from any number of processes at once.
 */
export async function expireOverdueBatches(deps: { pool: pg.Pool; boss: PgBoss }): Promise<string[]> {
  const expired: string[] = [];
  for (const id of await findOverdueBatches(deps.pool, 100)) {
    const batch = await endRunningBatch(deps, id, 'expired');
    if (!batch) continue;
    expired.push(id);
    // Housekeeping only: workers stopped fetching from it with the status change; the sweep below
    // deletes it on a later pass if this fails.
    await deleteBatchQueue(deps, batch.id, 1).catch(() => undefined);
  }
  return expired;
}

/**
 * Every `intervalMs` until the returned stop is called: `expireOverdueBatches`, then the queues of
 * batches that ended otherwise (completed, or cancelled by a process that died before deleting).
 */
export function startDeadlineSweeper(deps: { pool: pg.Pool; boss: PgBoss }, log: Logger, intervalMs = 2000): () => Promise<void> {
  return every(intervalMs, async () => {
    try {
      for (const batchId of await expireOverdueBatches(deps)) log.info('batch expired', { batchId });
    } catch (err) {
      log.warn('deadline sweep failed', { err });
    }
    try {
      const deleted = await sweepBatchQueues(deps);
      if (deleted.length > 0) log.debug('queues of ended batches deleted', { batches: deleted.length });
    } catch (err) {
      log.warn('queue sweep failed', { err });
    }
  });
}
