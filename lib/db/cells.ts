import type { ColoredCell, FailedCell } from '../types';
import type { Sql } from './sql';

/** All SQL for the `cells` table. */

/** A cell's outcome: a colour, or (its retries exhausted) an error. Exactly one is set. */
export interface CellOutcomeRow {
  row: number;
  col: number;
  color: string | null;
  error: string | null;
}

/**
 * Records finished cells of one batch in one statement. The first outcome a cell gets is final: a
 * cell already coloured (or failed) keeps that, and only the cells recorded by this call come back,
 * so a duplicate delivery changes nothing and counts nothing. The caller holds the batch row lock
 * and has checked that the batch still runs.
 */
export async function insertOutcomes(
  sql: Sql,
  batchId: string,
  cells: CellOutcomeRow[],
  workerId: string,
  seq: number,
): Promise<CellOutcomeRow[]> {
  if (cells.length === 0) return [];
  const { rows } = await sql.query<CellOutcomeRow>(
    `insert into cells (batch_id, row_no, col_no, color, error, worker_id, seq)
     select $1, c.row_no, c.col_no, c.color, c.error, $6, $7
       from unnest($2::int[], $3::int[], $4::text[], $5::text[]) as c (row_no, col_no, color, error)
     on conflict (batch_id, row_no, col_no) do nothing
     returning row_no as "row", col_no as "col", color, error`,
    [batchId, cells.map((c) => c.row), cells.map((c) => c.col), cells.map((c) => c.color), cells.map((c) => c.error), workerId, seq],
  );
  return rows;
}

/**
 * Finished cells, coloured and failed, in one read: all of them, or with `afterSeq` only those
 * announced by events numbered after it (what a client that applied up to it missed).
 */
export async function listOutcomes(sql: Sql, batchId: string, afterSeq = -1): Promise<{ cells: ColoredCell[]; failedCells: FailedCell[] }> {
  const { rows } = await sql.query<CellOutcomeRow>(
    'select row_no as "row", col_no as "col", color, error from cells where batch_id = $1 and seq > $2',
    [batchId, afterSeq],
  );
  return splitOutcomes(rows);
}

export function splitOutcomes(rows: CellOutcomeRow[]): { cells: ColoredCell[]; failedCells: FailedCell[] } {
  const cells: ColoredCell[] = [];
  const failedCells: FailedCell[] = [];
  for (const r of rows) {
    if (r.color !== null) cells.push({ row: r.row, col: r.col, color: r.color });
    else if (r.error !== null) failedCells.push({ row: r.row, col: r.col, error: r.error });
  }
  return { cells, failedCells };
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
