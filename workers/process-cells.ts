import { findRunningBatchIds } from '../lib/db/batches';
import type { Sql } from '../lib/db/sql';
import { errorMessage } from '../lib/errors';
import type { FaultPlan } from '../lib/faults';
import { parseCellJob } from '../lib/queue/cell-job';
import type { ClaimedCellJob, FailAttemptsResult, FailedAttempt } from '../lib/batches/fail-attempts';
import { paintCell } from './paint-cell';
import { recordCells, type CellOutcome, type RecordDeps, type RecordResult } from '../lib/batches/record-cells';

/** A cell job as pg-boss's fetch hands it to the worker. */
export interface CellJob extends ClaimedCellJob {
  /** The queue's heartbeat: a claim not refreshed this often is given to another worker. */
  heartbeatSeconds?: number | null;
}

export interface ProcessDeps extends RecordDeps {
  cellTimeoutMs: number;
  faults: FaultPlan | null;
  /**
   * Fails the attempts whose own work failed, inside the handler's transaction: each is retried with
   * backoff or, once its cell's work has failed past its retries, dead-lettered, and the dead-letter
   * consumer records the cell as failed (workers/fail-attempts.ts).
   */
  failAttempts(tx: Sql, attempts: FailedAttempt[]): Promise<FailAttemptsResult>;
}

/**
 * One fetched batch of cell jobs: paint every cell at once under one time limit for the fetch (they
 * all start together, so one timer serves them all), then, in one transaction, fail the attempts
 * that threw or ran out of time and record the colours. One bad cell costs its own retry, not the
 * whole fetch's. Cells of a batch that has ended (cancelled, expired) are not painted at all: one
 * indexed read of the fetch's batches tells, and their jobs simply complete. pg-boss completes the
 * painted and skipped jobs once this returns.
 */
export async function processCellJobs(
  tx: Sql,
  jobs: CellJob[],
  deps: ProcessDeps,
): Promise<RecordResult & { failedAttempts: number; skipped: number }> {
  const running = await findRunningBatchIds(tx, batchIdsOf(jobs));
  // A payload without a readable batch id stays in: it fails as an attempt, so the bug shows.
  const live = jobs.filter((job) => {
    const batchId = batchIdOf(job);
    return batchId === undefined || running.has(batchId);
  });
  const skipped = jobs.length - live.length;
  const limit = new TimeLimit(deps.cellTimeoutMs);
  let attempts;
  try {
    attempts = await Promise.all(
      live.map(async (job) => {
        try {
          const cell = parseCellJob(job.data);
          const color = await limit.race(
            paintCell(cell, job.retryCount, limit.signal, deps.faults),
            () => `cell (${cell.row}, ${cell.col}) of batch ${cell.batchId} took longer than ${deps.cellTimeoutMs} ms and was abandoned`,
          );
          return { job, outcome: { ...cell, color } satisfies CellOutcome };
        } catch (err) {
          return { job, error: errorMessage(err) };
        }
      }),
    );
  } finally {
    limit.clear();
  }

  const finished: CellOutcome[] = [];
  const failed: FailedAttempt[] = [];
  for (const attempt of attempts) {
    if (attempt.outcome) finished.push(attempt.outcome);
    else failed.push({ job: attempt.job, message: attempt.error });
  }
  await deps.failAttempts(tx, failed);
  return { ...(await recordCells(tx, finished, deps)), failedAttempts: failed.length, skipped };
}

/** A job's batch id as its payload names it, unchecked (a malformed payload fails later, as an attempt). */
export function batchIdOf(job: { data: unknown }): string | undefined {
  const batchId = (job.data as { batchId?: unknown } | null)?.batchId;
  return typeof batchId === 'string' && UUID.test(batchId) ? batchId : undefined;
}

export function batchIdsOf(jobs: { data: unknown }[]): string[] {
  const ids = new Set<string>();
  for (const job of jobs) {
    const id = batchIdOf(job);
    if (id) ids.add(id);
  }
  return [...ids];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A time limit shared by the cells of one fetch: one timer and one signal, however many cells. A
 * cell raced against it is given up on when it fires even if its work ignores the signal; the
 * abandoned promise's result is never used, so a late colour cannot land.
 *
 * pg-boss's per-job claim signals are not consulted: painting is instant, and a cell whose claim
 * was lost is at worst recorded twice, which the first-write-wins insert absorbs.
 */
export class TimeLimit {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly expired: Promise<typeof EXPIRED>;

  constructor(ms: number) {
    this.expired = new Promise((resolve) => this.controller.signal.addEventListener('abort', () => resolve(EXPIRED), { once: true }));
    this.timer = setTimeout(() => this.controller.abort(new Error(`time limit of ${ms} ms reached`)), ms);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  async race<T>(work: Promise<T>, message: () => string): Promise<T> {
    const winner = await Promise.race([work, this.expired]);
    if (winner === EXPIRED) throw new Error(message());
    return winner as T;
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}

const EXPIRED: unique symbol = Symbol('expired');
