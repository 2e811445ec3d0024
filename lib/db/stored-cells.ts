import type { Sql } from './sql';

/** The SQL of retention's size guard: how many cells are kept, and which ended batches are oldest. */

/**
 * Cells kept: every recorded cell of every batch, as the batches' counters say (one `cells` row
 * each). Counted from the batches table, exact and cheap, where the table's size on disk would not
 * shrink after a delete (PostgreSQL reuses the space; it does not give it back).
 */
export async function storedCells(sql: Sql): Promise<number> {
  const { rows } = await sql.query<{ n: string }>('select coalesce(sum(done + failed), 0)::bigint as n from batches');
  return Number(rows[0].n);
}

/** Ended batches, the longest-ended first, with the cells each keeps (never a running or scheduled one). */
export async function findOldestEndedBatches(sql: Sql, limit: number): Promise<{ id: string; cells: number }[]> {
  const { rows } = await sql.query<{ id: string; cells: number }>(
    `select id, done + failed as cells from batches where status not in ('running', 'scheduled')
      order by finished_at nulls first, created_at limit $1`,
    [limit],
  );
  return rows;
}
