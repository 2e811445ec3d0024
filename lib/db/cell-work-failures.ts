import type { CellPosition } from '../types';
import type { Sql } from './sql';

/** All SQL for the `cell_work_failures` table: how many attempts of a cell failed by its own work. */

/**
 * Counts one more failed attempt for each of these cells of one batch (a cell listed twice, say a
 * job delivered twice, counts once per listing) and returns every cell's count so far, keyed
 * "row,col". Runs in the transaction that fails the attempts, so a rolled-back recording counts
 * nothing. Cells go in sorted, so two recordings that share cells never deadlock.
 */
export async function countWorkFailures(sql: Sql, batchId: string, cells: CellPosition[]): Promise<Map<string, number>> {
  if (cells.length === 0) return new Map();
  const times = new Map<string, { row: number; col: number; n: number }>();
  for (const c of cells) {
    const key = `${c.row},${c.col}`;
    const seen = times.get(key);
    if (seen) seen.n++;
    else times.set(key, { row: c.row, col: c.col, n: 1 });
  }
  const sorted = [...times.values()].sort((a, b) => a.row - b.row || a.col - b.col);
  const { rows } = await sql.query<{ row: number; col: number; failures: number }>(
    `insert into cell_work_failures as f (batch_id, row_no, col_no, failures)
     select $1, c.row_no, c.col_no, c.n from unnest($2::int[], $3::int[], $4::int[]) as c (row_no, col_no, n)
     on conflict (batch_id, row_no, col_no) do update set failures = f.failures + excluded.failures
     returning row_no as "row", col_no as "col", failures`,
    [batchId, sorted.map((c) => c.row), sorted.map((c) => c.col), sorted.map((c) => c.n)],
  );
  return new Map(rows.map((r) => [`${r.row},${r.col}`, r.failures]));
}

/** Every cell of a batch whose work failed at least once, with its count (for tests and diagnosis). */
export async function listWorkFailures(sql: Sql, batchId: string): Promise<(CellPosition & { failures: number })[]> {
  const { rows } = await sql.query<CellPosition & { failures: number }>(
    'select row_no as "row", col_no as "col", failures from cell_work_failures where batch_id = $1 order by row_no, col_no',
    [batchId],
  );
  return rows;
}
