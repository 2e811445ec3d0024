import { advanceBatch, lockBatchIfRunning } from '../lib/db/batches';
import { insertOutcomes, splitOutcomes } from '../lib/db/cells';
import type { Sql } from '../lib/db/sql';
import type { CellJobData } from '../lib/queue/cell-job';
import { completedEvent } from '../lib/realtime/events';
import { emitInTransaction } from '../lib/realtime/emitter';
import type { ColoredCell, FailedCell } from '../lib/types';

/** How a cell finished: with a colour, or (its retries exhausted) with an error. */
export type CellOutcome = CellJobData & ({ color: string; error?: undefined } | { error: string; color?: undefined });

export interface RecordResult {
  /** Cells this call finished for the first time, by batch. */
  colored: Map<string, ColoredCell[]>;
  failed: Map<string, FailedCell[]>;
  /** Batches this call moved to their terminal status. */
  completed: string[];
}

/**
 * Records finished cells on the transaction that will also settle their jobs: per batch, lock the
 * batch row (a cancelled or expired batch takes nothing more), insert the outcomes (the first one a
 * cell gets is final), move the counters by the cells that were new, finish the batch if they were
 * its last, and queue the news for the batch's room. Postgres delivers that news when the
 * transaction commits, and never if it rolls back.
 */
export async function recordCells(tx: Sql, outcomes: CellOutcome[], workerId: string): Promise<RecordResult> {
  const result: RecordResult = { colored: new Map(), failed: new Map(), completed: [] };
  for (const [batchId, cells] of groupByBatch(outcomes)) {
    let seq = await lockBatchIfRunning(tx, batchId);
    if (seq === null) continue;
    // One event per kind, each numbered next in the batch's sequence and stamped on its cells.
    // Workers record one kind at a time (colours, or dead letters); a mix takes two numbers.
    const toRow = (c: CellOutcome) => ({ row: c.row, col: c.col, color: c.color ?? null, error: c.error ?? null });
    const colored = splitOutcomes(await insertOutcomes(tx, batchId, cells.filter((c) => c.color !== undefined).map(toRow), workerId, seq + 1)).cells;
    if (colored.length > 0) {
      seq += 1;
      result.colored.set(batchId, colored);
      await emitInTransaction(tx, batchId, 'cells:colored', { batchId, seq, cells: colored });
    }
    const failed = splitOutcomes(await insertOutcomes(tx, batchId, cells.filter((c) => c.error !== undefined).map(toRow), workerId, seq + 1)).failedCells;
    if (failed.length > 0) {
      seq += 1;
      result.failed.set(batchId, failed);
      await emitInTransaction(tx, batchId, 'cells:failed', { batchId, seq, cells: failed });
    }
    const last = colored.at(-1) ?? failed.at(-1);
    if (!last) continue;
    const advanced = await advanceBatch(tx, batchId, { done: colored.length, failed: failed.length, seq }, { row: last.row, col: last.col, worker: workerId });
    if (advanced?.completedNow) {
      result.completed.push(batchId);
      await emitInTransaction(tx, batchId, 'batch:completed', completedEvent(advanced.batch));
    }
  }
  return result;
}

function groupByBatch<T extends { batchId: string }>(items: T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(item.batchId);
    if (group) group.push(item);
    else groups.set(item.batchId, [item]);
  }
  return groups;
}
