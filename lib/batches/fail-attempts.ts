import type { PgBoss } from 'pg-boss';
import { countWorkFailures } from '../db/cell-work-failures';
import { type Sql, toExecutor } from '../db/sql';
import { CELL_DEAD_LETTER_QUEUE, type CellJobData, type DeadCellJobData, parseCellJob } from '../queue/cell-job';

/** A claimed cell job, as pg-boss's fetch hands it out (a worker's fetch, or a lease). */
export interface ClaimedCellJob {
  id: string;
  /** Its queue: its batch's (lib/queue/cell-job.ts). */
  name: string;
  retryCount: number;
  data: unknown;
}

/** An attempt whose own work failed: paint or render threw, or the cell ran out of time. */
export interface FailedAttempt {
  job: ClaimedCellJob;
  message: string;
}

export interface FailAttemptsDeps {
  boss: PgBoss;
  /** Retries a cell gets after its own work first fails (`CELL_RETRY_LIMIT`). */
  retryLimit: number;
  /**
   * What becomes of cells past their retries: dead-lettered (the default: the workers' dead-letter
   * consumer records them), or handed back in `exhaustedCells` for the caller to record as failed in
   * this same transaction (the lease API, which must not depend on a worker process being there).
   */
  exhaustedTo?: 'dead-letter' | 'caller';
}

export interface FailAttemptsResult {
  /** Attempts sent back to be retried, with pg-boss's backoff. */
  retried: number;
  /** Cells whose work has now failed `retryLimit + 1` times: dead-lettered, to be recorded as failed. */
  exhausted: number;
  /** Each cell's count of failed attempts so far, by job id (for the log). */
  failures: Map<string, number>;
  /** With `exhaustedTo: 'caller'`: the exhausted cells with their errors, to be recorded as failed. */
  exhaustedCells: DeadCellJobData[];
}

/**
 * Fails attempts whose own work failed, inside the transaction that records the rest of their fetch.
 *
 * pg-boss counts every claim of a job against its retry limit, lost ones included, so the cell's
 * budget is kept here instead: each such attempt adds one to the cell's row in
 * `cell_work_failures`. Below the budget the job goes back to pg-boss to be retried; past it, the
 * cell's dead letter is queued in the same transaction (with the error) and its job is left to
 * complete with the fetch, so the dead-letter consumer records the cell as failed and its batch
 * still ends. A recording that rolls back counts nothing and dead-letters nothing; its jobs come back
 * and their next attempts count afresh. Attempts lost to infrastructure never reach this function,
 * so they never spend the budget (see docs/architecture.md, "Retries").
 */
export async function failAttempts(tx: Sql, attempts: FailedAttempt[], deps: FailAttemptsDeps): Promise<FailAttemptsResult> {
  const result: FailAttemptsResult = { retried: 0, exhausted: 0, failures: new Map(), exhaustedCells: [] };
  if (attempts.length === 0) return result;
  const byBatch = new Map<string, { attempt: FailedAttempt; cell: CellJobData }[]>();
  const unreadable: FailedAttempt[] = [];
  for (const attempt of attempts) {
    let cell: CellJobData;
    try {
      cell = parseCellJob(attempt.job.data);
    } catch {
      unreadable.push(attempt);
      continue;
    }
    const group = byBatch.get(cell.batchId);
    if (group) group.push({ attempt, cell });
    else byBatch.set(cell.batchId, [{ attempt, cell }]);
  }

  const retry: FailedAttempt[] = [...unreadable];
  const dead: DeadCellJobData[] = [];
  for (const [batchId, group] of [...byBatch].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const counts = await countWorkFailures(
      tx,
      batchId,
      group.map((g) => g.cell),
    );
    for (const { attempt, cell } of group) {
      const failures = counts.get(`${cell.row},${cell.col}`) ?? 1;
      result.failures.set(attempt.job.id, failures);
      if (failures > deps.retryLimit) dead.push({ ...cell, error: attempt.message.slice(0, 500) });
      else retry.push(attempt);
    }
  }

  const db = toExecutor(tx);
  // One statement per job: pg-boss stores one output per call, and each attempt has its own error.
  // Fenced to the attempt fetched, so a claim that lapsed meanwhile is left to its new holder. Each
  // goes back to the queue it came from (its batch's).
  for (const { job, message } of retry) {
    await deps.boss.fail(job.name, { id: job.id, retryCount: job.retryCount }, { message }, { db });
  }
  if (dead.length > 0 && deps.exhaustedTo === 'caller') result.exhaustedCells = dead;
  else if (dead.length > 0) {
    await deps.boss.insert(
      CELL_DEAD_LETTER_QUEUE,
      dead.map((data) => ({ data, singletonKey: data.batchId })),
      { db },
    );
  }
  result.retried = retry.length;
  result.exhausted = dead.length;
  return result;
}
