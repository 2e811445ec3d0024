import type { Sql } from './sql';

/** All SQL for the `throughput_samples` table: cells each worker served, per second. */

export interface ThroughputSample {
  /** Unix time in whole seconds, on the worker's clock. */
  second: number;
  cells: number;
}

/** Adds a worker's samples; a second it already wrote (a flush that split a second) adds up. */
export async function addThroughputSamples(sql: Sql, workerId: string, samples: ThroughputSample[]): Promise<void> {
  if (samples.length === 0) return;
  await sql.query(
    `insert into throughput_samples (worker_id, second, cells)
     select $1, to_timestamp(s), c from unnest($2::bigint[], $3::int[]) as t(s, c)
     on conflict (worker_id, second) do update set cells = throughput_samples.cells + excluded.cells`,
    [workerId, samples.map((s) => s.second), samples.map((s) => s.cells)],
  );
}

/**
 * Cells per second over the `seconds` complete seconds before the last one: the second just ended
 * may still be on its way (workers write every second), so it is left out. Oldest first, zeros
 * included; with the database's clock (`now`) that the window was measured from.
 */
export async function readThroughput(sql: Sql, seconds: number): Promise<{ now: Date; end: Date; perSecond: number[] }> {
  const { rows } = await sql.query<{ now: Date; end: Date; ago: number | null; cells: number | null }>(
    `with w as (select date_trunc('second', now()) - interval '1 second' as end_at)
     select now() as now, w.end_at as end, s.ago, s.cells
     from w left join lateral (
       select (extract(epoch from w.end_at - second))::int as ago, sum(cells)::int as cells
       from throughput_samples
       where second >= w.end_at - make_interval(secs => $1) and second < w.end_at
       group by second
     ) s on true`,
    [seconds],
  );
  const perSecond = new Array<number>(seconds).fill(0);
  for (const row of rows) {
    // `ago` runs from 1 (the last second shown) to `seconds` (the first).
    if (row.ago !== null && row.cells !== null && row.ago >= 1 && row.ago <= seconds) perSecond[seconds - row.ago] = row.cells;
  }
  return { now: rows[0].now, end: rows[0].end, perSecond };
}

/** Each worker's cells per second over the same recent window, for workers that served any. */
export async function readWorkerRates(sql: Sql, seconds: number): Promise<Map<string, number>> {
  const { rows } = await sql.query<{ worker_id: string; cells: string }>(
    `select worker_id, sum(cells) as cells from throughput_samples
     where second >= date_trunc('second', now()) - make_interval(secs => $1 + 1)
       and second < date_trunc('second', now()) - interval '1 second'
     group by worker_id`,
    [seconds],
  );
  return new Map(rows.map((r) => [r.worker_id, Number(r.cells) / seconds]));
}

/** Deletes samples older than `minutes`; returns how many. */
export async function deleteThroughputBefore(sql: Sql, minutes: number): Promise<number> {
  const { rows } = await sql.query<{ n: number }>(
    `with gone as (delete from throughput_samples where second < now() - make_interval(mins => $1) returning 1)
     select count(*)::int as n from gone`,
    [minutes],
  );
  return rows[0].n;
}
