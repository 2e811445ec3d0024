import type { PgBoss } from 'pg-boss';
import { advanceBatch } from '../db/batches';
import { type CellOutcomeRow, insertCellEvent, insertOutcomes, unrecordCells } from '../db/cells';
import type { Sql } from '../db/sql';
import type { CellJobData } from '../queue/cell-job';
import { queueImageJob } from '../queue/image-job';
import { type BatchCompletedEvent, completedEvent } from '../realtime/events';
import { emitInTransaction } from '../realtime/emitter';
import type { ColoredCell, FailedCell } from '../types';

/** A cell's outcome: a colour (the cell is finished) or, its retries exhausted, an error (it has failed). */
export type CellOutcome = CellJobData &
  ({ color: string; error?: undefined; tile?: Uint8Array } | { error: string; color?: undefined; tile?: undefined });

/** What a recording needs besides its transaction: pg-boss, to queue the image stage of a batch it ends. */
export interface RecordDeps {
  boss: PgBoss;
  workerId: string;
}

export interface RecordResult {
  /** Cells this call finished for the first time, by batch. */
  colored: Map<string, ColoredCell[]>;
  failed: Map<string, FailedCell[]>;
  /** Batches this call moved to their terminal status. */
  completed: string[];
  /** The completion of each of them, as announced. */
  completions: BatchCompletedEvent[];
}

/**
 * Records cell outcomes in one transaction, in two steps.
 *
 * First, per batch, the outcomes go in (the first one a cell gets is final; a batch that has ended
 * takes none) without locking the batch. Only then, batch by batch in id order, does the counter
 * update take the batch's row lock: it counts the cells that were new, numbers this transaction's
 * events, finishes the batch if they were its last, and queues the news for the batch's room. The
 * lock is held from there to the commit
 * and no longer, so the recordings of a batch's fetches run side by side and queue only for that
 * last step. Postgres delivers the news when the transaction commits (in commit order, which is
 * also the order of the numbers) and never if it rolls back. A picture's cells carry their tiles,
 * and so does their event. The transaction that ends a batch also queues its image stage.
 */
export async function recordCells(tx: Sql, outcomes: CellOutcome[], deps: RecordDeps): Promise<RecordResult> {
  const { workerId } = deps;
  const result: RecordResult = { colored: new Map(), failed: new Map(), completed: [], completions: [] };
  const toRow = (c: CellOutcome): CellOutcomeRow => ({
    row: c.row,
    col: c.col,
    color: c.color ?? null,
    error: c.error ?? null,
    tile: c.tile ?? null,
  });
  const recorded: { batchId: string; colored: ColoredCell[]; tiles: Buffer | undefined; failed: FailedCell[] }[] = [];
  for (const [batchId, cells] of [...groupByBatch(outcomes)].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const rows = await insertOutcomes(tx, batchId, cells.map(toRow), workerId);
    const colored: ColoredCell[] = [];
    const tiles: Uint8Array[] = [];
    const failed: FailedCell[] = [];
    for (const r of rows) {
      if (r.color !== null) {
        colored.push({ row: r.row, col: r.col, color: r.color });
        if (r.tile) tiles.push(r.tile);
      } else if (r.error !== null) failed.push({ row: r.row, col: r.col, error: r.error });
    }
    if (colored.length + failed.length > 0)
      recorded.push({
        batchId,
        colored,
        tiles: tiles.length === colored.length && tiles.length > 0 ? Buffer.concat(tiles) : undefined,
        failed,
      });
  }

  for (const { batchId, colored, tiles, failed } of recorded) {
    const last = (colored.at(-1) ?? failed.at(-1))!;
    // One event per kind: workers record one kind at a time (colours, or dead letters).
    const events = (colored.length > 0 ? 1 : 0) + (failed.length > 0 ? 1 : 0);
    const advanced = await advanceBatch(
      tx,
      batchId,
      { done: colored.length, failed: failed.length, events },
      { row: last.row, col: last.col, worker: workerId },
    );
    if (!advanced) {
      // Cancelled or expired since the cells went in: those cells never happened.
      await unrecordCells(tx, batchId);
      continue;
    }
    let seq = advanced.firstSeq;
    if (colored.length > 0) {
      result.colored.set(batchId, colored);
      await insertCellEvent(tx, batchId, seq);
      await emitInTransaction(tx, batchId, 'cells:colored', {
        batchId,
        seq: seq++,
        cells: colored,
        worker: workerId,
        ...(tiles ? { tiles } : {}),
      });
    }
    if (failed.length > 0) {
      result.failed.set(batchId, failed);
      await insertCellEvent(tx, batchId, seq);
      await emitInTransaction(tx, batchId, 'cells:failed', { batchId, seq, cells: failed });
    }
    if (advanced.completedNow) {
      const completion = completedEvent(advanced.batch);
      result.completed.push(batchId);
      result.completions.push(completion);
      await emitInTransaction(tx, batchId, 'batch:completed', completion);
      await queueImageJob(deps.boss, tx, batchId);
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
