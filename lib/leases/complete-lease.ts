import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { failAttempts, type FailedAttempt } from '../batches/fail-attempts';
import { type CellOutcome, recordCells } from '../batches/record-cells';
import { findPaintParams } from '../db/batches';
import { endLease, type LeasedJob, lockLease, setLeaseJobs } from '../db/leases';
import { withTransaction } from '../db/pool';
import { withSavepoint } from '../db/savepoint';
import { type Sql, toExecutor } from '../db/sql';
import { recordLeaseHolding, touchLeaseClient } from '../db/workers';
import { PublicError } from '../errors';
import { meanColor } from '../pictures/mandelbrot';
import { decodePng } from '../pictures/png-decode';
import type { Batch } from '../types';
import type { LeaseResult } from './lease-requests';
import { isQueueGone } from '../queue/queue-gone';

export interface CompleteLeaseDeps {
  pool: pg.Pool;
  boss: PgBoss;
  /** Retries a cell gets after its own work first fails (`CELL_RETRY_LIMIT`), as for built-in workers. */
  retryLimit: number;
}

/**
 * Records a lease's results exactly as a built-in worker's fetch is recorded, in one transaction
 * that holds the lease's row lock: colours and tiles through the same recording (first write wins,
 * counted once, sequenced events, the batch ended exactly once), errors as failed attempts of the
 * cells' own work (retried, then failed). The lease must still be open: one that expired (or whose
 * cells were returned) records nothing and answers 409 `lease_expired`. Results for cells the lease
 * does not hold are ignored. The cells answered leave the lease, and their jobs are completed in
 * the same transaction; the lease ends once it holds none, else the rest stay leased until it expires.
 */
export async function completeLease(
  deps: CompleteLeaseDeps,
  tokenHash: string,
  leaseId: string,
  results: LeaseResult[],
): Promise<{ recorded: number; ignored: number }> {
  return withTransaction(deps.pool, async (tx) => {
    const lease = await lockLease(tx, leaseId, tokenHash);
    if (!lease) throw new PublicError('not_found', 'No lease has this id for this worker token.');
    if (!lease.open) {
      throw new PublicError('lease_expired', 'This lease has expired and its cells went back to the queue; nothing of it was recorded.');
    }
    const held = new Map(lease.jobs.map((job) => [cellKey(job), job]));
    const answered = results.flatMap((result) => {
      const job = held.get(cellKey(result));
      return job ? [{ result, job }] : [];
    });
    const params = await findPaintParams(tx, [...new Set(answered.map((a) => a.job.batchId))]);

    const outcomes: CellOutcome[] = [];
    const failures: FailedAttempt[] = [];
    for (const { result, job } of answered) {
      const cell = { batchId: job.batchId, row: job.row, col: job.col };
      if (result.error !== undefined) failures.push({ job: cellJob(job), message: result.error });
      else outcomes.push({ ...cell, ...paint(result, params.get(job.batchId)) });
    }

    const failed = await failAttempts(tx, failures, { boss: deps.boss, retryLimit: deps.retryLimit, exhaustedTo: 'caller' });
    // Cells past their retries are recorded failed right here, with the lease's colours: no worker
    // process need be running for a batch painted by lease clients alone to end.
    for (const dead of failed.exhaustedCells)
      outcomes.push({ batchId: dead.batchId, row: dead.row, col: dead.col, error: dead.error ?? 'failed' });
    const recorded = await recordCells(tx, outcomes, { boss: deps.boss, workerId: lease.workerId });
    // Retried attempts went back to their queues inside failAttempts; the rest are done with.
    const retried = new Set(failures.filter((f) => (failed.failures.get(f.job.id) ?? 0) <= deps.retryLimit).map((f) => f.job.id));
    await completeJobs(
      tx,
      deps.boss,
      answered.map((a) => a.job).filter((job) => !retried.has(job.id)),
    );

    const answeredIds = new Set(answered.map((a) => a.job.id));
    const left = lease.jobs.filter((job) => !answeredIds.has(job.id));
    if (left.length === 0) await endLease(tx, lease.id, 'completed');
    else if (answered.length > 0) await setLeaseJobs(tx, lease.id, left);
    const served = [...recorded.colored.values()].reduce((n, cells) => n + cells.length, 0);
    await touchLeaseClient(tx, { id: lease.workerId, host: '', tags: [lease.tag], cellsServed: served });
    await recordLeaseHolding(tx, lease.workerId);
    return { recorded: answered.length, ignored: results.length - answered.length };
  });
}

/** A colour for a colours batch; a tile, decoded, checked and averaged, for a picture. */
function paint(result: LeaseResult, batch: Pick<Batch, 'id' | 'kind' | 'tileSize'> | undefined): { color: string; tile?: Uint8Array } {
  const at = `cell (${result.row}, ${result.col}) of batch ${result.batchId}`;
  if (!batch) throw new PublicError('not_found', `The batch of ${at} no longer exists.`);
  if (batch.kind !== 'mandelbrot') {
    if (result.color === undefined) throw new PublicError('invalid_input', `${at} is a colours cell: send "color", not "tile".`);
    return { color: result.color };
  }
  if (result.tile === undefined) throw new PublicError('invalid_input', `${at} is a picture tile: send "tile", a base64 PNG.`);
  const size = batch.tileSize!;
  let rgba: Uint8Array;
  try {
    const png = decodePng(result.tile, size * size);
    if (png.width !== size || png.height !== size) throw new Error(`it is ${png.width} × ${png.height}`);
    rgba = png.rgba;
  } catch (err) {
    throw new PublicError(
      'invalid_input',
      `The tile of ${at} must be a ${size} × ${size} 8-bit RGB or RGBA PNG: ${(err as Error).message}.`,
    );
  }
  const rgb = new Uint8Array(size * size * 3);
  for (let p = 0; p < size * size; p++) rgb.set(rgba.subarray(p * 4, p * 4 + 3), p * 3);
  return { color: meanColor(rgb), tile: rgb };
}

/** Completes jobs, fenced to the leased attempt; a queue already gone means its batch has ended. */
async function completeJobs(tx: Sql, boss: PgBoss, jobs: LeasedJob[]): Promise<void> {
  const byQueue = new Map<string, LeasedJob[]>();
  for (const job of jobs) byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), job]);
  for (const [queue, group] of byQueue) {
    await withSavepoint(tx, () => boss.complete(queue, group.map(cellJob), { db: toExecutor(tx) }), isQueueGone, null);
  }
}

function cellJob(job: LeasedJob) {
  return { id: job.id, name: job.queue, retryCount: job.attempt - 1, data: { batchId: job.batchId, row: job.row, col: job.col } };
}

const cellKey = (c: { batchId: string; row: number; col: number }) => `${c.batchId}/${c.row}/${c.col}`;
