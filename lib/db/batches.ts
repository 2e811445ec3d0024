import type { Batch, BatchStatus, CellPosition } from '../types';
import type { Sql } from './sql';

/** All SQL for the `batches` table. */

interface BatchRow {
  id: string;
  rows: number;
  cols: number;
  total: number;
  done: number;
  failed: number;
  status: BatchStatus;
  created_at: Date;
  finished_at: Date | null;
  last_row: number | null;
  last_col: number | null;
  last_worker: string | null;
}

const COLUMNS = 'id, rows, cols, total, done, failed, status, created_at, finished_at, last_row, last_col, last_worker';

export function toBatch(row: BatchRow): Batch {
  return {
    id: row.id,
    rows: row.rows,
    cols: row.cols,
    total: row.total,
    done: row.done,
    failed: row.failed,
    status: row.status,
    createdAt: row.created_at.toISOString(),
    finishedAt: row.finished_at ? row.finished_at.toISOString() : null,
    lastCell: row.last_row === null || row.last_col === null ? null : { row: row.last_row, col: row.last_col },
    lastWorker: row.last_worker,
  };
}

export async function insertBatch(sql: Sql, batch: { id: string; rows: number; cols: number }): Promise<Batch> {
  const { rows } = await sql.query<BatchRow>(
    `insert into batches (id, rows, cols, total) values ($1, $2::int, $3::int, $2::int * $3::int) returning ${COLUMNS}`,
    [batch.id, batch.rows, batch.cols],
  );
  return toBatch(rows[0]);
}

export async function findBatch(sql: Sql, id: string): Promise<Batch | null> {
  const { rows } = await sql.query<BatchRow>(`select ${COLUMNS} from batches where id = $1`, [id]);
  return rows[0] ? toBatch(rows[0]) : null;
}

export async function listBatches(sql: Sql, limit: number): Promise<Batch[]> {
  const { rows } = await sql.query<BatchRow>(
    `select ${COLUMNS} from batches order by created_at desc, id limit $1`,
    [limit],
  );
  return rows.map(toBatch);
}

/**
 * Counts newly finished cells and, in the same guarded statement, moves the batch to `completed`
 * when they were its last ones. Only a running batch moves, and the row lock serializes callers,
 * so exactly one caller ever sees `completedNow`: the one whose cells crossed the finish line.
 */
export async function advanceBatch(
  sql: Sql,
  batchId: string,
  finished: { done: number; failed: number },
  last: CellPosition & { worker: string },
): Promise<{ batch: Batch; completedNow: boolean } | null> {
  const { rows } = await sql.query<BatchRow>(
    `update batches set
       done = done + $2,
       failed = failed + $3,
       status = case when done + $2 + failed + $3 = total then 'completed' else status end,
       finished_at = case when done + $2 + failed + $3 = total then now() else null end,
       last_row = case when done + $2 + failed + $3 = total then $4 else last_row end,
       last_col = case when done + $2 + failed + $3 = total then $5 else last_col end,
       last_worker = case when done + $2 + failed + $3 = total then $6 else last_worker end
     where id = $1 and status = 'running'
     returning ${COLUMNS}`,
    [batchId, finished.done, finished.failed, last.row, last.col, last.worker],
  );
  if (!rows[0]) return null;
  const batch = toBatch(rows[0]);
  return { batch, completedNow: batch.status === 'completed' };
}
