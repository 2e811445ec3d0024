import type { ColoredCell, FailedCell } from '../types';
import type { Sql } from './sql';

/** All SQL for the `cells` table. */

/**
 * Records colours for cells of one batch in one statement. First write wins: a cell that already
 * has a colour keeps it, and only the cells recorded by this call come back, so a duplicate
 * delivery changes nothing and counts nothing. A batch that is no longer running takes no paint.
 */
export async function insertCells(sql: Sql, batchId: string, cells: ColoredCell[], workerId: string): Promise<ColoredCell[]> {
  if (cells.length === 0) return [];
  const { rows } = await sql.query<ColoredCell>(
    `insert into cells (batch_id, row_no, col_no, color, worker_id)
     select $1, c.row_no, c.col_no, c.color, $5
       from unnest($2::int[], $3::int[], $4::text[]) as c (row_no, col_no, color)
      where exists (select 1 from batches where id = $1 and status = 'running')
     on conflict (batch_id, row_no, col_no) do nothing
     returning row_no as "row", col_no as "col", color`,
    [batchId, cells.map((c) => c.row), cells.map((c) => c.col), cells.map((c) => c.color), workerId],
  );
  return rows;
}

/**
 * Records cells whose jobs exhausted their retries. Same rule as colours: the first outcome a cell
 * gets is final, so a cell already coloured stays coloured and a failure is counted once.
 */
export async function insertFailedCells(sql: Sql, batchId: string, cells: FailedCell[], workerId: string): Promise<FailedCell[]> {
  if (cells.length === 0) return [];
  const { rows } = await sql.query<FailedCell>(
    `insert into cells (batch_id, row_no, col_no, error, worker_id)
     select $1, c.row_no, c.col_no, c.error, $5
       from unnest($2::int[], $3::int[], $4::text[]) as c (row_no, col_no, error)
      where exists (select 1 from batches where id = $1 and status = 'running')
     on conflict (batch_id, row_no, col_no) do nothing
     returning row_no as "row", col_no as "col", error`,
    [batchId, cells.map((c) => c.row), cells.map((c) => c.col), cells.map((c) => c.error), workerId],
  );
  return rows;
}

/** Finished cells with a colour (the contract's `cells`). */
export async function listCells(sql: Sql, batchId: string): Promise<ColoredCell[]> {
  const { rows } = await sql.query<ColoredCell>(
    'select row_no as "row", col_no as "col", color from cells where batch_id = $1 and color is not null',
    [batchId],
  );
  return rows;
}

/** Cells that failed for good, with the reason. */
export async function listFailedCells(sql: Sql, batchId: string): Promise<FailedCell[]> {
  const { rows } = await sql.query<FailedCell>(
    'select row_no as "row", col_no as "col", error from cells where batch_id = $1 and error is not null',
    [batchId],
  );
  return rows;
}
