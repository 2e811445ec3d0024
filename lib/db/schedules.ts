import type { BatchInput } from '../types';
import type { Sql } from './sql';

/** All SQL for the `schedules` table: what each schedule's ticks start, and what the last one started. */

export interface ScheduleRow {
  name: string;
  cron: string;
  timezone: string;
  batch: BatchInput;
  createdAt: string;
  lastBatchId: string | null;
  lastRunAt: string | null;
}

interface Row {
  name: string;
  cron: string;
  timezone: string;
  batch: BatchInput;
  created_at: Date;
  last_batch_id: string | null;
  last_run_at: Date | null;
}

const COLUMNS = 'name, cron, timezone, batch, created_at, last_batch_id, last_run_at';

function toSchedule(row: Row): ScheduleRow {
  return {
    name: row.name,
    cron: row.cron,
    timezone: row.timezone,
    batch: row.batch,
    createdAt: row.created_at.toISOString(),
    lastBatchId: row.last_batch_id,
    lastRunAt: row.last_run_at ? row.last_run_at.toISOString() : null,
  };
}

/** Inserts a schedule; null when one of that name exists already. */
export async function insertSchedule(
  sql: Sql,
  schedule: { name: string; cron: string; timezone: string; batch: BatchInput },
): Promise<ScheduleRow | null> {
  const { rows } = await sql.query<Row>(
    `insert into schedules (name, cron, timezone, batch) values ($1, $2, $3, $4::jsonb)
     on conflict (name) do nothing returning ${COLUMNS}`,
    [schedule.name, schedule.cron, schedule.timezone, JSON.stringify(schedule.batch)],
  );
  return rows[0] ? toSchedule(rows[0]) : null;
}

export async function findSchedule(sql: Sql, name: string): Promise<ScheduleRow | null> {
  const { rows } = await sql.query<Row>(`select ${COLUMNS} from schedules where name = $1`, [name]);
  return rows[0] ? toSchedule(rows[0]) : null;
}

export async function listSchedules(sql: Sql): Promise<ScheduleRow[]> {
  const { rows } = await sql.query<Row>(`select ${COLUMNS} from schedules order by name limit 1000`);
  return rows.map(toSchedule);
}

/** Deletes a schedule; false when there was none of that name. */
export async function deleteSchedule(sql: Sql, name: string): Promise<boolean> {
  const { rows } = await sql.query('delete from schedules where name = $1 returning 1', [name]);
  return rows.length > 0;
}

/** Notes the batch a tick started, unless a later tick's is noted already (ticks may be handled out of order). */
export async function recordScheduleRun(sql: Sql, name: string, batchId: string, tick: Date): Promise<void> {
  await sql.query(
    `update schedules set last_batch_id = $2, last_run_at = $3
     where name = $1 and (last_run_at is null or last_run_at <= $3)`,
    [name, batchId, tick],
  );
}
