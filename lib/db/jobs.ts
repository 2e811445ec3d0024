import type { Sql } from './sql';

/**
 * Read-only counts from pg-boss's job table (schema `pgboss`), for the dashboard. pg-boss owns the
 * table; we only count, through its indexes: job_i14 holds every job in a live state (created,
 * retry, active, failed) by (name, state), and the primary key is (name, id).
 */

export interface CappedJobCounts {
  queued: number;
  active: number;
  retrying: number;
  failed: number;
  deadLettered: number;
}

/**
 * Counts a queue's jobs by state, and every job of its dead-letter queue, each up to `cap + 1`: a
 * count above `cap` means "more than cap", and no count reads more than cap + 1 index entries, so
 * this costs the same with a million jobs queued as with ten thousand.
 *
 * Must run inside a transaction: it turns off sequential and bitmap scans for that transaction
 * alone, because either would read every matching job before the limit applies.
 */
export async function countJobsCapped(tx: Sql, queue: string, deadLetterQueue: string, cap: number): Promise<CappedJobCounts> {
  await tx.query('set local enable_seqscan = off');
  await tx.query('set local enable_bitmapscan = off');
  const capped = (where: string) => `(select count(*) from (select 1 from pgboss.job where ${where} limit $3) q)::int`;
  const { rows } = await tx.query<CappedJobCounts>(
    `select
       ${capped(`name = $1 and state = 'created'`)} as "queued",
       ${capped(`name = $1 and state = 'active'`)} as "active",
       ${capped(`name = $1 and state = 'retry'`)} as "retrying",
       ${capped(`name = $1 and state = 'failed'`)} as "failed",
       ${capped('name = $2')} as "deadLettered"`,
    [queue, deadLetterQueue, cap + 1],
  );
  return rows[0];
}
