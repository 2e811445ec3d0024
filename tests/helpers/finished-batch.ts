import { randomUUID } from 'node:crypto';
import type pg from 'pg';

/**
 * A finished colour batch of rows × cols cells written straight into the tables, as workers would
 * have left it: every cell coloured (its colour derived from its position, so a test can check any
 * cell), recorded by `workers` worker ids in bands, one cell event per 1,000 cells. A million cells
 * go in within seconds, where running them through workers would take minutes.
 */
export async function insertFinishedBatch(pool: pg.Pool, rows: number, cols: number, workers = 2): Promise<string> {
  const id = randomUUID();
  const total = rows * cols;
  const events = Math.ceil(total / 1000);
  await pool.query(
    `insert into batches (id, rows, cols, total, done, failed, status, created_at, finished_at, deadline_at, seq, enqueued, last_row, last_col, last_worker)
     values ($1, $2, $3, $4, $4, 0, 'completed', now() - interval '1 minute', now(), now() + interval '1 hour', $5 + 1, $4, $2 - 1, $3 - 1, 'w-0')`,
    [id, rows, cols, total, events],
  );
  await pool.query(
    `insert into cells (batch_id, row_no, col_no, color, worker_id, recording)
     select $1, r, c, expectedColor(r, c), 'w-' || (((r * $3 + c) / 1000) % $4), (r * $3 + c) / 1000 + 1
       from generate_series(0, $2 - 1) r, generate_series(0, $3 - 1) c`.replace('expectedColor(r, c)', COLOR_SQL),
    [id, rows, cols, workers],
  );
  await pool.query(`insert into cell_events (batch_id, seq, recording) select $1, s, s from generate_series(1, $2) s`, [id, events]);
  // As autovacuum would soon: reads then find the rows' visibility settled and the planner informed.
  await pool.query('vacuum (analyze) cells, cell_events, batches');
  return id;
}

const COLOR_SQL = `'#' || upper(lpad(to_hex(((r * 7919 + c * 104729) % 16777216)::int), 6, '0'))`;

/** The colour insertFinishedBatch gave the cell at (row, col). */
export function expectedColor(row: number, col: number): string {
  return `#${((row * 7919 + col * 104729) % 16777216).toString(16).padStart(6, '0').toUpperCase()}`;
}
