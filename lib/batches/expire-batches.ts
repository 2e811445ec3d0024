import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { findOverdueBatches } from '../db/batches';
import { every } from '../lifecycle';
import type { Logger } from '../log';
import { cancelQueuedJobs } from './cancel-batch';
import { endRunningBatch } from './end-batch';

/**
 * Ends every running batch past its deadline as expired: the guarded status change (which also
 * fences out workers still holding its jobs) and its one `batch:completed` commit together, then
 * the cells no worker took are cancelled. Safe to run from any number of processes at once.
 */
export async function expireOverdueBatches(deps: { pool: pg.Pool; boss: PgBoss }): Promise<string[]> {
  const expired: string[] = [];
  for (const id of await findOverdueBatches(deps.pool, 100)) {
    const batch = await endRunningBatch(deps, id, 'expired');
    if (!batch) continue;
    expired.push(id);
    // Housekeeping only: the batch is fenced already, and leftover jobs complete without painting.
    await cancelQueuedJobs(deps.pool, batch).catch(() => undefined);
  }
  return expired;
}

/** Runs `expireOverdueBatches` every `intervalMs` until the returned stop is called. */
export function startDeadlineSweeper(deps: { pool: pg.Pool; boss: PgBoss }, log: Logger, intervalMs = 2000): () => Promise<void> {
  return every(intervalMs, async () => {
    try {
      for (const batchId of await expireOverdueBatches(deps)) log.info('batch expired', { batchId });
    } catch (err) {
      log.warn('deadline sweep failed', { err });
    }
  });
}
