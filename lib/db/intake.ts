import type { Sql } from './sql';

/** All SQL for the `intake_control` table: whether workers take cell jobs, for all of them at once. */

/** Whether intake is paused, and since when; the dashboard shows it. Types only: the browser imports them. */
export interface IntakeInfo {
  paused: boolean;
  changedAt: string;
}

interface IntakeRow {
  paused: boolean;
  changed_at: Date;
}

const toState = (row: IntakeRow): IntakeInfo => ({ paused: row.paused, changedAt: row.changed_at.toISOString() });

export async function readIntake(sql: Sql): Promise<IntakeInfo> {
  const { rows } = await sql.query<IntakeRow>('select paused, changed_at from intake_control');
  // The migration inserts the one row; a database without it has never paused anything.
  return rows[0] ? toState(rows[0]) : { paused: false, changedAt: new Date(0).toISOString() };
}

/** Pauses or resumes intake; `changedAt` moves only when the state does. */
export async function setIntakePaused(sql: Sql, paused: boolean): Promise<IntakeInfo> {
  const { rows } = await sql.query<IntakeRow>(
    `insert into intake_control (id, paused) values (true, $1)
     on conflict (id) do update set paused = $1,
       changed_at = case when intake_control.paused = $1 then intake_control.changed_at else now() end
     returning paused, changed_at`,
    [paused],
  );
  return toState(rows[0]);
}
