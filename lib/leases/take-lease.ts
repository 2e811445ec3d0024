import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { findPaintParams, listRunningBatches } from '../db/batches';
import { insertLease, type LeasedJob } from '../db/leases';
import { withTransaction } from '../db/pool';
import { withSavepoint } from '../db/savepoint';
import { toExecutor } from '../db/sql';
import { recordLeaseHolding, touchLeaseClient } from '../db/workers';
import { cellQueueOf, parseCellJob } from '../queue/cell-job';
import { isQueueGone } from '../queue/queue-gone';
import type { Batch, PictureView } from '../types';
import type { LeaseRequest } from './lease-requests';

/** A leased cell as the contract hands it out, with what it takes to paint it. */
export interface LeasedCell {
  batchId: string;
  row: number;
  col: number;
  attempt: number;
  kind: Batch['kind'];
  view?: PictureView;
  maxIterations?: number;
  tileSize?: number;
  rows?: number;
  cols?: number;
}

export interface Lease {
  leaseId: string;
  expiresAt: string;
  cells: LeasedCell[];
}

export interface TakeLeaseDeps {
  pool: pg.Pool;
  boss: PgBoss;
}

/** The running batches looked at per lease; beyond them a lease takes nothing (it never gets that far). */
const BATCHES_LOOKED_AT = 1000;
/** pg-boss expires a claimed job `expireInSeconds` after it was taken; a lease ends this much before. */
const EXPIRY_MARGIN_SECONDS = 10;

/**
 * Leases up to `max` cells of running batches with the request's tag, in the order built-in workers
 * take them (priority, then age), for `leaseSeconds`. The jobs are claimed from their batches'
 * queues with pg-boss's own fetch, in the transaction that files the lease, so a lease exists
 * exactly when its claims do. The client is registered as a worker (pid null); a client an operator
 * paused or drained is leased nothing.
 */
export async function takeLease(
  deps: TakeLeaseDeps,
  tokenHash: string,
  client: { workerId: string; host: string },
  request: LeaseRequest,
): Promise<Lease> {
  return withTransaction(deps.pool, async (tx) => {
    const desired = await touchLeaseClient(tx, { id: client.workerId, host: client.host, tags: [request.tag], cellsServed: 0 });
    const jobs: (LeasedJob & { expireInSeconds: number })[] = [];
    if (desired === 'run') {
      for (const batch of await listRunningBatches(tx, BATCHES_LOOKED_AT)) {
        if (jobs.length >= request.max) break;
        if (batch.tag !== request.tag) continue;
        const queue = cellQueueOf(batch.id);
        const fetched = await fetchOrNone(tx, deps.boss, queue, request.max - jobs.length);
        for (const job of fetched) {
          const cell = parseCellJob(job.data);
          jobs.push({ id: job.id, queue, ...cell, attempt: job.retryCount + 1, expireInSeconds: job.expireInSeconds });
        }
      }
    }
    const maxSeconds = Math.max(1, Math.min(...jobs.map((j) => j.expireInSeconds - EXPIRY_MARGIN_SECONDS), Number.MAX_SAFE_INTEGER));
    const leaseId = randomUUID();
    const expiresAt = await insertLease(tx, {
      id: leaseId,
      tokenHash,
      workerId: client.workerId,
      tag: request.tag,
      leaseSeconds: request.leaseSeconds,
      maxSeconds: Math.min(maxSeconds, 7 * 24 * 3600),
      jobs: jobs.map(({ expireInSeconds: _, ...job }) => job),
    });
    if (jobs.length > 0) await recordLeaseHolding(tx, client.workerId);
    const params = await findPaintParams(tx, [...new Set(jobs.map((j) => j.batchId))]);
    return {
      leaseId,
      expiresAt: expiresAt.toISOString(),
      cells: jobs.map((j) => leasedCell(j, params.get(j.batchId)!)),
    };
  });
}

function leasedCell(job: LeasedJob, batch: Pick<Batch, 'kind' | 'view' | 'maxIterations' | 'tileSize' | 'rows' | 'cols'>): LeasedCell {
  const cell: LeasedCell = { batchId: job.batchId, row: job.row, col: job.col, attempt: job.attempt, kind: batch.kind };
  if (batch.kind === 'mandelbrot') {
    // With the grid's size, a client has the whole geometry of CONTRACT.md "Pictures" in hand.
    Object.assign(cell, {
      view: batch.view,
      maxIterations: batch.maxIterations,
      tileSize: batch.tileSize,
      rows: batch.rows,
      cols: batch.cols,
    });
  }
  return cell;
}

/**
 * A batch that ended a moment ago may have lost its queue already (pg-boss forgot it, or its table
 * was dropped under pg-boss's cached entry): nothing to lease there.
 */
function fetchOrNone(tx: pg.PoolClient, boss: PgBoss, queue: string, batchSize: number) {
  return withSavepoint(tx, () => boss.fetch<unknown>(queue, { batchSize, db: toExecutor(tx) }), isQueueGone, []);
}
