import { advanceBatch, lockBatchIfRunning } from '../lib/db/batches';
import { insertCells } from '../lib/db/cells';
import type { Sql } from '../lib/db/sql';
import { randomColor } from '../lib/color';
import { parseCellJob, type CellJobData } from '../lib/queue/cell-job';
import { completedEvent } from '../lib/realtime/events';
import { emitInTransaction } from '../lib/realtime/emitter';
import type { ColoredCell } from '../lib/types';

export interface RecordResult {
  /** Cells this call coloured for the first time, by batch. */
  colored: Map<string, ColoredCell[]>;
  /** Batches this call moved to their terminal status. */
  completed: string[];
}

/**
 * The logic of a fetched batch of cell jobs, on the transaction that will also complete them:
 * decode each job, pick a colour, record it (first write wins), move the batch counter by the
 * cells that were new, finish the batch if they were its last, and queue the news for the batch's
 * room. The news is delivered when the transaction commits, and never if it rolls back.
 */
export async function recordCells(
  tx: Sql,
  jobs: { data: unknown }[],
  workerId: string,
  pickColor: () => string = randomColor,
): Promise<RecordResult> {
  const byBatch = new Map<string, CellJobData[]>();
  for (const job of jobs) {
    const cell = parseCellJob(job.data);
    const group = byBatch.get(cell.batchId);
    if (group) group.push(cell);
    else byBatch.set(cell.batchId, [cell]);
  }

  const result: RecordResult = { colored: new Map(), completed: [] };
  for (const [batchId, cells] of byBatch) {
    // A cancelled or expired batch takes no paint; its jobs complete without effect.
    if (!(await lockBatchIfRunning(tx, batchId))) continue;
    const painted = cells.map((c) => ({ row: c.row, col: c.col, color: pickColor() }));
    const fresh = await insertCells(tx, batchId, painted, workerId);
    if (fresh.length === 0) continue;
    result.colored.set(batchId, fresh);
    await emitInTransaction(tx, batchId, 'cells:colored', { batchId, cells: fresh });

    const last = fresh[fresh.length - 1];
    const advanced = await advanceBatch(tx, batchId, { done: fresh.length, failed: 0 }, { ...last, worker: workerId });
    if (advanced?.completedNow) {
      result.completed.push(batchId);
      await emitInTransaction(tx, batchId, 'batch:completed', completedEvent(advanced.batch));
    }
  }
  return result;
}
