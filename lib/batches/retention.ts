import type pg from 'pg';
import { deleteEndedBatch, findBatchesPastRetention } from '../db/batches';
import { deleteCellsOf } from '../db/cells';
import { deleteImageParts } from '../db/images';
import { withTransaction } from '../db/pool';
import { findOldestEndedBatches, storedCells } from '../db/stored-cells';
import { deleteThroughputBefore } from '../db/throughput';
import { deleteWorkersStoppedBefore } from '../db/workers';
import { every } from '../lifecycle';
import type { Logger } from '../log';

/** The dashboard charts the last few minutes; an hour of samples is plenty. */
export const THROUGHPUT_RETENTION_MINUTES = 60;

/** How long ended batches are kept, and how many cells at most (`RETENTION_DAYS`, `RETENTION_MAX_CELLS`). */
export interface RetentionPolicy {
  days: number;
  /** Past this many kept cells, the oldest ended batches go before their time; absent, no size guard. */
  maxCells?: number;
}

export interface RetentionResult {
  batches: number;
  cells: number;
  workers: number;
  samples: number;
  /** Of `batches`, those deleted before their time by the size guard, and their cells. */
  early: { batches: number; cells: number; storedCells: number } | null;
}

/**
 * Deletes what has outlived the retention: batches that ended more than `days` ago, with their cells,
 * cell events and image, one batch per transaction so no lock is held for long, and workers that stopped
 * that long ago, and throughput samples older than an hour. pg-boss deletes the batches' jobs on the same schedule (the queues' `deleteAfterSeconds`
 * is set from the same setting). A running batch is never touched: its deadline ends it first.
 * With `maxCells`, the size guard (`applySizeGuard`) then deletes older ended batches early.
 */
export async function applyRetention(pool: pg.Pool, policy: number | RetentionPolicy): Promise<RetentionResult> {
  const { days, maxCells } = typeof policy === 'number' ? { days: policy, maxCells: undefined } : policy;
  const deleted: RetentionResult = { batches: 0, cells: 0, workers: 0, samples: 0, early: null };
  for (;;) {
    const ids = await findBatchesPastRetention(pool, days, 100);
    for (const id of ids) {
      const cells = await deleteEndedBatchAndParts(pool, id);
      if (cells !== null) {
        deleted.batches++;
        deleted.cells += cells;
      }
    }
    if (ids.length < 100) break;
  }
  if (maxCells !== undefined) {
    deleted.early = await applySizeGuard(pool, maxCells);
    deleted.batches += deleted.early?.batches ?? 0;
    deleted.cells += deleted.early?.cells ?? 0;
  }
  deleted.workers = await deleteWorkersStoppedBefore(pool, days);
  deleted.samples = await deleteThroughputBefore(pool, THROUGHPUT_RETENTION_MINUTES);
  return deleted;
}

/**
 * The size guard: while more than `maxCells` cells are kept, deletes ended batches oldest first,
 * whatever their age, until the kept cells fit (or only running batches are left, which are never
 * touched). Null when nothing was over. A disk filling faster than the retention empties it (many big
 * batches in a few days) so stops at a size the operator chose.
 */
async function applySizeGuard(pool: pg.Pool, maxCells: number): Promise<RetentionResult['early']> {
  const stored = await storedCells(pool);
  let excess = stored - maxCells;
  if (excess <= 0) return null;
  const early = { batches: 0, cells: 0, storedCells: stored };
  while (excess > 0) {
    const oldest = await findOldestEndedBatches(pool, 100);
    if (oldest.length === 0) break;
    for (const { id } of oldest) {
      const cells = await deleteEndedBatchAndParts(pool, id);
      if (cells !== null) {
        early.batches++;
        early.cells += cells;
        excess -= cells;
      }
      if (excess <= 0) break;
    }
  }
  return early;
}

/** Deletes one ended batch with its cells, events and image, in one short transaction; its cells, or null if it was gone. */
async function deleteEndedBatchAndParts(pool: pg.Pool, id: string): Promise<number | null> {
  return withTransaction(pool, async (tx) => {
    const cells = await deleteCellsOf(tx, id);
    await deleteImageParts(tx, id);
    return (await deleteEndedBatch(tx, id)) ? cells : null;
  });
}

/** Applies the retention now and then every `intervalMs`, until the returned stop is called. */
export function startRetentionSweeper(
  pool: pg.Pool,
  policy: number | RetentionPolicy,
  log: Logger,
  intervalMs = 10 * 60_000,
): () => Promise<void> {
  const { days, maxCells } = typeof policy === 'number' ? { days: policy, maxCells: undefined } : policy;
  const sweep = async () => {
    try {
      const { early, ...deleted } = await applyRetention(pool, { days, maxCells });
      if (early) {
        log.warn('retention size guard: deleted the oldest ended batches before their time', {
          storedCells: early.storedCells,
          maxCells,
          batches: early.batches,
          cells: early.cells,
        });
      }
      if (deleted.batches + deleted.workers > 0) log.info('retention applied', { days, ...deleted });
    } catch (err) {
      log.warn('retention failed', { err });
    }
  };
  const first = sweep();
  const stop = every(intervalMs, sweep);
  return async () => {
    await first;
    await stop();
  };
}
