import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { deleteEndedLeases, deleteOldLeaseRequestCounts, endLease, type LeasedJob, lockExpiredLeases, openLeaseJobs } from '../db/leases';
import { withTransaction } from '../db/pool';
import { withSavepoint } from '../db/savepoint';
import { recordLeaseHolding } from '../db/workers';
import { toExecutor } from '../db/sql';
import { errorMessage } from '../errors';
import { every } from '../lifecycle';
import type { Logger } from '../log';
import { isQueueGone } from '../queue/queue-gone';

/** Ended leases answer a late client's 409 for this long, then go. */
const ENDED_LEASE_KEEP_SECONDS = 3600;
const EXPIRED_PER_TRANSACTION = 100;

export interface LeaseSweepDeps {
  pool: pg.Pool;
  boss: PgBoss;
}

/**
 * What a built-in worker's process does for the cells it holds, done for the lease clients by
 * whichever web servers run: while a lease is open its jobs' heartbeats are kept (pg-boss would
 * otherwise hand them to another worker), and once it expires its jobs are failed back to their
 * queues, so their cells are leased again with attempt + 1 (an attempt lost, not a failure of the
 * cell's work: it does not spend the cell's retries). Each expired lease is returned exactly once,
 * by whichever server locks it first. Returns the number of leases it returned.
 */
export async function sweepLeases(deps: LeaseSweepDeps): Promise<number> {
  await touchJobs(deps.boss, await openLeaseJobs(deps.pool));
  let returned = 0;
  for (;;) {
    const n = await withTransaction(deps.pool, async (tx) => {
      const expired = await lockExpiredLeases(tx, EXPIRED_PER_TRANSACTION);
      for (const lease of expired) {
        for (const [queue, jobs] of byQueue(lease.jobs)) {
          await withSavepoint(
            tx,
            () => deps.boss.fail(queue, jobs.map(attemptOf), { message: `lease ${lease.id} expired` }, { db: toExecutor(tx) }),
            isQueueGone,
            null,
          );
        }
        await endLease(tx, lease.id, 'expired');
        await recordLeaseHolding(tx, lease.workerId);
      }
      return expired.length;
    });
    returned += n;
    if (n < EXPIRED_PER_TRANSACTION) return returned;
  }
}

/** Sweeps every `intervalMs` (well inside a cell job's heartbeat), and clears old leases every minute. */
export function startLeaseSweeper(deps: LeaseSweepDeps, log: Logger, intervalMs = 2000): () => Promise<void> {
  let lastCleanup = 0;
  return every(intervalMs, async () => {
    try {
      const returned = await sweepLeases(deps);
      if (returned > 0) log.info('expired leases returned their cells', { leases: returned });
      if (Date.now() - lastCleanup >= 60_000) {
        lastCleanup = Date.now();
        await deleteEndedLeases(deps.pool, ENDED_LEASE_KEEP_SECONDS);
        await deleteOldLeaseRequestCounts(deps.pool);
      }
    } catch (err) {
      log.warn('lease sweep failed; trying again', { err: errorMessage(err) });
    }
  });
}

async function touchJobs(boss: PgBoss, jobs: LeasedJob[]): Promise<void> {
  for (const [queue, group] of byQueue(jobs)) {
    try {
      await boss.touch(queue, group.map(attemptOf));
    } catch (err) {
      if (!isQueueGone(err)) throw err;
    }
  }
}

function byQueue(jobs: LeasedJob[]): Map<string, LeasedJob[]> {
  const groups = new Map<string, LeasedJob[]>();
  for (const job of jobs) groups.set(job.queue, [...(groups.get(job.queue) ?? []), job]);
  return groups;
}

/** Fenced to the leased attempt: a claim that lapsed and went to another worker is left alone. */
const attemptOf = (job: LeasedJob) => ({ id: job.id, retryCount: job.attempt - 1 });
