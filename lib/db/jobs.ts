import type { Sql } from './sql';

/**
 * What we do to pg-boss's job table ourselves (schema `pgboss`): counts, and one write, the cancel of
 * a batch's queued jobs. Everything else goes through pg-boss's API. The queue holds a row per cell
 * job, up to millions. We go through pg-boss's indexes only: job_i14 holds every job in a live state
 * (created, retry, active, failed) by (name, state); job_i17 holds the queued jobs that carry a
 * singleton key by (name, singleton_key, created_on), and a cell job's key is its batch id; the
 * primary key is (name, id). These lean on pg-boss's internals (its table, its index names and
 * shapes), and no other module reads or writes schema `pgboss`: tests/integration/pg-boss-indexes.test.ts
 * and cancel-large.test.ts fail if an update of pg-boss takes them away.
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

/**
 * Deletes a batch's newest queued jobs (waiting, or waiting to retry), up to `limit` of them (more
 * when the last ones share a creation time), but none of its `behind` oldest, in one statement that
 * takes no row lock before it deletes; returns how many, 0 once no more than `behind` are left.
 * About a third of the cost of `endQueuedJobsOfBatch` (whose `skip locked` writes a lock to every
 * row before deleting it), and that cost is what a batch started after a large cancel waits for.
 *
 * Not locking first means it may wait for a row that another transaction holds: workers take a
 * batch's jobs from its oldest, so newest first and `behind` away from them, such a row is rare, and
 * a wait is short (a fetch in progress). Rare is not never, and waiting is how deadlocks start, so
 * it waits at most `lockTimeoutMs`, under PostgreSQL's deadlock check (`deadlock_timeout`, 1 s), and
 * gives up: it throws (see `isLockTimeout`) and its chunk is rolled back whole. The oldest jobs are
 * for `endQueuedJobsOfBatch`, which never waits. Must run inside a transaction (the time limit is
 * local to it).
 */
export async function deleteNewestQueuedJobsOfBatch(
  tx: Sql,
  queue: string,
  batchId: string,
  { limit, behind, before, lockTimeoutMs }: { limit: number; behind: number; before: string | null; lockTimeoutMs: number },
): Promise<{ ended: number; from: string | null }> {
  await tx.query(`select set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
  // `before` (the previous chunk's `from`, as text: a JavaScript date would drop the microseconds)
  // starts the chunk where the last one stopped, so no chunk walks the index entries of those before it.
  const queued = `from pgboss.job where name = $1 and singleton_key = $2 and state < 'active'`;
  const { rows } = await tx.query<{ ended: number; from: string | null }>(
    `with bounds as (
       select (select created_on ${queued} order by created_on offset $3 limit 1) as oldest_kept,
              coalesce((select created_on ${queued} and created_on < coalesce($5::timestamptz, 'infinity')
                         order by created_on desc offset $4 limit 1), '-infinity') as chunk_from
     ), ended as (
       delete ${queued}
          and created_on > (select oldest_kept from bounds)
          and created_on >= (select chunk_from from bounds)
          and created_on < coalesce($5::timestamptz, 'infinity')
       returning created_on)
     select count(*)::int as ended, min(created_on)::text as "from" from ended`,
    [queue, batchId, behind, limit - 1, before],
  );
  return rows[0];
}

/** Whether `err` is a statement that gave up waiting for a lock (`lock_timeout`). */
export function isLockTimeout(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === '55P03';
}

/**
 * Ends up to `limit` of a batch's queued jobs (waiting, or waiting to retry), oldest first, so the
 * ones workers would take next go first; returns how many. `cancel` marks them as pg-boss's own
 * cancel does; `delete` removes them, a quarter of the cost (no new row versions, no index entries)
 * for jobs pg-boss would delete a minute later anyway (FINISHED_CELL_JOB_SECONDS).
 *
 * The one write we make to pg-boss's table, and why: pg-boss can cancel or delete jobs only by id,
 * so a batch's million jobs would first have to be read back whole (`findJobs`), and its cancel
 * also takes jobs a worker holds, waiting for their locks. This finds them through job_i17 by the
 * batch's key and skips any job a worker is claiming right now (that one completes without work:
 * workers check that a batch still runs), so it never waits and never deadlocks with a worker.
 */
export async function endQueuedJobsOfBatch(
  sql: Sql,
  queue: string,
  batchId: string,
  limit: number,
  how: 'cancel' | 'delete',
): Promise<number> {
  const end =
    how === 'cancel'
      ? `update pgboss.job j set state = 'cancelled', completed_on = now() from picked where j.name = $1 and j.id = picked.id returning 1`
      : `delete from pgboss.job j using picked where j.name = $1 and j.id = picked.id returning 1`;
  const { rows } = await sql.query<{ ended: number }>(
    `with picked as (
       select id from pgboss.job
        where name = $1 and singleton_key = $2 and state < 'active'
        order by created_on
        limit $3
        for update skip locked
     ), ended as (${end})
     select count(*)::int as ended from ended`,
    [queue, batchId, limit],
  );
  return rows[0].ended;
}
