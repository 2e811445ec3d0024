import type { Sql } from '../lib/db/sql';
import { errorMessage } from '../lib/errors';
import type { FaultPlan } from '../lib/faults';
import { parseCellJob } from '../lib/queue/cell-job';
import { paintCell } from './paint-cell';
import { recordCells, type CellOutcome, type RecordResult } from './record-cells';

/** A cell job as pg-boss hands it to the worker (with metadata). */
export interface CellJob {
  id: string;
  retryCount: number;
  data: unknown;
  signal?: AbortSignal;
}

export interface ProcessDeps {
  workerId: string;
  cellTimeoutMs: number;
  faults: FaultPlan | null;
  /**
   * Fails one attempt of a job inside the handler's transaction. pg-boss retries it with backoff or,
   * once its retries are exhausted, moves it to the dead-letter queue, whose consumer records the cell
   * as failed.
   */
  failAttempt(job: CellJob, message: string): Promise<void>;
}

/**
 * One fetched batch of cell jobs: paint every cell at once, each under its own time limit, then
 * record the colours in the handler's transaction and fail the attempts that threw or ran out of
 * time. One bad cell costs its own retry, not the whole fetch's.
 */
export async function processCellJobs(tx: Sql, jobs: CellJob[], deps: ProcessDeps): Promise<RecordResult & { failedAttempts: number }> {
  const attempts = await Promise.all(
    jobs.map(async (job) => {
      try {
        const cell = parseCellJob(job.data);
        const color = await withTimeLimit(
          (signal) => paintCell(cell, job.retryCount, signal, deps.faults),
          deps.cellTimeoutMs,
          job.signal,
          `cell (${cell.row}, ${cell.col}) of batch ${cell.batchId} took longer than ${deps.cellTimeoutMs} ms and was abandoned`,
        );
        return { job, outcome: { ...cell, color } satisfies CellOutcome };
      } catch (err) {
        return { job, error: errorMessage(err) };
      }
    }),
  );

  let failedAttempts = 0;
  const painted: CellOutcome[] = [];
  for (const attempt of attempts) {
    if (attempt.outcome) painted.push(attempt.outcome);
    else {
      await deps.failAttempt(attempt.job, attempt.error);
      failedAttempts++;
    }
  }
  return { ...(await recordCells(tx, painted, deps.workerId)), failedAttempts };
}

/**
 * Runs `work` with an abort signal that fires after `ms` (or when `parent` does), and gives up on it
 * then even if it ignores the signal. The abandoned promise's result is never used: a late colour
 * cannot land, because only this function's result reaches the transaction.
 */
export async function withTimeLimit<T>(work: (signal: AbortSignal) => Promise<T>, ms: number, parent: AbortSignal | undefined, message: string): Promise<T> {
  const signal = parent ? AbortSignal.any([parent, AbortSignal.timeout(ms)]) : AbortSignal.timeout(ms);
  let onAbort: (() => void) | undefined;
  const abandoned = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error(message));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work(signal), abandoned]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
