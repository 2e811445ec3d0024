import type { Sql } from './sql';

/**
 * The reads we make of pg-boss's job table (its writes stay pg-boss's). The queue holds a row per
 * cell job, millions of them, most completed.
 */

/** Jobs a queue holds that are not finished: waiting, waiting to retry, running, or failed for good. */
export type LiveJobState = 'created' | 'retry' | 'active' | 'failed';
export const LIVE_JOB_STATES: readonly LiveJobState[] = ['created', 'retry', 'active', 'failed'];
// Written out in the statement, not passed as a parameter: the planner must see them to use the index.

/**
 * Counts the live jobs of each queue by state. It reads only the live states, which pg-boss indexes
 * apart (job_i14 on (name, state, …) where the state is live), so completed and cancelled jobs, usually
 * nearly all of them, are never touched. States with no job are absent.
 */
export async function countLiveJobs(sql: Sql, queues: readonly string[]): Promise<{ queue: string; state: LiveJobState; jobs: number }[]> {
  const { rows } = await sql.query<{ queue: string; state: LiveJobState; jobs: number }>(
    `select name as queue, state::text as state, count(*)::int as jobs
       from pgboss.job
      where name = any($1::text[]) and state in ('created', 'retry', 'active', 'failed')
      group by name, state`,
    [queues],
  );
  return rows;
}
