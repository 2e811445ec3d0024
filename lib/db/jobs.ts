import type { Sql } from './sql';

/**
 * What we read of pg-boss's job table ourselves (schema `pgboss`): counts, by queue name (each batch
 * has its own queue, lib/queue/cell-job.ts); and one write, the deletion of a batch's queue in the
 * shared table (`deleteSharedQueue`). Everything else goes through pg-boss's API. A queue holds a row per cell job, up to millions. We go through pg-boss's index of
 * live jobs only: job_i14 holds every job in a live state (created, retry, active, failed) by (name,
 * state). This leans on pg-boss's internals (its table, its index name and shape), and no other
 * module reads schema `pgboss`: tests/integration/pg-boss-indexes.test.ts fails if an update of
 * pg-boss takes it away.
 */

/**
 * The queues whose name starts with `prefix` (the batches' cell queues: lib/queue/cell-job.ts), from
 * pg-boss's list of queues, a row per queue and no jobs.
 */
export async function listQueuesStartingWith(sql: Sql, prefix: string): Promise<string[]> {
  const { rows } = await sql.query<{ name: string }>(`select name from pgboss.queue where starts_with(name, $1) order by name`, [prefix]);
  return rows.map((r) => r.name);
}

/**
 * Deletes a queue kept in pg-boss's shared job table, with its jobs, through pg-boss's own
 * `delete_queue()` (what `deleteQueue` runs at the end). pg-boss's `deleteQueue` first checks that no
 * queue or job names this queue as its dead letter queue, and with nothing to index that check on it
 * reads every job table in full: a second or so per queue while a million jobs are queued anywhere,
 * for every batch that ends. A batch's queue is never a dead letter queue, so the check is skipped.
 * Not for a queue with a table of its own (that one is dropped under pg-boss's locks: its
 * `deleteQueue`). A queue already gone is a no-op.
 */
export async function deleteSharedQueue(sql: Sql, name: string): Promise<void> {
  await sql.query('select pgboss.delete_queue($1)', [name]);
}

/**
 * Empties a queue that has a table of its own (`partition`), waiting up to `lockWaitMs` for that
 * table alone; false when it has none (or is gone). pg-boss drops such a table only with ACCESS
 * EXCLUSIVE locks on its shared job tables too, taken without waiting, and while a million jobs sit
 * in the table its own statistics pass (every few seconds, reading every job) holds them most of the
 * time, so the drop keeps failing. Emptied, the table is read in no time and the drop gets through.
 * The wait holds back only statements that read through the partitioned `job` table (pg-boss's
 * statistics, our counts) for as long as the pass in progress; workers fetch from their own tables.
 * Must run inside a transaction (the lock wait is local to it).
 */
export async function emptyOwnTable(tx: Sql, queue: string, lockWaitMs: number): Promise<boolean> {
  const { rows } = await tx.query<{ table_name: string }>('select table_name from pgboss.queue where name = $1 and partition', [queue]);
  if (!rows[0]) return false;
  const { rows: exists } = await tx.query<{ t: string | null }>(`select to_regclass(format('pgboss.%I', $1::text))::text as t`, [
    rows[0].table_name,
  ]);
  if (!exists[0].t) return false;
  await tx.query(`select set_config('lock_timeout', $1, true)`, [`${lockWaitMs}ms`]);
  await tx.query(`truncate ${exists[0].t}`);
  return true;
}

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
