import type { Sql } from './sql';

/**
 * The reads we make of pg-boss's job table (schema `pgboss`; its writes stay pg-boss's). The queue
 * holds a row per cell job, millions of them, most completed. We only count, through pg-boss's
 * indexes: job_i14 holds every job in a live state (created, retry, active, failed) by (name, state),
 * and the primary key is (name, id).
 */

/** Jobs a queue holds that are not finished: waiting, waiting to retry, running, or failed for good. */
export type LiveJobState = 'created' | 'retry' | 'active' | 'failed';
export const LIVE_JOB_STATES: readonly LiveJobState[] = ['created', 'retry', 'active', 'failed'];

/**
 * Counts the live jobs of each queue by state, exactly. Completed and cancelled jobs are never
 * touched, but every live one is: a million queued jobs cost a few hundred milliseconds. States with
 * no job are absent. (The states are written out in the statement, not passed as a parameter: the
 * planner must see them to use the index.)
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

export interface CappedJobCounts {
  queued: number;
  active: number;
  retrying: number;
  failed: number;
  deadLettered: number;
}

/**
 * Counts the jobs of some queues by state, and every job of its dead-letter queue, each up to `cap + 1`: a
 * count above `cap` means "more than cap", and no count reads more than cap + 1 index entries, so
 * this costs the same with a million jobs queued as with ten thousand.
 *
 * Must run inside a transaction: it turns off sequential and bitmap scans for that transaction
 * alone, because either would read every matching job before the limit applies.
 */
export async function countJobsCapped(tx: Sql, queues: readonly string[], deadLetterQueue: string, cap: number): Promise<CappedJobCounts> {
  await tx.query('set local enable_seqscan = off');
  await tx.query('set local enable_bitmapscan = off');
  const capped = (where: string) => `(select count(*) from (select 1 from pgboss.job where ${where} limit $3) q)::int`;
  const { rows } = await tx.query<CappedJobCounts>(
    `select
       ${capped(`name = any($1::text[]) and state = 'created'`)} as "queued",
       ${capped(`name = any($1::text[]) and state = 'active'`)} as "active",
       ${capped(`name = any($1::text[]) and state = 'retry'`)} as "retrying",
       ${capped(`name = any($1::text[]) and state = 'failed'`)} as "failed",
       ${capped('name = $2')} as "deadLettered"`,
    [queues, deadLetterQueue, cap + 1],
  );
  return rows[0];
}
