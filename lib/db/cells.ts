import type { ColoredCell } from '../types';
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

export async function listCells(sql: Sql, batchId: string): Promise<ColoredCell[]> {
  const { rows } = await sql.query<ColoredCell>(
    'select row_no as "row", col_no as "col", color from cells where batch_id = $1',
    [batchId],
  );
  return rows;
}
