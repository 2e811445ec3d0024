import type pg from 'pg';
import { deleteEndedBatch, findBatchesPastRetention } from '../db/batches';
import { deleteCellsOf } from '../db/cells';
import { deleteImageParts } from '../db/images';
import { withTransaction } from '../db/pool';
import { deleteThroughputBefore } from '../db/throughput';
import { deleteWorkersStoppedBefore } from '../db/workers';
import { errorMessage } from '../errors';
import { every } from '../lifecycle';
import type { Logger } from '../log';

/** The dashboard charts the last few minutes; an hour of samples is plenty. */
export const THROUGHPUT_RETENTION_MINUTES = 60;

/**
 * Deletes what has outlived the retention: batches that ended more than `days` ago, with their cells,
 * cell events and image, one batch per transaction so no lock is held for long, and workers that stopped
 * that long ago, and throughput samples older than an hour. pg-boss deletes the batches' jobs on the same schedule (the queues' `deleteAfterSeconds`
 * is set from the same setting). A running batch is never touched: its deadline ends it first.
 */
export async function applyRetention(pool: pg.Pool, days: number): Promise<{ batches: number; cells: number; workers: number; samples: number }> {
  const deleted = { batches: 0, cells: 0, workers: 0, samples: 0 };
  for (;;) {
    const ids = await findBatchesPastRetention(pool, days, 100);
    for (const id of ids) {
      await withTransaction(pool, async (tx) => {
        const cells = await deleteCellsOf(tx, id);
        await deleteImageParts(tx, id);
        if (await deleteEndedBatch(tx, id)) {
          deleted.batches++;
          deleted.cells += cells;
        }
      });
    }
    if (ids.length < 100) break;
  }
  deleted.workers = await deleteWorkersStoppedBefore(pool, days);
  deleted.samples = await deleteThroughputBefore(pool, THROUGHPUT_RETENTION_MINUTES);
  return deleted;
}

/** Applies the retention now and then every `intervalMs`, until the returned stop is called. */
export function startRetentionSweeper(pool: pg.Pool, days: number, log: Logger, intervalMs = 10 * 60_000): () => Promise<void> {
  const sweep = async () => {
    try {
      const deleted = await applyRetention(pool, days);
      if (deleted.batches + deleted.workers > 0) log.info('retention applied', { days, ...deleted });
    } catch (err) {
      log.warn('retention failed', { err: errorMessage(err) });
    }
  };
  const first = sweep();
  const stop = every(intervalMs, sweep);
  return async () => {
    await first;
    await stop();
  };
}
